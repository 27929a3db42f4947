/* SPDX-License-Identifier: MIT */
/* tls/conn.c: one TLS connection: handshake with SNI, verification that
 * names its reason, session resumption, record read/write. */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "mbedtls/net_sockets.h"
#include "mbedtls/oid.h"
#include "tls/internal.h"
#include "tls/tls.h"

static int bio_send(void *arg, const unsigned char *buf, size_t len)
{
	struct tls_conn *c = arg;
	long n = c->io.write(c->io.arg, buf, len);

	if (n > 0)
		return (int)n;
	c->io_err = n < 0 ? (int)n : -EPIPE;
	return MBEDTLS_ERR_NET_SEND_FAILED;
}

static int bio_recv(void *arg, unsigned char *buf, size_t len)
{
	struct tls_conn *c = arg;
	long n = c->io.read(c->io.arg, buf, len);

	if (n > 0)
		return (int)n;
	if (n == 0) {
		c->eof = true;
		return 0;	/* mbedTLS turns this into MBEDTLS_ERR_SSL_CONN_EOF */
	}
	c->io_err = (int)n;
	return MBEDTLS_ERR_NET_RECV_FAILED;
}

/* see internal.h */
size_t tls_ip_parse(const char *host, uint8_t *out)
{
	char tmp[64];
	size_t n = strlen(host);

	if (n >= 2 && host[0] == '[' && host[n - 1] == ']' && n - 2 < sizeof(tmp)) {
		memcpy(tmp, host + 1, n - 2);
		tmp[n - 2] = '\0';
		host = tmp;
	}
	if (inet_pton(AF_INET, host, out) == 1)
		return 4;
	if (inet_pton(AF_INET6, host, out) == 1)
		return 16;
	return 0;
}

static void append(char *buf, size_t len, const char *fmt, const char *s)
{
	size_t used = strlen(buf);

	if (used < len)
		snprintf(buf + used, len - used, fmt, s);
}

/* see internal.h */
void tls_crt_names(const mbedtls_x509_crt *crt, char *buf, size_t len)
{
	const mbedtls_x509_sequence *s;
	const mbedtls_x509_name *n;
	char one[INET6_ADDRSTRLEN + 1];
	size_t k;

	buf[0] = '\0';
	if (crt->ext_types & MBEDTLS_X509_EXT_SUBJECT_ALT_NAME) {
		for (s = &crt->subject_alt_names; s; s = s->next) {
			unsigned char tag = s->buf.tag & MBEDTLS_ASN1_TAG_VALUE_MASK;

			if (!s->buf.p)
				continue;
			if (tag == MBEDTLS_X509_SAN_DNS_NAME) {
				k = s->buf.len < sizeof(one) - 1 ? s->buf.len : sizeof(one) - 1;
				memcpy(one, s->buf.p, k);
				one[k] = '\0';
				append(buf, len, *buf ? ", DNS:%s" : "DNS:%s", one);
			} else if (tag == 7 && (s->buf.len == 4 || s->buf.len == 16) &&
				   inet_ntop(s->buf.len == 4 ? AF_INET : AF_INET6, s->buf.p, one,
					     sizeof(one))) {
				append(buf, len, *buf ? ", IP:%s" : "IP:%s", one);
			}
		}
		if (!*buf)
			snprintf(buf, len, "no DNS or IP name");
		return;
	}
	for (n = &crt->subject; n; n = n->next) {
		if (MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &n->oid) != 0)
			continue;
		k = n->val.len < sizeof(one) - 1 ? n->val.len : sizeof(one) - 1;
		memcpy(one, n->val.p, k);
		one[k] = '\0';
		append(buf, len, "CN=%s", one);
		return;
	}
	snprintf(buf, len, "no name");
}

/* RFC 6125 6.2.1: an IP reference identity matches only an iPAddress SAN
 * (tag [7]) of the same bytes; mbedTLS 2.28 checks dNSName only. */
static bool ip_san_match(const mbedtls_x509_crt *crt, const uint8_t *ip, size_t len)
{
	const mbedtls_x509_sequence *s;

	if (!(crt->ext_types & MBEDTLS_X509_EXT_SUBJECT_ALT_NAME))
		return false;
	for (s = &crt->subject_alt_names; s; s = s->next)
		if (s->buf.p && (s->buf.tag & MBEDTLS_ASN1_TAG_VALUE_MASK) == 7 &&
		    s->buf.len == len && memcmp(s->buf.p, ip, len) == 0)
			return true;
	return false;
}

/* Replaces a weaker certificate reason: the chain is walked root first and
 * the enum lists the most fundamental reason first. */
static void cert_why(struct tls_conn *c, enum tls_why w, const char *fmt, const char *a,
		     const char *b)
{
	if (c->why != TLS_WHY_NONE && (c->why > TLS_WHY_CERT || c->why <= w))
		return;
	c->why = TLS_WHY_NONE;
	tls_why_set(&c->why, c->detail, w, fmt, a, b);
}

static void fmt_time(const mbedtls_x509_time *t, char *buf, size_t len)
{
	snprintf(buf, len, "%04d-%02d-%02d %02d:%02d:%02d UTC", t->year, t->mon, t->day,
		 t->hour, t->min, t->sec);
}

/* Called for each certificate of the chain, root first, leaf (depth 0) last. */
static int verify_cb(void *arg, mbedtls_x509_crt *crt, int depth, uint32_t *flags)
{
	struct tls_conn *c = arg;
	char subj[96], what[TLS_DETAIL_MAX / 2];

	c->verified = true;
	if (depth == 0 && c->ip_len && !ip_san_match(crt, c->ip, c->ip_len))
		*flags |= MBEDTLS_X509_BADCERT_CN_MISMATCH;
	if (!*flags)
		return 0;
	if (mbedtls_x509_dn_gets(subj, sizeof(subj), &crt->subject) < 0)
		snprintf(subj, sizeof(subj), "(unprintable subject)");
	if (*flags & MBEDTLS_X509_BADCERT_NOT_TRUSTED) {
		if (mbedtls_x509_dn_gets(what, sizeof(what), &crt->issuer) < 0)
			snprintf(what, sizeof(what), "(unprintable issuer)");
		cert_why(c, TLS_WHY_UNTRUSTED, "%s is issued by %s, which is not in the CA bundle",
			 subj, what);
	}
	if (*flags & MBEDTLS_X509_BADCERT_EXPIRED) {
		fmt_time(&crt->valid_to, what, sizeof(what));
		cert_why(c, TLS_WHY_EXPIRED, "%s was valid until %s", subj, what);
	}
	if (*flags & MBEDTLS_X509_BADCERT_FUTURE) {
		fmt_time(&crt->valid_from, what, sizeof(what));
		cert_why(c, TLS_WHY_FUTURE, "%s is valid only from %s (check the clock)", subj,
			 what);
	}
	if (*flags & MBEDTLS_X509_BADCERT_CN_MISMATCH) {
		tls_crt_names(crt, what, sizeof(what));
		cert_why(c, TLS_WHY_HOST, "wanted %s, certificate has %s", c->host, what);
	}
	if (*flags & ~(MBEDTLS_X509_BADCERT_NOT_TRUSTED | MBEDTLS_X509_BADCERT_EXPIRED |
		       MBEDTLS_X509_BADCERT_FUTURE | MBEDTLS_X509_BADCERT_CN_MISMATCH)) {
		if (mbedtls_x509_crt_verify_info(what, sizeof(what), "", *flags) < 0)
			snprintf(what, sizeof(what), "flags 0x%x", (unsigned)*flags);
		what[strcspn(what, "\n")] = '\0';
		cert_why(c, TLS_WHY_CERT, "%s: %s", subj, what);
	}
	return 0;
}

static const char *alert_name(unsigned char a)
{
	switch (a) {
	case 40: return "handshake_failure";
	case 42: return "bad_certificate";
	case 46: return "certificate_unknown";
	case 47: return "illegal_parameter";
	case 48: return "unknown_ca";
	case 50: return "decode_error";
	case 51: return "decrypt_error";
	case 70: return "protocol_version";
	case 71: return "insufficient_security";
	case 80: return "internal_error";
	case 112: return "unrecognized_name";
	default: return "see RFC 5246 7.2";
	}
}

/* Maps an mbedTLS error to -errno and records why (sticky). */
static int conn_fail(struct tls_conn *c, int mrc, bool handshake)
{
	char num[16];

	switch (mrc) {
	case MBEDTLS_ERR_X509_CERT_VERIFY_FAILED:
		if (c->why == TLS_WHY_NONE) {
			snprintf(num, sizeof(num), "0x%x",
				 (unsigned)mbedtls_ssl_get_verify_result(&c->ssl));
			tls_why_set(&c->why, c->detail, TLS_WHY_CERT, "verify flags %s", num);
		}
		return c->why == TLS_WHY_EXPIRED || c->why == TLS_WHY_FUTURE ? -EKEYEXPIRED :
									      -EKEYREJECTED;
	case MBEDTLS_ERR_NET_SEND_FAILED:
	case MBEDTLS_ERR_NET_RECV_FAILED:
		tls_why_set(&c->why, c->detail, TLS_WHY_IO, "%s", strerror(-c->io_err));
		return c->io_err ? c->io_err : -EIO;
	case MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE:
		snprintf(num, sizeof(num), "%u", c->ssl.in_msg ? c->ssl.in_msg[1] : 0);
		tls_why_set(&c->why, c->detail, TLS_WHY_ALERT, "alert %s (%s)", num,
			    alert_name(c->ssl.in_msg ? c->ssl.in_msg[1] : 0));
		return -EPROTO;
	case MBEDTLS_ERR_SSL_ALLOC_FAILED:
		return -ENOMEM;
	case MBEDTLS_ERR_SSL_CONN_EOF:
		if (!handshake)
			return 0;
		tls_why_set(&c->why, c->detail, TLS_WHY_PROTOCOL,
			    "server closed the connection during the handshake");
		return -EPROTO;
	default:
		snprintf(num, sizeof(num), "-0x%04x", (unsigned)-mrc);
		tls_why_set(&c->why, c->detail, TLS_WHY_PROTOCOL, "mbedTLS error %s%s", num,
			    handshake ? " during the handshake" : "");
		return -EPROTO;
	}
}

/* Offers the cached session of host:port, if any. Returns true if offered. */
static bool session_offer(struct tls_conn *c)
{
	struct tls_cache_ent *e;
	bool offered = false;

	pthread_mutex_lock(&c->ctx->lock);
	e = tls_cache_find(&c->ctx->cache, c->host, c->port);
	if (e && mbedtls_ssl_set_session(&c->ssl, &e->sess) == 0)
		offered = true;
	pthread_mutex_unlock(&c->ctx->lock);
	return offered;
}

/* Keeps this connection's session (id or ticket) for the next one. */
static void session_keep(struct tls_conn *c)
{
	struct tls_cache_ent *e;

	pthread_mutex_lock(&c->ctx->lock);
	e = tls_cache_slot(&c->ctx->cache, c->host, c->port);
	mbedtls_ssl_session_init(&e->sess);
	if (mbedtls_ssl_get_session(&c->ssl, &e->sess) == 0)
		e->used = true;
	else
		tls_cache_drop(e);
	pthread_mutex_unlock(&c->ctx->lock);
}

/* see tls.h */
int tls_conn_open(struct tls_conn *c, struct tls_ctx *ctx, const char *host, uint16_t port,
		  const struct tls_io *io)
{
	size_t hlen = host ? strlen(host) : 0;
	bool offered;
	int rc;

	memset(c, 0, sizeof(*c));
	c->ctx = ctx;
	c->io = *io;
	c->port = port;
	mbedtls_ssl_init(&c->ssl);
	if (hlen == 0 || hlen > TLS_HOST_MAX) {
		tls_why_set(&c->why, c->detail, TLS_WHY_HOST, "bad host name (%zu bytes)", hlen);
		return -EINVAL;
	}
	memcpy(c->host, host, hlen + 1);
	if (ctx->nca == 0) {
		tls_why_set(&c->why, c->detail, TLS_WHY_NO_CA,
			    "load a CA bundle before connecting to %s", host);
		rc = -ENOKEY;
		goto out;
	}
	c->ip_len = tls_ip_parse(host, c->ip);
	rc = mbedtls_ssl_setup(&c->ssl, &ctx->conf);
	/* An IP literal gets no SNI (RFC 6066 3) and no mbedTLS name check: the
	 * verify callback matches it against iPAddress SANs. */
	if (rc == 0 && !c->ip_len)
		rc = mbedtls_ssl_set_hostname(&c->ssl, host);
	if (rc != 0) {
		rc = conn_fail(c, rc, true);
		goto out;
	}
	mbedtls_ssl_set_bio(&c->ssl, c, bio_send, bio_recv, NULL);
	mbedtls_ssl_set_verify(&c->ssl, verify_cb, c);
	offered = session_offer(c);
	do
		rc = mbedtls_ssl_handshake(&c->ssl);
	while (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE);
	if (rc != 0) {
		rc = conn_fail(c, rc, true);
		if (offered)
			tls_ctx_forget(ctx, c->host, c->port);
		goto out;
	}
	/* A resumed handshake carries no certificate, so nothing was verified
	 * now: the session was verified when it was cached. */
	c->resumed = offered && !c->verified;
	c->open = true;
	session_keep(c);
out:
	if (rc < 0)
		mbedtls_ssl_free(&c->ssl);
	return rc;
}

/* see tls.h */
ssize_t tls_conn_read(struct tls_conn *c, void *buf, size_t len)
{
	int rc;

	if (!c->open)
		return -ENOTCONN;
	if (len > INT_MAX)
		len = INT_MAX;
	do
		rc = mbedtls_ssl_read(&c->ssl, buf, len);
	while (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE);
	if (rc >= 0)
		return rc;
	if (rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) {
		c->eof = true;
		return 0;
	}
	return conn_fail(c, rc, false);
}

/* see tls.h */
ssize_t tls_conn_write(struct tls_conn *c, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	size_t off = 0;
	int rc;

	if (!c->open)
		return -ENOTCONN;
	while (off < len) {
		rc = mbedtls_ssl_write(&c->ssl, p + off, len - off);
		if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE)
			continue;
		if (rc < 0)
			return rc == MBEDTLS_ERR_SSL_CONN_EOF ? -EPIPE : conn_fail(c, rc, false);
		off += (size_t)rc;
	}
	return (ssize_t)len;
}

/* see tls.h */
bool tls_conn_is_resumed(const struct tls_conn *c)
{
	return c->resumed;
}

/* see tls.h */
void tls_conn_close(struct tls_conn *c)
{
	if (!c->open)
		return;
	/* RFC 5246 7.2.1; skipped when the transport already failed. */
	if (!c->io_err && !c->eof)
		mbedtls_ssl_close_notify(&c->ssl);
	mbedtls_ssl_free(&c->ssl);
	c->open = false;
}

/* see tls.h */
int tls_conn_why_fmt(const struct tls_conn *c, char *buf, size_t len)
{
	if (c->detail[0])
		return snprintf(buf, len, "%s: %s", tls_why_str(c->why), c->detail);
	return snprintf(buf, len, "%s", tls_why_str(c->why));
}
