/* SPDX-License-Identifier: MIT */
/* fuzz_tar: cernvm_inject archives: boot_tar_extract (tar or tar.gz) into a
 * fresh directory under a private temp dir, emptied after each run. After
 * each extraction, nothing may exist outside that directory: the harness
 * checks that the parent holds only root/ and an empty sibling outside/. */
#include "tests/fuzz/fuzz.h"
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <dirent.h>
#include "boot/config.h"
#include "boot/context.h"

static char base[256], root[300], outside[300];

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	if (flag == FTW_DP)
		chmod(p, 0700);
	return remove(p) < 0 && errno != ENOENT ? 0 : 0;
}

static void rm_tree(const char *p)
{
	/* Make every directory searchable first (an archive may set 0000). */
	for (int i = 0; i < 2; i++)
		nftw(p, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int chmod_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	if (flag == FTW_D || flag == FTW_DNR)
		chmod(p, 0700);
	return 0;
}

/* Number of entries of p other than ".", ".." and keep (-1 if unreadable). */
static int dir_count(const char *p, const char *keep1, const char *keep2)
{
	DIR *dir = opendir(p);
	struct dirent *e;
	int n = 0;

	if (!dir)
		return -1;
	while ((e = readdir(dir)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
		    strcmp(e->d_name, keep1) && strcmp(e->d_name, keep2))
			n++;
	closedir(dir);
	return n;
}

static void cleanup(void)
{
	rm_tree(base);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *t = getenv("TMPDIR");

	snprintf(base, sizeof(base), "%s/fuzz-tar.XXXXXX", t ? t : "/tmp");
	if (!mkdtemp(base))
		abort();
	snprintf(root, sizeof(root), "%s/root", base);
	snprintf(outside, sizeof(outside), "%s/outside", base);
	if (mkdir(outside, 0700) < 0)
		abort();
	atexit(cleanup);
	return 0;
}

static void say(void *arg, const char *msg)
{
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	static char work[BOOT_CONTEXT_WORK_MAX];
	int fd;

	if (n > 256 * 1024)
		return 0;
	if (mkdir(root, 0755) < 0)
		abort();
	fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		abort();
	boot_tar_extract(fd, d, n, work, sizeof(work), say, NULL);
	close(fd);
	if (dir_count(outside, "", "") != 0 || dir_count(base, "root", "outside") != 0) {
		fprintf(stderr, "fuzz_tar: the archive wrote outside the root %s\n", root);
		abort();
	}
	nftw(root, chmod_one, 16, FTW_PHYS);
	rm_tree(root);
	return 0;
}
