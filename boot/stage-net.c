/* SPDX-License-Identifier: MIT */
/* boot/stage-net.c: the net stage: DHCP or static configuration (net/). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "boot/boot.h"

/* The kernel's ip= value, if the command line has one (into buf). */
static const char *ip_arg(const char *cmdline, char *buf, size_t cap)
{
	const char *p;

	for (p = cmdline; (p = strstr(p, "ip=")); p += 3)
		if (p == cmdline || p[-1] == ' ') {
			snprintf(buf, cap, "%.*s", (int)strcspn(p + 3, " \t\n"), p + 3);
			return buf;
		}
	return NULL;
}

/* OpenNebula: context.sh on a context CD configures eth0 statically, on
 * every boot (its ETH<n>_* variables are parsed as data, never run). The
 * variables are copied into v, so the drives are unmounted before returning. */
static size_t one_context(struct boot_ctx *ctx, struct boot_shvars *v, struct net_kv *kv)
{
	char file[32 * 1024];
	int fds[BOOT_DRIVES_MAX];
	size_t i, n = boot_drives_mount(ctx, "net", fds), nkv = 0;

	for (i = 0; i < n; i++)
		if (boot_context_one_read(fds[i], v, file, sizeof(file)) == 0) {
			boot_log(ctx, "net", "OpenNebula context found");
			nkv = boot_context_one_net(v, kv, BOOT_NETKV_MAX);
			break;
		}
	boot_drives_unmount(fds, n);
	return nkv;
}

/* see boot.h */
int boot_tls_ready(struct boot_ctx *ctx)
{
	size_t skipped = 0;
	int rc;

	if (ctx->tls_tried)
		return ctx->have_tls ? 0 : -ENOPKG;
	ctx->tls_tried = 1;
	if ((rc = tls_ctx_init(&ctx->tls)) < 0 ||
	    (rc = tls_ctx_ca_add_file(&ctx->tls, TLS_CA_PATH, &skipped)) < 0 ||
	    (rc = tls_https_init(&ctx->https, &ctx->tls)) < 0) {
		/* The CA bundle is its own archive, left out of http-only images. */
		if (rc == -ENOENT)
			boot_log(ctx, ctx->stage ? ctx->stage : "net",
				 "no HTTPS: this image has no CA bundle (%s; built with "
				 "IMAGE_CA=none): use an http:// URL (the repository is signed) "
				 "or an image built with IMAGE_CA=yes", TLS_CA_PATH);
		else
			boot_log(ctx, ctx->stage ? ctx->stage : "net", "no HTTPS: %s: %s",
				 TLS_CA_PATH, strerror(-rc));
		return rc;
	}
	ctx->have_tls = 1;
	return 0;
}

/* The https scheme of PID 1's own client (user-data): CAs on first use. */
static int https_wrap(void *arg, struct net_io *raw, const char *host, uint64_t deadline_ms,
		      struct net_io *out)
{
	struct boot_ctx *ctx = arg;
	int rc = boot_tls_ready(ctx);

	if (rc < 0) {
		raw->close(raw->arg);
		return rc;
	}
	return tls_https_wrap(&ctx->https, raw, host, deadline_ms, out);
}

/* see boot.h */
int boot_stage_net(struct boot_ctx *ctx)
{
	struct net_cfg nc;
	struct net_lease *l = &ctx->lease;
	struct net_kv kv[BOOT_NETKV_MAX];
	char addr[INET_ADDRSTRLEN], gw[INET_ADDRSTRLEN], ip[256], vbuf[16 * 1024];
	struct boot_shvars v = { vbuf, sizeof(vbuf), 0 };
	unsigned secs = ctx->cfg.net_timeout_s ? ctx->cfg.net_timeout_s : 30;
	uint64_t t0 = boot_now_ms();
	int rc;

	memset(&nc, 0, sizeof(nc));
	nc.ip_arg = ip_arg(ctx->cmdline, ip, sizeof(ip));
	nc.ctx = kv;
	nc.nctx = one_context(ctx, &v, kv);
	rc = net_up(&nc, t0 + (uint64_t)secs * 1000, l);
	if (rc < 0) {
		boot_log(ctx, "net", "no address after %llu ms: %s: %s",
			 (unsigned long long)(boot_now_ms() - t0), net_why_str(l->why), l->detail);
		return rc;
	}
	/* HTTPS: the CA bundle is read on the first https connection. */
	net_http_scheme_add(&ctx->http, "https", 443, https_wrap, ctx);
	inet_ntop(AF_INET, &l->addr, addr, sizeof(addr));
	inet_ntop(AF_INET, &l->gw, gw, sizeof(gw));
	boot_log(ctx, "net", "%s %s/%u gw %s mtu %u dns %zu (%s, %llu ms)", l->ifname, addr,
		 l->prefix, l->gw.s_addr ? gw : "none", l->mtu, l->ndns,
		 l->source == NET_SRC_DHCP ? "dhcp" : "static", (unsigned long long)l->took_ms);
	return 0;
}
