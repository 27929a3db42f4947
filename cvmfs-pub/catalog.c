/* SPDX-License-Identifier: MIT */
/* cvmfs-pub/catalog.c: file catalogs (SQLite schema 2.5 r7): write bottom-up, read the previous revision for reuse. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "cvmfs-pub/internal.h"
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

/* ---- writing ---- */

static const struct cvmfs_pub_prev_cat *prev_cat_at(const struct cvmfs_pub_tree *t, const char *path)
{
	size_t i;

	for (i = 0; i < t->npcats; i++)
		if (strcmp(t->pcats[i].path, path) == 0)
			return &t->pcats[i];
	return NULL;
}

static void node_row(const struct cvmfs_pub_tree *t, uint32_t c, uint32_t idx, int mountpoint,
		     struct cvmfs_pub_row *r)
{
	const struct cvmfs_pub_node *nd = &t->nodes[idx];
	const struct cvmfs_pub_content *ct = nd->content != CVMFS_PUB_NONE ? &t->contents[nd->content] : NULL;
	enum cvmfs_hash_algo algo = t->o->algo;

	memset(r, 0, sizeof(*r));
	cvmfs_md5path(nd->path, strlen(nd->path), &r->p1, &r->p2);
	if (nd->parent != CVMFS_PUB_NONE) {
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

static void count_row(struct cvmfs_pub_catalog *c, const struct cvmfs_pub_row *r, const struct cvmfs_pub_content *ct)
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

static int db_row(struct cat_db *d, const struct cvmfs_pub_row *r)
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
static int for_rows(struct cvmfs_pub_tree *t, uint32_t c, struct cat_db *d, struct cvmfs_pub_digest *dg)
{
	struct cvmfs_pub_catalog *cat = &t->cats[c];
	struct cvmfs_pub_row r;
	size_t i, k;
	int rc;

	for (i = 0; i < cat->nnodes + t->ncat; i++) {
		uint32_t idx;
		int mp = i >= cat->nnodes;
		const struct cvmfs_pub_content *ct;

		if (mp) {
			k = i - cat->nnodes;
			if (k == 0 || t->cats[k].parent != c)
				continue;
			idx = t->cats[k].root;
		} else {
			idx = cat->nodes[i];
		}
		node_row(t, c, idx, mp, &r);
		ct = t->nodes[idx].content != CVMFS_PUB_NONE ? &t->contents[t->nodes[idx].content] : NULL;
		if (dg) {
			cvmfs_pub_dg_row(dg, &r);
			count_row(cat, &r, ct);
		}
		if (d && (rc = db_row(d, &r)) < 0)
			return rc;
		if (!ct || !(r.flags & CVMFS_FLAG_CHUNKED))
			continue;
		for (k = 0; k < ct->nchunks; k++) {
			size_t hl = cvmfs_hash_len(t->o->algo);

			if (dg)
				cvmfs_pub_dg_chunk(dg, r.p1, r.p2, &ct->chunks[k], hl);
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

static int nested_refs(struct cvmfs_pub_tree *t, uint32_t c, struct cat_db *d, struct cvmfs_pub_digest *dg)
{
	size_t k;
	int i, rc;

	for (k = 1; k < t->ncat; k++) {
		struct cvmfs_pub_catalog *ch = &t->cats[k];
		char hex[CVMFS_HASH_HEX_MAX];

		if (ch->parent != c)
			continue;
		cvmfs_hash_fmt(&ch->hash, hex, sizeof(hex));
		if (dg) {
			cvmfs_pub_dg_nested(dg, t->nodes[ch->root].path, hex, (int64_t)ch->size);
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

static int write_props(struct cvmfs_pub_tree *t, uint32_t c, struct cat_db *d, uint64_t revision,
		       uint64_t now, const struct cvmfs_pub_prev_cat *prev)
{
	char num[32], hex[CVMFS_HASH_HEX_MAX], name[64];
	struct cvmfs_pub_catalog *cat = &t->cats[c];
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

/* Catalogs are compressed with a full flush after their first CAT_HEAD
 * bytes (cvmfs_pub_deflate_split): SQLite keeps page 1 (its header) and
 * page 2 (the properties table, created first) there, so a root catalog
 * that only gets a new revision is re-made from the previous object's
 * compressed rest without compressing it again. */
#define CAT_HEAD 16384

static int store_catalog(struct cvmfs_pub_store *s, const unsigned char *buf, size_t len,
			 struct cvmfs_hash *h)
{
	unsigned char *z;
	size_t zl, zh;
	int rc;

	if (len <= CAT_HEAD)
		return cvmfs_pub_store_put_buf(s, CVMFS_SUFFIX_CATALOG, buf, len, h);
	if ((rc = cvmfs_pub_deflate_split(buf, len, CAT_HEAD, 1, &z, &zl, &zh)) < 0)
		return rc;
	rc = cvmfs_pub_store_put_z(s, CVMFS_SUFFIX_CATALOG, z, zl, h);
	free(z);
	return rc;
}

/* The previous root catalog's database with new revision properties (its
 * other rows are the same: the caller compared their digest), in *out. 1:
 * not applicable (another schema, not the revision prev says). */
static int props_bump(struct cvmfs_pub_store *s,
		      const struct cvmfs_pub_prev_cat *prev, const unsigned char *old, size_t len,
		      uint64_t revision, uint64_t now, unsigned char **out, size_t *outlen)
{
	static const char *const keys[] = { "revision", "last_modified", "previous_revision" };
	struct cvmfs_catalog_props p;
	char tmp[128], val[3][CVMFS_HASH_HEX_MAX + 32];
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int fd, rc, i;

	snprintf(val[0], sizeof(val[0]), "%llu", (unsigned long long)revision);
	snprintf(val[1], sizeof(val[1]), "%llu", (unsigned long long)now);
	cvmfs_hash_fmt(&prev->hash, val[2], sizeof(val[2]));
	snprintf(tmp, sizeof(tmp), "/proc/self/fd/%d/c.%d.root.db", s->tmpfd, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	rc = cvmfs_pub_write_all(fd, old, len);
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && sqlite3_open_v2(tmp, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
		rc = -EIO;
	if (rc == 0 && (cvmfs_catalog_props_read(db, &p) < 0 ||
			p.schema_revision != CVMFS_CATALOG_SCHEMA_REVISION ||
			p.revision != prev->revision))
		rc = 1;
	if (rc == 0 && (exec(db, "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; BEGIN;") < 0 ||
			sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO properties VALUES (?,?)", -1,
					   &st, NULL) != SQLITE_OK))
		rc = -EIO;
	for (i = 0; rc == 0 && i < 3; i++) {
		sqlite3_bind_text(st, 1, keys[i], -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, val[i], -1, SQLITE_STATIC);
		rc = step(st);
	}
	sqlite3_finalize(st);
	if (rc == 0 && exec(db, "COMMIT;") < 0)
		rc = -EIO;
	if (db && sqlite3_close(db) != SQLITE_OK && rc == 0)
		rc = -EIO;
	if (rc == 0)
		rc = cvmfs_pub_read_file(AT_FDCWD, tmp, len + 1, out, outlen);
	unlink(tmp);
	return rc == -EFBIG ? 1 : rc;
}

/* An unchanged root catalog (same rows, chunks and nested references as
 * prev's): the previous object with new revision properties. Only its
 * head is compressed again; the rest, bytes unchanged, is the previous
 * object's. 0: done (t->cats[0]), 1: not applicable, -errno. */
static int root_splice(struct cvmfs_pub_tree *t, struct cvmfs_pub_store *s,
		       const struct cvmfs_pub_prev_cat *prev, uint64_t revision, uint64_t now)
{
	struct cvmfs_pub_catalog *cat = &t->cats[0];
	unsigned char *z = NULL, *old = NULL, *nw = NULL, *ohead = NULL, *nhead = NULL;
	unsigned char *obj = NULL, *check = NULL;
	size_t zl, len, nlen, ohl, ozh, nhl, nzh, objl = 0, checkl;
	uLong adler;
	int rc;

	rc = cvmfs_pub_store_read(s, &prev->hash, CVMFS_SUFFIX_CATALOG, (size_t)1 << 34, &z, &zl);
	if (rc == 0)
		rc = cvmfs_zlib_inflate(z, zl, (size_t)1 << 34, &old, &len, NULL);
	if (rc < 0)
		goto out;
	rc = 1;
	if (len <= CAT_HEAD || zl < 6)
		goto out;
	/* the previous object must be split where this one is */
	if ((rc = cvmfs_pub_deflate_split(old, CAT_HEAD, CAT_HEAD, 0, &ohead, &ohl, &ozh)) < 0)
		goto out;
	rc = 1;
	if (ohl >= zl - 4 || memcmp(ohead, z, ohl) != 0)
		goto out;
	if ((rc = props_bump(s, prev, old, len, revision, now, &nw, &nlen)) != 0)
		goto out;
	rc = 1;
	if (nlen != len || memcmp(nw + CAT_HEAD, old + CAT_HEAD, len - CAT_HEAD) != 0)
		goto out;
	if ((rc = cvmfs_pub_deflate_split(nw, CAT_HEAD, CAT_HEAD, 0, &nhead, &nhl, &nzh)) < 0)
		goto out;
	objl = nhl + (zl - ohl);
	if (!(obj = malloc(objl))) {
		rc = -ENOMEM;
		goto out;
	}
	adler = adler32_combine(adler32(adler32(0, NULL, 0), nw, CAT_HEAD),
				adler32_z(adler32(0, NULL, 0), old + CAT_HEAD, len - CAT_HEAD),
				(z_off_t)(len - CAT_HEAD));
	memcpy(obj, nhead, nhl);
	memcpy(obj + nhl, z + ohl, zl - ohl - 4);
	obj[objl - 4] = (unsigned char)(adler >> 24);
	obj[objl - 3] = (unsigned char)(adler >> 16);
	obj[objl - 2] = (unsigned char)(adler >> 8);
	obj[objl - 1] = (unsigned char)adler;
	/* what a client will read: exactly the new database */
	rc = cvmfs_zlib_inflate(obj, objl, len + 1, &check, &checkl, NULL);
	if (rc < 0 || checkl != nlen || memcmp(check, nw, nlen) != 0) {
		rc = 1;
		goto out;
	}
	if ((rc = cvmfs_pub_store_put_z(s, CVMFS_SUFFIX_CATALOG, obj, objl, &cat->hash)) == 0)
		cat->size = nlen;
	if (rc == 0 && t->o->verbose)
		fprintf(stderr, "cvmboot publish: root catalog unchanged but for its revision: "
			"%zu of %zu bytes compressed again\n", (size_t)CAT_HEAD, len);
out:
	free(z);
	free(old);
	free(nw);
	free(ohead);
	free(nhead);
	free(obj);
	free(check);
	return rc;
}

static int write_one(struct cvmfs_pub_tree *t, struct cvmfs_pub_store *s, uint32_t c, uint64_t revision,
		     uint64_t now)
{
	struct cvmfs_pub_catalog *cat = &t->cats[c];
	const char *path = t->nodes[cat->root].path;
	const struct cvmfs_pub_prev_cat *prev = prev_cat_at(t, path);
	struct cvmfs_pub_digest dg = { { 0 } };
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
			return cvmfs_pub_object_to_tmp(s, &prev->hash, CVMFS_SUFFIX_CATALOG, tmp,
						 sizeof(tmp), &cat->size) < 0 ? -EIO : (unlink(tmp), 0);
		return 0;
	}
	/* an optimisation only: whatever stops it, the full write follows */
	if (c == 0 && prev && memcmp(prev->digest, dg.acc, 20) == 0 &&
	    root_splice(t, s, prev, revision, now) == 0)
		return 0;
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
		rc = store_catalog(s, buf, len, &cat->hash);
	}
	free(buf);
	unlink(tmp);
	if (rc < 0)
		return cvmfs_pub_fail(t->e, rc, "%s: cannot write the catalog of %s: %s", t->o->repo,
				      path[0] ? path : "/", strerror(-rc));
	return 0;
}

/* see internal.h */
int cvmfs_pub_catalogs_write(struct cvmfs_pub_tree *t, struct cvmfs_pub_store *s, uint64_t revision,
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
