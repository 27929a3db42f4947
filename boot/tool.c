/* SPDX-License-Identifier: MIT */
/* boot/tool.c: main of the host tool build/cvmboot; a table of verbs. */
#include <stdio.h>
#include <string.h>

#include "boot/tool.h"
#include "boot/context.h"
#include "aufs-setup/cli.h"
#include "net/cli.h"
#include "cvmfs-lite/cli.h"
#include "cvmfs-pub/cvmfs-pub.h"
#include "blk/cli.h"

static const struct verb {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *help;
} verbs[] = {
	{ "aufs-stack", aufs_cli_stack, "mount the union root (overlay) as PID 1 does" },
	{ "rebase", aufs_cli_rebase, "resolve an overlay upper against a new snapshot" },
	{ "merge-accounts", aufs_cli_merge_accounts, "merge passwd/group/shadow/gshadow by name" },
	{ "switch-root-test", aufs_cli_switch_root_test, "switch_root from a stand-in initramfs" },
	{ "shutdown-test", aufs_cli_shutdown_test, "return-to-initramfs shutdown, no reboot" },
	{ "mkinitramfs", boot_cli_mkinitramfs, "pack the initramfs (newc cpio)" },
	{ "context-test", boot_cli_context_test, "fetch and parse user-data like the first boot" },
	{ "mkfs-scratch", blk_cli_mkfs_scratch, "partition and format a blank scratch disk (GPT + ext4 UROOT)" },
	{ "grow-scratch", blk_cli_grow_scratch, "grow the scratch partition and its ext4 to the disk's end" },
	{ "dhcp", net_cli_dhcp, "bring up NICs by DHCP (or ip=) like PID 1 does" },
	{ "mkimage", boot_cli_mkimage, "build the bootable ISO or raw disk image" },
	{ "sign-image", boot_cli_sign_image, "write an image's metadata and its signature" },
	{ "mkupdate", boot_cli_mkupdate, "build a boot-loader update for kexec/ on the scratch disk" },
	{ "geo-order", boot_cli_geo_order, "order repository servers by the Geo-API as PID 1 does" },
	{ "verify-image", boot_cli_verify_image, "check an image's signed metadata and files" },
	{ "mount", cvmfs_cli_mount, "mount a CernVM-FS repository (FUSE, read-only)" },
	{ "keygen", cvmfs_pub_cli_keygen, "make master + publisher keys and certificate for a repository" },
	{ "publish", cvmfs_pub_cli_publish, "publish a directory tree as a signed CernVM-FS repository" },
	{ "tag", cvmfs_pub_cli_tag, "list, add or remove named tags of a repository" },
	{ "gc", cvmfs_pub_cli_gc, "remove the objects no kept tag or revision of a repository needs" },
	{ "bundle", cvmfs_pub_cli_bundle, "pack a boot's objects into bundles fetched in one GET each" },
	{ "inspect", cvmfs_pub_cli_inspect, "show a repository; --verify checks every signature and object" },
	{ "fetch", boot_cli_fetch, "GET a URL (http/https, proxy) like PID 1 does" },
};

static int usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: cvmboot VERB [ARGS]  (cvmboot %s)\n", CVMBOOT_VERSION);
	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		fprintf(f, "  %-14s %s\n", verbs[i].name, verbs[i].help);
	return 2;
}

int main(int argc, char **argv)
{
	size_t i;

	if (argc < 2)
		return usage(stderr);
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)
		return usage(stdout), 0;
	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (strcmp(argv[1], verbs[i].name) == 0)
			return verbs[i].run(argc - 1, argv + 1);
	fprintf(stderr, "cvmboot: unknown verb '%s'; run 'cvmboot --help' for the list\n", argv[1]);
	return 2;
}
