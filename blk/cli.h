/* SPDX-License-Identifier: MIT */
/* blk/cli.h: verbs of the host tool implemented in blk/ (build/cvmboot only). */
#ifndef BLK_CLI_H
#define BLK_CLI_H

/* `cvmboot mkfs-scratch FILE-or-DEVICE [--size BYTES]` and `cvmboot
 * grow-scratch FILE-or-DEVICE`: the same code as PID 1's disk stage. Return
 * the exit status (0 ok, 1 error with the reason on stderr, 2 usage). */
int blk_cli_mkfs_scratch(int argc, char **argv);
int blk_cli_grow_scratch(int argc, char **argv);

#endif
