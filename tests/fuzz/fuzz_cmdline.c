/* SPDX-License-Identifier: MIT */
/* fuzz_cmdline: the kernel command line (/proc/cmdline): boot_cfg_cmdline_parse
 * and the ip= value through net_static_parse_ip. */
#include "tests/fuzz/fuzz.h"
#include "boot/config.h"
#include "net/internal.h"

static void ignore(void *arg, const char *msg)
{
	if (!msg || strlen(msg) > 4096)
		abort();	/* log lines are one bounded line */
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	static struct boot_cfg cfg;
	static struct net_static st;
	char err[128], *line, *s;

	if (n > 4096)
		return 0;	/* COMMAND_LINE_SIZE */
	line = malloc(n ? n : 1);
	memcpy(line, d, n);
	boot_cfg_init(&cfg);
	boot_cfg_cmdline_parse(&cfg, line, n, ignore, NULL);
	free(line);
	s = fuzz_strdup(d, n);
	memset(&st, 0, sizeof(st));
	net_static_parse_ip(s, &st, err, sizeof(err));
	free(s);
	return 0;
}
