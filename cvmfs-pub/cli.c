/* SPDX-License-Identifier: MIT */
/* cvmfs-pub/cli.c: the publisher's verbs of build/cvmboot: keygen, publish, tag, inspect. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "cvmfs-pub/internal.h"
#include "sqlite3.h"

static int report(struct cvmfs_pub_err *e, const char *verb, int rc)
{
	fprintf(stderr, "cvmboot %s: %s\n", verb, e->msg[0] ? e->msg : strerror(-rc));
	return 1;
}

/* see cvmfs-pub.h */
int cvmfs_pub_cli_keygen(int argc, char **argv)
{
	struct cvmfs_pub_err e;
	int rc;

	if (argc != 3) {
		fprintf(stderr, "usage: cvmboot keygen FQRN DIR\n"
			"  writes DIR/FQRN.{pub,masterkey,key,crt}; never overwrites\n");
		return 2;
	}
	cvmfs_pub_err_init(&e);
	rc = cvmfs_pub_keygen(argv[1], argv[2], &e);
	if (rc < 0)
		return report(&e, "keygen", rc);
	printf("keys for %s in %s: %s.pub (give to clients), %s.masterkey (keep offline), "
	       "%s.key + %s.crt (publisher)\n", argv[1], argv[2], argv[1], argv[1], argv[1], argv[1]);
	return 0;
}

static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);

	if (end == s)
		return -EINVAL;
	if (*end == 'k' || *end == 'K')
		v <<= 10, end++;
	else if (*end == 'm' || *end == 'M')
		v <<= 20, end++;
	else if (*end == 'g' || *end == 'G')
		v <<= 30, end++;
	if (*end)
		return -EINVAL;
	*out = v;
	return 0;
}

/* A time span in seconds: N, N followed by s/m/h/d/w, or upstream's
 * CVMFS_AUTO_TAG_TIMESPAN form "N <unit>[s] ago" (unit second, minute,
 * hour, day, week). 0 if it is none of these. */
static uint64_t parse_span(const char *s)
{
	static const struct { const char *word; char unit; uint64_t sec; } u[] = {
		{ "second", 's', 1 }, { "minute", 'm', 60 }, { "hour", 'h', 3600 },
		{ "day", 'd', 86400 }, { "week", 'w', 604800 },
	};
	char *end;
	unsigned long long v;
	size_t i, n;

	if (*s < '0' || *s > '9')
		return 0;
	v = strtoull(s, &end, 10);
	if (*end == '\0')
		return v;
	for (i = 0; i < sizeof(u) / sizeof(u[0]); i++) {
		if (end[0] == u[i].unit && end[1] == '\0')
			return v * u[i].sec;
		n = strlen(u[i].word);
		if (*end == ' ' && strncmp(end + 1, u[i].word, n) == 0) {
			end += 1 + n;
			end += *end == 's';
			return strcmp(end, " ago") == 0 ? v * u[i].sec : 0;
		}
	}
	return 0;
}

static int publish_usage(void)
{
	fprintf(stderr,
		"usage: cvmboot publish SRC REPO --name FQRN --keys DIR [--tag NAME]\n"
		"         [--description TEXT] [--hash sha1|rmd160|shake128]\n"
		"         [--chunk-min N] [--chunk-avg N] [--chunk-max N] (bytes, k/M/G suffix)\n"
		"         [--whitelist-days N] [--threads N] [--rehash] [--no-auto-tag] [-v]\n"
		"         [--meta-info FILE.json] [--auto-tag-timespan SPAN] [-q|--quiet]\n"
		"         [--publish-time UNIX_SECONDS]\n"
		"  Without --tag the revision is tagged generic-<UTC time> (as upstream does),\n"
		"  unless --no-auto-tag. --auto-tag-timespan removes the generic-<time> tags\n"
		"  older than SPAN (seconds, or 12h, 30d, 4w, or upstream's \"4 weeks ago\"), as\n"
		"  upstream's CVMFS_AUTO_TAG_TIMESPAN does; named tags stay. The meta-info object (a JSON object: administrator,\n"
		"  email, organisation, description, url, recommended-stratum0,\n"
		"  recommended-stratum1s, custom) stays as it was unless --meta-info is given.\n"
		"  On a terminal a progress line shows the phase, entries and bytes done and\n"
		"  the rate; -q prints nothing but errors; -v adds each phase's time (stderr).\n"
		"  --publish-time stamps the revision with that time instead of now (still\n"
		"  later than the previous revision's): the same tree and keys then give the\n"
		"  same objects and root catalog, whatever --threads is.\n");
	return 2;
}

/* see cvmfs-pub.h */
int cvmfs_pub_cli_publish(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "name", 1, 0, 'n' }, { "keys", 1, 0, 'k' }, { "tag", 1, 0, 't' },
		{ "description", 1, 0, 'd' }, { "hash", 1, 0, 'H' }, { "chunk-min", 1, 0, '1' },
		{ "chunk-avg", 1, 0, '2' }, { "chunk-max", 1, 0, '3' },
		{ "whitelist-days", 1, 0, 'w' }, { "threads", 1, 0, 'j' }, { "rehash", 0, 0, 'r' },
		{ "verbose", 0, 0, 'v' }, { "no-auto-tag", 0, 0, 'A' }, { "meta-info", 1, 0, 'M' },
		{ "quiet", 0, 0, 'q' }, { "auto-tag-timespan", 1, 0, 'G' },
		{ "publish-time", 1, 0, 'T' }, { 0, 0, 0, 0 },
	};
	struct cvmfs_pub_opts o = {
		.algo = CVMFS_HASH_SHA1, .chunk_min = CVMFS_PUB_CHUNK_MIN,
		.chunk_avg = CVMFS_PUB_CHUNK_AVG, .chunk_max = CVMFS_PUB_CHUNK_MAX,
		.whitelist_days = CVMFS_PUB_WHITELIST_DAYS,
	};
	struct cvmfs_pub_result r;
	struct cvmfs_pub_err e;
	char hex[CVMFS_HASH_HEX_MAX];
	int c, rc, a, quiet = 0;
	uint64_t v;
	char *end;

	optind = 1;
	while ((c = getopt_long(argc, argv, "vq", lo, NULL)) != -1) {
		switch (c) {
		case 'q': quiet = 1; break;
		case 'n': o.fqrn = optarg; break;
		case 'k': o.keydir = optarg; break;
		case 't': o.tag = optarg; break;
		case 'd': o.description = optarg; break;
		case 'H':
			a = cvmfs_hash_algo_parse(optarg);
			if (a < 0 || a == CVMFS_HASH_MD5) {
				fprintf(stderr, "cvmboot publish: --hash must be sha1, rmd160 or shake128\n");
				return 2;
			}
			o.algo = (enum cvmfs_hash_algo)a;
			break;
		case '1': case '2': case '3':
			if (parse_size(optarg, &v) < 0)
				return publish_usage();
			*(c == '1' ? &o.chunk_min : c == '2' ? &o.chunk_avg : &o.chunk_max) = v;
			break;
		case 'w': o.whitelist_days = (unsigned)atoi(optarg); break;
		case 'j': o.threads = (unsigned)atoi(optarg); break;
		case 'r': o.rehash = 1; break;
		case 'v': o.verbose = 1; break;
		case 'A': o.no_auto_tag = 1; break;
		case 'M': o.meta_info = optarg; break;
		case 'T':
			o.publish_time = strtoull(optarg, &end, 10);
			if (*optarg < '1' || *optarg > '9' || *end) {
				fprintf(stderr, "cvmboot publish: --publish-time '%s': give Unix "
					"seconds\n", optarg);
				return 2;
			}
			break;
		case 'G':
			o.auto_tag_timespan = parse_span(optarg);
			if (o.auto_tag_timespan == 0) {
				fprintf(stderr, "cvmboot publish: --auto-tag-timespan '%s': not a time "
					"span; give seconds, 12h, 30d, 4w or \"4 weeks ago\"\n", optarg);
				return 2;
			}
			break;
		default: return publish_usage();
		}
	}
	if (argc - optind != 2 || !o.fqrn || !o.keydir || o.whitelist_days == 0)
		return publish_usage();
	if (o.tag && (!*o.tag || strpbrk(o.tag, "\n\r") || strcmp(o.tag, "trunk") == 0 ||
		      strcmp(o.tag, "trunk-previous") == 0)) {
		fprintf(stderr, "cvmboot publish: bad tag name '%s' (trunk and trunk-previous are "
			"maintained by publish)\n", o.tag);
		return 2;
	}
	o.src = argv[optind];
	o.repo = argv[optind + 1];
	/* the live progress line only on a terminal, never in logs or pipes */
	o.progress = !quiet && isatty(STDOUT_FILENO);
	cvmfs_pub_err_init(&e);
	rc = cvmfs_pub_run(&o, &r, &e);
	if (rc < 0) {
		report(&e, "publish", rc);
		fprintf(stderr, "cvmboot publish: %s is unchanged (still at its previous revision)\n",
			o.repo);
		return 1;
	}
	if (quiet)
		return 0;
	cvmfs_hash_fmt(&r.root, hex, sizeof(hex));
	printf("published %s revision %llu: root catalog %s%s%s\n", o.fqrn,
	       (unsigned long long)r.revision, hex, r.tag[0] ? ", tag " : "", r.tag);
	printf("  %llu files, %llu bytes; %llu new objects, %llu already present; "
	       "%llu catalogs written; %.3f s\n", (unsigned long long)r.files,
	       (unsigned long long)r.bytes, (unsigned long long)r.objects_new,
	       (unsigned long long)r.objects_reused, (unsigned long long)r.catalogs_new, r.seconds);
	if (r.tags_expired)
		printf("  %u generic tags older than %llu s removed (cvmboot gc reclaims what only "
		       "they kept)\n", r.tags_expired, (unsigned long long)o.auto_tag_timespan);
	return 0;
}

static int tag_usage(void)
{
	fprintf(stderr,
		"usage: cvmboot tag REPO list\n"
		"       cvmboot tag REPO add NAME --keys DIR [--revision N | --hash HEX] "
		"[--description TEXT]\n"
		"       cvmboot tag REPO rm NAME --keys DIR\n");
	return 2;
}

static int tag_list(const char *repo, const struct cvmfs_manifest *m)
{
	struct cvmfs_pub_store s;
	struct cvmfs_pub_err e;
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	char tmp[256];
	int rc;

	cvmfs_pub_err_init(&e);
	if (!(m->have & CVMFS_MF_H)) {
		printf("(no history database: no tags)\n");
		return 0;
	}
	if ((rc = cvmfs_pub_store_open(&s, repo, m->root.algo, &e)) < 0)
		return report(&e, "tag", rc);
	rc = cvmfs_pub_history_open(&s, &m->history, tmp, sizeof(tmp));
	if (rc < 0) {
		fprintf(stderr, "cvmboot tag: history object unreadable or corrupt: %s\n",
			strerror(-rc));
		cvmfs_pub_store_close(&s);
		return 1;
	}
	if (sqlite3_open_v2(tmp, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, "SELECT name, revision, timestamp, hash, description FROM tags "
			       "ORDER BY revision DESC, name", -1, &st, NULL) == SQLITE_OK) {
		printf("%-24s %8s  %-20s  %-49s %s\n", "NAME", "REVISION", "TIMESTAMP (UTC)",
		       "ROOT CATALOG", "DESCRIPTION");
		while (sqlite3_step(st) == SQLITE_ROW) {
			time_t ts = (time_t)sqlite3_column_int64(st, 2);
			char when[32];
			struct tm tm;

			gmtime_r(&ts, &tm);
			strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
			printf("%-24s %8lld  %-20s  %-49s %s\n", sqlite3_column_text(st, 0),
			       (long long)sqlite3_column_int64(st, 1), when,
			       sqlite3_column_text(st, 3), sqlite3_column_text(st, 4) ?
			       (const char *)sqlite3_column_text(st, 4) : "");
		}
		rc = 0;
	} else {
		fprintf(stderr, "cvmboot tag: history database is not readable SQLite\n");
		rc = 1;
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	unlink(tmp);
	cvmfs_pub_store_close(&s);
	return rc;
}

/* Finds the tag target: by revision or hash in the history, else HEAD. */
static int tag_target(struct cvmfs_pub_store *s, const struct cvmfs_manifest *m, long long rev,
		      const char *hash, struct cvmfs_pub_tag *t)
{
	char tmp[256], hex[CVMFS_HASH_HEX_MAX];
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int rc = -ENOENT;

	t->root = m->root;
	t->revision = m->revision;
	t->timestamp = m->timestamp;
	t->size = m->root_size;
	cvmfs_hash_fmt(&m->root, hex, sizeof(hex));
	if (rev < 0 && (!hash || strcmp(hash, hex) == 0))
		return 0;
	if (!(m->have & CVMFS_MF_H) || cvmfs_pub_history_open(s, &m->history, tmp, sizeof(tmp)) < 0)
		return -ENOENT;
	if (sqlite3_open_v2(tmp, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, rev >= 0 ?
			       "SELECT hash, revision, timestamp, size FROM tags WHERE revision = ?" :
			       "SELECT hash, revision, timestamp, size FROM tags WHERE hash = ?",
			       -1, &st, NULL) == SQLITE_OK) {
		if (rev >= 0)
			sqlite3_bind_int64(st, 1, rev);
		else
			sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW) {
			const char *h = (const char *)sqlite3_column_text(st, 0);

			if (h && cvmfs_hash_parse(h, strlen(h), &t->root) == 0) {
				t->revision = (uint64_t)sqlite3_column_int64(st, 1);
				t->timestamp = (uint64_t)sqlite3_column_int64(st, 2);
				t->size = (uint64_t)sqlite3_column_int64(st, 3);
				rc = 0;
			}
		}
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	unlink(tmp);
	return rc;
}

static int tag_edit(const char *repo, const char *verb, const char *name, const char *keydir,
		    long long rev, const char *hash, const char *desc)
{
	struct cvmfs_manifest m, nm;
	struct cvmfs_pub_signer k;
	struct cvmfs_pub_store s = { .repofd = -1, .datafd = -1, .tmpfd = -1 };
	struct cvmfs_pub_rng rng;
	struct cvmfs_pub_err e;
	struct cvmfs_pub_tag t = { 0 };
	struct cvmfs_pub_ref ref;
	unsigned char *raw = NULL, *reflog = NULL;
	size_t reflog_len = 0;
	char fqrn[CVMFS_FQRN_MAX], path[4096];
	size_t len;
	int rc, add = strcmp(verb, "add") == 0, have_rng = 0;

	cvmfs_pub_err_init(&e);
	memset(&k, 0, sizeof(k));
	cvmfs_cert_init(&k.cert);
	snprintf(path, sizeof(path), "%s/.cvmfspublished", repo);
	rc = cvmfs_pub_read_file(AT_FDCWD, path, CVMFS_MANIFEST_MAX, &raw, &len);
	if (rc < 0 || cvmfs_manifest_parse(raw, len, &m, NULL) < 0 || !(m.have & CVMFS_MF_N)) {
		fprintf(stderr, "cvmboot tag: %s: no readable manifest (publish first)\n", path);
		free(raw);
		return 1;
	}
	snprintf(fqrn, sizeof(fqrn), "%s", m.fqrn);
	free(raw);
	raw = NULL;
	if ((rc = cvmfs_pub_signer_load(&k, keydir, fqrn, 0, &e)) < 0)
		goto out;
	if ((rc = cvmfs_pub_rng_init(&rng)) < 0)
		goto out;
	have_rng = 1;
	if ((rc = cvmfs_pub_store_open(&s, repo, m.root.algo, &e)) < 0)
		goto out;
	if (flock(s.repofd, LOCK_EX | LOCK_NB) < 0) {
		rc = cvmfs_pub_fail(&e, -EBUSY, "%s: a publish or tag edit is running", repo);
		goto out;
	}
	cvmfs_pub_store_sweep(&s);	/* temporary files of a killed publish */
	/* Re-read under the lock, with the signature checked this time. */
	rc = cvmfs_pub_manifest_load(repo, fqrn, &k.cert, &raw, &m, &e);
	if (rc <= 0) {
		rc = rc ? rc : cvmfs_pub_fail(&e, -ENOENT, "%s vanished", path);
		goto out;
	}
	if (add && (rc = tag_target(&s, &m, rev, hash, &t)) < 0) {
		cvmfs_pub_fail(&e, rc, "no revision %s%s in the history of %s",
			       rev >= 0 ? "number " : "with root catalog ",
			       rev >= 0 ? "given" : hash, repo);
		goto out;
	}
	t.name = add ? name : NULL;
	t.description = desc;
	nm = m;
	rc = cvmfs_pub_history_update(&s, fqrn, (m.have & CVMFS_MF_H) ? &m.history : NULL, add ? &t : NULL,
				0, add ? NULL : name, 0, NULL, &nm.history, &e);
	if (rc < 0)
		goto out;
	nm.have |= CVMFS_MF_H | CVMFS_MF_T | CVMFS_MF_Y;
	nm.timestamp = (uint64_t)time(NULL);
	if (nm.timestamp <= m.timestamp)
		nm.timestamp = m.timestamp + 1;
	ref = (struct cvmfs_pub_ref){ nm.history, CVMFS_PUB_REF_HISTORY };
	rc = cvmfs_pub_reflog_build(&s, fqrn, &ref, 1, NULL, 0, &reflog, &reflog_len, &e);
	if (rc == 0)
		rc = cvmfs_hash_buf(m.root.algo, reflog, reflog_len, &nm.reflog);
	if (rc == 0)
		rc = cvmfs_pub_manifest_commit(repo, &s, &k, &rng, &nm, reflog, reflog_len, &e);
out:
	free(raw);
	free(reflog);
	cvmfs_pub_store_close(&s);
	if (have_rng)
		cvmfs_pub_rng_fini(&rng);
	cvmfs_pub_signer_fini(&k);
	if (rc < 0)
		return report(&e, "tag", rc);
	printf("%s tag '%s' in %s\n", add ? "added" : "removed", name, repo);
	return 0;
}

/* see cvmfs-pub.h */
int cvmfs_pub_cli_tag(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "keys", 1, 0, 'k' }, { "revision", 1, 0, 'r' }, { "hash", 1, 0, 'H' },
		{ "description", 1, 0, 'd' }, { 0, 0, 0, 0 },
	};
	const char *keydir = NULL, *hash = NULL, *desc = NULL;
	long long rev = -1;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'k': keydir = optarg; break;
		case 'r': rev = atoll(optarg); break;
		case 'H': hash = optarg; break;
		case 'd': desc = optarg; break;
		default: return tag_usage();
		}
	}
	if (argc - optind == 2 && strcmp(argv[optind + 1], "list") == 0) {
		unsigned char *raw;
		struct cvmfs_manifest m;
		char path[4096];
		size_t len;
		int rc;

		snprintf(path, sizeof(path), "%s/.cvmfspublished", argv[optind]);
		if (cvmfs_pub_read_file(AT_FDCWD, path, CVMFS_MANIFEST_MAX, &raw, &len) < 0) {
			fprintf(stderr, "cvmboot tag: %s: no manifest (publish first)\n", path);
			return 1;
		}
		if (cvmfs_manifest_parse(raw, len, &m, NULL) < 0) {
			fprintf(stderr, "cvmboot tag: %s: malformed manifest\n", path);
			free(raw);
			return 1;
		}
		rc = tag_list(argv[optind], &m);
		free(raw);
		return rc;
	}
	if (argc - optind != 3 || !keydir ||
	    (strcmp(argv[optind + 1], "add") != 0 && strcmp(argv[optind + 1], "rm") != 0))
		return tag_usage();
	if (strcmp(argv[optind + 2], "trunk") == 0 || strcmp(argv[optind + 2], "trunk-previous") == 0 ||
	    strpbrk(argv[optind + 2], "\n\r") || !argv[optind + 2][0]) {
		fprintf(stderr, "cvmboot tag: '%s' is reserved or not a tag name\n", argv[optind + 2]);
		return 2;
	}
	return tag_edit(argv[optind], argv[optind + 1], argv[optind + 2], keydir, rev, hash, desc);
}

/* see cvmfs-pub.h */
int cvmfs_pub_cli_inspect(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "verify", 0, 0, 'V' }, { "expired-whitelist-ok", 0, 0, 'E' },
		{ "pubkey", 1, 0, 'p' }, { "keys", 1, 0, 'k' }, { "tree", 0, 0, 't' },
		{ 0, 0, 0, 0 },
	};
	struct cvmfs_pub_inspect_opts o = { 0 };
	struct cvmfs_pub_err e;
	const char *keydir = NULL;
	char pk[4096];
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'V': o.verify = 1; break;
		case 'E': o.expired_ok = 1; break;
		case 'p': o.pubkey = optarg; break;
		case 'k': keydir = optarg; break;
		case 't': o.tree = 1; break;
		default: goto usage;
		}
	}
	if (argc - optind != 1)
		goto usage;
	o.repo = argv[optind];
	cvmfs_pub_err_init(&e);
	o.keydir = keydir;
	(void)pk;
	rc = cvmfs_pub_inspect_run(&o, &e);
	if (rc < 0) {
		fprintf(stderr, "cvmboot inspect: FAILED: %s\n", e.msg[0] ? e.msg : strerror(-rc));
		return 1;
	}
	return 0;
usage:
	fprintf(stderr, "usage: cvmboot inspect DIR|URL [--verify] [--expired-whitelist-ok]\n"
		"         [--pubkey FILE.pub | --keys DIR] [--tree]\n"
		"  the master public key defaults to DIR/FQRN.pub of --keys, else\n"
		"  /etc/cvmfs/keys/FQRN.pub\n");
	return 2;
}
