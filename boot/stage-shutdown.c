/* SPDX-License-Identifier: MIT */
/* boot/stage-shutdown.c: PID 1's last act, run as /run/initramfs/shutdown
 * VERB by systemd's return to the initramfs: leave the scratch disk clean
 * (aufs-setup), then power off, reboot, halt or kexec as the verb asks
 * (kexec: the kernel `systemctl kexec` loaded; none loaded: reboot). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/reboot.h>
#include <unistd.h>

#include "aufs-setup/aufs-setup.h"
#include "boot/boot.h"

/* For the OS's leftover mounts and the cvmfs-lite daemon to let go. */
#define SHUTDOWN_MS 10000

static void say(int fd, const char *what, int err)
{
	if (fd >= 0)
		dprintf(fd, "cvmboot: shutdown: %s%s%s\n", what, err ? ": " : "",
			err ? strerror(err) : "");
}

/* see boot.h */
int boot_shutdown_cmd(const char *verb, const char *kexec_loaded, char *why, size_t cap)
{
	int cmd = RB_POWER_OFF;

	why[0] = '\0';
	if (aufs_shutdown_cmd_parse(verb, &cmd) < 0) {
		snprintf(why, cap, "unknown verb '%s', powering off", verb ? verb : "");
		return RB_POWER_OFF;
	}
	/* /sys/kernel/kexec_loaded says "0" when no kernel waits; unreadable:
	 * reboot(2) decides (EINVAL without one). */
	if (cmd == RB_KEXEC && kexec_loaded && kexec_loaded[0] == '0') {
		snprintf(why, cap, "kexec: no kernel loaded (systemctl kexec or kexec -l loads "
			 "one); rebooting instead");
		return RB_AUTOBOOT;
	}
	return cmd;
}

/* /sys/kernel/kexec_loaded into buf; NULL if unreadable. systemd binds /sys
 * into the initramfs; the OS's own is still below /oldroot. */
static const char *kexec_loaded(char *buf, size_t cap)
{
	static const char *const paths[] = { "/sys/kernel/kexec_loaded",
					     "/oldroot/sys/kernel/kexec_loaded" };
	size_t i;

	for (i = 0; i < BOOT_LEN(paths); i++) {
		int fd = open(paths[i], O_RDONLY | O_CLOEXEC);
		ssize_t n;

		if (fd < 0)
			continue;
		n = read(fd, buf, cap - 1);
		close(fd);
		if (n > 0) {
			buf[n] = '\0';
			return buf;
		}
	}
	return NULL;
}

/* see boot.h */
void boot_shutdown(int argc, char **argv)
{
	struct aufs_shutdown_cfg cfg = { .oldroot = "/oldroot", .log_fd = -1 };
	struct aufs_shutdown_stats st;
	char line[300], loaded[16];
	int cmd;

	/* The console belongs to the OS until now; the kernel log outlives it. */
	cfg.log_fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
	if (cfg.log_fd < 0)
		cfg.log_fd = open("/dev/console", O_WRONLY | O_NOCTTY | O_CLOEXEC);
	/* Asked before the unmounts take /oldroot/sys away. */
	cmd = boot_shutdown_cmd(argc < 2 ? NULL : argv[1], kexec_loaded(loaded, sizeof(loaded)),
				line, sizeof(line));
	if (line[0])
		say(cfg.log_fd, line, 0);
	cfg.deadline_ms = boot_now_ms() + SHUTDOWN_MS;
	aufs_shutdown_run(&cfg, &st);
	sync();
	if (cmd == RB_KEXEC)
		say(cfg.log_fd, "kexec: scratch disk left clean, starting the loaded kernel", 0);
	reboot(cmd);
	if (cmd == RB_KEXEC) {
		say(cfg.log_fd, "kexec: no kernel loaded, rebooting instead", errno);
		reboot(RB_AUTOBOOT);
	}
	say(cfg.log_fd, "reboot(2) refused; halted", errno);
	for (;;)
		pause();
}
