/* SPDX-License-Identifier: MIT */
/* tests/unit/tmpdir.h: one scratch directory per unit-test binary, made by
 * the group setup (tmp_setup) and removed with its contents by the group
 * teardown (tmp_teardown): cmocka_run_group_tests(tests, tmp_setup,
 * tmp_teardown). Include it after <cmocka.h>. */
#ifndef TESTS_UNIT_TMPDIR_H
#define TESTS_UNIT_TMPDIR_H

#include <stdio.h>
#include <stdlib.h>

static char tmpdir[64];

static int tmp_setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/cvmboot-unit.XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	return 0;
}

static int tmp_teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

#endif
