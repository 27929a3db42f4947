/* SPDX-License-Identifier: MIT */
/* fuzz_history: the history database (H object, decompressed) through
 * cvmfs_sqlite_open_fd (the client's fd VFS) and cvmfs_history_find, by tag
 * name and as "newest trunk tag before a date", as the client resolves
 * cvmfs_tag / cvmfs_timestamp. */
#include "tests/fuzz/fuzz.h"
#include "sqlite3.h"
#include "cvmfs-lite/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct cvmfs_hash root;
	struct sqlite3 *db = NULL;
	char name[64];
	int fd;

	if (n > 1 << 20)
		return 0;
	fd = fuzz_memfd(d, n);
	if (cvmfs_sqlite_open_fd(fd, &db) == 0) {
		cvmfs_history_find(db, "trunk", 0, &root, name, sizeof(name));
		cvmfs_history_find(db, "v1", 0, &root, name, sizeof(name));
		cvmfs_history_find(db, NULL, INT64_MAX, &root, name, sizeof(name));
		cvmfs_history_find(db, NULL, 1000000000, &root, name, sizeof(name));
		sqlite3_close(db);
	}
	close(fd);
	return 0;
}
