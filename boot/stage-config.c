/* SPDX-License-Identifier: MIT */
/* boot/stage-config.c: the config stage: build-time defaults baked into the
 * initramfs, then the kernel command line. User-data comes later (context). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "boot/boot.h"


/* see boot.h */
void boot_log_cb(void *arg, const char *msg)
{
	struct boot_ctx *ctx = arg;

	boot_log(ctx, ctx->stage ? ctx->stage : "boot", "%s", msg);
}

/* Reads path into buf (NUL-terminated); returns the length or -errno. */
static long read_small(const char *path, char *buf, size_t cap)
{
	long n = boot_file_read(AT_FDCWD, path, buf, cap - 1);

	buf[n > 0 ? n : 0] = '\0';
	return n;
}

/* BOOT_DEFAULTS_FILE: "key=value" lines (repo_url, repo_name, repo_key,
 * repo_tag, proxy) written by `make image`; the compiled-in values of
 * boot/config.h stay for keys the file does not name. */
static void load_defaults(struct boot_ctx *ctx)
{
	static const struct { const char *key; size_t off; } keys[] = {
		{ "repo_url", offsetof(struct boot_cfg_defaults, repo_url) },
		{ "repo_name", offsetof(struct boot_cfg_defaults, repo_name) },
		{ "repo_key", offsetof(struct boot_cfg_defaults, key_path) },
		{ "repo_tag", offsetof(struct boot_cfg_defaults, tag) },
		{ "proxy", offsetof(struct boot_cfg_defaults, proxy) },
	};
	static const struct boot_cfg_defaults builtin = BOOT_CFG_DEFAULTS_INIT;
	char *p = ctx->defaults_buf, *nl;
	size_t i;

	ctx->defaults = builtin;
	if (read_small(BOOT_DEFAULTS_FILE, ctx->defaults_buf, sizeof(ctx->defaults_buf)) < 0)
		return;
	while (*p) {
		char *eq, *next;

		nl = strchr(p, '\n');
		next = nl ? nl + 1 : p + strlen(p);
		if (nl)
			*nl = '\0';
		if ((eq = strchr(p, '='))) {
			*eq = '\0';
			for (i = 0; i < BOOT_LEN(keys); i++)
				if (strcmp(p, keys[i].key) == 0)
					*(const char **)((char *)&ctx->defaults + keys[i].off) = eq + 1;
		}
		p = next;
	}
}

/* see boot.h */
int boot_stage_config(struct boot_ctx *ctx)
{
	long n;

	load_defaults(ctx);
	boot_cfg_init(&ctx->cfg);
	n = read_small("/proc/cmdline", ctx->cmdline, sizeof(ctx->cmdline));
	if (n < 0)
		return (int)n;
	boot_cfg_cmdline_parse(&ctx->cfg, ctx->cmdline, (size_t)n, boot_log_cb, ctx);
	boot_log(ctx, "config", "repository default %s at %s", ctx->defaults.repo_name,
		 ctx->defaults.repo_url);
	return 0;
}
