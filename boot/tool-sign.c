/* SPDX-License-Identifier: MIT */
/* boot/tool-sign.c: `cvmboot sign-image` and `cvmboot verify-image`: a
 * metadata file (version, size and SHA-256 of the image, its kernel and
 * initramfs archives, the repository settings baked in) and a detached
 * signature over it: RSA PKCS#1 v1.5 SHA-256 with the repository's master
 * key (FQRN.masterkey of `cvmboot keygen`), checked with FQRN.pub, the same
 * public key the image carries to verify the repository. Host tool only. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mbedtls/pk.h"
#include "mbedtls/sha256.h"

#include "boot/boot.h"
#include "boot/tool.h"
#include "cvmfs-pub/cvmfs-pub.h"

#define SIGN_META_MAX (64 * 1024)
#define SIGN_FILES_MAX 16
#define SIGN_SIG_MAX 1024		/* RSA up to 8192 bits */
#define SIGN_FORMAT "cvmboot-image-meta 1"

/* Size and hex SHA-256 of a file. */
static int file_hash(const char *path, char hex[65], unsigned long long *size)
{
	mbedtls_sha256_context c;
	unsigned char buf[64 * 1024], h[32];
	ssize_t n;
	int fd, i, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	*size = 0;
	mbedtls_sha256_init(&c);
	mbedtls_sha256_starts_ret(&c, 0);
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		mbedtls_sha256_update_ret(&c, buf, (size_t)n);
		*size += (unsigned long long)n;
	}
	if (n < 0)
		rc = -errno;
	mbedtls_sha256_finish_ret(&c, h);
	mbedtls_sha256_free(&c);
	close(fd);
	for (i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", h[i]);
	return rc;
}

/* dir/name atomically (boot_file_write), readable by all: it is published. */
static int write_public(const char *dir, const char *name, const void *buf, size_t len)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc;

	if (dfd < 0)
		return -errno;
	rc = boot_file_write(dfd, name, buf, len);
	if (rc == 0 && fchmodat(dfd, name, 0644, 0) < 0)
		rc = -errno;
	close(dfd);
	return rc;
}

static const char *base(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
}

static int usage_sign(void)
{
	fprintf(stderr, "usage: cvmboot sign-image --keys DIR --name FQRN --image FILE "
		"[--image FILE ...]\n\t[--kernel FILE] [--initrd FILE ...] [--defaults FILE] "
		"[--version V] -o META\n"
		"Writes META (what the image is) and META.sig (signed with DIR/FQRN.masterkey).\n");
	return 2;
}

/* see tool.h */
int boot_cli_sign_image(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "keys", 1, 0, 'k' }, { "name", 1, 0, 'n' }, { "image", 1, 0, 'i' },
		{ "kernel", 1, 0, 'K' }, { "initrd", 1, 0, 'r' }, { "defaults", 1, 0, 'd' },
		{ "version", 1, 0, 'v' }, { 0, 0, 0, 0 } };
	const char *keys = NULL, *name = NULL, *defaults = NULL, *out = NULL;
	const char *version = CVMBOOT_VERSION, *files[SIGN_FILES_MAX], *kinds[SIGN_FILES_MAX];
	size_t nfiles = 0, len = 0, i, siglen = 0;
	char *meta = NULL, hex[65], sigpath[4096], odir[4096];
	unsigned char h[32], sig[SIGN_SIG_MAX];
	struct cvmfs_pub_signer k;
	struct cvmfs_pub_rng rng;
	struct cvmfs_pub_err e;
	unsigned long long size;
	int c, rc = 1, have_keys = 0, have_rng = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
		switch (c) {
		case 'k': keys = optarg; break;
		case 'n': name = optarg; break;
		case 'd': defaults = optarg; break;
		case 'v': version = optarg; break;
		case 'o': out = optarg; break;
		case 'i': case 'K': case 'r':
			if (nfiles == SIGN_FILES_MAX) {
				fprintf(stderr, "sign-image: at most %d files\n", SIGN_FILES_MAX);
				return 2;
			}
			kinds[nfiles] = c == 'i' ? "image" : c == 'K' ? "kernel" : "initrd";
			files[nfiles++] = optarg;
			break;
		default:
			return usage_sign();
		}
	}
	if (!keys || !name || !out || nfiles == 0 || optind != argc)
		return usage_sign();
	if (!(meta = malloc(SIGN_META_MAX)))
		return 1;
	len = (size_t)snprintf(meta, SIGN_META_MAX, "format=%s\nversion=%s\nrepository_key=%s\n",
			       SIGN_FORMAT, version, name);
	for (i = 0; i < nfiles; i++) {
		if ((c = file_hash(files[i], hex, &size)) < 0) {
			fprintf(stderr, "sign-image: %s: %s\n", files[i], strerror(-c));
			goto out;
		}
		len += (size_t)snprintf(meta + len, SIGN_META_MAX - len, "%s=%s %llu sha256:%s\n",
					kinds[i], base(files[i]), size, hex);
	}
	if (defaults) {	/* the repository settings baked in (etc/cvmboot/defaults) */
		FILE *f = fopen(defaults, "re");
		char line[1024];

		if (!f) {
			fprintf(stderr, "sign-image: %s: %s\n", defaults, strerror(errno));
			goto out;
		}
		while (fgets(line, sizeof(line), f) && len + 1100 < SIGN_META_MAX) {
			line[strcspn(line, "\r\n")] = '\0';
			if (line[0] && line[0] != '#')
				len += (size_t)snprintf(meta + len, SIGN_META_MAX - len, "default.%s\n",
							line);
		}
		fclose(f);
	}
	cvmfs_pub_err_init(&e);
	if (cvmfs_pub_signer_load(&k, keys, name, 1, &e) < 0) {
		fprintf(stderr, "sign-image: %s\n", e.msg);
		goto out;
	}
	have_keys = 1;
	if (cvmfs_pub_rng_init(&rng) < 0)
		goto out;
	have_rng = 1;
	mbedtls_sha256_ret((const unsigned char *)meta, len, h, 0);
	if (mbedtls_pk_get_len(&k.master) > sizeof(sig) ||
	    mbedtls_pk_sign(&k.master, MBEDTLS_MD_SHA256, h, sizeof(h), sig, &siglen,
			    cvmfs_pub_rng_cb, &rng.drbg) != 0) {
		fprintf(stderr, "sign-image: signing with %s/%s.masterkey failed\n", keys, name);
		goto out;
	}
	snprintf(odir, sizeof(odir), "%s", out);
	if (strrchr(odir, '/'))
		*strrchr(odir, '/') = '\0';
	else
		snprintf(odir, sizeof(odir), ".");
	snprintf(sigpath, sizeof(sigpath), "%s.sig", base(out));
	if ((c = write_public(odir, base(out), meta, len)) < 0 ||
	    (c = write_public(odir, sigpath, sig, siglen)) < 0) {
		fprintf(stderr, "sign-image: writing %s: %s\n", out, strerror(-c));
		goto out;
	}
	printf("%s: %zu files, signed with %s.masterkey (%zu-byte signature in %s.sig)\n",
	       out, nfiles, name, siglen, out);
	rc = 0;
out:
	if (have_rng)
		cvmfs_pub_rng_fini(&rng);
	if (have_keys)
		cvmfs_pub_signer_fini(&k);
	free(meta);
	return rc;
}

/* path into buf; -EFBIG unless it is shorter than cap. */
static long slurp(const char *path, void *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t got;

	if (fd < 0)
		return -errno;
	got = boot_read_full(fd, buf, cap);
	close(fd);
	return got == (ssize_t)cap ? -EFBIG : (long)got;
}

/* see tool.h */
int boot_cli_verify_image(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "key", 1, 0, 'k' }, { "meta", 1, 0, 'm' }, { "dir", 1, 0, 'd' },
		{ 0, 0, 0, 0 } };
	const char *key = NULL, *metap = NULL, *dir = NULL;
	char *meta = NULL, sigpath[4096], path[4400], hex[65];
	unsigned char h[32], sig[SIGN_SIG_MAX];
	mbedtls_pk_context pk;
	unsigned long long size;
	long mlen, slen, klen;
	unsigned checked = 0, bad = 0;
	char *line, *save;
	int c, rc = 1;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'k': key = optarg; break;
		case 'm': metap = optarg; break;
		case 'd': dir = optarg; break;
		default: goto usage;
		}
	}
	if (!key || !metap || optind != argc)
		goto usage;
	mbedtls_pk_init(&pk);
	if (!(meta = malloc(SIGN_META_MAX + 1)))
		goto out;
	snprintf(sigpath, sizeof(sigpath), "%s.sig", metap);
	if ((slen = slurp(sigpath, sig, sizeof(sig))) < 0) {
		fprintf(stderr, "verify-image: cannot read %s: keep the .sig sign-image wrote "
			"next to its metadata\n", sigpath);
		goto out;
	}
	if ((klen = slurp(key, meta, SIGN_META_MAX)) < 0 || (meta[klen] = '\0',
	    mbedtls_pk_parse_public_key(&pk, (unsigned char *)meta, (size_t)klen + 1)) != 0) {
		fprintf(stderr, "verify-image: %s is not a public key (PEM): give the "
			"repository's FQRN.pub\n", key);
		goto out;
	}
	if ((mlen = slurp(metap, meta, SIGN_META_MAX)) < 0) {
		fprintf(stderr, "verify-image: cannot read %s: %s\n", metap, strerror((int)-mlen));
		goto out;
	}
	mbedtls_sha256_ret((const unsigned char *)meta, (size_t)mlen, h, 0);
	if (mbedtls_pk_verify(&pk, MBEDTLS_MD_SHA256, h, sizeof(h), sig, (size_t)slen) != 0) {
		fprintf(stderr, "verify-image: BAD signature: %s was not signed by the key %s "
			"(or was changed since)\n", metap, key);
		goto out;
	}
	meta[mlen] = '\0';
	if (strncmp(meta, "format=" SIGN_FORMAT "\n", strlen("format=" SIGN_FORMAT "\n")) != 0) {
		fprintf(stderr, "verify-image: %s is not a cvmboot image metadata file\n", metap);
		goto out;
	}
	printf("signature OK (%s)\n", key);
	/* Each listed file found in dir (default: the metadata's directory). */
	if (!dir) {
		static char d[4096];
		char *s;

		snprintf(d, sizeof(d), "%s", metap);
		s = strrchr(d, '/');
		if (s)
			*s = '\0';
		else
			snprintf(d, sizeof(d), ".");
		dir = d;
	}
	for (line = strtok_r(meta, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char kind[16], fname[256], want[80];
		unsigned long long wsize;

		if (sscanf(line, "%15[a-z]=%255s %llu sha256:%64s", kind, fname, &wsize, want) != 4)
			continue;
		if (strchr(fname, '/'))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, fname);
		if (access(path, F_OK) != 0) {
			printf("%s %s: not here, not checked\n", kind, fname);
			continue;
		}
		checked++;
		if ((c = file_hash(path, hex, &size)) < 0 || size != wsize || strcmp(hex, want) != 0) {
			printf("%s %s: MISMATCH (%s)\n", kind, fname, c < 0 ? strerror(-c) :
			       size != wsize ? "size" : "sha256");
			bad++;
		} else {
			printf("%s %s: OK\n", kind, fname);
		}
	}
	if (bad || checked == 0) {
		fprintf(stderr, "verify-image: %s\n", bad ? "files differ from the signed "
			"metadata: do not use them" : "none of the listed files is here: "
			"give --dir DIR");
		goto out;
	}
	rc = 0;
out:
	mbedtls_pk_free(&pk);
	free(meta);
	return rc;
usage:
	fprintf(stderr, "usage: cvmboot verify-image --key FQRN.pub --meta META [--dir DIR]\n"
		"Checks META.sig and the size and SHA-256 of each file META lists (in DIR).\n");
	return 2;
}
