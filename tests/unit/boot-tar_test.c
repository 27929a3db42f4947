/* SPDX-License-Identifier: MIT */
/* tests/unit/boot-tar_test.c: cernvm_inject cannot be walked out of its root
 * (issue 13, case 10): symlink targets that climb through a symlink are
 * refused; boot_root_open (PID 1's writes into the new root, /.cvmfs_pids)
 * resolves inside the root, never follows a last-component link and does not
 * hang on a fifo, with openat2 and with the fallback for kernels without it
 * (openat2 made to fail with ENOSYS by a seccomp filter). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <cmocka.h>

#include "boot/boot.h"
#include "boot/context.h"

static char logbuf[16384];
static char tarbuf[64 * 1024], work[1 << 20];
static char top[64];		/* temp dir: top/root is the root, top/etc outside it */
static int rootfd = -1, topfd = -1;

static void log_cb(void *arg, const char *msg)
{
	size_t n = strlen(logbuf);

	(void)arg;
	snprintf(logbuf + n, sizeof(logbuf) - n, "%s\n", msg);
}

static int setup(void **state)
{
	(void)state;
	logbuf[0] = '\0';
	strcpy(top, "/tmp/cvmboot-tar-XXXXXX");
	assert_non_null(mkdtemp(top));
	topfd = open(top, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(topfd >= 0);
	assert_int_equal(mkdirat(topfd, "root", 0755), 0);
	assert_int_equal(mkdirat(topfd, "etc", 0755), 0);
	rootfd = openat(topfd, "root", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(rootfd >= 0);
	/* What must never be reached from the root: a file beside it. */
	assert_int_equal(boot_file_write(topfd, "etc/shadow", "SECRET\n", 7), 0);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	close(rootfd);
	close(topfd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
	assert_int_equal(system(cmd), 0);
	return 0;
}

/* Appends a ustar header (no data) to tarbuf at *off. */
static void tar_hdr(size_t *off, const char *name, char type, const char *link)
{
	char *h = tarbuf + *off;
	unsigned sum = 0;
	size_t i;

	memset(h, 0, 512);
	snprintf(h, 100, "%s", name);
	snprintf(h + 100, 8, "%07o", 0777);
	snprintf(h + 108, 8, "%07o", 0);
	snprintf(h + 116, 8, "%07o", 0);
	snprintf(h + 124, 12, "%011o", 0);
	snprintf(h + 136, 12, "%011o", 1700000000);
	h[156] = type;
	snprintf(h + 157, 100, "%s", link ? link : "");
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	memset(h + 148, ' ', 8);
	for (i = 0; i < 512; i++)
		sum += (unsigned char)h[i];
	snprintf(h + 148, 8, "%06o", sum);
	h[155] = ' ';
	*off += 512;
}

/* Two zero blocks end the archive. Returns its length. */
static size_t tar_end(size_t off)
{
	memset(tarbuf + off, 0, 1024);
	return off + 1024;
}

static int extract(size_t len)
{
	return boot_tar_extract(rootfd, tarbuf, len, work, sizeof(work), log_cb, NULL);
}

/* The reported walk: `y -> .` passes, then `x -> y/../etc/shadow` climbed
 * lexically back to depth 0 and passed too; read from the initramfs (the
 * root at /root before switch_root) x is the file beside the root. */
static void symlink_through_symlink_refused(void **state)
{
	size_t off = 0;

	(void)state;
	tar_hdr(&off, "ok", '5', NULL);
	tar_hdr(&off, "y", '2', ".");
	tar_hdr(&off, "x", '2', "y/../etc/shadow");
	assert_int_equal(extract(tar_end(off)), -EPERM);
	assert_non_null(strstr(logbuf, "symlink 'x' -> 'y/../etc/shadow' leaves the root"));
	/* All or nothing. */
	assert_int_equal(faccessat(rootfd, "ok", F_OK, AT_SYMLINK_NOFOLLOW), -1);
	assert_int_equal(faccessat(rootfd, "y", F_OK, AT_SYMLINK_NOFOLLOW), -1);
	assert_int_equal(faccessat(rootfd, "x", F_OK, AT_SYMLINK_NOFOLLOW), -1);
}

/* The same through a directory symlink the OS already has, and deeper. */
static void climb_after_descent_refused(void **state)
{
	static const char *const bad[][2] = {
		{ "a/b/x", "c/../../../etc/shadow" },
		{ "x", "lib/.." },
		{ "a/x", "../b/../.." },
	};
	size_t i, off;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		logbuf[0] = '\0';
		off = 0;
		tar_hdr(&off, bad[i][0], '2', bad[i][1]);
		assert_int_equal(extract(tar_end(off)), -EPERM);
		assert_non_null(strstr(logbuf, "leaves the root"));
	}
}

/* What stays allowed: leading ".." within the depth, descents, absolute. */
static void ordinary_links_kept(void **state)
{
	char buf[64];
	size_t off = 0;

	(void)state;
	tar_hdr(&off, "usr/lib/libx.so", '2', "../../lib/libx.so.1");
	tar_hdr(&off, "bin", '2', "usr/bin");
	tar_hdr(&off, "etc/alt", '2', "/usr/bin/vi");
	tar_hdr(&off, "usr/share/./a", '2', "./b/c");
	assert_int_equal(extract(tar_end(off)), 4);
	assert_int_equal(readlinkat(rootfd, "usr/lib/libx.so", buf, sizeof(buf)), 19);
	assert_int_equal(readlinkat(rootfd, "usr/share/a", buf, sizeof(buf)), 5);
}

static void assert_outside_untouched(void)
{
	char buf[16];

	assert_int_equal(boot_file_read(topfd, "etc/shadow", buf, sizeof(buf)), 7);
	assert_memory_equal(buf, "SECRET\n", 7);
	assert_int_equal(faccessat(topfd, "pids", F_OK, AT_SYMLINK_NOFOLLOW), -1);
	assert_int_equal(faccessat(topfd, "f", F_OK, AT_SYMLINK_NOFOLLOW), -1);
}

/* PID 1's writes into the new root, as write_pids does them. */
static void root_open_checks(void)
{
	char out[128];
	int fd;

	/* A planted last component: a symlink out (absolute, relative). */
	snprintf(out, sizeof(out), "%s/etc/shadow", top);
	assert_int_equal(symlinkat(out, rootfd, ".cvmfs_pids"), 0);
	assert_int_equal(boot_root_open(rootfd, ".cvmfs_pids", O_WRONLY | O_CREAT | O_TRUNC, 0644),
			 -ELOOP);
	assert_int_equal(unlinkat(rootfd, ".cvmfs_pids", 0), 0);
	assert_int_equal(symlinkat("../etc/shadow", rootfd, ".cvmfs_pids"), 0);
	assert_int_equal(boot_root_open(rootfd, ".cvmfs_pids", O_WRONLY | O_CREAT | O_TRUNC, 0644),
			 -ELOOP);
	/* A directory on the way that climbs through a symlink: y -> ., d -> y/../..
	 * Resolved in the root (openat2) it is the root itself; without openat2
	 * a symlink on the way is refused. Never the directory beside the root. */
	assert_int_equal(symlinkat(".", rootfd, "y"), 0);
	assert_int_equal(symlinkat("y/../..", rootfd, "d"), 0);
	fd = boot_root_open(rootfd, "d/f", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd >= 0) {
		close(fd);
		assert_int_equal(faccessat(rootfd, "f", F_OK, AT_SYMLINK_NOFOLLOW), 0);
	} else {
		assert_true(fd == -ELOOP || fd == -ENOTDIR);
	}
	snprintf(out, sizeof(out), "%s", top);
	assert_int_equal(symlinkat(out, rootfd, "abs"), 0);
	fd = boot_root_open(rootfd, "abs/pids", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd < 0);	/* <root>/tmp/... does not exist; never top/pids */
	/* A fifo: an error at once, not a hang (no reader). */
	assert_int_equal(mkfifoat(rootfd, "fifo", 0644), 0);
	fd = boot_root_open(rootfd, "fifo", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd == -ENXIO || fd == -EPERM);
	/* A plain file is written. */
	fd = boot_root_open(rootfd, "/.cvmfs_ok", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "1\n", 2), 2);
	close(fd);
	assert_int_equal(faccessat(rootfd, ".cvmfs_ok", F_OK, AT_SYMLINK_NOFOLLOW), 0);
	assert_outside_untouched();
}

static void root_open_in_root(void **state)
{
	(void)state;
	root_open_checks();
}

/* The fallback: openat2 fails with ENOSYS (kernels before 5.6). */
static void root_open_without_openat2(void **state)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat2, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { sizeof(f) / sizeof(f[0]), f };
	int st;
	pid_t pid;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
		    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
			_exit(2);
		if (syscall(SYS_openat2, AT_FDCWD, ".", NULL, 0) != -1 || errno != ENOSYS)
			_exit(3);
		root_open_checks();	/* a failed assert exits non-zero */
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(symlink_through_symlink_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(climb_after_descent_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(ordinary_links_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(root_open_in_root, setup, teardown),
		cmocka_unit_test_setup_teardown(root_open_without_openat2, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
