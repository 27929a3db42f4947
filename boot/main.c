/* SPDX-License-Identifier: MIT */
/* boot/main.c: PID 1 of the initramfs; reads as the table of boot stages. */
#include <errno.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/utsname.h>

#include "boot/boot.h"
#include "boot/kmod.h"

#define DRIVERS_BUDGET_MS 10000

static int mount_one(const char *src, const char *dir, const char *type, unsigned long fl)
{
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	if (mount(src, dir, type, fl, NULL) < 0 && errno != EBUSY)
		return -errno;
	return 0;
}

static int stage_early(struct boot_ctx *ctx)
{
	int rc;

	if ((rc = mount_one("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)) < 0 ||
	    (rc = mount_one("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC)) < 0 ||
	    (rc = mount_one("devtmpfs", "/dev", "devtmpfs", MS_NOSUID)) < 0)
		return rc;
	/* devtmpfs now hides the initramfs's /dev/console; reopen through it. */
	boot_log_open(ctx);
	return 0;
}

static int stage_banner(struct boot_ctx *ctx)
{
	char id[64];

	if (boot_build_id(id, sizeof(id)) < 0)
		id[0] = '\0';
	boot_log(ctx, "banner", "cvmboot %s build-id %s", CVMBOOT_VERSION, id[0] ? id : "none");
	return 0;
}

static int stage_drivers(struct boot_ctx *ctx)
{
	struct boot_kmod k;
	struct boot_kmod_stats st;
	struct utsname u;
	char dir[160];
	int rc;

	uname(&u);
	snprintf(dir, sizeof(dir), BOOT_KMOD_DIR, u.release);
	if ((rc = boot_kmod_open(&k, dir)) < 0) {
		boot_log(ctx, "drivers", "no module index in %s; relying on built-in drivers", dir);
		return 0;
	}
	rc = boot_kmod_coldplug(&k, boot_now_ms() + DRIVERS_BUDGET_MS, &st);
	boot_log(ctx, "drivers", "%u devices, %u modules loaded, %u failed, %u passes",
		 st.devices, st.loaded, st.failed, st.passes);
	boot_kmod_close(&k);
	return rc;
}

static const struct boot_stage {
	const char *name;
	int (*run)(struct boot_ctx *);
	const char *action, *hint;
} stages[] = {
	{ "early", stage_early, "mount /proc, /sys, /dev",
	  "the kernel needs CONFIG_PROC_FS, CONFIG_SYSFS and CONFIG_DEVTMPFS" },
	{ "banner", stage_banner, "print banner", NULL },
	{ "drivers", stage_drivers, "load kernel modules",
	  "the kernel's modules must match the initramfs (make KVER=...)" },
};

int main(void)
{
	struct boot_ctx ctx = { .console_fd = -1 };
	size_t i;
	int rc;

	ctx.t0_ms = boot_now_ms();
	for (i = 0; i < BOOT_LEN(stages); i++) {
		struct boot_timing *t = &ctx.timing[ctx.ntiming++];

		t->name = stages[i].name;
		t->start_ms = boot_now_ms();
		if ((rc = stages[i].run(&ctx)) < 0)
			boot_fatal(&ctx, stages[i].name, stages[i].action, rc, stages[i].hint);
		t->end_ms = boot_now_ms();
	}
	boot_log_timing(&ctx);
	boot_poweroff(&ctx);
}
