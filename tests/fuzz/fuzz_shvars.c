/* SPDX-License-Identifier: MIT */
/* fuzz_shvars: OpenNebula context.sh (config drive) as PID 1 reads it:
 * boot_shvars_parse, boot_shvars_get, boot_context_one_net, then the ETH0_*
 * pairs through net_static_parse_ctx, and EC2_USER_DATA / USER_DATA through
 * boot_base64_decode and boot_userdata_extract. */
#include "tests/fuzz/fuzz.h"
#include "boot/config.h"
#include "boot/context.h"
#include "net/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	static char work[BOOT_CONTEXT_WORK_MAX];
	static char dec[BOOT_CONTEXT_DATA_MAX];
	static struct net_static st;
	struct net_kv kv[32];
	struct boot_shvars v;
	const char *ud, *sec;
	size_t nkv, seclen;
	char *text, err[128];
	ssize_t dn;

	if (n > BOOT_CONTEXT_DATA_MAX)
		return 0;
	text = malloc(n ? n : 1);
	memcpy(text, d, n);
	v.cap = n + 16;		/* small on purpose: -ENOSPC paths run too */
	v.buf = malloc(v.cap);
	v.len = 0;
	if (boot_shvars_parse(&v, text, n) >= 0) {
		nkv = boot_context_one_net(&v, kv, 32);
		if (nkv > 32)
			abort();
		memset(&st, 0, sizeof(st));
		net_static_parse_ctx(kv, nkv, &st, err, sizeof(err));
		ud = boot_shvars_get(&v, "EC2_USER_DATA");
		if (!ud)
			ud = boot_shvars_get(&v, "USER_DATA");
		if (ud && (dn = boot_base64_decode(ud, strlen(ud), dec, sizeof(dec))) >= 0)
			boot_userdata_extract(dec, (size_t)dn, 1, work, sizeof(work), &sec,
					      &seclen);
	}
	free(v.buf);
	free(text);
	return 0;
}
