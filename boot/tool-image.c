/* SPDX-License-Identifier: MIT */
/* boot/tool-image.c: `cvmboot mkimage`, the bootable ISO (isolinux, hybrid:
 * boots as CD and as disk) and the raw disk image (syslinux on FAT; the space
 * after the boot partition is left for the scratch file system). The boot
 * loaders and file-system tools are Debian's (isolinux, syslinux, xorriso,
 * mtools, dosfstools, fdisk); this verb only lays the files out. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "boot/tool.h"

#define IMG_ARGS_MAX 48
#define IMG_INITRD_MAX 8
/* The raw disk: an MBR, one FAT boot partition at 1 MiB holding the kernel,
 * the initrds and syslinux, sized to them: their bytes plus HDD_SLACK_PCT and
 * HDD_FIXED_KIB (ldlinux, FAT tables, directories), whole MiB, at least
 * HDD_MIN_MIB. The disk ends with the partition unless --hdd-size asks for more. */
#define HDD_SLACK_PCT 3
#define HDD_FIXED_KIB 512
#define HDD_MIN_MIB 2

extern char **environ;

static int run(char *const argv[])
{
	pid_t pid;
	int st, rc = posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ);

	if (rc != 0) {
		fprintf(stderr, "cvmboot mkimage: cannot run %s: %s (run make deps)\n", argv[0],
			strerror(rc));
		return -1;
	}
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "cvmboot mkimage: %s failed\n", argv[0]);
		return -1;
	}
	return 0;
}

static int copy(const char *src, const char *dst, int append)
{
	char buf[65536];
	int in = open(src, O_RDONLY | O_CLOEXEC), rc = 0;
	int out = open(dst, O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC), 0644);
	ssize_t n;

	if (in < 0 || out < 0) {
		fprintf(stderr, "cvmboot mkimage: %s: %s\n", in < 0 ? src : dst, strerror(errno));
		rc = -1;
		goto out;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n) {
			rc = -1;
			break;
		}
	if (n < 0)
		rc = -1;
out:
	if (in >= 0)
		close(in);
	if (out >= 0 && close(out) < 0)
		rc = -1;
	return rc;
}

static int write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f || fputs(text, f) == EOF || fclose(f) != 0) {
		fprintf(stderr, "cvmboot mkimage: cannot write %s\n", path);
		return -1;
	}
	return 0;
}

/* Every file and directory of the staged tree gets SOURCE_DATE_EPOCH as its
 * times: xorriso and mcopy record them, and two builds of the same inputs
 * must give the same image bytes. Unset: the times are left as they are. */
static struct timespec stamp_ts[2];

static int stamp_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return utimensat(AT_FDCWD, path, stamp_ts, AT_SYMLINK_NOFOLLOW) < 0 ? -1 : 0;
}

static int stamp_tree(const char *dir)
{
	const char *sde = getenv("SOURCE_DATE_EPOCH");

	if (!sde || !*sde)
		return 0;
	stamp_ts[0].tv_sec = stamp_ts[1].tv_sec = (time_t)strtoll(sde, NULL, 10);
	if (nftw(dir, stamp_one, 16, FTW_PHYS) != 0) {
		fprintf(stderr, "cvmboot mkimage: cannot set the times of %s: %s\n", dir,
			strerror(errno));
		return -1;
	}
	return 0;
}

static int usage(void)
{
	fprintf(stderr,
		"usage: cvmboot mkimage --kernel FILE --initrd FILE [--initrd FILE]...\n"
		"                       [--cmdline TEXT] (--iso OUT | --hdd OUT [--hdd-size MIB])\n"
		"  The initrds are concatenated (the kernel unpacks each archive).\n");
	return 2;
}

static int stage_tree(const char *dir, const char *kernel, char **initrds, int ninitrd,
		      const char *cfgname, const char *cmdline)
{
	char path[512], cfg[2048];
	int i;

	snprintf(path, sizeof(path), "%s/cvmboot", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/cvmboot/vmlinuz", dir);
	if (copy(kernel, path, 0) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/cvmboot/initrd.img", dir);
	for (i = 0; i < ninitrd; i++)
		if (copy(initrds[i], path, i > 0) < 0)
			return -1;
	snprintf(path, sizeof(path), "%s/.ucernvm_boot_loader", dir);
	if (write_text(path, "cvmboot " CVMBOOT_VERSION "\n") < 0)
		return -1;
	snprintf(cfg, sizeof(cfg),
		 "SERIAL 0 115200\nDEFAULT cvmboot\nPROMPT 0\nTIMEOUT 1\n"
		 "LABEL cvmboot\n  KERNEL /cvmboot/vmlinuz\n  INITRD /cvmboot/initrd.img\n"
		 "  APPEND %s\n", cmdline);
	snprintf(path, sizeof(path), "%s/%s", dir, cfgname);
	return write_text(path, cfg);
}

static int make_iso(const char *out, const char *kernel, char **initrds, int ninitrd,
		    const char *cmdline)
{
	char tmp[] = "/tmp/cvmboot-iso.XXXXXX", path[600];
	char *argv[IMG_ARGS_MAX];
	int n = 0, rc;

	if (!mkdtemp(tmp))
		return -1;
	snprintf(path, sizeof(path), "%s/isolinux", tmp);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/isolinux/isolinux.bin", tmp);
	rc = copy("/usr/lib/ISOLINUX/isolinux.bin", path, 0);
	snprintf(path, sizeof(path), "%s/isolinux/ldlinux.c32", tmp);
	if (rc == 0)
		rc = copy("/usr/lib/syslinux/modules/bios/ldlinux.c32", path, 0);
	if (rc == 0)
		rc = stage_tree(tmp, kernel, initrds, ninitrd, "isolinux/isolinux.cfg", cmdline);
	if (rc == 0)
		rc = stamp_tree(tmp);
	if (rc == 0) {
		char *a[] = { "xorriso", "-as", "mkisofs", "-quiet", "-o", (char *)out,
			      "-isohybrid-mbr", "/usr/lib/ISOLINUX/isohdpfx.bin",
			      "-c", "isolinux/boot.cat", "-b", "isolinux/isolinux.bin",
			      "-no-emul-boot", "-boot-load-size", "4", "-boot-info-table",
			      "-V", "CVMBOOT", "-J", "-R",
			      /* No 300 KiB tail pad and no rounding up to a whole
			       * 1 MiB "cylinder": the image ends with its data. */
			      "-no-pad", "-partition_cyl_align", "off", tmp, NULL };

		for (n = 0; a[n]; n++)
			argv[n] = a[n];
		argv[n] = NULL;
		rc = run(argv);
	}
	{
		char *rm[] = { "rm", "-rf", tmp, NULL };

		run(rm);
	}
	return rc;
}

/* The boot partition's size in MiB for these files. */
static unsigned hdd_boot_mib(const char *kernel, char **initrds, int ninitrd)
{
	unsigned long long sum = 0;
	struct stat st;
	unsigned mib;
	int i;

	for (i = -1; i < ninitrd; i++)
		if (stat(i < 0 ? kernel : initrds[i], &st) == 0)
			sum += (unsigned long long)st.st_size;
	sum += sum * HDD_SLACK_PCT / 100 + HDD_FIXED_KIB * 1024ULL;
	mib = (unsigned)((sum + (1 << 20) - 1) >> 20);
	return mib < HDD_MIN_MIB ? HDD_MIN_MIB : mib;
}

static int make_hdd(const char *out, const char *kernel, char **initrds, int ninitrd,
		    const char *cmdline, unsigned boot_mib, unsigned size_mib)
{
	char tmp[] = "/tmp/cvmboot-hdd.XXXXXX", part[600], tree[600], sfd[128], mib[32];
	char seek[32];
	int rc, fd;
	FILE *p;

	if (!mkdtemp(tmp))
		return -1;
	snprintf(part, sizeof(part), "%s/boot.fat", tmp);
	snprintf(tree, sizeof(tree), "%s/tree", tmp);
	mkdir(tree, 0755);
	rc = stage_tree(tree, kernel, initrds, ninitrd, "syslinux.cfg", cmdline);
	if (rc == 0)
		rc = stamp_tree(tree);
	snprintf(mib, sizeof(mib), "%u", boot_mib * 1024);
	if (rc == 0) {
		char *a[] = { "mkfs.vfat", "--invariant", "-C", "-n", "CVMBOOT", "-i", "cb007001",
			      part, mib, NULL };

		rc = run(a);
	}
	if (rc == 0) {
		char *a[] = { "mcopy", "-s", "-i", part, tree, "::", NULL };
		char src[640];

		/* mcopy copies the directory itself; copy its contents instead. */
		snprintf(src, sizeof(src), "%s/cvmboot", tree);
		a[4] = src;
		rc = run(a);
		snprintf(src, sizeof(src), "%s/syslinux.cfg", tree);
		if (rc == 0)
			rc = run(a);
		snprintf(src, sizeof(src), "%s/.ucernvm_boot_loader", tree);
		if (rc == 0)
			rc = run(a);
	}
	if (rc == 0) {
		char *a[] = { "syslinux", "--install", part, NULL };

		rc = run(a);
	}
	/* The disk: MBR (syslinux's boot code), one active FAT partition at 1 MiB. */
	if (rc == 0 && ((fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0 ||
			ftruncate(fd, (off_t)size_mib << 20) < 0 || close(fd) < 0))
		rc = -1;
	snprintf(sfd, sizeof(sfd), "sfdisk -q --no-reread --no-tell-kernel '%s' >/dev/null", out);
	if (rc == 0 && (p = popen(sfd, "w"))) {
		fprintf(p, "label: dos\nlabel-id: 0xcb007001\nstart=2048, size=%u, type=c, bootable\n",
			boot_mib * 2048);
		rc = pclose(p) == 0 ? 0 : -1;
	}
	snprintf(seek, sizeof(seek), "seek=%u", 1024 * 1024 / 512);
	if (rc == 0) {
		char of[640], ifp[640];
		char *a[] = { "dd", "status=none", "bs=512", "conv=notrunc", seek, ifp, of, NULL };

		snprintf(ifp, sizeof(ifp), "if=%s", part);
		snprintf(of, sizeof(of), "of=%s", out);
		rc = run(a);
	}
	if (rc == 0) {
		char of[640];
		char *a[] = { "dd", "status=none", "bs=440", "count=1", "conv=notrunc",
			      "if=/usr/lib/syslinux/mbr/mbr.bin", of, NULL };

		snprintf(of, sizeof(of), "of=%s", out);
		rc = run(a);
	}
	{
		char *rm[] = { "rm", "-rf", tmp, NULL };

		run(rm);
	}
	return rc;
}

/* see tool.h */
int boot_cli_mkimage(int argc, char **argv)
{
	char *initrds[IMG_INITRD_MAX];
	const char *kernel = NULL, *iso = NULL, *hdd = NULL, *cmdline = "console=ttyS0 quiet";
	unsigned size_mib = 0, boot_mib;
	int a, n = 0, rc;

	for (a = 1; a < argc; a++) {
		if (a + 1 >= argc)
			return usage();
		if (strcmp(argv[a], "--kernel") == 0)
			kernel = argv[++a];
		else if (strcmp(argv[a], "--initrd") == 0 && n < IMG_INITRD_MAX)
			initrds[n++] = argv[++a];
		else if (strcmp(argv[a], "--cmdline") == 0)
			cmdline = argv[++a];
		else if (strcmp(argv[a], "--iso") == 0)
			iso = argv[++a];
		else if (strcmp(argv[a], "--hdd") == 0)
			hdd = argv[++a];
		else if (strcmp(argv[a], "--hdd-size") == 0)
			size_mib = (unsigned)strtoul(argv[++a], NULL, 10);
		else
			return usage();
	}
	if (!kernel || !n || (!iso == !hdd))
		return usage();
	boot_mib = hdd_boot_mib(kernel, initrds, n);
	if (!size_mib)
		size_mib = boot_mib + 1;
	if (hdd && size_mib < boot_mib + 1) {
		fprintf(stderr, "cvmboot mkimage: --hdd-size %u MiB is too small for a %u MiB boot "
			"partition at 1 MiB: give at least %u, or leave --hdd-size out\n",
			size_mib, boot_mib, boot_mib + 1);
		return 2;
	}
	rc = iso ? make_iso(iso, kernel, initrds, n, cmdline)
		 : make_hdd(hdd, kernel, initrds, n, cmdline, boot_mib, size_mib);
	if (rc < 0) {
		unlink(iso ? iso : hdd);
		return 1;
	}
	return 0;
}
