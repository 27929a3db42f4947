/* SPDX-License-Identifier: MIT */
/* cvmfs-lite/fetch.c: downloads with server failover, proxy groups (load
 * balancing inside a group, failover between groups), retries with backoff,
 * classified as upstream's download manager does (spec §7). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cvmfs-lite/internal.h"

/* Per-object deadline (issue 13): an object must arrive at FETCH_MIN_RATE
 * on average (after two low-speed windows of grace), within FETCH_MAX_MS at
 * most; FETCH_MAX_MS is also the bound of a body of unknown size. */
#define FETCH_MIN_RATE (16 * 1024)
#define FETCH_MAX_MS (10 * 60 * 1000)

/* Result of one attempt, upstream's classes. */
enum cls { OK, HOST, PROXY, TRANSFER, CORRUPT };

static char *expand_host(const char *s, size_t n, const char *fqrn)
{
	size_t cap = n + 2 * strlen(fqrn) + 1, o = 0;
	char *out = malloc(cap);
	size_t orglen = strcspn(fqrn, ".");

	if (!out)
		return NULL;
	for (size_t i = 0; i < n;) {
		if (n - i >= 6 && memcmp(s + i, "@fqrn@", 6) == 0) {
			o += snprintf(out + o, cap - o, "%s", fqrn);
			i += 6;
		} else if (n - i >= 5 && memcmp(s + i, "@org@", 5) == 0) {
			o += snprintf(out + o, cap - o, "%.*s", (int)orglen, fqrn);
			i += 5;
		} else {
			out[o++] = s[i++];
		}
	}
	while (o && out[o - 1] == '/')
		o--;
	out[o] = 0;
	return out;
}

static bool blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t')
			return false;
	return true;
}

/* see internal.h */
int cvmfs_fetch_init(struct cvmfs_fetch *f, const char *hosts, const char *proxies,
		     const char *fqrn, const struct cvmfs_client *log)
{
	const char *p;
	int rc;

	memset(f, 0, sizeof(*f));
	pthread_mutex_init(&f->lock, NULL);
	f->log = log;
	f->rand = net_now_ms() ^ ((uint64_t)(uintptr_t)f << 16) ^ 0x9e3779b97f4a7c15ull;
	if ((rc = net_http_client_init(&f->http, "cvmfs Fuse 2.11.0 (cvmboot " CVMBOOT_VERSION ")")) < 0)
		return rc;
	for (p = hosts ? hosts : ""; *p;) {
		size_t n = strcspn(p, ";,");	/* ',' too: μCernVM lists use it */

		while (n && (*p == ' ' || *p == '\t'))
			p++, n--;
		if (n && !blank(p, n)) {
			if (f->nhosts == CVMFS_HOSTS_MAX)
				return -E2BIG;
			if (!(f->hosts[f->nhosts++] = expand_host(p, n, fqrn)))
				return -ENOMEM;
		}
		p += n;
		if (*p)
			p++;
	}
	if (f->nhosts == 0)
		return -EINVAL;
	for (p = proxies && *proxies ? proxies : "DIRECT"; *p;) {
		size_t gn = strcspn(p, ";");

		if (gn && !blank(p, gn)) {
			size_t g = f->ngroups;

			if (g == CVMFS_PROXY_GROUPS_MAX)
				return -E2BIG;
			for (const char *q = p; q < p + gn;) {
				size_t n = strcspn(q, "|;");

				if (n > (size_t)(p + gn - q))
					n = p + gn - q;
				while (n && (*q == ' ' || *q == '\t'))
					q++, n--;
				while (n && (q[n - 1] == ' ' || q[n - 1] == '\t'))
					n--;
				if (n) {
					if (f->nproxies[g] == CVMFS_PROXIES_MAX)
						return -E2BIG;
					if (!(f->proxies[g][f->nproxies[g]++] = strndup(q, n)))
						return -ENOMEM;
				}
				q += n;
				while (q < p + gn && (*q == '|' || *q == ' '))
					q++;
			}
			if (f->nproxies[g])
				f->ngroups++;
		}
		p += gn;
		if (*p)
			p++;
	}
	if (f->ngroups == 0)
		return -EINVAL;
	f->timeout_ms = 5000;
	f->timeout_direct_ms = 10000;
	f->low_speed_bytes = 1024;
	f->max_retries = 1;
	f->backoff_init_ms = 2000;
	f->backoff_max_ms = 10000;
	f->proxy_reset_ms = 300 * 1000;		/* CVMFS_PROXY_RESET_AFTER */
	f->host_reset_ms = 1800 * 1000;		/* CVMFS_HOST_RESET_AFTER */
	return 0;
}

/* see internal.h */
void cvmfs_fetch_fini(struct cvmfs_fetch *f)
{
	for (size_t i = 0; i < f->nhosts; i++)
		free(f->hosts[i]);
	for (size_t g = 0; g < f->ngroups; g++)
		for (size_t i = 0; i < f->nproxies[g]; i++)
			free(f->proxies[g][i]);
	net_http_client_fini(&f->http);
	pthread_mutex_destroy(&f->lock);
}

static uint64_t rnd(struct cvmfs_fetch *f)
{
	/* xorshift64*: spreads load over proxies and jitters backoff */
	uint64_t x = f->rand;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	f->rand = x;
	return x * 0x2545f4914f6cdd1dull;
}

static bool is_direct(const char *p)
{
	return strcasecmp(p, "DIRECT") == 0;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

struct attempt {
	const struct cvmfs_sink *s;
	int sink_rc;
};

static int body_cb(void *arg, const void *buf, size_t len)
{
	struct attempt *a = arg;
	int rc = a->s->data(a->s->arg, buf, len);

	if (rc < 0)
		a->sink_rc = rc;
	return rc;
}

/* *status: the HTTP status received (0: none); *answered: it came from the
 * server (possibly relayed by a proxy), not from a proxy about its own
 * trouble reaching it. */
static enum cls attempt(struct cvmfs_fetch *f, const char *url, const char *proxy,
			const struct cvmfs_sink *s, bool nocache, int *status, bool *answered)
{
	/* cvmfs gives libcurl an empty "Pragma:", which only removes curl's
	 * own Pragma header: no Pragma goes on the wire. Sent literally, it
	 * is an empty header, for which v86's fetch network refuses the request. */
	static const char *const nc[] = { "Pragma: no-cache", "Cache-Control: no-cache", NULL };
	bool direct = is_direct(proxy);
	unsigned to = direct ? f->timeout_direct_ms : f->timeout_ms;
	struct attempt a = { .s = s };
	struct net_http_req req = {
		.url = url, .proxy = direct ? NULL : proxy, .headers = nocache ? nc : NULL,
		.connect_timeout_ms = to, .low_speed_ms = to, .low_speed_bytes = f->low_speed_bytes,
		.min_rate = FETCH_MIN_RATE, .max_ms = FETCH_MAX_MS, .size_hint = s->size_hint,
		.max_redirects = f->follow_redirects ? 4 : 0, .body = body_cb, .body_arg = &a,
	};
	struct net_http_resp resp;
	int rc;

	*status = 0;
	*answered = false;
	if ((rc = s->reset(s->arg)) < 0)
		return HOST;
	rc = net_http_get(&f->http, &req, &resp);
	*status = resp.status;
	/* Answered: an HTTP status from the server (not a proxy's own error), or
	 * bytes that are not HTTP (a hostile server still counts as reached). */
	*answered = resp.status ? !resp.proxy_error : resp.answered;
	if (rc < 0) {
		if (a.sink_rc < 0) {
			cvmfs_log(f->log, "fetch %s: refused while arriving (%s)", url, strerror(-a.sink_rc));
			return CORRUPT;	/* bad data (e.g. inflate error) */
		}
		cvmfs_log(f->log, "fetch %s%s%s: %s (%s)", url, direct ? "" : " via ",
			  direct ? "" : proxy, net_http_why_str(resp.why), strerror(-rc));
		if (resp.proxy_error)
			return PROXY;
		if (resp.why == NET_HTTP_WHY_REDIRECT)
			return HOST;
		/* connect/timeout/short transfer: the proxy when there is one */
		return TRANSFER;
	}
	if (resp.status >= 200 && resp.status < 300) {
		rc = s->finish(s->arg);
		if (rc < 0) {
			cvmfs_log(f->log, "fetch %s: %s", url, rc == -EBADMSG ?
				  "content does not match its hash" : strerror(-rc));
			return CORRUPT;
		}
		__atomic_add_fetch(&f->nbytes, resp.body_bytes, __ATOMIC_RELAXED);
		return OK;
	}
	cvmfs_log(f->log, "fetch %s%s%s: HTTP %d%s", url, direct ? "" : " via ", direct ? "" : proxy,
		  resp.status, resp.proxy_error ? " (proxy error)" : "");
	if (resp.proxy_error && !direct)
		return PROXY;
	if (resp.status == 429)
		return TRANSFER;
	if ((resp.status >= 300 && resp.status < 400) || resp.status == 400 || resp.status == 404 ||
	    resp.status >= 500)
		return HOST;
	return direct ? HOST : PROXY;
}

/* Tries one host through the proxy chain. Returns OK, HOST (host's fault:
 * next host), or PROXY (every proxy failed). */
static enum cls try_host(struct cvmfs_fetch *f, size_t host, const char *rel,
			 const struct cvmfs_sink *s, bool *all404, bool *reached)
{
	char url[NET_HTTP_URL_MAX];
	size_t g0, p0;

	snprintf(url, sizeof(url), "%s/%s", f->hosts[host], rel);
	pthread_mutex_lock(&f->lock);
	g0 = f->cur_group;
	p0 = f->cur_proxy;
	pthread_mutex_unlock(&f->lock);
	for (size_t gi = 0; gi < f->ngroups; gi++) {
		size_t g = (g0 + gi) % f->ngroups, n = f->nproxies[g];
		size_t start;

		pthread_mutex_lock(&f->lock);
		start = gi == 0 ? p0 % n : rnd(f) % n;
		pthread_mutex_unlock(&f->lock);
		for (size_t pi = 0; pi < n; pi++) {
			size_t p = (start + pi) % n;
			const char *proxy = f->proxies[g][p];
			unsigned backoff = 0;
			bool nocache = false;

			for (unsigned r = 0;; r++) {
				int status;
				bool answered;
				enum cls c = attempt(f, url, proxy, s, nocache, &status, &answered);

				if (answered)
					*reached = true;
				if (c == OK) {
					uint64_t now = net_now_ms();

					pthread_mutex_lock(&f->lock);
					if (host != f->cur_host && host != 0 && f->cur_host == 0)
						f->host_since_ms = now;
					if (g != f->cur_group && g != 0 && f->cur_group == 0)
						f->group_since_ms = now;
					f->cur_host = host;
					f->cur_group = g;
					f->cur_proxy = p;
					pthread_mutex_unlock(&f->lock);
					return OK;
				}
				if (status != 404)
					*all404 = false;
				if (c == CORRUPT && !nocache) {
					/* once more, bypassing caches (spec §7) */
					nocache = true;
					*reached = true;
					continue;
				}
				if (c == HOST || c == CORRUPT)
					return HOST;
				if (c == TRANSFER && r < f->max_retries) {
					pthread_mutex_lock(&f->lock);
					backoff = backoff ? backoff * 2 : (unsigned)(rnd(f) %
						  (f->backoff_init_ms + 1));
					pthread_mutex_unlock(&f->lock);
					if (backoff > f->backoff_max_ms)
						backoff = f->backoff_max_ms;
					sleep_ms(backoff);
					continue;
				}
				if (c == TRANSFER && is_direct(proxy))
					return HOST;	/* no proxy to blame */
				break;	/* PROXY or exhausted TRANSFER: next proxy */
			}
		}
	}
	return PROXY;
}

/* see internal.h */
int cvmfs_fetch_run(struct cvmfs_fetch *f, const char *rel, const struct cvmfs_sink *s)
{
	bool all404 = true, reached = false;
	size_t h0;

	__atomic_add_fetch(&f->nfetch, 1, __ATOMIC_RELAXED);
	pthread_mutex_lock(&f->lock);
	{
		/* After a while on a fallback, give the preferred ones another try. */
		uint64_t now = net_now_ms();

		if (f->cur_group && now - f->group_since_ms > f->proxy_reset_ms) {
			f->cur_group = 0;
			f->cur_proxy = 0;
		}
		if (f->cur_host && now - f->host_since_ms > f->host_reset_ms)
			f->cur_host = 0;
	}
	h0 = f->cur_host;
	pthread_mutex_unlock(&f->lock);
	for (size_t hi = 0; hi < f->nhosts; hi++) {
		size_t h = (h0 + hi) % f->nhosts;

		if (try_host(f, h, rel, s, &all404, &reached) == OK) {
			if (hi)
				cvmfs_log(f->log, "failover: now using %s", f->hosts[h]);
			return 0;
		}
	}
	__atomic_add_fetch(&f->nfail, 1, __ATOMIC_RELAXED);
	cvmfs_log(f->log, "fetch %s: every server and proxy failed", rel);
	if (reached && all404)
		return -ENOENT;
	return reached ? -EIO : -ENETUNREACH;
}

struct memsink {
	unsigned char *buf;
	size_t len, max;
};

static int mem_reset(void *arg)
{
	((struct memsink *)arg)->len = 0;
	return 0;
}

static int mem_data(void *arg, const void *p, size_t n)
{
	struct memsink *m = arg;

	if (m->len + n > m->max)
		return -EFBIG;
	memcpy(m->buf + m->len, p, n);
	m->len += n;
	return 0;
}

static int mem_finish(void *arg)
{
	return 0;
}

/* see internal.h */
uint64_t cvmfs_fetch_deadline_ms(const struct cvmfs_fetch *f, uint64_t size)
{
	uint64_t low = f->timeout_direct_ms > f->timeout_ms ? f->timeout_direct_ms : f->timeout_ms;

	if (!low)
		low = 10000;	/* net/http.c's low-speed window when none is set */
	if (size / FETCH_MIN_RATE >= FETCH_MAX_MS / 1000)
		return FETCH_MAX_MS;
	low = 2 * low + size * 1000 / FETCH_MIN_RATE;
	return low < FETCH_MAX_MS ? low : FETCH_MAX_MS;
}

/* see internal.h */
int cvmfs_fetch_get(void *arg, const char *rel, const struct cvmfs_sink *s)
{
	return cvmfs_fetch_run(arg, rel, s);
}

/* see internal.h */
int cvmfs_fetch_mem(const struct cvmfs_fetcher *fx, const char *rel, size_t max,
		    unsigned char **out, size_t *len)
{
	struct memsink m = { .buf = malloc(max + 1), .max = max };
	struct cvmfs_sink s = { mem_reset, mem_data, mem_finish, &m, max };
	int rc;

	if (!m.buf)
		return -ENOMEM;
	rc = fx->get(fx->arg, rel, &s);
	if (rc < 0) {
		free(m.buf);
		return rc;
	}
	m.buf[m.len] = 0;
	*out = m.buf;
	*len = m.len;
	return 0;
}

/* see internal.h */
void cvmfs_fetch_current(struct cvmfs_fetch *f, char *host, size_t hl, char *proxy, size_t pl)
{
	pthread_mutex_lock(&f->lock);
	snprintf(host, hl, "%s", f->hosts[f->cur_host]);
	snprintf(proxy, pl, "%s", f->proxies[f->cur_group][f->cur_proxy % f->nproxies[f->cur_group]]);
	pthread_mutex_unlock(&f->lock);
}
