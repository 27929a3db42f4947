/* SPDX-License-Identifier: MIT */
/* blk/util.c: sticky reasons, exact I/O, randomness, clock and device geometry. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <linux/fs.h>

#include "blk/internal.h"

/* see blk.h */
const char *blk_why_str(enum blk_why why)
{
	switch (why) {
	case BLK_WHY_NONE: return "no error";
	case BLK_WHY_NO_DISK: return "no disk for the scratch file system";
	case BLK_WHY_NOT_BLANK: return "disk not blank (holds data we did not write)";
	case BLK_WHY_TOO_SMALL: return "too small";
	case BLK_WHY_TOO_BIG: return "too big";
	case BLK_WHY_READ_ONLY: return "device is read-only";
	case BLK_WHY_GPT_CORRUPT: return "GPT corrupt (both copies fail their CRC)";
	case BLK_WHY_TABLE: return "partition table unusable";
	case BLK_WHY_IO: return "I/O error";
	case BLK_WHY_VANISHED: return "device vanished";
	case BLK_WHY_NODE_TIMEOUT: return "partition device node did not appear";
	case BLK_WHY_KERNEL: return "kernel refused";
	case BLK_WHY_NOT_SCRATCH: return "not a cvmboot scratch file system";
	case BLK_WHY_SYSFS: return "cannot read sysfs";
	case BLK_WHY_ARG: return "bad argument";
	}
	return "unknown reason";
}

/* see blk.h */
const char *blk_ctx_str(const struct blk_ctx *c, char *buf, size_t len)
{
	if (c->what[0])
		snprintf(buf, len, "%s: %s", blk_why_str(c->why), c->what);
	else
		snprintf(buf, len, "%s", blk_why_str(c->why));
	return buf;
}

/* see internal.h */
int blk_fail(struct blk_ctx *c, enum blk_why why, int err, const char *fmt, ...)
{
	va_list ap;

	if (!c || c->why != BLK_WHY_NONE)
		return err;
	c->why = why;
	va_start(ap, fmt);
	vsnprintf(c->what, sizeof(c->what), fmt, ap);
	va_end(ap);
	return err;
}

/* see internal.h */
int blk_fail_io(struct blk_ctx *c, int err, const char *action, const char *name)
{
	enum blk_why why = BLK_WHY_IO;

	if (err == -ENODEV || err == -ENXIO || err == -ENOENT || err == -ENOMEDIUM)
		why = BLK_WHY_VANISHED;
	else if (err == -EROFS || err == -EACCES || err == -EPERM)
		why = BLK_WHY_READ_ONLY;
	return blk_fail(c, why, err, "%s %s: %s", action, name, strerror(-err));
}

/* see internal.h */
int blk_pread(int fd, void *buf, size_t len, uint64_t off)
{
	unsigned char *p = buf;
	ssize_t n;

	while (len) {
		n = pread(fd, p, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/* see internal.h */
int blk_pwrite(int fd, const void *buf, size_t len, uint64_t off)
{
	const unsigned char *p = buf;
	ssize_t n;

	while (len) {
		n = pwrite(fd, p, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

#ifndef GRND_INSECURE
#define GRND_INSECURE 0x0004
#endif

/* see internal.h: UUIDs and hash seeds need uniqueness, not secrecy, and early
 * in boot getrandom(0) blocks until the pool is seeded (about 1 s on a 6.1
 * kernel under TCG). GRND_INSECURE (Linux 5.6) never blocks; older kernels
 * reject it with EINVAL and get the blocking call. */
int blk_random(unsigned char *buf, size_t len)
{
	unsigned flags = GRND_INSECURE;
	ssize_t n;

	while (len) {
		n = getrandom(buf, len, flags);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EINVAL && flags) {
			flags = 0;
			continue;
		}
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* see internal.h */
uint64_t blk_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* see internal.h */
int blk_fd_geometry(int fd, uint64_t *bytes, uint32_t *sector, int *is_blk)
{
	struct stat st;
	int ssz;

	if (fstat(fd, &st) < 0)
		return -errno;
	*is_blk = S_ISBLK(st.st_mode);
	if (!*is_blk) {
		if (!S_ISREG(st.st_mode))
			return -ENOTBLK;
		*bytes = (uint64_t)st.st_size;
		*sector = 512;
		return 0;
	}
	if (ioctl(fd, BLKGETSIZE64, bytes) < 0 || ioctl(fd, BLKSSZGET, &ssz) < 0)
		return -errno;
	if (ssz < 512 || ssz > 4096 || (ssz & (ssz - 1)))
		return -EINVAL;
	*sector = (uint32_t)ssz;
	return 0;
}
