/* SPDX-License-Identifier: MIT */
/* cvmfs-lite/hash.c: content hashes, hex names, object paths, path MD5 and zlib inflate. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "cvmfs-lite/format.h"

const char *const cvmfs_counter_names[CVMFS_COUNTERS] = {
	"regular", "symlink", "special", "dir", "nested", "chunked", "chunks",
	"file_size", "chunked_size", "xattr", "external", "external_file_size",
};

static const char *const why_text[CVMFS_FMT_WHY_MAX] = {
	[CVMFS_FMT_WHY_NONE] = "no error",
	[CVMFS_FMT_WHY_MANIFEST_SYNTAX] = "manifest is malformed (missing key, bad value or no signature part)",
	[CVMFS_FMT_WHY_MANIFEST_HASH] = "manifest body does not match its hash line (body altered)",
	[CVMFS_FMT_WHY_MANIFEST_SIG] = "manifest signature does not verify with the repository certificate",
	[CVMFS_FMT_WHY_MANIFEST_NAME] = "manifest names another repository",
	[CVMFS_FMT_WHY_MANIFEST_ROOT] = "manifest root path hash is not md5(\"\")",
	[CVMFS_FMT_WHY_WHITELIST_SYNTAX] = "whitelist is malformed",
	[CVMFS_FMT_WHY_WHITELIST_HASH] = "whitelist body does not match its hash line (body altered)",
	[CVMFS_FMT_WHY_WHITELIST_SIG] = "whitelist signature does not verify with any master public key",
	[CVMFS_FMT_WHY_WHITELIST_EXPIRED] = "whitelist has expired (re-sign it with the master key)",
	[CVMFS_FMT_WHY_WHITELIST_NAME] = "whitelist names another repository",
	[CVMFS_FMT_WHY_WHITELIST_UNSUPPORTED] = "whitelist requires PKCS#7 or CA-chain verification (unsupported)",
	[CVMFS_FMT_WHY_CERT_PARSE] = "certificate object is not a zlib-compressed X.509 certificate",
	[CVMFS_FMT_WHY_CERT_NOT_LISTED] = "certificate fingerprint is not in the whitelist",
	[CVMFS_FMT_WHY_KEY_PARSE] = "public key is unreadable or not RSA",
	[CVMFS_FMT_WHY_OBJECT_HASH] = "object content does not match its hash",
	[CVMFS_FMT_WHY_INFLATE] = "object is not a valid zlib stream (or too large)",
	[CVMFS_FMT_WHY_XATTR] = "xattr blob is malformed or over the format limits",
};

/* see format.h */
const char *cvmfs_fmt_why_str(enum cvmfs_fmt_why why)
{
	if ((unsigned)why >= CVMFS_FMT_WHY_MAX || !why_text[why])
		return "unknown reason";
	return why_text[why];
}

/* see format.h */
size_t cvmfs_hash_len(enum cvmfs_hash_algo algo)
{
	switch (algo) {
	case CVMFS_HASH_MD5:
		return 16;
	case CVMFS_HASH_SHA1:
	case CVMFS_HASH_RMD160:
	case CVMFS_HASH_SHAKE128:
		return 20;
	}
	return 0;
}

/* see format.h */
const char *cvmfs_hash_suffix(enum cvmfs_hash_algo algo)
{
	if (algo == CVMFS_HASH_RMD160)
		return "-rmd160";
	if (algo == CVMFS_HASH_SHAKE128)
		return "-shake128";
	return "";
}

/* see format.h */
int cvmfs_hash_algo_parse(const char *name)
{
	if (strcmp(name, "sha1") == 0)
		return CVMFS_HASH_SHA1;
	if (strcmp(name, "rmd160") == 0)
		return CVMFS_HASH_RMD160;
	if (strcmp(name, "shake128") == 0)
		return CVMFS_HASH_SHAKE128;
	if (strcmp(name, "md5") == 0)
		return CVMFS_HASH_MD5;
	return -EINVAL;
}

/* see format.h */
int cvmfs_hash_fmt(const struct cvmfs_hash *h, char *buf, size_t len)
{
	static const char hx[] = "0123456789abcdef";
	size_t n = cvmfs_hash_len(h->algo), i;
	const char *sfx = cvmfs_hash_suffix(h->algo);
	size_t total = 2 * n + strlen(sfx);

	if (n == 0)
		return -EINVAL;
	if (len < total + 1)
		return -ENOSPC;
	for (i = 0; i < n; i++) {
		buf[2 * i] = hx[h->d[i] >> 4];
		buf[2 * i + 1] = hx[h->d[i] & 15];
	}
	memcpy(buf + 2 * n, sfx, strlen(sfx) + 1);
	return (int)total;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* see format.h */
int cvmfs_hash_parse(const char *hex, size_t len, struct cvmfs_hash *out)
{
	size_t i, n;

	memset(out, 0, sizeof(*out));
	if (len == 32)
		out->algo = CVMFS_HASH_MD5;
	else if (len == 40)
		out->algo = CVMFS_HASH_SHA1;
	else if (len == 47 && memcmp(hex + 40, "-rmd160", 7) == 0)
		out->algo = CVMFS_HASH_RMD160;
	else if (len == 49 && memcmp(hex + 40, "-shake128", 9) == 0)
		out->algo = CVMFS_HASH_SHAKE128;
	else
		return -EINVAL;
	n = cvmfs_hash_len(out->algo);
	for (i = 0; i < n; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -EINVAL;
		out->d[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

/* see format.h */
int cvmfs_hash_objpath(const struct cvmfs_hash *h, char suffix, char *buf, size_t len)
{
	char hex[CVMFS_HASH_HEX_MAX];
	int n = cvmfs_hash_fmt(h, hex, sizeof(hex));
	size_t need;

	if (n < 0)
		return n;
	need = 5 + 2 + 1 + (size_t)n - 2 + (suffix ? 1 : 0);
	if (len < need + 1)
		return -ENOSPC;
	memcpy(buf, "data/", 5);
	memcpy(buf + 5, hex, 2);
	buf[7] = '/';
	memcpy(buf + 8, hex + 2, (size_t)n - 2);
	if (suffix)
		buf[need - 1] = suffix;
	buf[need] = '\0';
	return (int)need;
}

/* see format.h */
int cvmfs_hash_eq(const struct cvmfs_hash *a, const struct cvmfs_hash *b)
{
	return a->algo == b->algo && memcmp(a->d, b->d, cvmfs_hash_len(a->algo)) == 0;
}

/* see format.h */
int cvmfs_hash_init(struct cvmfs_hash_ctx *c, enum cvmfs_hash_algo algo)
{
	c->algo = algo;
	switch (algo) {
	case CVMFS_HASH_MD5:
		mbedtls_md5_init(&c->u.md5);
		mbedtls_md5_starts_ret(&c->u.md5);
		return 0;
	case CVMFS_HASH_SHA1:
		mbedtls_sha1_init(&c->u.sha1);
		mbedtls_sha1_starts_ret(&c->u.sha1);
		return 0;
	case CVMFS_HASH_RMD160:
		mbedtls_ripemd160_init(&c->u.rmd160);
		mbedtls_ripemd160_starts_ret(&c->u.rmd160);
		return 0;
	case CVMFS_HASH_SHAKE128:
		cvmfs_shake128_init(&c->u.shake);
		return 0;
	}
	return -EINVAL;
}

/* see format.h */
void cvmfs_hash_update(struct cvmfs_hash_ctx *c, const void *data, size_t len)
{
	switch (c->algo) {
	case CVMFS_HASH_MD5:
		mbedtls_md5_update_ret(&c->u.md5, data, len);
		break;
	case CVMFS_HASH_SHA1:
		mbedtls_sha1_update_ret(&c->u.sha1, data, len);
		break;
	case CVMFS_HASH_RMD160:
		mbedtls_ripemd160_update_ret(&c->u.rmd160, data, len);
		break;
	case CVMFS_HASH_SHAKE128:
		cvmfs_shake128_update(&c->u.shake, data, len);
		break;
	}
}

/* see format.h */
void cvmfs_hash_final(struct cvmfs_hash_ctx *c, struct cvmfs_hash *out)
{
	memset(out, 0, sizeof(*out));
	out->algo = c->algo;
	switch (c->algo) {
	case CVMFS_HASH_MD5:
		mbedtls_md5_finish_ret(&c->u.md5, out->d);
		mbedtls_md5_free(&c->u.md5);
		break;
	case CVMFS_HASH_SHA1:
		mbedtls_sha1_finish_ret(&c->u.sha1, out->d);
		mbedtls_sha1_free(&c->u.sha1);
		break;
	case CVMFS_HASH_RMD160:
		mbedtls_ripemd160_finish_ret(&c->u.rmd160, out->d);
		mbedtls_ripemd160_free(&c->u.rmd160);
		break;
	case CVMFS_HASH_SHAKE128:
		cvmfs_shake128_final(&c->u.shake, out->d, 20);
		memset(&c->u.shake, 0, sizeof(c->u.shake));
		break;
	}
}

/* see format.h */
int cvmfs_hash_buf(enum cvmfs_hash_algo algo, const void *data, size_t len,
		   struct cvmfs_hash *out)
{
	struct cvmfs_hash_ctx c;
	int rc = cvmfs_hash_init(&c, algo);

	if (rc < 0)
		return rc;
	cvmfs_hash_update(&c, data, len);
	cvmfs_hash_final(&c, out);
	return 0;
}

/* see format.h */
void cvmfs_md5path(const char *path, size_t len, int64_t *p1, int64_t *p2)
{
	unsigned char d[16];
	uint64_t a = 0, b = 0;
	int i;

	mbedtls_md5_ret((const unsigned char *)path, len, d);
	/* Upstream memcpy's the digest into two int64 on little-endian hosts;
	 * assemble explicitly so the result does not depend on our host. */
	for (i = 7; i >= 0; i--) {
		a = (a << 8) | d[i];
		b = (b << 8) | d[8 + i];
	}
	*p1 = (int64_t)a;
	*p2 = (int64_t)b;
}

static void set_why(enum cvmfs_fmt_why *why, enum cvmfs_fmt_why w)
{
	if (why && *why == CVMFS_FMT_WHY_NONE)
		*why = w;
}

/* see format.h */
int cvmfs_object_check(const void *data, size_t len, const struct cvmfs_hash *want,
		       enum cvmfs_fmt_why *why)
{
	struct cvmfs_hash got;

	if (cvmfs_hash_buf(want->algo, data, len, &got) < 0 || !cvmfs_hash_eq(&got, want)) {
		set_why(why, CVMFS_FMT_WHY_OBJECT_HASH);
		return -EBADMSG;
	}
	return 0;
}

/* see format.h */
int cvmfs_zlib_inflate(const void *in, size_t inlen, size_t max,
		       unsigned char **out, size_t *outlen, enum cvmfs_fmt_why *why)
{
	z_stream z;
	unsigned char *buf = NULL, *nb;
	size_t cap = inlen * 4 + 256, n = 0;
	int zr, rc = 0;

	*out = NULL;
	*outlen = 0;
	memset(&z, 0, sizeof(z));
	if (inflateInit(&z) != Z_OK)
		return -ENOMEM;
	z.next_in = (unsigned char *)in;
	for (;;) {
		if (cap > max + 1)
			cap = max + 1;
		nb = realloc(buf, cap + 1);
		if (!nb) {
			rc = -ENOMEM;
			goto out;
		}
		buf = nb;
		z.next_out = buf + n;
		z.avail_out = (uInt)(cap - n);
		/* avail_in is a uInt: feed huge inputs in slices. */
		if (z.avail_in == 0) {
			size_t left = inlen - (size_t)((const unsigned char *)z.next_in -
						       (const unsigned char *)in);
			z.avail_in = left > (1u << 30) ? (1u << 30) : (uInt)left;
		}
		zr = inflate(&z, Z_NO_FLUSH);
		n = cap - z.avail_out;
		if (zr == Z_STREAM_END)
			break;
		if (n > max) {
			set_why(why, CVMFS_FMT_WHY_INFLATE);
			rc = -EFBIG;
			goto out;
		}
		if (zr != Z_OK && zr != Z_BUF_ERROR) {
			set_why(why, CVMFS_FMT_WHY_INFLATE);
			rc = -EBADMSG;
			goto out;
		}
		if (zr == Z_BUF_ERROR && z.avail_in == 0 &&
		    (const unsigned char *)z.next_in == (const unsigned char *)in + inlen) {
			set_why(why, CVMFS_FMT_WHY_INFLATE);	/* truncated */
			rc = -EBADMSG;
			goto out;
		}
		if (z.avail_out == 0)
			cap *= 2;
	}
	if (n > max) {
		set_why(why, CVMFS_FMT_WHY_INFLATE);
		rc = -EFBIG;
		goto out;
	}
	buf[n] = '\0';
	*out = buf;
	*outlen = n;
	buf = NULL;
out:
	inflateEnd(&z);
	free(buf);
	return rc;
}
