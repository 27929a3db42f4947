/* SPDX-License-Identifier: MIT */
/* tests/unit/net-http_test.c: the HTTP/1.1 client against crafted bytes:
 * heads, bodies (Content-Length, chunked, close), strict rejection, URLs. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "net/http.h"

/* A transport that replays canned bytes, a few at a time, and records what
 * was written. */
struct mem {
	const char *in;
	size_t len, pos, step;
	char out[4096];
	size_t outlen;
	int fail_read;		/* error returned once the input is used up (0 = EOF) */
};

static ssize_t mem_read(void *arg, void *buf, size_t len, uint64_t dl)
{
	struct mem *m = arg;
	size_t n = m->len - m->pos;

	if (n == 0)
		return m->fail_read;
	if (n > len)
		n = len;
	if (m->step && n > m->step)
		n = m->step;
	memcpy(buf, m->in + m->pos, n);
	m->pos += n;
	return (ssize_t)n;
}

static ssize_t mem_write(void *arg, const void *buf, size_t len, uint64_t dl)
{
	struct mem *m = arg;

	if (m->outlen + len > sizeof(m->out))
		return -ENOSPC;
	memcpy(m->out + m->outlen, buf, len);
	m->outlen += len;
	return (ssize_t)len;
}

static void mem_close(void *arg)
{
}

struct sink {
	char buf[65536];
	size_t len;
};

static int sink_body(void *arg, const void *p, size_t n)
{
	struct sink *s = arg;

	if (s->len + n > sizeof(s->buf))
		return -EFBIG;
	memcpy(s->buf + s->len, p, n);
	s->len += n;
	return 0;
}

/* Runs one exchange over canned input; returns the rc. */
static int run(const char *in, size_t step, struct sink *s, struct net_http_resp *resp,
	       bool *reusable, struct mem *m)
{
	struct net_io io = { mem_read, mem_write, mem_close, m };
	struct net_http_req req = { .url = "http://h/x", .body = sink_body, .body_arg = s };
	struct net_http_head head;

	memset(m, 0, sizeof(*m));
	m->in = in;
	m->len = strlen(in);
	m->step = step;
	memset(s, 0, sizeof(*s));
	memset(resp, 0, sizeof(*resp));
	return net_http_exchange(&io, "/x", "h:8080", "ua/1", &req, &head, resp, reusable);
}

static void content_length_body(void **state)
{
	struct sink s;
	struct net_http_resp r;
	struct mem m;
	bool reuse;

	(void)state;
	for (size_t step = 0; step < 4; step++) {
		assert_int_equal(run("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", step, &s, &r,
				     &reuse, &m), 0);
		assert_int_equal(r.status, 200);
		assert_int_equal(s.len, 5);
		assert_memory_equal(s.buf, "hello", 5);
		assert_true(reuse);
	}
	assert_non_null(strstr(m.out, "GET /x HTTP/1.1\r\nHost: h:8080\r\nUser-Agent: ua/1\r\n"));
	assert_non_null(strstr(m.out, "Connection: Keep-Alive\r\n"));
	assert_memory_equal(m.out + m.outlen - 4, "\r\n\r\n", 4);
}

static void chunked_body(void **state)
{
	struct sink s;
	struct net_http_resp r;
	struct mem m;
	bool reuse;

	(void)state;
	for (size_t step = 0; step < 3; step++) {
		assert_int_equal(run("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
				     "3;ext=1\r\nabc\r\nA\r\n0123456789\r\n0\r\nX-Trailer: y\r\n\r\n",
				     step, &s, &r, &reuse, &m), 0);
		assert_int_equal(s.len, 13);
		assert_memory_equal(s.buf, "abc0123456789", 13);
		assert_true(reuse);
	}
}

static void close_delimited_and_interim(void **state)
{
	struct sink s;
	struct net_http_resp r;
	struct mem m;
	bool reuse;

	(void)state;
	assert_int_equal(run("HTTP/1.0 200 OK\r\n\r\nuntil close", 0, &s, &r, &reuse, &m), 0);
	assert_int_equal(s.len, 11);
	assert_false(reuse);
	assert_int_equal(run("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
			     "\r\nok", 0, &s, &r, &reuse, &m), 0);
	assert_int_equal(r.status, 200);
	assert_int_equal(s.len, 2);
	/* error statuses: body discarded, not delivered; keep-alive kept */
	assert_int_equal(run("HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found", 0, &s,
			     &r, &reuse, &m), 0);
	assert_int_equal(r.status, 404);
	assert_int_equal(s.len, 0);
	assert_true(reuse);
	/* bare LF line ends are tolerated */
	assert_int_equal(run("HTTP/1.1 200 OK\nContent-Length: 1\n\nx", 0, &s, &r, &reuse, &m), 0);
	assert_int_equal(s.len, 1);
	/* squid marks its own errors */
	assert_int_equal(run("HTTP/1.1 503 Unavailable\r\nX-Squid-Error: ERR_CONNECT_FAIL 111\r\n"
			     "Content-Length: 0\r\n\r\n", 0, &s, &r, &reuse, &m), 0);
	assert_true(r.proxy_error);
}

static void rejects(void **state)
{
	static const struct {
		const char *in;
		int rc;
		enum net_http_why why;
	} t[] = {
		{ "HTTP/1.1 20 OK\r\n\r\n", -EPROTO, NET_HTTP_WHY_STATUS_LINE },
		{ "HTTP/2 200 OK\r\n\r\n", -EPROTO, NET_HTTP_WHY_STATUS_LINE },
		{ "ICY 200 OK\r\n\r\n", -EPROTO, NET_HTTP_WHY_STATUS_LINE },
		{ "HTTP/1.1 200OK\r\n\r\n", -EPROTO, NET_HTTP_WHY_STATUS_LINE },
		{ "<html>200</html>\r\n\r\n", -EPROTO, NET_HTTP_WHY_STATUS_LINE },
		{ "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", -EPROTO, NET_HTTP_WHY_LENGTH },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n", -EPROTO,
		  NET_HTTP_WHY_LENGTH },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n", -EPROTO, NET_HTTP_WHY_LENGTH },
		{ "HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n", -EPROTO, NET_HTTP_WHY_LENGTH },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", -EPROTO,
		  NET_HTTP_WHY_LENGTH },
		{ "HTTP/1.1 200 OK\r\nBad Header: x\r\n\r\n", -EPROTO, NET_HTTP_WHY_HEADER },
		{ "HTTP/1.1 200 OK\r\nNoColon\r\n\r\n", -EPROTO, NET_HTTP_WHY_HEADER },
		{ "HTTP/1.1 200 OK\r\n folded: x\r\n\r\n", -EPROTO, NET_HTTP_WHY_HEADER },
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", -EPROTO, NET_HTTP_WHY_HEADER },
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", -EPROTO,
		  NET_HTTP_WHY_CHUNK },
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\n", -EPROTO,
		  NET_HTTP_WHY_CHUNK },
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\n",
		  -EPROTO, NET_HTTP_WHY_CHUNK },
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n", -EPROTO,
		  NET_HTTP_WHY_CHUNK },
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nab", -EPIPE,
		  NET_HTTP_WHY_SHORT },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", -EPIPE, NET_HTTP_WHY_SHORT },
		{ "", -EPIPE, NET_HTTP_WHY_SHORT },
		{ "HTTP/1.1 200 OK\r\nContent-Len", -EPROTO, NET_HTTP_WHY_STATUS_LINE },
	};
	struct sink s;
	struct net_http_resp r;
	struct mem m;
	bool reuse;

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int rc = run(t[i].in, 0, &s, &r, &reuse, &m);

		if (rc != t[i].rc || r.why != t[i].why)
			fail_msg("case %zu (%s): rc %d why %d (%s)", i, t[i].in, rc, r.why,
				 net_http_why_str(r.why));
		assert_false(reuse);
	}
}

static void oversized_head(void **state)
{
	size_t n = NET_HTTP_HEAD_MAX + 100;
	char *in = malloc(n + 64);
	struct sink s;
	struct net_http_resp r;
	struct mem m;
	bool reuse;

	(void)state;
	strcpy(in, "HTTP/1.1 200 OK\r\nX-Big: ");
	memset(in + strlen(in), 'a', n);
	strcpy(in + 25 + n, "\r\n\r\n");
	assert_int_equal(run(in, 0, &s, &r, &reuse, &m), -EPROTO);
	assert_int_equal(r.why, NET_HTTP_WHY_LINE_LONG);
	free(in);
}

/* A scripted hostile server: a prefix, then a unit repeated without end
 * (up to `cap` bytes, then EOF, so that a client without limits fails the
 * test instead of hanging it), one byte every gap_ms when gap_ms > 0. */
struct script {
	const char *prefix, *unit;
	size_t sent, cap;
	unsigned gap_ms;
};

static ssize_t script_read(void *arg, void *buf, size_t len, uint64_t dl)
{
	struct script *sc = arg;
	size_t pl = strlen(sc->prefix), ul = strlen(sc->unit), n = 0;
	char *out = buf;

	if (sc->sent >= sc->cap)
		return 0;
	if (sc->gap_ms) {
		uint64_t now = net_now_ms(), at = now + sc->gap_ms;
		struct timespec ts;

		if (at > dl)
			at = dl;
		ts.tv_sec = (at - now) / 1000;
		ts.tv_nsec = (long)((at - now) % 1000) * 1000000;
		nanosleep(&ts, NULL);
		if (at == dl && now + sc->gap_ms > dl)
			return -ETIMEDOUT;
		len = 1;
	}
	while (n < len && sc->sent < sc->cap) {
		out[n++] = sc->sent < pl ? sc->prefix[sc->sent] :
			   ul ? sc->unit[(sc->sent - pl) % ul] : 'x';
		sc->sent++;
	}
	return (ssize_t)n;
}

static ssize_t null_write(void *arg, const void *buf, size_t len, uint64_t dl)
{
	return (ssize_t)len;
}

static int run_script(struct script *sc, struct net_http_req *req, struct net_http_resp *r,
		      struct sink *s)
{
	struct net_io io = { script_read, null_write, mem_close, sc };
	struct net_http_head head;
	bool reuse;

	memset(r, 0, sizeof(*r));
	memset(s, 0, sizeof(*s));
	req->url = "http://h/x";
	req->body = sink_body;
	req->body_arg = s;
	return net_http_exchange(&io, "/x", "h", "ua", req, &head, r, &reuse);
}

/* issue 13 case 11: an endless header line, endless headers, a huge head
 * and endless 1xx responses are each refused early and named. */
static void hostile_heads(void **state)
{
	static const struct {
		const char *prefix, *unit;
		enum net_http_why why;
	} t[] = {
		{ "HTTP/1.1 200 OK\r\nX-Endless: ", "a", NET_HTTP_WHY_LINE_LONG },
		{ "HTTP/1.1 200 OK", " and on", NET_HTTP_WHY_LINE_LONG },
		{ "HTTP/1.1 200 OK\r\n", "X-Many: v\r\n", NET_HTTP_WHY_HEADERS_MANY },
		{ "HTTP/1.1 200 OK\r\n", "X-Long: "
		  "0123456789012345678901234567890123456789012345678901234567890123456789"
		  "0123456789012345678901234567890123456789012345678901234567890123456789"
		  "0123456789012345678901234567890123456789012345678901234567890123456789"
		  "0123456789012345678901234567890123456789012345678901234567890123456789"
		  "\r\n", NET_HTTP_WHY_HEAD_BIG },
		{ "", "HTTP/1.1 100 Continue\r\n\r\n", NET_HTTP_WHY_INTERIM },
		{ "", "HTTP/1.1 102 Processing\r\nX-A: b\r\n\r\n", NET_HTTP_WHY_INTERIM },
	};
	struct sink s;
	struct net_http_resp r;

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct script sc = { .prefix = t[i].prefix, .unit = t[i].unit, .cap = 4 << 20 };
		struct net_http_req req = { 0 };
		int rc = run_script(&sc, &req, &r, &s);

		if (rc != -EPROTO || r.why != t[i].why || sc.sent > 64 * 1024)
			fail_msg("case %zu: rc %d why %d (%s) after %zu bytes", i, rc, r.why,
				 net_http_why_str(r.why), sc.sent);
		assert_true(r.answered);
		assert_int_equal(r.status, 0);
	}
	/* up to the caps is fine */
	{
		char in[2048] = "";
		struct mem m;
		bool reuse;

		for (int i = 0; i < NET_HTTP_INTERIM_MAX; i++)
			strcat(in, "HTTP/1.1 100 Continue\r\n\r\n");
		strcat(in, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
		assert_int_equal(run(in, 0, &s, &r, &reuse, &m), 0);
		assert_int_equal(s.len, 2);
	}
	{
		size_t cap = 32 + NET_HTTP_HEADERS_MAX * 12 + 64;
		char *in = malloc(cap);
		struct mem m;
		bool reuse;

		strcpy(in, "HTTP/1.1 200 OK\r\n");
		for (int i = 0; i < NET_HTTP_HEADERS_MAX - 1; i++)
			strcat(in, "X-Many: v\r\n");
		strcat(in, "Content-Length: 2\r\n\r\nok");
		assert_int_equal(run(in, 0, &s, &r, &reuse, &m), 0);
		assert_int_equal(s.len, 2);
		free(in);
	}
	/* the pure parser has the same caps */
	{
		struct net_http_head h;
		enum net_http_why why;
		size_t cap = 32 + (NET_HTTP_HEADERS_MAX + 1) * 12 + 8;
		char *in = malloc(cap);

		strcpy(in, "HTTP/1.1 200 OK\r\n");
		for (int i = 0; i < NET_HTTP_HEADERS_MAX + 1; i++)
			strcat(in, "X-Many: v\r\n");
		strcat(in, "\r\n");
		assert_int_equal(net_http_head_parse(in, strlen(in), &h, &why), -EMSGSIZE);
		assert_int_equal(why, NET_HTTP_WHY_HEADERS_MANY);
		free(in);
	}
}

/* issue 13 case 4: a body trickling above the low-speed floor meets the
 * per-object deadline, derived from the size (Content-Length, or the
 * caller's size_hint, which a lying Content-Length cannot extend) and
 * min_rate, capped at max_ms. */
static void object_deadline(void **state)
{
	static const struct {
		const char *prefix;
		uint64_t hint;
		unsigned max_ms;
	} t[] = {
		/* 300 bytes at >= 1000 B/s: 2 windows (2000 ms) + 300 ms */
		{ "HTTP/1.1 200 OK\r\nContent-Length: 300\r\n\r\n", 0, 60000 },
		/* a lying Content-Length does not extend the caller's bound */
		{ "HTTP/1.1 200 OK\r\nContent-Length: 1000000000\r\n\r\n", 300, 60000 },
		/* unknown size: max_ms */
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n100000\r\n", 0, 500 },
		/* endless 1xx, trickled: max_ms (before the head, the size is not known) */
		{ "HTTP/1.1 100 Continue\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 0, 500 },
	};
	struct sink s;
	struct net_http_resp r;

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		/* 1 byte / 10 ms = 100 B/s: far above the floor (10 B per 1 s window,
		 * so a busy machine cannot trip it), below the deadline's rate */
		struct script sc = { .prefix = t[i].prefix, .unit = "", .cap = 1500, .gap_ms = 10 };
		struct net_http_req req = { .low_speed_ms = 1000, .low_speed_bytes = 10,
					    .min_rate = 1000, .max_ms = t[i].max_ms,
					    .size_hint = t[i].hint };
		uint64_t t0 = net_now_ms(), took;
		int rc = run_script(&sc, &req, &r, &s);

		took = net_now_ms() - t0;
		if (rc != -ETIMEDOUT || r.why != NET_HTTP_WHY_DEADLINE || took > 15000)
			fail_msg("case %zu: rc %d why %d (%s) after %llu ms", i, rc, r.why,
				 net_http_why_str(r.why), (unsigned long long)took);
		assert_true(took >= 450);
	}
	/* the same bound, met */
	{
		struct script sc = { .prefix = "HTTP/1.1 200 OK\r\nContent-Length: 300\r\n\r\n",
				     .unit = "", .cap = 300 + 40 };
		struct net_http_req req = { .low_speed_ms = 100, .low_speed_bytes = 10,
					    .min_rate = 1000, .max_ms = 60000 };

		assert_int_equal(run_script(&sc, &req, &r, &s), 0);
		assert_int_equal(s.len, 300);
	}
}

static void transport_timeout(void **state)
{
	struct sink s;
	struct net_http_resp r;
	struct mem m;
	struct net_io io = { mem_read, mem_write, mem_close, &m };
	struct net_http_req req = { .url = "http://h/x", .body = sink_body, .body_arg = &s };
	struct net_http_head head;
	bool reuse;

	(void)state;
	memset(&m, 0, sizeof(m));
	memset(&r, 0, sizeof(r));
	memset(&s, 0, sizeof(s));
	m.in = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial";
	m.len = strlen(m.in);
	m.fail_read = -ETIMEDOUT;
	assert_int_equal(net_http_exchange(&io, "/x", "h", "ua", &req, &head, &r, &reuse),
			 -ETIMEDOUT);
	assert_int_equal(r.why, NET_HTTP_WHY_TIMEOUT);
	assert_int_equal(s.len, 7);
}

static void chunk_sizes(void **state)
{
	uint64_t v;

	(void)state;
	assert_int_equal(net_http_chunk_size_parse("1F", 2, &v), 0);
	assert_int_equal(v, 31);
	assert_int_equal(net_http_chunk_size_parse("0", 1, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(net_http_chunk_size_parse("a ; x=y", 7, &v), 0);
	assert_int_equal(v, 10);
	assert_int_equal(net_http_chunk_size_parse("", 0, &v), -EPROTO);
	assert_int_equal(net_http_chunk_size_parse("g", 1, &v), -EPROTO);
	assert_int_equal(net_http_chunk_size_parse("1 2", 3, &v), -EPROTO);
	assert_int_equal(net_http_chunk_size_parse("7fffffffffffffff", 16, &v), 0);
	assert_int_equal(net_http_chunk_size_parse("80000000000000000", 17, &v), -EPROTO);
}

static void urls(void **state)
{
	struct net_url u;

	(void)state;
	assert_int_equal(net_url_parse("http://example.org/cvmfs/x?y=1#frag", &u), 0);
	assert_string_equal(u.scheme, "http");
	assert_string_equal(u.host, "example.org");
	assert_int_equal(u.port, 0);
	assert_string_equal(u.path, "/cvmfs/x?y=1");
	assert_int_equal(net_url_parse("HTTPS://127.0.0.1:8443", &u), 0);
	assert_string_equal(u.scheme, "https");
	assert_int_equal(u.port, 8443);
	assert_string_equal(u.path, "/");
	assert_int_equal(net_url_parse("http://[::1]:80/a", &u), 0);
	assert_string_equal(u.host, "::1");
	assert_int_equal(net_url_parse("http://host:0/", &u), -EINVAL);
	assert_int_equal(net_url_parse("http://host:65536/", &u), -EINVAL);
	assert_int_equal(net_url_parse("http://host:8x/", &u), -EINVAL);
	assert_int_equal(net_url_parse("http:///path", &u), -EINVAL);
	assert_int_equal(net_url_parse("http://user:pw@host/", &u), -EINVAL);
	assert_int_equal(net_url_parse("host/path", &u), -EINVAL);
	assert_int_equal(net_url_parse("http://ho st/", &u), -EINVAL);
	assert_int_equal(net_url_parse("http://host/a b", &u), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(content_length_body),
		cmocka_unit_test(chunked_body),
		cmocka_unit_test(close_delimited_and_interim),
		cmocka_unit_test(rejects),
		cmocka_unit_test(oversized_head),
		cmocka_unit_test(transport_timeout),
		cmocka_unit_test(hostile_heads),
		cmocka_unit_test(object_deadline),
		cmocka_unit_test(chunk_sizes),
		cmocka_unit_test(urls),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
