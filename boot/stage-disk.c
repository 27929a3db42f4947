/* SPDX-License-Identifier: MIT */
/* boot/stage-disk.c: the disk-find and disk stages: find the scratch file
 * system (UROOT), else make one on a blank disk, mount it on /root.rw, grow
 * it if the disk grew, and lay it out (blk/). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "blk/blk.h"
#include "boot/boot.h"

#define DISK_WAIT_MS 5000	/* for the first disk to show up after coldplug */
#define DISK_PREPARE_MS 15000	/* partition, mkfs, and the new node to appear */

/* Waits (bounded) until /sys/block lists a disk that is not loop/ram. */
static int wait_disk(uint64_t deadline_ms)
{
	struct timespec tick = { 0, 50 * 1000000 };

	for (;;) {
		DIR *d = opendir("/sys/block");
		struct dirent *e;
		int found = 0;

		while (d && (e = readdir(d)))
			if (e->d_name[0] != '.' && strncmp(e->d_name, "loop", 4) != 0 &&
			    strncmp(e->d_name, "ram", 3) != 0)
				found = 1;
		if (d)
			closedir(d);
		if (found)
			return 0;
		if (boot_now_ms() >= deadline_ms)
			return -ENODEV;
		nanosleep(&tick, NULL);
	}
}

static void blk_cfg_fill(const struct boot_ctx *ctx, struct blk_cfg *bc)
{
	static const struct blk_cfg def = BLK_CFG_DEFAULT;

	*bc = def;
	bc->resize_rootfs = ctx->cfg.resize_rootfs;
	bc->use_boothd = ctx->cfg.use_boothd;
}

/* see boot.h */
int boot_stage_disk_find(struct boot_ctx *ctx)
{
	struct blk_ctx c = { 0 };
	struct blk_cfg bc;
	char why[320];
	int rc;

	if (wait_disk(boot_now_ms() + DISK_WAIT_MS) < 0) {
		boot_log(ctx, "disk-find", "no disk after %u ms", DISK_WAIT_MS);
		return -ENODEV;
	}
	blk_cfg_fill(ctx, &bc);
	rc = blk_scratch_find(&c, &bc, &ctx->scratch);
	if (rc == -ENOENT) {
		ctx->first_boot = 1;
		boot_log(ctx, "disk-find", "no scratch file system (%s): first boot", BLK_LABEL);
		return 0;
	}
	if (rc < 0) {
		boot_log(ctx, "disk-find", "%s", blk_ctx_str(&c, why, sizeof(why)));
		return rc;
	}
	boot_log(ctx, "disk-find", "scratch %s on %s", ctx->scratch.part_path, ctx->scratch.disk);
	return 0;
}

/* see boot.h */
int boot_stage_disk(struct boot_ctx *ctx)
{
	struct blk_ctx c = { 0 };
	struct blk_cfg bc;
	char why[320];
	int rc;

	blk_cfg_fill(ctx, &bc);
	if (ctx->first_boot) {
		rc = blk_scratch_choose(&c, &bc, &ctx->scratch);
		if (rc == 0)
			rc = blk_scratch_prepare(&c, &bc, &ctx->scratch,
						 boot_now_ms() + DISK_PREPARE_MS);
		if (rc < 0) {
			boot_log(ctx, "disk", "%s", blk_ctx_str(&c, why, sizeof(why)));
			return rc;
		}
		boot_log(ctx, "disk", "made %s on %s (%llu MiB)", ctx->scratch.part_path,
			 ctx->scratch.disk, (unsigned long long)(ctx->scratch.len >> 20));
	}
	/* Built into the cloud kernel (-ENOENT here), a module elsewhere;
	 * crc32c is ext4's soft dependency, which modules.dep does not list. */
	boot_kmod_load(&ctx->kmod, "crc32c_generic");
	boot_kmod_load(&ctx->kmod, "ext4");
	mkdir(BOOT_ROOT_RW, 0755);
	if (mount(ctx->scratch.part_path, BOOT_ROOT_RW, "ext4", MS_NOATIME, "") < 0) {
		rc = -errno;
		boot_log(ctx, "disk", "mount %s on %s: %s", ctx->scratch.part_path, BOOT_ROOT_RW,
			 strerror(errno));
		return rc;
	}
	rc = blk_scratch_grow(&c, &bc, &ctx->scratch, BOOT_ROOT_RW, boot_now_ms() + DISK_PREPARE_MS);
	if (rc > 0)
		boot_log(ctx, "disk", "grew to %llu MiB", (unsigned long long)(ctx->scratch.len >> 20));
	else if (rc < 0)	/* the old size still works: say so and go on */
		boot_log(ctx, "disk", "grow: %s", blk_ctx_str(&c, why, sizeof(why)));
	memset(&c, 0, sizeof(c));
	rc = blk_layout_make(&c, BOOT_ROOT_RW);
	if (rc < 0) {
		boot_log(ctx, "disk", "layout: %s", blk_ctx_str(&c, why, sizeof(why)));
		return rc;
	}
	ctx->auxfd = open(BOOT_ROOT_RW "/aux", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ctx->auxfd < 0)
		return -errno;
	ctx->ulogsfd = open(BOOT_ROOT_RW "/ulogs", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return 0;
}
