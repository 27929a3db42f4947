/* SPDX-License-Identifier: MIT */
/* boot/geo.c: CernVM-FS Geo-API server ordering (CVMFS_USE_GEOAPI, on in
 * μCernVM): the first server that answers
 * GET <url>/api/v1.0/geo/<proxy-or-x>/<host1>,<host2>,... returns the
 * 1-based indices of the hosts, nearest first; the URLs are reordered so.
 * A bad or missing answer keeps the configured order. The question goes
 * through the first proxy when one is configured (boot_geo_http_fetch). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "boot/boot.h"
#include "boot/context.h"
#include "net/http.h"

/* see context.h */
int boot_geo_parse(const char *body, size_t len, size_t n, size_t *order)
{
	unsigned char seen[BOOT_CFG_URLS_MAX] = { 0 };
	size_t i = 0, k = 0;

	if (n == 0 || n > BOOT_CFG_URLS_MAX)
		return -EINVAL;
	while (len > 0 && (body[len - 1] == '\n' || body[len - 1] == '\r' || body[len - 1] == ' '))
		len--;
	while (i < len) {
		size_t v = 0, d = 0;

		for (; i < len && body[i] >= '0' && body[i] <= '9' && d < 4; i++, d++)
			v = v * 10 + (size_t)(body[i] - '0');
		if (d == 0 || v < 1 || v > n || seen[v - 1] || k == n)
			return -EBADMSG;
		seen[v - 1] = 1;
		order[k++] = v - 1;
		if (i < len && body[i++] != ',')
			return -EBADMSG;
		if (i == len && body[len - 1] == ',')
			return -EBADMSG;
	}
	return k == n ? 0 : -EBADMSG;
}

/* see context.h */
void boot_geo_proxy(const char *proxies, char *out, size_t cap)
{
	size_t n = strcspn(proxies ? proxies : "", ";|");

	out[0] = '\0';
	if (!proxies || n == 0 || n >= cap || strncasecmp(proxies, "DIRECT", n) == 0)
		return;
	memcpy(out, proxies, n);
	out[n] = '\0';
}

/* The host of a proxy list's first entry, or "x" when it is DIRECT or
 * there is none. */
static void proxy_name(const char *proxies, char *out, size_t cap)
{
	struct net_url u;
	char first[BOOT_CFG_URL_MAX];

	snprintf(out, cap, "x");
	boot_geo_proxy(proxies, first, sizeof(first));
	if (first[0] && net_url_parse(first, &u) == 0 && u.host[0])
		snprintf(out, cap, "%s", u.host);
}

/* see context.h */
int boot_geo_order(struct boot_cfg_repo *r, boot_fetch_fn fetch, void *arg,
		   uint64_t deadline_ms, boot_cfg_log_fn log, void *larg)
{
	char hosts[BOOT_CFG_URLS_MAX * (NET_HTTP_HOST_MAX + 1)], proxy[NET_HTTP_HOST_MAX];
	char url[BOOT_CFG_URL_MAX + sizeof(hosts) + 64], body[256];
	char sorted[BOOT_CFG_URLS_MAX][BOOT_CFG_URL_MAX];
	size_t order[BOOT_CFG_URLS_MAX], i, n = 0, len;
	struct net_url u;
	int st;

	if (r->nurls < 2)
		return 0;
	for (i = 0; i < r->nurls; i++) {
		if (net_url_parse(r->urls[i], &u) < 0 || !u.host[0])
			return -EINVAL;
		n += (size_t)snprintf(hosts + n, sizeof(hosts) - n, "%s%s", i ? "," : "", u.host);
	}
	proxy_name(r->proxy, proxy, sizeof(proxy));
	for (i = 0; i < r->nurls; i++) {
		uint64_t now = boot_now_ms();

		if (now >= deadline_ms)
			break;
		snprintf(url, sizeof(url), "%s/api/v1.0/geo/%s/%s", r->urls[i], proxy, hosts);
		st = fetch(arg, "GET", url, NULL, body, sizeof(body) - 1, &len,
			   now + BOOT_GEO_SERVER_MS < deadline_ms ? now + BOOT_GEO_SERVER_MS :
			   deadline_ms);
		if (st < 0) {
			boot_cfg_say(log, larg, "geo-api: %s: %s; trying the next server",
				     r->urls[i], strerror(-st));
			continue;
		}
		if (st != 200) {
			boot_cfg_say(log, larg, "geo-api: %s answered HTTP %d; keeping the "
				     "configured server order", r->urls[i], st);
			return 0;
		}
		if (boot_geo_parse(body, len, r->nurls, order) < 0) {
			boot_cfg_say(log, larg, "geo-api: %s answered '%.*s', not a permutation of "
				     "1..%zu; keeping the configured server order", r->urls[i],
				     (int)(len < 64 ? len : 64), body, r->nurls);
			return 0;
		}
		body[len] = '\0';
		body[strcspn(body, "\r\n")] = '\0';
		boot_cfg_say(log, larg, "geo-api: %s orders the servers %s; first now %s",
			     r->urls[i], body, r->urls[order[0]]);
		for (n = 0; n < r->nurls; n++)
			memcpy(sorted[n], r->urls[order[n]], sizeof(sorted[n]));
		memcpy(r->urls, sorted, r->nurls * sizeof(sorted[0]));
		return 1;
	}
	boot_cfg_say(log, larg, "geo-api: no server answered; keeping the configured order");
	return 0;
}
