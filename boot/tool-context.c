/* SPDX-License-Identifier: MIT */
/* boot/tool-context.c: `cvmboot context-test`: runs the context sources of
 * PID 1 on the host (against an emulated metadata service) and prints what
 * a boot would configure. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "boot/boot.h"
#include "boot/context.h"
#include "net/http.h"

#define DIRS_MAX 4

static void log_stderr(void *arg, const char *msg)
{
	fprintf(stderr, "context: %s\n", msg);
}

static int usage(void)
{
	fprintf(stderr, "usage: cvmboot context-test [--metadata HOST[:PORT]] "
		"[--cloudstack HOST[:PORT]] [--dhcp-server HOST] [--sources LIST|none]\n"
		"         [--dir DIR]... [--timeout SECONDS] [--probe-ms MS] [--cmdline TEXT]\n"
		"         [--save DIR | --load DIR]\n"
		"Looks for user-data like the first boot does and prints source=, bytes=,\n"
		"the ucontext keys and the resolved repository. Exit 0 found, 3 nothing\n"
		"found, 1 error, 2 usage.\n");
	return 2;
}

static void print_result(const struct boot_cfg *cfg, char *work, size_t wcap)
{
	const struct boot_cfg_defaults def = BOOT_CFG_DEFAULTS_INIT;
	struct boot_cfg_repo *r = calloc(1, sizeof(*r));
	long n = boot_cfg_userdata_fmt(cfg, 1, work, wcap);
	size_t i;

	if (n > 0)
		fputs(work, stdout);
	if (r && boot_cfg_repo_resolve(cfg, &def, r, log_stderr, NULL) == 0) {
		printf("repo=%s\ntag=%s\nproxy=%s\npath=%s\n", r->name, r->tag, r->proxy, r->path);
		for (i = 0; i < r->nurls; i++)
			printf("url=%s\n", r->urls[i]);
	}
	free(r);
}

static int open_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		fprintf(stderr, "cvmboot context-test: %s: %s\n", path, strerror(errno));
	return fd;
}

struct cli {
	struct boot_context_opts o;
	int dirs[DIRS_MAX];
	const char *save, *load, *cmdline;
	unsigned timeout_s;
};

/* Returns 0, or 2 for a usage error, 1 for a directory that does not open. */
static int args_parse(struct cli *c, struct boot_cfg *cfg, int argc, char **argv)
{
	char word[96];
	int i;

	for (i = 1; i < argc; i += 2) {
		const char *a = argv[i], *v = argv[i + 1];

		if (!v)
			return usage();
		if (strcmp(a, "--metadata") == 0)
			c->o.metadata_host = v;
		else if (strcmp(a, "--cloudstack") == 0)
			c->o.cloudstack_host = v;
		else if (strcmp(a, "--dhcp-server") == 0)
			c->o.dhcp_server = v;
		else if (strcmp(a, "--timeout") == 0)
			c->timeout_s = (unsigned)atoi(v);
		else if (strcmp(a, "--probe-ms") == 0)
			c->o.probe_ms = (unsigned)atoi(v);
		else if (strcmp(a, "--cmdline") == 0)
			c->cmdline = v;
		else if (strcmp(a, "--save") == 0)
			c->save = v;
		else if (strcmp(a, "--load") == 0)
			c->load = v;
		else if (strcmp(a, "--sources") == 0) {
			snprintf(word, sizeof(word), "cvmboot.context=%s", v);
			boot_cfg_cmdline_parse(cfg, word, strlen(word), log_stderr, NULL);
		} else if (strcmp(a, "--dir") == 0 && c->o.ndirs < DIRS_MAX) {
			if ((c->dirs[c->o.ndirs] = open_dir(v)) < 0)
				return 1;
			c->o.ndirs++;
		} else {
			return usage();
		}
	}
	boot_cfg_cmdline_parse(cfg, c->cmdline, strlen(c->cmdline), log_stderr, NULL);
	return 0;
}

/* The first-boot path: sources, section, optional save. Returns the status. */
static int run(struct cli *c, struct boot_cfg *cfg, struct boot_context *ctx, char *work,
	       char *fmt)
{
	struct net_http_client *http = calloc(1, sizeof(*http));
	const char *sec;
	size_t sl;
	int rc, fd;

	if (!http || net_http_client_init(http, "cvmboot-context") < 0) {
		free(http);
		return 1;
	}
	c->o.sources = cfg->context_sources;
	c->o.fetch = boot_context_http_fetch;
	c->o.fetch_arg = http;
	rc = boot_context_run(&c->o, boot_now_ms() + c->timeout_s * 1000ull, ctx);
	net_http_client_fini(http);
	free(http);
	if (rc < 0) {
		printf("source=none\n");
		return rc == -ENOENT ? 3 : 1;
	}
	printf("source=%s\nwhere=%s\nbytes=%zu\n", boot_ctx_src_str(ctx->src), ctx->where,
	       ctx->len);
	rc = boot_userdata_extract(ctx->data, ctx->len, cfg->useglideinwms, work,
				   BOOT_CONTEXT_WORK_MAX, &sec, &sl);
	printf("section=%d\n", rc);
	if (rc == 1)
		printf("keys=%d\n", boot_cfg_userdata_parse(cfg, sec, sl, log_stderr, NULL));
	if (c->save) {
		if ((fd = open_dir(c->save)) < 0)
			return 1;
		rc = boot_context_save(fd, ctx, cfg, fmt, BOOT_CONTEXT_WORK_MAX);
		close(fd);
		if (rc < 0) {
			fprintf(stderr, "cvmboot context-test: saving to %s: %s\n", c->save,
				strerror(-rc));
			return 1;
		}
	}
	print_result(cfg, fmt, BOOT_CONTEXT_WORK_MAX);
	return 0;
}

/* Later boots: the saved ucontext. Returns the status. */
static int load(struct cli *c, struct boot_cfg *cfg, struct boot_context *ctx, char *fmt)
{
	int fd = open_dir(c->load), rc;

	if (fd < 0)
		return 1;
	rc = boot_context_load(fd, cfg, ctx->data, ctx->cap, log_stderr, NULL);
	close(fd);
	printf("source=saved\nkeys=%d\n", rc);
	if (rc < 0)
		return rc == -ENOENT ? 3 : 1;
	print_result(cfg, fmt, BOOT_CONTEXT_WORK_MAX);
	return 0;
}

/* see context.h */
int boot_cli_context_test(int argc, char **argv)
{
	struct cli c = { .o = { .log = log_stderr, .wcap = BOOT_CONTEXT_WORK_MAX },
			 .cmdline = "", .timeout_s = 20 };
	struct boot_context ctx = { .cap = BOOT_CONTEXT_DATA_MAX };
	struct boot_cfg *cfg = calloc(1, sizeof(*cfg));
	char *work = malloc(BOOT_CONTEXT_WORK_MAX), *fmt = malloc(BOOT_CONTEXT_WORK_MAX);
	int status = 1;
	size_t i;

	ctx.data = malloc(BOOT_CONTEXT_DATA_MAX);
	c.o.dirfds = c.dirs;
	c.o.work = work;
	if (cfg && work && fmt && ctx.data) {
		boot_cfg_init(cfg);
		status = args_parse(&c, cfg, argc, argv);
		if (status == 0)
			status = c.load ? load(&c, cfg, &ctx, fmt) : run(&c, cfg, &ctx, work, fmt);
	}
	for (i = 0; i < c.o.ndirs; i++)
		close(c.dirs[i]);
	free(ctx.data);
	free(work);
	free(fmt);
	free(cfg);
	return status;
}
