/* SPDX-License-Identifier: MIT */
/* cvmfs-pub/gc.c: `cvmboot gc`: removes the objects no kept revision needs.
 *
 * Kept: the manifest's revision and its certificate, history and meta-info;
 * every tag of the history (named, generic-*, trunk, trunk-previous); the
 * newest --keep-revisions revisions along the root catalogs' previous_revision
 * chain. Reachable from a kept root catalog: its nested catalogs, every file
 * object and chunk, and the bundles listed by /.cvmboot_bundles files. Every
 * object under data/ that is none of these and older than --safety-margin
 * (mtime; for clients that still read an older manifest, and for anything
 * written meanwhile) goes. If a kept catalog cannot be read, nothing goes.
 * Without --dry-run the reflog drops what went and the manifest (Y, T) is
 * re-signed before the first object is removed. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cvmfs-pub/internal.h"
#include "sqlite3.h"

struct key {
	unsigned char d[CVMFS_HASH_MAX];
	char suffix;
	char used;
};

struct set {
	struct key *v;
	size_t cap, n;
};

static size_t slot(const struct set *s, const unsigned char *d, char suffix)
{
	uint64_t x;
	size_t i;

	memcpy(&x, d, sizeof(x));
	for (i = (size_t)(x ^ (uint64_t)(unsigned char)suffix) & (s->cap - 1);;
	     i = (i + 1) & (s->cap - 1))
		if (!s->v[i].used || (s->v[i].suffix == suffix &&
				      memcmp(s->v[i].d, d, CVMFS_HASH_MAX) == 0))
			return i;
}

/* Adds (h, suffix); returns 1 if new, 0 if there, -ENOMEM. */
static int set_add(struct set *s, const struct cvmfs_hash *h, char suffix)
{
	unsigned char d[CVMFS_HASH_MAX] = { 0 };
	size_t i;

	memcpy(d, h->d, cvmfs_hash_len(h->algo));
	if ((s->n + 1) * 2 > s->cap) {
		struct set g = { calloc(s->cap ? s->cap * 2 : 1024, sizeof(struct key)),
				 s->cap ? s->cap * 2 : 1024, 0 };

		if (!g.v)
			return -ENOMEM;
		for (i = 0; i < s->cap; i++)
			if (s->v[i].used) {
				g.v[slot(&g, s->v[i].d, s->v[i].suffix)] = s->v[i];
				g.n++;
			}
		free(s->v);
		*s = g;
	}
	i = slot(s, d, suffix);
	if (s->v[i].used)
		return 0;
	memcpy(s->v[i].d, d, CVMFS_HASH_MAX);
	s->v[i].suffix = suffix;
	s->v[i].used = 1;
	s->n++;
	return 1;
}

static int set_has(const struct set *s, const struct cvmfs_hash *h, char suffix)
{
	unsigned char d[CVMFS_HASH_MAX] = { 0 };

	if (!s->cap)
		return 0;
	memcpy(d, h->d, cvmfs_hash_len(h->algo));
	return s->v[slot(s, d, suffix)].used;
}

struct gc {
	struct cvmfs_pub_store *s;
	struct cvmfs_pub_err *e;
	const char *repo;
	struct set live;		/* reachable objects */
	struct cvmfs_hash *stack;	/* catalogs to visit */
	size_t nstack, capstack;
	uint64_t catalogs;
};

static int push(struct gc *g, const struct cvmfs_hash *h)
{
	int rc = set_add(&g->live, h, CVMFS_SUFFIX_CATALOG);

	if (rc <= 0)
		return rc;
	if (g->nstack == g->capstack) {
		size_t n = g->capstack ? g->capstack * 2 : 64;
		struct cvmfs_hash *v = realloc(g->stack, n * sizeof(*v));

		if (!v)
			return -ENOMEM;
		g->stack = v;
		g->capstack = n;
	}
	g->stack[g->nstack++] = *h;
	return 0;
}

/* Marks the bundles listed in an index file (bulk object hash). */
static int mark_bundles(struct gc *g, const struct cvmfs_hash *h)
{
	unsigned char *buf;
	size_t len;
	char *line, *save = NULL;
	int rc = cvmfs_pub_store_get(g->s, h, CVMFS_SUFFIX_NONE, 16u << 20, &buf, &len);

	if (rc < 0)
		return cvmfs_pub_fail(g->e, rc, "a bundle index (.cvmboot_bundles) is unreadable: %s; "
				      "nothing was removed", strerror(-rc));
	for (line = strtok_r((char *)buf, "\n", &save); line && rc >= 0;
	     line = strtok_r(NULL, "\n", &save)) {
		char hex[CVMFS_HASH_HEX_MAX + 1];
		struct cvmfs_hash b;

		if (sscanf(line, "bundle %80s", hex) == 1 &&
		    cvmfs_hash_parse(hex, strlen(hex), &b) == 0)
			rc = set_add(&g->live, &b, CVMFS_SUFFIX_NONE);
	}
	free(buf);
	return rc < 0 ? rc : 0;
}

/* Marks everything catalog h references; pushes its nested catalogs. */
static int visit(struct gc *g, const struct cvmfs_hash *h)
{
	char tmp[256], hex[CVMFS_HASH_HEX_MAX];
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	struct cvmfs_hash x;
	int rc;

	cvmfs_hash_fmt(h, hex, sizeof(hex));
	rc = cvmfs_pub_object_to_tmp(g->s, h, CVMFS_SUFFIX_CATALOG, tmp, sizeof(tmp), NULL);
	if (rc < 0)
		return cvmfs_pub_fail(g->e, rc, "catalog %s of a kept revision is unreadable: %s; "
				      "nothing was removed", hex, strerror(-rc));
	g->catalogs++;
	rc = -EIO;
	if (sqlite3_open_v2(tmp, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		goto out;
	/* file contents (bulk); bundle indexes */
	if (sqlite3_prepare_v2(db, "SELECT hash, flags, name FROM catalog WHERE hash IS NOT NULL",
			       -1, &st, NULL) != SQLITE_OK)
		goto out;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int n = sqlite3_column_bytes(st, 0);
		int64_t flags = sqlite3_column_int64(st, 1);
		const char *name = (const char *)sqlite3_column_text(st, 2);

		x.algo = (enum cvmfs_hash_algo)CVMFS_FLAG_ALGO(flags);
		if (n != (int)cvmfs_hash_len(x.algo))
			continue;
		memcpy(x.d, sqlite3_column_blob(st, 0), (size_t)n);
		if (set_add(&g->live, &x, CVMFS_SUFFIX_NONE) < 0 ||
		    (name && strcmp(name, ".cvmboot_bundles") == 0 && mark_bundles(g, &x) < 0)) {
			rc = -ENOMEM;
			break;
		}
	}
	sqlite3_finalize(st);
	st = NULL;
	if (rc != SQLITE_DONE)
		goto out;
	/* chunks */
	if (sqlite3_prepare_v2(db, "SELECT hash FROM chunks", -1, &st, NULL) != SQLITE_OK)
		goto out;
	x.algo = h->algo;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (sqlite3_column_bytes(st, 0) != (int)cvmfs_hash_len(x.algo))
			continue;
		memcpy(x.d, sqlite3_column_blob(st, 0), cvmfs_hash_len(x.algo));
		if (set_add(&g->live, &x, CVMFS_SUFFIX_PARTIAL) < 0)
			break;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (rc != SQLITE_DONE)
		goto out;
	/* nested catalogs */
	if (sqlite3_prepare_v2(db, "SELECT sha1 FROM nested_catalogs", -1, &st, NULL) != SQLITE_OK)
		goto out;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *s = (const char *)sqlite3_column_text(st, 0);

		if (!s || cvmfs_hash_parse(s, strlen(s), &x) < 0 || push(g, &x) < 0)
			break;
	}
	if (rc == SQLITE_DONE)
		rc = 0;
out:
	if (rc > 0)
		rc = -EIO;	/* an SQLite step stopped early */
	sqlite3_finalize(st);
	if (db)
		sqlite3_close(db);
	unlink(tmp);
	if (rc < 0)
		cvmfs_pub_fail(g->e, rc, "catalog %s of a kept revision is not readable SQLite; "
			       "nothing was removed", hex);
	return rc < 0 ? rc : 0;
}

/* The previous_revision property of root catalog h (0 found, else -ENOENT). */
static int previous_of(struct gc *g, const struct cvmfs_hash *h, struct cvmfs_hash *out)
{
	char tmp[256];
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int rc = -ENOENT;

	if (cvmfs_pub_object_to_tmp(g->s, h, CVMFS_SUFFIX_CATALOG, tmp, sizeof(tmp), NULL) < 0)
		return -ENOENT;
	if (sqlite3_open_v2(tmp, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, "SELECT value FROM properties WHERE key = 'previous_revision'",
			       -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
		const char *v = (const char *)sqlite3_column_text(st, 0);

		if (v && cvmfs_hash_parse(v, strlen(v), out) == 0)
			rc = 0;
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	unlink(tmp);
	return rc;
}

/* Root catalogs of every tag in the history object. */
static int push_tags(struct gc *g, const struct cvmfs_hash *hist, unsigned *ntags)
{
	char tmp[256];
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	struct cvmfs_hash x;
	int rc = -EIO;

	if ((rc = cvmfs_pub_history_open(g->s, hist, tmp, sizeof(tmp))) < 0)
		return cvmfs_pub_fail(g->e, rc, "the history database is unreadable (%s): the tags "
				      "are unknown, so nothing was removed", strerror(-rc));
	rc = -EIO;
	if (sqlite3_open_v2(tmp, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, "SELECT hash FROM tags", -1, &st, NULL) == SQLITE_OK) {
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			const char *s = (const char *)sqlite3_column_text(st, 0);

			if (!s || cvmfs_hash_parse(s, strlen(s), &x) < 0 || push(g, &x) < 0)
				break;
			(*ntags)++;
		}
		rc = rc == SQLITE_DONE ? 0 : -EIO;
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	unlink(tmp);
	if (rc < 0)
		cvmfs_pub_fail(g->e, rc, "the history database has an unreadable tag; nothing was "
			       "removed");
	return rc;
}

struct victim {
	char rel[CVMFS_OBJ_PATH_MAX];
	uint64_t bytes;
	struct cvmfs_hash h;
	char suffix;
};

struct gc_opts {
	const char *repo, *keydir;
	unsigned keep_revisions;
	long long margin;
	int dry_run, quiet;
};

/* Object file name data/xx/<rest> -> hash and suffix; -EINVAL if none. */
static int parse_obj(const char *xx, const char *name, struct cvmfs_hash *h, char *suffix)
{
	char hex[CVMFS_HASH_HEX_MAX + 4];
	size_t n = strlen(name);

	if (n + 2 >= sizeof(hex))
		return -EINVAL;
	*suffix = 0;
	if (n && name[n - 1] >= 'A' && name[n - 1] <= 'Z')
		*suffix = name[--n];
	memcpy(hex, xx, 2);
	memcpy(hex + 2, name, n);
	return cvmfs_hash_parse(hex, n + 2, h);
}

static int scan(struct gc *g, const struct gc_opts *o, struct victim **out, size_t *nout,
		uint64_t *kept, uint64_t *young)
{
	time_t cut = time(NULL) - o->margin;
	size_t cap = 0;
	int i;

	*out = NULL;
	*nout = 0;
	for (i = 0; i < 256; i++) {
		char xx[3];
		int fd;
		DIR *d;
		struct dirent *de;

		snprintf(xx, sizeof(xx), "%02x", i);
		fd = openat(g->s->datafd, xx, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (!(d = fdopendir(fd))) {
			close(fd);
			continue;
		}
		while ((de = readdir(d))) {
			struct cvmfs_hash h;
			struct stat st;
			char suffix;

			if (de->d_name[0] == '.' || parse_obj(xx, de->d_name, &h, &suffix) < 0)
				continue;
			if (set_has(&g->live, &h, suffix)) {
				(*kept)++;
				continue;
			}
			if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
			    !S_ISREG(st.st_mode))
				continue;
			if (st.st_mtime > cut) {
				(*young)++;
				continue;
			}
			if (*nout == cap) {
				struct victim *v = realloc(*out, (cap = cap ? cap * 2 : 256) *
							   sizeof(*v));

				if (!v) {
					closedir(d);
					return -ENOMEM;
				}
				*out = v;
			}
			snprintf((*out)[*nout].rel, sizeof((*out)[*nout].rel), "%s/%s", xx,
				 de->d_name);
			(*out)[*nout].bytes = (uint64_t)st.st_size;
			(*out)[*nout].h = h;
			(*out)[*nout].suffix = suffix;
			(*nout)++;
		}
		closedir(d);
	}
	return 0;
}

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int ref_type(char suffix)
{
	switch (suffix) {
	case CVMFS_SUFFIX_CATALOG: return CVMFS_PUB_REF_CATALOG;
	case CVMFS_SUFFIX_CERT: return CVMFS_PUB_REF_CERT;
	case CVMFS_SUFFIX_HISTORY: return CVMFS_PUB_REF_HISTORY;
	case CVMFS_SUFFIX_META: return CVMFS_PUB_REF_META;
	default: return -1;
	}
}

static int gc_run(const struct gc_opts *o, struct cvmfs_pub_err *e)
{
	struct cvmfs_pub_store s = { .repofd = -1, .datafd = -1, .tmpfd = -1 };
	struct cvmfs_pub_signer k;
	struct cvmfs_pub_rng rng;
	struct cvmfs_manifest m, nm;
	struct gc g = { .s = &s, .e = e, .repo = o->repo };
	struct victim *v = NULL;
	struct cvmfs_pub_ref *drop = NULL, add[4];
	unsigned char *raw = NULL, *reflog = NULL;
	char path[4096], fqrn[CVMFS_FQRN_MAX];
	size_t len, nv = 0, ndrop = 0, i, reflog_len = 0;
	uint64_t kept = 0, young = 0, bytes = 0, removed = 0, gone_bytes = 0;
	unsigned ntags = 0, nrev = 0;
	struct cvmfs_hash cur;
	double t0 = mono();
	int rc, have_rng = 0, have_keys = 0;

	memset(&k, 0, sizeof(k));
	cvmfs_cert_init(&k.cert);
	snprintf(path, sizeof(path), "%s/.cvmfspublished", o->repo);
	rc = cvmfs_pub_read_file(AT_FDCWD, path, CVMFS_MANIFEST_MAX, &raw, &len);
	if (rc < 0 || cvmfs_manifest_parse(raw, len, &m, NULL) < 0 || !(m.have & CVMFS_MF_N)) {
		rc = cvmfs_pub_fail(e, rc < 0 ? rc : -EBADMSG, "%s: no readable manifest; is %s a "
				    "repository?", path, o->repo);
		goto out;
	}
	snprintf(fqrn, sizeof(fqrn), "%s", m.fqrn);
	free(raw);
	raw = NULL;
	if (o->keydir) {
		if ((rc = cvmfs_pub_signer_load(&k, o->keydir, fqrn, 0, e)) < 0)
			goto out;
		have_keys = 1;
		if ((rc = cvmfs_pub_rng_init(&rng)) < 0) {
			cvmfs_pub_fail(e, rc, "cannot seed the random generator");
			goto out;
		}
		have_rng = 1;
	}
	if ((rc = cvmfs_pub_store_open(&s, o->repo, m.root.algo, e)) < 0)
		goto out;
	if (flock(s.repofd, LOCK_EX | LOCK_NB) < 0) {
		rc = cvmfs_pub_fail(e, -EBUSY, "%s: a publish or tag edit is running; run gc after it",
				    o->repo);
		goto out;
	}
	if (!o->dry_run)
		cvmfs_pub_store_sweep(&s);	/* temporary files of a killed publish */
	/* Re-read under the lock (checked with the certificate when we have it). */
	if (have_keys) {
		rc = cvmfs_pub_manifest_load(o->repo, fqrn, &k.cert, &raw, &m, e);
		if (rc <= 0) {
			rc = rc ? rc : cvmfs_pub_fail(e, -ENOENT, "%s vanished", path);
			goto out;
		}
	} else {
		rc = cvmfs_pub_read_file(AT_FDCWD, path, CVMFS_MANIFEST_MAX, &raw, &len);
		if (rc < 0 || cvmfs_manifest_parse(raw, len, &m, NULL) < 0) {
			rc = cvmfs_pub_fail(e, -EBADMSG, "%s changed meanwhile; run gc again", path);
			goto out;
		}
	}
	/* what is kept */
	for (i = 0; i < 3; i++) {
		static const unsigned need[3] = { CVMFS_MF_X, CVMFS_MF_H, CVMFS_MF_M };
		static const char suf[3] = { CVMFS_SUFFIX_CERT, CVMFS_SUFFIX_HISTORY,
					     CVMFS_SUFFIX_META };
		const struct cvmfs_hash *h[3] = { &m.cert, &m.history, &m.meta };

		if ((m.have & need[i]) && set_add(&g.live, h[i], suf[i]) < 0) {
			rc = -ENOMEM;
			goto out;
		}
	}
	cur = m.root;
	for (nrev = 0; nrev < (o->keep_revisions ? o->keep_revisions : 1); nrev++) {
		if ((rc = push(&g, &cur)) < 0)
			goto out;
		if (previous_of(&g, &cur, &cur) < 0) {
			nrev++;
			break;
		}
	}
	if ((m.have & CVMFS_MF_H) && (rc = push_tags(&g, &m.history, &ntags)) < 0)
		goto out;
	while (g.nstack > 0) {
		struct cvmfs_hash h = g.stack[--g.nstack];

		if ((rc = visit(&g, &h)) < 0)
			goto out;
	}
	if ((rc = scan(&g, o, &v, &nv, &kept, &young)) < 0) {
		cvmfs_pub_fail(e, rc, "%s/data: cannot list the objects", o->repo);
		goto out;
	}
	for (i = 0; i < nv; i++)
		bytes += v[i].bytes;
	if (o->dry_run) {
		for (i = 0; i < nv && !o->quiet; i++)
			printf("would remove data/%s (%llu bytes)\n", v[i].rel,
			       (unsigned long long)v[i].bytes);
		printf("gc --dry-run %s: would remove %zu objects, %llu bytes; keeps %llu reachable "
		       "from %u revisions + %u tags (%llu catalogs) and %llu younger than %lld s; "
		       "%.3f s\n", o->repo, nv, (unsigned long long)bytes, (unsigned long long)kept,
		       nrev, ntags, (unsigned long long)g.catalogs, (unsigned long long)young,
		       o->margin, mono() - t0);
		rc = 0;
		goto out;
	}
	if (!have_keys) {
		rc = cvmfs_pub_fail(e, -EINVAL, "gc re-signs the manifest (new reflog): give --keys "
				    "DIR (or --dry-run to only list)");
		goto out;
	}
	/* The reflog forgets what goes, then the manifest names the new reflog;
	 * only then do objects go (a crash meanwhile leaves extra objects only). */
	drop = calloc(nv ? nv : 1, sizeof(*drop));
	if (!drop) {
		rc = -ENOMEM;
		goto out;
	}
	for (i = 0; i < nv; i++)
		if (ref_type(v[i].suffix) >= 0)
			drop[ndrop++] = (struct cvmfs_pub_ref){ v[i].h, ref_type(v[i].suffix) };
	add[0] = (struct cvmfs_pub_ref){ m.root, CVMFS_PUB_REF_CATALOG };
	add[1] = (struct cvmfs_pub_ref){ m.cert, CVMFS_PUB_REF_CERT };
	add[2] = (struct cvmfs_pub_ref){ m.history, CVMFS_PUB_REF_HISTORY };
	add[3] = (struct cvmfs_pub_ref){ m.meta, CVMFS_PUB_REF_META };
	rc = cvmfs_pub_reflog_build(&s, fqrn, add, (m.have & CVMFS_MF_H) ?
				    ((m.have & CVMFS_MF_M) ? 4 : 3) : 2, drop, ndrop, &reflog,
				    &reflog_len, e);
	if (rc < 0)
		goto out;
	nm = m;
	nm.have |= CVMFS_MF_Y | CVMFS_MF_T;
	if ((rc = cvmfs_hash_buf(m.root.algo, reflog, reflog_len, &nm.reflog)) < 0)
		goto out;
	nm.timestamp = (uint64_t)time(NULL);
	if (nm.timestamp <= m.timestamp)
		nm.timestamp = m.timestamp + 1;
	if ((rc = cvmfs_pub_manifest_commit(o->repo, &s, &k, &rng, &nm, reflog, reflog_len, e)) < 0)
		goto out;
	for (i = 0; i < nv; i++) {
		if (unlinkat(s.datafd, v[i].rel, 0) < 0 && errno != ENOENT) {
			rc = cvmfs_pub_fail(e, -errno, "%s/data/%s: cannot remove: %s", o->repo,
					    v[i].rel, strerror(errno));
			goto out;
		}
		if (o->quiet < 0)
			printf("removed data/%s (%llu bytes)\n", v[i].rel,
			       (unsigned long long)v[i].bytes);
		removed++;
		gone_bytes += v[i].bytes;
	}
	printf("gc %s: removed %llu objects, %llu bytes; kept %llu reachable from %u revisions + "
	       "%u tags (%llu catalogs) and %llu younger than %lld s; %.3f s\n", o->repo,
	       (unsigned long long)removed, (unsigned long long)gone_bytes,
	       (unsigned long long)kept, nrev, ntags, (unsigned long long)g.catalogs,
	       (unsigned long long)young, o->margin, mono() - t0);
	rc = 0;
out:
	free(raw);
	free(reflog);
	free(drop);
	free(v);
	free(g.live.v);
	free(g.stack);
	cvmfs_pub_store_close(&s);
	if (have_rng)
		cvmfs_pub_rng_fini(&rng);
	cvmfs_pub_signer_fini(&k);
	return rc;
}

/* see cvmfs-pub.h */
int cvmfs_pub_cli_gc(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "keys", 1, 0, 'k' }, { "keep-revisions", 1, 0, 'r' },
		{ "safety-margin", 1, 0, 's' }, { "dry-run", 0, 0, 'n' },
		{ "quiet", 0, 0, 'q' }, { "verbose", 0, 0, 'v' }, { 0, 0, 0, 0 },
	};
	struct gc_opts o = { .keep_revisions = 1, .margin = 3600 };
	struct cvmfs_pub_err e;
	char *end;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "qv", lo, NULL)) != -1) {
		switch (c) {
		case 'k': o.keydir = optarg; break;
		case 'r':
			o.keep_revisions = (unsigned)strtoul(optarg, &end, 10);
			if (*end || !*optarg || o.keep_revisions == 0)
				goto usage;
			break;
		case 's':
			o.margin = strtoll(optarg, &end, 10);
			if (*end || !*optarg || o.margin < 0)
				goto usage;
			break;
		case 'n': o.dry_run = 1; break;
		case 'q': o.quiet = 1; break;
		case 'v': o.quiet = -1; break;
		default: goto usage;
		}
	}
	if (argc - optind != 1 || (!o.dry_run && !o.keydir))
		goto usage;
	o.repo = argv[optind];
	cvmfs_pub_err_init(&e);
	rc = gc_run(&o, &e);
	if (rc < 0) {
		fprintf(stderr, "cvmboot gc: %s\n", e.msg[0] ? e.msg : strerror(-rc));
		return 1;
	}
	return 0;
usage:
	fprintf(stderr,
		"usage: cvmboot gc REPO --keys DIR [--keep-revisions N] [--safety-margin SECONDS]\n"
		"                [--dry-run] [-q|--quiet] [-v|--verbose]\n"
		"  Removes the objects that no kept revision needs. Kept: every tag of the\n"
		"  history (cvmboot tag REPO list), the newest N revisions (default 1), and any\n"
		"  object younger than the safety margin (default 3600 s, for clients still\n"
		"  reading an older revision). Re-signs the manifest (new reflog) with the\n"
		"  publisher key of --keys. --dry-run lists what would go and changes nothing\n"
		"  (no keys needed). -v lists each object removed.\n");
	return 2;
}
