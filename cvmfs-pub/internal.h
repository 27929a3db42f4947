/* SPDX-License-Identifier: MIT */
/* cvmfs-pub/internal.h: declarations shared by the publisher's files (and its unit test) only. */
#ifndef CVMFS_PUB_INTERNAL_H
#define CVMFS_PUB_INTERNAL_H

#include "cvmfs-pub/cvmfs-pub.h"
#include "mbedtls/sha1.h"

/* ---- files (util.c) ---- */
/* Reads a whole small file (< max bytes) into a malloc'd buffer (*out,
 * NUL-terminated, caller frees). Returns 0 or -errno (-EFBIG past max). */
int cvmfs_pub_read_file(int dirfd, const char *path, size_t max, unsigned char **out,
			size_t *len);
/* Writes data to dir/name atomically: a temporary file, fsync, rename,
 * fsync of dir. Returns 0 or -errno (-ENOSPC on a full disk). */
/* Writes all of data to fd (retrying short writes and EINTR). 0 or -errno. */
int cvmfs_pub_write_all(int fd, const void *data, size_t len);
int cvmfs_pub_write_atomic(const char *dir, const char *name, const void *data, size_t len,
			   unsigned mode);
/* Two such files, both written and fsync'ed first, then renamed back to
 * back (name1 first; name1 NULL: only name2), then dir fsync'ed. */
int cvmfs_pub_write_atomic2(const char *dir, const char *name1, const void *data1, size_t len1,
			    const char *name2, const void *data2, size_t len2, unsigned mode);
/* zlib level 6 (identical ids to upstream cvmfs) of a buffer; *out malloc'd. */
int cvmfs_pub_deflate(const void *in, size_t len, unsigned char **out, size_t *outlen);
/* The same (level 6, one zlib stream) with a full flush after the first
 * head bytes: the compressed rest does not depend on the head, so a copy
 * with another head is the new head's bytes plus the old rest (catalog.c).
 * *zhead = bytes of the zlib header and compressed head, flush included.
 * finish 0 (head == len): only those, no end of stream. 0 or -errno. */
int cvmfs_pub_deflate_split(const void *in, size_t len, size_t head, int finish,
			    unsigned char **out, size_t *outlen, size_t *zhead);

/* ---- repository writer (store.c) ---- */
struct cvmfs_pub_store {
	int repofd;			/* the repository directory */
	int datafd;			/* REPO/data */
	int tmpfd;			/* temporary files (REPO/data/txn) */
	enum cvmfs_hash_algo algo;
	pid_t pid;			/* for temporary names */
	uint64_t written, written_bytes, reused;	/* statistics (atomic) */
};
/* Opens (creating) REPO, REPO/data/00..ff and REPO/data/txn. */
int cvmfs_pub_store_open(struct cvmfs_pub_store *s, const char *repo, enum cvmfs_hash_algo algo,
			 struct cvmfs_pub_err *e);
void cvmfs_pub_store_close(struct cvmfs_pub_store *s);
/* Removes the temporary files a publish, tag edit or gc leaves when it is
 * killed: data/txn/<x>.<pid>... and REPO/..cvmfs{published,reflog,whitelist}
 * .tmp.<pid>, of this process or of one that no longer exists. Call with
 * the repository lock held. Returns how many went. */
unsigned cvmfs_pub_store_sweep(struct cvmfs_pub_store *s);
/* Stores already-compressed bytes as object h with suffix (temp + rename;
 * skipped if the object exists). Thread-safe. Returns 0 or -errno. */
int cvmfs_pub_store_put(struct cvmfs_pub_store *s, const struct cvmfs_hash *h, char suffix,
			const void *zdata, size_t zlen);
/* Hashes and stores already-compressed bytes; *out = their hash. */
int cvmfs_pub_store_put_z(struct cvmfs_pub_store *s, char suffix, const void *zdata,
			  size_t zlen, struct cvmfs_hash *out);
/* Compresses (zlib 6), hashes and stores a buffer; *out = its hash. */
int cvmfs_pub_store_put_buf(struct cvmfs_pub_store *s, char suffix, const void *data,
			    size_t len, struct cvmfs_hash *out);
/* 1 if the object exists. */
int cvmfs_pub_store_has(struct cvmfs_pub_store *s, const struct cvmfs_hash *h, char suffix);
/* Reads an object (still compressed) and checks its hash (*out malloc'd). */
int cvmfs_pub_store_read(struct cvmfs_pub_store *s, const struct cvmfs_hash *h, char suffix,
			 size_t max, unsigned char **out, size_t *len);
/* Reads and inflates an object after checking its hash (*out malloc'd). */
int cvmfs_pub_store_get(struct cvmfs_pub_store *s, const struct cvmfs_hash *h, char suffix,
			size_t max, unsigned char **out, size_t *len);

/* ---- a local mirror of a repository URL (mirror.c) ---- */
struct net_http_client;
struct tls_ctx;
struct tls_https;
struct cvmfs_pub_mirror {
	char *url;			/* base URL without trailing '/'; NULL: unused */
	char dir[256];			/* private temporary directory */
	int fd;				/* open on dir after _open */
	struct net_http_client *http;	/* heap; _close frees all of it */
	struct tls_ctx *tls;
	struct tls_https *https;
};
/* Makes a private directory under tmpdir and an HTTP client (https with the
 * system CA bundle /etc/ssl/certs/ca-certificates.crt when present).
 * Returns 0 or -errno (err says why). */
int cvmfs_pub_mirror_open(struct cvmfs_pub_mirror *m, const char *url, const char *tmpdir,
			  struct cvmfs_pub_err *e);
/* Fetches URL/rel into DIR/rel unless it is there. Blocks up to the HTTP
 * timeouts (10 s connect, 30 s without progress). A 404 leaves it absent
 * (the caller reports it missing); other failures are also logged. */
void cvmfs_pub_mirror_get(struct cvmfs_pub_mirror *m, const char *rel);
/* Removes the directory and frees the client. Safe on a zeroed m. */
void cvmfs_pub_mirror_close(struct cvmfs_pub_mirror *m);

/* ---- the publish pipeline: tree, contents, catalogs ---- */
#define CVMFS_PUB_NONE UINT32_MAX
/* Deepest chain of nested catalogs we write or read back (publish refuses
 * more, with the path; previous-revision loading and inspect stop there). */
#define CVMFS_PUB_NEST_MAX 256

struct cvmfs_pub_chunk {
	uint64_t off, size;
	struct cvmfs_hash h;
};

/* Content of one source inode (hardlinks share it). */
struct cvmfs_pub_content {
	uint32_t node;			/* first node: the path we read */
	uint32_t nchunks;		/* 0: one bulk object h */
	struct cvmfs_hash h;
	struct cvmfs_pub_chunk *chunks;	/* malloc'd when nchunks > 0 */
	int reused;			/* taken from the previous revision */
	int pending;			/* cuts known, chunks not stored yet */
};

struct cvmfs_pub_node {
	char *path;			/* repository path ("" = root), malloc'd */
	uint32_t name_off;		/* name = path + name_off */
	uint32_t parent;		/* CVMFS_PUB_NONE for the root */
	uint32_t cat;			/* catalog holding the row (child's for a nested root) */
	uint32_t content;		/* regular files: index into contents */
	uint32_t run;			/* hardlink run (CVMFS_PUB_NONE: none) */
	uint32_t hl_group, linkcount;
	uint32_t ndirs;			/* subdirectories (directory nlink = 2 + ndirs) */
	uint32_t mode, uid, gid;
	uint64_t size, rdev, dev, ino;
	int64_t mtime, ctime;
	int32_t mtimens, ctimens;
	char *link;			/* symlink target, malloc'd */
	unsigned char *xattr;		/* v1 blob or NULL, malloc'd */
	uint16_t xlen;
};

struct cvmfs_pub_prev_cat {			/* a catalog of the previous revision */
	char *path;
	struct cvmfs_hash hash;
	uint64_t size, revision;	/* revision: its properties' (catalog-props.c) */
	int schema_revision;
	unsigned char digest[20];
};

struct cvmfs_pub_prev_file {			/* a regular file row of the previous revision */
	int64_t p1, p2;			/* md5path; p1 == 0 && p2 == 0: empty slot */
	uint64_t size;
	int64_t mtime;
	int32_t mtimens;		/* -1: unknown */
	uint32_t nchunks;
	struct cvmfs_hash h;
	struct cvmfs_pub_chunk *chunks;
};

struct cvmfs_pub_catalog {
	uint32_t root;			/* node */
	uint32_t parent;		/* catalog, CVMFS_PUB_NONE for the root catalog */
	uint32_t *nodes;		/* rows owned by this catalog (malloc'd) */
	size_t nnodes, cap;
	struct cvmfs_hash hash;		/* written (or reused) object */
	uint64_t size;			/* uncompressed bytes */
	int64_t self[CVMFS_COUNTERS], subtree[CVMFS_COUNTERS];
	int reused;
};

struct cvmfs_pub_tree {
	const struct cvmfs_pub_opts *o;
	struct cvmfs_pub_err *e;
	int srcfd;
	int in_dir;			/* walk.c: the working directory is the one walked */
	struct cvmfs_pub_node *nodes;
	size_t n, ncap;
	struct cvmfs_pub_content *contents;
	size_t nc, ccap;
	struct cvmfs_pub_catalog *cats;
	size_t ncat, catcap;
	/* previous revision */
	struct cvmfs_pub_prev_cat *pcats;
	size_t npcats;
	struct cvmfs_pub_prev_file *pfiles;	/* open addressing by md5path */
	size_t pfcap;
	uint64_t prev_revision;
	/* statistics */
	uint64_t files, bytes;
	/* progress (atomic; read by publish.c's progress thread) */
	const char *phase;
	uint64_t done_entries, done_bytes, total_entries, total_bytes;
};

/* One catalog row, as written or as read back. */
struct cvmfs_pub_row {
	int64_t p1, p2, pp1, pp2, mtime;
	uint64_t hardlinks, size;
	const unsigned char *hash, *xattr;
	size_t hashlen, xlen;
	uint32_t mode, flags, uid, gid;
	int32_t mtimens;		/* -1: NULL */
	const char *name, *symlink;
};

struct cvmfs_pub_digest {
	unsigned char acc[20];
	mbedtls_sha1_context c;
};

/* prev.c: the digest of a catalog's content: XOR of the SHA-1 of every
 * row, chunk and nested reference (order-independent; properties are left
 * out), so an unchanged catalog is found without comparing files. */
void cvmfs_pub_dg_row(struct cvmfs_pub_digest *d, const struct cvmfs_pub_row *r);
void cvmfs_pub_dg_chunk(struct cvmfs_pub_digest *d, int64_t p1, int64_t p2,
			const struct cvmfs_pub_chunk *c, size_t hl);
void cvmfs_pub_dg_nested(struct cvmfs_pub_digest *d, const char *path, const char *hex,
			 int64_t size);

/* publish.c: a new phase of the progress display: name, totals (0: not
 * known), counters back to 0. Cheap; callable without a display. */
void cvmfs_pub_progress_phase(struct cvmfs_pub_tree *t, const char *phase, uint64_t entries,
			      uint64_t bytes);
/* walk.c: reads o->src into t (nodes, contents, catalogs); checks names,
 * path lengths and xattrs; groups hardlinks. Returns 0 or -errno. */
int cvmfs_pub_walk(struct cvmfs_pub_tree *t);
/* walk.c: frees everything t owns. */
void cvmfs_pub_tree_fini(struct cvmfs_pub_tree *t);
/* content.c: compresses, hashes and stores every content not reused,
 * with a pool of threads; checks that files did not change meanwhile. */
int cvmfs_pub_content_run(struct cvmfs_pub_tree *t, struct cvmfs_pub_store *s);
/* catalog.c: loads the previous revision's catalogs (index for reuse). */
int cvmfs_pub_prev_load(struct cvmfs_pub_tree *t, struct cvmfs_pub_store *s, const struct cvmfs_hash *root);
/* catalog.c: finds the previous row of a path (NULL if none). */
const struct cvmfs_pub_prev_file *cvmfs_pub_prev_find(const struct cvmfs_pub_tree *t, int64_t p1, int64_t p2);
/* catalog.c: writes all catalogs bottom-up (children first), reusing
 * unchanged nested ones; the root catalog gets revision and now. */
int cvmfs_pub_catalogs_write(struct cvmfs_pub_tree *t, struct cvmfs_pub_store *s, uint64_t revision,
		       uint64_t now);
/* history.c: new history object: the previous one (or a new one) plus
 * trunk/trunk-previous and the optional tag, minus tag rm; expire_before
 * > 0 also removes the automatic (generic-<time>) tags older than it (Unix
 * seconds), counted in *expired. */
struct cvmfs_pub_tag {
	const char *name, *description;
	struct cvmfs_hash root;
	uint64_t revision, timestamp, size;
};
int cvmfs_pub_history_update(struct cvmfs_pub_store *s, const char *fqrn,
		       const struct cvmfs_hash *prev, const struct cvmfs_pub_tag *add, int move_trunk,
		       const char *rm, uint64_t expire_before, unsigned *expired,
		       struct cvmfs_hash *out, struct cvmfs_pub_err *e);
/* history.c: opens the history object h as a temporary SQLite file
 * (path into tmp, caller unlinks). */
int cvmfs_pub_history_open(struct cvmfs_pub_store *s, const struct cvmfs_hash *h, char *tmp,
		     size_t len);
/* publish.c: reads and verifies REPO/.cvmfspublished with cert (and fqrn).
 * Returns 1 (loaded; *raw malloc'd, m points into it), 0 (no manifest) or -errno. */
int cvmfs_pub_manifest_load(const char *repo, const char *fqrn, const struct cvmfs_cert *cert,
		      unsigned char **raw, struct cvmfs_manifest *m, struct cvmfs_pub_err *e);
/* publish.c: syncs the store, signs m and replaces REPO/.cvmfspublished
 * atomically; with reflog (the new .cvmfsreflog bytes, m->reflog = their
 * hash) writes that file just before the manifest. */
int cvmfs_pub_manifest_commit(const char *repo, struct cvmfs_pub_store *s, struct cvmfs_pub_signer *k,
			struct cvmfs_pub_rng *rng, const struct cvmfs_manifest *m,
			const unsigned char *reflog, size_t reflog_len, struct cvmfs_pub_err *e);

/* ---- reflog and meta-info (reflog.c) ---- */
enum { CVMFS_PUB_REF_CATALOG = 0, CVMFS_PUB_REF_CERT = 1, CVMFS_PUB_REF_HISTORY = 2,
       CVMFS_PUB_REF_META = 3 };
struct cvmfs_pub_ref {
	struct cvmfs_hash h;
	int type;			/* CVMFS_PUB_REF_* */
};
/* The new reflog file: REPO/.cvmfsreflog when it is a reflog of fqrn (else
 * a new one), with drop removed and add inserted (INSERT OR IGNORE, time
 * now). *out malloc'd. Returns 0 or -errno (err says why). */
int cvmfs_pub_reflog_build(struct cvmfs_pub_store *s, const char *fqrn,
			   const struct cvmfs_pub_ref *add, size_t nadd,
			   const struct cvmfs_pub_ref *drop, size_t ndrop, unsigned char **out,
			   size_t *len, struct cvmfs_pub_err *e);
/* Checks reflog file bytes against manifest m: their hash is m's Y, an
 * SQLite reflog (schema 1.0/0) of m's fqrn whose rows are well formed, and
 * it lists m's root catalog, certificate, history and meta-info. tmpfd: a
 * directory for a temporary copy. Returns the number of references or
 * -EBADMSG (err names what is wrong). */
int cvmfs_pub_reflog_check(int tmpfd, const unsigned char *raw, size_t len,
			   const struct cvmfs_manifest *m, struct cvmfs_pub_err *e);
/* 0 if buf is one JSON object (syntax only), else -EINVAL. */
int cvmfs_pub_json_object_check(const char *buf, size_t len);
/* Upstream's meta-info keys with empty values; returns the length or -ENOSPC. */
int cvmfs_pub_metainfo_default(const char *fqrn, char *buf, size_t len);
#define CVMFS_PUB_METAINFO_MAX (1u << 20)
/* catalog.c: inflates catalog object h into a temporary file (path in tmp). */
int cvmfs_pub_object_to_tmp(struct cvmfs_pub_store *s, const struct cvmfs_hash *h, char suffix,
		      char *tmp, size_t len, uint64_t *size);

#endif
