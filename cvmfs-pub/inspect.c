/* SPDX-License-Identifier: MIT */
/* cvmfs-pub/inspect.c: `cvmboot inspect`: show a repository and verify every signature and object. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "cvmfs-pub/internal.h"
#include "sqlite3.h"

struct insp {
	const struct cvmfs_pub_inspect_opts *o;
	struct cvmfs_pub_err *e;
	struct cvmfs_pub_store s;
	unsigned char *seen;		/* set of verified objects: 21 bytes (suffix + digest) */
	size_t nseen, seencap;
	unsigned char *buf, *zout;
	uint64_t catalogs, entries, objects, bytes;
	struct cvmfs_pub_mirror mirror;	/* URL mode (mirror.url != NULL) */
};

/* URL mode: makes sure rel is in the mirror; a directory has it already. */
static void fetch(struct insp *in, const char *rel)
{
	if (in->mirror.url)
		cvmfs_pub_mirror_get(&in->mirror, rel);
}


#define SEEN_W 21

static size_t seen_slot(const unsigned char *k, size_t cap)
{
	uint64_t v;

	memcpy(&v, k + 1, sizeof(v));
	return (size_t)((v ^ k[0]) & (cap - 1));
}

/* Returns 1 if (suffix, h) was seen, else records it and returns 0. */
static int seen(struct insp *in, const struct cvmfs_hash *h, char suffix)
{
	unsigned char k[SEEN_W];
	size_t i;

	k[0] = (unsigned char)suffix ^ (unsigned char)(h->algo << 5);
	memcpy(k + 1, h->d, 20);
	if ((in->nseen + 1) * 2 > in->seencap) {
		size_t ncap = in->seencap ? in->seencap * 2 : 4096, j;
		unsigned char *n = calloc(ncap, SEEN_W + 1);

		if (!n)
			return 0;
		for (j = 0; j < in->seencap; j++) {
			unsigned char *o = in->seen + j * (SEEN_W + 1);

			if (!o[SEEN_W])
				continue;
			for (i = seen_slot(o, ncap); n[i * (SEEN_W + 1) + SEEN_W]; i = (i + 1) & (ncap - 1))
				;
			memcpy(n + i * (SEEN_W + 1), o, SEEN_W + 1);
		}
		free(in->seen);
		in->seen = n;
		in->seencap = ncap;
	}
	for (i = seen_slot(k, in->seencap); in->seen[i * (SEEN_W + 1) + SEEN_W];
	     i = (i + 1) & (in->seencap - 1))
		if (memcmp(in->seen + i * (SEEN_W + 1), k, SEEN_W) == 0)
			return 1;
	memcpy(in->seen + i * (SEEN_W + 1), k, SEEN_W);
	in->seen[i * (SEEN_W + 1) + SEEN_W] = 1;
	in->nseen++;
	return 0;
}

#define IO_BUF (1u << 20)

/* Streams an object: hash over the stored bytes, inflate to count the
 * plain size. want_size < 0: any size. */
static int check_object(struct insp *in, const struct cvmfs_hash *h, char suffix,
			int64_t want_size, const char *what)
{
	char rel[CVMFS_OBJ_PATH_MAX];
	struct cvmfs_hash_ctx hc;
	struct cvmfs_hash got;
	z_stream z;
	uint64_t plain = 0;
	int fd, rc = 0, zr = Z_OK;

	if (seen(in, h, suffix))
		return 0;
	cvmfs_hash_objpath(h, suffix, rel, sizeof(rel));
	fetch(in, rel);
	fd = openat(in->s.repofd, rel, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return cvmfs_pub_fail(in->e, -ENOENT, "object %s (%s) is missing: %s", rel, what,
				      strerror(errno));
	memset(&z, 0, sizeof(z));
	inflateInit(&z);
	cvmfs_hash_init(&hc, h->algo);
	for (;;) {
		ssize_t r = read(fd, in->buf, IO_BUF);

		if (r < 0) {
			rc = cvmfs_pub_fail(in->e, -errno, "object %s (%s): read error: %s", rel, what,
					    strerror(errno));
			break;
		}
		if (r == 0)
			break;
		in->bytes += (uint64_t)r;
		cvmfs_hash_update(&hc, in->buf, (size_t)r);
		z.next_in = in->buf;
		z.avail_in = (uInt)r;
		while (z.avail_in > 0 && zr == Z_OK) {
			z.next_out = in->zout;
			z.avail_out = IO_BUF;
			zr = inflate(&z, Z_NO_FLUSH);
			plain += IO_BUF - z.avail_out;
		}
	}
	close(fd);
	inflateEnd(&z);
	cvmfs_hash_final(&hc, &got);
	if (rc < 0)
		return rc;
	in->objects++;
	if (!cvmfs_hash_eq(&got, h))
		return cvmfs_pub_fail(in->e, -EBADMSG, "object %s (%s): content does not match its "
				      "hash (corrupt or tampered)", rel, what);
	if (zr != Z_STREAM_END)
		return cvmfs_pub_fail(in->e, -EBADMSG, "object %s (%s): not a complete zlib stream",
				      rel, what);
	if (want_size >= 0 && plain != (uint64_t)want_size)
		return cvmfs_pub_fail(in->e, -EBADMSG, "object %s (%s): inflates to %llu bytes, the "
				      "catalog says %lld", rel, what, (unsigned long long)plain,
				      (long long)want_size);
	return 0;
}

static int check_chunks(struct insp *in, sqlite3 *db, int64_t p1, int64_t p2, uint32_t flags,
			uint64_t size, const char *path)
{
	sqlite3_stmt *st;
	uint64_t next = 0;
	int rc = 0;
	size_t hl = cvmfs_hash_len(CVMFS_FLAG_ALGO(flags));

	if (sqlite3_prepare_v2(db, "SELECT offset, size, hash FROM chunks WHERE md5path_1=? AND "
			       "md5path_2=? ORDER BY offset ASC", -1, &st, NULL) != SQLITE_OK)
		return cvmfs_pub_fail(in->e, -EBADMSG, "catalog has no chunks table");
	sqlite3_bind_int64(st, 1, p1);
	sqlite3_bind_int64(st, 2, p2);
	while (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
		struct cvmfs_hash h = { .algo = CVMFS_FLAG_ALGO(flags) };
		uint64_t off = (uint64_t)sqlite3_column_int64(st, 0);
		uint64_t sz = (uint64_t)sqlite3_column_int64(st, 1);

		if (off != next || sqlite3_column_bytes(st, 2) != (int)hl) {
			rc = cvmfs_pub_fail(in->e, -EBADMSG, "%s: chunk list has a gap or a bad hash at "
					    "offset %llu", path, (unsigned long long)next);
			break;
		}
		memcpy(h.d, sqlite3_column_blob(st, 2), hl);
		rc = check_object(in, &h, CVMFS_SUFFIX_PARTIAL, (int64_t)sz, path);
		next = off + sz;
	}
	sqlite3_finalize(st);
	if (rc == 0 && next != size)
		rc = cvmfs_pub_fail(in->e, -EBADMSG, "%s: chunks cover %llu of %llu bytes", path,
				    (unsigned long long)next, (unsigned long long)size);
	return rc;
}

static int check_catalog(struct insp *in, const struct cvmfs_hash *h, const char *path,
			 int64_t want_size, int depth);

/* Walks the rows below one directory by parent md5, checking md5path. */
static int walk_rows(struct insp *in, sqlite3 *db, const char *dir, int64_t *rows, int depth)
{
	sqlite3_stmt *st;
	int64_t p1, p2;
	int rc = 0;

	/* A path below PATH_MAX has at most PATH_MAX / 2 components ("/x" each):
	 * as deep as any valid repository, publish's own included. */
	if (depth > 4096 / 2)
		return cvmfs_pub_fail(in->e, -ELOOP, "%s: directory tree too deep", dir);
	cvmfs_md5path(dir, strlen(dir), &p1, &p2);
	if (sqlite3_prepare_v2(db, "SELECT md5path_1, md5path_2, flags, hash, size, name, symlink "
			       "FROM catalog WHERE parent_1=? AND parent_2=?", -1, &st, NULL) !=
	    SQLITE_OK)
		return cvmfs_pub_fail(in->e, -EBADMSG, "catalog of %s: no catalog table",
				      dir[0] ? dir : "/");
	sqlite3_bind_int64(st, 1, p1);
	sqlite3_bind_int64(st, 2, p2);
	while (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 5);
		uint32_t flags = (uint32_t)sqlite3_column_int64(st, 2);
		uint64_t size = (uint64_t)sqlite3_column_int64(st, 4);
		char *path;
		int64_t q1, q2;

		if (!name)
			name = "";
		if (asprintf(&path, "%s/%s", dir, name) < 0)
			return -ENOMEM;
		cvmfs_md5path(path, strlen(path), &q1, &q2);
		(*rows)++;
		in->entries++;
		if (q1 != sqlite3_column_int64(st, 0) || q2 != sqlite3_column_int64(st, 1))
			rc = cvmfs_pub_fail(in->e, -EBADMSG, "%s: md5path columns do not match the "
					    "path", path);
		if (rc == 0 && in->o->tree)
			printf("  %s%s%s%s\n", path, (flags & CVMFS_FLAG_DIR) ? "/" : "",
			       (flags & CVMFS_FLAG_LINK) ? " -> " : "",
			       (flags & CVMFS_FLAG_LINK) ? (const char *)sqlite3_column_text(st, 6) : "");
		if (rc == 0 && (flags & CVMFS_FLAG_DIR) && !(flags & CVMFS_FLAG_NESTED_MOUNTPOINT))
			rc = walk_rows(in, db, path, rows, depth + 1);
		else if (rc == 0 && (flags & (CVMFS_FLAG_FILE | CVMFS_FLAG_LINK | CVMFS_FLAG_SPECIAL |
					     CVMFS_FLAG_EXTERNAL)) == CVMFS_FLAG_FILE && in->o->verify) {
			if (flags & CVMFS_FLAG_CHUNKED) {
				rc = check_chunks(in, db, q1, q2, flags, size, path);
			} else if (sqlite3_column_type(st, 3) == SQLITE_BLOB) {
				struct cvmfs_hash fh = { .algo = CVMFS_FLAG_ALGO(flags) };
				size_t hl = cvmfs_hash_len(fh.algo);

				if (sqlite3_column_bytes(st, 3) != (int)hl)
					rc = cvmfs_pub_fail(in->e, -EBADMSG, "%s: bad hash column", path);
				else {
					memcpy(fh.d, sqlite3_column_blob(st, 3), hl);
					rc = check_object(in, &fh, CVMFS_SUFFIX_NONE,
							  CVMFS_FLAG_COMP(flags) == CVMFS_COMP_ZLIB ?
							  (int64_t)size : -1, path);
				}
			} else {
				rc = cvmfs_pub_fail(in->e, -EBADMSG, "%s: regular file without hash",
						    path);
			}
		}
		free(path);
	}
	sqlite3_finalize(st);
	return rc;
}

static int catalog_body(struct insp *in, sqlite3 *db, const char *path, int depth)
{
	sqlite3_stmt *st;
	struct cvmfs_catalog_props props;
	int64_t rows = 0, total = -1, srev = 0, nstat = 0;
	int rc;

	if (cvmfs_catalog_props_read(db, &props) < 0)
		return cvmfs_pub_fail(in->e, -EBADMSG, "catalog of %s: schema %g revision %d in its "
				      "properties, not the %s revision 2..%d the client reads",
				      path[0] ? path : "/", props.schema, props.schema_revision,
				      CVMFS_CATALOG_SCHEMA_STR, CVMFS_CATALOG_SCHEMA_REVISION);
	srev = props.schema_revision;
	if (srev >= 5 && sqlite3_prepare_v2(db, "SELECT count(*) FROM statistics", -1, &st, NULL) ==
	    SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			nstat = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
		if (nstat < 2 * CVMFS_COUNTERS)
			return cvmfs_pub_fail(in->e, -EBADMSG, "catalog of %s: %lld statistics rows, "
					      "schema revision %lld needs %d", path[0] ? path : "/",
					      (long long)nstat, (long long)srev, 2 * CVMFS_COUNTERS);
	}
	/* the catalog's own root row */
	{
		int64_t p1, p2;

		cvmfs_md5path(path, strlen(path), &p1, &p2);
		if (sqlite3_prepare_v2(db, "SELECT count(*) FROM catalog WHERE md5path_1=? AND "
				       "md5path_2=?", -1, &st, NULL) != SQLITE_OK)
			return cvmfs_pub_fail(in->e, -EBADMSG, "catalog of %s: not a catalog",
					      path[0] ? path : "/");
		sqlite3_bind_int64(st, 1, p1);
		sqlite3_bind_int64(st, 2, p2);
		if (sqlite3_step(st) == SQLITE_ROW)
			rows = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
		if (rows != 1)
			return cvmfs_pub_fail(in->e, -EBADMSG, "catalog of %s: no root entry",
					      path[0] ? path : "/");
	}
	if ((rc = walk_rows(in, db, path, &rows, 0)) < 0)
		return rc;
	if (sqlite3_prepare_v2(db, "SELECT count(*) FROM catalog", -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			total = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	if (total != rows)
		return cvmfs_pub_fail(in->e, -EBADMSG, "catalog of %s: %lld rows, only %lld reachable "
				      "from its root (md5path/parent columns broken)",
				      path[0] ? path : "/", (long long)total, (long long)rows);
	if (sqlite3_prepare_v2(db, "SELECT path, sha1, size FROM nested_catalogs", -1, &st, NULL) !=
	    SQLITE_OK)
		return cvmfs_pub_fail(in->e, -EBADMSG, "catalog of %s: no nested_catalogs table",
				      path[0] ? path : "/");
	while (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
		const char *np = (const char *)sqlite3_column_text(st, 0);
		const char *hx = (const char *)sqlite3_column_text(st, 1);
		struct cvmfs_hash nh;
		char *npath;

		if (!np || !hx || cvmfs_hash_parse(hx, strlen(hx), &nh) < 0) {
			rc = cvmfs_pub_fail(in->e, -EBADMSG, "catalog of %s: bad nested catalog row",
					    path[0] ? path : "/");
			break;
		}
		npath = strdup(np);
		if (!npath) {
			rc = -ENOMEM;
			break;
		}
		rc = check_catalog(in, &nh, npath, sqlite3_column_int64(st, 2), depth + 1);
		free(npath);
	}
	sqlite3_finalize(st);
	return rc;
}

static int check_catalog(struct insp *in, const struct cvmfs_hash *h, const char *path,
			 int64_t want_size, int depth)
{
	char tmp[256], what[4200];
	sqlite3 *db = NULL;
	uint64_t size;
	int rc;

	if (depth > CVMFS_PUB_NEST_MAX)
		return cvmfs_pub_fail(in->e, -ELOOP, "nested catalogs too deep at %s", path);
	snprintf(what, sizeof(what), "catalog of %s", path[0] ? path : "/");
	if (seen(in, h, CVMFS_SUFFIX_CATALOG))
		return 0;
	{
		unsigned char *z;
		size_t zl;
		char rel[CVMFS_OBJ_PATH_MAX];

		cvmfs_hash_objpath(h, CVMFS_SUFFIX_CATALOG, rel, sizeof(rel));
		fetch(in, rel);
		rc = cvmfs_pub_read_file(in->s.repofd, rel, (size_t)1 << 34, &z, &zl);
		if (rc < 0)
			return cvmfs_pub_fail(in->e, rc, "object %s (%s) is missing or unreadable: %s",
					      rel, what, strerror(-rc));
		rc = cvmfs_object_check(z, zl, h, NULL);
		free(z);
		if (rc < 0)
			return cvmfs_pub_fail(in->e, rc, "object %s (%s): content does not match its "
					      "hash (corrupt or tampered)", rel, what);
	}
	rc = cvmfs_pub_object_to_tmp(&in->s, h, CVMFS_SUFFIX_CATALOG, tmp, sizeof(tmp), &size);
	if (rc < 0)
		return cvmfs_pub_fail(in->e, rc, "%s: not a valid zlib object", what);
	in->catalogs++;
	if (in->o->verify && want_size > 0 && (uint64_t)want_size != size) {
		unlink(tmp);
		return cvmfs_pub_fail(in->e, -EBADMSG, "%s: %llu bytes, its parent says %lld", what,
				      (unsigned long long)size, (long long)want_size);
	}
	if (sqlite3_open_v2(tmp, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		rc = cvmfs_pub_fail(in->e, -EBADMSG, "%s: not an SQLite database", what);
	else
		rc = catalog_body(in, db, path, depth);
	sqlite3_close(db);
	unlink(tmp);
	return rc;
}

static void show_time(const char *label, time_t t)
{
	char buf[32];
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S UTC", &tm);
	printf("%s%s\n", label, buf);
}

static int load_pubkeys(struct insp *in, const char *fqrn, struct cvmfs_pubkeys *keys,
			char *used, size_t ulen)
{
	const struct cvmfs_pub_inspect_opts *o = in->o;
	unsigned char *buf;
	size_t len;
	int rc;

	if (o->pubkey)
		snprintf(used, ulen, "%s", o->pubkey);
	else if (o->keydir)
		snprintf(used, ulen, "%s/%s.pub", o->keydir, fqrn);
	else
		snprintf(used, ulen, "/etc/cvmfs/keys/%s.pub", fqrn);
	rc = cvmfs_pub_read_file(AT_FDCWD, used, 1 << 20, &buf, &len);
	if (rc < 0)
		return rc;
	rc = cvmfs_pubkeys_add(keys, buf, len, NULL);
	free(buf);
	return rc;
}

static int check_whitelist(struct insp *in, const struct cvmfs_manifest *m,
			   const struct cvmfs_cert *cert)
{
	struct cvmfs_whitelist w;
	struct cvmfs_pubkeys keys;
	enum cvmfs_fmt_why why = CVMFS_FMT_WHY_NONE;
	unsigned char *raw = NULL;
	char used[4096], fp[80];
	size_t len, i;
	time_t now = time(NULL);
	int rc;

	cvmfs_pubkeys_init(&keys);
	fetch(in, ".cvmfswhitelist");
	rc = cvmfs_pub_read_file(in->s.repofd, ".cvmfswhitelist", CVMFS_WL_MAX, &raw, &len);
	if (rc < 0) {
		rc = cvmfs_pub_fail(in->e, rc, ".cvmfswhitelist: cannot read: %s", strerror(-rc));
		goto out;
	}
	if ((rc = cvmfs_whitelist_parse(raw, len, &w, &why)) < 0) {
		rc = cvmfs_pub_fail(in->e, rc, ".cvmfswhitelist: %s", cvmfs_fmt_why_str(why));
		goto out;
	}
	show_time("whitelist created:  ", w.created);
	show_time("whitelist expires:  ", w.expires);
	for (i = 0; i < w.nfp; i++) {
		cvmfs_fingerprint_fmt(&w.fp[i], fp, sizeof(fp));
		printf("whitelisted cert:   %s\n", fp);
	}
	rc = load_pubkeys(in, m->fqrn, &keys, used, sizeof(used));
	if (rc < 0) {
		if (in->o->verify)
			rc = cvmfs_pub_fail(in->e, rc, "no master public key to check the whitelist "
					    "(%s: %s); pass --pubkey FILE.pub or --keys DIR", used,
					    strerror(-rc));
		else
			printf("whitelist signature: not checked (no key at %s)\n", used), rc = 0;
		goto out;
	}
	rc = cvmfs_whitelist_verify(&w, raw, m->fqrn, &keys, now,
				    in->o->expired_ok ? CVMFS_WL_EXPIRED_OK : 0, &why);
	if (rc < 0) {
		rc = cvmfs_pub_fail(in->e, rc, ".cvmfswhitelist: %s (master key %s)",
				    cvmfs_fmt_why_str(why), used);
		goto out;
	}
	if (now - now % 3600 >= w.expires - w.expires % 3600)
		fprintf(stderr, "cvmboot inspect: WARNING: the whitelist EXPIRED; accepted only "
			"because of --expired-whitelist-ok (for old fixtures, never for clients)\n");
	printf("whitelist signature: OK (master key %s)\n", used);
	if (!cvmfs_whitelist_has_cert(&w, cert, &why)) {
		rc = cvmfs_pub_fail(in->e, -EKEYREJECTED, "the manifest's certificate is not in the "
				    "whitelist (certificate swapped?)");
		goto out;
	}
	printf("certificate:        listed in the whitelist\n");
out:
	cvmfs_pubkeys_fini(&keys);
	free(raw);
	return rc;
}

static int load_cert(struct insp *in, const struct cvmfs_manifest *m, struct cvmfs_cert *cert)
{
	enum cvmfs_fmt_why why = CVMFS_FMT_WHY_NONE;
	char rel[CVMFS_OBJ_PATH_MAX], fp[80], name[512];
	struct cvmfs_hash f;
	unsigned char *z;
	size_t zl;
	int rc;

	if (!(m->have & CVMFS_MF_X))
		return cvmfs_pub_fail(in->e, -EBADMSG, ".cvmfspublished: no certificate (X)");
	cvmfs_hash_objpath(&m->cert, CVMFS_SUFFIX_CERT, rel, sizeof(rel));
	fetch(in, rel);
	rc = cvmfs_pub_read_file(in->s.repofd, rel, 1 << 20, &z, &zl);
	if (rc < 0)
		return cvmfs_pub_fail(in->e, rc, "certificate object %s: %s", rel, strerror(-rc));
	rc = cvmfs_cert_load_object(cert, z, zl, &m->cert, &why);
	free(z);
	if (rc < 0)
		return cvmfs_pub_fail(in->e, rc, "certificate object %s: %s", rel,
				      cvmfs_fmt_why_str(why));
	cvmfs_cert_fingerprint(cert, CVMFS_HASH_SHA1, &f);
	cvmfs_fingerprint_fmt(&f, fp, sizeof(fp));
	mbedtls_x509_dn_gets(name, sizeof(name), &cert->crt.subject);
	printf("certificate:        %s\ncert fingerprint:   %s\n", name, fp);
	return 0;
}

static int check_manifest(struct insp *in, unsigned char *raw, size_t len,
			  struct cvmfs_manifest *m, struct cvmfs_cert *cert)
{
	enum cvmfs_fmt_why why = CVMFS_FMT_WHY_NONE;
	char hex[CVMFS_HASH_HEX_MAX];
	int rc;

	if ((rc = cvmfs_manifest_parse(raw, len, m, &why)) < 0)
		return cvmfs_pub_fail(in->e, rc, ".cvmfspublished: %s", cvmfs_fmt_why_str(why));
	printf("repository:         %s\n", m->fqrn);
	cvmfs_hash_fmt(&m->root, hex, sizeof(hex));
	printf("revision:           %llu\nroot catalog:       %s (%llu bytes)\n",
	       (unsigned long long)m->revision, hex, (unsigned long long)m->root_size);
	show_time("published:          ", (time_t)m->timestamp);
	printf("ttl:                %llu s\n", (unsigned long long)m->ttl);
	/* Body hash before anything the body points to: a changed byte in
	 * the body is reported as that, not as a missing object. */
	rc = cvmfs_manifest_verify(m, raw, NULL, NULL, &why);
	if (rc < 0 && why != CVMFS_FMT_WHY_CERT_PARSE)
		return cvmfs_pub_fail(in->e, rc, ".cvmfspublished: %s", cvmfs_fmt_why_str(why));
	if ((rc = load_cert(in, m, cert)) < 0)
		return rc;
	why = CVMFS_FMT_WHY_NONE;
	if ((rc = cvmfs_manifest_verify(m, raw, NULL, cert, &why)) < 0)
		return cvmfs_pub_fail(in->e, rc, ".cvmfspublished: %s", cvmfs_fmt_why_str(why));
	printf("manifest signature: OK\n");
	return 0;
}

static int check_tags(struct insp *in, const struct cvmfs_manifest *m)
{
	char tmp[256], what[64];
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int rc;

	if (!(m->have & CVMFS_MF_H)) {
		printf("tags:               (no history database)\n");
		return 0;
	}
	snprintf(what, sizeof(what), "history database");
	if ((rc = check_object(in, &m->history, CVMFS_SUFFIX_HISTORY, -1, what)) < 0)
		return rc;
	if ((rc = cvmfs_pub_object_to_tmp(&in->s, &m->history, CVMFS_SUFFIX_HISTORY, tmp, sizeof(tmp),
				    NULL)) < 0)
		return cvmfs_pub_fail(in->e, rc, "history database unreadable");
	if (sqlite3_open_v2(tmp, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "SELECT name, hash, revision, description FROM tags ORDER BY "
			       "revision DESC, name", -1, &st, NULL) != SQLITE_OK) {
		rc = cvmfs_pub_fail(in->e, -EBADMSG, "history database has no tags table");
		goto out;
	}
	while (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		const char *hx = (const char *)sqlite3_column_text(st, 1);
		struct cvmfs_hash h;
		char path[300];

		printf("tag:                %-20s revision %lld  %s\n", name ? name : "?",
		       (long long)sqlite3_column_int64(st, 2), hx ? hx : "?");
		if (!in->o->verify)
			continue;
		if (!hx || cvmfs_hash_parse(hx, strlen(hx), &h) < 0) {
			rc = cvmfs_pub_fail(in->e, -EBADMSG, "tag %s: bad root hash", name ? name : "?");
			break;
		}
		snprintf(path, sizeof(path), "%s", "");
		rc = check_catalog(in, &h, path, -1, 0);
		if (rc < 0)
			cvmfs_pub_fail(in->e, rc, "tag %s is not resolvable", name ? name : "?");
	}
out:
	sqlite3_finalize(st);
	sqlite3_close(db);
	unlink(tmp);
	return rc;
}

/* The meta-info object (M: one JSON object) and the reflog (Y: the file
 * .cvmfsreflog, hash, schema, the manifest's root objects listed), which
 * upstream's gc and replication trust. A repository without them (older
 * upstream) is reported, not failed. */
static int check_meta_reflog(struct insp *in, const struct cvmfs_manifest *m)
{
	unsigned char *buf = NULL;
	size_t len;
	int rc;

	if (!(m->have & CVMFS_MF_M)) {
		printf("meta-info:          (none in the manifest)\n");
	} else {
		if ((rc = check_object(in, &m->meta, CVMFS_SUFFIX_META, -1, "meta-info")) < 0)
			return rc;
		rc = cvmfs_pub_store_get(&in->s, &m->meta, CVMFS_SUFFIX_META, CVMFS_PUB_METAINFO_MAX,
					 &buf, &len);
		if (rc < 0)
			return cvmfs_pub_fail(in->e, rc, "meta-info object: unreadable or larger than "
					      "%u bytes", CVMFS_PUB_METAINFO_MAX);
		rc = cvmfs_pub_json_object_check((const char *)buf, len);
		free(buf);
		if (rc < 0)
			return cvmfs_pub_fail(in->e, -EBADMSG, "meta-info object: not one JSON "
					      "object");
		printf("meta-info:          OK (%zu bytes of JSON)\n", len);
	}
	if (!(m->have & CVMFS_MF_Y)) {
		printf("reflog:             (none in the manifest)\n");
		return 0;
	}
	fetch(in, ".cvmfsreflog");
	rc = cvmfs_pub_read_file(in->s.repofd, ".cvmfsreflog", (size_t)1 << 30, &buf, &len);
	if (rc < 0)
		return cvmfs_pub_fail(in->e, rc, ".cvmfsreflog: the manifest names one (Y) but it "
				      "cannot be read: %s", strerror(-rc));
	rc = cvmfs_pub_reflog_check(in->s.tmpfd, buf, len, m, in->e);
	free(buf);
	if (rc < 0)
		return rc;
	printf("reflog:             OK (%d references, the manifest's listed)\n", rc);
	return 0;
}

/* see cvmfs-pub.h */
int cvmfs_pub_inspect_run(const struct cvmfs_pub_inspect_opts *o, struct cvmfs_pub_err *e)
{
	struct insp in = { .o = o, .e = e, .mirror = { .fd = -1 } };
	struct cvmfs_manifest m;
	struct cvmfs_cert cert;
	unsigned char *raw = NULL;
	const char *tmpdir = getenv("TMPDIR");
	size_t len;
	int rc;

	cvmfs_cert_init(&cert);
	if (strstr(o->repo, "://") &&
	    (rc = cvmfs_pub_mirror_open(&in.mirror, o->repo, tmpdir ? tmpdir : "/tmp", e)) < 0)
		goto out;
	in.s.repofd = open(in.mirror.url ? in.mirror.dir : o->repo, O_RDONLY | O_DIRECTORY |
			   O_CLOEXEC);
	in.s.datafd = in.s.repofd >= 0 ? openat(in.s.repofd, "data", O_RDONLY | O_DIRECTORY |
						O_CLOEXEC) : -1;
	in.s.tmpfd = open(tmpdir ? tmpdir : "/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	in.buf = malloc(IO_BUF);
	in.zout = malloc(IO_BUF);
	if (in.s.repofd < 0 || in.s.datafd < 0 || in.s.tmpfd < 0) {
		rc = cvmfs_pub_fail(e, -ENOENT, "%s: not a repository directory (no data/)", o->repo);
		goto out;
	}
	if (!in.buf || !in.zout) {
		rc = -ENOMEM;
		goto out;
	}
	fetch(&in, ".cvmfspublished");
	rc = cvmfs_pub_read_file(in.s.repofd, ".cvmfspublished", CVMFS_MANIFEST_MAX, &raw, &len);
	if (rc < 0) {
		cvmfs_pub_fail(e, rc, "%s/.cvmfspublished: %s", o->repo, strerror(-rc));
		goto out;
	}
	if ((rc = check_manifest(&in, raw, len, &m, &cert)) < 0)
		goto out;
	if ((rc = check_whitelist(&in, &m, &cert)) < 0)
		goto out;
	if (o->verify || o->tree) {
		if (o->tree)
			printf("tree of revision %llu:\n", (unsigned long long)m.revision);
		if ((rc = check_catalog(&in, &m.root, "", (int64_t)(m.have & CVMFS_MF_B ?
								    m.root_size : 0), 0)) < 0)
			goto out;
	}
	if ((rc = check_tags(&in, &m)) < 0)
		goto out;
	if (o->verify && (rc = check_meta_reflog(&in, &m)) < 0)
		goto out;
	if (o->verify)
		printf("verified: %llu catalogs, %llu entries, %llu objects (%llu bytes): all OK\n",
		       (unsigned long long)in.catalogs, (unsigned long long)in.entries,
		       (unsigned long long)in.objects, (unsigned long long)in.bytes);
out:
	free(raw);
	free(in.buf);
	free(in.zout);
	free(in.seen);
	cvmfs_cert_fini(&cert);
	cvmfs_pub_store_close(&in.s);
	cvmfs_pub_mirror_close(&in.mirror);
	return rc;
}
