/* SPDX-License-Identifier: MIT */
/* tls/tls.h: TLS 1.2 client (mbedTLS) over injected read/write callbacks, with
 * certificate verification that says why it refused, a per-host session cache
 * and the CA bundle baked into the initramfs. */
#ifndef TLS_TLS_H
#define TLS_TLS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "mbedtls/ssl.h"
#include "mbedtls/x509_crt.h"

/* Where PID 1 finds the CA bundle that tls/module.mk builds ($(B)/tls/ca.der). */
#define TLS_CA_PATH "/etc/cvmboot/ca.der"
#define TLS_HOST_MAX 253	/* DNS name or IP literal, without port */
#define TLS_CACHE_MAX 8		/* sessions kept, one per host:port, LRU */
#define TLS_DETAIL_MAX 256	/* text after the reason, e.g. the names compared */

/* Byte transport under TLS: > 0 bytes moved, 0 on EOF, or -errno (e.g.
 * -ETIMEDOUT when the transport's deadline passed); len is never 0. The
 * transport owns the fd and its deadline; tls never closes it. */
struct tls_io {
	long (*read)(void *arg, unsigned char *buf, size_t len);
	long (*write)(void *arg, const unsigned char *buf, size_t len);
	void *arg;
};

/* Why a connection was refused. Sticky per connection: the first specific
 * reason is kept and never replaced by a later, vaguer one. */
enum tls_why {
	TLS_WHY_NONE = 0,
	TLS_WHY_UNTRUSTED,	/* chain does not end in a CA of the bundle */
	TLS_WHY_EXPIRED,	/* a certificate of the chain is past notAfter */
	TLS_WHY_FUTURE,		/* a certificate of the chain is before notBefore */
	TLS_WHY_HOST,		/* leaf names neither the DNS name nor the IP asked for */
	TLS_WHY_CERT,		/* other verification failure (key usage, weak key/hash) */
	TLS_WHY_ALERT,		/* the server sent a fatal alert */
	TLS_WHY_PROTOCOL,	/* handshake failed: no common suite, bad message, EOF */
	TLS_WHY_NO_CA,		/* no trusted CA loaded */
	TLS_WHY_CA_BAD,		/* CA bundle could not be read or parsed */
	TLS_WHY_IO,		/* the transport failed (detail has the errno text) */
	TLS_WHY_MAX_
};

/* Fixed text of a reason ("certificate expired"); never NULL. */
const char *tls_why_str(enum tls_why why);

/* Session cache: one resumable session per host:port, caller-owned (lives in
 * struct tls_ctx). Entries hold heap memory of mbedTLS (tickets, peer cert). */
struct tls_cache_ent {
	char host[TLS_HOST_MAX + 1];
	uint16_t port;
	bool used;
	uint32_t stamp;			/* LRU clock */
	mbedtls_ssl_session sess;
};
struct tls_cache {
	struct tls_cache_ent ent[TLS_CACHE_MAX];
	uint32_t clock;
};

/* Long-lived client state shared by every connection: configuration, trusted
 * CAs and the session cache. Randomness comes straight from getrandom(2): no
 * generator state, so it is thread-safe and stays safe across fork (PID 1
 * forks the cvmfs-lite daemon). Connections may run in parallel threads once
 * the CAs are loaded (the cache has its lock). The caller allocates it
 * (static or heap; see sizeof). mbedTLS allocates the parsed CAs and the
 * per-connection buffers with calloc; tls_ctx_fini/tls_conn_close free them. */
struct tls_ctx {
	mbedtls_ssl_config conf;
	mbedtls_x509_crt ca;
	size_t nca;			/* CAs parsed into ca */
	pthread_mutex_t lock;		/* guards cache */
	struct tls_cache cache;
	enum tls_why why;		/* CA loading failures */
	char detail[TLS_DETAIL_MAX];
};

/* Sets up a TLS 1.2-only client that requires a verified chain, drawing
 * randomness from getrandom(2). No CA yet: add some with tls_ctx_ca_add*.
 * Returns 0, -ENOMEM or -EINVAL. On failure *ctx needs no fini. */
int tls_ctx_init(struct tls_ctx *ctx);

/* Adds trusted CAs from buf: a PEM bundle (comments between blocks are
 * skipped) or a concatenation of DER certificates. Certificates mbedTLS cannot
 * parse are skipped and counted in *skipped (may be NULL). Returns the number
 * added (>= 1), or -EBADMSG (nothing usable; ctx->why = TLS_WHY_CA_BAD). buf
 * is copied. */
int tls_ctx_ca_add(struct tls_ctx *ctx, const void *buf, size_t len, size_t *skipped);

/* Same from a file (e.g. TLS_CA_PATH). Returns the number added, -errno from
 * open/read, or -EBADMSG; ctx->detail names the file and the problem. */
int tls_ctx_ca_add_file(struct tls_ctx *ctx, const char *path, size_t *skipped);

/* Frees the CAs and cached sessions and wipes the generator state. Safe on a
 * zeroed ctx. */
void tls_ctx_fini(struct tls_ctx *ctx);

/* Forgets the cached session of host:port; tls_conn_open does this itself
 * when a handshake that offered the session fails. Takes ctx->lock. */
void tls_ctx_forget(struct tls_ctx *ctx, const char *host, uint16_t port);

/* One TLS connection over a transport. */
struct tls_conn {
	mbedtls_ssl_context ssl;
	struct tls_ctx *ctx;
	struct tls_io io;
	int io_err;			/* last -errno of the transport */
	bool open, resumed, verified, eof;
	uint8_t ip[16];			/* host as an IP literal, ip_len 4 or 16 */
	size_t ip_len;
	char host[TLS_HOST_MAX + 1];
	uint16_t port;
	enum tls_why why;
	char detail[TLS_DETAIL_MAX];
};

/* Handshakes with host:port over io: SNI for DNS names (never for IP
 * literals, RFC 6066 3), verification against ctx's CAs and host (DNS names
 * against dNSName SANs or the CN, IP literals against iPAddress SANs), and
 * resumption from ctx's cache when it holds a session for host:port. Blocks
 * as long as io's callbacks do. Returns 0; -EKEYREJECTED (verification failed),
 * -EKEYEXPIRED (expired or not yet valid), -ENOKEY (no CA loaded),
 * -EPROTO (alert, protocol error, EOF during the handshake), -EINVAL (bad
 * host), -ENOMEM, or the transport's -errno. On failure c->why/c->detail say
 * why (tls_conn_why_fmt) and the connection is already closed. */
int tls_conn_open(struct tls_conn *c, struct tls_ctx *ctx, const char *host, uint16_t port,
		  const struct tls_io *io);

/* Reads up to len (> 0) decrypted bytes; blocks as io does. Returns > 0,
 * 0 when the server closed (close_notify or EOF), or -errno (-EPROTO for a
 * bad record or alert, or the transport's). */
ssize_t tls_conn_read(struct tls_conn *c, void *buf, size_t len);

/* Writes all len bytes; returns len or -errno. */
ssize_t tls_conn_write(struct tls_conn *c, const void *buf, size_t len);

/* True if the last handshake resumed a cached session (no certificate sent). */
bool tls_conn_is_resumed(const struct tls_conn *c);

/* Sends close_notify (best effort, only if the handshake finished) and frees
 * the connection's memory. Does not close the transport. Safe to call twice
 * and after a failed tls_conn_open. */
void tls_conn_close(struct tls_conn *c);

/* Formats "reason: detail" (or just the reason) of c into buf; returns the
 * length snprintf would write. */
int tls_conn_why_fmt(const struct tls_conn *c, char *buf, size_t len);

/*
 * HTTPS for net/http: tls_https_add registers the "https" scheme on an HTTP
 * client; every new https connection (direct, or through the CONNECT tunnel
 * net/http opens to a proxy) is wrapped in a tls_conn. net/http passes no
 * port to the wrap hook, so the session cache is keyed by host name only:
 * certificates name hosts, not ports, so resuming across ports of one host
 * still authenticates that host.
 */
struct net_http_client;
struct net_io;
struct tls_https {
	struct tls_ctx *tls;
	pthread_mutex_t lock;		/* guards the fields below */
	enum tls_why why;		/* reason of the latest refused handshake */
	char detail[TLS_DETAIL_MAX];
	char host[TLS_HOST_MAX + 1];	/* ... and its host */
	unsigned handshakes, resumed;	/* successful handshakes, of which resumed */
	uint64_t last_us;		/* duration of the latest successful handshake */
	uint64_t last_cpu_us;		/* ... and the CPU time of the calling thread in it */
	bool last_resumed;
};

/* Prepares h to wrap connections with tls (CAs loaded, shared by all
 * connections). *h and *tls are caller-owned and must outlive every
 * connection wrapped. Returns 0 or -errno. */
int tls_https_init(struct tls_https *h, struct tls_ctx *tls);

/* The net_http_wrap_fn of the https scheme; ctx is a struct tls_https *.
 * Handshakes over *raw (owned from here on, closed on failure) until
 * deadline_ms and fills *out with the TLS transport. Returns 0 or as
 * tls_conn_open; h records the reason (tls_https_why_fmt). Thread-safe. */
int tls_https_wrap(void *ctx, struct net_io *raw, const char *host, uint64_t deadline_ms,
		   struct net_io *out);

/* tls_https_init, then registers https (port 443) on client c. For clients
 * built elsewhere (cvmfs-lite's), pass tls_https_wrap and h to
 * net_http_scheme_add instead. Returns 0 or -errno (-ENOSPC: table full). */
int tls_https_add(struct tls_https *h, struct tls_ctx *tls, struct net_http_client *c);

/* Formats the latest handshake failure as "HOST: reason: detail"; returns the
 * length snprintf would write, or 0 (and "") when none failed. Takes h->lock. */
int tls_https_why_fmt(struct tls_https *h, char *buf, size_t len);

/* Releases h (not tls). Call after the client's connections are closed. */
void tls_https_fini(struct tls_https *h);

#endif
