/* SPDX-License-Identifier: MIT */
/* cvmfs-lite/resolve.c: repository paths to catalog rows: one path's row
 * across a nested catalog's mountpoint (FUSE lookups), whole paths with
 * symlinks followed (pins, prefetch), and variant symlinks ($(VAR)). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cvmfs-lite/internal.h"

/* see internal.h */
int cvmfs_resolve_entry(struct cvmfs_client *c, struct cvmfs_catalog **cat, const char *path,
			struct cvmfs_dirent *d)
{
	int rc = cvmfs_catalog_lookup(*cat, path, d);

	if (rc == 0 && (d->flags & CVMFS_FLAG_NESTED_MOUNTPOINT)) {
		cvmfs_dirent_fini(d);
		if ((rc = cvmfs_nested_get(c, *cat, path, cat)) == 0)
			rc = cvmfs_catalog_lookup(*cat, path, d);
	}
	return rc;
}

/* see internal.h */
void cvmfs_symlink_expand(const char *in, char *out, size_t len)
{
	size_t o = 0;

	if (len == 0)
		return;
	for (const char *p = in; *p && o + 1 < len;) {
		const char *end, *def;
		char name[256];
		size_t nl;
		const char *val;

		if (p[0] != '$' || p[1] != '(' || !(end = strchr(p + 2, ')'))) {
			out[o++] = *p++;
			continue;
		}
		def = strstr(p + 2, ":-");
		if (def && def > end)
			def = NULL;
		nl = (def ? def : end) - (p + 2);
		if (nl >= sizeof(name)) {
			out[o++] = *p++;
			continue;
		}
		memcpy(name, p + 2, nl);
		name[nl] = 0;
		val = getenv(name);
		if (val) {
			o += snprintf(out + o, len - o, "%s", val);
		} else if (def) {
			size_t dl = end - (def + 2);

			o += snprintf(out + o, len - o, "%.*s", (int)dl, def + 2);
		}
		if (o >= len)
			o = len - 1;
		p = end + 1;
	}
	out[o] = 0;
}

/* see internal.h */
int cvmfs_resolve(struct cvmfs_client *c, const char *path, bool follow, struct cvmfs_dirent *d,
		  struct cvmfs_catalog **catp)
{
	char *cur = malloc(PATH_MAX), *rest = malloc(PATH_MAX), *tmp = malloc(PATH_MAX);
	struct cvmfs_catalog *cat = c->root;
	int rc = 0, links = 0;

	if (!cur || !rest || !tmp) {
		rc = -ENOMEM;
		goto out;
	}
	cur[0] = 0;
	snprintf(rest, PATH_MAX, "%s", path);
	rc = cvmfs_catalog_lookup(cat, "", d);
	while (rc == 0) {
		char *p = rest, *comp;
		size_t n;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		n = strcspn(p, "/");
		comp = p;
		if (n == 1 && comp[0] == '.') {
			memmove(rest, p + n, strlen(p + n) + 1);
			continue;
		}
		cvmfs_dirent_fini(d);
		if (n == 2 && comp[0] == '.' && comp[1] == '.') {
			char *slash = strrchr(cur, '/');

			if (slash)
				*slash = 0;
			memmove(rest, p + n, strlen(p + n) + 1);
			cat = c->root;	/* walk down again: simplest correct answer */
			snprintf(tmp, PATH_MAX, "%s%s", cur, rest);
			snprintf(rest, PATH_MAX, "%s", tmp);
			cur[0] = 0;
			rc = cvmfs_catalog_lookup(cat, "", d);
			continue;
		}
		if (strlen(cur) + 1 + n >= PATH_MAX) {
			rc = -ENAMETOOLONG;
			break;
		}
		{
			size_t cl = strlen(cur);

			cur[cl] = '/';
			memcpy(cur + cl + 1, comp, n);
			cur[cl + 1 + n] = 0;
		}
		memmove(rest, p + n, strlen(p + n) + 1);
		rc = cvmfs_resolve_entry(c, &cat, cur, d);
		if (rc == 0 && S_ISLNK(d->mode) && (follow || rest[strspn(rest, "/")])) {
			char *slash;

			if (++links > 16) {
				rc = -ELOOP;
				break;
			}
			cvmfs_symlink_expand(d->symlink, tmp, PATH_MAX);
			slash = strrchr(cur, '/');
			*slash = 0;
			if (tmp[0] == '/') {
				cur[0] = 0;	/* absolute: from the repository root */
			}
			{
				char *t2 = malloc(PATH_MAX);

				if (!t2) {
					rc = -ENOMEM;
					break;
				}
				snprintf(t2, PATH_MAX, "%s%s/%s", cur, tmp[0] == '/' ? "" : "", tmp);
				snprintf(tmp, PATH_MAX, "%s%s", t2, rest);
				free(t2);
			}
			snprintf(rest, PATH_MAX, "%s", tmp);
			cur[0] = 0;
			cat = c->root;
			cvmfs_dirent_fini(d);
			rc = cvmfs_catalog_lookup(cat, "", d);
		}
	}
	if (rc == 0)
		*catp = cat;
out:
	free(cur);
	free(rest);
	free(tmp);
	return rc;
}
