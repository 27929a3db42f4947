/* SPDX-License-Identifier: MIT */
/* cvmfs-lite/verify.c: the verifying sink between a fetch and the cache:
 * hashes the transferred bytes, inflates them (when compressed) with a
 * bound, writes the result to a txn file or a memory buffer, and accepts
 * the copy at finish only if its hash and size are the wanted ones. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cvmfs-lite/internal.h"

#define OUT_BUF 65536

static int out_flush(struct cvmfs_verify *v)
{
	const unsigned char *p = v->out;

	if (v->mem) {	/* flushed + outlen <= outtotal <= max: fits */
		memcpy(v->mem + v->flushed, p, v->outlen);
		v->flushed += v->outlen;
		v->outlen = 0;
		return 0;
	}
	while (v->outlen) {
		ssize_t w = write(v->fd, p, v->outlen);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		v->outlen -= w;
	}
	return 0;
}

/* Before every attempt (a retry or the next source): start over. */
static int v_reset(void *arg)
{
	struct cvmfs_verify *v = arg;

	if (v->fd >= 0 && (ftruncate(v->fd, 0) < 0 || lseek(v->fd, 0, SEEK_SET) < 0))
		return -errno;
	cvmfs_hash_init(&v->hc, v->want->algo);
	if (v->zinit)
		inflateEnd(&v->z);
	v->zinit = v->zend = false;
	v->outlen = 0;
	v->in = v->outtotal = v->flushed = 0;
	if (v->compressed) {
		memset(&v->z, 0, sizeof(v->z));
		if (inflateInit(&v->z) != Z_OK)
			return -ENOMEM;
		v->zinit = true;
	}
	return 0;
}

/* Accounts n more output bytes; -EFBIG past the bound. */
static int grow(struct cvmfs_verify *v, size_t n)
{
	v->outtotal += n;
	return v->outtotal > v->max ? -EFBIG : 0;
}

static int v_data(void *arg, const void *buf, size_t len)
{
	struct cvmfs_verify *v = arg;
	int rc;

	/* A zlib stream needs at most ~5 bytes per 16 KiB stored block more
	 * than its output; more than that is padding nobody asked for. */
	v->in += len;
	if (v->in > v->max + v->max / 64 + 4096)
		return -EFBIG;
	cvmfs_hash_update(&v->hc, buf, len);
	if (!v->compressed) {
		if ((rc = grow(v, len)) < 0)
			return rc;
		while (len) {
			size_t n = OUT_BUF - v->outlen < len ? OUT_BUF - v->outlen : len;

			memcpy(v->out + v->outlen, buf, n);
			v->outlen += n;
			buf = (const char *)buf + n;
			len -= n;
			if (v->outlen == OUT_BUF && (rc = out_flush(v)) < 0)
				return rc;
		}
		return 0;
	}
	if (v->zend)
		return len ? -EBADMSG : 0;	/* bytes after the zlib stream */
	v->z.next_in = (unsigned char *)buf;
	v->z.avail_in = len;
	while (v->z.avail_in && !v->zend) {
		size_t before = v->outlen;

		v->z.next_out = v->out + v->outlen;
		v->z.avail_out = OUT_BUF - v->outlen;
		rc = inflate(&v->z, Z_NO_FLUSH);
		v->outlen = OUT_BUF - v->z.avail_out;
		if (rc == Z_STREAM_END)
			v->zend = true;
		else if (rc != Z_OK && rc != Z_BUF_ERROR)
			return -EBADMSG;
		if ((rc = grow(v, v->outlen - before)) < 0)
			return rc;	/* a bomb: stop before it fills the disk */
		if ((v->outlen == OUT_BUF || v->zend) && (rc = out_flush(v)) < 0)
			return rc;
	}
	return v->z.avail_in ? -EBADMSG : 0;
}

static int v_finish(void *arg)
{
	struct cvmfs_verify *v = arg;
	struct cvmfs_hash got;

	cvmfs_hash_final(&v->hc, &got);
	if (!cvmfs_hash_eq(&got, v->want))
		return -EBADMSG;	/* never keep an unverified byte */
	if (v->compressed && !v->zend)
		return -EBADMSG;	/* truncated stream that still hashed right: impossible, but cheap */
	if (v->size != CVMFS_SIZE_UNKNOWN && v->outtotal != v->size) {
		char hex[CVMFS_HASH_HEX_MAX];

		cvmfs_hash_fmt(v->want, hex, sizeof(hex));
		cvmfs_log(v->c, "object %s: %llu bytes, but its catalog says %llu", hex,
			  (unsigned long long)v->outtotal, (unsigned long long)v->size);
		return -ERANGE;
	}
	return out_flush(v);
}

/* see internal.h */
int cvmfs_verify_init(struct cvmfs_verify *v, struct cvmfs_client *c, const struct cvmfs_hash *want,
		      bool compressed, uint64_t size, uint64_t max, int fd, struct cvmfs_sink *sink)
{
	memset(v, 0, sizeof(*v));
	v->c = c;
	v->fd = fd;
	v->want = want;
	v->compressed = compressed;
	v->size = size;
	v->max = size != CVMFS_SIZE_UNKNOWN ? size : max;
	v->out = malloc(OUT_BUF);
	if (fd < 0)
		v->mem = malloc(v->max + 1);
	/* the expected size bounds the download's time too (net_http_req.size_hint) */
	*sink = (struct cvmfs_sink){ v_reset, v_data, v_finish, v,
				     v->max == CVMFS_SIZE_UNKNOWN ? 0 : v->max };
	if (!v->out || (fd < 0 && !v->mem)) {
		cvmfs_verify_fini(v);
		return -ENOMEM;
	}
	return 0;
}

/* see internal.h */
unsigned char *cvmfs_verify_take(struct cvmfs_verify *v, size_t *len)
{
	unsigned char *m = v->mem;

	m[v->outtotal] = 0;
	*len = v->outtotal;
	v->mem = NULL;
	return m;
}

/* see internal.h */
void cvmfs_verify_fini(struct cvmfs_verify *v)
{
	if (v->zinit)
		inflateEnd(&v->z);
	v->zinit = false;
	free(v->out);
	free(v->mem);
	v->out = v->mem = NULL;
}
