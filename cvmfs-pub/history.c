/* SPDX-License-Identifier: MIT */
/* cvmfs-pub/history.c: the history (tag) database, schema 1.0 revision 3 (spec §5). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cvmfs-pub/internal.h"
#include "sqlite3.h"

static const char ddl[] =
	"CREATE TABLE properties (key TEXT, value TEXT, CONSTRAINT pk_properties PRIMARY KEY (key));"
	"CREATE TABLE branches (branch TEXT, parent TEXT, initial_revision INTEGER, "
	"CONSTRAINT pk_branch PRIMARY KEY (branch), FOREIGN KEY (parent) REFERENCES branches (branch), "
	"CHECK ((branch <> '') OR (parent IS NULL)), CHECK ((branch = '') OR (parent IS NOT NULL)));"
	"INSERT INTO branches (branch, parent, initial_revision) VALUES ('', NULL, 0);"
	"CREATE TABLE tags (name TEXT, hash TEXT, revision INTEGER, timestamp INTEGER, channel INTEGER, "
	"description TEXT, size INTEGER, branch TEXT, CONSTRAINT pk_tags PRIMARY KEY (name), "
	"FOREIGN KEY (branch) REFERENCES branches (branch));"
	"CREATE TABLE recycle_bin (hash TEXT, flags INTEGER, CONSTRAINT pk_hash PRIMARY KEY (hash));"
	"INSERT INTO properties VALUES ('schema', '1.0');"
	"INSERT INTO properties VALUES ('schema_revision', '3');";

/* see internal.h */
int cvmfs_pub_history_open(struct cvmfs_pub_store *s, const struct cvmfs_hash *h, char *tmp,
		     size_t len)
{
	return cvmfs_pub_object_to_tmp(s, h, CVMFS_SUFFIX_HISTORY, tmp, len, NULL);
}

static int put_tag(sqlite3 *db, const char *name, const char *desc, const struct cvmfs_pub_tag *t,
		   int replace)
{
	char hex[CVMFS_HASH_HEX_MAX];
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(db, replace ? "INSERT OR REPLACE INTO tags VALUES (?,?,?,?,0,?,?,'')"
					   : "INSERT INTO tags VALUES (?,?,?,?,0,?,?,'')",
			       -1, &st, NULL) != SQLITE_OK)
		return -EIO;
	cvmfs_hash_fmt(&t->root, hex, sizeof(hex));
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, hex, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (int64_t)t->revision);
	sqlite3_bind_int64(st, 4, (int64_t)t->timestamp);
	sqlite3_bind_text(st, 5, desc ? desc : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, (int64_t)t->size);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc == SQLITE_CONSTRAINT)
		return -EEXIST;
	return rc == SQLITE_DONE ? 0 : -EIO;
}

/* An automatic tag's name, as upstream's cvmfs_server recognises them when
 * CVMFS_AUTO_TAG_TIMESPAN expires them: generic[_N]-YYYY-MM-DDThh:mm:ssZ,
 * here also with the milliseconds (.sss) our generic tags carry. */
static int is_auto_tag(const char *n)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:dd";
	size_t i;

	if (strncmp(n, "generic", 7) != 0)
		return 0;
	n += 7;
	if (*n == '_') {
		if (!(*++n >= '0' && *n <= '9'))
			return 0;
		while (*n >= '0' && *n <= '9')
			n++;
	}
	if (*n++ != '-')
		return 0;
	for (i = 0; i < sizeof(shape) - 1; i++, n++)
		if (shape[i] == 'd' ? !(*n >= '0' && *n <= '9') : *n != shape[i])
			return 0;
	if (n[0] == '.' && n[1] >= '0' && n[1] <= '9' && n[2] >= '0' && n[2] <= '9' &&
	    n[3] >= '0' && n[3] <= '9')
		n += 4;
	return strcmp(n, "Z") == 0;
}

static void auto_tag_fn(sqlite3_context *cx, int argc, sqlite3_value **argv)
{
	const char *name = (const char *)sqlite3_value_text(argv[0]);

	(void)argc;
	sqlite3_result_int(cx, name && is_auto_tag(name));
}

/* Removes the automatic tags whose timestamp is before `before`; counts them. */
static int expire_auto_tags(sqlite3 *db, uint64_t before, unsigned *expired)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (sqlite3_create_function(db, "cvmboot_auto_tag", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC,
				    NULL, auto_tag_fn, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "DELETE FROM tags WHERE timestamp < ? AND cvmboot_auto_tag(name)",
			       -1, &st, NULL) != SQLITE_OK) {
		sqlite3_finalize(st);
		return -EIO;
	}
	sqlite3_bind_int64(st, 1, (int64_t)before);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -EIO;
	sqlite3_finalize(st);
	if (rc == 0)
		*expired += (unsigned)sqlite3_changes(db);
	return rc;
}

static int edit(sqlite3 *db, const char *fqrn, const struct cvmfs_hash *prev,
		const struct cvmfs_pub_tag *add, int move_trunk, const char *rm,
		uint64_t expire_before, unsigned *expired, struct cvmfs_pub_err *e)
{
	char hex[CVMFS_HASH_HEX_MAX], sql[256];
	int rc;

	snprintf(sql, sizeof(sql), "INSERT OR REPLACE INTO properties VALUES ('fqrn', ?)");
	{
		sqlite3_stmt *st;

		if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
			return -EIO;
		sqlite3_bind_text(st, 1, fqrn, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
		sqlite3_finalize(st);
		if (rc != SQLITE_DONE)
			return -EIO;
	}
	if (prev) {
		sqlite3_stmt *st;

		cvmfs_hash_fmt(prev, hex, sizeof(hex));
		if (sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO properties VALUES "
				       "('previous_revision', ?)", -1, &st, NULL) != SQLITE_OK)
			return -EIO;
		sqlite3_bind_text(st, 1, hex, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
		sqlite3_finalize(st);
		if (rc != SQLITE_DONE)
			return -EIO;
	}
	if (move_trunk) {
		if (sqlite3_exec(db, "INSERT OR REPLACE INTO tags SELECT 'trunk-previous', hash, "
				 "revision, timestamp, channel, 'default undo target', size, branch "
				 "FROM tags WHERE name = 'trunk'", NULL, NULL, NULL) != SQLITE_OK)
			return -EIO;
		if ((rc = put_tag(db, "trunk", "current HEAD", add, 1)) < 0)
			return rc;
	}
	if (add && add->name) {
		rc = put_tag(db, add->name, add->description, add, 0);
		if (rc == -EEXIST)
			return cvmfs_pub_fail(e, rc, "tag '%s' exists already; pick another name or "
					      "remove it first ('cvmboot tag REPO rm %s')",
					      add->name, add->name);
		if (rc < 0)
			return rc;
	}
	if (rm) {
		sqlite3_stmt *st;

		if (sqlite3_prepare_v2(db, "DELETE FROM tags WHERE name = ?", -1, &st, NULL) !=
		    SQLITE_OK)
			return -EIO;
		sqlite3_bind_text(st, 1, rm, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
		sqlite3_finalize(st);
		if (rc != SQLITE_DONE)
			return -EIO;
		if (sqlite3_changes(db) == 0)
			return cvmfs_pub_fail(e, -ENOENT, "no tag named '%s' ('cvmboot tag REPO list' "
					      "shows them)", rm);
	}
	if (expire_before && expire_auto_tags(db, expire_before, expired) < 0)
		return -EIO;
	return 0;
}

/* see internal.h */
int cvmfs_pub_history_update(struct cvmfs_pub_store *s, const char *fqrn,
		       const struct cvmfs_hash *prev, const struct cvmfs_pub_tag *add, int move_trunk,
		       const char *rm, uint64_t expire_before, unsigned *expired,
		       struct cvmfs_hash *out, struct cvmfs_pub_err *e)
{
	char tmp[256];
	sqlite3 *db = NULL;
	unsigned char *buf = NULL;
	size_t len;
	int rc;

	if (prev) {
		rc = cvmfs_pub_history_open(s, prev, tmp, sizeof(tmp));
		if (rc < 0)
			return cvmfs_pub_fail(e, rc, "previous history database is unreadable: %s",
					      strerror(-rc));
	} else {
		snprintf(tmp, sizeof(tmp), "/proc/self/fd/%d/h.%d.db", s->tmpfd, (int)getpid());
		unlink(tmp);
	}
	if (sqlite3_open_v2(tmp, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
		rc = -EIO;
		goto out;
	}
	rc = sqlite3_exec(db, "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; BEGIN;", NULL, NULL,
			  NULL) == SQLITE_OK ? 0 : -EIO;
	if (rc == 0 && !prev && sqlite3_exec(db, ddl, NULL, NULL, NULL) != SQLITE_OK)
		rc = -EIO;
	if (rc == 0)
		rc = edit(db, fqrn, prev, add, move_trunk, rm, expire_before, expired, e);
	if (rc == 0 && sqlite3_exec(db, "COMMIT;", NULL, NULL, NULL) != SQLITE_OK)
		rc = sqlite3_errcode(db) == SQLITE_FULL ? -ENOSPC : -EIO;
	sqlite3_close(db);
	db = NULL;
	if (rc == 0)
		rc = cvmfs_pub_read_file(AT_FDCWD, tmp, (size_t)1 << 30, &buf, &len);
	if (rc == 0)
		rc = cvmfs_pub_store_put_buf(s, CVMFS_SUFFIX_HISTORY, buf, len, out);
out:
	if (db)
		sqlite3_close(db);
	free(buf);
	unlink(tmp);
	if (rc < 0)
		cvmfs_pub_fail(e, rc, "cannot write the history database: %s", strerror(-rc));
	return rc;
}
