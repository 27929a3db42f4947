/* SPDX-License-Identifier: MIT */
/* net/http.h: HTTP/1.1 GET client (keep-alive pool, proxies, chunked bodies,
 * streaming body callback) over a pluggable byte transport. */
#ifndef NET_HTTP_H
#define NET_HTTP_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#define NET_HTTP_HOST_MAX 256
#define NET_TCP_ADDRS_MAX 4		/* addresses kept per name */
#define NET_HTTP_DNS_MAX 16		/* names remembered per client */
#define NET_HTTP_URL_MAX 2048
#define NET_HTTP_HEAD_MAX 16384		/* whole response head; more is refused */
#define NET_HTTP_LINE_MAX 8192		/* one line of a response head */
#define NET_HTTP_HEADERS_MAX 100	/* header lines in one response head */
#define NET_HTTP_INTERIM_MAX 8		/* 1xx responses before the final one */
#define NET_HTTP_MAX_MS_DEFAULT 600000	/* req.max_ms when 0 */
#define NET_HTTP_POOL_MAX 16		/* idle keep-alive connections kept */
#define NET_HTTP_SCHEMES_MAX 4
#define NET_HTTP_REDIRECTS_MAX 8

/*
 * Byte transport. Everything the HTTP client sends and receives goes through
 * one of these, so HTTPS plugs in without changes here.
 *
 * NOTE for tls/ (the HTTPS engineer): register a scheme with
 * net_http_scheme_add(client, "https", 443, your_wrap, your_ctx). For every new
 * https connection the client opens the TCP connection itself (or a CONNECT
 * tunnel through an HTTP proxy), hands you that plain transport as `raw`, and
 * you fill `*out` with the TLS transport on top of it. From then on the client
 * only calls out->read/write/close. Your close must call raw->close (you own
 * raw once wrap is called, also when wrap fails). net/ never calls tls/.
 */
struct net_io {
	/* Reads up to len (> 0) bytes. Returns > 0 bytes read, 0 on orderly EOF,
	 * -ETIMEDOUT once deadline_ms (CLOCK_MONOTONIC ms) passes with nothing
	 * read, or another -errno. Blocks until one of those. */
	ssize_t (*read)(void *arg, void *buf, size_t len, uint64_t deadline_ms);
	/* Writes up to len (> 0) bytes: > 0 written, -ETIMEDOUT, or -errno. */
	ssize_t (*write)(void *arg, const void *buf, size_t len, uint64_t deadline_ms);
	/* Closes the connection and frees arg. Never fails. */
	void (*close)(void *arg);
	void *arg;
};

/* Wraps a connected plain transport for a scheme (TLS for https). host is the
 * server name (SNI, certificate check). Takes ownership of *raw in all cases.
 * Returns 0 with *out filled, or -errno (e.g. -EPROTO, -ETIMEDOUT). */
typedef int (*net_http_wrap_fn)(void *ctx, struct net_io *raw, const char *host,
				 uint64_t deadline_ms, struct net_io *out);

struct net_http_scheme {
	char name[8];			/* "http", "https" */
	uint16_t port;			/* default port */
	net_http_wrap_fn wrap;		/* NULL: plain TCP */
	void *ctx;
};

/* A parsed absolute URL. path includes the query; "/" when empty. */
struct net_url {
	char scheme[8];
	char host[NET_HTTP_HOST_MAX];	/* without brackets for IPv6 literals */
	uint16_t port;			/* 0 if the URL names none */
	char path[NET_HTTP_URL_MAX];
};

/* Why a request failed, kept in net_http_resp.why (most specific first). */
enum net_http_why {
	NET_HTTP_WHY_NONE = 0,
	NET_HTTP_WHY_URL,		/* unparsable URL or unknown scheme */
	NET_HTTP_WHY_DNS,		/* name did not resolve */
	NET_HTTP_WHY_CONNECT,		/* TCP connect failed or timed out */
	NET_HTTP_WHY_TLS,		/* scheme wrap failed */
	NET_HTTP_WHY_SEND,		/* request write failed */
	NET_HTTP_WHY_STATUS_LINE,	/* not "HTTP/1.x NNN ..." */
	NET_HTTP_WHY_HEADER,		/* malformed or oversized header */
	NET_HTTP_WHY_LENGTH,		/* bad/negative/overflowing Content-Length */
	NET_HTTP_WHY_CHUNK,		/* bad chunk size line or trailer */
	NET_HTTP_WHY_SHORT,		/* connection closed before body end */
	NET_HTTP_WHY_TIMEOUT,		/* connect/idle/low-speed/overall deadline */
	NET_HTTP_WHY_REDIRECT,		/* too many redirects or bad Location */
	NET_HTTP_WHY_ABORTED,		/* the body callback refused the data */
	NET_HTTP_WHY_IO,		/* other transport error */
	NET_HTTP_WHY_LINE_LONG,		/* a head line longer than NET_HTTP_LINE_MAX */
	NET_HTTP_WHY_HEADERS_MANY,	/* more than NET_HTTP_HEADERS_MAX headers */
	NET_HTTP_WHY_HEAD_BIG,		/* a head longer than NET_HTTP_HEAD_MAX */
	NET_HTTP_WHY_INTERIM,		/* more than NET_HTTP_INTERIM_MAX 1xx responses */
	NET_HTTP_WHY_DEADLINE,		/* the per-object deadline (min_rate, max_ms) passed */
};
const char *net_http_why_str(enum net_http_why why);

/* Parsed response head (pure codec result). */
struct net_http_head {
	int status;			/* 100..599 */
	int minor;			/* HTTP/1.<minor> */
	int64_t content_length;		/* -1 if absent */
	bool chunked;			/* Transfer-Encoding: chunked */
	bool close;			/* Connection: close, or HTTP/1.0 without keep-alive */
	bool proxy_error;		/* X-Squid-Error, or Proxy-Status with error= */
	char location[NET_HTTP_URL_MAX];
};

struct net_http_req {
	const char *url;		/* absolute http[s]:// URL */
	const char *proxy;		/* NULL or "DIRECT": direct; else http://host:port */
	const char *const *headers;	/* extra "Name: value" lines, NULL-terminated; may be NULL */
	unsigned connect_timeout_ms;	/* DNS + connect (+ wrap); 0 = 10000 */
	unsigned low_speed_ms;		/* window; 0 = 10000 */
	unsigned low_speed_bytes;	/* fewer bytes than this in a window aborts; 0 = idle check only */
	uint64_t deadline_ms;		/* absolute overall CLOCK_MONOTONIC deadline, 0 = none */
	/* Per-object hard deadline of each exchange (on top of the idle and
	 * low-speed checks, which a server can defeat by trickling just above
	 * the floor): from the request's start, 2 low-speed windows plus
	 * size / min_rate seconds, at most max_ms. size is size_hint if set,
	 * else the response's Content-Length; while neither is known (before
	 * the head, chunked or close-delimited bodies) max_ms alone applies.
	 * min_rate 0: no per-object deadline. */
	unsigned min_rate;		/* bytes/s the whole transfer must average */
	unsigned max_ms;		/* ceiling; 0 = NET_HTTP_MAX_MS_DEFAULT */
	uint64_t size_hint;		/* expected body size (e.g. from a catalog); 0 = unknown */
	int max_redirects;		/* 0: a 3xx is returned as is */
	/* Body sink, called only for 2xx with the decoded (de-chunked) body as it
	 * arrives. Returns 0 to go on, or -errno to abort the transfer with it. */
	int (*body)(void *arg, const void *buf, size_t len);
	void *body_arg;
};

struct net_http_resp {
	int status;			/* 0 if no response head was received */
	int64_t content_length;		/* -1 if unknown */
	uint64_t body_bytes;		/* bytes handed to req->body */
	bool proxy_error;		/* the error came from the proxy (see head) */
	bool answered;			/* the server sent at least one byte */
	enum net_http_why why;		/* NONE unless net_http_get failed */
	char url[NET_HTTP_URL_MAX];	/* final URL after redirects */
};

/* Idle keep-alive connection. */
struct net_http_idle {
	char key[2 * NET_HTTP_HOST_MAX + 40];	/* scheme://host:port|proxy:port */
	struct net_io io;
	uint64_t since_ms;
};

/* Last good addresses of a name: used when the resolver later fails (the
 * network's DNS went away, or /etc/resolv.conf is gone after switch_root). */
struct net_http_dns {
	char host[NET_HTTP_HOST_MAX];
	uint16_t port;
	struct sockaddr_storage addr[NET_TCP_ADDRS_MAX];
	size_t n;
};

/* One client: schemes, the keep-alive pool and remembered addresses. Thread-safe: requests may run
 * concurrently from many threads (each uses its own connection). */
struct net_http_client {
	struct net_http_scheme schemes[NET_HTTP_SCHEMES_MAX];
	size_t nschemes;
	char user_agent[128];
	pthread_mutex_t lock;		/* guards idle[] */
	struct net_http_idle idle[NET_HTTP_POOL_MAX];
	size_t nidle;
	unsigned idle_max_ms;		/* drop idle connections older than this */
	struct net_http_dns dns[NET_HTTP_DNS_MAX];	/* guarded by lock */
	size_t ndns;
	uint64_t nstale;		/* connections made with remembered addresses */
};

/* Initialises *c with the plain "http" scheme and user agent ua (may be NULL).
 * Returns 0 or -errno. */
int net_http_client_init(struct net_http_client *c, const char *ua);
/* Closes the pooled connections. */
void net_http_client_fini(struct net_http_client *c);
/* Adds or replaces a scheme. Returns 0, or -ENOSPC when the table is full. */
int net_http_scheme_add(struct net_http_client *c, const char *name, uint16_t port,
			net_http_wrap_fn wrap, void *ctx);

/* Performs one GET (following at most req->max_redirects redirects) and
 * streams a 2xx body to req->body. Blocks until done or a deadline. Fills
 * *resp in all cases. Returns 0 when a complete response arrived (any status:
 * check resp->status), or -errno with resp->why set: -EINVAL (URL), -EHOSTUNREACH
 * (DNS), -ECONNREFUSED/-ENETUNREACH etc. (connect), -ETIMEDOUT, -EPROTO (bad
 * response syntax), -EPIPE (short body), -ELOOP (redirects), or the body
 * callback's error. */
int net_http_get(struct net_http_client *c, const struct net_http_req *req,
		 struct net_http_resp *resp);

/* Runs one request/response exchange over an already open transport (the
 * engine behind net_http_get; exported for tests). target is the request
 * target ("/path" or an absolute URI for proxies), host the Host header.
 * *reusable is set when the connection may serve another request. Returns as
 * net_http_get. */
int net_http_exchange(const struct net_io *io, const char *target, const char *host,
		      const char *ua, const struct net_http_req *req, struct net_http_head *head,
		      struct net_http_resp *resp, bool *reusable);

/* Pure codecs. */
/* Parses an absolute URL. Returns 0 or -EINVAL. */
int net_url_parse(const char *s, struct net_url *out);
/* Parses a complete response head (status line + headers, ending in an empty
 * line, len bytes). Returns 0, -EPROTO (syntax, sets *why), or -EMSGSIZE
 * (a cap on head size, line length or header count; sets *why). */
int net_http_head_parse(const char *buf, size_t len, struct net_http_head *h,
			enum net_http_why *why);
/* Parses a chunk-size line (without CRLF): hex digits then optional
 * ";ext". Returns 0 with *size, or -EPROTO on bad or overflowing sizes. */
int net_http_chunk_size_parse(const char *line, size_t len, uint64_t *size);

/* Plain TCP: resolves host (numeric fast path, else getaddrinfo on a helper
 * thread so that deadline_ms bounds it; musl's resolver reads /etc/resolv.conf
 * of the process's root on every call) and connects with the deadline, trying
 * every address. Fills *io (non-blocking fd, O_CLOEXEC). Returns 0,
 * -EHOSTUNREACH when the name does not resolve, -ETIMEDOUT, or the connect
 * -errno. */
int net_tcp_open(const char *host, uint16_t port, uint64_t deadline_ms, struct net_io *io);

/* The two halves of net_tcp_open: resolve into out[0..max) (*n set), and
 * connect to the first address that answers. Same errors. */
int net_tcp_resolve(const char *host, uint16_t port, uint64_t deadline_ms,
		    struct sockaddr_storage *out, size_t max, size_t *n);
int net_tcp_connect(const struct sockaddr_storage *addr, size_t n, uint64_t deadline_ms,
		    struct net_io *io);

/* CLOCK_MONOTONIC in ms. */
uint64_t net_now_ms(void);

#endif
