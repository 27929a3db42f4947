/* SPDX-License-Identifier: MIT */
/* cvmfs-pub/util.c: publisher helpers: sticky errors, whole-file I/O, atomic writes, zlib. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "cvmfs-pub/internal.h"

/* see cvmfs-pub.h */
void cvmfs_pub_err_init(struct cvmfs_pub_err *e)
{
	pthread_mutex_init(&e->lock, NULL);
	e->rc = 0;
	e->msg[0] = '\0';
}

/* see cvmfs-pub.h */
int cvmfs_pub_fail(struct cvmfs_pub_err *e, int rc, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&e->lock);
	if (e->rc == 0) {
		e->rc = rc;
		va_start(ap, fmt);
		vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&e->lock);
	return rc;
}

/* see internal.h */
int cvmfs_pub_read_file(int dirfd, const char *path, size_t max, unsigned char **out,
			size_t *len)
{
	int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC), rc = 0;
	unsigned char *buf = NULL;
	struct stat st;
	size_t n = 0;

	*out = NULL;
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto out;
	}
	if ((uint64_t)st.st_size > max) {
		rc = -EFBIG;
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		rc = -ENOMEM;
		goto out;
	}
	while (n < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + n, (size_t)st.st_size - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	buf = NULL;
out:
	free(buf);
	close(fd);
	return rc;
}

/* see internal.h */
int cvmfs_pub_write_all(int fd, const void *data, size_t len)
{
	const unsigned char *p = data;

	while (len > 0) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* see internal.h */
int cvmfs_pub_write_atomic(const char *dir, const char *name, const void *data, size_t len,
			   unsigned mode)
{
	return cvmfs_pub_write_atomic2(dir, NULL, NULL, 0, name, data, len, mode);
}

/* Writes data to a fsync'ed temporary file beside dir/name (path in tmp). */
static int tmp_write(const char *dir, const char *name, const void *data, size_t len,
		     unsigned mode, char *tmp, size_t tmplen)
{
	int fd, rc;

	snprintf(tmp, tmplen, "%s/.%s.tmp.%d", dir, name, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	rc = cvmfs_pub_write_all(fd, data, len);
	if (rc == 0 && fchmod(fd, mode) < 0)
		rc = -errno;
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc < 0)
		unlink(tmp);
	return rc;
}

/* see internal.h */
int cvmfs_pub_write_atomic2(const char *dir, const char *name1, const void *data1, size_t len1,
			    const char *name2, const void *data2, size_t len2, unsigned mode)
{
	char tmp1[4096], tmp2[4096], dst[4096];
	int dfd, rc = 0;

	if (name1 && (rc = tmp_write(dir, name1, data1, len1, mode, tmp1, sizeof(tmp1))) < 0)
		return rc;
	if ((rc = tmp_write(dir, name2, data2, len2, mode, tmp2, sizeof(tmp2))) < 0)
		goto out;
	/* back to back: nothing slow between the two renames */
	if (name1) {
		snprintf(dst, sizeof(dst), "%s/%s", dir, name1);
		if (rename(tmp1, dst) < 0) {
			rc = -errno;
			unlink(tmp2);
			goto out;
		}
		name1 = NULL;
	}
	snprintf(dst, sizeof(dst), "%s/%s", dir, name2);
	if (rename(tmp2, dst) < 0) {
		rc = -errno;
		unlink(tmp2);
		goto out;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		if (fsync(dfd) < 0)
			rc = -errno;
		close(dfd);
	}
out:
	if (name1)
		unlink(tmp1);
	return rc;
}

/* see internal.h */
int cvmfs_pub_deflate(const void *in, size_t len, unsigned char **out, size_t *outlen)
{
	uLongf n = compressBound((uLong)len);
	unsigned char *buf = malloc(n);

	*out = NULL;
	if (!buf)
		return -ENOMEM;
	/* Level 6 = Z_DEFAULT_COMPRESSION, as upstream's deflateInit. */
	if (compress2(buf, &n, in, (uLong)len, 6) != Z_OK) {
		free(buf);
		return -EIO;
	}
	*out = buf;
	*outlen = n;
	return 0;
}

/* see internal.h */
int cvmfs_pub_deflate_split(const void *in, size_t len, size_t head, int finish,
			    unsigned char **out, size_t *outlen, size_t *zhead)
{
	z_stream z;
	size_t cap = deflateBound(NULL, (uLong)len) + 64;
	unsigned char *buf;
	int rc;

	*out = NULL;
	if (head > len || (!finish && head != len))
		return -EINVAL;
	buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	memset(&z, 0, sizeof(z));
	/* Level 6 = Z_DEFAULT_COMPRESSION, as cvmfs_pub_deflate. */
	if (deflateInit(&z, 6) != Z_OK) {
		free(buf);
		return -ENOMEM;
	}
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)head;
	z.next_out = buf;
	z.avail_out = (uInt)cap;
	/* The full flush ends the head's block on a byte boundary and empties
	 * the dictionary: what follows never refers back into the head. */
	rc = deflate(&z, Z_FULL_FLUSH);
	if (rc == Z_OK && (z.avail_in != 0 || z.avail_out == 0))
		rc = Z_BUF_ERROR;
	if (rc == Z_OK)
		*zhead = z.total_out;
	if (rc == Z_OK && finish) {
		z.avail_in = (uInt)(len - head);
		rc = deflate(&z, Z_FINISH);
		rc = rc == Z_STREAM_END ? Z_OK : Z_BUF_ERROR;
	}
	*outlen = z.total_out;
	deflateEnd(&z);
	if (rc != Z_OK) {
		free(buf);
		return -EIO;
	}
	*out = buf;
	return 0;
}
