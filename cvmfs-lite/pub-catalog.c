/* SPDX-License-Identifier: MIT */
/* cvmfs-lite/pub-catalog.c: file catalogs (SQLite schema 2.5 r7): write bottom-up, read the previous revision for reuse. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cvmfs-lite/pub.h"
#include "sqlite3.h"

/* Spec §4.1, exactly as upstream creates revision 7. */
static const char ddl[] =
	"CREATE TABLE properties (key TEXT, value TEXT, CONSTRAINT pk_properties PRIMARY KEY (key));"
	"CREATE TABLE catalog (md5path_1 INTEGER, md5path_2 INTEGER, parent_1 INTEGER, "
	"parent_2 INTEGER, hardlinks INTEGER, hash BLOB, size INTEGER, mode INTEGER, mtime INTEGER, "
	"mtimens INTEGER, flags INTEGER, name TEXT, symlink TEXT, uid INTEGER, gid INTEGER, "
	"xattr BLOB, CONSTRAINT pk_catalog PRIMARY KEY (md5path_1, md5path_2));"
	"CREATE INDEX idx_catalog_parent ON catalog (parent_1, parent_2);"
	"CREATE TABLE chunks (md5path_1 INTEGER, md5path_2 INTEGER, offset INTEGER, size INTEGER, "
	"hash BLOB, CONSTRAINT pk_chunks PRIMARY KEY (md5path_1, md5path_2, offset, size), "
	"FOREIGN KEY (md5path_1, md5path_2) REFERENCES catalog(md5path_1, md5path_2));"
	"CREATE TABLE nested_catalogs (path TEXT, sha1 TEXT, size INTEGER, "
	"CONSTRAINT pk_nested_catalogs PRIMARY KEY (path));"
	"CREATE TABLE bind_mountpoints (path TEXT, sha1 TEXT, size INTEGER, "
	"CONSTRAINT pk_bind_mountpoints PRIMARY KEY (path));"
	"CREATE TABLE statistics (counter TEXT, value INTEGER, "
	"CONSTRAINT pk_statistics PRIMARY KEY (counter));";

struct pub_row {
	int64_t p1, p2, pp1, pp2, mtime;
	uint64_t hardlinks, size;
	const unsigned char *hash, *xattr;
	size_t hashlen, xlen;
	uint32_t mode, flags, uid, gid;
	int32_t mtimens;		/* -1: NULL */
	const char *name, *symlink;
};

/* Order-independent digest of a catalog's content (every row, chunk and
 * nested reference; not the properties), to find unchanged catalogs. */
struct digest {
	unsigned char acc[20];
	mbedtls_sha1_context c;
};

static void dg_begin(struct digest *d)
{
	mbedtls_sha1_init(&d->c);
	mbedtls_sha1_starts_ret(&d->c);
}

static void dg_int(struct digest *d, int64_t v)
{
	unsigned char b[8];
	int i;

	for (i = 0; i < 8; i++)
		b[i] = (unsigned char)((uint64_t)v >> (8 * i));
	mbedtls_sha1_update_ret(&d->c, b, 8);
}

static void dg_blob(struct digest *d, const void *p, size_t n, int null)
{
	dg_int(d, null ? -1 : (int64_t)n);
	if (!null && n)
		mbedtls_sha1_update_ret(&d->c, p, n);
}

static void dg_end(struct digest *d)
{
	unsigned char h[20];
	int i;

	mbedtls_sha1_finish_ret(&d->c, h);
	mbedtls_sha1_free(&d->c);
	for (i = 0; i < 20; i++)
		d->acc[i] ^= h[i];
}

static void dg_row(struct digest *d, const struct pub_row *r)
{
	dg_begin(d);
	dg_int(d, 1);
	dg_int(d, r->p1);
	dg_int(d, r->p2);
	dg_int(d, r->pp1);
	dg_int(d, r->pp2);
	dg_int(d, (int64_t)r->hardlinks);
	dg_blob(d, r->hash, r->hashlen, r->hash == NULL);
	dg_int(d, (int64_t)r->size);
	dg_int(d, r->mode);
	dg_int(d, r->mtime);
	dg_int(d, r->mtimens);
	dg_int(d, r->flags);
	dg_blob(d, r->name, strlen(r->name), 0);
	dg_blob(d, r->symlink, strlen(r->symlink), 0);
	dg_int(d, r->uid);
	dg_int(d, r->gid);
	dg_blob(d, r->xattr, r->xlen, r->xattr == NULL);
	dg_end(d);
}

static void dg_chunk(struct digest *d, int64_t p1, int64_t p2, const struct pub_chunk *c,
		     size_t hl)
{
	dg_begin(d);
	dg_int(d, 2);
	dg_int(d, p1);
	dg_int(d, p2);
	dg_int(d, (int64_t)c->off);
	dg_int(d, (int64_t)c->size);
	dg_blob(d, c->h.d, hl, 0);
	dg_end(d);
}

static void dg_nested(struct digest *d, const char *path, const char *hex, int64_t size)
{
	dg_begin(d);
	dg_int(d, 3);
	dg_blob(d, path, strlen(path), 0);
	dg_blob(d, hex, strlen(hex), 0);
	dg_int(d, size);
	dg_end(d);
}

/* ---- previous revision ---- */

static uint64_t pf_slot(int64_t p1, size_t cap)
{
	return ((uint64_t)p1 * 0x9e3779b97f4a7c15ULL) & (cap - 1);
}

static int pf_insert(struct pub_tree *t, const struct pub_prev_file *f, size_t *count)
{
	size_t i;

	if ((*count + 1) * 2 > t->pfcap) {
		size_t ncap = t->pfcap ? t->pfcap * 2 : 4096, j;
		struct pub_prev_file *n = calloc(ncap, sizeof(*n));

		if (!n)
			return -ENOMEM;
		for (j = 0; j < t->pfcap; j++) {
			if (t->pfiles[j].p1 == 0 && t->pfiles[j].p2 == 0)
				continue;
			i = pf_slot(t->pfiles[j].p1, ncap);
			while (n[i].p1 || n[i].p2)
				i = (i + 1) & (ncap - 1);
			n[i] = t->pfiles[j];
		}
		free(t->pfiles);
		t->pfiles = n;
		t->pfcap = ncap;
	}
	i = pf_slot(f->p1, t->pfcap);
	while (t->pfiles[i].p1 || t->pfiles[i].p2)
		i = (i + 1) & (t->pfcap - 1);
	t->pfiles[i] = *f;
	(*count)++;
	return 0;
}

/* see pub.h */
const struct pub_prev_file *pub_prev_find(const struct pub_tree *t, int64_t p1, int64_t p2)
{
	size_t i;

	if (t->pfcap == 0)
		return NULL;
	for (i = pf_slot(p1, t->pfcap); t->pfiles[i].p1 || t->pfiles[i].p2;
	     i = (i + 1) & (t->pfcap - 1))
		if (t->pfiles[i].p1 == p1 && t->pfiles[i].p2 == p2)
			return &t->pfiles[i];
	return NULL;
}

/* see pub.h */
int pub_object_to_tmp(struct cvmfs_pub_store *s, const struct cvmfs_hash *h, char suffix,
		      char *tmp, size_t len, uint64_t *size)
{
	static uint64_t seq;
	unsigned char *buf;
	size_t n, off = 0;
	int fd, rc;

	rc = cvmfs_pub_store_get(s, h, suffix, (size_t)1 << 32, &buf, &n);
	if (rc < 0)
		return rc;
	snprintf(tmp, len, "/proc/self/fd/%d/r.%d.%llu", s->tmpfd, (int)getpid(),
		 (unsigned long long)__atomic_add_fetch(&seq, 1, __ATOMIC_RELAXED));
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	while (off < n) {
		ssize_t w = write(fd, buf + off, n - off);

		if (w < 0) {
			rc = -errno;
			break;
		}
		off += (size_t)w;
	}
	close(fd);
	if (rc < 0)
		unlink(tmp);
	if (size)
		*size = n;
out:
	free(buf);
	return rc;
}

static void row_from_stmt(sqlite3_stmt *st, struct pub_row *r, int has_ns)
{
	r->p1 = sqlite3_column_int64(st, 0);
	r->p2 = sqlite3_column_int64(st, 1);
	r->pp1 = sqlite3_column_int64(st, 2);
	r->pp2 = sqlite3_column_int64(st, 3);
	r->hardlinks = (uint64_t)sqlite3_column_int64(st, 4);
	r->hash = sqlite3_column_blob(st, 5);
	r->hashlen = (size_t)sqlite3_column_bytes(st, 5);
	r->size = (uint64_t)sqlite3_column_int64(st, 6);
	r->mode = (uint32_t)sqlite3_column_int64(st, 7);
	r->mtime = sqlite3_column_int64(st, 8);
	r->mtimens = has_ns && sqlite3_column_type(st, 9) != SQLITE_NULL ?
		     (int32_t)sqlite3_column_int64(st, 9) : -1;
	r->flags = (uint32_t)sqlite3_column_int64(st, 10);
	r->name = (const char *)sqlite3_column_text(st, 11);
	r->symlink = (const char *)sqlite3_column_text(st, 12);
	r->uid = (uint32_t)sqlite3_column_int64(st, 13);
	r->gid = (uint32_t)sqlite3_column_int64(st, 14);
	r->xattr = sqlite3_column_blob(st, 15);
	r->xlen = (size_t)sqlite3_column_bytes(st, 15);
	if (!r->name)
		r->name = "";
	if (!r->symlink)
		r->symlink = "";
}

static int prev_chunks(sqlite3 *db, struct pub_prev_file *f, struct digest *d, size_t hl)
{
	sqlite3_stmt *st;
	size_t cap = 0;
	int rc = 0;

	if (sqlite3_prepare_v2(db, "SELECT offset, size, hash FROM chunks WHERE md5path_1=? AND "
			       "md5path_2=? ORDER BY offset", -1, &st, NULL) != SQLITE_OK)
		return -EBADMSG;
	sqlite3_bind_int64(st, 1, f->p1);
	sqlite3_bind_int64(st, 2, f->p2);
	while (sqlite3_step(st) == SQLITE_ROW) {
		struct pub_chunk c = { (uint64_t)sqlite3_column_int64(st, 0),
				       (uint64_t)sqlite3_column_int64(st, 1), f->h };

		if (sqlite3_column_bytes(st, 2) != (int)hl) {
			rc = -EBADMSG;
			break;
		}
		memcpy(c.h.d, sqlite3_column_blob(st, 2), hl);
		if (f->nchunks == cap) {
			struct pub_chunk *p;

			cap = cap ? cap * 2 : 8;
			p = realloc(f->chunks, cap * sizeof(*p));
			if (!p) {
				rc = -ENOMEM;
				break;
			}
			f->chunks = p;
		}
		f->chunks[f->nchunks++] = c;
		dg_chunk(d, f->p1, f->p2, &c, hl);
	}
	sqlite3_finalize(st);
	return rc;
}

static int prev_rows(struct pub_tree *t, sqlite3 *db, int has_ns, struct digest *d,
		     size_t *count)
{
	sqlite3_stmt *st;
	struct pub_row r;
	int rc = 0;

	if (sqlite3_prepare_v2(db, has_ns ?
			       "SELECT md5path_1, md5path_2, parent_1, parent_2, hardlinks, hash, size, "
			       "mode, mtime, mtimens, flags, name, symlink, uid, gid, xattr FROM catalog" :
			       "SELECT md5path_1, md5path_2, parent_1, parent_2, hardlinks, hash, size, "
			       "mode, mtime, 0, flags, name, symlink, uid, gid, NULL FROM catalog",
			       -1, &st, NULL) != SQLITE_OK)
		return -EBADMSG;
	while (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
		struct pub_prev_file f;
		enum cvmfs_hash_algo a;

		row_from_stmt(st, &r, has_ns);
		dg_row(d, &r);
		if ((r.flags & (CVMFS_FLAG_FILE | CVMFS_FLAG_LINK | CVMFS_FLAG_SPECIAL |
				CVMFS_FLAG_EXTERNAL)) != CVMFS_FLAG_FILE)
			continue;
		a = CVMFS_FLAG_ALGO(r.flags);
		memset(&f, 0, sizeof(f));
		f.p1 = r.p1;
		f.p2 = r.p2;
		f.size = r.size;
		f.mtime = r.mtime;
		f.mtimens = r.mtimens;
		f.h.algo = a;
		if (CVMFS_FLAG_COMP(r.flags) != CVMFS_COMP_ZLIB || cvmfs_hash_len(a) == 0)
			continue;
		if (r.flags & CVMFS_FLAG_CHUNKED) {
			if ((rc = prev_chunks(db, &f, d, cvmfs_hash_len(a))) < 0)
				break;
		} else if (r.hash && r.hashlen == cvmfs_hash_len(a)) {
			memcpy(f.h.d, r.hash, r.hashlen);
		} else {
			continue;
		}
		rc = pf_insert(t, &f, count);
	}
	sqlite3_finalize(st);
	return rc;
}

static int prev_catalog(struct pub_tree *t, struct cvmfs_pub_store *s, const char *path,
			const struct cvmfs_hash *h, uint64_t size, size_t *count, int depth)
{
	char tmp[256];
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	struct digest d = { { 0 } };
	struct pub_prev_cat *pc;
	int rc, has_ns = 0;

	if (depth > 256)
		return -ELOOP;
	rc = pub_object_to_tmp(s, h, CVMFS_SUFFIX_CATALOG, tmp, sizeof(tmp), NULL);
	if (rc < 0)
		return cvmfs_pub_fail(t->e, rc, "previous revision: catalog %s is unreadable or "
				      "corrupt (%s); fix the repository or publish into a new one",
				      path[0] ? path : "/", strerror(-rc));
	if (sqlite3_open_v2(tmp, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		rc = -EBADMSG;
		goto out;
	}
	pc = realloc(t->pcats, (t->npcats + 1) * sizeof(*pc));
	if (!pc) {
		rc = -ENOMEM;
		goto out;
	}
	t->pcats = pc;
	pc = &t->pcats[t->npcats++];
	memset(pc, 0, sizeof(*pc));
	pc->path = strdup(path);
	pc->hash = *h;
	pc->size = size;
	if (sqlite3_prepare_v2(db, "SELECT key, value FROM properties", -1, &st, NULL) == SQLITE_OK) {
		while (sqlite3_step(st) == SQLITE_ROW) {
			const char *k = (const char *)sqlite3_column_text(st, 0);

			if (k && strcmp(k, "revision") == 0)
				pc->revision = (uint64_t)sqlite3_column_int64(st, 1);
			if (k && strcmp(k, "schema_revision") == 0)
				has_ns = sqlite3_column_int(st, 1) >= 7;
		}
		sqlite3_finalize(st);
		st = NULL;
	}
	if ((rc = prev_rows(t, db, has_ns, &d, count)) < 0)
		goto out;
	if (sqlite3_prepare_v2(db, "SELECT path, sha1, size FROM nested_catalogs", -1, &st,
			       NULL) != SQLITE_OK) {
		rc = -EBADMSG;
		goto out;
	}
	while (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
		const char *np = (const char *)sqlite3_column_text(st, 0);
		const char *hx = (const char *)sqlite3_column_text(st, 1);
		struct cvmfs_hash nh;

		if (!np || !hx || cvmfs_hash_parse(hx, strlen(hx), &nh) < 0) {
			rc = -EBADMSG;
			break;
		}
		dg_nested(&d, np, hx, sqlite3_column_int64(st, 2));
		rc = prev_catalog(t, s, np, &nh, (uint64_t)sqlite3_column_int64(st, 2), count,
				  depth + 1);
	}
	/* pcats may have moved during recursion */
	for (size_t i = 0; i < t->npcats; i++)
		if (cvmfs_hash_eq(&t->pcats[i].hash, h) && strcmp(t->pcats[i].path, path) == 0)
			memcpy(t->pcats[i].digest, d.acc, 20);
out:
	if (st)
		sqlite3_finalize(st);
	if (db)
		sqlite3_close(db);
	unlink(tmp);
	if (rc < 0)
		cvmfs_pub_fail(t->e, rc, "previous revision: cannot read catalog %s",
			       path[0] ? path : "/");
	return rc;
}

/* see pub.h */
int pub_prev_load(struct pub_tree *t, struct cvmfs_pub_store *s, const struct cvmfs_hash *root)
{
	size_t count = 0;

	return prev_catalog(t, s, "", root, 0, &count, 0);
}

/* ---- writing ---- */

static const struct pub_prev_cat *prev_cat_at(const struct pub_tree *t, const char *path)
{
	size_t i;

	for (i = 0; i < t->npcats; i++)
		if (strcmp(t->pcats[i].path, path) == 0)
			return &t->pcats[i];
	return NULL;
}

static void node_row(const struct pub_tree *t, uint32_t c, uint32_t idx, int mountpoint,
		     struct pub_row *r)
{
	const struct pub_node *nd = &t->nodes[idx];
	const struct pub_content *ct = nd->content != PUB_NONE ? &t->contents[nd->content] : NULL;
	enum cvmfs_hash_algo algo = t->o->algo;

	memset(r, 0, sizeof(*r));
	cvmfs_md5path(nd->path, strlen(nd->path), &r->p1, &r->p2);
	if (nd->parent != PUB_NONE) {
		const char *pp = t->nodes[nd->parent].path;

		cvmfs_md5path(pp, strlen(pp), &r->pp1, &r->pp2);
	}
	r->hardlinks = CVMFS_HL_MAKE(nd->hl_group, nd->linkcount);
	r->size = nd->size;
	r->mode = nd->mode;
	r->mtime = nd->mtime;
	r->mtimens = nd->mtimens;
	r->name = nd->path + nd->name_off;
	r->symlink = nd->link ? nd->link : "";
	r->uid = nd->uid;
	r->gid = nd->gid;
	r->xattr = nd->xattr;
	r->xlen = nd->xlen;
	if (S_ISDIR(nd->mode)) {
		r->flags = CVMFS_FLAG_DIR;
		if (mountpoint)
			r->flags |= CVMFS_FLAG_NESTED_MOUNTPOINT;
		else if (idx == t->cats[c].root && c != 0)
			r->flags |= CVMFS_FLAG_NESTED_ROOT;
	} else if (S_ISREG(nd->mode)) {
		r->flags = CVMFS_FLAG_FILE | CVMFS_FLAG_MKALGO(algo);
		if (ct && ct->nchunks > 0) {
			r->flags |= CVMFS_FLAG_CHUNKED;
		} else if (ct) {
			r->hash = ct->h.d;
			r->hashlen = cvmfs_hash_len(algo);
		}
	} else if (S_ISLNK(nd->mode)) {
		r->flags = CVMFS_FLAG_FILE | CVMFS_FLAG_LINK;
	} else {
		r->flags = CVMFS_FLAG_FILE | CVMFS_FLAG_SPECIAL;
	}
}

static void count_row(struct pub_catalog *c, const struct pub_row *r, const struct pub_content *ct)
{
	int64_t *s = c->self;

	if (r->flags & CVMFS_FLAG_DIR) {
		s[CVMFS_CNT_DIR]++;
	} else if (r->flags & CVMFS_FLAG_LINK) {
		s[CVMFS_CNT_SYMLINK]++;
	} else if (r->flags & CVMFS_FLAG_SPECIAL) {
		s[CVMFS_CNT_SPECIAL]++;
	} else {
		s[CVMFS_CNT_REGULAR]++;
		s[CVMFS_CNT_FILE_SIZE] += (int64_t)r->size;
		if (r->flags & CVMFS_FLAG_CHUNKED) {
			s[CVMFS_CNT_CHUNKED]++;
			s[CVMFS_CNT_CHUNKED_SIZE] += (int64_t)r->size;
			s[CVMFS_CNT_CHUNKS] += ct ? ct->nchunks : 0;
		}
	}
	if (r->xattr)
		s[CVMFS_CNT_XATTR]++;
}

struct cat_db {
	sqlite3 *db;
	sqlite3_stmt *row, *chunk, *nested, *stat, *prop;
};

static int exec(sqlite3 *db, const char *sql)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -EIO;
}

static int db_open(struct cat_db *d, const char *path)
{
	memset(d, 0, sizeof(*d));
	unlink(path);
	if (sqlite3_open_v2(path, &d->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK)
		return -EIO;
	if (exec(d->db, "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; BEGIN;") < 0 ||
	    exec(d->db, ddl) < 0)
		return -EIO;
	if (sqlite3_prepare_v2(d->db, "INSERT INTO catalog VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
			       -1, &d->row, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(d->db, "INSERT INTO chunks VALUES (?,?,?,?,?)", -1, &d->chunk,
			       NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(d->db, "INSERT INTO nested_catalogs VALUES (?,?,?)", -1, &d->nested,
			       NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(d->db, "INSERT INTO statistics VALUES (?,?)", -1, &d->stat,
			       NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(d->db, "INSERT INTO properties VALUES (?,?)", -1, &d->prop,
			       NULL) != SQLITE_OK)
		return -EIO;
	return 0;
}

static int step(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : (rc == SQLITE_FULL ? -ENOSPC : -EIO);
}

static int db_row(struct cat_db *d, const struct pub_row *r)
{
	sqlite3_stmt *s = d->row;

	sqlite3_bind_int64(s, 1, r->p1);
	sqlite3_bind_int64(s, 2, r->p2);
	sqlite3_bind_int64(s, 3, r->pp1);
	sqlite3_bind_int64(s, 4, r->pp2);
	sqlite3_bind_int64(s, 5, (int64_t)r->hardlinks);
	if (r->hash)
		sqlite3_bind_blob(s, 6, r->hash, (int)r->hashlen, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, 6);
	sqlite3_bind_int64(s, 7, (int64_t)r->size);
	sqlite3_bind_int64(s, 8, r->mode);
	sqlite3_bind_int64(s, 9, r->mtime);
	sqlite3_bind_int64(s, 10, r->mtimens);
	sqlite3_bind_int64(s, 11, r->flags);
	sqlite3_bind_text(s, 12, r->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 13, r->symlink, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 14, r->uid);
	sqlite3_bind_int64(s, 15, r->gid);
	if (r->xattr)
		sqlite3_bind_blob(s, 16, r->xattr, (int)r->xlen, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, 16);
	return step(s);
}

static int db_prop(struct cat_db *d, const char *k, const char *v)
{
	sqlite3_bind_text(d->prop, 1, k, -1, SQLITE_STATIC);
	sqlite3_bind_text(d->prop, 2, v, -1, SQLITE_STATIC);
	return step(d->prop);
}

static int db_close(struct cat_db *d, int commit)
{
	int rc = 0;

	sqlite3_finalize(d->row);
	sqlite3_finalize(d->chunk);
	sqlite3_finalize(d->nested);
	sqlite3_finalize(d->stat);
	sqlite3_finalize(d->prop);
	if (commit && sqlite3_exec(d->db, "COMMIT;", NULL, NULL, NULL) != SQLITE_OK)
		rc = sqlite3_errcode(d->db) == SQLITE_FULL ? -ENOSPC : -EIO;
	if (sqlite3_close(d->db) != SQLITE_OK && rc == 0)
		rc = -EIO;
	return rc;
}

/* Rows of catalog c: its own nodes, then one mountpoint row per child. */
static int for_rows(struct pub_tree *t, uint32_t c, struct cat_db *d, struct digest *dg)
{
	struct pub_catalog *cat = &t->cats[c];
	struct pub_row r;
	size_t i, k;
	int rc;

	for (i = 0; i < cat->nnodes + t->ncat; i++) {
		uint32_t idx;
		int mp = i >= cat->nnodes;
		const struct pub_content *ct;

		if (mp) {
			k = i - cat->nnodes;
			if (k == 0 || t->cats[k].parent != c)
				continue;
			idx = t->cats[k].root;
		} else {
			idx = cat->nodes[i];
		}
		node_row(t, c, idx, mp, &r);
		ct = t->nodes[idx].content != PUB_NONE ? &t->contents[t->nodes[idx].content] : NULL;
		if (dg) {
			dg_row(dg, &r);
			count_row(cat, &r, ct);
		}
		if (d && (rc = db_row(d, &r)) < 0)
			return rc;
		if (!ct || !(r.flags & CVMFS_FLAG_CHUNKED))
			continue;
		for (k = 0; k < ct->nchunks; k++) {
			size_t hl = cvmfs_hash_len(t->o->algo);

			if (dg)
				dg_chunk(dg, r.p1, r.p2, &ct->chunks[k], hl);
			if (!d)
				continue;
			sqlite3_bind_int64(d->chunk, 1, r.p1);
			sqlite3_bind_int64(d->chunk, 2, r.p2);
			sqlite3_bind_int64(d->chunk, 3, (int64_t)ct->chunks[k].off);
			sqlite3_bind_int64(d->chunk, 4, (int64_t)ct->chunks[k].size);
			sqlite3_bind_blob(d->chunk, 5, ct->chunks[k].h.d, (int)hl, SQLITE_STATIC);
			if ((rc = step(d->chunk)) < 0)
				return rc;
		}
	}
	return 0;
}

static int nested_refs(struct pub_tree *t, uint32_t c, struct cat_db *d, struct digest *dg)
{
	size_t k;
	int i, rc;

	for (k = 1; k < t->ncat; k++) {
		struct pub_catalog *ch = &t->cats[k];
		char hex[CVMFS_HASH_HEX_MAX];

		if (ch->parent != c)
			continue;
		cvmfs_hash_fmt(&ch->hash, hex, sizeof(hex));
		if (dg) {
			dg_nested(dg, t->nodes[ch->root].path, hex, (int64_t)ch->size);
			t->cats[c].self[CVMFS_CNT_NESTED]++;
			for (i = 0; i < CVMFS_COUNTERS; i++)
				t->cats[c].subtree[i] += ch->self[i] + ch->subtree[i];
		}
		if (!d)
			continue;
		sqlite3_bind_text(d->nested, 1, t->nodes[ch->root].path, -1, SQLITE_STATIC);
		sqlite3_bind_text(d->nested, 2, hex, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(d->nested, 3, (int64_t)ch->size);
		if ((rc = step(d->nested)) < 0)
			return rc;
	}
	return 0;
}

static int write_props(struct pub_tree *t, uint32_t c, struct cat_db *d, uint64_t revision,
		       uint64_t now, const struct pub_prev_cat *prev)
{
	char num[32], hex[CVMFS_HASH_HEX_MAX], name[64];
	struct pub_catalog *cat = &t->cats[c];
	int i, rc = 0;

	rc = rc ? rc : db_prop(d, "schema", CVMFS_CATALOG_SCHEMA_STR);
	snprintf(num, sizeof(num), "%d", CVMFS_CATALOG_SCHEMA_REVISION);
	rc = rc ? rc : db_prop(d, "schema_revision", num);
	snprintf(num, sizeof(num), "%llu", (unsigned long long)revision);
	rc = rc ? rc : db_prop(d, "revision", num);
	snprintf(num, sizeof(num), "%llu", (unsigned long long)now);
	rc = rc ? rc : db_prop(d, "last_modified", num);
	if (prev) {
		cvmfs_hash_fmt(&prev->hash, hex, sizeof(hex));
		rc = rc ? rc : db_prop(d, "previous_revision", hex);
	}
	if (c == 0) {
		snprintf(num, sizeof(num), "%d", CVMFS_DEFAULT_TTL);
		rc = rc ? rc : db_prop(d, "TTL", num);
	} else {
		rc = rc ? rc : db_prop(d, "root_prefix", t->nodes[cat->root].path);
	}
	for (i = 0; i < 2 * CVMFS_COUNTERS && rc == 0; i++) {
		int sub = i >= CVMFS_COUNTERS, k = i % CVMFS_COUNTERS;

		snprintf(name, sizeof(name), "%s_%s", sub ? "subtree" : "self", cvmfs_counter_names[k]);
		sqlite3_bind_text(d->stat, 1, name, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(d->stat, 2, sub ? cat->subtree[k] : cat->self[k]);
		rc = step(d->stat);
	}
	return rc;
}

static int write_one(struct pub_tree *t, struct cvmfs_pub_store *s, uint32_t c, uint64_t revision,
		     uint64_t now)
{
	struct pub_catalog *cat = &t->cats[c];
	const char *path = t->nodes[cat->root].path;
	const struct pub_prev_cat *prev = prev_cat_at(t, path);
	struct digest dg = { { 0 } };
	struct cat_db d;
	char tmp[128];
	unsigned char *buf = NULL;
	size_t len;
	int rc;

	memset(cat->self, 0, sizeof(cat->self));
	memset(cat->subtree, 0, sizeof(cat->subtree));
	if ((rc = for_rows(t, c, NULL, &dg)) < 0 || (rc = nested_refs(t, c, NULL, &dg)) < 0)
		return rc;
	if (c != 0 && prev && memcmp(prev->digest, dg.acc, 20) == 0 &&
	    cvmfs_pub_store_has(s, &prev->hash, CVMFS_SUFFIX_CATALOG)) {
		cat->hash = prev->hash;
		cat->size = prev->size;
		cat->reused = 1;
		if (cat->size == 0)	/* not known from the parent row: measure */
			return pub_object_to_tmp(s, &prev->hash, CVMFS_SUFFIX_CATALOG, tmp,
						 sizeof(tmp), &cat->size) < 0 ? -EIO : (unlink(tmp), 0);
		return 0;
	}
	snprintf(tmp, sizeof(tmp), "/proc/self/fd/%d/c.%d.%u.db", s->tmpfd, (int)getpid(), c);
	rc = db_open(&d, tmp);
	if (rc == 0)
		rc = for_rows(t, c, &d, NULL);
	if (rc == 0)
		rc = nested_refs(t, c, &d, NULL);
	if (rc == 0)
		rc = write_props(t, c, &d, c == 0 ? revision : (prev ? prev->revision + 1 : 1), now,
				 prev);
	if (d.db) {
		int rc2 = db_close(&d, rc == 0);

		rc = rc ? rc : rc2;
	}
	if (rc == 0)
		rc = cvmfs_pub_read_file(AT_FDCWD, tmp, (size_t)1 << 34, &buf, &len);
	if (rc == 0) {
		cat->size = len;
		rc = cvmfs_pub_store_put_buf(s, CVMFS_SUFFIX_CATALOG, buf, len, &cat->hash);
	}
	free(buf);
	unlink(tmp);
	if (rc < 0)
		return cvmfs_pub_fail(t->e, rc, "%s: cannot write the catalog of %s: %s", t->o->repo,
				      path[0] ? path : "/", strerror(-rc));
	return 0;
}

/* see pub.h */
int pub_catalogs_write(struct pub_tree *t, struct cvmfs_pub_store *s, uint64_t revision,
		       uint64_t now)
{
	size_t c;
	int rc;

	/* Children are created after their parents: reverse order is bottom-up. */
	for (c = t->ncat; c-- > 0;)
		if ((rc = write_one(t, s, (uint32_t)c, revision, now)) < 0)
			return rc;
	return 0;
}
