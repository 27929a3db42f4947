# net/module.mk
net_SRCS :=
net_HOST_SRCS :=
net_DEPS :=
# HTTP client (cli)
net_SRCS += net/http.c net/http-parse.c net/tcp.c net/url.c
# DHCP, link, rtnetlink, resolv.conf, static config, lwIP port (dhcp)
net_SRCS += net/dhcp.c net/dhcp-pkt.c net/dhcp-up.c net/link.c net/rtnl.c net/resolv.c \
	net/static.c net/lwip-port/port.c
net_HOST_SRCS += net/cli-dhcp.c
