/* SPDX-License-Identifier: MIT */
/* net/cli-dhcp.c: `cvmboot dhcp`, the net stage of PID 1 run on the host
 * (in a network namespace for the tests). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/cli.h"
#include "net/net.h"

#define CLI_CTX_MAX 16

static int usage(void)
{
	fprintf(stderr, "usage: cvmboot dhcp IFACE...|--all [--timeout S] [--resolv PATH]\n"
		"         [--ip IP=VALUE] [--ctx ETH0_KEY=VALUE]... [--carrier S] [--hostname NAME]\n"
		"         [--no-apply]\n"
		"  Brings lo and the NICs up (--all: every Ethernet NIC, as PID 1 does), gets a\n"
		"  DHCP lease (first NIC wins) or applies the static ip=/ETH0_* values, hands\n"
		"  it to the kernel and writes resolv.conf. Run it in a network namespace.\n");
	return 2;
}

static int secs_arg(const char *s, uint32_t *ms)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end || v < 0 || v > 3600)
		return -EINVAL;
	*ms = (uint32_t)(v * 1000);
	return 0;
}

static void print_lease(const struct net_lease *l)
{
	char a[INET_ADDRSTRLEN], g[INET_ADDRSTRLEN];
	size_t i;

	inet_ntop(AF_INET, &l->addr, a, sizeof(a));
	printf("ifname=%s\naddr=%s/%u\n", l->ifname, a, l->prefix);
	inet_ntop(AF_INET, &l->gw, g, sizeof(g));
	printf("gw=%s\n", l->gw.s_addr ? g : "");
	inet_ntop(AF_INET, &l->server, a, sizeof(a));
	printf("server=%s\nlease_secs=%u\nmtu=%u\n", a, l->lease_secs, l->mtu);
	if (l->mtu_err)
		printf("mtu_err=%s\n", strerror(-l->mtu_err));
	printf("dns=");
	for (i = 0; i < l->ndns; i++) {
		inet_ntop(AF_INET, &l->dns[i], a, sizeof(a));
		printf("%s%s", i ? "," : "", a);
	}
	printf("\nsearch=%s\n", l->search);
	for (i = 0; i < l->nroutes; i++) {
		inet_ntop(AF_INET, &l->routes[i].dst, a, sizeof(a));
		inet_ntop(AF_INET, &l->routes[i].gw, g, sizeof(g));
		printf("route=%s/%u via %s\n", a, l->routes[i].prefix, g);
	}
	printf("discovers=%u\ntook_ms=%llu\n", l->discovers, (unsigned long long)l->took_ms);
}

/* see net.h */
int net_cli_dhcp(int argc, char **argv)
{
	struct net_cfg cfg = { 0 };
	struct net_kv ctx[CLI_CTX_MAX];
	char ctxbuf[CLI_CTX_MAX][128];
	struct net_lease l;
	uint32_t timeout = NET_DEFAULT_TIMEOUT_MS;
	int i, rc, all = 0;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--no-apply") == 0) {
			cfg.no_apply = 1;
		} else if (strcmp(a, "--all") == 0) {
			all = 1;
		} else if (a[0] == '-' && a[1] == '-' && !v) {
			return usage();
		} else if (strcmp(a, "--timeout") == 0) {
			if (secs_arg(v, &timeout) < 0)
				return usage();
			i++;
		} else if (strcmp(a, "--carrier") == 0) {
			if (secs_arg(v, &cfg.carrier_ms) < 0)
				return usage();
			i++;
		} else if (strcmp(a, "--resolv") == 0) {
			cfg.resolv_path = v, i++;
		} else if (strcmp(a, "--ip") == 0) {
			cfg.ip_arg = strncmp(v, "ip=", 3) == 0 ? v + 3 : v, i++;
		} else if (strcmp(a, "--ctx") == 0) {
			char *eq;

			if (cfg.nctx >= CLI_CTX_MAX || strlen(v) >= sizeof(ctxbuf[0]) ||
			    !strchr(v, '='))
				return usage();
			strcpy(ctxbuf[cfg.nctx], v);
			eq = strchr(ctxbuf[cfg.nctx], '=');
			*eq = '\0';
			ctx[cfg.nctx].key = ctxbuf[cfg.nctx];
			ctx[cfg.nctx].val = eq + 1;
			cfg.ctx = ctx;
			cfg.nctx++, i++;
		} else if (strcmp(a, "--hostname") == 0) {
			cfg.hostname = v, i++;
		} else if (a[0] == '-') {
			return usage();
		} else if (cfg.nifaces < NET_IFACES_MAX) {
			cfg.ifaces[cfg.nifaces++] = a;
		}
	}
	if (!cfg.nifaces == !all)
		return usage();
	rc = net_up(&cfg, net_now_ms() + timeout, &l);
	if (rc < 0) {
		fprintf(stderr, "cvmboot: dhcp: %s: %s (%s)\n", net_why_str(l.why), l.detail,
			strerror(-rc));
		return 1;
	}
	print_lease(&l);
	return 0;
}
