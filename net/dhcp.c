/* SPDX-License-Identifier: MIT */
/* net/dhcp.c: the DHCP engine: one lwIP netif per NIC over an AF_PACKET
 * socket, all NICs in one poll loop, lwIP timers driven by sys_now. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lwip/etharp.h"
#include "lwip/init.h"
#include "lwip/pbuf.h"
#include "lwip/prot/dhcp.h"
#include "lwip/timeouts.h"
#include "netif/ethernet.h"
#include "net/internal.h"

#define CARRIER_POLL_MS	100

static int lwip_ready;

/* see internal.h */
void net_why_set(struct net_lease *out, enum net_why why, const char *fmt, ...)
{
	va_list ap;

	if (out->why != NET_WHY_NONE)
		return;
	out->why = why;
	va_start(ap, fmt);
	vsnprintf(out->detail, sizeof(out->detail), fmt, ap);
	va_end(ap);
}

static int nic_start(struct net_dhcp_nic *nic, const char *hostname, struct net_lease *out)
{
	ip4_addr_t any;

	if (nic->link.mtu < 576) {
		/* RFC 2131 section 2: a client must accept 576-byte messages. */
		net_why_set(out, NET_WHY_SOCKET, "%s: MTU %u is below DHCP's 576", nic->link.name,
			    nic->link.mtu);
		return -EINVAL;
	}
	ip4_addr_set_zero(&any);
	if (!netif_add(&nic->netif, &any, &any, &any, nic, net_port_netif_init, ethernet_input))
		return -ENOMEM;
#if LWIP_NETIF_HOSTNAME
	nic->netif.hostname = hostname;
#endif
	netif_set_up(&nic->netif);
	netif_set_link_up(&nic->netif);
	memset(&nic->dhcp, 0, sizeof(nic->dhcp));
	dhcp_set_struct(&nic->netif, &nic->dhcp);
	nic->started = 1;
	if (dhcp_start(&nic->netif) != ERR_OK)
		return -ENOMEM;
	return 0;
}

static void nic_stop(struct net_dhcp_nic *nic, int opened)
{
	if (nic->started) {
		/* No DHCPRELEASE: the kernel keeps using the address. */
		dhcp_stop(&nic->netif);
		dhcp_remove_struct(&nic->netif);
		netif_remove(&nic->netif);
		nic->started = 0;
	}
	if (opened && nic->fd >= 0) {
		close(nic->fd);
		nic->fd = -1;
	}
}

/* Looks at a DHCP reply before lwIP does, to keep what lwIP discards
 * (options 6, 15, 26, 121) and to handle NAKs ourselves. Returns 0 to pass
 * the frame on, -1 to drop it (malformed: lwIP would drop it too, or a
 * NAK, which we consumed). */
static int nic_tap(struct net_dhcp_nic *nic, uint8_t *f, size_t len, int partial)
{
	struct net_dhcp_msg m;
	size_t off;
	ssize_t n = net_dhcp_frame_udp(f, len, partial, &off);
	uint32_t srv = ip4_addr_get_u32(ip_2_ip4(&nic->dhcp.server_ip_addr));
	unsigned backoff;

	if (n == -ENOMSG)
		return 0;
	if (n < 0 || net_dhcp_msg_parse(f + off, (size_t)n, &m) < 0)
		return -1;
	if (m.xid != nic->dhcp.xid || memcmp(m.chaddr, nic->link.mac, 6) != 0 ||
	    nic->dhcp.state != DHCP_STATE_REQUESTING)
		return 0;	/* not ours now: lwIP ignores it as well */
	if (m.type == NET_DHCP_ACK) {
		nic->ack = m;
		nic->have_ack = 1;
	} else if (m.type == NET_DHCP_NAK) {
		/* Only the server we asked may refuse (RFC 2131 4.3.2). */
		if (m.has_server && m.server.s_addr != srv)
			return -1;
		nic->naks++;
		nic->nak_server = m.server;
		/* RFC 2131 3.1.5: restart from INIT. lwIP 2.1.3 would send the
		 * next DISCOVER at once, so a server that refuses every time
		 * would see a storm; we restart after 1, 2, 4, 8 s +/- 0.5 s. */
		dhcp_stop(&nic->netif);
		backoff = 1000u << (nic->naks < 4 ? nic->naks - 1 : 3);
		nic->restart_ms = net_now_ms() + backoff - 500 + (uint64_t)(random() % 1000);
		return -1;
	}
	return 0;
}

static void nic_input(struct net_dhcp_nic *nic)
{
	uint8_t buf[NET_FRAME_MAX];
	union {
		struct cmsghdr h;
		uint8_t b[CMSG_SPACE(sizeof(struct tpacket_auxdata))];
	} cm;
	struct sockaddr_ll sll;

	for (;;) {
		struct iovec iov = { buf, sizeof(buf) };
		struct msghdr mh = { .msg_name = &sll, .msg_namelen = sizeof(sll), .msg_iov = &iov,
				     .msg_iovlen = 1, .msg_control = &cm, .msg_controllen = sizeof(cm) };
		struct cmsghdr *c;
		struct pbuf *p;
		int partial = 0;
		ssize_t n = recvmsg(nic->fd, &mh, MSG_DONTWAIT);

		if (n < 0)
			return;
		/* Our own frames come back on ETH_P_ALL; an AF_UNIX test socket
		 * has no address at all. */
		if (mh.msg_namelen >= sizeof(sll) && sll.sll_family == AF_PACKET &&
		    sll.sll_pkttype == PACKET_OUTGOING)
			continue;
		if (mh.msg_flags & MSG_TRUNC)
			continue;
		for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
			if (c->cmsg_level == SOL_PACKET && c->cmsg_type == PACKET_AUXDATA) {
				struct tpacket_auxdata aux;

				memcpy(&aux, CMSG_DATA(c), sizeof(aux));
				partial = !!(aux.tp_status & TP_STATUS_CSUMNOTREADY);
			}
		if (nic_tap(nic, buf, (size_t)n, partial) < 0)
			continue;
		p = pbuf_alloc(PBUF_RAW, (u16_t)n, PBUF_POOL);
		if (!p)
			continue;
		pbuf_take(p, buf, (u16_t)n);
		if (nic->netif.input(p, &nic->netif) != ERR_OK)
			pbuf_free(p);
	}
}

/* RFC 2131 section 4.1: randomise each retransmission delay by +/-1 s so a
 * fleet of VMs started together does not retry in lockstep. lwIP 2.1.3
 * doubles the delay but adds no jitter; its timer ticks are 500 ms. */
static void nic_jitter(struct net_dhcp_nic *nic)
{
	int ticks;

	/* A new transmission: tries moved, or the state changed (a REQUEST
	 * after DISCOVERs starts again at tries 1). */
	if (nic->dhcp.tries == nic->tries_seen && nic->dhcp.state == nic->state_seen)
		return;
	nic->tries_seen = nic->dhcp.tries;
	nic->state_seen = nic->dhcp.state;
	if (nic->dhcp.request_timeout == 0)
		return;
	ticks = (int)nic->dhcp.request_timeout + (int)(random() % 5) - 2;
	nic->dhcp.request_timeout = (u16_t)(ticks < 1 ? 1 : ticks);
}

/* Restarts DHCP on a NIC whose NAK backoff is over. */
static void nic_restart(struct net_dhcp_nic *nic)
{
	if (nic->restart_ms && net_now_ms() >= nic->restart_ms) {
		nic->restart_ms = 0;
		nic->tries_seen = 0;
		nic->state_seen = 0;
		dhcp_start(&nic->netif);
	}
}

static void seed_random(const struct net_dhcp_nic *nics, size_t n)
{
	unsigned seed = 0;
	size_t i;

	/* Early in boot the pool may not be ready: do not block, mix in the
	 * clock and the MACs, which differ between VMs anyway. */
	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != sizeof(seed))
		seed = (unsigned)net_now_ms();
	for (i = 0; i < n; i++)
		seed = seed * 31u + ((unsigned)nics[i].link.mac[4] << 8 | nics[i].link.mac[5]);
	srandom(seed);
}

static void lease_fill(const struct net_dhcp_nic *nic, struct net_lease *out)
{
	const struct netif *nf = &nic->netif;
	const struct net_dhcp_msg *a = &nic->ack;
	size_t i;
	int p = net_prefix_from_mask((struct in_addr){ ip4_addr_get_u32(netif_ip4_netmask(nf)) });

	out->source = NET_SRC_DHCP;
	memcpy(out->ifname, nic->link.name, sizeof(out->ifname));
	out->ifindex = nic->link.ifindex;
	memcpy(out->mac, nic->link.mac, 6);
	out->addr.s_addr = ip4_addr_get_u32(netif_ip4_addr(nf));
	out->prefix = (uint8_t)(p < 0 ? 32 : p);
	out->gw.s_addr = ip4_addr_get_u32(netif_ip4_gw(nf));
	out->server.s_addr = ip4_addr_get_u32(ip_2_ip4(&nic->dhcp.server_ip_addr));
	out->lease_secs = nic->dhcp.offered_t0_lease;
	/* lwIP kept address, mask, router, server and lease time; the rest
	 * comes from our parse of the same ACK, if it is that ACK. */
	if (!nic->have_ack || a->yiaddr.s_addr != out->addr.s_addr)
		return;
	memcpy(out->dns, a->dns, sizeof(out->dns));
	out->ndns = a->ndns;
	memcpy(out->search, a->domain, sizeof(out->search));
	out->mtu = a->mtu >= 68 ? a->mtu : 0;
	if (a->has_121) {
		/* RFC 3442 section 1: with option 121 the router option is
		 * ignored. A 0/0 entry in it becomes gw, so gw is always the
		 * default route whatever option it came from. */
		out->gw.s_addr = 0;
		for (i = 0; i < a->nroutes; i++) {
			if (a->routes[i].prefix == 0)
				out->gw = a->routes[i].gw;
			else
				out->routes[out->nroutes++] = a->routes[i];
		}
	}
}

static void why_timeout(const struct net_dhcp_nic *nics, size_t n, struct net_lease *out)
{
	char names[160] = "", srv[INET_ADDRSTRLEN];
	size_t i, off = 0;

	for (i = 0; i < n; i++) {
		if (!nics[i].started && nics[i].fd < 0)
			continue;
		off += (size_t)snprintf(names + off, off < sizeof(names) ? sizeof(names) - off : 0,
					"%s%s", off ? ", " : "", nics[i].link.name);
		if (off >= sizeof(names))
			off = sizeof(names) - 1;
	}
	for (i = 0; i < n; i++)
		if (nics[i].naks) {
			inet_ntop(AF_INET, &nics[i].nak_server, srv, sizeof(srv));
			net_why_set(out, NET_WHY_NAK, "DHCP server %s refused our request "
				    "(DHCPNAK x%d) on %s", srv, nics[i].naks, nics[i].link.name);
		}
	net_why_set(out, NET_WHY_NO_OFFER, "no DHCP lease on %s after %u DISCOVERs "
		    "(no server answered, or its offers were unusable)", names, out->discovers);
}

static void why_no_carrier(const struct net_dhcp_nic *nics, size_t n, struct net_lease *out)
{
	char list[NET_DETAIL_MAX - 32] = "";
	size_t i, off = 0;

	for (i = 0; i < n; i++) {
		off += (size_t)snprintf(list + off, off < sizeof(list) ? sizeof(list) - off : 0,
					"%s%s (%s%s)", i ? ", " : "", nics[i].link.name,
					nics[i].link.up_err ? "down: " : "no carrier",
					nics[i].link.up_err ? strerror(-nics[i].link.up_err) : "");
		if (off >= sizeof(list))
			off = sizeof(list) - 1;
	}
	net_why_set(out, NET_WHY_NO_CARRIER, "no NIC with carrier: %s", list);
}

/* One pass: start NICs that got carrier. Returns how many are running. */
static size_t nics_poll_carrier(struct net_dhcp_nic *nics, size_t n, uint8_t *opened,
				const char *hostname, struct net_lease *out, int *err)
{
	size_t i, running = 0;
	int fd;

	for (i = 0; i < n; i++) {
		struct net_dhcp_nic *nic = &nics[i];

		if (!nic->started && !nic->link.up_err &&
		    (nic->fd >= 0 || net_link_has_carrier(nic->link.name) == 1)) {
			if (nic->fd < 0) {
				if ((fd = net_link_packet_open(nic->link.ifindex)) < 0) {
					nic->link.up_err = fd;
					net_why_set(out, NET_WHY_SOCKET, "AF_PACKET socket on %s: %s",
						    nic->link.name, strerror(-fd));
					*err = fd;
					continue;
				}
				nic->fd = fd;
				opened[i] = 1;
			}
			if ((*err = nic_start(nic, hostname, out)) < 0) {
				nic->link.up_err = *err;
				continue;
			}
		}
		running += nic->started;
	}
	return running;
}

static int nics_bound(struct net_dhcp_nic *nics, size_t n, struct pollfd *pfd)
{
	size_t i;

	for (i = 0; i < n; i++) {
		pfd[i].fd = nics[i].started ? nics[i].fd : -1;
		pfd[i].events = POLLIN;
		pfd[i].revents = 0;
		if (nics[i].started && dhcp_supplied_address(&nics[i].netif))
			return (int)i;
	}
	return -1;
}

/* see internal.h */
int net_dhcp_run(struct net_dhcp_nic *nics, size_t n, const char *hostname,
		 uint64_t carrier_ms, uint64_t deadline_ms, struct net_lease *out)
{
	struct pollfd pfd[NET_IFACES_MAX];
	uint8_t opened[NET_IFACES_MAX] = { 0 };
	size_t i, running = 0;
	int rc = -ETIMEDOUT, err = 0, won = -1;

	if (n > NET_IFACES_MAX)
		n = NET_IFACES_MAX;
	seed_random(nics, n);
	/* lwIP's state is global by design (netif list, pools, timer list)
	 * and lwip_init adds its cyclic timers each time it runs: initialise
	 * once per process. The one mutable static of this module. */
	if (!lwip_ready) {
		lwip_init();
		lwip_ready = 1;
	}
	for (;;) {
		uint64_t now = net_now_ms(), wait;
		u32_t t;

		if (running < n)
			running = nics_poll_carrier(nics, n, opened, hostname, out, &err);
		if ((won = nics_bound(nics, n, pfd)) >= 0)
			break;
		if (now >= deadline_ms || (running == 0 && now >= carrier_ms))
			break;
		/* poll takes an int: never sleep more than a second at once. */
		wait = deadline_ms - now < 1000 ? deadline_ms - now : 1000;
		t = sys_timeouts_sleeptime();
		if (t != SYS_TIMEOUTS_SLEEPTIME_INFINITE && t < wait)
			wait = t;
		if (running < n && wait > CARRIER_POLL_MS)
			wait = CARRIER_POLL_MS;
		for (i = 0; i < n; i++) {
			uint64_t d = nics[i].restart_ms > now ? nics[i].restart_ms - now : 0;

			if (nics[i].restart_ms && d < wait)
				wait = d;
		}
		if (poll(pfd, n, (int)wait) < 0 && errno != EINTR) {
			rc = -errno;
			net_why_set(out, NET_WHY_SOCKET, "poll: %s", strerror(errno));
			goto out;
		}
		for (i = 0; i < n; i++)
			if (pfd[i].revents & POLLIN)
				nic_input(&nics[i]);
		sys_check_timeouts();
		for (i = 0; i < n; i++)
			if (nics[i].started)
				nic_restart(&nics[i]), nic_jitter(&nics[i]);
	}
	for (i = 0; i < n; i++)
		out->discovers += nics[i].discovers;
	if (won >= 0) {
		lease_fill(&nics[won], out);
		rc = 0;
	} else if (running == 0) {
		why_no_carrier(nics, n, out);
		rc = err ? err : -ENODEV;
	} else {
		why_timeout(nics, n, out);
		rc = -ETIMEDOUT;
	}
out:
	for (i = 0; i < n; i++)
		nic_stop(&nics[i], opened[i]);
	return rc;
}
