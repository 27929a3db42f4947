/* SPDX-License-Identifier: MIT */
/* cvmfs-lite/fuse.c: the FUSE kernel protocol (linux/fuse.h) on /dev/fuse. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <linux/fuse.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "cvmfs-lite/fuse.h"

#define REQ_BUF (FUSE_MIN_READ_BUFFER + 65536)	/* header + largest setxattr we refuse */
#define REQ_PAD 256	/* zeroed after each request: fixed-size args and names that a
			 * short or unterminated message omits read as zeros, in bounds */
#define MAX_PAGES 256				/* 1 MiB READs (FUSE_MAX_PAGES) */
#define MAX_WRITE 4096				/* we never accept writes */

/* FUSE passthrough (protocol 7.40, Linux 6.9): the kernel reads an open file
 * from a backing file the server registered, without a READ round trip. The
 * host's linux/fuse.h (Linux 6.1, protocol 7.38) predates it, so the values
 * are the protocol's own. The replies keep their size: max_stack_depth is
 * the word after fuse_init_out.flags2 (unused[0] in 7.38), backing_id is
 * fuse_open_out's former padding. */
#define PT_FLAG2 (1u << (37 - 32))	/* FUSE_PASSTHROUGH (bit 37: in flags2) */
#define PT_FOPEN (1u << 7)		/* FOPEN_PASSTHROUGH */
/* The FUSE mount's own stack depth: 1 leaves room for the overlay root on
 * top (the kernel's limit is 2), and backing files on a plain file system. */
#define PT_STACK_DEPTH 1u
/* Marks the fh of an open in passthrough mode, so that only its RELEASE drops
 * the inode's backing reference (ops' fh are pointers: bit 0 is free). */
#define PT_FH 1ull
/* Marks the fh of an open answered without passthrough while passthrough is
 * on: the kernel refuses (ETXTBSY) to mix the two modes on one inode, so no
 * backing file is registered for an inode while such opens last (a chunked
 * file opened before its chunks were all cached, then joined). */
#define PT_CACHED 2ull
#define PT_FLAGS (PT_FH | PT_CACHED)
/* The whole fh of an open answered from a kept backing file: no file state
 * of ours behind it (ops' fh are pointers, so never this value). */
#define PT_KEPT (PT_FH | 4ull)
struct pt_backing_map {
	int32_t fd;
	uint32_t flags;
	uint64_t padding;
};
#define PT_IOC_BACKING_OPEN _IOW(229, 1, struct pt_backing_map)
#define PT_IOC_BACKING_CLOSE _IOW(229, 2, uint32_t)
#define PT_INIT_DEPTH_OFF (offsetof(struct fuse_init_out, flags2) + 4)
#define PT_OPEN_ID_OFF (offsetof(struct fuse_open_out, open_flags) + 4)
_Static_assert(sizeof(struct fuse_init_out) == 64 && PT_INIT_DEPTH_OFF == 36, "fuse_init_out");
_Static_assert(sizeof(struct fuse_open_out) == 16 && PT_OPEN_ID_OFF == 12, "fuse_open_out");
#ifdef FOPEN_PASSTHROUGH
_Static_assert(FOPEN_PASSTHROUGH == PT_FOPEN && (FUSE_PASSTHROUGH >> 32) == PT_FLAG2 &&
	       FUSE_DEV_IOC_BACKING_OPEN == PT_IOC_BACKING_OPEN, "passthrough UAPI");
#endif

struct worker {
	struct cvmfs_fuse *f;
	unsigned idx;		/* slot in f->busy */
	char *req;
	char *data;		/* reply payload: READ data, dir listings, xattrs */
	size_t data_len;
};

/* Writes one reply. Returns 0, 1 if the kernel no longer wanted it (the
 * request was interrupted and is gone), or -errno. */
static int reply_raw(struct cvmfs_fuse *f, uint64_t unique, int err, const void *p, size_t n,
		     const void *p2, size_t n2)
{
	struct fuse_out_header h = { .len = sizeof(h) + (err ? 0 : n + n2), .error = err,
				     .unique = unique };
	struct iovec iov[3] = { { &h, sizeof(h) }, { (void *)p, n }, { (void *)p2, n2 } };
	ssize_t w = writev(f->fd, iov, err ? 1 : (n2 ? 3 : 2));

	if (w < 0)
		return errno == ENOENT ? 1 : -errno;
	return 0;
}

/* Marks the request answered; false if an INTERRUPT already answered it. */
static bool claim(struct cvmfs_fuse *f, uint64_t unique)
{
	bool ok = true;

	pthread_mutex_lock(&f->lock);
	for (unsigned i = 0; i < CVMFS_FUSE_THREADS_MAX; i++)
		if (f->busy[i].unique == unique) {
			ok = !f->busy[i].answered;
			f->busy[i].answered = true;
			break;
		}
	pthread_mutex_unlock(&f->lock);
	return ok;
}

/* Replies to a request, unless it was already answered -EINTR (then 1, as
 * when the kernel has dropped it: the caller undoes what the reply would
 * have handed over, e.g. an open file). */
static int reply(struct cvmfs_fuse *f, uint64_t unique, int err, const void *p, size_t n,
		 const void *p2, size_t n2)
{
	if (!claim(f, unique))
		return 1;
	return reply_raw(f, unique, err, p, n, p2, n2);
}

static int reply_err(struct cvmfs_fuse *f, uint64_t unique, int rc)
{
	return reply(f, unique, rc, NULL, 0, NULL, 0);
}

static void attr_fill(struct fuse_attr *a, const struct stat *st)
{
	memset(a, 0, sizeof(*a));
	a->ino = st->st_ino;
	a->size = st->st_size;
	a->blocks = st->st_blocks;
	a->atime = st->st_atim.tv_sec;
	a->mtime = st->st_mtim.tv_sec;
	a->ctime = st->st_ctim.tv_sec;
	a->atimensec = st->st_atim.tv_nsec;
	a->mtimensec = st->st_mtim.tv_nsec;
	a->ctimensec = st->st_ctim.tv_nsec;
	a->mode = st->st_mode;
	a->nlink = st->st_nlink;
	a->uid = st->st_uid;
	a->gid = st->st_gid;
	a->rdev = st->st_rdev;
	a->blksize = st->st_blksize ? st->st_blksize : 4096;
}

static void entry_fill(struct cvmfs_fuse *f, struct fuse_entry_out *o, const struct cvmfs_fuse_entry *e)
{
	memset(o, 0, sizeof(*o));
	o->nodeid = e->ino;
	o->generation = 1;
	o->entry_valid = f->cfg.timeout_s;
	o->attr_valid = f->cfg.timeout_s;
	if (e->ino)
		attr_fill(&o->attr, &e->st);
}

static int do_init(struct worker *w, const struct fuse_in_header *in, const void *arg)
{
	const struct fuse_init_in *ii = arg;
	struct cvmfs_fuse *f = w->f;
	struct fuse_init_out o = { 0 };
	uint32_t want = FUSE_ASYNC_READ | FUSE_PARALLEL_DIROPS | FUSE_DO_READDIRPLUS |
			FUSE_READDIRPLUS_AUTO | FUSE_MAX_PAGES | FUSE_CACHE_SYMLINKS |
			FUSE_BIG_WRITES | FUSE_ATOMIC_O_TRUNC;
	uint32_t depth = PT_STACK_DEPTH;

	if (ii->major != FUSE_KERNEL_VERSION) {
		/* Protocol 7 only; answering with our major makes the kernel retry or fail. */
		o.major = FUSE_KERNEL_VERSION;
		o.minor = FUSE_KERNEL_MINOR_VERSION;
		return reply(f, in->unique, ii->major > 7 ? 0 : -EPROTO, &o, 8, NULL, 0);
	}
	f->proto_minor = ii->minor < FUSE_KERNEL_MINOR_VERSION ? ii->minor : FUSE_KERNEL_MINOR_VERSION;
	o.major = FUSE_KERNEL_VERSION;
	o.minor = f->proto_minor;
	o.max_readahead = ii->max_readahead;
	o.flags = ii->flags & want;
	o.max_background = 64;
	o.congestion_threshold = 48;
	o.max_write = MAX_WRITE;
	o.time_gran = 1;
	o.max_pages = MAX_PAGES;
	f->max_read = (o.flags & FUSE_MAX_PAGES) ? MAX_PAGES * 4096 : 32 * 4096;
	/* Passthrough when asked for and offered (flags2 is there with INIT_EXT). */
	if (f->cfg.passthrough && f->proto_minor >= 23 && (ii->flags & FUSE_INIT_EXT) &&
	    (ii->flags2 & PT_FLAG2)) {
		o.flags |= FUSE_INIT_EXT;
		o.flags2 = PT_FLAG2;
		memcpy((char *)&o + PT_INIT_DEPTH_OFF, &depth, sizeof(depth));
		f->passthrough = true;
	}
	return reply(f, in->unique, 0, &o, f->proto_minor < 23 ? FUSE_COMPAT_22_INIT_OUT_SIZE :
		     sizeof(o), NULL, 0);
}

static int do_lookup(struct worker *w, const struct fuse_in_header *in, const char *name)
{
	struct cvmfs_fuse *f = w->f;
	struct cvmfs_fuse_entry e;
	struct fuse_entry_out o;
	int rc;

	memset(&e, 0, sizeof(e));
	rc = f->ops->lookup(f->ctx, in->nodeid, name, &e);
	if (rc == -ENOENT) {
		/* The snapshot is immutable: cache the miss like a hit. */
		memset(&e, 0, sizeof(e));
		rc = 0;
	}
	if (rc < 0)
		return reply_err(f, in->unique, rc);
	entry_fill(f, &o, &e);
	rc = reply(f, in->unique, 0, &o, f->proto_minor < 9 ? FUSE_COMPAT_ENTRY_OUT_SIZE :
		   sizeof(o), NULL, 0);
	if (rc == 1 && e.ino)
		f->ops->forget(f->ctx, e.ino, 1);	/* the kernel never took the reference */
	return rc;
}

static int do_getattr(struct worker *w, const struct fuse_in_header *in)
{
	struct cvmfs_fuse *f = w->f;
	struct fuse_attr_out o = { .attr_valid = f->cfg.timeout_s };
	struct stat st;
	int rc = f->ops->getattr(f->ctx, in->nodeid, &st);

	if (rc < 0)
		return reply_err(f, in->unique, rc);
	attr_fill(&o.attr, &st);
	return reply(f, in->unique, 0, &o, f->proto_minor < 9 ? FUSE_COMPAT_ATTR_OUT_SIZE :
		     sizeof(o), NULL, 0);
}

static int do_readlink(struct worker *w, const struct fuse_in_header *in)
{
	struct cvmfs_fuse *f = w->f;
	ssize_t n = f->ops->readlink(f->ctx, in->nodeid, w->data, PATH_MAX);

	if (n < 0)
		return reply_err(f, in->unique, (int)n);
	return reply(f, in->unique, 0, w->data, n, NULL, 0);
}

static struct cvmfs_fuse_backing **pt_slot(struct cvmfs_fuse *f, uint64_t ino)
{
	struct cvmfs_fuse_backing **p = &f->pt[(ino * 0x9e3779b97f4a7c15ull >> 40) %
					      CVMFS_FUSE_PT_BUCKETS];

	while (*p && (*p)->ino != ino)
		p = &(*p)->next;
	return p;
}

static void idle_unlink(struct cvmfs_fuse *f, struct cvmfs_fuse_backing *b)
{
	*(b->idle_prev ? &b->idle_prev->idle_next : &f->idle_head) = b->idle_next;
	*(b->idle_next ? &b->idle_next->idle_prev : &f->idle_tail) = b->idle_prev;
	b->idle_prev = b->idle_next = NULL;
	f->nidle--;
}

/* Backing id for one more open of ino: the one its open files already use
 * (the kernel wants one backing file per inode, and every open of an inode
 * in passthrough mode to use it) or the one its last open left, else with
 * fd >= 0 a new one for fd. 0: none (fd < 0: none kept; else the server
 * reads). The first failure turns passthrough off for the mount (it would
 * fail the same way again: no privilege, a stacked cache fs). */
static int32_t pt_open(struct cvmfs_fuse *f, uint64_t ino, int fd)
{
	struct cvmfs_fuse_backing **p, *b;
	struct pt_backing_map m = { .fd = fd };
	int32_t id = 0;
	int r;

	pthread_mutex_lock(&f->lock);
	p = pt_slot(f, ino);
	if (*p && (*p)->id > 0) {
		if ((*p)->nopen++ == 0)
			idle_unlink(f, *p);
		id = (*p)->id;
	} else if (*p) {
		/* opens without passthrough are on: this one joins them */
	} else if (fd >= 0 && f->passthrough) {
		r = ioctl(f->fd, PT_IOC_BACKING_OPEN, &m);
		if (r > 0 && (b = calloc(1, sizeof(*b)))) {
			b->ino = ino;
			b->id = id = r;
			b->nopen = 1;
			*p = b;
		} else {
			if (r > 0)
				ioctl(f->fd, PT_IOC_BACKING_CLOSE, &(uint32_t){ (uint32_t)r });
			f->pt_error = r > 0 ? -ENOMEM : -errno;
			f->passthrough = false;
		}
	}
	pthread_mutex_unlock(&f->lock);
	return id;
}

/* One more (+1) or one less (-1) open of ino without passthrough. */
static void pt_cached(struct cvmfs_fuse *f, uint64_t ino, int delta)
{
	struct cvmfs_fuse_backing **p, *b;

	pthread_mutex_lock(&f->lock);
	p = pt_slot(f, ino);
	b = *p;
	if (!b && delta > 0 && (b = calloc(1, sizeof(*b)))) {
		b->ino = ino;	/* id 0: no backing file */
		*p = b;
	}
	if (b && delta > 0) {
		b->ncached++;
	} else if (b && b->ncached > 0 && --b->ncached == 0 && b->id == 0) {
		*p = b->next;
		free(b);
	}
	pthread_mutex_unlock(&f->lock);
}

/* One open of ino in passthrough mode ended (or its reply was lost): its
 * backing file is kept for the next open, the oldest kept one goes. */
static void pt_release(struct cvmfs_fuse *f, uint64_t ino)
{
	struct cvmfs_fuse_backing **p, *b;

	pthread_mutex_lock(&f->lock);
	b = *pt_slot(f, ino);
	if (b && --b->nopen == 0) {
		b->idle_prev = f->idle_tail;
		*(f->idle_tail ? &f->idle_tail->idle_next : &f->idle_head) = b;
		f->idle_tail = b;
		if (++f->nidle > CVMFS_FUSE_PT_IDLE_MAX) {
			b = f->idle_head;
			idle_unlink(f, b);
			ioctl(f->fd, PT_IOC_BACKING_CLOSE, &(uint32_t){ (uint32_t)b->id });
			p = pt_slot(f, b->ino);
			*p = b->next;
			free(b);
		}
	}
	pthread_mutex_unlock(&f->lock);
}

static int do_open(struct worker *w, const struct fuse_in_header *in, const void *arg, bool dir)
{
	const struct fuse_open_in *oi = arg;
	struct cvmfs_fuse *f = w->f;
	struct fuse_open_out o = { 0 };
	uint64_t fh = 0;
	int32_t id = 0;
	int rc;

	if (!dir && (oi->flags & O_ACCMODE) != O_RDONLY)
		return reply_err(f, in->unique, -EROFS);
	if (!dir && (id = pt_open(f, in->nodeid, -1)) > 0) {
		/* Opened before: its backing file says it all; no file state of
		 * ours (fh PT_KEPT), the kernel never sends READ for it. */
		__atomic_add_fetch(&f->nopens, 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&f->npt_opens, 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&f->npt_kept, 1, __ATOMIC_RELAXED);
		o.open_flags = PT_FOPEN;
		o.fh = PT_KEPT;
		memcpy((char *)&o + PT_OPEN_ID_OFF, &id, sizeof(id));
		rc = reply(f, in->unique, 0, &o, sizeof(o), NULL, 0);
		if (rc == 1)
			pt_release(f, in->nodeid);
		return rc;
	}
	rc = dir ? f->ops->opendir(f->ctx, in->nodeid, &fh) : f->ops->open(f->ctx, in->nodeid, &fh);
	if (rc < 0)
		return reply_err(f, in->unique, rc);
	o.fh = fh;
	/* Content of a snapshot never changes: keep the page cache across opens. */
	o.open_flags = FOPEN_KEEP_CACHE | (dir ? FOPEN_CACHE_DIR : 0);
	if (!dir) {
		__atomic_add_fetch(&f->nopens, 1, __ATOMIC_RELAXED);
		if (f->ops->backing_fd && f->passthrough)
			id = pt_open(f, in->nodeid, f->ops->backing_fd(f->ctx, in->nodeid, fh));
	}
	if (id > 0) {
		/* The kernel takes no other flags with it (FOPEN_PASSTHROUGH_MASK:
		 * direct I/O and no-flush); the page cache is the backing file's. */
		o.open_flags = PT_FOPEN;
		o.fh = fh | PT_FH;
		memcpy((char *)&o + PT_OPEN_ID_OFF, &id, sizeof(id));
		__atomic_add_fetch(&f->npt_opens, 1, __ATOMIC_RELAXED);
	} else if (!dir && f->passthrough) {
		pt_cached(f, in->nodeid, 1);
		o.fh = fh | PT_CACHED;
	}
	rc = reply(f, in->unique, 0, &o, sizeof(o), NULL, 0);
	if (rc == 1) {	/* the opener was killed meanwhile: nobody will RELEASE fh */
		if (id > 0)
			pt_release(f, in->nodeid);
		else if (o.fh & PT_CACHED)
			pt_cached(f, in->nodeid, -1);
		(dir ? f->ops->releasedir : f->ops->release)(f->ctx, in->nodeid, fh);
	}
	return rc;
}

static int do_read(struct worker *w, const struct fuse_in_header *in, const void *arg)
{
	const struct fuse_read_in *ri = arg;
	struct cvmfs_fuse *f = w->f;
	size_t len = ri->size < w->data_len ? ri->size : w->data_len;
	ssize_t n;

	if (ri->fh == PT_KEPT)	/* a kept backing file's open: the kernel reads */
		return reply_err(f, in->unique, -EIO);
	n = f->ops->read(f->ctx, in->nodeid, ri->fh & ~PT_FLAGS, w->data, len, ri->offset);

	__atomic_add_fetch(&f->nreads, 1, __ATOMIC_RELAXED);
	if (n < 0)
		return reply_err(f, in->unique, (int)n);
	return reply(f, in->unique, 0, w->data, n, NULL, 0);
}

struct dirbuf {
	struct cvmfs_fuse *f;
	char *p;
	size_t len, cap;
	bool plus;
};

static int dir_fill(void *arg, const char *name, uint64_t ino, mode_t mode,
		    const struct cvmfs_fuse_entry *e, uint64_t off)
{
	struct dirbuf *d = arg;
	size_t nl = strlen(name);
	size_t hdr = d->plus ? FUSE_NAME_OFFSET_DIRENTPLUS : FUSE_NAME_OFFSET;
	size_t sz = FUSE_DIRENT_ALIGN(hdr + nl);
	struct fuse_dirent *de;

	if (d->len + sz > d->cap)
		return 0;
	memset(d->p + d->len, 0, sz);
	if (d->plus) {
		struct fuse_direntplus *dp = (void *)(d->p + d->len);
		struct cvmfs_fuse_entry none = { 0 };

		entry_fill(d->f, &dp->entry_out, e ? e : &none);
		de = &dp->dirent;
	} else {
		de = (void *)(d->p + d->len);
	}
	de->ino = ino;
	de->off = off;
	de->namelen = nl;
	de->type = (mode & S_IFMT) >> 12;
	memcpy(de->name, name, nl);
	d->len += sz;
	return 1;
}

static int do_readdir(struct worker *w, const struct fuse_in_header *in, const void *arg, bool plus)
{
	const struct fuse_read_in *ri = arg;
	struct cvmfs_fuse *f = w->f;
	struct dirbuf d = { .f = f, .p = w->data, .plus = plus,
			    .cap = ri->size < w->data_len ? ri->size : w->data_len };
	int rc = f->ops->readdir(f->ctx, in->nodeid, ri->fh, ri->offset, plus, dir_fill, &d);

	if (rc < 0)
		return reply_err(f, in->unique, rc);
	return reply(f, in->unique, 0, d.p, d.len, NULL, 0);
}

static int do_xattr(struct worker *w, const struct fuse_in_header *in, const void *arg, bool list)
{
	const struct fuse_getxattr_in *gi = arg;
	struct cvmfs_fuse *f = w->f;
	size_t len = gi->size < w->data_len ? gi->size : w->data_len;
	ssize_t n = list ? f->ops->listxattr(f->ctx, in->nodeid, w->data, len) :
		    f->ops->getxattr(f->ctx, in->nodeid, (const char *)(gi + 1), w->data, len);

	if (n < 0)
		return reply_err(f, in->unique, (int)n);
	if (gi->size == 0) {
		struct fuse_getxattr_out o = { .size = n };

		return reply(f, in->unique, 0, &o, sizeof(o), NULL, 0);
	}
	return reply(f, in->unique, 0, w->data, n, NULL, 0);
}

static int do_statfs(struct worker *w, const struct fuse_in_header *in)
{
	struct cvmfs_fuse *f = w->f;
	struct fuse_statfs_out o = { 0 };
	struct statvfs sv = { 0 };
	int rc = f->ops->statfs ? f->ops->statfs(f->ctx, &sv) : 0;

	if (rc < 0)
		return reply_err(f, in->unique, rc);
	o.st.blocks = sv.f_blocks;
	o.st.bfree = sv.f_bfree;
	o.st.bavail = sv.f_bavail;
	o.st.files = sv.f_files;
	o.st.ffree = sv.f_ffree;
	o.st.bsize = sv.f_bsize ? sv.f_bsize : 4096;
	o.st.frsize = sv.f_frsize ? sv.f_frsize : o.st.bsize;
	o.st.namelen = 255;
	return reply(f, in->unique, 0, &o, f->proto_minor < 4 ? FUSE_COMPAT_STATFS_SIZE : sizeof(o),
		     NULL, 0);
}

/* Whether thread tid has a fatal signal pending: the kernel adds SIGKILL to
 * the pending set of every thread of a group that is being killed (also
 * for the default action of SIGTERM etc.). When /proc cannot tell (no
 * /proc, another pid namespace), the interrupt is honoured. */
static bool is_dying(uint32_t tid)
{
	char path[48], buf[2048];
	const char *k[] = { "\nSigPnd:", "\nShdPnd:" };
	ssize_t n;
	int fd;

	if (tid == 0)
		return true;
	snprintf(path, sizeof(path), "/proc/%u/status", (unsigned)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return true;	/* gone already, or no /proc */
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return true;
	buf[n] = 0;
	for (size_t i = 0; i < 2; i++) {
		const char *p = strstr(buf, k[i]);

		if (p && (strtoull(p + strlen(k[i]), NULL, 16) & (1ull << (SIGKILL - 1))))
			return true;
	}
	return false;
}

/* FUSE_INTERRUPT: a reader blocked in a request got a signal. If it is
 * being killed, its request is answered -EINTR now (the kernel waits for
 * that answer in D state, so a download must not hold it) and the worker's
 * later reply is dropped; the download itself runs on, bounded by its
 * deadlines, and what it fetched stays valid for later readers. Other
 * signals let the request finish: an EINTR there would reach programs as a
 * failed read() of a regular file. An INTERRUPT for a request no worker has
 * registered yet is answered -EAGAIN, which makes the kernel send it again. */
static int do_interrupt(struct worker *w, const struct fuse_in_header *in, const void *arg)
{
	uint64_t target = ((const struct fuse_interrupt_in *)arg)->unique;
	struct cvmfs_fuse *f = w->f;
	uint32_t pid = 0;
	bool found = false, take = false;

	pthread_mutex_lock(&f->lock);
	for (unsigned i = 0; i < CVMFS_FUSE_THREADS_MAX; i++)
		if (target && f->busy[i].unique == target) {
			found = !f->busy[i].answered;
			pid = f->busy[i].pid;
			break;
		}
	pthread_mutex_unlock(&f->lock);
	if (!found)
		return reply_raw(f, in->unique, -EAGAIN, NULL, 0, NULL, 0);
	if (!is_dying(pid))
		return 0;
	pthread_mutex_lock(&f->lock);
	for (unsigned i = 0; i < CVMFS_FUSE_THREADS_MAX; i++)
		if (f->busy[i].unique == target) {
			take = !f->busy[i].answered;
			f->busy[i].answered = true;
			break;
		}
	pthread_mutex_unlock(&f->lock);
	return take ? reply_raw(f, target, -EINTR, NULL, 0, NULL, 0) : 0;
}

static void do_destroy(struct cvmfs_fuse *f)
{
	pthread_mutex_lock(&f->lock);
	if (!f->destroyed && f->ops->destroy)
		f->ops->destroy(f->ctx);
	f->destroyed = 1;
	pthread_mutex_unlock(&f->lock);
}

static int dispatch(struct worker *w, size_t n)
{
	const struct fuse_in_header *in = (const void *)w->req;
	const void *arg = in + 1;
	struct cvmfs_fuse *f = w->f;

	if (n < sizeof(*in) || in->len != n)
		return 0;	/* a short read never happens with a big enough buffer */
	switch (in->opcode) {
	case FUSE_INIT:
		return do_init(w, in, arg);
	case FUSE_LOOKUP:
		return do_lookup(w, in, arg);
	case FUSE_FORGET:
		f->ops->forget(f->ctx, in->nodeid, ((const struct fuse_forget_in *)arg)->nlookup);
		return 0;	/* FORGET has no reply */
	case FUSE_BATCH_FORGET: {
		const struct fuse_batch_forget_in *bi = arg;
		const struct fuse_forget_one *one = (const void *)(bi + 1);

		for (uint32_t i = 0; i < bi->count &&
		     (const char *)(one + i + 1) <= w->req + n; i++)
			f->ops->forget(f->ctx, one[i].nodeid, one[i].nlookup);
		return 0;
	}
	case FUSE_GETATTR:
		return do_getattr(w, in);
	case FUSE_READLINK:
		return do_readlink(w, in);
	case FUSE_OPEN:
		return do_open(w, in, arg, false);
	case FUSE_OPENDIR:
		return do_open(w, in, arg, true);
	case FUSE_READ:
		return do_read(w, in, arg);
	case FUSE_READDIR:
		return do_readdir(w, in, arg, false);
	case FUSE_READDIRPLUS:
		return do_readdir(w, in, arg, true);
	case FUSE_RELEASE: {
		uint64_t fh = ((const struct fuse_release_in *)arg)->fh;

		if (fh & PT_FH)
			pt_release(f, in->nodeid);
		if (fh & PT_CACHED)
			pt_cached(f, in->nodeid, -1);
		if (fh != PT_KEPT)	/* an open from a kept backing file: no state */
			f->ops->release(f->ctx, in->nodeid, fh & ~PT_FLAGS);
		return reply_err(f, in->unique, 0);
	}
	case FUSE_RELEASEDIR:
		f->ops->releasedir(f->ctx, in->nodeid, ((const struct fuse_release_in *)arg)->fh);
		return reply_err(f, in->unique, 0);
	case FUSE_STATFS:
		return do_statfs(w, in);
	case FUSE_GETXATTR:
		return do_xattr(w, in, arg, false);
	case FUSE_LISTXATTR:
		return do_xattr(w, in, arg, true);
	case FUSE_ACCESS:
		return reply_err(f, in->unique,
				 (((const struct fuse_access_in *)arg)->mask & W_OK) ? -EROFS : 0);
	case FUSE_INTERRUPT:
		return do_interrupt(w, in, arg);
	case FUSE_FLUSH:
	case FUSE_FSYNC:
	case FUSE_FSYNCDIR:
		/* Nothing to flush on a read-only fs. ENOSYS makes the kernel stop
		 * sending these (fc->no_flush etc.), saving a round trip per close. */
		return reply_err(f, in->unique, -ENOSYS);
	case FUSE_DESTROY:
		do_destroy(f);
		f->stop = 1;
		return reply_err(f, in->unique, 0);
	case FUSE_SETATTR: case FUSE_SYMLINK: case FUSE_MKNOD: case FUSE_MKDIR:
	case FUSE_UNLINK: case FUSE_RMDIR: case FUSE_RENAME: case FUSE_LINK:
	case FUSE_WRITE: case FUSE_SETXATTR: case FUSE_REMOVEXATTR: case FUSE_CREATE:
	case FUSE_FALLOCATE: case FUSE_RENAME2: case FUSE_COPY_FILE_RANGE:
	case FUSE_TMPFILE:
		return reply_err(f, in->unique, -EROFS);
	default:
		return reply_err(f, in->unique, -ENOSYS);
	}
}

/* Registers the request in w->req (n bytes; 0: none) as this worker's. */
static void busy_set(struct worker *w, size_t n)
{
	const struct fuse_in_header *in = (const void *)w->req;
	struct cvmfs_fuse *f = w->f;
	bool replied = n >= sizeof(*in) && in->opcode != FUSE_INTERRUPT &&
		       in->opcode != FUSE_FORGET && in->opcode != FUSE_BATCH_FORGET;

	pthread_mutex_lock(&f->lock);
	f->busy[w->idx].unique = replied ? in->unique : 0;
	f->busy[w->idx].pid = replied ? in->pid : 0;
	f->busy[w->idx].answered = false;
	pthread_mutex_unlock(&f->lock);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct cvmfs_fuse *f = w->f;
	struct timespec t0, t1;
	intptr_t rc = 0;
	uint32_t op;

	while (!f->stop) {
		ssize_t n = read(f->fd, w->req, REQ_BUF);

		if (n < 0) {
			/* ENOENT: interrupted before we read it; EINTR/EAGAIN: retry. */
			if (errno == EINTR || errno == EAGAIN || errno == ENOENT)
				continue;
			if (errno != ENODEV)	/* ENODEV: unmounted */
				rc = -errno;
			break;
		}
		if (n == 0)
			break;		/* not /dev/fuse (a test's socket) closed */
		memset(w->req + n, 0, REQ_PAD);
		busy_set(w, (size_t)n);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		dispatch(w, (size_t)n);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		busy_set(w, 0);
		op = ((const struct fuse_in_header *)w->req)->opcode;
		if ((size_t)n >= sizeof(struct fuse_in_header) && op < CVMFS_FUSE_OPCODES) {
			__atomic_add_fetch(&f->op_n[op], 1, __ATOMIC_RELAXED);
			__atomic_add_fetch(&f->op_ns[op], (uint64_t)(t1.tv_sec - t0.tv_sec) *
					   1000000000u + (uint64_t)(t1.tv_nsec - t0.tv_nsec),
					   __ATOMIC_RELAXED);
		}
	}
	f->stop = 1;
	return (void *)rc;
}

/* see fuse.h */
int cvmfs_fuse_mount(struct cvmfs_fuse *f, const char *mountpoint, const struct cvmfs_fuse_cfg *cfg,
		     const struct cvmfs_fuse_ops *ops, void *ctx)
{
	char opts[256], type[64];
	unsigned long flags = MS_RDONLY | MS_NOATIME;
	int rc = 0;

	memset(f, 0, sizeof(*f));
	f->ops = ops;
	f->ctx = ctx;
	f->cfg = *cfg;
	if (f->cfg.threads == 0 || f->cfg.threads > CVMFS_FUSE_THREADS_MAX)
		f->cfg.threads = 8;
	pthread_mutex_init(&f->lock, NULL);
	f->fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	if (f->fd < 0)
		return errno == ENOENT ? -ENODEV : -errno;
	if (!cfg->suid)
		flags |= MS_NOSUID | MS_NODEV;
	snprintf(opts, sizeof(opts), "fd=%d,rootmode=40000,user_id=%u,group_id=%u,max_read=%u%s%s",
		 f->fd, (unsigned)getuid(), (unsigned)getgid(), MAX_PAGES * 4096,
		 cfg->allow_other ? ",allow_other" : "", ",default_permissions");
	snprintf(type, sizeof(type), "fuse%s%s", cfg->subtype ? "." : "",
		 cfg->subtype ? cfg->subtype : "");
	if (mount(cfg->fsname ? cfg->fsname : "cvmfs", mountpoint, type, flags, opts) < 0) {
		rc = -errno;
		/* Kernels that do not know "fuse.<subtype>" take plain "fuse". */
		if (rc == -ENODEV && cfg->subtype &&
		    mount(cfg->fsname ? cfg->fsname : "cvmfs", mountpoint, "fuse", flags, opts) == 0)
			rc = 0;
	}
	if (rc < 0) {
		close(f->fd);
		f->fd = -1;
	}
	return rc;
}

/* see fuse.h */
int cvmfs_fuse_serve(struct cvmfs_fuse *f)
{
	struct worker *ws = calloc(f->cfg.threads, sizeof(*ws));
	pthread_attr_t attr;
	intptr_t rc = 0;
	unsigned i;

	if (!ws)
		return -ENOMEM;
	pthread_attr_init(&attr);
	/* musl's default thread stack is 128 KiB; SQLite wants more. */
	pthread_attr_setstacksize(&attr, 512 * 1024);
	for (i = 0; i < f->cfg.threads; i++) {
		ws[i].f = f;
		ws[i].idx = i;
		ws[i].data_len = MAX_PAGES * 4096;
		ws[i].req = malloc(REQ_BUF + REQ_PAD);
		ws[i].data = malloc(ws[i].data_len);
		if (!ws[i].req || !ws[i].data ||
		    pthread_create(&f->tid[i], &attr, worker_main, &ws[i]) != 0) {
			free(ws[i].req);
			free(ws[i].data);
			rc = -ENOMEM;
			break;
		}
	}
	f->nthreads = i;
	pthread_attr_destroy(&attr);
	for (i = 0; i < f->nthreads; i++) {
		void *r;

		pthread_join(f->tid[i], &r);
		if ((intptr_t)r < 0 && rc == 0)
			rc = (intptr_t)r;
		free(ws[i].req);
		free(ws[i].data);
	}
	free(ws);
	do_destroy(f);
	return (int)rc;
}

/* see fuse.h */
void cvmfs_fuse_close(struct cvmfs_fuse *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	pthread_mutex_lock(&f->lock);
	for (size_t i = 0; i < CVMFS_FUSE_PT_BUCKETS; i++)
		while (f->pt[i]) {
			struct cvmfs_fuse_backing *b = f->pt[i];

			f->pt[i] = b->next;
			free(b);
		}
	pthread_mutex_unlock(&f->lock);
}

/* see fuse.h */
void cvmfs_fuse_stats(struct cvmfs_fuse *f, struct cvmfs_fuse_stats *st)
{
	pthread_mutex_lock(&f->lock);
	st->passthrough = f->passthrough;
	st->pt_error = f->pt_error;
	pthread_mutex_unlock(&f->lock);
	st->opens = __atomic_load_n(&f->nopens, __ATOMIC_RELAXED);
	st->pt_opens = __atomic_load_n(&f->npt_opens, __ATOMIC_RELAXED);
	st->pt_kept = __atomic_load_n(&f->npt_kept, __ATOMIC_RELAXED);
	st->reads = __atomic_load_n(&f->nreads, __ATOMIC_RELAXED);
	for (size_t i = 0; i < CVMFS_FUSE_OPCODES; i++) {
		st->op_n[i] = __atomic_load_n(&f->op_n[i], __ATOMIC_RELAXED);
		st->op_ns[i] = __atomic_load_n(&f->op_ns[i], __ATOMIC_RELAXED);
	}
}

static const char *op_name(unsigned op)
{
	switch (op) {
	case FUSE_LOOKUP: return "lookup";
	case FUSE_FORGET: return "forget";
	case FUSE_GETATTR: return "getattr";
	case FUSE_READLINK: return "readlink";
	case FUSE_OPEN: return "open";
	case FUSE_READ: return "read";
	case FUSE_STATFS: return "statfs";
	case FUSE_RELEASE: return "release";
	case FUSE_GETXATTR: return "getxattr";
	case FUSE_LISTXATTR: return "listxattr";
	case FUSE_FLUSH: return "flush";
	case FUSE_INIT: return "init";
	case FUSE_OPENDIR: return "opendir";
	case FUSE_READDIR: return "readdir";
	case FUSE_RELEASEDIR: return "releasedir";
	case FUSE_ACCESS: return "access";
	case FUSE_INTERRUPT: return "interrupt";
	case FUSE_IOCTL: return "ioctl";
	case FUSE_BATCH_FORGET: return "batch_forget";
	case FUSE_READDIRPLUS: return "readdirplus";
	default: return NULL;
	}
}

/* see fuse.h */
char *cvmfs_fuse_stats_ops(const struct cvmfs_fuse_stats *st, char *buf, size_t len)
{
	bool done[CVMFS_FUSE_OPCODES] = { false };
	size_t at = 0;

	buf[0] = '\0';
	for (;;) {	/* by count, largest first: a few dozen opcodes at most */
		size_t best = CVMFS_FUSE_OPCODES;
		const char *name;
		int k;

		for (size_t i = 0; i < CVMFS_FUSE_OPCODES; i++)
			if (!done[i] && st->op_n[i] &&
			    (best == CVMFS_FUSE_OPCODES || st->op_n[i] > st->op_n[best]))
				best = i;
		if (best == CVMFS_FUSE_OPCODES || at >= len)
			break;
		done[best] = true;
		name = op_name((unsigned)best);
		k = name ? snprintf(buf + at, len - at, "%s%s %llu/%llums", at ? " " : "", name,
				    (unsigned long long)st->op_n[best],
				    (unsigned long long)(st->op_ns[best] / 1000000)) :
			   snprintf(buf + at, len - at, "%sop%zu %llu/%llums", at ? " " : "", best,
				    (unsigned long long)st->op_n[best],
				    (unsigned long long)(st->op_ns[best] / 1000000));
		if (k < 0 || (size_t)k >= len - at) {
			buf[at] = '\0';
			break;
		}
		at += (size_t)k;
	}
	return buf;
}

/* see fuse.h */
int cvmfs_fuse_unmount(const char *mountpoint)
{
	if (umount2(mountpoint, 0) == 0)
		return 0;
	if (errno == EBUSY && umount2(mountpoint, MNT_DETACH) == 0)
		return 0;
	return -errno;
}
