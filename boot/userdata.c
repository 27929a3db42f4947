/* SPDX-License-Identifier: MIT */
/* boot/userdata.c: find the [ucernvm-begin] section in user-data that may be
 * plain, gzip'd, MIME multipart (base64 or gzip'd parts) or glideinWMS. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "boot/context.h"

#define DEPTH_MAX 4	/* gzip of MIME of base64 of gzip is as deep as it gets */

/* see context.h */
ssize_t boot_gunzip(const void *in, size_t len, void *out, size_t cap)
{
	z_stream z;
	ssize_t rc;
	int zr;

	memset(&z, 0, sizeof(z));
	/* 15 + 32: any window size, gzip or zlib header detected. */
	if (inflateInit2(&z, 15 + 32) != Z_OK)
		return -ENOMEM;
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)len;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	zr = inflate(&z, Z_FINISH);
	if (zr == Z_STREAM_END)
		rc = (ssize_t)z.total_out;
	else if (zr == Z_BUF_ERROR && z.avail_out == 0)
		rc = -ENOSPC;
	else
		rc = -EBADMSG;
	inflateEnd(&z);
	return rc;
}

/* The next line of [*p, end): returns its start and sets *l to its length
 * without CR/LF; advances *p past the newline. */
static const char *line_next(const char **p, const char *end, size_t *l)
{
	const char *s = *p, *nl = memchr(s, '\n', (size_t)(end - s));

	*p = nl ? nl + 1 : end;
	*l = (size_t)((nl ? nl : end) - s);
	if (*l && s[*l - 1] == '\r')
		(*l)--;
	return s;
}

static int line_is(const char *s, size_t l, const char *word)
{
	while (l && (s[l - 1] == ' ' || s[l - 1] == '\t'))
		l--;
	while (l && (*s == ' ' || *s == '\t'))
		s++, l--;
	return l == strlen(word) && memcmp(s, word, l) == 0;
}

static int section_find(const char *d, size_t len, const char **sec, size_t *sec_len)
{
	const char *p = d, *end = d + len, *s, *start = NULL;
	size_t l;

	while (p < end) {
		s = line_next(&p, end, &l);
		if (!start && line_is(s, l, "[ucernvm-begin]")) {
			start = p;
		} else if (start && line_is(s, l, "[ucernvm-end]")) {
			*sec = start;
			*sec_len = (size_t)(s - start);
			return 1;
		}
	}
	if (!start)
		return 0;
	*sec = start;
	*sec_len = (size_t)(end - start);
	return 1;
}

/* Value of header NAME in the header block at the start of [d, end), or
 * NULL; *vl is its length. Headers end at the first empty line. */
static const char *header_get(const char *d, const char *end, const char *name, size_t *vl)
{
	const char *p = d, *s;
	size_t l, n = strlen(name);

	while (p < end) {
		s = line_next(&p, end, &l);
		if (l == 0)
			break;
		if (l > n && strncasecmp(s, name, n) == 0 && s[n] == ':') {
			s += n + 1;
			l -= n + 1;
			while (l && (*s == ' ' || *s == '\t'))
				s++, l--;
			*vl = l;
			return s;
		}
	}
	return NULL;
}

static int extract(const char *d, size_t len, int glidein, char *work, size_t wcap,
		   const char **sec, size_t *sec_len, int depth);

/* MIME multipart (RFC 2046 5.1): parts between "--BOUNDARY" lines. */
static int mime_walk(const char *d, size_t len, const char *ct, int glidein,
		     char *work, size_t wcap, const char **sec, size_t *sec_len, int depth)
{
	char delim[80];
	const char *b, *end = d + len, *p, *part, *body, *next, *v, *stop;
	size_t bl, l, vl, dl;
	ssize_t n;
	int rc;

	/* The parameter may sit on a folded continuation line: search the
	 * header block, which ends at the first empty line. */
	for (p = ct; p < end;) {
		line_next(&p, end, &l);
		if (l == 0 || (p < end && *p != ' ' && *p != '\t'))
			break;
	}
	b = memmem(ct, (size_t)(p - ct), "boundary=", 9);
	if (!b)
		return -EBADMSG;
	b += 9;
	stop = "; \t\r\n";
	if (b < end && *b == '"')
		b++, stop = "\"\r\n";
	for (bl = 0; b + bl < end && !strchr(stop, b[bl]); bl++)
		;
	if (bl == 0 || bl > 70)	/* RFC 2046: 1..70 characters */
		return -EBADMSG;
	dl = (size_t)snprintf(delim, sizeof(delim), "--%.*s", (int)bl, b);
	p = memmem(d, len, delim, dl);
	while (p) {
		p += dl;
		if (end - p >= 2 && p[0] == '-' && p[1] == '-')
			return 0;	/* close delimiter */
		line_next(&p, end, &l);
		part = p;
		next = memmem(part, (size_t)(end - part), delim, dl);
		/* The CRLF before a delimiter belongs to the delimiter. */
		l = (size_t)((next ? next : end) - part);
		if (next && l && part[l - 1] == '\n')
			l -= (l >= 2 && part[l - 2] == '\r') ? 2 : 1;
		for (body = part; body < part + l;) {
			line_next(&body, part + l, &vl);
			if (vl == 0)
				break;
		}
		vl = 0;
		v = header_get(part, part + l, "Content-Transfer-Encoding", &vl);
		if (v && vl >= 6 && strncasecmp(v, "base64", 6) == 0) {
			n = boot_base64_decode(body, (size_t)(part + l - body), work, wcap);
			if (n < 0)
				return n == -ENOSPC ? -ENOSPC : -EBADMSG;
			rc = extract(work, (size_t)n, glidein, work + n, wcap - (size_t)n, sec,
				     sec_len, depth + 1);
		} else {
			rc = extract(body, (size_t)(part + l - body), glidein, work, wcap, sec,
				     sec_len, depth + 1);
		}
		if (rc != 0)
			return rc;
		p = next;
	}
	return 0;
}

/* glideinWMS: "BASE64####  -cluster N -subcluster M####" on one line. */
static void unescape(char *s)
{
	static const char *const esc[][2] = {
		{ ".semicolon,", ";" }, { ".colon,", ":" }, { ".pipe,", "|" },
		{ ".minus,", "-" }, { ".dot,", "." },
	};
	char *o = s;
	size_t i, n;

	while (*s) {
		for (i = 0; i < sizeof(esc) / sizeof(esc[0]); i++) {
			n = strlen(esc[i][0]);
			if (strncmp(s, esc[i][0], n) == 0)
				break;
		}
		if (i < sizeof(esc) / sizeof(esc[0])) {
			*o++ = esc[i][1][0];
			s += n;
		} else {
			*o++ = *s++;
		}
	}
	*o = '\0';
}

/* Appends "KEY=VALUE\n" for the argument after OPT in the args line. */
static int glidein_param(const char *args, size_t al, const char *opt, const char *key,
			 char *out, size_t cap, size_t *n)
{
	char val[BOOT_CFG_LIST_MAX];
	const char *p = args, *end = args + al;
	size_t ol = strlen(opt), l;

	while (p < end) {
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		l = 0;
		while (p + l < end && p[l] != ' ' && p[l] != '\t')
			l++;
		if (l == ol && memcmp(p, opt, ol) == 0) {
			p += l;
			while (p < end && (*p == ' ' || *p == '\t'))
				p++;
			for (l = 0; p + l < end && p[l] != ' ' && p[l] != '\t'; l++)
				;
			if (l == 0 || l >= sizeof(val))
				return 0;
			memcpy(val, p, l);
			val[l] = '\0';
			unescape(val);
			l = strlen(key) + strlen(val) + 2;
			if (*n + l >= cap)
				return -ENOSPC;
			*n += (size_t)snprintf(out + *n, cap - *n, "%s=%s\n", key, val);
			return 1;
		}
		p += l;
	}
	return 0;
}

static int glidein(const char *d, size_t len, char *work, size_t wcap, const char **sec,
		   size_t *sec_len)
{
	const char *mark, *p, *end, *s;
	size_t l, half = wcap / 2, n = 0;
	ssize_t dn;
	int rc;

	while (len && (d[len - 1] == '\n' || d[len - 1] == '\r'))
		len--;
	if (memchr(d, '\n', len) || !(mark = memmem(d, len, "####", 4)) ||
	    !memmem(mark, len - (size_t)(mark - d), "-cluster", 8))
		return 0;
	dn = boot_base64_decode(d, (size_t)(mark - d), work, half);
	if (dn < 0)
		return 0;	/* not glideinWMS after all */
	p = work;
	end = work + dn;
	while (p < end) {
		s = line_next(&p, end, &l);
		if (l > 5 && memcmp(s, "args", 4) == 0 && (s[4] == ' ' || s[4] == '\t')) {
			rc = glidein_param(s + 5, l - 5, "-param_CERNVM_CMS_PROXY",
					   "cvmfs_http_proxy", work + half, wcap - half, &n);
			if (rc >= 0)
				rc = glidein_param(s + 5, l - 5, "-param_CERNVM_CMS_PAC_URLS",
						   "cvmfs_pac_urls", work + half, wcap - half, &n);
			if (rc < 0)
				return rc;
			if (n == 0)
				return 0;
			*sec = work + half;
			*sec_len = n;
			return 1;
		}
	}
	return 0;
}

static int extract(const char *d, size_t len, int glide, char *work, size_t wcap,
		   const char **sec, size_t *sec_len, int depth)
{
	const char *ct;
	size_t ctl;
	ssize_t n;

	if (depth > DEPTH_MAX)
		return 0;
	/* A UTF-8 byte order mark from a Windows editor would hide the marker. */
	if (len >= 3 && memcmp(d, "\xef\xbb\xbf", 3) == 0)
		d += 3, len -= 3;
	if (len >= 2 && (unsigned char)d[0] == 0x1f && (unsigned char)d[1] == 0x8b) {
		n = boot_gunzip(d, len, work, wcap);
		if (n < 0)
			return (int)n;
		return extract(work, (size_t)n, glide, work + n, wcap - (size_t)n, sec, sec_len,
			       depth + 1);
	}
	ct = header_get(d, d + len, "Content-Type", &ctl);
	if (ct && ctl >= 10 && strncasecmp(ct, "multipart/", 10) == 0)
		return mime_walk(d, len, ct, glide, work, wcap, sec, sec_len, depth);
	if (section_find(d, len, sec, sec_len))
		return 1;
	return glide ? glidein(d, len, work, wcap, sec, sec_len) : 0;
}

/* see context.h */
int boot_userdata_extract(const char *data, size_t len, int useglideinwms, char *work,
			  size_t wcap, const char **sec, size_t *sec_len)
{
	*sec = NULL;
	*sec_len = 0;
	return extract(data, len, useglideinwms, work, wcap, sec, sec_len, 0);
}
