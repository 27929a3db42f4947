/* SPDX-License-Identifier: MIT */
/* aufs-setup/accounts-io.c: the account merge's files: read, validate
 * everything, write new copies, fsync, then rename (rolled back on error). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aufs-setup/internal.h"

static const char *const acct_names[AUFS_NKIND + 2] = {
	"passwd", "group", "shadow", "gshadow", "uid_map", "gid_map"
};

/* see aufs-setup.h */
size_t aufs_acct_work_size(void)
{
	return sizeof(struct aufs_acct_work);
}

/* Reads one file; ENOENT leaves it absent. */
static int load(struct aufs_acct_file *f, const char *path, struct aufs_acct_stats *st)
{
	ssize_t n;

	f->name = path;
	f->present = 0;
	f->len = 0;
	f->n = 0;
	f->buf[0] = '\0';
	n = aufs_read_file(path, f->buf, sizeof(f->buf));
	if (n == -ENOENT)
		return 0;
	if (n < 0) {
		aufs_whyf(st->why, sizeof(st->why), "%s: %s%s", path, strerror((int)-n),
			 n == -E2BIG ? " (file larger than the account merge limit)" : "");
		return (int)n;
	}
	f->len = (size_t)n;
	f->present = 1;
	return 0;
}

static int write_tmp(struct aufs_acct_target *t, const char *buf, size_t len,
		     const struct stat *like)
{
	int fd, rc;

	unlink(t->tmp);
	fd = open(t->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	rc = aufs_write_all(fd, buf, len);
	if (rc == 0 && like && (fchown(fd, like->st_uid, like->st_gid) < 0 && errno != EPERM))
		rc = -errno;
	if (rc == 0 && fchmod(fd, like ? like->st_mode & 07777 : 0644) < 0)
		rc = -errno;
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	return rc;
}

/* Keeps the current file as a backup in aux: a hard link, or a copy when
 * upper and aux are not on one file system. */
static int backup(struct aufs_acct_target *t)
{
	struct stat s;

	if (lstat(t->path, &s) < 0)
		return errno == ENOENT ? 0 : -errno;
	t->existed = 1;
	unlink(t->old);
	if (link(t->path, t->old) == 0)
		return 0;
	return aufs_copy_file(t->path, t->old, s.st_mode & 07777);
}

static void rollback(struct aufs_acct_work *w, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		struct aufs_acct_target *t = &w->tgt[i];

		if (!t->renamed)
			continue;
		if (t->existed) {
			struct stat s;

			if (stat(t->old, &s) == 0)
				aufs_copy_file(t->old, t->path, s.st_mode & 07777);
		} else {
			unlink(t->path);
		}
	}
}

static int fmt_target(struct aufs_acct_work *w, size_t i, struct aufs_acct_stats *st,
		      ssize_t *len)
{
	if (i < AUFS_NKIND)
		*len = aufs_acct_fmt(w, (enum aufs_acct_kind)i, w->out, sizeof(w->out),
				     &st->members_added);
	else
		*len = aufs_acct_map_fmt(i == AUFS_NKIND ? &w->umap : &w->gmap, w->out, sizeof(w->out));
	if (*len < 0) {
		aufs_whyf(st->why, sizeof(st->why), "%s: merged result too large", w->tgt[i].path);
		return (int)*len;
	}
	return 0;
}

/* Writes every wanted target to .tmp, then backs up and renames all. */
static int commit(struct aufs_acct_work *w, const struct stat *like, struct aufs_acct_stats *st)
{
	size_t i, n = AUFS_LEN(w->tgt);
	ssize_t len;
	int rc = 0;

	for (i = 0; i < n && rc == 0; i++) {
		if (!w->tgt[i].want)
			continue;
		if ((rc = fmt_target(w, i, st, &len)) < 0)
			break;
		if ((rc = write_tmp(&w->tgt[i], w->out, (size_t)len,
				    i < AUFS_NKIND ? &like[i] : NULL)) < 0)
			aufs_whyf(st->why, sizeof(st->why), "write %s: %s", w->tgt[i].tmp, strerror(-rc));
	}
	for (i = 0; i < n && rc == 0; i++)
		if (w->tgt[i].want && (rc = backup(&w->tgt[i])) < 0)
			aufs_whyf(st->why, sizeof(st->why), "back up %s to %s: %s", w->tgt[i].path,
				 w->tgt[i].old, strerror(-rc));
	for (i = 0; i < n && rc == 0; i++) {
		if (!w->tgt[i].want)
			continue;
		if (rename(w->tgt[i].tmp, w->tgt[i].path) < 0) {
			rc = -errno;
			aufs_whyf(st->why, sizeof(st->why), "rename %s to %s: %s; earlier files "
				 "restored", w->tgt[i].tmp, w->tgt[i].path, strerror(errno));
			break;
		}
		w->tgt[i].renamed = 1;
	}
	if (rc < 0) {
		rollback(w, n);
		for (i = 0; i < n; i++)
			if (w->tgt[i].want && !w->tgt[i].renamed)
				unlink(w->tgt[i].tmp);
	}
	return rc;
}

static int set_paths(struct aufs_acct_work *w, const struct aufs_acct_cfg *cfg)
{
	size_t i;
	int rc = 0;

	for (i = 0; i < AUFS_LEN(w->tgt) && rc == 0; i++) {
		struct aufs_acct_target *t = &w->tgt[i];
		const char *dir = i < AUFS_NKIND ? cfg->local_etc : cfg->aux;

		t->want = t->existed = t->renamed = 0;
		if ((rc = aufs_fmt(t->path, sizeof(t->path), "%s/%s", dir, acct_names[i])) < 0 ||
		    (rc = aufs_fmt(t->tmp, sizeof(t->tmp), "%s/.%s.cvmboot-new", dir,
				   acct_names[i])) < 0)
			break;
		rc = aufs_fmt(t->old, sizeof(t->old), "%s/account_merge-%s.backup/%s", cfg->aux,
			      cfg->stamp, acct_names[i]);
	}
	return rc;
}

/* The renames are durable only once their directories are. */
static void sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

static void log_result(int fd, const struct aufs_acct_work *w, const struct aufs_acct_stats *st)
{
	static const char *const what[AUFS_NKIND] = { "user", "group", "shadow", "gshadow" };
	unsigned k, i;

	for (k = AUFS_PASSWD; k <= AUFS_GROUP; k++)
		for (i = 0; i < w->nadd[k]; i++)
			dprintf(fd, "add %s %s id %lu (upstream %lu)\n", what[k],
				w->up[k].l[w->add[k][i]].f[0], w->addid[k][i],
				w->up[k].l[w->add[k][i]].id);
	for (i = 0; i < w->umap.n; i++)
		dprintf(fd, "uid_map %lu %lu\n", w->umap.from[i], w->umap.to[i]);
	for (i = 0; i < w->gmap.n; i++)
		dprintf(fd, "gid_map %lu %lu\n", w->gmap.from[i], w->gmap.to[i]);
	dprintf(fd, "# users added %u, groups added %u, uids mapped %u, gids mapped %u, "
		"members merged %u\n", st->users_added, st->groups_added, st->uids_mapped,
		st->gids_mapped, st->members_added);
}

static int load_all(struct aufs_acct_work *w, const struct aufs_acct_cfg *cfg, struct stat *like,
		    struct aufs_acct_stats *st, int *any_local)
{
	size_t k;
	int rc;

	*any_local = 0;
	for (k = 0; k < AUFS_NKIND; k++) {
		struct aufs_acct_file *u = &w->up[k], *l = &w->loc[k];

		if ((rc = aufs_fmt(w->upath[k], sizeof(w->upath[k]), "%s/%s", cfg->upstream_etc,
				   acct_names[k])) < 0 ||
		    (rc = load(u, w->upath[k], st)) < 0 || (rc = load(l, w->tgt[k].path, st)) < 0)
			return rc;
		if (l->present)
			*any_local = 1;
		if (stat(l->present ? w->tgt[k].path : w->upath[k], &like[k]) < 0)
			memset(&like[k], 0, sizeof(like[k]));
		if (!l->present && u->present) {
			/* Not changed locally: the merge starts from upstream's. */
			memcpy(l->buf, u->buf, u->len + 1);
			l->len = u->len;
			l->present = 1;
			l->name = u->name;
		}
	}
	return 0;
}

static int parse_all(struct aufs_acct_work *w, struct aufs_acct_stats *st)
{
	size_t k;
	int rc;

	for (k = 0; k < AUFS_NKIND; k++)
		if ((w->up[k].present &&
		     (rc = aufs_acct_parse(&w->up[k], (enum aufs_acct_kind)k, st->why,
					   sizeof(st->why))) < 0) ||
		    (w->loc[k].present &&
		     (rc = aufs_acct_parse(&w->loc[k], (enum aufs_acct_kind)k, st->why,
					   sizeof(st->why))) < 0))
			return rc;
	return 0;
}

/* see aufs-setup.h */
int aufs_acct_merge_run(const struct aufs_acct_cfg *cfg, struct aufs_acct_work *w,
			struct aufs_acct_stats *st)
{
	char logp[AUFS_PATH_MAX];
	struct stat like[AUFS_NKIND];
	int rc, logfd = -1, any_local;
	size_t k;

	memset(st, 0, sizeof(*st));
	if ((rc = set_paths(w, cfg)) < 0 ||
	    (rc = aufs_fmt(logp, sizeof(logp), "%s/account_merge-%s.log", cfg->aux, cfg->stamp)) < 0)
		goto out;
	if ((rc = aufs_mkdir_p(cfg->aux, 0700)) < 0)
		goto out;
	if ((logfd = open(logp, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)) < 0) {
		rc = -errno;
		aufs_whyf(st->why, sizeof(st->why), "open %s: %s", logp, strerror(errno));
		goto out;
	}
	dprintf(logfd, "# cvmboot account merge %s: upstream %s, local %s\n", cfg->stamp,
		cfg->upstream_etc, cfg->local_etc);
	if ((rc = load_all(w, cfg, like, st, &any_local)) < 0 || (rc = parse_all(w, st)) < 0)
		goto out;
	st->merged = any_local;
	if (any_local && (rc = aufs_acct_merge(w, st)) < 0) {
		aufs_whyf(st->why, sizeof(st->why), "%s", rc == -ENOSPC ? "no free id left" :
			 "too many entries");
		goto out;
	}
	if (!any_local)
		w->umap.n = w->gmap.n = 0;
	for (k = 0; k < AUFS_LEN(w->tgt); k++)
		w->tgt[k].want = k >= AUFS_NKIND || (any_local && w->loc[k].present);
	if (any_local && (rc = aufs_mkdir_p(cfg->local_etc, 0755)) < 0)
		goto out;
	if ((rc = aufs_fmt(logp, sizeof(logp), "%s/account_merge-%s.backup", cfg->aux,
			   cfg->stamp)) < 0 || (rc = aufs_mkdir_p(logp, 0700)) < 0)
		goto out;
	if ((rc = commit(w, like, st)) < 0)
		goto out;
	sync_dir(cfg->local_etc);
	sync_dir(cfg->aux);
	log_result(logfd, w, st);
out:
	if (logfd >= 0) {
		if (rc < 0)
			dprintf(logfd, "error: %s (%s); nothing changed\n", st->why, strerror(-rc));
		close(logfd);
	}
	return rc;
}
