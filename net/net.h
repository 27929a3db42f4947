/* SPDX-License-Identifier: MIT */
/* net/net.h: the net stage: loopback, NIC discovery, DHCP (lwIP over
 * AF_PACKET) or static configuration, handed to the kernel by rtnetlink. */
#ifndef NET_NET_H
#define NET_NET_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#define NET_IFNAME_MAX	16	/* IFNAMSIZ, with the NUL */
#define NET_IFACES_MAX	8	/* NICs considered at once */
#define NET_DNS_MAX	3	/* like glibc's MAXNS */
#define NET_ROUTES_MAX	8	/* option 121 entries kept */
#define NET_DETAIL_MAX	256	/* text of net_lease.detail */
#define NET_SEARCH_MAX	128	/* DNS search list for resolv.conf */
#define NET_DEFAULT_TIMEOUT_MS	30000
#define NET_RESOLV_PATH	"/etc/resolv.conf"

/* Sticky protocol detail of the last net_up (STYLE.md 3): set once, at the
 * first precise failure, and never overwritten by a vaguer one. */
enum net_why {
	NET_WHY_NONE = 0,
	NET_WHY_NO_NIC,		/* no Ethernet interface besides lo */
	NET_WHY_NO_CARRIER,	/* NICs exist, none got carrier in time */
	NET_WHY_NO_OFFER,	/* DISCOVERs sent, no usable OFFER/ACK */
	NET_WHY_NAK,		/* the server refused our REQUEST (DHCPNAK) */
	NET_WHY_BAD_CONFIG,	/* ip= or ETH0_* could not be parsed */
	NET_WHY_SOCKET,		/* AF_PACKET / ioctl failure on a NIC */
	NET_WHY_APPLY,		/* rtnetlink refused address or route */
	NET_WHY_RESOLV,		/* resolv.conf could not be written */
};

/* How the address was obtained. */
enum net_source { NET_SRC_NONE = 0, NET_SRC_DHCP, NET_SRC_STATIC };

/* One classless static route (RFC 3442); gw 0.0.0.0 means on-link. */
struct net_route {
	struct in_addr dst, gw;
	uint8_t prefix;
};

/* One context variable (OpenNebula ETH0_IP=...), borrowed strings. */
struct net_kv {
	const char *key, *val;
};

/* What the caller (boot/ or the host verb) wants. All pointers are
 * borrowed for the duration of net_up; zero-initialise for defaults. */
struct net_cfg {
	const char *ifaces[NET_IFACES_MAX];	/* restrict to these NICs; none = all Ethernet NICs */
	size_t nifaces;
	const char *ip_arg;		/* kernel "ip=" value (without "ip="), or NULL */
	const struct net_kv *ctx;	/* OpenNebula ETH0_* pairs, or NULL */
	size_t nctx;
	const char *resolv_path;	/* NULL: NET_RESOLV_PATH */
	const char *hostname;		/* sent as DHCP option 12 if set */
	uint32_t carrier_ms;		/* wait for a first carrier; 0: 5000 */
	int no_apply;			/* nonzero: get the lease, touch nothing in the kernel */
};

/* The result. On failure only why/detail are meaningful. */
struct net_lease {
	enum net_source source;
	char ifname[NET_IFNAME_MAX];
	int ifindex;
	uint8_t mac[6];
	struct in_addr addr, gw, server;	/* gw/server 0.0.0.0 when absent; gw is
						 * the default route (option 3, or the 0/0
						 * entry of option 121, which wins) */
	uint8_t prefix;
	struct in_addr dns[NET_DNS_MAX];
	size_t ndns;
	char search[NET_SEARCH_MAX];		/* DNS search list ("" if none) */
	uint16_t mtu;				/* applied MTU; 0 if the lease gave none */
	int mtu_err;				/* -errno if the kernel refused the MTU, else 0 */
	uint32_t lease_secs;			/* 0xffffffff is infinite; 0 for static */
	struct net_route routes[NET_ROUTES_MAX];	/* option 121 routes other than 0/0 */
	size_t nroutes;
	uint64_t took_ms;			/* net_up entry to applied lease */
	uint32_t discovers;			/* DHCPDISCOVERs sent, all NICs */
	enum net_why why;
	char detail[NET_DETAIL_MAX];		/* what was seen, for the fatal message */
};

/* The whole net stage. Brings lo up, then: if cfg->ip_arg says "off"/"none",
 * stops there (source NET_SRC_NONE); if ip= or ETH0_* give a static address,
 * applies it; otherwise brings every Ethernet NIC up and runs DHCP on all
 * NICs with carrier in parallel (one poll loop), first lease wins. The lease
 * goes to the kernel by rtnetlink (address/prefix, MTU, option 121 routes or
 * the default route, none when the server sent no router) and the DNS servers
 * to resolv.conf; lwIP is then stopped so the kernel owns the interface.
 * Not re-entrant (lwIP has global state). Blocks until deadline_ms
 * (CLOCK_MONOTONIC) at most. Fills *out. Returns 0, -ENODEV (no NIC, or no
 * carrier), -ETIMEDOUT (no lease; why says NO_OFFER or NAK), -EINVAL (bad
 * ip=/ETH0_*), or -errno from sockets/rtnetlink/resolv.conf; out->why and
 * out->detail name what was seen. */
int net_up(const struct net_cfg *cfg, uint64_t deadline_ms, struct net_lease *out);

/* Static text for a why value; never NULL. */
const char *net_why_str(enum net_why why);

/* Milliseconds of CLOCK_MONOTONIC, the clock of every deadline here
 * (defined in net/tcp.c, shared with the HTTP client). */
uint64_t net_now_ms(void);

#endif
