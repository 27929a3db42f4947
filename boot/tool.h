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

/* `cvmboot sign-image`: metadata (version, sizes and SHA-256 of the image
 * files, kernel and initrds, the baked-in repository defaults) plus
 * META.sig, RSA SHA-256 with DIR/FQRN.masterkey. `cvmboot verify-image`
 * checks META.sig with FQRN.pub, then every listed file it finds. Exit
 * status as above (1 also for a bad signature or a mismatching file). */
int boot_cli_sign_image(int argc, char **argv);
int boot_cli_verify_image(int argc, char **argv);

/* `cvmboot geo-order`: the Geo-API server order PID 1 would use. */
int boot_cli_geo_order(int argc, char **argv);

/* `cvmboot mkupdate`: a kexec/ payload (kernel, initrd, apply). */
int boot_cli_mkupdate(int argc, char **argv);

#endif
