/* SPDX-License-Identifier: MIT */
/* boot/tool-fetch.c: `cvmboot fetch`, one GET over net/http with the https
 * transport of tls/, the same path PID 1 uses; host tests drive HTTPS with it. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "boot/tool.h"
#include "net/http.h"
#include "tls/tls.h"

/* The host has no baked bundle; Debian's is what the build bakes by default. */
#define FETCH_HOST_CA "/etc/ssl/certs/ca-certificates.crt"
#define FETCH_RESUME_MAX 1000

struct fetch_sink {
	int fd;
	int err;			/* first write error */
};

static int sink_body(void *arg, const void *buf, size_t len)
{
	struct fetch_sink *s = arg;
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(s->fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return s->err = -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int usage(void)
{
	fprintf(stderr,
		"usage: cvmboot fetch URL [-o FILE] [--ca PEM|DER] [--proxy URL] [--resume-test N]\n"
		"  GETs URL (http or https) like PID 1 does and writes the body to FILE or stdout.\n"
		"  --ca: trusted CAs (default %s, else %s).\n"
		"  --resume-test N: fetch N times, each on a new connection sharing one TLS\n"
		"  session cache; prints each handshake's kind and time to stderr.\n",
		TLS_CA_PATH, FETCH_HOST_CA);
	return 2;
}

static int load_ca(struct tls_ctx *tls, const char *ca)
{
	size_t skipped = 0;
	int n;

	if (!ca)
		ca = access(TLS_CA_PATH, R_OK) == 0 ? TLS_CA_PATH : FETCH_HOST_CA;
	n = tls_ctx_ca_add_file(tls, ca, &skipped);
	if (n < 0) {
		fprintf(stderr, "cvmboot fetch: %s: %s\n", tls_why_str(tls->why), tls->detail);
		return n;
	}
	if (skipped)
		fprintf(stderr, "cvmboot fetch: %s: skipped %zu certificates mbedTLS cannot parse\n",
			ca, skipped);
	return 0;
}

/* One GET on a fresh client (so a fresh connection). Returns the exit status. */
static int fetch_once(struct tls_ctx *tls, struct tls_https *h, const struct net_http_req *req,
		      const char *out, struct fetch_sink *sink)
{
	struct net_http_client *c = calloc(1, sizeof(*c));
	struct net_http_resp *resp = calloc(1, sizeof(*resp));
	char why[TLS_DETAIL_MAX + TLS_HOST_MAX + 64];
	bool client = false, https = false;
	int rc = -ENOMEM, status = 1;

	if (!c || !resp || (rc = net_http_client_init(c, "cvmboot/" CVMBOOT_VERSION)) < 0) {
		fprintf(stderr, "cvmboot fetch: HTTP client: %s\n", strerror(-rc));
		goto out;
	}
	client = true;
	if ((rc = tls_https_add(h, tls, c)) < 0) {
		fprintf(stderr, "cvmboot fetch: https: %s\n", strerror(-rc));
		goto out;
	}
	https = true;
	if (out) {
		sink->fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (sink->fd < 0) {
			fprintf(stderr, "cvmboot fetch: cannot create %s: %s\n", out, strerror(errno));
			goto out;
		}
	}
	rc = net_http_get(c, req, resp);
	if (rc < 0 && resp->why == NET_HTTP_WHY_TLS && tls_https_why_fmt(h, why, sizeof(why)) > 0)
		fprintf(stderr, "cvmboot fetch: %s: TLS: %s\n", resp->url, why);
	else if (rc < 0 && sink->err)
		fprintf(stderr, "cvmboot fetch: writing %s: %s\n", out ? out : "stdout",
			strerror(-sink->err));
	else if (rc < 0)
		fprintf(stderr, "cvmboot fetch: %s: %s (%s)%s\n", resp->url,
			net_http_why_str(resp->why), strerror(-rc),
			resp->proxy_error ? ", reported by the proxy" : "");
	else if (resp->status < 200 || resp->status > 299)
		fprintf(stderr, "cvmboot fetch: %s: HTTP status %d%s\n", resp->url, resp->status,
			resp->proxy_error ? " from the proxy" : "");
	else
		status = 0;
	if (out && close(sink->fd) < 0 && status == 0) {
		fprintf(stderr, "cvmboot fetch: writing %s: %s\n", out, strerror(errno));
		status = 1;
	}
	if (out && status != 0)
		unlink(out);
out:
	/* The client's pooled connections go first: they use h. */
	if (client)
		net_http_client_fini(c);
	if (https)
		tls_https_fini(h);
	free(c);
	free(resp);
	return status;
}

/* see tool.h */
int boot_cli_fetch(int argc, char **argv)
{
	struct net_http_req req = { .connect_timeout_ms = 10000, .low_speed_ms = 20000 };
	struct fetch_sink sink = { .fd = STDOUT_FILENO };
	const char *out = NULL, *ca = NULL;
	struct tls_ctx *tls = NULL;
	struct tls_https h;
	long rounds = 0;
	int a, i, status = 1;

	for (a = 1; a < argc; a++) {
		if (strcmp(argv[a], "-o") == 0 && a + 1 < argc)
			out = argv[++a];
		else if (strcmp(argv[a], "--ca") == 0 && a + 1 < argc)
			ca = argv[++a];
		else if (strcmp(argv[a], "--proxy") == 0 && a + 1 < argc)
			req.proxy = argv[++a];
		else if (strcmp(argv[a], "--resume-test") == 0 && a + 1 < argc)
			rounds = strtol(argv[++a], NULL, 10);
		else if (argv[a][0] != '-' && !req.url)
			req.url = argv[a];
		else
			return usage();
	}
	if (!req.url || (rounds != 0 && (rounds < 1 || rounds > FETCH_RESUME_MAX)))
		return usage();
	req.deadline_ms = net_now_ms() + 120000;
	tls = calloc(1, sizeof(*tls));
	if (!tls || tls_ctx_init(tls) < 0) {
		fprintf(stderr, "cvmboot fetch: cannot set up TLS\n");
		free(tls);
		return 1;
	}
	req.body = sink_body;
	req.body_arg = &sink;
	if (strncmp(req.url, "https:", 6) == 0 && load_ca(tls, ca) < 0)
		goto out;
	for (i = 0; i < (rounds ? rounds : 1); i++) {
		status = fetch_once(tls, &h, &req, out, &sink);
		if (status != 0)
			break;
		if (rounds && h.handshakes)
			fprintf(stderr, "fetch: connection %d: %s handshake, %.3f ms (%.3f ms CPU)\n",
				i + 1, h.last_resumed ? "resumed" : "full", (double)h.last_us / 1000.0,
				(double)h.last_cpu_us / 1000.0);
	}
out:
	tls_ctx_fini(tls);
	free(tls);
	return status;
}
