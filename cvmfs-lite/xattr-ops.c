/* SPDX-License-Identifier: MIT */
/* cvmfs-lite/xattr-ops.c: extended attributes of the mounted tree: the ones
 * stored in the catalog (spec §4.6) and the magic ones μCernVM reads (§10). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cvmfs-lite/internal.h"

static ssize_t put(void *buf, size_t len, const void *v, size_t n)
{
	if (len == 0)
		return (ssize_t)n;
	if (n > len)
		return -ERANGE;
	memcpy(buf, v, n);
	return (ssize_t)n;
}

static ssize_t chunk_list(struct cvmfs_client *c, struct cvmfs_catalog *cat, const char *path,
			  const struct cvmfs_dirent *d, void *buf, size_t len)
{
	struct cvmfs_chunk *ch = NULL, one;
	size_t n = 0, cap, o;
	char *text, hex[CVMFS_HASH_HEX_MAX];
	ssize_t rc;

	if (d->flags & CVMFS_FLAG_CHUNKED) {
		if ((rc = cvmfs_catalog_chunks(cat, path, CVMFS_FLAG_ALGO(d->flags), &ch, &n)) < 0)
			return rc;
	} else if (d->has_hash) {
		one.off = 0;
		one.size = d->size;
		one.hash = d->hash;
		n = 1;
	}
	cap = 32 + n * (CVMFS_HASH_HEX_MAX + 44);
	text = malloc(cap);
	if (!text) {
		free(ch);
		return -ENOMEM;
	}
	o = snprintf(text, cap, "hash,offset,size\n");
	for (size_t i = 0; i < n; i++) {
		const struct cvmfs_chunk *k = ch ? &ch[i] : &one;

		cvmfs_hash_fmt(&k->hash, hex, sizeof(hex));
		o += snprintf(text + o, cap - o, "%s,%llu,%llu\n", hex, (unsigned long long)k->off,
			      (unsigned long long)k->size);
	}
	rc = put(buf, len, text, o);
	free(text);
	free(ch);
	return rc;
}

/* see internal.h */
ssize_t cvmfs_op_getxattr(void *ctx, uint64_t ino, const char *name, void *buf, size_t len)
{
	struct cvmfs_client *c = ctx;
	struct cvmfs_dirent *d;
	char *path, *t;
	struct cvmfs_catalog *cat;
	const unsigned char *v;
	size_t vlen;
	ssize_t rc = -ENOMEM;

	/* Every magic name is "user.*"; any other name of an entry without
	 * stored attributes (security.capability at each exec, overlayfs'
	 * trusted.overlay.* at each lookup) is answered without its row,
	 * before anything is allocated. */
	if (strncmp(name, "user.", 5) != 0 && cvmfs_ino_no_xattr(c, ino))
		return -ENODATA;
	d = malloc(sizeof(*d));
	path = malloc(PATH_MAX);
	t = malloc(PATH_MAX);
	if (!d || !path || !t || (rc = cvmfs_ino_row(c, ino, d, &cat, path)) < 0)
		goto out;
	/* Magic attributes first: they shadow stored ones (spec §10). */
	if (strcmp(name, "user.root_hash") == 0) {
		rc = put(buf, len, c->info.root_hash, strlen(c->info.root_hash));
	} else if (strcmp(name, "user.revision") == 0) {
		rc = put(buf, len, t, snprintf(t, PATH_MAX, "%llu", (unsigned long long)c->info.revision));
	} else if (strcmp(name, "user.fqrn") == 0) {
		rc = put(buf, len, c->cfg.fqrn, strlen(c->cfg.fqrn));
	} else if (strcmp(name, "user.host") == 0 || strcmp(name, "user.proxy") == 0) {
		char host[NET_HTTP_URL_MAX], proxy[NET_HTTP_URL_MAX];

		cvmfs_fetch_current(&c->fetch, host, sizeof(host), proxy, sizeof(proxy));
		rc = name[5] == 'h' ? put(buf, len, host, strlen(host)) : put(buf, len, proxy, strlen(proxy));
	} else if (strcmp(name, "user.tag") == 0) {
		rc = put(buf, len, c->info.tag, strlen(c->info.tag));
	} else if (strcmp(name, "user.fuse_stats") == 0) {
		struct cvmfs_fuse_stats st;

		cvmfs_fuse_stats(&c->fuse, &st);
		rc = put(buf, len, t, snprintf(t, PATH_MAX, "passthrough=%d opens=%llu "
			 "passthrough_opens=%llu kept_backing_opens=%llu daemon_reads=%llu "
			 "passthrough_error=%d", st.passthrough, (unsigned long long)st.opens,
			 (unsigned long long)st.pt_opens, (unsigned long long)st.pt_kept,
			 (unsigned long long)st.reads, -st.pt_error));
	} else if (strcmp(name, "user.pubkeys") == 0) {
		rc = put(buf, len, c->pubkeys_text, strlen(c->pubkeys_text));
	} else if (strcmp(name, "user.hash") == 0 && d->has_hash) {
		rc = put(buf, len, t, cvmfs_hash_fmt(&d->hash, t, PATH_MAX));
	} else if (strcmp(name, "user.chunk_list") == 0 && S_ISREG(d->mode)) {
		rc = chunk_list(c, cat, path, d, buf, len);
	} else if (strcmp(name, "user.rawlink") == 0 && S_ISLNK(d->mode)) {
		rc = put(buf, len, d->symlink, strlen(d->symlink));
	} else if (d->xattr && cvmfs_xattr_find(d->xattr, d->xattr_len, name, &v, &vlen) == 0) {
		rc = put(buf, len, v, vlen);
	} else {
		rc = -ENODATA;
	}
	cvmfs_dirent_fini(d);
out:
	free(d);
	free(path);
	free(t);
	return rc;
}

/* see internal.h */
ssize_t cvmfs_op_listxattr(void *ctx, uint64_t ino, char *buf, size_t len)
{
	struct cvmfs_client *c = ctx;
	struct cvmfs_dirent *d = malloc(sizeof(*d));
	char *path = malloc(PATH_MAX);
	struct cvmfs_xattr *x = malloc(CVMFS_XATTR_NUM_MAX * sizeof(*x));
	struct cvmfs_catalog *cat;
	ssize_t rc = -ENOMEM, n;
	size_t o = 0;

	if (!d || !path || !x || (rc = cvmfs_ino_row(c, ino, d, &cat, path)) < 0)
		goto out;
	/* Only stored attributes are listed (magic ones hidden, as μCernVM's
	 * CVMFS_HIDE_MAGIC_XATTRS=yes); they are still readable by name. */
	rc = 0;
	if (d->xattr) {
		n = cvmfs_xattr_decode(d->xattr, d->xattr_len, x, CVMFS_XATTR_NUM_MAX, NULL);
		for (ssize_t i = 0; i < n; i++) {
			if (len && o + x[i].klen + 1 > len) {
				rc = -ERANGE;
				break;
			}
			if (len) {
				memcpy(buf + o, x[i].key, x[i].klen);
				buf[o + x[i].klen] = 0;
			}
			o += x[i].klen + 1;
		}
		if (n < 0)
			rc = -EIO;
	}
	if (rc == 0)
		rc = (ssize_t)o;
	cvmfs_dirent_fini(d);
out:
	free(d);
	free(path);
	free(x);
	return rc;
}

