/* SPDX-License-Identifier: MIT */
/* boot/fatal.c: the only ways PID 1 stops: power-off and the fatal path. */
#include <errno.h>
#include <string.h>
#include <sys/reboot.h>
#include <unistd.h>

#include "boot/boot.h"

/* see boot.h */
void boot_poweroff(struct boot_ctx *ctx)
{
	sync();
	boot_log(ctx, "poweroff", "powering off");
	reboot(RB_POWER_OFF);
	/* Only reached if the kernel refused (no ACPI, or not PID 1). */
	boot_log(ctx, "poweroff", "reboot(RB_POWER_OFF) failed: %s; halted, power off the VM",
		 strerror(errno));
	for (;;)
		pause();
}

#define FATAL_RETRY_S 30	/* pause before a retry, so a loop is readable */
#define FATAL_NAG_S 300		/* "wait" mode repeats why it is waiting */

/* see boot.h */
void boot_fatal(struct boot_ctx *ctx, const char *stage, const char *action, int err,
		const char *hint)
{
	boot_log(ctx, stage, "%s: %s", action, strerror(err < 0 ? -err : err));
	if (hint)
		boot_log(ctx, stage, "hint: %s", hint);
	sync();
	switch (ctx->cfg.on_error) {
	case BOOT_CFG_ON_ERROR_RETRY:
		boot_log(ctx, stage, "rebooting in %u s to retry (cvmboot.on_error=retry)",
			 FATAL_RETRY_S);
		sleep(FATAL_RETRY_S);
		reboot(RB_AUTOBOOT);
		break;
	case BOOT_CFG_ON_ERROR_WAIT:
		for (;;) {
			boot_log(ctx, stage, "stopped after: %s: %s (cvmboot.on_error=wait); "
				 "power off the VM", action, strerror(err < 0 ? -err : err));
			sleep(FATAL_NAG_S);
		}
	default:
		break;
	}
	boot_poweroff(ctx);
}
