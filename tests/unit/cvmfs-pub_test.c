/* SPDX-License-Identifier: MIT */
/* tests/unit/cvmfs-pub_test.c: the publisher's signers against cvmfs-lite's verifiers. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <fcntl.h>
#include <time.h>

#include "cvmfs-lite/format.h"
#include "cvmfs-pub/internal.h"
#include "tests/unit/testdata.h"

#define TD "tests/data/cvmfs-lite/"

/* Our signers against our verifiers, with the fixture's key pair. */
static void sign_and_verify(void **state)
{
	static const char body[] = "Caa8f0959e4601b52a86580b4789c8d9bc767b0e5\nB1\n"
		"Rd41d8cd98f00b204e9800998ecf8427e\nD240\nS7\nGno\nAno\nNlegacy_aufs.cern.ch\n";
	struct cvmfs_pub_signer k;
	struct cvmfs_pub_rng rng;
	struct cvmfs_pub_err e;
	struct cvmfs_manifest m;
	struct cvmfs_whitelist w;
	struct cvmfs_pubkeys keys;
	unsigned char out[4096], *pk;
	size_t kl;
	ssize_t n;
	time_t now = time(NULL);

	(void)state;
	cvmfs_pub_err_init(&e);
	assert_int_equal(cvmfs_pub_signer_load(&k, TD "keys", "legacy_aufs.cern.ch", 1, &e), 0);
	assert_int_equal(cvmfs_pub_rng_init(&rng), 0);
	n = cvmfs_pub_sign_manifest(&k, &rng, CVMFS_HASH_RMD160, body, strlen(body), out,
				    sizeof(out));
	assert_true(n == (ssize_t)(strlen(body) + 3 + 47 + 1 + 256));
	assert_int_equal(cvmfs_manifest_parse(out, (size_t)n, &m, NULL), 0);
	assert_int_equal(m.body_hash.algo, CVMFS_HASH_RMD160);
	assert_int_equal(cvmfs_manifest_verify(&m, out, "legacy_aufs.cern.ch", &k.cert, NULL), 0);
	n = cvmfs_pub_make_whitelist(&k, &rng, "legacy_aufs.cern.ch", now, 30, out, sizeof(out));
	assert_true(n > 256);
	pk = td_load(TD, "keys/legacy_aufs.cern.ch.pub", &kl);
	cvmfs_pubkeys_init(&keys);
	assert_int_equal(cvmfs_pubkeys_add(&keys, pk, kl, NULL), 0);
	assert_int_equal(cvmfs_whitelist_parse(out, (size_t)n, &w, NULL), 0);
	assert_int_equal(cvmfs_whitelist_verify(&w, out, "legacy_aufs.cern.ch", &keys, now, 0, NULL),
			 0);
	assert_int_equal(cvmfs_whitelist_verify(&w, out, NULL, &keys, now + 31 * 86400, 0, NULL),
			 -EKEYEXPIRED);
	assert_true(cvmfs_whitelist_has_cert(&w, &k.cert, NULL));
	cvmfs_pubkeys_fini(&keys);
	free(pk);
	cvmfs_pub_rng_fini(&rng);
	cvmfs_pub_signer_fini(&k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sign_and_verify),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
