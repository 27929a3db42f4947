/* SPDX-License-Identifier: MIT */
/* cvmfs-pub/store.c: the repository's object store: data/xx/ objects written by temp file and rename. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cvmfs-pub/internal.h"

static uint64_t seq;	/* temp names; atomic */

/* see internal.h */
int cvmfs_pub_store_open(struct cvmfs_pub_store *s, const char *repo, enum cvmfs_hash_algo algo,
			 struct cvmfs_pub_err *e)
{
	char sub[8];
	int i;

	memset(s, 0, sizeof(*s));
	s->repofd = s->datafd = s->tmpfd = -1;
	s->algo = algo;
	s->pid = getpid();
	if (mkdir(repo, 0755) < 0 && errno != EEXIST)
		return cvmfs_pub_fail(e, -errno, "%s: cannot create repository directory: %s", repo,
				      strerror(errno));
	s->repofd = open(repo, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->repofd < 0)
		return cvmfs_pub_fail(e, -errno, "%s: %s", repo, strerror(errno));
	if (mkdirat(s->repofd, "data", 0755) < 0 && errno != EEXIST)
		return cvmfs_pub_fail(e, -errno, "%s/data: %s", repo, strerror(errno));
	s->datafd = openat(s->repofd, "data", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->datafd < 0)
		return cvmfs_pub_fail(e, -errno, "%s/data: %s", repo, strerror(errno));
	for (i = 0; i <= 256; i++) {
		if (i == 256)
			strcpy(sub, "txn");
		else
			snprintf(sub, sizeof(sub), "%02x", i);
		if (mkdirat(s->datafd, sub, 0755) < 0 && errno != EEXIST)
			return cvmfs_pub_fail(e, -errno, "%s/data/%s: cannot create: %s", repo, sub,
					      strerror(errno));
	}
	s->tmpfd = openat(s->datafd, "txn", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->tmpfd < 0)
		return cvmfs_pub_fail(e, -errno, "%s/data/txn: %s", repo, strerror(errno));
	return 0;
}

/* The process id in a temporary name after prefix ("o.", "..cvmfspublished.tmp.");
 * 0 if the name does not have that shape. */
static pid_t tmp_pid(const char *name, const char *prefix)
{
	size_t n = strlen(prefix);
	char *end;
	long v;

	if (strncmp(name, prefix, n) != 0 || name[n] < '1' || name[n] > '9')
		return 0;
	errno = 0;
	v = strtol(name + n, &end, 10);
	if (errno || v <= 0 || (pid_t)v != v || (*end != '\0' && *end != '.'))
		return 0;
	return (pid_t)v;
}

/* Ours, or a process that is gone (a killed publish): stale. A live other
 * process (`cvmboot tag list` reads through data/txn without the lock) keeps
 * its files. */
static int pid_stale(const struct cvmfs_pub_store *s, pid_t pid)
{
	return pid == s->pid || (kill(pid, 0) < 0 && errno == ESRCH);
}

/* see internal.h */
unsigned cvmfs_pub_store_sweep(struct cvmfs_pub_store *s)
{
	/* util.c's tmp_write names them ".<name>.tmp.<pid>" */
	static const char *const root_tmp[] = { "..cvmfspublished.tmp.", "..cvmfsreflog.tmp.",
						 "..cvmfswhitelist.tmp." };
	unsigned removed = 0;
	int pass;

	for (pass = 0; pass < 2; pass++) {
		int fd = openat(pass ? s->repofd : s->datafd, pass ? "." : "txn",
				O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
		struct dirent *de;

		if (!d) {
			if (fd >= 0)
				close(fd);
			continue;
		}
		while ((de = readdir(d))) {
			char pre[3] = { de->d_name[0], '.', '\0' };	/* "o.", "c.", "h.", "r." */
			pid_t pid = 0;
			size_t i;

			if (pass == 0 && pre[0] != '.')
				pid = tmp_pid(de->d_name, pre);
			for (i = 0; pass == 1 && i < sizeof(root_tmp) / sizeof(root_tmp[0]) && !pid;
			     i++)
				pid = tmp_pid(de->d_name, root_tmp[i]);
			if (pid > 0 && pid_stale(s, pid) && unlinkat(fd, de->d_name, 0) == 0)
				removed++;
		}
		closedir(d);
	}
	return removed;
}

/* see internal.h */
void cvmfs_pub_store_close(struct cvmfs_pub_store *s)
{
	if (s->tmpfd >= 0)
		close(s->tmpfd);
	if (s->datafd >= 0)
		close(s->datafd);
	if (s->repofd >= 0)
		close(s->repofd);
	s->datafd = s->repofd = s->tmpfd = -1;
}

static int relpath(const struct cvmfs_hash *h, char suffix, char *buf, size_t len)
{
	char p[CVMFS_OBJ_PATH_MAX];
	int n = cvmfs_hash_objpath(h, suffix, p, sizeof(p));

	if (n < 0 || (size_t)n - 5 >= len)
		return -EINVAL;
	memcpy(buf, p + 5, (size_t)n - 5 + 1);	/* drop "data/" */
	return 0;
}

/* see internal.h */
int cvmfs_pub_store_has(struct cvmfs_pub_store *s, const struct cvmfs_hash *h, char suffix)
{
	char rel[CVMFS_OBJ_PATH_MAX];

	if (relpath(h, suffix, rel, sizeof(rel)) < 0)
		return 0;
	return faccessat(s->datafd, rel, F_OK, 0) == 0;
}

/* see internal.h */
int cvmfs_pub_store_put(struct cvmfs_pub_store *s, const struct cvmfs_hash *h, char suffix,
			const void *zdata, size_t zlen)
{
	char rel[CVMFS_OBJ_PATH_MAX], tmp[64];
	int fd, rc;

	if (relpath(h, suffix, rel, sizeof(rel)) < 0)
		return -EINVAL;
	if (faccessat(s->datafd, rel, F_OK, 0) == 0) {
		__atomic_add_fetch(&s->reused, 1, __ATOMIC_RELAXED);
		return 0;
	}
	snprintf(tmp, sizeof(tmp), "txn/o.%d.%llu", (int)s->pid,
		 (unsigned long long)__atomic_add_fetch(&seq, 1, __ATOMIC_RELAXED));
	fd = openat(s->datafd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	rc = cvmfs_pub_write_all(fd, zdata, zlen);
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	/* Another worker may have stored the same content meanwhile:
	 * rename over it is harmless (same bytes). */
	if (rc == 0 && renameat(s->datafd, tmp, s->datafd, rel) < 0)
		rc = -errno;
	if (rc < 0) {
		unlinkat(s->datafd, tmp, 0);
		return rc;
	}
	__atomic_add_fetch(&s->written, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&s->written_bytes, zlen, __ATOMIC_RELAXED);
	return 0;
}

/* see internal.h */
int cvmfs_pub_store_put_buf(struct cvmfs_pub_store *s, char suffix, const void *data,
			    size_t len, struct cvmfs_hash *out)
{
	unsigned char *z;
	size_t zl;
	int rc = cvmfs_pub_deflate(data, len, &z, &zl);

	if (rc < 0)
		return rc;
	rc = cvmfs_pub_store_put_z(s, suffix, z, zl, out);
	free(z);
	return rc;
}

/* see internal.h */
int cvmfs_pub_store_put_z(struct cvmfs_pub_store *s, char suffix, const void *zdata,
			  size_t zlen, struct cvmfs_hash *out)
{
	int rc = cvmfs_hash_buf(s->algo, zdata, zlen, out);

	return rc < 0 ? rc : cvmfs_pub_store_put(s, out, suffix, zdata, zlen);
}

/* see internal.h */
int cvmfs_pub_store_read(struct cvmfs_pub_store *s, const struct cvmfs_hash *h, char suffix,
			 size_t max, unsigned char **out, size_t *len)
{
	char rel[CVMFS_OBJ_PATH_MAX];
	int rc;

	*out = NULL;
	if (relpath(h, suffix, rel, sizeof(rel)) < 0)
		return -EINVAL;
	rc = cvmfs_pub_read_file(s->datafd, rel, max, out, len);
	if (rc == 0 && (rc = cvmfs_object_check(*out, *len, h, NULL)) < 0) {
		free(*out);
		*out = NULL;
	}
	return rc;
}

/* see internal.h */
int cvmfs_pub_store_get(struct cvmfs_pub_store *s, const struct cvmfs_hash *h, char suffix,
			size_t max, unsigned char **out, size_t *len)
{
	unsigned char *z;
	size_t zl;
	int rc = cvmfs_pub_store_read(s, h, suffix, max, &z, &zl);

	*out = NULL;
	if (rc < 0)
		return rc;
	rc = cvmfs_zlib_inflate(z, zl, max, out, len, NULL);
	free(z);
	return rc;
}
