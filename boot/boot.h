/* SPDX-License-Identifier: MIT */
/* boot/boot.h: PID 1's context, stage logging and the fatal-error path. */
#ifndef BOOT_BOOT_H
#define BOOT_BOOT_H

#include <stddef.h>
#include <stdint.h>

#define BOOT_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define BOOT_STAGES_MAX 24

/* Per-stage timing, filled in by main's stage loop. */
struct boot_timing {
	const char *name;
	uint64_t start_ms, end_ms;
};

/* The one context of PID 1; it lives on main's stack. */
struct boot_ctx {
	uint64_t t0_ms;				/* CLOCK_MONOTONIC at entry */
	int console_fd;				/* -1 until opened */
	struct boot_timing timing[BOOT_STAGES_MAX];
	size_t ntiming;
};

/* Milliseconds of CLOCK_MONOTONIC (boot-relative on Linux). Never fails. */
uint64_t boot_now_ms(void);

/* Log one line "[   s.mmm] cvmboot: STAGE: message" to the console (stderr
 * until boot_log_open succeeds). Never blocks beyond the console write. */
void boot_log(const struct boot_ctx *ctx, const char *stage, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Opens /dev/console (O_CLOEXEC) for logging; keeps stderr on failure. */
int boot_log_open(struct boot_ctx *ctx);

/* Prints the table of stage timings collected in ctx. */
void boot_log_timing(const struct boot_ctx *ctx);

/* Copies the hex GNU build id of the running binary into buf (NUL-terminated).
 * Returns its length, or -ENOENT if the binary carries no build-id note. */
int boot_build_id(char *buf, size_t len);

/* Logs "cvmboot: STAGE: ACTION: REASON" and the hint, syncs, then powers the
 * machine off. PID 1 must never return from main, so neither does this. */
__attribute__((noreturn)) void boot_fatal(struct boot_ctx *ctx, const char *stage,
					  const char *action, int err, const char *hint);

/* Syncs and powers off; if the kernel refuses, waits forever saying so. */
__attribute__((noreturn)) void boot_poweroff(struct boot_ctx *ctx);

#endif
