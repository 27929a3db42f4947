/* SPDX-License-Identifier: MIT */
/* net/resolv.c: /etc/resolv.conf from the lease's DNS servers and domain. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "net/internal.h"

/* see internal.h */
ssize_t net_resolv_fmt(const struct net_lease *l, char *buf, size_t len)
{
	char a[INET_ADDRSTRLEN];
	size_t off = 0, i;
	int n;

	n = snprintf(buf, len, "# written by cvmboot from the %s lease on %s\n",
		     l->source == NET_SRC_STATIC ? "static" : "DHCP", l->ifname);
	if (n < 0 || (size_t)n >= len)
		return -ENOSPC;
	off = (size_t)n;
	if (l->search[0]) {
		n = snprintf(buf + off, len - off, "search %s\n", l->search);
		if (n < 0 || (size_t)n >= len - off)
			return -ENOSPC;
		off += (size_t)n;
	}
	for (i = 0; i < l->ndns; i++) {
		inet_ntop(AF_INET, &l->dns[i], a, sizeof(a));
		n = snprintf(buf + off, len - off, "nameserver %s\n", a);
		if (n < 0 || (size_t)n >= len - off)
			return -ENOSPC;
		off += (size_t)n;
	}
	return (ssize_t)off;
}

/* see internal.h */
int net_resolv_write(const char *path, const struct net_lease *l)
{
	char buf[512], tmp[256];
	ssize_t len, w;
	int fd, rc = 0;

	/* slirp under restrict=on sends no DNS option: keep whatever is there. */
	if (l->ndns == 0 && !l->search[0])
		return 0;
	if ((len = net_resolv_fmt(l, buf, sizeof(buf))) < 0)
		return (int)len;
	if (snprintf(tmp, sizeof(tmp), "%s.cvmboot-tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	w = write(fd, buf, (size_t)len);
	if (w != len)
		rc = w < 0 ? -errno : -EIO;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	/* rename: a reader sees the old file or the new one, never half. */
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0)
		unlink(tmp);
	return rc;
}
