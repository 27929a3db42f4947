/* SPDX-License-Identifier: MIT */
/* boot/stage-context.c: the context and context-disk stages. First boot:
 * find user-data (config drive, OpenNebula, cloud metadata services), apply
 * its [ucernvm] section, and save it on the scratch disk once that is
 * mounted; later boots apply what the first boot saved. */
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
#define AZURE_READY_MS 15000	/* goal state + health report */

/* see boot.h */
int boot_drive_probe(int fd)
{
	unsigned char b[512], vd[6];
	int i, mask = 0;

	/* ISO 9660 / UDF volume recognition: descriptors from 32 KiB on, one
	 * per 2 KiB sector; the standard identifier follows a type byte. */
	for (i = 0; i < 4; i++) {
		if (pread(fd, vd, sizeof(vd), 32768 + i * 2048) != (ssize_t)sizeof(vd))
			break;
		if (memcmp(vd + 1, "CD001", 5) == 0)
			mask |= BOOT_DRIVE_ISO9660;
		else if (memcmp(vd + 1, "NSR02", 5) == 0 || memcmp(vd + 1, "NSR03", 5) == 0)
			mask |= BOOT_DRIVE_UDF;
	}
	if (pread(fd, b, sizeof(b), 0) != (ssize_t)sizeof(b) || b[510] != 0x55 || b[511] != 0xaa)
		return mask;
	/* A FAT boot sector: its type string (mkfs.vfat, mtools), or at least
	 * the jump that starts every one. A false match only costs a failed
	 * silent mount; a miss would lose the drive, so this errs wide. */
	if (memcmp(b + 54, "FAT", 3) == 0 || memcmp(b + 82, "FAT", 3) == 0 || b[0] == 0xeb ||
	    b[0] == 0xe9)
		mask |= BOOT_DRIVE_VFAT;
	return mask;
}

/* see boot.h */
size_t boot_drives_mount(struct boot_ctx *ctx, const char *stage, int *fds)
{
	/* udf: Azure's provisioning CD (ovf-env.xml) */
	static const struct { const char *type; int bit; } types[] = {
		{ "iso9660", BOOT_DRIVE_ISO9660 }, { "vfat", BOOT_DRIVE_VFAT },
		{ "udf", BOOT_DRIVE_UDF },
	};
	DIR *d = opendir("/sys/class/block");
	struct dirent *e;
	size_t n = 0, t;
	int loaded = 0;

	mkdir(CTX_MNT, 0755);
	while (d && n < BOOT_DRIVES_MAX && (e = readdir(d))) {
		char dev[300], dir[64];
		int fd, mask;

		if (e->d_name[0] == '.' || strncmp(e->d_name, "loop", 4) == 0 ||
		    strncmp(e->d_name, "ram", 3) == 0)
			continue;
		snprintf(dev, sizeof(dev), "/dev/%s", e->d_name);
		/* Look before mounting: the file-system modules cost a boot
		 * without a config drive several hundred ms under emulation. */
		if ((fd = open(dev, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) < 0)
			continue;
		mask = boot_drive_probe(fd);
		close(fd);
		if (!mask)
			continue;
		if (mask & ~loaded & BOOT_DRIVE_ISO9660)
			boot_kmod_load(&ctx->kmod, "isofs");
		if (mask & ~loaded & BOOT_DRIVE_VFAT) {
			boot_kmod_load(&ctx->kmod, "vfat");
			boot_kmod_load(&ctx->kmod, "nls_cp437");
			boot_kmod_load(&ctx->kmod, "nls_iso8859_1");
		}
		if (mask & ~loaded & BOOT_DRIVE_UDF)
			boot_kmod_load(&ctx->kmod, "udf");
		loaded |= mask;
		snprintf(dir, sizeof(dir), CTX_MNT "/%zu", n);
		mkdir(dir, 0755);
		for (t = 0; t < BOOT_LEN(types); t++) {
			/* MS_SILENT: a wide FAT guess may be wrong; no kernel complaint. */
			if (!(mask & types[t].bit) ||
			    mount(dev, dir, types[t].type, MS_RDONLY | MS_NOSUID | MS_NODEV |
				  MS_NOEXEC | MS_SILENT, NULL) < 0)
				continue;
			fds[n] = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (fds[n] >= 0) {
				boot_log(ctx, stage, "looking at %s (%s)", dev, types[t].type);
				n++;
			} else {
				umount(dir);
			}
			break;
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

static int context_sources(struct boot_ctx *ctx)
{
	struct boot_context_opts o;
	char work[64 * 1024];
	const char *sec;
	size_t sec_len;
	int rc, fds[BOOT_DRIVES_MAX];
	unsigned secs = ctx->cfg.context_timeout_s ? ctx->cfg.context_timeout_s : 20;
	char server[16];

	if (!ctx->first_boot)
		return 0;	/* saved context is read once the scratch disk is mounted */
	memset(&o, 0, sizeof(o));
	o.sources = ctx->cfg.context_sources;
	o.dirfds = fds;
	o.ndirs = boot_drives_mount(ctx, "context", fds);
	if (ctx->lease.source != NET_SRC_NONE) {
		o.fetch = boot_context_http_fetch;
		o.fetch_arg = &ctx->http;
	}
	if (ctx->lease.server.s_addr) {
		inet_ntop(AF_INET, &ctx->lease.server, server, sizeof(server));
		o.dhcp_server = server;
	}
	o.guestinfo = boot_vmw_userdata_run;
	o.work = work;
	o.wcap = sizeof(work);
	o.log = boot_log_cb;
	o.log_arg = ctx;
	ctx->context.data = ctx->userdata;
	ctx->context.cap = sizeof(ctx->userdata);
	rc = boot_context_run(&o, boot_now_ms() + (uint64_t)secs * 1000, &ctx->context);
	boot_drives_unmount(fds, o.ndirs);
	if (rc == -ENOENT || rc == -ETIMEDOUT) {
		boot_log(ctx, "context", "no user-data (%s); booting with the command line",
			 rc == -ENOENT ? "no source answered" : "deadline");
		return 0;
	}
	if (rc < 0)
		return rc;
	boot_log(ctx, "context", "user-data from %s (%s, %zu bytes)",
		 boot_ctx_src_str(ctx->context.src), ctx->context.where, ctx->context.len);
	if (ctx->context.src == BOOT_SRC_AZURE && (ctx->cfg.context_sources & BOOT_CTX_SRC_AZURE)) {
		struct boot_azure_fabric f = { BOOT_AZURE_WIRESERVER, boot_context_http_fetch,
					       boot_context_http_post, &ctx->http };

		if (ctx->lease.source == NET_SRC_NONE)
			boot_log(ctx, "context", "azure: no network; cannot report Ready");
		else
			boot_azure_report_ready(&f, boot_now_ms() + AZURE_READY_MS, boot_log_cb, ctx);
	}
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
int boot_stage_context(struct boot_ctx *ctx)
{
	int rc = context_sources(ctx);

	/* μCernVM 07extracontext: after the user-data, so that it overrides. */
	if (rc == 0 && ctx->first_boot && (rc = boot_extra_scan(ctx, BOOT_EXTRA_MS)) < 0) {
		boot_log(ctx, "context", "extra: %s; skipped", strerror(-rc));
		rc = 0;
	}
	return rc < 0 ? rc : 0;
}

/* see boot.h */
int boot_stage_context_disk(struct boot_ctx *ctx)
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
			rc = boot_extra_save(ctx, dfd);
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
