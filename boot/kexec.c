/* SPDX-License-Identifier: MIT */
/* boot/kexec.c: boot-loader update by kexec (μCernVM's 12kexec, without its
 * flaws): a payload in kexec/ on the scratch disk (apply: version=,
 * kernel=, initrd=, cmdline=, and the SHA-256 of both files as written by
 * `cvmboot mkupdate` or the OS tools) is booted with kexec_file_load when
 * its version is newer than the running boot loader's and both hashes
 * match, after the scratch file system is unmounted cleanly. Not on every
 * boot: once it runs, the versions are equal. A failure boots on. */
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

/* Hex SHA-256 of an open file, from its start. */
/* kexec_file_load(2); i386 (the web flavour, boot/web/) has no such system
 * call, so there an update is never applied and the boot goes on. */
static int kexec_file_load(int kfd, int ifd, const char *cmdline)
{
#ifdef SYS_kexec_file_load
	return (int)syscall(SYS_kexec_file_load, kfd, ifd, strlen(cmdline) + 1, cmdline, 0UL);
#else
	(void)kfd; (void)ifd; (void)cmdline;
	errno = ENOSYS;
	return -1;
#endif
}

static int fd_sha256(int fd, char hex[65])
{
	mbedtls_sha256_context c;
	unsigned char buf[16 * 1024], h[32];
	ssize_t n;
	int i;

	mbedtls_sha256_init(&c);
	mbedtls_sha256_starts_ret(&c, 0);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		mbedtls_sha256_update_ret(&c, buf, (size_t)n);
	mbedtls_sha256_finish_ret(&c, h);
	mbedtls_sha256_free(&c);
	if (n < 0 || lseek(fd, 0, SEEK_SET) < 0)
		return -errno;
	for (i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", h[i]);
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

/* see boot.h */
int boot_stage_kexec(struct boot_ctx *ctx)
{
	struct boot_kexec_apply a;
	char text[BOOT_KEXEC_APPLY_MAX], cmdline[4096 + 96], mark[96];
	long n;
	int dfd, kfd = -1, ifd = -1, rc;

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
	if (boot_version_cmp(a.version, CVMBOOT_VERSION) <= 0) {
		if (ctx->cfg.verbose || boot_version_cmp(a.version, CVMBOOT_VERSION) < 0)
			boot_log(ctx, "kexec", "payload %s is not newer than %s; not applied",
				 a.version, CVMBOOT_VERSION);
		goto out;
	}
	/* This boot came from that payload (the marker is on the command line
	 * PID 1 gave it) yet says another version: never loop on it. */
	snprintf(mark, sizeof(mark), BOOT_KEXEC_MARK "%s", a.version);
	if (word_in(ctx->cmdline, mark)) {
		boot_log(ctx, "kexec", "booted from payload %s, which runs boot loader %s: "
			 "not applied again (rebuild the payload: cvmboot mkupdate)", a.version,
			 CVMBOOT_VERSION);
		goto out;
	}
	if ((kfd = open_checked(dfd, a.kernel, a.kernel_sha256, "kernel", ctx)) < 0 ||
	    (ifd = open_checked(dfd, a.initrd, a.initrd_sha256, "initrd", ctx)) < 0)
		goto out;
	snprintf(cmdline, sizeof(cmdline), "%s %s", a.cmdline[0] ? a.cmdline : ctx->cmdline, mark);
	if (kexec_file_load(kfd, ifd, cmdline) < 0) {
		boot_log(ctx, "kexec", "loading %s %s failed: %s; booting on with %s",
			 a.kernel, a.initrd, strerror(errno), CVMBOOT_VERSION);
		goto out;
	}
	close(kfd);
	close(ifd);
	close(dfd);
	kfd = ifd = dfd = -1;
	boot_log(ctx, "kexec", "boot loader %s -> %s: unmounting the scratch disk, then kexec",
		 CVMBOOT_VERSION, a.version);
	/* The files on the scratch disk are closed: unmount it cleanly. */
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
#ifdef SYS_kexec_file_load
		syscall(SYS_kexec_file_load, -1, -1, 0UL, NULL, 4UL /* KEXEC_FILE_UNLOAD */);
#endif
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
out:
	if (kfd >= 0)
		close(kfd);
	if (ifd >= 0)
		close(ifd);
	if (dfd >= 0)
		close(dfd);
	return 0;
}
