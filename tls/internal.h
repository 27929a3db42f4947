/* SPDX-License-Identifier: MIT */
/* tls/internal.h: declarations shared by the tls module and its unit test. */
#ifndef TLS_INTERNAL_H
#define TLS_INTERNAL_H

#include <stdint.h>

#include "tls/tls.h"

/* Sets *why and formats detail (TLS_DETAIL_MAX) unless *why is already set:
 * the first reason sticks. fmt may be NULL. */
void tls_why_set(enum tls_why *why, char *detail, enum tls_why w, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* mbedTLS RNG callback over getrandom(2); arg unused. */
int tls_random(void *arg, unsigned char *out, size_t len);

/* Cache primitives; the caller holds tls_ctx.lock. */
/* The used entry for host:port (and touches its LRU stamp), or NULL. */
struct tls_cache_ent *tls_cache_find(struct tls_cache *cache, const char *host, uint16_t port);

/* The entry for host:port, or a free or the least recently used one, emptied
 * and named host:port with used == false: the caller fills sess and sets used. */
struct tls_cache_ent *tls_cache_slot(struct tls_cache *cache, const char *host, uint16_t port);

/* Frees an entry's session and marks it unused. */
void tls_cache_drop(struct tls_cache_ent *e);

/* Parses an IPv4 or IPv6 literal (brackets allowed) into out (16 bytes);
 * returns its length 4 or 16, or 0 if host is a DNS name. */
size_t tls_ip_parse(const char *host, uint8_t *out);

/* Appends the names of crt (SAN dNSName/iPAddress, else the subject CN) to
 * buf as "DNS:a, IP:1.2.3.4"; for the host-mismatch reason. */
void tls_crt_names(const mbedtls_x509_crt *crt, char *buf, size_t len);

#endif
