/* SPDX-License-Identifier: MIT */
/* fuzz_dhcp: what arrives on the AF_PACKET socket during DHCP: the
 * Ethernet/IPv4/UDP frame (net_dhcp_frame_udp, with and without checksum
 * offload), the BOOTP/DHCP message (net_dhcp_msg_parse) and option 121
 * (net_dhcp_routes_parse). The input is one whole frame, as in tests/data/net. */
#include "tests/fuzz/fuzz.h"
#include "net/net.h"
#include "net/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	static struct net_dhcp_msg m;
	struct net_route r[NET_ROUTES_MAX];
	uint8_t *f;
	size_t off = 0;
	ssize_t pl;

	if (n > 4096)
		return 0;
	f = malloc(n ? n : 1);
	for (int partial = 0; partial < 2; partial++) {
		memcpy(f, d, n);
		pl = net_dhcp_frame_udp(f, n, partial, &off);
		if (pl >= 0) {
			if (off > n || (size_t)pl > n - off)
				abort();	/* payload must lie inside the frame */
			net_dhcp_msg_parse(f + off, (size_t)pl, &m);
		}
	}
	/* The same bytes as a bare UDP payload and as an option 121 value. */
	memcpy(f, d, n);
	net_dhcp_msg_parse(f, n, &m);
	net_dhcp_routes_parse(f, n, r, NET_ROUTES_MAX);
	free(f);
	return 0;
}
