/* SPDX-License-Identifier: MIT */
/* aufs-setup/internal.h: declarations shared inside aufs-setup/ and its unit test. */
#ifndef AUFS_SETUP_INTERNAL_H
#define AUFS_SETUP_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "aufs-setup/aufs-setup.h"

#define AUFS_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- compat.c: kernel-version differences, probed at run time ---- */

struct aufs_kv {
	const char *key, *val;
};

/* Mounts an overlay on target with the required options req[] and as many
 * of opt[] as the kernel knows: all first, then dropping from the end (the
 * newest option first) on EINVAL. New mount API first, mount(2) on ENOSYS.
 * legacy: start with mount(2). Writes the used options to info->opts and
 * the kernel's message, if any, to info->why. Returns 0 or -errno of the
 * last attempt. */
int aufs_compat_overlay(const char *target, const struct aufs_kv *req, size_t nreq,
			const struct aufs_kv *opt, size_t nopt, int legacy,
			struct aufs_stack_info *info);

/* Closes every fd >= 3 that is not in keep[] (sorted or not). close_range(2)
 * where the kernel has it (5.9+), else a walk of /proc/self/fd, else a loop
 * up to RLIMIT_NOFILE. Returns 0 or -errno. */
int aufs_compat_close_from(const int *keep, size_t nkeep);

/* ---- util.c ---- */

/* snprintf into buf; -ENAMETOOLONG if it does not fit. */
int aufs_fmt(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Formats an error detail into buf, truncating quietly (it is only text). */
void aufs_whyf(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* mkdir -p of dir (mode for the created ones); 0 or -errno. */
int aufs_mkdir_p(const char *dir, mode_t mode);
/* Writes all of buf; 0 or -errno. */
int aufs_write_all(int fd, const void *buf, size_t len);
/* Copies file src to dst (created with mode, replaced via dst.tmp + rename). */
int aufs_copy_file(const char *src, const char *dst, mode_t mode);
/* Reads a whole small file into buf (NUL-terminated); length or -errno,
 * -E2BIG if it does not fit in len - 1 bytes. */
ssize_t aufs_read_file(const char *path, char *buf, size_t len);
/* Milliseconds of CLOCK_MONOTONIC. */
uint64_t aufs_now_ms(void);
/* 1 if rel (no leading '/') is path or lies under it. */
int aufs_path_under(const char *rel, const char *path);
/* 0 if s is a relative path without "..", ',', ':', '\\' components/chars. */
int aufs_path_check(const char *s);

/* ---- accounts.c: the pure merge core (no I/O) ---- */

enum aufs_acct_kind { AUFS_PASSWD, AUFS_GROUP, AUFS_SHADOW, AUFS_GSHADOW, AUFS_NKIND };

struct aufs_acct_line {
	char *f[9];		/* fields (pointers into the file's buffer) */
	unsigned nf, lineno;
	unsigned long id;	/* uid or gid, passwd and group only */
	int verbatim;		/* comment or NIS +/- line: copied as f[0] */
};

struct aufs_acct_file {
	const char *name;	/* for messages: the path */
	int present;
	char buf[AUFS_ACCT_BYTES_MAX];
	size_t len;
	struct aufs_acct_line l[AUFS_ACCT_LINES_MAX];
	unsigned n;
};

/* id remapping: upstream id -> final id */
struct aufs_acct_map {
	unsigned long from[AUFS_ACCT_LINES_MAX], to[AUFS_ACCT_LINES_MAX];
	unsigned n;
};

struct aufs_acct_work {
	struct aufs_acct_file up[AUFS_NKIND], loc[AUFS_NKIND];
	struct aufs_acct_map umap, gmap;
	/* upstream lines that are added (index into up[k].l), new id for pw/gr */
	unsigned add[AUFS_NKIND][AUFS_ACCT_LINES_MAX], nadd[AUFS_NKIND];
	unsigned long addid[AUFS_NKIND][AUFS_ACCT_LINES_MAX];
	char out[2 * AUFS_ACCT_BYTES_MAX];	/* one formatted file at a time */
	char upath[AUFS_NKIND][AUFS_PATH_MAX];	/* upstream file names */
	struct aufs_acct_target {	/* the four files, then uid_map, gid_map */
		char path[AUFS_PATH_MAX], tmp[AUFS_PATH_MAX], old[AUFS_PATH_MAX];
		int want, existed, renamed;
	} tgt[AUFS_NKIND + 2];
};

/* Splits f->buf (f->len bytes) into lines and fields for kind. Returns 0 or
 * -EBADMSG with why = "NAME:LINE: reason". */
int aufs_acct_parse(struct aufs_acct_file *f, enum aufs_acct_kind kind, char *why, size_t whylen);

/* Computes the merge of parsed w->loc[] with w->up[] (fills maps, add lists,
 * extra members). Returns 0, -ENOSPC (no free id) or -E2BIG. */
int aufs_acct_merge(struct aufs_acct_work *w, struct aufs_acct_stats *st);

/* Formats the merged file of kind into out; returns its length or -E2BIG.
 * Adds the number of group members merged in to *members (may be NULL). */
ssize_t aufs_acct_fmt(const struct aufs_acct_work *w, enum aufs_acct_kind kind,
		      char *out, size_t outlen, unsigned *members);

/* Formats a map as "<from> <to>\n" lines; length or -E2BIG. */
ssize_t aufs_acct_map_fmt(const struct aufs_acct_map *m, char *out, size_t outlen);

#endif
