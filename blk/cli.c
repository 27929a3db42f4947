/* SPDX-License-Identifier: MIT */
/* blk/cli.c: host verbs `cvmboot mkfs-scratch` and `cvmboot grow-scratch` (same code as PID 1). */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <linux/loop.h>

#include "blk/cli.h"
#include "blk/internal.h"

#define NODE_WAIT_MS 10000

/* "20G", "512M", "1048576": bytes, or 0 on a malformed number. */
static uint64_t parse_size(const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	int shift = 0;

	switch (*end) {
	case 'K': case 'k': shift = 10; end++; break;
	case 'M': case 'm': shift = 20; end++; break;
	case 'G': case 'g': shift = 30; end++; break;
	case 'T': case 't': shift = 40; end++; break;
	}
	if (*end || end == s || v > (~0ull >> shift))
		return 0;
	return (uint64_t)v << shift;
}

static int fail(const char *verb, const struct blk_ctx *c, int rc)
{
	char buf[BLK_WHAT_MAX + 96];

	if (c->why != BLK_WHY_NONE)
		fprintf(stderr, "cvmboot %s: %s\n", verb, blk_ctx_str(c, buf, sizeof(buf)));
	else
		fprintf(stderr, "cvmboot %s: %s\n", verb, strerror(-rc));
	return 1;
}

/* Creates FILE sparse with size bytes if it is missing or empty. */
static int make_file(const char *path, uint64_t size)
{
	struct stat st;
	int fd;

	if (stat(path, &st) == 0 && !(S_ISREG(st.st_mode) && st.st_size == 0)) {
		if (S_ISREG(st.st_mode) && (uint64_t)st.st_size == size)
			return 0;
		fprintf(stderr, "cvmboot mkfs-scratch: %s exists (%lld bytes); --size only creates "
			"a new image file\n", path, (long long)st.st_size);
		return -EEXIST;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0 || ftruncate(fd, (off_t)size) < 0) {
		fprintf(stderr, "cvmboot mkfs-scratch: %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	close(fd);
	return 0;
}

/* The scratch for a path: disk name for sysfs (a block device's kernel name)
 * and devdir "/dev"; for an image file the name is only used in messages. */
static void target(const char *path, struct blk_cfg *cfg, struct blk_scratch *sc)
{
	char real[PATH_MAX];
	const char *base;
	struct stat st;

	/* /dev/disk/by-id/... links: sysfs knows the kernel's name only. */
	if (stat(path, &st) == 0 && S_ISBLK(st.st_mode) && realpath(path, real))
		path = real;
	base = strrchr(path, '/');

	memset(sc, 0, sizeof(*sc));
	snprintf(sc->disk, sizeof(sc->disk), "%.31s", base ? base + 1 : path);
	snprintf(sc->disk_path, sizeof(sc->disk_path), "%.159s", path);
	cfg->sysfs = "/sys";
	cfg->devdir = "/dev";
}

static int find_scratch(struct blk_ctx *c, const char *path, struct blk_scratch *sc);

/* see blk.h */
int blk_cli_mkfs_scratch(int argc, char **argv)
{
	struct blk_cfg cfg = BLK_CFG_DEFAULT;
	struct blk_ctx c = { 0 };
	struct blk_scratch sc;
	const char *path = NULL;
	uint64_t size = 0;
	int a, rc;

	for (a = 1; a < argc; a++) {
		if (strcmp(argv[a], "--size") == 0 && a + 1 < argc && (size = parse_size(argv[a + 1])))
			a++;
		else if (strcmp(argv[a], "--cap-20g") == 0)
			cfg.resize_rootfs = 0;
		else if (strcmp(argv[a], "--no-64bit") == 0)
			cfg.no_64bit = 1;
		else if (argv[a][0] != '-' && !path)
			path = argv[a];
		else
			path = NULL, a = argc;
	}
	if (!path) {
		fprintf(stderr, "usage: cvmboot mkfs-scratch FILE-or-DEVICE [--size BYTES[KMGT]] "
				"[--cap-20g] [--no-64bit]\n  Writes a GPT and an ext4 labelled UROOT (the cvmboot "
				"scratch disk); refuses anything not blank.\n  --size creates the "
				"image file sparse; --cap-20g is resize_rootfs=off;\n  --no-64bit makes "
				"32-byte group descriptors (tests; < 16 TiB).\n");
		return 2;
	}
	if (size && make_file(path, size) < 0)
		return 1;
	if (!size && access(path, F_OK) < 0) {
		fprintf(stderr, "cvmboot mkfs-scratch: %s does not exist; add --size BYTES to create "
			"an image file\n", path);
		return 1;
	}
	target(path, &cfg, &sc);
	if (find_scratch(&c, path, &sc) == 0) {
		fprintf(stderr, "cvmboot mkfs-scratch: %s already holds a cvmboot scratch file "
			"system (ext4 %s on partition %u); nothing done\n", path, BLK_LABEL, sc.partno);
		return 1;
	}
	memset(&c, 0, sizeof(c));
	target(path, &cfg, &sc);
	sc.kind = BLK_KIND_BLANK_DISK;
	rc = blk_scratch_prepare(&c, &cfg, &sc, blk_now_ms() + NODE_WAIT_MS);
	if (rc < 0)
		return fail("mkfs-scratch", &c, rc);
	printf("%s: GPT, partition %u (%s) at byte %llu, %llu bytes, ext4 %s\n", path, sc.partno,
	       sc.part[0] ? sc.part_path : "image file", (unsigned long long)sc.start,
	       (unsigned long long)sc.len, BLK_LABEL);
	return 0;
}

/* Attaches file to a free loop device with partition support; it detaches
 * by itself once unmounted and closed (LO_FLAGS_AUTOCLEAR). Returns its fd. */
static int loop_attach(const char *file, char *dev, size_t len)
{
	struct loop_config lc;
	int cfd, n, ffd, fd = -1, tries;

	ffd = open(file, O_RDWR | O_CLOEXEC);
	if (ffd < 0)
		return -errno;
	for (tries = 0; tries < 5 && fd < 0; tries++) {
		cfd = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
		n = cfd < 0 ? -1 : ioctl(cfd, LOOP_CTL_GET_FREE);
		if (cfd >= 0)
			close(cfd);
		if (n < 0)
			break;
		snprintf(dev, len, "/dev/loop%d", n);
		fd = open(dev, O_RDWR | O_CLOEXEC);
		memset(&lc, 0, sizeof(lc));
		lc.fd = (uint32_t)ffd;
		lc.info.lo_flags = LO_FLAGS_PARTSCAN | LO_FLAGS_AUTOCLEAR;
		/* EBUSY: another process took the device between GET_FREE and here. */
		if (fd >= 0 && ioctl(fd, LOOP_CONFIGURE, &lc) < 0) {
			close(fd);
			fd = errno == EBUSY ? -1 : -errno;
			if (fd != -1)
				break;
		}
	}
	close(ffd);
	return fd < 0 ? (fd == -1 ? -EBUSY : fd) : fd;
}

/* Our UROOT partition on the disk (or image) at path. */
static int find_scratch(struct blk_ctx *c, const char *path, struct blk_scratch *sc)
{
	struct blk_table t;
	char label[17];
	uint64_t bytes, blocks;
	uint32_t sector;
	unsigned i;
	int is_blk, rc, fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return blk_fail_io(c, -errno, "open", path);
	rc = blk_fd_geometry(fd, &bytes, &sector, &is_blk);
	if (rc == 0)
		rc = blk_table_read(c, fd, bytes, sector, &t);
	for (i = 0; rc == 0 && i < t.n && !sc->partno; i++) {
		if (blk_ext4_probe(fd, t.part[i].start, label, &blocks) == 0 &&
		    !strcmp(label, BLK_LABEL)) {
			sc->partno = t.part[i].no;
			sc->start = t.part[i].start;
			sc->len = t.part[i].len;
		}
	}
	close(fd);
	if (rc == 0 && !sc->partno)
		rc = blk_fail(c, BLK_WHY_NOT_SCRATCH, -ENOENT, "%s: no partition with an ext4 "
			      "labelled " BLK_LABEL " (make one with cvmboot mkfs-scratch)", path);
	return rc;
}

/* The grow itself, on a block device: the node of the partition appears via
 * BLKPG, is mounted on a temporary directory, grown online, unmounted. */
static int grow_dev(struct blk_ctx *c, struct blk_cfg *cfg, struct blk_scratch *sc)
{
	char dir[] = "/tmp/cvmboot-grow-XXXXXX";
	struct stat st;
	int rc, fd;

	fd = open(sc->disk_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return blk_fail_io(c, -errno, "open", sc->disk_path);
	blk_part_name(cfg->sysfs, sc->disk, sc->partno, sc->part);
	snprintf(sc->part_path, sizeof(sc->part_path), "/dev/%.31s", sc->part);
	if (stat(sc->part_path, &st) < 0) {
		/* Kernels without partition parsers (or no partscan) still take BLKPG. */
		rc = blk_part_kernel_add(c, fd, sc);
		if (rc == 0)
			rc = blk_part_await(c, cfg, sc, blk_now_ms() + NODE_WAIT_MS);
		if (rc < 0) {
			close(fd);
			return rc;
		}
	}
	close(fd);
	if (!mkdtemp(dir))
		return blk_fail_io(c, -errno, "mkdtemp", dir);
	if (mount(sc->part_path, dir, "ext4", 0, "") < 0) {
		rc = blk_fail(c, BLK_WHY_KERNEL, -errno, "mount %s: %s", sc->part_path,
			      strerror(errno));
	} else {
		rc = blk_scratch_grow(c, cfg, sc, dir, blk_now_ms() + NODE_WAIT_MS);
		if (umount(dir) < 0 && rc >= 0)
			rc = blk_fail(c, BLK_WHY_KERNEL, -errno, "umount %s: %s", dir, strerror(errno));
	}
	rmdir(dir);
	return rc;
}

/* see blk.h */
int blk_cli_grow_scratch(int argc, char **argv)
{
	struct blk_cfg cfg = BLK_CFG_DEFAULT;
	struct blk_ctx c = { 0 };
	struct blk_scratch sc;
	struct stat st;
	char loop[64];
	int rc, lfd = -1;

	if (argc != 2 || argv[1][0] == '-') {
		fprintf(stderr, "usage: cvmboot grow-scratch FILE-or-DEVICE\n  Grows the UROOT "
				"partition to the end of the disk (GPT backup moved) and its ext4\n"
				"  online; the file system must not be mounted elsewhere. Needs "
				"root (CAP_SYS_RESOURCE).\n");
		return 2;
	}
	target(argv[1], &cfg, &sc);
	sc.kind = BLK_KIND_EXISTING;
	rc = find_scratch(&c, argv[1], &sc);
	if (rc == 0 && stat(argv[1], &st) == 0 && S_ISREG(st.st_mode)) {
		lfd = loop_attach(argv[1], loop, sizeof(loop));
		if (lfd < 0)
			rc = blk_fail(&c, BLK_WHY_KERNEL, lfd, "attach %s to a loop device: %s",
				      argv[1], strerror(-lfd));
		else
			target(loop, &cfg, &sc);
		sc.kind = BLK_KIND_EXISTING;
		if (lfd >= 0)
			rc = find_scratch(&c, loop, &sc);
	}
	if (rc == 0)
		rc = grow_dev(&c, &cfg, &sc);
	if (lfd >= 0) {
		ioctl(lfd, LOOP_CLR_FD);
		close(lfd);
	}
	if (rc < 0)
		return fail("grow-scratch", &c, rc);
	printf("%s: partition %u %s, %llu bytes\n", argv[1], sc.partno,
	       rc ? "grown" : "already fills the disk", (unsigned long long)sc.len);
	return 0;
}
