/* SPDX-License-Identifier: MIT */
/* tests/unit/cvmfs-lite-client_test.c: the client's parts without network or
 * mount: FUSE protocol over a socketpair, cache (txn, LRU, pins, restart),
 * catalogs from a crafted SQLite file, server/proxy lists, variant symlinks. */
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "sqlite3.h"

#include "cvmfs-lite/internal.h"
#include "tests/unit/tmpdir.h"

/* ---- variant symlinks (spec §4.5) ---- */
static void symlink_expansion(void **state)
{
	char out[256];

	setenv("CVMFS_T_ARCH", "x86_64", 1);
	unsetenv("CVMFS_T_NONE");
	cvmfs_symlink_expand("/opt/$(CVMFS_T_ARCH)/bin", out, sizeof(out));
	assert_string_equal(out, "/opt/x86_64/bin");
	cvmfs_symlink_expand("$(CVMFS_T_NONE)/x", out, sizeof(out));
	assert_string_equal(out, "/x");
	cvmfs_symlink_expand("$(CVMFS_T_NONE:-dflt)/x", out, sizeof(out));
	assert_string_equal(out, "dflt/x");
	cvmfs_symlink_expand("$(CVMFS_T_ARCH:-dflt)", out, sizeof(out));
	assert_string_equal(out, "x86_64");
	cvmfs_symlink_expand("a$(unterminated", out, sizeof(out));
	assert_string_equal(out, "a$(unterminated");
	cvmfs_symlink_expand("plain", out, 4);
	assert_string_equal(out, "pla");
}

/* ---- cache ---- */
static void put_obj(struct cvmfs_cache *k, const char *text, struct cvmfs_hash *h)
{
	struct cvmfs_txn t;
	int fd;

	cvmfs_hash_buf(CVMFS_HASH_SHA1, text, strlen(text), h);
	assert_int_equal(cvmfs_cache_txn_begin(k, &t), 0);
	assert_int_equal(write(t.fd, text, strlen(text)), (ssize_t)strlen(text));
	fd = cvmfs_cache_txn_commit(k, &t, h, false);
	assert_true(fd >= 0);
	close(fd);
}

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

/* Object directories appear with their first object; whatever else holds
 * such a name when the cache opens (a planted link) goes, unfollowed. */
static void cache_dirs_on_demand(void **state)
{
	struct cvmfs_cache k;
	struct cvmfs_hash h;
	char p[256], hex[CVMFS_HASH_HEX_MAX], victim[256];
	struct stat st;
	int fd;

	(void)state;
	snprintf(victim, sizeof(victim), "%s/victim", tmpdir);
	assert_int_equal(mkdir(victim, 0700), 0);
	snprintf(p, sizeof(p), "%s/c2/ab", tmpdir);
	fd = open_dir("c2");
	assert_int_equal(symlink(victim, p), 0);
	assert_int_equal(cvmfs_cache_init(&k, fd, 0), 0);
	assert_int_equal(lstat(p, &st), -1);		/* the link is gone */
	assert_int_equal(stat(victim, &st), 0);		/* its target is not */
	snprintf(p, sizeof(p), "%s/c2/00", tmpdir);
	assert_int_equal(access(p, F_OK), -1);		/* no directory made up front */
	put_obj(&k, "on demand", &h);
	cvmfs_cache_flush(&k);
	cvmfs_hash_fmt(&h, hex, sizeof(hex));
	snprintf(p, sizeof(p), "%s/c2/%.2s/%s", tmpdir, hex, hex + 2);
	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	fd = cvmfs_cache_open(&k, &h, false, 9);
	assert_true(fd >= 0);
	close(fd);
	cvmfs_cache_fini(&k);
	/* a restart finds it again through the directory scan */
	assert_int_equal(cvmfs_cache_init(&k, open_dir("c2"), 0), 0);
	{
		uint64_t used, n;

		cvmfs_cache_stats(&k, &used, &n);
		assert_int_equal(n, 1);
		assert_int_equal(used, 9);
	}
	cvmfs_cache_fini(&k);
}

static void cache_lru_pins_restart(void **state)
{
	struct cvmfs_cache *k = calloc(1, sizeof(*k));
	struct cvmfs_hash h[4];
	char big[3][200], leftover[128];
	uint64_t used, n;
	int fd;

	for (int i = 0; i < 3; i++) {
		memset(big[i], 'a' + i, sizeof(big[i]) - 1);
		big[i][sizeof(big[i]) - 1] = 0;
	}
	assert_int_equal(cvmfs_cache_init(k, open_dir("c1"), 450), 0);
	put_obj(k, big[0], &h[0]);
	cvmfs_cache_pin(k, &h[0], false, 1);
	put_obj(k, big[1], &h[1]);
	put_obj(k, big[2], &h[2]);	/* over 450: the oldest unpinned (1) goes */
	assert_int_equal(cvmfs_cache_open(k, &h[1], false, CVMFS_SIZE_UNKNOWN), -ENOENT);
	fd = cvmfs_cache_open(k, &h[0], false, CVMFS_SIZE_UNKNOWN);
	assert_true(fd >= 0);
	close(fd);
	fd = cvmfs_cache_open(k, &h[2], false, CVMFS_SIZE_UNKNOWN);
	assert_true(fd >= 0);
	{	/* stored as is, under <hex[0:2]>/<hex[2:]> */
		char buf[300];

		assert_int_equal(read(fd, buf, sizeof(buf)), 199);
		assert_memory_equal(buf, big[2], 199);
	}
	close(fd);
	cvmfs_cache_stats(k, &used, &n);
	assert_int_equal(used, 398);
	assert_int_equal(n, 2);
	assert_int_equal(cvmfs_cache_pins_save(k), 0);
	/* a crash left a half download behind */
	snprintf(leftover, sizeof(leftover), "%s/c1/txn/fetch0000", tmpdir);
	close(open(leftover, O_CREAT | O_WRONLY, 0600));
	cvmfs_cache_fini(k);

	memset(k, 0, sizeof(*k));
	assert_int_equal(cvmfs_cache_init(k, open_dir("c1"), 450), 0);
	assert_int_equal(access(leftover, F_OK), -1);
	cvmfs_cache_stats(k, &used, &n);
	assert_int_equal(n, 2);
	assert_int_equal(cvmfs_cache_pins_load(k), 0);
	put_obj(k, "x", &h[3]);
	put_obj(k, big[1], &h[1]);	/* evicts 2 and x, never the pinned 0 */
	fd = cvmfs_cache_open(k, &h[0], false, CVMFS_SIZE_UNKNOWN);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(cvmfs_cache_open(k, &h[2], false, CVMFS_SIZE_UNKNOWN), -ENOENT);
	cvmfs_cache_fini(k);
	free(k);
}

/* ---- server and proxy lists ---- */
static void fetch_lists(void **state)
{
	struct cvmfs_fetch *f = calloc(1, sizeof(*f));
	char host[256], proxy[256];

	assert_int_equal(cvmfs_fetch_init(f, "http://s1/cvmfs/@fqrn@/; http://s2/@org@,http://s3",
					  "http://p1:3128|http://p2:3128;DIRECT", "atlas.cern.ch",
					  NULL), 0);
	assert_int_equal(f->nhosts, 3);
	assert_string_equal(f->hosts[0], "http://s1/cvmfs/atlas.cern.ch");
	assert_string_equal(f->hosts[1], "http://s2/atlas");
	assert_string_equal(f->hosts[2], "http://s3");
	assert_int_equal(f->ngroups, 2);
	assert_int_equal(f->nproxies[0], 2);
	assert_string_equal(f->proxies[0][1], "http://p2:3128");
	assert_string_equal(f->proxies[1][0], "DIRECT");
	cvmfs_fetch_current(f, host, sizeof(host), proxy, sizeof(proxy));
	assert_string_equal(host, "http://s1/cvmfs/atlas.cern.ch");
	assert_string_equal(proxy, "http://p1:3128");
	cvmfs_fetch_fini(f);
	memset(f, 0, sizeof(*f));
	assert_int_equal(cvmfs_fetch_init(f, " ; ", NULL, "x.org", NULL), -EINVAL);
	cvmfs_fetch_fini(f);
	free(f);
}

/* ---- catalogs ---- */
static void exec_sql(sqlite3 *db, const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("%s: %s", sql, err);
}

static void add_row(sqlite3 *db, const char *path, const char *parent, const char *name,
		    int flags, int mode, int64_t size, uint64_t hl, const char *link, int hashbyte)
{
	sqlite3_stmt *st;
	int64_t a, b, pa = 0, pb = 0;
	unsigned char hash[20];

	cvmfs_md5path(path, strlen(path), &a, &b);
	if (parent)
		cvmfs_md5path(parent, strlen(parent), &pa, &pb);
	memset(hash, hashbyte, sizeof(hash));
	assert_int_equal(sqlite3_prepare_v2(db, "INSERT INTO catalog VALUES (?,?,?,?,?,?,?,?,?,?,?,"
					    "?,?,?,?,NULL)", -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_int64(st, 1, a);
	sqlite3_bind_int64(st, 2, b);
	sqlite3_bind_int64(st, 3, pa);
	sqlite3_bind_int64(st, 4, pb);
	sqlite3_bind_int64(st, 5, (int64_t)hl);
	if (hashbyte)
		sqlite3_bind_blob(st, 6, hash, 20, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, size);
	sqlite3_bind_int(st, 8, mode);
	sqlite3_bind_int64(st, 9, 1700000000);
	sqlite3_bind_int(st, 10, 5);
	sqlite3_bind_int(st, 11, flags);
	sqlite3_bind_text(st, 12, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 13, link, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 14, 1000);
	sqlite3_bind_int(st, 15, 100);
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
}

static int make_catalog(const char *file, const char *schema, const char *rev)
{
	sqlite3 *db;
	char sql[256];
	int64_t a, b;

	unlink(file);
	assert_int_equal(sqlite3_open(file, &db), SQLITE_OK);
	exec_sql(db, "CREATE TABLE properties (key TEXT, value TEXT, CONSTRAINT pk_properties "
		 "PRIMARY KEY (key));"
		 "CREATE TABLE catalog (md5path_1 INTEGER, md5path_2 INTEGER, parent_1 INTEGER, "
		 "parent_2 INTEGER, hardlinks INTEGER, hash BLOB, size INTEGER, mode INTEGER, "
		 "mtime INTEGER, mtimens INTEGER, flags INTEGER, name TEXT, symlink TEXT, uid INTEGER, "
		 "gid INTEGER, xattr BLOB, CONSTRAINT pk_catalog PRIMARY KEY (md5path_1, md5path_2));"
		 "CREATE INDEX idx_catalog_parent ON catalog (parent_1, parent_2);"
		 "CREATE TABLE chunks (md5path_1 INTEGER, md5path_2 INTEGER, offset INTEGER, "
		 "size INTEGER, hash BLOB, CONSTRAINT pk_chunks PRIMARY KEY (md5path_1, md5path_2, "
		 "offset, size));"
		 "CREATE TABLE nested_catalogs (path TEXT, sha1 TEXT, size INTEGER, CONSTRAINT "
		 "pk_nested_catalogs PRIMARY KEY (path));");
	snprintf(sql, sizeof(sql), "INSERT INTO properties VALUES ('schema', '%s'), "
		 "('schema_revision', '%s'), ('revision', '7')", schema, rev);
	exec_sql(db, sql);
	add_row(db, "", NULL, "", 1, S_IFDIR | 0755, 4096, 3, "", 0);
	add_row(db, "/a", "", "a", 4, S_IFREG | 0644, 10, 1, "", 0xaa);
	add_row(db, "/h1", "", "h1", 4, S_IFREG | 0644, 10, (2ull << 32) | 2, "", 0xab);
	add_row(db, "/h2", "", "h2", 4, S_IFREG | 0644, 10, (2ull << 32) | 2, "", 0xab);
	add_row(db, "/big", "", "big", 4 | 64, S_IFREG | 0644, 300, 1, "", 0);
	add_row(db, "/l", "", "l", 4 | 8, S_IFLNK | 0777, 1, 1, "a", 0);
	add_row(db, "/n", "", "n", 1 | 2, S_IFDIR | 0755, 4096, 2, "", 0);
	add_row(db, "/.cvmfs", "", ".cvmfs", 1 | 0x8000, S_IFDIR | 0755, 4096, 2, "", 0);
	cvmfs_md5path("/big", 4, &a, &b);
	for (int i = 0; i < 3; i++) {
		snprintf(sql, sizeof(sql), "INSERT INTO chunks VALUES (%lld, %lld, %d, 100, "
			 "x'%040d')", (long long)a, (long long)b, i * 100, i + 1);
		exec_sql(db, sql);
	}
	exec_sql(db, "INSERT INTO nested_catalogs VALUES ('/n', "
		 "'0123456789abcdef0123456789abcdef01234567', 1000)");
	sqlite3_close(db);
	return open(file, O_RDONLY | O_CLOEXEC);
}

static int count_cb(void *arg, struct cvmfs_dirent *d)
{
	(*(int *)arg)++;
	return 0;
}

static void catalog_queries(void **state)
{
	char file[128];
	struct cvmfs_hash h = { .algo = CVMFS_HASH_SHA1 };
	struct cvmfs_dirent *d = malloc(sizeof(*d)), *d2 = malloc(sizeof(*d2));
	struct cvmfs_catalog *cat;
	struct cvmfs_chunk *ch;
	size_t n;
	int fd, err, cnt = 0;

	snprintf(file, sizeof(file), "%s/cat.db", tmpdir);
	fd = make_catalog(file, "2.5", "7");
	cat = cvmfs_catalog_open(fd, "", &h, 256, &err);
	close(fd);
	assert_non_null(cat);
	assert_int_equal(cat->repo_revision, 7);
	assert_int_equal(cvmfs_catalog_lookup(cat, "", d), 0);
	assert_true(S_ISDIR(d->mode));
	assert_int_equal(d->nlink, 3);
	assert_int_equal(cvmfs_catalog_lookup(cat, "/a", d), 0);
	assert_string_equal(d->name, "a");
	assert_true(d->has_hash);
	assert_int_equal(d->hash.d[0], 0xaa);
	assert_int_equal(d->mtimens, 5);
	assert_int_equal(d->uid, 1000);
	/* hardlinks: one inode, the first-met row's (h2 looked up first here),
	 * inside the catalog's range, which is its rowids alone */
	assert_int_equal(cvmfs_catalog_lookup(cat, "/h2", d2), 0);
	assert_int_equal(cvmfs_catalog_lookup(cat, "/h1", d), 0);
	assert_int_equal(d->ino, d2->ino);
	assert_int_equal(d->ino, 256 + (uint64_t)d2->rowid);
	assert_true(d->rowid != d2->rowid);
	assert_int_equal(d->nlink, 2);
	assert_int_equal(cat->ino_span, (uint64_t)cat->max_rowid + 2);
	assert_true(d->ino > 256 && d->ino <= 256 + (uint64_t)cat->max_rowid);
	assert_int_equal(cvmfs_catalog_lookup(cat, "/nope", d), -ENOENT);
	assert_int_equal(cvmfs_catalog_lookup(cat, "/l", d), 0);
	assert_string_equal(d->symlink, "a");
	assert_int_equal(cvmfs_catalog_list(cat, "", count_cb, &cnt), 0);
	assert_int_equal(cnt, 7);
	assert_int_equal(cvmfs_catalog_chunks(cat, "/big", CVMFS_HASH_SHA1, &ch, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(ch[2].off, 200);
	free(ch);
	assert_int_equal(cvmfs_catalog_nested(cat, "/n", &h), 0);
	assert_int_equal(h.d[0], 0x01);
	{	/* the child's size bounds its download */
		uint64_t size = 0;

		assert_int_equal(cvmfs_catalog_nested_size(cat, "/n", &h, &size), 0);
		assert_int_equal(size, 1000);
	}
	assert_int_equal(cvmfs_catalog_nested(cat, "/m", &h), -ENOENT);
	cvmfs_catalog_close(cat);
	/* revision 2 (no mtimens column needed) opens; schema 2.4 does not */
	fd = make_catalog(file, "2.5", "2");
	cat = cvmfs_catalog_open(fd, "", &h, 256, &err);
	close(fd);
	assert_non_null(cat);
	assert_int_equal(cvmfs_catalog_lookup(cat, "/a", d), 0);
	assert_int_equal(d->mtimens, 0);
	cvmfs_catalog_close(cat);
	fd = make_catalog(file, "2.4", "7");
	assert_null(cvmfs_catalog_open(fd, "", &h, 256, &err));
	assert_int_equal(err, -EPROTONOSUPPORT);
	close(fd);
	fd = open("/dev/null", O_RDONLY);
	assert_null(cvmfs_catalog_open(fd, "", &h, 256, &err));
	close(fd);
	free(d);
	free(d2);
}

/* ---- FUSE protocol over a socketpair ---- */
static int t_lookup(void *ctx, uint64_t parent, const char *name, struct cvmfs_fuse_entry *out)
{
	if (strcmp(name, "there") != 0)
		return -ENOENT;
	out->ino = 42;
	out->st.st_ino = 42;
	out->st.st_mode = S_IFREG | 0644;
	out->st.st_size = 7;
	return 0;
}

static void t_forget(void *ctx, uint64_t ino, uint64_t n)
{
	*(uint64_t *)ctx += n;
}

static const struct cvmfs_fuse_ops tops = { .lookup = t_lookup, .forget = t_forget };

static void *serve_thread(void *arg)
{
	cvmfs_fuse_serve(arg);
	return NULL;
}

static ssize_t req(int fd, uint32_t op, uint64_t unique, uint64_t node, const void *arg,
		   size_t alen, void *reply, size_t rlen)
{
	char buf[512];
	struct fuse_in_header *h = (void *)buf;

	memset(h, 0, sizeof(*h));
	h->len = sizeof(*h) + alen;
	h->opcode = op;
	h->unique = unique;
	h->nodeid = node;
	memcpy(buf + sizeof(*h), arg, alen);
	assert_int_equal(write(fd, buf, h->len), (ssize_t)h->len);
	return reply ? read(fd, reply, rlen) : 0;
}

static void fuse_protocol(void **state)
{
	struct cvmfs_fuse *f = calloc(1, sizeof(*f));
	uint64_t forgotten = 0;
	int sv[2];
	pthread_t t;
	char rep[512];
	struct fuse_out_header *oh = (void *)rep;
	struct fuse_init_in ii = { .major = 7, .minor = 31, .max_readahead = 131072,
				   .flags = FUSE_ASYNC_READ | FUSE_PARALLEL_DIROPS |
					    FUSE_DO_READDIRPLUS | FUSE_POSIX_LOCKS };
	struct fuse_init_out *io = (void *)(oh + 1);
	struct fuse_entry_out *eo = (void *)(oh + 1);
	struct fuse_open_in oi = { .flags = O_WRONLY };
	struct fuse_forget_in fi = { .nlookup = 3 };
	ssize_t n;

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	f->fd = sv[0];
	f->ops = &tops;
	f->ctx = &forgotten;
	f->cfg.threads = 2;
	f->cfg.timeout_s = 77;
	pthread_mutex_init(&f->lock, NULL);
	assert_int_equal(pthread_create(&t, NULL, serve_thread, f), 0);

	n = req(sv[1], FUSE_INIT, 1, 0, &ii, sizeof(ii), rep, sizeof(rep));
	assert_true(n >= (ssize_t)(sizeof(*oh) + 24));
	assert_int_equal(oh->error, 0);
	assert_int_equal(oh->unique, 1);
	assert_int_equal(io->major, 7);
	assert_int_equal(io->minor, 31);
	assert_int_equal(io->max_readahead, 131072);
	/* what we want and the kernel offered; nothing it did not offer */
	assert_int_equal(io->flags, FUSE_ASYNC_READ | FUSE_PARALLEL_DIROPS | FUSE_DO_READDIRPLUS);

	n = req(sv[1], FUSE_LOOKUP, 2, 1, "there", 6, rep, sizeof(rep));
	assert_int_equal(oh->error, 0);
	assert_int_equal(eo->nodeid, 42);
	assert_int_equal(eo->attr.size, 7);
	assert_int_equal(eo->entry_valid, 77);
	/* a miss is a cached negative entry, not an error */
	n = req(sv[1], FUSE_LOOKUP, 3, 1, "missing", 8, rep, sizeof(rep));
	assert_int_equal(n, sizeof(*oh) + sizeof(*eo));
	assert_int_equal(oh->error, 0);
	assert_int_equal(eo->nodeid, 0);
	assert_int_equal(eo->entry_valid, 77);
	n = req(sv[1], FUSE_MKDIR, 4, 1, "x\0\0\0\0\0\0\0\0\0", 10, rep, sizeof(rep));
	assert_int_equal(n, sizeof(*oh));
	assert_int_equal(oh->error, -EROFS);
	n = req(sv[1], FUSE_OPEN, 5, 42, &oi, sizeof(oi), rep, sizeof(rep));
	assert_int_equal(oh->error, -EROFS);
	n = req(sv[1], 9999, 6, 1, "", 0, rep, sizeof(rep));
	assert_int_equal(oh->error, -ENOSYS);
	req(sv[1], FUSE_FORGET, 7, 42, &fi, sizeof(fi), NULL, 0);	/* no reply */
	n = req(sv[1], FUSE_ACCESS, 8, 1, &(struct fuse_access_in){ .mask = 2 }, 8, rep,
		sizeof(rep));
	assert_int_equal(oh->unique, 8);
	assert_int_equal(oh->error, -EROFS);
	/* FORGET has no reply: the other worker may still be on it (2 s bound) */
	for (int i = 0; i < 200 && __atomic_load_n(&forgotten, __ATOMIC_SEQ_CST) != 3; i++)
		usleep(10000);
	assert_int_equal(__atomic_load_n(&forgotten, __ATOMIC_SEQ_CST), 3);
	close(sv[1]);
	pthread_join(t, NULL);
	close(sv[0]);
	free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(symlink_expansion),
		cmocka_unit_test(cache_lru_pins_restart),
		cmocka_unit_test(cache_dirs_on_demand),
		cmocka_unit_test(fetch_lists),
		cmocka_unit_test(catalog_queries),
		cmocka_unit_test(fuse_protocol),
	};

	return cmocka_run_group_tests(tests, tmp_setup, tmp_teardown);
}
