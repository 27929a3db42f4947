/* SPDX-License-Identifier: MIT */
/* boot/boot.h: PID 1's context, stage logging and the fatal-error path. */
#ifndef BOOT_BOOT_H
#define BOOT_BOOT_H

#include <stddef.h>
#include <stdint.h>

#include <sys/types.h>

#include "blk/blk.h"
#include "boot/config.h"
#include "boot/context.h"
#include "boot/kmod.h"
#include "net/http.h"
#include "net/net.h"
#include "tls/tls.h"

#define BOOT_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define BOOT_STAGES_MAX 24

/* Per-stage timing, filled in by main's stage loop. */
struct boot_timing {
	const char *name;
	uint64_t start_ms, end_ms;
};

/* Baked into the initramfs at image build time (make image REPO_...). */
#define BOOT_DEFAULTS_FILE "/etc/cvmboot/defaults"
#define BOOT_DEFAULTS_MAX 2048
#define BOOT_LOGBUF_MAX (64 * 1024)	/* the boot log kept for ulogs/ */
#define BOOT_DRIVES_MAX 4		/* config drives / context CDs looked at */
#define BOOT_NETKV_MAX 32		/* OpenNebula ETH<n>_* variables kept */
#define BOOT_ROOT "/root"		/* the union, then the OS's / */
#define BOOT_ROOT_RO "/root.ro"		/* cvmfs-lite mount of the repository */
#define BOOT_ROOT_RW "/root.rw"		/* the scratch file system */

/* The one context of PID 1; it lives on main's stack. */
struct boot_ctx {
	int console_fd;				/* -1 until opened */
	struct boot_timing timing[BOOT_STAGES_MAX];
	size_t ntiming;
	char cmdline[4096];			/* /proc/cmdline, read once (config) */
	struct boot_cfg cfg;			/* command line + user-data */
	struct boot_cfg_defaults defaults;	/* build-time, from BOOT_DEFAULTS_FILE */
	char defaults_buf[BOOT_DEFAULTS_MAX];	/* the strings defaults point into */
	struct boot_cfg_repo repo;		/* resolved repository settings */
	struct net_lease lease;
	int drive_fds[BOOT_DRIVES_MAX];		/* mounted config drives (net..context) */
	size_t ndrives;
	char *argv0;				/* main's argv[0] ('@' in the daemon) */
	const char *stage;			/* the stage running, for callbacks */
	struct boot_kmod kmod;			/* packed module index, for by-name loads */
	int first_boot;				/* no scratch file system was found */
	struct blk_scratch scratch;
	int auxfd, ctxdirfd, ulogsfd;		/* on the scratch disk; -1 until open */
	struct net_http_client http;		/* contextualization requests */
	struct tls_ctx tls;			/* CA bundle of the initramfs */
	struct tls_https https;			/* HTTPS for http and for cvmfs-lite */
	int have_tls;				/* the CA bundle is loaded */
	int tls_tried;				/* boot_tls_ready ran */
	struct boot_context context;		/* first boot: where user-data came from */
	struct boot_mount_plan plan;		/* which snapshot, and why */
	struct boot_snapshot mounted;		/* what cvmfs-lite mounted */
	uint64_t revision;
	int snapshot_changed;			/* the pin moved: re-base the upper layer */
	pid_t cvmfs_pid;			/* the cvmfs-lite daemon */
	size_t loglen;				/* bytes used in logbuf */
	char logbuf[BOOT_LOGBUF_MAX];		/* every line boot_log printed */
	char userdata[BOOT_CONTEXT_DATA_MAX];	/* raw user-data (first boot) */
	char userdata_work[BOOT_CONTEXT_WORK_MAX];	/* its unpacked [ucernvm] section */
};

/* Milliseconds of CLOCK_MONOTONIC (boot-relative on Linux). Never fails. */
uint64_t boot_now_ms(void);

/* Log one line "[   s.mmm] cvmboot: STAGE: message" to the console (stderr
 * until boot_log_open succeeds) and keep it in ctx->logbuf (while it has
 * room) for ulogs/. Never blocks beyond the console write. ctx may be NULL. */
void boot_log(struct boot_ctx *ctx, const char *stage, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Opens /dev/console (O_CLOEXEC) for logging; keeps stderr on failure. */
int boot_log_open(struct boot_ctx *ctx);

/* Prints the table of stage timings collected in ctx. */
void boot_log_timing(struct boot_ctx *ctx);

/* Copies the hex GNU build id of the running binary into buf (NUL-terminated).
 * Returns its length, or -ENOENT if the binary carries no build-id note. */
int boot_build_id(char *buf, size_t len);

/* Logs "cvmboot: STAGE: ACTION: REASON" and the hint, syncs, then powers the
 * machine off. PID 1 must never return from main, so neither does this. */
__attribute__((noreturn)) void boot_fatal(struct boot_ctx *ctx, const char *stage,
					  const char *action, int err, const char *hint);

/* Stages (boot/stage-*.c), run in order by main's table. Each returns 0 or
 * -errno; main turns an error into boot_fatal with the stage's hint. */
int boot_stage_config(struct boot_ctx *ctx);
int boot_stage_disk_find(struct boot_ctx *ctx);
int boot_stage_net(struct boot_ctx *ctx);
int boot_stage_context(struct boot_ctx *ctx);
int boot_stage_disk(struct boot_ctx *ctx);
int boot_stage_cvmfs(struct boot_ctx *ctx);
int boot_stage_rebase(struct boot_ctx *ctx);
int boot_stage_union(struct boot_ctx *ctx);
int boot_stage_handover(struct boot_ctx *ctx);

/* Loads the CA bundle of the initramfs (TLS_CA_PATH) and readies ctx->https,
 * once: parsing it is skipped by boots that use no https:// URL. Returns 0
 * or -errno (logged; later calls return -ENOPKG). */
int boot_tls_ready(struct boot_ctx *ctx);

/* Mounts every block device holding iso9660 or vfat read-only under
 * /run/ctx/N (config drives, NoCloud, OpenNebula context CDs) and fills fds
 * (BOOT_DRIVES_MAX) with their directories. Returns how many. */
size_t boot_drives_mount(struct boot_ctx *ctx, int *fds);
void boot_drives_unmount(int *fds, size_t n);

/* What a block device's first sectors say it holds (read with pread):
 * BOOT_DRIVE_ISO9660 ("CD001" at 32769), BOOT_DRIVE_VFAT (a FAT boot
 * sector, guessed wide), or 0. Only candidates get their module loaded. */
#define BOOT_DRIVE_ISO9660 1
#define BOOT_DRIVE_VFAT 2
int boot_drive_probe(int fd);

/* After the scratch disk is mounted: the first boot saves its context to
 * context/, later boots apply the saved one. Returns 0 or -errno. */
int boot_context_after_mount(struct boot_ctx *ctx);

/* Logging callback for the parsers of boot/config.h and boot/context.h:
 * arg is the boot_ctx; lines go out under the running stage's name. */
void boot_log_cb(void *arg, const char *msg);

/* Syncs and powers off; if the kernel refuses, waits forever saying so. */
__attribute__((noreturn)) void boot_poweroff(struct boot_ctx *ctx);

#endif
