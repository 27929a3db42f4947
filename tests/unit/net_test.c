/* SPDX-License-Identifier: MIT */
/* tests/unit/net_test.c: DHCP codecs on captured dnsmasq packets, the lwIP
 * engine against a scripted server over a socketpair, ip=/ETH0_* parsing,
 * resolv.conf. No root, no network. */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "net/internal.h"
#include "net/net.h"
#include "tests/unit/testdata.h"

#define ETH_IP_UDP	42	/* Ethernet + 20-byte IPv4 + UDP headers */
/* How late past its deadline a DHCP run may end: the counts above are what
 * the tests judge; the clock only has to show the deadline was kept, on a
 * 2-core machine that other builds keep busy. */
#define SLACK_MS	10000

struct blob {
	uint8_t b[NET_FRAME_MAX];
	size_t n;
};

static void load(const char *name, struct blob *out)
{
	out->n = td_load_into("tests/data/net/", name, out->b, sizeof(out->b));
	assert_true(out->n > ETH_IP_UDP);
}

static uint32_t ip_of(const char *s)
{
	struct in_addr a;

	assert_int_equal(inet_pton(AF_INET, s, &a), 1);
	return a.s_addr;
}

/* The captured server frames left the UDP checksum to offload. */
static const uint8_t *payload(struct blob *f, size_t *len)
{
	size_t off;
	ssize_t n = net_dhcp_frame_udp(f->b, f->n, 1, &off);

	assert_true(n > 0);
	*len = (size_t)n;
	return f->b + off;
}

static void ack_from_dnsmasq(void **state)
{
	struct blob f;
	struct net_dhcp_msg m;
	const uint8_t *p;
	size_t len;

	(void)state;
	load("dnsmasq-ack.bin", &f);
	p = payload(&f, &len);
	assert_int_equal(net_dhcp_msg_parse(p, len, &m), 0);
	assert_int_equal(m.type, NET_DHCP_ACK);
	assert_int_equal(m.xid, 0x6738d43f);
	assert_int_equal(m.yiaddr.s_addr, ip_of("10.77.0.50"));
	assert_true(m.has_mask && m.mask.s_addr == ip_of("255.255.255.0"));
	assert_true(m.has_router && m.router.s_addr == ip_of("10.77.0.1"));
	assert_true(m.has_server && m.server.s_addr == ip_of("10.77.0.1"));
	assert_true(m.has_lease && m.lease_secs == 3600);
	assert_int_equal(m.mtu, 1400);
	assert_int_equal(m.ndns, 2);
	assert_int_equal(m.dns[0].s_addr, ip_of("10.77.0.53"));
	assert_int_equal(m.dns[1].s_addr, ip_of("10.77.0.54"));
	assert_true(m.has_121 && !m.bad_121);
	assert_int_equal(m.nroutes, 2);
	assert_int_equal(m.routes[0].dst.s_addr, ip_of("192.168.50.0"));
	assert_int_equal(m.routes[0].prefix, 24);
	assert_int_equal(m.routes[0].gw.s_addr, ip_of("10.77.0.2"));
	assert_int_equal(m.routes[1].dst.s_addr, 0);
	assert_int_equal(m.routes[1].prefix, 0);
	assert_int_equal(m.routes[1].gw.s_addr, ip_of("10.77.0.1"));
}

static void checksum_completed(void **state)
{
	struct blob f;
	size_t len;
	uint8_t *ip = f.b + 14, *udp = f.b + 34;
	uint32_t sum;

	(void)state;
	load("dnsmasq-offer.bin", &f);
	payload(&f, &len);
	/* Pseudo header + UDP now sums to 0xffff: a valid checksum. */
	sum = (uint32_t)(ip[12] << 8 | ip[13]) + (uint32_t)(ip[14] << 8 | ip[15]) +
	      (uint32_t)(ip[16] << 8 | ip[17]) + (uint32_t)(ip[18] << 8 | ip[19]) + 17u +
	      (uint32_t)(len + 8);
	assert_int_equal(net_csum(udp, len + 8, sum), 0xffff);
}

static void nak_from_dnsmasq(void **state)
{
	struct blob f;
	struct net_dhcp_msg m;
	const uint8_t *p;
	size_t len;

	(void)state;
	load("dnsmasq-nak.bin", &f);
	p = payload(&f, &len);
	assert_int_equal(net_dhcp_msg_parse(p, len, &m), 0);
	assert_int_equal(m.type, NET_DHCP_NAK);
	assert_int_equal(m.xid, 0x0badcafe);
	assert_int_equal(m.server.s_addr, ip_of("10.77.0.1"));
	assert_int_equal(m.yiaddr.s_addr, 0);
}

static void truncated_rejected(void **state)
{
	struct blob f;
	struct net_dhcp_msg m;
	const uint8_t *p;
	size_t len, cut;

	(void)state;
	load("dnsmasq-ack.bin", &f);
	p = payload(&f, &len);
	/* Every cut before the end option is refused, never half-parsed. */
	for (cut = 0; cut < len; cut++) {
		if (cut > 240 && p[cut - 1] == 255)
			break;
		assert_int_equal(net_dhcp_msg_parse(p, cut, &m), -EBADMSG);
	}
	/* And at frame level: cut IP header, lengths beyond the frame. */
	assert_int_equal(net_dhcp_frame_udp(f.b, 20, 0, &cut), -EBADMSG);
	assert_int_equal(net_dhcp_frame_udp(f.b, 40, 0, &cut), -EBADMSG);
	assert_int_equal(net_dhcp_frame_udp(f.b, f.n - 1, 0, &cut), -EBADMSG);
	assert_int_equal(net_dhcp_frame_udp(f.b, 10, 0, &cut), -ENOMSG);
}

/* Rebuilds a message: fixed BOOTREPLY header + cookie + given options. */
static size_t mk_msg(uint8_t *p, const uint8_t *opts, size_t olen)
{
	memset(p, 0, 240);
	p[0] = 2, p[1] = 1, p[2] = 6;
	p[4] = 0x12, p[5] = 0x34, p[6] = 0x56, p[7] = 0x78;
	p[236] = 0x63, p[237] = 0x82, p[238] = 0x53, p[239] = 0x63;
	memcpy(p + 240, opts, olen);
	return 240 + olen;
}

static void overlong_options_rejected(void **state)
{
	static const uint8_t runs_past[] = { 53, 1, 5, 6, 200, 10, 0, 0, 1, 255 };
	static const uint8_t mask5[] = { 53, 1, 5, 1, 5, 255, 255, 255, 0, 0, 255 };
	static const uint8_t mtu3[] = { 53, 1, 5, 26, 3, 5, 120, 0, 255 };
	static const uint8_t dns6[] = { 53, 1, 5, 6, 6, 1, 1, 1, 1, 2, 2, 255 };
	static const uint8_t notype[] = { 1, 4, 255, 255, 255, 0, 255 };
	static const uint8_t ok[] = { 53, 1, 2, 0, 0, 26, 2, 5, 220, 255 };
	uint8_t p[400];
	struct net_dhcp_msg m;

	(void)state;
	assert_int_equal(net_dhcp_msg_parse(p, mk_msg(p, runs_past, sizeof(runs_past)), &m), -EBADMSG);
	assert_int_equal(net_dhcp_msg_parse(p, mk_msg(p, mask5, sizeof(mask5)), &m), -EBADMSG);
	assert_int_equal(net_dhcp_msg_parse(p, mk_msg(p, mtu3, sizeof(mtu3)), &m), -EBADMSG);
	assert_int_equal(net_dhcp_msg_parse(p, mk_msg(p, dns6, sizeof(dns6)), &m), -EBADMSG);
	assert_int_equal(net_dhcp_msg_parse(p, mk_msg(p, notype, sizeof(notype)), &m), -EBADMSG);
	assert_int_equal(net_dhcp_msg_parse(p, mk_msg(p, ok, sizeof(ok)), &m), 0);
	assert_int_equal(m.type, NET_DHCP_OFFER);
	assert_int_equal(m.mtu, 1500);
	/* A BOOTREQUEST (our own DISCOVER, seen on the wire) is not a reply. */
	p[0] = 1;
	assert_int_equal(net_dhcp_msg_parse(p, 240 + sizeof(ok), &m), -EBADMSG);
	/* No magic cookie: plain BOOTP, not for us. */
	mk_msg(p, ok, sizeof(ok));
	p[239] = 0;
	assert_int_equal(net_dhcp_msg_parse(p, 240 + sizeof(ok), &m), -EBADMSG);
}

static void classless_routes(void **state)
{
	/* RFC 3442 section 3 examples: 0/0 via 10.0.0.1, 10.17/16 via
	 * 10.0.0.6, 10.27.129/24 via 10.0.0.6, 10.229.0.128/25 via 10.0.0.7. */
	static const uint8_t v[] = { 0, 10, 0, 0, 1, 16, 10, 17, 10, 0, 0, 6, 24, 10, 27, 129,
				     10, 0, 0, 6, 25, 10, 229, 0, 128, 10, 0, 0, 7 };
	static const uint8_t w33[] = { 33, 1, 2, 3, 4, 5, 10, 0, 0, 1 };
	static const uint8_t opts121bad[] = { 53, 1, 5, 3, 4, 10, 0, 0, 1, 121, 3, 24, 10, 0, 255 };
	struct net_route r[NET_ROUTES_MAX];
	struct net_dhcp_msg m;
	uint8_t p[400];

	(void)state;
	assert_int_equal(net_dhcp_routes_parse(v, sizeof(v), r, NET_ROUTES_MAX), 4);
	assert_int_equal(r[0].prefix, 0);
	assert_int_equal(r[0].gw.s_addr, ip_of("10.0.0.1"));
	assert_int_equal(r[1].dst.s_addr, ip_of("10.17.0.0"));
	assert_int_equal(r[1].prefix, 16);
	assert_int_equal(r[2].dst.s_addr, ip_of("10.27.129.0"));
	assert_int_equal(r[3].dst.s_addr, ip_of("10.229.0.128"));
	assert_int_equal(r[3].prefix, 25);
	assert_int_equal(r[3].gw.s_addr, ip_of("10.0.0.7"));
	assert_int_equal(net_dhcp_routes_parse(v, sizeof(v) - 1, r, NET_ROUTES_MAX), -EBADMSG);
	assert_int_equal(net_dhcp_routes_parse(w33, sizeof(w33), r, NET_ROUTES_MAX), -EBADMSG);
	/* A bad 121 is dropped as a whole; the message (and router) stay. */
	assert_int_equal(net_dhcp_msg_parse(p, mk_msg(p, opts121bad, sizeof(opts121bad)), &m), 0);
	assert_true(m.bad_121 && !m.has_121 && m.nroutes == 0 && m.has_router);
}

/* ---- the engine against a scripted server over a socketpair ---- */

struct server {
	int fd;
	int nak;		/* answer REQUEST with NAK */
	int junk;		/* send wrong-xid and truncated OFFERs first */
	int rogue;		/* a NAK from another server before the ACK */
	int discovers, requests;
	int stop;		/* set by the test when the engine returned */
	uint8_t prl[64];	/* option 55 of the last DISCOVER/REQUEST */
	size_t nprl;
	char host[64];		/* option 12 of the last REQUEST */
};

static void sv_send(struct server *sv, struct blob *tmpl, const uint8_t *req, size_t reqlen)
{
	struct blob f = *tmpl;
	size_t off;

	(void)reqlen;
	/* Our xid and our chaddr (the captures' MAC is the one we use). */
	memcpy(f.b + ETH_IP_UDP + 4, req + ETH_IP_UDP + 4, 4);
	/* No cmocka asserts in this thread: the engine may have hung up. */
	if (net_dhcp_frame_udp(f.b, f.n, 1, &off) > 0)
		send(sv->fd, f.b, f.n, 0);
}

static void sv_note(struct server *sv, const uint8_t *req, size_t len)
{
	size_t i = ETH_IP_UDP + 240;

	while (i + 1 < len && req[i] != 255) {
		if (req[i] == 55) {
			sv->nprl = req[i + 1] < sizeof(sv->prl) ? req[i + 1] : sizeof(sv->prl);
			memcpy(sv->prl, req + i + 2, sv->nprl);
		}
		if (req[i] == 12 && req[i + 1] < sizeof(sv->host)) {
			memcpy(sv->host, req + i + 2, req[i + 1]);
			sv->host[req[i + 1]] = '\0';
		}
		i += req[i] ? (size_t)2 + req[i + 1] : 1;
	}
}

static void *server_run(void *arg)
{
	struct server *sv = arg;
	struct blob offer, ack, nak;
	uint8_t req[NET_FRAME_MAX];

	load("dnsmasq-offer.bin", &offer);
	load("dnsmasq-ack.bin", &ack);
	load("dnsmasq-nak.bin", &nak);
	for (;;) {
		struct pollfd p = { sv->fd, POLLIN, 0 };
		ssize_t n;
		uint8_t type = 0;
		size_t i;

		if (__atomic_load_n(&sv->stop, __ATOMIC_ACQUIRE))
			return NULL;
		if (poll(&p, 1, 20) <= 0)
			continue;
		n = recv(sv->fd, req, sizeof(req), 0);
		if (n <= 0)
			return NULL;
		if ((size_t)n < ETH_IP_UDP + 244)
			continue;
		for (i = ETH_IP_UDP + 240; i + 2 < (size_t)n; i += (size_t)2 + req[i + 1])
			if (req[i] == 53)
				type = req[i + 2];
		if (type == NET_DHCP_DISCOVER) {
			sv->discovers++;
			sv_note(sv, req, (size_t)n);
			if (sv->junk) {
				struct blob bad = offer;
				size_t off;

				/* An OFFER for someone else's transaction. */
				memcpy(bad.b + ETH_IP_UDP + 4, req + ETH_IP_UDP + 4, 4);
				bad.b[ETH_IP_UDP + 7] ^= 0x5a;
				net_dhcp_frame_udp(bad.b, bad.n, 1, &off);
				send(sv->fd, bad.b, bad.n, 0);
				/* Ours, but the frame is cut inside the options. */
				bad = offer;
				memcpy(bad.b + ETH_IP_UDP + 4, req + ETH_IP_UDP + 4, 4);
				send(sv->fd, bad.b, ETH_IP_UDP + 250, 0);
				/* Ours, an option length running past the end. */
				bad.b[ETH_IP_UDP + 240 + 1] = 0xff;
				net_dhcp_frame_udp(bad.b, bad.n, 1, &off);
				send(sv->fd, bad.b, bad.n, 0);
				sv->junk = 0;
			}
			sv_send(sv, &offer, req, (size_t)n);
		} else if (type == NET_DHCP_REQUEST) {
			sv->requests++;
			sv_note(sv, req, (size_t)n);
			if (sv->rogue) {
				struct blob other = nak;

				for (i = ETH_IP_UDP + 240; i + 6 < other.n; i += (size_t)2 + other.b[i + 1])
					if (other.b[i] == 54)
						other.b[i + 5] ^= 1;	/* 10.77.0.0 */
				sv_send(sv, &other, req, (size_t)n);
			}
			sv_send(sv, sv->nak ? &nak : &ack, req, (size_t)n);
		}
	}
}

static void engine_setup(struct net_dhcp_nic *nic, int fd)
{
	static const uint8_t mac[6] = { 0x8a, 0x99, 0xb8, 0xf6, 0x30, 0x0d };

	memset(nic, 0, sizeof(*nic));
	strcpy(nic->link.name, "test0");
	nic->link.ifindex = 7;
	nic->link.mtu = 1500;
	memcpy(nic->link.mac, mac, 6);
	nic->fd = fd;
}

static void engine_lease(void **state)
{
	struct server sv = { .junk = 1, .rogue = 1 };
	struct net_dhcp_nic nic;
	struct net_lease l = { 0 };
	pthread_t th;
	int sp[2], rc;
	uint64_t t0;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sp), 0);
	sv.fd = sp[1];
	engine_setup(&nic, sp[0]);
	assert_int_equal(pthread_create(&th, NULL, server_run, &sv), 0);
	t0 = net_now_ms();
	rc = net_dhcp_run(&nic, 1, "vm-test", t0 + 1000, t0 + 5000, &l);
	__atomic_store_n(&sv.stop, 1, __ATOMIC_RELEASE);
	pthread_join(th, NULL);
	close(sp[0]);
	close(sp[1]);
	assert_int_equal(rc, 0);
	assert_int_equal(l.why, NET_WHY_NONE);
	assert_string_equal(l.ifname, "test0");
	assert_int_equal(l.source, NET_SRC_DHCP);
	assert_int_equal(l.addr.s_addr, ip_of("10.77.0.50"));
	assert_int_equal(l.prefix, 24);
	/* Option 121 present: the router option is ignored (RFC 3442); the
	 * default route is 121's 0/0 entry (the same router here). */
	assert_int_equal(l.gw.s_addr, ip_of("10.77.0.1"));
	assert_int_equal(l.nroutes, 1);
	assert_int_equal(l.routes[0].dst.s_addr, ip_of("192.168.50.0"));
	assert_int_equal(l.routes[0].gw.s_addr, ip_of("10.77.0.2"));
	assert_int_equal(l.server.s_addr, ip_of("10.77.0.1"));
	assert_int_equal(l.lease_secs, 3600);
	assert_int_equal(l.mtu, 1400);
	assert_int_equal(l.ndns, 2);
	/* The junk OFFERs were dropped; the good one was taken at once. */
	assert_int_equal(sv.discovers, 1);
	assert_int_equal(sv.requests, 1);
	assert_int_equal(l.discovers, 1);
	assert_int_equal(nic.naks, 0);	/* the other server's NAK was ignored */
	/* lwIP's request list, extended by our hook (in the REQUEST, where
	 * lwIP puts the hostname after the list). */
	assert_string_equal(sv.host, "vm-test");
	assert_non_null(memchr(sv.prl, 1, sv.nprl));
	assert_non_null(memchr(sv.prl, 3, sv.nprl));
	assert_non_null(memchr(sv.prl, 6, sv.nprl));
	assert_non_null(memchr(sv.prl, 26, sv.nprl));
	assert_non_null(memchr(sv.prl, 121, sv.nprl));
}

static void engine_nak(void **state)
{
	struct server sv = { .nak = 1 };
	struct net_dhcp_nic nic;
	struct net_lease l = { 0 };
	pthread_t th;
	int sp[2], rc;
	uint64_t t0, took;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sp), 0);
	sv.fd = sp[1];
	engine_setup(&nic, sp[0]);
	assert_int_equal(pthread_create(&th, NULL, server_run, &sv), 0);
	t0 = net_now_ms();
	rc = net_dhcp_run(&nic, 1, NULL, t0 + 300, t0 + 1900, &l);
	took = net_now_ms() - t0;
	__atomic_store_n(&sv.stop, 1, __ATOMIC_RELEASE);
	pthread_join(th, NULL);
	close(sp[0]);
	close(sp[1]);
	assert_int_equal(rc, -ETIMEDOUT);
	assert_int_equal(l.why, NET_WHY_NAK);
	assert_non_null(strstr(l.detail, "10.77.0.1"));
	assert_non_null(strstr(l.detail, "test0"));
	/* RFC 2131 3.1.5: after a NAK the client starts over, here after
	 * 1 s +/- 0.5 s, then 2 s +/- 0.5 s: exactly two rounds by 1.9 s. */
	assert_int_equal(sv.discovers, 2);
	assert_int_equal(sv.requests, 2);
	/* Never before the deadline; late only by scheduling (SLACK_MS). */
	assert_true(took >= 1900 && took < 1900 + SLACK_MS);
}

static void engine_silence(void **state)
{
	struct net_dhcp_nic nic;
	struct net_lease l = { 0 };
	int sp[2], rc;
	uint64_t t0, took;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sp), 0);
	engine_setup(&nic, sp[0]);
	t0 = net_now_ms();
	rc = net_dhcp_run(&nic, 1, NULL, t0 + 300, t0 + 3200, &l);
	took = net_now_ms() - t0;
	close(sp[0]);
	close(sp[1]);
	assert_int_equal(rc, -ETIMEDOUT);
	assert_int_equal(l.why, NET_WHY_NO_OFFER);
	assert_non_null(strstr(l.detail, "test0"));
	/* First DISCOVER at once, the retransmission after 2 s +/- 1 s (in
	 * lwIP's 500 ms ticks), the next one not before 2 + 8 - 1 s. */
	assert_int_equal(l.discovers, 2);
	assert_true(took >= 3200 && took < 3200 + SLACK_MS);
}

/* ---- static configuration and resolv.conf ---- */

static void ip_arg(void **state)
{
	struct net_static st;
	char err[160];

	(void)state;
	assert_int_equal(net_static_parse_ip("10.0.0.5::10.0.0.1:255.255.255.0:vm1:eth0:off:"
					     "10.0.0.53:10.0.0.54", &st, err, sizeof(err)), 0);
	assert_int_equal(st.mode, NET_MODE_STATIC);
	assert_int_equal(st.lease.addr.s_addr, ip_of("10.0.0.5"));
	assert_int_equal(st.lease.gw.s_addr, ip_of("10.0.0.1"));
	assert_int_equal(st.lease.prefix, 24);
	assert_string_equal(st.dev, "eth0");
	assert_string_equal(st.hostname, "vm1");
	assert_int_equal(st.lease.ndns, 2);
	assert_int_equal(st.lease.dns[1].s_addr, ip_of("10.0.0.54"));
	assert_int_equal(net_static_parse_ip("172.16.1.2", &st, err, sizeof(err)), 0);
	assert_int_equal(st.mode, NET_MODE_STATIC);
	assert_int_equal(st.lease.prefix, 16);
	assert_int_equal(net_static_parse_ip("dhcp", &st, err, sizeof(err)), 0);
	assert_int_equal(st.mode, NET_MODE_DHCP);
	assert_int_equal(net_static_parse_ip(":::::eth1:dhcp", &st, err, sizeof(err)), 0);
	assert_int_equal(st.mode, NET_MODE_DHCP);
	assert_string_equal(st.dev, "eth1");
	assert_int_equal(net_static_parse_ip("off", &st, err, sizeof(err)), 0);
	assert_int_equal(st.mode, NET_MODE_OFF);
	assert_int_equal(net_static_parse_ip(NULL, &st, err, sizeof(err)), 0);
	assert_int_equal(st.mode, NET_MODE_DHCP);
	assert_int_equal(net_static_parse_ip("10.0.0.5::10.0.0.1:255.0.255.0", &st, err,
					     sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "netmask"));
	assert_int_equal(net_static_parse_ip("10.0.0.5:::::eth0:maybe", &st, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "autoconf"));
	assert_int_equal(net_static_parse_ip("10.0.0.300", &st, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "client-ip"));
}

static void opennebula_ctx(void **state)
{
	struct net_kv kv[] = {
		{ "ETH0_IP", "192.168.7.9" }, { "ETH0_MASK", "255.255.254.0" },
		{ "ETH0_GATEWAY", "192.168.6.1" }, { "ETH0_DNS", "8.8.8.8 1.1.1.1" },
		{ "ETH0_MTU", "9000" }, { "ETH0_MAC", "02:00:c0:a8:07:09" },
		{ "ETH0_SEARCH_DOMAIN", "example.org" }, { "HOSTNAME", "x" },
	};
	struct net_static st = { 0 };
	char err[160];

	(void)state;
	assert_int_equal(net_static_parse_ctx(kv, 8, &st, err, sizeof(err)), 0);
	assert_int_equal(st.mode, NET_MODE_STATIC);
	assert_int_equal(st.lease.addr.s_addr, ip_of("192.168.7.9"));
	assert_int_equal(st.lease.prefix, 23);
	assert_int_equal(st.lease.gw.s_addr, ip_of("192.168.6.1"));
	assert_int_equal(st.lease.ndns, 2);
	assert_int_equal(st.lease.mtu, 9000);
	assert_true(st.has_mac && st.mac[5] == 0x09);
	assert_string_equal(st.lease.search, "example.org");
	kv[4].val = "12";
	assert_int_equal(net_static_parse_ctx(kv, 8, &st, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "ETH0_MTU"));
	kv[4].val = "1500";
	kv[6].val = "a.org\nnameserver 6.6.6.6";
	assert_int_equal(net_static_parse_ctx(kv, 8, &st, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "ETH0_SEARCH_DOMAIN"));
	/* No ETH0_IP: nothing static, DHCP stays. */
	memset(&st, 0, sizeof(st));
	assert_int_equal(net_static_parse_ctx(kv + 1, 7, &st, err, sizeof(err)), 0);
	assert_int_equal(st.mode, NET_MODE_DHCP);
}

static void resolv_text(void **state)
{
	struct net_lease l = { .source = NET_SRC_DHCP, .ndns = 2, .search = "cern.ch" };
	char buf[256];
	ssize_t n;

	(void)state;
	strcpy(l.ifname, "eth0");
	l.dns[0].s_addr = ip_of("10.0.0.53");
	l.dns[1].s_addr = ip_of("10.0.0.54");
	n = net_resolv_fmt(&l, buf, sizeof(buf));
	assert_true(n > 0);
	assert_string_equal(buf, "# written by cvmboot from the DHCP lease on eth0\n"
				 "search cern.ch\nnameserver 10.0.0.53\nnameserver 10.0.0.54\n");
	assert_int_equal(net_resolv_fmt(&l, buf, 40), -ENOSPC);
	assert_int_equal(net_why_str(NET_WHY_NAK)[0] != '\0', 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ack_from_dnsmasq),
		cmocka_unit_test(checksum_completed),
		cmocka_unit_test(nak_from_dnsmasq),
		cmocka_unit_test(truncated_rejected),
		cmocka_unit_test(overlong_options_rejected),
		cmocka_unit_test(classless_routes),
		cmocka_unit_test(engine_lease),
		cmocka_unit_test(engine_nak),
		cmocka_unit_test(engine_silence),
		cmocka_unit_test(ip_arg),
		cmocka_unit_test(opennebula_ctx),
		cmocka_unit_test(resolv_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
