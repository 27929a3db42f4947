/* SPDX-License-Identifier: MIT */
/* fuzz_read: the whole read path against a hostile object store. FUSE
 * requests go into the real server loop (cvmfs_fuse_serve over a
 * SOCK_SEQPACKET pair, as fuzz_fuse) with the client's real operations
 * (cvmfs_ops) on a client opened with cvmfs_client_open; its objects come
 * over HTTP from a fake server thread on 127.0.0.1 that serves what the input
 * says. Only public and internal headers are used (cvmfs-lite.h, fuse.h,
 * internal.h for cvmfs_ops): no client file is patched.
 *
 * Input: six parts split at "\n--8<--\n" (fuzz_split_n):
 *  0  catalog edits, as fuzz_catalog_rows (byte 0 picks the base catalog)
 *  1-3  three file contents ("blobs"). After the edits, every catalog row and
 *     chunk row that has a hash gets the hash of blob (rowid % 3), zlib'd as
 *     the server stores it; the root catalog itself is zlib'd and hashed,
 *     and mounted by that hash (cfg.root_hash: the hash is its own proof).
 *  4  server behaviour, one byte per request in turn: 0-2 the right object,
 *     3 404, 4 the blob uncompressed (bad zlib, wrong hash), 5 a truncated
 *     body, 6 a 500, 7 the right object with a Content-Length 1 too big.
 *     Bit 3 of its first byte: catalog sizes are set to the blobs' sizes
 *     (else they stay, and disagree with the objects).
 *  5  FUSE requests as fuzz_fuse ("u16 length (LE) + bytes" each), after an
 *     INIT the harness sends itself, one at a time, with the file handles
 *     the kernel would send (see talk()).
 * The cache is a fresh directory under /dev/shm for every input. */
#define CATALOG_ROWS_LIB
#include "tests/fuzz/fuzz_catalog_rows.c"

#include <arpa/inet.h>
#include <ftw.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <linux/fuse.h>
#include <zlib.h>

#include "cvmfs-lite/cvmfs-lite.h"
#include "cvmfs-lite/fuse.h"

#define PARTS 6
#define OBJS_MAX 8
#define MSG_MAX 8192
#define REQS_MAX 64

extern const struct cvmfs_fuse_ops cvmfs_ops;

struct obj {
	char hex[CVMFS_HASH_HEX_MAX];
	unsigned char *z;		/* zlib'd bytes (what the store holds) */
	size_t zn;
	const uint8_t *raw;		/* the content, uncompressed */
	size_t rawn;
};

static struct {
	pthread_mutex_t lock;
	struct obj o[OBJS_MAX];
	unsigned n;
	const uint8_t *beh;		/* server behaviour bytes */
	size_t nbeh, next;
} store = { .lock = PTHREAD_MUTEX_INITIALIZER };

static int port;
static char cachedir[64], servers[96];

static void send_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		ssize_t w = send(fd, c, n, MSG_NOSIGNAL);

		if (w <= 0)
			return;
		c += w;
		n -= (size_t)w;
	}
}

static void respond(int fd, const char *path)
{
	char hdr[160], hex[CVMFS_HASH_HEX_MAX];
	const char *d = strstr(path, "/data/");
	const struct obj *o = NULL;
	unsigned k = 0, i;
	size_t hl;

	/* "/data/xx/<38 hex>[suffix]" -> the 40 hex digits */
	if (d && strlen(d) >= 6 + 2 + 1 + 38) {
		memcpy(hex, d + 6, 2);
		memcpy(hex + 2, d + 9, 38);
		hex[40] = 0;
	} else {
		hex[0] = 0;
	}
	pthread_mutex_lock(&store.lock);
	for (i = 0; i < store.n; i++)
		if (!strcmp(store.o[i].hex, hex))
			o = &store.o[i];
	if (store.nbeh)
		k = store.beh[store.next++ % store.nbeh] % 8;
	pthread_mutex_unlock(&store.lock);
	if (!o || k == 3 || k == 6) {
		hl = (size_t)snprintf(hdr, sizeof(hdr), "HTTP/1.1 %s\r\nContent-Length: 0\r\n"
				      "Connection: close\r\n\r\n",
				      !o || k == 3 ? "404 Not Found" : "500 Oops");
		send_all(fd, hdr, hl);
		return;
	}
	if (k == 4) {
		hl = (size_t)snprintf(hdr, sizeof(hdr), "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n"
				      "Connection: close\r\n\r\n", o->rawn);
		send_all(fd, hdr, hl);
		send_all(fd, o->raw, o->rawn);
		return;
	}
	hl = (size_t)snprintf(hdr, sizeof(hdr), "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n"
			      "Connection: close\r\n\r\n", o->zn + (k == 7));
	send_all(fd, hdr, hl);
	send_all(fd, o->z, k == 5 ? o->zn / 2 : o->zn);
}

static void *server(void *arg)
{
	int lfd = *(int *)arg;

	for (;;) {
		char req[2048], path[1024];
		size_t got = 0;
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0)
			continue;
		while (got < sizeof(req) - 1) {
			ssize_t r = recv(fd, req + got, sizeof(req) - 1 - got, 0);

			if (r <= 0)
				break;
			got += (size_t)r;
			req[got] = 0;
			if (strstr(req, "\r\n\r\n"))
				break;
		}
		req[got] = 0;
		if (sscanf(req, "GET %1023s", path) == 1)
			respond(fd, path);
		close(fd);
	}
	return NULL;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f);

static void read_cleanup(void)
{
	nftw(cachedir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static int lfd;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	pthread_t t;

	(void)argc;
	(void)argv;
	rows_init();
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lfd, 16) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&a, &al) < 0)
		abort();
	port = ntohs(a.sin_port);
	if (pthread_create(&t, NULL, server, &lfd))
		abort();
	snprintf(servers, sizeof(servers), "http://127.0.0.1:%d/cvmfs/@fqrn@", port);
	snprintf(cachedir, sizeof(cachedir), "/dev/shm/fuzz-read-%d", (int)getpid());
	atexit(read_cleanup);
	return 0;
}

/* Adds an object: zlib'd data, its sha1. Returns its index or -1. */
static int obj_add(const uint8_t *d, size_t n, struct cvmfs_hash *h)
{
	struct cvmfs_hash_ctx hc;
	struct obj *o;
	uLongf zn;

	if (store.n >= OBJS_MAX)
		return -1;
	o = &store.o[store.n];
	zn = compressBound((uLong)n);
	o->z = malloc(zn ? zn : 1);
	if (!o->z || compress2(o->z, &zn, n ? d : (const uint8_t *)"", (uLong)n, 1) != Z_OK)
		abort();
	o->zn = zn;
	o->raw = d;
	o->rawn = n;
	cvmfs_hash_init(&hc, CVMFS_HASH_SHA1);
	cvmfs_hash_update(&hc, o->z, o->zn);
	cvmfs_hash_final(&hc, h);
	cvmfs_hash_fmt(h, o->hex, sizeof(o->hex));
	return (int)store.n++;
}

static void store_clear(void)
{
	for (unsigned i = 0; i < store.n; i++)
		free(store.o[i].z);
	store.n = 0;
	store.next = 0;
}

/* Every hash in catalog and chunks := the hash of blob (rowid % 3). */
static int rehash(const struct cvmfs_hash *bh, const size_t *blen, int sizes)
{
	static const char *const q[] = {
		"UPDATE catalog SET hash = CASE rowid % 3 WHEN 0 THEN ?1 WHEN 1 THEN ?2 ELSE ?3 END "
		"WHERE hash IS NOT NULL",
		"UPDATE chunks SET hash = CASE rowid % 3 WHEN 0 THEN ?1 WHEN 1 THEN ?2 ELSE ?3 END "
		"WHERE hash IS NOT NULL",
		"UPDATE catalog SET size = CASE rowid % 3 WHEN 0 THEN ?4 WHEN 1 THEN ?5 ELSE ?6 END "
		"WHERE hash IS NOT NULL",
	};
	sqlite3 *db = NULL;
	sqlite3_stmt *st;
	unsigned i, j;

	if (sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		sqlite3_close(db);
		return -1;
	}
	sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
	for (i = 0; i < (sizes ? 3u : 2u); i++) {
		if (sqlite3_prepare_v2(db, q[i], -1, &st, NULL) != SQLITE_OK)
			continue;
		for (j = 0; j < 3; j++) {
			sqlite3_bind_blob(st, (int)j + 1, bh[j].d, 20, SQLITE_TRANSIENT);
			sqlite3_bind_int64(st, (int)j + 4, (int64_t)blen[j]);
		}
		sqlite3_step(st);
		sqlite3_finalize(st);
	}
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	return sqlite3_close(db) == SQLITE_OK ? 0 : -1;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)f;
	return flag == FTW_DP ? rmdir(p) : unlink(p);
}

static void bigbuf(int fd)
{
	int sz = 8 << 20;

	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
}

/* File and directory handles are the server's pointers (ops.c): the kernel
 * only ever sends back what OPEN/OPENDIR returned, until RELEASE. The
 * harness keeps that contract: it sends one request at a time, reads the
 * reply, remembers the handles by inode, puts the right one into READ,
 * READDIR(PLUS), FLUSH and RELEASE(DIR), and drops those without one. */
#define FH_MAX 16
struct handles {
	uint64_t ino[2][FH_MAX], fh[2][FH_MAX];	/* [0] files, [1] directories */
	unsigned n[2];
};

static int fh_find(struct handles *hs, int dir, uint64_t ino)
{
	for (unsigned i = 0; i < hs->n[dir]; i++)
		if (hs->ino[dir][i] == ino)
			return (int)i;
	return -1;
}

static void fh_drop(struct handles *hs, int dir, int i)
{
	hs->n[dir]--;
	hs->ino[dir][i] = hs->ino[dir][hs->n[dir]];
	hs->fh[dir][i] = hs->fh[dir][hs->n[dir]];
}

/* One request; waits for its reply (none for FORGET and BATCH_FORGET). */
static void talk(int fd, uint8_t *msg, size_t len, struct handles *hs)
{
	static uint8_t rep[1 << 20];
	struct fuse_in_header *h = (struct fuse_in_header *)msg;
	struct fuse_out_header *o = (struct fuse_out_header *)rep;
	int dir = -1, i = -1, uses = 0, releases = 0;
	ssize_t r;

	if (len < sizeof(*h))
		return;		/* the kernel never sends less than a header */
	{
		h->len = (uint32_t)len;
		switch (h->opcode) {
		case FUSE_READ: case FUSE_FLUSH: dir = 0; uses = 1; break;
		case FUSE_RELEASE: dir = 0; uses = releases = 1; break;
		case FUSE_READDIR: case FUSE_READDIRPLUS: dir = 1; uses = 1; break;
		case FUSE_RELEASEDIR: dir = 1; uses = releases = 1; break;
		case FUSE_OPEN: dir = 0; break;
		case FUSE_OPENDIR: dir = 1; break;
		default: break;
		}
		if (uses) {
			if (len < sizeof(*h) + 8 || (i = fh_find(hs, dir, h->nodeid)) < 0)
				return;
			memcpy(msg + sizeof(*h), &hs->fh[dir][i], 8);
		}
	}
	if (send(fd, msg, len, MSG_NOSIGNAL) < 0)
		return;
	if (releases)
		fh_drop(hs, dir, i);
	if (h->opcode == FUSE_FORGET || h->opcode == FUSE_BATCH_FORGET ||
	    h->opcode == FUSE_INTERRUPT)
		return;		/* no reply */
	r = recv(fd, rep, sizeof(rep), 0);	/* SO_RCVTIMEO bounds it */
	if (r >= (ssize_t)(sizeof(*o) + 8) && dir >= 0 && !uses && o->error == 0 &&
	    len >= sizeof(*h) && (h->opcode == FUSE_OPEN || h->opcode == FUSE_OPENDIR) &&
	    hs->n[dir] < FH_MAX && fh_find(hs, dir, h->nodeid) < 0) {
		hs->ino[dir][hs->n[dir]] = h->nodeid;
		memcpy(&hs->fh[dir][hs->n[dir]++], rep + sizeof(*o), 8);
	} else if (r >= (ssize_t)(sizeof(*o) + 8) && dir >= 0 && !uses && o->error == 0) {
		/* a second handle for the inode: the kernel would release it */
		uint8_t rel[sizeof(*h) + sizeof(struct fuse_release_in)];
		struct fuse_in_header *rh = (struct fuse_in_header *)rel;

		memset(rel, 0, sizeof(rel));
		rh->len = sizeof(rel);
		rh->opcode = dir ? FUSE_RELEASEDIR : FUSE_RELEASE;
		rh->unique = h->unique + 1;
		rh->nodeid = h->nodeid;
		memcpy(rel + sizeof(*h), rep + sizeof(*o), 8);
		if (send(fd, rel, sizeof(rel), MSG_NOSIGNAL) >= 0)
			recv(fd, rep, sizeof(rep), 0);
	}
}

static void *serve(void *arg)
{
	cvmfs_fuse_serve(arg);
	return NULL;
}

/* INIT (7.38), then the input's requests, then RELEASE of what is open. */
static void converse(int fd, const uint8_t *d, size_t n)
{
	static uint8_t msg[MSG_MAX];
	struct fuse_in_header *h = (struct fuse_in_header *)msg;
	struct fuse_init_in *in = (struct fuse_init_in *)(msg + sizeof(*h));
	struct handles hs = { 0 };
	size_t pos = 0;

	memset(msg, 0, sizeof(*h) + 64);
	h->opcode = FUSE_INIT;
	h->unique = 1;
	in->major = 7;
	in->minor = 38;
	in->max_readahead = 131072;
	in->flags = 0x7fffffff;
	talk(fd, msg, sizeof(*h) + 64, &hs);
	for (unsigned i = 0; i < REQS_MAX && pos + 2 <= n; i++) {
		size_t len = d[pos] | (size_t)d[pos + 1] << 8;

		pos += 2;
		if (len > n - pos)
			len = n - pos;
		if (len > MSG_MAX)
			len = MSG_MAX;
		memcpy(msg, d + pos, len);
		pos += len;
		talk(fd, msg, len, &hs);
	}
	for (int dir = 0; dir < 2; dir++)
		while (hs.n[dir]) {
			memset(msg, 0, sizeof(*h) + sizeof(struct fuse_release_in));
			h->opcode = dir ? FUSE_RELEASEDIR : FUSE_RELEASE;
			h->nodeid = hs.ino[dir][0];
			talk(fd, msg, sizeof(*h) + sizeof(struct fuse_release_in), &hs);
		}
	shutdown(fd, SHUT_WR);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	const uint8_t *part[PARTS];
	size_t len[PARTS], blen[3];
	struct cvmfs_hash bh[3], root;
	struct cvmfs_client_cfg cfg;
	struct cvmfs_client_info info;
	struct cvmfs_client *c = NULL;
	struct cvmfs_fuse f;
	unsigned char *db = NULL;
	size_t dbn = 0;
	char hex[CVMFS_HASH_HEX_MAX], why[256];
	int sv[2], dirfd, i, b;

	if (n > 65536)
		return 0;
	fuzz_split_n(d, n, part, len, PARTS);
	if (len[0] < 1)
		return 0;
	b = part[0][0] % (int)nbase;
	if (write_file(dbpath, base[b], base_len[b]) < 0 || edit(part[0] + 1, len[0] - 1) < 0)
		return 0;
	pthread_mutex_lock(&store.lock);
	store_clear();
	for (i = 0; i < 3; i++) {
		obj_add(part[1 + i], len[1 + i], &bh[i]);
		blen[i] = len[1 + i];
	}
	pthread_mutex_unlock(&store.lock);
	if (rehash(bh, blen, len[4] && part[4][0] & 8) < 0)
		goto out;
	{
		FILE *fp = fopen(dbpath, "rbe");
		long sz;

		if (!fp)
			goto out;
		if (fseek(fp, 0, SEEK_END) == 0 && (sz = ftell(fp)) > 0 && fseek(fp, 0, SEEK_SET) == 0 &&
		    (db = malloc((size_t)sz)) && fread(db, 1, (size_t)sz, fp) == (size_t)sz)
			dbn = (size_t)sz;
		fclose(fp);
		if (!dbn)
			goto out;
	}
	pthread_mutex_lock(&store.lock);
	i = obj_add(db, dbn, &root);
	store.beh = part[4];
	store.nbeh = len[4];
	pthread_mutex_unlock(&store.lock);
	if (i < 0)
		goto out;
	cvmfs_hash_fmt(&root, hex, sizeof(hex));

	nftw(cachedir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	if (mkdir(cachedir, 0700) < 0 ||
	    (dirfd = open(cachedir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		abort();
	memset(&cfg, 0, sizeof(cfg));
	cfg.fqrn = "fuzz.test";
	cfg.servers = servers;
	cfg.root_hash = hex;
	cfg.cache_dirfd = dirfd;
	cfg.timeout_ms = cfg.timeout_direct_ms = 2000;
	cfg.max_retries = 0;
	cfg.backoff_init_ms = cfg.backoff_max_ms = 1;
	cfg.fuse_threads = 1;
	cfg.log_fd = getenv("FUZZ_READ_LOG") ? 2 : -1;	/* reproducing: see what the client says */
	if (cvmfs_client_open(&cfg, &c, &info, why, sizeof(why)) < 0)
		goto out;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	bigbuf(sv[0]);
	bigbuf(sv[1]);
	memset(&f, 0, sizeof(f));
	f.fd = sv[1];
	f.ops = &cvmfs_ops;
	f.ctx = c;
	f.cfg.threads = 1;
	f.cfg.timeout_s = 1;
	pthread_mutex_init(&f.lock, NULL);
	{
		struct timeval tv = { 10, 0 };
		pthread_t t;

		setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		if (pthread_create(&t, NULL, serve, &f))
			abort();
		converse(sv[0], part[5], len[5]);
		pthread_join(t, NULL);
	}
	cvmfs_fuse_close(&f);
	close(sv[0]);
	pthread_mutex_destroy(&f.lock);
	cvmfs_client_close(c);
out:
	free(db);
	return 0;
}
