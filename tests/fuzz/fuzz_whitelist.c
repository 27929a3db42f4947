/* SPDX-License-Identifier: MIT */
/* fuzz_whitelist: .cvmfswhitelist: cvmfs_whitelist_parse, then _verify with
 * the legacy_aufs master key (RSA recovery runs on the signature bytes) and
 * _has_cert with its certificate. */
#include "tests/fuzz/fuzz.h"
#include "cvmfs-lite/format.h"

static struct cvmfs_cert cert;
static struct cvmfs_pubkeys keys;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	size_t n;
	unsigned char *b;

	cvmfs_cert_init(&cert);
	cvmfs_pubkeys_init(&keys);
	if ((b = fuzz_slurp("cvmfs-lite/legacy_aufs.certX", &n)))
		cvmfs_cert_load_object(&cert, b, n, NULL, NULL);
	free(b);
	if ((b = fuzz_slurp("cvmfs-lite/keys/legacy_aufs.cern.ch.pub", &n)))
		cvmfs_pubkeys_add(&keys, b, n, NULL);
	free(b);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct cvmfs_whitelist w;
	enum cvmfs_fmt_why why = CVMFS_FMT_WHY_NONE;
	unsigned char *buf;

	if (n > CVMFS_WL_MAX)
		return 0;
	buf = malloc(n ? n : 1);
	memcpy(buf, d, n);
	if (cvmfs_whitelist_parse(buf, n, &w, &why) == 0) {
		cvmfs_whitelist_verify(&w, buf, "legacy_aufs.cern.ch", &keys, 1448020000,
				       0, &why);
		cvmfs_whitelist_verify(&w, buf, w.fqrn, &keys, 0, CVMFS_WL_EXPIRED_OK, &why);
		cvmfs_whitelist_has_cert(&w, &cert, &why);
	}
	free(buf);
	return 0;
}
