/* SPDX-License-Identifier: MIT */
/* net/rtnl.c: hand a lease to the kernel over rtnetlink: MTU, address and
 * prefix, classless static routes or the default route. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/internal.h"

#define RTNL_BUF 512

struct rtnl_req {
	struct nlmsghdr *nh;
	unsigned char buf[RTNL_BUF];
};

static void *rtnl_start(struct rtnl_req *r, uint16_t type, uint16_t flags, size_t hdr)
{
	memset(r->buf, 0, sizeof(r->buf));
	r->nh = (struct nlmsghdr *)r->buf;
	r->nh->nlmsg_len = NLMSG_LENGTH(hdr);
	r->nh->nlmsg_type = type;
	r->nh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	return NLMSG_DATA(r->nh);
}

static void rtnl_attr(struct rtnl_req *r, uint16_t type, const void *data, size_t len)
{
	struct rtattr *a = (struct rtattr *)(r->buf + NLMSG_ALIGN(r->nh->nlmsg_len));

	/* Our requests are a header and a few small attributes: RTNL_BUF has room. */
	a->rta_type = type;
	a->rta_len = (unsigned short)RTA_LENGTH(len);
	memcpy(RTA_DATA(a), data, len);
	r->nh->nlmsg_len = NLMSG_ALIGN(r->nh->nlmsg_len) + RTA_ALIGN(a->rta_len);
}

/* Sends one request and waits for its ack. Returns 0 or the kernel's -errno. */
static int rtnl_talk(int fd, struct rtnl_req *r, uint32_t seq)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	unsigned char buf[1024];
	ssize_t n;

	r->nh->nlmsg_seq = seq;
	if (sendto(fd, r->buf, r->nh->nlmsg_len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	for (;;) {
		struct nlmsghdr *h;

		n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_seq != seq || h->nlmsg_type != NLMSG_ERROR)
				continue;
			if (h->nlmsg_len < NLMSG_LENGTH(sizeof(struct nlmsgerr)))
				return -EBADMSG;
			return ((struct nlmsgerr *)NLMSG_DATA(h))->error;
		}
	}
}

static int rtnl_mtu(int fd, int ifindex, uint32_t mtu, uint32_t seq)
{
	struct rtnl_req r;
	struct ifinfomsg *ifi = rtnl_start(&r, RTM_NEWLINK, 0, sizeof(*ifi));

	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	rtnl_attr(&r, IFLA_MTU, &mtu, sizeof(mtu));
	return rtnl_talk(fd, &r, seq);
}

static int rtnl_addr(int fd, const struct net_lease *l, uint32_t seq)
{
	struct rtnl_req r;
	struct ifaddrmsg *ifa = rtnl_start(&r, RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE, sizeof(*ifa));
	struct in_addr brd = l->addr;

	ifa->ifa_family = AF_INET;
	ifa->ifa_prefixlen = l->prefix;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = (unsigned)l->ifindex;
	/* No IFA_CACHEINFO: the address stays permanent. Nobody renews the
	 * lease after hand-over unless the OS runs its own DHCP client, and a
	 * finite lifetime would then drop the network mid-session. */
	rtnl_attr(&r, IFA_LOCAL, &l->addr, 4);
	rtnl_attr(&r, IFA_ADDRESS, &l->addr, 4);
	if (l->prefix < 31) {
		brd.s_addr |= htonl(~0u >> l->prefix);
		rtnl_attr(&r, IFA_BROADCAST, &brd, 4);
	}
	return rtnl_talk(fd, &r, seq);
}

static int rtnl_route(int fd, const struct net_lease *l, const struct net_route *rt, uint32_t seq)
{
	struct rtnl_req r;
	struct rtmsg *rtm = rtnl_start(&r, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, sizeof(*rtm));
	uint32_t oif = (uint32_t)l->ifindex;

	rtm->rtm_family = AF_INET;
	rtm->rtm_dst_len = rt->prefix;
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_protocol = l->source == NET_SRC_DHCP ? RTPROT_DHCP : RTPROT_STATIC;
	rtm->rtm_type = RTN_UNICAST;
	rtm->rtm_scope = rt->gw.s_addr ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
	if (rt->prefix)
		rtnl_attr(&r, RTA_DST, &rt->dst, 4);
	if (rt->gw.s_addr)
		rtnl_attr(&r, RTA_GATEWAY, &rt->gw, 4);
	rtnl_attr(&r, RTA_PREFSRC, &l->addr, 4);
	rtnl_attr(&r, RTA_OIF, &oif, 4);
	return rtnl_talk(fd, &r, seq);
}

static int on_link(const struct net_lease *l, struct in_addr a)
{
	uint32_t m = l->prefix ? htonl(~0u << (32 - l->prefix)) : 0;

	return ((a.s_addr ^ l->addr.s_addr) & m) == 0;
}

/* A gateway outside our subnet (GCE's /32 leases, some clouds' option 121)
 * needs a link-scope host route to it first, or the kernel says
 * ENETUNREACH. */
static int route_with_gw(int fd, const struct net_lease *l, const struct net_route *rt,
			 uint32_t *seq)
{
	struct net_route host = { .dst = rt->gw, .prefix = 32 };
	int rc;

	if (rt->gw.s_addr && !on_link(l, rt->gw) && (rc = rtnl_route(fd, l, &host, (*seq)++)) < 0)
		return rc;
	return rtnl_route(fd, l, rt, (*seq)++);
}

/* see internal.h */
int net_rtnl_apply(struct net_lease *l, char *err, size_t errlen)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	char a[INET_ADDRSTRLEN], g[INET_ADDRSTRLEN];
	uint32_t seq = 1;
	size_t i;
	int fd, rc;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "open rtnetlink: %s", strerror(-rc));
		return rc;
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		rc = -errno;
		snprintf(err, errlen, "bind rtnetlink: %s", strerror(-rc));
		goto out;
	}
	/* MTU first: routes inherit the device MTU. A refused MTU (above what
	 * the NIC supports) is reported, not fatal: the default one works. */
	l->mtu_err = 0;
	if (l->mtu && (l->mtu_err = rtnl_mtu(fd, l->ifindex, l->mtu, seq++)) < 0)
		l->mtu = 0;
	inet_ntop(AF_INET, &l->addr, a, sizeof(a));
	if ((rc = rtnl_addr(fd, l, seq++)) < 0) {
		snprintf(err, errlen, "add address %s/%u to %s: %s", a, l->prefix, l->ifname,
			 strerror(-rc));
		goto out;
	}
	/* RFC 3442 section 1: with option 121 the router option is ignored;
	 * callers leave gw 0.0.0.0 then, or put the default route in routes. */
	for (i = 0; i < l->nroutes; i++) {
		if ((rc = route_with_gw(fd, l, &l->routes[i], &seq)) < 0) {
			inet_ntop(AF_INET, &l->routes[i].dst, a, sizeof(a));
			inet_ntop(AF_INET, &l->routes[i].gw, g, sizeof(g));
			snprintf(err, errlen, "add route %s/%u via %s dev %s: %s", a,
				 l->routes[i].prefix, g, l->ifname, strerror(-rc));
			goto out;
		}
	}
	if (l->gw.s_addr) {
		struct net_route def = { .gw = l->gw };

		if ((rc = route_with_gw(fd, l, &def, &seq)) < 0) {
			inet_ntop(AF_INET, &l->gw, g, sizeof(g));
			snprintf(err, errlen, "add default route via %s dev %s: %s", g, l->ifname,
				 strerror(-rc));
			goto out;
		}
	}
	rc = 0;
out:
	close(fd);
	return rc;
}
