/* SPDX-License-Identifier: MIT */
/* cvmfs-pub/content.c: file contents to objects: content-defined chunks, zlib, hash, store; a thread pool. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "cvmfs-pub/internal.h"

#define PUB_READ_BUF (1u << 20)
/* Upstream's xor32 detector (spec §9; ingestion/chunk_detector.cc): a
 * rolling value over the last 32 bytes, cut before the byte that brings it
 * within UINT32_MAX / avg of the middle of the 32-bit range. */
#define PUB_XOR32_MAGIC 0x7fffffffu

struct obuf {
	unsigned char *p;
	size_t len, cap;
};

/* One unit of work: a whole content (chunk == CVMFS_PUB_NONE) in stage 1, one
 * chunk of a large file in stage 2. */
struct job {
	uint32_t content, chunk;
};

struct worker {
	struct cvmfs_pub_tree *t;
	struct cvmfs_pub_store *s;
	size_t *next;
	const struct job *jobs;		/* stage 2; NULL in stage 1 */
	size_t njobs;
	int *stop;
	pthread_t th;
	z_stream z;
	int zok;
	unsigned char *in;
	struct obuf cur;
	struct cvmfs_pub_chunk *ch;		/* cut list of the file being scanned */
	size_t nch, chcap;
};

static int obuf_reserve(struct obuf *b, size_t more)
{
	unsigned char *p;
	size_t cap;

	if (b->cap - b->len >= more)
		return 0;
	cap = b->cap ? b->cap : 65536;
	while (cap - b->len < more)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p)
		return -ENOMEM;
	b->p = p;
	b->cap = cap;
	return 0;
}

static int zfeed(struct worker *w, const unsigned char *data, size_t len, int finish)
{
	int zr;

	w->z.next_in = (unsigned char *)data;
	w->z.avail_in = (uInt)len;
	for (;;) {
		if (obuf_reserve(&w->cur, 65536) < 0)
			return -ENOMEM;
		w->z.next_out = w->cur.p + w->cur.len;
		w->z.avail_out = (uInt)(w->cur.cap - w->cur.len);
		zr = deflate(&w->z, finish ? Z_FINISH : Z_NO_FLUSH);
		w->cur.len = w->cur.cap - w->z.avail_out;
		if (zr == Z_STREAM_END)
			return 0;
		if (zr != Z_OK && zr != Z_BUF_ERROR)
			return -EIO;
		if (!finish && w->z.avail_in == 0 && w->z.avail_out > 0)
			return 0;
	}
}

static int add_cut(struct worker *w, uint64_t off, uint64_t size)
{
	if (w->nch == w->chcap) {
		size_t cap = w->chcap ? w->chcap * 2 : 16;
		struct cvmfs_pub_chunk *p = realloc(w->ch, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		w->ch = p;
		w->chcap = cap;
	}
	memset(&w->ch[w->nch], 0, sizeof(w->ch[0]));
	w->ch[w->nch].off = off;
	w->ch[w->nch].size = size;
	w->nch++;
	return 0;
}

static int changed(const struct cvmfs_pub_node *nd, const struct stat *st)
{
	return (uint64_t)st->st_size != nd->size || st->st_mtim.tv_sec != nd->mtime ||
	       st->st_mtim.tv_nsec != nd->mtimens || st->st_ino != nd->ino ||
	       st->st_ctim.tv_sec != nd->ctime || st->st_ctim.tv_nsec != nd->ctimens;
}

static int open_same(struct worker *w, const struct cvmfs_pub_node *nd)
{
	const struct cvmfs_pub_opts *o = w->t->o;
	struct stat st;
	int fd = openat(w->t->srcfd, nd->path + 1, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);

	if (fd < 0)
		return cvmfs_pub_fail(w->t->e, -errno, "%s%s: cannot open: %s", o->src, nd->path,
				      strerror(errno));
	if (fstat(fd, &st) < 0 || changed(nd, &st)) {
		close(fd);
		return cvmfs_pub_fail(w->t->e, -EAGAIN, "%s%s: changed while being published; "
				      "publish from a tree nobody writes to (e.g. a snapshot)",
				      o->src, nd->path);
	}
	return fd;
}

/* Closes fd; fails if the file changed while we read it. */
static int close_same(struct worker *w, const struct cvmfs_pub_node *nd, int fd, int rc)
{
	struct stat st;

	if (rc == 0 && (fstat(fd, &st) < 0 || changed(nd, &st)))
		rc = cvmfs_pub_fail(w->t->e, -EAGAIN, "%s%s: changed while being published; "
				    "publish from a tree nobody writes to (e.g. a snapshot)",
				    w->t->o->src, nd->path);
	close(fd);
	return rc;
}

static int store_fail(struct worker *w, const struct cvmfs_pub_node *nd, int rc)
{
	return cvmfs_pub_fail(w->t->e, rc, "%s%s: cannot store its content in the repository: %s",
			      w->t->o->src, nd->path, strerror(-rc));
}

/* Reads [off, off + size) of fd, compresses and hashes it into w->cur.
 * Memory: one compressed object, bounded by chunk_max, whatever the file.
 * to_eof: the range ends the file; its last read asks for one byte more, so
 * that a file that grew is seen without another system call. */
static int compress_range(struct worker *w, const struct cvmfs_pub_node *nd, int fd, uint64_t off,
			  uint64_t size, int to_eof, struct cvmfs_hash *h)
{
	uint64_t done = 0;
	int rc, probed = !to_eof;

	w->cur.len = 0;
	deflateReset(&w->z);
	while (done < size || !probed) {
		size_t want = size - done >= PUB_READ_BUF ? PUB_READ_BUF :
			      (size_t)(size - done) + (size_t)!probed;
		ssize_t r = pread(fd, w->in, want, (off_t)(off + done));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return cvmfs_pub_fail(w->t->e, -errno, "%s%s: read error: %s", w->t->o->src,
					      nd->path, strerror(errno));
		if (want > size - done)
			probed = 1;	/* this read asked past the end */
		if ((uint64_t)r > size - done)
			return cvmfs_pub_fail(w->t->e, -EAGAIN, "%s%s: changed while being published "
					      "(grew); publish from a tree nobody writes to",
					      w->t->o->src, nd->path);
		if (r == 0 && done < size)
			return cvmfs_pub_fail(w->t->e, -EAGAIN, "%s%s: changed while being published "
					      "(shrank); publish from a tree nobody writes to",
					      w->t->o->src, nd->path);
		if (r > 0 && (rc = zfeed(w, w->in, (size_t)r, 0)) < 0)
			return store_fail(w, nd, rc);
		done += (uint64_t)r;
	}
	if ((rc = zfeed(w, NULL, 0, 1)) < 0)
		return store_fail(w, nd, rc);
	cvmfs_hash_buf(w->s->algo, w->cur.p, w->cur.len, h);
	return 0;
}

/* Stage 1, small file: one object. */
static int do_small(struct worker *w, struct cvmfs_pub_content *c)
{
	struct cvmfs_pub_node *nd = &w->t->nodes[c->node];
	int fd = open_same(w, nd), rc;

	if (fd < 0)
		return fd;
	/* EOF exactly at the size we saw: a file that grew is a change */
	rc = compress_range(w, nd, fd, 0, nd->size, 1, &c->h);
	if (rc == 0 && (rc = cvmfs_pub_store_put(w->s, &c->h, CVMFS_SUFFIX_NONE, w->cur.p,
						 w->cur.len)) < 0)
		rc = store_fail(w, nd, rc);
	return close_same(w, nd, fd, rc);
}

/* Upstream's cut test, with its 32-bit two's-complement arithmetic (it
 * builds with -fwrapv): abs((int32_t)x - magic) < thr. For x = 0xffffffff
 * the difference is INT32_MIN, whose abs() stays negative: a hit too. */
static int xor32_hit(uint32_t x, int32_t thr)
{
	uint32_t d = x - PUB_XOR32_MAGIC;
	uint32_t a = (d & 0x80000000u) ? 0u - d : d;

	return (int32_t)a < thr;
}

/* Stage 1, large file: find the content-defined cuts (spec §9); the chunks
 * are compressed in stage 2, in parallel. For a chunk starting at start,
 * the bytes before start + min - window are skipped, the window's bytes
 * only fed, and from start + min on each byte is fed then tested; a hit at
 * byte o ends the chunk at o (o starts the next one), and no hit before
 * start + max cuts there. */
static int scan_cuts(struct worker *w, struct cvmfs_pub_content *c)
{
	const struct cvmfs_pub_opts *o = w->t->o;
	struct cvmfs_pub_node *nd = &w->t->nodes[c->node];
	uint64_t total = 0, start = 0;
	int32_t thr = (int32_t)(uint32_t)(UINT32_MAX / o->chunk_avg);
	uint32_t x = 0;
	int fd = open_same(w, nd), rc = 0;

	if (fd < 0)
		return fd;
	w->nch = 0;
	for (;;) {
		ssize_t r = read(fd, w->in, PUB_READ_BUF);
		size_t i;

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = cvmfs_pub_fail(w->t->e, -errno, "%s%s: read error: %s", o->src, nd->path,
					    strerror(errno));
			break;
		}
		if (r == 0)
			break;
		__atomic_add_fetch(&w->t->done_bytes, (uint64_t)r, __ATOMIC_RELAXED);
		i = 0;
		while (i < (size_t)r && rc == 0) {
			uint64_t rel = total + i - start;

			if (rel + CVMFS_PUB_XOR32_WINDOW < o->chunk_min) {
				/* jump to where the window starts to matter */
				uint64_t skip = o->chunk_min - CVMFS_PUB_XOR32_WINDOW - rel;

				i += skip < (size_t)r - i ? (size_t)skip : (size_t)r - i;
				continue;
			}
			if (rel < o->chunk_max) {
				x = (x << 1) ^ w->in[i];
				if (rel < o->chunk_min || !xor32_hit(x, thr)) {
					i++;
					continue;
				}
			}
			/* a hit at byte i, or no hit up to max: byte i starts the
			 * next chunk and is looked at again as its first byte */
			rc = add_cut(w, start, rel);
			start = total + i;
			x = 0;
		}
		total += (uint64_t)r;
		if (rc < 0 || total > nd->size)
			break;
	}
	if (rc == 0 && total != nd->size)
		rc = cvmfs_pub_fail(w->t->e, -EAGAIN, "%s%s: changed while being published; "
				    "publish from a tree nobody writes to (e.g. a snapshot)",
				    o->src, nd->path);
	if (rc == 0 && total > start)
		rc = add_cut(w, start, total - start);
	rc = close_same(w, nd, fd, rc);
	if (rc < 0)
		return rc;
	c->chunks = malloc(w->nch * sizeof(*c->chunks));
	if (!c->chunks)
		return -ENOMEM;
	memcpy(c->chunks, w->ch, w->nch * sizeof(*c->chunks));
	c->nchunks = (uint32_t)w->nch;
	c->pending = 1;
	return 0;
}

/* Stage 2: one chunk. A file with a single chunk is stored as a plain
 * object, as upstream does. */
static int do_chunk(struct worker *w, struct cvmfs_pub_content *c, uint32_t k)
{
	struct cvmfs_pub_node *nd = &w->t->nodes[c->node];
	struct cvmfs_pub_chunk *ch = &c->chunks[k];
	int fd = open_same(w, nd), rc;

	if (fd < 0)
		return fd;
	rc = compress_range(w, nd, fd, ch->off, ch->size, 0, &ch->h);
	if (rc == 0 && (rc = cvmfs_pub_store_put(w->s, &ch->h, c->nchunks == 1 ? CVMFS_SUFFIX_NONE :
						 CVMFS_SUFFIX_PARTIAL, w->cur.p, w->cur.len)) < 0)
		rc = store_fail(w, nd, rc);
	return close_same(w, nd, fd, rc);
}

/* Same size and mtime (to the ns) as the previous revision, and every
 * object still there: take its hashes without reading the file. */
static int try_reuse(struct worker *w, struct cvmfs_pub_content *c)
{
	struct cvmfs_pub_node *nd = &w->t->nodes[c->node];
	const struct cvmfs_pub_prev_file *pf;
	int64_t p1, p2;
	uint32_t i;

	if (w->t->o->rehash)
		return 0;
	cvmfs_md5path(nd->path, strlen(nd->path), &p1, &p2);
	pf = cvmfs_pub_prev_find(w->t, p1, p2);
	if (!pf || pf->size != nd->size || pf->mtime != nd->mtime || pf->mtimens != nd->mtimens ||
	    pf->h.algo != w->s->algo)
		return 0;
	if (pf->nchunks == 0) {
		if (!cvmfs_pub_store_has(w->s, &pf->h, CVMFS_SUFFIX_NONE))
			return 0;
		c->h = pf->h;
	} else {
		for (i = 0; i < pf->nchunks; i++)
			if (!cvmfs_pub_store_has(w->s, &pf->chunks[i].h, CVMFS_SUFFIX_PARTIAL))
				return 0;
		c->chunks = malloc(pf->nchunks * sizeof(*c->chunks));
		if (!c->chunks)
			return -ENOMEM;
		memcpy(c->chunks, pf->chunks, pf->nchunks * sizeof(*c->chunks));
		c->nchunks = pf->nchunks;
	}
	c->reused = 1;
	return 1;
}

static void *work(void *arg)
{
	struct worker *w = arg;
	struct cvmfs_pub_tree *t = w->t;
	size_t i, n = w->jobs ? w->njobs : t->nc;
	int rc;

	while (!__atomic_load_n(w->stop, __ATOMIC_RELAXED)) {
		i = __atomic_fetch_add(w->next, 1, __ATOMIC_RELAXED);
		if (i >= n)
			break;
		if (w->jobs) {
			struct cvmfs_pub_content *c = &t->contents[w->jobs[i].content];

			rc = do_chunk(w, c, w->jobs[i].chunk);
			__atomic_add_fetch(&t->done_bytes, c->chunks[w->jobs[i].chunk].size,
					   __ATOMIC_RELAXED);
		} else {
			struct cvmfs_pub_content *c = &t->contents[i];

			int large = t->nodes[c->node].size > t->o->chunk_min;

			rc = try_reuse(w, c);
			if (rc == 0)
				rc = large ? scan_cuts(w, c) : do_small(w, c);	/* scan counts its reads */
			if (!large || rc > 0)
				__atomic_add_fetch(&t->done_bytes, t->nodes[c->node].size,
						   __ATOMIC_RELAXED);
		}
		__atomic_add_fetch(&t->done_entries, 1, __ATOMIC_RELAXED);
		if (rc < 0)
			__atomic_store_n(w->stop, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static int run_stage(struct worker *w, size_t n, const struct job *jobs, size_t njobs,
		     struct cvmfs_pub_tree *t)
{
	size_t i, next = 0;
	int stop = 0;

	for (i = 0; i < n; i++) {
		w[i].next = &next;
		w[i].stop = &stop;
		w[i].jobs = jobs;
		w[i].njobs = njobs;
	}
	for (i = 0; i < n; i++)
		if (pthread_create(&w[i].th, NULL, work, &w[i]) != 0) {
			stop = 1;
			while (i-- > 0)
				pthread_join(w[i].th, NULL);
			return -EAGAIN;
		}
	for (i = 0; i < n; i++)
		pthread_join(w[i].th, NULL);
	if (stop)
		return t->e->rc ? t->e->rc : -EIO;
	return 0;
}

/* Stage 2 jobs: every chunk of every scanned large file. */
static int chunk_jobs(struct cvmfs_pub_tree *t, struct job **out, size_t *n)
{
	size_t i, k = 0, total = 0;
	uint32_t j;

	for (i = 0; i < t->nc; i++)
		if (t->contents[i].pending)
			total += t->contents[i].nchunks;
	*out = malloc((total + 1) * sizeof(**out));
	if (!*out)
		return -ENOMEM;
	for (i = 0; i < t->nc; i++)
		for (j = 0; t->contents[i].pending && j < t->contents[i].nchunks; j++)
			(*out)[k++] = (struct job){ (uint32_t)i, j };
	*n = k;
	return 0;
}

/* see internal.h */
int cvmfs_pub_content_run(struct cvmfs_pub_tree *t, struct cvmfs_pub_store *s)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	size_t n = t->o->threads ? t->o->threads : (ncpu > 0 ? (size_t)ncpu : 1), i, njobs = 0;
	struct job *jobs = NULL;
	struct worker *w;
	int rc = 0;

	if (n > 64)
		n = 64;
	w = calloc(n, sizeof(*w));
	if (!w)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		w[i].t = t;
		w[i].s = s;
		w[i].in = malloc(PUB_READ_BUF);
		if (!w[i].in || deflateInit(&w[i].z, 6) != Z_OK) {
			rc = -ENOMEM;
			goto out;
		}
		w[i].zok = 1;
	}
	cvmfs_pub_progress_phase(t, "contents", t->nc, 0);
	for (i = 0; i < t->nc; i++)
		t->total_bytes += t->nodes[t->contents[i].node].size;
	rc = run_stage(w, n, NULL, 0, t);
	if (rc == 0)
		rc = chunk_jobs(t, &jobs, &njobs);
	if (rc == 0 && njobs > 0) {
		uint64_t cb = 0;

		for (i = 0; i < njobs; i++)
			cb += t->contents[jobs[i].content].chunks[jobs[i].chunk].size;
		cvmfs_pub_progress_phase(t, "chunks", njobs, cb);
		rc = run_stage(w, n, jobs, njobs, t);
	}
	for (i = 0; rc == 0 && i < t->nc; i++) {
		struct cvmfs_pub_content *c = &t->contents[i];

		if (c->pending && c->nchunks == 1) {
			c->h = c->chunks[0].h;
			c->nchunks = 0;
		}
		c->pending = 0;
	}
out:
	for (i = 0; i < n; i++) {
		if (w[i].zok)
			deflateEnd(&w[i].z);
		free(w[i].in);
		free(w[i].cur.p);
		free(w[i].ch);
	}
	free(w);
	free(jobs);
	return rc;
}
