/* SPDX-License-Identifier: MIT */
/* blk/mkfs.c: writes an ext4 file system (journal, extents, flex_bg, metadata_csum). */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "blk/internal.h"

/* ext4 on-disk constants (Documentation/filesystems/ext4/). */
#define SB_MAGIC 0xEF53
#define COMPAT_HAS_JOURNAL 0x4
#define COMPAT_EXT_ATTR 0x8
#define COMPAT_DIR_INDEX 0x20
#define INCOMPAT_FILETYPE 0x2
#define INCOMPAT_EXTENTS 0x40
#define INCOMPAT_64BIT 0x80
#define INCOMPAT_FLEX_BG 0x200
#define RO_SPARSE_SUPER 0x1
#define RO_LARGE_FILE 0x2
#define RO_HUGE_FILE 0x8
#define RO_DIR_NLINK 0x20
#define RO_EXTRA_ISIZE 0x40
#define RO_METADATA_CSUM 0x400
#define BG_INODE_UNINIT 0x1
#define BG_BLOCK_UNINIT 0x2
#define EXTENTS_FL 0x80000
#define EXT_MAGIC 0xF30A
#define ROOT_INO 2
#define JOURNAL_INO 8
#define LPF_INO 11
#define FIRST_INO 11
#define EXTRA_ISIZE 32
#define GDT_CHUNK 8			/* descriptor blocks written per pass */
/* jbd2 (include/linux/jbd2.h), big-endian. */
#define JBD2_MAGIC 0xC03B3998u
#define JBD2_SB_V2 4
#define JBD2_INCOMPAT_64BIT 0x2
#define JBD2_INCOMPAT_CSUM_V3 0x10
#define JBD2_CRC32C 4

struct mk {
	struct blk_ctx *c;
	int fd;
	uint64_t off;
	struct blk_fs_layout L;
	uint32_t seed, now;
	unsigned char uuid[16], hash_seed[16];
	char label[16];
	uint64_t free_blocks;
};

static int wblocks(struct mk *m, uint64_t blk, const void *buf, size_t n)
{
	int rc = blk_pwrite(m->fd, buf, n * BLK_FS_BS, m->off + blk * BLK_FS_BS);

	return rc < 0 ? blk_fail_io(m->c, rc, "write", "file system metadata") : 0;
}

static uint32_t le_crc(uint32_t crc, uint32_t v)
{
	unsigned char b[4];

	blk_put32(b, v);
	return blk_crc32c(crc, b, 4);
}

/* Inode checksum seed: crc32c(fs seed, inode number, generation 0). */
static uint32_t ino_seed(const struct mk *m, uint32_t ino)
{
	return le_crc(le_crc(m->seed, ino), 0);
}

static void ext_header(unsigned char *p, uint16_t entries, uint16_t max, uint16_t depth)
{
	blk_put16(p, EXT_MAGIC);
	blk_put16(p + 2, entries);
	blk_put16(p + 4, max);
	blk_put16(p + 6, depth);
	blk_put32(p + 8, 0);
}

static void ext_entry(unsigned char *p, uint32_t lblk, uint32_t len, uint64_t start)
{
	blk_put32(p, lblk);
	blk_put16(p + 4, (uint16_t)len);
	blk_put16(p + 6, (uint16_t)(start >> 32));
	blk_put32(p + 8, (uint32_t)start);
}

/* The journal inode's 60-byte i_block: its extents, or an index to the leaf. */
static void journal_iblock(const struct mk *m, unsigned char *ib)
{
	const struct blk_fs_layout *L = &m->L;
	uint32_t i;

	memset(ib, 0, 60);
	if (L->jleaf) {
		ext_header(ib, 1, 4, 1);
		blk_put32(ib + 12, 0);
		blk_put32(ib + 16, (uint32_t)L->jleaf);
		blk_put16(ib + 20, (uint16_t)(L->jleaf >> 32));
		return;
	}
	ext_header(ib, (uint16_t)L->jn, 4, 0);
	for (i = 0; i < L->jn; i++)
		ext_entry(ib + 12 + 12 * i, L->jext[i].lblk, L->jext[i].len, L->jext[i].start);
}

/* Superblock copy for group g (the primary is g == 0). */
static void sb_fill(const struct mk *m, unsigned char *sb, uint32_t g)
{
	const struct blk_fs_layout *L = &m->L;
	uint64_t r = L->blocks / 100;

	memset(sb, 0, 1024);
	blk_put32(sb + 0x00, L->groups * L->ipg);
	blk_put32(sb + 0x04, (uint32_t)L->blocks);
	blk_put32(sb + 0x08, (uint32_t)r);
	blk_put32(sb + 0x0C, (uint32_t)m->free_blocks);
	blk_put32(sb + 0x10, L->groups * L->ipg - FIRST_INO);
	blk_put32(sb + 0x18, 2);			/* 1024 << 2 */
	blk_put32(sb + 0x1C, 2);
	blk_put32(sb + 0x20, BLK_FS_BPG);
	blk_put32(sb + 0x24, BLK_FS_BPG);
	blk_put32(sb + 0x28, L->ipg);
	blk_put32(sb + 0x30, m->now);			/* wtime */
	blk_put16(sb + 0x36, 0xffff);			/* no mount-count check (tune2fs -c0) */
	blk_put16(sb + 0x38, SB_MAGIC);
	blk_put16(sb + 0x3A, 1);			/* clean */
	blk_put16(sb + 0x3C, 1);			/* errors=continue */
	blk_put32(sb + 0x40, m->now);			/* lastcheck */
	blk_put32(sb + 0x4C, 1);			/* dynamic revision */
	blk_put32(sb + 0x54, FIRST_INO);
	blk_put16(sb + 0x58, BLK_FS_ISIZE);
	blk_put16(sb + 0x5A, (uint16_t)g);
	blk_put32(sb + 0x5C, COMPAT_HAS_JOURNAL | COMPAT_EXT_ATTR | COMPAT_DIR_INDEX);
	blk_put32(sb + 0x60, INCOMPAT_FILETYPE | INCOMPAT_EXTENTS | INCOMPAT_FLEX_BG |
			     (L->desc_size == 64 ? INCOMPAT_64BIT : 0));
	blk_put32(sb + 0x64, RO_SPARSE_SUPER | RO_LARGE_FILE | RO_HUGE_FILE | RO_DIR_NLINK |
			     RO_EXTRA_ISIZE | RO_METADATA_CSUM);
	memcpy(sb + 0x68, m->uuid, 16);
	memcpy(sb + 0x78, m->label, 16);
	blk_put32(sb + 0xE0, JOURNAL_INO);
	memcpy(sb + 0xEC, m->hash_seed, 16);
	sb[0xFC] = 1;					/* half_md4 */
	sb[0xFD] = 1;					/* s_jnl_blocks holds the inode's i_block */
	blk_put16(sb + 0xFE, (uint16_t)L->desc_size);
	blk_put32(sb + 0x100, 0x000C);			/* user_xattr, acl */
	blk_put32(sb + 0x108, m->now);			/* mkfs_time */
	blk_put32(sb + 0x150, (uint32_t)(L->blocks >> 32));
	blk_put32(sb + 0x154, (uint32_t)(r >> 32));
	blk_put32(sb + 0x158, (uint32_t)(m->free_blocks >> 32));
	blk_put16(sb + 0x15C, EXTRA_ISIZE);
	blk_put16(sb + 0x15E, EXTRA_ISIZE);
	blk_put32(sb + 0x160, 0x1);			/* signed directory hash */
	sb[0x174] = 4;					/* log2(flex group size 16) */
	sb[0x175] = 1;					/* crc32c */
	/* s_jnl_blocks: the journal inode's i_block, then i_size high and low. */
	journal_iblock(m, sb + 0x10C);
	blk_put32(sb + 0x10C + 4 * 16, L->jblocks * BLK_FS_BS);
}

static void sb_csum(unsigned char *sb)
{
	blk_put32(sb + 0x3FC, blk_crc32c(~0u, sb, 0x3FC));
}

static void desc_fill(const struct mk *m, uint32_t g, unsigned char *d)
{
	const struct blk_fs_layout *L = &m->L;
	unsigned char bm[BLK_FS_BS];
	uint64_t bb, ib, it;
	uint32_t free_b = blk_fs_group_len(L, g) - blk_fs_used(L, g), crc = 0, icrc = 0;
	uint32_t free_i = L->ipg - (g ? 0 : FIRST_INO), unused = free_i;
	uint16_t flags = 0;

	memset(d, 0, L->desc_size);
	blk_fs_group_tables(L, g, &bb, &ib, &it);
	if (blk_fs_group_init(L, g)) {
		blk_fs_block_bitmap(L, g, bm);
		crc = blk_crc32c(m->seed, bm, BLK_FS_BPG / 8);
	} else {
		flags |= BG_BLOCK_UNINIT;
	}
	if (g) {
		flags |= BG_INODE_UNINIT;
	} else {
		memset(bm, 0, L->ipg / 8);
		bm[0] = 0xff;
		bm[1] = 0x07;				/* inodes 1..11 */
		icrc = blk_crc32c(m->seed, bm, L->ipg / 8);
	}
	blk_put32(d + 0x00, (uint32_t)bb);
	blk_put32(d + 0x04, (uint32_t)ib);
	blk_put32(d + 0x08, (uint32_t)it);
	blk_put16(d + 0x0C, (uint16_t)free_b);
	blk_put16(d + 0x0E, (uint16_t)free_i);
	blk_put16(d + 0x10, g ? 0 : 2);			/* root and lost+found */
	blk_put16(d + 0x12, flags);
	blk_put16(d + 0x18, (uint16_t)crc);
	blk_put16(d + 0x1A, (uint16_t)icrc);
	blk_put16(d + 0x1C, (uint16_t)unused);
	if (L->desc_size == 64) {
		blk_put32(d + 0x20, (uint32_t)(bb >> 32));
		blk_put32(d + 0x24, (uint32_t)(ib >> 32));
		blk_put32(d + 0x28, (uint32_t)(it >> 32));
		blk_put16(d + 0x2C, (uint16_t)(free_b >> 16));
		blk_put16(d + 0x2E, (uint16_t)(free_i >> 16));
		blk_put16(d + 0x32, (uint16_t)(unused >> 16));
		blk_put16(d + 0x38, (uint16_t)(crc >> 16));
		blk_put16(d + 0x3A, (uint16_t)(icrc >> 16));
	}
	/* metadata_csum: crc32c(seed, le32 group, descriptor with the field zero). */
	blk_put16(d + 0x1E, (uint16_t)blk_crc32c(le_crc(m->seed, g), d, L->desc_size));
}

/* Descriptor table, GDT_CHUNK blocks at a time, to every sparse_super copy. */
static int write_gdt(struct mk *m)
{
	const struct blk_fs_layout *L = &m->L;
	unsigned char buf[GDT_CHUNK * BLK_FS_BS];
	uint32_t per = BLK_FS_BS / L->desc_size, b, n, i, g, first;
	int rc;

	for (b = 0; b < L->gdt_blocks; b += GDT_CHUNK) {
		n = L->gdt_blocks - b < GDT_CHUNK ? L->gdt_blocks - b : GDT_CHUNK;
		memset(buf, 0, sizeof(buf));
		first = b * per;
		for (i = 0; i < n * per && first + i < L->groups; i++)
			desc_fill(m, first + i, buf + i * L->desc_size);
		for (g = 0; g < L->groups; g++) {
			if (!blk_fs_has_super(g))
				continue;
			rc = wblocks(m, (uint64_t)g * BLK_FS_BPG + 1 + b, buf, n);
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

/* Backup superblocks (group g > 0 holds its copy at the start of its first block). */
static int write_backup_sbs(struct mk *m)
{
	unsigned char blk[BLK_FS_BS];
	uint32_t g;
	int rc;

	for (g = 1; g < m->L.groups; g++) {
		if (!blk_fs_has_super(g))
			continue;
		memset(blk, 0, sizeof(blk));
		sb_fill(m, blk, g);
		sb_csum(blk);
		rc = wblocks(m, (uint64_t)g * BLK_FS_BPG, blk, 1);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Block bitmaps of the groups that are not BLOCK_UNINIT, and group 0's inode bitmap. */
static int write_bitmaps(struct mk *m)
{
	const struct blk_fs_layout *L = &m->L;
	unsigned char bm[BLK_FS_BS];
	uint64_t bb, ib, it;
	uint32_t g;
	int rc;

	for (g = 0; g < L->groups; g++) {
		if (!blk_fs_group_init(L, g))
			continue;
		blk_fs_group_tables(L, g, &bb, &ib, &it);
		blk_fs_block_bitmap(L, g, bm);
		rc = wblocks(m, bb, bm, 1);
		if (rc < 0)
			return rc;
	}
	blk_fs_group_tables(L, 0, &bb, &ib, &it);
	/* Padding past inodes_per_group is all ones, as the kernel writes it. */
	memset(bm, 0xff, sizeof(bm));
	memset(bm, 0, L->ipg / 8);
	bm[0] = 0xff;
	bm[1] = 0x07;
	return wblocks(m, ib, bm, 1);
}


/* A 256-byte inode stamped with now, extra_isize 32; checksum set by ino_csum. */
static void ino_fill(const struct mk *m, unsigned char *p, uint16_t mode, uint16_t links,
		     uint64_t size, uint64_t blocks)
{
	memset(p, 0, BLK_FS_ISIZE);
	blk_put16(p + 0x00, mode);
	blk_put32(p + 0x04, (uint32_t)size);
	blk_put32(p + 0x08, m->now);
	blk_put32(p + 0x0C, m->now);
	blk_put32(p + 0x10, m->now);
	blk_put16(p + 0x1A, links);
	blk_put32(p + 0x1C, (uint32_t)(blocks * (BLK_FS_BS / 512)));
	blk_put32(p + 0x20, EXTENTS_FL);
	blk_put32(p + 0x6C, (uint32_t)(size >> 32));
	blk_put16(p + 0x80, EXTRA_ISIZE);
	blk_put32(p + 0x90, m->now);			/* crtime */
}

/* crc32c over the whole inode with both checksum halves zero. */
static void ino_csum(const struct mk *m, unsigned char *p, uint32_t ino)
{
	uint32_t crc;

	blk_put16(p + 0x7C, 0);
	blk_put16(p + 0x82, 0);
	crc = blk_crc32c(ino_seed(m, ino), p, BLK_FS_ISIZE);
	blk_put16(p + 0x7C, (uint16_t)crc);
	blk_put16(p + 0x82, (uint16_t)(crc >> 16));
}

/* Inodes 1..16: the reserved ones (zero but for extra_isize, like mke2fs),
 * root, the journal and lost+found; 12..16 stay unused (itable_unused). */
static int write_inodes(struct mk *m)
{
	const struct blk_fs_layout *L = &m->L;
	unsigned char blk[BLK_FS_BS], *p;
	uint64_t bb, ib, it;
	uint32_t ino;

	memset(blk, 0, sizeof(blk));
	for (ino = 1; ino <= FIRST_INO; ino++) {
		p = blk + (ino - 1) * BLK_FS_ISIZE;
		switch (ino) {
		case ROOT_INO:
			ino_fill(m, p, 040755, 3, BLK_FS_BS, 1);
			ext_header(p + 0x28, 1, 4, 0);
			ext_entry(p + 0x28 + 12, 0, 1, L->root_blk);
			break;
		case LPF_INO:
			ino_fill(m, p, 040700, 2, BLK_FS_LPF_BLOCKS * BLK_FS_BS, BLK_FS_LPF_BLOCKS);
			ext_header(p + 0x28, 1, 4, 0);
			ext_entry(p + 0x28 + 12, 0, BLK_FS_LPF_BLOCKS, L->lpf_blk);
			break;
		case JOURNAL_INO:
			ino_fill(m, p, 0100600, 1, (uint64_t)L->jblocks * BLK_FS_BS,
				 L->jblocks + (L->jleaf ? 1 : 0));
			journal_iblock(m, p + 0x28);
			break;
		default:
			blk_put16(p + 0x80, EXTRA_ISIZE);
			break;
		}
		ino_csum(m, p, ino);
	}
	blk_fs_group_tables(L, 0, &bb, &ib, &it);
	return wblocks(m, it, blk, 1);
}

static unsigned char *dirent(unsigned char *p, uint32_t ino, uint16_t rec, const char *name,
			     uint8_t type)
{
	size_t n = strlen(name);

	blk_put32(p, ino);
	blk_put16(p + 4, rec);
	p[6] = (uint8_t)n;
	p[7] = type;
	memcpy(p + 8, name, n);
	return p + rec;
}

/* The 12-byte tail of a leaf directory block carries its checksum. */
static void dir_tail(const struct mk *m, unsigned char *blk, uint32_t ino)
{
	unsigned char *t = blk + BLK_FS_BS - 12;

	memset(t, 0, 12);
	blk_put16(t + 4, 12);
	t[7] = 0xDE;
	blk_put32(t + 8, blk_crc32c(ino_seed(m, ino), blk, BLK_FS_BS - 12));
}

static int write_dirs(struct mk *m)
{
	unsigned char blk[BLK_FS_BS], *p;
	uint32_t i;
	int rc;

	memset(blk, 0, sizeof(blk));
	p = dirent(blk, ROOT_INO, 12, ".", 2);
	p = dirent(p, ROOT_INO, 12, "..", 2);
	dirent(p, LPF_INO, BLK_FS_BS - 24 - 12, "lost+found", 2);
	dir_tail(m, blk, ROOT_INO);
	rc = wblocks(m, m->L.root_blk, blk, 1);
	for (i = 0; rc == 0 && i < BLK_FS_LPF_BLOCKS; i++) {
		memset(blk, 0, sizeof(blk));
		if (i == 0) {
			p = dirent(blk, LPF_INO, 12, ".", 2);
			dirent(p, ROOT_INO, BLK_FS_BS - 12 - 12, "..", 2);
		} else {
			dirent(blk, 0, BLK_FS_BS - 12, "", 0);
		}
		dir_tail(m, blk, LPF_INO);
		rc = wblocks(m, m->L.lpf_blk + i, blk, 1);
	}
	return rc;
}

/* jbd2 superblock v2, clean (s_start 0), checksum v3. The other journal
 * blocks are not zeroed: recovery only replays blocks whose v3 checksums,
 * seeded with this file system's UUID, match (the kernel's PASS_SCAN
 * tolerates stale blocks from lazy journal init), and a clean journal is
 * never replayed. */
static int write_journal(struct mk *m)
{
	const struct blk_fs_layout *L = &m->L;
	unsigned char blk[BLK_FS_BS], *p;
	uint32_t i;
	int rc;

	memset(blk, 0, sizeof(blk));
	blk_put_be32(blk + 0x00, JBD2_MAGIC);
	blk_put_be32(blk + 0x04, JBD2_SB_V2);
	blk_put_be32(blk + 0x0C, BLK_FS_BS);
	blk_put_be32(blk + 0x10, L->jblocks);
	blk_put_be32(blk + 0x14, 1);			/* s_first */
	blk_put_be32(blk + 0x18, 1);			/* s_sequence */
	blk_put_be32(blk + 0x28, JBD2_INCOMPAT_CSUM_V3 |
				 (L->desc_size == 64 ? JBD2_INCOMPAT_64BIT : 0));
	memcpy(blk + 0x30, m->uuid, 16);
	blk_put_be32(blk + 0x40, 1);			/* s_nr_users */
	blk[0x50] = JBD2_CRC32C;
	blk_put_be32(blk + 0xFC, blk_crc32c(~0u, blk, 1024));
	rc = wblocks(m, L->jext[0].start, blk, 1);
	if (rc < 0 || !L->jleaf)
		return rc;
	memset(blk, 0, sizeof(blk));
	ext_header(blk, (uint16_t)L->jn, BLK_FS_JEXT_MAX, 0);
	for (i = 0, p = blk + 12; i < L->jn; i++, p += 12)
		ext_entry(p, L->jext[i].lblk, L->jext[i].len, L->jext[i].start);
	/* ext4_extent_tail follows eh_max entries. */
	blk_put32(blk + 12 + 12 * BLK_FS_JEXT_MAX,
		  blk_crc32c(ino_seed(m, JOURNAL_INO), blk, 12 + 12 * BLK_FS_JEXT_MAX));
	return wblocks(m, L->jleaf, blk, 1);
}

static int mk_init(struct mk *m, const struct blk_mkfs_opts *o)
{
	uint32_t g;
	int rc;

	m->now = (uint32_t)(o && o->now ? o->now : time(NULL));
	if (o && o->uuid) {
		memcpy(m->uuid, o->uuid, 16);
	} else {
		rc = blk_random(m->uuid, 16);
		if (rc < 0)
			return blk_fail(m->c, BLK_WHY_IO, rc, "getrandom: %s", strerror(-rc));
		m->uuid[6] = (unsigned char)((m->uuid[6] & 0x0f) | 0x40);	/* RFC 4122 v4 */
		m->uuid[8] = (unsigned char)((m->uuid[8] & 0x3f) | 0x80);
	}
	rc = blk_random(m->hash_seed, 16);
	if (rc < 0)
		return blk_fail(m->c, BLK_WHY_IO, rc, "getrandom: %s", strerror(-rc));
	strncpy(m->label, o && o->label ? o->label : BLK_LABEL, sizeof(m->label));
	m->seed = blk_crc32c(~0u, m->uuid, 16);
	m->free_blocks = 0;
	for (g = 0; g < m->L.groups; g++)
		m->free_blocks += blk_fs_group_len(&m->L, g) - blk_fs_used(&m->L, g);
	return 0;
}

/* see blk.h */
int64_t blk_mkfs(struct blk_ctx *c, int fd, uint64_t off, uint64_t len,
		 const struct blk_mkfs_opts *o)
{
	struct mk m = { .c = c, .fd = fd, .off = off };
	unsigned char blk[BLK_FS_BS];
	int rc;

	if ((off | len) % BLK_FS_BS || (o && o->label && strlen(o->label) > 16))
		return blk_fail(c, BLK_WHY_ARG, -EINVAL, "mkfs: offset %llu or size %llu not a "
				"multiple of 4096, or label over 16 bytes",
				(unsigned long long)off, (unsigned long long)len);
	rc = blk_fs_layout(&m.L, len / BLK_FS_BS, !(o && o->no_64bit));
	if (rc == -EFBIG)
		return blk_fail(c, BLK_WHY_TOO_BIG, rc, "mkfs: %llu bytes (at most %llu)",
				(unsigned long long)len, (unsigned long long)BLK_MKFS_MAX);
	if (rc < 0)
		return blk_fail(c, BLK_WHY_TOO_SMALL, rc, "mkfs: %llu bytes (at least %llu)",
				(unsigned long long)len, (unsigned long long)BLK_MKFS_MIN);
	rc = mk_init(&m, o);
	if (rc < 0)
		return rc;
	/* The primary superblock goes last: an interrupted mkfs leaves nothing
	 * that blk_ext4_probe would take for a file system. */
	if ((rc = write_gdt(&m)) < 0 || (rc = write_backup_sbs(&m)) < 0 ||
	    (rc = write_bitmaps(&m)) < 0 || (rc = write_inodes(&m)) < 0 ||
	    (rc = write_dirs(&m)) < 0 || (rc = write_journal(&m)) < 0)
		return rc;
	memset(blk, 0, sizeof(blk));
	sb_fill(&m, blk + 1024, 0);
	sb_csum(blk + 1024);
	rc = wblocks(&m, 0, blk, 1);
	return rc < 0 ? rc : (int64_t)m.L.blocks;
}

/* see blk.h */
int blk_ext4_probe(int fd, uint64_t off, char label[17], uint64_t *blocks)
{
	unsigned char sb[1024];
	int rc = blk_pread(fd, sb, sizeof(sb), off + 1024);

	if (rc < 0)
		return rc;
	if (blk_get16(sb + 0x38) != SB_MAGIC || blk_get32(sb + 0x18) > 6)
		return -ENOENT;
	memcpy(label, sb + 0x78, 16);
	label[16] = '\0';
	*blocks = blk_get32(sb + 0x04);
	if (blk_get32(sb + 0x60) & INCOMPAT_64BIT)
		*blocks |= (uint64_t)blk_get32(sb + 0x150) << 32;
	return 0;
}
