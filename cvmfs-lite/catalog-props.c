/* SPDX-License-Identifier: MIT */
/* cvmfs-lite/catalog-props.c: the one reader of a file catalog's properties
 * table (schema, schema_revision, revision, TTL; spec §4), part of the
 * format shared with the publisher. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sqlite3.h"

#include "cvmfs-lite/format.h"

/* see format.h */
int cvmfs_catalog_props_read(struct sqlite3 *db, struct cvmfs_catalog_props *p)
{
	sqlite3_stmt *st;

	memset(p, 0, sizeof(*p));
	p->ttl = CVMFS_DEFAULT_TTL;
	if (sqlite3_prepare_v2(db, "SELECT key, value FROM properties", -1, &st, NULL) != SQLITE_OK)
		return -EPROTONOSUPPORT;	/* no properties table: not a 2.x catalog */
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *k = (const char *)sqlite3_column_text(st, 0);
		const char *v = (const char *)sqlite3_column_text(st, 1);

		if (!k)
			continue;
		v = v ? v : "";
		if (strcmp(k, "schema") == 0)
			p->schema = strtod(v, NULL);
		else if (strcmp(k, "schema_revision") == 0)
			p->schema_revision = atoi(v);
		else if (strcmp(k, "revision") == 0)
			p->revision = strtoull(v, NULL, 10);
		else if (strcmp(k, "TTL") == 0)
			p->ttl = strtoull(v, NULL, 10);
	}
	sqlite3_finalize(st);
	if (p->schema < CVMFS_CATALOG_SCHEMA - CVMFS_CATALOG_SCHEMA_EPS ||
	    p->schema > CVMFS_CATALOG_SCHEMA + CVMFS_CATALOG_SCHEMA_EPS ||
	    p->schema_revision < 2 || p->schema_revision > CVMFS_CATALOG_SCHEMA_REVISION)
		return -EPROTONOSUPPORT;
	return 0;
}
