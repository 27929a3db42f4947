/* SPDX-License-Identifier: MIT */
/* tests/unit/blk_test.c: blk on memfd images and a fake sysfs: CRCs, ext4 layout and bytes, GPT/MBR, blankness, choice. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "blk/blk.h"
#include "blk/internal.h"
#include "tests/unit/testdata.h"

#define MIB (1ull << 20)
#define GIB (1ull << 30)

static int img(uint64_t size)
{
	int fd = memfd_create("blk-test", MFD_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	return fd;
}

static void put(int fd, uint64_t off, const void *p, size_t n)
{
	assert_int_equal(blk_pwrite(fd, p, n, off), 0);
}

static void get(int fd, uint64_t off, void *p, size_t n)
{
	assert_int_equal(blk_pread(fd, p, n, off), 0);
}

static void crc_known_answers(void **state)
{
	(void)state;
	/* The check values of the CRC catalogue for "123456789". */
	assert_int_equal(~blk_crc32c(~0u, "123456789", 9), 0xE3069283u);
	assert_int_equal(blk_crc32("123456789", 9), 0xCBF43926u);
}

static void sparse_super_groups(void **state)
{
	static const uint32_t yes[] = { 0, 1, 3, 5, 7, 9, 25, 27, 49, 81, 125, 243, 343, 625, 2401 };
	static const uint32_t no[] = { 2, 4, 6, 8, 10, 15, 21, 35, 50, 100, 126, 2400 };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		assert_true(blk_fs_has_super(yes[i]));
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		assert_false(blk_fs_has_super(no[i]));
}

/* Every group: metadata and journal inside the group, uninit groups hold
 * only their sb copy, journal extents disjoint from reserved space. */
static void check_layout(const struct blk_fs_layout *L)
{
	uint64_t jsum = 0, gs, bb, ib, it, b;
	uint32_t g, i, base;

	for (i = 0; i < L->jn; i++) {
		jsum += L->jext[i].len;
		assert_true(L->jext[i].len <= BLK_FS_EXT_LEN);
		if (i)
			assert_int_equal(L->jext[i].lblk, L->jext[i - 1].lblk + L->jext[i - 1].len);
		/* An extent may run across groups, never over their reserved starts. */
		for (b = L->jext[i].start; b < L->jext[i].start + L->jext[i].len; b = gs + BLK_FS_BPG) {
			g = (uint32_t)(b / BLK_FS_BPG);
			gs = (uint64_t)g * BLK_FS_BPG;
			assert_true(b >= gs + blk_fs_reserved(L, g));
		}
		assert_true(L->jext[i].start + L->jext[i].len <= L->blocks);
	}
	assert_int_equal(jsum, L->jblocks);
	assert_true(L->jn <= 4 || L->jleaf);
	for (g = 0; g < L->groups; g++) {
		assert_true(blk_fs_used(L, g) <= blk_fs_group_len(L, g));
		base = blk_fs_has_super(g) ? 1 + L->gdt_blocks : 0;
		if (!blk_fs_group_init(L, g))
			assert_int_equal(blk_fs_used(L, g), base);
		blk_fs_group_tables(L, g, &bb, &ib, &it);
		assert_true(it + L->itb <= L->blocks && bb < L->blocks && ib < L->blocks);
	}
}

static void layout_sizes(void **state)
{
	struct blk_fs_layout *L = malloc(sizeof(*L));
	static const uint64_t sizes[] = { 16 * MIB, 64 * MIB, 100 * MIB, GIB, 20 * GIB, 200 * GIB,
					  2048 * GIB, 16384 * GIB };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		assert_int_equal(blk_fs_layout(L, sizes[i] / 4096, 1), 0);
		check_layout(L);
	}
	assert_int_equal(blk_fs_layout(L, 64 * MIB / 4096, 1), 0);
	assert_int_equal(L->groups, 1);
	assert_int_equal(L->ipg, 4096);
	assert_int_equal(L->jblocks, 1024);
	assert_int_equal(blk_fs_layout(L, 2048 * GIB / 4096, 1), 0);
	assert_int_equal(L->groups, 16384);
	assert_int_equal(L->gdt_blocks, 256);
	assert_int_equal(L->ipg, 8192);
	assert_int_equal(L->jblocks, 262144);
	assert_true(L->jleaf != 0);
	/* A last group of 100 blocks is dropped, not given 100 blocks of bitmap. */
	assert_int_equal(blk_fs_layout(L, 32768 * 3 + 100, 1), 0);
	assert_int_equal(L->blocks, 32768 * 3);
	assert_int_equal(blk_fs_layout(L, 15 * MIB / 4096, 1), -ENOSPC);
	assert_int_equal(blk_fs_layout(L, 17 * 1024 * GIB / 4096, 0), -EFBIG);
	assert_int_equal(blk_fs_layout(L, 65 * 1024 * GIB / 4096, 1), -EFBIG);
	free(L);
}

static uint32_t ino_crc(const unsigned char *sb, const unsigned char *ino, uint32_t num)
{
	unsigned char cp[256], le[4];
	uint32_t seed = blk_crc32c(~0u, sb + 0x68, 16);

	memcpy(cp, ino, 256);
	blk_put16(cp + 0x7C, 0);
	blk_put16(cp + 0x82, 0);
	blk_put32(le, num);
	seed = blk_crc32c(seed, le, 4);
	blk_put32(le, blk_get32(ino + 0x64));
	seed = blk_crc32c(seed, le, 4);
	return blk_crc32c(seed, cp, 256);
}

static void mkfs_bytes(void **state)
{
	static const unsigned char uuid[16] = { 1, 2, 3, 4, 5, 6, 0x47, 8, 0x89, 10, 11, 12, 13, 14,
						15, 16 };
	struct blk_mkfs_opts o = { .now = 1700000000, .uuid = uuid };
	struct blk_ctx c = { 0 };
	unsigned char sb[1024], gd[64], ino[256], dir[4096], le[4];
	uint32_t seed, crc, itab;
	struct stat st;
	int fd = img(64 * MIB);

	(void)state;
	assert_int_equal(blk_mkfs(&c, fd, 0, 64 * MIB, &o), 16384);
	get(fd, 1024, sb, sizeof(sb));
	assert_int_equal(blk_get16(sb + 0x38), 0xEF53);
	assert_memory_equal(sb + 0x78, "UROOT\0", 6);
	assert_memory_equal(sb + 0x68, uuid, 16);
	assert_int_equal(blk_get32(sb + 0x04), 16384);
	assert_int_equal(blk_get32(sb + 0x3FC), blk_crc32c(~0u, sb, 0x3FC));
	assert_int_equal(blk_get32(sb + 0x64) & 0x400, 0x400);		/* metadata_csum */
	assert_int_equal(blk_get32(sb + 0x60) & 0x2C0, 0x2C0);		/* extents, 64bit, flex_bg */
	assert_int_equal(blk_get32(sb + 0x5C) & 0x14, 0x04);		/* journal, no resize_inode */
	assert_int_equal(blk_get32(sb + 0x108), 1700000000);
	/* Group 0's descriptor checksum: crc32c(seed, group, desc with csum 0). */
	get(fd, 4096, gd, sizeof(gd));
	seed = blk_crc32c(~0u, uuid, 16);
	blk_put32(le, 0);
	crc = blk_get16(gd + 0x1E);
	blk_put16(gd + 0x1E, 0);
	assert_int_equal(crc, blk_crc32c(blk_crc32c(seed, le, 4), gd, 64) & 0xffff);
	assert_int_equal(blk_get16(gd + 0x1C), 4096 - 11);			/* itable_unused */
	/* Root inode: a directory with one extent and a valid checksum. */
	itab = blk_get32(gd + 0x08);
	get(fd, (uint64_t)itab * 4096 + 256, ino, sizeof(ino));
	assert_int_equal(blk_get16(ino), 040755);
	assert_int_equal(blk_get16(ino + 0x28), 0xF30A);
	crc = ino_crc(sb, ino, 2);
	assert_int_equal(blk_get16(ino + 0x7C), crc & 0xffff);
	assert_int_equal(blk_get16(ino + 0x82), crc >> 16);
	/* Its block: ".", "..", "lost+found" and a checksummed tail. */
	get(fd, (uint64_t)blk_get32(ino + 0x28 + 20) * 4096, dir, sizeof(dir));
	assert_memory_equal(dir + 24 + 8, "lost+found", 10);
	assert_int_equal(dir[4096 - 12 + 7], 0xDE);
	/* Metadata only: a few dozen blocks of the 64 MiB are ever written. */
	assert_int_equal(fstat(fd, &st), 0);
	assert_true((uint64_t)st.st_blocks * 512 <= 256 * 1024);
	close(fd);
}

static void mkfs_refuses_bad_args(void **state)
{
	struct blk_ctx c = { 0 };
	int fd = img(64 * MIB);

	(void)state;
	assert_int_equal(blk_mkfs(&c, fd, 100, 64 * MIB - 4096, NULL), -EINVAL);
	assert_int_equal(c.why, BLK_WHY_ARG);
	memset(&c, 0, sizeof(c));
	assert_int_equal(blk_mkfs(&c, fd, 0, 8 * MIB, NULL), -ENOSPC);
	assert_int_equal(c.why, BLK_WHY_TOO_SMALL);
	close(fd);
}

/* Each signature alone on a zeroed 64 MiB image: refused, named, untouched. */
static void blank_signatures(void **state)
{
	static const struct {
		int64_t off;	/* < 0: from the end */
		const char *magic, *name;
	} cases[] = {
		{ 0x438, "\x53\xef", "ext2/3/4" }, { 0, "XFSB", "xfs" },
		{ 0x10040, "_BHRfS_M", "btrfs" }, { 0x52, "FAT32", "vfat" },
		{ 3, "NTFS    ", "ntfs" }, { 3, "EXFAT   ", "exfat" },
		{ 0x8001, "CD001", "iso9660" }, { 0x200, "LABELONE", "LVM2" },
		{ 0x1000, "\xfc\x4e\x2b\xa9", "mdraid 1.2" },
		{ -0x10000, "\xfc\x4e\x2b\xa9", "mdraid 0.90" },
		{ 4086, "SWAPSPACE2", "swap" }, { 4086, "SWAP-SPACE", "swap" },
		{ 0, "LUKS\xba\xbe", "LUKS" }, { 510, "\x55\xaa", "MBR" },
		{ 512, "EFI PART", "GPT" }, { -512, "EFI PART", "GPT backup" },
		{ 128 * 1024 + 3072, "\x0c\xb1\xba\0\0\0\0", "ZFS" },
		{ -100 * 1024, "\x0c\xb1\xba\0\0\0\0", "ZFS" },
		{ 777777, "x", "data we did not write" },
		{ -4, "y", "data we did not write" },
	};
	struct blk_ctx c;
	unsigned char before[4096], after[4096];
	size_t i, n;
	uint64_t off, len = 64 * MIB;
	int fd;

	(void)state;
	fd = img(len);
	memset(&c, 0, sizeof(c));
	assert_int_equal(blk_disk_check_blank(&c, "vdb", fd, len), 0);
	close(fd);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fd = img(len);
		off = cases[i].off < 0 ? len - (uint64_t)-cases[i].off : (uint64_t)cases[i].off;
		n = strlen(cases[i].magic) ? strlen(cases[i].magic) : 1;
		if (cases[i].magic[0] == '\x0c')
			n = 8;
		put(fd, off, cases[i].magic, n);
		get(fd, off & ~4095ull, before, sizeof(before));
		memset(&c, 0, sizeof(c));
		assert_int_equal(blk_disk_check_blank(&c, "vdb", fd, len), -ENOTEMPTY);
		assert_int_equal(c.why, BLK_WHY_NOT_BLANK);
		if (!strstr(c.what, cases[i].name))
			fail_msg("case %zu: '%s' does not name %s", i, c.what, cases[i].name);
		get(fd, off & ~4095ull, after, sizeof(after));
		assert_memory_equal(before, after, sizeof(before));
		close(fd);
	}
}

static void gpt_create_and_read(void **state)
{
	struct blk_ctx c = { 0 };
	struct blk_table *t = malloc(sizeof(*t));
	unsigned char s[512];
	uint64_t start, len;
	int fd = img(GIB);

	(void)state;
	assert_int_equal(blk_gpt_create(&c, fd, GIB, 512, 0, &start, &len), 0);
	assert_int_equal(start, MIB);
	assert_int_equal(len, GIB - 2 * MIB);
	get(fd, 0, s, 512);
	assert_int_equal(s[446 + 4], 0xEE);
	assert_int_equal(s[510], 0x55);
	get(fd, GIB - 512, s, 512);
	assert_memory_equal(s, "EFI PART", 8);
	assert_int_equal(blk_get64(s + 24), GIB / 512 - 1);
	assert_int_equal(blk_table_read(&c, fd, GIB, 512, t), 0);
	assert_int_equal(t->type, 2);
	assert_int_equal(t->n, 1);
	assert_int_equal(t->part[0].start, MIB);
	assert_int_equal(t->part[0].len, GIB - 2 * MIB);
	assert_false(t->bootable);
	close(fd);
	/* resize_rootfs=off: 20 GiB and the rest as a second partition. */
	fd = img(100 * GIB);
	assert_int_equal(blk_gpt_create(&c, fd, 100 * GIB, 512, 20 * GIB, &start, &len), 0);
	assert_int_equal(len, 20 * GIB);
	assert_int_equal(blk_table_read(&c, fd, 100 * GIB, 512, t), 0);
	assert_int_equal(t->n, 2);
	assert_int_equal(t->part[1].start, MIB + 20 * GIB);
	close(fd);
	/* 4 KiB sectors: header at byte 4096, entries from 8192. */
	fd = img(GIB);
	assert_int_equal(blk_gpt_create(&c, fd, GIB, 4096, 0, &start, &len), 0);
	get(fd, 4096, s, 8);
	assert_memory_equal(s, "EFI PART", 8);
	assert_int_equal(blk_table_read(&c, fd, GIB, 4096, t), 0);
	assert_int_equal(t->part[0].start, MIB);
	close(fd);
	free(t);
}

static void gpt_corrupt(void **state)
{
	struct blk_ctx c = { 0 };
	struct blk_table *t = malloc(sizeof(*t));
	uint64_t start, len;
	unsigned partno;
	unsigned char x = 0x5a;
	int fd = img(GIB);

	(void)state;
	assert_int_equal(blk_gpt_create(&c, fd, GIB, 512, 0, &start, &len), 0);
	/* Primary entries damaged: the backup still reads. */
	put(fd, 2 * 512 + 40, &x, 1);
	assert_int_equal(blk_table_read(&c, fd, GIB, 512, t), 0);
	assert_int_equal(t->n, 1);
	/* Both damaged: a clear refusal, nothing written. */
	put(fd, GIB - 33 * 512 + 40, &x, 1);
	assert_int_equal(blk_table_read(&c, fd, GIB, 512, t), -EBADMSG);
	assert_int_equal(c.why, BLK_WHY_GPT_CORRUPT);
	memset(&c, 0, sizeof(c));
	assert_int_equal(blk_part_add(&c, fd, GIB, 512, MIB, 0, 0, 0, &partno, &start, &len),
			 -EBADMSG);
	assert_non_null(strstr(c.what, "CRC32"));
	close(fd);
	free(t);
}

static void mbr_boot_disk(int fd, uint64_t end_mib)
{
	unsigned char s[512] = { 0 };

	s[446] = 0x80;
	s[446 + 4] = 0x0c;
	blk_put32(s + 446 + 8, 2048);
	blk_put32(s + 446 + 12, (uint32_t)(end_mib * 2048 - 2048));
	s[510] = 0x55;
	s[511] = 0xaa;
	put(fd, 0, s, 512);
}

static void mbr_add_and_grow(void **state)
{
	struct blk_ctx c = { 0 };
	struct blk_table *t = malloc(sizeof(*t));
	uint64_t start, len;
	unsigned partno;
	unsigned char s[512];
	int fd = img(2 * GIB);

	(void)state;
	mbr_boot_disk(fd, 100);
	assert_int_equal(blk_part_add(&c, fd, 2 * GIB, 512, BLK_FREE_MIN, BLK_MARGIN, 0, 0,
				      &partno, &start, &len), 0);
	assert_int_equal(partno, 2);
	assert_int_equal(start, 100 * MIB);
	assert_int_equal(len, 2 * GIB - 100 * MIB - BLK_MARGIN);
	get(fd, 0, s, 512);
	assert_int_equal(s[446 + 16 + 4], 0x83);
	assert_int_equal(blk_table_read(&c, fd, 2 * GIB, 512, t), 0);
	assert_true(t->bootable);
	assert_int_equal(t->n, 2);
	/* The disk grows by 1 GiB: partition 2 takes it all (no margin on grow). */
	assert_int_equal(ftruncate(fd, 3 * GIB), 0);
	assert_int_equal(blk_part_grow(&c, fd, 3 * GIB, 512, 2, &start, &len), 1);
	assert_int_equal(len, 3 * GIB - 100 * MIB);
	assert_int_equal(blk_part_grow(&c, fd, 3 * GIB, 512, 2, &start, &len), 0);
	/* Partition 1 is not the last one: refused. */
	assert_int_equal(blk_part_grow(&c, fd, 3 * GIB, 512, 1, &start, &len), -ENOSPC);
	close(fd);
	/* Too little room after the boot partition. */
	fd = img(800 * MIB);
	mbr_boot_disk(fd, 100);
	memset(&c, 0, sizeof(c));
	assert_int_equal(blk_part_add(&c, fd, 800 * MIB, 512, BLK_FREE_MIN, BLK_MARGIN, 0, 1,
				      &partno, &start, &len), -ENOSPC);
	assert_int_equal(c.why, BLK_WHY_TOO_SMALL);
	close(fd);
	free(t);
}

static void gpt_add_and_grow(void **state)
{
	struct blk_ctx c = { 0 };
	struct blk_table *t = malloc(sizeof(*t));
	uint64_t start, len;
	unsigned partno;
	unsigned char s[512];
	int fd = img(100 * MIB);

	(void)state;
	/* A 100 MiB GPT disk, then grown to 2 GiB: the backup header is stale. */
	assert_int_equal(blk_gpt_create(&c, fd, 100 * MIB, 512, 0, &start, &len), 0);
	assert_int_equal(ftruncate(fd, 2 * GIB), 0);
	assert_int_equal(blk_part_add(&c, fd, 2 * GIB, 512, BLK_FREE_MIN, BLK_MARGIN, 0, 0,
				      &partno, &start, &len), 0);
	assert_int_equal(partno, 2);
	assert_int_equal(start, 99 * MIB);
	get(fd, 2 * GIB - 512, s, 512);
	assert_memory_equal(s, "EFI PART", 8);
	get(fd, 100 * MIB - 512, s, 512);
	assert_false(memcmp(s, "EFI PART", 8) == 0);		/* the stale copy is gone */
	assert_int_equal(blk_table_read(&c, fd, 2 * GIB, 512, t), 0);
	assert_int_equal(t->n, 2);
	/* Grow partition 2 into a further GiB. */
	assert_int_equal(ftruncate(fd, 3 * GIB), 0);
	assert_int_equal(blk_part_grow(&c, fd, 3 * GIB, 512, 2, &start, &len), 1);
	assert_int_equal(start + len, 3 * GIB - MIB);
	assert_int_equal(blk_table_read(&c, fd, 3 * GIB, 512, t), 0);
	assert_int_equal(t->part[1].len, len);
	assert_int_equal(blk_part_grow(&c, fd, 3 * GIB, 512, 2, &start, &len), 0);
	close(fd);
	free(t);
}

/* tests/data/blk/NAME written at off of fd. */
static void td_put(int fd, const char *name, int64_t off, uint64_t len)
{
	char buf[20000];
	size_t n = td_load_into("tests/data/blk/", name, buf, sizeof(buf));

	put(fd, off < 0 ? len - n : (uint64_t)off, buf, n);
}

/* sgdisk's GPT (ESP + Linux): read, then a third partition added after them. */
static void gpt_from_sgdisk(void **state)
{
	struct blk_ctx c = { 0 };
	struct blk_table *t = malloc(sizeof(*t));
	uint64_t start, len, disk = 256 * MIB;
	unsigned partno;
	int fd = img(disk);

	(void)state;
	td_put(fd, "gpt-sgdisk-256m-head.bin", 0, disk);
	td_put(fd, "gpt-sgdisk-256m-tail.bin", -1, disk);
	assert_int_equal(blk_table_read(&c, fd, disk, 512, t), 0);
	assert_int_equal(t->type, 2);
	assert_int_equal(t->n, 2);
	assert_true(t->bootable);				/* the ESP */
	assert_int_equal(t->part[0].start, MIB);
	assert_int_equal(t->part[0].len, 32 * MIB);
	assert_int_equal(t->part[1].start, 67584 * 512ull);
	assert_int_equal(t->end, 198656 * 512ull);
	assert_int_equal(blk_part_add(&c, fd, disk, 512, 64 * MIB, 0, 0, 0, &partno, &start, &len),
			 0);
	assert_int_equal(partno, 3);
	assert_int_equal(start, 97 * MIB);
	assert_int_equal(start + len, disk - MIB);
	assert_int_equal(blk_table_read(&c, fd, disk, 512, t), 0);
	assert_int_equal(t->n, 3);
	assert_int_equal(t->part[2].start, 97 * MIB);
	close(fd);
	/* The same disk grown to 1 GiB: the backup moves, the new entry takes the rest. */
	fd = img(GIB);
	td_put(fd, "gpt-sgdisk-256m-head.bin", 0, disk);
	td_put(fd, "gpt-sgdisk-256m-tail.bin", -1, disk);
	assert_int_equal(blk_part_add(&c, fd, GIB, 512, 64 * MIB, BLK_MARGIN, 0, 0, &partno, &start,
				      &len), 0);
	/* 1 MiB aligned below the margin and the backup entries. */
	assert_int_equal(start + len, GIB - BLK_MARGIN - MIB);
	assert_int_equal(blk_table_read(&c, fd, GIB, 512, t), 0);
	assert_int_equal(t->n, 3);
	close(fd);
	free(t);
}

/* sfdisk's MBR with one bootable partition: a second one after it. */
static void mbr_from_sfdisk(void **state)
{
	struct blk_ctx c = { 0 };
	struct blk_table *t = malloc(sizeof(*t));
	uint64_t start, len;
	unsigned partno;
	unsigned char s[512];
	int fd = img(2 * GIB);

	(void)state;
	td_put(fd, "mbr-sfdisk-2g.bin", 0, 2 * GIB);
	assert_int_equal(blk_table_read(&c, fd, 2 * GIB, 512, t), 0);
	assert_int_equal(t->type, 1);
	assert_true(t->bootable);
	assert_int_equal(t->n, 1);
	assert_int_equal(t->end, 101 * MIB);
	assert_int_equal(blk_part_add(&c, fd, 2 * GIB, 512, BLK_FREE_MIN, BLK_MARGIN, 0, 0, &partno,
				      &start, &len), 0);
	assert_int_equal(partno, 2);
	assert_int_equal(start, 101 * MIB);
	get(fd, 0, s, 512);
	assert_int_equal(blk_get32(s + 440), 0x1234abcd);	/* disk id kept */
	assert_int_equal(s[446], 0x80);				/* partition 1 still bootable */
	assert_int_equal(blk_get32(s + 446 + 16 + 8), 101 * 2048);
	close(fd);
	free(t);
}

/* A fake sysfs and a devdir of image files. */
struct fake {
	char root[64], sysfs[96], dev[96];
};

static void wfile(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int fake_disk(struct fake *f, const char *name, uint64_t size, int ro, int removable,
		     int device)
{
	char p[256], num[32];
	int fd;

	snprintf(p, sizeof(p), "%s/block/%s", f->sysfs, name);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/block/%s/queue", f->sysfs, name);
	assert_int_equal(mkdir(p, 0755), 0);
	if (device) {
		snprintf(p, sizeof(p), "%s/block/%s/device", f->sysfs, name);
		assert_int_equal(mkdir(p, 0755), 0);
	}
	snprintf(p, sizeof(p), "%s/block/%s/ro", f->sysfs, name);
	wfile(p, ro ? "1\n" : "0\n");
	snprintf(p, sizeof(p), "%s/block/%s/removable", f->sysfs, name);
	wfile(p, removable ? "1\n" : "0\n");
	snprintf(p, sizeof(p), "%s/block/%s/size", f->sysfs, name);
	snprintf(num, sizeof(num), "%llu\n", (unsigned long long)(size / 512));
	wfile(p, num);
	snprintf(p, sizeof(p), "%s/%s", f->dev, name);
	fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	return fd;
}

static void fake_init(struct fake *f)
{
	char p[160];

	strcpy(f->root, "/tmp/blk-test-XXXXXX");
	assert_non_null(mkdtemp(f->root));
	snprintf(f->sysfs, sizeof(f->sysfs), "%s/sys", f->root);
	snprintf(f->dev, sizeof(f->dev), "%s/dev", f->root);
	snprintf(p, sizeof(p), "%s/block", f->sysfs);
	assert_int_equal(mkdir(f->sysfs, 0755), 0);
	assert_int_equal(mkdir(p, 0755), 0);
	assert_int_equal(mkdir(f->dev, 0755), 0);
}

static void fake_fini(struct fake *f)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->root);
	assert_int_equal(system(cmd), 0);
}

static void choose_prepare_find(void **state)
{
	struct fake f;
	struct blk_ctx c = { 0 };
	struct blk_scratch sc;
	struct blk_cfg cfg = BLK_CFG_DEFAULT;
	int fds[6], i;

	(void)state;
	fake_init(&f);
	cfg.sysfs = f.sysfs;
	cfg.devdir = f.dev;
	fds[0] = fake_disk(&f, "vda", 2 * GIB, 0, 0, 1);	/* boot disk: active MBR entry */
	mbr_boot_disk(fds[0], 100);
	fds[1] = fake_disk(&f, "vdb", GIB, 0, 0, 1);		/* someone's xfs */
	put(fds[1], 0, "XFSB", 4);
	fds[2] = fake_disk(&f, "vdc", GIB, 1, 0, 1);		/* read-only */
	fds[3] = fake_disk(&f, "loop0", GIB, 0, 0, 0);		/* no device: loop */
	fds[4] = fake_disk(&f, "sr0", GIB, 0, 1, 1);		/* removable */
	fds[5] = fake_disk(&f, "vdaa", 5 * GIB, 0, 0, 1);	/* blank, sorts after vdc */
	assert_int_equal(blk_scratch_find(&c, &cfg, &sc), -ENOENT);
	assert_int_equal(blk_scratch_choose(&c, &cfg, &sc), 0);
	assert_int_equal(sc.kind, BLK_KIND_BLANK_DISK);
	assert_string_equal(sc.disk, "vdaa");
	/* use_boothd: the boot disk's free space instead. */
	cfg.use_boothd = 1;
	assert_int_equal(blk_scratch_choose(&c, &cfg, &sc), 0);
	assert_int_equal(sc.kind, BLK_KIND_BOOT_FREE);
	assert_string_equal(sc.disk, "vda");
	assert_int_equal(sc.partno, 2);
	cfg.use_boothd = 0;
	assert_int_equal(blk_scratch_choose(&c, &cfg, &sc), 0);
	assert_int_equal(blk_scratch_prepare(&c, &cfg, &sc, blk_now_ms() + 1000), 0);
	assert_int_equal(c.why, BLK_WHY_NONE);
	assert_int_equal(blk_scratch_find(&c, &cfg, &sc), 0);
	assert_int_equal(sc.kind, BLK_KIND_EXISTING);
	assert_string_equal(sc.disk, "vdaa");
	assert_int_equal(sc.partno, 1);
	assert_string_equal(sc.part, "vdaa1");
	assert_int_equal(sc.start, MIB);
	/* Now nothing is blank: the boot disk's free space is taken. */
	assert_int_equal(blk_scratch_choose(&c, &cfg, &sc), 0);
	assert_int_equal(sc.kind, BLK_KIND_BOOT_FREE);
	/* A boot disk without room: a clear error that lists every disk. */
	assert_int_equal(ftruncate(fds[0], 500 * MIB), 0);
	wfile(strcat(strcpy((char[256]){ 0 }, f.sysfs), "/block/vda/size"), "1024000\n");
	memset(&c, 0, sizeof(c));
	assert_int_equal(blk_scratch_choose(&c, &cfg, &sc), -ENOSPC);
	assert_int_equal(c.why, BLK_WHY_TOO_SMALL);
	assert_non_null(strstr(c.what, "boot disk vda: "));
	if (!strstr(c.what, "no blank disk: sr0: removable; vdb: xfs file system at byte 0; vdc: read-only"))
		fail_msg("%s", c.what);
	for (i = 0; i < 6; i++)
		close(fds[i]);
	fake_fini(&f);
}

static void no_disk_summary(void **state)
{
	struct fake f;
	struct blk_ctx c = { 0 };
	struct blk_scratch sc;
	struct blk_cfg cfg = BLK_CFG_DEFAULT;
	int fds[3], i;

	(void)state;
	fake_init(&f);
	cfg.sysfs = f.sysfs;
	cfg.devdir = f.dev;
	fds[0] = fake_disk(&f, "sda", GIB, 0, 0, 1);
	put(fds[0], 4086, "SWAPSPACE2", 10);
	fds[1] = fake_disk(&f, "nvme0n1", GIB, 1, 0, 1);
	fds[2] = fake_disk(&f, "xvda", 32 * MIB, 0, 0, 1);
	assert_int_equal(blk_scratch_choose(&c, &cfg, &sc), -ENOSPC);
	assert_int_equal(c.why, BLK_WHY_NO_DISK);
	assert_non_null(strstr(c.what, "sda: swap space at byte 4086"));
	assert_non_null(strstr(c.what, "nvme0n1: read-only"));
	assert_non_null(strstr(c.what, "xvda: smaller than 64 MiB"));
	for (i = 0; i < 3; i++)
		close(fds[i]);
	fake_fini(&f);
}

/* The chosen disk's node is gone by the time we write: named, nothing made. */
static void disk_vanishes(void **state)
{
	struct fake f;
	struct blk_ctx c = { 0 };
	struct blk_scratch sc;
	struct blk_cfg cfg = BLK_CFG_DEFAULT;
	char p[256];
	int fd;

	(void)state;
	fake_init(&f);
	cfg.sysfs = f.sysfs;
	cfg.devdir = f.dev;
	fd = fake_disk(&f, "vdb", GIB, 0, 0, 1);
	assert_int_equal(blk_scratch_choose(&c, &cfg, &sc), 0);
	snprintf(p, sizeof(p), "%s/vdb", f.dev);
	assert_int_equal(unlink(p), 0);
	assert_int_equal(blk_scratch_prepare(&c, &cfg, &sc, blk_now_ms() + 100), -ENOENT);
	assert_int_equal(c.why, BLK_WHY_VANISHED);
	assert_non_null(strstr(c.what, "/vdb"));
	close(fd);
	fake_fini(&f);
}

static void part_names(void **state)
{
	char out[BLK_NAME_MAX];

	(void)state;
	blk_part_name("/nonexistent", "vdb", 1, out);
	assert_string_equal(out, "vdb1");
	blk_part_name("/nonexistent", "nvme0n1", 2, out);
	assert_string_equal(out, "nvme0n1p2");
	blk_part_name("/nonexistent", "loop3", 1, out);
	assert_string_equal(out, "loop3p1");
}

static void sticky_reason(void **state)
{
	struct blk_ctx c = { 0 };
	char buf[300];

	(void)state;
	assert_int_equal(blk_fail(&c, BLK_WHY_READ_ONLY, -EROFS, "vdb"), -EROFS);
	assert_int_equal(blk_fail(&c, BLK_WHY_IO, -EIO, "later"), -EIO);
	assert_int_equal(c.why, BLK_WHY_READ_ONLY);
	assert_string_equal(blk_ctx_str(&c, buf, sizeof(buf)), "device is read-only: vdb");
	assert_int_equal(blk_fail_io(&(struct blk_ctx){ 0 }, -ENODEV, "read", "vdb"), -ENODEV);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(crc_known_answers),
		cmocka_unit_test(sparse_super_groups),
		cmocka_unit_test(layout_sizes),
		cmocka_unit_test(mkfs_bytes),
		cmocka_unit_test(mkfs_refuses_bad_args),
		cmocka_unit_test(blank_signatures),
		cmocka_unit_test(gpt_create_and_read),
		cmocka_unit_test(gpt_corrupt),
		cmocka_unit_test(mbr_add_and_grow),
		cmocka_unit_test(gpt_from_sgdisk),
		cmocka_unit_test(mbr_from_sfdisk),
		cmocka_unit_test(gpt_add_and_grow),
		cmocka_unit_test(choose_prepare_find),
		cmocka_unit_test(no_disk_summary),
		cmocka_unit_test(disk_vanishes),
		cmocka_unit_test(part_names),
		cmocka_unit_test(sticky_reason),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
