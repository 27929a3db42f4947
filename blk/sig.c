/* SPDX-License-Identifier: MIT */
/* blk/sig.c: is a disk blank? Known signatures by name at the disk's start
 * and at the usual partition starts, then any data in its first and last MiB.
 *
 * The rule ("disks holding data are never touched"): a disk is blank only if
 *  - no signature of the table below is at its start (byte 0), and none but
 *    the partition tables' (AT0) at any usual partition start: sector 63
 *    (DOS cylinder alignment: fdisk before util-linux 2.17.1, Windows XP),
 *    1 MiB (2048 sectors: parted, fdisk, sgdisk, Windows since Vista, blk
 *    itself) and every power of two from 2 MiB to 1 GiB (larger alignments:
 *    RAID stripes, SSD erase blocks, 4 KiB-sector disks aligned to 2048
 *    sectors); a wiped table leaves the file systems where they were;
 *  - no ZFS uberblock is in the first label of any of those starts;
 *  - no mdraid 0.90/1.0 superblock is near its end;
 *  - its first and its last MiB are all zeros.
 * One exception, so that a first boot killed between mkfs and the table is
 * not locked out of its own disk: an ext4 at 1 MiB that blk made and nobody
 * ever mounted (label UROOT, mount count 0, never mounted, written at mkfs
 * time, exactly the size blk plans for this disk) is ours and is made again.
 * What is not recognised (a file system without a signature, one starting
 * elsewhere with its table wiped) is not protected: wipefs-ed or zeroed
 * tables are read as "the owner gave this disk away". */
#include <errno.h>
#include <string.h>

#include "blk/internal.h"

#define SCAN_BYTES BLK_MIB
#define CHUNK 16384
#define FROM_END 0x8000000000000000ull	/* offset flag: counted back from the end */
#define AT0 1u		/* only at byte 0 of the disk: partition tables, the MBR mark */
#define EXT4 2u		/* also needs a sane block size (blk_ext4_probe) */

/* Magic numbers and where blkid/libblkid and the formats' specs put them. */
static const struct sig {
	uint64_t off;
	unsigned len;
	const char *magic, *name;
	unsigned flags;
} sigs[] = {
	{ 512, 8, "EFI PART", "GPT partition table", AT0 },
	{ 4096, 8, "EFI PART", "GPT partition table (4K sectors)", AT0 },
	{ FROM_END | 512, 8, "EFI PART", "GPT backup header", AT0 },
	{ 0x438, 2, "\x53\xef", "ext2/3/4 file system", EXT4 },
	{ 0, 4, "XFSB", "xfs file system" },
	{ 0x10040, 8, "_BHRfS_M", "btrfs file system" },
	{ 0x36, 3, "FAT", "vfat file system" },
	{ 0x52, 5, "FAT32", "vfat file system" },
	{ 3, 8, "EXFAT   ", "exfat file system" },
	{ 3, 8, "NTFS    ", "ntfs file system" },
	{ 0x8001, 5, "CD001", "iso9660 file system" },
	{ 0x8001, 5, "BEA01", "udf file system" },
	{ 0, 8, "LABELONE", "LVM2 physical volume" },
	{ 0x200, 8, "LABELONE", "LVM2 physical volume" },
	{ 0x400, 8, "LABELONE", "LVM2 physical volume" },
	{ 0x600, 8, "LABELONE", "LVM2 physical volume" },
	{ 0, 4, "\xfc\x4e\x2b\xa9", "mdraid 1.1 member" },
	{ 0x1000, 4, "\xfc\x4e\x2b\xa9", "mdraid 1.2 member" },
	{ 4096 - 10, 10, "SWAPSPACE2", "swap space" },
	{ 4096 - 10, 10, "SWAP-SPACE", "swap space" },
	{ 4096 - 10, 9, "S1SUSPEND", "swap space (suspend image)" },
	{ 8192 - 10, 10, "SWAPSPACE2", "swap space" },
	{ 16384 - 10, 10, "SWAPSPACE2", "swap space" },
	{ 65536 - 10, 10, "SWAPSPACE2", "swap space" },
	{ 0, 6, "LUKS\xba\xbe", "LUKS encrypted volume" },
	{ 0x4000, 6, "SKUL\xba\xbe", "LUKS2 secondary header" },
	{ 0x400, 4, "\x10\x20\xf5\xf2", "f2fs file system" },
	{ 0, 4, "hsqs", "squashfs" },
	{ 0x10034, 6, "ReIsEr", "reiserfs file system" },
	{ 0x1018, 8, "\xc6\x85\x73\xf6\x4e\x1a\x45\xca", "bcache device" },
	/* 2 bytes: random old bytes would match once in 65536 starts. */
	{ 510, 2, "\x55\xaa", "MBR partition table or boot record", AT0 },
};

/* Usual partition starts, bytes (see the rule above); 0 is the disk itself. */
static const uint64_t starts[] = {
	0, 63 * 512, 1ull << 20, 2ull << 20, 4ull << 20, 8ull << 20, 16ull << 20, 32ull << 20,
	64ull << 20, 128ull << 20, 256ull << 20, 512ull << 20, 1ull << 30,
};

static int refuse(struct blk_ctx *c, const char *name, const char *what, uint64_t off)
{
	return blk_fail(c, BLK_WHY_NOT_BLANK, -ENOTEMPTY, "%s: %s at byte %llu (not ours: if its "
			"data is not needed, wipefs -a it; else give the VM a blank disk)",
			name, what, (unsigned long long)off);
}

/* The ext4 at 1 MiB is one blk_mkfs wrote on this disk and nobody mounted:
 * a first boot was interrupted before it wrote the table (blk_scratch_prepare
 * makes the file system first). Sizes as blk_gpt_plan, for either sector size
 * and either resize_rootfs setting. */
static int ours_unmounted(int fd, uint64_t len)
{
	static const uint32_t sector[2] = { 512, 4096 };
	static const uint64_t cap[2] = { 0, BLK_NORESIZE_CAP };
	struct blk_fs_layout L;
	unsigned char sb[1024];
	uint64_t blocks, start, plen;
	unsigned i;
	int is64;

	if (blk_pread(fd, sb, sizeof(sb), BLK_MIB + 1024) < 0 || len < BLK_DISK_MIN ||
	    memcmp(sb + 0x78, BLK_LABEL, sizeof(BLK_LABEL)) ||
	    blk_get32(sb + 0x2C) != 0 || blk_get16(sb + 0x34) != 0 ||	/* mtime, mount count */
	    blk_get32(sb + 0x30) != blk_get32(sb + 0x108))		/* wtime == mkfs_time */
		return 0;
	is64 = (blk_get32(sb + 0x60) & 0x80) != 0;
	blocks = blk_get32(sb + 0x04) | (is64 ? (uint64_t)blk_get32(sb + 0x150) << 32 : 0);
	for (i = 0; i < 4; i++) {
		blk_gpt_plan(len, sector[i & 1], cap[i >> 1], &start, &plen);
		if (start == BLK_MIB &&
		    blk_fs_layout(&L, (plen & ~(uint64_t)(BLK_FS_BS - 1)) / BLK_FS_BS, is64) == 0 &&
		    L.blocks == blocks)
			return 1;
	}
	return 0;
}

/* The signatures at byte base (a usual partition start). 0, or refused. */
static int sigs_at(struct blk_ctx *c, const char *name, int fd, uint64_t base, uint64_t len)
{
	char label[17];
	unsigned char b[16];
	uint64_t off, blocks;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		if (base && sigs[i].flags & AT0)
			continue;
		off = sigs[i].off & FROM_END ? len - (sigs[i].off & ~FROM_END) : base + sigs[i].off;
		if ((sigs[i].off & FROM_END && len < (sigs[i].off & ~FROM_END)) ||
		    off + sigs[i].len > len)
			continue;
		rc = blk_pread(fd, b, sigs[i].len, off);
		if (rc < 0)
			return blk_fail_io(c, rc, "read", name);
		if (memcmp(b, sigs[i].magic, sigs[i].len))
			continue;
		if (sigs[i].flags & EXT4 && base &&
		    (blk_ext4_probe(fd, base, label, &blocks) != 0 ||
		     (base == BLK_MIB && ours_unmounted(fd, len))))
			continue;
		return refuse(c, name, sigs[i].name, off);
	}
	return 0;
}

/* ZFS uberblocks (magic 0x00bab10c, either byte order) in the ring of the
 * first label (its second 128 KiB) of a pool starting at base. */
static int zfs_at(struct blk_ctx *c, const char *name, int fd, uint64_t base, uint64_t len)
{
	static const unsigned char le[8] = { 0x0c, 0xb1, 0xba, 0 }, be[8] = { 0, 0, 0, 0, 0, 0xba, 0xb1, 0x0c };
	unsigned char buf[CHUNK];
	uint64_t a;
	size_t i;
	int rc;

	for (a = base + 128 * 1024; a < base + 256 * 1024 && a + CHUNK <= len; a += CHUNK) {
		rc = blk_pread(fd, buf, CHUNK, a);
		if (rc < 0)
			return blk_fail_io(c, rc, "read", name);
		for (i = 0; i < CHUNK; i += 1024)
			if (!memcmp(buf + i, le, 8) || !memcmp(buf + i, be, 8))
				return refuse(c, name, "ZFS label", a + i);
	}
	return 0;
}

/* md 0.90 and 1.0 keep their superblock near the end. */
static int md_end(int fd, uint64_t len, uint64_t *off)
{
	uint64_t cand[2] = { (len & ~0xffffull) - 0x10000, ((len / 512 - 16) & ~7ull) * 512 };
	unsigned char b[4];
	unsigned i;

	for (i = 0; i < 2; i++) {
		if (len < 0x20000 || blk_pread(fd, b, 4, cand[i]) < 0)
			continue;
		if (!memcmp(b, "\xfc\x4e\x2b\xa9", 4) || !memcmp(b, "\xa9\x2b\x4e\xfc", 4)) {
			*off = cand[i];
			return 1;
		}
	}
	return 0;
}

/* ZFS uberblocks (magic 0x00bab10c, either byte order) in the second half of
 * each 256 KiB label: two at the start, two at the end of the device. */
static int zfs_label(const unsigned char *buf, uint64_t boff, size_t n, uint64_t len, uint64_t *at)
{
	static const unsigned char le[8] = { 0x0c, 0xb1, 0xba, 0 }, be[8] = { 0, 0, 0, 0, 0, 0xba, 0xb1, 0x0c };
	uint64_t p, rel, lab = 256 * 1024;
	size_t i;

	for (i = 0; i + 8 <= n; i += 1024) {
		p = boff + i;
		if (p < 2 * lab)
			rel = p % lab;
		else if (len >= 4 * lab && p >= (len & ~(lab - 1)) - 2 * lab)
			rel = (p - ((len & ~(lab - 1)) - 2 * lab)) % lab;
		else
			continue;
		if (rel >= 128 * 1024 && (!memcmp(buf + i, le, 8) || !memcmp(buf + i, be, 8))) {
			*at = p;
			return 1;
		}
	}
	return 0;
}

/* Any non-zero byte in [a, b): 1 and its offset; a named ZFS label first. */
static int scan(struct blk_ctx *c, const char *name, int fd, uint64_t a, uint64_t b, uint64_t len)
{
	unsigned char buf[CHUNK];
	uint64_t at;
	size_t n, i;
	int rc;

	for (; a < b; a += n) {
		n = b - a < CHUNK ? (size_t)(b - a) : CHUNK;
		rc = blk_pread(fd, buf, n, a);
		if (rc < 0)
			return blk_fail_io(c, rc, "read", name);
		if (zfs_label(buf, a, n, len, &at))
			return refuse(c, name, "ZFS label", at);
		for (i = 0; i < n; i++)
			if (buf[i])
				return refuse(c, name, "data we did not write (no known signature)",
					      a + i);
	}
	return 0;
}

/* see blk.h */
int blk_disk_check_blank(struct blk_ctx *c, const char *name, int fd, uint64_t len)
{
	uint64_t off;
	size_t i;
	int rc = 0;

	for (i = 0; i < sizeof(starts) / sizeof(starts[0]) && rc == 0; i++)
		if (starts[i] < len)
			rc = sigs_at(c, name, fd, starts[i], len);
	if (rc < 0)
		return rc;
	if (md_end(fd, len, &off))
		return refuse(c, name, "mdraid 0.90/1.0 member", off);
	rc = scan(c, name, fd, 0, len < SCAN_BYTES ? len : SCAN_BYTES, len);
	if (rc == 0 && len > SCAN_BYTES)
		rc = scan(c, name, fd, len - SCAN_BYTES > SCAN_BYTES ? len - SCAN_BYTES : SCAN_BYTES,
			  len, len);
	/* Inside the first MiB, scan() saw every byte already. */
	for (i = 0; i < sizeof(starts) / sizeof(starts[0]) && rc == 0; i++)
		if (starts[i] >= SCAN_BYTES && starts[i] < len)
			rc = zfs_at(c, name, fd, starts[i], len);
	return rc;
}
