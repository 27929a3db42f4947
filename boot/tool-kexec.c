/* SPDX-License-Identifier: MIT */
/* boot/tool-kexec.c: `cvmboot mkupdate`: a boot-loader update payload for
 * kexec/ on the scratch disk or /.cvmboot/update in the repository
 * (boot/kexec.c): the kernel, the initrd archives concatenated, and apply
 * with the version, the file names, the command line and both SHA-256.
 * Host tool only. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mbedtls/sha256.h"

#include "boot/boot.h"
#include "boot/tool.h"

#define UPD_INITRDS_MAX 8

/* Appends (or writes) src to the open out, hashing it into c. */
static int cat_into(int out, const char *src, mbedtls_sha256_context *c)
{
	unsigned char buf[64 * 1024];
	ssize_t n;
	int fd = open(src, O_RDONLY | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return -errno;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		mbedtls_sha256_update_ret(c, buf, (size_t)n);
		if (write(out, buf, (size_t)n) != n) {
			rc = -EIO;
			break;
		}
	}
	if (n < 0)
		rc = -errno;
	close(fd);
	return rc;
}

static int write_file(const char *dir, const char *name, const char **srcs, int nsrc,
		      char hex[65])
{
	mbedtls_sha256_context c;
	unsigned char h[32];
	char path[4096];
	int out, i, rc = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out < 0)
		return -errno;
	mbedtls_sha256_init(&c);
	mbedtls_sha256_starts_ret(&c, 0);
	for (i = 0; i < nsrc && rc == 0; i++)
		if ((rc = cat_into(out, srcs[i], &c)) < 0)
			fprintf(stderr, "mkupdate: %s: %s\n", srcs[i], strerror(-rc));
	mbedtls_sha256_finish_ret(&c, h);
	mbedtls_sha256_free(&c);
	if (fsync(out) < 0 && rc == 0)
		rc = -errno;
	close(out);
	for (i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", h[i]);
	return rc;
}

/* see tool.h */
int boot_cli_mkupdate(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "kernel", 1, 0, 'k' }, { "initrd", 1, 0, 'i' }, { "version", 1, 0, 'v' },
		{ "cmdline", 1, 0, 'c' }, { 0, 0, 0, 0 } };
	const char *kernel = NULL, *version = NULL, *cmdline = "", *out = NULL;
	const char *initrds[UPD_INITRDS_MAX];
	char kname[160], iname[160], khex[65], ihex[65], apply[8192], path[4096];
	int n = 0, c, len;
	FILE *f;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
		switch (c) {
		case 'k': kernel = optarg; break;
		case 'v': version = optarg; break;
		case 'c': cmdline = optarg; break;
		case 'o': out = optarg; break;
		case 'i':
			if (n == UPD_INITRDS_MAX)
				goto usage;
			initrds[n++] = optarg;
			break;
		default:
			goto usage;
		}
	}
	if (!kernel || !version || !out || n == 0 || optind != argc ||
	    strspn(version, "0123456789.") != strlen(version) || strlen(version) > 60 ||
	    strchr(cmdline, '\n'))
		goto usage;
	if (mkdir(out, 0755) < 0 && errno != EEXIST) {
		fprintf(stderr, "mkupdate: %s: %s\n", out, strerror(errno));
		return 1;
	}
	snprintf(kname, sizeof(kname), "vmlinuz-%s", version);
	snprintf(iname, sizeof(iname), "initrd-%s.img", version);
	if (write_file(out, kname, &kernel, 1, khex) < 0 ||
	    write_file(out, iname, initrds, n, ihex) < 0)
		return 1;
	len = snprintf(apply, sizeof(apply), "version=%s\nkernel=%s\nkernel_sha256=%s\n"
		       "initrd=%s\ninitrd_sha256=%s\ncmdline=%s\n", version, kname, khex, iname,
		       ihex, cmdline);
	/* apply last: a payload without it is never looked at */
	snprintf(path, sizeof(path), "%s/apply", out);
	f = fopen(path, "we");
	if (!f || fwrite(apply, 1, (size_t)len, f) != (size_t)len || fclose(f) != 0) {
		fprintf(stderr, "mkupdate: %s: %s\n", path, strerror(errno));
		return 1;
	}
	printf("%s: update to %s (copy the directory's files to kexec/ on the scratch disk, "
	       "or publish it as /.cvmboot/update in the repository)\n",
	       out, version);
	return 0;
usage:
	fprintf(stderr, "usage: cvmboot mkupdate --kernel FILE --initrd FILE [--initrd FILE]... "
		"--version N.N.N [--cmdline TEXT] -o DIR\n"
		"  An empty --cmdline keeps the running command line.\n");
	return 2;
}
