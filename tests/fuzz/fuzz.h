/* SPDX-License-Identifier: MIT */
/* tests/fuzz/fuzz.h: small helpers shared by the libFuzzer targets (each
 * target is one tests/fuzz/fuzz_<name>.c built by tests/fuzz/fuzz.mk). */
#ifndef FUZZ_H
#define FUZZ_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Seed data of the repository (tests/data), set by fuzz.mk. */
#ifndef FUZZ_DATA
#define FUZZ_DATA "tests/data"
#endif

/* A NUL-terminated heap copy of the input (parsers that want C strings). */
static inline char *fuzz_strdup(const uint8_t *d, size_t n)
{
	char *s = malloc(n + 1);

	if (!s)
		abort();
	memcpy(s, d, n);
	s[n] = 0;
	return s;
}

/* An anonymous file holding the input (parsers that take an fd). */
static inline int fuzz_memfd(const uint8_t *d, size_t n)
{
	int fd = memfd_create("fuzz", MFD_CLOEXEC);
	size_t off = 0;

	if (fd < 0)
		abort();
	while (off < n) {
		ssize_t w = write(fd, d + off, n - off);

		if (w <= 0)
			abort();
		off += (size_t)w;
	}
	return fd;
}

/* Reads tests/data/<rel> into a malloc'd buffer (NULL if missing). */
static inline unsigned char *fuzz_slurp(const char *rel, size_t *len)
{
	char path[4096];
	unsigned char *buf = NULL;
	long n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", FUZZ_DATA, rel);
	f = fopen(path, "rbe");
	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)n + 1)) && fread(buf, 1, (size_t)n, f) == (size_t)n) {
		buf[n] = 0;
		*len = (size_t)n;
	} else {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

/* Splits the input at the first "\n--8<--\n" (for targets with two inputs).
 * Without it, the second part is empty. */
static inline void fuzz_split(const uint8_t *d, size_t n, const uint8_t **a, size_t *an,
			      const uint8_t **b, size_t *bn)
{
	static const char sep[] = "\n--8<--\n";
	const uint8_t *p = memmem(d, n, sep, sizeof(sep) - 1);

	*a = d;
	if (!p) {
		*an = n;
		*b = d + n;
		*bn = 0;
		return;
	}
	*an = (size_t)(p - d);
	*b = p + sizeof(sep) - 1;
	*bn = n - *an - (sizeof(sep) - 1);
}

/* Splits the input at every "\n--8<--\n" into at most max parts; the
 * parts that are missing are empty. Returns the number found. */
static inline size_t fuzz_split_n(const uint8_t *d, size_t n, const uint8_t **part,
				  size_t *len, size_t max)
{
	size_t i = 0;

	for (size_t j = 0; j < max; j++) {
		part[j] = d + n;
		len[j] = 0;
	}
	while (i < max) {
		const uint8_t *b;
		size_t bn;

		if (i == max - 1) {
			part[i] = d;
			len[i++] = n;
			break;
		}
		fuzz_split(d, n, &part[i], &len[i], &b, &bn);
		i++;
		if (b == d + n && bn == 0 && len[i - 1] == n)
			break;
		d = b;
		n = bn;
	}
	return i;
}

#endif
