/* SPDX-License-Identifier: MIT */
/* tests/unit/tls_test.c: verification verdicts and reasons, resumption and
 * transport errors, against an mbedTLS server thread over a socketpair. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "mbedtls/pk.h"
#include "net/http.h"
#include "tls/internal.h"
#include "tls/tls.h"
#include "tests/unit/testdata.h"

#define TD "tests/data/tls/"


/* ---- the server side: one mbedTLS server handshake per thread ---- */

struct srv_cache {
	mbedtls_ssl_session s;
	bool have;
};

struct srv {
	int fd;
	const char *crt, *key;
	const int *suites;		/* NULL: all */
	struct srv_cache *cache;	/* NULL: no resumption */
	bool hang_up;			/* close before any handshake */
	int rc;				/* handshake result */
	pthread_t thr;
};

/* Server-side sessions hold no pointers (no client certificates, no
 * tickets), so a shallow copy is a faithful cache entry. */
static int cache_set(void *arg, const mbedtls_ssl_session *s)
{
	struct srv_cache *c = arg;

	memcpy(&c->s, s, sizeof(*s));
	c->have = true;
	return 0;
}

static int cache_get(void *arg, mbedtls_ssl_session *s)
{
	struct srv_cache *c = arg;

	if (!c->have || c->s.id_len != s->id_len || memcmp(c->s.id, s->id, s->id_len) != 0)
		return 1;
	memcpy(s, &c->s, sizeof(*s));
	return 0;
}

static int fd_send(void *arg, const unsigned char *buf, size_t len)
{
	ssize_t n = send(*(int *)arg, buf, len, MSG_NOSIGNAL);

	return n < 0 ? MBEDTLS_ERR_SSL_INTERNAL_ERROR : (int)n;
}

static int fd_recv(void *arg, unsigned char *buf, size_t len)
{
	ssize_t n = recv(*(int *)arg, buf, len, 0);

	return n < 0 ? MBEDTLS_ERR_SSL_INTERNAL_ERROR : (int)n;
}

static void *srv_main(void *arg)
{
	struct srv *s = arg;
	mbedtls_ssl_config conf;
	mbedtls_ssl_context ssl;
	mbedtls_x509_crt crt;
	mbedtls_pk_context pk;
	unsigned char *c, *k, buf[64];
	size_t clen, klen;
	int n;

	if (s->hang_up) {
		/* Take the ClientHello, then an orderly EOF instead of a reply. */
		(void)!recv(s->fd, buf, sizeof(buf), 0);
		while (recv(s->fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
			;
		shutdown(s->fd, SHUT_WR);
		while (recv(s->fd, buf, sizeof(buf), 0) > 0)
			;
		close(s->fd);
		return NULL;
	}
	mbedtls_ssl_config_init(&conf);
	mbedtls_ssl_init(&ssl);
	mbedtls_x509_crt_init(&crt);
	mbedtls_pk_init(&pk);
	c = td_load(TD, s->crt, &clen);
	k = td_load(TD, s->key, &klen);
	s->rc = mbedtls_x509_crt_parse(&crt, c, clen + 1);
	if (s->rc == 0)
		s->rc = mbedtls_pk_parse_key(&pk, k, klen + 1, NULL, 0);
	if (s->rc == 0)
		s->rc = mbedtls_ssl_config_defaults(&conf, MBEDTLS_SSL_IS_SERVER,
						    MBEDTLS_SSL_TRANSPORT_STREAM,
						    MBEDTLS_SSL_PRESET_DEFAULT);
	mbedtls_ssl_conf_rng(&conf, tls_random, NULL);
	if (s->rc == 0)
		s->rc = mbedtls_ssl_conf_own_cert(&conf, &crt, &pk);
	if (s->suites)
		mbedtls_ssl_conf_ciphersuites(&conf, s->suites);
	if (s->cache)
		mbedtls_ssl_conf_session_cache(&conf, s->cache, cache_get, cache_set);
	if (s->rc == 0)
		s->rc = mbedtls_ssl_setup(&ssl, &conf);
	mbedtls_ssl_set_bio(&ssl, &s->fd, fd_send, fd_recv, NULL);
	if (s->rc == 0)
		s->rc = mbedtls_ssl_handshake(&ssl);
	if (s->rc == 0) {
		/* Echo one message back upper-cased, then close_notify. */
		n = mbedtls_ssl_read(&ssl, buf, sizeof(buf));
		for (int i = 0; i < n; i++)
			buf[i] = (unsigned char)(buf[i] >= 'a' && buf[i] <= 'z' ? buf[i] - 32 : buf[i]);
		if (n > 0)
			mbedtls_ssl_write(&ssl, buf, (size_t)n);
		mbedtls_ssl_close_notify(&ssl);
	}
	close(s->fd);
	mbedtls_ssl_free(&ssl);
	mbedtls_ssl_config_free(&conf);
	mbedtls_x509_crt_free(&crt);
	mbedtls_pk_free(&pk);
	free(c);
	free(k);
	return NULL;
}

/* ---- the client side: tls_conn over the other end ---- */

struct cli_io {
	int fd;
	int fail_read;			/* nonzero: every read returns this */
};

static long cli_read(void *arg, unsigned char *buf, size_t len)
{
	struct cli_io *io = arg;
	ssize_t n;

	if (io->fail_read)
		return io->fail_read;
	n = recv(io->fd, buf, len, 0);
	return n < 0 ? -errno : n;
}

static long cli_write(void *arg, const unsigned char *buf, size_t len)
{
	struct cli_io *io = arg;
	ssize_t n = send(io->fd, buf, len, MSG_NOSIGNAL);

	return n < 0 ? -errno : n;
}

static void ctx_with_ca(struct tls_ctx *ctx, const char *file)
{
	unsigned char *buf;
	size_t len;

	assert_int_equal(tls_ctx_init(ctx), 0);
	if (!file)
		return;
	buf = td_load(TD, file, &len);
	assert_true(tls_ctx_ca_add(ctx, buf, len, NULL) >= 1);
	free(buf);
}

/* One handshake of client (host) against a server presenting crt. Returns
 * tls_conn_open's result; on success also checks one echo round trip. */
static int handshake(struct tls_ctx *ctx, struct tls_conn *c, const char *host,
		     struct srv *s, int fail_read)
{
	int sv[2], rc;
	struct cli_io io = { .fail_read = fail_read };
	struct tls_io tio = { .read = cli_read, .write = cli_write, .arg = &io };
	char buf[16];

	if (!s->key)
		s->key = strstr(s->crt, "rsa") ? "leaf-rsa.key" : "leaf.key";
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	s->fd = sv[1];
	io.fd = sv[0];
	assert_int_equal(pthread_create(&s->thr, NULL, srv_main, s), 0);
	rc = tls_conn_open(c, ctx, host, 443, &tio);
	if (rc == 0) {
		assert_int_equal(tls_conn_write(c, "ping", 4), 4);
		assert_int_equal(tls_conn_read(c, buf, sizeof(buf)), 4);
		assert_memory_equal(buf, "PING", 4);
		assert_int_equal(tls_conn_read(c, buf, sizeof(buf)), 0);	/* close_notify */
		tls_conn_close(c);
	}
	close(sv[0]);
	pthread_join(s->thr, NULL);
	return rc;
}

static void expect_refusal(const char *crt, const char *host, int err, enum tls_why why,
			   const char *text)
{
	struct tls_ctx ctx;
	struct tls_conn c;
	struct srv s = { .crt = crt };
	char msg[512];

	ctx_with_ca(&ctx, "ca.pem");
	assert_int_equal(handshake(&ctx, &c, host, &s, 0), err);
	assert_int_equal(c.why, why);
	tls_conn_why_fmt(&c, msg, sizeof(msg));
	if (strcmp(msg, text) != 0)
		fail_msg("reason:\n  got  '%s'\n  want '%s'", msg, text);
	assert_false(c.open);
	tls_conn_close(&c);	/* harmless after a failed open */
	tls_ctx_fini(&ctx);
}

static void good_dns_ip_rsa(void **state)
{
	static const char *const hosts[] = { "localhost", "LocalHost", "127.0.0.1", "::1",
					     "[::1]" };
	struct tls_ctx ctx;
	struct tls_conn c;
	size_t i;

	(void)state;
	ctx_with_ca(&ctx, "ca.pem");
	for (i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
		struct srv s = { .crt = i % 2 ? "good-rsa.pem" : "good.pem" };

		if (handshake(&ctx, &c, hosts[i], &s, 0) != 0)
			fail_msg("%s: %s: %s", hosts[i], tls_why_str(c.why), c.detail);
		assert_int_equal(c.why, TLS_WHY_NONE);
	}
	tls_ctx_fini(&ctx);
}

static void cn_fallback_and_wildcard(void **state)
{
	struct tls_ctx ctx;
	struct tls_conn c;
	struct srv s1 = { .crt = "cn-only.pem" }, s2 = { .crt = "wronghost.pem" };

	(void)state;
	ctx_with_ca(&ctx, "ca.pem");
	assert_int_equal(handshake(&ctx, &c, "localhost", &s1, 0), 0);
	assert_int_equal(handshake(&ctx, &c, "www.wrong.example", &s2, 0), 0);
	tls_ctx_fini(&ctx);
	expect_refusal("cn-only.pem", "127.0.0.1", -EKEYREJECTED, TLS_WHY_HOST,
		       "host name mismatch: wanted 127.0.0.1, certificate has CN=localhost");
}

static void expired(void **state)
{
	(void)state;
	expect_refusal("expired.pem", "localhost", -EKEYEXPIRED, TLS_WHY_EXPIRED,
		       "certificate expired: CN=localhost was valid until 2021-01-01 00:00:00 UTC");
}

static void not_yet_valid(void **state)
{
	(void)state;
	expect_refusal("future.pem", "localhost", -EKEYEXPIRED, TLS_WHY_FUTURE,
		       "certificate not yet valid: CN=localhost is valid only from "
		       "2100-01-01 00:00:00 UTC (check the clock)");
}

static void wrong_host(void **state)
{
	(void)state;
	expect_refusal("wronghost.pem", "localhost", -EKEYREJECTED, TLS_WHY_HOST,
		       "host name mismatch: wanted localhost, certificate has "
		       "DNS:wrong.example, DNS:*.wrong.example");
	expect_refusal("good.pem", "127.0.0.2", -EKEYREJECTED, TLS_WHY_HOST,
		       "host name mismatch: wanted 127.0.0.2, certificate has "
		       "DNS:localhost, IP:127.0.0.1, IP:::1");
}

static void untrusted(void **state)
{
	(void)state;
	expect_refusal("untrusted.pem", "localhost", -EKEYREJECTED, TLS_WHY_UNTRUSTED,
		       "not signed by a trusted CA: CN=localhost is issued by "
		       "CN=cvmboot untrusted CA, which is not in the CA bundle");
}

static void untrusted_beats_host(void **state)
{
	/* Both wrong: the more fundamental reason is the one kept. */
	(void)state;
	expect_refusal("untrusted.pem", "example.org", -EKEYREJECTED, TLS_WHY_UNTRUSTED,
		       "not signed by a trusted CA: CN=localhost is issued by "
		       "CN=cvmboot untrusted CA, which is not in the CA bundle");
}

static void no_ca(void **state)
{
	struct tls_ctx ctx;
	struct tls_conn c;
	struct cli_io io = { .fd = -1 };
	struct tls_io tio = { .read = cli_read, .write = cli_write, .arg = &io };

	(void)state;
	ctx_with_ca(&ctx, NULL);
	assert_int_equal(tls_conn_open(&c, &ctx, "localhost", 443, &tio), -ENOKEY);
	assert_int_equal(c.why, TLS_WHY_NO_CA);
	assert_int_equal(tls_conn_open(&c, &ctx, "", 443, &tio), -EINVAL);
	tls_ctx_fini(&ctx);
}

static void resumption(void **state)
{
	struct srv_cache sc = { .have = false };
	struct tls_ctx ctx;
	struct tls_conn c;
	struct srv s = { .crt = "good.pem", .cache = &sc };

	(void)state;
	ctx_with_ca(&ctx, "ca.pem");
	assert_int_equal(handshake(&ctx, &c, "localhost", &s, 0), 0);
	assert_false(tls_conn_is_resumed(&c));
	assert_true(sc.have);
	assert_int_equal(handshake(&ctx, &c, "localhost", &s, 0), 0);
	assert_true(tls_conn_is_resumed(&c));
	/* Another host name does not get localhost's session. */
	assert_int_equal(handshake(&ctx, &c, "127.0.0.1", &s, 0), 0);
	assert_false(tls_conn_is_resumed(&c));
	/* The server forgot it: full handshake, verified again, cached again. */
	sc.have = false;
	assert_int_equal(handshake(&ctx, &c, "localhost", &s, 0), 0);
	assert_false(tls_conn_is_resumed(&c));
	assert_int_equal(handshake(&ctx, &c, "localhost", &s, 0), 0);
	assert_true(tls_conn_is_resumed(&c));
	tls_ctx_forget(&ctx, "localhost", 443);
	assert_int_equal(handshake(&ctx, &c, "localhost", &s, 0), 0);
	assert_false(tls_conn_is_resumed(&c));
	tls_ctx_fini(&ctx);
}

static void transport_errors(void **state)
{
	struct tls_ctx ctx;
	struct tls_conn c;
	struct srv s1 = { .crt = "good.pem" }, s2 = { .crt = "good.pem", .hang_up = true };
	char msg[256];

	(void)state;
	ctx_with_ca(&ctx, "ca.pem");
	assert_int_equal(handshake(&ctx, &c, "localhost", &s1, -ETIMEDOUT), -ETIMEDOUT);
	assert_int_equal(c.why, TLS_WHY_IO);
	assert_int_equal(handshake(&ctx, &c, "localhost", &s2, 0), -EPROTO);
	tls_conn_why_fmt(&c, msg, sizeof(msg));
	assert_string_equal(msg, "TLS handshake failed: server closed the connection during "
				 "the handshake");
	tls_ctx_fini(&ctx);
}

static void server_alert(void **state)
{
	static const int rsa_only[] = { MBEDTLS_TLS_RSA_WITH_AES_128_GCM_SHA256, 0 };
	struct tls_ctx ctx;
	struct tls_conn c;
	struct srv s = { .crt = "good.pem", .suites = rsa_only };	/* EC key: no suite fits */
	char msg[256];

	(void)state;
	ctx_with_ca(&ctx, "ca.pem");
	assert_int_equal(handshake(&ctx, &c, "localhost", &s, 0), -EPROTO);
	tls_conn_why_fmt(&c, msg, sizeof(msg));
	assert_string_equal(msg, "server sent a fatal alert: alert 40 (handshake_failure)");
	tls_ctx_fini(&ctx);
}

/* net_io over one end of a socketpair, counting closes. */
struct raw_fd {
	int fd, closes;
};

static ssize_t raw_read(void *arg, void *buf, size_t len, uint64_t deadline_ms)
{
	ssize_t n = recv(((struct raw_fd *)arg)->fd, buf, len, 0);

	return n < 0 ? -errno : n;
}

static ssize_t raw_write(void *arg, const void *buf, size_t len, uint64_t deadline_ms)
{
	ssize_t n = send(((struct raw_fd *)arg)->fd, buf, len, MSG_NOSIGNAL);

	return n < 0 ? -errno : n;
}

static void raw_close(void *arg)
{
	struct raw_fd *r = arg;

	close(r->fd);
	r->closes++;
}

static int wrap_once(struct tls_https *h, struct srv *s, struct raw_fd *r, struct net_io *out)
{
	struct net_io raw = { raw_read, raw_write, raw_close, r };
	int sv[2], rc;

	s->key = "leaf.key";
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	s->fd = sv[1];
	r->fd = sv[0];
	r->closes = 0;
	assert_int_equal(pthread_create(&s->thr, NULL, srv_main, s), 0);
	rc = tls_https_wrap(h, &raw, "localhost", net_now_ms() + 10000, out);
	if (rc == 0) {
		char buf[8];

		assert_int_equal(out->write(out->arg, "abc", 3, net_now_ms() + 10000), 3);
		assert_int_equal(out->read(out->arg, buf, sizeof(buf), net_now_ms() + 10000), 3);
		assert_memory_equal(buf, "ABC", 3);
		out->close(out->arg);
	}
	pthread_join(s->thr, NULL);
	return rc;
}

static void https_wrap_glue(void **state)
{
	struct srv_cache sc = { .have = false };
	struct srv good = { .crt = "good.pem", .cache = &sc }, bad = { .crt = "expired.pem" };
	struct tls_ctx ctx;
	struct tls_https h;
	struct raw_fd r;
	struct net_io out;
	char msg[512];

	(void)state;
	ctx_with_ca(&ctx, "ca.pem");
	assert_int_equal(tls_https_init(&h, &ctx), 0);
	assert_int_equal(tls_https_why_fmt(&h, msg, sizeof(msg)), 0);
	assert_string_equal(msg, "");
	assert_int_equal(wrap_once(&h, &good, &r, &out), 0);
	assert_int_equal(r.closes, 1);	/* out->close closed raw */
	assert_int_equal(wrap_once(&h, &good, &r, &out), 0);
	assert_int_equal(h.handshakes, 2);
	assert_int_equal(h.resumed, 1);
	assert_true(h.last_resumed);
	assert_int_equal(wrap_once(&h, &bad, &r, &out), -EKEYEXPIRED);
	assert_int_equal(r.closes, 1);	/* raw is closed on failure too */
	assert_true(tls_https_why_fmt(&h, msg, sizeof(msg)) > 0);
	assert_string_equal(msg, "localhost: certificate expired: CN=localhost was valid until "
				 "2021-01-01 00:00:00 UTC");
	tls_https_fini(&h);
	tls_ctx_fini(&ctx);
}

static void ca_formats(void **state)
{
	struct tls_ctx ctx;
	unsigned char *buf;
	size_t len, skipped = 9;

	(void)state;
	assert_int_equal(tls_ctx_init(&ctx), 0);
	buf = td_load(TD, "cas.der", &len);
	assert_int_equal(tls_ctx_ca_add(&ctx, buf, len, &skipped), 2);
	assert_int_equal(skipped, 0);
	/* Truncated DER framing is an error, not a silent partial bundle. */
	assert_int_equal(tls_ctx_ca_add(&ctx, buf, len - 1, NULL), -EBADMSG);
	assert_int_equal(ctx.why, TLS_WHY_CA_BAD);
	free(buf);
	assert_int_equal(ctx.nca, 3);	/* the first certificate of the cut copy parsed */
	tls_ctx_fini(&ctx);

	assert_int_equal(tls_ctx_init(&ctx), 0);
	assert_int_equal(tls_ctx_ca_add(&ctx, "# just a comment\n", 17, NULL), -EBADMSG);
	assert_int_equal(ctx.why, TLS_WHY_CA_BAD);
	assert_string_equal(ctx.detail, "CA buffer: no certificate parsed from 17 bytes "
					"(want PEM or concatenated DER)");
	assert_int_equal(tls_ctx_ca_add_file(&ctx, TD "no-such.pem", NULL), -ENOENT);
	/* Sticky: the first failure's text stays. */
	assert_string_equal(ctx.detail, "CA buffer: no certificate parsed from 17 bytes "
					"(want PEM or concatenated DER)");
	tls_ctx_fini(&ctx);

	assert_int_equal(tls_ctx_init(&ctx), 0);
	assert_int_equal(tls_ctx_ca_add_file(&ctx, TD "no-such.pem", NULL), -ENOENT);
	assert_string_equal(ctx.detail, TD "no-such.pem: No such file or directory");
	/* PEM with comments between blocks, as CA_BUNDLE files often have. */
	assert_int_equal(tls_ctx_ca_add_file(&ctx, TD "ca.pem", NULL), 1);
	tls_ctx_fini(&ctx);
}

static void system_bundle(void **state)
{
	struct tls_ctx ctx;
	size_t skipped;
	int n;

	(void)state;
	if (access("/etc/ssl/certs/ca-certificates.crt", R_OK) != 0)
		skip();
	assert_int_equal(tls_ctx_init(&ctx), 0);
	n = tls_ctx_ca_add_file(&ctx, "/etc/ssl/certs/ca-certificates.crt", &skipped);
	assert_true(n > 100);
	assert_int_equal(skipped, 0);
	tls_ctx_fini(&ctx);
}

static void why_text_and_sticky(void **state)
{
	enum tls_why w = TLS_WHY_NONE;
	char detail[TLS_DETAIL_MAX];
	int i;

	(void)state;
	for (i = 0; i < TLS_WHY_MAX_; i++)
		assert_string_not_equal(tls_why_str((enum tls_why)i), "unknown TLS error");
	assert_string_equal(tls_why_str(TLS_WHY_MAX_), "unknown TLS error");
	assert_string_equal(tls_why_str(TLS_WHY_EXPIRED), "certificate expired");
	tls_why_set(&w, detail, TLS_WHY_ALERT, "alert %d", 40);
	tls_why_set(&w, detail, TLS_WHY_IO, "later %d", 1);
	assert_int_equal(w, TLS_WHY_ALERT);
	assert_string_equal(detail, "alert 40");
}

static void cache_lru(void **state)
{
	struct tls_cache cache;
	char host[16];
	int i;

	(void)state;
	memset(&cache, 0, sizeof(cache));
	for (i = 0; i < TLS_CACHE_MAX; i++) {
		snprintf(host, sizeof(host), "h%d", i);
		tls_cache_slot(&cache, host, 443)->used = true;
	}
	assert_non_null(tls_cache_find(&cache, "h0", 443));	/* h0 is fresh again */
	assert_null(tls_cache_find(&cache, "h0", 8443));
	tls_cache_slot(&cache, "new", 443)->used = true;	/* evicts h1, the oldest */
	assert_null(tls_cache_find(&cache, "h1", 443));
	assert_non_null(tls_cache_find(&cache, "h0", 443));
	assert_non_null(tls_cache_find(&cache, "new", 443));
	for (i = 0; i < TLS_CACHE_MAX; i++)
		tls_cache_drop(&cache.ent[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(why_text_and_sticky),
		cmocka_unit_test(good_dns_ip_rsa),
		cmocka_unit_test(cn_fallback_and_wildcard),
		cmocka_unit_test(expired),
		cmocka_unit_test(not_yet_valid),
		cmocka_unit_test(wrong_host),
		cmocka_unit_test(untrusted),
		cmocka_unit_test(untrusted_beats_host),
		cmocka_unit_test(no_ca),
		cmocka_unit_test(resumption),
		cmocka_unit_test(transport_errors),
		cmocka_unit_test(server_alert),
		cmocka_unit_test(https_wrap_glue),
		cmocka_unit_test(ca_formats),
		cmocka_unit_test(system_bundle),
		cmocka_unit_test(cache_lru),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
