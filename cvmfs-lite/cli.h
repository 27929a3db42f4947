/* SPDX-License-Identifier: MIT */
/* cvmfs-lite/cli.h: verbs of the host tool implemented in cvmfs-lite/. */
#ifndef CVMFS_LITE_CLI_H
#define CVMFS_LITE_CLI_H

/* `cvmboot mount URL MOUNTPOINT --name FQRN --key PUB [...]`: verifies and
 * mounts a repository; without --foreground it returns once mounted and
 * leaves a daemon serving it (SIGTERM unmounts cleanly). Returns the exit
 * status (0 ok, 1 runtime error, 2 usage). */
int cvmfs_cli_mount(int argc, char **argv);

#endif
