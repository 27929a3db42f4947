/* SPDX-License-Identifier: MIT */
/* boot/tar.c: a small tar reader for cernvm_inject: checks every member
 * first, then unpacks into a root directory without ever following a link;
 * and boot_root_open, PID 1's way to write a file in the new root. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/openat2.h>

#include "boot/context.h"

#define TAR_NAME_MAX 1024
#define TAR_DEPTH_MAX 64	/* directory levels of a member */

struct tar_ent {
	char name[TAR_NAME_MAX], link[TAR_NAME_MAX];
	char type;
	unsigned mode, uid, gid;
	long long mtime;
	const char *data;
	size_t size;
};

static long long num(const char *f, size_t n)
{
	long long v = 0;
	size_t i = 0;

	/* GNU base-256 for values that do not fit the octal field. */
	if ((unsigned char)f[0] & 0x80) {
		v = (unsigned char)f[0] & 0x3f;
		for (i = 1; i < n; i++)
			v = (v << 8) | (unsigned char)f[i];
		return v;
	}
	while (i < n && (f[i] == ' ' || f[i] == '\0'))
		i++;
	for (; i < n && f[i] >= '0' && f[i] <= '7'; i++)
		v = v * 8 + (f[i] - '0');
	return v;
}

static int sum_ok(const unsigned char *h)
{
	unsigned long s = 0, want = (unsigned long)num((const char *)h + 148, 8);
	size_t i;

	for (i = 0; i < 512; i++)
		s += (i >= 148 && i < 156) ? ' ' : h[i];
	return s == want;
}

static void fld(char *dst, size_t cap, const char *src, size_t n)
{
	size_t l = strnlen(src, n);

	if (l >= cap)
		l = cap - 1;
	memcpy(dst, src, l);
	dst[l] = '\0';
}

/* pax extended header records "LEN key=value\n". */
static void pax(struct tar_ent *e, const char *d, size_t n, int *have_name, int *have_link)
{
	const char *p = d, *end = d + n, *kv, *eq;
	long long rl;

	while (p < end) {
		rl = 0;
		for (kv = p; kv < end && *kv >= '0' && *kv <= '9'; kv++)
			rl = rl * 10 + (*kv - '0');
		if (rl <= 0 || rl > end - p || kv >= end || *kv != ' ')
			return;
		kv++;
		eq = memchr(kv, '=', (size_t)(p + rl - kv));
		if (eq && p[rl - 1] == '\n') {
			size_t vl = (size_t)(p + rl - 1 - (eq + 1));

			if (eq - kv == 4 && memcmp(kv, "path", 4) == 0 && vl < TAR_NAME_MAX) {
				memcpy(e->name, eq + 1, vl);
				e->name[vl] = '\0';
				*have_name = 1;
			} else if (eq - kv == 8 && memcmp(kv, "linkpath", 8) == 0 &&
				   vl < TAR_NAME_MAX) {
				memcpy(e->link, eq + 1, vl);
				e->link[vl] = '\0';
				*have_link = 1;
			}
		}
		p += rl;
	}
}

/* Reads the member at *pos (extension headers folded in). Returns 1 with *e,
 * 0 at the end of the archive, or -EBADMSG. */
static int tar_next(const char *t, size_t len, size_t *pos, struct tar_ent *e)
{
	int have_name = 0, have_link = 0;
	const char *h;
	size_t size, blocks;

	for (;;) {
		if (*pos + 512 > len)
			return *pos == len ? 0 : -EBADMSG;
		h = t + *pos;
		if (h[0] == '\0' && !memcmp(h, h + 1, 511))
			return 0;	/* end-of-archive block */
		if (!sum_ok((const unsigned char *)h))
			return -EBADMSG;
		size = (size_t)num(h + 124, 12);
		blocks = (size + 511) / 512;
		if (size > len || blocks * 512 > len - *pos - 512)
			return -EBADMSG;
		e->type = h[156] && h[156] != '7' ? h[156] : '0';	/* '7': contiguous */
		e->data = h + 512;
		e->size = size;
		*pos += 512 + blocks * 512;
		if (e->type == 'L' || e->type == 'K') {
			char *dst = e->type == 'L' ? e->name : e->link;

			if (size == 0 || size > TAR_NAME_MAX)
				return -EBADMSG;
			fld(dst, TAR_NAME_MAX, e->data, size);
			*(e->type == 'L' ? &have_name : &have_link) = 1;
			continue;
		}
		if (e->type == 'x') {
			pax(e, e->data, size, &have_name, &have_link);
			continue;
		}
		if (e->type == 'g')
			continue;
		break;
	}
	if (!have_name) {
		char pre[156], nm[101];

		fld(pre, sizeof(pre), h + 345, 155);
		fld(nm, sizeof(nm), h, 100);
		/* ustar: prefix only with the "ustar" magic (old GNU uses it otherwise). */
		if (pre[0] && memcmp(h + 257, "ustar\0", 6) == 0)
			snprintf(e->name, TAR_NAME_MAX, "%s/%s", pre, nm);
		else
			snprintf(e->name, TAR_NAME_MAX, "%s", nm);
	}
	if (!have_link)
		fld(e->link, TAR_NAME_MAX, h + 157, 100);
	/* Pre-POSIX tars mark directories only by a trailing '/'. */
	if (e->type == '0' && e->name[0] && e->name[strlen(e->name) - 1] == '/')
		e->type = '5';
	e->mode = (unsigned)num(h + 100, 8) & 07777;
	e->uid = (unsigned)num(h + 108, 8);
	e->gid = (unsigned)num(h + 116, 8);
	e->mtime = num(h + 136, 12);
	return 1;
}

/* Canonicalises a member name in place: drops "./" and "//" and a trailing
 * '/'. Returns the number of components, 0 for the root itself, or -EPERM
 * (absolute, or a ".." component). */
static int name_clean(char *n)
{
	char *r = n, *w = n;
	int comps = 0;

	if (*n == '/')
		return -EPERM;
	while (*r) {
		size_t l = strcspn(r, "/");

		if (l == 2 && r[0] == '.' && r[1] == '.')
			return -EPERM;
		if (l && !(l == 1 && r[0] == '.')) {
			if (w != n)
				*w++ = '/';
			memmove(w, r, l);
			w += l;
			comps++;
		}
		r += l;
		while (*r == '/')
			r++;
	}
	*w = '\0';
	return comps;
}

/* A relative symlink target must stay below the root, seen from the depth
 * of the directory holding the link. Only leading ".." components may climb:
 * they go up through the link's own parents, which the extraction made or
 * found as real directories (never symlinks, O_NOFOLLOW). A ".." after any
 * other component climbs out of whatever that component is, and it may be a
 * symlink (`y -> .`, then `x -> y/../etc/shadow` leaves the root when the
 * new root is resolved from the initramfs): refused. */
static int target_escapes(const char *t, int depth)
{
	int down = 0;

	while (*t) {
		size_t l = strcspn(t, "/");

		if (l == 2 && t[0] == '.' && t[1] == '.') {
			if (down || --depth < 0)
				return 1;
		} else if (l && !(l == 1 && t[0] == '.')) {
			down = 1;
		}
		t += l;
		while (*t == '/')
			t++;
	}
	return 0;
}

/* Opens every directory of rel below rootfd with O_NOFOLLOW (the fallback
 * of boot_root_open on kernels without openat2). */
static int walk_nofollow(int rootfd, const char *rel, int flags, mode_t mode)
{
	char comp[256];
	const char *p = rel;
	int fd = openat(rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC), nfd;

	if (fd < 0)
		return -errno;
	for (;;) {
		size_t l;

		while (*p == '/')
			p++;
		l = strcspn(p, "/");
		if (l >= sizeof(comp) || (l == 2 && p[0] == '.' && p[1] == '.')) {
			close(fd);
			return l >= sizeof(comp) ? -ENAMETOOLONG : -EPERM;
		}
		memcpy(comp, p, l);
		comp[l] = '\0';
		p += l;
		while (*p == '/')
			p++;
		if (!*p) {
			nfd = openat(fd, l ? comp : ".", flags | O_NOFOLLOW, mode);
			nfd = nfd < 0 ? -errno : nfd;
			close(fd);
			return nfd;
		}
		nfd = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		close(fd);
		if (nfd < 0)
			return -errno;
		fd = nfd;
	}
}

/* see context.h */
int boot_root_open(int rootfd, const char *rel, int flags, mode_t mode)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC),
		.mode = flags & O_CREAT ? mode : 0,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	struct stat st;
	long fd = syscall(SYS_openat2, rootfd, rel, &how, sizeof(how));
	int rc;

	if (fd < 0 && (errno == ENOSYS || errno == E2BIG))
		fd = walk_nofollow(rootfd, rel, flags | O_NONBLOCK | O_CLOEXEC, mode);
	else if (fd < 0)
		fd = -errno;
	if (fd < 0)
		return (int)fd;
	/* O_NONBLOCK: a fifo there must not hang PID 1; and no device either. */
	if (fstat((int)fd, &st) < 0 || (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) ||
	    fcntl((int)fd, F_SETFL, fcntl((int)fd, F_GETFL) & ~O_NONBLOCK) < 0) {
		rc = fstat((int)fd, &st) < 0 ? -errno : -EPERM;
		close((int)fd);
		return rc;
	}
	return (int)fd;
}

/* Opens the directory holding name (creating missing ones, 0755), never
 * following a symlink; *base points at the last component. Returns an fd
 * (caller closes) or -errno (-ELOOP/-ENOTDIR: a non-directory on the way). */
static int parent_open(int rootfd, char *name, const char **base)
{
	char *p = name, *slash;
	int fd = openat(rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC), nfd;

	if (fd < 0)
		return -errno;
	while ((slash = strchr(p, '/'))) {
		*slash = '\0';
		if (mkdirat(fd, p, 0755) < 0 && errno != EEXIST)
			nfd = -errno;
		else
			nfd = openat(fd, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (nfd == -1)
			nfd = -errno;
		*slash = '/';
		close(fd);
		if (nfd < 0)
			return nfd;
		fd = nfd;
		p = slash + 1;
	}
	*base = p;
	return fd;
}

static int write_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Owner changes need root; unpacking as a user (tests) keeps our own. */
static int own(int rc)
{
	return rc < 0 && errno != EPERM ? -errno : 0;
}

static int member_write(int rootfd, struct tar_ent *e)
{
	const char *base;
	struct stat st;
	int dfd, fd = -1, lfd, rc = 0;

	dfd = parent_open(rootfd, e->name, &base);
	if (dfd < 0)
		return dfd;
	if (e->type == '5') {
		if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(st.st_mode) &&
		    unlinkat(dfd, base, 0) < 0)
			rc = -errno;
		else if (mkdirat(dfd, base, 0700) < 0 && errno != EEXIST)
			rc = -errno;
		else if ((rc = own(fchownat(dfd, base, e->uid, e->gid, AT_SYMLINK_NOFOLLOW))) == 0 &&
			 fchmodat(dfd, base, e->mode, 0) < 0)
			rc = -errno;
		goto out;
	}
	/* Replace what is there, but never write through it. */
	if (unlinkat(dfd, base, 0) < 0 && errno != ENOENT) {
		rc = -errno;
		goto out;
	}
	if (e->type == '2') {
		if (symlinkat(e->link, dfd, base) < 0)
			rc = -errno;
		else
			rc = own(fchownat(dfd, base, e->uid, e->gid, AT_SYMLINK_NOFOLLOW));
	} else if (e->type == '1') {
		const char *lbase;

		lfd = parent_open(rootfd, e->link, &lbase);
		if (lfd < 0) {
			rc = lfd;
			goto out;
		}
		if (linkat(lfd, lbase, dfd, base, 0) < 0)
			rc = -errno;
		close(lfd);
	} else {
		fd = openat(dfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0) {
			rc = -errno;
			goto out;
		}
		if ((rc = write_all(fd, e->data, e->size)) == 0 &&
		    (rc = own(fchown(fd, e->uid, e->gid))) == 0) {
			struct timespec ts[2] = { { e->mtime, 0 }, { e->mtime, 0 } };

			/* chmod after chown: chown clears set-id bits. */
			if (fchmod(fd, e->mode) < 0 || futimens(fd, ts) < 0)
				rc = -errno;
		}
	}
out:
	if (fd >= 0)
		close(fd);
	close(dfd);
	return rc;
}

static int member_check(struct tar_ent *e, boot_cfg_log_fn log, void *arg)
{
	char orig[80];
	int depth;

	snprintf(orig, sizeof(orig), "%.79s", e->name);
	if ((depth = name_clean(e->name)) < 0) {
		boot_cfg_say(log, arg, "inject: member '%s' is absolute or has '..'; "
			     "archive refused, nothing unpacked", orig);
		return -EPERM;
	}
	if (e->type == '1' && (e->link[0] == '/' || name_clean(e->link) <= 0)) {
		boot_cfg_say(log, arg, "inject: hard link '%s' -> '%s' leaves the root; "
			     "archive refused, nothing unpacked", e->name, e->link);
		return -EPERM;
	}
	/* An absolute target is resolved in the new root after switch_root (and
	 * by PID 1 with boot_root_open before); a relative one must not climb
	 * above it, not even through a symlink (target_escapes). */
	if (e->type == '2' && e->link[0] != '/' && target_escapes(e->link, depth - 1)) {
		boot_cfg_say(log, arg, "inject: symlink '%s' -> '%s' leaves the root; "
			     "archive refused, nothing unpacked", e->name, e->link);
		return -EPERM;
	}
	if (depth > TAR_DEPTH_MAX)
		return -ENAMETOOLONG;
	return depth;
}

/* see context.h */
int boot_tar_extract(int rootfd, const void *data, size_t len, char *work, size_t wcap,
		     boot_cfg_log_fn log, void *arg)
{
	struct tar_ent e;
	const char *t = data;
	size_t pos;
	ssize_t n;
	int pass, rc = 0, written = 0;

	if (len >= 2 && (unsigned char)t[0] == 0x1f && (unsigned char)t[1] == 0x8b) {
		n = boot_gunzip(data, len, work, wcap);
		if (n < 0) {
			boot_cfg_say(log, arg, "inject: the archive is not valid gzip (%s)",
				     n == -ENOSPC ? "too big" : "corrupt");
			return (int)n;
		}
		t = work;
		len = (size_t)n;
	}
	for (pass = 0; pass < 2; pass++) {
		pos = 0;
		while ((rc = tar_next(t, len, &pos, &e)) > 0) {
			if ((rc = member_check(&e, log, arg)) < 0)
				return rc;
			if (rc == 0 || pass == 0)
				continue;	/* "./" is the root itself */
			if (!strchr("0125", e.type)) {
				boot_cfg_say(log, arg, "inject: '%s' (type %c) skipped: only files, "
					     "directories and links are unpacked", e.name, e.type);
				continue;
			}
			if ((rc = member_write(rootfd, &e)) < 0) {
				boot_cfg_say(log, arg, "inject: cannot write '%s': %s", e.name,
					     strerror(-rc));
				return rc;
			}
			written++;
		}
		if (rc < 0) {
			boot_cfg_say(log, arg, "inject: the tar archive is corrupt near byte %zu",
				     pos);
			return rc;
		}
	}
	return written;
}
