/* SPDX-License-Identifier: MIT */
/* boot/main.c: PID 1 of the initramfs; reads as the table of boot stages.
 * Run as /run/initramfs/shutdown by systemd, it unwinds the stack instead. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
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
	char id[64];
	int rc;

	if ((rc = mount_one("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)) < 0 ||
	    (rc = mount_one("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC)) < 0 ||
	    (rc = mount_one("devtmpfs", "/dev", "devtmpfs", MS_NOSUID)) < 0)
		return rc;
	mount_one("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC);
	/* devtmpfs now hides the initramfs's /dev/console; reopen through it. */
	boot_log_open(ctx);
	if (boot_build_id(id, sizeof(id)) < 0)
		id[0] = '\0';
	boot_log(ctx, "banner", "cvmboot %s build-id %s", CVMBOOT_VERSION, id[0] ? id : "none");
	return 0;
}

static int stage_drivers(struct boot_ctx *ctx)
{
	struct boot_kmod_stats st;
	struct utsname u;
	char dir[160];
	int rc;

	uname(&u);
	snprintf(dir, sizeof(dir), BOOT_KMOD_DIR, u.release);
	if ((rc = boot_kmod_open(&ctx->kmod, dir)) < 0) {
		boot_log(ctx, "drivers", "no module index in %s; relying on built-in drivers", dir);
		return 0;
	}
	rc = boot_kmod_coldplug(&ctx->kmod, boot_now_ms() + DRIVERS_BUDGET_MS, &st);
	boot_log(ctx, "drivers", "%u devices, %u modules loaded, %u failed, %u passes",
		 st.devices, st.loaded, st.failed, st.passes);
	return rc;
}

static const struct boot_stage {
	const char *name;
	int (*run)(struct boot_ctx *);
	const char *action, *hint;
} stages[] = {
	{ "early", stage_early, "mount /proc, /sys, /dev",
	  "the kernel needs CONFIG_PROC_FS, CONFIG_SYSFS and CONFIG_DEVTMPFS" },
	{ "drivers", stage_drivers, "load kernel modules",
	  "the kernel's modules must match the initramfs (make KVER=...)" },
	{ "config", boot_stage_config, "read the kernel command line", NULL },
	{ "disk-find", boot_stage_disk_find, "look for the scratch disk",
	  "attach a blank disk (virtio, SATA, NVMe) for the scratch file system" },
	{ "net", boot_stage_net, "configure the network",
	  "check that the VM has a NIC with DHCP, or give ip=ADDR::GW:MASK::IFACE:off;"
	  " cvmboot.net_timeout=SECONDS waits longer" },
	{ "context", boot_stage_context, "read user-data", NULL },
	{ "disk", boot_stage_disk, "prepare the scratch disk",
	  "attach a blank disk of at least 64 MiB; disks holding data are never touched" },
	{ "context-disk", boot_stage_context_disk, "keep the user-data on the scratch disk",
	  "see the lines above; the scratch file system may be full or damaged" },
	{ "kexec", boot_stage_kexec, "apply the boot-loader update", NULL },
	{ "cvmfs", boot_stage_cvmfs, "mount the OS repository",
	  "check cvmfs_url/cvmfs_server, cvmfs_proxy and the repository key; the server "
	  "must be reachable from the VM" },
	{ "update", boot_stage_update, "apply the repository's boot-loader update", NULL },
	{ "rebase", boot_stage_rebase, "re-base local changes on the new snapshot",
	  "see aux/rebase-*.log on the scratch disk" },
	{ "union", boot_stage_union, "mount the overlay root",
	  "the kernel needs overlayfs (module overlay)" },
	{ "extra", boot_stage_extra, "unpack the extra context", NULL },
	{ "hand-over", boot_stage_handover, "start the OS's init",
	  "init=PATH names another init of the OS" },
};

int main(int argc, char **argv)
{
	struct boot_ctx ctx = { 0 };
	const char *base = strrchr(argv[0], '/');
	size_t i;
	int rc;

	/* systemd's return-to-initramfs runs /run/initramfs/shutdown VERB. */
	if (strcmp(base ? base + 1 : argv[0], "shutdown") == 0)
		boot_shutdown(argc, argv);
	ctx.console_fd = ctx.auxfd = ctx.ctxdirfd = ctx.ulogsfd = -1;
	ctx.argv0 = argv[0];
	net_http_client_init(&ctx.http, "cvmboot/" CVMBOOT_VERSION);
	for (i = 0; i < BOOT_LEN(stages); i++) {
		struct boot_timing *t = &ctx.timing[ctx.ntiming++];

		ctx.stage = t->name = stages[i].name;
		t->start_ms = boot_now_ms();
		if ((rc = stages[i].run(&ctx)) < 0)
			boot_fatal(&ctx, stages[i].name, stages[i].action, rc, stages[i].hint);
		t->end_ms = boot_now_ms();
	}
	/* hand-over only returns on failure, which boot_fatal handled. */
	boot_poweroff(&ctx);
}
