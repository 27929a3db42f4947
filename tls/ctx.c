/* SPDX-License-Identifier: MIT */
/* tls/ctx.c: the shared client context: random generator, configuration,
 * trusted CAs (PEM or concatenated DER) and the per-host session cache. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mbedtls/asn1.h"
#include "mbedtls/entropy.h"
#include "tls/internal.h"
#include "tls/tls.h"

/* A CA bundle bigger than this is a mistake (Debian's is ~220 KB of PEM). */
#define TLS_CA_FILE_MAX (8u << 20)

static const char *const why_text[TLS_WHY_MAX_] = {
	[TLS_WHY_NONE] = "no error",
	[TLS_WHY_UNTRUSTED] = "not signed by a trusted CA",
	[TLS_WHY_EXPIRED] = "certificate expired",
	[TLS_WHY_FUTURE] = "certificate not yet valid",
	[TLS_WHY_HOST] = "host name mismatch",
	[TLS_WHY_CERT] = "certificate rejected",
	[TLS_WHY_ALERT] = "server sent a fatal alert",
	[TLS_WHY_PROTOCOL] = "TLS handshake failed",
	[TLS_WHY_NO_CA] = "no trusted CA loaded",
	[TLS_WHY_CA_BAD] = "CA bundle unusable",
	[TLS_WHY_IO] = "connection failed",
};

/* see tls.h */
const char *tls_why_str(enum tls_why why)
{
	if ((unsigned)why >= TLS_WHY_MAX_ || !why_text[why])
		return "unknown TLS error";
	return why_text[why];
}

/* see internal.h */
void tls_why_set(enum tls_why *why, char *detail, enum tls_why w, const char *fmt, ...)
{
	va_list ap;

	if (*why != TLS_WHY_NONE)
		return;
	*why = w;
	detail[0] = '\0';
	if (!fmt)
		return;
	va_start(ap, fmt);
	vsnprintf(detail, TLS_DETAIL_MAX, fmt, ap);
	va_end(ap);
}

/* see internal.h. The kernel CSPRNG instead of CTR_DRBG: no state to share
 * between threads or to duplicate across fork. getrandom(2) blocks only until
 * the CRNG is seeded once, early on 5.4+ kernels (jitter entropy). */
int tls_random(void *arg, unsigned char *out, size_t len)
{
	size_t off = 0;
	ssize_t n;

	while (off < len) {
		n = getrandom(out + off, len - off, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return MBEDTLS_ERR_ENTROPY_SOURCE_FAILED;
		off += (size_t)n;
	}
	return 0;
}

/* ECDHE groups, fastest first. mbedTLS 2.28's default order puts P-384
 * first, and servers that follow the client's order (nginx does) pick it.
 * Measured keygen + shared secret, musl -Os: X25519 1.1 ms, P-256 1.6 ms,
 * P-384 3.0 ms of CPU. */
static const mbedtls_ecp_group_id tls_curves[] = {
	MBEDTLS_ECP_DP_CURVE25519, MBEDTLS_ECP_DP_SECP256R1, MBEDTLS_ECP_DP_SECP384R1,
	MBEDTLS_ECP_DP_NONE
};

/* see tls.h */
int tls_ctx_init(struct tls_ctx *ctx)
{
	int rc;

	memset(ctx, 0, sizeof(*ctx));
	mbedtls_ssl_config_init(&ctx->conf);
	mbedtls_x509_crt_init(&ctx->ca);
	rc = -pthread_mutex_init(&ctx->lock, NULL);
	if (rc < 0)
		return rc;
	rc = mbedtls_ssl_config_defaults(&ctx->conf, MBEDTLS_SSL_IS_CLIENT,
					 MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT);
	if (rc != 0) {
		rc = rc == MBEDTLS_ERR_SSL_ALLOC_FAILED ? -ENOMEM : -EINVAL;
		tls_ctx_fini(ctx);
		return rc;
	}
	mbedtls_ssl_conf_min_version(&ctx->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
				     MBEDTLS_SSL_MINOR_VERSION_3);
	mbedtls_ssl_conf_max_version(&ctx->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
				     MBEDTLS_SSL_MINOR_VERSION_3);
	mbedtls_ssl_conf_authmode(&ctx->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
	mbedtls_ssl_conf_rng(&ctx->conf, tls_random, NULL);
	mbedtls_ssl_conf_ca_chain(&ctx->conf, &ctx->ca, NULL);
	mbedtls_ssl_conf_session_tickets(&ctx->conf, MBEDTLS_SSL_SESSION_TICKETS_ENABLED);
	mbedtls_ssl_conf_curves(&ctx->conf, tls_curves);
	return 0;
}

static size_t ca_count(const mbedtls_x509_crt *crt)
{
	size_t n = 0;

	for (; crt; crt = crt->next)
		if (crt->raw.p)
			n++;
	return n;
}

/* Concatenated DER: each certificate is one SEQUENCE with a definite length. */
static int ca_add_der(struct tls_ctx *ctx, const unsigned char *p, size_t len, size_t *bad)
{
	const unsigned char *end = p + len;

	while (p < end) {
		unsigned char *q = (unsigned char *)p + 1;
		size_t body;

		if (*p != (MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) ||
		    mbedtls_asn1_get_len(&q, end, &body) != 0)
			return -EBADMSG;
		if (mbedtls_x509_crt_parse_der(&ctx->ca, p, (size_t)(q - p) + body) != 0)
			(*bad)++;
		p = q + body;
	}
	return 0;
}

static int ca_add(struct tls_ctx *ctx, const void *buf, size_t len, size_t *skipped,
		  const char *name)
{
	size_t before = ca_count(&ctx->ca), bad = 0, added;
	unsigned char *z = NULL;
	int rc;

	if (len > 0 && memmem(buf, len, "-----BEGIN ", 11)) {
		/* mbedtls_x509_crt_parse wants PEM NUL-terminated, len included. */
		z = malloc(len + 1);
		if (!z)
			return -ENOMEM;
		memcpy(z, buf, len);
		z[len] = '\0';
		rc = mbedtls_x509_crt_parse(&ctx->ca, z, len + 1);
		bad = rc > 0 ? (size_t)rc : 0;
		free(z);
		rc = 0;
	} else {
		rc = ca_add_der(ctx, buf, len, &bad);
	}
	added = ca_count(&ctx->ca) - before;
	ctx->nca += added;
	if (skipped)
		*skipped = bad;
	if (rc < 0 && added + bad > 0) {
		tls_why_set(&ctx->why, ctx->detail, TLS_WHY_CA_BAD,
			    "%s: broken DER framing after %zu certificates", name, added + bad);
		return rc;
	}
	if (added == 0) {
		tls_why_set(&ctx->why, ctx->detail, TLS_WHY_CA_BAD,
			    "%s: no certificate parsed from %zu bytes (want PEM or concatenated DER)",
			    name, len);
		return -EBADMSG;
	}
	return added > INT_MAX ? INT_MAX : (int)added;
}

/* see tls.h */
int tls_ctx_ca_add(struct tls_ctx *ctx, const void *buf, size_t len, size_t *skipped)
{
	return ca_add(ctx, buf, len, skipped, "CA buffer");
}

/* see tls.h */
int tls_ctx_ca_add_file(struct tls_ctx *ctx, const char *path, size_t *skipped)
{
	unsigned char *buf = NULL;
	struct stat st;
	size_t off = 0;
	ssize_t n;
	int rc, fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		rc = -errno;
		tls_why_set(&ctx->why, ctx->detail, TLS_WHY_CA_BAD, "%s: %s", path, strerror(-rc));
		return rc;
	}
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size <= 0 || st.st_size > TLS_CA_FILE_MAX) {
		rc = -EFBIG;
		tls_why_set(&ctx->why, ctx->detail, TLS_WHY_CA_BAD,
			    "%s: not a regular file of 1 byte to %u MiB", path, TLS_CA_FILE_MAX >> 20);
		goto out;
	}
	buf = malloc((size_t)st.st_size);
	if (!buf) {
		rc = -ENOMEM;
		goto out;
	}
	while (off < (size_t)st.st_size) {
		n = read(fd, buf + off, (size_t)st.st_size - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n < 0 ? -errno : -EIO;
			goto out;
		}
		off += (size_t)n;
	}
	rc = ca_add(ctx, buf, off, skipped, path);
out:
	if (rc < 0 && rc != -EBADMSG)
		tls_why_set(&ctx->why, ctx->detail, TLS_WHY_CA_BAD, "%s: %s", path, strerror(-rc));
	free(buf);
	close(fd);
	return rc;
}

/* see tls.h */
void tls_ctx_fini(struct tls_ctx *ctx)
{
	size_t i;

	for (i = 0; i < TLS_CACHE_MAX; i++)
		if (ctx->cache.ent[i].used)
			tls_cache_drop(&ctx->cache.ent[i]);
	mbedtls_x509_crt_free(&ctx->ca);
	mbedtls_ssl_config_free(&ctx->conf);
	pthread_mutex_destroy(&ctx->lock);
	ctx->nca = 0;
}

/* see internal.h */
struct tls_cache_ent *tls_cache_find(struct tls_cache *cache, const char *host, uint16_t port)
{
	size_t i;

	for (i = 0; i < TLS_CACHE_MAX; i++) {
		struct tls_cache_ent *e = &cache->ent[i];

		if (e->used && e->port == port && strcmp(e->host, host) == 0) {
			e->stamp = ++cache->clock;
			return e;
		}
	}
	return NULL;
}

/* see internal.h */
struct tls_cache_ent *tls_cache_slot(struct tls_cache *cache, const char *host, uint16_t port)
{
	struct tls_cache_ent *e = tls_cache_find(cache, host, port);
	size_t i;

	if (!e) {
		e = &cache->ent[0];
		for (i = 0; i < TLS_CACHE_MAX; i++) {
			if (!cache->ent[i].used) {
				e = &cache->ent[i];
				break;
			}
			if (cache->ent[i].stamp < e->stamp)
				e = &cache->ent[i];
		}
	}
	tls_cache_drop(e);
	snprintf(e->host, sizeof(e->host), "%s", host);
	e->port = port;
	e->stamp = ++cache->clock;
	return e;
}

/* see internal.h */
void tls_cache_drop(struct tls_cache_ent *e)
{
	if (e->used)
		mbedtls_ssl_session_free(&e->sess);
	memset(e, 0, sizeof(*e));
}

/* see tls.h */
void tls_ctx_forget(struct tls_ctx *ctx, const char *host, uint16_t port)
{
	struct tls_cache_ent *e;

	pthread_mutex_lock(&ctx->lock);
	e = tls_cache_find(&ctx->cache, host, port);
	if (e)
		tls_cache_drop(e);
	pthread_mutex_unlock(&ctx->lock);
}
