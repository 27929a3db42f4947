/* SPDX-License-Identifier: MIT */
/* cvmfs-pub/keys.c: key generation, key loading and the two signatures of a repository. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cvmfs-pub/internal.h"
#include "mbedtls/pem.h"
#include "mbedtls/rsa.h"
#include "mbedtls/x509_crt.h"

static int entropy(void *arg, unsigned char *out, size_t len)
{
	size_t n = 0;

	while (n < len) {
		ssize_t r = getrandom(out + n, len - n, 0);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		n += (size_t)r;
	}
	return 0;
}

/* see cvmfs-pub.h */
int cvmfs_pub_rng_init(struct cvmfs_pub_rng *r)
{
	static const unsigned char pers[] = "cvmboot publisher";

	mbedtls_ctr_drbg_init(&r->drbg);
	if (mbedtls_ctr_drbg_seed(&r->drbg, entropy, NULL, pers, sizeof(pers)) != 0)
		return -EIO;
	return 0;
}

/* see cvmfs-pub.h */
void cvmfs_pub_rng_fini(struct cvmfs_pub_rng *r)
{
	mbedtls_ctr_drbg_free(&r->drbg);
}

/* see cvmfs-pub.h */
int cvmfs_pub_rng_cb(void *rng, unsigned char *out, size_t len)
{
	return mbedtls_ctr_drbg_random(&((struct cvmfs_pub_rng *)rng)->drbg, out, len);
}

/* see cvmfs-pub.h */
int cvmfs_pub_fqrn_check(const char *fqrn)
{
	size_t i, n = strlen(fqrn);
	int dot = 0;

	if (n == 0 || n > 200 || fqrn[0] == '.' || fqrn[0] == '-')
		return -EINVAL;
	for (i = 0; i < n; i++) {
		char c = fqrn[i];

		if (c == '.')
			dot = 1;
		else if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			   (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return -EINVAL;
	}
	return dot ? 0 : -EINVAL;
}

static int gen_rsa(mbedtls_pk_context *pk, struct cvmfs_pub_rng *r)
{
	mbedtls_pk_init(pk);
	if (mbedtls_pk_setup(pk, mbedtls_pk_info_from_type(MBEDTLS_PK_RSA)) != 0)
		return -ENOMEM;
	if (mbedtls_rsa_gen_key(mbedtls_pk_rsa(*pk), cvmfs_pub_rng_cb, r, CVMFS_PUB_RSA_BITS,
				65537) != 0)
		return -EIO;
	return 0;
}

static int write_new(const char *dir, const char *fqrn, const char *ext, const unsigned char *data,
		     size_t len, unsigned mode, struct cvmfs_pub_err *e)
{
	char path[4096];
	int fd, rc = 0;
	size_t off = 0;

	snprintf(path, sizeof(path), "%s/%s.%s", dir, fqrn, ext);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0)
		return cvmfs_pub_fail(e, -errno, "%s: cannot create: %s", path, strerror(errno));
	while (off < len) {
		ssize_t w = write(fd, data + off, len - off);

		if (w < 0) {
			rc = cvmfs_pub_fail(e, -errno, "%s: write: %s", path, strerror(errno));
			break;
		}
		off += (size_t)w;
	}
	if (rc == 0 && (fchmod(fd, mode) < 0 || fsync(fd) < 0))
		rc = cvmfs_pub_fail(e, -errno, "%s: %s", path, strerror(errno));
	close(fd);
	return rc;
}

static void utc_stamp(time_t t, char *buf, size_t len)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y%m%d%H%M%S", &tm);
}

static int make_cert(mbedtls_pk_context *key, struct cvmfs_pub_rng *r, const char *fqrn,
		     unsigned char *out, size_t cap)
{
	mbedtls_x509write_cert crt;
	mbedtls_mpi serial;
	char name[300], nb[16], na[16];
	unsigned char sn[16];
	time_t now = time(NULL);
	int rc = -EIO;

	mbedtls_x509write_crt_init(&crt);
	mbedtls_mpi_init(&serial);
	snprintf(name, sizeof(name), "CN=%s CernVM-FS Release Managers", fqrn);
	utc_stamp(now, nb, sizeof(nb));
	utc_stamp(now + (time_t)CVMFS_PUB_CERT_DAYS * 86400, na, sizeof(na));
	if (cvmfs_pub_rng_cb(r, sn, sizeof(sn)) != 0)
		goto out;
	sn[0] &= 0x7f;	/* positive serial */
	if (mbedtls_mpi_read_binary(&serial, sn, sizeof(sn)) != 0)
		goto out;
	mbedtls_x509write_crt_set_version(&crt, MBEDTLS_X509_CRT_VERSION_3);
	mbedtls_x509write_crt_set_md_alg(&crt, MBEDTLS_MD_SHA256);
	mbedtls_x509write_crt_set_subject_key(&crt, key);
	mbedtls_x509write_crt_set_issuer_key(&crt, key);
	if (mbedtls_x509write_crt_set_serial(&crt, &serial) != 0 ||
	    mbedtls_x509write_crt_set_validity(&crt, nb, na) != 0 ||
	    mbedtls_x509write_crt_set_subject_name(&crt, name) != 0 ||
	    mbedtls_x509write_crt_set_issuer_name(&crt, name) != 0)
		goto out;
	if (mbedtls_x509write_crt_pem(&crt, out, cap, cvmfs_pub_rng_cb, r) != 0)
		goto out;
	rc = 0;
out:
	mbedtls_mpi_free(&serial);
	mbedtls_x509write_crt_free(&crt);
	return rc;
}

/* see cvmfs-pub.h */
int cvmfs_pub_keygen(const char *fqrn, const char *dir, struct cvmfs_pub_err *e)
{
	static const char *const ext[] = { "pub", "masterkey", "key", "crt" };
	mbedtls_pk_context master, key;
	struct cvmfs_pub_rng rng;
	unsigned char *buf = NULL;
	char path[4096];
	size_t i, cap = 16384;
	int rc;

	if (cvmfs_pub_fqrn_check(fqrn) < 0)
		return cvmfs_pub_fail(e, -EINVAL, "'%s' is not a repository name (like example.org)",
				      fqrn);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return cvmfs_pub_fail(e, -errno, "%s: cannot create directory: %s", dir, strerror(errno));
	for (i = 0; i < 4; i++) {
		snprintf(path, sizeof(path), "%s/%s.%s", dir, fqrn, ext[i]);
		if (access(path, F_OK) == 0)
			return cvmfs_pub_fail(e, -EEXIST, "%s exists; refusing to overwrite keys "
					      "(move it away to make new ones)", path);
	}
	mbedtls_pk_init(&master);
	mbedtls_pk_init(&key);
	rc = cvmfs_pub_rng_init(&rng);
	if (rc < 0) {
		cvmfs_pub_fail(e, rc, "cannot seed the random generator");
		goto out_rng;
	}
	buf = malloc(cap);
	rc = -ENOMEM;
	if (!buf)
		goto out;
	rc = gen_rsa(&master, &rng);
	if (rc == 0)
		rc = gen_rsa(&key, &rng);
	if (rc < 0) {
		cvmfs_pub_fail(e, rc, "RSA key generation failed");
		goto out;
	}
	rc = -EIO;
	if (mbedtls_pk_write_pubkey_pem(&master, buf, cap) != 0)
		goto out;
	if ((rc = write_new(dir, fqrn, "pub", buf, strlen((char *)buf), 0644, e)) < 0)
		goto out;
	rc = -EIO;
	if (mbedtls_pk_write_key_pem(&master, buf, cap) != 0)
		goto out;
	if ((rc = write_new(dir, fqrn, "masterkey", buf, strlen((char *)buf), 0600, e)) < 0)
		goto out;
	rc = -EIO;
	if (mbedtls_pk_write_key_pem(&key, buf, cap) != 0)
		goto out;
	if ((rc = write_new(dir, fqrn, "key", buf, strlen((char *)buf), 0600, e)) < 0)
		goto out;
	rc = make_cert(&key, &rng, fqrn, buf, cap);
	if (rc == 0)
		rc = write_new(dir, fqrn, "crt", buf, strlen((char *)buf), 0644, e);
out:
	if (rc < 0)
		cvmfs_pub_fail(e, rc, "%s: key generation failed", dir);
	if (buf) {
		explicit_bzero(buf, cap);
		free(buf);
	}
	cvmfs_pub_rng_fini(&rng);
out_rng:
	mbedtls_pk_free(&master);
	mbedtls_pk_free(&key);
	return rc;
}

static int load_priv(mbedtls_pk_context *pk, const char *dir, const char *fqrn, const char *ext,
		     struct cvmfs_pub_err *e)
{
	char path[4096];
	unsigned char *buf;
	size_t len;
	int rc;

	snprintf(path, sizeof(path), "%s/%s.%s", dir, fqrn, ext);
	rc = cvmfs_pub_read_file(AT_FDCWD, path, 1 << 20, &buf, &len);
	if (rc < 0)
		return cvmfs_pub_fail(e, rc, "%s: cannot read: %s (run 'cvmboot keygen %s %s')",
				      path, strerror(-rc), fqrn, dir);
	rc = mbedtls_pk_parse_key(pk, buf, len + 1, NULL, 0);
	explicit_bzero(buf, len);
	free(buf);
	if (rc != 0 || mbedtls_pk_get_type(pk) != MBEDTLS_PK_RSA)
		return cvmfs_pub_fail(e, -EBADMSG, "%s: not an unencrypted RSA private key (PEM)", path);
	return 0;
}

/* see cvmfs-pub.h */
int cvmfs_pub_signer_load(struct cvmfs_pub_signer *k, const char *dir, const char *fqrn,
			int need_master, struct cvmfs_pub_err *e)
{
	char path[4096];
	int rc;

	memset(k, 0, sizeof(*k));
	mbedtls_pk_init(&k->master);
	mbedtls_pk_init(&k->key);
	cvmfs_cert_init(&k->cert);
	if (need_master) {
		if ((rc = load_priv(&k->master, dir, fqrn, "masterkey", e)) < 0)
			return rc;
		k->have_master = 1;
	}
	if ((rc = load_priv(&k->key, dir, fqrn, "key", e)) < 0)
		return rc;
	snprintf(path, sizeof(path), "%s/%s.crt", dir, fqrn);
	rc = cvmfs_pub_read_file(AT_FDCWD, path, 1 << 20, &k->crt_pem, &k->crt_len);
	if (rc < 0)
		return cvmfs_pub_fail(e, rc, "%s: cannot read: %s", path, strerror(-rc));
	if (cvmfs_cert_parse(&k->cert, k->crt_pem, k->crt_len, NULL) < 0)
		return cvmfs_pub_fail(e, -EBADMSG, "%s: not an RSA X.509 certificate (PEM)", path);
	if (mbedtls_pk_check_pair(&k->cert.crt.pk, &k->key) != 0)
		return cvmfs_pub_fail(e, -EKEYREJECTED, "%s/%s.key does not match the certificate %s: "
				      "use the key pair made together by 'cvmboot keygen'",
				      dir, fqrn, path);
	return 0;
}

/* see cvmfs-pub.h */
void cvmfs_pub_signer_fini(struct cvmfs_pub_signer *k)
{
	mbedtls_pk_free(&k->master);
	mbedtls_pk_free(&k->key);
	cvmfs_cert_fini(&k->cert);
	free(k->crt_pem);
	k->crt_pem = NULL;
}

/* Appends "--\n<hex>\n" and returns the hex (into hex). */
static ssize_t sig_head(enum cvmfs_hash_algo algo, const void *body, size_t len,
			unsigned char *out, size_t cap, char *hex)
{
	struct cvmfs_hash h;
	int n;

	if (cvmfs_hash_buf(algo, body, len, &h) < 0)
		return -EINVAL;
	n = cvmfs_hash_fmt(&h, hex, CVMFS_HASH_HEX_MAX);
	if (n < 0 || cap < len + 3 + (size_t)n + 1 + 1024)
		return -ENOSPC;
	memmove(out, body, len);
	memcpy(out + len, "--\n", 3);
	memcpy(out + len + 3, hex, (size_t)n);
	out[len + 3 + n] = '\n';
	return (ssize_t)(len + 3 + (size_t)n + 1);
}

/* see cvmfs-pub.h */
ssize_t cvmfs_pub_sign_manifest(struct cvmfs_pub_signer *k, struct cvmfs_pub_rng *r,
				enum cvmfs_hash_algo algo, const char *body, size_t len,
				unsigned char *out, size_t cap)
{
	char hex[CVMFS_HASH_HEX_MAX];
	unsigned char sha[20];
	ssize_t off = sig_head(algo, body, len, out, cap, hex);
	size_t slen = 0;

	if (off < 0)
		return off;
	/* Spec §2: PKCS#1 v1.5 with SHA-1 over the ASCII hex, not the digest. */
	mbedtls_sha1_ret((const unsigned char *)hex, strlen(hex), sha);
	if (mbedtls_pk_sign(&k->key, MBEDTLS_MD_SHA1, sha, sizeof(sha), out + off, &slen,
			    cvmfs_pub_rng_cb, r) != 0)
		return -EIO;
	return off + (ssize_t)slen;
}

/* see cvmfs-pub.h */
ssize_t cvmfs_pub_make_whitelist(struct cvmfs_pub_signer *k, struct cvmfs_pub_rng *r,
				 const char *fqrn, time_t now, unsigned days,
				 unsigned char *out, size_t cap)
{
	char body[1024], made[16], exp[16], fps[80], hex[CVMFS_HASH_HEX_MAX];
	struct cvmfs_hash fp;
	mbedtls_rsa_context *rsa;
	ssize_t off;
	int n;

	if (!k->have_master || cvmfs_cert_fingerprint(&k->cert, CVMFS_HASH_SHA1, &fp) < 0)
		return -EINVAL;
	cvmfs_fingerprint_fmt(&fp, fps, sizeof(fps));
	utc_stamp(now, made, sizeof(made));
	utc_stamp(now + (time_t)days * 86400, exp, sizeof(exp));
	n = snprintf(body, sizeof(body), "%s\nE%s\nN%s\n%s\n", made, exp, fqrn, fps);
	if (n < 0 || (size_t)n >= sizeof(body))
		return -ENOSPC;
	off = sig_head(CVMFS_HASH_SHA1, body, (size_t)n, out, cap, hex);
	if (off < 0)
		return off;
	rsa = mbedtls_pk_rsa(k->master);
	/* Spec §3: raw type-1 padding over the hex string, no DigestInfo. */
	if (mbedtls_rsa_rsassa_pkcs1_v15_sign(rsa, cvmfs_pub_rng_cb, r, MBEDTLS_RSA_PRIVATE,
					      MBEDTLS_MD_NONE, (unsigned)strlen(hex),
					      (const unsigned char *)hex, out + off) != 0)
		return -EIO;
	return off + (ssize_t)mbedtls_rsa_get_len(rsa);
}
