/* SPDX-License-Identifier: MIT */
/* cvmfs-lite/objects.c: verified objects into the cache (hash over the
 * transferred bytes, inflate while they arrive, one download per object),
 * catalog loading, path resolution and variant symlinks. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "cvmfs-lite/internal.h"

#define OUT_BUF 65536

/* see internal.h */
void cvmfs_log(const struct cvmfs_client *c, const char *fmt, ...)
{
	char buf[1024];
	struct timespec ts;
	va_list ap;
	unsigned i;
	int n;

	if (!c || (c->log_fd < 0 && !c->nlog_more))
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	n = snprintf(buf, sizeof(buf), "[%5ld.%03ld] cvmfs-lite: ", (long)ts.tv_sec,
		     ts.tv_nsec / 1000000);
	va_start(ap, fmt);
	n += vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	if (c->log_fd >= 0)
		(void)!write(c->log_fd, buf, n);
	for (i = 0; i < c->nlog_more; i++)
		(void)!write(c->log_more[i], buf, n);
}

/* Verify-before-commit sink: hashes the transferred bytes, inflates them
 * (when compressed) with a bound, and writes the result to a private txn
 * file (t) or a memory buffer (mem); finish accepts the copy only if the
 * hash is the wanted one and the size is right. */
struct objsink {
	struct cvmfs_client *c;
	struct cvmfs_txn *t;		/* output: a txn file, or */
	unsigned char *mem;		/* a buffer of max + 1 bytes */
	const struct cvmfs_hash *want;
	bool compressed;
	uint64_t size;			/* exact output size, or CVMFS_SIZE_UNKNOWN */
	uint64_t max;			/* output bound */
	uint64_t in, outtotal;		/* transferred / produced so far */
	uint64_t flushed;		/* written out of the buffer */
	struct cvmfs_hash_ctx hc;
	z_stream z;
	bool zinit, zend;
	unsigned char *out;
	size_t outlen;
};

static int out_flush(struct objsink *s)
{
	const unsigned char *p = s->out;

	if (s->mem) {	/* flushed + outlen <= outtotal <= max: fits */
		memcpy(s->mem + s->flushed, p, s->outlen);
		s->flushed += s->outlen;
		s->outlen = 0;
		return 0;
	}
	while (s->outlen) {
		ssize_t w = write(s->t->fd, p, s->outlen);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		s->outlen -= w;
	}
	return 0;
}

static int obj_reset(void *arg)
{
	struct objsink *s = arg;

	if (s->t && (ftruncate(s->t->fd, 0) < 0 || lseek(s->t->fd, 0, SEEK_SET) < 0))
		return -errno;
	cvmfs_hash_init(&s->hc, s->want->algo);
	if (s->zinit)
		inflateEnd(&s->z);
	s->zinit = s->zend = false;
	s->outlen = 0;
	s->in = s->outtotal = s->flushed = 0;
	if (s->compressed) {
		memset(&s->z, 0, sizeof(s->z));
		if (inflateInit(&s->z) != Z_OK)
			return -ENOMEM;
		s->zinit = true;
	}
	return 0;
}

/* Accounts n more output bytes; -EFBIG past the bound. */
static int grow(struct objsink *s, size_t n)
{
	s->outtotal += n;
	return s->outtotal > s->max ? -EFBIG : 0;
}

static int obj_data(void *arg, const void *buf, size_t len)
{
	struct objsink *s = arg;
	int rc;

	/* A zlib stream needs at most ~5 bytes per 16 KiB stored block more
	 * than its output; more than that is padding nobody asked for. */
	s->in += len;
	if (s->in > s->max + s->max / 64 + 4096)
		return -EFBIG;
	cvmfs_hash_update(&s->hc, buf, len);
	if (!s->compressed) {
		if ((rc = grow(s, len)) < 0)
			return rc;
		while (len) {
			size_t n = OUT_BUF - s->outlen < len ? OUT_BUF - s->outlen : len;

			memcpy(s->out + s->outlen, buf, n);
			s->outlen += n;
			buf = (const char *)buf + n;
			len -= n;
			if (s->outlen == OUT_BUF && (rc = out_flush(s)) < 0)
				return rc;
		}
		return 0;
	}
	if (s->zend)
		return len ? -EBADMSG : 0;	/* bytes after the zlib stream */
	s->z.next_in = (unsigned char *)buf;
	s->z.avail_in = len;
	while (s->z.avail_in && !s->zend) {
		size_t before = s->outlen;

		s->z.next_out = s->out + s->outlen;
		s->z.avail_out = OUT_BUF - s->outlen;
		rc = inflate(&s->z, Z_NO_FLUSH);
		s->outlen = OUT_BUF - s->z.avail_out;
		if (rc == Z_STREAM_END)
			s->zend = true;
		else if (rc != Z_OK && rc != Z_BUF_ERROR)
			return -EBADMSG;
		if ((rc = grow(s, s->outlen - before)) < 0)
			return rc;	/* a bomb: stop before it fills the disk */
		if ((s->outlen == OUT_BUF || s->zend) && (rc = out_flush(s)) < 0)
			return rc;
	}
	return s->z.avail_in ? -EBADMSG : 0;
}

static int obj_finish(void *arg)
{
	struct objsink *s = arg;
	struct cvmfs_hash got;
	int rc;

	cvmfs_hash_final(&s->hc, &got);
	if (!cvmfs_hash_eq(&got, s->want))
		return -EBADMSG;	/* never keep an unverified byte */
	if (s->compressed && !s->zend)
		return -EBADMSG;	/* truncated stream that still hashed right: impossible, but cheap */
	if (s->size != CVMFS_SIZE_UNKNOWN && s->outtotal != s->size) {
		char hex[CVMFS_HASH_HEX_MAX];

		cvmfs_hash_fmt(s->want, hex, sizeof(hex));
		cvmfs_log(s->c, "object %s: %llu bytes, but its catalog says %llu", hex,
			  (unsigned long long)s->outtotal, (unsigned long long)s->size);
		return -ERANGE;
	}
	if ((rc = out_flush(s)) < 0)
		return rc;
	return 0;
}

static int run_fetch(struct cvmfs_client *c, const char *rel, const struct cvmfs_sink *sink)
{
	if (c->fetch_fn)
		return c->fetch_fn(c->fetch_arg, rel, sink);
	return cvmfs_fetch_run(&c->fetch, rel, sink);
}

static bool fly_begin(struct cvmfs_client *c, const struct cvmfs_hash *h, struct cvmfs_inflight *me)
{
	bool waited = false;

	pthread_mutex_lock(&c->fly_lock);
	for (;;) {
		struct cvmfs_inflight *f;

		for (f = c->fly; f; f = f->next)
			if (cvmfs_hash_eq(&f->h, h))
				break;
		if (!f)
			break;
		waited = true;
		pthread_cond_wait(&c->fly_cond, &c->fly_lock);
	}
	if (!waited) {
		me->h = *h;
		me->next = c->fly;
		c->fly = me;
	}
	pthread_mutex_unlock(&c->fly_lock);
	return !waited;
}

static void fly_end(struct cvmfs_client *c, struct cvmfs_inflight *me)
{
	pthread_mutex_lock(&c->fly_lock);
	for (struct cvmfs_inflight **p = &c->fly; *p; p = &(*p)->next)
		if (*p == me) {
			*p = me->next;
			break;
		}
	pthread_cond_broadcast(&c->fly_cond);
	pthread_mutex_unlock(&c->fly_lock);
}

/* see internal.h */
static void log_rejected(struct cvmfs_client *c, const struct cvmfs_hash *h, uint64_t size)
{
	char hex[CVMFS_HASH_HEX_MAX];

	cvmfs_hash_fmt(h, hex, sizeof(hex));
	if (size == CVMFS_SIZE_UNKNOWN)
		cvmfs_log(c, "cache: %s is not a regular file: removed, fetching it again", hex);
	else
		cvmfs_log(c, "cache: %s is not a regular file of %llu bytes: removed, fetching it "
			  "again", hex, (unsigned long long)size);
}

/* Where an object's bytes come from: a download of rel, or bytes in memory
 * that arrived some other way (a bundle). */
struct feed {
	const char *rel;
	const void *buf;
	size_t len;
};

static int feed_run(struct cvmfs_client *c, const struct feed *src, const struct cvmfs_sink *sink)
{
	int rc;

	if (src->rel)
		return run_fetch(c, src->rel, sink);
	if ((rc = sink->reset(sink->arg)) < 0 || (rc = sink->data(sink->arg, src->buf, src->len)) < 0)
		return rc;
	return sink->finish(sink->arg);
}

/* Verify, then commit: the object's bytes from src through the sink into a
 * txn, committed only if they are h (and size). *fd: the cached copy. The
 * caller holds h's in-flight slot. */
static int commit_from(struct cvmfs_client *c, const struct cvmfs_hash *h, bool compressed,
		       uint64_t size, uint64_t max, const struct feed *src, int *fd)
{
	struct cvmfs_txn t = { .fd = -1 };
	struct objsink s = { .c = c, .t = &t, .want = h, .compressed = compressed, .size = size,
			     .max = size != CVMFS_SIZE_UNKNOWN ? size : max };
	/* the expected size bounds the download's time too (net_http_req.size_hint) */
	struct cvmfs_sink sink = { obj_reset, obj_data, obj_finish, &s,
				   s.max == CVMFS_SIZE_UNKNOWN ? 0 : s.max };
	int rc;

	if (!(s.out = malloc(OUT_BUF)))
		return -ENOMEM;
	if ((rc = cvmfs_cache_txn_begin(&c->cache, &t)) < 0)
		goto out;
	if ((rc = feed_run(c, src, &sink)) < 0) {
		cvmfs_cache_txn_abort(&c->cache, &t);
		goto out;
	}
	if ((rc = cvmfs_cache_txn_commit(&c->cache, &t, h, !compressed)) >= 0) {
		*fd = rc;
		rc = 0;
	}
out:
	if (s.zinit)
		inflateEnd(&s.z);
	free(s.out);
	return rc;
}

/* see internal.h */
int cvmfs_object_get(struct cvmfs_client *c, const struct cvmfs_hash *h, char suffix,
		     bool compressed, uint64_t size, uint64_t max, int *fd)
{
	char rel[CVMFS_OBJ_PATH_MAX];
	struct feed src = { .rel = rel };
	struct cvmfs_inflight me;
	int rc;

	for (;;) {
		if ((rc = cvmfs_cache_open(&c->cache, h, !compressed, size)) >= 0) {
			*fd = rc;
			return 0;
		}
		if (rc == -ESTALE)
			log_rejected(c, h, size);
		if (fly_begin(c, h, &me))
			break;
		/* someone else fetched it meanwhile: look again */
	}
	if ((rc = cvmfs_cache_open(&c->cache, h, !compressed, size)) >= 0) {
		*fd = rc;
		rc = 0;
	} else if (cvmfs_hash_objpath(h, suffix, rel, sizeof(rel)) < 0) {
		rc = -EINVAL;
	} else {
		if (rc == -ESTALE)
			log_rejected(c, h, size);
		rc = commit_from(c, h, compressed, size, max, &src, fd);
	}
	fly_end(c, &me);
	return rc;
}

/* see internal.h */
int cvmfs_object_put(struct cvmfs_client *c, const struct cvmfs_hash *h, bool compressed,
		     const void *buf, size_t len)
{
	struct feed src = { .buf = buf, .len = len };
	struct cvmfs_inflight me;
	int fd, rc = 0;

	if ((fd = cvmfs_cache_open(&c->cache, h, !compressed, CVMFS_SIZE_UNKNOWN)) >= 0) {
		close(fd);
		return 0;
	}
	if (!fly_begin(c, h, &me))
		return 0;	/* a reader fetched it meanwhile */
	fd = cvmfs_cache_open(&c->cache, h, !compressed, CVMFS_SIZE_UNKNOWN);
	if (fd < 0)
		rc = commit_from(c, h, compressed, CVMFS_SIZE_UNKNOWN, CVMFS_CATALOG_MAX, &src, &fd);
	if (rc == 0)
		close(fd);
	fly_end(c, &me);
	return rc;
}

/* see internal.h */
int cvmfs_object_mem(struct cvmfs_client *c, const struct cvmfs_hash *h, char suffix,
		     bool compressed, size_t max, unsigned char **out, size_t *len)
{
	char rel[CVMFS_OBJ_PATH_MAX];
	struct objsink s = { .c = c, .want = h, .compressed = compressed,
			     .size = CVMFS_SIZE_UNKNOWN, .max = max };
	/* the expected size bounds the download's time too (net_http_req.size_hint) */
	struct cvmfs_sink sink = { obj_reset, obj_data, obj_finish, &s,
				   s.max == CVMFS_SIZE_UNKNOWN ? 0 : s.max };
	int rc;

	*out = NULL;
	if (cvmfs_hash_objpath(h, suffix, rel, sizeof(rel)) < 0)
		return -EINVAL;
	s.out = malloc(OUT_BUF);
	s.mem = malloc(max + 1);
	if (!s.out || !s.mem) {
		rc = -ENOMEM;
		goto out;
	}
	if ((rc = run_fetch(c, rel, &sink)) < 0)
		goto out;
	s.mem[s.outtotal] = 0;
	*out = s.mem;
	*len = s.outtotal;
	s.mem = NULL;
out:
	if (s.zinit)
		inflateEnd(&s.z);
	free(s.out);
	free(s.mem);
	return rc;
}

/* see internal.h */
int cvmfs_catalog_load(struct cvmfs_client *c, const struct cvmfs_hash *h, const char *path,
		       struct cvmfs_catalog *parent, uint64_t max, struct cvmfs_catalog **out)
{
	struct cvmfs_catalog *cat;
	char hex[CVMFS_HASH_HEX_MAX];
	int fd, rc;

	cvmfs_hash_fmt(h, hex, sizeof(hex));
	if ((rc = cvmfs_object_get(c, h, CVMFS_SUFFIX_CATALOG, true, CVMFS_SIZE_UNKNOWN,
				   max ? max : CVMFS_CATALOG_MAX, &fd)) < 0) {
		cvmfs_log(c, "catalog %s for '%s': %s", hex, *path ? path : "/", strerror(-rc));
		return rc;
	}
	pthread_mutex_lock(&c->cat_lock);
	cat = cvmfs_catalog_open(fd, path, h, c->next_offset, &rc);
	if (cat) {
		c->next_offset += cat->ino_span;
		cat->parent = parent;
		cat->next = c->cats;
		c->cats = cat;
	}
	pthread_mutex_unlock(&c->cat_lock);
	close(fd);
	if (!cat) {
		cvmfs_log(c, "catalog %s for '%s': %s", hex, *path ? path : "/",
			  rc == -EPROTONOSUPPORT ? "unsupported schema (need 2.5, revision 2..7)" :
			  "not a valid catalog database");
		return rc;
	}
	/* Loaded catalogs stay in the cache: a warm restart needs them offline. */
	cvmfs_cache_hold(&c->cache, h, false, 1);
	*out = cat;
	return 0;
}

static struct cvmfs_catalog *find_loaded(struct cvmfs_client *c, const char *path)
{
	struct cvmfs_catalog *cat;

	pthread_mutex_lock(&c->cat_lock);
	for (cat = c->cats; cat; cat = cat->next)
		if (strcmp(cat->path, path) == 0)
			break;
	pthread_mutex_unlock(&c->cat_lock);
	return cat;
}

/* see internal.h */
int cvmfs_nested_get(struct cvmfs_client *c, struct cvmfs_catalog *parent, const char *path,
		     struct cvmfs_catalog **out)
{
	struct cvmfs_hash h;
	uint64_t size;
	int rc;

	if ((*out = find_loaded(c, path)))
		return 0;
	if ((rc = cvmfs_catalog_nested_size(parent, path, &h, &size)) < 0) {
		cvmfs_log(c, "'%s' is a nested catalog mountpoint its parent does not list", path);
		return rc == -ENOENT ? -EIO : rc;
	}
	/* Lookups elsewhere go on meanwhile: only loads are serialised. */
	pthread_mutex_lock(&c->load_lock);
	if (!(*out = find_loaded(c, path)))
		rc = cvmfs_catalog_load(c, &h, path, parent, size, out);	/* size bounds it */
	pthread_mutex_unlock(&c->load_lock);
	return rc < 0 ? rc : 0;
}

/* see internal.h */
void cvmfs_symlink_expand(const char *in, char *out, size_t len)
{
	size_t o = 0;

	if (len == 0)
		return;
	for (const char *p = in; *p && o + 1 < len;) {
		const char *end, *def;
		char name[256];
		size_t nl;
		const char *val;

		if (p[0] != '$' || p[1] != '(' || !(end = strchr(p + 2, ')'))) {
			out[o++] = *p++;
			continue;
		}
		def = strstr(p + 2, ":-");
		if (def && def > end)
			def = NULL;
		nl = (def ? def : end) - (p + 2);
		if (nl >= sizeof(name)) {
			out[o++] = *p++;
			continue;
		}
		memcpy(name, p + 2, nl);
		name[nl] = 0;
		val = getenv(name);
		if (val) {
			o += snprintf(out + o, len - o, "%s", val);
		} else if (def) {
			size_t dl = end - (def + 2);

			o += snprintf(out + o, len - o, "%.*s", (int)dl, def + 2);
		}
		if (o >= len)
			o = len - 1;
		p = end + 1;
	}
	out[o] = 0;
}

/* see internal.h */
int cvmfs_resolve(struct cvmfs_client *c, const char *path, bool follow, struct cvmfs_dirent *d,
		  struct cvmfs_catalog **catp)
{
	char *cur = malloc(PATH_MAX), *rest = malloc(PATH_MAX), *tmp = malloc(PATH_MAX);
	struct cvmfs_catalog *cat = c->root;
	int rc = 0, links = 0;

	if (!cur || !rest || !tmp) {
		rc = -ENOMEM;
		goto out;
	}
	cur[0] = 0;
	snprintf(rest, PATH_MAX, "%s", path);
	rc = cvmfs_catalog_lookup(cat, "", d);
	while (rc == 0) {
		char *p = rest, *comp;
		size_t n;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		n = strcspn(p, "/");
		comp = p;
		if (n == 1 && comp[0] == '.') {
			memmove(rest, p + n, strlen(p + n) + 1);
			continue;
		}
		cvmfs_dirent_fini(d);
		if (n == 2 && comp[0] == '.' && comp[1] == '.') {
			char *slash = strrchr(cur, '/');

			if (slash)
				*slash = 0;
			memmove(rest, p + n, strlen(p + n) + 1);
			cat = c->root;	/* walk down again: simplest correct answer */
			snprintf(tmp, PATH_MAX, "%s%s", cur, rest);
			snprintf(rest, PATH_MAX, "%s", tmp);
			cur[0] = 0;
			rc = cvmfs_catalog_lookup(cat, "", d);
			continue;
		}
		if (strlen(cur) + 1 + n >= PATH_MAX) {
			rc = -ENAMETOOLONG;
			break;
		}
		{
			size_t cl = strlen(cur);

			cur[cl] = '/';
			memcpy(cur + cl + 1, comp, n);
			cur[cl + 1 + n] = 0;
		}
		memmove(rest, p + n, strlen(p + n) + 1);
		rc = cvmfs_catalog_lookup(cat, cur, d);
		if (rc == 0 && (d->flags & CVMFS_FLAG_NESTED_MOUNTPOINT)) {
			cvmfs_dirent_fini(d);
			if ((rc = cvmfs_nested_get(c, cat, cur, &cat)) == 0)
				rc = cvmfs_catalog_lookup(cat, cur, d);
		}
		if (rc == 0 && S_ISLNK(d->mode) && (follow || rest[strspn(rest, "/")])) {
			char *slash;

			if (++links > 16) {
				rc = -ELOOP;
				break;
			}
			cvmfs_symlink_expand(d->symlink, tmp, PATH_MAX);
			slash = strrchr(cur, '/');
			*slash = 0;
			if (tmp[0] == '/') {
				cur[0] = 0;	/* absolute: from the repository root */
			}
			{
				char *t2 = malloc(PATH_MAX);

				if (!t2) {
					rc = -ENOMEM;
					break;
				}
				snprintf(t2, PATH_MAX, "%s%s/%s", cur, tmp[0] == '/' ? "" : "", tmp);
				snprintf(tmp, PATH_MAX, "%s%s", t2, rest);
				free(t2);
			}
			snprintf(rest, PATH_MAX, "%s", tmp);
			cur[0] = 0;
			cat = c->root;
			cvmfs_dirent_fini(d);
			rc = cvmfs_catalog_lookup(cat, "", d);
		}
	}
	if (rc == 0)
		*catp = cat;
out:
	free(cur);
	free(rest);
	free(tmp);
	return rc;
}
