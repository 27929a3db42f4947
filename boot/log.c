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
#include <sys/stat.h>
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
	if (ctx && ctx->nconsoles > 0) {
		size_t i;

		for (i = 0; i < ctx->nconsoles; i++)
			log_write(ctx->console_fds[i], line, (size_t)n);
	} else {
		log_write(ctx && ctx->console_fd >= 0 ? ctx->console_fd : 2, line, (size_t)n);
	}
	if (ctx && ctx->loglen + (size_t)n <= sizeof(ctx->logbuf)) {
		memcpy(ctx->logbuf + ctx->loglen, line, (size_t)n);
		ctx->loglen += (size_t)n;
	}
}

/* see boot.h */
size_t boot_consoles_parse(const char *text, size_t len,
			   char names[][BOOT_CONSOLE_NAME_MAX], size_t max)
{
	const char *p = text, *end = text + len;
	size_t n = 0, i;

	/* Each line: "NAME  -W- (EC p a)  4:64": the name, then the R/W/U flags. */
	while (p < end && n < max) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *nm = p, *fl;
		size_t nlen;

		if (!eol)
			eol = end;
		while (nm < eol && *nm == ' ')
			nm++;
		for (fl = nm; fl < eol && *fl != ' '; fl++)
			;
		nlen = (size_t)(fl - nm);
		while (fl < eol && *fl == ' ')
			fl++;
		p = eol + 1;
		/* A name with '/' or ".." would leave /dev; flags are 3 characters. */
		if (nlen == 0 || nlen >= BOOT_CONSOLE_NAME_MAX || eol - fl < 3 || fl[1] != 'W' ||
		    memchr(nm, '/', nlen) || (nlen <= 2 && nm[0] == '.'))
			continue;
		for (i = 0; i < n && (strlen(names[i]) != nlen || memcmp(names[i], nm, nlen)); i++)
			;
		if (i < n)
			continue;
		memcpy(names[n], nm, nlen);
		names[n++][nlen] = '\0';
	}
	return n;
}

/* see boot.h */
int boot_log_open(struct boot_ctx *ctx)
{
	char names[BOOT_CONSOLES_MAX][BOOT_CONSOLE_NAME_MAX], text[1024], dev[48];
	dev_t seen[BOOT_CONSOLES_MAX];
	size_t n = 0, i, j;
	ssize_t len = -1;
	int fd;

	fd = open("/dev/console", O_WRONLY | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ctx->console_fd = fd;
	fd = open("/proc/consoles", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		len = read(fd, text, sizeof(text) - 1);
		close(fd);
	}
	if (len > 0)
		n = boot_consoles_parse(text, (size_t)len, names, BOOT_CONSOLES_MAX);
	for (i = 0; i < n && ctx->nconsoles < BOOT_CONSOLES_MAX; i++) {
		struct stat st;

		snprintf(dev, sizeof(dev), "/dev/%s", names[i]);
		/* O_NONBLOCK: a serial line with flow control held off must not stop
		 * PID 1 at open (no carrier); writes are then plain blocking ones. */
		fd = open(dev, O_WRONLY | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
		if (fd < 0)
			continue;
		if (fstat(fd, &st) < 0 || !S_ISCHR(st.st_mode)) {
			close(fd);
			continue;
		}
		for (j = 0; j < ctx->nconsoles && seen[j] != st.st_rdev; j++)
			;
		if (j < ctx->nconsoles) {
			close(fd);
			continue;
		}
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
		seen[ctx->nconsoles] = st.st_rdev;
		ctx->console_fds[ctx->nconsoles++] = fd;
	}
	return (int)ctx->nconsoles;
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
