/* SPDX-License-Identifier: MIT */
/* net/http.c: HTTP/1.1 GET over a net_io: request, response head, bodies
 * (Content-Length, chunked, until close), keep-alive pool, proxies, redirects. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "net/http.h"

#define RD_BUF 16384
#define DISCARD_MAX 65536	/* error bodies longer than this close the connection */

struct rd {
	const struct net_io *io;
	const struct net_http_req *req;
	struct net_http_resp *resp;
	char buf[RD_BUF];
	size_t pos, len;
	uint64_t win_start, win_bytes;
	uint64_t start_ms, hard_dl;	/* per-object deadline (req->min_rate); 0 = none */
	bool eof;
};

static unsigned low_ms(const struct net_http_req *r)
{
	return r->low_speed_ms ? r->low_speed_ms : 10000;
}

/* Sets the per-object deadline for a body of size bytes (-1: not known). */
static void rd_deadline(struct rd *r, int64_t size)
{
	const struct net_http_req *q = r->req;
	uint64_t max = q->max_ms ? q->max_ms : NET_HTTP_MAX_MS_DEFAULT, ms = max;

	if (!q->min_rate)
		return;
	if (q->size_hint)
		size = q->size_hint > INT64_MAX ? INT64_MAX : (int64_t)q->size_hint;
	if (size >= 0 && (uint64_t)size / q->min_rate < max / 1000) {
		ms = 2 * (uint64_t)low_ms(q) + (uint64_t)size / q->min_rate * 1000 +
		     (uint64_t)size % q->min_rate * 1000 / q->min_rate;
		if (ms > max)
			ms = max;
	}
	r->hard_dl = r->start_ms + ms;
}

/* The per-object deadline passed: -ETIMEDOUT, named as such. */
static ssize_t rd_late(struct rd *r)
{
	if (r->resp->why == NET_HTTP_WHY_NONE)
		r->resp->why = NET_HTTP_WHY_DEADLINE;
	return -ETIMEDOUT;
}

/* Fills the buffer; returns bytes added, 0 on EOF, or -errno. Enforces the
 * idle timeout, the low-speed window, the per-object deadline and the
 * overall deadline. */
static ssize_t rd_fill(struct rd *r)
{
	uint64_t now = net_now_ms(), dl = now + low_ms(r->req);
	ssize_t n;

	if (r->hard_dl && now >= r->hard_dl)
		return rd_late(r);
	if (r->hard_dl && r->hard_dl < dl)
		dl = r->hard_dl;
	if (r->req->deadline_ms && r->req->deadline_ms < dl)
		dl = r->req->deadline_ms;
	if (r->pos == r->len)
		r->pos = r->len = 0;
	else if (r->pos > 0) {
		memmove(r->buf, r->buf + r->pos, r->len - r->pos);
		r->len -= r->pos;
		r->pos = 0;
	}
	if (r->len == sizeof(r->buf))
		return -EMSGSIZE;
	n = r->io->read(r->io->arg, r->buf + r->len, sizeof(r->buf) - r->len, dl);
	if (n == -ETIMEDOUT && r->hard_dl && net_now_ms() >= r->hard_dl)
		return rd_late(r);
	if (n < 0)
		return n;
	if (n == 0) {
		r->eof = true;
		return 0;
	}
	r->resp->answered = true;
	r->len += n;
	now = net_now_ms();
	r->win_bytes += n;
	if (now - r->win_start >= low_ms(r->req)) {
		/* curl's CURLOPT_LOW_SPEED_LIMIT/TIME: too few bytes in the window */
		if (r->req->low_speed_bytes && r->win_bytes < r->req->low_speed_bytes)
			return -ETIMEDOUT;
		r->win_start = now;
		r->win_bytes = 0;
	}
	return n;
}

static int write_all(const struct net_io *io, const char *p, size_t n, uint64_t dl)
{
	while (n) {
		ssize_t w = io->write(io->arg, p, n, dl);

		if (w < 0)
			return (int)w;
		if (w == 0)
			return -EPIPE;
		p += w;
		n -= w;
	}
	return 0;
}

static int fail(struct net_http_resp *resp, enum net_http_why why, int rc)
{
	if (resp->why == NET_HTTP_WHY_NONE)
		resp->why = rc == -ETIMEDOUT ? NET_HTTP_WHY_TIMEOUT : why;
	return rc;
}

/* Reads one response head up to its empty line, within the caps on line
 * length, header count and head size (a server that sends an endless line
 * or endless headers is named as such); returns its length or -errno. */
static ssize_t read_head(struct rd *r, struct net_http_resp *resp)
{
	size_t off = 0, bol = 0, nlines = 0;	/* offsets from r->pos (stable across fills) */

	for (;;) {
		ssize_t n;

		for (; r->pos + off < r->len; off++) {
			size_t ll;

			if (r->buf[r->pos + off] != '\n')
				continue;
			ll = off - bol;
			if (ll && r->buf[r->pos + off - 1] == '\r')
				ll--;
			if (ll > NET_HTTP_LINE_MAX)
				return fail(resp, NET_HTTP_WHY_LINE_LONG, -EPROTO);
			if (ll == 0)	/* the empty line (or an empty status line: refused later) */
				return (ssize_t)(off + 1);
			if (++nlines > NET_HTTP_HEADERS_MAX + 1)	/* + the status line */
				return fail(resp, NET_HTTP_WHY_HEADERS_MANY, -EPROTO);
			bol = off + 1;
		}
		if (off - bol > NET_HTTP_LINE_MAX + 1)
			return fail(resp, NET_HTTP_WHY_LINE_LONG, -EPROTO);
		if (off >= NET_HTTP_HEAD_MAX)
			return fail(resp, NET_HTTP_WHY_HEAD_BIG, -EPROTO);
		n = rd_fill(r);
		if (n == -EMSGSIZE)
			return fail(resp, NET_HTTP_WHY_HEAD_BIG, -EPROTO);
		if (n < 0)
			return fail(resp, NET_HTTP_WHY_IO, (int)n);
		if (n == 0)
			return fail(resp, r->len == r->pos ? NET_HTTP_WHY_SHORT :
				    NET_HTTP_WHY_STATUS_LINE, r->len == r->pos ? -EPIPE : -EPROTO);
	}
}

static int deliver(const struct net_http_req *req, struct net_http_resp *resp, bool sink,
		   const char *p, size_t n, uint64_t *discarded)
{
	int rc;

	if (!sink) {
		*discarded += n;
		return 0;
	}
	resp->body_bytes += n;
	if (req->body && (rc = req->body(req->body_arg, p, n)) < 0)
		return fail(resp, NET_HTTP_WHY_ABORTED, rc);
	return 0;
}

/* Streams len bytes (or until EOF when len < 0) to the sink. */
static int body_plain(struct rd *r, int64_t len, bool sink, struct net_http_resp *resp,
		      uint64_t *discarded)
{
	uint64_t left = len < 0 ? UINT64_MAX : (uint64_t)len;
	int rc;

	while (left) {
		size_t n = r->len - r->pos;
		ssize_t got;

		if (n == 0) {
			got = rd_fill(r);
			if (got < 0)
				return fail(resp, NET_HTTP_WHY_IO, (int)got);
			if (got == 0)
				return len < 0 ? 0 : fail(resp, NET_HTTP_WHY_SHORT, -EPIPE);
			continue;
		}
		if (n > left)
			n = left;
		if ((rc = deliver(r->req, resp, sink, r->buf + r->pos, n, discarded)) < 0)
			return rc;
		r->pos += n;
		left -= n;
		if (!sink && *discarded > DISCARD_MAX)
			return fail(resp, NET_HTTP_WHY_ABORTED, -EMSGSIZE);
	}
	return 0;
}

/* One line of the chunked framing, without its CRLF. */
static int read_line(struct rd *r, const char **line, size_t *n, struct net_http_resp *resp)
{
	for (;;) {
		char *nl = memchr(r->buf + r->pos, '\n', r->len - r->pos);
		ssize_t got;

		if (nl) {
			*line = r->buf + r->pos;
			*n = nl - *line;
			if (*n && (*line)[*n - 1] == '\r')
				(*n)--;
			r->pos = nl + 1 - r->buf;
			return 0;
		}
		if (r->len - r->pos > 1024)
			return fail(resp, NET_HTTP_WHY_CHUNK, -EPROTO);
		got = rd_fill(r);
		if (got < 0)
			return fail(resp, NET_HTTP_WHY_IO, (int)got);
		if (got == 0)
			return fail(resp, NET_HTTP_WHY_SHORT, -EPIPE);
	}
}

static int body_chunked(struct rd *r, bool sink, struct net_http_resp *resp, uint64_t *discarded)
{
	const char *line;
	size_t n;
	uint64_t size;
	int rc;

	for (;;) {
		if ((rc = read_line(r, &line, &n, resp)) < 0)
			return rc;
		if (net_http_chunk_size_parse(line, n, &size) < 0 || size > INT64_MAX)
			return fail(resp, NET_HTTP_WHY_CHUNK, -EPROTO);
		if (size == 0)
			break;
		if ((rc = body_plain(r, (int64_t)size, sink, resp, discarded)) < 0)
			return rc;
		if ((rc = read_line(r, &line, &n, resp)) < 0)
			return rc;
		if (n != 0)
			return fail(resp, NET_HTTP_WHY_CHUNK, -EPROTO);
	}
	/* trailer section: header lines until an empty one */
	for (int i = 0;; i++) {
		if ((rc = read_line(r, &line, &n, resp)) < 0)
			return rc;
		if (n == 0)
			return 0;
		if (i > 64)
			return fail(resp, NET_HTTP_WHY_CHUNK, -EPROTO);
	}
}

static int send_request(const struct net_io *io, const char *target, const char *host,
			const char *ua, const struct net_http_req *req)
{
	size_t cap = strlen(target) + strlen(host) + 256, n;
	char *buf;
	int rc;

	if (req->headers)
		for (const char *const *h = req->headers; *h; h++)
			cap += strlen(*h) + 2;
	buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	n = snprintf(buf, cap, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\n"
		     "Connection: Keep-Alive\r\nAccept: */*\r\n", target, host,
		     ua && *ua ? ua : "cvmboot");
	if (req->headers)
		for (const char *const *h = req->headers; *h; h++)
			n += snprintf(buf + n, cap - n, "%s\r\n", *h);
	n += snprintf(buf + n, cap - n, "\r\n");
	rc = write_all(io, buf, n, req->deadline_ms ? req->deadline_ms :
		       net_now_ms() + low_ms(req));
	free(buf);
	return rc;
}

/* see http.h */
int net_http_exchange(const struct net_io *io, const char *target, const char *host,
		      const char *ua, const struct net_http_req *req, struct net_http_head *head,
		      struct net_http_resp *resp, bool *reusable)
{
	struct rd *r = calloc(1, sizeof(*r));
	enum net_http_why why;
	uint64_t discarded = 0;
	unsigned interim = 0;
	ssize_t hl;
	bool sink;
	int rc;

	*reusable = false;
	if (!r)
		return -ENOMEM;
	r->io = io;
	r->req = req;
	r->resp = resp;
	r->win_start = r->start_ms = net_now_ms();
	rd_deadline(r, -1);
	if ((rc = send_request(io, target, host, ua, req)) < 0) {
		fail(resp, NET_HTTP_WHY_SEND, rc);
		goto out;
	}
	do {	/* skip interim 1xx responses */
		if ((hl = read_head(r, resp)) < 0) {
			rc = (int)hl;
			goto out;
		}
		rc = net_http_head_parse(r->buf + r->pos, hl, head, &why);
		if (rc < 0) {
			rc = fail(resp, why, -EPROTO);
			goto out;
		}
		r->pos += hl;
		if (head->status < 200 && ++interim > NET_HTTP_INTERIM_MAX) {
			rc = fail(resp, NET_HTTP_WHY_INTERIM, -EPROTO);
			goto out;
		}
	} while (head->status < 200);
	rd_deadline(r, head->content_length);
	resp->status = head->status;
	resp->content_length = head->content_length;
	resp->proxy_error = head->proxy_error;
	sink = head->status >= 200 && head->status < 300;
	if (head->status == 204 || head->status == 304)
		rc = 0;
	else if (head->chunked)
		rc = body_chunked(r, sink, resp, &discarded);
	else if (head->content_length >= 0)
		rc = body_plain(r, head->content_length, sink, resp, &discarded);
	else {
		head->close = true;
		rc = body_plain(r, -1, sink, resp, &discarded);
	}
	if (rc == -EMSGSIZE && !sink) {
		rc = 0;		/* long error body: the status is what matters */
		head->close = true;
	}
	if (rc == 0 && !head->close && r->pos == r->len)
		*reusable = true;
out:
	free(r);
	return rc;
}

/* see http.h */
int net_http_client_init(struct net_http_client *c, const char *ua)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->user_agent, sizeof(c->user_agent), "%s", ua ? ua : "cvmboot/" CVMBOOT_VERSION);
	c->idle_max_ms = 30000;
	if (pthread_mutex_init(&c->lock, NULL) != 0)
		return -ENOMEM;
	return net_http_scheme_add(c, "http", 80, NULL, NULL);
}

/* see http.h */
void net_http_client_fini(struct net_http_client *c)
{
	for (size_t i = 0; i < c->nidle; i++)
		c->idle[i].io.close(c->idle[i].io.arg);
	c->nidle = 0;
	pthread_mutex_destroy(&c->lock);
}

/* see http.h */
int net_http_scheme_add(struct net_http_client *c, const char *name, uint16_t port,
			net_http_wrap_fn wrap, void *ctx)
{
	size_t i;

	if (strlen(name) >= sizeof(c->schemes[0].name))
		return -EINVAL;
	for (i = 0; i < c->nschemes; i++)
		if (strcmp(c->schemes[i].name, name) == 0)
			break;
	if (i == NET_HTTP_SCHEMES_MAX)
		return -ENOSPC;
	snprintf(c->schemes[i].name, sizeof(c->schemes[i].name), "%s", name);
	c->schemes[i].port = port;
	c->schemes[i].wrap = wrap;
	c->schemes[i].ctx = ctx;
	if (i == c->nschemes)
		c->nschemes++;
	return 0;
}

static const struct net_http_scheme *scheme_find(struct net_http_client *c, const char *name)
{
	for (size_t i = 0; i < c->nschemes; i++)
		if (strcmp(c->schemes[i].name, name) == 0)
			return &c->schemes[i];
	return NULL;
}

static bool pool_take(struct net_http_client *c, const char *key, struct net_io *io)
{
	uint64_t now = net_now_ms();
	bool found = false;

	pthread_mutex_lock(&c->lock);
	for (size_t i = c->nidle; i-- > 0;) {
		struct net_http_idle *e = &c->idle[i];

		if (now - e->since_ms > c->idle_max_ms) {
			e->io.close(e->io.arg);
			c->idle[i] = c->idle[--c->nidle];
			continue;
		}
		if (!found && strcmp(e->key, key) == 0) {
			*io = e->io;
			c->idle[i] = c->idle[--c->nidle];
			found = true;
		}
	}
	pthread_mutex_unlock(&c->lock);
	return found;
}

static void pool_put(struct net_http_client *c, const char *key, const struct net_io *io)
{
	struct net_io old = { 0 };

	pthread_mutex_lock(&c->lock);
	if (c->nidle == NET_HTTP_POOL_MAX) {
		old = c->idle[0].io;	/* the oldest goes */
		memmove(c->idle, c->idle + 1, sizeof(c->idle[0]) * (c->nidle - 1));
		c->nidle--;
	}
	snprintf(c->idle[c->nidle].key, sizeof(c->idle[0].key), "%s", key);
	c->idle[c->nidle].io = *io;
	c->idle[c->nidle].since_ms = net_now_ms();
	c->nidle++;
	pthread_mutex_unlock(&c->lock);
	if (old.close)
		old.close(old.arg);
}

/* Resolves (remembering the answer; falling back to the last good one when
 * the resolver fails) and connects. */
static int dns_connect(struct net_http_client *c, const char *host, uint16_t port, uint64_t dl,
		       struct net_io *io)
{
	struct sockaddr_storage a[NET_TCP_ADDRS_MAX];
	size_t n = 0, i;
	int rc = net_tcp_resolve(host, port, dl, a, NET_TCP_ADDRS_MAX, &n);

	pthread_mutex_lock(&c->lock);
	for (i = 0; i < c->ndns; i++)
		if (c->dns[i].port == port && strcmp(c->dns[i].host, host) == 0)
			break;
	if (rc == 0) {
		if (i == c->ndns && c->ndns < NET_HTTP_DNS_MAX)
			c->ndns++;
		if (i < c->ndns) {
			snprintf(c->dns[i].host, sizeof(c->dns[i].host), "%s", host);
			c->dns[i].port = port;
			memcpy(c->dns[i].addr, a, n * sizeof(a[0]));
			c->dns[i].n = n;
		}
	} else if (i < c->ndns && rc == -EHOSTUNREACH) {
		n = c->dns[i].n;
		memcpy(a, c->dns[i].addr, n * sizeof(a[0]));
		c->nstale++;
		rc = 0;
	}
	pthread_mutex_unlock(&c->lock);
	return rc < 0 ? rc : net_tcp_connect(a, n, dl, io);
}

/* Opens a connection for url (through proxy if given) and wraps it. */
static int conn_open(struct net_http_client *c, const struct net_url *u,
		     const struct net_http_scheme *s, const struct net_url *proxy,
		     uint64_t dl, struct net_io *io, struct net_http_resp *resp)
{
	const char *host = proxy ? proxy->host : u->host;
	uint16_t port = proxy ? (proxy->port ? proxy->port : 80) : (u->port ? u->port : s->port);
	struct net_io raw;
	int rc = dns_connect(c, host, port, dl, &raw);

	if (rc < 0)
		return fail(resp, rc == -EHOSTUNREACH ? NET_HTTP_WHY_DNS : NET_HTTP_WHY_CONNECT, rc);
	if (proxy && s->wrap) {
		/* RFC 9110 9.3.6: tunnel through the proxy, then wrap */
		char req[NET_HTTP_HOST_MAX + 64], buf[1024];
		size_t n = 0;
		int m = snprintf(req, sizeof(req), "CONNECT %s:%u HTTP/1.1\r\nHost: %s:%u\r\n\r\n",
				 u->host, u->port ? u->port : s->port, u->host,
				 u->port ? u->port : s->port);

		if ((rc = write_all(&raw, req, m, dl)) < 0)
			goto bad;
		while (n < 4 || memcmp(buf + n - 4, "\r\n\r\n", 4) != 0) {
			ssize_t g;

			if (n == sizeof(buf)) {
				rc = -EPROTO;
				goto bad;
			}
			g = raw.read(raw.arg, buf + n, 1, dl);	/* byte-wise: no over-read */
			if (g <= 0) {
				rc = g < 0 ? (int)g : -EPIPE;
				goto bad;
			}
			n += g;
		}
		if (n < 12 || memcmp(buf, "HTTP/1.", 7) != 0 || buf[9] != '2') {
			resp->proxy_error = true;
			rc = -ECONNREFUSED;
			goto bad;
		}
	}
	if (!s->wrap) {
		*io = raw;
		return 0;
	}
	rc = s->wrap(s->ctx, &raw, u->host, dl, io);
	return rc < 0 ? fail(resp, NET_HTTP_WHY_TLS, rc) : 0;
bad:
	raw.close(raw.arg);
	return fail(resp, NET_HTTP_WHY_CONNECT, rc);
}

/* Resolves a Location against base (absolute or absolute-path only). */
static int redirect_target(const char *base, const char *loc, char *out, size_t len)
{
	struct net_url u;

	if (strstr(loc, "://"))
		return snprintf(out, len, "%s", loc) < (int)len ? 0 : -ELOOP;
	if (loc[0] != '/' || loc[1] == '/' || net_url_parse(base, &u) < 0)
		return -ELOOP;
	if (u.port)
		return snprintf(out, len, "%s://%s:%u%s", u.scheme, u.host, u.port, loc) <
		       (int)len ? 0 : -ELOOP;
	return snprintf(out, len, "%s://%s%s", u.scheme, u.host, loc) < (int)len ? 0 : -ELOOP;
}

static int get_once(struct net_http_client *c, const struct net_http_req *req, const char *url,
		    struct net_http_head *head, struct net_http_resp *resp)
{
	struct net_url *u = malloc(2 * sizeof(*u)), *pu = NULL;
	const struct net_http_scheme *s;
	char key[sizeof(c->idle[0].key)], hosthdr[NET_HTTP_HOST_MAX + 8];
	struct net_io io;
	uint64_t dl;
	bool reusable, pooled;
	int rc;

	if (!u)
		return -ENOMEM;
	if (net_url_parse(url, u) < 0 || !(s = scheme_find(c, u->scheme))) {
		rc = fail(resp, NET_HTTP_WHY_URL, -EINVAL);
		goto out;
	}
	if (req->proxy && *req->proxy && strcasecmp(req->proxy, "DIRECT") != 0) {
		pu = u + 1;
		if (net_url_parse(strstr(req->proxy, "://") ? req->proxy : "", pu) < 0) {
			char tmp[NET_HTTP_URL_MAX];

			snprintf(tmp, sizeof(tmp), "http://%s", req->proxy);
			if (net_url_parse(tmp, pu) < 0) {
				rc = fail(resp, NET_HTTP_WHY_URL, -EINVAL);
				goto out;
			}
		}
	}
	if (u->port && u->port != s->port)
		snprintf(hosthdr, sizeof(hosthdr), strchr(u->host, ':') ? "[%s]:%u" : "%s:%u",
			 u->host, u->port);
	else
		snprintf(hosthdr, sizeof(hosthdr), strchr(u->host, ':') ? "[%s]" : "%s", u->host);
	snprintf(key, sizeof(key), "%s://%s|%s:%u", s->name, hosthdr, pu ? pu->host : "",
		 pu ? pu->port : 0);
	dl = net_now_ms() + (req->connect_timeout_ms ? req->connect_timeout_ms : 10000);
	if (req->deadline_ms && req->deadline_ms < dl)
		dl = req->deadline_ms;
	pooled = pool_take(c, key, &io);
	for (;;) {
		if (!pooled && (rc = conn_open(c, u, s, pu, dl, &io, resp)) < 0)
			goto out;
		/* Plain http through a proxy: absolute-form target (RFC 9112 3.2.2). */
		rc = net_http_exchange(&io, pu && !s->wrap ? url : u->path, hosthdr, c->user_agent,
				       req, head, resp, &reusable);
		if (reusable)
			pool_put(c, key, &io);
		else
			io.close(io.arg);
		/* A pooled connection the server closed meanwhile: retry once, fresh. */
		if (rc < 0 && pooled && resp->status == 0 && resp->body_bytes == 0 &&
		    (resp->why == NET_HTTP_WHY_SHORT || resp->why == NET_HTTP_WHY_SEND ||
		     resp->why == NET_HTTP_WHY_IO)) {
			pooled = false;
			resp->why = NET_HTTP_WHY_NONE;
			continue;
		}
		break;
	}
out:
	free(u);
	return rc;
}

/* see http.h */
int net_http_get(struct net_http_client *c, const struct net_http_req *req,
		 struct net_http_resp *resp)
{
	struct net_http_head *head = malloc(sizeof(*head));
	char *url = malloc(NET_HTTP_URL_MAX);
	int rc, hops = 0;

	memset(resp, 0, sizeof(*resp));
	resp->content_length = -1;
	if (!head || !url) {
		rc = -ENOMEM;
		goto out;
	}
	if (snprintf(url, NET_HTTP_URL_MAX, "%s", req->url) >= NET_HTTP_URL_MAX) {
		rc = fail(resp, NET_HTTP_WHY_URL, -EINVAL);
		goto out;
	}
	for (;;) {
		snprintf(resp->url, sizeof(resp->url), "%s", url);
		rc = get_once(c, req, url, head, resp);
		if (rc < 0 || req->max_redirects <= 0 || resp->status < 300 || resp->status >= 400 ||
		    resp->status == 304)
			break;
		if (++hops > req->max_redirects || hops > NET_HTTP_REDIRECTS_MAX ||
		    redirect_target(resp->url, head->location, url, NET_HTTP_URL_MAX) < 0) {
			rc = fail(resp, NET_HTTP_WHY_REDIRECT, -ELOOP);
			break;
		}
		resp->status = 0;
	}
out:
	free(head);
	free(url);
	return rc;
}
