/* SPDX-License-Identifier: MIT */
/* boot/context-http.c: the boot_fetch_fn of the context sources, backed by
 * net/http.h (GET), a one-shot PUT for the EC2 IMDSv2 token and a one-shot
 * POST for Azure's health report. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "boot/context.h"
#include "net/http.h"

struct sink {
	char *buf;
	size_t cap, len;
};

static int sink_put(void *arg, const void *p, size_t n)
{
	struct sink *s = arg;

	if (n > s->cap - s->len)
		return -EMSGSIZE;
	memcpy(s->buf + s->len, p, n);
	s->len += n;
	return 0;
}

static unsigned left_ms(uint64_t deadline)
{
	uint64_t now = net_now_ms();

	return deadline > now + 1 ? (unsigned)(deadline - now) : 1;
}

static int put_send(const struct net_io *io, const struct net_url *u, const char *method,
		    const char *const *hdrs, const char *body, size_t blen, uint64_t dl)
{
	char req[1024];
	size_t n, len;
	ssize_t w;
	int rc;

	rc = snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: %s%s%.0u\r\n"
		      "Content-Length: %zu\r\nConnection: close\r\n", method, u->path, u->host,
		      u->port ? ":" : "", u->port, blen);
	for (; hdrs && *hdrs && rc > 0 && (size_t)rc < sizeof(req); hdrs++)
		rc += snprintf(req + rc, sizeof(req) - (size_t)rc, "%s\r\n", *hdrs);
	if (rc < 0 || (size_t)rc + 3 > sizeof(req))
		return -ENAMETOOLONG;
	memcpy(req + rc, "\r\n", 3);
	len = (size_t)rc + 2;
	for (n = 0; n < len; n += (size_t)w)
		if ((w = io->write(io->arg, req + n, len - n, dl)) < 0)
			return (int)w;
	for (n = 0; n < blen; n += (size_t)w)
		if ((w = io->write(io->arg, body + n, blen - n, dl)) < 0)
			return (int)w;
	return 0;
}

/* Reads the whole response (head and a small body) into rsp; returns the
 * status with the 2xx body in s, or -errno. */
static int put_recv(const struct net_io *io, char *rsp, size_t cap, struct sink *s, uint64_t dl)
{
	struct net_http_head h;
	enum net_http_why why;
	char *end = NULL;
	size_t n = 0, hl = 0, bl;
	ssize_t r;

	while (!end || h.content_length < 0 || n - hl < (size_t)h.content_length) {
		if (n == cap - 1)
			return -EMSGSIZE;
		if ((r = io->read(io->arg, rsp + n, cap - 1 - n, dl)) < 0)
			return (int)r;
		if (r == 0 && (!end || h.content_length >= 0))
			return -EPIPE;
		if (r == 0)
			break;	/* no length: the body ends with the connection */
		n += (size_t)r;
		rsp[n] = '\0';
		if (!end && (end = strstr(rsp, "\r\n\r\n"))) {
			hl = (size_t)(end + 4 - rsp);
			if (net_http_head_parse(rsp, hl, &h, &why) < 0)
				return -EPROTO;
			if (h.status < 200 || h.status > 299)
				return h.status;
			if (h.chunked)
				return -EPROTO;	/* no metadata service sends a token chunked */
		}
	}
	bl = n - hl;
	if (h.content_length >= 0 && bl > (size_t)h.content_length)
		bl = (size_t)h.content_length;
	return sink_put(s, rsp + hl, bl) < 0 ? -EMSGSIZE : h.status;
}

/* net_http_get speaks only GET; the token request is one small PUT with an
 * empty body, on its own connection ("Connection: close"). */
static int put_once(const char *method, const char *url, const char *const *hdrs,
		    const char *body, size_t blen, struct sink *s, uint64_t dl)
{
	struct net_url u;
	struct net_io io;
	char rsp[2048];
	int rc;

	if (net_url_parse(url, &u) < 0 || strcmp(u.scheme, "http") != 0)
		return -EINVAL;
	if ((rc = net_tcp_open(u.host, u.port ? u.port : 80, dl, &io)) < 0)
		return rc;
	rc = put_send(&io, &u, method, hdrs, body, blen, dl);
	if (rc == 0)
		rc = put_recv(&io, rsp, sizeof(rsp), s, dl);
	explicit_bzero(rsp, sizeof(rsp));
	io.close(io.arg);
	return rc;
}

static int http_fetch(void *arg, const char *proxy, const char *method, const char *url,
		      const char *const *headers, char *buf, size_t cap, size_t *len,
		      uint64_t deadline_ms)
{
	struct sink s = { buf, cap, 0 };
	struct net_http_req req = {
		.url = url,
		.proxy = proxy,
		.headers = headers,
		.connect_timeout_ms = left_ms(deadline_ms),
		.low_speed_ms = left_ms(deadline_ms),
		.deadline_ms = deadline_ms,
		.body = sink_put,
		.body_arg = &s,
	};
	struct net_http_resp resp;
	int rc;

	*len = 0;
	if (strcmp(method, "PUT") == 0)
		rc = put_once("PUT", url, headers, NULL, 0, &s, deadline_ms);
	else if ((rc = net_http_get(arg, &req, &resp)) == 0)
		rc = resp.status;
	if (rc >= 200 && rc <= 299)
		*len = s.len;
	return rc;
}

/* see context.h */
int boot_context_http_fetch(void *arg, const char *method, const char *url,
			    const char *const *headers, char *buf, size_t cap, size_t *len,
			    uint64_t deadline_ms)
{
	/* link-local metadata: never through a proxy */
	return http_fetch(arg, NULL, method, url, headers, buf, cap, len, deadline_ms);
}

/* see context.h */
int boot_geo_http_fetch(void *arg, const char *method, const char *url,
			const char *const *headers, char *buf, size_t cap, size_t *len,
			uint64_t deadline_ms)
{
	const struct boot_geo_net *g = arg;

	return http_fetch(g->http, g->proxy[0] ? g->proxy : NULL, method, url, headers, buf,
			  cap, len, deadline_ms);
}

/* see context.h */
int boot_context_http_post(void *arg, const char *url, const char *const *headers,
			   const char *body, size_t blen, char *buf, size_t cap, size_t *len,
			   uint64_t deadline_ms)
{
	struct sink s = { buf, cap, 0 };
	int rc;

	(void)arg;
	*len = 0;
	rc = put_once("POST", url, headers, body, blen, &s, deadline_ms);
	if (rc >= 200 && rc <= 299)
		*len = s.len;
	return rc;
}
