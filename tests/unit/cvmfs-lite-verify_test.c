/* SPDX-License-Identifier: MIT */
/* tests/unit/cvmfs-lite-verify_test.c: verify-before-commit through the fetch
 * interface (struct cvmfs_fetcher): a fake server with several sources that
 * send wrong, truncated or right bytes. At every step of every transfer
 * the object must be absent from the cache; only a copy that verified is
 * committed, and the caller gets the error the fetch contract names. */
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

#include "cvmfs-lite/internal.h"
#include "tests/unit/tmpdir.h"

/* ---- a fake server: sources tried in order, as cvmfs_fetch_run does ---- */
enum src_kind { SRC_BYTES, SRC_404, SRC_UNREACHABLE };

struct src {
	enum src_kind kind;
	const unsigned char *body;
	size_t len;
};

#define SRC_MAX 4

struct fake {
	struct cvmfs_client *c;
	const struct cvmfs_hash *h;	/* the object that must not appear early */
	struct src src[SRC_MAX];
	size_t nsrc;
	int verdict[SRC_MAX];		/* what the sink said of each source's bytes */
	unsigned nreq, nchecks;
};

/* Neither name of the object exists while it is not verified. */
static void assert_absent(struct fake *f)
{
	assert_int_equal(cvmfs_cache_open(&f->c->cache, f->h, false, CVMFS_SIZE_UNKNOWN), -ENOENT);
	assert_int_equal(cvmfs_cache_open(&f->c->cache, f->h, true, CVMFS_SIZE_UNKNOWN), -ENOENT);
	f->nchecks++;
}

/* One source's transfer in pieces of 7 bytes; the sink's verdict, 0 = kept. */
static int send_one(struct fake *f, const struct src *s, const struct cvmfs_sink *k)
{
	int rc = k->reset(k->arg);

	for (size_t off = 0; rc == 0 && off < s->len; off += 7) {
		assert_absent(f);
		rc = k->data(k->arg, s->body + off, s->len - off < 7 ? s->len - off : 7);
	}
	assert_absent(f);
	return rc < 0 ? rc : k->finish(k->arg);
}

/* The contract of cvmfs_fetch_run: 0 at the first source whose bytes the
 * sink accepts; else -ENOENT (all 404), -ENETUNREACH (none answered), -EIO. */
static int fake_get(void *arg, const char *rel, const struct cvmfs_sink *k)
{
	struct fake *f = arg;
	bool reached = false, all404 = true;

	f->nreq++;
	for (size_t i = 0; i < f->nsrc; i++) {
		const struct src *s = &f->src[i];

		if (s->kind == SRC_UNREACHABLE)
			continue;
		reached = true;
		if (s->kind == SRC_404)
			continue;
		all404 = false;
		if ((f->verdict[i] = send_one(f, s, k)) == 0)
			return 0;
		assert_absent(f);	/* a refused copy left nothing behind */
	}
	if (reached && all404)
		return -ENOENT;
	return reached ? -EIO : -ENETUNREACH;
}

static struct cvmfs_client *client_new(const char *sub, struct fake *f)
{
	struct cvmfs_client *c = calloc(1, sizeof(*c));
	char p[128];
	int fd;

	assert_non_null(c);
	pthread_mutex_init(&c->fly_lock, NULL);
	pthread_cond_init(&c->fly_cond, NULL);
	snprintf(p, sizeof(p), "%s/%s.log", tmpdir, sub);
	c->log_fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(c->log_fd >= 0);
	snprintf(p, sizeof(p), "%s/%s", tmpdir, sub);
	assert_int_equal(mkdir(p, 0700), 0);
	fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(cvmfs_cache_init(&c->cache, fd, 0), 0);
	c->fetcher = (struct cvmfs_fetcher){ fake_get, f };
	f->c = c;
	return c;
}

static void client_free(struct cvmfs_client *c)
{
	cvmfs_cache_fini(&c->cache);
	close(c->log_fd);
	free(c);
}

/* Files under <cache>/txn: a refused download must not leave one. */
static int txn_files(const char *sub)
{
	char p[128];
	int n = 0;
	DIR *d;

	snprintf(p, sizeof(p), "%s/%s/txn", tmpdir, sub);
	assert_non_null(d = opendir(p));
	for (struct dirent *de; (de = readdir(d));)
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

static void assert_fd_holds(int fd, const void *want, size_t len)
{
	char *buf = malloc(len + 64);

	assert_non_null(buf);
	assert_int_equal(pread(fd, buf, len + 64, 0), (ssize_t)len);
	assert_memory_equal(buf, want, len);
	free(buf);
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

/* The test object: text compressed, named by the hash of its zlib stream;
 * same: another object's stream of the same inflated size; other: another
 * object's, twice as long. */
struct obj {
	char text[300];
	unsigned char *z, *same, *other;
	size_t zlen, slen, olen;
	struct cvmfs_hash h;
};

static void obj_make(struct obj *o)
{
	char other[600];

	for (size_t i = 0; i < sizeof(o->text); i++)
		o->text[i] = (char)('a' + i * 7 % 26);
	memset(other, 'x', sizeof(other));
	o->z = zip(o->text, sizeof(o->text), &o->zlen);
	o->same = zip(other, sizeof(o->text), &o->slen);
	o->other = zip(other, sizeof(other), &o->olen);
	cvmfs_hash_buf(CVMFS_HASH_SHA1, o->z, o->zlen, &o->h);
}

static void obj_free(struct obj *o)
{
	free(o->z);
	free(o->same);
	free(o->other);
}

static int get(struct cvmfs_client *c, struct obj *o, uint64_t size, int *fd)
{
	return cvmfs_object_get(c, &o->h, CVMFS_SUFFIX_NONE, true, size, 0, fd);
}

/* ---- wrong bytes: another object's stream, or garbage ---- */
static void wrong_bytes_refused(void **state)
{
	struct obj o;
	struct fake f = { 0 };
	struct cvmfs_client *c;
	int fd = -1;

	obj_make(&o);
	c = client_new("wrong", &f);
	f.h = &o.h;
	f.src[0] = (struct src){ SRC_BYTES, o.same, o.slen };
	f.src[1] = (struct src){ SRC_BYTES, (const unsigned char *)"not zlib at all", 15 };
	f.src[2] = (struct src){ SRC_BYTES, o.other, o.olen };
	f.nsrc = 3;
	assert_int_equal(get(c, &o, sizeof(o.text), &fd), -EIO);
	assert_int_equal(fd, -1);
	assert_int_equal(f.verdict[0], -EBADMSG);	/* inflates, but hashes to another */
	assert_int_equal(f.verdict[1], -EBADMSG);	/* not a zlib stream */
	assert_int_equal(f.verdict[2], -EFBIG);		/* inflates past the catalog's size */
	assert_true(f.nchecks > 3 * 2);
	assert_absent(&f);
	assert_int_equal(txn_files("wrong"), 0);
	/* the memory path (certificates) refuses them the same */
	{
		unsigned char *out = (unsigned char *)"unchanged";
		size_t len = 0;

		assert_int_equal(cvmfs_object_mem(c, &o.h, CVMFS_SUFFIX_CERT, true, 4096, &out, &len),
				 -EIO);
		assert_null(out);
	}
	assert_absent(&f);
	client_free(c);
	obj_free(&o);
}

/* ---- truncated bytes: the stream cut short, compressed or raw ---- */
static void truncated_bytes_refused(void **state)
{
	struct obj o;
	struct fake f = { 0 };
	struct cvmfs_client *c;
	struct cvmfs_hash raw;
	int fd = -1;

	obj_make(&o);
	c = client_new("trunc", &f);
	f.h = &o.h;
	f.src[0] = (struct src){ SRC_BYTES, o.z, o.zlen / 2 };
	f.src[1] = (struct src){ SRC_BYTES, o.z, o.zlen - 1 };	/* all but the checksum's last byte */
	f.nsrc = 2;
	assert_int_equal(get(c, &o, sizeof(o.text), &fd), -EIO);
	assert_int_equal(f.verdict[0], -EBADMSG);
	assert_int_equal(f.verdict[1], -EBADMSG);
	assert_int_equal(txn_files("trunc"), 0);
	/* an uncompressed object cut short: the hash catches it */
	cvmfs_hash_buf(CVMFS_HASH_SHA1, o.text, sizeof(o.text), &raw);
	f.h = &raw;
	f.src[0] = (struct src){ SRC_BYTES, (const unsigned char *)o.text, sizeof(o.text) - 1 };
	f.nsrc = 1;
	assert_int_equal(cvmfs_object_get(c, &raw, CVMFS_SUFFIX_NONE, false, CVMFS_SIZE_UNKNOWN,
					  1 << 20, &fd), -EIO);
	assert_int_equal(f.verdict[0], -EBADMSG);
	assert_absent(&f);
	/* bytes that arrived in a bundle, cut short: refused, not kept */
	f.h = &o.h;
	assert_int_equal(cvmfs_object_put(c, &o.h, true, o.z, o.zlen - 3), -EBADMSG);
	assert_absent(&f);
	assert_int_equal(txn_files("trunc"), 0);
	client_free(c);
	obj_free(&o);
}

/* ---- the right bytes, but not the size the catalog gives ---- */
static void wrong_size_refused(void **state)
{
	struct obj o;
	struct fake f = { 0 };
	struct cvmfs_client *c;
	int fd = -1;

	obj_make(&o);
	c = client_new("size", &f);
	f.h = &o.h;
	f.src[0] = (struct src){ SRC_BYTES, o.z, o.zlen };
	f.nsrc = 1;
	assert_int_equal(get(c, &o, sizeof(o.text) + 1, &fd), -EIO);
	assert_int_equal(f.verdict[0], -ERANGE);
	/* a bound below the inflated size stops the stream while it arrives */
	assert_int_equal(cvmfs_object_get(c, &o.h, CVMFS_SUFFIX_NONE, true, CVMFS_SIZE_UNKNOWN,
					  sizeof(o.text) - 1, &fd), -EIO);
	assert_int_equal(f.verdict[0], -EFBIG);
	assert_absent(&f);
	assert_int_equal(txn_files("size"), 0);
	client_free(c);
	obj_free(&o);
}

/* ---- right bytes after bad sources: committed, exactly the object ---- */
static void right_bytes_committed(void **state)
{
	struct obj o;
	struct fake f = { 0 };
	struct cvmfs_client *c;
	int fd = -1, fd2 = -1;

	obj_make(&o);
	c = client_new("right", &f);
	f.h = &o.h;
	/* the longer wrong stream first (the size unknown, the bound above
	 * it): a retry must not keep its tail */
	f.src[0] = (struct src){ SRC_BYTES, o.other, o.olen };
	f.src[1] = (struct src){ SRC_UNREACHABLE };
	f.src[2] = (struct src){ SRC_BYTES, o.z, o.zlen / 2 };
	f.src[3] = (struct src){ SRC_BYTES, o.z, o.zlen };
	f.nsrc = 4;
	assert_int_equal(cvmfs_object_get(c, &o.h, CVMFS_SUFFIX_NONE, true, CVMFS_SIZE_UNKNOWN,
					  4096, &fd), 0);
	assert_int_equal(f.verdict[0], -EBADMSG);
	assert_int_equal(f.verdict[2], -EBADMSG);
	assert_int_equal(f.verdict[3], 0);
	assert_true(fd >= 0);
	assert_fd_holds(fd, o.text, sizeof(o.text));
	close(fd);
	/* in the cache now, under the inflated name only; no second download */
	cvmfs_cache_flush(&c->cache);
	fd = cvmfs_cache_open(&c->cache, &o.h, false, sizeof(o.text));
	assert_true(fd >= 0);
	assert_fd_holds(fd, o.text, sizeof(o.text));
	close(fd);
	assert_int_equal(cvmfs_cache_open(&c->cache, &o.h, true, CVMFS_SIZE_UNKNOWN), -ENOENT);
	f.nreq = 0;
	assert_int_equal(get(c, &o, sizeof(o.text), &fd2), 0);
	assert_int_equal(f.nreq, 0);
	close(fd2);
	assert_int_equal(txn_files("right"), 0);
	client_free(c);
	obj_free(&o);
}

/* ---- the fetch's own errors reach the caller unchanged ---- */
static void fetch_errors_pass_through(void **state)
{
	struct obj o;
	struct fake f = { 0 };
	struct cvmfs_client *c;
	int fd = -1;

	obj_make(&o);
	c = client_new("err", &f);
	f.h = &o.h;
	f.src[0] = (struct src){ SRC_UNREACHABLE };
	f.src[1] = (struct src){ SRC_UNREACHABLE };
	f.nsrc = 2;
	/* nothing answered: the one error that lets a client go offline */
	assert_int_equal(get(c, &o, sizeof(o.text), &fd), -ENETUNREACH);
	f.src[1] = (struct src){ SRC_404 };
	assert_int_equal(get(c, &o, sizeof(o.text), &fd), -ENOENT);
	assert_absent(&f);
	assert_int_equal(txn_files("err"), 0);
	client_free(c);
	obj_free(&o);
}

/* ---- the memory path: verified bytes, never the cache ---- */
static void memory_right_bytes(void **state)
{
	struct obj o;
	struct fake f = { 0 };
	struct cvmfs_client *c;
	unsigned char *out;
	size_t len;

	obj_make(&o);
	c = client_new("mem", &f);
	f.h = &o.h;
	f.src[0] = (struct src){ SRC_BYTES, o.z, o.zlen - 2 };
	f.src[1] = (struct src){ SRC_BYTES, o.z, o.zlen };
	f.nsrc = 2;
	assert_int_equal(cvmfs_object_mem(c, &o.h, CVMFS_SUFFIX_CERT, true, 4096, &out, &len), 0);
	assert_int_equal(f.verdict[0], -EBADMSG);
	assert_int_equal(len, sizeof(o.text));
	assert_memory_equal(out, o.text, len);
	assert_int_equal(out[len], 0);
	free(out);
	assert_absent(&f);
	assert_int_equal(txn_files("mem"), 0);
	client_free(c);
	obj_free(&o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(wrong_bytes_refused),
		cmocka_unit_test(truncated_bytes_refused),
		cmocka_unit_test(wrong_size_refused),
		cmocka_unit_test(right_bytes_committed),
		cmocka_unit_test(fetch_errors_pass_through),
		cmocka_unit_test(memory_right_bytes),
	};

	return cmocka_run_group_tests(tests, tmp_setup, tmp_teardown);
}
