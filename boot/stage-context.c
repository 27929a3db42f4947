/* SPDX-License-Identifier: MIT */
/* boot/stage-context.c: first boot: find user-data (config drive, OpenNebula,
 * cloud metadata services) and apply its [ucernvm] section; later boots use
 * what the first boot saved on the scratch disk (see boot_context_after_mount). */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boot/boot.h"
#include "boot/context.h"

#define CTX_MNT "/run/ctx"

/* see boot.h */
int boot_drive_probe(int fd)
{
	unsigned char b[512], cd[6];
	int fat;

	if (pread(fd, cd, sizeof(cd), 32768) == (ssize_t)sizeof(cd) && memcmp(cd + 1, "CD001", 5) == 0)
		return BOOT_DRIVE_ISO9660;
	if (pread(fd, b, sizeof(b), 0) != (ssize_t)sizeof(b) || b[510] != 0x55 || b[511] != 0xaa)
		return 0;
	/* A FAT boot sector: its type string (mkfs.vfat, mtools), or at least
	 * the jump that starts every one. A false match only costs a failed
	 * silent mount; a miss would lose the drive, so this errs wide. */
	fat = memcmp(b + 54, "FAT", 3) == 0 || memcmp(b + 82, "FAT", 3) == 0 ||
	      b[0] == 0xeb || b[0] == 0xe9;
	return fat ? BOOT_DRIVE_VFAT : 0;
}

/* see boot.h */
size_t boot_drives_mount(struct boot_ctx *ctx, int *fds)
{
	static const char *const types[] = { "", "iso9660", "vfat" };
	DIR *d = opendir("/sys/class/block");
	struct dirent *e;
	size_t n = 0;
	int loaded = 0;

	mkdir(CTX_MNT, 0755);
	while (d && n < BOOT_DRIVES_MAX && (e = readdir(d))) {
		char dev[300], dir[64];
		int fd, t;

		if (e->d_name[0] == '.' || strncmp(e->d_name, "loop", 4) == 0 ||
		    strncmp(e->d_name, "ram", 3) == 0)
			continue;
		snprintf(dev, sizeof(dev), "/dev/%s", e->d_name);
		/* Look before mounting: the file-system modules cost a boot
		 * without a config drive several hundred ms under emulation. */
		if ((fd = open(dev, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) < 0)
			continue;
		t = boot_drive_probe(fd);
		close(fd);
		if (!t)
			continue;
		if (t == BOOT_DRIVE_ISO9660 && !(loaded & t)) {
			boot_kmod_load(&ctx->kmod, "isofs");
		} else if (t == BOOT_DRIVE_VFAT && !(loaded & t)) {
			boot_kmod_load(&ctx->kmod, "vfat");
			boot_kmod_load(&ctx->kmod, "nls_cp437");
			boot_kmod_load(&ctx->kmod, "nls_iso8859_1");
		}
		loaded |= t;
		snprintf(dir, sizeof(dir), CTX_MNT "/%zu", n);
		mkdir(dir, 0755);
		/* MS_SILENT: a wide FAT guess may be wrong; no kernel complaint. */
		if (mount(dev, dir, types[t], MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC |
			  MS_SILENT, NULL) < 0)
			continue;
		fds[n] = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fds[n] >= 0) {
			boot_log(ctx, "context", "looking at %s (%s)", dev, types[t]);
			n++;
		} else {
			umount(dir);
		}
	}
	if (d)
		closedir(d);
	return n;
}

/* see boot.h */
void boot_drives_unmount(int *fds, size_t n)
{
	char dir[64];
	size_t i;

	for (i = 0; i < n; i++) {
		close(fds[i]);
		snprintf(dir, sizeof(dir), CTX_MNT "/%zu", i);
		umount2(dir, MNT_DETACH);
	}
}

/* see boot.h */
int boot_stage_context(struct boot_ctx *ctx)
{
	struct boot_context_opts o;
	char work[64 * 1024];
	const char *sec;
	size_t sec_len;
	int rc;
	unsigned secs = ctx->cfg.context_timeout_s ? ctx->cfg.context_timeout_s : 20;
	char server[16];

	if (!ctx->first_boot) {
		boot_drives_unmount(ctx->drive_fds, ctx->ndrives);
		ctx->ndrives = 0;
		return 0;	/* saved context is read once the scratch disk is mounted */
	}
	memset(&o, 0, sizeof(o));
	o.sources = ctx->cfg.context_sources;
	o.dirfds = ctx->drive_fds;
	o.ndirs = ctx->ndrives;
	if (ctx->lease.source != NET_SRC_NONE) {
		o.fetch = boot_context_http_fetch;
		o.fetch_arg = &ctx->http;
	}
	if (ctx->lease.server.s_addr) {
		inet_ntop(AF_INET, &ctx->lease.server, server, sizeof(server));
		o.dhcp_server = server;
	}
	o.work = work;
	o.wcap = sizeof(work);
	o.log = boot_log_cb;
	o.log_arg = ctx;
	ctx->context.data = ctx->userdata;
	ctx->context.cap = sizeof(ctx->userdata);
	rc = boot_context_run(&o, boot_now_ms() + (uint64_t)secs * 1000, &ctx->context);
	boot_drives_unmount(ctx->drive_fds, ctx->ndrives);
	ctx->ndrives = 0;
	if (rc == -ENOENT || rc == -ETIMEDOUT) {
		boot_log(ctx, "context", "no user-data (%s); booting with the command line",
			 rc == -ENOENT ? "no source answered" : "deadline");
		return 0;
	}
	if (rc < 0)
		return rc;
	boot_log(ctx, "context", "user-data from %s (%s, %zu bytes)",
		 boot_ctx_src_str(ctx->context.src), ctx->context.where, ctx->context.len);
	rc = boot_userdata_extract(ctx->context.data, ctx->context.len, ctx->cfg.useglideinwms,
				   ctx->userdata_work, sizeof(ctx->userdata_work), &sec, &sec_len);
	if (rc < 0) {
		boot_log(ctx, "context", "user-data unreadable: %s; ignoring it", strerror(-rc));
		return 0;
	}
	if (rc == 1)
		boot_log(ctx, "context", "%d keys applied",
			 boot_cfg_userdata_parse(&ctx->cfg, sec, sec_len, boot_log_cb, ctx));
	return 0;
}

/* see boot.h */
int boot_context_after_mount(struct boot_ctx *ctx)
{
	char work[16 * 1024];
	int dfd, rc;

	mkdir(BOOT_ROOT_RW "/" BOOT_CONTEXT_DIR, 0700);
	dfd = open(BOOT_ROOT_RW "/" BOOT_CONTEXT_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	if (ctx->first_boot) {
		rc = boot_context_save(dfd, &ctx->context, &ctx->cfg, work, sizeof(work));
		if (rc == 0)
			boot_log(ctx, "context", "saved to %s/%s", BOOT_ROOT_RW, BOOT_CONTEXT_DIR);
	} else {
		rc = boot_context_load(dfd, &ctx->cfg, ctx->userdata_work,
				       sizeof(ctx->userdata_work), boot_log_cb, ctx);
		if (rc >= 0)
			boot_log(ctx, "context", "%d saved keys applied (no re-contextualization)", rc);
		else if (rc == -ENOENT)
			rc = 0;
	}
	ctx->ctxdirfd = dfd;
	return rc < 0 ? rc : 0;
}
