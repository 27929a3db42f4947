/* SPDX-License-Identifier: MIT */
/* blk/sig.c: is a disk blank? Known signatures by name, then any data in its first and last MiB. */
#include <errno.h>
#include <string.h>

#include "blk/internal.h"

#define SCAN_BYTES BLK_MIB
#define CHUNK 16384
#define FROM_END 0x8000000000000000ull	/* offset flag: counted back from the end */

/* Magic numbers and where blkid/libblkid and the formats' specs put them. */
static const struct sig {
	uint64_t off;
	unsigned len;
	const char *magic, *name;
} sigs[] = {
	{ 512, 8, "EFI PART", "GPT partition table" },
	{ 4096, 8, "EFI PART", "GPT partition table (4K sectors)" },
	{ FROM_END | 512, 8, "EFI PART", "GPT backup header" },
	{ 0x438, 2, "\x53\xef", "ext2/3/4 file system" },
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
	{ 510, 2, "\x55\xaa", "MBR partition table or boot record" },
};

static int refuse(struct blk_ctx *c, const char *name, const char *what, uint64_t off)
{
	return blk_fail(c, BLK_WHY_NOT_BLANK, -ENOTEMPTY, "%s: %s at byte %llu (not ours: if its "
			"data is not needed, wipefs -a it; else give the VM a blank disk)",
			name, what, (unsigned long long)off);
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
	unsigned char b[16];
	uint64_t off;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		off = sigs[i].off & FROM_END ? len - (sigs[i].off & ~FROM_END) : sigs[i].off;
		if ((sigs[i].off & FROM_END && len < (sigs[i].off & ~FROM_END)) ||
		    off + sigs[i].len > len)
			continue;
		rc = blk_pread(fd, b, sigs[i].len, off);
		if (rc < 0)
			return blk_fail_io(c, rc, "read", name);
		if (!memcmp(b, sigs[i].magic, sigs[i].len))
			return refuse(c, name, sigs[i].name, off);
	}
	if (md_end(fd, len, &off))
		return refuse(c, name, "mdraid 0.90/1.0 member", off);
	rc = scan(c, name, fd, 0, len < SCAN_BYTES ? len : SCAN_BYTES, len);
	if (rc == 0 && len > SCAN_BYTES)
		rc = scan(c, name, fd, len - SCAN_BYTES > SCAN_BYTES ? len - SCAN_BYTES : SCAN_BYTES,
			  len, len);
	return rc;
}
