/* SPDX-License-Identifier: MIT */
/* fuzz_fuse: FUSE request decoding. The request decoder (dispatch() in
 * cvmfs-lite/fuse.c) is static, so the harness drives the real server loop,
 * cvmfs_fuse_serve, over a SOCK_SEQPACKET socket pair standing in for
 * /dev/fuse (one message = one request, as /dev/fuse reads are; EOF ends the
 * loop, which fuse.c supports for tests). The input is a sequence of
 * requests, each "u16 length (LE) + bytes"; the harness sets
 * fuse_in_header.len to the message length (the kernel always does).
 * The file system behind is a fixed stub (replies of at most 12345 bytes),
 * so only the decoder is fuzzed. */
#include "tests/fuzz/fuzz.h"
#include <fcntl.h>
#include <pthread.h>
#include <sys/socket.h>
#include <linux/fuse.h>
#include "cvmfs-lite/fuse.h"

#define MSG_MAX 8192
#define REQS_MAX 128

static int st_fill(struct stat *st, uint64_t ino)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = ino == CVMFS_FUSE_ROOT_INO ? S_IFDIR | 0755 : S_IFREG | 0644;
	st->st_nlink = 1;
	st->st_size = 12345;
	return 0;
}

static int s_lookup(void *ctx, uint64_t parent, const char *name, struct cvmfs_fuse_entry *out)
{
	size_t l = strlen(name);	/* the name must be a C string inside the request */

	if (l == 0 || l > 255)
		return -ENAMETOOLONG;
	if (name[0] == 'n')
		return -ENOENT;
	out->ino = 2 + (name[0] & 7);
	return st_fill(&out->st, out->ino);
}

static void s_forget(void *ctx, uint64_t ino, uint64_t n)
{
}

static int s_getattr(void *ctx, uint64_t ino, struct stat *st)
{
	return ino == 0 ? -ENOENT : st_fill(st, ino);
}

static ssize_t s_readlink(void *ctx, uint64_t ino, char *buf, size_t len)
{
	static const char t[] = "../target";

	if (len < sizeof(t) - 1)
		return -ENAMETOOLONG;
	memcpy(buf, t, sizeof(t) - 1);
	return sizeof(t) - 1;
}

static int s_open(void *ctx, uint64_t ino, uint64_t *fh)
{
	*fh = ino;
	return ino == 7 ? -EIO : 0;
}

static ssize_t s_read(void *ctx, uint64_t ino, uint64_t fh, void *buf, size_t len, uint64_t off)
{
	if (off >= 12345)
		return 0;
	if (len > 12345 - off)
		len = 12345 - off;
	memset(buf, 'x', len);	/* ASan: len must fit the reply buffer */
	return (ssize_t)len;
}

static void s_release(void *ctx, uint64_t ino, uint64_t fh)
{
}

static int s_readdir(void *ctx, uint64_t ino, uint64_t fh, uint64_t off, bool plus,
		     cvmfs_fuse_fill_fn fill, void *arg)
{
	static const char *names[] = { ".", "..", "a", "a-much-longer-name-for-alignment", "z" };
	struct cvmfs_fuse_entry e;

	for (uint64_t i = off; i < 5; i++) {
		e.ino = 10 + i;
		st_fill(&e.st, e.ino);
		if (!fill(arg, names[i], e.ino, e.st.st_mode, plus ? &e : NULL, i + 1))
			break;
	}
	return 0;
}

static int s_statfs(void *ctx, struct statvfs *st)
{
	memset(st, 0, sizeof(*st));
	st->f_blocks = 100;
	return 0;
}

static ssize_t s_getxattr(void *ctx, uint64_t ino, const char *name, void *buf, size_t len)
{
	static const char v[] = "value";

	if (strcmp(name, "user.v") != 0)
		return -ENODATA;
	if (len == 0)
		return sizeof(v) - 1;
	if (len < sizeof(v) - 1)
		return -ERANGE;
	memcpy(buf, v, sizeof(v) - 1);
	return sizeof(v) - 1;
}

static ssize_t s_listxattr(void *ctx, uint64_t ino, char *buf, size_t len)
{
	static const char v[] = "user.v";

	if (len == 0)
		return sizeof(v);
	if (len < sizeof(v))
		return -ERANGE;
	memcpy(buf, v, sizeof(v));
	return sizeof(v);
}

static const struct cvmfs_fuse_ops ops = {
	.lookup = s_lookup, .forget = s_forget, .getattr = s_getattr, .readlink = s_readlink,
	.open = s_open, .read = s_read, .release = s_release, .opendir = s_open,
	.readdir = s_readdir, .releasedir = s_release, .statfs = s_statfs,
	.getxattr = s_getxattr, .listxattr = s_listxattr, .destroy = NULL,
};

/* Queues the requests on fd (at most REQS_MAX; the socket buffers are big
 * enough for all of them and for every reply, so nothing blocks and the
 * server runs on the calling thread's schedule, one worker thread). */
static void feed(int fd, const uint8_t *d, size_t n)
{
	static uint8_t msg[MSG_MAX];
	size_t pos = 0;

	for (unsigned i = 0; i < REQS_MAX && pos + 2 <= n; i++) {
		size_t len = d[pos] | (size_t)d[pos + 1] << 8;

		pos += 2;
		if (len > n - pos)
			len = n - pos;
		if (len > MSG_MAX)
			len = MSG_MAX;
		memcpy(msg, d + pos, len);
		pos += len;
		if (len >= sizeof(struct fuse_in_header))
			((struct fuse_in_header *)msg)->len = (uint32_t)len;
		if (send(fd, msg, len, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
			break;
	}
	shutdown(fd, SHUT_WR);
}

static void bigbuf(int fd)
{
	int sz = 8 << 20;

	/* root may exceed wmem_max; others get what the sysctl allows */
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	static char reply[1 << 20];
	struct cvmfs_fuse f;
	int sv[2];

	if (n > 65536)
		return 0;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	bigbuf(sv[0]);
	bigbuf(sv[1]);
	memset(&f, 0, sizeof(f));
	f.fd = sv[1];
	f.ops = &ops;
	f.cfg.threads = 1;
	f.cfg.timeout_s = 1;
	pthread_mutex_init(&f.lock, NULL);
	feed(sv[0], d, n);
	cvmfs_fuse_serve(&f);
	cvmfs_fuse_close(&f);
	while (recv(sv[0], reply, sizeof(reply), MSG_DONTWAIT) > 0)
		;
	close(sv[0]);
	pthread_mutex_destroy(&f.lock);
	return 0;
}
