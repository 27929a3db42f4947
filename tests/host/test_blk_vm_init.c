/* SPDX-License-Identifier: MIT */
/* tests/host/test_blk_vm_init.c: a stand-in PID 1 for test_blk_vm.py that runs blk's API the way boot/ does. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "blk/blk.h"

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* /mod1.ko, /mod2.ko, ... in dependency order (the disk driver and ext4,
 * unless the kernel builds them in). */
static void load_modules(void)
{
	char path[32];
	int i, fd;

	for (i = 1; i < 16; i++) {
		snprintf(path, sizeof(path), "/mod%d.ko", i);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return;
		if (syscall(SYS_finit_module, fd, "", 0) < 0)
			printf("BLKTEST module %s: %s\n", path, strerror(errno));
		close(fd);
	}
}

static void report(const char *step, int rc, const struct blk_ctx *c)
{
	char buf[400];

	printf("BLKTEST %s rc=%d %s\n", step, rc, rc < 0 ? blk_ctx_str(c, buf, sizeof(buf)) : "");
}

static int run(void)
{
	struct blk_cfg cfg = BLK_CFG_DEFAULT;
	struct blk_ctx c = { 0 };
	struct blk_scratch sc;
	struct statvfs st;
	uint64_t t0 = now_ms();
	char line[64];
	int rc, fd, n;

	/* The disk shows up asynchronously; give it 10 s. */
	do {
		memset(&c, 0, sizeof(c));
		rc = blk_scratch_find(&c, &cfg, &sc);
		if (rc == -ENOENT)
			rc = blk_scratch_choose(&c, &cfg, &sc);
		if (rc == 0)
			break;
		usleep(50000);
	} while (now_ms() < t0 + 10000);
	report(sc.kind == BLK_KIND_EXISTING ? "find" : "choose", rc, &c);
	if (rc < 0)
		return rc;
	printf("BLKTEST kind=%d disk=%s partno=%u\n", sc.kind, sc.disk, sc.partno);
	if (sc.kind != BLK_KIND_EXISTING) {
		t0 = now_ms();
		rc = blk_scratch_prepare(&c, &cfg, &sc, now_ms() + 10000);
		report("prepare", rc, &c);
		printf("BLKTEST prepare_ms=%llu\n", (unsigned long long)(now_ms() - t0));
		if (rc < 0)
			return rc;
	}
	if (mount(sc.part_path, "/root", "ext4", 0, "") < 0) {
		printf("BLKTEST mount %s: %s\n", sc.part_path, strerror(errno));
		return -errno;
	}
	rc = blk_scratch_grow(&c, &cfg, &sc, "/root", now_ms() + 10000);
	report("grow", rc, &c);
	printf("BLKTEST grew=%d part=%s len=%llu\n", rc, sc.part, (unsigned long long)sc.len);
	rc = blk_layout_make(&c, "/root");
	report("layout", rc, &c);
	statvfs("/root", &st);
	printf("BLKTEST fs_bytes=%llu\n", (unsigned long long)st.f_blocks * st.f_frsize);
	/* One line per boot in persistent/boots: the next boot must see it. */
	fd = open("/root/persistent/boots", O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	n = fd < 0 ? 0 : (int)read(fd, line, sizeof(line) - 1);
	printf("BLKTEST boots_before=%d\n", n > 0 ? n / 5 : 0);
	if (fd >= 0 && write(fd, "boot\n", 5) != 5)
		printf("BLKTEST write: %s\n", strerror(errno));
	if (fd >= 0)
		close(fd);
	sync();
	umount("/root");
	return 0;
}

int main(void)
{
	mount("proc", "/proc", "proc", 0, "");
	mount("sysfs", "/sys", "sysfs", 0, "");
	mount("devtmpfs", "/dev", "devtmpfs", 0, "");
	setvbuf(stdout, NULL, _IONBF, 0);
	if (!freopen("/dev/console", "w", stdout))
		return 1;
	load_modules();
	printf("BLKTEST done rc=%d\n", run());
	sync();
	reboot(RB_POWER_OFF);
	for (;;)
		pause();
}
