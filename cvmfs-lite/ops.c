/* SPDX-License-Identifier: MIT */
/* cvmfs-lite/ops.c: the file system on top of the catalogs: inode table,
 * lookups across nested catalogs, stat, files (whole and chunked),
 * directories, and extended attributes (stored + magic). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "cvmfs-lite/internal.h"

/* ---- inode table ---- */
static struct cvmfs_node **slot(struct cvmfs_client *c, uint64_t ino)
{
	struct cvmfs_node **p = &c->nodes[(ino * 0x9e3779b97f4a7c15ull >> 40) % CVMFS_NODE_BUCKETS];

	while (*p && (*p)->ino != ino)
		p = &(*p)->next;
	return p;
}

/* Copies the node's catalog and path; -ESTALE for unknown inodes. */
static int node_get(struct cvmfs_client *c, uint64_t ino, struct cvmfs_catalog **cat, char *path)
{
	struct cvmfs_node *n;
	int rc = 0;

	if (ino == CVMFS_FUSE_ROOT_INO) {
		*cat = c->root;
		path[0] = 0;
		return 0;
	}
	pthread_mutex_lock(&c->node_lock);
	n = *slot(c, ino);
	if (n) {
		*cat = n->cat;
		snprintf(path, PATH_MAX, "%s", n->path);
	} else {
		rc = -ESTALE;
	}
	pthread_mutex_unlock(&c->node_lock);
	return rc;
}

static int node_ref(struct cvmfs_client *c, uint64_t ino, struct cvmfs_catalog *cat, const char *path,
		    bool no_xattr)
{
	struct cvmfs_node **p, *n;
	int rc = 0;

	if (ino == CVMFS_FUSE_ROOT_INO)
		return 0;
	pthread_mutex_lock(&c->node_lock);
	p = slot(c, ino);
	if (*p) {
		(*p)->nlookup++;
		(*p)->no_xattr &= no_xattr;	/* a hardlink's row with xattrs: ask */
	} else if ((n = calloc(1, sizeof(*n))) && (n->path = strdup(path))) {
		n->ino = ino;
		n->nlookup = 1;
		n->cat = cat;
		n->no_xattr = no_xattr;
		*p = n;
	} else {
		free(n);
		rc = -ENOMEM;
	}
	pthread_mutex_unlock(&c->node_lock);
	return rc;
}

static void op_forget(void *ctx, uint64_t ino, uint64_t nlookup)
{
	struct cvmfs_client *c = ctx;
	struct cvmfs_node **p, *n;

	pthread_mutex_lock(&c->node_lock);
	p = slot(c, ino);
	n = *p;
	if (n && (n->nlookup <= nlookup)) {
		*p = n->next;
		free(n->path);
		free(n);
	} else if (n) {
		n->nlookup -= nlookup;
	}
	pthread_mutex_unlock(&c->node_lock);
}

/* ---- stat ---- */
static uint32_t map_id(const struct cvmfs_idmap *m, uint32_t id)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->from[i] == id)
			return m->to[i];
	return id;
}

static void to_stat(struct cvmfs_client *c, const struct cvmfs_dirent *d, const char *path,
		    struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = path[0] == 0 ? CVMFS_FUSE_ROOT_INO : d->ino;
	st->st_mode = d->mode;
	st->st_nlink = d->nlink;
	st->st_uid = map_id(&c->uidmap, d->uid);
	st->st_gid = map_id(&c->gidmap, d->gid);
	st->st_size = (off_t)d->size;
	if (S_ISLNK(d->mode)) {
		char t[PATH_MAX];

		cvmfs_symlink_expand(d->symlink, t, sizeof(t));
		st->st_size = strlen(t);
	} else if (S_ISCHR(d->mode) || S_ISBLK(d->mode)) {
		st->st_rdev = (dev_t)d->size;	/* spec §4.3: size holds rdev */
		st->st_size = 0;
	} else if (S_ISFIFO(d->mode) || S_ISSOCK(d->mode)) {
		st->st_size = 0;
	}
	st->st_blksize = 4096;
	st->st_blocks = (st->st_size + 511) / 512;
	st->st_mtim.tv_sec = d->mtime;
	st->st_mtim.tv_nsec = d->mtimens;
	st->st_atim = st->st_ctim = st->st_mtim;
}

static int join(char *out, const char *dir, const char *name)
{
	if (snprintf(out, PATH_MAX, "%s/%s", dir, name) >= PATH_MAX)
		return -ENAMETOOLONG;
	return 0;
}

/* Why a catalog row (other than a catalog's root) cannot be an entry of the
 * file system, or NULL. Such a row (from an honest but buggy publisher, or
 * a key holder) is skipped alone; its directory and the mount go on. */
static const char *bad_row(const struct cvmfs_catalog *cat, const struct cvmfs_dirent *d)
{
	if (!d->name[0])
		return "empty name";
	if (strcmp(d->name, ".") == 0 || strcmp(d->name, "..") == 0)
		return "name '.' or '..'";
	if (strchr(d->name, '/'))
		return "name contains '/'";
	/* inodes of a catalog: offset + rowid (rowid >= 1; a hardlink's is
	 * its group's first row's); never the root's, never another catalog's */
	if (d->rowid < 1 || d->ino == CVMFS_FUSE_ROOT_INO || d->ino <= cat->ino_offset ||
	    d->ino >= cat->ino_offset + cat->ino_span)
		return "row id outside the catalog's inode range";
	return NULL;
}

static void log_bad_row(struct cvmfs_client *c, const char *dir, const struct cvmfs_dirent *d,
			const char *why)
{
	cvmfs_log(c, "catalog row %lld ('%s' in '%s') skipped: %s", (long long)d->rowid, d->name,
		  *dir ? dir : "/", why);
}

static int op_lookup(void *ctx, uint64_t parent, const char *name, struct cvmfs_fuse_entry *out)
{
	struct cvmfs_client *c = ctx;
	struct cvmfs_catalog *cat;
	struct cvmfs_dirent *d = malloc(sizeof(*d));
	char *dir = malloc(PATH_MAX), *path = malloc(PATH_MAX);
	int rc;

	if (!d || !dir || !path) {
		rc = -ENOMEM;
		goto out;
	}
	if ((rc = node_get(c, parent, &cat, dir)) < 0 || (rc = join(path, dir, name)) < 0)
		goto out;
	if (strlen(name) > CVMFS_NAME_MAX) {
		rc = -ENAMETOOLONG;
		goto out;
	}
	if ((rc = cvmfs_resolve_entry(c, &cat, path, d)) < 0)
		goto out;
	{
		const char *why = bad_row(cat, d);

		if (why) {
			log_bad_row(c, dir, d, why);
			cvmfs_dirent_fini(d);
			rc = -ENOENT;
			goto out;
		}
	}
	to_stat(c, d, path, &out->st);
	cvmfs_dirent_fini(d);
	out->ino = out->st.st_ino;
	rc = node_ref(c, out->ino, cat, path, !d->has_xattr);
out:
	free(d);
	free(dir);
	free(path);
	return rc;
}

/* see internal.h */
bool cvmfs_ino_no_xattr(struct cvmfs_client *c, uint64_t ino)
{
	struct cvmfs_node *n;
	bool r;

	pthread_mutex_lock(&c->node_lock);
	n = *slot(c, ino);
	r = n && n->no_xattr;
	pthread_mutex_unlock(&c->node_lock);
	return r;
}

/* see internal.h */
int cvmfs_ino_row(struct cvmfs_client *c, uint64_t ino, struct cvmfs_dirent *d,
		   struct cvmfs_catalog **cat, char *path)
{
	int rc = node_get(c, ino, cat, path);

	return rc < 0 ? rc : cvmfs_catalog_lookup(*cat, path, d);
}

static int op_getattr(void *ctx, uint64_t ino, struct stat *st)
{
	struct cvmfs_client *c = ctx;
	struct cvmfs_dirent *d = malloc(sizeof(*d));
	char *path = malloc(PATH_MAX);
	struct cvmfs_catalog *cat;
	int rc = -ENOMEM;

	if (d && path && (rc = cvmfs_ino_row(c, ino, d, &cat, path)) == 0) {
		to_stat(c, d, path, st);
		st->st_ino = ino;
		cvmfs_dirent_fini(d);
	}
	free(d);
	free(path);
	return rc;
}

static ssize_t op_readlink(void *ctx, uint64_t ino, char *buf, size_t len)
{
	struct cvmfs_client *c = ctx;
	struct cvmfs_dirent *d = malloc(sizeof(*d));
	char *path = malloc(PATH_MAX);
	struct cvmfs_catalog *cat;
	ssize_t rc = -ENOMEM;

	if (d && path && (rc = cvmfs_ino_row(c, ino, d, &cat, path)) == 0) {
		cvmfs_dirent_fini(d);
		if (!S_ISLNK(d->mode)) {
			rc = -EINVAL;
		} else {
			cvmfs_symlink_expand(d->symlink, path, PATH_MAX);
			rc = strlen(path);
			if ((size_t)rc > len)
				rc = len;
			memcpy(buf, path, rc);
		}
	}
	free(d);
	free(path);
	return rc;
}

/* ---- files ---- */
struct ofile {
	int fd;				/* whole file, or -1 */
	uint64_t size;
	struct cvmfs_chunk *chunks;
	size_t nchunks;
	int *cfd;			/* per chunk, -1 until fetched */
	bool compressed;
	pthread_mutex_t lock;
};

static void ofile_free(struct ofile *o)
{
	if (o->fd >= 0)
		close(o->fd);
	for (size_t i = 0; o->cfd && i < o->nchunks; i++)
		if (o->cfd[i] >= 0)
			close(o->cfd[i]);
	free(o->cfd);
	free(o->chunks);
	pthread_mutex_destroy(&o->lock);
	free(o);
}

static int op_open(void *ctx, uint64_t ino, uint64_t *fh)
{
	struct cvmfs_client *c = ctx;
	struct cvmfs_dirent *d = malloc(sizeof(*d));
	char *path = malloc(PATH_MAX);
	struct cvmfs_catalog *cat;
	struct ofile *o = calloc(1, sizeof(*o));
	int rc = -ENOMEM;

	if (!d || !path || !o)
		goto out;
	o->fd = -1;
	pthread_mutex_init(&o->lock, NULL);
	if ((rc = cvmfs_ino_row(c, ino, d, &cat, path)) < 0)
		goto out;
	cvmfs_dirent_fini(d);
	o->size = d->size;
	o->compressed = CVMFS_FLAG_COMP(d->flags) == CVMFS_COMP_ZLIB;
	if (!S_ISREG(d->mode)) {
		rc = -EINVAL;
	} else if (d->flags & CVMFS_FLAG_EXTERNAL) {
		cvmfs_log(c, "open %s: external files are not supported", path);
		rc = -EIO;
	} else if (d->flags & CVMFS_FLAG_CHUNKED) {
		rc = cvmfs_catalog_chunks(cat, path, CVMFS_FLAG_ALGO(d->flags), &o->chunks, &o->nchunks);
		if (rc == 0 && (o->nchunks == 0 || o->chunks[o->nchunks - 1].off +
				o->chunks[o->nchunks - 1].size != o->size))
			rc = -EBADMSG;
		if (rc == 0 && !(o->cfd = malloc(o->nchunks * sizeof(int))))
			rc = -ENOMEM;
		for (size_t i = 0; rc == 0 && i < o->nchunks; i++)
			o->cfd[i] = -1;
		if (rc == -EBADMSG) {
			cvmfs_log(c, "open %s: chunk list does not cover the file", path);
			rc = -EIO;
		}
	} else if (d->size > 0) {
		if (!d->has_hash) {
			cvmfs_log(c, "open %s: regular file without content hash", path);
			rc = -EIO;
		} else {
			rc = cvmfs_object_get(c, &d->hash, CVMFS_SUFFIX_NONE, o->compressed, d->size, 0,
					      &o->fd);
			if (rc < 0) {
				cvmfs_log(c, "open %s: %s", path, strerror(-rc));
				rc = -EIO;
			}
		}
	}
out:
	if (rc == 0) {
		*fh = (uintptr_t)o;
		__atomic_add_fetch(&c->nopen, 1, __ATOMIC_RELAXED);
	} else if (o) {
		ofile_free(o);
	}
	free(d);
	free(path);
	return rc;
}

static ssize_t pread_all(int fd, char *buf, size_t len, uint64_t off)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = pread(fd, buf + got, len - got, (off_t)(off + got));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		got += n;
	}
	return (ssize_t)got;
}

static int chunk_fd(struct cvmfs_client *c, struct ofile *o, size_t i)
{
	int fd, rc;

	pthread_mutex_lock(&o->lock);
	fd = o->cfd[i];
	pthread_mutex_unlock(&o->lock);
	if (fd >= 0)
		return fd;
	/* Download without the lock: other chunks of the file stay readable. */
	rc = cvmfs_object_get(c, &o->chunks[i].hash, CVMFS_SUFFIX_PARTIAL, o->compressed,
			      o->chunks[i].size, 0, &fd);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&o->lock);
	if (o->cfd[i] >= 0) {
		close(fd);
		fd = o->cfd[i];
	} else {
		o->cfd[i] = fd;
	}
	pthread_mutex_unlock(&o->lock);
	return fd;
}

/* A READ reply is the whole requested range, clamped to the catalog's size,
 * or an error: never short. The kernel takes a short reply for the end of
 * the file and shrinks the file's size to it for the rest of the mount. */
static ssize_t op_read(void *ctx, uint64_t ino, uint64_t fh, void *buf, size_t len, uint64_t off)
{
	struct cvmfs_client *c = ctx;
	struct ofile *o = (struct ofile *)(uintptr_t)fh;
	size_t done = 0;

	if (off >= o->size)
		return 0;
	if (len > o->size - off)
		len = o->size - off;
	if (!o->chunks) {
		ssize_t got = o->fd >= 0 ? pread_all(o->fd, buf, len, off) : 0;

		if (got == (ssize_t)len)
			return got;
		cvmfs_log(c, "read inode %llu at %llu: %s", (unsigned long long)ino,
			  (unsigned long long)off, got < 0 ? strerror((int)-got) :
			  "cached object shorter than its catalog size");
		return -EIO;
	}
	while (done < len) {
		uint64_t pos = off + done;
		size_t lo = 0, hi = o->nchunks, i, n;
		ssize_t got;
		int fd;

		while (hi - lo > 1) {	/* last chunk with off <= pos */
			size_t mid = (lo + hi) / 2;

			if (o->chunks[mid].off <= pos)
				lo = mid;
			else
				hi = mid;
		}
		i = lo;
		if ((fd = chunk_fd(c, o, i)) < 0) {
			cvmfs_log(c, "read chunk %zu of inode %llu: %s", i, (unsigned long long)ino,
				  strerror(-fd));
			return -EIO;	/* even after good chunks: no short read */
		}
		n = o->chunks[i].off + o->chunks[i].size - pos;
		if (n > len - done)
			n = len - done;
		got = pread_all(fd, (char *)buf + done, n, pos - o->chunks[i].off);
		if (got != (ssize_t)n) {
			cvmfs_log(c, "read chunk %zu of inode %llu: %s", i, (unsigned long long)ino,
				  got < 0 ? strerror((int)-got) :
				  "cached chunk shorter than its catalog size");
			return -EIO;
		}
		done += n;
	}
	return (ssize_t)done;
}

static void op_release(void *ctx, uint64_t ino, uint64_t fh)
{
	ofile_free((struct ofile *)(uintptr_t)fh);
}

/* FUSE passthrough: a whole file's cache file, fetched and verified by
 * op_open, when it is exactly as long as the catalog says (the kernel then
 * reads it up to its own end); a chunked file's join when all its chunks
 * are cached (join.c; else the daemon reads it, chunk by chunk). Empty
 * files have none. */
static int op_backing_fd(void *ctx, uint64_t ino, uint64_t fh)
{
	struct cvmfs_client *c = ctx;
	struct ofile *o = (struct ofile *)(uintptr_t)fh;
	struct stat st;

	if (o->chunks && o->fd < 0) {
		int fd = cvmfs_join_open(c, o->chunks, o->nchunks, o->compressed, o->size, false);

		if (fd == -ENOENT)	/* for the next opens, if every chunk is cached */
			cvmfs_join_later(c, o->chunks, o->nchunks, o->compressed, o->size);
		else if (fd < 0)
			cvmfs_log(c, "join of inode %llu (%zu chunks) for passthrough: %s",
				  (unsigned long long)ino, o->nchunks, strerror(-fd));
		o->fd = fd < 0 ? -1 : fd;	/* ofile_free closes it; reads stay per chunk */
	}
	if (o->fd < 0 || fstat(o->fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size != o->size)
		return -1;
	return o->fd;
}

/* ---- directories ---- */
struct dent {
	char *name;
	struct stat st;
	bool nested;			/* mountpoint: attributes live in the child */
	bool no_xattr;			/* its row has no stored xattrs */
};

struct dlist {
	struct dent *v;
	size_t n, cap;
	char *path;
	struct cvmfs_catalog *cat;
	uint64_t ino;
	struct cvmfs_client *c;
};

static int list_cb(void *arg, struct cvmfs_dirent *d)
{
	struct dlist *l = arg;
	char *path = malloc(PATH_MAX);
	struct dent *e;

	if (!path)
		return -ENOMEM;
	if (d->flags & CVMFS_FLAG_HIDDEN) {
		free(path);
		return 0;
	}
	{
		const char *why = bad_row(l->cat, d);

		if (why) {
			log_bad_row(l->c, l->path, d, why);
			free(path);
			return 0;
		}
	}
	if (l->n == l->cap) {
		struct dent *nv = realloc(l->v, (l->cap = l->cap ? l->cap * 2 : 32) * sizeof(*nv));

		if (!nv) {
			free(path);
			return -ENOMEM;
		}
		l->v = nv;
	}
	e = &l->v[l->n];
	e->name = strdup(d->name);
	if (!e->name) {
		free(path);
		return -ENOMEM;
	}
	join(path, l->path, d->name);
	to_stat(l->c, d, path, &e->st);
	e->nested = d->flags & CVMFS_FLAG_NESTED_MOUNTPOINT;
	e->no_xattr = !d->has_xattr;
	l->n++;
	free(path);
	return 0;
}

static void dlist_free(struct dlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].name);
	free(l->v);
	free(l->path);
	free(l);
}

static int op_opendir(void *ctx, uint64_t ino, uint64_t *fh)
{
	struct cvmfs_client *c = ctx;
	struct dlist *l = calloc(1, sizeof(*l));
	int rc = -ENOMEM;

	if (!l || !(l->path = malloc(PATH_MAX)))
		goto out;
	l->c = c;
	l->ino = ino;
	if ((rc = node_get(c, ino, &l->cat, l->path)) < 0)
		goto out;
	rc = cvmfs_catalog_list(l->cat, l->path, list_cb, l);
out:
	if (rc < 0) {
		if (l)
			dlist_free(l);
		return rc;
	}
	*fh = (uintptr_t)l;
	return 0;
}

static int op_readdir(void *ctx, uint64_t ino, uint64_t fh, uint64_t off, bool plus,
		      cvmfs_fuse_fill_fn fill, void *fill_arg)
{
	struct cvmfs_client *c = ctx;
	struct dlist *l = (struct dlist *)(uintptr_t)fh;
	char *path = malloc(PATH_MAX);

	if (!path)
		return -ENOMEM;
	for (; off < l->n + 2; off++) {
		struct cvmfs_fuse_entry e;
		struct dent *d;

		if (off < 2) {
			if (!fill(fill_arg, off ? ".." : ".", off ? 1 : l->ino, S_IFDIR, NULL, off + 1))
				break;
			continue;
		}
		d = &l->v[off - 2];
		if (!plus || d->nested) {
			/* Mountpoints: the kernel looks them up (loading the child). */
			if (!fill(fill_arg, d->name, d->st.st_ino, d->st.st_mode, NULL, off + 1))
				break;
			continue;
		}
		e.ino = d->st.st_ino;
		e.st = d->st;
		if (!fill(fill_arg, d->name, e.ino, d->st.st_mode, &e, off + 1))
			break;
		join(path, l->path, d->name);
		node_ref(c, e.ino, l->cat, path, d->no_xattr);
	}
	free(path);
	return 0;
}

static void op_releasedir(void *ctx, uint64_t ino, uint64_t fh)
{
	dlist_free((struct dlist *)(uintptr_t)fh);
}

static int op_statfs(void *ctx, struct statvfs *st)
{
	struct cvmfs_client *c = ctx;
	uint64_t used, n;

	cvmfs_cache_stats(&c->cache, &used, &n);
	memset(st, 0, sizeof(*st));
	st->f_bsize = st->f_frsize = 4096;
	st->f_blocks = (c->cfg.cache_limit ? c->cfg.cache_limit : used) / 4096;
	st->f_bfree = st->f_bavail = st->f_blocks > used / 4096 ? st->f_blocks - used / 4096 : 0;
	st->f_files = n;
	st->f_namemax = 255;
	return 0;
}

static void op_destroy(void *ctx)
{
	struct cvmfs_client *c = ctx;

	c->stopping = 1;
}

const struct cvmfs_fuse_ops cvmfs_ops = {
	.lookup = op_lookup, .forget = op_forget, .getattr = op_getattr, .readlink = op_readlink,
	.open = op_open, .read = op_read, .release = op_release, .opendir = op_opendir,
	.readdir = op_readdir, .releasedir = op_releasedir, .statfs = op_statfs,
	.getxattr = cvmfs_op_getxattr, .listxattr = cvmfs_op_listxattr, .destroy = op_destroy,
	.backing_fd = op_backing_fd,
};
