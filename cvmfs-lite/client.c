/* SPDX-License-Identifier: MIT */
/* cvmfs-lite/client.c: opening a repository (whitelist, certificate and
 * manifest verification, snapshot selection, offline fallback), mounting and
 * serving it; the daemon entry point for PID 1. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sqlite3.h"

#include "cvmfs-lite/internal.h"

#define WHY(...) snprintf(why, whylen, __VA_ARGS__)

/* see cvmfs-lite.h */
int cvmfs_read_text(const char *path, size_t max, char **out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = 0;
	size_t len = 0;
	char *buf;

	if (fd < 0)
		return -errno;
	buf = malloc(max + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	for (;;) {
		ssize_t n = read(fd, buf + len, max - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			break;
		}
		if (n == 0)
			break;
		len += n;
		if (len == max) {
			rc = -EFBIG;
			break;
		}
	}
	close(fd);
	if (rc < 0) {
		free(buf);
		return rc;
	}
	buf[len] = 0;
	*out = buf;
	return 0;
}

static int idmap_parse(const char *text, struct cvmfs_idmap *m)
{
	const char *p = text;

	m->n = 0;
	while (p && *p) {
		unsigned long a, b;
		char *e1, *e2;

		while (*p == ' ' || *p == '\t')
			p++;
		if (*p != '#' && *p != '\n' && *p) {
			a = strtoul(p, &e1, 10);
			b = strtoul(e1, &e2, 10);
			if (e1 == p || e2 == e1 || a > UINT32_MAX || b > UINT32_MAX)
				return -EINVAL;
			if (m->n == CVMFS_MAP_MAX)
				return -E2BIG;
			m->from[m->n] = a;
			m->to[m->n++] = b;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return 0;
}

static int parse_date(const char *s, int64_t *out)
{
	struct tm tm = { 0 };
	const char *end;

	/* spec §5: exactly "YYYY-MM-DDTHH:MM:SSZ" (UTC) */
	if (strlen(s) != 20 || !(end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm)) || *end)
		return -EINVAL;
	*out = (int64_t)timegm(&tm);
	return 0;
}

/* Why a small file could not be had, from cvmfs_fetch_run's verdict. */
static const char *fetch_why(int rc)
{
	switch (rc) {
	case -ENOENT:
		return "every server answered HTTP 404 Not Found: is the server URL or the "
		       "repository name wrong?";
	case -EIO:
		return "servers answered, but only with HTTP errors or bad data (see the log)";
	case -ENETUNREACH:
		return "no server or proxy answered";
	}
	return strerror(-rc);
}

/* Fetches and verifies whitelist, certificate and manifest (spec §2, §3).
 * Nothing of it reaches the cache: the certificate is checked in memory
 * against X, then against the whitelist, then used for the signature. */
static int verify_online(struct cvmfs_client *c, struct cvmfs_manifest *m, unsigned char **mbuf,
			 char *why, size_t whylen)
{
	unsigned char *wl = NULL, *cert = NULL;
	size_t wlen, mlen, clen = 0;
	struct cvmfs_whitelist w;
	struct cvmfs_cert crt;
	enum cvmfs_fmt_why fw = CVMFS_FMT_WHY_NONE;
	char rel[CVMFS_OBJ_PATH_MAX];
	int rc;

	cvmfs_cert_init(&crt);
	*mbuf = NULL;
	if ((rc = cvmfs_fetch_mem(&c->fetcher, ".cvmfswhitelist", CVMFS_WL_MAX, &wl, &wlen)) < 0) {
		WHY("cannot download .cvmfswhitelist: %s", fetch_why(rc));
		goto out;
	}
	if ((rc = cvmfs_whitelist_parse(wl, wlen, &w, &fw)) < 0 ||
	    (rc = cvmfs_whitelist_verify(&w, wl, c->cfg.fqrn, &c->keys, time(NULL),
					 c->cfg.flags & CVMFS_CLIENT_ACCEPT_EXPIRED ?
					 CVMFS_WL_EXPIRED_OK : 0, &fw)) < 0) {
		WHY("whitelist refused: %s%s", cvmfs_fmt_why_str(fw),
		    fw == CVMFS_FMT_WHY_WHITELIST_SIG ? " (is --key the repository's master key?)" : "");
		rc = rc == -EKEYEXPIRED ? -EKEYEXPIRED : -EKEYREJECTED;
		goto out;
	}
	if (c->cfg.flags & CVMFS_CLIENT_ACCEPT_EXPIRED && w.expires <= time(NULL))
		cvmfs_log(c, "WARNING: accepting the EXPIRED whitelist of %s (test override)",
			  c->cfg.fqrn);
	if ((rc = cvmfs_fetch_mem(&c->fetcher, ".cvmfspublished", CVMFS_MANIFEST_MAX, mbuf, &mlen)) < 0) {
		WHY("cannot download .cvmfspublished: %s", fetch_why(rc));
		goto out;
	}
	if ((rc = cvmfs_manifest_parse(*mbuf, mlen, m, &fw)) < 0 || !(m->have & CVMFS_MF_X)) {
		WHY("manifest refused: %s", rc < 0 ? cvmfs_fmt_why_str(fw) : "it names no certificate (X)");
		rc = -EKEYREJECTED;
		goto out;
	}
	/* In memory only: hash-checked against X on arrival (a bad copy fails
	 * over to the next server), inflated to at most CVMFS_CERT_MAX. The
	 * manifest is unverified yet, so X vouches for nothing: this object
	 * never enters the shared cache. */
	cvmfs_hash_objpath(&m->cert, CVMFS_SUFFIX_CERT, rel, sizeof(rel));
	if ((rc = cvmfs_object_mem(c, &m->cert, CVMFS_SUFFIX_CERT, true, CVMFS_CERT_MAX, &cert,
				   &clen)) < 0) {
		WHY("cannot download the certificate %s: %s", rel, fetch_why(rc));
		goto out;
	}
	if ((rc = cvmfs_cert_parse(&crt, cert, clen, &fw)) < 0 ||
	    !cvmfs_whitelist_has_cert(&w, &crt, &fw) ||
	    (rc = cvmfs_manifest_verify(m, *mbuf, c->cfg.fqrn, &crt, &fw)) < 0) {
		WHY("manifest refused: %s", cvmfs_fmt_why_str(fw));
		rc = -EKEYREJECTED;
		goto out;
	}
	rc = 0;
out:
	cvmfs_cert_fini(&crt);
	free(wl);
	free(cert);
	if (rc < 0) {
		free(*mbuf);
		*mbuf = NULL;
	}
	return rc;
}

static int select_tag(struct cvmfs_client *c, const struct cvmfs_manifest *m, struct cvmfs_hash *root,
		      char *why, size_t whylen)
{
	struct sqlite3 *db = NULL;
	int64_t date = 0;
	int fd, rc;

	if (c->cfg.date && parse_date(c->cfg.date, &date) < 0) {
		WHY("--date '%s' is not YYYY-MM-DDTHH:MM:SSZ (UTC)", c->cfg.date);
		return -EINVAL;
	}
	if (!(m->have & CVMFS_MF_H)) {
		WHY("the repository has no history database (manifest H), so no tags");
		return -ENOENT;
	}
	if ((rc = cvmfs_object_get(c, &m->history, CVMFS_SUFFIX_HISTORY, true, CVMFS_SIZE_UNKNOWN,
				   CVMFS_HISTORY_MAX, &fd)) < 0) {
		WHY("cannot fetch the history database (%s)", strerror(-rc));
		return rc;
	}
	rc = cvmfs_sqlite_open_fd(fd, &db);
	close(fd);
	if (rc == 0)
		rc = cvmfs_history_find(db, c->cfg.tag, date, root, c->info.tag, sizeof(c->info.tag));
	sqlite3_close(db);
	if (rc == -ENOENT)
		WHY(c->cfg.tag ? "no tag named '%s' in the history database" :
		    "no tag at or before %s in the history database", c->cfg.tag ? c->cfg.tag : c->cfg.date);
	else if (rc < 0)
		WHY("the history database is unreadable");
	return rc;
}

/* Breadcrumb: what the last successful open chose for this selector (for
 * offline restarts). */
static void crumb_name(struct cvmfs_client *c, char *buf, size_t len)
{
	snprintf(buf, len, "snapshot.%s", c->cfg.fqrn);
}

static void crumb_write(struct cvmfs_client *c, uint64_t ts)
{
	char name[CVMFS_FQRN_MAX + 16], buf[1024], old[1024];
	int n = snprintf(buf, sizeof(buf), "%s\n%s\n%llu\n%llu\n%s\n", c->selector, c->info.root_hash,
			 (unsigned long long)c->info.revision, (unsigned long long)ts, c->info.tag);

	crumb_name(c, name, sizeof(name));
	/* A warm mount of the same snapshot: the crumb says it already (no
	 * write, no flush of the cache's file system on the boot's path). */
	if (n > 0 && n < (int)sizeof(buf) &&
	    cvmfs_cache_get_file(&c->cache, name, old, sizeof(old)) == n && memcmp(old, buf, n) == 0)
		return;
	cvmfs_cache_put_file(&c->cache, name, buf, n);
}

/* Reads the breadcrumb: 0 and root, ts (and tag, if not NULL) if it
 * matches the selector (any: whatever selector wrote it). */
static int crumb_read(struct cvmfs_client *c, struct cvmfs_hash *root, uint64_t *ts, bool any,
		      char *tag, size_t taglen)
{
	char name[CVMFS_FQRN_MAX + 16], buf[1024], *l[5], *p = buf;
	ssize_t n;

	crumb_name(c, name, sizeof(name));
	n = cvmfs_cache_get_file(&c->cache, name, buf, sizeof(buf) - 1);
	if (n < 0)
		return (int)n;
	buf[n] = 0;
	for (int i = 0; i < 5; i++) {
		l[i] = p;
		p = strchr(p, '\n');
		if (!p)
			return -EBADMSG;
		*p++ = 0;
	}
	if (cvmfs_hash_parse(l[1], strlen(l[1]), root) < 0)
		return -EBADMSG;
	*ts = strtoull(l[3], NULL, 10);
	if (!any && strcmp(l[0], c->selector) != 0)
		return -ENOENT;
	if (tag)
		snprintf(tag, taglen, "%s", l[4]);
	return 0;
}

/* Replay protection: the newest (timestamp T, revision S) of a manifest
 * ever verified for this repository, in <cache>/newest.<fqrn>. Only a
 * verified manifest moves it, and only forward; pinned (root hash) and
 * offline opens leave it alone. */
static void newest_name(struct cvmfs_client *c, char *buf, size_t len)
{
	snprintf(buf, len, "newest.%s", c->cfg.fqrn);
}

static void newest_read(struct cvmfs_client *c, uint64_t *ts, uint64_t *rev)
{
	char name[CVMFS_FQRN_MAX + 16], buf[64];
	unsigned long long t = 0, r = 0;
	struct cvmfs_hash h;
	uint64_t cts;
	ssize_t n;

	newest_name(c, name, sizeof(name));
	n = cvmfs_cache_get_file(&c->cache, name, buf, sizeof(buf) - 1);
	if (n > 0) {
		buf[n] = 0;
		if (sscanf(buf, "%llu %llu", &t, &r) != 2)
			t = r = 0;
	}
	*ts = t;
	*rev = r;
	/* caches written before this file existed: the breadcrumb's T */
	if (crumb_read(c, &h, &cts, true, NULL, 0) == 0 && cts > *ts) {
		*ts = cts;
		*rev = 0;
	}
}

/* 1 if manifest (ts, rev) is older than the newest one seen (nts, nrev). */
static int older(uint64_t ts, uint64_t rev, uint64_t nts, uint64_t nrev)
{
	if (ts && nts && ts != nts)
		return ts < nts;
	return rev < nrev;	/* same second, or a manifest without T */
}

static void newest_write(struct cvmfs_client *c, uint64_t ts, uint64_t rev)
{
	char name[CVMFS_FQRN_MAX + 16], buf[64];
	uint64_t nts, nrev;
	int n;

	newest_read(c, &nts, &nrev);
	if (!(ts > nts || (ts == nts && rev > nrev) || (!ts && rev > nrev)))
		return;		/* not newer than what is stored */
	n = snprintf(buf, sizeof(buf), "%llu %llu\n", (unsigned long long)ts,
		     (unsigned long long)rev);
	newest_name(c, name, sizeof(name));
	if (cvmfs_cache_put_file(&c->cache, name, buf, n) < 0)
		cvmfs_log(c, "cannot store the newest manifest seen (T=%llu, S=%llu): the next "
			  "mount's replay check may be weaker", (unsigned long long)ts,
			  (unsigned long long)rev);
}

static int load_keys(struct cvmfs_client *c, char *why, size_t whylen)
{
	enum cvmfs_fmt_why fw = CVMFS_FMT_WHY_NONE;
	size_t total = 1;

	cvmfs_pubkeys_init(&c->keys);
	for (size_t i = 0; i < c->cfg.npubkeys; i++) {
		int rc = cvmfs_pubkeys_add(&c->keys, (const unsigned char *)c->cfg.pubkeys[i],
					   strlen(c->cfg.pubkeys[i]) + 1, &fw);

		if (rc < 0) {
			WHY("public key %zu: %s", i + 1, cvmfs_fmt_why_str(fw));
			return rc;
		}
		total += strlen(c->cfg.pubkeys[i]) + 1;
	}
	c->pubkeys_text = calloc(1, total);
	if (!c->pubkeys_text)
		return -ENOMEM;
	for (size_t i = 0; i < c->cfg.npubkeys; i++)
		strcat(c->pubkeys_text, c->cfg.pubkeys[i]);
	return 0;
}

/* What choose_root verified (for the replay state) and knows of the root. */
struct chosen {
	bool verified;			/* a manifest was verified online */
	uint64_t ts, rev;		/* its T and S */
	uint64_t root_max;		/* bound of the root catalog (B), 0 = unknown */
};

static int choose_root(struct cvmfs_client *c, struct cvmfs_hash *root, struct chosen *ch,
		       char *why, size_t whylen)
{
	struct cvmfs_manifest m;
	unsigned char *mbuf = NULL;
	uint64_t cts = 0, nts, nrev;
	int rc = -EINVAL;	/* fetch.nhosts >= 1 (cvmfs_fetch_init) */

	memset(ch, 0, sizeof(*ch));
	if (c->cfg.root_hash) {
		snprintf(c->selector, sizeof(c->selector), "root:%s", c->cfg.root_hash);
		if (cvmfs_hash_parse(c->cfg.root_hash, strlen(c->cfg.root_hash), root) < 0) {
			WHY("--root-hash '%s' is not a hash (40 hex digits, optional -rmd160/-shake128)",
			    c->cfg.root_hash);
			return -EINVAL;
		}
		/* The hash names the whole tree: it is its own proof. */
		return 0;
	}
	snprintf(c->selector, sizeof(c->selector), "%s%s", c->cfg.tag ? "tag:" : c->cfg.date ?
		 "date:" : "head", c->cfg.tag ? c->cfg.tag : c->cfg.date ? c->cfg.date : "");
	/* spec §2: a server with a bad manifest or whitelist may be stale or
	 * broken; try each other server once before giving up. */
	for (size_t i = 0; i < c->fetch.nhosts; i++) {
		rc = verify_online(c, &m, &mbuf, why, whylen);
		if (rc != -EKEYREJECTED && rc != -EKEYEXPIRED)
			break;
		if (i + 1 < c->fetch.nhosts) {
			pthread_mutex_lock(&c->fetch.lock);
			c->fetch.cur_host = (c->fetch.cur_host + 1) % c->fetch.nhosts;
			pthread_mutex_unlock(&c->fetch.lock);
			cvmfs_log(c, "%s; trying the next server", why);
		}
	}
	if (rc == -ENETUNREACH) {
		/* Nobody answered at all: serve the snapshot this selector chose
		 * last time. An HTTP error from a live server is no reason to:
		 * that is an error (fetch_why). */
		if (crumb_read(c, root, &cts, false, c->info.tag, sizeof(c->info.tag)) == 0) {
			cvmfs_log(c, "offline: %s; using the cached snapshot", why);
			c->info.offline = true;
			return 0;
		}
		return rc;
	}
	if (rc < 0)
		return rc;
	/* spec §2: never go back to an older manifest than one seen before,
	 * whichever snapshot was mounted since */
	newest_read(c, &nts, &nrev);
	if (older(m.timestamp, m.revision, nts, nrev)) {
		WHY("manifest is older (T=%llu, S=%llu) than one seen before (T=%llu, S=%llu): "
		    "replayed?", (unsigned long long)m.timestamp, (unsigned long long)m.revision,
		    (unsigned long long)nts, (unsigned long long)nrev);
		free(mbuf);
		return -EKEYREJECTED;
	}
	ch->verified = true;
	ch->ts = m.timestamp;
	ch->rev = m.revision;
	if (c->cfg.tag || c->cfg.date) {
		rc = select_tag(c, &m, root, why, whylen);
	} else {
		*root = m.root;
		if ((m.have & CVMFS_MF_B) && m.root_size)
			ch->root_max = m.root_size;
	}
	free(mbuf);
	return rc;
}

/* see cvmfs-lite.h. A linear sequence of steps, each with its own message. */
int cvmfs_client_open(const struct cvmfs_client_cfg *cfg, struct cvmfs_client **out,
		      struct cvmfs_client_info *info, char *why, size_t whylen)
{
	struct cvmfs_client *c = calloc(1, sizeof(*c));
	char dummy[8];
	struct cvmfs_hash root;
	struct chosen ch;
	uint64_t nts, nrev, t[4];
	int rc;

	t[0] = net_now_ms();
	if (!why || !whylen) {
		why = dummy;
		whylen = sizeof(dummy);
	}
	why[0] = 0;
	if (!c)
		return -ENOMEM;
	c->cfg = *cfg;
	c->log_fd = cfg->log_fd;
	for (; cfg->log_fds && c->nlog_more < cfg->nlog_fds &&
	       c->nlog_more < CVMFS_CLIENT_LOG_FDS; c->nlog_more++)
		c->log_more[c->nlog_more] = cfg->log_fds[c->nlog_more];
	c->cache.dirfd = c->cache.txnfd = -1;
	c->fuse.fd = -1;
	c->next_offset = CVMFS_INO_FIRST_OFFSET;
	pthread_mutex_init(&c->cat_lock, NULL);
	pthread_mutex_init(&c->load_lock, NULL);
	pthread_mutex_init(&c->node_lock, NULL);
	pthread_mutex_init(&c->fly_lock, NULL);
	pthread_cond_init(&c->fly_cond, NULL);
	pthread_mutex_init(&c->bx_lock, NULL);
	{
		pthread_condattr_t ca;	/* bundle waits: a clock that never jumps */

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&c->bx_cond, &ca);
		pthread_condattr_destroy(&ca);
	}
	if (!cfg->fqrn || !*cfg->fqrn || strlen(cfg->fqrn) >= CVMFS_FQRN_MAX) {
		WHY("no repository name (fqrn) given");
		rc = -EINVAL;
		goto out;
	}
	if (!!cfg->tag + !!cfg->date + !!cfg->root_hash > 1) {
		WHY("give at most one of tag, date and root hash");
		rc = -EINVAL;
		goto out;
	}
	if (cfg->npubkeys == 0 && !cfg->root_hash) {
		WHY("no master public key given: cannot verify the repository");
		rc = -EINVAL;
		goto out;
	}
	if ((rc = load_keys(c, why, whylen)) < 0)
		goto out;
	if ((rc = idmap_parse(cfg->uid_map, &c->uidmap)) < 0 ||
	    (rc = idmap_parse(cfg->gid_map, &c->gidmap)) < 0) {
		WHY("uid/gid map: lines must be '<upstream id> <local id>'");
		goto out;
	}
	if ((rc = cvmfs_cache_init(&c->cache, cfg->cache_dirfd, cfg->cache_limit)) < 0) {
		WHY("cache directory unusable: %s", strerror(-rc));
		goto out;
	}
	cvmfs_cache_pins_load(&c->cache);
	t[1] = net_now_ms();
	if ((rc = cvmfs_fetch_init(&c->fetch, cfg->servers, cfg->proxies, cfg->fqrn, c)) < 0) {
		WHY("bad server or proxy list (servers: 'http://host/cvmfs/@fqrn@;...', "
		    "proxies: 'a|b;c|DIRECT')");
		goto out;
	}
	c->fetcher = (struct cvmfs_fetcher){ cvmfs_fetch_get, &c->fetch };
	if (cfg->timeout_ms)
		c->fetch.timeout_ms = cfg->timeout_ms;
	if (cfg->timeout_direct_ms)
		c->fetch.timeout_direct_ms = cfg->timeout_direct_ms;
	if (cfg->low_speed_bytes)
		c->fetch.low_speed_bytes = cfg->low_speed_bytes;
	c->fetch.max_retries = cfg->max_retries;
	if (cfg->backoff_init_ms)
		c->fetch.backoff_init_ms = cfg->backoff_init_ms;
	if (cfg->backoff_max_ms)
		c->fetch.backoff_max_ms = cfg->backoff_max_ms;
	c->fetch.follow_redirects = cfg->flags & CVMFS_CLIENT_FOLLOW_REDIRECTS;
	if (cfg->https_wrap &&
	    (rc = net_http_scheme_add(&c->fetch.http, "https", 443, cfg->https_wrap, cfg->https_ctx)) < 0)
		goto out;
	if ((rc = choose_root(c, &root, &ch, why, whylen)) < 0)
		goto out;
	t[2] = net_now_ms();
	/* The manifest's signature is good and it is not a replay: it moves
	 * the replay floor even if its root catalog fails to load next. */
	if (ch.verified)
		newest_write(c, ch.ts, ch.rev);
	if ((rc = cvmfs_catalog_load(c, &root, "", NULL, ch.root_max, &c->root)) < 0) {
		WHY("cannot load the root catalog (%s)", strerror(-rc));
		goto out;
	}
	cvmfs_hash_fmt(&root, c->info.root_hash, sizeof(c->info.root_hash));
	c->info.revision = c->root->repo_revision;
	if (!c->info.offline) {
		newest_read(c, &nts, &nrev);
		crumb_write(c, nts);
	}
	t[3] = net_now_ms();
	cvmfs_log(c, "%s: root catalog %s, revision %llu%s%s%s (cache index %llu ms, manifest "
		  "%llu ms, catalog %llu ms)", cfg->fqrn, c->info.root_hash,
		  (unsigned long long)c->info.revision, c->info.tag[0] ? ", tag " : "", c->info.tag,
		  c->info.offline ? " (offline, from the cache)" : "",
		  (unsigned long long)(t[1] - t[0]), (unsigned long long)(t[2] - t[1]),
		  (unsigned long long)(t[3] - t[2]));
	if (info)
		*info = c->info;
	*out = c;
	return 0;
out:
	if (why != dummy && why[0])
		cvmfs_log(c, "%s", why);
	cvmfs_client_close(c);
	return rc;
}

/* see cvmfs-lite.h */
int cvmfs_client_mount(struct cvmfs_client *c, const char *mountpoint)
{
	struct cvmfs_fuse_cfg fc = {
		.fsname = c->cfg.fqrn, .subtype = "cvmfs2",
		.allow_other = c->cfg.flags & CVMFS_CLIENT_ALLOW_OTHER,
		.suid = c->cfg.flags & CVMFS_CLIENT_SUID,
		.threads = c->cfg.fuse_threads ? c->cfg.fuse_threads : 8,
		.timeout_s = c->cfg.kcache_timeout_s ? c->cfg.kcache_timeout_s : 3600,
		.passthrough = !(c->cfg.flags & CVMFS_CLIENT_NO_PASSTHROUGH),
	};
	int rc = cvmfs_fuse_mount(&c->fuse, mountpoint, &fc, &cvmfs_ops, c);

	if (rc < 0) {
		cvmfs_log(c, "mount on %s: %s", mountpoint, strerror(-rc));
		return rc;
	}
	c->mounted = true;
	c->mountpoint = strdup(mountpoint);
	return 0;
}

/* One line of what the kernel asked and what the daemon spent on it. */
static void log_requests(struct cvmfs_client *c, const char *when)
{
	struct cvmfs_fuse_stats *st = malloc(sizeof(*st));
	char *ops = malloc(1024);

	if (st && ops) {
		cvmfs_fuse_stats(&c->fuse, st);
		cvmfs_log(c, "%s: %llu file opens, %llu read by the kernel (passthrough; %llu of them "
			  "from a kept backing file), %llu reads by the daemon%s%s; "
			  "requests/daemon time: %s", when,
			  (unsigned long long)st->opens, (unsigned long long)st->pt_opens,
			  (unsigned long long)st->pt_kept, (unsigned long long)st->reads,
			  st->pt_error ? "; passthrough off: " : "",
			  st->pt_error ? strerror(-st->pt_error) : "",
			  cvmfs_fuse_stats_ops(st, ops, 1024));
	}
	free(st);
	free(ops);
}

/* SIGUSR1 (blocked in every other thread): log the request counters, e.g.
 * `kill -USR1 $(cat /.cvmfs_pids)` from the booted OS. */
static void *usr1_thread(void *arg)
{
	struct cvmfs_client *c = arg;
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	while (!c->stopping && sigwait(&set, &sig) == 0)
		if (!c->stopping)
			log_requests(c, "requests so far");
	return NULL;
}

/* see cvmfs-lite.h */
int cvmfs_client_serve(struct cvmfs_client *c)
{
	int rc;

	{
		sigset_t set;
		pthread_attr_t attr;

		/* Blocked before the workers start, so that they inherit it. */
		sigemptyset(&set);
		sigaddset(&set, SIGUSR1);
		pthread_sigmask(SIG_BLOCK, &set, NULL);
		pthread_attr_init(&attr);
		pthread_attr_setstacksize(&attr, 64 * 1024);
		c->usr1_started = pthread_create(&c->usr1, &attr, usr1_thread, c) == 0;
		pthread_attr_destroy(&attr);
	}
	if (c->cfg.pin_file || c->cfg.pin_text || c->cfg.prefetch_file || c->cfg.prefetch_text ||
	    c->cfg.bundle_file) {
		pthread_attr_t attr;

		/* musl's 128 KiB default is too small for SQLite (SQLITE_USE_ALLOCA). */
		pthread_attr_init(&attr);
		pthread_attr_setstacksize(&attr, 512 * 1024);
		if (pthread_create(&c->bg, &attr, cvmfs_background, c) == 0)
			c->bg_started = true;
		pthread_attr_destroy(&attr);
	}
	rc = cvmfs_fuse_serve(&c->fuse);
	c->stopping = 1;
	cvmfs_join_wait(c);
	log_requests(c, "unmounted");
	if (c->usr1_started) {
		pthread_kill(c->usr1, SIGUSR1);	/* it sees stopping and ends */
		pthread_join(c->usr1, NULL);
		c->usr1_started = false;
	}
	if (c->bg_started) {
		pthread_join(c->bg, NULL);
		c->bg_started = false;
	}
	cvmfs_fuse_close(&c->fuse);
	c->mounted = false;
	return rc;
}

/* see cvmfs-lite.h */
void cvmfs_client_close(struct cvmfs_client *c)
{
	struct cvmfs_catalog *cat, *next;

	if (!c)
		return;
	c->stopping = 1;
	cvmfs_join_wait(c);
	if (c->bg_started)
		pthread_join(c->bg, NULL);
	if (c->fuse.fd >= 0)
		cvmfs_fuse_close(&c->fuse);
	for (size_t b = 0; b < CVMFS_NODE_BUCKETS; b++) {
		struct cvmfs_node *n = c->nodes[b], *nn;

		for (; n; n = nn) {
			nn = n->next;
			free(n->path);
			free(n);
		}
	}
	for (cat = c->cats; cat; cat = next) {
		next = cat->next;
		cvmfs_catalog_close(cat);
	}
	if (c->cache.dirfd >= 0) {
		cvmfs_cache_pins_save(&c->cache);
		cvmfs_cache_fini(&c->cache);
	} else if (c->cfg.cache_dirfd >= 0) {
		close(c->cfg.cache_dirfd);
	}
	if (c->fetch.nhosts || c->fetch.ngroups || c->fetch.http.nschemes)
		cvmfs_fetch_fini(&c->fetch);
	cvmfs_pubkeys_fini(&c->keys);
	free(c->pubkeys_text);
	free(c->mountpoint);
	free(c);
}

static void report(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report(int fd, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	if (fd < 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 1)
		n = sizeof(buf) - 1;
	(void)!write(fd, buf, n);
	close(fd);
}

/* see cvmfs-lite.h */
int cvmfs_client_run(const struct cvmfs_client_cfg *cfg, const char *mountpoint, int ready_fd)
{
	struct cvmfs_client *c = NULL;
	struct cvmfs_client_info info;
	char why[512];
	int rc;

	/* A daemon: a reader that went away must not kill it (sockets already
	 * use MSG_NOSIGNAL; this covers ready_fd and the log). */
	signal(SIGPIPE, SIG_IGN);
	{
		sigset_t set;	/* for the serving thread's sigwait: before any thread starts */

		sigemptyset(&set);
		sigaddset(&set, SIGUSR1);
		pthread_sigmask(SIG_BLOCK, &set, NULL);
	}
	rc = cvmfs_client_open(cfg, &c, &info, why, sizeof(why));
	if (rc < 0) {
		report(ready_fd, "ERR %d %s\n", -rc, why[0] ? why : strerror(-rc));
		return rc;
	}
	if ((rc = cvmfs_client_mount(c, mountpoint)) < 0) {
		report(ready_fd, "ERR %d mount on %s failed: %s\n", -rc, mountpoint, strerror(-rc));
		cvmfs_client_close(c);
		return rc;
	}
	report(ready_fd, "OK %s %llu %s\n", info.root_hash, (unsigned long long)info.revision,
	       info.tag[0] ? info.tag : "-");
	rc = cvmfs_client_serve(c);
	cvmfs_client_close(c);
	return rc;
}
