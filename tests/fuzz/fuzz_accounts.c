/* SPDX-License-Identifier: MIT */
/* fuzz_accounts: the account files of a new OS snapshot and of the upper
 * layer, as the account merge reads them: aufs_acct_parse for each, then
 * aufs_acct_merge and aufs_acct_fmt of every kind. Input: up to eight
 * parts separated by "\n--8<--\n": upstream passwd, group, shadow,
 * gshadow, then local passwd, group, shadow, gshadow (a missing part is an
 * absent file). */
#include "tests/fuzz/fuzz.h"
#include "aufs-setup/aufs-setup.h"
#include "aufs-setup/internal.h"

static void load(struct aufs_acct_file *f, const char *name, const uint8_t *d, size_t n,
		 int present)
{
	f->name = name;
	f->present = present;
	f->len = n;
	memcpy(f->buf, d, n);
	f->buf[n] = 0;	/* aufs_read_file NUL-terminates */
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	static struct aufs_acct_work w;
	struct aufs_acct_stats st;
	const uint8_t *part[2 * AUFS_NKIND];
	size_t len[2 * AUFS_NKIND], np;
	char why[AUFS_WHY_MAX];

	np = fuzz_split_n(d, n, part, len, 2 * AUFS_NKIND);
	for (size_t i = 0; i < 2 * AUFS_NKIND; i++)
		if (len[i] >= AUFS_ACCT_BYTES_MAX)
			return 0;	/* aufs_read_file refuses those with -E2BIG */
	memset(&w, 0, sizeof(w));
	for (int k = 0; k < AUFS_NKIND; k++) {
		load(&w.up[k], "up", part[k], len[k], (size_t)k < np);
		load(&w.loc[k], "loc", part[AUFS_NKIND + k], len[AUFS_NKIND + k],
		     (size_t)(AUFS_NKIND + k) < np);
		if (!w.loc[k].present && w.up[k].present)	/* as accounts-io.c does */
			load(&w.loc[k], "up", part[k], len[k], 1);
		if (w.up[k].present && aufs_acct_parse(&w.up[k], k, why, sizeof(why)) < 0)
			return 0;	/* the merge only runs on files that parsed */
		if (w.loc[k].present && aufs_acct_parse(&w.loc[k], k, why, sizeof(why)) < 0)
			return 0;
	}
	memset(&st, 0, sizeof(st));
	if (aufs_acct_merge(&w, &st) < 0)
		return 0;
	for (int k = 0; k < AUFS_NKIND; k++) {
		unsigned members = 0;
		ssize_t r = aufs_acct_fmt(&w, k, w.out, sizeof(w.out), &members);

		if (r > (ssize_t)sizeof(w.out))
			abort();
	}
	return 0;
}
