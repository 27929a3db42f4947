/* SPDX-License-Identifier: MIT */
/* net/link.c: NIC discovery, carrier and up/down through ioctl, and the
 * AF_PACKET socket lwIP talks through. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <linux/if_packet.h>
#include <linux/if_ether.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/internal.h"

static int ifreq_do(const char *name, unsigned long req, struct ifreq *ifr)
{
	int fd, rc = 0;

	if (strlen(name) >= IFNAMSIZ)
		return -ENAMETOOLONG;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	strncpy(ifr->ifr_name, name, IFNAMSIZ - 1);
	ifr->ifr_name[IFNAMSIZ - 1] = '\0';
	if (ioctl(fd, req, ifr) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

/* see internal.h */
int net_link_info(const char *name, struct net_nic *nic)
{
	struct ifreq ifr;
	int rc;

	memset(nic, 0, sizeof(*nic));
	memset(&ifr, 0, sizeof(ifr));
	if ((rc = ifreq_do(name, SIOCGIFINDEX, &ifr)) < 0)
		return rc == -ENXIO ? -ENODEV : rc;
	nic->ifindex = ifr.ifr_ifindex;
	if ((rc = ifreq_do(name, SIOCGIFHWADDR, &ifr)) < 0)
		return rc;
	if (ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER)
		return -EPROTOTYPE;
	memcpy(nic->mac, ifr.ifr_hwaddr.sa_data, 6);
	if ((rc = ifreq_do(name, SIOCGIFMTU, &ifr)) < 0)
		return rc;
	nic->mtu = ifr.ifr_mtu > 0xffff ? 0xffff : (uint16_t)ifr.ifr_mtu;
	strncpy(nic->name, name, sizeof(nic->name) - 1);
	return 0;
}

/* see internal.h */
int net_link_list(struct net_nic *nics, size_t cap)
{
	struct if_nameindex *ix = if_nameindex(), *p;
	size_t n = 0;

	if (!ix)
		return -errno;
	/* if_nameindex lists in ifindex order (the kernel's dump order). */
	for (p = ix; p->if_index && n < cap; p++)
		if (strcmp(p->if_name, "lo") != 0 && net_link_info(p->if_name, &nics[n]) == 0)
			n++;
	if_freenameindex(ix);
	return (int)n;
}

/* see internal.h */
int net_link_set_up(const char *name)
{
	struct ifreq ifr;
	int rc;

	memset(&ifr, 0, sizeof(ifr));
	if ((rc = ifreq_do(name, SIOCGIFFLAGS, &ifr)) < 0)
		return rc;
	if (ifr.ifr_flags & IFF_UP)
		return 0;
	ifr.ifr_flags |= IFF_UP;
	return ifreq_do(name, SIOCSIFFLAGS, &ifr);
}

/* see internal.h */
int net_link_has_carrier(const char *name)
{
	struct ifreq ifr;
	char path[64], c = 0;
	int fd, rc;

	memset(&ifr, 0, sizeof(ifr));
	if ((rc = ifreq_do(name, SIOCGIFFLAGS, &ifr)) < 0)
		return rc;
	if (!(ifr.ifr_flags & IFF_UP))
		return 0;
	/* sysfs shows the driver's carrier at once; IFF_RUNNING follows it
	 * only after linkwatch runs, up to a second later (net/core/link_watch.c),
	 * which would cost every boot that second. */
	snprintf(path, sizeof(path), "/sys/class/net/%s/carrier", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		rc = (int)read(fd, &c, 1);
		close(fd);
		if (rc == 1)
			return c == '1';
	}
	return !!(ifr.ifr_flags & IFF_RUNNING);
}

/* see internal.h */
int net_link_packet_open(int ifindex)
{
	struct sockaddr_ll sll;
	int fd, one = 1;

	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, htons(ETH_P_ALL));
	if (fd < 0)
		return -errno;
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = ifindex;
	/* PACKET_QDISC_BYPASS: a NIC that got carrier before it was opened
	 * keeps the noop qdisc, which drops silently, until linkwatch attaches
	 * the real one up to a second later (dev_activate); the driver's own
	 * queue takes our few frames at once, or says no. */
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0 ||
	    setsockopt(fd, SOL_PACKET, PACKET_AUXDATA, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one)) < 0) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	return fd;
}
