/* SPDX-License-Identifier: MIT */
/* boot/tool.h: verbs of the host tool build/cvmboot implemented in boot/. */
#ifndef BOOT_TOOL_H
#define BOOT_TOOL_H

/* `cvmboot mkinitramfs`: writes the uncompressed newc archive. Returns the
 * process exit status (0 ok, 1 runtime error, 2 usage). */
int boot_cli_mkinitramfs(int argc, char **argv);

/* `cvmboot mkimage`: ISO (isolinux, hybrid) or raw disk (syslinux on FAT)
 * from a kernel and initrd archives. Exit status as above. */
int boot_cli_mkimage(int argc, char **argv);

/* `cvmboot fetch URL`: one GET (http or https, optionally through a proxy)
 * with net/http and the tls transport, body to a file or stdout. Exit status
 * as above; TLS refusals print their reason. */
int boot_cli_fetch(int argc, char **argv);

#endif
