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

static struct cvmfs_cache_ent *find(struct cvmfs_cache *k, const struct cvmfs_hash *h, bool raw)
{
	for (struct cvmfs_cache_ent *e = k->tab[bucket(h)]; e; e = e->next)
		if (e->raw == raw && cvmfs_hash_eq(&e->h, h))
			return e;
	return NULL;
}

static struct cvmfs_cache_ent *add(struct cvmfs_cache *k, const struct cvmfs_hash *h, bool raw,
				   uint64_t size)
{
	struct cvmfs_cache_ent *e = find(k, h, raw);

	if (e) {
		k->used -= e->size;
	} else {
		e = calloc(1, sizeof(*e));
		if (!e)
			return NULL;
		e->h = *h;
		e->raw = raw;
		e->next = k->tab[bucket(h)];
		k->tab[bucket(h)] = e;
		k->nents++;
	}
	e->size = size;
	e->seq = ++k->seq;
	k->used += size;
	return e;
}

#define OBJNAME_MAX (CVMFS_HASH_HEX_MAX + 8)

static void objname(const struct cvmfs_hash *h, bool raw, char *buf, size_t len)
{
	char hex[CVMFS_HASH_HEX_MAX];

	cvmfs_hash_fmt(h, hex, sizeof(hex));
	snprintf(buf, len, "%.2s/%s%s", hex, hex + 2, raw ? CVMFS_CACHE_RAW_EXT : "");
}

/* Parses "<hex>[.raw]" (a pins line or prefix + a directory entry). */
static int parse_name(const char *s, size_t n, struct cvmfs_hash *h, bool *raw)
{
	size_t el = strlen(CVMFS_CACHE_RAW_EXT);

	*raw = n > el && memcmp(s + n - el, CVMFS_CACHE_RAW_EXT, el) == 0;
	return cvmfs_hash_parse(s, *raw ? n - el : n, h);
}

/* A directory stream of name under dirfd, never through a symlink. NULL
 * with errno set. */
static DIR *dir_open(int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	DIR *d;

	if (fd < 0)
		return NULL;
	if (!(d = fdopendir(fd))) {
		int e = errno;

		close(fd);
		errno = e;
	}
	return d;
}

static int clean_txn(int txnfd)
{
	DIR *d = dir_open(txnfd, ".");
	struct dirent *de;

	if (!d)
		return -errno;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			unlinkat(txnfd, de->d_name, 0);
	closedir(d);
	return 0;
}

static void scan_dir(struct cvmfs_cache *k, const char *prefix)
{
	DIR *d = dir_open(k->dirfd, prefix);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		char hex[OBJNAME_MAX];
		struct cvmfs_hash h;
		struct stat st;
		struct cvmfs_cache_ent *e;
		bool raw;

		if (de->d_name[0] == '.')
			continue;
		if (snprintf(hex, sizeof(hex), "%s%s", prefix, de->d_name) >= (int)sizeof(hex) ||
		    parse_name(hex, strlen(hex), &h, &raw) < 0 ||
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
			continue;
		e = add(k, &h, raw, (uint64_t)st.st_size);
		/* Order of the last use before the restart: the mtime, bumped on use. */
		if (e)
			e->seq = (uint64_t)st.st_mtim.tv_sec;
	}
	closedir(d);
}

/* Makes name a directory of our own: an existing symlink or file there (no
 * directory the cache made) is removed first, so that object names are
 * never resolved through a planted link. */
static int real_dir(int dirfd, const char *name)
{
	struct stat st;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (S_ISDIR(st.st_mode))
			return 0;
		if (unlinkat(dirfd, name, 0) < 0)
			return -errno;
	}
	if (mkdirat(dirfd, name, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static bool is_sub(const char *name)
{
	static const char hex[] = "0123456789abcdef";

	return name[0] && name[1] && !name[2] && strchr(hex, name[0]) && strchr(hex, name[1]);
}

/* One pass over the cache root: scans the object directories there and
 * removes whatever else took one of their names (a symlink, a file), so
 * that object names are never resolved through a planted link. Missing
 * directories are made on first use (rename_in): a first boot does not
 * pay for 256 mkdirs, a later one reads only the directories in use. */
static int scan_root(struct cvmfs_cache *k)
{
	DIR *d = dir_open(k->dirfd, ".");
	struct dirent *de;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		struct stat st;
		bool dir = de->d_type == DT_DIR;

		if (!is_sub(de->d_name))
			continue;
		if (de->d_type == DT_UNKNOWN)
			dir = fstatat(k->dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			      S_ISDIR(st.st_mode);
		if (dir)
			scan_dir(k, de->d_name);
		else if (unlinkat(k->dirfd, de->d_name, 0) < 0 && errno != ENOENT) {
			int rc = -errno;

			closedir(d);
			return rc;
		}
	}
	closedir(d);
	return 0;
}

/* renameat into <hex[0:2]>/..., making that directory on its first use. */
static int rename_in(struct cvmfs_cache *k, const char *from, const char *name)
{
	char sub[3] = { name[0], name[1], 0 };

	if (renameat(k->txnfd, from, k->dirfd, name) == 0)
		return 0;
	if (errno != ENOENT || real_dir(k->dirfd, sub) < 0)
		return -errno;
	return renameat(k->txnfd, from, k->dirfd, name) < 0 ? -errno : 0;
}

/* see internal.h */
int cvmfs_cache_init(struct cvmfs_cache *k, int dirfd, uint64_t limit)
{
	int rc = 0;

	memset(k, 0, sizeof(*k));
	k->dirfd = dirfd;
	k->txnfd = -1;
	k->limit = limit;
	pthread_mutex_init(&k->lock, NULL);
	pthread_cond_init(&k->sync_cond, NULL);
	if ((rc = real_dir(dirfd, "txn")) < 0)
		return rc;
	k->txnfd = openat(dirfd, "txn", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (k->txnfd < 0)
		return -errno;
	if ((rc = clean_txn(k->txnfd)) < 0 || (rc = scan_root(k)) < 0)
		return rc;
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

/* Every file the cache opens: never through a symlink, never blocking on
 * a fifo someone put there. */
#define OPEN_FLAGS (O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)

/* 0 if fd is a regular file of size bytes (any size: CVMFS_SIZE_UNKNOWN). */
static int check_file(int fd, uint64_t size, uint64_t *got)
{
	struct stat st;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return -ESTALE;
	*got = (uint64_t)st.st_size;
	if (size != CVMFS_SIZE_UNKNOWN && (uint64_t)st.st_size != size)
		return -ESTALE;
	return 0;
}

/* see internal.h */
int cvmfs_cache_open(struct cvmfs_cache *k, const struct cvmfs_hash *h, bool raw, uint64_t size)
{
	char name[OBJNAME_MAX];
	struct cvmfs_cache_ent *e;
	uint64_t got = 0;
	bool bad = false;
	int fd;

	objname(h, raw, name, sizeof(name));
	fd = openat(k->dirfd, name, OPEN_FLAGS);
	if (fd < 0 && (errno == ELOOP || errno == ENXIO)) {
		/* a symlink (O_NOFOLLOW), a socket: no object of ours */
		unlinkat(k->dirfd, name, 0);
		bad = true;
	} else if (fd < 0 && errno != ENOENT) {
		return -errno;	/* e.g. EMFILE: says nothing about the file */
	} else if (fd >= 0 && check_file(fd, size, &got) < 0) {
		close(fd);
		fd = -1;
		unlinkat(k->dirfd, name, 0);	/* removes the entry, never what it points to */
		bad = true;
	}
	pthread_mutex_lock(&k->lock);
	if (fd < 0) {
		for (struct cvmfs_cache_pending **pp = &k->pending; *pp && fd < 0; pp = &(*pp)->next) {
			struct cvmfs_cache_pending *p = *pp;

			if (p->raw != raw || !cvmfs_hash_eq(&p->h, h))
				continue;
			fd = openat(k->txnfd, p->name, OPEN_FLAGS);
			if (fd >= 0 && check_file(fd, size, &got) < 0) {
				close(fd);
				fd = -1;
				bad = true;
				unlinkat(k->txnfd, p->name, 0);
				*pp = p->next;
				free(p);
				break;
			}
		}
	}
	e = find(k, h, raw);
	if (fd < 0) {
		if (bad) {
			k->nrejected++;
			if (e) {	/* keep pins and holds; the refetch sets the size */
				k->used -= e->size;
				e->size = 0;
			}
		}
		pthread_mutex_unlock(&k->lock);
		return bad ? -ESTALE : -ENOENT;
	}
	if (!e)
		e = add(k, h, raw, got);
	else
		e->seq = ++k->seq;
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
		char name[OBJNAME_MAX];

		for (size_t b = 0; b < CVMFS_CACHE_BUCKETS; b++)
			for (struct cvmfs_cache_ent **p = &k->tab[b]; *p; p = &(*p)->next)
				if (!(*p)->pins && !(*p)->holds && (!v || (*p)->seq < v->seq)) {
					v = *p;
					vp = p;
				}
		if (!v)
			return;		/* everything pinned: over the limit, nothing to do */
		objname(&v->h, v->raw, name, sizeof(name));
		unlinkat(k->dirfd, name, 0);	/* open fds keep working */
		for (struct cvmfs_cache_pending **pp = &k->pending; *pp; pp = &(*pp)->next)
			if ((*pp)->raw == v->raw && cvmfs_hash_eq(&(*pp)->h, &v->h)) {
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
int cvmfs_cache_txn_commit(struct cvmfs_cache *k, struct cvmfs_txn *t, const struct cvmfs_hash *h,
			   bool raw)
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
	p->raw = raw;
	snprintf(p->name, sizeof(p->name), "%s", t->name);
	pthread_mutex_lock(&k->lock);
	p->next = k->pending;
	k->pending = p;
	e = add(k, h, raw, (uint64_t)st.st_size);
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
		char name[OBJNAME_MAX];

		if (!p->gen || p->gen > gen) {
			pp = &p->next;
			continue;
		}
		objname(&p->h, p->raw, name, sizeof(name));
		if (rename_in(k, p->name, name) < 0)
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
void cvmfs_cache_pin(struct cvmfs_cache *k, const struct cvmfs_hash *h, bool raw, int delta)
{
	struct cvmfs_cache_ent *e;

	pthread_mutex_lock(&k->lock);
	e = find(k, h, raw);
	if (!e && delta > 0)
		e = add(k, h, raw, 0);	/* pinned before it arrives */
	if (e) {
		if (delta < 0 && e->pins == 0)
			delta = 0;
		e->pins += delta;
	}
	pthread_mutex_unlock(&k->lock);
}

/* see internal.h */
void cvmfs_cache_hold(struct cvmfs_cache *k, const struct cvmfs_hash *h, bool raw, int delta)
{
	struct cvmfs_cache_ent *e;

	pthread_mutex_lock(&k->lock);
	e = find(k, h, raw);
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
	/* The data first, then the name: a crash leaves the old file or the
	 * new one, never a torn one. The rename itself need not be durable at
	 * once (these files are a replay floor, crumbs and pins, each as good
	 * as its previous version); the next journal commit carries it, and
	 * PID 1 commits right after the mount anyway. One flush, not two. */
	if (fdatasync(t.fd) < 0 || renameat(k->txnfd, t.name, k->dirfd, name) < 0) {
		rc = -errno;
		cvmfs_cache_txn_abort(k, &t);
		return rc;
	}
	close(t.fd);
	return 0;
}

/* see internal.h */
ssize_t cvmfs_cache_get_file(struct cvmfs_cache *k, const char *name, void *buf, size_t len)
{
	int fd = openat(k->dirfd, name, OPEN_FLAGS);
	uint64_t got;
	ssize_t n;

	if (fd < 0)
		return -errno;
	if (check_file(fd, CVMFS_SIZE_UNKNOWN, &got) < 0) {
		close(fd);
		return -EINVAL;
	}
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
			if (len + OBJNAME_MAX + 2 > cap) {
				char *nb = realloc(buf, cap * 2);

				if (!nb)
					break;
				buf = nb;
				cap *= 2;
			}
			len += cvmfs_hash_fmt(&e->h, buf + len, cap - len);
			if (e->raw)
				len += snprintf(buf + len, cap - len, "%s", CVMFS_CACHE_RAW_EXT);
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
	int fd = openat(k->dirfd, "pinned", OPEN_FLAGS);
	FILE *f;
	char line[128];
	uint64_t got;

	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (check_file(fd, CVMFS_SIZE_UNKNOWN, &got) < 0) {
		close(fd);
		return -EINVAL;
	}
	f = fdopen(fd, "r");
	if (!f) {
		close(fd);
		return -errno;
	}
	while (fgets(line, sizeof(line), f)) {
		struct cvmfs_hash h;
		size_t n = strcspn(line, "\r\n");
		bool raw;

		if (parse_name(line, n, &h, &raw) == 0)
			cvmfs_cache_pin(k, &h, raw, 1);
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
