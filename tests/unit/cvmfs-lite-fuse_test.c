/* SPDX-License-Identifier: MIT */
/* tests/unit/cvmfs-lite-fuse_test.c: FUSE_INTERRUPT handling of the FUSE
 * server (cvmfs-lite/fuse.c), driven over a SOCK_SEQPACKET socket pair that
 * stands in for /dev/fuse (one message = one request), with file system
 * callbacks that block until the test lets them go, like a download. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/fuse.h>
#include <cmocka.h>

#include "cvmfs-lite/fuse.h"

static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static int gate_open, entered, released;

static void gate_wait(void)
{
	pthread_mutex_lock(&gate_lock);
	entered++;
	pthread_cond_broadcast(&gate_cond);
	while (!gate_open)
		pthread_cond_wait(&gate_cond, &gate_lock);
	pthread_mutex_unlock(&gate_lock);
}

static void gate_set(int open)
{
	pthread_mutex_lock(&gate_lock);
	gate_open = open;
	pthread_cond_broadcast(&gate_cond);
	pthread_mutex_unlock(&gate_lock);
}

/* Waits until n callbacks have entered the gate. */
static void gate_entered(int n)
{
	pthread_mutex_lock(&gate_lock);
	while (entered < n)
		pthread_cond_wait(&gate_cond, &gate_lock);
	pthread_mutex_unlock(&gate_lock);
}

static int s_open(void *ctx, uint64_t ino, uint64_t *fh)
{
	gate_wait();
	*fh = 77;
	return 0;
}

static ssize_t s_read(void *ctx, uint64_t ino, uint64_t fh, void *buf, size_t len, uint64_t off)
{
	gate_wait();
	memcpy(buf, "data", 4);
	return 4;
}

static void s_release(void *ctx, uint64_t ino, uint64_t fh)
{
	if (fh == 77)
		__atomic_add_fetch(&released, 1, __ATOMIC_SEQ_CST);
}

static const struct cvmfs_fuse_ops ops = {
	.open = s_open, .read = s_read, .release = s_release,
};

struct rig {
	struct cvmfs_fuse f;
	int peer;		/* the "kernel" end */
	pthread_t tid;
};

static void *serve(void *arg)
{
	cvmfs_fuse_serve(arg);
	return NULL;
}

static void rig_start(struct rig *r)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	memset(&r->f, 0, sizeof(r->f));
	r->f.fd = sv[1];
	r->f.ops = &ops;
	r->f.cfg.threads = 4;
	r->f.cfg.timeout_s = 1;
	pthread_mutex_init(&r->f.lock, NULL);
	r->peer = sv[0];
	gate_set(0);
	entered = 0;
	released = 0;
	assert_int_equal(pthread_create(&r->tid, NULL, serve, &r->f), 0);
}

static void rig_stop(struct rig *r)
{
	gate_set(1);
	shutdown(r->peer, SHUT_WR);	/* EOF ends every worker */
	pthread_join(r->tid, NULL);
	cvmfs_fuse_close(&r->f);
	close(r->peer);
	pthread_mutex_destroy(&r->f.lock);
}

static void send_req(struct rig *r, uint32_t opcode, uint64_t unique, uint32_t pid,
		     const void *arg, size_t alen)
{
	char msg[256];
	struct fuse_in_header h = { .len = sizeof(h) + alen, .opcode = opcode, .unique = unique,
				    .nodeid = 2, .pid = pid };

	memcpy(msg, &h, sizeof(h));
	memcpy(msg + sizeof(h), arg, alen);
	assert_int_equal(send(r->peer, msg, h.len, MSG_NOSIGNAL), (ssize_t)h.len);
}

/* Next reply within ms, or 0 if none came. */
static int recv_reply(struct rig *r, int ms, struct fuse_out_header *out)
{
	char buf[4096];
	struct pollfd p = { r->peer, POLLIN, 0 };
	ssize_t n;

	if (poll(&p, 1, ms) <= 0)
		return 0;
	n = recv(r->peer, buf, sizeof(buf), 0);
	assert_true(n >= (ssize_t)sizeof(*out));
	memcpy(out, buf, sizeof(*out));
	return 1;
}

static void send_read(struct rig *r, uint64_t unique, uint32_t pid)
{
	struct fuse_read_in ri = { .fh = 1, .size = 4096 };

	send_req(r, FUSE_READ, unique, pid, &ri, sizeof(ri));
}

static void send_interrupt(struct rig *r, uint64_t unique, uint64_t target)
{
	struct fuse_interrupt_in ii = { .unique = target };

	send_req(r, FUSE_INTERRUPT, unique, 0, &ii, sizeof(ii));
}

/* A request of a reader being killed (pid 0 here: the server cannot look
 * it up, so it honours the interrupt) is answered -EINTR at once, while its
 * callback still blocks; the callback's late reply is dropped. */
static void interrupt_of_killed_reader(void **state)
{
	struct rig r;
	struct fuse_out_header o;

	(void)state;
	rig_start(&r);
	send_read(&r, 10, 0);
	gate_entered(1);
	send_interrupt(&r, 11, 10);
	assert_int_equal(recv_reply(&r, 2000, &o), 1);
	assert_int_equal(o.unique, 10);
	assert_int_equal(o.error, -EINTR);
	gate_set(1);		/* the "download" ends: no second reply for 10 */
	assert_int_equal(recv_reply(&r, 300, &o), 0);
	send_read(&r, 12, 0);	/* the server goes on serving */
	assert_int_equal(recv_reply(&r, 2000, &o), 1);
	assert_int_equal(o.unique, 12);
	assert_int_equal(o.error, 0);
	assert_int_equal(o.len, sizeof(o) + 4);
	rig_stop(&r);
}

/* An interrupted OPEN whose callback succeeds later: nobody will RELEASE
 * the handle, so the server does. */
static void interrupted_open_is_released(void **state)
{
	struct rig r;
	struct fuse_out_header o;
	struct fuse_open_in oi = { .flags = 0 };

	(void)state;
	rig_start(&r);
	send_req(&r, FUSE_OPEN, 20, 0, &oi, sizeof(oi));
	gate_entered(1);
	send_interrupt(&r, 21, 20);
	assert_int_equal(recv_reply(&r, 2000, &o), 1);
	assert_int_equal(o.unique, 20);
	assert_int_equal(o.error, -EINTR);
	gate_set(1);
	assert_int_equal(recv_reply(&r, 300, &o), 0);
	for (int i = 0; i < 200 && !__atomic_load_n(&released, __ATOMIC_SEQ_CST); i++)
		usleep(10000);
	assert_int_equal(__atomic_load_n(&released, __ATOMIC_SEQ_CST), 1);
	rig_stop(&r);
}

/* A signal that does not kill the reader lets the request finish; an
 * interrupt for a request the server does not hold is answered -EAGAIN
 * (the kernel queues it again). */
static void other_interrupts(void **state)
{
	struct rig r;
	struct fuse_out_header o;

	(void)state;
	rig_start(&r);
	send_read(&r, 30, (uint32_t)gettid());	/* a live thread, no fatal signal pending */
	gate_entered(1);
	send_interrupt(&r, 31, 30);
	assert_int_equal(recv_reply(&r, 300, &o), 0);
	gate_set(1);
	assert_int_equal(recv_reply(&r, 2000, &o), 1);
	assert_int_equal(o.unique, 30);
	assert_int_equal(o.error, 0);
	send_interrupt(&r, 41, 40);
	assert_int_equal(recv_reply(&r, 2000, &o), 1);
	assert_int_equal(o.unique, 41);
	assert_int_equal(o.error, -EAGAIN);
	rig_stop(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(interrupt_of_killed_reader),
		cmocka_unit_test(interrupted_open_is_released),
		cmocka_unit_test(other_interrupts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
