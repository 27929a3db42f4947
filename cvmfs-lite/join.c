/* SPDX-License-Identifier: MIT */
/* cvmfs-lite/join.c: a chunked file's chunks joined into one cache file, so
 * that the kernel can read it through FUSE passthrough (a backing file is a
 * whole file). Made from the cached chunk objects (each verified when it was
 * committed), never from the network, and in a thread of its own at the
 * lowest priority: an open neither waits for chunks nor for the copy; the
 * opens after it use the join. The joins live in <cache>/join/, outside the object
 * index, named by the hash of the chunk list: at most JOIN_MAX of them and
 * JOIN_BYTES_MAX in all (a join doubles its file's room on the disk). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cvmfs-lite/internal.h"

#define JOIN_DIR "join"
#define JOIN_MAX 16		/* joined files kept; the oldest goes first */
#define JOIN_BYTES_MAX (128ull << 20)	/* ... and their bytes; larger files: no join */
#define OPEN_RO (O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)

/* Name of the join of this chunk list: SHA-1 over each chunk's offset,
 * size and hash, with the compression (a raw and a zlib object of the same
 * hash are different objects). */
static void join_name(const struct cvmfs_chunk *ch, size_t n, bool compressed, char *out,
		      size_t len)
{
	struct cvmfs_hash_ctx hc;
	struct cvmfs_hash h;
	unsigned char z = compressed;

	cvmfs_hash_init(&hc, CVMFS_HASH_SHA1);
	cvmfs_hash_update(&hc, &z, 1);
	for (size_t i = 0; i < n; i++) {
		cvmfs_hash_update(&hc, &ch[i].off, sizeof(ch[i].off));
		cvmfs_hash_update(&hc, &ch[i].size, sizeof(ch[i].size));
		cvmfs_hash_update(&hc, &ch[i].hash.algo, sizeof(ch[i].hash.algo));
		cvmfs_hash_update(&hc, ch[i].hash.d, cvmfs_hash_len(ch[i].hash.algo));
	}
	cvmfs_hash_final(&hc, &h);
	cvmfs_hash_fmt(&h, out, len);
}

/* A regular file of exactly size bytes, else -1 (and a wrong one removed). */
static int open_sized(int dfd, const char *name, uint64_t size)
{
	int fd = openat(dfd, name, OPEN_RO);
	struct stat st;

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size == size)
		return fd;
	close(fd);
	unlinkat(dfd, name, 0);
	return -1;
}

/* Room for one more of size bytes: removes the oldest joins while there
 * are JOIN_MAX or they would take more than JOIN_BYTES_MAX. */
static void trim(int dfd, uint64_t size)
{
	for (;;) {
		DIR *d;
		struct dirent *de;
		struct stat st;
		char oldest[NAME_MAX + 1] = "";
		struct timespec t = { 0 };
		uint64_t total = size;
		size_t n = 0;
		int fd = dup(dfd);

		if (fd < 0 || !(d = fdopendir(fd))) {
			if (fd >= 0)
				close(fd);
			return;
		}
		while ((de = readdir(d))) {
			if (de->d_name[0] == '.' ||
			    fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
				continue;
			n++;
			total += (uint64_t)st.st_size;
			if (!oldest[0] || st.st_mtim.tv_sec < t.tv_sec ||
			    (st.st_mtim.tv_sec == t.tv_sec && st.st_mtim.tv_nsec < t.tv_nsec)) {
				snprintf(oldest, sizeof(oldest), "%s", de->d_name);
				t = st.st_mtim;
			}
		}
		closedir(d);
		if ((n < JOIN_MAX && total <= JOIN_BYTES_MAX) || !oldest[0] ||
		    unlinkat(dfd, oldest, 0) < 0)
			return;
	}
}

/* copy_file_range's fallback (a file system or kernel without it). */
static ssize_t copy_rw(int in, off_t *ioff, int out, off_t *ooff, uint64_t len)
{
	char buf[16384];
	ssize_t k = pread(in, buf, len < sizeof(buf) ? len : sizeof(buf), *ioff);

	if (k > 0 && (k = pwrite(out, buf, (size_t)k, *ooff)) > 0) {
		*ioff += k;
		*ooff += k;
	}
	return k;
}

/* see internal.h */
int cvmfs_join_open(struct cvmfs_client *c, const struct cvmfs_chunk *ch, size_t n,
		    bool compressed, uint64_t size, bool make)
{
	char name[CVMFS_HASH_HEX_MAX];
	struct cvmfs_txn t = { .fd = -1 };
	int dfd, fd = -1, rc = 0;

	if (c->cache.dirfd < 0 || n == 0 || size > JOIN_BYTES_MAX / 2)
		return -ENOENT;
	/* Chunks back to back from 0 to size, or the join would have holes
	 * (a catalog's chunk list is only checked to end at the file's size). */
	for (size_t i = 0; i < n; i++)
		if (ch[i].off != (i ? ch[i - 1].off + ch[i - 1].size : 0) ||
		    (i == n - 1 && ch[i].off + ch[i].size != size))
			return -EBADMSG;
	join_name(ch, n, compressed, name, sizeof(name));
	/* An open (!make) only looks: no mkdir on its path. */
	if (make && mkdirat(c->cache.dirfd, JOIN_DIR, 0700) < 0 && errno != EEXIST)
		return -errno;
	dfd = openat(c->cache.dirfd, JOIN_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (dfd < 0)
		return errno == ENOENT ? -ENOENT : -errno;
	if ((fd = open_sized(dfd, name, size)) >= 0 || !make)
		goto out;
	/* Every chunk cached (and as long as the catalog says), or no join. */
	if ((rc = cvmfs_cache_txn_begin(&c->cache, &t)) < 0)
		goto out;
	for (size_t i = 0; i < n && rc == 0 && !c->stopping; i++) {
		int cfd = cvmfs_cache_open(&c->cache, &ch[i].hash, !compressed, ch[i].size);
		off_t in = 0, out = (off_t)ch[i].off;

		if (cfd < 0) {
			rc = cfd == -ESTALE ? -ENOENT : cfd;
			break;
		}
		while (rc == 0 && (uint64_t)in < ch[i].size) {
			ssize_t k = copy_file_range(cfd, &in, t.fd, &out, ch[i].size - (uint64_t)in, 0);

			if (k < 0 && (errno == EXDEV || errno == ENOSYS || errno == EOPNOTSUPP ||
				      errno == EINVAL))
				k = copy_rw(cfd, &in, t.fd, &out, ch[i].size - (uint64_t)in);
			if (k <= 0)
				rc = k < 0 ? -errno : -EIO;
		}
		close(cfd);
	}
	if (rc == 0 && c->stopping)
		rc = -EINTR;
	if (rc == 0) {
		trim(dfd, size);
		/* No flush: a join torn by a crash has the wrong size and is
		 * made again; its parts stay in the cache. */
		if (renameat(c->cache.txnfd, t.name, dfd, name) < 0)
			rc = -errno;
	}
	if (rc < 0) {
		cvmfs_cache_txn_abort(&c->cache, &t);
		goto out;
	}
	close(t.fd);
	fd = open_sized(dfd, name, size);
	if (fd < 0)
		rc = -EIO;
out:
	close(dfd);
	return fd >= 0 ? fd : rc < 0 ? rc : -ENOENT;
}

struct join_job {
	struct cvmfs_client *c;
	struct cvmfs_chunk *ch;
	size_t n;
	bool compressed;
	uint64_t size;
};

static void *joiner(void *arg)
{
	struct join_job *j = arg;
	struct cvmfs_client *c = j->c;
	int fd;

	/* The boot goes first: this only saves the next opens a daemon read. */
	setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 19);
	fd = cvmfs_join_open(c, j->ch, j->n, j->compressed, j->size, true);
	if (fd >= 0)
		close(fd);
	else if (fd != -ENOENT && fd != -EINTR)
		cvmfs_log(c, "join of %zu chunks (%llu bytes) for passthrough: %s", j->n,
			  (unsigned long long)j->size, strerror(-fd));
	free(j->ch);
	free(j);
	__atomic_store_n(&c->joining, 0, __ATOMIC_RELEASE);	/* last touch of c */
	return NULL;
}

/* see internal.h */
void cvmfs_join_later(struct cvmfs_client *c, const struct cvmfs_chunk *ch, size_t n,
		      bool compressed, uint64_t size)
{
	struct join_job *j;
	pthread_attr_t attr;
	pthread_t t;

	if (c->stopping || n == 0 || size > JOIN_BYTES_MAX / 2 ||
	    __atomic_exchange_n(&c->joining, 1, __ATOMIC_ACQ_REL))
		return;		/* one join at a time: a later open asks again */
	if ((j = calloc(1, sizeof(*j))) && (j->ch = malloc(n * sizeof(*ch)))) {
		memcpy(j->ch, ch, n * sizeof(*ch));
		*j = (struct join_job){ c, j->ch, n, compressed, size };
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		pthread_attr_setstacksize(&attr, 128 * 1024);
		if (pthread_create(&t, &attr, joiner, j) == 0) {
			pthread_attr_destroy(&attr);
			return;
		}
		pthread_attr_destroy(&attr);
		free(j->ch);
	}
	free(j);
	__atomic_store_n(&c->joining, 0, __ATOMIC_RELEASE);
}

/* see internal.h */
void cvmfs_join_wait(struct cvmfs_client *c)
{
	/* stopping is set: the joiner ends after the chunk it is copying */
	for (int i = 0; i < 3000 && __atomic_load_n(&c->joining, __ATOMIC_ACQUIRE); i++)
		usleep(10000);
}
