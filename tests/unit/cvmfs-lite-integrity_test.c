/* SPDX-License-Identifier: MIT */
/* tests/unit/cvmfs-lite-integrity_test.c: the client against hostile input
 * without network or mount (issue 13): verify-before-commit of objects with
 * a replaceable fetch function (hash, bounded inflate, exact size, raw and
 * compressed names apart), cache files that are symlinks, fifos or of the
 * wrong size, catalog rows that cannot be directory entries, and catalogs of
 * a schema the client does not read. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <setjmp.h>
#include <cmocka.h>
#include <zlib.h>

#include "sqlite3.h"

#include "cvmfs-lite/internal.h"
#include "tests/unit/tmpdir.h"

static int open_dir(const char *sub)
{
	char p[128];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", tmpdir, sub);
	mkdir(p, 0700);
	fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	return fd;
}

static void path_of(char *out, size_t len, const char *sub, const char *rel)
{
	snprintf(out, len, "%s/%s/%s", tmpdir, sub, rel);
}

/* ---- a client with a cache and a fake server ---- */
struct fake {
	const char *rel;		/* the one object it serves ... */
	const unsigned char *body;	/* ... with these bytes */
	size_t len;
	unsigned nreq;
	size_t delivered;		/* bytes the sink accepted in the last request */
};

/* Plays every source of cvmfs_fetch_run: one attempt, the sink decides. */
static int fake_fetch(void *arg, const char *rel, const struct cvmfs_sink *s)
{
	struct fake *f = arg;
	size_t off = 0;
	int rc;

	f->nreq++;
	f->delivered = 0;
	if (!f->rel || strcmp(rel, f->rel) != 0)
		return -ENOENT;
	if ((rc = s->reset(s->arg)) < 0)
		return rc;
	while (off < f->len) {
		size_t n = f->len - off < 1000 ? f->len - off : 1000;

		if (s->data(s->arg, f->body + off, n) < 0)
			return -EIO;	/* refused while arriving: the next source */
		off += n;
		f->delivered = off;
	}
	return s->finish(s->arg) < 0 ? -EIO : 0;
}

static struct cvmfs_client *client_new(const char *sub, struct fake *f)
{
	struct cvmfs_client *c = calloc(1, sizeof(*c));
	char log[128];

	assert_non_null(c);
	pthread_mutex_init(&c->fly_lock, NULL);
	pthread_cond_init(&c->fly_cond, NULL);
	pthread_mutex_init(&c->cat_lock, NULL);
	pthread_mutex_init(&c->load_lock, NULL);
	pthread_mutex_init(&c->node_lock, NULL);
	snprintf(log, sizeof(log), "%s/%s.log", tmpdir, sub);
	c->log_fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(c->log_fd >= 0);
	assert_int_equal(cvmfs_cache_init(&c->cache, open_dir(sub), 0), 0);
	c->fetcher = (struct cvmfs_fetcher){ fake_fetch, f };
	c->next_offset = CVMFS_INO_FIRST_OFFSET;
	return c;
}

static void client_free(struct cvmfs_client *c)
{
	for (struct cvmfs_catalog *cat = c->cats, *n; cat; cat = n) {
		n = cat->next;
		cvmfs_catalog_close(cat);
	}
	for (size_t b = 0; b < CVMFS_NODE_BUCKETS; b++)
		for (struct cvmfs_node *n = c->nodes[b], *nn; n; n = nn) {
			nn = n->next;
			free(n->path);
			free(n);
		}
	cvmfs_cache_fini(&c->cache);
	close(c->log_fd);
	free(c);
}

static size_t log_count(const char *sub, const char *needle)
{
	char p[128], buf[8192];
	size_t n = 0;
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s.log", tmpdir, sub);
	f = fopen(p, "r");
	assert_non_null(f);
	while (fgets(buf, sizeof(buf), f))
		if (strstr(buf, needle))
			n++;
	fclose(f);
	return n;
}

static unsigned char *zip(const void *in, size_t len, size_t *out_len)
{
	uLongf n = compressBound(len);
	unsigned char *out = malloc(n);

	assert_non_null(out);
	assert_int_equal(compress2(out, &n, in, len, 6), Z_OK);
	*out_len = n;
	return out;
}

static void objrel(const struct cvmfs_hash *h, char sfx, char *rel)
{
	assert_true(cvmfs_hash_objpath(h, sfx, rel, CVMFS_OBJ_PATH_MAX) > 0);
}

/* No file under <cache>/txn and none under the object's names. */
static void assert_not_cached(const char *sub, const struct cvmfs_hash *h)
{
	char hex[CVMFS_HASH_HEX_MAX], p[256], rel[128];
	int fd = open_dir(sub), n = 0;
	DIR *d;

	cvmfs_hash_fmt(h, hex, sizeof(hex));
	snprintf(rel, sizeof(rel), "%.2s/%s", hex, hex + 2);
	path_of(p, sizeof(p), sub, rel);
	assert_int_equal(access(p, F_OK), -1);
	strcat(p, CVMFS_CACHE_RAW_EXT);
	assert_int_equal(access(p, F_OK), -1);
	path_of(p, sizeof(p), sub, "txn");
	d = opendir(p);
	assert_non_null(d);
	for (struct dirent *de; (de = readdir(d));)
		n += de->d_name[0] != '.';
	closedir(d);
	close(fd);
	assert_int_equal(n, 0);
}

static void read_fd(int fd, const void *want, size_t len)
{
	char *buf = malloc(len + 16);

	assert_int_equal(pread(fd, buf, len + 16, 0), (ssize_t)len);
	assert_memory_equal(buf, want, len);
	free(buf);
}

/* ---- 2. verify before commit ---- */
static void object_verify_before_commit(void **state)
{
	static const char text[] = "the content of a file, verified before it is kept\n";
	struct fake f = { 0 };
	struct cvmfs_client *c = client_new("v", &f);
	struct cvmfs_hash h, bad;
	char rel[CVMFS_OBJ_PATH_MAX];
	size_t zlen;
	unsigned char *z = zip(text, sizeof(text), &zlen);
	int fd;

	cvmfs_hash_buf(CVMFS_HASH_SHA1, z, zlen, &h);
	objrel(&h, CVMFS_SUFFIX_NONE, rel);
	f.rel = rel;
	/* other bytes than the hash names: refused, nothing kept */
	f.body = (const unsigned char *)"garbage";
	f.len = 7;
	assert_int_equal(cvmfs_object_get(c, &h, 0, true, sizeof(text), 0, &fd), -EIO);
	assert_not_cached("v", &h);
	/* the right bytes, but the catalog says another size: refused */
	f.body = z;
	f.len = zlen;
	assert_int_equal(cvmfs_object_get(c, &h, 0, true, sizeof(text) + 1, 0, &fd), -EIO);
	assert_not_cached("v", &h);
	assert_int_equal(log_count("v", "but its catalog says"), 1);
	/* right bytes, right size: committed, then served from the cache */
	assert_int_equal(cvmfs_object_get(c, &h, 0, true, sizeof(text), 0, &fd), 0);
	read_fd(fd, text, sizeof(text));
	close(fd);
	f.nreq = 0;
	assert_int_equal(cvmfs_object_get(c, &h, 0, true, sizeof(text), 0, &fd), 0);
	close(fd);
	assert_int_equal(f.nreq, 0);
	/* in memory (the certificate's way): checked the same, cache untouched */
	bad = h;
	bad.d[0] ^= 1;
	{
		unsigned char *out;
		size_t len;
		char rel2[CVMFS_OBJ_PATH_MAX];

		objrel(&bad, CVMFS_SUFFIX_CERT, rel2);
		f.rel = rel2;
		assert_int_equal(cvmfs_object_mem(c, &bad, CVMFS_SUFFIX_CERT, true, 4096, &out, &len),
				 -EIO);
		objrel(&h, CVMFS_SUFFIX_CERT, rel2);
		assert_int_equal(cvmfs_object_mem(c, &h, CVMFS_SUFFIX_CERT, true, 4096, &out, &len),
				 0);
		assert_int_equal(len, sizeof(text));
		assert_memory_equal(out, text, len);
		free(out);
		/* bound below the inflated size: refused */
		assert_int_equal(cvmfs_object_mem(c, &h, CVMFS_SUFFIX_CERT, true, 10, &out, &len),
				 -EIO);
	}
	free(z);
	client_free(c);
}

static void object_inflate_bounded(void **state)
{
	struct fake f = { 0 };
	struct cvmfs_client *c = client_new("b", &f);
	size_t big = 32u << 20, zlen;
	unsigned char *zero = calloc(1, big), *z = zip(zero, big, &zlen);
	struct cvmfs_hash h;
	char rel[CVMFS_OBJ_PATH_MAX];
	int fd;

	/* a bomb whose hash is right (a key holder's, or a forged chain's) */
	cvmfs_hash_buf(CVMFS_HASH_SHA1, z, zlen, &h);
	objrel(&h, CVMFS_SUFFIX_CATALOG, rel);
	f.rel = rel;
	f.body = z;
	f.len = zlen;
	/* the catalog's size bounds it: stops while arriving */
	assert_int_equal(cvmfs_object_get(c, &h, CVMFS_SUFFIX_CATALOG, true, 1 << 20, 0, &fd),
			 -EIO);
	assert_true(f.delivered < zlen);
	assert_not_cached("b", &h);
	/* an unknown size uses the given bound */
	assert_int_equal(cvmfs_object_get(c, &h, CVMFS_SUFFIX_CATALOG, true, CVMFS_SIZE_UNKNOWN,
					  4 << 20, &fd), -EIO);
	assert_true(f.delivered < zlen);
	assert_not_cached("b", &h);
	/* within the bound it is fine */
	assert_int_equal(cvmfs_object_get(c, &h, CVMFS_SUFFIX_CATALOG, true, CVMFS_SIZE_UNKNOWN,
					  big, &fd), 0);
	close(fd);
	free(zero);
	free(z);
	client_free(c);
}

/* The same hash as an uncompressed object and as a compressed one: the
 * bytes of an uncompressed file that happen to be a zlib stream. */
static void raw_and_compressed_apart(void **state)
{
	static const char inner[] = "what the zlib stream inflates to";
	struct fake f = { 0 };
	struct cvmfs_client *c = client_new("r", &f);
	size_t zlen;
	unsigned char *z = zip(inner, sizeof(inner), &zlen);
	struct cvmfs_hash h;
	char rel[CVMFS_OBJ_PATH_MAX], relx[CVMFS_OBJ_PATH_MAX];
	int fd;

	cvmfs_hash_buf(CVMFS_HASH_SHA1, z, zlen, &h);
	objrel(&h, CVMFS_SUFFIX_NONE, rel);
	objrel(&h, CVMFS_SUFFIX_CERT, relx);
	f.body = z;
	f.len = zlen;
	/* planted as a compressed object (e.g. named as a certificate) */
	f.rel = relx;
	assert_int_equal(cvmfs_object_get(c, &h, CVMFS_SUFFIX_CERT, true, CVMFS_SIZE_UNKNOWN,
					  1 << 20, &fd), 0);
	read_fd(fd, inner, sizeof(inner));
	close(fd);
	/* the uncompressed file of that hash is its own bytes, fetched */
	f.rel = rel;
	f.nreq = 0;
	assert_int_equal(cvmfs_object_get(c, &h, CVMFS_SUFFIX_NONE, false, zlen, 0, &fd), 0);
	read_fd(fd, z, zlen);
	close(fd);
	assert_int_equal(f.nreq, 1);
	/* both stay, under different names, also after a restart */
	cvmfs_cache_flush(&c->cache);
	cvmfs_cache_pin(&c->cache, &h, true, 1);
	assert_int_equal(cvmfs_cache_pins_save(&c->cache), 0);
	cvmfs_cache_fini(&c->cache);
	assert_int_equal(cvmfs_cache_init(&c->cache, open_dir("r"), 0), 0);
	assert_int_equal(cvmfs_cache_pins_load(&c->cache), 0);
	fd = cvmfs_cache_open(&c->cache, &h, true, zlen);
	assert_true(fd >= 0);
	read_fd(fd, z, zlen);
	close(fd);
	fd = cvmfs_cache_open(&c->cache, &h, false, sizeof(inner));
	assert_true(fd >= 0);
	read_fd(fd, inner, sizeof(inner));
	close(fd);
	free(z);
	client_free(c);
}

/* ---- 5. what the cache re-checks on open ---- */
static void put_file(const char *sub, const char *text, struct cvmfs_hash *h, char *path,
		     size_t plen)
{
	struct fake f = { 0 };
	struct cvmfs_client *c;
	char hex[CVMFS_HASH_HEX_MAX], rel[CVMFS_OBJ_PATH_MAX], name[128];
	int fd;

	c = client_new(sub, &f);
	cvmfs_hash_buf(CVMFS_HASH_SHA1, text, strlen(text), h);
	objrel(h, 0, rel);
	f.rel = rel;
	f.body = (const unsigned char *)text;
	f.len = strlen(text);
	assert_int_equal(cvmfs_object_get(c, h, 0, false, strlen(text), 0, &fd), 0);
	close(fd);
	client_free(c);		/* flushes: the object is under its final name */
	cvmfs_hash_fmt(h, hex, sizeof(hex));
	snprintf(name, sizeof(name), "%.2s/%s%s", hex, hex + 2, CVMFS_CACHE_RAW_EXT);
	path_of(path, plen, sub, name);
	assert_int_equal(access(path, F_OK), 0);
}

static void cache_open_refuses(void **state)
{
	static const char text[] = "sixteen bytes!!\n";
	struct cvmfs_cache k;
	struct cvmfs_hash h;
	char path[256], secret[256];
	int fd;

	put_file("o", text, &h, path, sizeof(path));
	/* a symlink to a secret of the same size */
	snprintf(secret, sizeof(secret), "%s/secret", tmpdir);
	fd = open(secret, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_int_equal(write(fd, "SSSSSSSSSSSSSSSS", 16), 16);
	close(fd);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(symlink(secret, path), 0);
	assert_int_equal(cvmfs_cache_init(&k, open_dir("o"), 0), 0);
	assert_int_equal(cvmfs_cache_open(&k, &h, true, 16), -ESTALE);
	assert_int_equal(access(path, F_OK), -1);		/* the link is gone */
	assert_int_equal(access(secret, F_OK), 0);		/* its target is not */
	assert_int_equal(cvmfs_cache_open(&k, &h, true, 16), -ENOENT);
	/* a fifo: refused at once, not waited on */
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(cvmfs_cache_open(&k, &h, true, 16), -ESTALE);
	assert_int_equal(access(path, F_OK), -1);
	/* a truncated (or grown) object */
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	assert_int_equal(write(fd, text, 10), 10);
	close(fd);
	assert_int_equal(cvmfs_cache_open(&k, &h, true, 16), -ESTALE);
	assert_int_equal(access(path, F_OK), -1);
	/* the right size is served; an unknown size checks the type only */
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	assert_int_equal(write(fd, text, 16), 16);
	close(fd);
	fd = cvmfs_cache_open(&k, &h, true, 16);
	assert_true(fd >= 0);
	close(fd);
	fd = cvmfs_cache_open(&k, &h, true, CVMFS_SIZE_UNKNOWN);
	assert_true(fd >= 0);
	close(fd);
	/* the compressed name of the same hash is another object */
	assert_int_equal(cvmfs_cache_open(&k, &h, false, CVMFS_SIZE_UNKNOWN), -ENOENT);
	assert_int_equal(k.nrejected, 3);
	cvmfs_cache_fini(&k);
}

/* ---- 7. catalog rows that cannot be directory entries ---- */
static void exec_sql(sqlite3 *db, const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("%s: %s", sql, err);
}

static void add_row(sqlite3 *db, int64_t rowid, const char *path, const char *parent,
		    const char *name, int flags, int mode)
{
	sqlite3_stmt *st;
	int64_t a, b, pa = 0, pb = 0;
	unsigned char hash[20];

	cvmfs_md5path(path, strlen(path), &a, &b);
	if (parent)
		cvmfs_md5path(parent, strlen(parent), &pa, &pb);
	memset(hash, 0x5a, sizeof(hash));
	assert_int_equal(sqlite3_prepare_v2(db, "INSERT INTO catalog (rowid, md5path_1, md5path_2, "
					    "parent_1, parent_2, hardlinks, hash, size, mode, mtime, "
					    "mtimens, flags, name, symlink, uid, gid, xattr) VALUES "
					    "(?,?,?,?,?,1,?,10,?,1700000000,0,?,?,'',0,0,NULL)", -1,
					    &st, NULL), SQLITE_OK);
	if (rowid)
		sqlite3_bind_int64(st, 1, rowid);
	sqlite3_bind_int64(st, 2, a);
	sqlite3_bind_int64(st, 3, b);
	sqlite3_bind_int64(st, 4, pa);
	sqlite3_bind_int64(st, 5, pb);
	sqlite3_bind_blob(st, 6, hash, 20, SQLITE_STATIC);
	sqlite3_bind_int(st, 7, mode);
	sqlite3_bind_int(st, 8, flags);
	sqlite3_bind_text(st, 9, name, -1, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
}

static struct cvmfs_catalog *bad_catalog(void)
{
	char file[128];
	sqlite3 *db;
	struct cvmfs_hash h = { .algo = CVMFS_HASH_SHA1 };
	struct cvmfs_catalog *cat;
	int fd, err;

	snprintf(file, sizeof(file), "%s/bad.db", tmpdir);
	unlink(file);
	assert_int_equal(sqlite3_open(file, &db), SQLITE_OK);
	exec_sql(db, "CREATE TABLE properties (key TEXT, value TEXT, CONSTRAINT pk_properties "
		 "PRIMARY KEY (key));"
		 "CREATE TABLE catalog (md5path_1 INTEGER, md5path_2 INTEGER, parent_1 INTEGER, "
		 "parent_2 INTEGER, hardlinks INTEGER, hash BLOB, size INTEGER, mode INTEGER, "
		 "mtime INTEGER, mtimens INTEGER, flags INTEGER, name TEXT, symlink TEXT, uid INTEGER, "
		 "gid INTEGER, xattr BLOB, CONSTRAINT pk_catalog PRIMARY KEY (md5path_1, md5path_2));"
		 "CREATE TABLE chunks (md5path_1 INTEGER, md5path_2 INTEGER, offset INTEGER, "
		 "size INTEGER, hash BLOB, CONSTRAINT pk_chunks PRIMARY KEY (md5path_1, md5path_2, "
		 "offset, size));"
		 "CREATE TABLE nested_catalogs (path TEXT, sha1 TEXT, size INTEGER, CONSTRAINT "
		 "pk_nested_catalogs PRIMARY KEY (path));"
		 "INSERT INTO properties VALUES ('schema', '2.5'), ('schema_revision', '7'), "
		 "('revision', '3');");
	add_row(db, 0, "", NULL, "", 1, S_IFDIR | 0755);
	add_row(db, 0, "/a", "", "a", 4, S_IFREG | 0644);
	/* its inode would be the root's: 256 + (1 - 256) */
	add_row(db, 1 - CVMFS_INO_FIRST_OFFSET, "/rootclash", "", "rootclash", 4, S_IFREG | 0644);
	add_row(db, 0, "/slash", "", "x/y", 4, S_IFREG | 0644);
	add_row(db, 0, "/dot", "", ".", 1, S_IFDIR | 0755);
	add_row(db, 0, "/dotdot", "", "..", 1, S_IFDIR | 0755);
	add_row(db, 0, "/b", "", "b", 4, S_IFREG | 0644);
	add_row(db, 0, "/z", "", "z", 4, S_IFREG | 0644);
	sqlite3_close(db);
	fd = open(file, O_RDONLY | O_CLOEXEC);
	cat = cvmfs_catalog_open(fd, "", &h, CVMFS_INO_FIRST_OFFSET, &err);
	close(fd);
	assert_non_null(cat);
	return cat;
}

struct names {
	char v[16][64];
	uint64_t ino[16];
	size_t n;
};

static int fill(void *arg, const char *name, uint64_t ino, mode_t mode,
		const struct cvmfs_fuse_entry *e, uint64_t off)
{
	struct names *l = arg;

	assert_true(l->n < 16);
	snprintf(l->v[l->n], sizeof(l->v[0]), "%s", name);
	l->ino[l->n++] = ino;
	return 1;
}

static void bad_catalog_rows_skipped(void **state)
{
	struct fake f = { 0 };
	struct cvmfs_client *c = client_new("rows", &f);
	struct cvmfs_fuse_entry e;
	struct names l = { .n = 0 };
	uint64_t fh;
	int dots = 0, dotdots = 0;

	c->root = c->cats = bad_catalog();
	assert_int_equal(cvmfs_ops.opendir(c, CVMFS_FUSE_ROOT_INO, &fh), 0);
	assert_int_equal(cvmfs_ops.readdir(c, CVMFS_FUSE_ROOT_INO, fh, 0, false, fill, &l), 0);
	cvmfs_ops.releasedir(c, CVMFS_FUSE_ROOT_INO, fh);
	/* ".", "..", then the good rows, in any order; nothing else */
	assert_int_equal(l.n, 5);
	for (size_t i = 0; i < l.n; i++) {
		dots += strcmp(l.v[i], ".") == 0;
		dotdots += strcmp(l.v[i], "..") == 0;
		assert_null(strchr(l.v[i], '/'));
		assert_true(i < 2 || l.ino[i] != CVMFS_FUSE_ROOT_INO);
		assert_true(strcmp(l.v[i], ".") == 0 || strcmp(l.v[i], "..") == 0 ||
			    strcmp(l.v[i], "a") == 0 || strcmp(l.v[i], "b") == 0 ||
			    strcmp(l.v[i], "z") == 0);
	}
	assert_int_equal(dots, 1);
	assert_int_equal(dotdots, 1);
	/* one log line per bad row */
	assert_int_equal(log_count("rows", "skipped"), 4);
	assert_int_equal(log_count("rows", "inode range"), 1);
	/* lookups: the clashing row does not exist, the others do */
	assert_int_equal(cvmfs_ops.lookup(c, CVMFS_FUSE_ROOT_INO, "rootclash", &e), -ENOENT);
	assert_int_equal(cvmfs_ops.lookup(c, CVMFS_FUSE_ROOT_INO, "z", &e), 0);
	assert_true(e.ino > CVMFS_INO_FIRST_OFFSET);
	assert_int_equal(cvmfs_ops.lookup(c, CVMFS_FUSE_ROOT_INO, "a", &e), 0);
	client_free(c);
}

/* The properties table decides whether the client reads a catalog at all. */
static int props_of(const char *sql, struct cvmfs_catalog_props *p)
{
	sqlite3 *db;
	int rc;

	assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
	exec_sql(db, sql);
	rc = cvmfs_catalog_props_read(db, p);
	sqlite3_close(db);
	return rc;
}

static void catalog_schema_checked(void **state)
{
	struct cvmfs_catalog_props p;

	assert_int_equal(props_of("CREATE TABLE properties (key TEXT, value TEXT);"
				  "INSERT INTO properties VALUES ('schema', '2.5');"
				  "INSERT INTO properties VALUES ('schema_revision', '7');"
				  "INSERT INTO properties VALUES ('revision', '42');"
				  "INSERT INTO properties VALUES ('TTL', '60');", &p), 0);
	assert_int_equal(p.schema_revision, 7);
	assert_int_equal(p.revision, 42);
	assert_int_equal(p.ttl, 60);
	/* revision 2 is the oldest read; TTL absent: the default */
	assert_int_equal(props_of("CREATE TABLE properties (key TEXT, value TEXT);"
				  "INSERT INTO properties VALUES ('schema', '2.5');"
				  "INSERT INTO properties VALUES ('schema_revision', '2');", &p), 0);
	assert_int_equal(p.ttl, CVMFS_DEFAULT_TTL);
	assert_int_equal(p.revision, 0);
	/* another schema, a revision out of range, none, no table at all */
	assert_int_equal(props_of("CREATE TABLE properties (key TEXT, value TEXT);"
				  "INSERT INTO properties VALUES ('schema', '2.4');"
				  "INSERT INTO properties VALUES ('schema_revision', '7');", &p),
			 -EPROTONOSUPPORT);
	assert_int_equal(props_of("CREATE TABLE properties (key TEXT, value TEXT);"
				  "INSERT INTO properties VALUES ('schema', '2.5');"
				  "INSERT INTO properties VALUES ('schema_revision', '8');", &p),
			 -EPROTONOSUPPORT);
	assert_int_equal(props_of("CREATE TABLE properties (key TEXT, value TEXT);"
				  "INSERT INTO properties VALUES ('schema', '2.5');", &p),
			 -EPROTONOSUPPORT);
	assert_int_equal(props_of("CREATE TABLE catalog (x);", &p), -EPROTONOSUPPORT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(object_verify_before_commit),
		cmocka_unit_test(object_inflate_bounded),
		cmocka_unit_test(raw_and_compressed_apart),
		cmocka_unit_test(cache_open_refuses),
		cmocka_unit_test(bad_catalog_rows_skipped),
		cmocka_unit_test(catalog_schema_checked),
	};

	return cmocka_run_group_tests(tests, tmp_setup, tmp_teardown);
}
