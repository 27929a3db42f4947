/* SPDX-License-Identifier: MIT */
/* cvmfs-lite/catalog.c: file catalogs and the history database through
 * SQLite (schema 2.5, revisions 2..7), opened from file descriptors by a
 * tiny read-only VFS so that nothing is resolved by path after switch_root. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sqlite3.h"

#include "cvmfs-lite/internal.h"

/* ---- "cvmfs-fd" VFS: the file name is "fd:<n>", an open read-only fd ---- */
struct fdfile {
	sqlite3_file base;
	int fd;
};

static int fd_close(sqlite3_file *f)
{
	close(((struct fdfile *)f)->fd);
	return SQLITE_OK;
}

static int fd_read(sqlite3_file *f, void *buf, int amt, sqlite3_int64 off)
{
	ssize_t n, got = 0;

	while (got < amt) {
		n = pread(((struct fdfile *)f)->fd, (char *)buf + got, amt - got, off + got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return SQLITE_IOERR_READ;
		if (n == 0)
			break;
		got += n;
	}
	if (got < amt) {
		memset((char *)buf + got, 0, amt - got);
		return SQLITE_IOERR_SHORT_READ;
	}
	return SQLITE_OK;
}

static int fd_write(sqlite3_file *f, const void *b, int a, sqlite3_int64 o)
{
	return SQLITE_READONLY;
}

static int fd_truncate(sqlite3_file *f, sqlite3_int64 s)
{
	return SQLITE_READONLY;
}

static int fd_sync(sqlite3_file *f, int flags)
{
	return SQLITE_OK;
}

static int fd_size(sqlite3_file *f, sqlite3_int64 *size)
{
	struct stat st;

	if (fstat(((struct fdfile *)f)->fd, &st) < 0)
		return SQLITE_IOERR_FSTAT;
	*size = st.st_size;
	return SQLITE_OK;
}

/* Catalogs are immutable files nobody writes: locking is a no-op. */
static int fd_lock(sqlite3_file *f, int l)
{
	return SQLITE_OK;
}

static int fd_reserved(sqlite3_file *f, int *out)
{
	*out = 0;
	return SQLITE_OK;
}

static int fd_fctl(sqlite3_file *f, int op, void *arg)
{
	return SQLITE_NOTFOUND;
}

static int fd_sector(sqlite3_file *f)
{
	return 4096;
}

static int fd_devchar(sqlite3_file *f)
{
	return SQLITE_IOCAP_IMMUTABLE;
}

static const sqlite3_io_methods fd_methods = {
	.iVersion = 1, .xClose = fd_close, .xRead = fd_read, .xWrite = fd_write,
	.xTruncate = fd_truncate, .xSync = fd_sync, .xFileSize = fd_size, .xLock = fd_lock,
	.xUnlock = fd_lock, .xCheckReservedLock = fd_reserved, .xFileControl = fd_fctl,
	.xSectorSize = fd_sector, .xDeviceCharacteristics = fd_devchar,
};

static int vfs_open(sqlite3_vfs *v, const char *name, sqlite3_file *f, int flags, int *out)
{
	struct fdfile *ff = (struct fdfile *)f;
	char *end;
	long n;

	f->pMethods = NULL;
	if (!name || strncmp(name, "fd:", 3) != 0 || (flags & SQLITE_OPEN_READWRITE))
		return SQLITE_CANTOPEN;
	n = strtol(name + 3, &end, 10);
	if (*end || n < 0)
		return SQLITE_CANTOPEN;
	ff->fd = fcntl((int)n, F_DUPFD_CLOEXEC, 3);
	if (ff->fd < 0)
		return SQLITE_CANTOPEN;
	f->pMethods = &fd_methods;
	if (out)
		*out = SQLITE_OPEN_READONLY;
	return SQLITE_OK;
}

static int vfs_delete(sqlite3_vfs *v, const char *n, int sync)
{
	return SQLITE_IOERR_DELETE;
}

static int vfs_access(sqlite3_vfs *v, const char *n, int flags, int *out)
{
	*out = 0;	/* no journals, no WAL files */
	return SQLITE_OK;
}

static int vfs_full(sqlite3_vfs *v, const char *n, int len, char *out)
{
	snprintf(out, len, "%s", n);
	return SQLITE_OK;
}

static int vfs_random(sqlite3_vfs *v, int n, char *out)
{
	uint64_t x = net_now_ms() * 6364136223846793005ull + 1;

	for (int i = 0; i < n; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		out[i] = (char)(x >> 33);
	}
	return n;
}

static int vfs_sleep(sqlite3_vfs *v, int us)
{
	struct timespec ts = { us / 1000000, (long)(us % 1000000) * 1000 };

	nanosleep(&ts, NULL);
	return us;
}

static int vfs_time(sqlite3_vfs *v, sqlite3_int64 *out)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	*out = (sqlite3_int64)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + 210866760000000ll;
	return SQLITE_OK;
}

static int vfs_lasterr(sqlite3_vfs *v, int n, char *buf)
{
	return 0;
}

static sqlite3_vfs fd_vfs = {
	.iVersion = 2, .szOsFile = sizeof(struct fdfile), .mxPathname = 64, .zName = "cvmfs-fd",
	.xOpen = vfs_open, .xDelete = vfs_delete, .xAccess = vfs_access, .xFullPathname = vfs_full,
	.xRandomness = vfs_random, .xSleep = vfs_sleep, .xCurrentTimeInt64 = vfs_time,
	.xGetLastError = vfs_lasterr,
};

static pthread_once_t vfs_once = PTHREAD_ONCE_INIT;

static void vfs_register(void)
{
	sqlite3_initialize();	/* the musl build has SQLITE_OMIT_AUTOINIT */
	sqlite3_vfs_register(&fd_vfs, 0);
}

/* see internal.h */
int cvmfs_sqlite_open_fd(int fd, sqlite3 **db)
{
	char name[32];
	int rc;

	pthread_once(&vfs_once, vfs_register);
	snprintf(name, sizeof(name), "fd:%d", fd);
	rc = sqlite3_open_v2(name, db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, "cvmfs-fd");
	if (rc != SQLITE_OK) {
		sqlite3_close(*db);
		*db = NULL;
		return -EBADMSG;
	}
	return 0;
}

/* ---- file catalogs ---- */
#define COLS_R7 "rowid, hash, size, mode, mtime, flags, name, symlink, uid, gid, hardlinks, xattr, mtimens"
#define COLS_R2 "rowid, hash, size, mode, mtime, flags, name, symlink, uid, gid, hardlinks, xattr, 0"

/* see internal.h */
struct cvmfs_catalog *cvmfs_catalog_open(int fd, const char *path, const struct cvmfs_hash *h,
					 uint64_t ino_offset, int *err)
{
	struct cvmfs_catalog *cat = calloc(1, sizeof(*cat));
	struct cvmfs_catalog_props props;
	char q[256];
	const char *cols;
	sqlite3_stmt *st;

	*err = -ENOMEM;
	if (!cat || !(cat->path = strdup(path)))
		goto bad;
	pthread_mutex_init(&cat->lock, NULL);
	cat->hash = *h;
	if ((*err = cvmfs_sqlite_open_fd(fd, &cat->db)) < 0)
		goto bad;
	if ((*err = cvmfs_catalog_props_read(cat->db, &props)) < 0)
		goto bad;	/* legacy 1.x catalogs, other schemas and revisions */
	cat->revision = props.schema_revision;
	cat->repo_revision = props.revision;
	cat->ttl = props.ttl;
	*err = -EBADMSG;
	cols = cat->revision >= 7 ? COLS_R7 : COLS_R2;
	snprintf(q, sizeof(q), "SELECT %s FROM catalog WHERE md5path_1 = ? AND md5path_2 = ?", cols);
	if (sqlite3_prepare_v3(cat->db, q, -1, SQLITE_PREPARE_PERSISTENT, &cat->st_lookup, NULL))
		goto bad;
	snprintf(q, sizeof(q), "SELECT %s FROM catalog WHERE parent_1 = ? AND parent_2 = ?", cols);
	if (sqlite3_prepare_v3(cat->db, q, -1, SQLITE_PREPARE_PERSISTENT, &cat->st_list, NULL))
		goto bad;
	if (sqlite3_prepare_v3(cat->db, "SELECT offset, size, hash FROM chunks WHERE md5path_1 = ? "
			       "AND md5path_2 = ? ORDER BY offset ASC", -1,
			       SQLITE_PREPARE_PERSISTENT, &cat->st_chunks, NULL))
		goto bad;
	if (sqlite3_prepare_v3(cat->db, "SELECT sha1, size FROM nested_catalogs WHERE path = ?", -1,
			       SQLITE_PREPARE_PERSISTENT, &cat->st_nested, NULL))
		goto bad;
	/* Inode range: the rowids (a hardlink group takes one of its rows'):
	 * max(rowid) is one B-tree descent, where max(hardlinks) was a scan
	 * of the whole table at every mount. */
	if (sqlite3_prepare_v2(cat->db, "SELECT max(rowid) FROM catalog", -1, &st, NULL))
		goto bad;
	if (sqlite3_step(st) == SQLITE_ROW) {
		cat->max_rowid = sqlite3_column_int64(st, 0);
		cat->ino_span = (uint64_t)cat->max_rowid + 2;
	}
	sqlite3_finalize(st);
	cat->ino_offset = ino_offset;
	*err = 0;
	return cat;
bad:
	cvmfs_catalog_close(cat);
	return NULL;
}

/* see internal.h */
void cvmfs_catalog_close(struct cvmfs_catalog *cat)
{
	if (!cat)
		return;
	sqlite3_finalize(cat->st_lookup);
	sqlite3_finalize(cat->st_list);
	sqlite3_finalize(cat->st_chunks);
	sqlite3_finalize(cat->st_nested);
	sqlite3_close(cat->db);
	free(cat->path);
	free(cat->hl);
	pthread_mutex_destroy(&cat->lock);
	free(cat);
}

/* The rowid whose inode hardlink group g has: the first row of it met
 * (rowid), remembered. Called with cat->lock held. Out of memory: the
 * row's own (the links then show as separate files, nothing worse). */
static int64_t hl_rowid(struct cvmfs_catalog *cat, uint32_t g, int64_t rowid)
{
	size_t i;

	if (2 * (cat->hl_n + 1) > cat->hl_cap) {
		size_t cap = cat->hl_cap ? 2 * cat->hl_cap : 64;
		struct cvmfs_hl *t = calloc(cap, sizeof(*t));

		if (!t)
			return rowid;
		for (size_t k = 0; k < cat->hl_cap; k++) {
			if (!cat->hl[k].group)
				continue;
			for (i = cat->hl[k].group * 2654435761u % cap; t[i].group; i = (i + 1) % cap)
				;
			t[i] = cat->hl[k];
		}
		free(cat->hl);
		cat->hl = t;
		cat->hl_cap = cap;
	}
	for (i = g * 2654435761u % cat->hl_cap; cat->hl[i].group; i = (i + 1) % cat->hl_cap)
		if (cat->hl[i].group == g)
			return cat->hl[i].rowid;
	cat->hl[i].group = g;
	cat->hl[i].rowid = rowid;
	cat->hl_n++;
	return rowid;
}

static void row(struct cvmfs_catalog *cat, sqlite3_stmt *st, struct cvmfs_dirent *d)
{
	const void *hash = sqlite3_column_blob(st, 1);
	int hlen = sqlite3_column_bytes(st, 1);
	const unsigned char *s;
	uint64_t hl;

	memset(d, 0, offsetof(struct cvmfs_dirent, name));
	d->xattr = NULL;
	d->xattr_len = 0;
	d->rowid = sqlite3_column_int64(st, 0);
	d->size = (uint64_t)sqlite3_column_int64(st, 2);
	d->mode = (mode_t)sqlite3_column_int64(st, 3);
	d->mtime = sqlite3_column_int64(st, 4);
	d->flags = (uint32_t)sqlite3_column_int64(st, 5);
	s = sqlite3_column_text(st, 6);
	snprintf(d->name, sizeof(d->name), "%s", s ? (const char *)s : "");
	s = sqlite3_column_text(st, 7);
	snprintf(d->symlink, sizeof(d->symlink), "%s", s ? (const char *)s : "");
	d->uid = (uint32_t)sqlite3_column_int64(st, 8);
	d->gid = (uint32_t)sqlite3_column_int64(st, 9);
	hl = (uint64_t)sqlite3_column_int64(st, 10);
	d->nlink = CVMFS_HL_COUNT(hl);
	d->hl_group = CVMFS_HL_GROUP(hl);
	if (d->nlink == 0)
		d->nlink = 1;
	d->mtimens = (uint32_t)sqlite3_column_int64(st, 12);
	if (d->mtimens >= 1000000000u)
		d->mtimens = 0;
	d->hash.algo = (d->flags & (CVMFS_FLAG_FILE | CVMFS_FLAG_CHUNKED)) ?
		       CVMFS_FLAG_ALGO(d->flags) : CVMFS_HASH_SHA1;
	if (hash && (size_t)hlen == cvmfs_hash_len(d->hash.algo)) {
		memcpy(d->hash.d, hash, hlen);
		d->has_hash = true;
	}
	if (sqlite3_column_type(st, 11) == SQLITE_BLOB && sqlite3_column_bytes(st, 11) > 0) {
		d->xattr_len = sqlite3_column_bytes(st, 11);
		d->xattr = malloc(d->xattr_len);
		if (d->xattr)
			memcpy(d->xattr, sqlite3_column_blob(st, 11), d->xattr_len);
		d->has_xattr = d->xattr != NULL;
	}
	d->ino = cat->ino_offset + (uint64_t)(d->hl_group && !(d->flags & CVMFS_FLAG_DIR) ?
					      hl_rowid(cat, d->hl_group, d->rowid) : d->rowid);
}

/* see internal.h */
void cvmfs_dirent_fini(struct cvmfs_dirent *d)
{
	free(d->xattr);
	d->xattr = NULL;
}

/* see internal.h */
int cvmfs_catalog_lookup(struct cvmfs_catalog *cat, const char *path, struct cvmfs_dirent *d)
{
	int64_t p1, p2;
	int rc;

	cvmfs_md5path(path, strlen(path), &p1, &p2);
	pthread_mutex_lock(&cat->lock);
	sqlite3_bind_int64(cat->st_lookup, 1, p1);
	sqlite3_bind_int64(cat->st_lookup, 2, p2);
	rc = sqlite3_step(cat->st_lookup);
	if (rc == SQLITE_ROW) {
		row(cat, cat->st_lookup, d);
		rc = 0;
	} else {
		rc = rc == SQLITE_DONE ? -ENOENT : -EIO;
	}
	sqlite3_reset(cat->st_lookup);
	pthread_mutex_unlock(&cat->lock);
	return rc;
}

/* see internal.h */
int cvmfs_catalog_list(struct cvmfs_catalog *cat, const char *path,
		       int (*cb)(void *arg, struct cvmfs_dirent *d), void *arg)
{
	struct cvmfs_dirent *d = malloc(sizeof(*d));
	int64_t p1, p2;
	int rc;

	if (!d)
		return -ENOMEM;
	cvmfs_md5path(path, strlen(path), &p1, &p2);
	pthread_mutex_lock(&cat->lock);
	sqlite3_bind_int64(cat->st_list, 1, p1);
	sqlite3_bind_int64(cat->st_list, 2, p2);
	while ((rc = sqlite3_step(cat->st_list)) == SQLITE_ROW) {
		row(cat, cat->st_list, d);
		rc = cb(arg, d);
		cvmfs_dirent_fini(d);
		if (rc < 0)
			break;
	}
	if (rc == SQLITE_DONE)
		rc = 0;
	else if (rc > 0)
		rc = -EIO;
	sqlite3_reset(cat->st_list);
	pthread_mutex_unlock(&cat->lock);
	free(d);
	return rc;
}

/* see internal.h */
int cvmfs_catalog_chunks(struct cvmfs_catalog *cat, const char *path, enum cvmfs_hash_algo algo,
			 struct cvmfs_chunk **out, size_t *n)
{
	struct cvmfs_chunk *v = NULL;
	size_t cap = 0, cnt = 0;
	uint64_t expect = 0;
	int64_t p1, p2;
	int rc;

	cvmfs_md5path(path, strlen(path), &p1, &p2);
	pthread_mutex_lock(&cat->lock);
	sqlite3_bind_int64(cat->st_chunks, 1, p1);
	sqlite3_bind_int64(cat->st_chunks, 2, p2);
	while ((rc = sqlite3_step(cat->st_chunks)) == SQLITE_ROW) {
		const void *h = sqlite3_column_blob(cat->st_chunks, 2);
		struct cvmfs_chunk *c;

		if (cnt == cap) {
			struct cvmfs_chunk *nv = realloc(v, (cap = cap ? cap * 2 : 16) * sizeof(*v));

			if (!nv) {
				rc = -ENOMEM;
				break;
			}
			v = nv;
		}
		c = &v[cnt];
		c->off = (uint64_t)sqlite3_column_int64(cat->st_chunks, 0);
		c->size = (uint64_t)sqlite3_column_int64(cat->st_chunks, 1);
		c->hash.algo = algo;
		/* Chunks must tile the file from 0 without gaps (spec §9). */
		if (!h || (size_t)sqlite3_column_bytes(cat->st_chunks, 2) != cvmfs_hash_len(algo) ||
		    c->off != expect) {
			rc = -EBADMSG;
			break;
		}
		memcpy(c->hash.d, h, cvmfs_hash_len(algo));
		expect += c->size;
		cnt++;
	}
	sqlite3_reset(cat->st_chunks);
	pthread_mutex_unlock(&cat->lock);
	if (rc != SQLITE_DONE) {
		free(v);
		return rc < 0 ? rc : -EIO;
	}
	*out = v;
	*n = cnt;
	return 0;
}

/* see internal.h */
int cvmfs_catalog_nested(struct cvmfs_catalog *cat, const char *path, struct cvmfs_hash *h)
{
	uint64_t size;

	return cvmfs_catalog_nested_size(cat, path, h, &size);
}

/* see internal.h */
int cvmfs_catalog_nested_size(struct cvmfs_catalog *cat, const char *path, struct cvmfs_hash *h,
			      uint64_t *size)
{
	int rc;

	pthread_mutex_lock(&cat->lock);
	sqlite3_bind_text(cat->st_nested, 1, path, -1, SQLITE_STATIC);
	rc = sqlite3_step(cat->st_nested);
	if (rc == SQLITE_ROW) {
		const char *hex = (const char *)sqlite3_column_text(cat->st_nested, 0);

		sqlite3_int64 sz = sqlite3_column_int64(cat->st_nested, 1);

		rc = hex && cvmfs_hash_parse(hex, strlen(hex), h) == 0 ? 0 : -EBADMSG;
		*size = sz > 0 ? (uint64_t)sz : 0;
	} else {
		rc = rc == SQLITE_DONE ? -ENOENT : -EIO;
	}
	sqlite3_reset(cat->st_nested);
	sqlite3_clear_bindings(cat->st_nested);
	pthread_mutex_unlock(&cat->lock);
	return rc;
}

/* see internal.h */
int cvmfs_history_find(sqlite3 *db, const char *tag, int64_t date, struct cvmfs_hash *root,
		       char *name, size_t nlen)
{
	sqlite3_stmt *st;
	const char *q = tag ? "SELECT hash, name FROM tags WHERE name = ?" :
			"SELECT hash, name FROM tags WHERE (branch = '' OR branch IS NULL) AND "
			"timestamp <= ? ORDER BY revision DESC LIMIT 1";
	int rc;

	if (sqlite3_prepare_v2(db, q, -1, &st, NULL))
		return -EBADMSG;
	if (tag)
		sqlite3_bind_text(st, 1, tag, -1, SQLITE_STATIC);
	else
		sqlite3_bind_int64(st, 1, date);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *hex = (const char *)sqlite3_column_text(st, 0);
		const char *n = (const char *)sqlite3_column_text(st, 1);

		rc = hex && cvmfs_hash_parse(hex, strlen(hex), root) == 0 ? 0 : -EBADMSG;
		snprintf(name, nlen, "%s", n ? n : "");
	} else {
		rc = rc == SQLITE_DONE ? -ENOENT : -EBADMSG;
	}
	sqlite3_finalize(st);
	return rc;
}
