/* SPDX-License-Identifier: MIT */
/* net/lwip-port/port.c: lwIP's platform side: the clock (NO_SYS timers), an
 * Ethernet netif whose linkoutput writes to the NIC's AF_PACKET socket, and
 * the DHCP option hook. Input is read by net/dhcp.c's poll loop. */
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "lwip/etharp.h"
#include "lwip/prot/dhcp.h"
#include "lwip/sys.h"
#include "net/internal.h"
#include "hooks.h"

/* lwIP's timers wrap at 2^32 ms by design (sys.h). */
u32_t sys_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (u32_t)((uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u);
}

/* see hooks.h */
void net_lwip_dhcp_append(struct netif *netif, struct dhcp_msg *msg, unsigned char msg_type,
			  unsigned short *options_len)
{
	static const uint8_t want[] = { 6, 15, 26, 121 };
	struct net_dhcp_nic *nic = netif->state;
	uint8_t *o = msg->options;
	size_t i = 0, end, len = *options_len, add = sizeof(want);

	if (msg_type == DHCP_DISCOVER)
		nic->discovers++;
	while (i + 1 < len && o[i] != DHCP_OPTION_PARAMETER_REQUEST_LIST)
		i += (size_t)2 + o[i + 1];
	/* One byte stays free for the end option. */
	if (i + 1 >= len || len + add + 1 > DHCP_OPTIONS_LEN || o[i + 1] + add > 255)
		return;
	end = i + 2 + o[i + 1];
	memmove(o + end + add, o + end, len - end);
	memcpy(o + end, want, add);
	o[i + 1] = (uint8_t)(o[i + 1] + add);
	*options_len = (unsigned short)(len + add);
}

/* lwIP hands us a frame to send: copy the pbuf chain and write it out. */
static err_t nic_linkoutput(struct netif *netif, struct pbuf *p)
{
	struct net_dhcp_nic *nic = netif->state;
	uint8_t buf[NET_FRAME_MAX];
	u16_t n;

	if (p->tot_len > sizeof(buf))
		return ERR_BUF;
	n = pbuf_copy_partial(p, buf, p->tot_len, 0);
	/* Non-blocking: a full queue loses this frame, which DHCP's own
	 * retransmission covers. */
	if (send(nic->fd, buf, n, MSG_DONTWAIT) < 0)
		return ERR_IF;
	return ERR_OK;
}

/* see internal.h */
err_t net_port_netif_init(struct netif *netif)
{
	struct net_dhcp_nic *nic = netif->state;

	netif->name[0] = 'e', netif->name[1] = 'n';
	netif->hwaddr_len = 6;
	memcpy(netif->hwaddr, nic->link.mac, 6);
	netif->mtu = nic->link.mtu;
	netif->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET;
	netif->output = etharp_output;
	netif->linkoutput = nic_linkoutput;
	return ERR_OK;
}
