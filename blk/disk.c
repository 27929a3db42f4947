/* SPDX-License-Identifier: MIT */
/* blk/disk.c: disks from sysfs by content; the existing scratch, or where to make one (μCernVM rules). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <linux/blkpg.h>
#include <linux/fs.h>

#include "blk/internal.h"

#define DISKS_MAX 64

struct disk {
	char name[BLK_NAME_MAX];
	int ro, removable;
	uint64_t bytes;
	uint32_t sector;
};

/* see internal.h */
int blk_sysfs_read(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		n--;
	buf[n] = '\0';
	return 0;
}

static uint64_t read_num(const char *sysfs, const char *disk, const char *file, uint64_t dflt)
{
	char path[512], buf[64];

	snprintf(path, sizeof(path), "%s/block/%s/%s", sysfs, disk, file);
	if (blk_sysfs_read(path, buf, sizeof(buf)) < 0 || !buf[0])
		return dflt;
	return strtoull(buf, NULL, 10);
}

static int exists(const char *sysfs, const char *disk, const char *what)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/block/%s/%s", sysfs, disk, what);
	return access(path, F_OK) == 0;
}

/* Short names first, then alphabetical: vda < vdb < vdz < vdaa, as the kernel names them. */
static int name_cmp(const void *a, const void *b)
{
	const struct disk *x = a, *y = b;
	size_t lx = strlen(x->name), ly = strlen(y->name);

	return lx != ly ? (lx < ly ? -1 : 1) : strcmp(x->name, y->name);
}

/* Whole disks that could hold a scratch: a backing device (a `device` link),
 * not a loop device, not ram; the read-only and removable flags are kept
 * for the caller. Returns the count or -errno. */
static int disks_list(struct blk_ctx *c, const char *sysfs, struct disk *d, int max)
{
	char path[512];
	struct dirent *e;
	DIR *dir;
	int n = 0;

	snprintf(path, sizeof(path), "%s/block", sysfs);
	dir = opendir(path);
	if (!dir)
		return blk_fail(c, BLK_WHY_SYSFS, -errno, "%s: %s", path, strerror(errno));
	while ((e = readdir(dir)) && n < max) {
		if (e->d_name[0] == '.' || strlen(e->d_name) >= BLK_NAME_MAX)
			continue;
		/* By content: loop and ram devices have no `device`; a loop has `loop/`. */
		if (!exists(sysfs, e->d_name, "device") || exists(sysfs, e->d_name, "loop"))
			continue;
		memset(&d[n], 0, sizeof(d[n]));
		strcpy(d[n].name, e->d_name);
		d[n].ro = read_num(sysfs, e->d_name, "ro", 0) != 0;
		d[n].removable = read_num(sysfs, e->d_name, "removable", 0) != 0;
		d[n].bytes = read_num(sysfs, e->d_name, "size", 0) * 512;
		d[n].sector = (uint32_t)read_num(sysfs, e->d_name, "queue/logical_block_size", 512);
		n++;
	}
	closedir(dir);
	qsort(d, (size_t)n, sizeof(d[0]), name_cmp);
	return n;
}

/* see internal.h */
void blk_part_name(const char *sysfs, const char *disk, unsigned partno, char *out)
{
	char path[512], buf[32];
	struct dirent *e;
	size_t l = strlen(disk);
	DIR *dir;

	snprintf(path, sizeof(path), "%s/block/%s", sysfs, disk);
	dir = opendir(path);
	while (dir && (e = readdir(dir))) {
		if (e->d_name[0] == '.' || strlen(e->d_name) >= BLK_NAME_MAX)
			continue;
		snprintf(path, sizeof(path), "%s/block/%s/%s/partition", sysfs, disk, e->d_name);
		if (blk_sysfs_read(path, buf, sizeof(buf)) == 0 && strtoul(buf, NULL, 10) == partno) {
			strcpy(out, e->d_name);
			closedir(dir);
			return;
		}
	}
	if (dir)
		closedir(dir);
	snprintf(out, BLK_NAME_MAX, "%.20s%s%u", disk, l && disk[l - 1] >= '0' &&
		 disk[l - 1] <= '9' ? "p" : "", partno);
}

static void fill(const struct blk_cfg *cfg, const struct disk *d, struct blk_scratch *sc,
		 enum blk_kind kind)
{
	memset(sc, 0, sizeof(*sc));
	sc->kind = kind;
	strcpy(sc->disk, d->name);
	snprintf(sc->disk_path, sizeof(sc->disk_path), "%.120s/%.31s", cfg->devdir, d->name);
	sc->sector = d->sector;
	sc->disk_bytes = d->bytes;
}

static int open_disk(const struct blk_cfg *cfg, const char *name, int flags)
{
	char path[BLK_PATH_MAX];

	snprintf(path, sizeof(path), "%.120s/%.31s", cfg->devdir, name);
	return open(path, flags | O_CLOEXEC);
}

/* An ext4 labelled UROOT on one of d's partitions, or on d itself. */
static int find_on(const struct blk_cfg *cfg, const struct disk *d, struct blk_scratch *out)
{
	struct blk_ctx quiet = { 0 };
	struct blk_table t;
	char label[17];
	uint64_t blocks;
	unsigned i;
	int fd = open_disk(cfg, d->name, O_RDONLY), rc = -ENOENT;

	if (fd < 0)
		return -ENOENT;
	if (blk_table_read(&quiet, fd, d->bytes, d->sector, &t) < 0)
		t.n = 0;
	for (i = 0; i < t.n && rc == -ENOENT; i++) {
		if (blk_ext4_probe(fd, t.part[i].start, label, &blocks) < 0 ||
		    strcmp(label, BLK_LABEL))
			continue;
		fill(cfg, d, out, BLK_KIND_EXISTING);
		out->partno = t.part[i].no;
		out->start = t.part[i].start;
		out->len = t.part[i].len;
		blk_part_name(cfg->sysfs, d->name, out->partno, out->part);
		snprintf(out->part_path, sizeof(out->part_path), "%.120s/%.31s", cfg->devdir, out->part);
		rc = 0;
	}
	if (rc == -ENOENT && t.type == 0 && blk_ext4_probe(fd, 0, label, &blocks) == 0 &&
	    !strcmp(label, BLK_LABEL)) {
		fill(cfg, d, out, BLK_KIND_EXISTING);
		out->len = d->bytes;
		strcpy(out->part, d->name);
		strcpy(out->part_path, out->disk_path);
		rc = 0;
	}
	close(fd);
	return rc;
}

/* see blk.h */
int blk_scratch_find(struct blk_ctx *c, const struct blk_cfg *cfg, struct blk_scratch *out)
{
	struct disk d[DISKS_MAX];
	int n = disks_list(c, cfg->sysfs, d, DISKS_MAX), i;

	for (i = 0; i < n; i++) {
		if (d[i].ro || d[i].removable)
			continue;
		if (find_on(cfg, &d[i], out) == 0)
			return 0;
	}
	return n < 0 ? n : -ENOENT;
}

/* Appends "; name: reason" to the summary of refused disks. */
static void note(char *sum, size_t len, const char *name, const char *why)
{
	size_t l = strlen(sum);
	const char *hint = strstr(why, " (");

	snprintf(sum + l, len - l, "%s%s: %.*s", l ? "; " : "", name,
		 hint ? (int)(hint - why) : (int)strlen(why), why);
}

/* The boot medium: named by boot/, else the first disk whose table marks a
 * partition bootable (an active MBR entry, an ESP or BIOS-boot GPT entry). */
static int is_boot(const struct blk_cfg *cfg, const struct disk *d)
{
	struct blk_ctx quiet = { 0 };
	struct blk_table t;
	int fd, rc;

	if (cfg->boot_disk)
		return !strcmp(cfg->boot_disk, d->name);
	fd = open_disk(cfg, d->name, O_RDONLY);
	if (fd < 0)
		return 0;
	rc = blk_table_read(&quiet, fd, d->bytes, d->sector, &t);
	close(fd);
	return rc == 0 && t.type && t.bootable;
}

static int try_blank(const struct blk_cfg *cfg, const struct disk *d, char *sum, size_t len)
{
	struct blk_ctx why = { 0 };
	int fd = open_disk(cfg, d->name, O_RDONLY), rc;

	if (fd < 0) {
		note(sum, len, d->name, strerror(errno));
		return -errno;
	}
	rc = blk_disk_check_blank(&why, d->name, fd, d->bytes);
	close(fd);
	if (rc < 0) {
		size_t l = strlen(d->name);
		const char *w = why.what;

		if (!strncmp(w, d->name, l) && w[l] == ':')
			w += l + 2;
		note(sum, len, d->name, w[0] ? w : strerror(-rc));
	}
	return rc;
}

static int try_boot(struct blk_ctx *c, const struct blk_cfg *cfg, const struct disk *d,
		    struct blk_scratch *out)
{
	uint64_t cap = cfg->resize_rootfs ? 0 : BLK_NORESIZE_CAP;
	int fd = open_disk(cfg, d->name, O_RDONLY), rc;

	if (fd < 0)
		return blk_fail_io(c, -errno, "open", d->name);
	fill(cfg, d, out, BLK_KIND_BOOT_FREE);
	rc = blk_part_add(c, fd, d->bytes, d->sector, BLK_FREE_MIN, BLK_MARGIN, cap, 1,
			  &out->partno, &out->start, &out->len);
	close(fd);
	return rc;
}

/* see blk.h */
int blk_scratch_choose(struct blk_ctx *c, const struct blk_cfg *cfg, struct blk_scratch *out)
{
	struct disk d[DISKS_MAX];
	char sum[BLK_WHAT_MAX] = "";
	int n = disks_list(c, cfg->sysfs, d, DISKS_MAX), i, boot = -1;

	if (n < 0)
		return n;
	for (i = 0; i < n; i++) {
		if (d[i].ro) {
			note(sum, sizeof(sum), d[i].name, "read-only");
		} else if (d[i].removable) {
			note(sum, sizeof(sum), d[i].name, "removable");
		} else if (boot < 0 && is_boot(cfg, &d[i])) {
			boot = i;
		} else if (cfg->use_boothd) {
			continue;
		} else if (d[i].bytes < BLK_DISK_MIN) {
			note(sum, sizeof(sum), d[i].name, "smaller than 64 MiB");
		} else if (try_blank(cfg, &d[i], sum, sizeof(sum)) == 0) {
			fill(cfg, &d[i], out, BLK_KIND_BLANK_DISK);
			blk_gpt_plan(d[i].bytes, d[i].sector, cfg->resize_rootfs ? 0 : BLK_NORESIZE_CAP,
				     &out->start, &out->len);
			out->partno = 1;
			return 0;
		}
	}
	if (boot >= 0) {
		struct blk_ctx bc = { 0 };
		int rc = try_boot(&bc, cfg, &d[boot], out);

		if (rc == 0)
			return 0;
		/* Say why the boot disk failed and why no disk was blank. */
		return blk_fail(c, bc.why, rc, "boot disk %s: %s%s%s", d[boot].name, bc.what,
				sum[0] ? "; no blank disk: " : "", sum);
	}
	if (!n)
		strcpy(sum, "no disks in sysfs");
	else if (cfg->use_boothd)
		note(sum, sizeof(sum), "use_boothd=1", "no boot disk (none has a bootable partition)");
	return blk_fail(c, BLK_WHY_NO_DISK, -ENOSPC, "%s; attach an empty disk of at least 1 GiB",
			sum);
}
