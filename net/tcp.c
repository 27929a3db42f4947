/* SPDX-License-Identifier: MIT */
/* net/tcp.c: plain TCP transport with deadlines, the default under HTTP. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "net/http.h"

/* see http.h */
uint64_t net_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int wait_fd(int fd, short ev, uint64_t deadline_ms)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = ev };
		uint64_t now = net_now_ms();
		int rc, ms = -1;

		if (deadline_ms) {
			if (now >= deadline_ms)
				return -ETIMEDOUT;
			ms = deadline_ms - now > 60000 ? 60000 : (int)(deadline_ms - now);
		}
		rc = poll(&p, 1, ms);
		if (rc > 0)
			return 0;
		if (rc < 0 && errno != EINTR)
			return -errno;
	}
}

struct tcp { int fd; };

static ssize_t tcp_read(void *arg, void *buf, size_t len, uint64_t deadline_ms)
{
	struct tcp *t = arg;

	for (;;) {
		ssize_t n = recv(t->fd, buf, len, 0);
		int rc;

		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -errno;
		if ((rc = wait_fd(t->fd, POLLIN, deadline_ms)) < 0)
			return rc;
	}
}

static ssize_t tcp_write(void *arg, const void *buf, size_t len, uint64_t deadline_ms)
{
	struct tcp *t = arg;

	for (;;) {
		ssize_t n = send(t->fd, buf, len, MSG_NOSIGNAL);
		int rc;

		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -errno;
		if ((rc = wait_fd(t->fd, POLLOUT, deadline_ms)) < 0)
			return rc;
	}
}

static void tcp_close(void *arg)
{
	struct tcp *t = arg;

	close(t->fd);
	free(t);
}

static int connect_one(const struct addrinfo *ai, uint64_t deadline_ms, int *out)
{
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int rc = 0, one = 1, err = 0;
	socklen_t el = sizeof(err);

	if (fd < 0)
		return -errno;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		if (errno != EINPROGRESS) {
			rc = -errno;
			goto out;
		}
		if ((rc = wait_fd(fd, POLLOUT, deadline_ms)) < 0)
			goto out;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
			rc = -errno;
		else if (err)
			rc = -err;
	}
out:
	if (rc < 0)
		close(fd);
	else
		*out = fd;
	return rc;
}

/* getaddrinfo has no deadline, so a name is resolved on a helper thread and
 * the caller stops waiting at its deadline; the helper frees the job when
 * the last of the two lets go. */
struct dnsjob {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int refs, done, rc;
	struct addrinfo *res;
	char host[NET_HTTP_HOST_MAX], serv[8];
};

static void dns_put(struct dnsjob *j)
{
	int last;

	pthread_mutex_lock(&j->lock);
	last = --j->refs == 0;
	pthread_mutex_unlock(&j->lock);
	if (!last)
		return;
	if (j->res)
		freeaddrinfo(j->res);
	pthread_cond_destroy(&j->cond);
	pthread_mutex_destroy(&j->lock);
	free(j);
}

static void *dns_thread(void *arg)
{
	struct dnsjob *j = arg;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG };
	struct addrinfo *res = NULL;
	int rc = getaddrinfo(j->host, j->serv, &hints, &res);

	pthread_mutex_lock(&j->lock);
	j->rc = rc;
	j->res = res;
	j->done = 1;
	pthread_cond_signal(&j->cond);
	pthread_mutex_unlock(&j->lock);
	dns_put(j);
	return NULL;
}

static int resolve(const char *host, const char *serv, uint64_t deadline_ms, struct addrinfo **out)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV | AI_NUMERICHOST };
	struct dnsjob *j;
	pthread_condattr_t ca;
	pthread_attr_t ta;
	pthread_t t;
	int rc = 0;

	if (getaddrinfo(host, serv, &hints, out) == 0)
		return 0;
	if (strlen(host) >= sizeof(j->host) || !(j = calloc(1, sizeof(*j))))
		return -EHOSTUNREACH;
	snprintf(j->host, sizeof(j->host), "%s", host);
	snprintf(j->serv, sizeof(j->serv), "%s", serv);
	j->refs = 2;
	pthread_mutex_init(&j->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&j->cond, &ca);
	pthread_condattr_destroy(&ca);
	pthread_attr_init(&ta);
	pthread_attr_setdetachstate(&ta, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&ta, 128 * 1024);
	if (pthread_create(&t, &ta, dns_thread, j) != 0) {
		pthread_attr_destroy(&ta);
		j->refs = 1;
		dns_put(j);
		return -EAGAIN;
	}
	pthread_attr_destroy(&ta);
	pthread_mutex_lock(&j->lock);
	while (!j->done && rc == 0) {
		struct timespec ts = { (time_t)(deadline_ms / 1000), (long)(deadline_ms % 1000) * 1000000 };

		if (deadline_ms == 0)
			pthread_cond_wait(&j->cond, &j->lock);
		else if (pthread_cond_timedwait(&j->cond, &j->lock, &ts) == ETIMEDOUT && !j->done)
			rc = -ETIMEDOUT;
	}
	if (rc == 0 && j->rc != 0)
		rc = -EHOSTUNREACH;
	if (rc == 0) {
		*out = j->res;		/* ours now */
		j->res = NULL;
	}
	pthread_mutex_unlock(&j->lock);
	dns_put(j);
	return rc;
}

/* see http.h */
int net_tcp_resolve(const char *host, uint16_t port, uint64_t deadline_ms,
		    struct sockaddr_storage *out, size_t max, size_t *n)
{
	struct addrinfo *res = NULL, *ai;
	char serv[8];
	int rc;

	snprintf(serv, sizeof(serv), "%u", port);
	if ((rc = resolve(host, serv, deadline_ms, &res)) < 0)
		return rc == -ETIMEDOUT ? -ETIMEDOUT : -EHOSTUNREACH;
	*n = 0;
	for (ai = res; ai && *n < max; ai = ai->ai_next) {
		if (ai->ai_addrlen > sizeof(*out))
			continue;
		memset(&out[*n], 0, sizeof(*out));
		memcpy(&out[*n], ai->ai_addr, ai->ai_addrlen);
		(*n)++;
	}
	freeaddrinfo(res);
	return *n ? 0 : -EHOSTUNREACH;
}

/* see http.h */
int net_tcp_connect(const struct sockaddr_storage *addr, size_t n, uint64_t deadline_ms,
		    struct net_io *io)
{
	struct tcp *t;
	int rc = -EHOSTUNREACH, fd = -1;

	for (size_t i = 0; i < n; i++) {
		struct addrinfo ai = {
			.ai_family = addr[i].ss_family, .ai_socktype = SOCK_STREAM,
			.ai_addr = (struct sockaddr *)&addr[i],
			.ai_addrlen = addr[i].ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) :
				      sizeof(struct sockaddr_in),
		};

		rc = connect_one(&ai, deadline_ms, &fd);
		if (rc == 0 || rc == -ETIMEDOUT)
			break;
	}
	if (rc < 0)
		return rc;
	t = malloc(sizeof(*t));
	if (!t) {
		close(fd);
		return -ENOMEM;
	}
	t->fd = fd;
	io->read = tcp_read;
	io->write = tcp_write;
	io->close = tcp_close;
	io->arg = t;
	return 0;
}

/* see http.h */
int net_tcp_open(const char *host, uint16_t port, uint64_t deadline_ms, struct net_io *io)
{
	struct sockaddr_storage a[NET_TCP_ADDRS_MAX];
	size_t n;
	int rc = net_tcp_resolve(host, port, deadline_ms, a, NET_TCP_ADDRS_MAX, &n);

	return rc < 0 ? rc : net_tcp_connect(a, n, deadline_ms, io);
}
