/* SPDX-License-Identifier: MIT */
/* fuzz_catalog_rows: hostile but well-formed catalogs (what an honest but
 * buggy, or a hostile, key holder publishes). fuzz_catalog mutates the SQLite
 * file's bytes, which mostly ends in "malformed database"; this target keeps
 * the file valid and edits its rows: the input is a program of row edits
 * applied with SQL to a copy of a real catalog (the seeds of
 * tests/fuzz/corpus/catalog, made by gen_corpus.py from `cvmboot publish`),
 * then the copy goes through the client's query layer as fuzz_catalog does
 * (open, root lookup, listing of the root and of each child directory,
 * lookups, chunk lists, nested-catalog queries).
 *
 * Input: byte 0 picks the base catalog; then edits of 4 bytes + value:
 *   [target] [row] [kind] [arg]  value...
 * target: which (table, column) (TARGETS below); row: which row (n-th by
 * rowid, modulo the count); kind: 0 integer (8 bytes LE follow), 1 text
 * (arg bytes follow), 2 blob (arg bytes follow), 3 NULL, 4 a special integer
 * (SPECIAL[arg]), 5 the same column of row arg, 6 duplicate the row (under a
 * new primary key when the table allows), 7 delete the row.
 * The file is edited in /dev/shm with SQLite's unix VFS (the build's own
 * SQLite, instrumented); the client reads it through its "cvmfs-fd" VFS. */
#include "tests/fuzz/fuzz.h"
#include <fcntl.h>
#include <sqlite3.h>
#include "cvmfs-lite/internal.h"

#define BASES_MAX 4
#define CHILDREN_MAX 64
#define DIRS_MAX 8

static const char *const BASE_FILES[] = { "published-2", "published-3", "other-1" };
static unsigned char *base[BASES_MAX];
static size_t base_len[BASES_MAX], nbase;
static char dbpath[64];

static const struct {
	const char *table, *col;
} TARGETS[] = {
	{ "catalog", "md5path_1" }, { "catalog", "md5path_2" }, { "catalog", "parent_1" },
	{ "catalog", "parent_2" }, { "catalog", "hardlinks" }, { "catalog", "hash" },
	{ "catalog", "size" }, { "catalog", "mode" }, { "catalog", "mtime" },
	{ "catalog", "mtimens" }, { "catalog", "flags" }, { "catalog", "name" },
	{ "catalog", "symlink" }, { "catalog", "uid" }, { "catalog", "gid" },
	{ "catalog", "xattr" }, { "chunks", "md5path_1" }, { "chunks", "md5path_2" },
	{ "chunks", "offset" }, { "chunks", "size" }, { "chunks", "hash" },
	{ "nested_catalogs", "path" }, { "nested_catalogs", "sha1" },
	{ "nested_catalogs", "size" }, { "properties", "key" }, { "properties", "value" },
};
#define NTARGETS (sizeof(TARGETS) / sizeof(TARGETS[0]))

static const int64_t SPECIAL[] = {
	0, 1, -1, 2, 255, 256, 4096, 65535, 65536, INT32_MAX, (int64_t)INT32_MAX + 1, UINT32_MAX,
	INT64_MAX, INT64_MIN, 040000 | 0755, 0100000 | 0644, 0120000 | 0777, 020000 | 0600,
	060000, 010000, 0140000, 04000 | 0100755, 1, 2, 4, 8, 16, 32, 64, 128, 0x100, 0x200,
	0x400, 0x800, 0x1000, 1LL << 32, (1LL << 32) | 5,
};

static void rows_cleanup(void)
{
	char j[80];

	unlink(dbpath);
	snprintf(j, sizeof(j), "%s-journal", dbpath);
	unlink(j);
}

/* fuzz_read includes this file for the catalog edits (CATALOG_ROWS_LIB). */
static void rows_init(void)
{
	char rel[128];
	size_t i;

	sqlite3_initialize();
	for (i = 0; i < sizeof(BASE_FILES) / sizeof(BASE_FILES[0]) && nbase < BASES_MAX; i++) {
		snprintf(rel, sizeof(rel), "../fuzz/corpus/catalog/%s", BASE_FILES[i]);
		if ((base[nbase] = fuzz_slurp(rel, &base_len[nbase])))
			nbase++;
	}
	if (!nbase) {
		fprintf(stderr, "fuzz_catalog_rows: no base catalogs under %s/../fuzz/corpus/catalog "
			"(run tests/fuzz/gen_corpus.py)\n", FUZZ_DATA);
		abort();
	}
	snprintf(dbpath, sizeof(dbpath), "/dev/shm/fuzz-catalog-rows-%d.db", (int)getpid());
	atexit(rows_cleanup);
}

static int write_file(const char *path, const unsigned char *d, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	size_t off = 0;

	if (fd < 0)
		return -1;
	while (off < n) {
		ssize_t w = write(fd, d + off, n - off);

		if (w <= 0) {
			close(fd);
			return -1;
		}
		off += (size_t)w;
	}
	close(fd);
	return 0;
}

static int64_t le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return (int64_t)v;
}

static int64_t nth_rowid(sqlite3 *db, const char *table, unsigned n)
{
	char q[128];
	sqlite3_stmt *st;
	int64_t id = -1, cnt = 0;

	snprintf(q, sizeof(q), "SELECT count(*) FROM %s", table);
	if (sqlite3_prepare_v2(db, q, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		cnt = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (cnt <= 0)
		return -1;
	snprintf(q, sizeof(q), "SELECT rowid FROM %s ORDER BY rowid LIMIT 1 OFFSET %u", table,
		 (unsigned)(n % (uint64_t)cnt));
	if (sqlite3_prepare_v2(db, q, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		id = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return id;
}

/* Applies the edits; returns 0 when the file is ready to be read. */
static int edit(const uint8_t *d, size_t n)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st;
	char q[256];
	size_t pos = 0;
	int edits = 0;

	if (sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		sqlite3_close(db);
		return -1;
	}
	sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
	while (pos + 4 <= n && edits++ < 64) {
		unsigned t = d[pos] % NTARGETS, row = d[pos + 1], kind = d[pos + 2] % 8;
		unsigned arg = d[pos + 3];
		const char *tab = TARGETS[t].table, *col = TARGETS[t].col;
		int64_t id = nth_rowid(db, tab, row), id2;

		pos += 4;
		if (kind == 6) {
			/* A copy of the row: same key (refused by the primary key, kept
			 * as is) or, for catalog rows, a key shifted by arg. */
			snprintf(q, sizeof(q), "INSERT INTO %s SELECT * FROM %s WHERE rowid = ?1", tab, tab);
			if (!strcmp(tab, "catalog"))
				snprintf(q, sizeof(q), "INSERT INTO catalog SELECT md5path_1 + %u, "
					 "md5path_2, parent_1, parent_2, hardlinks, hash, size, mode, "
					 "mtime, mtimens, flags, name, symlink, uid, gid, xattr FROM "
					 "catalog WHERE rowid = ?1", arg + 1);
		} else if (kind == 7) {
			snprintf(q, sizeof(q), "DELETE FROM %s WHERE rowid = ?1", tab);
		} else {
			snprintf(q, sizeof(q), "UPDATE %s SET %s = ?2 WHERE rowid = ?1", tab, col);
		}
		if (id < 0 || sqlite3_prepare_v2(db, q, -1, &st, NULL) != SQLITE_OK) {
			if (kind == 1 || kind == 2)
				pos += arg < n - pos ? arg : n - pos;
			else if (kind == 0)
				pos += 8 < n - pos ? 8 : n - pos;
			continue;
		}
		sqlite3_bind_int64(st, 1, id);
		switch (kind) {
		case 0:
			if (pos + 8 > n)
				goto done;
			sqlite3_bind_int64(st, 2, le64(d + pos));
			pos += 8;
			break;
		case 1:
		case 2:
			if (arg > n - pos)
				arg = (unsigned)(n - pos);
			if (kind == 1)
				sqlite3_bind_text(st, 2, (const char *)d + pos, (int)arg, SQLITE_TRANSIENT);
			else
				sqlite3_bind_blob(st, 2, d + pos, (int)arg, SQLITE_TRANSIENT);
			pos += arg;
			break;
		case 3:
			sqlite3_bind_null(st, 2);
			break;
		case 4:
			sqlite3_bind_int64(st, 2, SPECIAL[arg % (sizeof(SPECIAL) / sizeof(SPECIAL[0]))]);
			break;
		case 5: {
			sqlite3_stmt *g;
			char gq[128];

			id2 = nth_rowid(db, tab, arg);
			snprintf(gq, sizeof(gq), "SELECT %s FROM %s WHERE rowid = ?", col, tab);
			if (sqlite3_prepare_v2(db, gq, -1, &g, NULL) == SQLITE_OK) {
				sqlite3_bind_int64(g, 1, id2);
				if (sqlite3_step(g) == SQLITE_ROW)
					sqlite3_bind_value(st, 2, sqlite3_column_value(g, 0));
				sqlite3_finalize(g);
			}
			break;
		}
		default:
			break;
		}
		sqlite3_step(st);
done:
		sqlite3_finalize(st);
	}
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	return sqlite3_close(db) == SQLITE_OK ? 0 : -1;
}

#ifndef CATALOG_ROWS_LIB
/* ---- the reader side, as fuzz_catalog (one level deeper) ---- */

struct walk {
	char name[CHILDREN_MAX][CVMFS_NAME_MAX + 1];
	int algo[CHILDREN_MAX];
	int dir[CHILDREN_MAX];
	unsigned n;
};

static int child(void *arg, struct cvmfs_dirent *d)
{
	struct walk *w = arg;

	if (strnlen(d->name, sizeof(d->name)) > CVMFS_NAME_MAX)
		abort();	/* the row's name must fit the dirent */
	if (d->xattr_len && !d->xattr)
		abort();
	if (w->n >= CHILDREN_MAX)
		return -1;
	memcpy(w->name[w->n], d->name, sizeof(d->name));
	w->algo[w->n] = d->has_hash ? (int)d->hash.algo : CVMFS_HASH_SHA1;
	w->dir[w->n++] = S_ISDIR(d->mode);
	return 0;
}

static void query(struct cvmfs_catalog *cat, const char *path, int algo)
{
	struct cvmfs_dirent e;
	struct cvmfs_chunk *ch = NULL;
	struct cvmfs_hash h;
	size_t n = 0;

	if (cvmfs_catalog_lookup(cat, path, &e) == 0)
		cvmfs_dirent_fini(&e);
	if (cvmfs_catalog_chunks(cat, path, (enum cvmfs_hash_algo)algo, &ch, &n) == 0)
		free(ch);
	cvmfs_catalog_nested(cat, path, &h);
}

static void list(struct cvmfs_catalog *cat, const char *dir, int depth)
{
	static struct walk w[2];
	char path[2 * CVMFS_NAME_MAX + 4];
	struct walk *cw = &w[depth];
	unsigned i, dirs = 0;

	cw->n = 0;
	cvmfs_catalog_list(cat, dir, child, cw);
	for (i = 0; i < cw->n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, cw->name[i]);
		query(cat, path, cw->algo[i]);
		if (depth == 0 && cw->dir[i] && dirs++ < DIRS_MAX)
			list(cat, path, 1);
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	rows_init();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct cvmfs_hash h = { CVMFS_HASH_SHA1, { 0 } };
	struct cvmfs_catalog *cat;
	struct cvmfs_dirent e;
	int fd, err = 0;
	unsigned b;

	if (n < 1 || n > 4096)
		return 0;
	b = d[0] % nbase;
	if (write_file(dbpath, base[b], base_len[b]) < 0 || edit(d + 1, n - 1) < 0)
		return 0;
	fd = open(dbpath, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	cat = cvmfs_catalog_open(fd, "", &h, 0, &err);
	close(fd);	/* the catalog keeps its own dup */
	if (!cat) {
		if (err >= 0)
			abort();	/* NULL comes with an error */
		return 0;
	}
	if (cvmfs_catalog_lookup(cat, "", &e) == 0)
		cvmfs_dirent_fini(&e);
	list(cat, "", 0);
	cvmfs_catalog_close(cat);
	return 0;
}
#endif
