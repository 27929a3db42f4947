/* SPDX-License-Identifier: MIT */
/* boot/stage-handover.c: the union and hand-over stages: overlay root,
 * one-shot injections, /.cvmfs_pids, the OS's bootstrap hook, saved logs,
 * switch_root and exec of the OS's init. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "aufs-setup/aufs-setup.h"
#include "boot/boot.h"
#include "boot/context.h"

#define BOOTSTRAP_MS 120000	/* the OS hook gets two minutes, then is killed */
#define INJECT_WORK (16u << 20)

/* see boot.h */
int boot_stage_union(struct boot_ctx *ctx)
{
	struct aufs_stack_info info;
	struct aufs_stack_cfg sc = { BOOT_ROOT_RO, ctx->repo.path, BOOT_ROOT_RW, BOOT_ROOT };
	int rc;

	boot_kmod_load(&ctx->kmod, "overlay");
	memset(&info, 0, sizeof(info));
	rc = aufs_stack_run(&sc, &info);
	if (rc < 0) {
		boot_log(ctx, "union", "overlay: %s", info.why);
		return rc;
	}
	boot_log(ctx, "union", "overlay on %s (%s)", BOOT_ROOT, info.opts);
	return 0;
}

static void inject(struct boot_ctx *ctx)
{
	void *work;
	int rootfd, rc;

	if (!ctx->cfg.inject)
		return;
	work = mmap(NULL, INJECT_WORK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	rootfd = open(BOOT_ROOT, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (work == MAP_FAILED || rootfd < 0) {
		boot_log(ctx, "hand-over", "cernvm_inject: no memory or no root; skipped");
	} else {
		rc = boot_inject_run(&ctx->cfg, rootfd, ctx->ctxdirfd, work, INJECT_WORK,
				     boot_log_cb, ctx);
		boot_log(ctx, "hand-over", "cernvm_inject: %s%d", rc < 0 ? "failed: " : "members ",
			 rc < 0 ? -rc : rc);
	}
	if (rootfd >= 0)
		close(rootfd);
	if (work != MAP_FAILED)
		munmap(work, INJECT_WORK);
}

/* /.cvmfs_pids, resolved inside the new root and never through a link (an
 * injected or OS-made symlink, fifo or device there is replaced). */
static void write_pids(struct boot_ctx *ctx)
{
	static const char name[] = ".cvmfs_pids";
	char line[24];
	int rootfd = open(BOOT_ROOT, O_RDONLY | O_DIRECTORY | O_CLOEXEC), fd, n, rc;

	n = snprintf(line, sizeof(line), "%d\n", (int)ctx->cvmfs_pid);
	fd = rootfd < 0 ? -errno : boot_root_open(rootfd, name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd == -ELOOP || fd == -ENXIO || fd == -EPERM) {
		boot_log(ctx, "hand-over", "/%s was not a regular file (%s); replaced", name,
			 strerror(-fd));
		unlinkat(rootfd, name, 0);
		fd = boot_root_open(rootfd, name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	}
	rc = fd < 0 ? fd : write(fd, line, (size_t)n) == n ? 0 : -EIO;
	if (fd >= 0 && close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc < 0)
		boot_log(ctx, "hand-over", "cannot write /%s: %s", name, strerror(-rc));
	if (rootfd >= 0)
		close(rootfd);
}

/* Runs the OS's /.ucernvm_bootstrap with the OS's own /bin/sh, chrooted
 * into the new root, with a bound (uCernVM sourced it into its own shell). */
static void bootstrap(struct boot_ctx *ctx)
{
	struct timespec tick = { 0, 50 * 1000000 };
	uint64_t end;
	int st;
	pid_t pid;

	if (access(BOOT_ROOT "/.ucernvm_bootstrap", F_OK) != 0)
		return;
	if (access(BOOT_ROOT "/bin/sh", X_OK) != 0) {
		boot_log(ctx, "hand-over", "/.ucernvm_bootstrap skipped: the OS has no /bin/sh");
		return;
	}
	pid = fork();
	if (pid == 0) {
		if (chroot(BOOT_ROOT) == 0 && chdir("/") == 0)
			execl("/bin/sh", "sh", "/.ucernvm_bootstrap", "/", (char *)NULL);
		_exit(127);
	}
	if (pid < 0)
		return;
	end = boot_now_ms() + BOOTSTRAP_MS;
	while (waitpid(pid, &st, WNOHANG) == 0) {
		if (boot_now_ms() >= end) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			boot_log(ctx, "hand-over", "/.ucernvm_bootstrap killed after %u s",
				 BOOTSTRAP_MS / 1000);
			return;
		}
		nanosleep(&tick, NULL);
	}
	boot_log(ctx, "hand-over", "/.ucernvm_bootstrap exited with %d",
		 WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
}

static void save_logs(struct boot_ctx *ctx)
{
	char name[64];
	int fd;

	if (ctx->ulogsfd < 0)
		return;
	snprintf(name, sizeof(name), "boot-%lld.log", (long long)time(NULL));
	fd = openat(ctx->ulogsfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd >= 0) {
		if (write(fd, ctx->logbuf, ctx->loglen) < 0)
			boot_log(ctx, "hand-over", "saving %s: %s", name, strerror(errno));
		fsync(fd);
		close(fd);
	}
}

/* see boot.h */
int boot_stage_handover(struct boot_ctx *ctx)
{
	static const char *const moves[] = { "/dev", "/proc", "/sys", NULL };
	struct aufs_switch_cfg sw = { BOOT_ROOT, moves, NULL, 0 };
	struct aufs_switch_stats st;
	char init[BOOT_CFG_PATH_MAX];
	int rc;

	/* /run is the tmpfs the union stage mounted: fill it before the
	 * injection can plant a symlink in it (aufs_initramfs_prepare follows
	 * paths). */
	if (aufs_initramfs_prepare(BOOT_ROOT "/run", NULL) < 0)
		boot_log(ctx, "hand-over", "no /run/initramfs: shutdown will not unwind the stack");
	inject(ctx);
	write_pids(ctx);
	bootstrap(ctx);
	if ((rc = aufs_init_path(ctx->cmdline, init, sizeof(init))) < 0)
		return rc;
	boot_log_timing(ctx);
	boot_log(ctx, "hand-over", "exec %s", init);
	save_logs(ctx);
	/* The console fds stay (they are close-on-exec): if the exec fails,
	 * the fatal path can still say why. */
	sw.keep_fds = ctx->console_fds;
	sw.nkeep = (size_t)ctx->nconsoles;
	rc = aufs_switch_root_prepare(&sw, &st);
	if (rc < 0)
		return rc;
	execl(init, init, (char *)NULL);
	return -errno;
}
