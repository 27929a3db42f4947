/* SPDX-License-Identifier: MIT */
/* cvmfs-lite/xattr.c: the version 1 extended-attribute blob of catalog rows (spec §4.6). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cvmfs-lite/format.h"

/* Upstream keeps the attributes in a std::map<std::string,...>: bytewise
 * order, a prefix sorts first. */
static int key_cmp(const void *a, const void *b)
{
	const struct cvmfs_xattr *x = a, *y = b;
	size_t n = x->klen < y->klen ? x->klen : y->klen;
	int c = memcmp(x->key, y->key, n);

	if (c)
		return c;
	return (x->klen > y->klen) - (x->klen < y->klen);
}

/* see format.h */
ssize_t cvmfs_xattr_encode(struct cvmfs_xattr *x, size_t n, unsigned char *buf, size_t cap)
{
	size_t i, off = 2;

	if (n == 0)
		return 0;
	if (n > CVMFS_XATTR_NUM_MAX)
		return -E2BIG;
	for (i = 0; i < n; i++) {
		if (x[i].klen == 0 || memchr(x[i].key, '\0', x[i].klen))
			return -EINVAL;
		if (x[i].klen > CVMFS_XATTR_KEY_MAX || x[i].vlen > CVMFS_XATTR_VAL_MAX)
			return -E2BIG;
	}
	qsort(x, n, sizeof(*x), key_cmp);
	for (i = 1; i < n; i++)
		if (key_cmp(&x[i - 1], &x[i]) == 0)
			return -EINVAL;
	if (cap < 2)
		return -ENOSPC;
	buf[0] = CVMFS_XATTR_VERSION;
	buf[1] = (unsigned char)n;
	for (i = 0; i < n; i++) {
		if (cap - off < 2 + x[i].klen + x[i].vlen)
			return -ENOSPC;
		buf[off++] = (unsigned char)x[i].klen;
		buf[off++] = (unsigned char)x[i].vlen;
		memcpy(buf + off, x[i].key, x[i].klen);
		off += x[i].klen;
		if (x[i].vlen)
			memcpy(buf + off, x[i].val, x[i].vlen);
		off += x[i].vlen;
	}
	return (ssize_t)off;
}

static ssize_t decode_one(const unsigned char *blob, size_t len, size_t *off,
				      struct cvmfs_xattr *x)
{
	size_t kl, vl, o = *off;

	if (len - o < 2)
		return -EBADMSG;
	kl = blob[o];
	vl = blob[o + 1];
	o += 2;
	if (kl == 0 || len - o < kl + vl)
		return -EBADMSG;
	x->key = (const char *)blob + o;
	x->klen = kl;
	x->val = blob + o + kl;
	x->vlen = vl;
	*off = o + kl + vl;
	return 0;
}

/* see format.h */
ssize_t cvmfs_xattr_decode(const unsigned char *blob, size_t len, struct cvmfs_xattr *x,
			   size_t cap, enum cvmfs_fmt_why *why)
{
	size_t i, n, off = 2;

	if (len < 2 || blob[0] != CVMFS_XATTR_VERSION)
		goto bad;
	n = blob[1];
	if (n > cap)
		return -ENOSPC;
	for (i = 0; i < n; i++)
		if (decode_one(blob, len, &off, &x[i]) < 0)
			goto bad;
	if (off != len)
		goto bad;
	return (ssize_t)n;
bad:
	if (why && *why == CVMFS_FMT_WHY_NONE)
		*why = CVMFS_FMT_WHY_XATTR;
	return -EBADMSG;
}

/* see format.h */
int cvmfs_xattr_find(const unsigned char *blob, size_t len, const char *key,
		     const unsigned char **val, size_t *vlen)
{
	struct cvmfs_xattr one;
	size_t kl = strlen(key), i, n, off = 2;
	ssize_t rc;

	/* Validate the whole blob first (one slot is enough to count). */
	if (len < 2 || blob[0] != CVMFS_XATTR_VERSION)
		return -EBADMSG;
	n = blob[1];
	for (i = 0; i < n; i++) {
		rc = decode_one(blob, len, &off, &one);
		if (rc < 0)
			return (int)rc;
		if (one.klen == kl && memcmp(one.key, key, kl) == 0) {
			*val = one.val;
			*vlen = one.vlen;
			return 0;
		}
	}
	return off == len ? -ENODATA : -EBADMSG;
}
