/* SPDX-License-Identifier: MIT */
/* cvmfs-lite/catalog-load.c: catalogs as the client uses them: a catalog
 * object fetched and verified (objects.c), opened (catalog.c) and registered
 * with its inode range; nested catalogs loaded once, on first use. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "cvmfs-lite/internal.h"

/* see internal.h */
int cvmfs_catalog_load(struct cvmfs_client *c, const struct cvmfs_hash *h, const char *path,
		       struct cvmfs_catalog *parent, uint64_t max, struct cvmfs_catalog **out)
{
	struct cvmfs_catalog *cat;
	char hex[CVMFS_HASH_HEX_MAX];
	int fd, rc;

	cvmfs_hash_fmt(h, hex, sizeof(hex));
	if ((rc = cvmfs_object_get(c, h, CVMFS_SUFFIX_CATALOG, true, CVMFS_SIZE_UNKNOWN,
				   max ? max : CVMFS_CATALOG_MAX, &fd)) < 0) {
		cvmfs_log(c, "catalog %s for '%s': %s", hex, *path ? path : "/", strerror(-rc));
		return rc;
	}
	pthread_mutex_lock(&c->cat_lock);
	cat = cvmfs_catalog_open(fd, path, h, c->next_offset, &rc);
	if (cat) {
		c->next_offset += cat->ino_span;
		cat->parent = parent;
		cat->next = c->cats;
		c->cats = cat;
	}
	pthread_mutex_unlock(&c->cat_lock);
	close(fd);
	if (!cat) {
		cvmfs_log(c, "catalog %s for '%s': %s", hex, *path ? path : "/",
			  rc == -EPROTONOSUPPORT ? "unsupported schema (need 2.5, revision 2..7)" :
			  "not a valid catalog database");
		return rc;
	}
	/* Loaded catalogs stay in the cache: a warm restart needs them offline. */
	cvmfs_cache_hold(&c->cache, h, false, 1);
	*out = cat;
	return 0;
}

static struct cvmfs_catalog *find_loaded(struct cvmfs_client *c, const char *path)
{
	struct cvmfs_catalog *cat;

	pthread_mutex_lock(&c->cat_lock);
	for (cat = c->cats; cat; cat = cat->next)
		if (strcmp(cat->path, path) == 0)
			break;
	pthread_mutex_unlock(&c->cat_lock);
	return cat;
}

/* see internal.h */
int cvmfs_nested_get(struct cvmfs_client *c, struct cvmfs_catalog *parent, const char *path,
		     struct cvmfs_catalog **out)
{
	struct cvmfs_hash h;
	uint64_t size;
	int rc;

	if ((*out = find_loaded(c, path)))
		return 0;
	if ((rc = cvmfs_catalog_nested_size(parent, path, &h, &size)) < 0) {
		cvmfs_log(c, "'%s' is a nested catalog mountpoint its parent does not list", path);
		return rc == -ENOENT ? -EIO : rc;
	}
	/* Lookups elsewhere go on meanwhile: only loads are serialised. */
	pthread_mutex_lock(&c->load_lock);
	if (!(*out = find_loaded(c, path)))
		rc = cvmfs_catalog_load(c, &h, path, parent, size, out);	/* size bounds it */
	pthread_mutex_unlock(&c->load_lock);
	return rc < 0 ? rc : 0;
}
