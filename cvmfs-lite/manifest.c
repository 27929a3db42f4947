/* SPDX-License-Identifier: MIT */
/* cvmfs-lite/manifest.c: manifest, whitelist, certificate and master keys: parse and verify (spec §2, §3). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cvmfs-lite/format.h"
#include "mbedtls/rsa.h"

static void set_why(enum cvmfs_fmt_why *why, enum cvmfs_fmt_why w)
{
	if (why && *why == CVMFS_FMT_WHY_NONE)
		*why = w;
}

static int fail(enum cvmfs_fmt_why *why, enum cvmfs_fmt_why w, int rc)
{
	set_why(why, w);
	return rc;
}

/* Finds the first "\n--\n"; returns the offset of the "--" or -1. */
static long find_sep(const unsigned char *buf, size_t len)
{
	size_t i;

	for (i = 0; i + 4 <= len; i++)
		if (buf[i] == '\n' && buf[i + 1] == '-' && buf[i + 2] == '-' && buf[i + 3] == '\n')
			return (long)i + 1;
	return -1;
}

static int parse_u64(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (n == 0 || n > 20)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		if (v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return -EINVAL;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return 0;
}

/* Signature part after "--\n": hash line, then raw signature to EOF. */
static int parse_sigpart(const unsigned char *buf, size_t len, size_t body_len,
			 struct cvmfs_hash *h, const unsigned char **sig, size_t *sig_len)
{
	const unsigned char *p = buf + body_len + 3, *end = buf + len;
	const unsigned char *nl = memchr(p, '\n', (size_t)(end - p));

	if (!nl || cvmfs_hash_parse((const char *)p, (size_t)(nl - p), h) < 0)
		return -EBADMSG;
	*sig = nl + 1;
	*sig_len = (size_t)(end - nl - 1);
	return 0;
}

static int manifest_line(struct cvmfs_manifest *m, char key, const char *v, size_t n)
{
	switch (key) {
	case 'C':
		return cvmfs_hash_parse(v, n, &m->root);
	case 'B':
		m->have |= CVMFS_MF_B;
		return parse_u64(v, n, &m->root_size);
	case 'R':
		if (n != 32)
			return -EINVAL;
		memcpy(m->root_md5, v, 32);
		m->root_md5[32] = '\0';
		return 0;
	case 'D':
		return parse_u64(v, n, &m->ttl);
	case 'S':
		return parse_u64(v, n, &m->revision);
	case 'G':
		m->have |= CVMFS_MF_G;
		m->gc = n == 3 && memcmp(v, "yes", 3) == 0;
		return 0;
	case 'A':
		m->have |= CVMFS_MF_A;
		m->alt = n == 3 && memcmp(v, "yes", 3) == 0;
		return 0;
	case 'L':
		m->have |= CVMFS_MF_L;
		return cvmfs_hash_parse(v, n, &m->micro);
	case 'N':
		if (n == 0 || n >= CVMFS_FQRN_MAX)
			return -EINVAL;
		m->have |= CVMFS_MF_N;
		memcpy(m->fqrn, v, n);
		m->fqrn[n] = '\0';
		return 0;
	case 'X':
		m->have |= CVMFS_MF_X;
		return cvmfs_hash_parse(v, n, &m->cert);
	case 'H':
		m->have |= CVMFS_MF_H;
		return cvmfs_hash_parse(v, n, &m->history);
	case 'T':
		m->have |= CVMFS_MF_T;
		return parse_u64(v, n, &m->timestamp);
	case 'M':
		m->have |= CVMFS_MF_M;
		return cvmfs_hash_parse(v, n, &m->meta);
	case 'Y':
		m->have |= CVMFS_MF_Y;
		return cvmfs_hash_parse(v, n, &m->reflog);
	}
	return 0;	/* Z and unknown keys: ignored, as upstream */
}

/* see format.h */
int cvmfs_manifest_parse(const unsigned char *buf, size_t len, struct cvmfs_manifest *m,
			 enum cvmfs_fmt_why *why)
{
	long sep = find_sep(buf, len);
	size_t off = 0, body = sep < 0 ? len : (size_t)sep;
	unsigned seen = 0;

	memset(m, 0, sizeof(*m));
	if (len > CVMFS_MANIFEST_MAX)
		return fail(why, CVMFS_FMT_WHY_MANIFEST_SYNTAX, -EBADMSG);
	while (off < body) {
		const unsigned char *nl = memchr(buf + off, '\n', body - off);
		size_t n = nl ? (size_t)(nl - buf) - off : body - off;

		if (n > 0) {
			const char *k = strchr("CRDS", buf[off]);

			if (manifest_line(m, (char)buf[off], (const char *)buf + off + 1, n - 1) < 0)
				return fail(why, CVMFS_FMT_WHY_MANIFEST_SYNTAX, -EBADMSG);
			if (k && buf[off])
				seen |= 1u << (k - "CRDS");
		}
		off += n + 1;
	}
	if (seen != 0xf)
		return fail(why, CVMFS_FMT_WHY_MANIFEST_SYNTAX, -EBADMSG);
	m->body_len = body;
	if (sep >= 0) {
		if (parse_sigpart(buf, len, body, &m->body_hash, &m->sig, &m->sig_len) < 0)
			return fail(why, CVMFS_FMT_WHY_MANIFEST_SYNTAX, -EBADMSG);
		m->have |= CVMFS_MF_SIGNED;
	}
	return 0;
}

static int put(char *buf, size_t len, size_t *off, const char *fmt, const char *s,
	       unsigned long long v, int is_num)
{
	int n = is_num ? snprintf(buf + *off, len - *off, fmt, v)
		       : snprintf(buf + *off, len - *off, fmt, s);

	if (n < 0 || (size_t)n >= len - *off)
		return -ENOSPC;
	*off += (size_t)n;
	return 0;
}

static int put_hash(char *buf, size_t len, size_t *off, char key, const struct cvmfs_hash *h)
{
	char hex[CVMFS_HASH_HEX_MAX], fmt[8] = { key, '%', 's', '\n', 0 };

	if (cvmfs_hash_fmt(h, hex, sizeof(hex)) < 0)
		return -EINVAL;
	return put(buf, len, off, fmt, hex, 0, 0);
}

/* see format.h */
int cvmfs_manifest_fmt(const struct cvmfs_manifest *m, char *buf, size_t len)
{
	size_t off = 0;
	int rc = 0;

	if (len == 0)
		return -ENOSPC;
	rc = rc ? rc : put_hash(buf, len, &off, 'C', &m->root);
	rc = rc ? rc : put(buf, len, &off, "B%llu\n", NULL, m->root_size, 1);
	rc = rc ? rc : put(buf, len, &off, "R%s\n", CVMFS_ROOT_PATH_MD5, 0, 0);
	rc = rc ? rc : put(buf, len, &off, "D%llu\n", NULL, m->ttl, 1);
	rc = rc ? rc : put(buf, len, &off, "S%llu\n", NULL, m->revision, 1);
	rc = rc ? rc : put(buf, len, &off, "G%s\n", m->gc ? "yes" : "no", 0, 0);
	rc = rc ? rc : put(buf, len, &off, "A%s\n", m->alt ? "yes" : "no", 0, 0);
	if (!rc && (m->have & CVMFS_MF_L))
		rc = put_hash(buf, len, &off, 'L', &m->micro);
	if (!rc && (m->have & CVMFS_MF_N))
		rc = put(buf, len, &off, "N%s\n", m->fqrn, 0, 0);
	if (!rc && (m->have & CVMFS_MF_X))
		rc = put_hash(buf, len, &off, 'X', &m->cert);
	if (!rc && (m->have & CVMFS_MF_H))
		rc = put_hash(buf, len, &off, 'H', &m->history);
	if (!rc && (m->have & CVMFS_MF_T))
		rc = put(buf, len, &off, "T%llu\n", NULL, m->timestamp, 1);
	if (!rc && (m->have & CVMFS_MF_M))
		rc = put_hash(buf, len, &off, 'M', &m->meta);
	if (!rc && (m->have & CVMFS_MF_Y))
		rc = put_hash(buf, len, &off, 'Y', &m->reflog);
	return rc < 0 ? rc : (int)off;
}

/* The hash line exactly as stored (what the signer signed). */
static void hash_line(const unsigned char *buf, size_t body_len, const unsigned char *sig,
		      const unsigned char **line, size_t *n)
{
	*line = buf + body_len + 3;
	*n = (size_t)(sig - *line) - 1;
}

/* see format.h */
int cvmfs_manifest_verify(const struct cvmfs_manifest *m, const unsigned char *buf,
			  const char *fqrn, const struct cvmfs_cert *cert,
			  enum cvmfs_fmt_why *why)
{
	struct cvmfs_hash h;
	unsigned char sha[20];
	const unsigned char *line;
	size_t n;
	int rc;

	if (!(m->have & CVMFS_MF_SIGNED))
		return fail(why, CVMFS_FMT_WHY_MANIFEST_SYNTAX, -EBADMSG);
	if (fqrn && (!(m->have & CVMFS_MF_N) || strcmp(m->fqrn, fqrn) != 0))
		return fail(why, CVMFS_FMT_WHY_MANIFEST_NAME, -EBADMSG);
	if (strcmp(m->root_md5, CVMFS_ROOT_PATH_MD5) != 0)
		return fail(why, CVMFS_FMT_WHY_MANIFEST_ROOT, -EBADMSG);
	if (cvmfs_hash_buf(m->body_hash.algo, buf, m->body_len, &h) < 0 ||
	    !cvmfs_hash_eq(&h, &m->body_hash))
		return fail(why, CVMFS_FMT_WHY_MANIFEST_HASH, -EBADMSG);
	if (!cert || !cert->loaded)
		return fail(why, CVMFS_FMT_WHY_CERT_PARSE, -EINVAL);
	hash_line(buf, m->body_len, m->sig, &line, &n);
	mbedtls_sha1_ret(line, n, sha);
	rc = mbedtls_pk_verify((mbedtls_pk_context *)&cert->crt.pk, MBEDTLS_MD_SHA1, sha,
			       sizeof(sha), m->sig, m->sig_len);
	if (rc != 0)
		return fail(why, CVMFS_FMT_WHY_MANIFEST_SIG, -EKEYREJECTED);
	return 0;
}

/* see format.h */
void cvmfs_cert_init(struct cvmfs_cert *c)
{
	mbedtls_x509_crt_init(&c->crt);
	c->loaded = 0;
}

/* see format.h */
void cvmfs_cert_fini(struct cvmfs_cert *c)
{
	mbedtls_x509_crt_free(&c->crt);
	c->loaded = 0;
}

/* see format.h */
int cvmfs_cert_parse(struct cvmfs_cert *c, const unsigned char *buf, size_t len,
		     enum cvmfs_fmt_why *why)
{
	unsigned char *tmp;
	int rc;

	/* mbedTLS wants PEM NUL-terminated and counted with its NUL. */
	tmp = malloc(len + 1);
	if (!tmp)
		return -ENOMEM;
	memcpy(tmp, buf, len);
	tmp[len] = '\0';
	mbedtls_x509_crt_free(&c->crt);
	mbedtls_x509_crt_init(&c->crt);
	c->loaded = 0;
	rc = mbedtls_x509_crt_parse(&c->crt, tmp, memmem(tmp, len, "-----BEGIN", 10) ? len + 1 : len);
	free(tmp);
	/* A positive result counts certificates that failed in a bundle. */
	if (rc < 0 || c->crt.raw.len == 0 || mbedtls_pk_get_type(&c->crt.pk) != MBEDTLS_PK_RSA)
		return fail(why, CVMFS_FMT_WHY_CERT_PARSE, -EBADMSG);
	c->loaded = 1;
	return 0;
}

/* see format.h */
int cvmfs_cert_load_object(struct cvmfs_cert *c, const void *obj, size_t len,
			   const struct cvmfs_hash *want, enum cvmfs_fmt_why *why)
{
	unsigned char *pem;
	size_t n;
	int rc;

	if (want && (rc = cvmfs_object_check(obj, len, want, why)) < 0)
		return rc;
	rc = cvmfs_zlib_inflate(obj, len, 1 << 20, &pem, &n, why);
	if (rc < 0)
		return rc == -ENOMEM ? rc : -EBADMSG;
	rc = cvmfs_cert_parse(c, pem, n, why);
	free(pem);
	return rc;
}

/* see format.h */
int cvmfs_cert_fingerprint(const struct cvmfs_cert *c, enum cvmfs_hash_algo algo,
			   struct cvmfs_hash *out)
{
	if (!c->loaded)
		return -EINVAL;
	return cvmfs_hash_buf(algo, c->crt.raw.p, c->crt.raw.len, out);
}

/* see format.h */
int cvmfs_fingerprint_fmt(const struct cvmfs_hash *fp, char *buf, size_t len)
{
	static const char hx[] = "0123456789ABCDEF";
	size_t n = cvmfs_hash_len(fp->algo), i, off = 0;
	const char *sfx = fp->algo == CVMFS_HASH_RMD160 ? "-RMD160"
			  : fp->algo == CVMFS_HASH_SHAKE128 ? "-SHAKE128" : "";

	if (len < 3 * n + strlen(sfx))
		return -ENOSPC;
	for (i = 0; i < n; i++) {
		if (i)
			buf[off++] = ':';
		buf[off++] = hx[fp->d[i] >> 4];
		buf[off++] = hx[fp->d[i] & 15];
	}
	memcpy(buf + off, sfx, strlen(sfx) + 1);
	return (int)(off + strlen(sfx));
}

/* see format.h */
void cvmfs_pubkeys_init(struct cvmfs_pubkeys *k)
{
	size_t i;

	for (i = 0; i < CVMFS_KEYS_MAX; i++)
		mbedtls_pk_init(&k->pk[i]);
	k->n = 0;
}

/* see format.h */
void cvmfs_pubkeys_fini(struct cvmfs_pubkeys *k)
{
	size_t i;

	for (i = 0; i < CVMFS_KEYS_MAX; i++)
		mbedtls_pk_free(&k->pk[i]);
	k->n = 0;
}

/* see format.h */
int cvmfs_pubkeys_add(struct cvmfs_pubkeys *k, const unsigned char *buf, size_t len,
		      enum cvmfs_fmt_why *why)
{
	mbedtls_pk_context *pk;
	unsigned char *tmp;
	int rc;

	if (k->n >= CVMFS_KEYS_MAX)
		return -ENOSPC;
	pk = &k->pk[k->n];
	tmp = malloc(len + 1);
	if (!tmp)
		return -ENOMEM;
	memcpy(tmp, buf, len);
	tmp[len] = '\0';
	rc = mbedtls_pk_parse_public_key(pk, tmp, memmem(tmp, len, "-----BEGIN", 10) ? len + 1 : len);
	free(tmp);
	if (rc != 0 || mbedtls_pk_get_type(pk) != MBEDTLS_PK_RSA) {
		mbedtls_pk_free(pk);
		mbedtls_pk_init(pk);
		return fail(why, CVMFS_FMT_WHY_KEY_PARSE, -EBADMSG);
	}
	k->n++;
	return 0;
}

/* YYYYMMDDHHMMSS (14 digits) -> UTC time. */
static int parse_stamp(const unsigned char *s, size_t n, time_t *out)
{
	struct tm tm;
	int v[6], i, w[6] = { 4, 2, 2, 2, 2, 2 }, off = 0;

	if (n != 14)
		return -EINVAL;
	for (i = 0; i < 6; i++) {
		int j;

		v[i] = 0;
		for (j = 0; j < w[i]; j++, off++) {
			if (s[off] < '0' || s[off] > '9')
				return -EINVAL;
			v[i] = v[i] * 10 + (s[off] - '0');
		}
	}
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = v[0] - 1900;
	tm.tm_mon = v[1] - 1;
	tm.tm_mday = v[2];
	tm.tm_hour = v[3];
	tm.tm_min = v[4];
	tm.tm_sec = v[5];
	if (v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > 31 || v[3] > 23 || v[4] > 59 || v[5] > 60)
		return -EINVAL;
	*out = timegm(&tm);
	return 0;
}

/* Fingerprint line: lowercase, drop ':', stop at space/tab/'#'. */
static int parse_fp(const unsigned char *s, size_t n, struct cvmfs_hash *out)
{
	char tmp[CVMFS_HASH_HEX_MAX + 8];
	size_t i, k = 0;

	for (i = 0; i < n && s[i] != ' ' && s[i] != '\t' && s[i] != '#'; i++) {
		if (s[i] == ':')
			continue;
		if (k + 1 >= sizeof(tmp))
			return -EINVAL;
		tmp[k++] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]);
	}
	return cvmfs_hash_parse(tmp, k, out);
}

static int wl_line(struct cvmfs_whitelist *w, int lineno, const unsigned char *s, size_t n)
{
	if (lineno == 0)
		return parse_stamp(s, n, &w->created);
	if (lineno == 1)
		return n == 15 && s[0] == 'E' ? parse_stamp(s + 1, 14, &w->expires) : -EINVAL;
	if (n >= 1 && s[0] == 'N') {
		if (n - 1 >= CVMFS_FQRN_MAX)
			return -EINVAL;
		memcpy(w->fqrn, s + 1, n - 1);
		w->fqrn[n - 1] = '\0';
		return 0;
	}
	if (n == 6 && memcmp(s, "Vpkcs7", 6) == 0) {
		w->pkcs7 = 1;
		return 0;
	}
	if (n == 8 && memcmp(s, "Wcachain", 8) == 0) {
		w->cachain = 1;
		return 0;
	}
	if (n == 0)
		return 0;
	if (w->nfp >= CVMFS_WL_FP_MAX)
		return -EINVAL;
	/* Lines that are no fingerprint are skipped, as upstream does. */
	if (parse_fp(s, n, &w->fp[w->nfp]) == 0)
		w->nfp++;
	return 0;
}

/* see format.h */
int cvmfs_whitelist_parse(const unsigned char *buf, size_t len, struct cvmfs_whitelist *w,
			  enum cvmfs_fmt_why *why)
{
	long sep;
	size_t off = 0, body;
	int lineno = 0;

	memset(w, 0, sizeof(*w));
	sep = len > CVMFS_WL_MAX ? -1 : find_sep(buf, len);
	if (sep < 0)
		return fail(why, CVMFS_FMT_WHY_WHITELIST_SYNTAX, -EBADMSG);
	body = (size_t)sep;
	while (off < body) {
		const unsigned char *nl = memchr(buf + off, '\n', body - off);
		size_t n = (size_t)(nl - buf) - off;	/* body ends with '\n' */

		if (wl_line(w, lineno++, buf + off, n) < 0)
			return fail(why, CVMFS_FMT_WHY_WHITELIST_SYNTAX, -EBADMSG);
		off += n + 1;
	}
	if (lineno < 3 || w->fqrn[0] == '\0')
		return fail(why, CVMFS_FMT_WHY_WHITELIST_SYNTAX, -EBADMSG);
	w->body_len = body;
	if (parse_sigpart(buf, len, body, &w->body_hash, &w->sig, &w->sig_len) < 0)
		return fail(why, CVMFS_FMT_WHY_WHITELIST_SYNTAX, -EBADMSG);
	return 0;
}

static int rsa_recovers(const mbedtls_pk_context *pk, const unsigned char *line, size_t n,
			const unsigned char *sig, size_t sig_len)
{
	mbedtls_rsa_context *rsa = mbedtls_pk_rsa(*pk);

	if (mbedtls_pk_get_type(pk) != MBEDTLS_PK_RSA || sig_len != mbedtls_rsa_get_len(rsa))
		return 0;
	/* MD_NONE: type-1 padding over the raw bytes, no DigestInfo (spec §3). */
	return mbedtls_rsa_rsassa_pkcs1_v15_verify(rsa, NULL, NULL, MBEDTLS_RSA_PUBLIC,
						   MBEDTLS_MD_NONE, (unsigned)n, line, sig) == 0;
}

/* see format.h */
int cvmfs_whitelist_verify(const struct cvmfs_whitelist *w, const unsigned char *buf,
			   const char *fqrn, const struct cvmfs_pubkeys *keys, time_t now,
			   unsigned flags, enum cvmfs_fmt_why *why)
{
	struct cvmfs_hash h;
	const unsigned char *line;
	size_t n, i;
	int ok = 0;

	if (fqrn && strcmp(w->fqrn, fqrn) != 0)
		return fail(why, CVMFS_FMT_WHY_WHITELIST_NAME, -EBADMSG);
	if (cvmfs_hash_buf(w->body_hash.algo, buf, w->body_len, &h) < 0 ||
	    !cvmfs_hash_eq(&h, &w->body_hash))
		return fail(why, CVMFS_FMT_WHY_WHITELIST_HASH, -EBADMSG);
	hash_line(buf, w->body_len, w->sig, &line, &n);
	for (i = 0; i < keys->n && !ok; i++)
		ok = rsa_recovers(&keys->pk[i], line, n, w->sig, w->sig_len);
	if (!ok)
		return fail(why, CVMFS_FMT_WHY_WHITELIST_SIG, -EKEYREJECTED);
	if (w->pkcs7 || w->cachain)
		return fail(why, CVMFS_FMT_WHY_WHITELIST_UNSUPPORTED, -EBADMSG);
	/* Upstream IsBefore compares (year, month, day, hour) only. */
	if (!(flags & CVMFS_WL_EXPIRED_OK) && now - now % 3600 >= w->expires - w->expires % 3600)
		return fail(why, CVMFS_FMT_WHY_WHITELIST_EXPIRED, -EKEYEXPIRED);
	return 0;
}

/* see format.h */
int cvmfs_whitelist_has_cert(const struct cvmfs_whitelist *w, const struct cvmfs_cert *c,
			     enum cvmfs_fmt_why *why)
{
	struct cvmfs_hash fp;
	size_t i;

	for (i = 0; i < w->nfp; i++)
		if (cvmfs_cert_fingerprint(c, w->fp[i].algo, &fp) == 0 && cvmfs_hash_eq(&fp, &w->fp[i]))
			return 1;
	set_why(why, CVMFS_FMT_WHY_CERT_NOT_LISTED);
	return 0;
}
