/* SPDX-License-Identifier: MIT */
/* tests/lib/kexec-load.c: `kexec-load KERNEL INITRD CMDLINE` for the VM
 * tests' OS: what `systemctl kexec` does before the shutdown (kexec-tools'
 * kexec -s -l), with kexec_file_load. Built static by tests/lib/testos.py. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int kfd, ifd;

	if (argc != 4) {
		fprintf(stderr, "usage: kexec-load KERNEL INITRD CMDLINE\n");
		return 2;
	}
	kfd = open(argv[1], O_RDONLY);
	ifd = open(argv[2], O_RDONLY);
	if (kfd < 0 || ifd < 0) {
		perror(kfd < 0 ? argv[1] : argv[2]);
		return 1;
	}
	if (syscall(SYS_kexec_file_load, kfd, ifd, strlen(argv[3]) + 1, argv[3], 0UL) < 0) {
		perror("kexec_file_load");
		return 1;
	}
	return 0;
}
