/* SPDX-License-Identifier: MIT */
/* aufs-setup/rebase.c: resolve the overlay's upper layer against a new
 * lower snapshot (μCernVM's resolve_aufs_conflicts, for overlayfs). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "aufs-setup/internal.h"

/*
 * The walk visits the new lower tree where the upper layer has entries:
 * every rule below needs an upper entry, so a lower directory the upper
 * lacks holds nothing to decide and is not listed (listing the whole
 * streamed OS would fetch every catalog). It is iterative: the listings of
 * the upper directories on the current path sit in the caller's work area,
 * so depth costs memory there, never stack (μCernVM recursed with alloca).
 *
 * Package databases: var/lib/dpkg, var/lib/rpm and usr/lib/sysimage/rpm
 * describe the files of the OS. After a rebase every file outside etc/,
 * var/ and root/ comes from the new snapshot, so only the new snapshot's
 * database tells the truth about them; a kept local database would name old
 * versions of packages whose files were just replaced, and the next
 * install/remove would act on that lie (and rpm's Berkeley DB environment
 * files __db.* would mismatch the new Packages outright). So the upstream
 * database wins as a whole and the local one is moved, not deleted, to
 * aux/rebase-STAMP.saved/ so that packages the user had added can be found
 * and installed again. This is also logged.
 */
static const char *const protected_dirs[] = { "etc", "var", "root" };
static const char *const pkgdb_dirs[] = { "var/lib/dpkg", "var/lib/rpm", "usr/lib/sysimage/rpm" };

#define OPAQUE_XATTR "trusted.overlay.opaque"

struct frame {
	size_t prev;	/* offset of the parent's frame, or SIZE_MAX */
	size_t cur;	/* offset of the next name */
	size_t end;	/* end of this frame's names */
	size_t plen;	/* length of rel for this directory */
};

struct walk {
	const struct aufs_rebase_cfg *cfg;
	struct aufs_rebase_stats *st;
	int upfd, lofd, logfd;
	char rel[AUFS_PATH_MAX];
	char *arena;
	size_t cap, top, used;
};

static const char *type_str(const struct stat *s)
{
	if (S_ISCHR(s->st_mode) && s->st_rdev == makedev(0, 0))
		return "whiteout";
	switch (s->st_mode & S_IFMT) {
	case S_IFREG: return "file";
	case S_IFDIR: return "dir";
	case S_IFLNK: return "symlink";
	case S_IFCHR: return "chardev";
	case S_IFBLK: return "blockdev";
	case S_IFIFO: return "fifo";
	default: return "socket";
	}
}

static void logd(struct walk *w, const char *action, const char *why)
{
	if (w->logfd >= 0)
		dprintf(w->logfd, "%-12s /%s  (%s)\n", action, w->rel, why);
}

static int fail(struct walk *w, int rc, const char *what)
{
	if (!w->st->why[0])
		aufs_whyf(w->st->why, sizeof(w->st->why), "%s /%s: %s", what, w->rel, strerror(-rc));
	if (w->logfd >= 0)
		dprintf(w->logfd, "error        /%s  (%s: %s)\n", w->rel, what, strerror(-rc));
	return rc;
}

static int is_protected(const char *rel)
{
	size_t i;

	for (i = 0; i < AUFS_LEN(protected_dirs); i++)
		if (aufs_path_under(rel, protected_dirs[i]))
			return 1;
	return 0;
}

static int is_pkgdb(const char *rel)
{
	size_t i;

	for (i = 0; i < AUFS_LEN(pkgdb_dirs); i++)
		if (strcmp(rel, pkgdb_dirs[i]) == 0)
			return 1;
	return 0;
}

/* Moves upper/rel to aux/rebase-STAMP.saved/rel (same file system). */
static int save_entry(struct walk *w)
{
	char dst[AUFS_PATH_MAX];
	char *slash;
	int rc;

	if ((rc = aufs_fmt(dst, sizeof(dst), "%s/rebase-%s.saved/%s", w->cfg->aux, w->cfg->stamp,
			   w->rel)) < 0)
		return fail(w, rc, "save path");
	slash = strrchr(dst, '/');
	*slash = '\0';
	rc = aufs_mkdir_p(dst, 0700);
	*slash = '/';
	if (rc < 0)
		return fail(w, rc, "create saved dir");
	if (renameat(w->upfd, w->rel, AT_FDCWD, dst) < 0)
		return fail(w, -errno, errno == EXDEV ? "save (aux must be on upper's file system)"
						      : "save");
	w->st->saved++;
	return 0;
}

static int upper_abs(struct walk *w, char *buf, size_t len)
{
	return aufs_fmt(buf, len, "%s/%s", w->cfg->upper, w->rel);
}

static int dir_entry(struct walk *w, const struct stat *ls, int prot)
{
	char abs[AUFS_PATH_MAX], v[4];
	ssize_t n;
	int rc;

	if (!S_ISDIR(ls->st_mode)) {
		if (prot) {
			logd(w, "keep", "local dir over upstream non-dir, under a protected dir");
			w->st->kept++;
			return 0;
		}
		if ((rc = save_entry(w)) == 0)
			logd(w, "save", S_ISLNK(ls->st_mode)
				? "type change: upstream symlink replaces local dir; dir moved to saved/"
				: "type change: upstream file replaces local dir; dir moved to saved/");
		return rc;
	}
	if ((rc = upper_abs(w, abs, sizeof(abs))) < 0)
		return fail(w, rc, "path");
	n = lgetxattr(abs, OPAQUE_XATTR, v, sizeof(v));
	if (n == 1 && v[0] == 'y') {
		if (prot) {
			logd(w, "keep-opaque", "local replacement of an upstream dir, under a protected dir");
			w->st->kept++;
			return 0;
		}
		if (lremovexattr(abs, OPAQUE_XATTR) < 0)
			return fail(w, -errno, "remove opaque mark");
		logd(w, "unopaque", "dir exists upstream: the new snapshot's entries show again; "
				    "merging it");
		w->st->opaques++;
		return 1;
	}
	logd(w, "merge", "dir on both sides: deciding its entries");
	return 1;
}

/* Decides one upper entry w->rel. Returns 1 to descend into it, 0, or -errno. */
static int decide(struct walk *w)
{
	struct stat us, ls;
	int prot = is_protected(w->rel), have_lower, rc;
	char why[160];

	w->st->visited++;
	if (fstatat(w->upfd, w->rel, &us, AT_SYMLINK_NOFOLLOW) < 0)
		return fail(w, -errno, "stat upper");
	have_lower = fstatat(w->lofd, w->rel, &ls, AT_SYMLINK_NOFOLLOW) == 0;
	if (!have_lower && errno != ENOENT && errno != ENOTDIR)
		return fail(w, -errno, "stat lower");
	if (have_lower && S_ISDIR(ls.st_mode) && is_pkgdb(w->rel)) {
		if ((rc = save_entry(w)) == 0)
			logd(w, "pkgdb-reset", "package database: upstream copy wins, local one moved "
					       "to saved/ (it would describe files just replaced)");
		return rc;
	}
	if (S_ISCHR(us.st_mode) && us.st_rdev == makedev(0, 0)) {
		if (have_lower && prot) {
			logd(w, "keep", "whiteout: local deletion under a protected dir");
			w->st->kept++;
			return 0;
		}
		if (unlinkat(w->upfd, w->rel, 0) < 0)
			return fail(w, -errno, "remove whiteout");
		logd(w, "unwhiteout", have_lower ? "exists upstream: the new snapshot wins"
						 : "stale: nothing upstream to hide");
		w->st->whiteouts++;
		return 0;
	}
	if (!have_lower) {
		logd(w, "keep", "local only");
		w->st->kept++;
		return 0;
	}
	if (S_ISDIR(us.st_mode))
		return dir_entry(w, &ls, prot);
	aufs_whyf(why, sizeof(why), "local %s, upstream %s%s", type_str(&us), type_str(&ls),
		 prot ? ": under a protected dir, local wins" : ": the new snapshot wins");
	if (prot) {
		logd(w, "keep", why);
		w->st->kept++;
		return 0;
	}
	if (unlinkat(w->upfd, w->rel, 0) < 0)
		return fail(w, -errno, "remove");
	logd(w, "remove", why);
	w->st->removed++;
	return 0;
}

/* Lists upper/rel into a new frame on top of the arena. */
static int push(struct walk *w, size_t plen)
{
	size_t at = (w->used + 7) & ~(size_t)7, off;
	char buf[4096];
	struct frame *f;
	long n, i;
	int fd, rc = 0;

	if (at + sizeof(*f) > w->cap)
		return fail(w, -ENOSPC, "rebase work area full at");
	fd = openat(w->upfd, plen ? w->rel : ".", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return fail(w, -errno, "open upper dir");
	off = at + sizeof(*f);
	while ((n = syscall(SYS_getdents64, fd, buf, sizeof(buf))) > 0)
		for (i = 0; i < n;) {
			struct dirent *d = (struct dirent *)(buf + i);
			size_t l = strlen(d->d_name) + 1;

			i += d->d_reclen;
			if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0)
				continue;
			if (off + l > w->cap) {
				rc = fail(w, -ENOSPC, "rebase work area full at");
				goto out;
			}
			memcpy(w->arena + off, d->d_name, l);
			off += l;
		}
	if (n < 0) {
		rc = fail(w, -errno, "list upper dir");
		goto out;
	}
	f = (struct frame *)(w->arena + at);
	*f = (struct frame){ .prev = w->top, .cur = at + sizeof(*f), .end = off, .plen = plen };
	w->top = at;
	w->used = off;
out:
	close(fd);
	return rc;
}

static int walk_run(struct walk *w)
{
	int rc;

	w->top = SIZE_MAX;
	if ((rc = push(w, 0)) < 0)
		return rc;
	while (w->top != SIZE_MAX) {
		struct frame *f = (struct frame *)(w->arena + w->top);
		const char *name;
		size_t l;

		if (f->cur >= f->end) {
			w->used = w->top;
			w->top = f->prev;
			continue;
		}
		name = w->arena + f->cur;
		l = strlen(name);
		f->cur += l + 1;
		if (f->plen + 1 + l + 1 > sizeof(w->rel)) {
			w->rel[f->plen] = '\0';
			return fail(w, -ENAMETOOLONG, "path too long below");
		}
		if (f->plen)
			w->rel[f->plen] = '/';
		memcpy(w->rel + f->plen + (f->plen ? 1 : 0), name, l + 1);
		if ((rc = decide(w)) < 0)
			return rc;
		if (rc == 1 && (rc = push(w, f->plen + (f->plen ? 1 : 0) + l)) < 0)
			return rc;
	}
	return 0;
}

/* see aufs-setup.h */
int aufs_upper_has_changes(const char *upper)
{
	char buf[1024];
	long n = 0, off;
	int fd = open(upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	while (rc == 0 && (n = syscall(SYS_getdents64, fd, buf, sizeof(buf))) > 0)
		for (off = 0; off < n && rc == 0;) {
			struct dirent *d = (struct dirent *)(buf + off);

			off += d->d_reclen;
			rc = strcmp(d->d_name, ".") != 0 && strcmp(d->d_name, "..") != 0;
		}
	if (rc == 0 && n < 0)
		rc = -errno;
	close(fd);
	return rc;
}

/* see aufs-setup.h */
int aufs_rebase_run(const struct aufs_rebase_cfg *cfg, void *work, size_t worklen,
		    struct aufs_rebase_stats *st)
{
	struct walk w = { .cfg = cfg, .st = st, .upfd = -1, .lofd = -1, .logfd = -1,
			  .arena = work, .cap = worklen };
	char path[AUFS_PATH_MAX];
	int rc;

	memset(st, 0, sizeof(*st));
	if (worklen < AUFS_REBASE_WORK_MIN)
		return -EINVAL;
	if ((rc = aufs_fmt(path, sizeof(path), "%s/rebase-%s.log", cfg->aux, cfg->stamp)) < 0 ||
	    (rc = aufs_mkdir_p(cfg->aux, 0700)) < 0)
		goto out;
	w.logfd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (w.logfd < 0 ||
	    (w.upfd = open(cfg->upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    (w.lofd = open(cfg->lower, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		rc = -errno;
		aufs_whyf(st->why, sizeof(st->why), "open %s: %s",
			 w.logfd < 0 ? path : w.upfd < 0 ? cfg->upper : cfg->lower, strerror(errno));
		goto out;
	}
	dprintf(w.logfd, "# cvmboot rebase %s: lower %s, upper %s\n"
		"# local entries, whiteouts and opaque dirs under /etc /var /root win; elsewhere the "
		"new snapshot wins;\n# package databases (/%s /%s /%s) are reset to upstream, the "
		"local copy goes to %s/rebase-%s.saved/\n",
		cfg->stamp, cfg->lower, cfg->upper, pkgdb_dirs[0], pkgdb_dirs[1], pkgdb_dirs[2],
		cfg->aux, cfg->stamp);
	rc = walk_run(&w);
	dprintf(w.logfd, "# %s: visited %lu, kept %lu, removed %lu, whiteouts removed %lu, "
		"opaque marks removed %lu, saved %lu\n", rc < 0 ? "stopped" : "done", st->visited,
		st->kept, st->removed, st->whiteouts, st->opaques, st->saved);
	if (fsync(w.logfd) < 0 && rc == 0)
		rc = -errno;
out:
	if (w.logfd >= 0)
		close(w.logfd);
	if (w.upfd >= 0)
		close(w.upfd);
	if (w.lofd >= 0)
		close(w.lofd);
	return rc;
}
