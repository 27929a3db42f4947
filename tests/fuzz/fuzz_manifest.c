/* SPDX-License-Identifier: MIT */
/* fuzz_manifest: .cvmfspublished as a server (or a proxy) sends it:
 * cvmfs_manifest_parse, _fmt, and _verify against the legacy_aufs
 * certificate (tests/data/cvmfs-lite), so the signature path runs too. */
#include "tests/fuzz/fuzz.h"
#include "cvmfs-lite/format.h"

static struct cvmfs_cert cert;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	size_t n;
	unsigned char *obj = fuzz_slurp("cvmfs-lite/legacy_aufs.certX", &n);

	cvmfs_cert_init(&cert);
	if (obj)
		cvmfs_cert_load_object(&cert, obj, n, NULL, NULL);
	free(obj);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct cvmfs_manifest m;
	enum cvmfs_fmt_why why = CVMFS_FMT_WHY_NONE;
	unsigned char *buf;
	char out[CVMFS_MANIFEST_MAX];

	if (n > CVMFS_MANIFEST_MAX)
		return 0;	/* the client refuses bigger files before parsing */
	/* A heap copy of exactly n bytes: ASan sees any read past the end. */
	buf = malloc(n ? n : 1);
	memcpy(buf, d, n);
	if (cvmfs_manifest_parse(buf, n, &m, &why) == 0) {
		cvmfs_manifest_fmt(&m, out, sizeof(out));
		why = CVMFS_FMT_WHY_NONE;
		cvmfs_manifest_verify(&m, buf, "legacy_aufs.cern.ch", &cert, &why);
		cvmfs_manifest_verify(&m, buf, NULL, &cert, &why);
		cvmfs_fmt_why_str(why);
	}
	free(buf);
	return 0;
}
