/* SPDX-License-Identifier: MIT */
/* boot/tool.c: main of the host tool build/cvmboot; a table of verbs. */
#include <stdio.h>
#include <string.h>

#include "boot/tool.h"

static const struct verb {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *help;
} verbs[] = {
	{ "mkinitramfs", boot_cli_mkinitramfs, "pack the initramfs (newc cpio)" },
	{ "mkimage", boot_cli_mkimage, "build the bootable ISO or raw disk image" },
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
