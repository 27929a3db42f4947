/* SPDX-License-Identifier: MIT */
/* boot/kexec.c: boot-loader update by kexec (μCernVM's 12kexec, without its
 * flaws): a payload in kexec/ on the scratch disk (apply: version=,
 * kernel=, initrd=, cmdline=, and the SHA-256 of both files as written by
 * `cvmboot mkupdate` or the OS tools) is booted with kexec_file_load when
 * its version is newer than the running boot loader's and both hashes
 * match, after the scratch file system is unmounted cleanly. Not on every
 * boot: once it runs, the versions are equal. A failure boots on. The
 * update stage takes such a payload from the repository (/.cvmboot/update)
 * into kexec/ first. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "mbedtls/sha256.h"

#include "boot/boot.h"
#include "boot/context.h"

/* see context.h */
int boot_kexec_apply_parse(const char *text, size_t len, struct boot_kexec_apply *a)
{
	static const struct { const char *key; size_t off, cap; } keys[] = {
#define K(k, f) { k, offsetof(struct boot_kexec_apply, f), sizeof(((struct boot_kexec_apply *)0)->f) }
		K("version", version), K("kernel", kernel), K("initrd", initrd),
		K("cmdline", cmdline), K("kernel_sha256", kernel_sha256),
		K("initrd_sha256", initrd_sha256),
#undef K
	};
	const char *p = text, *end = text + len;
	size_t i;

	memset(a, 0, sizeof(*a));
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p)), *eq;
		size_t kl, vl;

		if (!eol)
			eol = end;
		eq = memchr(p, '=', (size_t)(eol - p));
		if (eq && *p != '#') {
			kl = (size_t)(eq - p);
			vl = (size_t)(eol - eq - 1);
			if (vl && eq[vl] == '\r')
				vl--;
			for (i = 0; i < BOOT_LEN(keys); i++) {
				if (strlen(keys[i].key) != kl || memcmp(p, keys[i].key, kl) != 0)
					continue;
				if (vl >= keys[i].cap)
					return -ENAMETOOLONG;
				memcpy((char *)a + keys[i].off, eq + 1, vl);
				((char *)a + keys[i].off)[vl] = '\0';
			}
		}
		p = eol + 1;
	}
	if (!a->version[0] || !a->kernel[0] || !a->initrd[0])
		return -EBADMSG;
	/* files in kexec/ only */
	if (strchr(a->kernel, '/') || strchr(a->initrd, '/') || a->kernel[0] == '.' ||
	    a->initrd[0] == '.')
		return -EPERM;
	return 0;
}

/* see context.h */
int boot_version_cmp(const char *a, const char *b)
{
	for (;;) {
		char *ea, *eb;
		unsigned long x = strtoul(a, &ea, 10), y = strtoul(b, &eb, 10);

		if (x != y)
			return x < y ? -1 : 1;
		a = ea + (*ea == '.');
		b = eb + (*eb == '.');
		if (!*a && !*b)
			return 0;
		if ((*a && (*a < '0' || *a > '9')) || (*b && (*b < '0' || *b > '9')))
			return strcmp(a, b) < 0 ? -1 : strcmp(a, b) > 0;
	}
}

/* kexec_file_load(2); i386 (the web flavour, boot/web/) has no such system
 * call, so there an update is never applied and the boot goes on. */
static int kexec_file_load(int kfd, int ifd, const char *cmdline, unsigned long flags)
{
#ifdef SYS_kexec_file_load
	return (int)syscall(SYS_kexec_file_load, kfd, ifd, cmdline ? strlen(cmdline) + 1 : 0UL,
			    cmdline, flags);
#else
	(void)kfd; (void)ifd; (void)cmdline; (void)flags;
	errno = ENOSYS;
	return -1;
#endif
}

static void sha256_hex(const unsigned char h[32], char hex[65])
{
	int i;

	for (i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", h[i]);
}

/* Hex SHA-256 of an open file, from its start. */
static int fd_sha256(int fd, char hex[65])
{
	mbedtls_sha256_context c;
	unsigned char buf[16 * 1024], h[32];
	ssize_t n;

	mbedtls_sha256_init(&c);
	mbedtls_sha256_starts_ret(&c, 0);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		mbedtls_sha256_update_ret(&c, buf, (size_t)n);
	mbedtls_sha256_finish_ret(&c, h);
	mbedtls_sha256_free(&c);
	if (n < 0 || lseek(fd, 0, SEEK_SET) < 0)
		return -errno;
	sha256_hex(h, hex);
	return 0;
}

static int open_checked(int dirfd, const char *name, const char *want, const char *what,
			struct boot_ctx *ctx)
{
	char hex[65];
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), rc;

	if (fd < 0) {
		boot_log(ctx, "kexec", "%s %s: %s; update not applied", what, name, strerror(errno));
		return -errno;
	}
	if (!want)	/* just copied and hashed by copy_checked */
		return fd;
	if ((rc = fd_sha256(fd, hex)) < 0 || strcmp(hex, want) != 0) {
		boot_log(ctx, "kexec", "%s %s: SHA-256 %s does not match apply's %s; corrupt "
			 "payload refused (rebuild it with cvmboot mkupdate)", what, name,
			 rc < 0 ? "unreadable" : hex, want[0] ? want : "(missing)");
		close(fd);
		return -EBADMSG;
	}
	return fd;
}

static int word_in(const char *line, const char *w)
{
	size_t n = strlen(w);
	const char *p = line;

	while ((p = strstr(p, w))) {
		if ((p == line || p[-1] == ' ') && (p[n] == '\0' || p[n] == ' ' || p[n] == '\n'))
			return 1;
		p += n;
	}
	return 0;
}

/* see context.h */
int boot_kexec_wanted(const struct boot_kexec_apply *a, const char *running,
		      const char *cmdline, int verbose, char *why, size_t cap)
{
	char mark[96];
	int c = boot_version_cmp(a->version, running);

	why[0] = '\0';
	if (c <= 0) {
		if (verbose || c < 0)
			snprintf(why, cap, "payload %s is not newer than %s; not applied",
				 a->version, running);
		return 0;
	}
	/* This boot came from that payload (the marker is on the command line
	 * PID 1 gave it) yet says another version: never loop on it. */
	snprintf(mark, sizeof(mark), BOOT_KEXEC_MARK "%s", a->version);
	if (word_in(cmdline, mark)) {
		snprintf(why, cap, "booted from payload %s, which runs boot loader %s: not "
			 "applied again (rebuild the payload: cvmboot mkupdate)", a->version,
			 running);
		return 0;
	}
	return 1;
}

/* Copies src's name to dst's name through a temporary name, hashing what
 * it copies; the copy stays only if its SHA-256 is want. */
static int copy_checked(int src, int dst, const char *name, const char *want, char *why,
			size_t cap)
{
	mbedtls_sha256_context c;
	unsigned char buf[64 * 1024], h[32];
	char tmp[160], hex[65];
	struct stat sb;
	ssize_t n = 0;
	int in, out, rc = 0;

	snprintf(tmp, sizeof(tmp), ".%s.part", name);
	in = openat(src, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (in < 0 || fstat(in, &sb) < 0 || !S_ISREG(sb.st_mode) ||
	    sb.st_size > BOOT_KEXEC_FILE_MAX) {
		rc = in < 0 ? -errno : -EFBIG;
		snprintf(why, cap, "%s: %s", name, in < 0 ? strerror(errno) :
			 "not a regular file of at most 512 MiB");
		if (in >= 0)
			close(in);
		return rc;
	}
	out = openat(dst, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (out < 0) {
		rc = -errno;
		snprintf(why, cap, "kexec/%s on the scratch disk: %s", tmp, strerror(errno));
		close(in);
		return rc;
	}
	mbedtls_sha256_init(&c);
	mbedtls_sha256_starts_ret(&c, 0);
	errno = 0;
	while (rc == 0 && (n = read(in, buf, sizeof(buf))) > 0) {
		mbedtls_sha256_update_ret(&c, buf, (size_t)n);
		/* a regular file on ext4: a short write means the disk is full */
		if (write(out, buf, (size_t)n) != n)
			rc = errno ? -errno : -ENOSPC;
	}
	mbedtls_sha256_finish_ret(&c, h);
	mbedtls_sha256_free(&c);
	if (n < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && fsync(out) < 0)
		rc = -errno;
	close(out);
	close(in);
	sha256_hex(h, hex);
	if (rc < 0)
		snprintf(why, cap, "copying %s: %s", name, strerror(-rc));
	else if (strcmp(hex, want) != 0) {
		snprintf(why, cap, "%s: SHA-256 %s does not match apply's %s; corrupt payload "
			 "refused (rebuild it with cvmboot mkupdate)", name, hex,
			 want[0] ? want : "(missing)");
		rc = -EBADMSG;
	} else if (renameat(dst, tmp, dst, name) < 0) {
		rc = -errno;
		snprintf(why, cap, "kexec/%s: %s", name, strerror(errno));
	}
	if (rc < 0)
		unlinkat(dst, tmp, 0);
	return rc;
}

/* see context.h */
int boot_kexec_take(int src, int dst, const char *running, const char *cmdline, int verbose,
		    struct boot_kexec_apply *a, char *why, size_t cap)
{
	char text[BOOT_KEXEC_APPLY_MAX], have[BOOT_KEXEC_APPLY_MAX];
	struct boot_kexec_apply old;
	long n, m;
	int rc;

	why[0] = '\0';
	n = boot_file_read(src, "apply", text, sizeof(text));
	if (n == -ENOENT)
		return 0;
	if (n < 0 || (rc = boot_kexec_apply_parse(text, (size_t)n, a)) < 0) {
		snprintf(why, cap, "apply unreadable (%s); refused: it needs version=, kernel=, "
			 "initrd= and their _sha256= (cvmboot mkupdate writes them)",
			 strerror(n < 0 ? (int)-n : -rc));
		return n < 0 ? (int)n : rc;
	}
	/* Staged by an earlier boot (the kexec stage has had its turn): quiet. */
	m = boot_file_read(dst, "apply", have, sizeof(have));
	if (m == n && memcmp(have, text, (size_t)n) == 0)
		return 0;
	if (!boot_kexec_wanted(a, running, cmdline, verbose, why, cap))
		return 0;
	/* The old payload goes first: a half-copied one is never looked at. */
	if (m > 0 && boot_kexec_apply_parse(have, (size_t)m, &old) == 0) {
		if (strcmp(old.kernel, a->kernel) != 0)
			unlinkat(dst, old.kernel, 0);
		if (strcmp(old.initrd, a->initrd) != 0)
			unlinkat(dst, old.initrd, 0);
	}
	unlinkat(dst, "apply", 0);
	if ((rc = copy_checked(src, dst, a->kernel, a->kernel_sha256, why, cap)) < 0 ||
	    (rc = copy_checked(src, dst, a->initrd, a->initrd_sha256, why, cap)) < 0)
		return rc;
	if ((rc = boot_file_write(dst, "apply", text, (size_t)n)) < 0) {
		snprintf(why, cap, "kexec/apply on the scratch disk: %s", strerror(-rc));
		return rc;
	}
	return 1;
}

/* Loads the payload a in directory dfd with kexec_file_load: 0, or -errno
 * (logged: the boot goes on). verified: its files were hashed as they were
 * copied there (the update stage), so they are not read a second time. */
static int kexec_load_dir(struct boot_ctx *ctx, int dfd, const struct boot_kexec_apply *a,
			  bool verified)
{
	char cmdline[4096 + 96];
	int kfd = -1, ifd = -1, rc = 0;

	if ((kfd = open_checked(dfd, a->kernel, verified ? NULL : a->kernel_sha256, "kernel",
				ctx)) < 0 ||
	    (ifd = open_checked(dfd, a->initrd, verified ? NULL : a->initrd_sha256, "initrd",
				ctx)) < 0) {
		rc = kfd < 0 ? kfd : ifd;
		goto out;
	}
	snprintf(cmdline, sizeof(cmdline), "%s " BOOT_KEXEC_MARK "%s",
		 a->cmdline[0] ? a->cmdline : ctx->cmdline, a->version);
	if (kexec_file_load(kfd, ifd, cmdline, 0UL) < 0) {
		rc = -errno;
		boot_log(ctx, "kexec", "loading %s %s failed: %s; booting on with %s",
			 a->kernel, a->initrd, strerror(errno), CVMBOOT_VERSION);
	}
out:
	if (kfd >= 0)
		close(kfd);
	if (ifd >= 0)
		close(ifd);
	return rc;
}

/* Unmounts the scratch disk cleanly and boots the loaded kernel; returns 0
 * (logged) with the scratch disk mounted again and its fds open only when
 * that failed. The caller has closed its own fds on the disk. */
static int kexec_exec(struct boot_ctx *ctx, const char *version)
{
	int rc;

	boot_log(ctx, "kexec", "boot loader %s -> %s: unmounting the scratch disk, then kexec",
		 CVMBOOT_VERSION, version);
	if (ctx->auxfd >= 0)
		close(ctx->auxfd);
	if (ctx->ulogsfd >= 0)
		close(ctx->ulogsfd);
	if (ctx->ctxdirfd >= 0)
		close(ctx->ctxdirfd);
	ctx->auxfd = ctx->ulogsfd = ctx->ctxdirfd = -1;
	sync();
	if (umount2(BOOT_ROOT_RW, 0) < 0 &&
	    mount(NULL, BOOT_ROOT_RW, NULL, MS_REMOUNT | MS_RDONLY, NULL) < 0) {
		boot_log(ctx, "kexec", "cannot unmount or remount read-only %s: %s; booting on",
			 BOOT_ROOT_RW, strerror(errno));
		kexec_file_load(-1, -1, NULL, 4UL /* KEXEC_FILE_UNLOAD */);
		goto reopen;
	}
	reboot(RB_KEXEC);
	rc = errno;
	/* Only reached when the kernel refused: mount again and boot on. */
	mount(ctx->scratch.part_path, BOOT_ROOT_RW, "ext4", MS_NOATIME, "");
	boot_log(ctx, "kexec", "kexec failed: %s; booting on with %s", strerror(rc),
		 CVMBOOT_VERSION);
reopen:
	mount(NULL, BOOT_ROOT_RW, NULL, MS_REMOUNT | MS_NOATIME, NULL);
	ctx->auxfd = open(BOOT_ROOT_RW "/aux", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ctx->ulogsfd = open(BOOT_ROOT_RW "/ulogs", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ctx->ctxdirfd = open(BOOT_ROOT_RW "/" BOOT_CONTEXT_DIR, O_RDONLY | O_DIRECTORY |
			     O_CLOEXEC);
	return ctx->auxfd < 0 ? -errno : 0;
}

/* see boot.h */
int boot_stage_kexec(struct boot_ctx *ctx)
{
	struct boot_kexec_apply a;
	char text[BOOT_KEXEC_APPLY_MAX], why[400];
	long n;
	int dfd, rc;

	dfd = open(BOOT_ROOT_RW "/kexec", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return 0;
	n = boot_file_read(dfd, "apply", text, sizeof(text));
	if (n == -ENOENT)
		goto out;
	if (n < 0 || (rc = boot_kexec_apply_parse(text, (size_t)n, &a)) < 0) {
		boot_log(ctx, "kexec", "kexec/apply unreadable (%s); ignored: it needs version=, "
			 "kernel=, initrd= and their _sha256=", strerror(n < 0 ? (int)-n : -rc));
		goto out;
	}
	if (!boot_kexec_wanted(&a, CVMBOOT_VERSION, ctx->cmdline, ctx->cfg.verbose, why,
			       sizeof(why))) {
		if (why[0])
			boot_log(ctx, "kexec", "%s", why);
		goto out;
	}
	if (kexec_load_dir(ctx, dfd, &a, false) < 0)
		goto out;
	close(dfd);
	return kexec_exec(ctx, a.version);
out:
	close(dfd);
	return 0;
}

/* see boot.h */
int boot_stage_update(struct boot_ctx *ctx)
{
	struct boot_kexec_apply a = { .version = "" };
	char why[400];
	int src, dst = -1, rc;

	src = open(BOOT_ROOT_RO BOOT_UPDATE_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (src < 0)
		return 0;
	if ((mkdir(BOOT_ROOT_RW "/kexec", 0700) < 0 && errno != EEXIST) ||
	    (dst = open(BOOT_ROOT_RW "/kexec", O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
			O_CLOEXEC)) < 0) {
		boot_log(ctx, "update", "kexec/ on the scratch disk: %s; update not applied",
			 strerror(errno));
		goto out;
	}
	rc = boot_kexec_take(src, dst, CVMBOOT_VERSION, ctx->cmdline, ctx->cfg.verbose, &a,
			     why, sizeof(why));
	if (rc < 0)
		boot_log(ctx, "update", "repository payload %s: %s; booting on with %s",
			 BOOT_UPDATE_DIR, why, CVMBOOT_VERSION);
	else if (why[0])
		boot_log(ctx, "update", "repository payload: %s", why);
	if (rc <= 0)
		goto out;
	boot_log(ctx, "update", "repository payload %s verified and copied to kexec/",
		 a.version);
	/* Loaded first: a payload the kernel refuses stops nothing. */
	if (kexec_load_dir(ctx, dst, &a, true) < 0)
		goto out;
	close(dst);
	close(src);
	/* The daemon holds its cache on the scratch disk: it goes, and comes
	 * back with the same snapshot if the kexec does not happen. */
	boot_cvmfs_stop(ctx);
	if ((rc = kexec_exec(ctx, a.version)) < 0)
		return rc;
	return boot_cvmfs_remount(ctx);
out:
	if (dst >= 0)
		close(dst);
	close(src);
	return 0;
}
