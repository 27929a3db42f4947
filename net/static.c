/* SPDX-License-Identifier: MIT */
/* net/static.c: static configuration from the kernel's ip= argument and from
 * OpenNebula context variables (ETH0_*). Pure parsing, no I/O. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/internal.h"

/* see internal.h */
int net_prefix_from_mask(struct in_addr mask)
{
	uint32_t m = ntohl(mask.s_addr);
	int n = 0;

	while (m & 0x80000000u)
		m <<= 1, n++;
	return m ? -EINVAL : n;
}

static int parse_addr(const char *s, size_t len, struct in_addr *a)
{
	char buf[INET_ADDRSTRLEN];

	if (len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, len);
	buf[len] = '\0';
	return inet_pton(AF_INET, buf, a) == 1 ? 0 : -EINVAL;
}

/* A mask given as dotted quad or as a prefix length ("24"). */
static int parse_mask(const char *s, size_t len, uint8_t *prefix)
{
	struct in_addr m;
	char *end;
	long v;
	int p;

	if (parse_addr(s, len, &m) == 0) {
		if ((p = net_prefix_from_mask(m)) < 0)
			return -EINVAL;
		*prefix = (uint8_t)p;
		return 0;
	}
	v = strtol(s, &end, 10);
	if (end != s + len || len == 0 || v < 0 || v > 32)
		return -EINVAL;
	*prefix = (uint8_t)v;
	return 0;
}

/* Natural (classful) prefix, the kernel's default when ip= has no mask. */
static uint8_t classful(struct in_addr a)
{
	uint32_t h = ntohl(a.s_addr);

	return h < 0x80000000u ? 8 : h < 0xc0000000u ? 16 : 24;
}

static int is_word(const char *s, size_t len, const char *w)
{
	return strlen(w) == len && strncmp(s, w, len) == 0;
}

static int autoconf_is_dhcp(const char *s, size_t len)
{
	return is_word(s, len, "dhcp") || is_word(s, len, "on") || is_word(s, len, "any") ||
	       is_word(s, len, "both") || is_word(s, len, "bootp") || is_word(s, len, "rarp");
}

static int ip_field(struct net_static *st, int k, const char *s, size_t len, int *dhcp)
{
	struct net_lease *l = &st->lease;

	if (len == 0)
		return 0;
	switch (k) {
	case 0: return parse_addr(s, len, &l->addr);
	case 1: return 0;	/* NFS server: not ours */
	case 2: return parse_addr(s, len, &l->gw);
	case 3: return parse_mask(s, len, &l->prefix);
	case 4:
		if (len >= sizeof(st->hostname))
			return -EINVAL;
		memcpy(st->hostname, s, len);
		st->hostname[len] = '\0';
		return 0;
	case 5:
		if (len >= sizeof(st->dev))
			return -EINVAL;
		memcpy(st->dev, s, len);
		st->dev[len] = '\0';
		return 0;
	case 6:
		if (is_word(s, len, "off") || is_word(s, len, "none"))
			return 0;
		if (!autoconf_is_dhcp(s, len))
			return -EINVAL;
		*dhcp = 1;
		return 0;
	case 7: case 8:
		if (l->ndns >= NET_DNS_MAX)
			return 0;
		return parse_addr(s, len, &l->dns[l->ndns++]);
	default:
		return 0;	/* NTP server and anything later: ignored */
	}
}

/* see internal.h */
int net_static_parse_ip(const char *arg, struct net_static *st, char *err, size_t errlen)
{
	static const char *const names[] = { "client-ip", "server-ip", "gw-ip", "netmask",
					     "hostname", "device", "autoconf", "dns0-ip",
					     "dns1-ip", "ntp0-ip" };
	const char *p = arg, *c;
	int k, dhcp = 0, prefix_given;

	memset(st, 0, sizeof(*st));
	if (!arg || !*arg || strcmp(arg, "off") == 0 || strcmp(arg, "none") == 0) {
		st->mode = arg && *arg ? NET_MODE_OFF : NET_MODE_DHCP;
		return 0;
	}
	if (!strchr(arg, ':') && autoconf_is_dhcp(arg, strlen(arg)))
		return 0;
	st->lease.prefix = 0xff;
	for (k = 0; ; k++) {
		c = strchr(p, ':');
		if (ip_field(st, k, p, c ? (size_t)(c - p) : strlen(p), &dhcp) < 0) {
			snprintf(err, errlen, "ip=%s: bad %s field '%.*s'", arg,
				 k < 10 ? names[k] : "extra", (int)(c ? c - p : (long)strlen(p)), p);
			return -EINVAL;
		}
		if (!c)
			break;
		p = c + 1;
	}
	prefix_given = st->lease.prefix != 0xff;
	if (dhcp || !st->lease.addr.s_addr) {
		/* "ip=:::::eth0:dhcp": DHCP, perhaps on one device only. */
		st->mode = NET_MODE_DHCP;
		st->lease.ndns = 0;
		return 0;
	}
	if (!prefix_given)
		st->lease.prefix = classful(st->lease.addr);
	st->mode = NET_MODE_STATIC;
	st->lease.source = NET_SRC_STATIC;
	return 0;
}

static const char *kv_get(const struct net_kv *kv, size_t n, const char *key)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (kv[i].key && kv[i].val && strcmp(kv[i].key, key) == 0)
			return kv[i].val;
	return NULL;
}

static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned v[6];
	int i, n = 0;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%n", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
		   &n) != 6 || s[n])
		return -EINVAL;
	for (i = 0; i < 6; i++)
		mac[i] = (uint8_t)v[i];
	return 0;
}

/* ETH0_DNS is a space-separated list. */
static int parse_dns_list(const char *s, struct net_lease *l)
{
	while (*s) {
		size_t len;

		while (*s == ' ' || *s == ',')
			s++;
		len = strcspn(s, " ,");
		if (len && l->ndns < NET_DNS_MAX && parse_addr(s, len, &l->dns[l->ndns++]) < 0)
			return -EINVAL;
		s += len;
	}
	return 0;
}

#define CTX_BAD(key, val) do { \
	snprintf(err, errlen, "context %s='%s' is not valid", key, val); \
	return -EINVAL; \
} while (0)

/* see internal.h */
int net_static_parse_ctx(const struct net_kv *kv, size_t n, struct net_static *st,
			 char *err, size_t errlen)
{
	const char *ip = kv_get(kv, n, "ETH0_IP"), *v;
	struct net_static s;
	char *end;
	long mtu;

	v = kv_get(kv, n, "ETH0_METHOD");
	if (!ip || !*ip || (v && strcmp(v, "dhcp") == 0))
		return 0;
	memset(&s, 0, sizeof(s));
	s.mode = NET_MODE_STATIC;
	s.lease.source = NET_SRC_STATIC;
	if (parse_addr(ip, strlen(ip), &s.lease.addr) < 0)
		CTX_BAD("ETH0_IP", ip);
	s.lease.prefix = classful(s.lease.addr);
	if ((v = kv_get(kv, n, "ETH0_MASK")) && *v && parse_mask(v, strlen(v), &s.lease.prefix) < 0)
		CTX_BAD("ETH0_MASK", v);
	if ((v = kv_get(kv, n, "ETH0_GATEWAY")) && *v && parse_addr(v, strlen(v), &s.lease.gw) < 0)
		CTX_BAD("ETH0_GATEWAY", v);
	if ((v = kv_get(kv, n, "ETH0_DNS")) && parse_dns_list(v, &s.lease) < 0)
		CTX_BAD("ETH0_DNS", v);
	if ((v = kv_get(kv, n, "ETH0_MTU")) && *v) {
		mtu = strtol(v, &end, 10);
		if (*end || mtu < 68 || mtu > 65535)
			CTX_BAD("ETH0_MTU", v);
		s.lease.mtu = (uint16_t)mtu;
	}
	if ((v = kv_get(kv, n, "ETH0_MAC")) && *v) {
		if (parse_mac(v, s.mac) < 0)
			CTX_BAD("ETH0_MAC", v);
		s.has_mac = 1;
	}
	if ((v = kv_get(kv, n, "ETH0_SEARCH_DOMAIN")) && *v) {
		/* It goes into resolv.conf: one line, printable. */
		if (strlen(v) >= sizeof(s.lease.search) || v[strcspn(v, "\n\r\t\\#;")])
			CTX_BAD("ETH0_SEARCH_DOMAIN", v);
		strcpy(s.lease.search, v);
	}
	*st = s;
	return 0;
}
