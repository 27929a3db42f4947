/* SPDX-License-Identifier: MIT */
/* net/http-parse.c: strict parsing of HTTP/1.1 response heads and chunk sizes. */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "net/http.h"

static const char *const why_str[] = {
	[NET_HTTP_WHY_NONE] = "no error",
	[NET_HTTP_WHY_URL] = "bad URL or unknown scheme",
	[NET_HTTP_WHY_DNS] = "host name did not resolve",
	[NET_HTTP_WHY_CONNECT] = "connection failed",
	[NET_HTTP_WHY_TLS] = "TLS handshake failed",
	[NET_HTTP_WHY_SEND] = "sending the request failed",
	[NET_HTTP_WHY_STATUS_LINE] = "bad HTTP status line",
	[NET_HTTP_WHY_HEADER] = "bad or oversized HTTP header",
	[NET_HTTP_WHY_LENGTH] = "bad Content-Length",
	[NET_HTTP_WHY_CHUNK] = "bad chunked encoding",
	[NET_HTTP_WHY_SHORT] = "connection closed before the body ended",
	[NET_HTTP_WHY_TIMEOUT] = "timed out",
	[NET_HTTP_WHY_REDIRECT] = "bad redirect or too many redirects",
	[NET_HTTP_WHY_ABORTED] = "the receiver refused the body",
	[NET_HTTP_WHY_IO] = "transport error",
	[NET_HTTP_WHY_LINE_LONG] = "header line too long",
	[NET_HTTP_WHY_HEADERS_MANY] = "too many headers",
	[NET_HTTP_WHY_HEAD_BIG] = "response head too large",
	[NET_HTTP_WHY_INTERIM] = "too many 1xx responses",
	[NET_HTTP_WHY_DEADLINE] = "object deadline exceeded (too slow overall)",
};

/* see http.h */
const char *net_http_why_str(enum net_http_why why)
{
	if ((unsigned)why >= sizeof(why_str) / sizeof(why_str[0]) || !why_str[why])
		return "unknown error";
	return why_str[why];
}

static int parse_u63(const char *s, size_t n, int64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (n == 0)
		return -EPROTO;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EPROTO;
		if (v > (uint64_t)(INT64_MAX - 9) / 10)
			return -EPROTO;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = (int64_t)v;
	return 0;
}

static int status_line(const char *l, size_t n, struct net_http_head *h)
{
	/* RFC 9112 4: HTTP-version SP 3DIGIT SP [reason] */
	if (n < 12 || memcmp(l, "HTTP/1.", 7) != 0 || (l[7] != '0' && l[7] != '1') ||
	    l[8] != ' ' || l[9] < '1' || l[9] > '5' || l[10] < '0' || l[10] > '9' ||
	    l[11] < '0' || l[11] > '9' || (n > 12 && l[12] != ' '))
		return -EPROTO;
	h->minor = l[7] - '0';
	h->status = (l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0');
	return 0;
}

static void trim(const char **v, size_t *n)
{
	while (*n && (**v == ' ' || **v == '\t'))
		(*v)++, (*n)--;
	while (*n && ((*v)[*n - 1] == ' ' || (*v)[*n - 1] == '\t'))
		(*n)--;
}

static bool has_token(const char *v, size_t n, const char *tok)
{
	size_t tl = strlen(tok);

	while (n) {
		size_t len = 0;
		const char *t;

		while (len < n && v[len] != ',')
			len++;
		t = v;
		{
			size_t m = len;

			trim(&t, &m);
			if (m == tl && strncasecmp(t, tok, tl) == 0)
				return true;
		}
		v += len;
		n -= len;
		if (n)
			v++, n--;
	}
	return false;
}

static int header(const char *l, size_t n, struct net_http_head *h, bool *keep_alive)
{
	const char *colon = memchr(l, ':', n), *v;
	size_t kn, vn;

	if (!colon || colon == l)
		return -EPROTO;
	kn = colon - l;
	for (size_t i = 0; i < kn; i++)
		if (l[i] <= ' ' || l[i] >= 0x7f)
			return -EPROTO;	/* no whitespace before the colon (RFC 9112 5.1) */
	v = colon + 1;
	vn = n - kn - 1;
	trim(&v, &vn);
	for (size_t i = 0; i < vn; i++)
		if ((unsigned char)v[i] < ' ' && v[i] != '\t')
			return -EPROTO;
#define IS(name) (kn == sizeof(name) - 1 && strncasecmp(l, name, kn) == 0)
	if (IS("Content-Length")) {
		int64_t len;

		if (parse_u63(v, vn, &len) < 0)
			return -EBADMSG;
		if (h->content_length >= 0 && h->content_length != len)
			return -EBADMSG;	/* RFC 9112 6.3: differing lengths */
		h->content_length = len;
	} else if (IS("Transfer-Encoding")) {
		if (vn == 7 && strncasecmp(v, "chunked", 7) == 0)
			h->chunked = true;
		else if (!(vn == 8 && strncasecmp(v, "identity", 8) == 0))
			return -EPROTO;	/* codings we cannot undo */
	} else if (IS("Connection")) {
		if (has_token(v, vn, "close"))
			h->close = true;
		if (has_token(v, vn, "keep-alive"))
			*keep_alive = true;
	} else if (IS("Location")) {
		if (vn >= sizeof(h->location))
			return -EPROTO;
		memcpy(h->location, v, vn);
		h->location[vn] = 0;
	} else if (IS("X-Squid-Error")) {
		h->proxy_error = true;
	} else if (IS("Proxy-Status")) {
		for (size_t i = 0; i + 6 <= vn; i++)
			if (strncasecmp(v + i, "error=", 6) == 0)
				h->proxy_error = true;
	}
#undef IS
	return 0;
}

/* see http.h */
int net_http_head_parse(const char *buf, size_t len, struct net_http_head *h,
			enum net_http_why *why)
{
	const char *p = buf, *end = buf + len;
	bool first = true, keep_alive = false;
	size_t nheaders = 0;
	int rc;

	memset(h, 0, sizeof(*h));
	h->content_length = -1;
	*why = NET_HTTP_WHY_NONE;
	if (len > NET_HTTP_HEAD_MAX) {
		*why = NET_HTTP_WHY_HEAD_BIG;
		return -EMSGSIZE;
	}
	for (;;) {
		const char *nl = memchr(p, '\n', end - p);
		size_t n;

		if (!nl) {
			*why = first ? NET_HTTP_WHY_STATUS_LINE : NET_HTTP_WHY_HEADER;
			return -EPROTO;
		}
		n = nl - p;
		if (n && p[n - 1] == '\r')
			n--;
		if (n > NET_HTTP_LINE_MAX) {
			*why = NET_HTTP_WHY_LINE_LONG;
			return -EMSGSIZE;
		}
		if (!first && n && ++nheaders > NET_HTTP_HEADERS_MAX) {
			*why = NET_HTTP_WHY_HEADERS_MANY;
			return -EMSGSIZE;
		}
		if (first) {
			if (status_line(p, n, h) < 0) {
				*why = NET_HTTP_WHY_STATUS_LINE;
				return -EPROTO;
			}
			first = false;
		} else if (n == 0) {
			break;
		} else if (*p == ' ' || *p == '\t') {
			*why = NET_HTTP_WHY_HEADER;	/* obsolete line folding */
			return -EPROTO;
		} else if ((rc = header(p, n, h, &keep_alive)) < 0) {
			*why = rc == -EBADMSG ? NET_HTTP_WHY_LENGTH : NET_HTTP_WHY_HEADER;
			return -EPROTO;
		}
		p = nl + 1;
	}
	if (h->chunked)
		h->content_length = -1;	/* RFC 9112 6.3: chunked wins */
	if (h->minor == 0 && !keep_alive)
		h->close = true;
	return 0;
}

/* see http.h */
int net_http_chunk_size_parse(const char *line, size_t len, uint64_t *size)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < len; i++) {
		char c = line[i];
		unsigned d;

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			break;
		if (v >> 59)
			return -EPROTO;	/* would pass 2^63 */
		v = v * 16 + d;
	}
	if (i == 0)
		return -EPROTO;
	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	if (i < len && line[i] != ';')
		return -EPROTO;
	*size = v;
	return 0;
}
