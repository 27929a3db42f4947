/* SPDX-License-Identifier: MIT */
/* boot/stage-shutdown.c: PID 1's last act, run as /run/initramfs/shutdown
 * VERB by systemd's return to the initramfs: leave the scratch disk clean
 * (aufs-setup), then power off, reboot or halt as the verb asks. */
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
void boot_shutdown(int argc, char **argv)
{
	struct aufs_shutdown_cfg cfg = { .oldroot = "/oldroot", .log_fd = -1 };
	struct aufs_shutdown_stats st;
	char line[300];
	int cmd = RB_POWER_OFF;

	/* The console belongs to the OS until now; the kernel log outlives it. */
	cfg.log_fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
	if (cfg.log_fd < 0)
		cfg.log_fd = open("/dev/console", O_WRONLY | O_NOCTTY | O_CLOEXEC);
	if (argc < 2 || aufs_shutdown_cmd_parse(argv[1], &cmd) < 0) {
		snprintf(line, sizeof(line), "unknown verb '%s', powering off",
			 argc < 2 ? "" : argv[1]);
		say(cfg.log_fd, line, 0);
	}
	cfg.deadline_ms = boot_now_ms() + SHUTDOWN_MS;
	aufs_shutdown_run(&cfg, &st);
	sync();
	reboot(cmd);
	if (cmd == RB_KEXEC) {
		say(cfg.log_fd, "kexec: no image loaded, rebooting instead", errno);
		reboot(RB_AUTOBOOT);
	}
	say(cfg.log_fd, "reboot(2) refused; halted", errno);
	for (;;)
		pause();
}
