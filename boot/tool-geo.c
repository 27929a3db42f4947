/* SPDX-License-Identifier: MIT */
/* boot/tool-geo.c: `cvmboot geo-order [--proxy LIST] URL...`: the Geo-API
 * question PID 1 asks before mounting, through net/http; prints the URLs in
 * the order PID 1 would use them. Host tool only. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "boot/boot.h"
#include "boot/context.h"
#include "boot/tool.h"
#include "net/http.h"

static void say(void *arg, const char *msg)
{
	(void)arg;
	fprintf(stderr, "%s\n", msg);
}

/* see tool.h */
int boot_cli_geo_order(int argc, char **argv)
{
	static const struct option opts[] = { { "proxy", 1, 0, 'p' }, { 0, 0, 0, 0 } };
	static struct boot_cfg_repo r;
	struct net_http_client c;
	struct boot_geo_net g;
	size_t i;
	int ch, rc;

	memset(&r, 0, sizeof(r));
	optind = 1;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch != 'p')
			goto usage;
		snprintf(r.proxy, sizeof(r.proxy), "%s", optarg);
	}
	if (optind == argc || argc - optind > BOOT_CFG_URLS_MAX)
		goto usage;
	for (i = 0; optind < argc; optind++, i++)
		snprintf(r.urls[i], sizeof(r.urls[i]), "%s", argv[optind]);
	r.nurls = i;
	if (net_http_client_init(&c, "cvmboot/" CVMBOOT_VERSION) < 0)
		return 1;
	g.http = &c;
	boot_geo_proxy(r.proxy, g.proxy, sizeof(g.proxy));
	rc = boot_geo_order(&r, boot_geo_http_fetch, &g, boot_now_ms() + BOOT_GEO_MS, say, NULL);
	net_http_client_fini(&c);
	if (rc < 0)
		return 1;
	for (i = 0; i < r.nurls; i++)
		printf("%s\n", r.urls[i]);
	return 0;
usage:
	fprintf(stderr, "usage: cvmboot geo-order [--proxy LIST] URL URL...\n");
	return 2;
}
