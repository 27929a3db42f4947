/* SPDX-License-Identifier: MIT */
/* net/internal.h: private declarations of the net module (DHCP engine, link,
 * rtnetlink, resolv.conf, static config); only net/ and its unit test. */
#ifndef NET_INTERNAL_H
#define NET_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lwip/dhcp.h"
#include "lwip/netif.h"
#include "net/net.h"

#define NET_FRAME_MAX	2048	/* receive buffer; DHCP replies are far smaller */

/* ---- link.c: NICs through ioctl on an AF_INET datagram socket ---- */
struct net_nic {
	char name[NET_IFNAME_MAX];
	int ifindex;
	uint8_t mac[6];
	uint16_t mtu;
	int up_err;		/* -errno of bringing it up, 0 if up */
};

/* Fills nics with the Ethernet interfaces (ARPHRD_ETHER, not lo), in
 * ifindex order, at most cap. Returns the count or -errno. */
int net_link_list(struct net_nic *nics, size_t cap);
/* Fills *nic for one named interface. -ENODEV if it does not exist,
 * -EPROTOTYPE if it is not Ethernet. */
int net_link_info(const char *name, struct net_nic *nic);
/* Sets IFF_UP. Returns 0 or -errno. */
int net_link_set_up(const char *name);
/* 1 if the interface is up with carrier (IFF_RUNNING), 0 if not, -errno. */
int net_link_has_carrier(const char *name);
/* Opens a non-blocking AF_PACKET socket bound to ifindex (all protocols),
 * with PACKET_AUXDATA on so offloaded checksums can be completed. */
int net_link_packet_open(int ifindex);

/* ---- rtnl.c: hand a lease to the kernel ---- */
/* Applies address/prefix, MTU (sets l->mtu_err on refusal), option 121
 * routes or the default route. Idempotent (NLM_F_REPLACE). Returns 0 or
 * -errno; err names the failed step. */
int net_rtnl_apply(struct net_lease *l, char *err, size_t errlen);

/* ---- resolv.c ---- */
/* Formats resolv.conf for the lease into buf. Returns length or -ENOSPC. */
ssize_t net_resolv_fmt(const struct net_lease *l, char *buf, size_t len);
/* Writes it to path (tmp file + rename). Does nothing if the lease has
 * neither DNS servers nor a search list. Returns 0 or -errno. */
int net_resolv_write(const char *path, const struct net_lease *l);

/* ---- static.c: ip= and OpenNebula ETH0_* ---- */
enum net_mode { NET_MODE_DHCP = 0, NET_MODE_OFF, NET_MODE_STATIC };
struct net_static {
	enum net_mode mode;
	char dev[NET_IFNAME_MAX];	/* "" = any NIC */
	uint8_t mac[6];			/* ETH0_MAC, if has_mac */
	int has_mac;
	char hostname[64];
	struct net_lease lease;		/* addr, prefix, gw, dns, mtu, search */
};
/* Parses the kernel's ip= value (Documentation/admin-guide/nfs/nfsroot.rst):
 * "off|none|dhcp|on|any|both|bootp|rarp" or
 * "<client>:<server>:<gw>:<mask>:<host>:<dev>:<autoconf>:<dns0>:<dns1>:<ntp>".
 * Returns 0 or -EINVAL with err naming the bad field. */
int net_static_parse_ip(const char *arg, struct net_static *st, char *err, size_t errlen);
/* Parses OpenNebula context pairs ETH0_IP, ETH0_MASK, ETH0_GATEWAY,
 * ETH0_DNS, ETH0_MTU, ETH0_MAC, ETH0_SEARCH_DOMAIN, ETH0_METHOD. Leaves
 * *st alone if no ETH0_IP is given (or ETH0_METHOD is dhcp). Returns 0 or
 * -EINVAL with err naming the key. */
int net_static_parse_ctx(const struct net_kv *kv, size_t n, struct net_static *st,
			 char *err, size_t errlen);
/* Prefix length of a contiguous netmask, or -EINVAL. */
int net_prefix_from_mask(struct in_addr mask);

/* ---- dhcp-pkt.c: pure codecs, no I/O ---- */
enum {
	NET_DHCP_DISCOVER = 1, NET_DHCP_OFFER, NET_DHCP_REQUEST, NET_DHCP_DECLINE,
	NET_DHCP_ACK, NET_DHCP_NAK, NET_DHCP_RELEASE, NET_DHCP_INFORM,
};
/* A parsed BOOTREPLY, with the options lwIP does not keep for us:
 * 6 (DNS), 15 (domain), 26 (MTU), 121 (classless routes); plus 1, 3, 51,
 * 53, 54 to cross-check lwIP's view. */
struct net_dhcp_msg {
	uint8_t op, type;
	uint32_t xid;
	uint8_t chaddr[6];
	struct in_addr yiaddr, server, mask, router;
	int has_mask, has_router, has_server, has_lease, has_121, bad_121;
	struct in_addr dns[NET_DNS_MAX];
	size_t ndns;
	char domain[NET_SEARCH_MAX];
	uint16_t mtu;
	uint32_t lease_secs;
	struct net_route routes[NET_ROUTES_MAX];
	size_t nroutes;
};
/* Parses a BOOTP/DHCP message (UDP payload). -EBADMSG if truncated, not a
 * reply, no magic cookie, no message type, no end option, an option runs
 * past the end, or
 * a fixed-size option has the wrong length. A malformed option 121 is
 * ignored as a whole (bad_121 set), as RFC 3442 section 4 asks. */
int net_dhcp_msg_parse(const uint8_t *p, size_t len, struct net_dhcp_msg *m);
/* Parses option 121's value into routes. Returns count or -EBADMSG. */
int net_dhcp_routes_parse(const uint8_t *v, size_t len, struct net_route *r, size_t cap);
/* Finds the UDP payload of an Ethernet/IPv4/UDP frame to port 68. If
 * csum_partial, the sender left the UDP checksum to offload (veth,
 * virtio); it is completed in place. Returns the payload length and sets
 * *off, -ENOMSG if the frame is not for a DHCP client, -EBADMSG if it is
 * malformed (truncated, bad IP header, bad lengths). */
ssize_t net_dhcp_frame_udp(uint8_t *f, size_t len, int csum_partial, size_t *off);
/* Internet checksum (RFC 1071) over buf, folded, starting from sum. */
uint16_t net_csum(const uint8_t *buf, size_t len, uint32_t sum);

/* ---- dhcp.c: the engine ---- */
struct net_dhcp_nic {
	struct net_nic link;
	int fd;			/* AF_PACKET socket; >= 0 before run = supplied by caller */
	int started, have_ack, naks;
	uint8_t tries_seen, state_seen;	/* lwIP's tries/state when we last jittered */
	uint32_t discovers;
	uint64_t restart_ms;	/* after a NAK: dhcp_start again at this time */
	struct in_addr nak_server;
	struct netif netif;
	struct dhcp dhcp;
	struct net_dhcp_msg ack;
};
/* lwip-port/port.c: netif init for netif_add; netif->state is the nic. */
err_t net_port_netif_init(struct netif *netif);

/* Runs DHCP on every nic in parallel until one is bound or deadline_ms.
 * A nic whose fd is already >= 0 is used at once as a frame socket (unit
 * tests pass a socketpair); the others are polled for carrier and get an
 * AF_PACKET socket when it comes; if none has carrier by carrier_ms,
 * -ENODEV. On success fills the lease fields of *out (not applied) and
 * returns 0; else -ETIMEDOUT/-ENODEV/-errno with out->why/detail set.
 * Closes the sockets it opened; lwIP is stopped on return. */
int net_dhcp_run(struct net_dhcp_nic *nics, size_t n, const char *hostname,
		 uint64_t carrier_ms, uint64_t deadline_ms, struct net_lease *out);

/* Sets out->why/detail unless a why is already set (sticky). */
void net_why_set(struct net_lease *out, enum net_why why, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
