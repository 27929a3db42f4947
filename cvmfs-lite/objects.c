/* SPDX-License-Identifier: MIT */
/* cvmfs-lite/objects.c: one object by its hash: the cached copy, or else one
 * download (in-flight table) through the fetcher, checked by the verifying
 * sink (verify.c) into a txn and only then committed to the cache. An object
 * of a boot-profile bundle on its way is waited for instead (bundle.c). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cvmfs-lite/internal.h"

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

/* A cached copy that was not what it should be is gone now: say so. */
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
		return c->fetcher.get(c->fetcher.arg, src->rel, sink);
	if ((rc = sink->reset(sink->arg)) < 0 || (rc = sink->data(sink->arg, src->buf, src->len)) < 0)
		return rc;
	return sink->finish(sink->arg);
}

/* Verify, then commit: the object's bytes from src through the verifying
 * sink into a txn, committed only if they are h (and size). *fd: the cached
 * copy. The caller holds h's in-flight slot. */
static int commit_from(struct cvmfs_client *c, const struct cvmfs_hash *h, bool compressed,
		       uint64_t size, uint64_t max, const struct feed *src, int *fd)
{
	struct cvmfs_txn t = { .fd = -1 };
	struct cvmfs_verify v;
	struct cvmfs_sink sink;
	int rc;

	if ((rc = cvmfs_cache_txn_begin(&c->cache, &t)) < 0)
		return rc;
	if ((rc = cvmfs_verify_init(&v, c, h, compressed, size, max, t.fd, &sink)) < 0 ||
	    (rc = feed_run(c, src, &sink)) < 0) {
		cvmfs_cache_txn_abort(&c->cache, &t);
	} else if ((rc = cvmfs_cache_txn_commit(&c->cache, &t, h, !compressed)) >= 0) {
		*fd = rc;
		rc = 0;
	}
	cvmfs_verify_fini(&v);
	return rc;
}

/* see internal.h */
int cvmfs_object_get(struct cvmfs_client *c, const struct cvmfs_hash *h, char suffix,
		     bool compressed, uint64_t size, uint64_t max, int *fd)
{
	char rel[CVMFS_OBJ_PATH_MAX];
	struct feed src = { .rel = rel };
	struct cvmfs_inflight me;
	bool asked = false;
	int rc;

	for (;;) {
		if ((rc = cvmfs_cache_open(&c->cache, h, !compressed, size)) >= 0) {
			*fd = rc;
			return 0;
		}
		if (rc == -ESTALE)
			log_rejected(c, h, size);
		/* a bundle on its way brings it: wait for that (bounded), once */
		if (!asked) {
			asked = true;
			if (cvmfs_bundles_wait(c, h))
				continue;
		}
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
	struct cvmfs_verify v;
	struct cvmfs_sink sink;
	int rc;

	*out = NULL;
	if (cvmfs_hash_objpath(h, suffix, rel, sizeof(rel)) < 0)
		return -EINVAL;
	if ((rc = cvmfs_verify_init(&v, c, h, compressed, CVMFS_SIZE_UNKNOWN, max, -1, &sink)) < 0)
		return rc;
	if ((rc = c->fetcher.get(c->fetcher.arg, rel, &sink)) == 0)
		*out = cvmfs_verify_take(&v, len);
	cvmfs_verify_fini(&v);
	return rc;
}
