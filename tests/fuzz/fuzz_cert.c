/* SPDX-License-Identifier: MIT */
/* fuzz_cert: certificate objects (data/xx/...X: zlib of PEM/DER X.509) and
 * public keys: cvmfs_cert_load_object, cvmfs_cert_parse, fingerprints and
 * cvmfs_pubkeys_add, plus the raw zlib inflater they share. */
#include "tests/fuzz/fuzz.h"
#include "cvmfs-lite/format.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct cvmfs_cert c;
	struct cvmfs_pubkeys k;
	struct cvmfs_hash fp;
	char txt[3 * 20 + 10];
	unsigned char *out;
	size_t outlen;

	if (n > 1 << 20)
		return 0;
	cvmfs_cert_init(&c);
	if (cvmfs_cert_load_object(&c, d, n, NULL, NULL) == 0 &&
	    cvmfs_cert_fingerprint(&c, CVMFS_HASH_SHA1, &fp) == 0)
		cvmfs_fingerprint_fmt(&fp, txt, sizeof(txt));
	cvmfs_cert_fini(&c);
	cvmfs_cert_init(&c);
	if (cvmfs_cert_parse(&c, d, n, NULL) == 0 &&
	    cvmfs_cert_fingerprint(&c, CVMFS_HASH_SHAKE128, &fp) == 0)
		cvmfs_fingerprint_fmt(&fp, txt, sizeof(txt));
	cvmfs_cert_fini(&c);
	cvmfs_pubkeys_init(&k);
	cvmfs_pubkeys_add(&k, d, n, NULL);
	cvmfs_pubkeys_fini(&k);
	if (cvmfs_zlib_inflate(d, n, 1 << 20, &out, &outlen, NULL) == 0)
		free(out);
	return 0;
}
