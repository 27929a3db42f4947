/* SPDX-License-Identifier: MIT */
/* fuzz_xattr: the catalog's xattr blob (spec 4.6): cvmfs_xattr_decode,
 * _find, and re-encoding what was decoded (must fit the same limits). */
#include "tests/fuzz/fuzz.h"
#include "cvmfs-lite/format.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	static struct cvmfs_xattr x[CVMFS_XATTR_NUM_MAX];
	static unsigned char out[CVMFS_XATTR_BLOB_MAX];
	const unsigned char *val;
	size_t vlen;
	unsigned char *blob = malloc(n ? n : 1);
	ssize_t cnt;

	memcpy(blob, d, n);
	cnt = cvmfs_xattr_decode(blob, n, x, CVMFS_XATTR_NUM_MAX, NULL);
	if (cnt > 0) {
		ssize_t w = cvmfs_xattr_encode(x, (size_t)cnt, out, sizeof(out));

		/* A blob that decodes re-encodes to at most its own size. */
		if (w > (ssize_t)n)
			abort();
	}
	cvmfs_xattr_find(blob, n, "user.foo", &val, &vlen);
	cvmfs_xattr_find(blob, n, "", &val, &vlen);
	free(blob);
	return 0;
}
