/* SPDX-License-Identifier: MIT */
/* boot/extra-context.c: μCernVM's 07extracontext: on the first boot every
 * other partition is mounted read-only and searched for
 * /cernvm/extra-user-data (each file's section applied after the user-data,
 * so its keys win; the files are kept appended) and /cernvm/pickup.tar.gz
 * (the last one found is kept and later unpacked into the root once). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boot/boot.h"
#include "boot/context.h"

#define EXTRA_MNT "/run/extra-mnt"

/* Opens DIRFD/cernvm/NAME as a regular file without following a link on
 * the way (the partition is not ours: a link could point into the
 * initramfs). Returns the fd, -ENOENT, or -errno. */
static int open_cernvm(int dirfd, const char *name, struct stat *st)
{
	int dfd, fd;

	dfd = openat(dirfd, "cernvm", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return errno == ELOOP || errno == ENOTDIR ? -ENOENT : -errno;
	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	close(dfd);
	if (fd < 0)
		return errno == ELOOP ? -ENOENT : -errno;
	if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode)) {
		close(fd);
		return -ENOENT;
	}
	return fd;
}

/* Copies fd (size bytes) to OUTDIRFD/NAME, replacing it (NAME.tmp, rename). */
static int copy_to(int fd, uint64_t size, int outdirfd, const char *name)
{
	char buf[16 * 1024], tmp[64];
	uint64_t done = 0;
	int out, rc = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp", name);
	out = openat(outdirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (out < 0)
		return -errno;
	while (done < size && rc == 0) {
		ssize_t r = boot_read_full(fd, buf, sizeof(buf));

		if (r <= 0) {
			rc = r < 0 ? (int)r : -EPIPE;
			break;
		}
		if (write(out, buf, (size_t)r) != r)
			rc = -errno ? -errno : -EIO;
		done += (uint64_t)r;
	}
	if (close(out) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && renameat(outdirfd, tmp, outdirfd, name) < 0)
		rc = -errno;
	if (rc < 0)
		unlinkat(outdirfd, tmp, 0);
	return rc;
}

/* see context.h */
int boot_extra_collect(int dirfd, const char *dev, int outdirfd, struct boot_extra *x,
		       struct boot_cfg *cfg, boot_cfg_log_fn log, void *arg)
{
	struct stat st;
	const char *sec;
	size_t sec_len, start;
	ssize_t n;
	int fd, rc, found = 0;

	fd = open_cernvm(dirfd, "extra-user-data", &st);
	if (fd >= 0) {
		if ((uint64_t)st.st_size + 1 > x->udcap - x->udlen) {
			boot_cfg_say(log, arg, "extra: %s: cernvm/extra-user-data (%lld bytes) "
				     "does not fit the %zu bytes left; ignored: keep all extra "
				     "user-data under %zu bytes", dev, (long long)st.st_size,
				     x->udcap - x->udlen, x->udcap);
			close(fd);
		} else {
			start = x->udlen;
			n = boot_read_full(fd, x->ud + start, (size_t)st.st_size);
			close(fd);
			if (n < 0)
				return (int)n;
			x->udlen += (size_t)n;
			/* Appended together: each file on a line of its own. */
			if (n > 0 && x->ud[x->udlen - 1] != '\n')
				x->ud[x->udlen++] = '\n';
			x->nud++;
			found++;
			if (outdirfd >= 0 &&
			    (rc = boot_file_write(outdirfd, "extra-user-data", x->ud, x->udlen)) < 0)
				return rc;
			/* Each file's own section, applied in turn: a later key wins
			 * over the user-data and over earlier partitions. cfg may
			 * point into ud (cernvm_inject), which therefore stays. */
			rc = boot_userdata_extract(x->ud + start, (size_t)n, 0, x->work, x->wcap,
						   &sec, &sec_len);
			if (rc == 1 && sec >= x->work && sec < x->work + x->wcap) {
				/* unpacked (gzip/MIME) into work: move it into ud */
				if (sec_len > x->udcap - x->udlen) {
					rc = -ENOSPC;
				} else {
					memcpy(x->ud + x->udlen, sec, sec_len);
					sec = x->ud + x->udlen;
					x->udlen += sec_len;
				}
			}
			if (rc == 1)
				boot_cfg_say(log, arg, "extra: %s: cernvm/extra-user-data: %d keys "
					     "applied over the user-data", dev,
					     boot_cfg_userdata_parse(cfg, sec, sec_len, log, arg));
			else
				boot_cfg_say(log, arg, "extra: %s: cernvm/extra-user-data has %s; "
					     "kept, no keys applied", dev, rc == 0 ?
					     "no [ucernvm-begin] section" : "an unreadable section");
		}
	} else if (fd != -ENOENT) {
		boot_cfg_say(log, arg, "extra: %s: cernvm/extra-user-data: %s; ignored", dev,
			     strerror(-fd));
	}
	fd = open_cernvm(dirfd, "pickup.tar.gz", &st);
	if (fd >= 0) {
		if ((uint64_t)st.st_size > BOOT_EXTRA_PICKUP_MAX) {
			boot_cfg_say(log, arg, "extra: %s: cernvm/pickup.tar.gz is %lld bytes, over "
				     "%u; ignored", dev, (long long)st.st_size, BOOT_EXTRA_PICKUP_MAX);
			rc = 0;
		} else {
			/* As μCernVM: the last one found wins. */
			rc = outdirfd >= 0 ? copy_to(fd, (uint64_t)st.st_size, outdirfd,
						     "pickup.tar.gz") : 0;
			if (rc == 0) {
				snprintf(x->pickup_dev, sizeof(x->pickup_dev), "%s", dev);
				found++;
				boot_cfg_say(log, arg, "extra: %s: cernvm/pickup.tar.gz (%lld bytes) "
					     "kept for the root", dev, (long long)st.st_size);
			}
		}
		close(fd);
		if (rc < 0)
			return rc;
	} else if (fd != -ENOENT) {
		boot_cfg_say(log, arg, "extra: %s: cernvm/pickup.tar.gz: %s; ignored", dev,
			     strerror(-fd));
	}
	return found;
}

/* Is /sys/class/block/NAME the disk DISK or one of its partitions? */
static int on_disk(const char *name, const char *disk)
{
	char path[300], link[512], tail[160];
	ssize_t n;
	size_t tl;

	if (!*disk)
		return 0;
	if (strcmp(name, disk) == 0)
		return 1;
	snprintf(path, sizeof(path), "/sys/class/block/%s", name);
	n = readlink(path, link, sizeof(link) - 1);
	if (n <= 0)
		return 0;
	link[n] = '\0';
	/* ".../block/vdb/vdb1": a partition sits in its disk's directory. */
	tl = (size_t)snprintf(tail, sizeof(tail), "/%s/%s", disk, name);
	return (size_t)n >= tl && strcmp(link + n - tl, tail) == 0;
}

/* see boot.h */
int boot_extra_scan(struct boot_ctx *ctx, unsigned budget_ms)
{
	static const struct { const char *type, *opts; } types[] = {
		/* noload: a read-only ext4 mount would still replay a journal. */
		{ "ext4", "noload" }, { "vfat", NULL }, { "iso9660", NULL },
	};
	uint64_t deadline = boot_now_ms() + budget_ms;
	struct boot_extra *x = &ctx->extra;
	DIR *d;
	struct dirent *e;
	unsigned tried = 0, mounted = 0;
	size_t t;
	int outfd, found = 0, rc;

	if (!x->ud) {
		size_t len = BOOT_EXTRA_UD_MAX + BOOT_CONTEXT_WORK_MAX;
		void *m = mmap(NULL, len, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

		if (m == MAP_FAILED)
			return -ENOMEM;
		x->ud = m;
		x->udcap = BOOT_EXTRA_UD_MAX;
		x->work = (char *)m + BOOT_EXTRA_UD_MAX;
		x->wcap = BOOT_CONTEXT_WORK_MAX;
	}
	mkdir(BOOT_EXTRA_DIR, 0700);
	mkdir(EXTRA_MNT, 0700);
	outfd = open(BOOT_EXTRA_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (outfd < 0)
		return -errno;
	boot_kmod_load(&ctx->kmod, "crc32c_generic");
	boot_kmod_load(&ctx->kmod, "ext4");
	d = opendir("/sys/class/block");
	while (d && (e = readdir(d))) {
		char dev[300];
		int dfd;

		if (e->d_name[0] == '.' || strncmp(e->d_name, "loop", 4) == 0 ||
		    strncmp(e->d_name, "ram", 3) == 0 || strncmp(e->d_name, "zram", 4) == 0 ||
		    on_disk(e->d_name, ctx->scratch.disk))
			continue;
		if (tried >= BOOT_EXTRA_DEVS_MAX || boot_now_ms() >= deadline) {
			boot_log(ctx, "context", "extra: stopped after %u devices and %llu ms; the "
				 "others were not searched", tried,
				 (unsigned long long)(boot_now_ms() + budget_ms - deadline));
			break;
		}
		tried++;
		snprintf(dev, sizeof(dev), "/dev/%s", e->d_name);
		for (t = 0; t < BOOT_LEN(types); t++)
			if (mount(dev, EXTRA_MNT, types[t].type, MS_RDONLY | MS_NOSUID | MS_NODEV |
				  MS_NOEXEC | MS_NOATIME | MS_SILENT, types[t].opts) == 0)
				break;
		if (t == BOOT_LEN(types))
			continue;
		mounted++;
		dfd = open(EXTRA_MNT, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd >= 0) {
			rc = boot_extra_collect(dfd, dev, outfd, x, &ctx->cfg, boot_log_cb, ctx);
			if (rc > 0)
				found += rc;
			else if (rc < 0)
				boot_log(ctx, "context", "extra: %s: %s", dev, strerror(-rc));
			close(dfd);
		}
		if (umount2(EXTRA_MNT, 0) < 0)
			umount2(EXTRA_MNT, MNT_DETACH);
	}
	if (d)
		closedir(d);
	close(outfd);
	boot_log(ctx, "context", "extra: %u devices looked at, %u mounted read-only, %u "
		 "extra-user-data, pickup %s", tried, mounted, x->nud,
		 x->pickup_dev[0] ? x->pickup_dev : "none");
	return found;
}

/* Copies SRCDIR/NAME to DSTDIRFD/NAME if it exists. */
static int keep(const char *srcdir, const char *name, int dstdirfd)
{
	char path[128];
	struct stat st;
	int fd, rc;

	snprintf(path, sizeof(path), "%s/%s", srcdir, name);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	rc = fstat(fd, &st) < 0 ? -errno : copy_to(fd, (uint64_t)st.st_size, dstdirfd, name);
	close(fd);
	return rc;
}

/* see boot.h */
int boot_extra_save(struct boot_ctx *ctx, int ctxdirfd)
{
	int rc;

	if ((rc = keep(BOOT_EXTRA_DIR, "extra-user-data", ctxdirfd)) < 0 ||
	    (rc = keep(BOOT_EXTRA_DIR, "pickup.tar.gz", ctxdirfd)) < 0)
		return rc;
	return 0;
}

/* see boot.h */
int boot_stage_extra(struct boot_ctx *ctx)
{
	static const char marker[] = "picked-up";
	struct stat st;
	void *m = MAP_FAILED;
	size_t len = BOOT_EXTRA_PICKUP_MAX + BOOT_EXTRA_UNPACK_MAX;
	int rootfd = -1, fd = -1, rc = 0;
	ssize_t n;

	if (ctx->ctxdirfd < 0)
		return 0;
	/* The OS finds the extra user-data where μCernVM put it. */
	if (faccessat(ctx->ctxdirfd, "extra-user-data", F_OK, AT_SYMLINK_NOFOLLOW) == 0 &&
	    faccessat(AT_FDCWD, BOOT_ROOT "/cernvm/extra-user-data", F_OK,
		      AT_SYMLINK_NOFOLLOW) != 0) {
		int cfd, dfd;

		mkdir(BOOT_ROOT "/cernvm", 0755);
		dfd = open(BOOT_ROOT "/cernvm", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		cfd = openat(ctx->ctxdirfd, "extra-user-data", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (dfd >= 0 && cfd >= 0 && fstat(cfd, &st) == 0 &&
		    copy_to(cfd, (uint64_t)st.st_size, dfd, "extra-user-data") == 0)
			boot_log(ctx, "extra", "/cernvm/extra-user-data written");
		if (dfd >= 0)
			close(dfd);
		if (cfd >= 0)
			close(cfd);
	}
	fd = openat(ctx->ctxdirfd, "pickup.tar.gz", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return 0;
	if (faccessat(ctx->ctxdirfd, marker, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		goto out;	/* unpacked on an earlier boot */
	m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		 -1, 0);
	rootfd = open(BOOT_ROOT, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (m == MAP_FAILED || rootfd < 0 || fstat(fd, &st) < 0) {
		boot_log(ctx, "extra", "pickup.tar.gz: no memory or no root; skipped");
		goto out;
	}
	if ((uint64_t)st.st_size > BOOT_EXTRA_PICKUP_MAX) {
		rc = -EFBIG;
	} else if ((n = boot_read_full(fd, m, (size_t)st.st_size)) < 0) {
		rc = (int)n;
	} else {
		rc = boot_tar_extract(rootfd, m, (size_t)n, (char *)m + BOOT_EXTRA_PICKUP_MAX,
				      BOOT_EXTRA_UNPACK_MAX, boot_log_cb, ctx);
	}
	boot_log(ctx, "extra", "pickup.tar.gz: %s%d", rc < 0 ? "failed: " : "members ",
		 rc < 0 ? -rc : rc);
	/* As cernvm_inject: bad data is not retried; a full disk is. */
	if (rc >= 0 || rc == -EPERM || rc == -EBADMSG || rc == -ENOSPC || rc == -EFBIG)
		boot_file_write(ctx->ctxdirfd, marker, rc >= 0 ? "ok\n" : "refused\n",
				rc >= 0 ? 3 : 8);
out:
	if (m != MAP_FAILED)
		munmap(m, len);
	if (rootfd >= 0)
		close(rootfd);
	close(fd);
	return 0;
}
