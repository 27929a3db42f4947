/* SPDX-License-Identifier: MIT */
/* aufs-setup/cli.h: verbs of the host tool implemented in aufs-setup/cli.c
 * (build/cvmboot only), which the host tests drive. */
#ifndef AUFS_SETUP_CLI_H
#define AUFS_SETUP_CLI_H

/* Each returns the exit status (0 ok, 1 failure, 2 usage) and prints one
 * summary line; they need root and are meant for a private mount namespace. */
int aufs_cli_stack(int argc, char **argv);		/* aufs-stack RO PATH RW ROOT */
int aufs_cli_rebase(int argc, char **argv);		/* rebase NEWLOWER UPPER AUX */
int aufs_cli_merge_accounts(int argc, char **argv);	/* merge-accounts UP LOCAL AUX */
int aufs_cli_switch_root_test(int argc, char **argv);	/* chroot OLDROOT, switch, exec */
int aufs_cli_shutdown_test(int argc, char **argv);	/* shutdown steps, no reboot */

#endif
