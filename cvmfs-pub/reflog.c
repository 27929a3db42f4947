/* SPDX-License-Identifier: MIT */
/* cvmfs-pub/reflog.c: the reference log REPO/.cvmfsreflog (spec §6) and the meta-info object.
 *
 * The reflog is an uncompressed SQLite file at the repository root listing
 * every "root" object a publish made (root catalogs, certificates, history
 * databases, meta-info): table refs (hash TEXT without suffix, type 0..3,
 * timestamp in Unix seconds), properties schema 1.0, schema_revision 0 and
 * fqrn. The manifest's Y names the hash of the file (repository algorithm).
 * Upstream's garbage collector and replication read it; so does cvmboot gc,
 * which drops the references of objects it deletes. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cvmfs-pub/internal.h"
#include "sqlite3.h"

static const char reflog_ddl[] =
	"CREATE TABLE properties (key TEXT, value TEXT, CONSTRAINT pk_properties PRIMARY KEY (key));"
	"CREATE TABLE refs (hash TEXT, type INTEGER, timestamp INTEGER, "
	"CONSTRAINT pk_refs PRIMARY KEY (hash));"
	"INSERT INTO properties VALUES ('schema', '1.0');"
	"INSERT INTO properties VALUES ('schema_revision', '0');";

/* 1 if db is a reflog of fqrn (has refs and the fqrn property), else 0. */
static int reflog_usable(sqlite3 *db, const char *fqrn)
{
	sqlite3_stmt *st = NULL;
	int ok = 0;

	if (sqlite3_prepare_v2(db, "SELECT value FROM properties WHERE key = 'fqrn'", -1, &st,
			       NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
		const char *v = (const char *)sqlite3_column_text(st, 0);

		ok = v && strcmp(v, fqrn) == 0;
	}
	sqlite3_finalize(st);
	if (ok && sqlite3_exec(db, "SELECT count(*) FROM refs", NULL, NULL, NULL) != SQLITE_OK)
		ok = 0;
	return ok;
}

static int write_tmp(const char *path, const unsigned char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600), rc;

	if (fd < 0)
		return -errno;
	rc = cvmfs_pub_write_all(fd, data, len);
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	return rc;
}

static int refs_edit(sqlite3 *db, const struct cvmfs_pub_ref *v, size_t n, int add)
{
	sqlite3_stmt *st;
	char hex[CVMFS_HASH_HEX_MAX];
	int64_t now = (int64_t)time(NULL);
	size_t i;
	int rc = 0;

	if (sqlite3_prepare_v2(db, add ? "INSERT OR IGNORE INTO refs VALUES (?, ?, ?)" :
			       "DELETE FROM refs WHERE hash = ? AND type = ?", -1, &st, NULL) !=
	    SQLITE_OK)
		return -EIO;
	for (i = 0; i < n && rc == 0; i++) {
		cvmfs_hash_fmt(&v[i].h, hex, sizeof(hex));
		sqlite3_bind_text(st, 1, hex, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 2, v[i].type);
		if (add)
			sqlite3_bind_int64(st, 3, now);
		if (sqlite3_step(st) != SQLITE_DONE)
			rc = sqlite3_errcode(db) == SQLITE_FULL ? -ENOSPC : -EIO;
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	return rc;
}

/* see internal.h */
int cvmfs_pub_reflog_build(struct cvmfs_pub_store *s, const char *fqrn,
			   const struct cvmfs_pub_ref *add, size_t nadd,
			   const struct cvmfs_pub_ref *drop, size_t ndrop, unsigned char **out,
			   size_t *len, struct cvmfs_pub_err *e)
{
	char tmp[256];
	unsigned char *old = NULL;
	size_t oldlen = 0;
	sqlite3 *db = NULL;
	int rc, fresh = 1;
	sqlite3_stmt *st;

	*out = NULL;
	snprintf(tmp, sizeof(tmp), "/proc/self/fd/%d/r.%d.db", s->tmpfd, (int)getpid());
	unlink(tmp);
	rc = cvmfs_pub_read_file(s->repofd, ".cvmfsreflog", (size_t)1 << 30, &old, &oldlen);
	if (rc == 0 && (rc = write_tmp(tmp, old, oldlen)) < 0)
		goto out;
	if (rc == 0 && sqlite3_open_v2(tmp, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK &&
	    reflog_usable(db, fqrn))
		fresh = 0;
	rc = 0;
	if (fresh) {
		/* none yet (or not a reflog of this repository): a new one */
		if (db)
			sqlite3_close(db);
		db = NULL;
		unlink(tmp);
		if (sqlite3_open_v2(tmp, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
		    SQLITE_OK) {
			rc = -EIO;
			goto out;
		}
	}
	if (sqlite3_exec(db, "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; BEGIN;", NULL, NULL,
			 NULL) != SQLITE_OK || (fresh && sqlite3_exec(db, reflog_ddl, NULL, NULL,
								       NULL) != SQLITE_OK)) {
		rc = -EIO;
		goto out;
	}
	if (fresh) {
		if (sqlite3_prepare_v2(db, "INSERT INTO properties VALUES ('fqrn', ?)", -1, &st,
				       NULL) != SQLITE_OK) {
			rc = -EIO;
			goto out;
		}
		sqlite3_bind_text(st, 1, fqrn, -1, SQLITE_STATIC);
		rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -EIO;
		sqlite3_finalize(st);
	}
	if (rc == 0)
		rc = refs_edit(db, drop, ndrop, 0);
	if (rc == 0)
		rc = refs_edit(db, add, nadd, 1);
	if (rc == 0 && sqlite3_exec(db, "COMMIT;", NULL, NULL, NULL) != SQLITE_OK)
		rc = sqlite3_errcode(db) == SQLITE_FULL ? -ENOSPC : -EIO;
	if (rc == 0 && !fresh)	/* compact after deletions (gc) */
		sqlite3_exec(db, "VACUUM;", NULL, NULL, NULL);
	sqlite3_close(db);
	db = NULL;
	if (rc == 0)
		rc = cvmfs_pub_read_file(AT_FDCWD, tmp, (size_t)1 << 30, out, len);
out:
	if (db)
		sqlite3_close(db);
	free(old);
	unlink(tmp);
	if (rc < 0)
		cvmfs_pub_fail(e, rc, "cannot write the reflog (.cvmfsreflog): %s", strerror(-rc));
	return rc;
}

/* 1 if the reflog in db lists (h, type). */
static int reflog_has(sqlite3 *db, const struct cvmfs_hash *h, int type)
{
	char hex[CVMFS_HASH_HEX_MAX];
	sqlite3_stmt *st = NULL;
	int found = 0;

	cvmfs_hash_fmt(h, hex, sizeof(hex));
	if (sqlite3_prepare_v2(db, "SELECT count(*) FROM refs WHERE hash = ? AND type = ?", -1, &st,
			       NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, hex, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 2, type);
		found = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int64(st, 0) > 0;
	}
	sqlite3_finalize(st);
	return found;
}

/* The reflog's schema: properties schema 1.0 / schema_revision 0 / fqrn,
 * and refs rows of type 0..3 with a timestamp. Returns the number of refs
 * or -EBADMSG (why in e). */
static int reflog_schema(sqlite3 *db, const char *fqrn, struct cvmfs_pub_err *e)
{
	sqlite3_stmt *st = NULL;
	int rc, n = 0, bad = 0;

	if (!reflog_usable(db, fqrn))
		return cvmfs_pub_fail(e, -EBADMSG, ".cvmfsreflog: not a reflog of %s (no refs table "
				      "or fqrn property %s)", fqrn, fqrn);
	if (sqlite3_prepare_v2(db, "SELECT (SELECT value FROM properties WHERE key = 'schema'), "
			       "(SELECT value FROM properties WHERE key = 'schema_revision')", -1,
			       &st, NULL) != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW ||
	    !sqlite3_column_text(st, 0) || !sqlite3_column_text(st, 1) ||
	    strcmp((const char *)sqlite3_column_text(st, 0), "1.0") != 0 ||
	    strcmp((const char *)sqlite3_column_text(st, 1), "0") != 0)
		bad = 1;
	sqlite3_finalize(st);
	if (bad)
		return cvmfs_pub_fail(e, -EBADMSG, ".cvmfsreflog: schema is not 1.0 revision 0");
	if (sqlite3_prepare_v2(db, "SELECT hash, type, typeof(timestamp) FROM refs", -1, &st,
			       NULL) != SQLITE_OK)
		return cvmfs_pub_fail(e, -EBADMSG, ".cvmfsreflog: refs table unreadable");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && !bad) {
		const char *h = (const char *)sqlite3_column_text(st, 0);
		const char *ts = (const char *)sqlite3_column_text(st, 2);
		struct cvmfs_hash x;
		int64_t type = sqlite3_column_int64(st, 1);

		if (!h || cvmfs_hash_parse(h, strlen(h), &x) < 0 || type < 0 || type > 3 ||
		    sqlite3_column_type(st, 1) != SQLITE_INTEGER || !ts || strcmp(ts, "integer"))
			bad = cvmfs_pub_fail(e, -EBADMSG, ".cvmfsreflog: bad reference row (hash %s, "
					     "type %lld)", h ? h : "NULL", (long long)type);
		n++;
	}
	sqlite3_finalize(st);
	if (bad)
		return bad;
	return rc == SQLITE_DONE ? n : cvmfs_pub_fail(e, -EBADMSG, ".cvmfsreflog: refs table "
						       "unreadable");
}

/* see internal.h */
int cvmfs_pub_reflog_check(int tmpfd, const unsigned char *raw, size_t len,
			   const struct cvmfs_manifest *m, struct cvmfs_pub_err *e)
{
	static const char *const what[4] = { "root catalog (C)", "certificate (X)",
					      "history (H)", "meta-info (M)" };
	const struct cvmfs_hash *need[4] = { &m->root, &m->cert, &m->history, &m->meta };
	const unsigned have[4] = { 0, CVMFS_MF_X, CVMFS_MF_H, CVMFS_MF_M };	/* 0: always */
	struct cvmfs_hash got;
	char tmp[256], hex[CVMFS_HASH_HEX_MAX];
	sqlite3 *db = NULL;
	int rc, i, n = 0;

	if ((rc = cvmfs_hash_buf(m->reflog.algo, raw, len, &got)) < 0)
		return cvmfs_pub_fail(e, rc, ".cvmfsreflog: cannot hash it");
	if (!cvmfs_hash_eq(&got, &m->reflog)) {
		cvmfs_hash_fmt(&m->reflog, hex, sizeof(hex));
		return cvmfs_pub_fail(e, -EBADMSG, ".cvmfsreflog: its hash is not the manifest's Y %s "
				      "(replaced or damaged after signing)", hex);
	}
	snprintf(tmp, sizeof(tmp), "/proc/self/fd/%d/cvmboot-reflog.%d.db", tmpfd, (int)getpid());
	if ((rc = write_tmp(tmp, raw, len)) < 0)
		return cvmfs_pub_fail(e, rc, "cannot copy .cvmfsreflog to a temporary file: %s",
				      strerror(-rc));
	if (sqlite3_open_v2(tmp, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		rc = cvmfs_pub_fail(e, -EBADMSG, ".cvmfsreflog: not an SQLite database");
		goto out;
	}
	if ((rc = n = reflog_schema(db, m->fqrn, e)) < 0)
		goto out;
	/* what upstream's gc starts from: the manifest's root objects */
	for (i = 0; i < 4; i++)
		if ((!have[i] || (m->have & have[i])) && !reflog_has(db, need[i], i)) {
			cvmfs_hash_fmt(need[i], hex, sizeof(hex));
			rc = cvmfs_pub_fail(e, -EBADMSG, ".cvmfsreflog: the manifest's %s %s is not "
					    "listed", what[i], hex);
			goto out;
		}
	rc = n;
out:
	sqlite3_close(db);
	unlink(tmp);
	return rc;
}

/* ---- meta-info: a JSON object (spec §6), checked for syntax ---- */

#define JSON_DEPTH 64

static const char *ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

static const char *json_value(const char *p, const char *end, int depth);

static const char *json_string(const char *p, const char *end)
{
	if (p >= end || *p != '"')
		return NULL;
	for (p++; p < end; p++) {
		if (*p == '"')
			return p + 1;
		if ((unsigned char)*p < 0x20)
			return NULL;
		if (*p == '\\') {
			if (++p >= end)
				return NULL;
			if (*p == 'u') {
				int i;

				for (i = 0; i < 4; i++)
					if (++p >= end || !strchr("0123456789abcdefABCDEF", *p))
						return NULL;
			} else if (!strchr("\"\\/bfnrt", *p)) {
				return NULL;
			}
		}
	}
	return NULL;
}

static const char *json_number(const char *p, const char *end)
{
	const char *s;

	if (p < end && *p == '-')
		p++;
	s = p;
	while (p < end && *p >= '0' && *p <= '9')
		p++;
	if (p == s)
		return NULL;
	if (p < end && *p == '.') {
		s = ++p;
		while (p < end && *p >= '0' && *p <= '9')
			p++;
		if (p == s)
			return NULL;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		s = p;
		while (p < end && *p >= '0' && *p <= '9')
			p++;
		if (p == s)
			return NULL;
	}
	return p;
}

static const char *json_list(const char *p, const char *end, int depth, char close, int obj)
{
	p = ws(p + 1, end);
	if (p < end && *p == close)
		return p + 1;
	for (;;) {
		if (obj) {
			if (!(p = json_string(p, end)))
				return NULL;
			p = ws(p, end);
			if (p >= end || *p != ':')
				return NULL;
			p = ws(p + 1, end);
		}
		if (!(p = json_value(p, end, depth + 1)))
			return NULL;
		p = ws(p, end);
		if (p < end && *p == close)
			return p + 1;
		if (p >= end || *p != ',')
			return NULL;
		p = ws(p + 1, end);
	}
}

static const char *json_value(const char *p, const char *end, int depth)
{
	if (depth > JSON_DEPTH || p >= end)
		return NULL;
	switch (*p) {
	case '{': return json_list(p, end, depth, '}', 1);
	case '[': return json_list(p, end, depth, ']', 0);
	case '"': return json_string(p, end);
	case 't': return end - p >= 4 && !memcmp(p, "true", 4) ? p + 4 : NULL;
	case 'f': return end - p >= 5 && !memcmp(p, "false", 5) ? p + 5 : NULL;
	case 'n': return end - p >= 4 && !memcmp(p, "null", 4) ? p + 4 : NULL;
	default: return json_number(p, end);
	}
}

/* see internal.h */
int cvmfs_pub_json_object_check(const char *buf, size_t len)
{
	const char *end = buf + len, *p = ws(buf, end);

	if (p >= end || *p != '{')
		return -EINVAL;
	p = json_value(p, end, 0);
	return p && ws(p, end) == end ? 0 : -EINVAL;
}

/* see internal.h */
int cvmfs_pub_metainfo_default(const char *fqrn, char *buf, size_t len)
{
	int n = snprintf(buf, len,
			 "{\n"
			 "  \"administrator\" : \"\",\n"
			 "  \"email\"         : \"\",\n"
			 "  \"organisation\"  : \"\",\n"
			 "  \"description\"   : \"CernVM-FS repository %s\",\n"
			 "  \"url\"           : \"\",\n"
			 "  \"recommended-stratum0\" : \"\",\n"
			 "  \"recommended-stratum1s\" : [ ],\n"
			 "  \"custom\" : {\n"
			 "    \"_comment\" : \"written by cvmboot publish; set your own with "
			 "--meta-info FILE\"\n"
			 "  }\n"
			 "}\n", fqrn);

	return n < 0 || (size_t)n >= len ? -ENOSPC : n;
}
