/* SPDX-License-Identifier: MIT */
/* cvmfs-lite/cache.c: crash-safe on-disk object cache (upstream layout:
 * <hex[0:2]>/<hex[2:]> decompressed, downloads in txn/ then rename), LRU
 * with a size limit, and pins that are never evicted. Works through the
 * cache directory fd only. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cvmfs-lite/internal.h"

static void *syncer(void *arg);

static size_t bucket(const struct cvmfs_hash *h)
{
	return ((size_t)h->d[0] << 8 | h->d[1] | (size_t)h->d[2] << 16) % CVMFS_CACHE_BUCKETS;
}

static struct cvmfs_cache_ent *find(struct cvmfs_cache *k, const struct cvmfs_hash *h)
{
	for (struct cvmfs_cache_ent *e = k->tab[bucket(h)]; e; e = e->next)
		if (cvmfs_hash_eq(&e->h, h))
			return e;
	return NULL;
}

static struct cvmfs_cache_ent *add(struct cvmfs_cache *k, const struct cvmfs_hash *h, uint64_t size)
{
	struct cvmfs_cache_ent *e = find(k, h);

	if (e) {
		k->used -= e->size;
	} else {
		e = calloc(1, sizeof(*e));
		if (!e)
			return NULL;
		e->h = *h;
		e->next = k->tab[bucket(h)];
		k->tab[bucket(h)] = e;
		k->nents++;
	}
	e->size = size;
	e->seq = ++k->seq;
	k->used += size;
	return e;
}

static void objname(const struct cvmfs_hash *h, char *buf, size_t len)
{
	char hex[CVMFS_HASH_HEX_MAX];

	cvmfs_hash_fmt(h, hex, sizeof(hex));
	snprintf(buf, len, "%.2s/%s", hex, hex + 2);
}

static int clean_txn(int txnfd)
{
	int fd = openat(txnfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d;
	struct dirent *de;

	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			unlinkat(txnfd, de->d_name, 0);
	closedir(d);
	return 0;
}

static void scan_dir(struct cvmfs_cache *k, int sub, const char *prefix)
{
	int fd = openat(k->dirfd, prefix, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d;
	struct dirent *de;

	(void)sub;
	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	while ((de = readdir(d))) {
		char hex[CVMFS_HASH_HEX_MAX + 2];
		struct cvmfs_hash h;
		struct stat st;
		struct cvmfs_cache_ent *e;

		if (de->d_name[0] == '.')
			continue;
		if (snprintf(hex, sizeof(hex), "%s%s", prefix, de->d_name) >= (int)sizeof(hex) ||
		    cvmfs_hash_parse(hex, strlen(hex), &h) < 0 ||
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
			continue;
		e = add(k, &h, (uint64_t)st.st_size);
		/* Order of the last use before the restart: the mtime, bumped on use. */
		if (e)
			e->seq = (uint64_t)st.st_mtim.tv_sec;
	}
	closedir(d);
}

/* see internal.h */
int cvmfs_cache_init(struct cvmfs_cache *k, int dirfd, uint64_t limit)
{
	char sub[4];
	int rc = 0;

	memset(k, 0, sizeof(*k));
	k->dirfd = dirfd;
	k->txnfd = -1;
	k->limit = limit;
	pthread_mutex_init(&k->lock, NULL);
	for (int i = 0; i < 256; i++) {
		snprintf(sub, sizeof(sub), "%02x", i);
		if (mkdirat(dirfd, sub, 0700) < 0 && errno != EEXIST)
			return -errno;
	}
	pthread_cond_init(&k->sync_cond, NULL);
	if (mkdirat(dirfd, "txn", 0700) < 0 && errno != EEXIST)
		return -errno;
	k->txnfd = openat(dirfd, "txn", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (k->txnfd < 0)
		return -errno;
	if ((rc = clean_txn(k->txnfd)) < 0)
		return rc;
	for (int i = 0; i < 256; i++) {
		snprintf(sub, sizeof(sub), "%02x", i);
		scan_dir(k, i, sub);
	}
	if (pthread_create(&k->syncer, NULL, syncer, k) != 0)
		return -ENOMEM;
	k->syncer_running = true;
	/* mtimes seeded the clock; continue above the newest. */
	for (size_t b = 0; b < CVMFS_CACHE_BUCKETS; b++)
		for (struct cvmfs_cache_ent *e = k->tab[b]; e; e = e->next)
			if (e->seq > k->seq)
				k->seq = e->seq;
	return 0;
}

/* see internal.h */
void cvmfs_cache_fini(struct cvmfs_cache *k)
{
	if (k->syncer_running) {
		pthread_mutex_lock(&k->lock);
		k->syncer_stop = true;
		pthread_cond_signal(&k->sync_cond);
		pthread_mutex_unlock(&k->lock);
		pthread_join(k->syncer, NULL);
		k->syncer_running = false;
		pthread_cond_destroy(&k->sync_cond);
	}
	if (k->txnfd >= 0)
		cvmfs_cache_flush(k);
	for (size_t b = 0; b < CVMFS_CACHE_BUCKETS; b++) {
		struct cvmfs_cache_ent *e = k->tab[b], *n;

		for (; e; e = n) {
			n = e->next;
			free(e);
		}
		k->tab[b] = NULL;
	}
	if (k->txnfd >= 0)
		close(k->txnfd);
	if (k->dirfd >= 0)
		close(k->dirfd);
	k->txnfd = k->dirfd = -1;
	pthread_mutex_destroy(&k->lock);
}

/* see internal.h */
int cvmfs_cache_open(struct cvmfs_cache *k, const struct cvmfs_hash *h)
{
	char name[CVMFS_HASH_HEX_MAX + 2];
	struct cvmfs_cache_ent *e;
	int fd;

	objname(h, name, sizeof(name));
	fd = openat(k->dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno != ENOENT)
		return -errno;
	pthread_mutex_lock(&k->lock);
	if (fd < 0) {
		for (struct cvmfs_cache_pending *p = k->pending; p && fd < 0; p = p->next)
			if (cvmfs_hash_eq(&p->h, h))
				fd = openat(k->txnfd, p->name, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			pthread_mutex_unlock(&k->lock);
			return -ENOENT;
		}
	}
	e = find(k, h);
	if (!e) {
		struct stat st;

		if (fstat(fd, &st) == 0)
			e = add(k, h, (uint64_t)st.st_size);
	} else {
		e->seq = ++k->seq;
	}
	pthread_mutex_unlock(&k->lock);
	return fd;
}

/* see internal.h */
int cvmfs_cache_txn_begin(struct cvmfs_cache *k, struct cvmfs_txn *t)
{
	for (int i = 0; i < 16; i++) {
		uint64_t r = 0;

		if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
			r = (uint64_t)net_now_ms() * 2654435761u + (uint64_t)i + (uintptr_t)t;
		snprintf(t->name, sizeof(t->name), "fetch%016llx", (unsigned long long)r);
		t->fd = openat(k->txnfd, t->name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (t->fd >= 0)
			return 0;
		if (errno != EEXIST)
			return -errno;
	}
	return -EEXIST;
}

/* see internal.h */
void cvmfs_cache_txn_abort(struct cvmfs_cache *k, struct cvmfs_txn *t)
{
	if (t->fd >= 0) {
		close(t->fd);
		unlinkat(k->txnfd, t->name, 0);
	}
	t->fd = -1;
}

static void evict(struct cvmfs_cache *k)
{
	/* Caller holds the lock. One pass per victim: the cache holds few
	 * thousand objects and eviction is rare, so a heap is not worth it. */
	while (k->limit && k->used > k->limit) {
		struct cvmfs_cache_ent *v = NULL, **vp = NULL;
		char name[CVMFS_HASH_HEX_MAX + 2];

		for (size_t b = 0; b < CVMFS_CACHE_BUCKETS; b++)
			for (struct cvmfs_cache_ent **p = &k->tab[b]; *p; p = &(*p)->next)
				if (!(*p)->pins && !(*p)->holds && (!v || (*p)->seq < v->seq)) {
					v = *p;
					vp = p;
				}
		if (!v)
			return;		/* everything pinned: over the limit, nothing to do */
		objname(&v->h, name, sizeof(name));
		unlinkat(k->dirfd, name, 0);	/* open fds keep working */
		for (struct cvmfs_cache_pending **pp = &k->pending; *pp; pp = &(*pp)->next)
			if (cvmfs_hash_eq(&(*pp)->h, &v->h)) {
				struct cvmfs_cache_pending *p = *pp;

				unlinkat(k->txnfd, p->name, 0);
				*pp = p->next;
				free(p);
				break;
			}
		k->used -= v->size;
		*vp = v->next;
		free(v);
		k->nents--;
		k->nevicted++;
	}
}

/* see internal.h */
int cvmfs_cache_txn_commit(struct cvmfs_cache *k, struct cvmfs_txn *t, const struct cvmfs_hash *h)
{
	struct cvmfs_cache_pending *p = calloc(1, sizeof(*p));
	struct cvmfs_cache_ent *e;
	struct stat st;
	int fd;

	if (!p || fstat(t->fd, &st) < 0 ||
	    (fd = openat(k->txnfd, t->name, O_RDONLY | O_CLOEXEC)) < 0) {
		int rc = p ? -errno : -ENOMEM;

		free(p);
		cvmfs_cache_txn_abort(k, t);
		return rc;
	}
	close(t->fd);
	t->fd = -1;
	p->h = *h;
	snprintf(p->name, sizeof(p->name), "%s", t->name);
	pthread_mutex_lock(&k->lock);
	p->next = k->pending;
	k->pending = p;
	e = add(k, h, (uint64_t)st.st_size);
	if (e)
		e->holds++;	/* not the victim of its own eviction */
	evict(k);
	if (e)
		e->holds--;
	pthread_cond_signal(&k->sync_cond);
	pthread_mutex_unlock(&k->lock);
	return fd;
}

/* Caller holds the lock. Renames the pending objects of generations up to
 * gen (already durable) into place. */
static void rename_synced(struct cvmfs_cache *k, uint64_t gen)
{
	for (struct cvmfs_cache_pending **pp = &k->pending; *pp;) {
		struct cvmfs_cache_pending *p = *pp;
		char name[CVMFS_HASH_HEX_MAX + 2];

		if (!p->gen || p->gen > gen) {
			pp = &p->next;
			continue;
		}
		objname(&p->h, name, sizeof(name));
		if (renameat(k->txnfd, p->name, k->dirfd, name) < 0)
			unlinkat(k->txnfd, p->name, 0);	/* refetched next time */
		*pp = p->next;
		free(p);
	}
}

/* One batch: mark, syncfs (one journal commit for all), rename. */
static void sync_batch(struct cvmfs_cache *k)
{
	uint64_t gen;

	gen = ++k->sync_gen;
	for (struct cvmfs_cache_pending *p = k->pending; p; p = p->next)
		if (!p->gen)
			p->gen = gen;
	pthread_mutex_unlock(&k->lock);
	syncfs(k->txnfd);
	pthread_mutex_lock(&k->lock);
	rename_synced(k, gen);
	k->nsyncs++;
}

static void *syncer(void *arg)
{
	struct cvmfs_cache *k = arg;

	pthread_mutex_lock(&k->lock);
	while (!k->syncer_stop) {
		if (!k->pending) {
			pthread_cond_wait(&k->sync_cond, &k->lock);
			continue;
		}
		/* Let a burst of downloads gather into one sync. */
		pthread_mutex_unlock(&k->lock);
		usleep(200000);
		pthread_mutex_lock(&k->lock);
		sync_batch(k);
	}
	pthread_mutex_unlock(&k->lock);
	return NULL;
}

/* see internal.h */
void cvmfs_cache_flush(struct cvmfs_cache *k)
{
	pthread_mutex_lock(&k->lock);
	if (k->pending)
		sync_batch(k);
	pthread_mutex_unlock(&k->lock);
}

/* see internal.h */
void cvmfs_cache_pin(struct cvmfs_cache *k, const struct cvmfs_hash *h, int delta)
{
	struct cvmfs_cache_ent *e;

	pthread_mutex_lock(&k->lock);
	e = find(k, h);
	if (!e && delta > 0)
		e = add(k, h, 0);	/* pinned before it arrives */
	if (e) {
		if (delta < 0 && e->pins == 0)
			delta = 0;
		e->pins += delta;
	}
	pthread_mutex_unlock(&k->lock);
}

/* see internal.h */
void cvmfs_cache_hold(struct cvmfs_cache *k, const struct cvmfs_hash *h, int delta)
{
	struct cvmfs_cache_ent *e;

	pthread_mutex_lock(&k->lock);
	e = find(k, h);
	if (e && (delta > 0 || e->holds > 0))
		e->holds += delta;
	pthread_mutex_unlock(&k->lock);
}

/* see internal.h */
int cvmfs_cache_put_file(struct cvmfs_cache *k, const char *name, const void *buf, size_t len)
{
	struct cvmfs_txn t;
	const char *p = buf;
	int rc = cvmfs_cache_txn_begin(k, &t);

	if (rc < 0)
		return rc;
	while (len) {
		ssize_t w = write(t.fd, p, len);

		if (w < 0) {
			rc = -errno;
			cvmfs_cache_txn_abort(k, &t);
			return rc;
		}
		p += w;
		len -= w;
	}
	if (fsync(t.fd) < 0 || renameat(k->txnfd, t.name, k->dirfd, name) < 0) {
		rc = -errno;
		cvmfs_cache_txn_abort(k, &t);
		return rc;
	}
	close(t.fd);
	fsync(k->dirfd);
	return 0;
}

/* see internal.h */
ssize_t cvmfs_cache_get_file(struct cvmfs_cache *k, const char *name, void *buf, size_t len)
{
	int fd = openat(k->dirfd, name, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len);
	if (n < 0)
		n = -errno;
	close(fd);
	return n;
}

/* see internal.h */
int cvmfs_cache_pins_save(struct cvmfs_cache *k)
{
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	int rc;

	if (!buf)
		return -ENOMEM;
	pthread_mutex_lock(&k->lock);
	for (size_t b = 0; b < CVMFS_CACHE_BUCKETS; b++)
		for (struct cvmfs_cache_ent *e = k->tab[b]; e; e = e->next) {
			if (!e->pins)
				continue;
			if (len + CVMFS_HASH_HEX_MAX + 2 > cap) {
				char *nb = realloc(buf, cap * 2);

				if (!nb)
					break;
				buf = nb;
				cap *= 2;
			}
			len += cvmfs_hash_fmt(&e->h, buf + len, cap - len);
			buf[len++] = '\n';
		}
	pthread_mutex_unlock(&k->lock);
	rc = cvmfs_cache_put_file(k, "pinned", buf, len);
	free(buf);
	return rc;
}

/* see internal.h */
int cvmfs_cache_pins_load(struct cvmfs_cache *k)
{
	int fd = openat(k->dirfd, "pinned", O_RDONLY | O_CLOEXEC);
	FILE *f;
	char line[128];

	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	f = fdopen(fd, "r");
	if (!f) {
		close(fd);
		return -errno;
	}
	while (fgets(line, sizeof(line), f)) {
		struct cvmfs_hash h;
		size_t n = strcspn(line, "\r\n");

		if (cvmfs_hash_parse(line, n, &h) == 0)
			cvmfs_cache_pin(k, &h, 1);
	}
	fclose(f);
	return 0;
}

/* see internal.h */
void cvmfs_cache_stats(struct cvmfs_cache *k, uint64_t *used, uint64_t *nobj)
{
	pthread_mutex_lock(&k->lock);
	*used = k->used;
	*nobj = k->nents;
	pthread_mutex_unlock(&k->lock);
}
