/* SPDX-License-Identifier: MIT */
/* fuzz_catalog: a file catalog (the decompressed SQLite file of a C object)
 * through the client's query layer: cvmfs_catalog_open on a memfd, then
 * cvmfs_catalog_lookup of the root, cvmfs_catalog_list of the root with a
 * lookup, chunk list and nested-catalog query of every child. The client
 * only opens catalogs whose object hash matched a signed manifest, so this
 * is the robustness of the query layer against a hostile publisher. */
#include "tests/fuzz/fuzz.h"
#include "cvmfs-lite/internal.h"

#define CHILDREN_MAX 64

/* Children collected by the list callback; queried after the list ends
 * (the callback runs with the catalog's lock held: no queries inside). */
struct walk {
	char name[CHILDREN_MAX][CVMFS_NAME_MAX + 1];
	int algo[CHILDREN_MAX];
	unsigned n;
};

static int child(void *arg, struct cvmfs_dirent *d)
{
	struct walk *w = arg;

	if (strlen(d->name) > CVMFS_NAME_MAX)
		abort();	/* the row's name must fit the dirent */
	if (d->xattr_len && !d->xattr)
		abort();
	if (w->n >= CHILDREN_MAX)
		return -1;
	memcpy(w->name[w->n], d->name, sizeof(d->name));
	w->algo[w->n++] = d->has_hash ? (int)d->hash.algo : CVMFS_HASH_SHA1;
	return 0;
}

static void query(struct cvmfs_catalog *cat, const char *name, int algo)
{
	char path[CVMFS_NAME_MAX + 2];
	struct cvmfs_dirent e;
	struct cvmfs_chunk *ch = NULL;
	struct cvmfs_hash h;
	size_t n = 0;

	snprintf(path, sizeof(path), "/%s", name);
	if (cvmfs_catalog_lookup(cat, path, &e) == 0)
		cvmfs_dirent_fini(&e);
	if (cvmfs_catalog_chunks(cat, path, (enum cvmfs_hash_algo)algo, &ch, &n) == 0)
		free(ch);
	cvmfs_catalog_nested(cat, path, &h);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	static struct walk w;
	struct cvmfs_hash h = { CVMFS_HASH_SHA1, { 0 } };
	struct cvmfs_catalog *cat;
	struct cvmfs_dirent e;
	int fd, err = 0;

	if (n > 1 << 20)
		return 0;
	fd = fuzz_memfd(d, n);
	cat = cvmfs_catalog_open(fd, "", &h, 0, &err);
	close(fd);	/* the catalog keeps its own dup */
	if (!cat) {
		if (err >= 0)
			abort();	/* NULL comes with an error */
		return 0;
	}
	if (cvmfs_catalog_lookup(cat, "", &e) == 0)
		cvmfs_dirent_fini(&e);
	w.n = 0;
	cvmfs_catalog_list(cat, "", child, &w);
	for (unsigned i = 0; i < w.n; i++)
		query(cat, w.name[i], w.algo[i]);
	cvmfs_catalog_close(cat);
	return 0;
}
