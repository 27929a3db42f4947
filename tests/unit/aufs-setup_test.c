/* SPDX-License-Identifier: MIT */
/* tests/unit/aufs-setup_test.c: the account merge core, init= selection, path
 * checks and shutdown verbs (no root, no mounts: those are host tests). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/reboot.h>
#include <cmocka.h>

#include "aufs-setup/aufs-setup.h"
#include "aufs-setup/internal.h"

static void set_file(struct aufs_acct_file *f, const char *name, const char *text)
{
	f->name = name;
	f->present = 1;
	f->len = strlen(text);
	memcpy(f->buf, text, f->len + 1);
}

static struct aufs_acct_work *work_new(void)
{
	struct aufs_acct_work *w = calloc(1, sizeof(*w));

	assert_non_null(w);
	return w;
}

static int parse(struct aufs_acct_file *f, enum aufs_acct_kind k, const char *text, char *why)
{
	set_file(f, "etc/x", text);
	return aufs_acct_parse(f, k, why, AUFS_WHY_MAX);
}

static void parse_errors_name_file_and_line(void **state)
{
	struct aufs_acct_work *w = work_new();
	struct aufs_acct_file *f = &w->up[0];
	char why[AUFS_WHY_MAX];

	(void)state;
	assert_int_equal(parse(f, AUFS_PASSWD, "root:x:0:0:r:/root:/bin/sh\n\nbad:x:1\n", why),
			 -EBADMSG);
	assert_string_equal(why, "etc/x:3: expected 7 fields separated by ':'; fix or remove the line");
	assert_int_equal(parse(f, AUFS_GROUP, "g:x:-1:\n", why), -EBADMSG);
	assert_string_equal(why, "etc/x:1: id '-1' is not a number");
	assert_int_equal(parse(f, AUFS_GROUP, "g:x:4294967295:\n", why), -EBADMSG);
	assert_int_equal(parse(f, AUFS_GROUP, "g:x:1:\r\n", why), -EBADMSG);
	assert_non_null(strstr(why, "CR"));
	assert_int_equal(parse(f, AUFS_SHADOW, "a:*:1:0:9:7:::\na:*:1:0:9:7:::\n", why), -EBADMSG);
	assert_string_equal(why, "etc/x:2: duplicate name 'a'");
	assert_int_equal(parse(f, AUFS_GROUP, ":x:1:\n", why), -EBADMSG);
	/* Comments, NIS lines and a last line without newline are fine. */
	assert_int_equal(parse(f, AUFS_GROUP, "# c\n+nis\ng:x:1:a,b", why), 0);
	assert_int_equal(f->n, 3);
	assert_int_equal(f->l[2].id, 1);
	assert_string_equal(f->l[2].f[3], "a,b");
	free(w);
}

static void merge(struct aufs_acct_work *w, const char *const up[4], const char *const loc[4],
		  struct aufs_acct_stats *st)
{
	char why[AUFS_WHY_MAX];
	int k;

	memset(st, 0, sizeof(*st));
	for (k = 0; k < AUFS_NKIND; k++) {
		set_file(&w->up[k], "up", up[k]);
		set_file(&w->loc[k], "loc", loc[k]);
		assert_int_equal(aufs_acct_parse(&w->up[k], k, why, sizeof(why)), 0);
		assert_int_equal(aufs_acct_parse(&w->loc[k], k, why, sizeof(why)), 0);
	}
	assert_int_equal(aufs_acct_merge(w, st), 0);
}

static const char *fmt(struct aufs_acct_work *w, enum aufs_acct_kind k)
{
	ssize_t n = aufs_acct_fmt(w, k, w->out, sizeof(w->out), NULL);

	assert_true(n >= 0);
	w->out[n] = '\0';
	return w->out;
}

static void merge_remaps_conflicts_keeps_aliases(void **state)
{
	static const char *const up[4] = {
		"root:x:0:0::/root:/bin/sh\ntoor:x:0:0::/root:/bin/sh\n"
		"svc:x:120:120::/:/bin/false\nnew:x:121:121::/:/bin/false\n",
		"root:x:0:\nsvc:x:120:\nnew:x:121:x\n",
		"root:UP:1::::::\ntoor:*:1::::::\nnew:!:1::::::\n",
		"root:*::\nnew:!::x\n",
	};
	static const char *const loc[4] = {
		"root:x:0:0::/root:/bin/sh\nsvc:x:121:121::/:/bin/false\n",
		"root:x:0:\nsvc:x:121:\n",
		"root:LOCAL:1::::::\n",
		"root:*::\n",
	};
	struct aufs_acct_work *w = work_new();
	struct aufs_acct_stats st;
	char m[64];

	(void)state;
	merge(w, up, loc, &st);
	/* svc keeps its local 121; upstream "new" wanted 121 and gets 122
	 * (121 is svc's locally, 120 is upstream's svc, so the next one up). */
	assert_string_equal(fmt(w, AUFS_PASSWD), "root:x:0:0::/root:/bin/sh\nsvc:x:121:121::/:/bin/false\n"
			    "toor:x:0:0::/root:/bin/sh\nnew:x:122:122::/:/bin/false\n");
	assert_string_equal(fmt(w, AUFS_GROUP), "root:x:0:\nsvc:x:121:\nnew:x:122:x\n");
	assert_string_equal(fmt(w, AUFS_SHADOW), "root:LOCAL:1::::::\ntoor:*:1::::::\nnew:!:1::::::\n");
	assert_string_equal(fmt(w, AUFS_GSHADOW), "root:*::\nnew:!::x\n");
	assert_int_equal(aufs_acct_map_fmt(&w->umap, m, sizeof(m)), 16);
	m[16] = '\0';
	assert_string_equal(m, "120 121\n121 122\n");
	assert_int_equal(st.users_added, 2);
	assert_int_equal(st.uids_mapped, 2);
	free(w);
}

static void merge_members_union_without_duplicates(void **state)
{
	static const char *const up[4] = { "", "g:x:5:a,b,c\nh:x:6:\n", "", "g:*:adm:a,c\n" };
	static const char *const loc[4] = { "", "g:x:5:b,d\nh:x:6:z\n", "", "g:*::d\n" };
	struct aufs_acct_work *w = work_new();
	struct aufs_acct_stats st;
	unsigned members = 0;
	ssize_t n;

	(void)state;
	merge(w, up, loc, &st);
	n = aufs_acct_fmt(w, AUFS_GROUP, w->out, sizeof(w->out), &members);
	assert_true(n > 0);
	w->out[n] = '\0';
	assert_string_equal(w->out, "g:x:5:b,d,a,c\nh:x:6:z\n");
	assert_int_equal(members, 2);
	assert_string_equal(fmt(w, AUFS_GSHADOW), "g:*:adm:d,a,c\n");
	assert_int_equal(w->gmap.n, 0);
	free(w);
}

static void init_path_from_cmdline(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(aufs_init_path(NULL, out, sizeof(out)), 0);
	assert_string_equal(out, "/sbin/init");
	assert_int_equal(aufs_init_path("quiet init=/bin/a x init=/lib/systemd/systemd", out,
					sizeof(out)), 0);
	assert_string_equal(out, "/lib/systemd/systemd");
	assert_int_equal(aufs_init_path("init=bin/sh", out, sizeof(out)), -EINVAL);
	assert_int_equal(aufs_init_path("init=/very/long/path", out, 8), -ENAMETOOLONG);
	assert_int_equal(aufs_init_path("noinit=/x", out, sizeof(out)), 0);
	assert_string_equal(out, "/sbin/init");
}

static void paths_and_verbs(void **state)
{
	int cmd;

	(void)state;
	assert_int_equal(aufs_path_check("cvm4"), 0);
	assert_int_equal(aufs_path_check("a/b/c"), 0);
	assert_int_equal(aufs_path_check("a/../b"), -EINVAL);
	assert_int_equal(aufs_path_check(".."), -EINVAL);
	assert_int_equal(aufs_path_check("/abs"), -EINVAL);
	assert_int_equal(aufs_path_check("a,b"), -EINVAL);
	assert_int_equal(aufs_path_check("a:b"), -EINVAL);
	assert_int_equal(aufs_path_check("a..b"), 0);
	assert_true(aufs_path_under("etc", "etc"));
	assert_true(aufs_path_under("etc/x", "etc"));
	assert_false(aufs_path_under("etcetera", "etc"));
	assert_int_equal(aufs_shutdown_cmd_parse("reboot", &cmd), 0);
	assert_int_equal(cmd, RB_AUTOBOOT);
	assert_int_equal(aufs_shutdown_cmd_parse("kexec", &cmd), 0);
	assert_int_equal(cmd, RB_KEXEC);
	assert_int_equal(aufs_shutdown_cmd_parse("suspend", &cmd), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parse_errors_name_file_and_line),
		cmocka_unit_test(merge_remaps_conflicts_keeps_aliases),
		cmocka_unit_test(merge_members_union_without_duplicates),
		cmocka_unit_test(init_path_from_cmdline),
		cmocka_unit_test(paths_and_verbs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
