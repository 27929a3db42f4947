/* SPDX-License-Identifier: MIT */
/* boot/tool-initramfs.c: `cvmboot mkinitramfs`, the initramfs's file list. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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
	fprintf(stderr, "usage: cvmboot mkinitramfs [--init FILE] [--file SRC:DEST[:MODE]]...\n"
			"                           [--tree DIR]... [--modules-only] -o OUT\n"
			"  Writes an uncompressed newc archive; mtimes from SOURCE_DATE_EPOCH.\n"
			"  --tree adds DIR's files and directories under the same relative paths;\n"
			"  --modules-only leaves out /init and the base directories (an archive\n"
			"  to append to the core one).\n");
	return 2;
}

/* The kernel's unpacker does not create missing parents: add them. */
static void add_parents(struct boot_cpio *c, const char *dest)
{
	char dir[256];
	const char *p;

	for (p = strchr(dest, '/'); p; p = strchr(p + 1, '/')) {
		if ((size_t)(p - dest) >= sizeof(dir) || p == dest)
			continue;
		memcpy(dir, dest, (size_t)(p - dest));
		dir[p - dest] = '\0';
		boot_cpio_add(c, dir, S_IFDIR | 0755, NULL, 0, 0, 0);	/* -EEXIST is fine */
	}
}

static int add_file(struct boot_cpio *c, const char *src, const char *dest, mode_t perm)
{
	size_t len;
	void *data = slurp(src, &len);
	int rc;

	add_parents(c, dest);
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

/* Adds everything below root/rel (regular files, dirs, symlinks), with the
 * permission bits it has; owners and times are normalised by the writer. */
static int add_tree(struct boot_cpio *c, const char *root, const char *rel)
{
	char path[512], sub[512];
	struct dirent *d;
	struct stat st;
	DIR *dir;
	int rc = 0;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	if (!(dir = opendir(path))) {
		fprintf(stderr, "cvmboot mkinitramfs: cannot open %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (rc == 0 && (d = readdir(dir))) {
		if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0)
			continue;
		snprintf(sub, sizeof(sub), "%s%s%s", rel, *rel ? "/" : "", d->d_name);
		snprintf(path, sizeof(path), "%s/%s", root, sub);
		if (lstat(path, &st) < 0) {
			rc = -1;
		} else if (S_ISDIR(st.st_mode)) {
			if (boot_cpio_add(c, sub, S_IFDIR | 0755, NULL, 0, 0, 0) == -ENOSPC)
				rc = -1;
			else
				rc = add_tree(c, root, sub);
		} else if (S_ISREG(st.st_mode)) {
			rc = add_file(c, path, sub, st.st_mode & 0111 ? 0755 : 0644);
		} else if (S_ISLNK(st.st_mode)) {
			char *target = malloc(PATH_MAX);
			ssize_t n = target ? readlink(path, target, PATH_MAX - 1) : -1;

			rc = n < 0 ? -1 : boot_cpio_add(c, sub, S_IFLNK | 0777, target, (size_t)n, 0, 0);
		}
	}
	closedir(dir);
	return rc;
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
	int a, rc, modules_only = 0;

	c.mtime = sde ? (uint32_t)strtoul(sde, NULL, 10) : 0;
	for (a = 1; a < argc; a++)
		modules_only |= strcmp(argv[a], "--modules-only") == 0;
	for (i = 0; !modules_only && i < sizeof(dirs) / sizeof(dirs[0]); i++)
		boot_cpio_add(&c, dirs[i], S_IFDIR | 0755, NULL, 0, 0, 0);
	/* The kernel opens /dev/console for init's stdio before any devtmpfs. */
	if (!modules_only)
		boot_cpio_add(&c, "dev/console", S_IFCHR | 0600, NULL, 0, 5, 1);
	for (a = 1; a < argc; a++) {
		if (strcmp(argv[a], "--init") == 0 && a + 1 < argc) {
			init = argv[++a];
		} else if (strcmp(argv[a], "-o") == 0 && a + 1 < argc) {
			out = argv[++a];
		} else if (strcmp(argv[a], "--modules-only") == 0) {
			continue;
		} else if (strcmp(argv[a], "--tree") == 0 && a + 1 < argc) {
			if (add_tree(&c, argv[++a], "") < 0)
				return 1;
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
	if ((!init && !modules_only) || !out)
		return usage();
	if (init && add_file(&c, init, "init", 0755) < 0)
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
