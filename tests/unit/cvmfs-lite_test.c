/* SPDX-License-Identifier: MIT */
/* tests/unit/cvmfs-lite_test.c: repository format known answers (spec §12) and codecs. */
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
#include "tests/unit/testdata.h"

#define TD "tests/data/cvmfs-lite/"

static void hex_of(enum cvmfs_hash_algo a, const void *d, size_t n, char *out)
{
	struct cvmfs_hash h;

	assert_int_equal(cvmfs_hash_buf(a, d, n, &h), 0);
	assert_true(cvmfs_hash_fmt(&h, out, CVMFS_HASH_HEX_MAX) > 0);
}

static void hash_vectors(void **state)
{
	char hex[CVMFS_HASH_HEX_MAX];

	(void)state;
	hex_of(CVMFS_HASH_SHA1, "abc", 3, hex);
	assert_string_equal(hex, "a9993e364706816aba3e25717850c26c9cd0d89d");
	hex_of(CVMFS_HASH_RMD160, "abc", 3, hex);
	assert_string_equal(hex, "8eb208f7e05d987a9b044a8e98c6b087f15a0bfc-rmd160");
	hex_of(CVMFS_HASH_SHAKE128, "abc", 3, hex);
	assert_string_equal(hex, "5881092dd818bf5cf8a3ddb793fbcba74097d5c5-shake128");
	hex_of(CVMFS_HASH_SHAKE128, "", 0, hex);
	assert_string_equal(hex, "7f9c2ba4e88f827d616045507605853ed73b8093-shake128");
	hex_of(CVMFS_HASH_MD5, "", 0, hex);
	assert_string_equal(hex, CVMFS_ROOT_PATH_MD5);
}

static void shake_blocks(void **state)
{
	unsigned char in[200], out[32];
	struct cvmfs_keccak k;
	char hex[CVMFS_HASH_HEX_MAX];

	(void)state;
	memset(in, 'a', sizeof(in));
	/* 200 bytes: crosses the 168-byte rate; fed unevenly. */
	{
		struct cvmfs_hash_ctx c;
		struct cvmfs_hash h;

		assert_int_equal(cvmfs_hash_init(&c, CVMFS_HASH_SHAKE128), 0);
		cvmfs_hash_update(&c, in, 7);
		cvmfs_hash_update(&c, in + 7, 170);
		cvmfs_hash_update(&c, in + 177, 23);
		cvmfs_hash_final(&c, &h);
		cvmfs_hash_fmt(&h, hex, sizeof(hex));
		assert_string_equal(hex, "70ac9b97e891be583e08929ce4cce50d346b05f9-shake128");
	}
	/* Exactly one rate block, squeezed in two steps. */
	cvmfs_shake128_init(&k);
	cvmfs_shake128_update(&k, in, 168);
	cvmfs_shake128_final(&k, out, 10);
	cvmfs_shake128_final(&k, out + 10, 22);
	{
		static const unsigned char want[32] = {
			0xc2, 0x2e, 0x11, 0x58, 0x6c, 0x22, 0xb7, 0x13, 0xbd, 0xe3, 0x73,
			0xfc, 0xe9, 0x33, 0x14, 0xd7, 0x68, 0x29, 0xde, 0x2c, 0x21, 0xd9,
			0x40, 0xa2, 0x8e, 0xb6, 0x59, 0xb8, 0xde, 0xc9, 0x53, 0xa2,
		};
		assert_memory_equal(out, want, 32);
	}
}

static void hash_parse_and_paths(void **state)
{
	struct cvmfs_hash h;
	char p[CVMFS_OBJ_PATH_MAX];
	const char *r = "12a0530000000000000000000000000000abeb2b-rmd160";

	(void)state;
	assert_int_equal(cvmfs_hash_parse("aa8f0959e4601b52a86580b4789c8d9bc767b0e5", 40, &h), 0);
	assert_int_equal(h.algo, CVMFS_HASH_SHA1);
	assert_int_equal(cvmfs_hash_objpath(&h, CVMFS_SUFFIX_CATALOG, p, sizeof(p)), 47);
	assert_string_equal(p, "data/aa/8f0959e4601b52a86580b4789c8d9bc767b0e5C");
	assert_int_equal(cvmfs_hash_parse(r, strlen(r), &h), 0);
	assert_int_equal(h.algo, CVMFS_HASH_RMD160);
	assert_int_equal(cvmfs_hash_objpath(&h, 0, p, sizeof(p)), 53);
	assert_string_equal(p, "data/12/a0530000000000000000000000000000abeb2b-rmd160");
	assert_int_equal(cvmfs_hash_parse(r, 46, &h), -EINVAL);
	assert_int_equal(cvmfs_hash_parse("zz8f0959e4601b52a86580b4789c8d9bc767b0e5", 40, &h), -EINVAL);
	assert_int_equal(cvmfs_hash_objpath(&h, 0, p, 20), -ENOSPC);
}

static void md5path_vectors(void **state)
{
	static const struct { const char *p; int64_t a, b; } v[] = {
		{ "", 338333539836370388LL, 9098107892288553193LL },
		{ "/usr", 4261349461019561853LL, 8805651796865472228LL },
		{ "/usr/bin", -6332405977853062539LL, -3354531661490446888LL },
		{ "/software", 3445601412511816508LL, 6267067367417020806LL },
		{ "/.cvmfs", -2402492567927477437LL, -171651727507129842LL },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		int64_t a, b;

		cvmfs_md5path(v[i].p, strlen(v[i].p), &a, &b);
		assert_true(a == v[i].a);
		assert_true(b == v[i].b);
	}
	assert_true(CVMFS_HL_MAKE(3, 2) == 12884901890ULL);
}

static void objects_and_inflate(void **state)
{
	static const unsigned char empty_z[] = { 0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01 };
	struct cvmfs_hash want;
	enum cvmfs_fmt_why why = CVMFS_FMT_WHY_NONE;
	unsigned char *out, bad[sizeof(empty_z)];
	size_t n;

	(void)state;
	cvmfs_hash_parse("e8ec3d88b62ebf526e4e5a4ff6162a3aa48a6b78", 40, &want);
	assert_int_equal(cvmfs_object_check(empty_z, sizeof(empty_z), &want, &why), 0);
	assert_int_equal(cvmfs_zlib_inflate(empty_z, sizeof(empty_z), 10, &out, &n, &why), 0);
	assert_int_equal(n, 0);
	free(out);
	memcpy(bad, empty_z, sizeof(bad));
	bad[7] ^= 1;
	assert_int_equal(cvmfs_object_check(bad, sizeof(bad), &want, &why), -EBADMSG);
	assert_int_equal(why, CVMFS_FMT_WHY_OBJECT_HASH);
	why = CVMFS_FMT_WHY_NONE;
	assert_int_equal(cvmfs_zlib_inflate(bad, sizeof(bad), 10, &out, &n, &why), -EBADMSG);
	assert_int_equal(why, CVMFS_FMT_WHY_INFLATE);
	{
		static const unsigned char hello[] = { 0x78, 0x9c, 0xcb, 0x48, 0xcd, 0xc9, 0xc9,
			0x57, 0x48, 0x2e, 0xcb, 0x4d, 0x2b, 0xe6, 0x02, 0x00, 0x1e, 0x15, 0x04, 0x5e };
		why = CVMFS_FMT_WHY_NONE;
		assert_int_equal(cvmfs_zlib_inflate(hello, sizeof(hello), 100, &out, &n, &why), 0);
		assert_int_equal(n, 12);
		assert_memory_equal(out, "hello cvmfs\n", 12);
		free(out);
		assert_int_equal(cvmfs_zlib_inflate(hello, sizeof(hello), 5, &out, &n, &why), -EFBIG);
		assert_int_equal(cvmfs_zlib_inflate(hello, sizeof(hello) - 3, 100, &out, &n, NULL),
				 -EBADMSG);
	}
}

static void xattr_blob(void **state)
{
	struct cvmfs_xattr x[3] = {
		{ "user.zz", 7, (const unsigned char *)"", 0 },
		{ "user.foo", 8, (const unsigned char *)"bar", 3 },
		{ "user.f", 6, (const unsigned char *)"1", 1 },
	};
	unsigned char buf[CVMFS_XATTR_BLOB_MAX], big[256];
	struct cvmfs_xattr y[4];
	const unsigned char *v;
	size_t vl;
	ssize_t n;

	(void)state;
	n = cvmfs_xattr_encode(&x[1], 1, buf, sizeof(buf));
	assert_int_equal(n, 15);
	assert_memory_equal(buf, "\x01\x01\x08\x03user.foobar", 15);
	n = cvmfs_xattr_encode(x, 3, buf, sizeof(buf));
	assert_int_equal(n, 2 + 9 + 13 + 9);
	assert_int_equal(cvmfs_xattr_decode(buf, (size_t)n, y, 4, NULL), 3);
	assert_memory_equal(y[0].key, "user.f", 6);	/* sorted */
	assert_memory_equal(y[2].key, "user.zz", 7);
	assert_int_equal(cvmfs_xattr_find(buf, (size_t)n, "user.foo", &v, &vl), 0);
	assert_int_equal(vl, 3);
	assert_int_equal(cvmfs_xattr_find(buf, (size_t)n, "user.no", &v, &vl), -ENODATA);
	assert_int_equal(cvmfs_xattr_decode(buf, (size_t)n - 1, y, 4, NULL), -EBADMSG);
	assert_int_equal(cvmfs_xattr_decode(buf, (size_t)n, y, 2, NULL), -ENOSPC);
	assert_int_equal(cvmfs_xattr_encode(x, 0, buf, sizeof(buf)), 0);
	memset(big, 'v', sizeof(big));
	x[0].key = "user.zz";	/* encode sorted x in place */
	x[0].klen = 7;
	x[0].val = big;
	x[0].vlen = 256;
	assert_int_equal(cvmfs_xattr_encode(x, 1, buf, sizeof(buf)), -E2BIG);
	x[0].vlen = 255;
	assert_int_equal(cvmfs_xattr_encode(x, 1, buf, sizeof(buf)), 2 + 2 + 7 + 255);
	x[0].klen = 0;
	assert_int_equal(cvmfs_xattr_encode(x, 1, buf, sizeof(buf)), -EINVAL);
}

static void manifest_roundtrip(void **state)
{
	static const char body[] =
		"Caa8f0959e4601b52a86580b4789c8d9bc767b0e5\nB57344\n"
		"Rd41d8cd98f00b204e9800998ecf8427e\nD240\nS1\nGno\nAno\nNtest.repo\n"
		"X0035e85a073a88eacf5149fa8640927cfc5610fd\nT1700000000\n";
	char file[1024], out[1024];
	struct cvmfs_manifest m;
	enum cvmfs_fmt_why why = CVMFS_FMT_WHY_NONE;
	struct cvmfs_hash h;
	int n;

	(void)state;
	/* Spec §12: the body hash of the worked manifest is exact. */
	cvmfs_hash_buf(CVMFS_HASH_SHA1, body, strlen(body), &h);
	cvmfs_hash_fmt(&h, out, sizeof(out));
	assert_string_equal(out, "a45ea7320d72fc61b65c026dec31cc370550a649");
	n = snprintf(file, sizeof(file), "%s--\n%s\nSIGBYTES", body, out);
	assert_int_equal(cvmfs_manifest_parse((unsigned char *)file, (size_t)n, &m, &why), 0);
	assert_int_equal(m.revision, 1);
	assert_int_equal(m.timestamp, 1700000000);
	assert_int_equal(m.root_size, 57344);
	assert_string_equal(m.fqrn, "test.repo");
	assert_int_equal(m.body_len, strlen(body));
	assert_int_equal(m.sig_len, 8);
	assert_true(m.have & CVMFS_MF_X);
	assert_false(m.have & CVMFS_MF_H);
	n = cvmfs_manifest_fmt(&m, out, sizeof(out));
	assert_int_equal(n, (int)strlen(body));
	assert_memory_equal(out, body, strlen(body));
	/* No signature with a wrong name / a changed body. */
	assert_int_equal(cvmfs_manifest_verify(&m, (unsigned char *)file, "other.repo", NULL, &why),
			 -EBADMSG);
	assert_int_equal(why, CVMFS_FMT_WHY_MANIFEST_NAME);
	file[1] = 'b';
	why = CVMFS_FMT_WHY_NONE;
	assert_int_equal(cvmfs_manifest_verify(&m, (unsigned char *)file, "test.repo", NULL, &why),
			 -EBADMSG);
	assert_int_equal(why, CVMFS_FMT_WHY_MANIFEST_HASH);
	/* Missing S. */
	why = CVMFS_FMT_WHY_NONE;
	assert_int_equal(cvmfs_manifest_parse((unsigned char *)"Caa8f0959e4601b52a86580b4789c8d9bc767b0e5\n"
					      "Rd41d8cd98f00b204e9800998ecf8427e\nD1\n", 77, &m, &why),
			 -EBADMSG);
	assert_int_equal(why, CVMFS_FMT_WHY_MANIFEST_SYNTAX);
}

static void whitelist_parse(void **state)
{
	static const char body[] = "20240101000000\nE20991231000000\nNtest.repo\n"
		"0A:C9:CE:F0:75:64:03:0D:EE:63:C0:B4:DB:BE:83:CD:12:64:28:95\n";
	char file[1024], hex[CVMFS_HASH_HEX_MAX], fp[80];
	struct cvmfs_whitelist w;
	struct cvmfs_hash h;
	int n;

	(void)state;
	cvmfs_hash_buf(CVMFS_HASH_SHA1, body, strlen(body), &h);
	cvmfs_hash_fmt(&h, hex, sizeof(hex));
	assert_string_equal(hex, "e042ad9601b8a6355463790330d47599e0c4ad64");
	n = snprintf(file, sizeof(file), "%s--\n%s\nSIG", body, hex);
	assert_int_equal(cvmfs_whitelist_parse((unsigned char *)file, (size_t)n, &w, NULL), 0);
	assert_int_equal(w.nfp, 1);
	assert_int_equal(w.created, 1704067200);
	assert_int_equal(w.expires, 4102358400);
	assert_string_equal(w.fqrn, "test.repo");
	assert_int_equal(cvmfs_fingerprint_fmt(&w.fp[0], fp, sizeof(fp)), 59);
	assert_string_equal(fp, "0A:C9:CE:F0:75:64:03:0D:EE:63:C0:B4:DB:BE:83:CD:12:64:28:95");
	assert_int_equal(cvmfs_whitelist_parse((unsigned char *)file + 1, (size_t)n - 1, &w, NULL),
			 -EBADMSG);
}

/* Real upstream files (cvmfs 2.1 server, 2015): our verifier must accept
 * them exactly as the upstream client did, and name each kind of damage. */
static void upstream_manifest_and_whitelist(void **state)
{
	enum cvmfs_fmt_why why = CVMFS_FMT_WHY_NONE;
	struct cvmfs_manifest m;
	struct cvmfs_whitelist w;
	struct cvmfs_cert cert;
	struct cvmfs_pubkeys keys;
	size_t ml, wl, cl, kl;
	unsigned char *mf = td_load(TD, "legacy_aufs.cvmfspublished", &ml);
	unsigned char *wf = td_load(TD, "legacy_aufs.cvmfswhitelist", &wl);
	unsigned char *cx = td_load(TD, "legacy_aufs.certX", &cl);
	unsigned char *pk = td_load(TD, "keys/legacy_aufs.cern.ch.pub", &kl);
	time_t in_2015 = 1446336000, now = time(NULL);

	(void)state;
	cvmfs_cert_init(&cert);
	cvmfs_pubkeys_init(&keys);
	assert_int_equal(cvmfs_manifest_parse(mf, ml, &m, &why), 0);
	assert_int_equal(m.revision, 2);
	assert_int_equal(m.ttl, 900);
	assert_string_equal(m.fqrn, "legacy_aufs.cern.ch");
	assert_int_equal(cvmfs_cert_load_object(&cert, cx, cl, &m.cert, &why), 0);
	assert_int_equal(cvmfs_manifest_verify(&m, mf, "legacy_aufs.cern.ch", &cert, &why), 0);
	assert_int_equal(cvmfs_manifest_verify(&m, mf, "other.cern.ch", &cert, &why), -EBADMSG);
	assert_int_equal(why, CVMFS_FMT_WHY_MANIFEST_NAME);
	assert_int_equal(cvmfs_pubkeys_add(&keys, pk, kl, NULL), 0);
	assert_int_equal(cvmfs_whitelist_parse(wf, wl, &w, NULL), 0);
	assert_int_equal(cvmfs_whitelist_verify(&w, wf, "legacy_aufs.cern.ch", &keys, in_2015, 0,
						NULL), 0);
	why = CVMFS_FMT_WHY_NONE;
	assert_int_equal(cvmfs_whitelist_verify(&w, wf, "legacy_aufs.cern.ch", &keys, now, 0, &why),
			 -EKEYEXPIRED);
	assert_int_equal(why, CVMFS_FMT_WHY_WHITELIST_EXPIRED);
	assert_int_equal(cvmfs_whitelist_verify(&w, wf, "legacy_aufs.cern.ch", &keys, now,
						CVMFS_WL_EXPIRED_OK, NULL), 0);
	/* expiry 2015-11-20 11:55:13 counts to the hour: 11:59 is expired */
	assert_int_equal(cvmfs_whitelist_verify(&w, wf, NULL, &keys, 1448020740, 0, NULL),
			 -EKEYEXPIRED);
	assert_int_equal(cvmfs_whitelist_verify(&w, wf, NULL, &keys, 1448017140, 0, NULL), 0);
	assert_true(cvmfs_whitelist_has_cert(&w, &cert, NULL));
	/* damage: signature byte, manifest body, certificate object */
	mf[ml - 1] ^= 1;
	why = CVMFS_FMT_WHY_NONE;
	assert_int_equal(cvmfs_manifest_verify(&m, mf, NULL, &cert, &why), -EKEYREJECTED);
	assert_int_equal(why, CVMFS_FMT_WHY_MANIFEST_SIG);
	mf[ml - 1] ^= 1;
	mf[3] ^= 1;
	why = CVMFS_FMT_WHY_NONE;
	assert_int_equal(cvmfs_manifest_verify(&m, mf, NULL, &cert, &why), -EBADMSG);
	assert_int_equal(why, CVMFS_FMT_WHY_MANIFEST_HASH);
	wf[wl - 1] ^= 1;
	why = CVMFS_FMT_WHY_NONE;
	assert_int_equal(cvmfs_whitelist_verify(&w, wf, NULL, &keys, in_2015, 0, &why),
			 -EKEYREJECTED);
	assert_int_equal(why, CVMFS_FMT_WHY_WHITELIST_SIG);
	cx[cl / 2] ^= 1;
	why = CVMFS_FMT_WHY_NONE;
	assert_int_equal(cvmfs_cert_load_object(&cert, cx, cl, &m.cert, &why), -EBADMSG);
	assert_int_equal(why, CVMFS_FMT_WHY_OBJECT_HASH);
	cvmfs_cert_fini(&cert);
	cvmfs_pubkeys_fini(&keys);
	free(mf);
	free(wf);
	free(cx);
	free(pk);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(hash_vectors),
		cmocka_unit_test(shake_blocks),
		cmocka_unit_test(hash_parse_and_paths),
		cmocka_unit_test(md5path_vectors),
		cmocka_unit_test(objects_and_inflate),
		cmocka_unit_test(xattr_blob),
		cmocka_unit_test(manifest_roundtrip),
		cmocka_unit_test(whitelist_parse),
		cmocka_unit_test(upstream_manifest_and_whitelist),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
