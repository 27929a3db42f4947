/* SPDX-License-Identifier: MIT */
/* tests/unit/testdata.h: the one loader of known-answer files (tests/data/<mod>/,
 * see each folder's INDEX) for every cmocka unit test. Include it after
 * <cmocka.h>. Paths are relative to the repository root, which is the working
 * directory `make unit` and tests/test_unit.py run the binaries in. */
#ifndef TESTS_UNIT_TESTDATA_H
#define TESTS_UNIT_TESTDATA_H

#include <stdio.h>
#include <stdlib.h>

/* Opens dir/name (dir ends in '/', e.g. "tests/data/net/") or fails the test
 * naming the file and what to do. */
static inline FILE *td_open(const char *dir, const char *name, char *path, size_t cap)
{
	FILE *f;

	snprintf(path, cap, "%s%s", dir, name);
	f = fopen(path, "rb");
	if (!f)
		fail_msg("test data %s: cannot open (run the unit tests from the repository root)",
			 path);
	return f;
}

/* Reads dir/name whole into a malloc'd buffer with a NUL after the last byte
 * (PEM parsers want one); the caller frees it. *len gets the file's size. */
static inline unsigned char *td_load(const char *dir, const char *name, size_t *len)
{
	char path[512];
	FILE *f = td_open(dir, name, path, sizeof(path));
	unsigned char *buf;
	long n = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;

	if (n < 0 || fseek(f, 0, SEEK_SET) != 0)
		fail_msg("test data %s: cannot size it", path);
	buf = malloc((size_t)n + 1);
	if (!buf)
		fail_msg("test data %s: no memory for %ld bytes", path, n);
	if (fread(buf, 1, (size_t)n, f) != (size_t)n)
		fail_msg("test data %s: short read", path);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* Reads dir/name into the caller's buf; the file must be shorter than cap
 * (so a truncated read cannot pass unnoticed). Returns its size. */
static inline size_t td_load_into(const char *dir, const char *name, void *buf, size_t cap)
{
	char path[512];
	FILE *f = td_open(dir, name, path, sizeof(path));
	size_t n = fread(buf, 1, cap, f);

	fclose(f);
	if (n >= cap)
		fail_msg("test data %s: larger than the test's buffer (%zu bytes)", path, cap);
	return n;
}

#endif
