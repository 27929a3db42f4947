/* SPDX-License-Identifier: MIT */
/* blk/blk.h: the scratch disk: find it, partition it, make its ext4, grow it, lay it out. */
#ifndef BLK_BLK_H
#define BLK_BLK_H

#include <stddef.h>
#include <stdint.h>

/*
 * PID 1 calls, in this order (DESIGN.md 1, stages disk-find and disk):
 *
 *	struct blk_ctx bc = { 0 };
 *	struct blk_cfg cfg = BLK_CFG_DEFAULT;	(then set resize_rootfs, use_boothd)
 *	struct blk_scratch sc;
 *	rc = blk_scratch_find(&bc, &cfg, &sc);		existing UROOT? rc == 0
 *	if (rc == -ENOENT) {
 *		rc = blk_scratch_choose(&bc, &cfg, &sc);	blank disk or boot-disk space
 *		rc = blk_scratch_prepare(&bc, &cfg, &sc, now + 10000);
 *	}
 *	mount(sc.part_path, "/root.rw", "ext4", 0, "");
 *	rc = blk_scratch_grow(&bc, &cfg, &sc, "/root.rw", now + 10000);
 *	rc = blk_layout_make(&bc, "/root.rw");
 *
 * Every function returns 0 (or a documented count) or -errno. On failure the
 * sticky reason is in bc.why / bc.what: blk_ctx_str() gives one line that
 * names what was wrong, for boot_fatal(). Nothing here allocates memory;
 * stack use stays below 64 KiB per call. No function forks or execs.
 */

#define BLK_NAME_MAX 32			/* a sysfs block device name: "nvme0n1p1" */
#define BLK_PATH_MAX 160		/* a device node path */
#define BLK_WHAT_MAX 256		/* detail text kept with the sticky reason */
#define BLK_LABEL "UROOT"		/* volume label of the scratch file system */
#define BLK_FREE_MIN (750ull << 20)	/* least free space taken on the boot disk */
#define BLK_MARGIN (20ull << 20)	/* left free at the end of the boot disk (μCernVM) */
#define BLK_NORESIZE_CAP (20ull << 30)	/* resize_rootfs=off: the scratch partition's size */
#define BLK_DISK_MIN (64ull << 20)	/* smallest disk taken as scratch */
#define BLK_MKFS_MIN (16ull << 20)	/* smallest file system blk_mkfs makes */
#define BLK_MKFS_MAX (64ull << 40)	/* largest (no meta_bg at mkfs time) */

/* Why the last call failed; sticky: set once, never overwritten. */
enum blk_why {
	BLK_WHY_NONE = 0,
	BLK_WHY_NO_DISK,	/* no blank disk and no usable space on the boot disk */
	BLK_WHY_NOT_BLANK,	/* the target holds a signature or data we did not write */
	BLK_WHY_TOO_SMALL,	/* disk, free space or partition below the minimum */
	BLK_WHY_TOO_BIG,	/* beyond what the table or the file system can address */
	BLK_WHY_READ_ONLY,	/* the device is read-only */
	BLK_WHY_GPT_CORRUPT,	/* GPT header or entry CRC wrong in both copies */
	BLK_WHY_TABLE,		/* partition table unusable: no free slot, overlap, MBR beyond 2 TiB */
	BLK_WHY_IO,		/* read or write failed */
	BLK_WHY_VANISHED,	/* the device went away mid-way (ENODEV, ENXIO, ENOENT) */
	BLK_WHY_NODE_TIMEOUT,	/* the partition's device node did not appear in time */
	BLK_WHY_KERNEL,		/* the kernel refused BLKPG/BLKRRPART or the online resize */
	BLK_WHY_NOT_SCRATCH,	/* not our ext4 (UROOT) where one was expected */
	BLK_WHY_SYSFS,		/* sysfs unreadable */
	BLK_WHY_ARG,		/* bad argument */
};

/* Caller-owned state of one blk call sequence; zero it before use. */
struct blk_ctx {
	enum blk_why why;
	char what[BLK_WHAT_MAX];	/* e.g. "vdb: xfs signature at byte 0" */
};

/* What the reason means, in words ("disk not blank"). Never NULL. */
const char *blk_why_str(enum blk_why why);
/* "REASON: WHAT" (or "no error") into buf of len bytes; returns buf. */
const char *blk_ctx_str(const struct blk_ctx *c, char *buf, size_t len);

/* Where to look and the μCernVM knobs. */
struct blk_cfg {
	const char *sysfs;		/* sysfs root, "/sys"; tests point it at a fake tree */
	const char *devdir;		/* device nodes, "/dev"; tests use a dir of image files */
	const char *boot_disk;		/* sysfs name of the boot medium if known, else NULL:
					   then a disk with a bootable partition counts as it */
	int resize_rootfs;		/* 1 (default): the whole disk; 0 ("off"): cap at 20 GiB */
	int use_boothd;			/* 1: ignore blank disks, take space on the boot disk */
	int64_t now;			/* timestamps in the new fs (seconds); 0: time() */
	int no_64bit;			/* tests: 32-byte descriptors (no 64bit feature) */
};
#define BLK_CFG_DEFAULT { .sysfs = "/sys", .devdir = "/dev", .resize_rootfs = 1 }

enum blk_kind {
	BLK_KIND_EXISTING = 1,		/* an ext4 labelled UROOT was found */
	BLK_KIND_BLANK_DISK,		/* a blank disk: GPT + one (or two) partitions */
	BLK_KIND_BOOT_FREE,		/* free space at the end of the boot disk */
};

/* The chosen or found scratch: filled by find/choose, completed by prepare. */
struct blk_scratch {
	enum blk_kind kind;
	char disk[BLK_NAME_MAX];	/* sysfs name of the whole disk: "vdb" */
	char disk_path[BLK_PATH_MAX];	/* "/dev/vdb" */
	char part[BLK_NAME_MAX];	/* sysfs name of the partition: "vdb1" ("" until known) */
	char part_path[BLK_PATH_MAX];	/* node to mount: "/dev/vdb1" ("" until prepared) */
	unsigned partno;		/* 1-based partition number */
	uint32_t sector;		/* logical sector size in bytes */
	uint64_t disk_bytes;
	uint64_t start, len;		/* byte range of the scratch partition */
};

/* Looks at every disk of cfg->sysfs/block (and its partitions) for an ext4
 * labelled UROOT, reading superblocks itself. Skips read-only, removable,
 * loop, ram and device-less entries. Blocks only on reads of a few KiB per
 * device. Returns 0 and fills *out (kind EXISTING), -ENOENT if there is none,
 * or -errno (why set) if sysfs cannot be read. */
int blk_scratch_find(struct blk_ctx *c, const struct blk_cfg *cfg, struct blk_scratch *out);

/* Picks where to make the scratch: the first blank disk (by content: no
 * table, no signature, zeros in the first and last MiB), unless use_boothd;
 * else the free space at the end of the boot disk (>= BLK_FREE_MIN, keeping
 * BLK_MARGIN). Writes nothing. Returns 0 and fills *out (kind BLANK_DISK or
 * BOOT_FREE, start/len planned), or -ENOSPC (why NO_DISK, or TOO_SMALL when
 * the boot disk lacks room), -EBADMSG (GPT_CORRUPT on the boot disk), or
 * -errno; what names each disk and why it was refused. */
int blk_scratch_choose(struct blk_ctx *c, const struct blk_cfg *cfg, struct blk_scratch *out);

/* Writes the partition table (a new GPT on a blank disk, re-checked blank
 * first; a new entry in the boot disk's MBR or GPT), makes the ext4 file
 * system in the partition, syncs, tells the kernel (BLKPG, else BLKRRPART)
 * and waits until the partition's node exists, at most until deadline_ms
 * (CLOCK_MONOTONIC). Fills sc->part, sc->part_path. Returns 0, -ETIMEDOUT
 * (why NODE_TIMEOUT), -EROFS, -ENOTEMPTY (NOT_BLANK), -errno. */
int blk_scratch_prepare(struct blk_ctx *c, const struct blk_cfg *cfg, struct blk_scratch *sc,
			uint64_t deadline_ms);

/* If the disk is larger than the scratch partition (and resize_rootfs is on
 * and the partition is the last one): moves the GPT backup to the new end,
 * enlarges the entry, tells the kernel (BLKPG_RESIZE_PARTITION) and grows
 * the file system mounted at mountpoint online (EXT4_IOC_RESIZE_FS). Also
 * finishes a grow interrupted after the table was written. Blocks for the
 * kernel's resize (seconds for TiBs; deadline_ms bounds nothing yet: every
 * step is one synchronous call). Does nothing if resize_rootfs is 0.
 * Returns 1 if something grew, 0 if nothing had to, or -errno: -ENOSPC
 * (TABLE: not the last partition), -EBADMSG, -EPERM (KERNEL: no
 * CAP_SYS_RESOURCE). A failure leaves a working, merely ungrown scratch:
 * callers should log it and go on. */
int blk_scratch_grow(struct blk_ctx *c, const struct blk_cfg *cfg, struct blk_scratch *sc,
		     const char *mountpoint, uint64_t deadline_ms);

/* Creates the DESIGN.md 5 layout under mountpoint (persistent work cache
 * aux context ulogs kexec, mode 0755; existing ones are kept) and the spacer
 * aux/safety/50m (50 MiB of allocated zeros, fsync'd; freed to recover from a
 * full disk). Idempotent. Returns 0 or -errno (-ENOSPC if the spacer does not fit). */
int blk_layout_make(struct blk_ctx *c, const char *mountpoint);

#define BLK_SPACER_PATH "aux/safety/50m"
#define BLK_SPACER_BYTES (50ull << 20)

/* --- lower level, used by the above, the host tool and the tests --- */

struct blk_mkfs_opts {
	const char *label;		/* NULL: BLK_LABEL */
	int64_t now;			/* seconds for every timestamp; 0: time() */
	int no_64bit;			/* 1: 32-byte descriptors (needs < 2^32 blocks) */
	const unsigned char *uuid;	/* 16 bytes, or NULL: getrandom() */
};

/* Makes an ext4 file system (4 KiB blocks, journal, extents, flex_bg,
 * metadata_csum, uninitialised groups) in the len bytes at byte offset off of
 * fd (a disk, a partition or an image file; off and len multiples of 4096).
 * Writes only metadata: superblock and descriptor copies, the bitmaps of the
 * groups that hold metadata, the first inode-table block, the root and
 * lost+found directories and the journal superblock (a few MiB for TiBs).
 * Does not check blankness (callers do) and does not fsync. Returns the block
 * count made (> 0), -EINVAL, -EFBIG (TOO_BIG), -ENOSPC (TOO_SMALL) or -errno. */
int64_t blk_mkfs(struct blk_ctx *c, int fd, uint64_t off, uint64_t len,
		 const struct blk_mkfs_opts *o);

/* Reads len bytes' worth of signatures on fd (first and last MiB plus the
 * known magic offsets). Returns 0 if blank, -ENOTEMPTY (why NOT_BLANK, what
 * names the signature and its offset, prefixed by name) or -errno. */
int blk_disk_check_blank(struct blk_ctx *c, const char *name, int fd, uint64_t len);

/* The ext4 at byte off of fd: 0 and the label (NUL-terminated, 17 bytes) and
 * block count if it is ext4, -ENOENT if not, -errno on I/O errors. */
int blk_ext4_probe(int fd, uint64_t off, char label[17], uint64_t *blocks);

/* Writes a fresh GPT on the disk fd (len bytes, sector-byte sectors): one
 * Linux-filesystem partition from 1 MiB to the end (or of cap bytes and a
 * second one with the rest when cap is non-zero and smaller). Fills the first
 * partition's byte range. Returns 0 or -errno. Does not check blankness. */
int blk_gpt_create(struct blk_ctx *c, int fd, uint64_t len, uint32_t sector, uint64_t cap,
		   uint64_t *start, uint64_t *plen);

/* Scratch partition on a partitioned disk: the free space after the last
 * partition of the MBR or GPT on fd, at most cap bytes (0: all). plan=1: only computes; 0: writes the new
 * entry (MBR: type 0x83; GPT: Linux filesystem, the backup header moved to the
 * disk's end first). Fills *partno and the byte range. Returns 0, -ENOSPC
 * (TOO_SMALL: less than min_free), -EBADMSG (GPT_CORRUPT), -ENOENT (no table),
 * -EMLINK (TABLE: no free entry) or -errno. */
int blk_part_add(struct blk_ctx *c, int fd, uint64_t len, uint32_t sector, uint64_t min_free,
		 uint64_t margin, uint64_t cap, int plan, unsigned *partno, uint64_t *start,
		 uint64_t *plen);

/* Grows partition partno of the table on fd to the end of the disk (GPT: the
 * backup header moves to the new end first; MBR: at most 2^32 sectors).
 * Nothing is written if it already ends there. Fills the new byte range.
 * Returns 1 if the table changed, 0 if not, -EBADMSG, -ENOENT, -ENOSPC (not
 * the last partition) or -errno. */
int blk_part_grow(struct blk_ctx *c, int fd, uint64_t len, uint32_t sector, unsigned partno,
		  uint64_t *start, uint64_t *plen);

#endif
