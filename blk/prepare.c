/* SPDX-License-Identifier: MIT */
/* blk/prepare.c: write the table and the file system, tell the kernel, grow online. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <linux/blkpg.h>
#include <linux/fs.h>

#include "blk/internal.h"

/* Not in the uapi headers (fs/ext4/ext4.h). */
#define BLK_EXT4_IOC_RESIZE_FS _IOW('f', 16, uint64_t)

static int kernel_part(int fd, int op, unsigned partno, uint64_t start, uint64_t len)
{
	struct blkpg_partition p = { .start = (long long)start, .length = (long long)len,
				     .pno = (int)partno };
	struct blkpg_ioctl_arg a = { .op = op, .datalen = sizeof(p), .data = &p };

	return ioctl(fd, BLKPG, &a) < 0 ? -errno : 0;
}

/* see internal.h: BLKPG adds the one partition even while others on the disk are in use (the
 * boot disk); BLKRRPART re-reads the whole table when BLKPG cannot. */
int blk_part_kernel_add(struct blk_ctx *c, int fd, const struct blk_scratch *sc)
{
	int rc = kernel_part(fd, BLKPG_ADD_PARTITION, sc->partno, sc->start, sc->len);

	if (rc == 0)
		return 0;
	if (ioctl(fd, BLKRRPART) == 0)
		return 0;
	return blk_fail(c, BLK_WHY_KERNEL, -errno, "%s: BLKPG_ADD_PARTITION: %s, BLKRRPART: %s; "
			"reboot to make the kernel read the new table", sc->disk, strerror(-rc),
			strerror(errno));
}

/* see internal.h: devtmpfs creates the node asynchronously after the kernel adds the partition. */
int blk_part_await(struct blk_ctx *c, const struct blk_cfg *cfg, struct blk_scratch *sc,
		   uint64_t deadline_ms)
{
	struct timespec ts = { 0, 10 * 1000000 };
	struct stat st;

	for (;;) {
		blk_part_name(cfg->sysfs, sc->disk, sc->partno, sc->part);
		snprintf(sc->part_path, sizeof(sc->part_path), "%.120s/%.31s", cfg->devdir, sc->part);
		if (stat(sc->part_path, &st) == 0 && S_ISBLK(st.st_mode))
			return 0;
		if (blk_now_ms() >= deadline_ms)
			return blk_fail(c, BLK_WHY_NODE_TIMEOUT, -ETIMEDOUT, "%s did not appear",
					sc->part_path);
		nanosleep(&ts, NULL);
	}
}

static int open_rw(struct blk_ctx *c, const char *path, int excl, int *is_blk, uint64_t *bytes,
		   uint32_t *sector)
{
	struct stat st;
	int fd, rc, ro = 0;

	if (stat(path, &st) < 0)
		return blk_fail_io(c, -errno, "open", path);
	/* O_EXCL on a block device fails while anything has it mounted or claimed. */
	fd = open(path, O_RDWR | O_CLOEXEC | (excl && S_ISBLK(st.st_mode) ? O_EXCL : 0));
	if (fd < 0)
		return blk_fail_io(c, -errno, "open", path);
	rc = blk_fd_geometry(fd, bytes, sector, is_blk);
	if (rc == 0 && *is_blk && ioctl(fd, BLKROGET, &ro) == 0 && ro)
		rc = blk_fail(c, BLK_WHY_READ_ONLY, -EROFS, "%s", path);
	else if (rc < 0)
		rc = blk_fail_io(c, rc, "size of", path);
	if (rc < 0) {
		close(fd);
		return rc;
	}
	return fd;
}

/* see blk.h */
int blk_scratch_prepare(struct blk_ctx *c, const struct blk_cfg *cfg, struct blk_scratch *sc,
			uint64_t deadline_ms)
{
	struct blk_mkfs_opts o = { .now = cfg->now, .no_64bit = cfg->no_64bit };
	uint64_t cap = cfg->resize_rootfs ? 0 : BLK_NORESIZE_CAP, bytes, s2, l2;
	uint32_t sector;
	unsigned p2;
	int fd, rc, is_blk, blank = sc->kind == BLK_KIND_BLANK_DISK;
	int64_t blocks;

	if (sc->kind != BLK_KIND_BLANK_DISK && sc->kind != BLK_KIND_BOOT_FREE)
		return blk_fail(c, BLK_WHY_ARG, -EINVAL, "prepare: not a chosen disk");
	fd = open_rw(c, sc->disk_path, blank, &is_blk, &bytes, &sector);
	if (fd < 0)
		return fd;
	sc->disk_bytes = bytes;
	sc->sector = sector;
	/* Plan, make the file system, and only then write the table: an
	 * interrupted first boot leaves a disk that is still blank. */
	if (blank) {
		rc = blk_disk_check_blank(c, sc->disk, fd, bytes);
		if (rc == 0 && bytes < BLK_DISK_MIN)
			rc = blk_fail(c, BLK_WHY_TOO_SMALL, -ENOSPC, "%s: %llu bytes (at least %llu)",
				      sc->disk, (unsigned long long)bytes,
				      (unsigned long long)BLK_DISK_MIN);
		if (rc < 0)
			goto out;
		blk_gpt_plan(bytes, sector, cap, &sc->start, &sc->len);
		sc->partno = 1;
	} else {
		rc = blk_part_add(c, fd, bytes, sector, BLK_FREE_MIN, BLK_MARGIN, cap, 1, &sc->partno,
				  &sc->start, &sc->len);
		if (rc < 0)
			goto out;
	}
	blocks = blk_mkfs(c, fd, sc->start, sc->len & ~(uint64_t)(BLK_FS_BS - 1), &o);
	if (blocks < 0) {
		rc = (int)blocks;
		goto out;
	}
	if (fsync(fd) < 0) {
		rc = blk_fail_io(c, -errno, "fsync", sc->disk_path);
		goto out;
	}
	if (blank)
		rc = blk_gpt_create(c, fd, bytes, sector, cap, &s2, &l2);
	else
		rc = blk_part_add(c, fd, bytes, sector, BLK_FREE_MIN, BLK_MARGIN, cap, 0, &p2, &s2,
				  &l2);
	if (rc == 0 && (s2 != sc->start || l2 != sc->len))
		rc = blk_fail(c, BLK_WHY_TABLE, -EIO, "%s: table changed while formatting",
			      sc->disk);
	if (rc == 0 && fsync(fd) < 0)
		rc = blk_fail_io(c, -errno, "fsync", sc->disk_path);
	if (rc < 0 || !is_blk)
		goto out;
	rc = blk_part_kernel_add(c, fd, sc);
	if (rc == 0)
		rc = blk_part_await(c, cfg, sc, deadline_ms);
out:
	close(fd);
	return rc;
}

/* Block count of the ext4 on the partition node (shares the page cache of
 * the mounted file system's device, so it is current). */
static int fs_blocks(struct blk_ctx *c, const char *path, uint64_t *blocks)
{
	char label[17];
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc;

	if (fd < 0)
		return blk_fail_io(c, -errno, "open", path);
	rc = blk_ext4_probe(fd, 0, label, blocks);
	close(fd);
	if (rc == -ENOENT)
		return blk_fail(c, BLK_WHY_NOT_SCRATCH, rc, "%s holds no ext4", path);
	return rc < 0 ? blk_fail_io(c, rc, "read", path) : 0;
}

/* see blk.h */
int blk_scratch_grow(struct blk_ctx *c, const struct blk_cfg *cfg, struct blk_scratch *sc,
		     const char *mountpoint, uint64_t deadline_ms)
{
	uint64_t bytes, blocks, n, kbytes;
	uint32_t sector;
	int fd, mfd, rc = 0, is_blk, grew = 0;
	char path[BLK_PATH_MAX + 64];

	(void)deadline_ms;
	if (!cfg->resize_rootfs)
		return 0;
	fd = open_rw(c, sc->disk_path, 0, &is_blk, &bytes, &sector);
	if (fd < 0)
		return fd;
	sc->disk_bytes = bytes;
	if (sc->partno) {
		rc = blk_part_grow(c, fd, bytes, sector, sc->partno, &sc->start, &sc->len);
		if (rc > 0 && fsync(fd) < 0)
			rc = blk_fail_io(c, -errno, "fsync", sc->disk_path);
		grew = rc > 0;
		snprintf(path, sizeof(path), "%s/block/%s/%s/size", cfg->sysfs, sc->disk, sc->part);
		kbytes = 0;
		if (rc >= 0 && is_blk) {
			char buf[32];

			if (blk_sysfs_read(path, buf, sizeof(buf)) == 0)
				kbytes = strtoull(buf, NULL, 10) * 512;
			if (kbytes != sc->len &&
			    (rc = kernel_part(fd, BLKPG_RESIZE_PARTITION, sc->partno, sc->start,
					      sc->len)) < 0)
				rc = blk_fail(c, BLK_WHY_KERNEL, rc, "%s: BLKPG_RESIZE_PARTITION: %s",
					      sc->part, strerror(-rc));
		}
	} else {
		sc->len = bytes;
	}
	close(fd);
	if (rc < 0)
		return rc;
	rc = fs_blocks(c, sc->part_path, &blocks);
	if (rc < 0)
		return rc;
	n = sc->len / BLK_FS_BS;
	/* Less than 8 MiB more (a last group mkfs left out) is not worth a resize. */
	if (n < blocks + 2048)
		return grew;
	mfd = open(mountpoint, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (mfd < 0)
		return blk_fail_io(c, -errno, "open", mountpoint);
	if (ioctl(mfd, BLK_EXT4_IOC_RESIZE_FS, &n) < 0)
		rc = blk_fail(c, BLK_WHY_KERNEL, -errno, "EXT4_IOC_RESIZE_FS %s to %llu blocks: %s%s",
			      mountpoint, (unsigned long long)n, strerror(errno),
			      errno == EPERM ? " (needs CAP_SYS_RESOURCE)" : "");
	close(mfd);
	return rc < 0 ? rc : 1;
}
