/* SPDX-License-Identifier: MIT */
/* aufs-setup/shutdown.c: systemd's return-to-initramfs path: leave the
 * scratch disk clean (read-only) before the power goes. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "aufs-setup/internal.h"

#define PIDS_MAX 64

static void say(const struct aufs_shutdown_cfg *cfg, const char *fmt, const char *a, int err)
{
	char line[AUFS_PATH_MAX + 128];

	if (cfg->log_fd < 0)
		return;
	aufs_whyf(line, sizeof(line), fmt, a);
	dprintf(cfg->log_fd, "cvmboot: shutdown: %s%s%s\n", line, err ? ": " : "",
		err ? strerror(err) : "");
}

/* Mount points in mountinfo carry octal escapes for space, tab, \n and \\. */
static void unescape(char *s)
{
	char *o = s;

	for (; *s; s++, o++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] && s[3]) {
			*o = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*o = *s;
		}
	}
	*o = '\0';
}

static int skip_mount(const char *mp, const char *oldroot)
{
	size_t n = strlen(oldroot);
	const char *rest;

	if (strncmp(mp, oldroot, n) != 0 || mp[n] != '/')
		return 1;
	rest = mp + n + 1;
	/* The union's own branches go last, by remount and detach. */
	return strcmp(rest, "mnt/.ro") == 0 || strcmp(rest, "mnt/.rw") == 0;
}

static void consider(char *line, const char *oldroot, char *out, size_t outlen, int *found)
{
	char *mp = line, *end;
	int i;

	/* id parent major:minor root MOUNTPOINT options ... */
	for (i = 0; i < 4 && mp; i++)
		mp = (mp = strchr(mp, ' ')) ? mp + 1 : NULL;
	if (!mp || !(end = strchr(mp, ' ')))
		return;
	*end = '\0';
	unescape(mp);
	if (!skip_mount(mp, oldroot) && strlen(mp) < outlen) {
		strcpy(out, mp);
		*found = 1;
	}
}

/* Finds the last-listed (so the deepest) mount below oldroot that is not
 * one of the union's branches. Streams mountinfo: no size limit. */
static int last_mount(const char *oldroot, char *out, size_t outlen)
{
	char buf[8192], *line, *nl;
	size_t have = 0;
	ssize_t n;
	int fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC), found = 0;

	if (fd < 0)
		return -errno;
	do {
		n = read(fd, buf + have, sizeof(buf) - 1 - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		have += (size_t)n;
		buf[have] = '\0';
		for (line = buf; (nl = strchr(line, '\n')); line = nl + 1) {
			*nl = '\0';
			consider(line, oldroot, out, outlen, &found);
		}
		if (n == 0 && *line)
			consider(line, oldroot, out, outlen, &found);
		have = (size_t)(buf + have - line);
		/* A line longer than the buffer names no mount we could use. */
		if (have >= sizeof(buf) - 1)
			have = 0;
		memmove(buf, line, have);
	} while (n != 0);
	close(fd);
	return found;
}

static void unmount_tree(const struct aufs_shutdown_cfg *cfg, struct aufs_shutdown_stats *st)
{
	char mp[AUFS_PATH_MAX], prev[AUFS_PATH_MAX] = "";
	int tries;

	for (tries = 0; tries < 4096 && last_mount(cfg->oldroot, mp, sizeof(mp)) == 1; tries++) {
		if (umount2(mp, 0) == 0) {
			st->unmounted++;
			continue;
		}
		if (umount2(mp, MNT_DETACH) == 0) {
			say(cfg, "%s busy, detached", mp, 0);
			st->detached++;
			continue;
		}
		say(cfg, "unmount %s", mp, errno);
		/* The same mount again means we can do nothing more about it. */
		if (strcmp(prev, mp) == 0)
			break;
		strcpy(prev, mp);
	}
}

/* A zombie is as good as gone: it holds no files. */
static int pid_alive(pid_t pid)
{
	char p[64], stat[256];
	char *rp;

	if (kill(pid, 0) < 0 && errno == ESRCH)
		return 0;
	snprintf(p, sizeof(p), "/proc/%d/stat", (int)pid);
	if (aufs_read_file(p, stat, sizeof(stat)) < 0)
		return 1;
	rp = strrchr(stat, ')');
	return !(rp && rp[1] == ' ' && rp[2] == 'Z');
}

static int wait_gone(const pid_t *pids, size_t n, uint64_t deadline_ms)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	size_t i, alive;

	for (;;) {
		/* As PID 1 the daemons are our children once their parent is gone. */
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		for (i = alive = 0; i < n; i++)
			alive += (size_t)pid_alive(pids[i]);
		if (!alive)
			return 0;
		if (aufs_now_ms() >= deadline_ms)
			return -ETIMEDOUT;
		nanosleep(&ts, NULL);
	}
}

static int stop_by_pids(const struct aufs_shutdown_cfg *cfg, struct aufs_shutdown_stats *st)
{
	char path[AUFS_PATH_MAX], buf[1024], *p, *end;
	pid_t pids[PIDS_MAX];
	size_t n = 0, i;
	int rc;

	if ((rc = aufs_fmt(path, sizeof(path), "%s/.cvmfs_pids", cfg->oldroot)) < 0)
		return rc;
	if (aufs_read_file(path, buf, sizeof(buf)) < 0) {
		say(cfg, "no %s: no cvmfs-lite to stop", path, 0);
		return 0;
	}
	for (p = buf; *p && n < PIDS_MAX; p = end) {
		long v = strtol(p, &end, 10);

		if (end == p) {
			end = p + 1;
			continue;
		}
		/* Never signal ourselves or init, whatever the file says. */
		if (v > 1 && v != getpid())
			pids[n++] = (pid_t)v;
	}
	for (i = 0; i < n; i++)
		if (kill(pids[i], SIGTERM) == 0)
			st->signalled++;
	if (wait_gone(pids, n, cfg->deadline_ms) == 0)
		return 0;
	say(cfg, "cvmfs-lite did not stop by the deadline, %s", "killing it", 0);
	for (i = 0; i < n; i++)
		kill(pids[i], SIGKILL);
	return wait_gone(pids, n, aufs_now_ms() + 1000);
}

/* see aufs-setup.h */
int aufs_shutdown_cmd_parse(const char *verb, int *cmd)
{
	static const struct { const char *verb; int cmd; } v[] = {
		{ "poweroff", RB_POWER_OFF }, { "reboot", RB_AUTOBOOT },
		{ "halt", RB_HALT_SYSTEM }, { "kexec", RB_KEXEC },
	};
	size_t i;

	for (i = 0; verb && i < AUFS_LEN(v); i++)
		if (strcmp(verb, v[i].verb) == 0) {
			*cmd = v[i].cmd;
			return 0;
		}
	return -EINVAL;
}

/* see aufs-setup.h */
int aufs_shutdown_run(const struct aufs_shutdown_cfg *cfg, struct aufs_shutdown_stats *st)
{
	struct timespec ts = { 0, 50 * 1000 * 1000 };
	char rw[AUFS_PATH_MAX];
	int rc;

	memset(st, 0, sizeof(*st));
	if ((rc = aufs_fmt(rw, sizeof(rw), "%s/mnt/.rw", cfg->oldroot)) < 0)
		return rc;
	unmount_tree(cfg, st);
	st->overlay_ro = mount(NULL, cfg->oldroot, NULL, MS_REMOUNT | MS_RDONLY, NULL) == 0;
	say(cfg, st->overlay_ro ? "%s read-only" : "remount %s read-only", cfg->oldroot,
	    st->overlay_ro ? 0 : errno);
	/* Only now: the overlay still reads its lower through cvmfs-lite. */
	rc = cfg->stop ? cfg->stop(cfg->stop_arg, cfg->deadline_ms) : stop_by_pids(cfg, st);
	if (rc < 0)
		say(cfg, "stop %s", "cvmfs-lite", -rc);
	/* A writer that is still closing its files makes this EBUSY for a moment. */
	while (!(st->scratch_ro = mount(NULL, rw, NULL, MS_REMOUNT | MS_RDONLY, NULL) == 0) &&
	       errno == EBUSY && aufs_now_ms() < cfg->deadline_ms)
		nanosleep(&ts, NULL);
	say(cfg, st->scratch_ro ? "%s read-only" : "remount %s read-only", rw,
	    st->scratch_ro ? 0 : errno);
	sync();
	/* Detach what is left; the kernel finishes once the last user is gone. */
	umount2(cfg->oldroot, MNT_DETACH);
	return st->scratch_ro ? 0 : -EBUSY;
}
