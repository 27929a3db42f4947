/* SPDX-License-Identifier: MIT */
/* blk/layout.c: the scratch file system's directories and its spacer file. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blk/internal.h"

/* DESIGN.md 5, the names μCernVM uses. */
static const char *const dirs[] = { "persistent", "work", "cache", "aux", "context", "ulogs",
				    "kexec", "aux/safety" };

/* 50 MiB of allocated blocks: deleting it frees room to recover from a full
 * disk. fallocate reserves them without writing; plain zeros where the file
 * system cannot. 0 made now, 1 there already, else -errno (reported). */
static int spacer(struct blk_ctx *c, int dfd)
{
	static const unsigned char zero[4096];
	struct stat st;
	uint64_t off;
	int fd, rc = 0;

	fd = openat(dfd, BLK_SPACER_PATH, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return blk_fail_io(c, -errno, "create", BLK_SPACER_PATH);
	if (fstat(fd, &st) == 0 && (uint64_t)st.st_size == BLK_SPACER_BYTES &&
	    (uint64_t)st.st_blocks * 512 >= BLK_SPACER_BYTES) {
		rc = 1;		/* there from an earlier boot: nothing to flush */
		goto out;
	}
	if (fallocate(fd, 0, 0, (off_t)BLK_SPACER_BYTES) < 0) {
		rc = -errno;
		if (rc == -EOPNOTSUPP) {
			for (rc = 0, off = 0; rc == 0 && off < BLK_SPACER_BYTES; off += sizeof(zero))
				rc = blk_pwrite(fd, zero, sizeof(zero), off);
		}
	}
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (rc < 0) {
		unlinkat(dfd, BLK_SPACER_PATH, 0);
		rc = rc == -ENOSPC ? blk_fail(c, BLK_WHY_TOO_SMALL, rc, "no room for the 50 MiB "
					      "spacer " BLK_SPACER_PATH)
				   : blk_fail_io(c, rc, "allocate", BLK_SPACER_PATH);
	}
out:
	close(fd);
	return rc;
}

/* see blk.h */
int blk_layout_make(struct blk_ctx *c, const char *mountpoint)
{
	size_t i;
	int dfd = open(mountpoint, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;
	bool made = false;

	if (dfd < 0)
		return blk_fail_io(c, -errno, "open", mountpoint);
	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]) && rc == 0; i++)
		if (mkdirat(dfd, dirs[i], 0755) == 0)
			made = true;
		else if (errno != EEXIST)
			rc = blk_fail_io(c, -errno, "mkdir", dirs[i]);
	if (rc == 0 && (rc = spacer(c, dfd)) == 1)
		rc = 0;		/* kept */
	else if (rc == 0)
		made = true;
	/* A warm boot finds it all: no flush of the disk on the boot's path. */
	if (rc == 0 && made && fsync(dfd) < 0)
		rc = blk_fail_io(c, -errno, "fsync", mountpoint);
	close(dfd);
	return rc;
}
