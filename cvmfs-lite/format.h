/* SPDX-License-Identifier: MIT */
/* cvmfs-lite/format.h: the CernVM-FS repository format shared by the client
 * and the publisher: hashes, object names, manifest, whitelist, certificate,
 * xattr blob and catalog constants (spec: docs/cvmfs-format.md).
 *
 * Everything here is in cvmfs-lite_SRCS (PID 1 too): nothing writes SQLite
 * or needs the host-only mbedTLS parts; the publisher (cvmfs-pub/) writes the
 * format through these same functions. Unit tests: tests/unit/cvmfs-lite_test.c
 * (spec vectors, and the upstream legacy_aufs manifest, whitelist and
 * certificate in tests/data).
 *
 * Conventions: functions return 0 (or a length) on success, or a negative
 * errno. Protocol detail goes to an optional `enum cvmfs_fmt_why *why`
 * (may be NULL), set only when still CVMFS_FMT_WHY_NONE (sticky). None of
 * these functions block or do I/O; "now" is passed in. */
#ifndef CVMFS_LITE_FORMAT_H
#define CVMFS_LITE_FORMAT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "mbedtls/md5.h"
#include "mbedtls/pk.h"
#include "mbedtls/ripemd160.h"
#include "mbedtls/sha1.h"
#include "mbedtls/x509_crt.h"

/* ---- why: precise reasons, turned into text by cvmfs_fmt_why_str ---- */
enum cvmfs_fmt_why {
	CVMFS_FMT_WHY_NONE = 0,
	CVMFS_FMT_WHY_MANIFEST_SYNTAX,	/* missing key, bad number/hash, no "--" */
	CVMFS_FMT_WHY_MANIFEST_HASH,	/* hash line != HASH(body) */
	CVMFS_FMT_WHY_MANIFEST_SIG,	/* RSA signature does not verify with cert */
	CVMFS_FMT_WHY_MANIFEST_NAME,	/* N != expected fqrn */
	CVMFS_FMT_WHY_MANIFEST_ROOT,	/* R != md5("") */
	CVMFS_FMT_WHY_WHITELIST_SYNTAX,
	CVMFS_FMT_WHY_WHITELIST_HASH,	/* hash line != HASH(body) */
	CVMFS_FMT_WHY_WHITELIST_SIG,	/* no master key recovers the hash line */
	CVMFS_FMT_WHY_WHITELIST_EXPIRED,
	CVMFS_FMT_WHY_WHITELIST_NAME,	/* N line != expected fqrn */
	CVMFS_FMT_WHY_WHITELIST_UNSUPPORTED,	/* Vpkcs7 / Wcachain required */
	CVMFS_FMT_WHY_CERT_PARSE,	/* certificate object not zlib+PEM/DER X.509 */
	CVMFS_FMT_WHY_CERT_NOT_LISTED,	/* fingerprint not in the whitelist */
	CVMFS_FMT_WHY_KEY_PARSE,	/* public key PEM unreadable / not RSA */
	CVMFS_FMT_WHY_OBJECT_HASH,	/* object bytes do not hash to their name */
	CVMFS_FMT_WHY_INFLATE,		/* not a valid zlib stream / too big */
	CVMFS_FMT_WHY_XATTR,		/* xattr blob malformed or over limits */
	CVMFS_FMT_WHY_MAX
};

/* Static English text for why (never NULL). */
const char *cvmfs_fmt_why_str(enum cvmfs_fmt_why why);

/* ---- hashes ---- */
enum cvmfs_hash_algo {		/* on-disk order (flags bits 8-10 = algo - 1) */
	CVMFS_HASH_MD5 = 0,
	CVMFS_HASH_SHA1 = 1,
	CVMFS_HASH_RMD160 = 2,
	CVMFS_HASH_SHAKE128 = 3,
};
#define CVMFS_HASH_MAX 20		/* longest digest (sha1/rmd160/shake128) */
#define CVMFS_HASH_HEX_MAX 50		/* 40 hex + "-shake128" + NUL */
#define CVMFS_OBJ_PATH_MAX 64		/* "data/xx/" + 38 + "-shake128" + suffix + NUL */

/* Object type suffixes (spec §1). CVMFS_SUFFIX_NONE = regular file data. */
#define CVMFS_SUFFIX_NONE	0
#define CVMFS_SUFFIX_CATALOG	'C'
#define CVMFS_SUFFIX_HISTORY	'H'
#define CVMFS_SUFFIX_CERT	'X'
#define CVMFS_SUFFIX_META	'M'
#define CVMFS_SUFFIX_PARTIAL	'P'

struct cvmfs_hash {
	enum cvmfs_hash_algo algo;
	unsigned char d[CVMFS_HASH_MAX];	/* first cvmfs_hash_len(algo) bytes used */
};

/* Digest length in bytes: 16 for md5, 20 otherwise; 0 for an unknown algo. */
size_t cvmfs_hash_len(enum cvmfs_hash_algo algo);

/* Algorithm id as in hex names: "" (md5, sha1), "-rmd160", "-shake128". */
const char *cvmfs_hash_suffix(enum cvmfs_hash_algo algo);

/* Parses "sha1", "rmd160", "shake128" (also "md5"). Returns the algo or -EINVAL. */
int cvmfs_hash_algo_parse(const char *name);

/* Lowercase hex + algorithm id into buf (NUL-terminated). Returns the
 * length (32/40/47/49) or -ENOSPC if len is too small (use CVMFS_HASH_HEX_MAX). */
int cvmfs_hash_fmt(const struct cvmfs_hash *h, char *buf, size_t len);

/* Parses exactly len chars of hex (+ id); the algorithm comes from the
 * length as upstream's MkFromHexPtr: 32 md5, 40 sha1, 47 "-rmd160",
 * 49 "-shake128". Upper- or lowercase hex. Returns 0 or -EINVAL. */
int cvmfs_hash_parse(const char *hex, size_t len, struct cvmfs_hash *out);

/* Object path relative to the repository base: "data/xx/<rest><id><suffix>"
 * (suffix CVMFS_SUFFIX_* or 0). Returns the length or -ENOSPC. */
int cvmfs_hash_objpath(const struct cvmfs_hash *h, char suffix, char *buf, size_t len);

/* 1 if a and b have the same algorithm and digest, else 0. */
int cvmfs_hash_eq(const struct cvmfs_hash *a, const struct cvmfs_hash *b);

/* SHAKE128 (FIPS 202), our own Keccak-f[1600] (keccak.c). */
struct cvmfs_keccak {
	uint64_t st[25];
	size_t pos;		/* bytes absorbed into the current block */
	int squeezing;
};
void cvmfs_shake128_init(struct cvmfs_keccak *k);
void cvmfs_shake128_update(struct cvmfs_keccak *k, const void *data, size_t len);
/* Squeezes len bytes; may be called repeatedly (continues the stream). */
void cvmfs_shake128_final(struct cvmfs_keccak *k, unsigned char *out, size_t len);

/* Incremental hash of any cvmfs algorithm; state lives in caller storage,
 * owns no heap (mbedTLS contexts of these digests do not allocate). */
struct cvmfs_hash_ctx {
	enum cvmfs_hash_algo algo;
	union {
		mbedtls_md5_context md5;
		mbedtls_sha1_context sha1;
		mbedtls_ripemd160_context rmd160;
		struct cvmfs_keccak shake;
	} u;
};
/* Returns 0 or -EINVAL for an unknown algo. */
int cvmfs_hash_init(struct cvmfs_hash_ctx *c, enum cvmfs_hash_algo algo);
void cvmfs_hash_update(struct cvmfs_hash_ctx *c, const void *data, size_t len);
/* Writes the digest to out and wipes the context (init again to reuse). */
void cvmfs_hash_final(struct cvmfs_hash_ctx *c, struct cvmfs_hash *out);
/* One-shot: out = HASH_algo(data). Returns 0 or -EINVAL. */
int cvmfs_hash_buf(enum cvmfs_hash_algo algo, const void *data, size_t len,
		   struct cvmfs_hash *out);

/* Catalog row key of a repository path (spec §4.2): MD5 of the path bytes
 * ("" for the root, "/a/b" otherwise, no trailing slash) split into two
 * little-endian signed 64-bit integers. */
void cvmfs_md5path(const char *path, size_t len, int64_t *p1, int64_t *p2);

/* Object check: 0 if HASH_{want->algo}(data) == *want, else -EBADMSG with
 * why CVMFS_FMT_WHY_OBJECT_HASH. */
int cvmfs_object_check(const void *data, size_t len, const struct cvmfs_hash *want,
		       enum cvmfs_fmt_why *why);

/* Inflates a whole zlib (RFC 1950) buffer into a new malloc'd buffer
 * (*out, owned by the caller, free()), NUL-terminated for convenience
 * (*outlen excludes the NUL). Fails with -EFBIG (why INFLATE) past max
 * bytes, -EBADMSG (why INFLATE) on a bad/truncated stream, -ENOMEM. */
int cvmfs_zlib_inflate(const void *in, size_t inlen, size_t max,
		       unsigned char **out, size_t *outlen, enum cvmfs_fmt_why *why);

/* ---- manifest .cvmfspublished (spec §2) ---- */
#define CVMFS_FQRN_MAX 256
#define CVMFS_MANIFEST_MAX 65536	/* refuse bigger files */
#define CVMFS_ROOT_PATH_MD5 "d41d8cd98f00b204e9800998ecf8427e"

enum {				/* cvmfs_manifest.have bits */
	CVMFS_MF_B = 1 << 0, CVMFS_MF_G = 1 << 1, CVMFS_MF_A = 1 << 2,
	CVMFS_MF_L = 1 << 3, CVMFS_MF_N = 1 << 4, CVMFS_MF_X = 1 << 5,
	CVMFS_MF_H = 1 << 6, CVMFS_MF_T = 1 << 7, CVMFS_MF_M = 1 << 8,
	CVMFS_MF_Y = 1 << 9, CVMFS_MF_SIGNED = 1 << 10,	/* "--" part present */
};

struct cvmfs_manifest {
	unsigned have;			/* CVMFS_MF_* of optional fields present */
	struct cvmfs_hash root;		/* C (suffix C implied) */
	uint64_t root_size;		/* B: uncompressed root catalog bytes */
	char root_md5[33];		/* R as read (checked by _verify) */
	uint64_t ttl;			/* D seconds */
	uint64_t revision;		/* S */
	int gc, alt;			/* G, A: 1 = yes */
	struct cvmfs_hash micro;	/* L */
	char fqrn[CVMFS_FQRN_MAX];	/* N */
	struct cvmfs_hash cert;		/* X */
	struct cvmfs_hash history;	/* H */
	uint64_t timestamp;		/* T */
	struct cvmfs_hash meta;		/* M */
	struct cvmfs_hash reflog;	/* Y */
	/* Signature part; pointers into the buffer given to _parse. */
	size_t body_len;		/* letter = buf[0, body_len), ends "\n" */
	struct cvmfs_hash body_hash;	/* line after "--" */
	const unsigned char *sig;
	size_t sig_len;
};

/* Parses a manifest file (letter, optionally "--", hash line, signature).
 * Pure; m->sig points into buf, which must outlive m. Requires C, R, D, S
 * (the letter part must be UTF-8-free ASCII keys). Returns 0 or -EBADMSG
 * (why MANIFEST_SYNTAX). */
int cvmfs_manifest_parse(const unsigned char *buf, size_t len, struct cvmfs_manifest *m,
			 enum cvmfs_fmt_why *why);

/* Writes the letter (no "--" part) in upstream order C B R D S G A, then
 * L N X H T M Y when present in m->have. Returns the length, -ENOSPC. */
int cvmfs_manifest_fmt(const struct cvmfs_manifest *m, char *buf, size_t len);

/* Checks a parsed manifest: N == fqrn (if fqrn != NULL), R == md5(""),
 * hash line == HASH_{algo of C}(letter), and the RSA PKCS#1 v1.5 SHA-1
 * signature over the ASCII hex of the hash line, with cert's public key.
 * Returns 0, -EBADMSG (why SYNTAX/NAME/ROOT/HASH) or -EKEYREJECTED (SIG). */
struct cvmfs_cert;
int cvmfs_manifest_verify(const struct cvmfs_manifest *m, const unsigned char *buf,
			  const char *fqrn, const struct cvmfs_cert *cert,
			  enum cvmfs_fmt_why *why);

/* ---- certificate and keys ---- */
struct cvmfs_cert {
	mbedtls_x509_crt crt;		/* owns heap; _fini frees it */
	int loaded;
};
void cvmfs_cert_init(struct cvmfs_cert *c);
void cvmfs_cert_fini(struct cvmfs_cert *c);
/* Parses a PEM or DER X.509 certificate (the first one in a PEM file).
 * Returns 0 or -EBADMSG (why CERT_PARSE), -ENOMEM. */
int cvmfs_cert_parse(struct cvmfs_cert *c, const unsigned char *buf, size_t len,
		     enum cvmfs_fmt_why *why);
/* Loads a certificate object as fetched from data/xx/...X: checks the
 * object hash against want (if want != NULL), inflates it (zlib) and parses
 * the PEM. Returns 0, -EBADMSG (why OBJECT_HASH/INFLATE/CERT_PARSE), -ENOMEM. */
int cvmfs_cert_load_object(struct cvmfs_cert *c, const void *obj, size_t len,
			   const struct cvmfs_hash *want, enum cvmfs_fmt_why *why);
/* Fingerprint = HASH_algo(DER of the certificate). Returns 0, -EINVAL. */
int cvmfs_cert_fingerprint(const struct cvmfs_cert *c, enum cvmfs_hash_algo algo,
			   struct cvmfs_hash *out);
/* Whitelist text form "AB:CD:...:EF" (+ "-RMD160"/"-SHAKE128"). Returns the
 * length or -ENOSPC (size 3*20 + 10 is always enough). */
int cvmfs_fingerprint_fmt(const struct cvmfs_hash *fp, char *buf, size_t len);

#define CVMFS_KEYS_MAX 8
/* Master public keys (RSA, PEM SubjectPublicKeyInfo "BEGIN PUBLIC KEY"). */
struct cvmfs_pubkeys {
	mbedtls_pk_context pk[CVMFS_KEYS_MAX];	/* owns heap; _fini frees */
	size_t n;
};
void cvmfs_pubkeys_init(struct cvmfs_pubkeys *k);
void cvmfs_pubkeys_fini(struct cvmfs_pubkeys *k);
/* Adds one PEM (or DER) public key; buf needs no NUL. Returns 0, -ENOSPC
 * (CVMFS_KEYS_MAX reached), -EBADMSG (why KEY_PARSE: unreadable/not RSA). */
int cvmfs_pubkeys_add(struct cvmfs_pubkeys *k, const unsigned char *buf, size_t len,
		      enum cvmfs_fmt_why *why);

/* ---- whitelist .cvmfswhitelist (spec §3) ---- */
#define CVMFS_WL_FP_MAX 32
#define CVMFS_WL_MAX 65536
#define CVMFS_WL_EXPIRED_OK 1u		/* flag: accept an expired whitelist (old fixtures only) */

struct cvmfs_whitelist {
	time_t created;			/* line 1, UTC */
	time_t expires;			/* line 2, UTC (minutes/seconds kept) */
	char fqrn[CVMFS_FQRN_MAX];
	int pkcs7, cachain;		/* Vpkcs7 / Wcachain present */
	size_t nfp;
	struct cvmfs_hash fp[CVMFS_WL_FP_MAX];
	size_t body_len;		/* bytes before "--\n" */
	struct cvmfs_hash body_hash;
	const unsigned char *sig;	/* points into the parsed buffer */
	size_t sig_len;
};

/* Parses the whitelist; w->sig points into buf. Returns 0 or -EBADMSG
 * (why WHITELIST_SYNTAX; also for more than CVMFS_WL_FP_MAX fingerprints). */
int cvmfs_whitelist_parse(const unsigned char *buf, size_t len, struct cvmfs_whitelist *w,
			  enum cvmfs_fmt_why *why);

/* Verifies a parsed whitelist: N == fqrn, hash line == HASH(body), raw
 * PKCS#1 type-1 signature recovering the hash line with one of keys,
 * no Vpkcs7/Wcachain, and now < expiry compared to the hour (unless flags
 * has CVMFS_WL_EXPIRED_OK: then expiry is ignored; the caller logs that).
 * Returns 0, -EBADMSG (NAME/HASH/UNSUPPORTED), -EKEYREJECTED (SIG),
 * -EKEYEXPIRED (EXPIRED; checked last, so other faults win). */
int cvmfs_whitelist_verify(const struct cvmfs_whitelist *w, const unsigned char *buf,
			   const char *fqrn, const struct cvmfs_pubkeys *keys, time_t now,
			   unsigned flags, enum cvmfs_fmt_why *why);

/* 1 if the whitelist lists the certificate's fingerprint (in the algorithm
 * of each listed entry), else 0 and why CERT_NOT_LISTED. */
int cvmfs_whitelist_has_cert(const struct cvmfs_whitelist *w, const struct cvmfs_cert *c,
			     enum cvmfs_fmt_why *why);

/* ---- xattr blob v1 (spec §4.6) ---- */
#define CVMFS_XATTR_VERSION 1
#define CVMFS_XATTR_NUM_MAX 255
#define CVMFS_XATTR_KEY_MAX 255
#define CVMFS_XATTR_VAL_MAX 255
#define CVMFS_XATTR_BLOB_MAX (2 + CVMFS_XATTR_NUM_MAX * (2 + CVMFS_XATTR_KEY_MAX + CVMFS_XATTR_VAL_MAX))

struct cvmfs_xattr {			/* pointers are borrowed, not owned */
	const char *key;
	size_t klen;
	const unsigned char *val;
	size_t vlen;
};

/* Sorts x[0..n) by key (bytewise, shorter prefix first) and encodes the v1
 * blob into buf. n == 0 encodes nothing (returns 0: store NULL). Returns
 * the blob length, -E2BIG (more than 255 attrs, key or value over 255),
 * -EINVAL (empty key, NUL in key, duplicate key), -ENOSPC (cap too small). */
ssize_t cvmfs_xattr_encode(struct cvmfs_xattr *x, size_t n, unsigned char *buf, size_t cap);

/* Decodes a blob into x[0..cap) (pointers into blob). Returns the count,
 * -EBADMSG (why XATTR: bad version, truncated, trailing bytes) or -ENOSPC. */
ssize_t cvmfs_xattr_decode(const unsigned char *blob, size_t len, struct cvmfs_xattr *x,
			   size_t cap, enum cvmfs_fmt_why *why);

/* Finds key in a blob: 0 and val, vlen (into blob), -ENODATA, -EBADMSG. */
int cvmfs_xattr_find(const unsigned char *blob, size_t len, const char *key,
		     const unsigned char **val, size_t *vlen);

/* ---- catalog constants (spec §4) ---- */
#define CVMFS_CATALOG_SCHEMA		2.5
#define CVMFS_CATALOG_SCHEMA_STR	"2.5"
#define CVMFS_CATALOG_SCHEMA_REVISION	7
#define CVMFS_CATALOG_SCHEMA_EPS	0.0005
#define CVMFS_CATALOG_MARKER		".cvmfscatalog"
#define CVMFS_DEFAULT_TTL		240
#define CVMFS_HISTORY_SCHEMA_STR	"1.0"
#define CVMFS_HISTORY_SCHEMA_REVISION	3

/* What a file catalog's properties table says. */
struct cvmfs_catalog_props {
	double schema;			/* 0 when absent (a 1.x catalog) */
	int schema_revision;		/* 0 when absent */
	uint64_t revision;		/* the repository revision, 0 when absent */
	uint64_t ttl;			/* CVMFS_DEFAULT_TTL when absent */
};

struct sqlite3;
/* Reads them (catalog-props.c, the one reader of these keys). Returns 0 for
 * schema 2.5, revision 2..CVMFS_CATALOG_SCHEMA_REVISION (what the client
 * reads), -EPROTONOSUPPORT for anything else, a database without a
 * properties table included (*p is filled as far as present). */
int cvmfs_catalog_props_read(struct sqlite3 *db, struct cvmfs_catalog_props *p);

enum {
	CVMFS_FLAG_DIR = 1,
	CVMFS_FLAG_NESTED_MOUNTPOINT = 2,	/* row in the parent catalog */
	CVMFS_FLAG_FILE = 4,			/* regular, symlink, special */
	CVMFS_FLAG_LINK = 8,
	CVMFS_FLAG_SPECIAL = 16,
	CVMFS_FLAG_NESTED_ROOT = 32,		/* row in the child catalog */
	CVMFS_FLAG_CHUNKED = 64,
	CVMFS_FLAG_EXTERNAL = 128,
	CVMFS_FLAG_BIND_MOUNTPOINT = 0x4000,
	CVMFS_FLAG_HIDDEN = 0x8000,
	CVMFS_FLAG_DIRECT_IO = 0x10000,
};
#define CVMFS_FLAG_ALGO_SHIFT 8		/* 3 bits: algo - 1 (0 = sha1) */
#define CVMFS_FLAG_COMP_SHIFT 11	/* 3 bits: 0 zlib, 1 none */
#define CVMFS_FLAG_ALGO(f) ((enum cvmfs_hash_algo)((((f) >> CVMFS_FLAG_ALGO_SHIFT) & 7) + 1))
#define CVMFS_FLAG_COMP(f) (((f) >> CVMFS_FLAG_COMP_SHIFT) & 7)
#define CVMFS_FLAG_MKALGO(a) ((uint32_t)((a) - 1) << CVMFS_FLAG_ALGO_SHIFT)
#define CVMFS_COMP_ZLIB 0
#define CVMFS_COMP_NONE 1

/* hardlinks column: (group << 32) | linkcount */
#define CVMFS_HL_GROUP(h) ((uint32_t)((uint64_t)(h) >> 32))
#define CVMFS_HL_COUNT(h) ((uint32_t)((uint64_t)(h) & 0xffffffffu))
#define CVMFS_HL_MAKE(g, n) (((uint64_t)(g) << 32) | (uint32_t)(n))

/* The 12 counter kinds; rows are "self_<name>" and "subtree_<name>" (24). */
#define CVMFS_COUNTERS 12
extern const char *const cvmfs_counter_names[CVMFS_COUNTERS];
enum {
	CVMFS_CNT_REGULAR, CVMFS_CNT_SYMLINK, CVMFS_CNT_SPECIAL, CVMFS_CNT_DIR,
	CVMFS_CNT_NESTED, CVMFS_CNT_CHUNKED, CVMFS_CNT_CHUNKS, CVMFS_CNT_FILE_SIZE,
	CVMFS_CNT_CHUNKED_SIZE, CVMFS_CNT_XATTR, CVMFS_CNT_EXTERNAL,
	CVMFS_CNT_EXTERNAL_FILE_SIZE,
};

#endif
