/* SPDX-License-Identifier: MIT */
/* cvmfs-lite/bundle.c: boot-profile bundles. `cvmboot bundle` packs the
 * objects a boot reads, in first-use order, into a few bundle objects and
 * lists them in an index file inside the repository (so the index is covered
 * by the signed catalog chain):
 *
 *   # cvmboot bundles 1
 *   bundle <hex of the bundle's bytes> <size>
 *   <object hex>[suffix] <stored length> z|-      (one line per object)
 *
 * A bundle is the objects' stored bytes back to back, itself stored as a plain
 * uncompressed object (upstream clients never reference it); its name is
 * the hash of its bytes. Here each bundle is one GET; every object in it is
 * checked against its own hash and inflated like any download
 * (cvmfs_object_put) as soon as its last byte arrives. The index only says where to cut: a wrong line costs a failed
 * check and that object is fetched on its own later, never a wrong byte.
 * A read that misses the cache for an object of a bundle still to come or
 * in flight does not fetch it again: it asks for that bundle next and waits
 * (bounded) for its piece (cvmfs_bundles_wait). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cvmfs-lite/internal.h"

#define BUNDLES_MAX 64
#define PIECES_MAX 65536
#define PIECE_MAX (64u << 20)		/* largest object in a bundle */
#define BUNDLE_MAX (256ull << 20)

struct piece {
	struct cvmfs_hash h;
	uint32_t len;
	bool compressed;
	uint8_t bundle;			/* index into b[] */
};

enum { B_PENDING, B_FLIGHT, B_ENDED };

struct bundle {
	struct cvmfs_hash h;
	uint64_t size;
	size_t first, n;		/* its pieces: p[first .. first + n) */
	/* under c->bx_lock while c->bx points here */
	int state;
	bool wanted;			/* a read waits for it: fetch it next */
	size_t done;			/* its first pieces processed (any attempt) */
};

struct key {
	struct cvmfs_hash h;
	uint32_t piece;
};

struct cvmfs_bundles {
	struct bundle b[BUNDLES_MAX];
	size_t nb;
	struct piece *p;
	size_t np, cap;
	struct key *by_hash;		/* every piece's hash, sorted */
};

struct bsink {
	struct cvmfs_client *c;
	struct bundle *b;
	const struct piece *p;		/* the bundle's pieces */
	size_t cur;			/* piece being assembled */
	unsigned char *buf;		/* its bytes so far */
	size_t have;
	size_t nput, nbad;		/* objects committed / failed, this attempt */
};

static int parse_piece(const char *tok, struct piece *pc, char *suffix)
{
	size_t n = strlen(tok);

	*suffix = 0;
	if (n && tok[n - 1] >= 'A' && tok[n - 1] <= 'Z')
		*suffix = tok[--n];
	return cvmfs_hash_parse(tok, n, &pc->h);
}

/* Parses the index text (modified in place). 0 or -EBADMSG with the line. */
static int index_parse(char *text, struct cvmfs_bundles *x, size_t *bad_line)
{
	size_t line = 0;

	for (char *sv, *l = strtok_r(text, "\n", &sv); l; l = strtok_r(NULL, "\n", &sv)) {
		char a[80], flag[4];
		unsigned long long v;
		char suffix;

		line++;
		*bad_line = line;
		if (*l == '#' || *l == 0)
			continue;
		if (sscanf(l, "bundle %79s %llu", a, &v) == 2) {
			struct bundle *b = &x->b[x->nb];

			if (x->nb == BUNDLES_MAX || v > BUNDLE_MAX ||
			    cvmfs_hash_parse(a, strlen(a), &b->h) < 0)
				return -EBADMSG;
			b->size = v;
			b->first = x->np;
			b->n = 0;
			x->nb++;
			continue;
		}
		if (x->nb == 0 || sscanf(l, "%79s %llu %3s", a, &v, flag) != 3 || v == 0 ||
		    v > PIECE_MAX || x->np == PIECES_MAX || (strcmp(flag, "z") && strcmp(flag, "-")))
			return -EBADMSG;
		if (x->np == x->cap) {
			size_t nc = x->cap ? x->cap * 2 : 256;
			struct piece *np = realloc(x->p, nc * sizeof(*np));

			if (!np)
				return -ENOMEM;
			x->p = np;
			x->cap = nc;
		}
		if (parse_piece(a, &x->p[x->np], &suffix) < 0)
			return -EBADMSG;
		x->p[x->np].len = (uint32_t)v;
		x->p[x->np].compressed = flag[0] == 'z';
		x->p[x->np].bundle = (uint8_t)(x->nb - 1);
		x->np++;
		x->b[x->nb - 1].n++;
	}
	for (size_t i = 0; i < x->nb; i++) {
		uint64_t sum = 0;

		for (size_t j = 0; j < x->b[i].n; j++)
			sum += x->p[x->b[i].first + j].len;
		if (sum != x->b[i].size) {
			*bad_line = 0;
			return -EBADMSG;	/* pieces do not add up to the bundle */
		}
	}
	return 0;
}

static int bs_reset(void *arg)
{
	struct bsink *s = arg;

	s->cur = s->have = s->nput = s->nbad = 0;
	return 0;
}

static int bs_data(void *arg, const void *buf, size_t len)
{
	struct bsink *s = arg;
	const unsigned char *p = buf;

	if (s->c->stopping)
		return -ECANCELED;
	while (len) {
		const struct piece *pc;
		size_t take;

		if (s->cur == s->b->n)
			return -EBADMSG;	/* more bytes than the index says */
		pc = &s->p[s->cur];
		take = pc->len - s->have < len ? pc->len - s->have : len;
		memcpy(s->buf + s->have, p, take);
		s->have += take;
		p += take;
		len -= take;
		if (s->have < pc->len)
			break;
		if (cvmfs_object_put(s->c, &pc->h, pc->compressed, s->buf, pc->len) < 0) {
			char hex[CVMFS_HASH_HEX_MAX];

			cvmfs_hash_fmt(&pc->h, hex, sizeof(hex));
			cvmfs_log(s->c, "bundle: object %s failed its check; it is fetched on its own",
				  hex);
			s->nbad++;
		} else {
			s->nput++;
		}
		s->cur++;
		s->have = 0;
		pthread_mutex_lock(&s->c->bx_lock);
		if (s->cur > s->b->done) {	/* a waiting read may look now */
			s->b->done = s->cur;
			pthread_cond_broadcast(&s->c->bx_cond);
		}
		pthread_mutex_unlock(&s->c->bx_lock);
	}
	return 0;
}

static int bs_finish(void *arg)
{
	struct bsink *s = arg;

	/* Every object was checked on its own: a bundle is not hashed again as
	 * a whole. A short one, or one with a bad object, is tried at the next
	 * source (its good objects are committed and are not fetched again). */
	return s->cur == s->b->n && s->nbad == 0 ? 0 : -EBADMSG;
}

/* 1 if every object of b is in the cache already (a warm boot): no GET. */
static int all_cached(struct cvmfs_client *c, const struct piece *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int fd = cvmfs_cache_open(&c->cache, &p[i].h, !p[i].compressed, CVMFS_SIZE_UNKNOWN);

		if (fd < 0)
			return 0;
		close(fd);
	}
	return 1;
}

static int one_bundle(struct cvmfs_client *c, const struct cvmfs_bundles *x, struct bundle *b,
		      size_t *nput, size_t *nbad)
{
	char rel[CVMFS_OBJ_PATH_MAX];
	struct bsink s = { .c = c, .b = b, .p = x->p + b->first };
	/* the bundle's size bounds the download's time (per-object deadline) */
	struct cvmfs_sink sink = { bs_reset, bs_data, bs_finish, &s, .size_hint = b->size };
	uint32_t maxlen = 0;
	int rc;

	for (size_t i = 0; i < b->n; i++)
		if (s.p[i].len > maxlen)
			maxlen = s.p[i].len;
	if (all_cached(c, s.p, b->n)) {
		*nput += b->n;
		return 1;
	}
	if (cvmfs_hash_objpath(&b->h, CVMFS_SUFFIX_NONE, rel, sizeof(rel)) < 0)
		return -EINVAL;
	if (!(s.buf = malloc(maxlen ? maxlen : 1)))
		return -ENOMEM;
	rc = c->fetcher.get(c->fetcher.arg, rel, &sink);
	free(s.buf);
	*nput += s.nput;
	*nbad += s.nbad;
	return rc;
}

static int hash_cmp(const struct cvmfs_hash *a, const struct cvmfs_hash *b)
{
	if (a->algo != b->algo)
		return a->algo < b->algo ? -1 : 1;
	return memcmp(a->d, b->d, cvmfs_hash_len(a->algo));
}

static int key_cmp(const void *a, const void *b)
{
	return hash_cmp(&((const struct key *)a)->h, &((const struct key *)b)->h);
}

/* The piece that is h, or -1. */
static long find_piece(const struct cvmfs_bundles *x, const struct cvmfs_hash *h)
{
	size_t lo = 0, hi = x->np;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int d = hash_cmp(h, &x->by_hash[mid].h);

		if (d == 0)
			return x->by_hash[mid].piece;
		if (d < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -1;
}

/* see internal.h */
bool cvmfs_bundles_wait(struct cvmfs_client *c, const struct cvmfs_hash *h)
{
	uint64_t t0 = 0, bound = 0;
	bool waited = false;
	long pi;

	pthread_mutex_lock(&c->bx_lock);
	for (;;) {
		struct cvmfs_bundles *x = c->bx;
		struct bundle *b;
		struct timespec ts;
		uint64_t now, dl;

		if (!x || (pi = find_piece(x, h)) < 0)
			break;		/* not in a bundle (any more) */
		b = &x->b[x->p[pi].bundle];
		if (b->state == B_ENDED || b->done > (size_t)pi - b->first)
			break;		/* its piece was processed: look in the cache */
		now = net_now_ms();
		if (!waited) {
			t0 = now;
			bound = cvmfs_fetch_deadline_ms(&c->fetch, x->p[pi].len);
			waited = true;
		}
		if (b->state == B_PENDING)
			b->wanted = true;
		if (c->stopping || now - t0 >= bound) {
			char hex[CVMFS_HASH_HEX_MAX];

			cvmfs_hash_fmt(h, hex, sizeof(hex));
			cvmfs_log(c, "bundles: %s not there after %llu ms: fetched on its own", hex,
				  (unsigned long long)(now - t0));
			break;
		}
		dl = t0 + bound - now;
		clock_gettime(CLOCK_MONOTONIC, &ts);	/* bx_cond's clock (client.c) */
		ts.tv_sec += (time_t)(dl / 1000);
		ts.tv_nsec += (long)(dl % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&c->bx_cond, &c->bx_lock, &ts);
	}
	pthread_mutex_unlock(&c->bx_lock);
	return waited;
}

/* The bundle to fetch next: one a read waits for, else the first still to
 * come (in first-use order). -1 when none is left. Marks it in flight. */
static long next_bundle(struct cvmfs_client *c, struct cvmfs_bundles *x, size_t *nwanted)
{
	long pick = -1;

	pthread_mutex_lock(&c->bx_lock);
	for (size_t i = 0; i < x->nb; i++) {
		if (x->b[i].state != B_PENDING)
			continue;
		if (x->b[i].wanted) {
			if (pick >= 0 && !x->b[pick].wanted)
				++*nwanted;	/* fetched ahead of its turn */
			pick = (long)i;
			break;
		}
		if (pick < 0)
			pick = (long)i;
	}
	if (pick >= 0)
		x->b[pick].state = B_FLIGHT;
	pthread_mutex_unlock(&c->bx_lock);
	return pick;
}

static void bundle_ended(struct cvmfs_client *c, struct bundle *b)
{
	pthread_mutex_lock(&c->bx_lock);
	b->state = B_ENDED;
	pthread_cond_broadcast(&c->bx_cond);
	pthread_mutex_unlock(&c->bx_lock);
}

/* see internal.h */
bool cvmfs_bundles_run(struct cvmfs_client *c)
{
	struct cvmfs_bundles *x = calloc(1, sizeof(*x));
	char *text = NULL;
	size_t line = 0, nput = 0, nbad = 0, nfail = 0, ncached = 0, nahead = 0;
	uint64_t bytes = 0, t0 = net_now_ms();
	bool all = false;
	long i;
	int rc;

	if (!x)
		return false;
	if ((rc = cvmfs_list_load(c, c->cfg.bundle_file, NULL, &text)) < 0) {
		cvmfs_log(c, "bundles %s: %s", c->cfg.bundle_file,
			  rc == -ENOENT ? "none in this repository" : strerror(-rc));
		goto out;
	}
	if ((rc = index_parse(text, x, &line)) == 0 &&
	    !(x->by_hash = malloc((x->np ? x->np : 1) * sizeof(*x->by_hash))))
		rc = -ENOMEM;
	if (rc < 0) {
		cvmfs_log(c, "bundles %s: %s at line %zu; objects are fetched one by one",
			  c->cfg.bundle_file, rc == -ENOMEM ? "out of memory" : "bad index", line);
		goto out;
	}
	for (size_t k = 0; k < x->np; k++)
		x->by_hash[k] = (struct key){ x->p[k].h, (uint32_t)k };
	qsort(x->by_hash, x->np, sizeof(*x->by_hash), key_cmp);
	pthread_mutex_lock(&c->bx_lock);
	c->bx = x;		/* from here on a read of a listed object waits for it */
	pthread_mutex_unlock(&c->bx_lock);
	cvmfs_log(c, "bundle index: %zu bundles, %zu objects", x->nb, x->np);
	while (!c->stopping && (i = next_bundle(c, x, &nahead)) >= 0) {
		if ((rc = one_bundle(c, x, &x->b[i], &nput, &nbad)) == 1) {
			ncached++;
		} else if (rc < 0) {
			char hex[CVMFS_HASH_HEX_MAX];

			cvmfs_hash_fmt(&x->b[i].h, hex, sizeof(hex));
			cvmfs_log(c, "bundle %s: %s", hex, strerror(-rc));
			nfail++;
		} else {
			bytes += x->b[i].size;
		}
		bundle_ended(c, &x->b[i]);
	}
	pthread_mutex_lock(&c->bx_lock);
	c->bx = NULL;		/* waiting reads fetch on their own */
	pthread_cond_broadcast(&c->bx_cond);
	pthread_mutex_unlock(&c->bx_lock);
	cvmfs_log(c, "bundles: %zu bundles (%zu failed, %zu cached), %zu objects, %zu bad, "
		  "%llu bytes, %llu ms; %zu fetched ahead of their turn for a read", x->nb, nfail,
		  ncached, nput, nbad, (unsigned long long)bytes,
		  (unsigned long long)(net_now_ms() - t0), nahead);
	all = x->nb > 0 && ncached == x->nb && !c->stopping;
out:
	free(text);
	free(x->by_hash);
	free(x->p);
	free(x);
	return all;
}
