/* SPDX-License-Identifier: MIT */
/* fuzz_http_exchange: whole HTTP responses through net_http_exchange over a
 * fake transport that serves the input in reads of 1..256 bytes (the size
 * from the first input byte), then EOF or a timeout (second byte). Checks
 * that a 2xx body handed to the sink never exceeds Content-Length. */
#include "tests/fuzz/fuzz.h"
#include "net/http.h"

struct mem {
	const uint8_t *in;
	size_t len, pos, step;
	int fail;
};

static ssize_t mem_read(void *arg, void *buf, size_t len, uint64_t dl)
{
	struct mem *m = arg;
	size_t n = m->len - m->pos;

	if (n == 0)
		return m->fail;
	if (n > len)
		n = len;
	if (n > m->step)
		n = m->step;
	memcpy(buf, m->in + m->pos, n);
	m->pos += n;
	return (ssize_t)n;
}

static ssize_t mem_write(void *arg, const void *buf, size_t len, uint64_t dl)
{
	return (ssize_t)len;
}

static void mem_close(void *arg)
{
}

struct sink {
	uint64_t len;
	int refuse_after;	/* abort the body after this many calls (0 = never) */
	int calls;
};

static int sink_body(void *arg, const void *p, size_t n)
{
	struct sink *s = arg;
	volatile uint8_t x = 0;

	for (size_t i = 0; i < n; i++)	/* touch every byte: ASan checks the range */
		x ^= ((const uint8_t *)p)[i];
	(void)x;
	s->len += n;
	if (s->refuse_after && ++s->calls >= s->refuse_after)
		return -EFBIG;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct mem m = { 0 };
	struct net_io io = { mem_read, mem_write, mem_close, &m };
	struct sink s = { 0 };
	struct net_http_req req = { .url = "http://h/x", .body = sink_body, .body_arg = &s,
				    .deadline_ms = 0 };
	struct net_http_head head;
	struct net_http_resp resp;
	uint8_t *copy;
	bool reusable = false;
	int rc;

	if (n < 2 || n > 65536)
		return 0;
	m.step = (size_t)d[0] + 1;
	m.fail = (d[1] & 1) ? -ETIMEDOUT : 0;
	s.refuse_after = (d[1] >> 1) & 3;
	copy = malloc(n - 2 ? n - 2 : 1);
	memcpy(copy, d + 2, n - 2);
	m.in = copy;
	m.len = n - 2;
	memset(&resp, 0, sizeof(resp));
	rc = net_http_exchange(&io, "/x", "h:8080", "fuzz/1", &req, &head, &resp, &reusable);
	if (rc == 0 && resp.status >= 200 && resp.status < 300 && resp.content_length >= 0 &&
	    s.len > (uint64_t)resp.content_length)
		abort();	/* more body bytes than the server announced */
	if (s.len != resp.body_bytes)
		abort();	/* resp->body_bytes must count what the sink got */
	net_http_why_str(resp.why);
	free(copy);
	return 0;
}
