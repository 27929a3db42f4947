/* SPDX-License-Identifier: MIT */
/* cvmfs-pub/publish.c: one publish: walk, store contents, catalogs, history, whitelist, then the signed manifest last. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cvmfs-pub/internal.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void phase(const struct cvmfs_pub_opts *o, const char *what, double *t0)
{
	double t = now_s();

	if (o->verbose)
		fprintf(stderr, "cvmboot publish: %-20s %8.3f s\n", what, t - *t0);
	*t0 = t;
}

/* ---- the progress line (a terminal only) ---- */

/* see internal.h */
void cvmfs_pub_progress_phase(struct cvmfs_pub_tree *t, const char *phase, uint64_t entries,
			      uint64_t bytes)
{
	__atomic_store_n(&t->done_entries, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&t->done_bytes, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&t->total_entries, entries, __ATOMIC_RELAXED);
	__atomic_store_n(&t->total_bytes, bytes, __ATOMIC_RELAXED);
	__atomic_store_n(&t->phase, phase, __ATOMIC_RELEASE);
}

struct progress {
	struct cvmfs_pub_tree *t;
	pthread_t th;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int stop, running;
};

static void progress_line(struct cvmfs_pub_tree *t, double t0, const char **last, double *since)
{
	const char *phase = __atomic_load_n(&t->phase, __ATOMIC_ACQUIRE);
	uint64_t e = __atomic_load_n(&t->done_entries, __ATOMIC_RELAXED);
	uint64_t te = __atomic_load_n(&t->total_entries, __ATOMIC_RELAXED);
	uint64_t b = __atomic_load_n(&t->done_bytes, __ATOMIC_RELAXED);
	uint64_t tb = __atomic_load_n(&t->total_bytes, __ATOMIC_RELAXED);
	double now = now_s(), dt;
	char ent[64], byt[64];

	if (!phase)
		return;
	if (phase != *last) {
		*last = phase;
		*since = now;
	}
	dt = now - *since;
	if (te)
		snprintf(ent, sizeof(ent), "%llu/%llu entries", (unsigned long long)e,
			 (unsigned long long)te);
	else
		snprintf(ent, sizeof(ent), "%llu entries", (unsigned long long)e);
	if (tb)
		snprintf(byt, sizeof(byt), "  %.1f/%.1f MiB  %.1f MiB/s", b / 1048576.0,
			 tb / 1048576.0, dt > 0 ? b / 1048576.0 / dt : 0.0);
	else
		byt[0] = '\0';
	printf("\r\033[Kcvmboot publish: %-9s %s%s  %.0f s", phase, ent, byt, now - t0);
	fflush(stdout);
}

static void *progress_thread(void *arg)
{
	struct progress *p = arg;
	const char *last = NULL;
	double t0 = now_s(), since = t0;
	struct timespec ts;

	pthread_mutex_lock(&p->lock);
	while (!p->stop) {
		progress_line(p->t, t0, &last, &since);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 250 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&p->cond, &p->lock, &ts);
	}
	pthread_mutex_unlock(&p->lock);
	printf("\r\033[K");	/* the summary follows on a clean line */
	fflush(stdout);
	return NULL;
}

static void progress_start(struct progress *p, struct cvmfs_pub_tree *t)
{
	memset(p, 0, sizeof(*p));
	p->t = t;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	if (t->o->progress)
		p->running = pthread_create(&p->th, NULL, progress_thread, p) == 0;
}

static void progress_stop(struct progress *p)
{
	if (!p->t)
		return;		/* never started */
	if (p->running) {
		pthread_mutex_lock(&p->lock);
		p->stop = 1;
		pthread_cond_signal(&p->cond);
		pthread_mutex_unlock(&p->lock);
		pthread_join(p->th, NULL);
	}
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
}

/* see internal.h */
int cvmfs_pub_manifest_load(const char *repo, const char *fqrn, const struct cvmfs_cert *cert,
		      unsigned char **raw, struct cvmfs_manifest *m, struct cvmfs_pub_err *e)
{
	char path[4096];
	size_t len;
	enum cvmfs_fmt_why why = CVMFS_FMT_WHY_NONE;
	int rc;

	*raw = NULL;
	snprintf(path, sizeof(path), "%s/.cvmfspublished", repo);
	rc = cvmfs_pub_read_file(AT_FDCWD, path, CVMFS_MANIFEST_MAX, raw, &len);
	if (rc == -ENOENT)
		return 0;
	if (rc < 0)
		return cvmfs_pub_fail(e, rc, "%s: cannot read: %s", path, strerror(-rc));
	rc = cvmfs_manifest_parse(*raw, len, m, &why);
	if (rc == 0)
		rc = cvmfs_manifest_verify(m, *raw, fqrn, cert, &why);
	if (rc < 0)
		return cvmfs_pub_fail(e, rc, "%s: %s; this repository was not made with these keys "
				      "for %s (or is damaged)", path, cvmfs_fmt_why_str(why), fqrn);
	return 1;
}

/* see internal.h */
int cvmfs_pub_manifest_commit(const char *repo, struct cvmfs_pub_store *s, struct cvmfs_pub_signer *k,
			struct cvmfs_pub_rng *rng, const struct cvmfs_manifest *m,
			const unsigned char *reflog, size_t reflog_len, struct cvmfs_pub_err *e)
{
	char body[4096];
	unsigned char out[8192];
	ssize_t n;
	int len, rc;

	len = cvmfs_manifest_fmt(m, body, sizeof(body));
	if (len < 0)
		return cvmfs_pub_fail(e, len, "manifest too long");
	n = cvmfs_pub_sign_manifest(k, rng, m->root.algo, body, (size_t)len, out, sizeof(out));
	if (n < 0)
		return cvmfs_pub_fail(e, (int)n, "cannot sign the manifest");
	/* Every object the manifest names must be on disk before it is. */
	if (syncfs(s->repofd) < 0)
		return cvmfs_pub_fail(e, -errno, "%s: sync failed: %s", repo, strerror(errno));
	/* The reflog is renamed into place right before the manifest, both
	 * written and synced first: only a kill between the two rename calls
	 * leaves a reflog that lists more than the manifest's Y (it names only
	 * stored objects, and the next publish or gc goes on from it). */
	rc = cvmfs_pub_write_atomic2(repo, reflog ? ".cvmfsreflog" : NULL, reflog, reflog_len,
				     ".cvmfspublished", out, (size_t)n, 0644);
	if (rc < 0)
		return cvmfs_pub_fail(e, rc, "%s/.cvmfspublished: cannot write: %s", repo,
				      strerror(-rc));
	return 0;
}

static int write_whitelist(const struct cvmfs_pub_opts *o, struct cvmfs_pub_signer *k,
			   struct cvmfs_pub_rng *rng, time_t now, struct cvmfs_pub_err *e)
{
	unsigned char wl[4096];
	ssize_t n = cvmfs_pub_make_whitelist(k, rng, o->fqrn, now, o->whitelist_days, wl,
					     sizeof(wl));
	int rc;

	if (n < 0)
		return cvmfs_pub_fail(e, (int)n, "cannot sign the whitelist with %s/%s.masterkey",
				      o->keydir, o->fqrn);
	rc = cvmfs_pub_write_atomic(o->repo, ".cvmfswhitelist", wl, (size_t)n, 0644);
	if (rc < 0)
		return cvmfs_pub_fail(e, rc, "%s/.cvmfswhitelist: cannot write: %s", o->repo,
				      strerror(-rc));
	return 0;
}

/* The previous revision's catalogs load in a second thread while the
 * source tree is walked: the two touch disjoint parts of the tree (pcats,
 * pfiles vs nodes, contents, cats) and the error record has its lock. */
struct prev_job {
	struct cvmfs_pub_tree *t;
	struct cvmfs_pub_store *s;
	const struct cvmfs_hash *root;
	int rc;
};

static void *prev_thread(void *arg)
{
	struct prev_job *j = arg;

	j->rc = cvmfs_pub_prev_load(j->t, j->s, j->root);
	return NULL;
}

/* Walks the tree and loads the previous revision (if any), in parallel when
 * a thread can be made. Returns 0 or the first -errno. */
static int walk_and_prev(struct cvmfs_pub_tree *t, struct cvmfs_pub_store *s,
			 const struct cvmfs_hash *prev_root)
{
	struct prev_job j = { t, s, prev_root, 0 };
	pthread_t th;
	int threaded = 0, rc;

	if (prev_root)
		threaded = pthread_create(&th, NULL, prev_thread, &j) == 0;
	rc = cvmfs_pub_walk(t);
	if (threaded)
		pthread_join(th, NULL);
	else if (prev_root && rc == 0)
		prev_thread(&j);
	return rc < 0 ? rc : j.rc;
}

/* Names an untagged revision as upstream does (RepositoryTag's generic
 * names): generic-YYYY-MM-DDThh:mm:ss.sssZ, UTC, milliseconds. */
static void generic_tag(time_t sec, unsigned ms, char *buf, size_t len)
{
	struct tm tm;
	char s[32];

	gmtime_r(&sec, &tm);
	strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "generic-%s.%03uZ", s, ms % 1000);
}

/* The meta-info object (spec §6): --meta-info FILE (a JSON object), else the
 * previous revision's, else upstream's keys with empty values. */
static int store_metainfo(const struct cvmfs_pub_opts *o, struct cvmfs_pub_store *s,
			  const struct cvmfs_manifest *prev, struct cvmfs_hash *out,
			  struct cvmfs_pub_err *e)
{
	unsigned char *buf = NULL;
	char def[1024];
	size_t len;
	int rc;

	if (!o->meta_info && prev && (prev->have & CVMFS_MF_M) &&
	    cvmfs_pub_store_has(s, &prev->meta, CVMFS_SUFFIX_META)) {
		*out = prev->meta;
		return 0;
	}
	if (o->meta_info) {
		rc = cvmfs_pub_read_file(AT_FDCWD, o->meta_info, CVMFS_PUB_METAINFO_MAX, &buf, &len);
		if (rc < 0)
			return cvmfs_pub_fail(e, rc, "--meta-info %s: cannot read: %s", o->meta_info,
					      rc == -EFBIG ? "larger than 1 MiB" : strerror(-rc));
		if (cvmfs_pub_json_object_check((const char *)buf, len) < 0) {
			free(buf);
			return cvmfs_pub_fail(e, -EINVAL, "--meta-info %s: not one JSON object "
					      "(see upstream's keys: administrator, email, "
					      "organisation, description, url, recommended-stratum0, "
					      "recommended-stratum1s, custom)", o->meta_info);
		}
		rc = cvmfs_pub_store_put_buf(s, CVMFS_SUFFIX_META, buf, len, out);
		free(buf);
	} else {
		rc = cvmfs_pub_metainfo_default(o->fqrn, def, sizeof(def));
		if (rc >= 0)
			rc = cvmfs_pub_store_put_buf(s, CVMFS_SUFFIX_META, def, (size_t)rc, out);
	}
	if (rc < 0)
		return cvmfs_pub_fail(e, rc, "%s: cannot store the meta-info object: %s", o->repo,
				      strerror(-rc));
	return 0;
}

static int publish(const struct cvmfs_pub_opts *o, struct cvmfs_pub_signer *k,
		   struct cvmfs_pub_store *s, struct cvmfs_pub_rng *rng,
		   struct cvmfs_pub_result *res, struct cvmfs_pub_err *e)
{
	struct cvmfs_manifest prev, m;
	struct cvmfs_pub_tree t = { .o = o, .e = e, .srcfd = -1 };
	struct cvmfs_pub_tag tag;
	unsigned char *raw = NULL;
	struct cvmfs_hash hist, cert, meta;
	struct cvmfs_pub_ref refs[4];
	struct progress prog = { 0 };
	unsigned char *reflog = NULL;
	size_t reflog_len = 0;
	struct timespec rt;
	time_t now, wall;
	unsigned ms;
	double t0 = now_s();
	int rc, have_prev;

	clock_gettime(CLOCK_REALTIME, &rt);
	wall = now = rt.tv_sec;
	ms = (unsigned)(rt.tv_nsec / 1000000);
	if (o->publish_time) {		/* reproducible: the same tree gives the same objects */
		now = (time_t)o->publish_time;
		ms = 0;
	}

	memset(&prev, 0, sizeof(prev));
	have_prev = cvmfs_pub_manifest_load(o->repo, o->fqrn, &k->cert, &raw, &prev, e);
	if ((rc = have_prev) < 0)
		goto out;
	if (have_prev && prev.root.algo != o->algo) {
		rc = cvmfs_pub_fail(e, -EINVAL, "%s uses %s hashes; publish with --hash %s", o->repo,
				    prev.root.algo == CVMFS_HASH_SHA1 ? "sha1" :
				    prev.root.algo == CVMFS_HASH_RMD160 ? "rmd160" : "shake128",
				    prev.root.algo == CVMFS_HASH_SHA1 ? "sha1" :
				    prev.root.algo == CVMFS_HASH_RMD160 ? "rmd160" : "shake128");
		goto out;
	}
	cvmfs_pub_progress_phase(&t, "walk", 0, 0);
	progress_start(&prog, &t);
	if ((rc = walk_and_prev(&t, s, have_prev ? &prev.root : NULL)) < 0)
		goto out;
	phase(o, "walk, prev. revision", &t0);
	if ((rc = cvmfs_pub_content_run(&t, s)) < 0)
		goto out;
	phase(o, "contents", &t0);
	if (have_prev && prev.timestamp >= (uint64_t)now) {
		now = (time_t)prev.timestamp + 1;
		ms = 0;
	}
	res->revision = have_prev ? prev.revision + 1 : 1;
	cvmfs_pub_progress_phase(&t, "catalogs", t.ncat, 0);
	if ((rc = cvmfs_pub_catalogs_write(&t, s, res->revision, (uint64_t)now)) < 0)
		goto out;
	phase(o, "catalogs", &t0);
	cvmfs_pub_progress_phase(&t, "history", 0, 0);
	rc = cvmfs_pub_store_put_buf(s, CVMFS_SUFFIX_CERT, k->crt_pem, k->crt_len, &cert);
	if (rc < 0) {
		cvmfs_pub_fail(e, rc, "%s: cannot store the certificate: %s", o->repo, strerror(-rc));
		goto out;
	}
	if (!o->tag && !o->no_auto_tag)
		generic_tag(now, ms, res->tag, sizeof(res->tag));
	else if (o->tag)
		snprintf(res->tag, sizeof(res->tag), "%s", o->tag);	/* for display */
	tag = (struct cvmfs_pub_tag){ o->tag ? o->tag : res->tag[0] ? res->tag : NULL,
				o->description, t.cats[0].hash, res->revision, (uint64_t)now,
				t.cats[0].size };
	rc = cvmfs_pub_history_update(s, o->fqrn, have_prev && (prev.have & CVMFS_MF_H) ? &prev.history
				: NULL, &tag, 1, NULL, o->auto_tag_timespan &&
				o->auto_tag_timespan < (uint64_t)wall ? (uint64_t)wall -
				o->auto_tag_timespan : 0, &res->tags_expired, &hist, e);
	if (rc < 0)
		goto out;
	if ((rc = store_metainfo(o, s, have_prev ? &prev : NULL, &meta, e)) < 0)
		goto out;
	refs[0] = (struct cvmfs_pub_ref){ t.cats[0].hash, CVMFS_PUB_REF_CATALOG };
	refs[1] = (struct cvmfs_pub_ref){ cert, CVMFS_PUB_REF_CERT };
	refs[2] = (struct cvmfs_pub_ref){ hist, CVMFS_PUB_REF_HISTORY };
	refs[3] = (struct cvmfs_pub_ref){ meta, CVMFS_PUB_REF_META };
	if ((rc = cvmfs_pub_reflog_build(s, o->fqrn, refs, 4, NULL, 0, &reflog, &reflog_len,
					 e)) < 0)
		goto out;
	if ((rc = write_whitelist(o, k, rng, wall, e)) < 0)
		goto out;
	memset(&m, 0, sizeof(m));
	m.have = CVMFS_MF_N | CVMFS_MF_X | CVMFS_MF_H | CVMFS_MF_T | CVMFS_MF_M | CVMFS_MF_Y;
	m.meta = meta;
	if ((rc = cvmfs_hash_buf(o->algo, reflog, reflog_len, &m.reflog)) < 0)
		goto out;
	m.root = t.cats[0].hash;
	m.root_size = t.cats[0].size;
	m.ttl = CVMFS_DEFAULT_TTL;
	m.revision = res->revision;
	snprintf(m.fqrn, sizeof(m.fqrn), "%s", o->fqrn);
	m.cert = cert;
	m.history = hist;
	m.timestamp = (uint64_t)now;
	phase(o, "history, whitelist", &t0);
	cvmfs_pub_progress_phase(&t, "sync", 0, 0);
	if ((rc = cvmfs_pub_manifest_commit(o->repo, s, k, rng, &m, reflog, reflog_len, e)) < 0)
		goto out;
	phase(o, "sync, manifest", &t0);
	close(openat(s->repofd, ".cvmfs_master_replica", O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
	res->root = m.root;
	res->files = t.files;
	res->bytes = t.bytes;
	for (size_t i = 0; i < t.ncat; i++)
		res->catalogs_new += !t.cats[i].reused;
out:
	progress_stop(&prog);
	free(raw);
	free(reflog);
	cvmfs_pub_tree_fini(&t);
	return rc;
}

/* The repository must not be part of what it publishes. */
static int repo_outside_src(const struct cvmfs_pub_opts *o, struct cvmfs_pub_err *e)
{
	char *src = realpath(o->src, NULL), *repo = realpath(o->repo, NULL), *dir, *slash;
	size_t n = src ? strlen(src) : 0;
	int rc = 0;

	if (!repo && errno == ENOENT && (dir = strdup(o->repo))) {
		/* not made yet: judge by its parent directory */
		slash = strrchr(dir, '/');
		if (slash && slash != dir)
			*slash = '\0';
		else
			strcpy(dir, slash ? "/" : ".");
		repo = realpath(dir, NULL);
		free(dir);
	}

	if (!src)
		rc = cvmfs_pub_fail(e, -errno, "%s: %s", o->src, strerror(errno));
	else if (repo && strncmp(repo, src, n) == 0 && (repo[n] == '/' || repo[n] == '\0' ||
							  n == 1))
		rc = cvmfs_pub_fail(e, -EINVAL, "%s is inside the source tree %s; put the "
				    "repository elsewhere", o->repo, o->src);
	free(src);
	free(repo);
	return rc;
}

/* see cvmfs-pub.h */
int cvmfs_pub_run(const struct cvmfs_pub_opts *o, struct cvmfs_pub_result *res,
		  struct cvmfs_pub_err *e)
{
	struct cvmfs_pub_signer k;
	struct cvmfs_pub_store s = { .repofd = -1, .datafd = -1, .tmpfd = -1 };
	struct cvmfs_pub_rng rng;
	double t0 = now_s();
	int rc, have_rng = 0;

	memset(res, 0, sizeof(*res));
	if (cvmfs_pub_fqrn_check(o->fqrn) < 0)
		return cvmfs_pub_fail(e, -EINVAL, "'%s' is not a repository name", o->fqrn);
	if (o->chunk_min < CVMFS_PUB_XOR32_WINDOW || o->chunk_avg < o->chunk_min ||
	    o->chunk_max < o->chunk_avg || o->chunk_max > (1u << 30))
		return cvmfs_pub_fail(e, -EINVAL, "chunk sizes must satisfy %u <= min <= avg <= max "
				      "<= 1 GiB", CVMFS_PUB_XOR32_WINDOW);
	rc = cvmfs_pub_signer_load(&k, o->keydir, o->fqrn, 1, e);
	if (rc < 0)
		goto out;
	if ((rc = cvmfs_pub_rng_init(&rng)) < 0) {
		cvmfs_pub_fail(e, rc, "cannot seed the random generator");
		goto out;
	}
	have_rng = 1;
	if ((rc = repo_outside_src(o, e)) < 0)
		goto out;
	if ((rc = cvmfs_pub_store_open(&s, o->repo, o->algo, e)) < 0)
		goto out;
	if (flock(s.repofd, LOCK_EX | LOCK_NB) < 0) {
		rc = cvmfs_pub_fail(e, -EBUSY, "%s: another publish or tag edit is running", o->repo);
		goto out;
	}
	/* what a killed run left (its temporary files), then this run's own */
	cvmfs_pub_store_sweep(&s);
	rc = publish(o, &k, &s, &rng, res, e);
	res->objects_new = s.written;
	res->objects_reused = s.reused;
	cvmfs_pub_store_sweep(&s);
out:
	cvmfs_pub_store_close(&s);
	if (have_rng)
		cvmfs_pub_rng_fini(&rng);
	cvmfs_pub_signer_fini(&k);
	res->seconds = now_s() - t0;
	return rc;
}
