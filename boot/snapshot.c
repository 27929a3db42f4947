/* SPDX-License-Identifier: MIT */
/* boot/snapshot.c: which repository snapshot to mount (aux/cvmfs_snapshot,
 * aux/cvmfs_force_tag) and the small-file helpers behind aux/ and context/. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "boot/config.h"

/* see config.h */
ssize_t boot_read_full(int fd, void *buf, size_t len)
{
	size_t n = 0;

	while (n < len) {
		ssize_t r = read(fd, (char *)buf + n, len - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			break;
		n += (size_t)r;
	}
	return (ssize_t)n;
}

/* see config.h */
long boot_file_read(int dirfd, const char *name, void *buf, size_t cap)
{
	char extra;
	ssize_t n, more;
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return -errno;
	n = boot_read_full(fd, buf, cap);
	if (n == (ssize_t)cap && (more = boot_read_full(fd, &extra, 1)) != 0)
		n = more < 0 ? more : -EFBIG;
	close(fd);
	return (long)n;
}

/* see config.h */
int boot_file_writev(int dirfd, const char *name, const struct iovec *iov, size_t n)
{
	char tmp[128];
	const char *p;
	size_t i, len;
	ssize_t w;
	int rc = 0, fd;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", name) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	for (i = 0; rc == 0 && i < n; i++)
		for (p = iov[i].iov_base, len = iov[i].iov_len; len > 0;) {
			w = write(fd, p, len);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				rc = w < 0 ? -errno : -EIO;
				break;
			}
			p += w;
			len -= (size_t)w;
		}
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	/* The rename makes the new content visible all at once; the directory
	 * fsync makes the rename itself survive a power cut. */
	if (rc == 0 && renameat(dirfd, tmp, dirfd, name) < 0)
		rc = -errno;
	if (rc < 0)
		unlinkat(dirfd, tmp, 0);
	else
		fsync(dirfd);
	return rc;
}

/* see config.h */
int boot_file_write(int dirfd, const char *name, const void *buf, size_t len)
{
	struct iovec iov = { (void *)buf, len };

	return boot_file_writev(dirfd, name, &iov, 1);
}

/* see config.h */
int boot_snapshot_hash_is_valid(const char *s)
{
	size_t n = strspn(s, "0123456789abcdef"), m;

	if (n < 40 || n > 64)
		return 0;
	if (s[n] == '\0')
		return 1;
	if (s[n] != '-')
		return 0;
	m = strspn(s + n + 1, "abcdefghijklmnopqrstuvwxyz0123456789");
	return m >= 1 && m <= 16 && s[n + 1 + m] == '\0';
}

/* see config.h */
int boot_snapshot_tag_is_valid(const char *s)
{
	size_t n;

	if (!*s || *s == '-')
		return 0;
	for (n = 0; s[n]; n++)
		if ((unsigned char)s[n] <= ' ' || (unsigned char)s[n] >= 0x7f)
			return 0;
	return n < BOOT_CFG_NAME_MAX;
}

/* Cuts buf (len bytes) into NUL-terminated lines without CR/LF; returns the
 * number of lines (at most max). */
static int lines_split(char *buf, size_t len, char **line, int max)
{
	int n = 0;
	char *p = buf, *end = buf + len, *nl;

	*end = '\0';
	while (p < end && n < max) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl)
			*nl = '\0';
		line[n] = p;
		p[strcspn(p, "\r")] = '\0';
		n++;
		p = nl ? nl + 1 : end;
	}
	return n;
}

/* see config.h */
int boot_snapshot_read(int auxfd, struct boot_snapshot *s)
{
	char buf[BOOT_CFG_HASH_MAX + BOOT_CFG_NAME_MAX + 8], *line[2] = { "", "" };
	long n = boot_file_read(auxfd, BOOT_SNAPSHOT_FILE, buf, sizeof(buf) - 1);

	if (n == -EFBIG)
		return -EBADMSG;
	if (n < 0)
		return (int)n;
	lines_split(buf, (size_t)n, line, 2);
	if (!boot_snapshot_hash_is_valid(line[0]) ||
	    (line[1][0] && !boot_snapshot_tag_is_valid(line[1])))
		return -EBADMSG;
	strcpy(s->hash, line[0]);
	strcpy(s->tag, line[1]);
	return 0;
}

/* see config.h */
int boot_snapshot_write(int auxfd, const struct boot_snapshot *s)
{
	char buf[BOOT_CFG_HASH_MAX + BOOT_CFG_NAME_MAX + 4];
	int n;

	if (!boot_snapshot_hash_is_valid(s->hash) ||
	    (s->tag[0] && !boot_snapshot_tag_is_valid(s->tag)))
		return -EINVAL;
	n = snprintf(buf, sizeof(buf), "%s\n%s\n", s->hash, s->tag);
	return boot_file_write(auxfd, BOOT_SNAPSHOT_FILE, buf, (size_t)n);
}

static int unlink_quiet(int dirfd, const char *name)
{
	if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
		return -errno;
	fsync(dirfd);
	return 0;
}

/* see config.h */
int boot_snapshot_unpin(int auxfd)
{
	return unlink_quiet(auxfd, BOOT_SNAPSHOT_FILE);
}

/* see config.h */
int boot_force_tag_consume(int auxfd)
{
	return unlink_quiet(auxfd, BOOT_FORCE_TAG_FILE);
}

/* see config.h */
int boot_force_tag_read(int auxfd, char *tag, size_t cap)
{
	char buf[BOOT_CFG_NAME_MAX + 8], *line[1] = { "" }, *p;
	long n = boot_file_read(auxfd, BOOT_FORCE_TAG_FILE, buf, sizeof(buf) - 1);
	size_t len;

	if (n == -EFBIG)
		return -EBADMSG;
	if (n < 0)
		return (int)n;
	lines_split(buf, (size_t)n, line, 1);
	p = line[0] + strspn(line[0], " \t");
	len = strlen(p);
	while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
		p[--len] = '\0';
	if (!boot_snapshot_tag_is_valid(p))
		return -EBADMSG;
	if (len >= cap)
		return -ENAMETOOLONG;
	memcpy(tag, p, len + 1);
	return 0;
}

static void set(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src ? src : "");
}

/* see config.h */
void boot_snapshot_plan(const struct boot_snapshot *pinned, const char *force_tag,
			const char *ud_tag, const char *cmd_tag, const char *def_tag,
			struct boot_mount_plan *out)
{
	memset(out, 0, sizeof(*out));
	if (force_tag && *force_tag) {
		set(out->tag, sizeof(out->tag), force_tag);
		out->record = out->consume_force = 1;
		out->why = "aux/cvmfs_force_tag asks for this tag (one-shot; removed once pinned)";
	} else if (pinned && boot_snapshot_hash_is_valid(pinned->hash)) {
		set(out->hash, sizeof(out->hash), pinned->hash);
		set(out->tag, sizeof(out->tag), pinned->tag);
		out->why = "pinned in aux/cvmfs_snapshot (unpin to follow the tag again)";
	} else {
		out->record = 1;
		if (ud_tag && *ud_tag) {
			set(out->tag, sizeof(out->tag), ud_tag);
			out->why = "not pinned: user-data cvmfs_tag";
		} else if (cmd_tag && *cmd_tag) {
			set(out->tag, sizeof(out->tag), cmd_tag);
			out->why = "not pinned: kernel command line cvmfs_repository_tag";
		} else {
			set(out->tag, sizeof(out->tag), def_tag);
			out->why = *out->tag ? "not pinned: the built-in default tag"
					     : "not pinned: the newest revision";
		}
	}
}
