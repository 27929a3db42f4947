/* SPDX-License-Identifier: MIT */
/* cvmfs-pub/cvmfs-pub.h: the publisher (host tool only): keys, publish, tags and inspect.
 *
 * A module of its own, linked only into build/cvmboot (never into PID 1): it
 * writes SQLite and uses the host-only mbedTLS writers, and reads and writes
 * the repository format through cvmfs-lite/format.h (hash, manifest,
 * whitelist, certificate, xattr blob), the part it shares with the client.
 * The verbs return a process exit status (0 ok, 1 failure with a message on
 * stderr, 2 usage). The library functions return 0 or -errno and put one
 * human sentence naming the path into err. Internals: cvmfs-pub/internal.h. */
#ifndef CVMFS_PUB_H
#define CVMFS_PUB_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "cvmfs-lite/format.h"
#include "mbedtls/ctr_drbg.h"

/* ---- verbs of build/cvmboot (boot/tool.c's table) ---- */
int cvmfs_pub_cli_keygen(int argc, char **argv);
int cvmfs_pub_cli_publish(int argc, char **argv);
int cvmfs_pub_cli_tag(int argc, char **argv);
int cvmfs_pub_cli_inspect(int argc, char **argv);
int cvmfs_pub_cli_bundle(int argc, char **argv);
int cvmfs_pub_cli_gc(int argc, char **argv);

/* ---- errors: the first one wins (threads may race to set it) ---- */
struct cvmfs_pub_err {
	pthread_mutex_t lock;
	int rc;				/* 0 or the first -errno */
	char msg[1024];
};
void cvmfs_pub_err_init(struct cvmfs_pub_err *e);
/* Records rc and the message if none is recorded yet; returns rc. */
int cvmfs_pub_fail(struct cvmfs_pub_err *e, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ---- keys (keys.c) ---- */
#define CVMFS_PUB_CERT_DAYS 365
#define CVMFS_PUB_WHITELIST_DAYS 30
#define CVMFS_PUB_RSA_BITS 2048

struct cvmfs_pub_rng {
	mbedtls_ctr_drbg_context drbg;
};
/* Seeds from getrandom(2). Returns 0 or -EIO. _fini wipes the state. */
int cvmfs_pub_rng_init(struct cvmfs_pub_rng *r);
void cvmfs_pub_rng_fini(struct cvmfs_pub_rng *r);
int cvmfs_pub_rng_cb(void *rng, unsigned char *out, size_t len);

/* 0 if fqrn looks like a repository name (letters, digits, '.', '-', '_',
 * at least one dot, at most 200 bytes), else -EINVAL. */
int cvmfs_pub_fqrn_check(const char *fqrn);

/* Writes DIR/FQRN.{pub,masterkey,key,crt}: RSA-2048 master key (.pub as
 * PEM SubjectPublicKeyInfo), publisher key and self-signed certificate
 * (CN "<fqrn> CernVM-FS Release Managers", 365 days). Private files are
 * 0600. Creates DIR if missing. Refuses (-EEXIST) if any file exists.
 * Blocks for key generation (about a second). */
int cvmfs_pub_keygen(const char *fqrn, const char *dir, struct cvmfs_pub_err *e);

/* The publisher's key material for one repository. */
struct cvmfs_pub_signer {
	mbedtls_pk_context master;	/* FQRN.masterkey (if loaded) */
	mbedtls_pk_context key;		/* FQRN.key */
	struct cvmfs_cert cert;		/* FQRN.crt */
	unsigned char *crt_pem;		/* file bytes (the X object is zlib of these) */
	size_t crt_len;
	int have_master;
};
/* Loads DIR/FQRN.{key,crt} (and .masterkey if need_master). Checks that the
 * key matches the certificate (-EKEYREJECTED otherwise). Returns 0, -ENOENT,
 * -EBADMSG (unreadable PEM), -EKEYREJECTED; err names the file. */
int cvmfs_pub_signer_load(struct cvmfs_pub_signer *k, const char *dir, const char *fqrn,
			int need_master, struct cvmfs_pub_err *e);
void cvmfs_pub_signer_fini(struct cvmfs_pub_signer *k);

/* Signs a manifest letter: appends "--\n<hex HASH_algo(body)>\n<sig>" where
 * sig = RSA PKCS#1 v1.5 SHA-1 over the hex with the publisher key. out must
 * hold len + 128 + 512 bytes. Returns the total length or -errno. */
ssize_t cvmfs_pub_sign_manifest(struct cvmfs_pub_signer *k, struct cvmfs_pub_rng *r,
				enum cvmfs_hash_algo algo, const char *body, size_t len,
				unsigned char *out, size_t cap);

/* Builds a whitelist valid from now for days, listing the certificate's
 * SHA-1 fingerprint, signed raw PKCS#1 type 1 with the master key. Returns
 * the length or -errno. */
ssize_t cvmfs_pub_make_whitelist(struct cvmfs_pub_signer *k, struct cvmfs_pub_rng *r,
				 const char *fqrn, time_t now, unsigned days,
				 unsigned char *out, size_t cap);

/* ---- publish (publish.c) ---- */
struct cvmfs_pub_opts {
	const char *src, *repo, *fqrn, *keydir;
	const char *tag, *description;	/* tag NULL: generic-<UTC time>, see no_auto_tag */
	enum cvmfs_hash_algo algo;
	uint64_t chunk_min, chunk_avg, chunk_max;
	unsigned whitelist_days;
	unsigned threads;		/* 0: one per CPU */
	int rehash;			/* do not trust size+mtime of the previous revision */
	int no_auto_tag;		/* no tag given: add none (else generic-<time>) */
	uint64_t auto_tag_timespan;	/* > 0: remove generic-<time> tags older than this
					 * many seconds (upstream's CVMFS_AUTO_TAG_TIMESPAN) */
	const char *meta_info;		/* JSON file for the meta-info object, or NULL: keep */
	uint64_t publish_time;		/* > 0: the revision's timestamp (Unix seconds; still
					 * later than the previous one), else now */
	int verbose;
	int progress;			/* a live progress line on stdout (a terminal) */
};
#define CVMFS_PUB_CHUNK_MIN (4u << 20)
#define CVMFS_PUB_CHUNK_AVG (8u << 20)
#define CVMFS_PUB_CHUNK_MAX (16u << 20)
/* The xor32 rolling value depends on the last 32 bytes: the smallest chunk_min. */
#define CVMFS_PUB_XOR32_WINDOW 32
/* Longest repository path we publish: clients open it under a mountpoint
 * (/cvmfs/<fqrn>), and the whole must stay below PATH_MAX (4096). */
#define CVMFS_PUB_PATH_MAX 3800

struct cvmfs_pub_result {
	char tag[64];			/* the tag added ("" if none; may be cut short) */
	uint64_t revision, files, bytes;
	uint64_t objects_new, objects_reused, catalogs_new;
	unsigned tags_expired;		/* generic-<time> tags removed (auto_tag_timespan) */
	struct cvmfs_hash root;
	double seconds;
};

/* Publishes o->src into o->repo as a new revision (see the issue for the
 * format). Blocks until done. On any failure the manifest is untouched, so
 * the repository stays at its previous revision. Returns 0 or -errno. */
int cvmfs_pub_run(const struct cvmfs_pub_opts *o, struct cvmfs_pub_result *res,
		  struct cvmfs_pub_err *e);


/* ---- inspect / verify (inspect.c) ---- */
struct cvmfs_pub_inspect_opts {
	const char *repo;		/* a directory */
	const char *pubkey;		/* master public key file, or NULL */
	const char *keydir;		/* else KEYDIR/FQRN.pub, else /etc/cvmfs/keys/FQRN.pub */
	int verify;
	int expired_ok;
	int tree;			/* print the catalog tree */
};
/* Prints the manifest, whitelist, certificate, tags and catalog summary;
 * with verify, checks every signature and every object reachable from the
 * manifest and all tags, and fails at the first problem with err naming it.
 * Returns 0 or -errno (-EBADMSG, -EKEYREJECTED, -EKEYEXPIRED, -ENOENT). */
int cvmfs_pub_inspect_run(const struct cvmfs_pub_inspect_opts *o, struct cvmfs_pub_err *e);

#endif
