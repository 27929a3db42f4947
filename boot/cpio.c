/* SPDX-License-Identifier: MIT */
/* boot/cpio.c: newc ("070701") writer, as the kernel's initramfs unpacker
 * reads it (Documentation/driver-api/early-userspace/buffer-format.rst). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "boot/cpio.h"

/* see cpio.h */
int boot_cpio_add(struct boot_cpio *c, const char *name, mode_t mode, const void *data,
		  size_t size, unsigned rmajor, unsigned rminor)
{
	struct boot_cpio_entry *e;
	size_t i;

	while (*name == '/')
		name++;
	if (strlen(name) >= sizeof(e->name) || !*name)
		return -ENAMETOOLONG;
	for (i = 0; i < c->n; i++)
		if (strcmp(c->ents[i].name, name) == 0)
			return -EEXIST;
	if (c->n == c->cap)
		return -ENOSPC;
	e = &c->ents[c->n++];
	memset(e, 0, sizeof(*e));
	strcpy(e->name, name);
	e->mode = mode;
	e->data = data;
	e->size = S_ISREG(mode) || S_ISLNK(mode) ? size : 0;
	e->rmajor = rmajor;
	e->rminor = rminor;
	return 0;
}

static int ent_cmp(const void *a, const void *b)
{
	return strcmp(((const struct boot_cpio_entry *)a)->name,
		      ((const struct boot_cpio_entry *)b)->name);
}

static void put_pad(FILE *out, size_t len)
{
	static const char zero[4];

	fwrite(zero, 1, (4 - (len & 3)) & 3, out);
}

static void put_hdr(FILE *out, uint32_t ino, const struct boot_cpio_entry *e,
		    const char *name, uint32_t mtime)
{
	size_t namesz = strlen(name) + 1;

	fprintf(out, "070701%08X%08X%08X%08X%08X%08X%08zX%08X%08X%08X%08X%08zX%08X",
		ino, (unsigned)e->mode, 0u, 0u, S_ISDIR(e->mode) ? 2u : 1u, mtime, e->size,
		0u, 0u, e->rmajor, e->rminor, namesz, 0u);
	fwrite(name, 1, namesz, out);
	put_pad(out, 110 + namesz);
}

/* see cpio.h */
int boot_cpio_write(struct boot_cpio *c, FILE *out)
{
	static const struct boot_cpio_entry trailer;
	size_t i;

	qsort(c->ents, c->n, sizeof(c->ents[0]), ent_cmp);
	for (i = 0; i < c->n; i++) {
		const struct boot_cpio_entry *e = &c->ents[i];

		put_hdr(out, (uint32_t)(i + 1), e, e->name, c->mtime);
		if (e->size) {
			fwrite(e->data, 1, e->size, out);
			put_pad(out, e->size);
		}
	}
	put_hdr(out, 0, &trailer, "TRAILER!!!", 0);
	if (fflush(out) == EOF || ferror(out))
		return -(errno ? errno : EIO);
	return 0;
}
