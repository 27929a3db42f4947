/* SPDX-License-Identifier: MIT */
/* aufs-setup/compat.c: kernel-version differences (new mount API against
 * mount(2), overlay options, close_range), probed at run time. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "aufs-setup/internal.h"

/* From <linux/mount.h>; spelled out here because glibc's <sys/mount.h> and
 * the kernel header clash on older libcs. ABI values, never change. */
#define FSOPEN_CLOEXEC_ 0x1
#define FSCONFIG_SET_STRING_ 1
#define FSCONFIG_CMD_CREATE_ 6
#define FSMOUNT_CLOEXEC_ 0x1
#define MOVE_MOUNT_F_EMPTY_PATH_ 0x4

static int sys_fsopen(const char *fs)
{
	return (int)syscall(SYS_fsopen, fs, FSOPEN_CLOEXEC_);
}

/* The kernel queues "e overlay: ..." lines on the fs context fd; the last
 * one says why a create failed. */
static void read_fs_log(int fd, char *why, size_t len)
{
	char line[256];
	ssize_t n;

	while ((n = read(fd, line, sizeof(line) - 1)) > 0) {
		line[n] = '\0';
		snprintf(why, len, "%s", line);
	}
}

/* New API: one fsconfig per option, so each value may contain ',' and the
 * kernel's own message is available. Returns -ENOSYS before 5.2. */
static int mount_new(const char *target, const struct aufs_kv *kv, size_t n, char *why,
		     size_t whylen)
{
	int fd, mfd = -1, rc = 0;
	size_t i;

	if ((fd = sys_fsopen("overlay")) < 0)
		return -errno;
	for (i = 0; i < n; i++)
		if (syscall(SYS_fsconfig, fd, FSCONFIG_SET_STRING_, kv[i].key, kv[i].val, 0) < 0) {
			rc = -errno;
			aufs_whyf(why, whylen, "fsconfig %s=%s", kv[i].key, kv[i].val);
			read_fs_log(fd, why, whylen);
			goto out;
		}
	if (syscall(SYS_fsconfig, fd, FSCONFIG_CMD_CREATE_, NULL, NULL, 0) < 0) {
		rc = -errno;
		aufs_whyf(why, whylen, "fsconfig create");
		read_fs_log(fd, why, whylen);
		goto out;
	}
	if ((mfd = (int)syscall(SYS_fsmount, fd, FSMOUNT_CLOEXEC_, 0)) < 0 ||
	    syscall(SYS_move_mount, mfd, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH_) < 0) {
		rc = -errno;
		aufs_whyf(why, whylen, "%s", mfd < 0 ? "fsmount" : "move_mount");
	}
out:
	if (mfd >= 0)
		close(mfd);
	close(fd);
	return rc;
}

static int join_opts(const struct aufs_kv *kv, size_t n, char *out, size_t len)
{
	size_t i, off = 0;
	int w;

	out[0] = '\0';
	for (i = 0; i < n; i++) {
		w = snprintf(out + off, len - off, "%s%s=%s", i ? "," : "", kv[i].key, kv[i].val);
		if (w < 0 || (size_t)w >= len - off)
			return -E2BIG;
		off += (size_t)w;
	}
	return 0;
}

/* see internal.h */
int aufs_compat_overlay(const char *target, const struct aufs_kv *req, size_t nreq,
			const struct aufs_kv *opt, size_t nopt, int legacy,
			struct aufs_stack_info *info)
{
	struct aufs_kv kv[16];
	char data[AUFS_PATH_MAX * 3];
	size_t keep, i;
	int rc = -EINVAL, use_new = !legacy;

	if (nreq + nopt > AUFS_LEN(kv))
		return -E2BIG;
	for (i = 0; i < nreq; i++)
		kv[i] = req[i];
	for (i = 0; i < nopt; i++)
		kv[nreq + i] = opt[i];
	/* Drop optional options newest first until the kernel accepts the set:
	 * an option a kernel predates is EINVAL (via fsconfig on 6.5+, at
	 * create or mount time on older kernels). */
	for (keep = nopt + 1; keep-- > 0;) {
		size_t n = nreq + keep;

		info->why[0] = '\0';
		if ((rc = join_opts(kv, n, data, sizeof(data))) < 0)
			return rc;
		if (use_new) {
			rc = mount_new(target, kv, n, info->why, sizeof(info->why));
			if (rc == -ENOSYS || rc == -EPERM) {
				/* Before 5.2, or a seccomp filter that hides it. */
				use_new = 0;
				keep++;
				continue;
			}
		} else if (mount("overlay", target, "overlay", 0, data) < 0) {
			rc = -errno;
			aufs_whyf(info->why, sizeof(info->why), "mount(2) overlay");
		} else {
			rc = 0;
		}
		if (rc != -EINVAL)
			break;
	}
	if (rc == 0) {
		info->new_api = use_new;
		/* The log shows the options, not the paths (they are in the config). */
		info->opts[0] = '\0';
		if (join_opts(kv + nreq, keep, info->opts, sizeof(info->opts)) < 0)
			info->opts[0] = '\0';
	}
	return rc;
}

static int is_kept(int fd, const int *keep, size_t nkeep)
{
	size_t i;

	if (fd <= 2)
		return 1;
	for (i = 0; i < nkeep; i++)
		if (keep[i] == fd)
			return 1;
	return 0;
}

static int close_by_proc(const int *keep, size_t nkeep)
{
	char buf[1024];
	int dfd = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	long n, off;
	int again = 1;

	if (dfd < 0)
		return -errno;
	/* Closing while listing can skip entries; repeat until a pass closes none. */
	while (again) {
		again = 0;
		lseek(dfd, 0, SEEK_SET);
		while ((n = syscall(SYS_getdents64, dfd, buf, sizeof(buf))) > 0)
			for (off = 0; off < n;) {
				struct dirent *d = (struct dirent *)(buf + off);
				int fd = atoi(d->d_name);

				off += d->d_reclen;
				if (d->d_name[0] == '.' || fd == dfd || is_kept(fd, keep, nkeep))
					continue;
				close(fd);
				again = 1;
			}
	}
	close(dfd);
	return 0;
}

/* see internal.h */
int aufs_compat_close_from(const int *keep, size_t nkeep)
{
	unsigned lo = 3;
	struct rlimit rl;
	int fd, max;

	/* close_range (5.9+) over the gaps between kept fds. */
	for (;;) {
		unsigned next = ~0U;
		size_t i;

		for (i = 0; i < nkeep; i++)
			if (keep[i] >= (int)lo && (unsigned)keep[i] < next)
				next = (unsigned)keep[i];
		if (next > lo && syscall(SYS_close_range, lo, next - 1, 0) < 0)
			break;
		if (next == ~0U)
			return 0;
		lo = next + 1;
	}
	if (errno != ENOSYS)
		return -errno;
	if (close_by_proc(keep, nkeep) == 0)
		return 0;
	max = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 65536 ? (int)rl.rlim_cur : 65536;
	for (fd = 3; fd < max; fd++)
		if (!is_kept(fd, keep, nkeep))
			close(fd);
	return 0;
}
