/* SPDX-License-Identifier: MIT */
/* aufs-setup/switchroot.c: switch_root without a shell: carry mounts into
 * the OS root, make it "/", free the initramfs and close stray fds. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "aufs-setup/internal.h"

#define RAMFS_MAGIC_ 0x858458f6
#define TMPFS_MAGIC_ 0x01021994
/* An initramfs is shallow; deeper entries are left (and counted) rather than
 * letting PID 1's stack grow with a hostile tree. ~1.1 KiB per level. */
#define AUFS_DELETE_DEPTH_MAX 32

/* Deletes the contents of dirfd (on device dev), never entering another file
 * system. Unlinking while reading with getdents64 is safe on ramfs/tmpfs. */
static void delete_tree(int dirfd, dev_t dev, int depth, struct aufs_switch_stats *st)
{
	char buf[1024];
	long n, off;

	while ((n = syscall(SYS_getdents64, dirfd, buf, sizeof(buf))) > 0)
		for (off = 0; off < n;) {
			struct dirent *d = (struct dirent *)(buf + off);
			const char *nm = d->d_name;
			struct stat s;
			int fd;

			off += d->d_reclen;
			if (nm[0] == '.' && (nm[1] == '\0' || (nm[1] == '.' && nm[2] == '\0')))
				continue;
			if (fstatat(dirfd, nm, &s, AT_SYMLINK_NOFOLLOW) < 0 || s.st_dev != dev) {
				st->skipped++;
				continue;
			}
			if (S_ISDIR(s.st_mode)) {
				if (depth >= AUFS_DELETE_DEPTH_MAX) {
					st->skipped++;
					continue;
				}
				fd = openat(dirfd, nm, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
				if (fd >= 0) {
					delete_tree(fd, dev, depth + 1, st);
					close(fd);
				}
			}
			/* A directory that still holds something (a mount point,
			 * too deep) stays; its contents were counted as skipped. */
			if (unlinkat(dirfd, nm, S_ISDIR(s.st_mode) ? AT_REMOVEDIR : 0) == 0)
				st->deleted++;
			else if (!S_ISDIR(s.st_mode))
				st->skipped++;
		}
}

static int carry_mounts(const struct aufs_switch_cfg *cfg, dev_t rootdev,
			struct aufs_switch_stats *st)
{
	const char *const *m;
	char dst[AUFS_PATH_MAX];
	struct stat s;
	int rc;

	for (m = cfg->moves; m && *m; m++) {
		/* Not a mount point (same device as "/"): nothing to carry. */
		if (stat(*m, &s) < 0 || s.st_dev == rootdev)
			continue;
		if ((rc = aufs_fmt(dst, sizeof(dst), "%s%s", cfg->newroot, *m)) < 0)
			return rc;
		if (stat(dst, &s) < 0 || !S_ISDIR(s.st_mode)) {
			/* The OS has no place for it: do not let it pin memory. */
			if (umount2(*m, MNT_DETACH) == 0)
				st->detached++;
			continue;
		}
		if (mount(*m, dst, NULL, MS_MOVE, NULL) < 0)
			return -errno;
		st->moved++;
	}
	return 0;
}

static int keep_fds(const struct aufs_switch_cfg *cfg)
{
	size_t i;
	int fl;

	for (i = 0; i < cfg->nkeep; i++) {
		if ((fl = fcntl(cfg->keep_fds[i], F_GETFD)) < 0)
			return -EINVAL;
		if (fcntl(cfg->keep_fds[i], F_SETFD, fl & ~FD_CLOEXEC) < 0)
			return -errno;
	}
	return aufs_compat_close_from(cfg->keep_fds, cfg->nkeep);
}

/* see aufs-setup.h */
int aufs_switch_root_prepare(const struct aufs_switch_cfg *cfg, struct aufs_switch_stats *st)
{
	struct stat rs, ns;
	struct statfs sf;
	int oldfd = -1, rc = 0;
	size_t i;

	memset(st, 0, sizeof(*st));
	if (stat("/", &rs) < 0 || stat(cfg->newroot, &ns) < 0)
		return -errno;
	if (rs.st_dev == ns.st_dev || !S_ISDIR(ns.st_mode))
		return -EINVAL;
	for (i = 0; i < cfg->nkeep; i++)
		if (fcntl(cfg->keep_fds[i], F_GETFD) < 0)
			return -EINVAL;
	if ((rc = carry_mounts(cfg, rs.st_dev, st)) < 0)
		return rc;
	if ((oldfd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -errno;
	if (fstatfs(oldfd, &sf) == 0)
		st->old_was_ramfs = sf.f_type == RAMFS_MAGIC_ || sf.f_type == TMPFS_MAGIC_;
	if (chdir(cfg->newroot) < 0 || mount(".", "/", NULL, MS_MOVE, NULL) < 0 ||
	    chroot(".") < 0 || chdir("/") < 0) {
		rc = -errno;
		goto out;
	}
	/* Only a RAM file system is ours to empty: anything else is a real
	 * disk someone booted with root= and must not be wiped. */
	if (st->old_was_ramfs)
		delete_tree(oldfd, rs.st_dev, 0, st);
	close(oldfd);
	oldfd = -1;
	rc = keep_fds(cfg);
out:
	if (oldfd >= 0)
		close(oldfd);
	return rc;
}
