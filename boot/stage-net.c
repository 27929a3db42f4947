/* SPDX-License-Identifier: MIT */
/* boot/stage-net.c: the net stage: DHCP or static configuration (net/). */
#include <arpa/inet.h>
#include <string.h>

#include "boot/boot.h"

/* see boot.h */
int boot_stage_net(struct boot_ctx *ctx)
{
	struct net_cfg nc;
	struct net_lease *l = &ctx->lease;
	char addr[INET_ADDRSTRLEN], gw[INET_ADDRSTRLEN];
	unsigned secs = ctx->cfg.net_timeout_s ? ctx->cfg.net_timeout_s : 30;
	int rc;

	memset(&nc, 0, sizeof(nc));
	rc = net_up(&nc, boot_now_ms() + (uint64_t)secs * 1000, l);
	if (rc < 0) {
		boot_log(ctx, "net", "no address after %u s: %s: %s", secs, net_why_str(l->why),
			 l->detail);
		return rc;
	}
	inet_ntop(AF_INET, &l->addr, addr, sizeof(addr));
	inet_ntop(AF_INET, &l->gw, gw, sizeof(gw));
	boot_log(ctx, "net", "%s %s/%u gw %s mtu %u dns %zu (%s, %llu ms)", l->ifname, addr,
		 l->prefix, l->gw.s_addr ? gw : "none", l->mtu, l->ndns,
		 l->source == NET_SRC_DHCP ? "dhcp" : "static", (unsigned long long)l->took_ms);
	return 0;
}
