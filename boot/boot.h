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
#define BOOT_CONSOLES_MAX 4		/* consoles PID 1's log goes to */
#define BOOT_CONSOLE_NAME_MAX 32
#define BOOT_DRIVES_MAX 4		/* config drives / context CDs looked at */
#define BOOT_NETKV_MAX 32		/* OpenNebula ETH<n>_* variables kept */
#define BOOT_ROOT "/root"		/* the union, then the OS's / */
#define BOOT_ROOT_RO "/root.ro"		/* cvmfs-lite mount of the repository */
#define BOOT_ROOT_RW "/root.rw"		/* the scratch file system */

/* The one context of PID 1; it lives on main's stack. */
struct boot_ctx {
	int console_fd;				/* /dev/console; -1 until opened */
	int console_fds[BOOT_CONSOLES_MAX];	/* every console of /proc/consoles */
	size_t nconsoles;
	struct boot_timing timing[BOOT_STAGES_MAX];
	size_t ntiming;
	char cmdline[4096];			/* /proc/cmdline, read once (config) */
	struct boot_cfg cfg;			/* command line + user-data */
	struct boot_cfg_defaults defaults;	/* build-time, from BOOT_DEFAULTS_FILE */
	char defaults_buf[BOOT_DEFAULTS_MAX];	/* the strings defaults point into */
	struct boot_cfg_repo repo;		/* resolved repository settings */
	struct net_lease lease;
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
	struct boot_extra extra;		/* first boot: other partitions' context */
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

/* Opens /dev/console (O_CLOEXEC) and every console the kernel writes to
 * (/proc/consoles: e.g. ttyS0 and tty0 for "console=ttyS0 console=tty0",
 * where /dev/console is only the last one) for logging, so that a cloud's
 * serial log and the VGA screen both show PID 1's lines. Keeps stderr when
 * nothing opens. Returns the number of consoles opened, or -errno. */
int boot_log_open(struct boot_ctx *ctx);

/* Parses /proc/consoles text: the names of the consoles enabled for output
 * (flag W), at most max, deduplicated, into names. Returns how many. */
size_t boot_consoles_parse(const char *text, size_t len,
			   char names[][BOOT_CONSOLE_NAME_MAX], size_t max);

/* Prints the table of stage timings collected in ctx. */
void boot_log_timing(struct boot_ctx *ctx);

/* Copies the hex GNU build id of the running binary into buf (NUL-terminated).
 * Returns its length, or -ENOENT if the binary carries no build-id note. */
int boot_build_id(char *buf, size_t len);

/* Logs "cvmboot: STAGE: ACTION: REASON" and the hint, syncs, then powers off,
 * reboots after a pause or waits for ever, as cvmboot.on_error says (default
 * poweroff). PID 1 must never return from main, so neither does this. */
__attribute__((noreturn)) void boot_fatal(struct boot_ctx *ctx, const char *stage,
					  const char *action, int err, const char *hint);

/* Stages (boot/stage-*.c), run in order by main's table. Each returns 0 or
 * -errno; main turns an error into boot_fatal with the stage's hint. */
int boot_stage_config(struct boot_ctx *ctx);
int boot_stage_disk_find(struct boot_ctx *ctx);
int boot_stage_net(struct boot_ctx *ctx);
int boot_stage_context(struct boot_ctx *ctx);
int boot_stage_disk(struct boot_ctx *ctx);
/* context-disk: once the scratch disk is mounted, the first boot saves its
 * context to context/, later boots apply the saved one. */
int boot_stage_context_disk(struct boot_ctx *ctx);
int boot_stage_cvmfs(struct boot_ctx *ctx);
int boot_stage_rebase(struct boot_ctx *ctx);
int boot_stage_union(struct boot_ctx *ctx);
int boot_stage_handover(struct boot_ctx *ctx);
/* After the union: the first boot's pickup.tar.gz (kept in context/) is
 * unpacked into the root once (marker context/picked-up), and the extra
 * user-data goes to /cernvm/extra-user-data. Never fails the boot. */
int boot_stage_extra(struct boot_ctx *ctx);
/* After the disk stage: a newer, verified kexec/apply payload is loaded
 * and booted (scratch unmounted first); else, or on any failure (one log
 * line), returns 0 with the scratch disk mounted and its fds open. */
int boot_stage_kexec(struct boot_ctx *ctx);
/* After the cvmfs stage: a newer payload the repository publishes in
 * BOOT_UPDATE_DIR (its bytes verified by the signed catalog chain, its hashes
 * by apply) is copied to kexec/ on the scratch disk, loaded, and booted
 * after the daemon stopped and the scratch disk is unmounted. A bad or
 * refused payload: one log line, returns 0 with the repository mounted. */
int boot_stage_update(struct boot_ctx *ctx);
/* Stop the cvmfs-lite daemon (the repository unmounted); mount again the
 * snapshot it had (ctx->mounted.hash), not recorded again. 0 or -errno. */
void boot_cvmfs_stop(struct boot_ctx *ctx);
int boot_cvmfs_remount(struct boot_ctx *ctx);

/* First boot, context stage: mounts every block device but the scratch
 * disk read-only (ext4 without journal replay, vfat, iso9660) for at most
 * budget_ms and BOOT_EXTRA_DEVS_MAX devices, and runs boot_extra_collect on
 * each into BOOT_EXTRA_DIR and ctx->cfg. Returns the number of files found
 * or -errno. */
int boot_extra_scan(struct boot_ctx *ctx, unsigned budget_ms);
/* Copies what boot_extra_scan kept into context/ (ctxdirfd). 0 or -errno. */
int boot_extra_save(struct boot_ctx *ctx, int ctxdirfd);

/* Loads the CA bundle of the initramfs (TLS_CA_PATH) and readies ctx->https,
 * once: parsing it is skipped by boots that use no https:// URL. Returns 0
 * or -errno (logged; later calls return -ENOPKG). */
int boot_tls_ready(struct boot_ctx *ctx);

/* Mounts every block device holding iso9660 or vfat read-only under
 * /run/ctx/N (config drives, NoCloud, OpenNebula context CDs), logging under
 * stage, and fills fds (BOOT_DRIVES_MAX) with their directories. Returns how
 * many. The caller unmounts them with boot_drives_unmount before it returns:
 * each stage that reads the drives mounts them itself. */
size_t boot_drives_mount(struct boot_ctx *ctx, const char *stage, int *fds);
void boot_drives_unmount(int *fds, size_t n);

/* What a block device's first sectors say it may hold (read with pread), as
 * a mask: BOOT_DRIVE_ISO9660 ("CD001" in the volume recognition sequence at
 * 32 KiB), BOOT_DRIVE_UDF ("NSR02"/"NSR03" there), BOOT_DRIVE_VFAT (a FAT
 * boot sector, guessed wide), or 0. Only candidates get their module
 * loaded and a mount tried. */
#define BOOT_DRIVE_ISO9660 1
#define BOOT_DRIVE_VFAT 2
#define BOOT_DRIVE_UDF 4
int boot_drive_probe(int fd);

/* Logging callback for the parsers of boot/config.h and boot/context.h:
 * arg is the boot_ctx; lines go out under the running stage's name. */
void boot_log_cb(void *arg, const char *msg);

/* Syncs and powers off; if the kernel refuses, waits forever saying so. */
__attribute__((noreturn)) void boot_poweroff(struct boot_ctx *ctx);

/* PID 1 run as /run/initramfs/shutdown VERB (systemd's return to the
 * initramfs, boot/stage-shutdown.c): aufs_shutdown_run on /oldroot within
 * 10 s, logging to /dev/kmsg, then reboot(2) as VERB asks ("poweroff",
 * "reboot", "halt", "kexec"; unknown: power off; kexec without a loaded
 * image: reboot). Never returns: PID 1 must not exit. */
__attribute__((noreturn)) void boot_shutdown(int argc, char **argv);
/* The reboot(2) command for VERB; kexec_loaded is /sys/kernel/kexec_loaded's
 * text or NULL (unknown). why gets the one line to log, or "": an unknown
 * verb powers off, kexec with "0" loaded reboots. */
int boot_shutdown_cmd(const char *verb, const char *kexec_loaded, char *why, size_t cap);

#endif
