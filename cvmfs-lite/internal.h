/* SPDX-License-Identifier: MIT */
/* cvmfs-lite/internal.h: private declarations of the repository client
 * (cache, fetch, catalogs, inode table); only cvmfs-lite/ and its unit test
 * include this. */
#ifndef CVMFS_LITE_INTERNAL_H
#define CVMFS_LITE_INTERNAL_H

#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "cvmfs-lite/cvmfs-lite.h"
#include "cvmfs-lite/format.h"
#include "cvmfs-lite/fuse.h"
#include "net/http.h"

#include <zlib.h>

struct sqlite3;
struct sqlite3_stmt;

/* ---- logging (log.c) ---- */
void cvmfs_log(const struct cvmfs_client *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* ---- on-disk cache (cache.c) ---- */
struct cvmfs_cache_ent {
	struct cvmfs_cache_ent *next;	/* hash chain */
	struct cvmfs_hash h;
	bool raw;			/* stored uncompressed: named <xx>/<rest>.raw */
	uint64_t size;			/* bytes on disk */
	uint64_t seq;			/* LRU clock of the last use */
	unsigned pins;			/* > 0: never evicted (saved in <cache>/pinned) */
	unsigned holds;			/* > 0: in use now (loaded catalogs); not saved */
};

#define CVMFS_CACHE_BUCKETS 16384

/* A downloaded object still under txn/, waiting for the batch sync that
 * makes it durable before it is renamed into place. */
struct cvmfs_cache_pending {
	struct cvmfs_cache_pending *next;
	struct cvmfs_hash h;
	bool raw;
	char name[32];
	uint64_t gen;			/* sync generation that covers it, 0 = none yet */
};

struct cvmfs_cache {
	int dirfd;			/* cache root, O_PATH|O_DIRECTORY */
	int txnfd;			/* <cache>/txn */
	uint64_t limit;			/* bytes; 0 = unlimited */
	uint64_t used;
	uint64_t seq;
	uint64_t nevicted;
	pthread_mutex_t lock;
	struct cvmfs_cache_ent *tab[CVMFS_CACHE_BUCKETS];
	size_t nents;
	/* batch durability (syncer thread) */
	struct cvmfs_cache_pending *pending;
	pthread_cond_t sync_cond;
	pthread_t syncer;
	bool syncer_running, syncer_stop;
	uint64_t sync_gen;
	uint64_t nsyncs;
	uint64_t nrejected;		/* cache files refused on open (not regular, wrong size) */
};

/* An object's cache name is its hash plus how it was stored: a compressed
 * object (named by the hash of its zlib stream) is kept inflated under
 * <xx>/<rest>, an uncompressed one (raw: named by the hash of its bytes)
 * under <xx>/<rest>.raw. The two can never stand for each other, even when
 * an uncompressed object's bytes happen to be a zlib stream. */
#define CVMFS_CACHE_RAW_EXT ".raw"
/* Size argument of cvmfs_cache_open when the verified chain names none. */
#define CVMFS_SIZE_UNKNOWN UINT64_MAX

/* Opens (creating) the layout under dirfd (which the cache now owns):
 * txn/ (emptied: leftovers of a crash) and 00..ff/ (each made when its
 * first object arrives; anything but a directory under such a name is
 * removed here). Scans objects into the
 * LRU index. Returns 0 or -errno. */
int cvmfs_cache_init(struct cvmfs_cache *k, int dirfd, uint64_t limit);
void cvmfs_cache_fini(struct cvmfs_cache *k);
/* Makes every pending object durable and renames it into place now. */
void cvmfs_cache_flush(struct cvmfs_cache *k);
/* Opens a cached object read-only (O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK) and
 * marks it used. It must be a regular file and, unless size is
 * CVMFS_SIZE_UNKNOWN, exactly size bytes long: anything else (a planted
 * symlink or fifo, a truncated or grown file) is unlinked and counted in
 * nrejected. Returns the fd, -ENOENT (not cached), -ESTALE (a bad file
 * was there and is gone now: fetch again), or openat's -errno (e.g. -EMFILE;
 * nothing is removed then). */
int cvmfs_cache_open(struct cvmfs_cache *k, const struct cvmfs_hash *h, bool raw, uint64_t size);
/* A download in progress: a file under txn/. */
struct cvmfs_txn {
	int fd;
	char name[32];
};
int cvmfs_cache_txn_begin(struct cvmfs_cache *k, struct cvmfs_txn *t);
/* Indexes the finished download and evicts to the limit. The object is
 * readable at once (from txn/); the syncer thread makes batches durable with
 * one syncfs and only then renames them into place, so after a crash an
 * object under its final name is always complete. Returns a read-only fd
 * of the object (the txn is consumed either way), -errno. */
int cvmfs_cache_txn_commit(struct cvmfs_cache *k, struct cvmfs_txn *t, const struct cvmfs_hash *h,
			   bool raw);
void cvmfs_cache_txn_abort(struct cvmfs_cache *k, struct cvmfs_txn *t);
/* Pins (delta +1) or unpins (-1) an object; pins survive restarts only
 * through cvmfs_cache_pins_save. */
void cvmfs_cache_pin(struct cvmfs_cache *k, const struct cvmfs_hash *h, bool raw, int delta);
/* Holds an object (delta +1/-1) against eviction for this run only. */
void cvmfs_cache_hold(struct cvmfs_cache *k, const struct cvmfs_hash *h, bool raw, int delta);
/* Writes the list of pinned hashes to <cache>/pinned (txn + rename). */
int cvmfs_cache_pins_save(struct cvmfs_cache *k);
/* Re-pins the hashes of <cache>/pinned. */
int cvmfs_cache_pins_load(struct cvmfs_cache *k);
/* Small state files in the cache root (breadcrumbs), written atomically. */
int cvmfs_cache_put_file(struct cvmfs_cache *k, const char *name, const void *buf, size_t len);
ssize_t cvmfs_cache_get_file(struct cvmfs_cache *k, const char *name, void *buf, size_t len);
void cvmfs_cache_stats(struct cvmfs_cache *k, uint64_t *used, uint64_t *nobj);

/* ---- downloads with failover (fetch.c) ---- */
#define CVMFS_HOSTS_MAX 16
#define CVMFS_PROXY_GROUPS_MAX 8
#define CVMFS_PROXIES_MAX 8		/* per group */

struct cvmfs_fetch {
	struct net_http_client http;
	char *hosts[CVMFS_HOSTS_MAX];	/* heap; base URLs without trailing '/' */
	size_t nhosts;
	char *proxies[CVMFS_PROXY_GROUPS_MAX][CVMFS_PROXIES_MAX];	/* "DIRECT" or URL */
	size_t nproxies[CVMFS_PROXY_GROUPS_MAX];
	size_t ngroups;
	pthread_mutex_t lock;
	size_t cur_host, cur_group, cur_proxy;	/* sticky choice after failover */
	uint64_t host_since_ms, group_since_ms;	/* when they left the first choice */
	unsigned host_reset_ms, proxy_reset_ms;	/* then go back to it (spec §7) */
	unsigned timeout_ms, timeout_direct_ms, low_speed_bytes;
	unsigned max_retries, backoff_init_ms, backoff_max_ms;
	bool follow_redirects;
	uint64_t rand;
	const struct cvmfs_client *log;
	uint64_t nfetch, nbytes, nfail;
};

/* Body sink with restart: reset is called before every attempt. finish
 * checks the result (e.g. hash) and returns 0 or -EBADMSG (next source). */
struct cvmfs_sink {
	int (*reset)(void *arg);
	int (*data)(void *arg, const void *buf, size_t len);
	int (*finish)(void *arg);
	void *arg;
	/* Expected size (e.g. the catalog's), 0 = unknown: the per-object
	 * deadline derives from it, so a lying Content-Length cannot extend it. */
	uint64_t size_hint;
};

/* The fetch interface: every download of the client (objects, bundles, the
 * manifest and whitelist) goes through one of these. get has the contract
 * of cvmfs_fetch_run (sink reset before every attempt, the sink's verdict
 * at finish decides whether the next source is tried; 0, -ENOENT, -EIO,
 * -ENETUNREACH). The client's own is cvmfs_fetch_get over its
 * struct cvmfs_fetch; unit tests put a fake server here. */
struct cvmfs_fetcher {
	int (*get)(void *arg, const char *rel, const struct cvmfs_sink *s);
	void *arg;
};

/* Parses hosts (';'-separated, @fqrn@ and @org@ replaced) and proxies
 * (groups ';', members '|', "DIRECT"). Returns 0 or -EINVAL. */
int cvmfs_fetch_init(struct cvmfs_fetch *f, const char *hosts, const char *proxies,
		     const char *fqrn, const struct cvmfs_client *log);
void cvmfs_fetch_fini(struct cvmfs_fetch *f);
/* GETs <host>/<rel> with server/proxy failover, retries and backoff.
 * Returns 0, -ENOENT (every host answered 404), -EIO (all sources failed,
 * a server answered), -ENETUNREACH (no server answered: nothing could be
 * reached, or only proxies answered about their own errors). Only the
 * last lets a client fall back to its cached snapshot (offline). */
int cvmfs_fetch_run(struct cvmfs_fetch *f, const char *rel, const struct cvmfs_sink *s);
/* cvmfs_fetch_run as a fetcher's get (arg: the struct cvmfs_fetch). */
int cvmfs_fetch_get(void *arg, const char *rel, const struct cvmfs_sink *s);
/* Fetches a small file (manifest, whitelist) into a malloc'd buffer. */
int cvmfs_fetch_mem(const struct cvmfs_fetcher *fx, const char *rel, size_t max,
		    unsigned char **out, size_t *len);
/* The longest a download of size bytes may take (the per-object deadline
 * of net/http.c with this fetch's low-speed window). */
uint64_t cvmfs_fetch_deadline_ms(const struct cvmfs_fetch *f, uint64_t size);
/* Current host / proxy text for the magic xattrs. */
void cvmfs_fetch_current(struct cvmfs_fetch *f, char *host, size_t hl, char *proxy, size_t pl);

/* ---- verify before commit (verify.c) ---- */
/* A verifying sink: hashes the transferred bytes, inflates them (when
 * compressed) while they arrive, never past max, and writes the result to
 * fd (a txn file) or, with fd < 0, to a buffer of max + 1 bytes. Its finish
 * accepts a copy only if the transferred bytes hash to want (-EBADMSG) and,
 * unless size is CVMFS_SIZE_UNKNOWN, it inflated to exactly size bytes
 * (-ERANGE, logged); data refuses a stream that grows past the bound
 * (-EFBIG) or is not zlib (-EBADMSG). */
struct cvmfs_verify {
	struct cvmfs_client *c;		/* for the log */
	int fd;				/* output: a txn file, or -1 and */
	unsigned char *mem;		/* a buffer of max + 1 bytes */
	const struct cvmfs_hash *want;
	bool compressed;
	uint64_t size;			/* exact output size, or CVMFS_SIZE_UNKNOWN */
	uint64_t max;			/* output bound */
	uint64_t in, outtotal;		/* transferred / produced so far */
	uint64_t flushed;		/* written out of the buffer */
	struct cvmfs_hash_ctx hc;
	z_stream z;
	bool zinit, zend;
	unsigned char *out;
	size_t outlen;
};

/* Sets v up (max bounds the output when size is CVMFS_SIZE_UNKNOWN) and
 * fills *sink with it. 0 or -ENOMEM; cvmfs_verify_fini either way. */
int cvmfs_verify_init(struct cvmfs_verify *v, struct cvmfs_client *c, const struct cvmfs_hash *want,
		      bool compressed, uint64_t size, uint64_t max, int fd, struct cvmfs_sink *sink);
/* The verified bytes of a memory sink (after a fetch returned 0): malloc'd,
 * NUL-terminated, *len bytes; v no longer owns them. */
unsigned char *cvmfs_verify_take(struct cvmfs_verify *v, size_t *len);
void cvmfs_verify_fini(struct cvmfs_verify *v);

/* ---- catalogs (catalog.c) ---- */
struct cvmfs_catalog {
	struct cvmfs_catalog *next;	/* list of loaded catalogs */
	struct cvmfs_catalog *parent;
	struct sqlite3 *db;
	pthread_mutex_t lock;		/* serialises the statements below */
	struct sqlite3_stmt *st_lookup, *st_list, *st_chunks, *st_nested;
	char *path;			/* mountpoint ("" for the root catalog) */
	struct cvmfs_hash hash;
	uint64_t ino_offset, ino_span;	/* inodes: offset + rowid, 1 <= rowid <= max */
	int64_t max_rowid;
	/* Hardlink groups seen so far (by lock): a group's inode is that of
	 * the first of its rows a lookup or listing met, like upstream's
	 * Catalog::GetMangledInode. Open addressing; group 0 = free slot. */
	struct cvmfs_hl { uint32_t group; int64_t rowid; } *hl;
	size_t hl_n, hl_cap;
	int revision;			/* schema_revision */
	uint64_t repo_revision;		/* properties.revision */
	uint64_t ttl;
};

#define CVMFS_NAME_MAX 255

/* A catalog row turned into what the file system needs. */
struct cvmfs_dirent {
	int64_t rowid;
	uint64_t ino;
	uint32_t flags;
	mode_t mode;
	uint64_t size;
	int64_t mtime;
	uint32_t mtimens;
	uint32_t uid, gid;
	uint32_t nlink, hl_group;
	bool has_hash;
	struct cvmfs_hash hash;
	bool has_xattr;
	char name[CVMFS_NAME_MAX + 1];
	char symlink[PATH_MAX];
	unsigned char *xattr;		/* heap copy of the blob or NULL */
	size_t xattr_len;
};

struct cvmfs_chunk {
	uint64_t off, size;
	struct cvmfs_hash hash;
};

/* Opens a catalog from an fd of its (decompressed, verified) SQLite file
 * (the fd is dup'd; the caller keeps its own). Checks schema 2.5 revision
 * 2..7 and prepares the statements. Returns a heap catalog or NULL with
 * *err set (-EPROTONOSUPPORT for other schemas, -EBADMSG). */
struct cvmfs_catalog *cvmfs_catalog_open(int fd, const char *path, const struct cvmfs_hash *h,
					 uint64_t ino_offset, int *err);
void cvmfs_catalog_close(struct cvmfs_catalog *cat);
/* Looks up a full repository path ("" root). 0, -ENOENT, -EIO. */
int cvmfs_catalog_lookup(struct cvmfs_catalog *cat, const char *path, struct cvmfs_dirent *d);
/* Lists children of dir path: calls cb for each; stops on cb < 0. */
int cvmfs_catalog_list(struct cvmfs_catalog *cat, const char *path,
		       int (*cb)(void *arg, struct cvmfs_dirent *d), void *arg);
/* Chunk list of a chunked file into a malloc'd array. */
int cvmfs_catalog_chunks(struct cvmfs_catalog *cat, const char *path, enum cvmfs_hash_algo algo,
			 struct cvmfs_chunk **out, size_t *n);
/* Nested catalog registered at exactly mountpoint path. */
int cvmfs_catalog_nested(struct cvmfs_catalog *cat, const char *path, struct cvmfs_hash *h);
/* The same, with the child's (uncompressed) size from the row, 0 = none. */
int cvmfs_catalog_nested_size(struct cvmfs_catalog *cat, const char *path, struct cvmfs_hash *h,
			      uint64_t *size);
/* Frees d->xattr. */
void cvmfs_dirent_fini(struct cvmfs_dirent *d);
/* Opens an SQLite file read-only via fd ("cvmfs-fd" VFS). */
int cvmfs_sqlite_open_fd(int fd, struct sqlite3 **db);
/* Tag lookup in a history database: by name (tag != NULL) or newest trunk
 * tag with timestamp <= date. Fills the root hash. 0, -ENOENT, -EBADMSG. */
int cvmfs_history_find(struct sqlite3 *db, const char *tag, int64_t date, struct cvmfs_hash *root,
		       char *name, size_t nlen);


/* ---- the client (client.c, objects.c, catalog-load.c, resolve.c, ops.c) ---- */
struct cvmfs_node {
	struct cvmfs_node *next;
	uint64_t ino;
	uint64_t nlookup;
	struct cvmfs_catalog *cat;	/* catalog holding the entry's own row */
	char *path;			/* one repository path of it (heap) */
	bool no_xattr;			/* its row has no stored xattrs (known at LOOKUP) */
};

#define CVMFS_NODE_BUCKETS 16384
#define CVMFS_MAP_MAX 4096
#define CVMFS_INO_FIRST_OFFSET 256	/* below: reserved (1 = root) */

struct cvmfs_idmap {
	uint32_t from[CVMFS_MAP_MAX], to[CVMFS_MAP_MAX];
	size_t n;
};

struct cvmfs_inflight {
	struct cvmfs_inflight *next;
	struct cvmfs_hash h;
};

struct cvmfs_bundles;

struct cvmfs_client {
	struct cvmfs_client_cfg cfg;
	struct cvmfs_client_info info;
	char selector[300];		/* what info was chosen by: "head", "tag:X", ... */
	int log_fd;
	int log_more[CVMFS_CLIENT_LOG_FDS];	/* cfg.log_fds */
	unsigned nlog_more;
	struct cvmfs_pubkeys keys;
	char *pubkeys_text;		/* for user.pubkeys */
	struct cvmfs_fetch fetch;
	struct cvmfs_cache cache;
	struct cvmfs_idmap uidmap, gidmap;
	/* catalogs: the list is append-only while mounted */
	pthread_mutex_t cat_lock;	/* guards cats / next_offset */
	pthread_mutex_t load_lock;	/* one nested catalog load at a time */
	struct cvmfs_catalog *root, *cats;
	uint64_t next_offset;
	/* inode table */
	pthread_mutex_t node_lock;
	struct cvmfs_node *nodes[CVMFS_NODE_BUCKETS];
	/* downloads in progress, so that one object is fetched once */
	pthread_mutex_t fly_lock;
	pthread_cond_t fly_cond;
	struct cvmfs_inflight *fly;
	/* the bundles being fetched (bundle.c), NULL outside cvmfs_bundles_run */
	pthread_mutex_t bx_lock;
	pthread_cond_t bx_cond;
	struct cvmfs_bundles *bx;
	/* Every download goes through this: { cvmfs_fetch_get, &fetch } once
	 * cvmfs_client_open set the fetch up; unit tests put their own server. */
	struct cvmfs_fetcher fetcher;
	/* mount */
	struct cvmfs_fuse fuse;
	bool mounted;
	char *mountpoint;
	pthread_t bg;			/* pin + prefetch thread */
	bool bg_started;
	int joining;			/* a join.c thread runs (atomic) */
	pthread_t usr1;			/* logs the request counters on SIGUSR1 */
	bool usr1_started;
	volatile int stopping;
	uint64_t nopen, nread_bytes;
};

/* Bounds of objects whose size the verified chain does not give. */
#define CVMFS_CERT_MAX (64u << 10)		/* certificate, inflated */
#define CVMFS_CATALOG_MAX (1ull << 30)		/* catalog without a known size */
#define CVMFS_HISTORY_MAX (64ull << 20)		/* history database */

/* Fetches (or finds in the cache) the object h with suffix and returns a
 * read-only fd of the cached, decompressed file. Verify, then commit: the
 * bytes are hashed as they arrive and inflated (when compressed) into a
 * private transaction file; only a copy whose transferred bytes hash to h
 * and that inflates to exactly size bytes (the catalog's size; or to at
 * most max when size is CVMFS_SIZE_UNKNOWN) is committed to the cache, any
 * other is dropped and the next source is tried. A cached copy is used only
 * if it is a regular file of that size (cvmfs_cache_open), else fetched
 * again. -errno otherwise (-EIO when every source failed or sent bad data,
 * -ENETUNREACH when none answered). */
int cvmfs_object_get(struct cvmfs_client *c, const struct cvmfs_hash *h, char suffix,
		     bool compressed, uint64_t size, uint64_t max, int *fd);
/* The same into memory, never through the cache (for what must be checked
 * further before it may be kept, e.g. the certificate): *out is malloc'd,
 * NUL-terminated, at most max bytes after inflating. 0 or -errno. */
int cvmfs_object_mem(struct cvmfs_client *c, const struct cvmfs_hash *h, char suffix,
		     bool compressed, size_t max, unsigned char **out, size_t *len);
/* Verifies bytes of object h that arrived some other way (a bundle) as a
 * download is verified (hash over the stored bytes, bounded inflate when
 * compressed) and commits them to the cache under the name of that form
 * (raw or inflated). 0 (also when already cached or being fetched now),
 * -EBADMSG when they are not the object, -errno. */
int cvmfs_object_put(struct cvmfs_client *c, const struct cvmfs_hash *h, bool compressed,
		     const void *buf, size_t len);
/* The catalog mounted at exactly path (a nested mountpoint listed in
 * parent), loading it on first use (catalog-load.c). */
int cvmfs_nested_get(struct cvmfs_client *c, struct cvmfs_catalog *parent, const char *path,
		     struct cvmfs_catalog **out);
/* Loads a catalog object into a new catalog registered with c. max: its
 * size bound (manifest B for the root catalog, the parent's nested_catalogs
 * size for a nested one), 0 = CVMFS_CATALOG_MAX (catalog-load.c). */
int cvmfs_catalog_load(struct cvmfs_client *c, const struct cvmfs_hash *h, const char *path,
		       struct cvmfs_catalog *parent, uint64_t max, struct cvmfs_catalog **out);
/* Row of path in *cat; at a nested catalog's mountpoint the child's root
 * row, with *cat the child (loaded on first use). 0, -ENOENT, -errno
 * (resolve.c; FUSE lookups and cvmfs_resolve). */
int cvmfs_resolve_entry(struct cvmfs_client *c, struct cvmfs_catalog **cat, const char *path,
			struct cvmfs_dirent *d);
/* Resolves a repository path without the kernel (following symlinks when
 * follow), for pinning and prefetch. Fills *d and *cat (resolve.c). */
int cvmfs_resolve(struct cvmfs_client *c, const char *path, bool follow, struct cvmfs_dirent *d,
		  struct cvmfs_catalog **cat);
/* Expands $(VAR) and $(VAR:-default) from the environment (spec §4.5). */
void cvmfs_symlink_expand(const char *in, char *out, size_t len);
/* True if ino's row is known to have no stored xattrs (from its LOOKUP). */
bool cvmfs_ino_no_xattr(struct cvmfs_client *c, uint64_t ino);
/* Row, catalog and path of a known inode (ops.c). 0, -ESTALE, -ENOENT. */
int cvmfs_ino_row(struct cvmfs_client *c, uint64_t ino, struct cvmfs_dirent *d,
		  struct cvmfs_catalog **cat, char *path);
/* FUSE getxattr/listxattr (xattr-ops.c): stored attributes and the magic
 * user.root_hash, user.revision, user.fqrn, user.host, user.proxy,
 * user.tag, user.pubkeys, user.hash, user.chunk_list, user.rawlink,
 * user.fuse_stats (passthrough and read counters, cvmfs_fuse_stats). Only
 * stored names are listed. */
ssize_t cvmfs_op_getxattr(void *ctx, uint64_t ino, const char *name, void *buf, size_t len);
ssize_t cvmfs_op_listxattr(void *ctx, uint64_t ino, char *buf, size_t len);
/* FUSE callbacks (ops.c). */
extern const struct cvmfs_fuse_ops cvmfs_ops;
/* A small text file (a list) into a malloc'd NUL-terminated buffer: the
 * repository file at cfg.path_prefix + file, or a copy of text (pin.c). */
int cvmfs_list_load(struct cvmfs_client *c, const char *file, const char *text, char **out);
/* Pin list + prefetch, run in the background thread (pin.c). */
void *cvmfs_background(void *arg);
/* A chunked file as one cache file for FUSE passthrough (join.c): the join
 * of chunks ch[0..n), made (make) from the cached chunks if it is not there
 * yet. An fd of exactly size bytes; -ENOENT if there is none (or a chunk is
 * not cached), -EBADMSG if the chunks are not back to back, -errno. */
int cvmfs_join_open(struct cvmfs_client *c, const struct cvmfs_chunk *ch, size_t n,
		    bool compressed, uint64_t size, bool make);
/* Makes that join in a background thread (one at a time; none while one
 * runs); cvmfs_join_wait waits for it after stopping is set. */
void cvmfs_join_later(struct cvmfs_client *c, const struct cvmfs_chunk *ch, size_t n,
		      bool compressed, uint64_t size);
void cvmfs_join_wait(struct cvmfs_client *c);
/* Boot-profile bundles (cfg.bundle_file): fetches each bundle in one request
 * and commits the objects in it, each verified on its own (bundle.c). True
 * if every bundle's objects were all in the cache already. */
bool cvmfs_bundles_run(struct cvmfs_client *c);
/* Called by a read that missed the cache: if h is in a bundle still to come
 * or in flight, asks for that bundle next and waits until h's piece of it
 * was processed or the bundle ended, at most as long as h's own download
 * (piece length) could take (cvmfs_fetch_deadline_ms). true if it waited:
 * look in the cache again, and fetch h on its own only if it is not there. */
bool cvmfs_bundles_wait(struct cvmfs_client *c, const struct cvmfs_hash *h);

#endif
