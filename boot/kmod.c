/* SPDX-License-Identifier: MIT */
/* boot/kmod.c: coldplug from modalias against modules.alias/modules.dep. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "boot/boot.h"
#include "boot/kmod.h"

#define KMOD_NAME_MAX 64
#define KMOD_DEPTH_MAX 8

static int map_file(const char *dir, const char *name, const char **p, size_t *len)
{
	char path[192];
	struct stat st;
	int fd;
	void *m;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return -errno;
	}
	*len = (size_t)st.st_size;
	m = st.st_size ? mmap(NULL, *len, PROT_READ, MAP_PRIVATE, fd, 0) : (void *)"";
	close(fd);
	if (m == MAP_FAILED)
		return -errno;
	*p = m;
	return 0;
}

/* see kmod.h */
int boot_kmod_open(struct boot_kmod *k, const char *dir)
{
	int rc;

	memset(k, 0, sizeof(*k));
	snprintf(k->dir, sizeof(k->dir), "%s", dir);
	rc = map_file(dir, "modules.dep", &k->dep, &k->dep_len);
	if (rc == 0)
		rc = map_file(dir, "modules.alias", &k->alias, &k->alias_len);
	if (rc < 0)
		boot_kmod_close(k);
	return rc;
}

/* see kmod.h */
void boot_kmod_close(struct boot_kmod *k)
{
	if (k->dep && k->dep_len)
		munmap((void *)k->dep, k->dep_len);
	if (k->alias && k->alias_len)
		munmap((void *)k->alias, k->alias_len);
	k->dep = k->alias = NULL;
}

/* Module names: '-' and '_' are interchangeable (the kernel stores '_'). */
static void norm(char *dst, const char *src, size_t n)
{
	size_t i;

	for (i = 0; i < n && src[i]; i++)
		dst[i] = src[i] == '-' ? '_' : src[i];
	dst[i] = '\0';
}

/* Normalised module name of a modules.dep path "kernel/x/y-z.ko". */
static void path_name(char *dst, const char *path, size_t len)
{
	const char *b = path + len;

	while (b > path && b[-1] != '/')
		b--;
	len -= (size_t)(b - path);
	if (len > 3 && memcmp(b + len - 3, ".ko", 3) == 0)
		len -= 3;
	norm(dst, b, len < KMOD_NAME_MAX ? len : KMOD_NAME_MAX - 1);
}

static int is_loaded(const char *name)
{
	char path[96];

	snprintf(path, sizeof(path), "/sys/module/%s", name);
	return access(path, F_OK) == 0;
}

static int insert(const struct boot_kmod *k, const char *relpath, size_t len)
{
	char path[256];
	int fd, rc = 0;

	snprintf(path, sizeof(path), "%s/%.*s", k->dir, (int)len, relpath);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (syscall(SYS_finit_module, fd, "", 0) < 0 && errno != EEXIST)
		rc = -errno;
	close(fd);
	return rc;
}

static int load_depth(const struct boot_kmod *k, const char *name, int depth)
{
	const char *p = k->dep, *end = k->dep + k->dep_len;
	char want[KMOD_NAME_MAX], have[KMOD_NAME_MAX];

	if (depth > KMOD_DEPTH_MAX)
		return -ELOOP;
	norm(want, name, KMOD_NAME_MAX - 1);
	if (is_loaded(want))
		return 0;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *colon = memchr(p, ':', (size_t)((nl ? nl : end) - p));
		const char *q, *eol = nl ? nl : end;
		int rc;

		if (!colon) {
			p = eol + 1;
			continue;
		}
		path_name(have, p, (size_t)(colon - p));
		if (strcmp(have, want) != 0) {
			p = eol + 1;
			continue;
		}
		/* Dependencies first; each has its own line. */
		for (q = colon + 1; q < eol;) {
			const char *s;
			char dep[KMOD_NAME_MAX];

			while (q < eol && *q == ' ')
				q++;
			for (s = q; q < eol && *q != ' '; q++)
				;
			if (q == s)
				break;
			path_name(dep, s, (size_t)(q - s));
			if ((rc = load_depth(k, dep, depth + 1)) < 0)
				return rc;
		}
		if ((rc = insert(k, p, (size_t)(colon - p))) < 0)
			return rc;
		return 1;
	}
	return -ENOENT;
}

/* see kmod.h */
int boot_kmod_load(const struct boot_kmod *k, const char *name)
{
	return load_depth(k, name, 0);
}

/* Loads every module whose alias pattern matches modalias. */
static void match_alias(const struct boot_kmod *k, const char *modalias,
			struct boot_kmod_stats *st)
{
	const char *p = k->alias, *end = k->alias + k->alias_len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end, *pat, *mod;
		char pattern[256], name[KMOD_NAME_MAX];
		size_t plen, lit;
		int rc;

		if ((size_t)(eol - p) < 8 || memcmp(p, "alias ", 6) != 0)
			goto next;
		pat = p + 6;
		mod = memchr(pat, ' ', (size_t)(eol - pat));
		if (!mod || (plen = (size_t)(mod - pat)) >= sizeof(pattern))
			goto next;
		/* The literal head of the pattern ("virtio:d00000001v", "pci:v00008086")
		 * rules out almost every line without fnmatch, which costs under
		 * emulation: devices x aliases calls per pass. */
		for (lit = 0; lit < plen && !strchr("*?[\\", pat[lit]); lit++)
			if (pat[lit] != modalias[lit])
				goto next;
		memcpy(pattern, pat, plen);
		pattern[plen] = '\0';
		if (fnmatch(pattern, modalias, 0) != 0)
			goto next;
		mod++;
		norm(name, mod, (size_t)(eol - mod) < KMOD_NAME_MAX ? (size_t)(eol - mod)
								  : KMOD_NAME_MAX - 1);
		rc = boot_kmod_load(k, name);
		if (rc > 0)
			st->loaded++;
		else if (rc < 0)
			st->failed++;
next:
		p = eol + 1;
	}
}

static unsigned pass(const struct boot_kmod *k, struct boot_kmod_stats *st)
{
	unsigned before = st->loaded;
	DIR *bus = opendir("/sys/bus");
	struct dirent *b;

	st->devices = 0;
	if (!bus)
		return 0;
	while ((b = readdir(bus))) {
		char path[600];
		DIR *devs;
		struct dirent *d;

		if (b->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/sys/bus/%s/devices", b->d_name);
		if (!(devs = opendir(path)))
			continue;
		while ((d = readdir(devs))) {
			char ma[256];
			ssize_t n;
			int fd;

			if (d->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "/sys/bus/%s/devices/%s/modalias", b->d_name,
				 d->d_name);
			if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
				continue;
			n = read(fd, ma, sizeof(ma) - 1);
			close(fd);
			if (n <= 0)
				continue;
			ma[n] = '\0';
			ma[strcspn(ma, "\n")] = '\0';
			st->devices++;
			/* A device a driver took already needs no module. */
			snprintf(path, sizeof(path), "/sys/bus/%s/devices/%s/driver", b->d_name,
				 d->d_name);
			if (access(path, F_OK) == 0)
				continue;
			match_alias(k, ma, st);
		}
		closedir(devs);
	}
	closedir(bus);
	return st->loaded - before;
}

/* see kmod.h */
int boot_kmod_coldplug(const struct boot_kmod *k, uint64_t deadline_ms,
		       struct boot_kmod_stats *st)
{
	struct timespec settle = { 0, 20 * 1000000 };

	memset(st, 0, sizeof(*st));
	for (;;) {
		st->passes++;
		if (pass(k, st) == 0)
			return 0;
		if (boot_now_ms() >= deadline_ms)
			return -ETIMEDOUT;
		/* A bus driver just bound: give its children a moment to appear. */
		nanosleep(&settle, NULL);
	}
}
