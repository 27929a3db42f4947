/* SPDX-License-Identifier: MIT */
/* cvmfs-pub/prev.c: reads the previous revision's catalogs: reuse index of files and content digests of catalogs. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cvmfs-pub/internal.h"
#include "sqlite3.h"

static void dg_begin(struct cvmfs_pub_digest *d)
{
	mbedtls_sha1_init(&d->c);
	mbedtls_sha1_starts_ret(&d->c);
}

static void dg_int(struct cvmfs_pub_digest *d, int64_t v)
{
	unsigned char b[8];
	int i;

	for (i = 0; i < 8; i++)
		b[i] = (unsigned char)((uint64_t)v >> (8 * i));
	mbedtls_sha1_update_ret(&d->c, b, 8);
}

static void dg_blob(struct cvmfs_pub_digest *d, const void *p, size_t n, int null)
{
	dg_int(d, null ? -1 : (int64_t)n);
	if (!null && n)
		mbedtls_sha1_update_ret(&d->c, p, n);
}

static void dg_end(struct cvmfs_pub_digest *d)
{
	unsigned char h[20];
	int i;

	mbedtls_sha1_finish_ret(&d->c, h);
	mbedtls_sha1_free(&d->c);
	for (i = 0; i < 20; i++)
		d->acc[i] ^= h[i];
}

/* see internal.h */
void cvmfs_pub_dg_row(struct cvmfs_pub_digest *d, const struct cvmfs_pub_row *r)
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

/* see internal.h */
void cvmfs_pub_dg_chunk(struct cvmfs_pub_digest *d, int64_t p1, int64_t p2, const struct cvmfs_pub_chunk *c,
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

/* see internal.h */
void cvmfs_pub_dg_nested(struct cvmfs_pub_digest *d, const char *path, const char *hex, int64_t size)
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

static int pf_insert(struct cvmfs_pub_tree *t, const struct cvmfs_pub_prev_file *f, size_t *count)
{
	size_t i;

	if ((*count + 1) * 2 > t->pfcap) {
		size_t ncap = t->pfcap ? t->pfcap * 2 : 4096, j;
		struct cvmfs_pub_prev_file *n = calloc(ncap, sizeof(*n));

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

/* see internal.h */
const struct cvmfs_pub_prev_file *cvmfs_pub_prev_find(const struct cvmfs_pub_tree *t, int64_t p1, int64_t p2)
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

/* see internal.h */
int cvmfs_pub_object_to_tmp(struct cvmfs_pub_store *s, const struct cvmfs_hash *h, char suffix,
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

static void row_from_stmt(sqlite3_stmt *st, struct cvmfs_pub_row *r, int has_ns)
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

static int prev_chunks(sqlite3 *db, struct cvmfs_pub_prev_file *f, struct cvmfs_pub_digest *d, size_t hl)
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
		struct cvmfs_pub_chunk c = { (uint64_t)sqlite3_column_int64(st, 0),
				       (uint64_t)sqlite3_column_int64(st, 1), f->h };

		if (sqlite3_column_bytes(st, 2) != (int)hl) {
			rc = -EBADMSG;
			break;
		}
		memcpy(c.h.d, sqlite3_column_blob(st, 2), hl);
		if (f->nchunks == cap) {
			struct cvmfs_pub_chunk *p;

			cap = cap ? cap * 2 : 8;
			p = realloc(f->chunks, cap * sizeof(*p));
			if (!p) {
				rc = -ENOMEM;
				break;
			}
			f->chunks = p;
		}
		f->chunks[f->nchunks++] = c;
		cvmfs_pub_dg_chunk(d, f->p1, f->p2, &c, hl);
	}
	sqlite3_finalize(st);
	return rc;
}

static int prev_rows(struct cvmfs_pub_tree *t, sqlite3 *db, int has_ns, struct cvmfs_pub_digest *d,
		     size_t *count)
{
	sqlite3_stmt *st;
	struct cvmfs_pub_row r;
	int rc = 0;

	if (sqlite3_prepare_v2(db, has_ns ?
			       "SELECT md5path_1, md5path_2, parent_1, parent_2, hardlinks, hash, size, "
			       "mode, mtime, mtimens, flags, name, symlink, uid, gid, xattr FROM catalog" :
			       "SELECT md5path_1, md5path_2, parent_1, parent_2, hardlinks, hash, size, "
			       "mode, mtime, 0, flags, name, symlink, uid, gid, NULL FROM catalog",
			       -1, &st, NULL) != SQLITE_OK)
		return -EBADMSG;
	while (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
		struct cvmfs_pub_prev_file f;
		enum cvmfs_hash_algo a;

		row_from_stmt(st, &r, has_ns);
		cvmfs_pub_dg_row(d, &r);
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

static int prev_catalog(struct cvmfs_pub_tree *t, struct cvmfs_pub_store *s, const char *path,
			const struct cvmfs_hash *h, uint64_t size, size_t *count, int depth)
{
	char tmp[256];
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	struct cvmfs_pub_digest d = { { 0 } };
	struct cvmfs_pub_prev_cat *pc;
	struct cvmfs_catalog_props props;
	int rc, has_ns = 0;

	if (depth > CVMFS_PUB_NEST_MAX)
		return -ELOOP;
	rc = cvmfs_pub_object_to_tmp(s, h, CVMFS_SUFFIX_CATALOG, tmp, sizeof(tmp), NULL);
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
	if (cvmfs_catalog_props_read(db, &props) < 0) {
		rc = cvmfs_pub_fail(t->e, -EPROTONOSUPPORT, "previous revision: catalog %s has "
				    "schema %g revision %d, not %s revision 2..%d; publish into a new "
				    "repository", path[0] ? path : "/", props.schema,
				    props.schema_revision, CVMFS_CATALOG_SCHEMA_STR,
				    CVMFS_CATALOG_SCHEMA_REVISION);
		goto out;
	}
	pc->revision = props.revision;
	pc->schema_revision = props.schema_revision;
	has_ns = props.schema_revision >= 7;
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
		cvmfs_pub_dg_nested(&d, np, hx, sqlite3_column_int64(st, 2));
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

/* see internal.h */
int cvmfs_pub_prev_load(struct cvmfs_pub_tree *t, struct cvmfs_pub_store *s, const struct cvmfs_hash *root)
{
	size_t count = 0;

	return prev_catalog(t, s, "", root, 0, &count, 0);
}
