/* SPDX-License-Identifier: MIT */
/* boot/tool-initramfs.c: `cvmboot mkinitramfs`, the initramfs's file list. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "boot/cpio.h"
#include "boot/tool.h"

static void *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)n + 1)) && fread(buf, 1, (size_t)n, f) == (size_t)n) {
		*len = (size_t)n;
	} else {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

static int usage(void)
{
	fprintf(stderr, "usage: cvmboot mkinitramfs --init FILE [--file SRC:DEST[:MODE]]... -o OUT\n"
			"  Writes an uncompressed newc archive; mtimes from SOURCE_DATE_EPOCH.\n");
	return 2;
}

static int add_file(struct boot_cpio *c, const char *src, const char *dest, mode_t perm)
{
	size_t len;
	void *data = slurp(src, &len);
	int rc;

	if (!data) {
		fprintf(stderr, "cvmboot mkinitramfs: cannot read %s: %s\n", src, strerror(errno));
		return -1;
	}
	rc = boot_cpio_add(c, dest, S_IFREG | perm, data, len, 0, 0);
	if (rc < 0) {
		fprintf(stderr, "cvmboot mkinitramfs: %s: %s\n", dest, strerror(-rc));
		return -1;
	}
	return 0;
}

/* see tool.h */
int boot_cli_mkinitramfs(int argc, char **argv)
{
	static struct boot_cpio_entry ents[BOOT_CPIO_MAX];
	static const char *const dirs[] = { "dev", "proc", "sys", "root", "run", "tmp", "etc" };
	struct boot_cpio c = { .ents = ents, .cap = BOOT_CPIO_MAX };
	const char *init = NULL, *out = NULL, *sde = getenv("SOURCE_DATE_EPOCH");
	FILE *f;
	size_t i;
	int a, rc;

	c.mtime = sde ? (uint32_t)strtoul(sde, NULL, 10) : 0;
	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		boot_cpio_add(&c, dirs[i], S_IFDIR | 0755, NULL, 0, 0, 0);
	/* The kernel opens /dev/console for init's stdio before any devtmpfs. */
	boot_cpio_add(&c, "dev/console", S_IFCHR | 0600, NULL, 0, 5, 1);
	for (a = 1; a < argc; a++) {
		if (strcmp(argv[a], "--init") == 0 && a + 1 < argc) {
			init = argv[++a];
		} else if (strcmp(argv[a], "-o") == 0 && a + 1 < argc) {
			out = argv[++a];
		} else if (strcmp(argv[a], "--file") == 0 && a + 1 < argc) {
			char *spec = argv[++a], *dest = strchr(spec, ':'), *mode;

			if (!dest)
				return usage();
			*dest++ = '\0';
			mode = strchr(dest, ':');
			if (mode)
				*mode++ = '\0';
			if (add_file(&c, spec, dest, mode ? (mode_t)strtoul(mode, NULL, 8) : 0644) < 0)
				return 1;
		} else {
			return usage();
		}
	}
	if (!init || !out)
		return usage();
	if (add_file(&c, init, "init", 0755) < 0)
		return 1;
	f = fopen(out, "wb");
	if (!f) {
		fprintf(stderr, "cvmboot mkinitramfs: cannot create %s: %s\n", out, strerror(errno));
		return 1;
	}
	rc = boot_cpio_write(&c, f);
	if (fclose(f) != 0 && rc == 0)
		rc = -errno;
	if (rc < 0) {
		fprintf(stderr, "cvmboot mkinitramfs: writing %s: %s\n", out, strerror(-rc));
		unlink(out);
		return 1;
	}
	return 0;
}
