/* SPDX-License-Identifier: MIT */
/* blk/internal.h: blk's private helpers; only blk/ and its unit test include it. */
#ifndef BLK_INTERNAL_H
#define BLK_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "blk/blk.h"

#define BLK_MIB (1ull << 20)

static inline void blk_put16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
}
static inline void blk_put32(unsigned char *p, uint32_t v)
{
	blk_put16(p, (uint16_t)v);
	blk_put16(p + 2, (uint16_t)(v >> 16));
}
static inline void blk_put64(unsigned char *p, uint64_t v)
{
	blk_put32(p, (uint32_t)v);
	blk_put32(p + 4, (uint32_t)(v >> 32));
}
static inline void blk_put_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}
static inline uint16_t blk_get16(const unsigned char *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}
static inline uint32_t blk_get32(const unsigned char *p)
{
	return blk_get16(p) | (uint32_t)blk_get16(p + 2) << 16;
}
static inline uint64_t blk_get64(const unsigned char *p)
{
	return blk_get32(p) | (uint64_t)blk_get32(p + 4) << 32;
}
static inline uint32_t blk_get_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* CRC32C update without pre/post inversion (ext4 and jbd2 seed with ~0 and
 * store the raw register). */
uint32_t blk_crc32c(uint32_t crc, const void *buf, size_t len);
/* The usual CRC32 of GPT (inverted in and out). */
uint32_t blk_crc32(const void *buf, size_t len);

/* Sets the sticky reason once: later calls keep the first. Returns err. */
int blk_fail(struct blk_ctx *c, enum blk_why why, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* -errno of a failed read/write/open, with why VANISHED for a device that went
 * away and IO otherwise; what is "ACTION NAME: strerror". */
int blk_fail_io(struct blk_ctx *c, int err, const char *action, const char *name);

/* pread/pwrite of exactly len bytes: 0, -EIO on a short transfer, or -errno. */
int blk_pread(int fd, void *buf, size_t len, uint64_t off);
int blk_pwrite(int fd, const void *buf, size_t len, uint64_t off);

/* len random bytes (getrandom; never blocks on Linux >= 5.6). 0 or -errno. */
int blk_random(unsigned char *buf, size_t len);
/* CLOCK_MONOTONIC in ms. */
uint64_t blk_now_ms(void);

/* One sysfs attribute into buf (trailing newline cut). 0 or -errno. */
int blk_sysfs_read(const char *path, char *buf, size_t len);

/* The kernel's name of partition partno of disk: sysfs is asked first (the
 * dir whose `partition` file holds partno), else "vdb1" / "nvme0n1p1". out
 * holds BLK_NAME_MAX bytes. */
void blk_part_name(const char *sysfs, const char *disk, unsigned partno, char *out);

/* Tells the kernel about sc's partition (BLKPG_ADD_PARTITION, else
 * BLKRRPART). 0 or -errno (why KERNEL). */
int blk_part_kernel_add(struct blk_ctx *c, int fd, const struct blk_scratch *sc);
/* Waits until the node of sc's partition exists under cfg->devdir (filling
 * sc->part and part_path), at most until deadline_ms. 0 or -ETIMEDOUT. */
int blk_part_await(struct blk_ctx *c, const struct blk_cfg *cfg, struct blk_scratch *sc,
		   uint64_t deadline_ms);

/* Where blk_gpt_create puts its first partition on a disk of len bytes. */
void blk_gpt_plan(uint64_t len, uint32_t sector, uint64_t cap, uint64_t *start, uint64_t *plen);

/* Size in bytes and logical sector size of fd: ioctls on a block device,
 * st_size and 512 on a regular file. Sets *is_blk. 0 or -errno. */
int blk_fd_geometry(int fd, uint64_t *bytes, uint32_t *sector, int *is_blk);

/* Partition table found on a disk (read-only view, for discovery). */
#define BLK_PARTS_MAX 128
struct blk_table {
	int type;			/* 0 none, 1 MBR, 2 GPT */
	int bootable;			/* an active MBR entry, or a GPT ESP / BIOS-boot entry */
	unsigned n;			/* used entries */
	unsigned maxno;			/* largest partition number in use */
	uint64_t end;			/* first byte after the last partition */
	struct blk_part {
		unsigned no;		/* 1-based */
		uint64_t start, len;	/* bytes */
	} part[BLK_PARTS_MAX];
};
/* Reads the table on fd. 0 (type 0 if none), -EBADMSG if a GPT is corrupt
 * in both copies, or -errno. */
int blk_table_read(struct blk_ctx *c, int fd, uint64_t len, uint32_t sector,
		   struct blk_table *t);

/* ext4 geometry of blk_mkfs (mkfs-layout.c): 4 KiB blocks, 32768 per group,
 * flex groups of 16 whose bitmaps and inode tables sit at the start of the
 * leader group (after its superblock/descriptor copy, if any), the root and
 * lost+found blocks after group 0's tables, the journal in the free tails of
 * groups from the middle of the file system on. */
#define BLK_FS_BS 4096u
#define BLK_FS_BPG 32768u
#define BLK_FS_FLEX 16u
#define BLK_FS_ISIZE 256u
#define BLK_FS_IRATIO 16384u
#define BLK_FS_LPF_BLOCKS 4u
#define BLK_FS_JEXT_MAX 340u		/* extents of one leaf block: (4096 - 12) / 12 */
#define BLK_FS_EXT_LEN 32768u		/* longest initialised extent */

struct blk_fs_ext {
	uint64_t start;
	uint32_t lblk, len;
};

struct blk_fs_layout {
	uint64_t blocks;		/* file system size in blocks */
	uint32_t groups, ipg, itb;	/* groups, inodes and inode-table blocks per group */
	uint32_t desc_size, gdt_blocks;
	uint64_t root_blk, lpf_blk;	/* root dir block, first lost+found block */
	uint64_t jleaf;			/* journal extent leaf block, 0 if the root holds all */
	uint32_t jblocks, jn;		/* journal length, extents */
	struct blk_fs_ext jext[BLK_FS_JEXT_MAX];
	uint32_t first_free_g0;		/* first block of group 0 not taken by metadata */
};

/* Computes the layout of a file system of at most blocks blocks (the count may
 * shrink to drop a last group too small for its metadata). 0, -ENOSPC if it
 * does not fit, -EFBIG beyond BLK_MKFS_MAX or 32-bit limits. Pure. */
int blk_fs_layout(struct blk_fs_layout *L, uint64_t blocks, int is64);
/* Group g holds a superblock backup (sparse_super: 0, 1, powers of 3, 5, 7). */
int blk_fs_has_super(uint32_t g);
/* Blocks at the start of group g taken by sb/descriptor copies, flex tables
 * and (group 0) directory and journal-leaf blocks. */
uint32_t blk_fs_reserved(const struct blk_fs_layout *L, uint32_t g);
/* Blocks of group g in use (reserved + journal); and its length. */
uint32_t blk_fs_used(const struct blk_fs_layout *L, uint32_t g);
uint32_t blk_fs_group_len(const struct blk_fs_layout *L, uint32_t g);
/* Locations of group g's block bitmap, inode bitmap and inode table. */
void blk_fs_group_tables(const struct blk_fs_layout *L, uint32_t g, uint64_t *bb, uint64_t *ib,
			 uint64_t *it);
/* Group g needs its block bitmap written (not BLOCK_UNINIT). */
int blk_fs_group_init(const struct blk_fs_layout *L, uint32_t g);
/* Fills the 4096-byte block bitmap of group g. */
void blk_fs_block_bitmap(const struct blk_fs_layout *L, uint32_t g, unsigned char *bm);
/* Journal size mke2fs would choose for blocks (4 MiB ... 1 GiB). */
uint32_t blk_fs_journal_blocks(uint64_t blocks);

#endif
