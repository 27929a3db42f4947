/* SPDX-License-Identifier: MIT */
/* aufs-setup/aufs-setup.h: the OS's union root, switch_root, rebase after a
 * snapshot change, account merge and the return-to-initramfs shutdown. */
#ifndef AUFS_SETUP_AUFS_SETUP_H
#define AUFS_SETUP_AUFS_SETUP_H

#include <stddef.h>
#include <stdint.h>

/* Longest path the module builds (upper or lower root plus a relative path). */
#define AUFS_PATH_MAX 4096
/* Room for the overlay option string that was actually used (for the log). */
#define AUFS_OPTS_MAX 256
/* Text of the last error detail (file:line of a malformed account line...). */
#define AUFS_WHY_MAX 512

/* ---- overlay stack ----------------------------------------------------- */

struct aufs_stack_cfg {
	const char *ro;		/* cvmfs-lite mount of the repository, e.g. "/root.ro" */
	const char *cernvm_path;	/* sub-directory of ro that is the OS, "" or NULL: ro itself */
	const char *rw;		/* scratch file system, e.g. "/root.rw" (holds persistent/, work/) */
	const char *root;	/* where the union goes, e.g. "/root" */
	int legacy_mount;	/* 1: skip the new mount API, use mount(2) (tests) */
	const char *extra_opt;	/* NULL, or one more optional "key=value" overlay
				 * option, tried first and dropped if refused */
};

struct aufs_stack_info {
	char opts[AUFS_OPTS_MAX];	/* overlay options the kernel accepted */
	int new_api;			/* 1: fsopen/fsmount, 0: mount(2) */
	char why[AUFS_WHY_MAX];		/* on failure: what the kernel said, if it said anything */
};

/* Mounts the overlay: lower = ro/cernvm_path, upper = rw/persistent, work =
 * rw/work (both created 0755 if missing), on root (created if missing); then
 * moves ro to root/mnt/.ro and rw to root/mnt/.rw and mounts a tmpfs on
 * root/run. The options are chosen for a FUSE lower that changes between
 * boots (see stack.c); options this kernel does not know are dropped and the
 * ones used are put in info->opts. Does not block beyond the mount calls.
 * Returns 0, -EINVAL (cernvm_path absolute, containing "..", ',', ':' or
 * '\\'), -ENOENT (lower missing), -ENOTDIR, or -errno of mkdir/mount with
 * info->why saying which step failed. On failure nothing stays mounted that
 * this call mounted, except a completed move (then root is left mounted and
 * the error names the move). */
int aufs_stack_run(const struct aufs_stack_cfg *cfg, struct aufs_stack_info *info);

/* Fills root_run/initramfs for systemd's return-to-initramfs shutdown:
 * copies the file self (NULL: /proc/self/exe, our own binary) to
 * root_run/initramfs/shutdown (0755) and creates the directories systemd
 * moves its mounts to (oldroot, dev, proc, sys, run). root_run must be a
 * mounted tmpfs (aufs_stack_run makes one). Returns 0 or -errno. */
int aufs_initramfs_prepare(const char *root_run, const char *self);

/* ---- switch_root -------------------------------------------------------- */

struct aufs_switch_cfg {
	const char *newroot;		/* mount point of the OS, e.g. "/root" */
	const char *const *moves;	/* NULL-terminated mount points carried into
					 * newroot ("/dev", "/proc", ...); a mount whose
					 * target dir is missing in newroot is detached */
	const int *keep_fds;		/* descriptors the OS gets, besides 0, 1, 2 */
	size_t nkeep;
};

struct aufs_switch_stats {
	unsigned long deleted;		/* initramfs entries removed */
	unsigned long skipped;		/* entries left: other fs, too deep, or busy */
	unsigned moved, detached;	/* carried mounts, mounts dropped */
	int old_was_ramfs;		/* 0: "/" was not ramfs/tmpfs, nothing deleted */
};

/* Everything of switch_root up to the exec: moves cfg->moves into newroot,
 * moves newroot onto "/", chroots into it, deletes the old root's contents
 * without crossing into other file systems (only if the old root is ramfs
 * or tmpfs: that frees the initramfs's memory) and closes every descriptor
 * except 0, 1, 2 and keep_fds, whose close-on-exec flag it clears. Must run
 * in the process that will exec the OS's init. Returns 0, -EINVAL (newroot
 * is not a mount point, or a keep fd is invalid), or -errno of a mount step
 * (then the process is still in the old root). */
int aufs_switch_root_prepare(const struct aufs_switch_cfg *cfg, struct aufs_switch_stats *st);

/* Picks the OS's init: the "init=" value of cmdline (the kernel command
 * line, may be NULL) if given, else /sbin/init. Copies it to out. Returns 0,
 * -ENAMETOOLONG, or -EINVAL if the init= value is not an absolute path. */
int aufs_init_path(const char *cmdline, char *out, size_t outlen);

/* ---- rebase --------------------------------------------------------------- */

/* Caller-provided work area of the rebase walk: it holds the listings of
 * the upper directories on the current path. 1 MiB is plenty for an OS. */
#define AUFS_REBASE_WORK_MIN (64 * 1024)

struct aufs_rebase_cfg {
	const char *lower;	/* new snapshot's OS tree, e.g. "/root.ro/cvm4" */
	const char *upper;	/* overlay upper, e.g. "/root.rw/persistent" */
	const char *aux;	/* log and backups, e.g. "/root.rw/aux" (same fs as upper) */
	const char *stamp;	/* time tag for names, e.g. "20260101T120000Z" */
};

struct aufs_rebase_stats {
	unsigned long kept, removed, whiteouts, opaques, saved, visited;
	char why[AUFS_WHY_MAX];	/* first failure, path included */
};

/* 1 if upper (persistent/) holds any entry, 0 if it is empty or missing,
 * -errno if it cannot be read. boot/ rebases only when this is 1 and the
 * snapshot changed. */
int aufs_upper_has_changes(const char *upper);

/* Resolves the upper layer against a new lower snapshot, before the
 * overlay is mounted. Rules (each decision is a line of aux/rebase-STAMP.log):
 * under etc/, var/, root/ local entries, whiteouts and opaque dirs win;
 * elsewhere an upper entry that also exists in lower is removed (the new
 * snapshot wins), a whiteout or opaque mark over an existing lower entry is
 * removed; a directory replaced upstream by a non-directory is moved to
 * aux/rebase-STAMP.saved/; the package databases var/lib/dpkg, var/lib/rpm
 * and usr/lib/sysimage/rpm are reset to the upstream copy and the local one
 * moved to aux/rebase-STAMP.saved/ (see rebase.c for why); upper-only
 * entries stay. Blocks until done. Returns 0, -ENOSPC (work area too small),
 * -ENAMETOOLONG, or -errno of a file operation; st->why names the path. The
 * walk stops at the first error; what was done is logged. */
int aufs_rebase_run(const struct aufs_rebase_cfg *cfg, void *work, size_t worklen,
		    struct aufs_rebase_stats *st);

/* ---- accounts ------------------------------------------------------------ */

/* Per-file limits of the account merge. */
#define AUFS_ACCT_LINES_MAX 1024
#define AUFS_ACCT_BYTES_MAX (128 * 1024)

struct aufs_acct_work;	/* about 2 MiB; see internal.h; the caller allocates */
size_t aufs_acct_work_size(void);

struct aufs_acct_cfg {
	const char *upstream_etc;	/* new snapshot's etc, e.g. "/root.ro/cvm4/etc" */
	const char *local_etc;		/* upper's etc, e.g. "/root.rw/persistent/etc" */
	const char *aux;		/* where uid_map, gid_map and the log go */
	const char *stamp;		/* time tag for the log and backups */
};

struct aufs_acct_stats {
	unsigned users_added, groups_added, uids_mapped, gids_mapped, members_added;
	int merged;			/* 0: local_etc had no account file, nothing to do */
	char why[AUFS_WHY_MAX];		/* "FILE:LINE: what is wrong" on -EBADMSG */
};

/* Merges passwd, group, shadow and gshadow of the new snapshot into the
 * local copies by name: local entries and passwords win, group members are
 * merged, an upstream id taken locally by another name gets a free id. Writes
 * the four files into local_etc and aux/uid_map, aux/gid_map ("<upstream>
 * <local>" lines, sorted; cvmfs-lite applies each to lower files once, never
 * chained: "103 105" and "104 103" may both appear) through temporary files, fsync and rename;
 * a failure before the renames changes nothing, a failed rename is rolled
 * back. Returns 0 (also when there is nothing local to merge: maps are then
 * written empty), -EBADMSG (a malformed line: st->why is "FILE:LINE: ..."),
 * -E2BIG (a file over the limits), -ENOSPC (no free id left), or -errno. */
int aufs_acct_merge_run(const struct aufs_acct_cfg *cfg, struct aufs_acct_work *w,
			struct aufs_acct_stats *st);

/* ---- shutdown ------------------------------------------------------------ */

/* Asks cvmfs-lite to stop; returns 0 or -errno. Lets aufs stay independent. */
typedef int (*aufs_stop_fn)(void *arg, uint64_t deadline_ms);

struct aufs_shutdown_cfg {
	const char *oldroot;	/* the OS tree systemd left behind, "/oldroot" */
	aufs_stop_fn stop;	/* NULL: SIGTERM the PIDs in oldroot/.cvmfs_pids */
	void *stop_arg;
	uint64_t deadline_ms;	/* CLOCK_MONOTONIC ms limit for the stop to finish */
	int log_fd;		/* one line per step, -1 for none */
};

struct aufs_shutdown_stats {
	unsigned unmounted, detached, signalled;
	int overlay_ro, scratch_ro;	/* 1 if the remount read-only worked */
};

/* Parses the verb systemd passes to /run/initramfs/shutdown: "poweroff",
 * "reboot", "halt" or "kexec" into a reboot(2) command. Returns 0 or -EINVAL. */
int aufs_shutdown_cmd_parse(const char *verb, int *cmd);

/* Unmounts oldroot's submounts (deepest first, lazily if busy) except
 * mnt/.ro and mnt/.rw, remounts the overlay on oldroot read-only, stops
 * cvmfs-lite (cfg->stop, or SIGTERM then SIGKILL at the deadline to the
 * PIDs in oldroot/.cvmfs_pids), remounts oldroot/mnt/.rw read-only, detaches
 * the rest and syncs. Blocks until cfg->deadline_ms at most. Returns 0 if
 * the scratch file system ended read-only or unmounted, else -EBUSY (logged). */
int aufs_shutdown_run(const struct aufs_shutdown_cfg *cfg, struct aufs_shutdown_stats *st);

#endif
