/* SPDX-License-Identifier: MIT */
/* cvmfs-lite/pin.c: pinning a path list (/.ucernvm_pinfiles format) and the
 * boot-profile prefetch with parallel downloads, in a background thread. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cvmfs-lite/internal.h"

#define LIST_MAX (4 << 20)

struct job {
	struct cvmfs_client *c;
	char **paths;
	size_t n;
	size_t next;			/* atomically advanced */
	bool pin;
	size_t nok, nfail;
	uint64_t bytes;
};

/* see internal.h */
int cvmfs_list_load(struct cvmfs_client *c, const char *file, const char *text, char **out)
{
	struct cvmfs_dirent *d;
	struct cvmfs_catalog *cat;
	char *path;
	int rc, fd = -1;

	if (text) {
		*out = strdup(text);
		return *out ? 0 : -ENOMEM;
	}
	d = malloc(sizeof(*d));
	path = malloc(PATH_MAX);
	if (!d || !path) {
		rc = -ENOMEM;
		goto out;
	}
	snprintf(path, PATH_MAX, "%s%s", c->cfg.path_prefix ? c->cfg.path_prefix : "", file);
	if ((rc = cvmfs_resolve(c, path, true, d, &cat)) < 0)
		goto out;
	cvmfs_dirent_fini(d);
	if (!S_ISREG(d->mode) || d->size > LIST_MAX || (d->flags & CVMFS_FLAG_CHUNKED) ||
	    (d->size && !d->has_hash)) {
		rc = -EINVAL;
		goto out;
	}
	*out = calloc(1, d->size + 1);
	if (!*out) {
		rc = -ENOMEM;
		goto out;
	}
	if (d->size && (rc = cvmfs_object_get(c, &d->hash, CVMFS_SUFFIX_NONE,
					      CVMFS_FLAG_COMP(d->flags) == CVMFS_COMP_ZLIB, d->size, 0,
					      &fd)) == 0 &&
	    pread(fd, *out, d->size, 0) != (ssize_t)d->size)
		rc = -EIO;
	if (rc < 0) {
		free(*out);
		*out = NULL;
	}
out:
	if (fd >= 0)
		close(fd);
	free(d);
	free(path);
	return rc;
}

static int split(struct cvmfs_client *c, char *text, struct job *j)
{
	size_t cap = 0;

	for (char *sv, *line = strtok_r(text, "\n", &sv); line; line = strtok_r(NULL, "\n", &sv)) {
		char *p = line, *e;

		while (*p == ' ' || *p == '\t')
			p++;
		e = p + strlen(p);
		while (e > p && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
			*--e = 0;
		if (!*p || *p == '#')
			continue;
		if (j->n == cap) {
			char **nv = realloc(j->paths, (cap = cap ? cap * 2 : 64) * sizeof(char *));

			if (!nv)
				return -ENOMEM;
			j->paths = nv;
		}
		if (asprintf(&j->paths[j->n], "%s%s%s", c->cfg.path_prefix ? c->cfg.path_prefix : "",
			     *p == '/' ? "" : "/", p) < 0)
			return -ENOMEM;
		j->n++;
	}
	return 0;
}

/* Fetches (and pins) every object of one path. */
static int one(struct job *j, const char *path)
{
	struct cvmfs_client *c = j->c;
	struct cvmfs_dirent *d = malloc(sizeof(*d));
	struct cvmfs_catalog *cat;
	struct cvmfs_chunk *ch = NULL;
	size_t n = 0;
	int rc, fd;

	if (!d)
		return -ENOMEM;
	if ((rc = cvmfs_resolve(c, path, true, d, &cat)) < 0)
		goto out;
	cvmfs_dirent_fini(d);
	if (!S_ISREG(d->mode) || d->size == 0)
		goto out;	/* directories and specials: their catalog is loaded and pinned */
	if (d->flags & CVMFS_FLAG_CHUNKED) {
		if ((rc = cvmfs_catalog_chunks(cat, path, CVMFS_FLAG_ALGO(d->flags), &ch, &n)) < 0)
			goto out;
	}
	for (size_t i = 0; i < (ch ? n : 1) && !c->stopping; i++) {
		const struct cvmfs_hash *h = ch ? &ch[i].hash : &d->hash;
		bool comp = CVMFS_FLAG_COMP(d->flags) == CVMFS_COMP_ZLIB;

		if (!ch && !d->has_hash)
			break;
		if (j->pin)
			cvmfs_cache_pin(&c->cache, h, !comp, 1);	/* before: never evicted on arrival */
		rc = cvmfs_object_get(c, h, ch ? CVMFS_SUFFIX_PARTIAL : CVMFS_SUFFIX_NONE, comp,
				      ch ? ch[i].size : d->size, 0, &fd);
		if (rc < 0)
			break;
		close(fd);
		__atomic_add_fetch(&j->bytes, ch ? ch[i].size : d->size, __ATOMIC_RELAXED);
	}
out:
	free(ch);
	free(d);
	return rc;
}

static void *worker(void *arg)
{
	struct job *j = arg;

	while (!j->c->stopping) {
		size_t i = __atomic_fetch_add(&j->next, 1, __ATOMIC_RELAXED);

		if (i >= j->n)
			break;
		if (one(j, j->paths[i]) < 0) {
			__atomic_add_fetch(&j->nfail, 1, __ATOMIC_RELAXED);
			cvmfs_log(j->c, "%s %s: not available", j->pin ? "pin" : "prefetch", j->paths[i]);
		} else {
			__atomic_add_fetch(&j->nok, 1, __ATOMIC_RELAXED);
		}
	}
	return NULL;
}

static void run(struct cvmfs_client *c, const char *file, const char *text, bool pin,
		unsigned conns)
{
	struct job j = { .c = c, .pin = pin };
	pthread_t tid[16];
	pthread_attr_t attr;
	unsigned nt = 0;
	char *list = NULL;
	uint64_t t0 = net_now_ms();
	int rc = cvmfs_list_load(c, file, text, &list);

	if (rc < 0) {
		cvmfs_log(c, "%s list %s: %s", pin ? "pin" : "prefetch", file ? file : "(text)",
			  strerror(-rc));
		return;
	}
	if ((rc = split(c, list, &j)) == 0) {
		pthread_attr_init(&attr);
		pthread_attr_setstacksize(&attr, 512 * 1024);
		for (nt = 0; nt < conns && nt < 16; nt++)
			if (pthread_create(&tid[nt], &attr, worker, &j) != 0)
				break;
		pthread_attr_destroy(&attr);
		if (nt == 0)
			worker(&j);
		for (unsigned i = 0; i < nt; i++)
			pthread_join(tid[i], NULL);
		if (pin)
			cvmfs_cache_pins_save(&c->cache);
		cvmfs_log(c, "%s: %zu paths, %zu ok, %zu unavailable, %llu bytes, %llu ms",
			  pin ? "pinned" : "prefetched", j.n, j.nok, j.nfail,
			  (unsigned long long)j.bytes, (unsigned long long)(net_now_ms() - t0));
	}
	for (size_t i = 0; i < j.n; i++)
		free(j.paths[i]);
	free(j.paths);
	free(list);
}

/* see internal.h */
void *cvmfs_background(void *arg)
{
	struct cvmfs_client *c = arg;
	unsigned conns = c->cfg.prefetch_conns ? c->cfg.prefetch_conns : 4;

	/* The boot profile first: it is what the boot reads next. Its bundles
	 * bring most of it in a few requests; the prefetch then finds it cached. */
	bool cached = c->cfg.bundle_file && cvmfs_bundles_run(c);

	/* Every bundle found in the cache: this is a warm boot, the profile's
	 * objects are there too (the bundles hold them); walking it again
	 * would only take the CPU from the boot. */
	if (cached && (c->cfg.prefetch_file || c->cfg.prefetch_text))
		cvmfs_log(c, "prefetch: skipped, every bundle was in the cache");
	else if (c->cfg.prefetch_file || c->cfg.prefetch_text)
		run(c, c->cfg.prefetch_file, c->cfg.prefetch_text, false, conns);
	if ((c->cfg.pin_file || c->cfg.pin_text) && !c->stopping)
		run(c, c->cfg.pin_file, c->cfg.pin_text, true, 2);
	return NULL;
}
