/* SPDX-License-Identifier: MIT */
/* aufs-setup/stack.c: the union root (overlayfs over the cvmfs-lite FUSE
 * mount) and the files systemd's return-to-initramfs shutdown needs. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aufs-setup/internal.h"

/*
 * Overlay options. The lower layer is a FUSE file system whose content
 * changes between boots (a new snapshot after an update), the upper one is
 * ext4 that outlives it. Every feature that stores a reference to a lower
 * object in the upper layer breaks when the lower changes, so all are off:
 *  - index=off: the index records lower file handles and, on the next
 *    mount, verifies the upper root's trusted.overlay.origin against the
 *    lower root; a new snapshot fails that check and the mount is refused.
 *    It also needs file handles the lower can decode; cvmfs-lite does not
 *    offer FUSE_EXPORT_SUPPORT, so the kernel would fall back anyway.
 *  - nfs_export=off: depends on index, same reasons.
 *  - redirect_dir=off: a renamed merged directory would point by path into
 *    the lower layer; after a rebase that path may name something else.
 *    With it off, rename(2) of such a directory is EXDEV and mv copies.
 *  - metacopy=off: a chown/chmod would copy up metadata only and keep
 *    reading data from the lower file, so a snapshot change would silently
 *    swap a file's content under the user's changed metadata.
 *  - xino=off: xino packs the layer number into the high bits of st_ino;
 *    cvmfs inode numbers are not guaranteed to leave those bits free, and
 *    on overflow the kernel changes behaviour. Plain per-layer st_dev is
 *    predictable.
 * Kernels that predate an option (index 4.13, nfs_export 4.16, xino 4.17,
 * metacopy 4.19) do not have the feature either, so dropping it is safe;
 * the order below is oldest first because compat.c drops from the end.
 */
static const struct aufs_kv overlay_opts[] = {
	{ "redirect_dir", "off" },
	{ "index", "off" },
	{ "nfs_export", "off" },
	{ "xino", "off" },
	{ "metacopy", "off" },
};

static int dir_ok(const char *path, char *why, size_t whylen, const char *what)
{
	struct stat st;

	if (stat(path, &st) < 0) {
		aufs_whyf(why, whylen, "%s %s: %s", what, path, strerror(errno));
		return -errno;
	}
	if (!S_ISDIR(st.st_mode)) {
		aufs_whyf(why, whylen, "%s %s: not a directory", what, path);
		return -ENOTDIR;
	}
	return 0;
}

static int move_into(const char *src, const char *root, const char *sub, char *why, size_t wl)
{
	char dst[AUFS_PATH_MAX];
	int rc;

	if ((rc = aufs_fmt(dst, sizeof(dst), "%s/%s", root, sub)) < 0 ||
	    (rc = aufs_mkdir_p(dst, 0755)) < 0)
		goto out;
	if (mount(src, dst, NULL, MS_MOVE, NULL) < 0)
		rc = -errno;
out:
	if (rc < 0)
		aufs_whyf(why, wl, "move %s to %s/%s: %s", src, root, sub, strerror(-rc));
	return rc;
}

/* Splits "key=value" into buf for one more (newest) optional option. */
static int add_extra(const char *kv, char *buf, size_t len, struct aufs_kv *out,
		     struct aufs_stack_info *info)
{
	char *eq;

	if (aufs_fmt(buf, len, "%s", kv) < 0 || !(eq = strchr(buf, '=')) || eq == buf ||
	    strpbrk(buf, ",")) {
		aufs_whyf(info->why, sizeof(info->why), "overlay option '%s' must be key=value "
			  "without ','", kv);
		return -EINVAL;
	}
	*eq = '\0';
	*out = (struct aufs_kv){ buf, eq + 1 };
	return 0;
}

/* see aufs-setup.h */
int aufs_stack_run(const struct aufs_stack_cfg *cfg, struct aufs_stack_info *info)
{
	char lower[AUFS_PATH_MAX], upper[AUFS_PATH_MAX], work[AUFS_PATH_MAX], run[AUFS_PATH_MAX];
	const char *sub = cfg->cernvm_path ? cfg->cernvm_path : "";
	struct aufs_kv req[3], opts[AUFS_LEN(overlay_opts) + 1];
	char extra[AUFS_OPTS_MAX];
	size_t nopt = AUFS_LEN(overlay_opts);
	int rc;

	memset(info, 0, sizeof(*info));
	while (*sub == '/')
		sub++;
	if (aufs_path_check(sub) < 0) {
		aufs_whyf(info->why, sizeof(info->why),
			 "cernvm_path '%s' must be a relative path without '..', ',', ':' or '\\'",
			 cfg->cernvm_path);
		return -EINVAL;
	}
	if ((rc = aufs_fmt(lower, sizeof(lower), "%s%s%s", cfg->ro, *sub ? "/" : "", sub)) < 0 ||
	    (rc = aufs_fmt(upper, sizeof(upper), "%s/persistent", cfg->rw)) < 0 ||
	    (rc = aufs_fmt(work, sizeof(work), "%s/work", cfg->rw)) < 0 ||
	    (rc = aufs_fmt(run, sizeof(run), "%s/run", cfg->root)) < 0)
		return rc;
	if (aufs_path_check(lower + 1) < 0 || aufs_path_check(upper + 1) < 0 ||
	    aufs_path_check(work + 1) < 0) {
		aufs_whyf(info->why, sizeof(info->why), "overlay paths may not contain ',', ':' or '\\'");
		return -EINVAL;
	}
	if ((rc = dir_ok(lower, info->why, sizeof(info->why), "lower")) < 0)
		return rc;
	if ((rc = aufs_mkdir_p(upper, 0755)) < 0 || (rc = aufs_mkdir_p(work, 0755)) < 0 ||
	    (rc = aufs_mkdir_p(cfg->root, 0755)) < 0) {
		aufs_whyf(info->why, sizeof(info->why), "create %s, %s, %s: %s", upper, work,
			 cfg->root, strerror(-rc));
		return rc;
	}
	req[0] = (struct aufs_kv){ "lowerdir", lower };
	req[1] = (struct aufs_kv){ "upperdir", upper };
	req[2] = (struct aufs_kv){ "workdir", work };
	memcpy(opts, overlay_opts, sizeof(overlay_opts));
	if (cfg->extra_opt && (rc = add_extra(cfg->extra_opt, extra, sizeof(extra), &opts[nopt++],
					      info)) < 0)
		return rc;
	rc = aufs_compat_overlay(cfg->root, req, 3, opts, nopt, cfg->legacy_mount, info);
	if (rc < 0)
		return rc;
	/* The union's root directory takes the upper root's mode; a fresh
	 * persistent/ may have been created under a restrictive umask. */
	chmod(cfg->root, 0755);
	if ((rc = move_into(cfg->ro, cfg->root, "mnt/.ro", info->why, sizeof(info->why))) < 0)
		goto undo;
	if ((rc = move_into(cfg->rw, cfg->root, "mnt/.rw", info->why, sizeof(info->why))) < 0)
		return rc;
	if ((rc = aufs_mkdir_p(run, 0755)) < 0 ||
	    (mount("tmpfs", run, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0 && (rc = -errno))) {
		aufs_whyf(info->why, sizeof(info->why), "tmpfs on %s: %s", run, strerror(-rc));
		return rc;
	}
	return 0;
undo:
	umount2(cfg->root, MNT_DETACH);
	return rc;
}

/* see aufs-setup.h */
int aufs_initramfs_prepare(const char *root_run, const char *self)
{
	static const char *const dirs[] = { "oldroot", "dev", "proc", "sys", "run" };
	char p[AUFS_PATH_MAX];
	size_t i;
	int rc;

	for (i = 0; i < AUFS_LEN(dirs); i++)
		if ((rc = aufs_fmt(p, sizeof(p), "%s/initramfs/%s", root_run, dirs[i])) < 0 ||
		    (rc = aufs_mkdir_p(p, 0755)) < 0)
			return rc;
	if ((rc = aufs_fmt(p, sizeof(p), "%s/initramfs/shutdown", root_run)) < 0)
		return rc;
	return aufs_copy_file(self ? self : "/proc/self/exe", p, 0755);
}

/* see aufs-setup.h */
int aufs_init_path(const char *cmdline, char *out, size_t outlen)
{
	const char *p = cmdline, *v = "/sbin/init";
	size_t n = strlen(v);

	/* The kernel takes the last init=; so do we. Words are space separated. */
	while (p && *p) {
		size_t w;

		p += strspn(p, " \t\n");
		w = strcspn(p, " \t\n");
		if (w > 5 && strncmp(p, "init=", 5) == 0) {
			v = p + 5;
			n = w - 5;
		}
		p += w;
	}
	if (v[0] != '/')
		return -EINVAL;
	if (n + 1 > outlen)
		return -ENAMETOOLONG;
	memcpy(out, v, n);
	out[n] = '\0';
	return 0;
}
