/* SPDX-License-Identifier: MIT */
/* net/cli.h: verbs of the host tool implemented in net/ (build/cvmboot only). */
#ifndef NET_CLI_H
#define NET_CLI_H

/* `cvmboot dhcp IFACE... [--timeout S] ...`: runs net_up on the named NICs
 * and prints the lease as key=value lines. Returns the exit status: 0 lease
 * applied, 1 failure (reason on stderr), 2 usage. */
int net_cli_dhcp(int argc, char **argv);

#endif
