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

struct walk {
	struct cvmfs_catalog *cat;
	unsigned n;
};

static int child(void *arg, struct cvmfs_dirent *d)
{
	struct walk *w = arg;
	char path[CVMFS_NAME_MAX + 2];
	struct cvmfs_dirent e;
	struct cvmfs_chunk *ch = NULL;
	struct cvmfs_hash h;
	size_t n = 0;

	if (strlen(d->name) > CVMFS_NAME_MAX)
		abort();	/* the row's name must fit the dirent */
	if (d->xattr_len && !d->xattr)
		abort();
	if (w->n++ >= CHILDREN_MAX)
		return -1;
	snprintf(path, sizeof(path), "/%s", d->name);
	if (cvmfs_catalog_lookup(w->cat, path, &e) == 0)
		cvmfs_dirent_fini(&e);
	if (cvmfs_catalog_chunks(w->cat, path, d->has_hash ? d->hash.algo : CVMFS_HASH_SHA1,
				 &ch, &n) == 0)
		free(ch);
	cvmfs_catalog_nested(w->cat, path, &h);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct cvmfs_hash h = { CVMFS_HASH_SHA1, { 0 } };
	struct cvmfs_catalog *cat;
	struct cvmfs_dirent e;
	struct walk w = { 0 };
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
	w.cat = cat;
	cvmfs_catalog_list(cat, "", child, &w);
	cvmfs_catalog_close(cat);
	return 0;
}
