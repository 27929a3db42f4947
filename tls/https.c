/* SPDX-License-Identifier: MIT */
/* tls/https.c: the "https" scheme of net/http: a tls_conn over net's plain
 * transport (direct TCP or a proxy's CONNECT tunnel). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "net/http.h"
#include "tls/tls.h"

/* Budget for close_notify when the request's deadline is long gone. */
#define TLS_CLOSE_MS 1000

struct https_conn {
	struct tls_conn tls;
	struct net_io raw;
	uint64_t deadline_ms;		/* of the net_io call in progress */
};

static long raw_read(void *arg, unsigned char *buf, size_t len)
{
	struct https_conn *s = arg;

	return s->raw.read(s->raw.arg, buf, len, s->deadline_ms);
}

static long raw_write(void *arg, const unsigned char *buf, size_t len)
{
	struct https_conn *s = arg;

	return s->raw.write(s->raw.arg, buf, len, s->deadline_ms);
}

static ssize_t https_read(void *arg, void *buf, size_t len, uint64_t deadline_ms)
{
	struct https_conn *s = arg;

	s->deadline_ms = deadline_ms;
	return tls_conn_read(&s->tls, buf, len);
}

static ssize_t https_write(void *arg, const void *buf, size_t len, uint64_t deadline_ms)
{
	struct https_conn *s = arg;

	s->deadline_ms = deadline_ms;
	return tls_conn_write(&s->tls, buf, len);
}

static void https_close(void *arg)
{
	struct https_conn *s = arg;

	s->deadline_ms = net_now_ms() + TLS_CLOSE_MS;
	tls_conn_close(&s->tls);
	s->raw.close(s->raw.arg);
	free(s);
}

static uint64_t now_us(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* see tls.h */
int tls_https_wrap(void *ctx, struct net_io *raw, const char *host, uint64_t deadline_ms,
		   struct net_io *out)
{
	struct tls_https *h = ctx;
	struct https_conn *s = malloc(sizeof(*s));
	struct tls_io io;
	uint64_t t0 = now_us(CLOCK_MONOTONIC), c0 = now_us(CLOCK_THREAD_CPUTIME_ID);
	int rc;

	if (!s) {
		raw->close(raw->arg);
		return -ENOMEM;
	}
	s->raw = *raw;
	s->deadline_ms = deadline_ms;
	io = (struct tls_io){ .read = raw_read, .write = raw_write, .arg = s };
	rc = tls_conn_open(&s->tls, h->tls, host, 0, &io);
	pthread_mutex_lock(&h->lock);
	if (rc < 0) {
		h->why = s->tls.why;
		snprintf(h->detail, sizeof(h->detail), "%s", s->tls.detail);
		snprintf(h->host, sizeof(h->host), "%s", host);
	} else {
		h->handshakes++;
		h->resumed += tls_conn_is_resumed(&s->tls);
		h->last_resumed = tls_conn_is_resumed(&s->tls);
		h->last_us = now_us(CLOCK_MONOTONIC) - t0;
		h->last_cpu_us = now_us(CLOCK_THREAD_CPUTIME_ID) - c0;
	}
	pthread_mutex_unlock(&h->lock);
	if (rc < 0) {
		s->raw.close(s->raw.arg);
		free(s);
		return rc;
	}
	*out = (struct net_io){ .read = https_read, .write = https_write, .close = https_close,
				.arg = s };
	return 0;
}

/* see tls.h */
int tls_https_init(struct tls_https *h, struct tls_ctx *tls)
{
	memset(h, 0, sizeof(*h));
	h->tls = tls;
	return -pthread_mutex_init(&h->lock, NULL);
}

/* see tls.h */
int tls_https_add(struct tls_https *h, struct tls_ctx *tls, struct net_http_client *c)
{
	int rc = tls_https_init(h, tls);

	if (rc < 0)
		return rc;
	rc = net_http_scheme_add(c, "https", 443, tls_https_wrap, h);
	if (rc < 0)
		tls_https_fini(h);
	return rc;
}

/* see tls.h */
int tls_https_why_fmt(struct tls_https *h, char *buf, size_t len)
{
	int n = 0;

	pthread_mutex_lock(&h->lock);
	if (len)
		buf[0] = '\0';
	if (h->why != TLS_WHY_NONE)
		n = snprintf(buf, len, h->detail[0] ? "%s: %s: %s" : "%s: %s", h->host,
			     tls_why_str(h->why), h->detail);
	pthread_mutex_unlock(&h->lock);
	return n;
}

/* see tls.h */
void tls_https_fini(struct tls_https *h)
{
	pthread_mutex_destroy(&h->lock);
}
