/* SPDX-License-Identifier: MIT */
/* boot/stage-cvmfs.c: the cvmfs and rebase stages: pick the snapshot (pin,
 * force tag, requested tag), fork the cvmfs-lite daemon that mounts the OS
 * repository on /root.ro, record the pin, and re-base the writable layer
 * when the snapshot changed. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "aufs-setup/aufs-setup.h"
#include "boot/boot.h"
#include "cvmfs-lite/cvmfs-lite.h"

#define CVMFS_MOUNT_MS 60000	/* verify + root catalog, incl. failover */
#define CVMFS_STOP_MS 5000
#define CVMFS_CACHE_MAX (2000ull << 20)	/* as uCernVM: 2000 MB ... */
#define MAP_MAX (16 * 1024)	/* uid/gid maps: a line per remapped id */

static void join_urls(const struct boot_cfg_repo *r, char *buf, size_t cap)
{
	size_t i, n = 0;

	buf[0] = '\0';
	for (i = 0; i < r->nurls && n < cap; i++)
		n += (size_t)snprintf(buf + n, cap - n, "%s%s", i ? ";" : "", r->urls[i]);
}

/* Whether a list of URLs names any https:// one. */
static int has_https(const char *list)
{
	for (const char *p = list; *p; p++)
		if (strncasecmp(p, "https://", 8) == 0)
			return 1;
	return 0;
}

/* Reads aux/NAME into buf (NUL-terminated); returns buf, or NULL if absent. */
static const char *read_aux(int auxfd, const char *name, char *buf, size_t cap)
{
	int fd = openat(auxfd, name, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return NULL;
	n = read(fd, buf, cap - 1);
	close(fd);
	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	return buf;
}

/* Waits for the daemon's one line on rfd, at most until deadline_ms. */
static int read_ready(int rfd, char *line, size_t cap, uint64_t deadline_ms)
{
	size_t n = 0;

	while (n + 1 < cap) {
		struct pollfd p = { rfd, POLLIN, 0 };
		uint64_t now = boot_now_ms();
		ssize_t r;

		if (now >= deadline_ms)
			return -ETIMEDOUT;
		if (poll(&p, 1, (int)(deadline_ms - now)) <= 0)
			continue;
		r = read(rfd, line + n, cap - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
		if (memchr(line, '\n', n))
			break;
	}
	line[n] = '\0';
	return n ? 0 : -EPIPE;
}

static int start_daemon(struct boot_ctx *ctx, const struct cvmfs_client_cfg *cfg)
{
	char line[512];
	int p[2], rc;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		rc = -errno;
		close(p[0]);
		close(p[1]);
		return rc;
	}
	if (pid == 0) {
		close(p[0]);
		/* systemd spares processes whose argv[0] starts with '@' at shutdown. */
		if (ctx->argv0)
			ctx->argv0[0] = '@';
		signal(SIGTERM, SIG_DFL);
		_exit(cvmfs_client_run(cfg, BOOT_ROOT_RO, p[1]) < 0 ? 1 : 0);
	}
	close(p[1]);
	rc = read_ready(p[0], line, sizeof(line), boot_now_ms() + CVMFS_MOUNT_MS);
	close(p[0]);
	if (rc == 0 && strncmp(line, "OK ", 3) == 0) {
		char hash[96] = "", tag[160] = "";
		unsigned long long rev = 0;

		sscanf(line + 3, "%95s %llu %159s", hash, &rev, tag);
		snprintf(ctx->mounted.hash, sizeof(ctx->mounted.hash), "%s", hash);
		/* A longer tag is cut to the field's size, visibly (the log prints it). */
		snprintf(ctx->mounted.tag, sizeof(ctx->mounted.tag), "%.*s",
			 (int)sizeof(ctx->mounted.tag) - 1,
			 strcmp(tag, "-") != 0 ? tag : ctx->plan.tag);
		ctx->revision = rev;
		ctx->cvmfs_pid = pid;
		return 0;
	}
	line[strcspn(line, "\n")] = '\0';
	boot_log(ctx, "cvmfs", "mount failed: %s", rc == 0 ? line :
		 rc == -ETIMEDOUT ? "no answer from cvmfs-lite in time" : "cvmfs-lite exited");
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return rc == 0 ? -EIO : rc;
}

static int stop_daemon(struct boot_ctx *ctx)
{
	uint64_t end = boot_now_ms() + CVMFS_STOP_MS;
	struct timespec tick = { 0, 20 * 1000000 };

	umount2(BOOT_ROOT_RO, MNT_DETACH);
	while (waitpid(ctx->cvmfs_pid, NULL, WNOHANG) == 0) {
		if (boot_now_ms() >= end) {
			kill(ctx->cvmfs_pid, SIGKILL);
			waitpid(ctx->cvmfs_pid, NULL, 0);
			break;
		}
		nanosleep(&tick, NULL);
	}
	ctx->cvmfs_pid = 0;
	return 0;
}

static int mount_repo(struct boot_ctx *ctx, const struct boot_mount_plan *plan)
{
	struct cvmfs_client_cfg cfg;
	static const char pins[] = "/.ucernvm_pinfiles";
	char servers[BOOT_CFG_URLS_MAX * BOOT_CFG_URL_MAX], prefix[BOOT_CFG_PATH_MAX + 2];
	char *key = NULL, uid[MAP_MAX], gid[MAP_MAX];
	int rc;

	rc = cvmfs_read_text(ctx->repo.key_path, 64 * 1024, &key);
	if (rc < 0) {
		boot_log(ctx, "cvmfs", "cannot read the repository key %s: %s", ctx->repo.key_path,
			 strerror(-rc));
		return rc;
	}
	memset(&cfg, 0, sizeof(cfg));
	join_urls(&ctx->repo, servers, sizeof(servers));
	cfg.fqrn = ctx->repo.name;
	cfg.servers = servers;
	cfg.proxies = ctx->repo.proxy[0] ? ctx->repo.proxy : "DIRECT";
	cfg.pubkeys[0] = key;
	cfg.npubkeys = 1;
	if (plan->hash[0])
		cfg.root_hash = plan->hash;
	else if (plan->tag[0])
		cfg.tag = plan->tag;
	cfg.cache_dirfd = open(BOOT_ROOT_RW "/cache", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cfg.cache_dirfd < 0) {
		rc = -errno;
		free(key);
		return rc;
	}
	cfg.cache_limit = ctx->scratch.len / 2 < CVMFS_CACHE_MAX ? ctx->scratch.len / 2
								 : CVMFS_CACHE_MAX;
	cfg.uid_map = read_aux(ctx->auxfd, "uid_map", uid, sizeof(uid));
	cfg.gid_map = read_aux(ctx->auxfd, "gid_map", gid, sizeof(gid));
	cfg.pin_file = pins;
	cfg.prefetch_file = "/.cvmboot_profile";	/* boot profile (make demo records it) */
	cfg.bundle_file = "/.cvmboot_bundles";	/* its objects in a few GETs (cvmboot bundle) */
	if (ctx->repo.path[0]) {
		snprintf(prefix, sizeof(prefix), "/%s", ctx->repo.path);
		cfg.path_prefix = prefix;
	}
	cfg.flags = CVMFS_CLIENT_SUID | CVMFS_CLIENT_ALLOW_OTHER;
	if (has_https(servers) + has_https(cfg.proxies) && boot_tls_ready(ctx) == 0) {
		cfg.https_wrap = tls_https_wrap;
		cfg.https_ctx = &ctx->https;
	}
	/* as boot_log: every console of /proc/consoles, else /dev/console */
	cfg.log_fd = ctx->nconsoles ? ctx->console_fds[0] : ctx->console_fd;
	if (ctx->nconsoles > 1) {
		cfg.log_fds = ctx->console_fds + 1;
		cfg.nlog_fds = (unsigned)ctx->nconsoles - 1;
	}
	mkdir(BOOT_ROOT_RO, 0755);
	rc = start_daemon(ctx, &cfg);
	close(cfg.cache_dirfd);
	free(key);
	return rc;
}

/* see boot.h */
void boot_cvmfs_stop(struct boot_ctx *ctx)
{
	if (ctx->cvmfs_pid > 0)
		stop_daemon(ctx);
}

/* see boot.h */
int boot_cvmfs_remount(struct boot_ctx *ctx)
{
	struct boot_mount_plan pin = { .record = 0 };

	snprintf(pin.hash, sizeof(pin.hash), "%s", ctx->mounted.hash);
	return mount_repo(ctx, &pin);
}

/* aux/BASE_FILE names the snapshot the writable layer was last used with.
 * It survives an unpin, so the boot after one knows it must re-base. */
#define BASE_FILE "cvmfs_base"

static int base_changed(struct boot_ctx *ctx)
{
	char base[sizeof(ctx->mounted.hash) + 1];
	long n = boot_file_read(ctx->auxfd, BASE_FILE, base, sizeof(base) - 1);

	if (n < 0)	/* first boot, or a disk from before this record */
		return 0;
	base[n] = '\0';
	base[strcspn(base, "\n")] = '\0';
	return strcmp(base, ctx->mounted.hash) != 0;
}

static int base_write(struct boot_ctx *ctx)
{
	char line[sizeof(ctx->mounted.hash) + 1];
	int n = snprintf(line, sizeof(line), "%s\n", ctx->mounted.hash);

	return boot_file_write(ctx->auxfd, BASE_FILE, line, (size_t)n);
}

/* see boot.h */
int boot_stage_cvmfs(struct boot_ctx *ctx)
{
	struct boot_snapshot pinned;
	char force[BOOT_CFG_NAME_MAX];
	int rc, have_pin, have_force;

	boot_kmod_load(&ctx->kmod, "fuse");
	rc = boot_cfg_repo_resolve(&ctx->cfg, &ctx->defaults, &ctx->repo, boot_log_cb, ctx);
	if (rc < 0)
		return rc;
	if (ctx->cfg.use_geoapi && ctx->lease.source != NET_SRC_NONE) {
		struct boot_geo_net g = { .http = &ctx->http };

		boot_geo_proxy(ctx->repo.proxy, g.proxy, sizeof(g.proxy));
		boot_geo_order(&ctx->repo, boot_geo_http_fetch, &g, boot_now_ms() + BOOT_GEO_MS,
			       boot_log_cb, ctx);
	}
	have_pin = boot_snapshot_read(ctx->auxfd, &pinned) == 0;
	have_force = boot_force_tag_read(ctx->auxfd, force, sizeof(force)) == 0;
	boot_snapshot_plan(have_pin ? &pinned : NULL, have_force ? force : NULL, ctx->cfg.ud.tag,
			   ctx->cfg.cmd.tag, ctx->defaults.tag, &ctx->plan);
	boot_log(ctx, "cvmfs", "%s: %s", ctx->repo.name, ctx->plan.why);
	rc = mount_repo(ctx, &ctx->plan);
	if (rc < 0)
		return rc;
	boot_log(ctx, "cvmfs", "mounted %s revision %llu%s%s (pid %d)", ctx->mounted.hash,
		 (unsigned long long)ctx->revision, ctx->mounted.tag[0] ? " tag " : "",
		 ctx->mounted.tag, (int)ctx->cvmfs_pid);
	if (ctx->plan.record) {
		rc = boot_snapshot_write(ctx->auxfd, &ctx->mounted);
		if (rc < 0)
			return rc;
		if (ctx->plan.consume_force)
			boot_force_tag_consume(ctx->auxfd);
	}
	ctx->snapshot_changed = base_changed(ctx);
	return 0;
}

static void stamp_now(char *buf, size_t cap)
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, cap, "%Y%m%dT%H%M%SZ", &tm);
}

/* see boot.h */
int boot_stage_rebase(struct boot_ctx *ctx)
{
	char lower[BOOT_CFG_PATH_MAX + 16], etc[BOOT_CFG_PATH_MAX + 24], stamp[32];
	char uid0[MAP_MAX], gid0[MAP_MAX], uid1[MAP_MAX], gid1[MAP_MAX];
	const char *u0, *g0, *u1, *g1;
	struct aufs_rebase_stats rs;
	struct aufs_acct_stats as;
	size_t wlen = 1 << 20, alen = aufs_acct_work_size();
	void *work;
	int rc;

	if (!ctx->snapshot_changed)
		return base_write(ctx);
	if (aufs_upper_has_changes(BOOT_ROOT_RW "/persistent") <= 0) {
		boot_log(ctx, "rebase", "new snapshot, no local changes: nothing to re-base");
		return base_write(ctx);
	}
	stamp_now(stamp, sizeof(stamp));
	snprintf(lower, sizeof(lower), BOOT_ROOT_RO "%s%s", ctx->repo.path[0] ? "/" : "",
		 ctx->repo.path);
	snprintf(etc, sizeof(etc), "%s/etc", lower);
	work = mmap(NULL, wlen + alen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (work == MAP_FAILED)
		return -errno;
	memset(&rs, 0, sizeof(rs));
	rc = aufs_rebase_run(&(struct aufs_rebase_cfg){ lower, BOOT_ROOT_RW "/persistent",
							BOOT_ROOT_RW "/aux", stamp },
			     work, wlen, &rs);
	boot_log(ctx, "rebase", "new snapshot: kept %lu, removed %lu, whiteouts %lu, opaque %lu%s%s",
		 rs.kept, rs.removed, rs.whiteouts, rs.opaques, rc < 0 ? "; failed: " : "",
		 rc < 0 ? rs.why : "");
	u0 = read_aux(ctx->auxfd, "uid_map", uid0, sizeof(uid0));
	g0 = read_aux(ctx->auxfd, "gid_map", gid0, sizeof(gid0));
	if (rc == 0) {
		memset(&as, 0, sizeof(as));
		rc = aufs_acct_merge_run(&(struct aufs_acct_cfg){ etc, BOOT_ROOT_RW "/persistent/etc",
								  BOOT_ROOT_RW "/aux", stamp },
					 (struct aufs_acct_work *)((char *)work + wlen), &as);
		boot_log(ctx, "rebase", "accounts: %u users, %u groups added, %u uids, %u gids mapped%s%s",
			 as.users_added, as.groups_added, as.uids_mapped, as.gids_mapped,
			 rc < 0 ? "; failed: " : "", rc < 0 ? as.why : "");
		/* The maps apply from the daemon's start: remount when they changed. */
		u1 = read_aux(ctx->auxfd, "uid_map", uid1, sizeof(uid1));
		g1 = read_aux(ctx->auxfd, "gid_map", gid1, sizeof(gid1));
		if (rc == 0 && (!u0 != !u1 || !g0 != !g1 || (u0 && strcmp(u0, u1)) ||
				(g0 && strcmp(g0, g1)))) {
			struct boot_mount_plan pin = { .record = 0 };

			snprintf(pin.hash, sizeof(pin.hash), "%s", ctx->mounted.hash);
			stop_daemon(ctx);
			rc = mount_repo(ctx, &pin);
		}
	}
	munmap(work, wlen + alen);
	return rc < 0 ? rc : base_write(ctx);
}
