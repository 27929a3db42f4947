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
 * check and that object is fetched on its own later, never a wrong byte. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
};

struct bundle {
	struct cvmfs_hash h;
	uint64_t size;
	size_t first, n;		/* its pieces: p[first .. first + n) */
};

struct index {
	struct bundle b[BUNDLES_MAX];
	size_t nb;
	struct piece *p;
	size_t np, cap;
};

struct bsink {
	struct cvmfs_client *c;
	const struct bundle *b;
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
static int index_parse(char *text, struct index *x, size_t *bad_line)
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

static int one_bundle(struct cvmfs_client *c, const struct index *x, const struct bundle *b,
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

/* see internal.h */
void cvmfs_bundles_run(struct cvmfs_client *c)
{
	struct index *x = calloc(1, sizeof(*x));
	char *text = NULL;
	size_t line = 0, nput = 0, nbad = 0, nfail = 0, ncached = 0;
	uint64_t bytes = 0, t0 = net_now_ms();
	int rc;

	if (!x)
		return;
	if ((rc = cvmfs_list_load(c, c->cfg.bundle_file, NULL, &text)) < 0) {
		cvmfs_log(c, "bundles %s: %s", c->cfg.bundle_file,
			  rc == -ENOENT ? "none in this repository" : strerror(-rc));
		goto out;
	}
	if ((rc = index_parse(text, x, &line)) < 0) {
		cvmfs_log(c, "bundles %s: %s at line %zu; objects are fetched one by one",
			  c->cfg.bundle_file, rc == -ENOMEM ? "out of memory" : "bad index", line);
		goto out;
	}
	for (size_t i = 0; i < x->nb && !c->stopping; i++) {
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
	}
	cvmfs_log(c, "bundles: %zu bundles (%zu failed, %zu cached), %zu objects, %zu bad, "
		  "%llu bytes, %llu ms", x->nb, nfail, ncached, nput, nbad, (unsigned long long)bytes,
		  (unsigned long long)(net_now_ms() - t0));
out:
	free(text);
	free(x->p);
	free(x);
}
