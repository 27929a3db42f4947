/* SPDX-License-Identifier: MIT */
/* aufs-setup/util.c: small path and file helpers shared by the module. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "aufs-setup/internal.h"

/* see internal.h */
int aufs_fmt(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return 0;
}

/* see internal.h */
void aufs_whyf(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

/* see internal.h */
int aufs_mkdir_p(const char *dir, mode_t mode)
{
	char p[AUFS_PATH_MAX];
	size_t i, n = strlen(dir);

	if (n == 0 || n >= sizeof(p))
		return -ENAMETOOLONG;
	memcpy(p, dir, n + 1);
	for (i = 1; i <= n; i++) {
		if (p[i] != '/' && p[i] != '\0')
			continue;
		p[i] = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST)
			return -errno;
		if (i < n)
			p[i] = '/';
	}
	return 0;
}

/* see internal.h */
int aufs_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t w = write(fd, p, len);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* see internal.h */
int aufs_copy_file(const char *src, const char *dst, mode_t mode)
{
	char tmp[AUFS_PATH_MAX], buf[16384];
	int in = -1, out = -1, rc;
	ssize_t n;

	if ((rc = aufs_fmt(tmp, sizeof(tmp), "%s.tmp", dst)) < 0)
		return rc;
	if ((in = open(src, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (out < 0) {
		rc = -errno;
		goto out;
	}
	while ((n = read(in, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			goto out;
		}
		if ((rc = aufs_write_all(out, buf, (size_t)n)) < 0)
			goto out;
	}
	/* The umask must not take bits off an executable. */
	if (fchmod(out, mode) < 0 || fsync(out) < 0) {
		rc = -errno;
		goto out;
	}
	rc = close(out) < 0 ? -errno : 0;
	out = -1;
	if (rc == 0 && rename(tmp, dst) < 0)
		rc = -errno;
out:
	if (out >= 0)
		close(out);
	if (rc < 0)
		unlink(tmp);
	close(in);
	return rc;
}

/* see internal.h */
ssize_t aufs_read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t got = 0;
	ssize_t n, rc;

	if (fd < 0)
		return -errno;
	for (;;) {
		if (got + 1 >= len) {
			char c;

			/* Full: only fine if the file ends exactly here. */
			rc = read(fd, &c, 1) == 0 ? (ssize_t)got : -E2BIG;
			goto out;
		}
		n = read(fd, buf + got, len - 1 - got);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			goto out;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	rc = (ssize_t)got;
out:
	if (rc >= 0)
		buf[rc] = '\0';
	close(fd);
	return rc;
}

/* see internal.h */
uint64_t aufs_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* see internal.h */
int aufs_path_under(const char *rel, const char *path)
{
	size_t n = strlen(path);

	return strncmp(rel, path, n) == 0 && (rel[n] == '\0' || rel[n] == '/');
}

/* see internal.h */
int aufs_path_check(const char *s)
{
	const char *p = s;

	if (s[0] == '/')
		return -EINVAL;
	if (strpbrk(s, ",:\\"))
		return -EINVAL;
	while (*p) {
		size_t n = strcspn(p, "/");

		if (n == 2 && p[0] == '.' && p[1] == '.')
			return -EINVAL;
		p += n;
		while (*p == '/')
			p++;
	}
	return 0;
}
