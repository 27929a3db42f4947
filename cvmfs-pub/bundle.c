/* SPDX-License-Identifier: MIT */
/* cvmfs-pub/bundle.c: `cvmboot bundle`: packs the objects a boot reads
 * (first-use order) into a few bundle objects and writes their index, to be
 * published as a file of the tree (format: cvmfs-lite/bundle.c). Bundles
 * grow from --first to --max bytes, so the first arrives quickly. Unless
 * --metadata, what a booting mount never takes from a bundle is left out:
 * root catalogs of any revision (the reflog's; the publish that adds the
 * index makes a new one, read before the index anyway), certificates,
 * histories and meta-info (read before the index or never). Nested
 * catalogs stay: an unchanged subtree keeps its catalog in the next
 * revision. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "cvmfs-pub/internal.h"
#include "sqlite3.h"

#define OBJ_MAX (64u << 20)

struct obj {
	struct cvmfs_hash h;
	char suffix;
	size_t order;
};

static const char usage_text[] =
	"usage: cvmboot bundle --repo DIR --objects LIST --out INDEX [--first BYTES] [--max BYTES]\n"
	"                      [--metadata]\n"
	"  LIST: one object a line in first-use order, as data/xx/<hex>[suffix] (a URL or an\n"
	"        access-log line holding that is fine) or <hex>[suffix]; repeats are dropped.\n"
	"  Writes the bundles into DIR/data and their index to INDEX: put INDEX into the tree\n"
	"  as /.cvmboot_bundles and publish; cvmfs-lite then fetches each bundle in one GET.\n"
	"  --metadata: bundle root catalogs (any in DIR/.cvmfsreflog), certificates, histories\n"
	"        and meta-info too; by default they are left out (a mount reads its own before\n"
	"        the index), nested catalogs and file contents are bundled.\n";

/* One object name out of a line; 0, or -EINVAL when the line names none. */
static int parse_line(const char *l, struct obj *o)
{
	char hex[CVMFS_HASH_HEX_MAX + 1];
	const char *p = strstr(l, "data/");
	size_t n = 0;

	if (p && strlen(p) > 8 && p[7] == '/') {
		hex[n++] = p[5];
		hex[n++] = p[6];
		p += 8;
	} else {
		p = l + strspn(l, " \t");
	}
	while (*p && !strchr(" \t\r\n?\"", *p) && n < sizeof(hex) - 1)
		hex[n++] = *p++;
	hex[n] = 0;
	o->suffix = 0;
	if (n && hex[n - 1] >= 'A' && hex[n - 1] <= 'Z')
		o->suffix = hex[--n];
	return cvmfs_hash_parse(hex, n, &o->h);
}

static int by_key(const void *a, const void *b)
{
	const struct obj *x = a, *y = b;
	int c = memcmp(&x->h, &y->h, sizeof(x->h));

	if (c == 0)
		c = x->suffix - y->suffix;
	return c ? c : (x->order > y->order) - (x->order < y->order);
}

static int by_order(const void *a, const void *b)
{
	const struct obj *x = a, *y = b;

	return (x->order > y->order) - (x->order < y->order);
}

struct roots {
	struct cvmfs_hash *h;
	size_t n;
};

/* The root catalogs of every revision the reflog REPO/.cvmfsreflog lists
 * (type 0). 0 (none without a reflog) or -errno. */
static int roots_load(const char *repo, struct roots *r)
{
	char path[4096];
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	size_t cap = 0;
	int rc = 0;

	snprintf(path, sizeof(path), "%s/.cvmfsreflog", repo);
	if (access(path, F_OK) < 0)
		return 0;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "SELECT hash FROM refs WHERE type = 0", -1, &st, NULL) !=
	    SQLITE_OK) {
		rc = -EBADMSG;
		goto out;
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *hex = (const char *)sqlite3_column_text(st, 0);
		struct cvmfs_hash h;

		if (!hex || cvmfs_hash_parse(hex, strlen(hex), &h) < 0)
			continue;
		if (r->n == cap) {
			struct cvmfs_hash *nh = realloc(r->h, (cap = cap ? cap * 2 : 16) * sizeof(h));

			if (!nh) {
				rc = -ENOMEM;
				goto out;
			}
			r->h = nh;
		}
		r->h[r->n++] = h;
	}
out:
	sqlite3_finalize(st);
	sqlite3_close(db);
	return rc;
}

/* 1 if ob is what a booting mount never takes from a bundle (see top). */
static int is_boot_metadata(const struct obj *ob, const struct roots *r)
{
	if (ob->suffix == CVMFS_SUFFIX_CERT || ob->suffix == CVMFS_SUFFIX_HISTORY ||
	    ob->suffix == CVMFS_SUFFIX_META)
		return 1;
	if (ob->suffix == CVMFS_SUFFIX_CATALOG)
		for (size_t i = 0; i < r->n; i++)
			if (cvmfs_hash_eq(&r->h[i], &ob->h))
				return 1;
	return 0;
}

/* Reads the list, drops repeats (first use wins) and, with roots, what
 * is_boot_metadata says (counted in *nmeta). */
static int load_list(const char *path, const struct roots *roots, struct obj **out, size_t *n,
		     size_t *nmeta)
{
	unsigned char *text;
	size_t len, cap = 0, m = 0, k = 0;
	struct obj *v = NULL;
	int rc = cvmfs_pub_read_file(AT_FDCWD, path, 64 << 20, &text, &len);

	if (rc < 0)
		return rc;
	for (char *sv, *l = strtok_r((char *)text, "\n", &sv); l; l = strtok_r(NULL, "\n", &sv)) {
		struct obj o;

		if (parse_line(l, &o) < 0)
			continue;
		if (roots && is_boot_metadata(&o, roots)) {
			++*nmeta;
			continue;
		}
		if (m == cap) {
			struct obj *nv = realloc(v, (cap = cap ? cap * 2 : 256) * sizeof(*v));

			if (!nv) {
				rc = -ENOMEM;
				goto out;
			}
			v = nv;
		}
		o.order = m;
		v[m++] = o;
	}
	qsort(v, m, sizeof(*v), by_key);
	for (size_t i = 0; i < m; i++)
		if (k == 0 || memcmp(&v[i].h, &v[k - 1].h, sizeof(v[i].h)) ||
		    v[i].suffix != v[k - 1].suffix)
			v[k++] = v[i];
	qsort(v, k, sizeof(*v), by_order);
	*out = v;
	*n = k;
	v = NULL;
out:
	free(v);
	free(text);
	return rc;
}

/* 1 if buf is exactly one zlib stream (a compressed object), else 0. */
static int is_zlib(const unsigned char *buf, size_t len)
{
	unsigned char sink[16384];
	z_stream z = { .next_in = (unsigned char *)buf, .avail_in = (uInt)len };
	int rc;

	if (len < 2 || inflateInit(&z) != Z_OK)
		return 0;
	do {
		z.next_out = sink;
		z.avail_out = sizeof(sink);
		rc = inflate(&z, Z_NO_FLUSH);
	} while (rc == Z_OK);
	inflateEnd(&z);
	return rc == Z_STREAM_END && z.avail_in == 0;
}

struct out {
	struct cvmfs_pub_store *s;
	enum cvmfs_hash_algo algo;
	unsigned char *buf;		/* the bundle being filled */
	size_t len, cap;
	char *lines;			/* its index lines */
	size_t llen, lcap;
	FILE *idx;
	size_t nbundles;
};

static int append(char **p, size_t *len, size_t *cap, const void *d, size_t n)
{
	if (*len + n > *cap) {
		size_t nc = (*len + n) * 2;
		char *np = realloc(*p, nc);

		if (!np)
			return -ENOMEM;
		*p = np;
		*cap = nc;
	}
	memcpy(*p + *len, d, n);
	*len += n;
	return 0;
}

static int flush_bundle(struct out *o)
{
	struct cvmfs_hash_ctx hc;
	struct cvmfs_hash h;
	char hex[CVMFS_HASH_HEX_MAX];
	int rc;

	if (o->len == 0)
		return 0;
	cvmfs_hash_init(&hc, o->algo);
	cvmfs_hash_update(&hc, o->buf, o->len);
	cvmfs_hash_final(&hc, &h);
	if ((rc = cvmfs_pub_store_put(o->s, &h, CVMFS_SUFFIX_NONE, o->buf, o->len)) < 0)
		return rc;
	cvmfs_hash_fmt(&h, hex, sizeof(hex));
	fprintf(o->idx, "bundle %s %zu\n%.*s", hex, o->len, (int)o->llen, o->lines);
	o->nbundles++;
	o->len = o->llen = 0;
	return 0;
}

static int add_object(struct out *o, struct cvmfs_pub_store *s, const struct obj *ob)
{
	char rel[CVMFS_OBJ_PATH_MAX], hex[CVMFS_HASH_HEX_MAX], line[CVMFS_HASH_HEX_MAX + 40];
	unsigned char *data;
	size_t len;
	struct cvmfs_hash_ctx hc;
	struct cvmfs_hash got;
	int rc, n;

	cvmfs_hash_objpath(&ob->h, ob->suffix, rel, sizeof(rel));
	if ((rc = cvmfs_pub_read_file(s->repofd, rel, OBJ_MAX, &data, &len)) < 0) {
		fprintf(stderr, "cvmboot bundle: %s: %s\n", rel, strerror(-rc));
		return rc;
	}
	cvmfs_hash_init(&hc, ob->h.algo);
	cvmfs_hash_update(&hc, data, len);
	cvmfs_hash_final(&hc, &got);
	if (!cvmfs_hash_eq(&got, &ob->h) || len == 0) {
		fprintf(stderr, "cvmboot bundle: %s does not match its name (a damaged repository); "
			"run cvmboot inspect --verify\n", rel);
		free(data);
		return -EBADMSG;
	}
	cvmfs_hash_fmt(&ob->h, hex, sizeof(hex));
	n = snprintf(line, sizeof(line), "%s%.*s %zu %s\n", hex, ob->suffix ? 1 : 0, &ob->suffix,
		     len, is_zlib(data, len) ? "z" : "-");
	rc = append((char **)&o->buf, &o->len, &o->cap, data, len);
	if (rc == 0)
		rc = append(&o->lines, &o->llen, &o->lcap, line, (size_t)n);
	free(data);
	return rc;
}

int cvmfs_pub_cli_bundle(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "repo", 1, 0, 'r' }, { "objects", 1, 0, 'o' }, { "out", 1, 0, 'O' },
		{ "first", 1, 0, 'f' }, { "max", 1, 0, 'm' }, { "metadata", 0, 0, 'M' },
		{ "help", 0, 0, 'h' }, { 0 },
	};
	const char *repo = NULL, *list = NULL, *outp = NULL;
	size_t first = 256 << 10, max = 4 << 20, target, nobj = 0, bytes = 0, nmeta = 0;
	bool metadata = false;
	struct roots roots = { 0 };
	struct cvmfs_pub_store s = { .repofd = -1 };
	struct cvmfs_pub_err e;
	struct out o = { .s = &s, .algo = CVMFS_HASH_SHA1 };
	struct obj *v = NULL;
	char tmp[4096];
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (opt) {
		case 'r': repo = optarg; break;
		case 'o': list = optarg; break;
		case 'O': outp = optarg; break;
		case 'f': first = strtoull(optarg, NULL, 10); break;
		case 'm': max = strtoull(optarg, NULL, 10); break;
		case 'M': metadata = true; break;
		case 'h': fputs(usage_text, stdout); return 0;
		default: fputs(usage_text, stderr); return 2;
		}
	}
	if (!repo || !list || !outp || optind != argc || first == 0 || max < first) {
		fputs(usage_text, stderr);
		return 2;
	}
	cvmfs_pub_err_init(&e);
	snprintf(tmp, sizeof(tmp), "%s/.cvmfspublished", repo);
	if (access(tmp, F_OK) < 0) {
		fprintf(stderr, "cvmboot bundle: %s is not a published repository (no "
			".cvmfspublished); publish the tree first\n", repo);
		return 1;
	}
	if (!metadata && (rc = roots_load(repo, &roots)) < 0) {
		fprintf(stderr, "cvmboot bundle: %s/.cvmfsreflog: %s; give --metadata to bundle "
			"without it\n", repo, rc == -ENOMEM ? "out of memory" : "not a readable reflog");
		return 1;
	}
	if ((rc = load_list(list, metadata ? NULL : &roots, &v, &nobj, &nmeta)) < 0) {
		free(roots.h);
		fprintf(stderr, "cvmboot bundle: cannot read object list %s: %s\n", list, strerror(-rc));
		return 1;
	}
	if ((rc = cvmfs_pub_store_open(&s, repo, CVMFS_HASH_SHA1, &e)) < 0) {
		fprintf(stderr, "cvmboot bundle: repository %s: %s\n", repo, e.msg[0] ? e.msg :
			strerror(-rc));
		goto out;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", outp);
	if (!(o.idx = fopen(tmp, "w"))) {
		rc = -errno;
		fprintf(stderr, "cvmboot bundle: cannot write %s: %s\n", tmp, strerror(errno));
		goto out;
	}
	fprintf(o.idx, "# cvmboot bundles 1\n");
	target = first;
	for (size_t i = 0; i < nobj; i++) {
		if ((rc = add_object(&o, &s, &v[i])) < 0)
			goto out;
		if (o.len >= target) {
			bytes += o.len;
			if ((rc = flush_bundle(&o)) < 0)
				goto out;
			target = target * 2 > max ? max : target * 2;
		}
	}
	bytes += o.len;
	if ((rc = flush_bundle(&o)) < 0)
		goto out;
	if (fclose(o.idx) != 0 || rename(tmp, outp) < 0) {
		o.idx = NULL;
		rc = -errno;
		fprintf(stderr, "cvmboot bundle: cannot write %s: %s\n", outp, strerror(errno));
		goto out;
	}
	o.idx = NULL;
	printf("bundle: %zu objects, %zu bytes in %zu bundles; index %s", nobj, bytes,
	       o.nbundles, outp);
	if (nmeta)
		printf(" (%zu root catalogs, certificates, ... left out; --metadata keeps them)",
		       nmeta);
	printf("\n");
out:
	if (rc == -ENOMEM)
		fprintf(stderr, "cvmboot bundle: out of memory\n");
	if (o.idx) {
		fclose(o.idx);
		unlink(tmp);
	}
	if (s.repofd >= 0)
		cvmfs_pub_store_close(&s);
	free(o.buf);
	free(o.lines);
	free(roots.h);
	free(v);
	return rc < 0 ? 1 : 0;
}
