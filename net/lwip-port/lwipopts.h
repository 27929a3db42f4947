/* SPDX-License-Identifier: MIT */
/* lwIP options for cvmboot: NO_SYS, IPv4 with ARP, UDP and DHCP only. lwIP
 * only gets the lease; the kernel owns the interface afterwards, so no TCP. */
#ifndef CVMBOOT_LWIPOPTS_H
#define CVMBOOT_LWIPOPTS_H

#define NO_SYS			1
#define SYS_LIGHTWEIGHT_PROT	0
#define LWIP_IPV4		1
#define LWIP_IPV6		0
#define LWIP_ARP		1
#define LWIP_ETHERNET		1
#define LWIP_UDP		1
#define LWIP_TCP		0
#define LWIP_RAW		0
#define LWIP_ICMP		1
#define LWIP_DHCP		1
#define LWIP_DHCP_DOES_ACD_CHECK 0
#define DHCP_DOES_ARP_CHECK	0
#define LWIP_AUTOIP		0
#define LWIP_IGMP		0
#define LWIP_DNS		0
#define LWIP_NETCONN		0
#define LWIP_SOCKET		0
#define LWIP_STATS		0
#define LWIP_NETIF_HOSTNAME	1
#define LWIP_NETIF_STATUS_CALLBACK 1
#define LWIP_NETIF_LINK_CALLBACK 1
#define LWIP_DHCP_GET_NTP_SRV	0
#define LWIP_DHCP_MAX_DNS_SERVERS 3
#define DNS_MAX_SERVERS		3
#define IP_REASSEMBLY		0
#define IP_FRAG			0
#define MEM_ALIGNMENT		8
#define MEM_SIZE		(32 * 1024)
#define PBUF_POOL_SIZE		16
#define MEMP_NUM_SYS_TIMEOUT	8
#define LWIP_TIMERS		1
#define LWIP_NETIF_API		0
#define LWIP_DHCP_BOOTP_FILE	0
#define ETHARP_SUPPORT_STATIC_ENTRIES 0
#define LWIP_SINGLE_NETIF	0
#define LWIP_NOASSERT		1
#define LWIP_PROVIDE_ERRNO	0
/* htons and friends come from the libc; lwIP uses its lwip_htons itself. */
#define LWIP_DONT_PROVIDE_BYTEORDER_FUNCTIONS 1
/* Room for our parameter request list additions and a hostname. */
#define DHCP_OPTIONS_LEN	96
/* net/lwip-port/hooks.h: asks for options 6, 15, 26, 121 in every request. */
#define LWIP_HOOK_FILENAME	"hooks.h"
#endif
