/* SPDX-License-Identifier: MIT */
/* fuzz_userdata: user-data as a metadata service or config drive hands it
 * over: boot_userdata_extract (plain, gzip, MIME multipart with base64/gzip
 * parts, glideinWMS) with and without useglideinwms, then the section text
 * through boot_cfg_userdata_parse, its _fmt round trip, and
 * boot_cfg_repo_resolve. The section must lie inside data or work. */
#include "tests/fuzz/fuzz.h"
#include "boot/config.h"
#include "boot/context.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	static char work[BOOT_CONTEXT_WORK_MAX];
	static char fmt[BOOT_CONTEXT_DATA_MAX + 8192];
	static struct boot_cfg cfg, cfg2;
	const char *sec;
	size_t seclen;
	char *data;
	long w;

	if (n > BOOT_CONTEXT_DATA_MAX)
		return 0;
	data = malloc(n ? n : 1);
	memcpy(data, d, n);
	for (int glide = 0; glide < 2; glide++) {
		sec = NULL;
		seclen = 0;
		if (boot_userdata_extract(data, n, glide, work, sizeof(work), &sec, &seclen) != 1)
			continue;
		if (!((sec >= data && sec + seclen <= data + n) ||
		      (sec >= work && sec + seclen <= work + sizeof(work))))
			abort();	/* the section points outside both buffers */
		boot_cfg_init(&cfg);
		boot_cfg_userdata_parse(&cfg, sec, seclen, NULL, NULL);
		w = boot_cfg_userdata_fmt(&cfg, 1, fmt, sizeof(fmt));
		if (w >= 0) {
			boot_cfg_init(&cfg2);
			boot_cfg_userdata_parse(&cfg2, fmt, (size_t)w, NULL, NULL);
		}
	}
	free(data);
	return 0;
}
