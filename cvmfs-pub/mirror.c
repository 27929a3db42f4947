/* SPDX-License-Identifier: MIT */
/* cvmfs-pub/mirror.c: `inspect URL`: repository files fetched over HTTP(S) on first use into a private temporary directory. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cvmfs-pub/internal.h"
#include "net/http.h"
#include "tls/tls.h"

struct sink {
	int fd, rc;
};

static int to_fd(void *arg, const void *buf, size_t len)
{
	struct sink *k = arg;
	const unsigned char *p = buf;

	while (len > 0) {
		ssize_t w = write(k->fd, p, len);

		if (w < 0)
			return k->rc = -errno;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* see internal.h */
void cvmfs_pub_mirror_get(struct cvmfs_pub_mirror *m, const char *rel)
{
	char url[NET_HTTP_URL_MAX], tmp[512], dir[512];
	struct net_http_req req = { 0 };
	struct net_http_resp resp;
	struct sink k = { -1, 0 };
	char *slash;
	int rc;

	if (!m->url || faccessat(m->fd, rel, F_OK, 0) == 0)
		return;
	snprintf(dir, sizeof(dir), "%s", rel);
	for (slash = strchr(dir, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		mkdirat(m->fd, dir, 0700);
		*slash = '/';
	}
	snprintf(url, sizeof(url), "%s/%s", m->url, rel);
	snprintf(tmp, sizeof(tmp), "%s.part", rel);
	k.fd = openat(m->fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (k.fd < 0)
		return;
	req.url = url;
	req.body = to_fd;
	req.body_arg = &k;
	req.connect_timeout_ms = 10000;
	req.low_speed_ms = 30000;
	req.max_redirects = 4;
	rc = net_http_get(m->http, &req, &resp);
	if (rc == 0 && resp.status == 200 && k.rc == 0) {
		close(k.fd);
		renameat(m->fd, tmp, m->fd, rel);
		return;
	}
	if (resp.status != 404)
		fprintf(stderr, "cvmboot inspect: GET %s: HTTP status %d (%s)\n", url, resp.status,
			rc < 0 ? net_http_why_str(resp.why) : "complete");
	close(k.fd);
	unlinkat(m->fd, tmp, 0);
}

/* see internal.h */
int cvmfs_pub_mirror_open(struct cvmfs_pub_mirror *m, const char *url, const char *tmpdir,
			  struct cvmfs_pub_err *e)
{
	size_t n = strlen(url);

	memset(m, 0, sizeof(*m));
	m->fd = -1;
	while (n > 0 && url[n - 1] == '/')
		n--;
	snprintf(m->dir, sizeof(m->dir), "%s/cvmboot-inspect-XXXXXX", tmpdir);
	m->url = strndup(url, n);
	m->http = calloc(1, sizeof(*m->http));
	m->tls = calloc(1, sizeof(*m->tls));
	m->https = calloc(1, sizeof(*m->https));
	if (!m->url || !m->http || !m->tls || !m->https)
		return cvmfs_pub_fail(e, -ENOMEM, "out of memory");
	if (!mkdtemp(m->dir)) {
		m->dir[0] = '\0';
		return cvmfs_pub_fail(e, -errno, "cannot make a temporary mirror in %s: %s", tmpdir,
				      strerror(errno));
	}
	m->fd = open(m->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (m->fd < 0 || mkdirat(m->fd, "data", 0700) < 0)
		return cvmfs_pub_fail(e, -errno, "%s: %s", m->dir, strerror(errno));
	if (net_http_client_init(m->http, "cvmboot-inspect/" CVMBOOT_VERSION) < 0) {
		free(m->http);
		m->http = NULL;
		return cvmfs_pub_fail(e, -ENOMEM, "cannot start the HTTP client");
	}
	/* https with the system's CA bundle when there is one */
	if (tls_ctx_init(m->tls) < 0) {
		free(m->tls);
		m->tls = NULL;
	} else {
		tls_ctx_ca_add_file(m->tls, "/etc/ssl/certs/ca-certificates.crt", NULL);
		if (tls_https_add(m->https, m->tls, m->http) < 0) {
			tls_ctx_fini(m->tls);
			free(m->tls);
			m->tls = NULL;
		}
	}
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int type, struct FTW *f)
{
	remove(path);	/* best effort: a leftover temp file is harmless */
	return 0;
}

/* see internal.h */
void cvmfs_pub_mirror_close(struct cvmfs_pub_mirror *m)
{
	if (m->http)
		net_http_client_fini(m->http);
	if (m->tls) {
		tls_https_fini(m->https);
		tls_ctx_fini(m->tls);
	}
	if (m->fd >= 0)
		close(m->fd);
	if (m->dir[0])
		nftw(m->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(m->http);
	free(m->tls);
	free(m->https);
	free(m->url);
	memset(m, 0, sizeof(*m));
	m->fd = -1;
}
