/* SPDX-License-Identifier: MIT */
/* net/lwip-port/hooks.h: lwIP hooks (LWIP_HOOK_FILENAME), implemented in
 * net/lwip-port/port.c. Included by lwIP's own sources, so only lwIP types here. */
#ifndef CVMBOOT_LWIP_HOOKS_H
#define CVMBOOT_LWIP_HOOKS_H

struct netif;
struct dhcp_msg;

/* Called after lwIP wrote its options (parameter request list last) into
 * every DHCP message it sends: adds 6 (DNS), 15 (domain), 26 (MTU) and
 * 121 (classless routes) to that list, since lwIP 2.1.3 has no setting for
 * it and dnsmasq, like most servers, sends only what is asked for. */
void net_lwip_dhcp_append(struct netif *netif, struct dhcp_msg *msg, unsigned char msg_type,
			  unsigned short *options_len);

#define LWIP_HOOK_DHCP_APPEND_OPTIONS(netif, dhcp, state, msg, msg_type, options_len_ptr) \
	net_lwip_dhcp_append(netif, msg, msg_type, options_len_ptr)

#endif
