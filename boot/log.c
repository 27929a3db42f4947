/* SPDX-License-Identifier: MIT */
/* boot/log.c: console logging with monotonic timestamps, and the build id. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>
#include <unistd.h>
#include <link.h>

#include "boot/boot.h"

/* see boot.h */
uint64_t boot_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void log_write(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		buf += n;
		len -= (size_t)n;
	}
}

/* see boot.h */
void boot_log(struct boot_ctx *ctx, const char *stage, const char *fmt, ...)
{
	char line[512];
	uint64_t t = boot_now_ms();
	int n;
	va_list ap;

	n = snprintf(line, sizeof(line), "[%4llu.%03llu] cvmboot: %s: ",
		     (unsigned long long)(t / 1000), (unsigned long long)(t % 1000), stage);
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	log_write(ctx && ctx->console_fd >= 0 ? ctx->console_fd : 2, line, (size_t)n);
	if (ctx && ctx->loglen + (size_t)n <= sizeof(ctx->logbuf)) {
		memcpy(ctx->logbuf + ctx->loglen, line, (size_t)n);
		ctx->loglen += (size_t)n;
	}
}

/* see boot.h */
int boot_log_open(struct boot_ctx *ctx)
{
	int fd = open("/dev/console", O_WRONLY | O_NOCTTY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	ctx->console_fd = fd;
	return 0;
}

/* see boot.h */
void boot_log_timing(struct boot_ctx *ctx)
{
	size_t i;

	boot_log(ctx, "timing", "%-12s %8s %8s", "stage", "start", "took");
	for (i = 0; i < ctx->ntiming; i++) {
		const struct boot_timing *t = &ctx->timing[i];
		/* The running stage (hand-over) has no end yet: up to now. */
		uint64_t end = t->end_ms >= t->start_ms ? t->end_ms : boot_now_ms();

		boot_log(ctx, "timing", "%-12s %5llu ms %5llu ms", t->name,
			 (unsigned long long)t->start_ms, (unsigned long long)(end - t->start_ms));
	}
	boot_log(ctx, "timing", "%-12s %5llu ms", "total", (unsigned long long)boot_now_ms());
	{
		struct rusage ru;

		if (getrusage(RUSAGE_SELF, &ru) == 0)	/* PID 1's peak memory so far */
			boot_log(ctx, "timing", "%-12s %5ld kB", "vmhwm", ru.ru_maxrss);
	}
}

/* The static binary's own ELF header is mapped; walk its PT_NOTE segments
 * for NT_GNU_BUILD_ID (ld --build-id=sha1). */
extern const ElfW(Ehdr) __ehdr_start;

/* see boot.h */
int boot_build_id(char *buf, size_t len)
{
	const ElfW(Ehdr) *eh = &__ehdr_start;
	const ElfW(Phdr) *ph = (const void *)((const char *)eh + eh->e_phoff);
	int i;

	for (i = 0; i < eh->e_phnum; i++) {
		const char *p, *end;

		if (ph[i].p_type != PT_NOTE)
			continue;
		p = (const char *)eh + ph[i].p_offset;
		end = p + ph[i].p_filesz;
		while (p + sizeof(ElfW(Nhdr)) <= end) {
			const ElfW(Nhdr) *nh = (const void *)p;
			const unsigned char *desc = (const unsigned char *)p + sizeof(*nh) +
						    ((nh->n_namesz + 3) & ~3u);
			size_t j, n = 0;

			if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 &&
			    memcmp(p + sizeof(*nh), "GNU", 4) == 0) {
				for (j = 0; j < nh->n_descsz && n + 3 <= len; j++)
					n += (size_t)snprintf(buf + n, len - n, "%02x", desc[j]);
				return (int)n;
			}
			p += sizeof(*nh) + ((nh->n_namesz + 3) & ~3u) + ((nh->n_descsz + 3) & ~3u);
		}
	}
	return -ENOENT;
}
