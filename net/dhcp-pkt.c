/* SPDX-License-Identifier: MIT */
/* net/dhcp-pkt.c: pure codecs for DHCP replies and the frames carrying them. */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "net/internal.h"

#define BOOTP_FIXED	236	/* op .. file, RFC 2131 figure 1 */
#define DHCP_MAGIC	0x63825363u
#define ETH_HLEN_	14
#define UDP_HLEN	8

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static struct in_addr get_in(const uint8_t *p)
{
	struct in_addr a;

	memcpy(&a.s_addr, p, 4);
	return a;
}

/* see internal.h */
int net_dhcp_routes_parse(const uint8_t *v, size_t len, struct net_route *r, size_t cap)
{
	size_t i = 0, n = 0;

	while (i < len) {
		uint8_t width = v[i++];
		size_t sig = (width + 7u) / 8u;
		uint8_t dst[4] = { 0 };

		/* RFC 3442 section 2: width 0..32, then ceil(width/8) octets of
		 * destination and 4 of router. */
		if (width > 32 || len - i < sig + 4)
			return -EBADMSG;
		memcpy(dst, v + i, sig);
		i += sig;
		if (n < cap) {
			uint32_t m = width ? htonl(~0u << (32 - width)) : 0;

			memcpy(&r[n].dst.s_addr, dst, 4);
			r[n].dst.s_addr &= m;
			r[n].prefix = width;
			r[n].gw = get_in(v + i);
			n++;
		}
		i += 4;
	}
	return (int)n;
}

static int opt_fixed(uint8_t len, uint8_t want)
{
	return len == want ? 0 : -EBADMSG;
}

static int opt_one(struct net_dhcp_msg *m, uint8_t code, const uint8_t *v, uint8_t len)
{
	size_t k;
	int rc;

	switch (code) {
	case 53:
		if (opt_fixed(len, 1) < 0)
			return -EBADMSG;
		m->type = v[0];
		break;
	case 1:
		if (opt_fixed(len, 4) < 0)
			return -EBADMSG;
		m->mask = get_in(v), m->has_mask = 1;
		break;
	case 3:
		/* A list; the first router is the one we use. */
		if (len < 4 || len % 4)
			return -EBADMSG;
		m->router = get_in(v), m->has_router = 1;
		break;
	case 6:
		if (len < 4 || len % 4)
			return -EBADMSG;
		for (k = 0; k < len / 4u && m->ndns < NET_DNS_MAX; k++)
			m->dns[m->ndns++] = get_in(v + 4 * k);
		break;
	case 15:
		k = len < sizeof(m->domain) - 1 ? len : sizeof(m->domain) - 1;
		memcpy(m->domain, v, k);
		m->domain[k] = '\0';
		/* Domain names are data for resolv.conf: keep printable only. */
		for (k = 0; m->domain[k]; k++)
			if (m->domain[k] <= ' ' || m->domain[k] > '~')
				m->domain[k] = '\0';
		break;
	case 26:
		if (opt_fixed(len, 2) < 0)
			return -EBADMSG;
		m->mtu = get16(v);
		break;
	case 51:
		if (opt_fixed(len, 4) < 0)
			return -EBADMSG;
		m->lease_secs = get32(v), m->has_lease = 1;
		break;
	case 54:
		if (opt_fixed(len, 4) < 0)
			return -EBADMSG;
		m->server = get_in(v), m->has_server = 1;
		break;
	case 121:
		rc = net_dhcp_routes_parse(v, len, m->routes, NET_ROUTES_MAX);
		if (rc < 0) {
			m->bad_121 = 1, m->has_121 = 0, m->nroutes = 0;
		} else {
			m->has_121 = 1;
			m->nroutes = (size_t)rc < NET_ROUTES_MAX ? (size_t)rc : NET_ROUTES_MAX;
		}
		break;
	}
	return 0;
}

/* see internal.h */
int net_dhcp_msg_parse(const uint8_t *p, size_t len, struct net_dhcp_msg *m)
{
	size_t i;
	int end = 0;

	memset(m, 0, sizeof(*m));
	if (len < BOOTP_FIXED + 4 || p[0] != 2 /* BOOTREPLY */ || p[1] != 1 || p[2] != 6)
		return -EBADMSG;
	if (get32(p + BOOTP_FIXED) != DHCP_MAGIC)
		return -EBADMSG;
	m->op = p[0];
	m->xid = get32(p + 4);
	m->yiaddr = get_in(p + 16);
	memcpy(m->chaddr, p + 28, 6);
	/* Options; sname/file overload (option 52) is not followed: lwIP
	 * does, and what it finds there (mask, router) it reports itself. */
	for (i = BOOTP_FIXED + 4; i < len;) {
		uint8_t code = p[i++], olen;

		if (code == 255) {
			end = 1;
			break;
		}
		if (code == 0)
			continue;
		if (i >= len)
			return -EBADMSG;
		olen = p[i++];
		if (len - i < olen)
			return -EBADMSG;
		if (opt_one(m, code, p + i, olen) < 0)
			return -EBADMSG;
		i += olen;
	}
	/* RFC 2131 section 4.1: options end with 255; without it the message
	 * was cut short somewhere on the way. */
	if (!end || m->type < NET_DHCP_DISCOVER || m->type > NET_DHCP_INFORM)
		return -EBADMSG;
	return 0;
}

/* see internal.h */
uint16_t net_csum(const uint8_t *buf, size_t len, uint32_t sum)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)buf[i] << 8 | buf[i + 1];
	if (len & 1)
		sum += (uint32_t)buf[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* see internal.h */
ssize_t net_dhcp_frame_udp(uint8_t *f, size_t len, int csum_partial, size_t *off)
{
	size_t ihl, tot, ulen;
	uint8_t *ip, *udp;
	uint32_t sum;
	uint16_t c;

	if (len < ETH_HLEN_ || get16(f + 12) != 0x0800)
		return -ENOMSG;
	ip = f + ETH_HLEN_;
	len -= ETH_HLEN_;
	if (len < 20 || (ip[0] >> 4) != 4)
		return -EBADMSG;
	ihl = (size_t)(ip[0] & 15) * 4;
	tot = get16(ip + 2);
	if (ihl < 20 || tot < ihl || tot > len)
		return -EBADMSG;
	if (ip[9] != 17)
		return -ENOMSG;
	/* Fragments never carry a whole DHCP reply; lwIP is built without
	 * reassembly (IP_REASSEMBLY 0). */
	if (get16(ip + 6) & 0x3fff)
		return -ENOMSG;
	if (tot - ihl < UDP_HLEN)
		return -EBADMSG;
	udp = ip + ihl;
	if (get16(udp + 2) != 68)
		return -ENOMSG;
	ulen = get16(udp + 4);
	if (ulen < UDP_HLEN || ulen > tot - ihl)
		return -EBADMSG;
	if (csum_partial) {
		/* The kernel marked the checksum as not yet computed (offload on
		 * the sending side, TP_STATUS_CSUMNOTREADY): finish it so lwIP's
		 * checksum check sees a valid packet. */
		sum = (uint32_t)get16(ip + 12) + get16(ip + 14) + get16(ip + 16) + get16(ip + 18) +
		      17u + (uint32_t)ulen;
		udp[6] = udp[7] = 0;
		c = (uint16_t)~net_csum(udp, ulen, sum);
		if (c == 0)
			c = 0xffff;
		udp[6] = (uint8_t)(c >> 8), udp[7] = (uint8_t)c;
	}
	*off = (size_t)(udp + UDP_HLEN - f);
	return (ssize_t)(ulen - UDP_HLEN);
}
