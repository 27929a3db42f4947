/* SPDX-License-Identifier: MIT */
/* boot/cpio.h: a reproducible newc cpio writer for the initramfs (host only). */
#ifndef BOOT_CPIO_H
#define BOOT_CPIO_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define BOOT_CPIO_MAX 4096	/* entries per archive */

/* One member. data is owned by the caller and must outlive boot_cpio_write. */
struct boot_cpio_entry {
	char name[256];		/* archive path without leading "/" */
	mode_t mode;		/* type and permission bits */
	unsigned rmajor, rminor;	/* for device nodes */
	const void *data;	/* file contents or symlink target */
	size_t size;
};

/* Caller-allocated archive under construction. */
struct boot_cpio {
	struct boot_cpio_entry *ents;
	size_t n, cap;
	uint32_t mtime;		/* SOURCE_DATE_EPOCH for every member */
};

/* Appends a member; the name is copied. Returns 0, -ENAMETOOLONG, -ENOSPC
 * (cap reached) or -EEXIST (the same path twice). */
int boot_cpio_add(struct boot_cpio *c, const char *name, mode_t mode, const void *data,
		  size_t size, unsigned rmajor, unsigned rminor);

/* Sorts members by path (parents before children), numbers inodes in that
 * order, and writes newc records plus the trailer. Owner 0, one mtime: the
 * same members always give the same bytes. Returns 0 or -errno from out. */
int boot_cpio_write(struct boot_cpio *c, FILE *out);

#endif
