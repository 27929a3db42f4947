/* SPDX-License-Identifier: MIT */
/* aufs-setup/cli.c: host tool verbs that expose the module to the host tests
 * (run them as root in a private mount namespace). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "aufs-setup/aufs-setup.h"
#include "aufs-setup/cli.h"

static const char *stamp_now(char *buf, size_t len)
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y%m%dT%H%M%SZ", &tm);
	return buf;
}

/* Takes "--stamp S" from the end of argv; returns the new argc. */
static int opt_stamp(int argc, char **argv, const char **stamp, char *buf, size_t len)
{
	*stamp = stamp_now(buf, len);
	if (argc >= 3 && strcmp(argv[argc - 2], "--stamp") == 0) {
		*stamp = argv[argc - 1];
		return argc - 2;
	}
	return argc;
}

/* see aufs-setup.h */
int aufs_cli_stack(int argc, char **argv)
{
	struct aufs_stack_cfg cfg;
	struct aufs_stack_info info;
	const char *extra = NULL;
	int rc, legacy = 0;

	/* Trailing options in any order: --legacy-mount, --extra-opt K=V. */
	for (;;) {
		if (argc > 1 && strcmp(argv[argc - 1], "--legacy-mount") == 0)
			legacy = 1, argc--;
		else if (argc > 2 && strcmp(argv[argc - 2], "--extra-opt") == 0)
			extra = argv[argc - 1], argc -= 2;
		else
			break;
	}
	if (argc != 5 && !(argc == 7 && strcmp(argv[5], "--prepare-initramfs") == 0)) {
		fprintf(stderr, "usage: cvmboot aufs-stack RO CERNVM_PATH RW ROOT "
				"[--prepare-initramfs SELF] [--legacy-mount] [--extra-opt K=V]\n");
		return 2;
	}
	cfg = (struct aufs_stack_cfg){ argv[1], argv[2], argv[3], argv[4], legacy, extra };
	if ((rc = aufs_stack_run(&cfg, &info)) < 0) {
		fprintf(stderr, "cvmboot: aufs-stack: %s: %s\n", info.why, strerror(-rc));
		return 1;
	}
	printf("overlay on %s (%s): %s\n", argv[4], info.new_api ? "fsopen" : "mount(2)", info.opts);
	if (argc == 7) {
		char run[AUFS_PATH_MAX];

		snprintf(run, sizeof(run), "%s/run", argv[4]);
		if ((rc = aufs_initramfs_prepare(run, argv[6])) < 0) {
			fprintf(stderr, "cvmboot: aufs-stack: prepare %s/initramfs: %s\n", run,
				strerror(-rc));
			return 1;
		}
	}
	return 0;
}

/* see aufs-setup.h */
int aufs_cli_rebase(int argc, char **argv)
{
	static char work[1 << 20];
	struct aufs_rebase_stats st;
	struct aufs_rebase_cfg cfg;
	char sb[32];
	int rc;

	argc = opt_stamp(argc, argv, &cfg.stamp, sb, sizeof(sb));
	if (argc != 4) {
		fprintf(stderr, "usage: cvmboot rebase NEWLOWER UPPER AUXDIR [--stamp STAMP]\n");
		return 2;
	}
	cfg.lower = argv[1], cfg.upper = argv[2], cfg.aux = argv[3];
	printf("upper has changes: %d\n", aufs_upper_has_changes(cfg.upper));
	rc = aufs_rebase_run(&cfg, work, sizeof(work), &st);
	printf("visited %lu kept %lu removed %lu whiteouts %lu opaques %lu saved %lu\n",
	       st.visited, st.kept, st.removed, st.whiteouts, st.opaques, st.saved);
	if (rc < 0) {
		fprintf(stderr, "cvmboot: rebase: %s: %s\n", st.why, strerror(-rc));
		return 1;
	}
	return 0;
}

/* see aufs-setup.h */
int aufs_cli_merge_accounts(int argc, char **argv)
{
	struct aufs_acct_stats st;
	struct aufs_acct_cfg cfg;
	struct aufs_acct_work *w;
	char sb[32];
	int rc;

	argc = opt_stamp(argc, argv, &cfg.stamp, sb, sizeof(sb));
	if (argc != 4) {
		fprintf(stderr, "usage: cvmboot merge-accounts UPSTREAM_ETC LOCAL_ETC AUXDIR "
				"[--stamp STAMP]\n");
		return 2;
	}
	cfg.upstream_etc = argv[1], cfg.local_etc = argv[2], cfg.aux = argv[3];
	if (!(w = malloc(aufs_acct_work_size())))
		return 1;
	rc = aufs_acct_merge_run(&cfg, w, &st);
	free(w);
	if (rc < 0) {
		fprintf(stderr, "cvmboot: merge-accounts: %s (%s); nothing was changed\n", st.why,
			strerror(-rc));
		return 1;
	}
	printf("merged %d users added %u groups added %u uids mapped %u gids mapped %u "
	       "members %u\n", st.merged, st.users_added, st.groups_added, st.uids_mapped,
	       st.gids_mapped, st.members_added);
	return 0;
}

/* see aufs-setup.h */
int aufs_cli_switch_root_test(int argc, char **argv)
{
	const char *moves[8] = { NULL };
	int keep[8], i, nm = 0, rc;
	struct aufs_switch_cfg cfg = { .moves = moves, .keep_fds = keep };
	struct aufs_switch_stats st;

	for (i = 3; i < argc && strcmp(argv[i], "--") != 0; i += 2) {
		if (i + 1 >= argc)
			break;
		if (strcmp(argv[i], "--keep") == 0 && cfg.nkeep < 8)
			keep[cfg.nkeep++] = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--move") == 0 && nm < 7)
			moves[nm++] = argv[i + 1];
	}
	if (argc < 3 || i + 1 >= argc) {
		fprintf(stderr, "usage: cvmboot switch-root-test OLDROOT NEWROOT [--keep FD] "
				"[--move DIR] -- INIT [ARGS]\n");
		return 2;
	}
	/* Stand in for the initramfs: OLDROOT becomes "/" of this process. */
	if (chroot(argv[1]) < 0 || chdir("/") < 0) {
		perror("cvmboot: switch-root-test: chroot");
		return 1;
	}
	cfg.newroot = argv[2];
	if ((rc = aufs_switch_root_prepare(&cfg, &st)) < 0) {
		fprintf(stderr, "cvmboot: switch-root-test: %s\n", strerror(-rc));
		return 1;
	}
	fprintf(stderr, "switch-root: deleted %lu skipped %lu moved %u detached %u ramfs %d\n",
		st.deleted, st.skipped, st.moved, st.detached, st.old_was_ramfs);
	execv(argv[i + 1], argv + i + 1);
	fprintf(stderr, "cvmboot: switch-root-test: exec %s: %s\n", argv[i + 1], strerror(errno));
	return 1;
}

/* see aufs-setup.h */
int aufs_cli_shutdown_test(int argc, char **argv)
{
	struct aufs_shutdown_cfg cfg = { .log_fd = 2 };
	struct aufs_shutdown_stats st;
	int rc, cmd;

	if (argc != 3 || aufs_shutdown_cmd_parse(argv[2], &cmd) < 0) {
		fprintf(stderr, "usage: cvmboot shutdown-test OLDROOT poweroff|reboot|halt|kexec\n"
				"  (does everything but the reboot(2) call)\n");
		return 2;
	}
	cfg.oldroot = argv[1];
	cfg.deadline_ms = 0;
	{
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		cfg.deadline_ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000 + 5000;
	}
	rc = aufs_shutdown_run(&cfg, &st);
	printf("unmounted %u detached %u signalled %u overlay_ro %d scratch_ro %d cmd %#x\n",
	       st.unmounted, st.detached, st.signalled, st.overlay_ro, st.scratch_ro, cmd);
	return rc < 0 ? 1 : 0;
}
