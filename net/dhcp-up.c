/* SPDX-License-Identifier: MIT */
/* net/dhcp-up.c: net_up, the whole net stage: lo, NICs, static or DHCP,
 * then the lease to the kernel and resolv.conf. */
#include <errno.h>
#include <string.h>

#include "net/internal.h"

#define CARRIER_DEFAULT_MS 5000

/* see net.h */
const char *net_why_str(enum net_why why)
{
	switch (why) {
	case NET_WHY_NONE: return "no error";
	case NET_WHY_NO_NIC: return "no network interface";
	case NET_WHY_NO_CARRIER: return "no carrier";
	case NET_WHY_NO_OFFER: return "no DHCP offer";
	case NET_WHY_NAK: return "DHCP request refused (NAK)";
	case NET_WHY_BAD_CONFIG: return "bad network configuration";
	case NET_WHY_SOCKET: return "network socket error";
	case NET_WHY_APPLY: return "kernel refused the configuration";
	case NET_WHY_RESOLV: return "cannot write resolv.conf";
	}
	return "unknown";
}

/* The NICs to use: the named ones, or every Ethernet NIC; all brought up. */
static int nics_collect(const struct net_cfg *cfg, const char *dev, struct net_dhcp_nic *nics,
			struct net_lease *out)
{
	struct net_nic tmp[NET_IFACES_MAX];
	size_t i, n = 0;
	int rc;

	if (cfg->nifaces || dev[0]) {
		size_t want = cfg->nifaces ? cfg->nifaces : 1;

		for (i = 0; i < want && i < NET_IFACES_MAX; i++) {
			const char *name = cfg->nifaces ? cfg->ifaces[i] : dev;

			if ((rc = net_link_info(name, &tmp[n])) < 0) {
				net_why_set(out, NET_WHY_NO_NIC, "interface %s: %s", name,
					    rc == -ENODEV ? "does not exist" :
					    rc == -EPROTOTYPE ? "is not Ethernet" : strerror(-rc));
				return -ENODEV;
			}
			n++;
		}
	} else if ((rc = net_link_list(tmp, NET_IFACES_MAX)) < 0) {
		net_why_set(out, NET_WHY_SOCKET, "list interfaces: %s", strerror(-rc));
		return rc;
	} else {
		n = (size_t)rc;
	}
	if (n == 0) {
		net_why_set(out, NET_WHY_NO_NIC, "no Ethernet interface besides lo "
			    "(is the NIC's driver loaded?)");
		return -ENODEV;
	}
	for (i = 0; i < n; i++) {
		memset(&nics[i], 0, sizeof(nics[i]));
		nics[i].link = tmp[i];
		nics[i].fd = -1;
		nics[i].link.up_err = net_link_set_up(tmp[i].name);
	}
	return (int)n;
}

static int lease_apply(const struct net_cfg *cfg, struct net_lease *l)
{
	char err[NET_DETAIL_MAX];
	int rc;

	if (cfg->no_apply)
		return 0;
	if ((rc = net_rtnl_apply(l, err, sizeof(err))) < 0) {
		net_why_set(l, NET_WHY_APPLY, "%s", err);
		return rc;
	}
	if ((rc = net_resolv_write(cfg->resolv_path ? cfg->resolv_path : NET_RESOLV_PATH, l)) < 0) {
		net_why_set(l, NET_WHY_RESOLV, "write %s: %s",
			    cfg->resolv_path ? cfg->resolv_path : NET_RESOLV_PATH, strerror(-rc));
		return rc;
	}
	return 0;
}

/* Static: the NIC with ETH0_MAC, else the first one. */
static int up_static(const struct net_cfg *cfg, const struct net_static *st,
		     const struct net_dhcp_nic *nics, size_t n, struct net_lease *out)
{
	size_t i, pick = 0;

	for (i = 0; st->has_mac && i < n; i++)
		if (memcmp(nics[i].link.mac, st->mac, 6) == 0)
			pick = i;
	if (nics[pick].link.up_err) {
		net_why_set(out, NET_WHY_SOCKET, "bring up %s: %s", nics[pick].link.name,
			    strerror(-nics[pick].link.up_err));
		return nics[pick].link.up_err;
	}
	*out = st->lease;
	memcpy(out->ifname, nics[pick].link.name, sizeof(out->ifname));
	out->ifindex = nics[pick].link.ifindex;
	memcpy(out->mac, nics[pick].link.mac, 6);
	return lease_apply(cfg, out);
}

/* see net.h */
int net_up(const struct net_cfg *cfg, uint64_t deadline_ms, struct net_lease *out)
{
	struct net_dhcp_nic nics[NET_IFACES_MAX];
	struct net_static st;
	char err[NET_DETAIL_MAX];
	uint64_t t0 = net_now_ms(), carrier;
	int rc, n;

	memset(out, 0, sizeof(*out));
	if ((rc = net_link_set_up("lo")) < 0 && !cfg->no_apply) {
		net_why_set(out, NET_WHY_SOCKET, "bring up lo: %s", strerror(-rc));
		return rc;
	}
	if ((rc = net_static_parse_ip(cfg->ip_arg, &st, err, sizeof(err))) < 0 ||
	    (st.mode == NET_MODE_DHCP && !st.dev[0] &&
	     (rc = net_static_parse_ctx(cfg->ctx, cfg->nctx, &st, err, sizeof(err))) < 0)) {
		net_why_set(out, NET_WHY_BAD_CONFIG, "%s", err);
		return rc;
	}
	if (st.mode == NET_MODE_OFF)
		return 0;
	if ((n = nics_collect(cfg, st.dev, nics, out)) < 0)
		return n;
	if (st.mode == NET_MODE_STATIC) {
		rc = up_static(cfg, &st, nics, (size_t)n, out);
	} else {
		carrier = t0 + (cfg->carrier_ms ? cfg->carrier_ms : CARRIER_DEFAULT_MS);
		rc = net_dhcp_run(nics, (size_t)n, cfg->hostname ? cfg->hostname : st.hostname[0] ?
				  st.hostname : NULL, carrier < deadline_ms ? carrier : deadline_ms,
				  deadline_ms, out);
		if (rc == 0)
			rc = lease_apply(cfg, out);
	}
	out->took_ms = net_now_ms() - t0;
	return rc;
}
