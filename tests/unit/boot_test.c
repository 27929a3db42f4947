/* SPDX-License-Identifier: MIT */
/* tests/unit/boot_test.c: the newc writer, byte for byte; the config-drive probe. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "boot/boot.h"
#include "boot/cpio.h"

static char *write_archive(struct boot_cpio *c, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	assert_non_null(f);
	assert_int_equal(boot_cpio_write(c, f), 0);
	fclose(f);
	return buf;
}

static void cpio_sorted_and_padded(void **state)
{
	struct boot_cpio_entry ents[8];
	struct boot_cpio c = { .ents = ents, .cap = 8, .mtime = 0x5f5e1000 };
	size_t len;
	char *buf;

	(void)state;
	assert_int_equal(boot_cpio_add(&c, "/init", S_IFREG | 0755, "abcde", 5, 0, 0), 0);
	assert_int_equal(boot_cpio_add(&c, "dev", S_IFDIR | 0755, NULL, 0, 0, 0), 0);
	assert_int_equal(boot_cpio_add(&c, "dev/console", S_IFCHR | 0600, NULL, 0, 5, 1), 0);
	buf = write_archive(&c, &len);
	/* "dev" sorts first: inode 1, dir mode, nlink 2, our mtime, namesize 4. */
	assert_memory_equal(buf, "070701" "00000001" "000041ED" "00000000" "00000000"
				 "00000002" "5F5E1000" "00000000" "00000000" "00000000"
				 "00000000" "00000000" "00000004" "00000000" "dev\0", 114);
	/* Header + name padded to 4: the next record starts at 116. */
	assert_memory_equal(buf + 116, "070701" "00000002" "00002180", 22);
	assert_memory_equal(buf + 116 + 78, "00000005" "00000001" "0000000C", 24);
	/* init's 5 data bytes are padded to 8; then the trailer ends the archive. */
	assert_non_null(memmem(buf, len, "init\0\0abcde\0\0\0", 14));
	/* 110 + 11-byte name = 121, padded to 124. */
	assert_memory_equal(buf + len - 14, "TRAILER!!!\0\0\0\0", 14);
	assert_int_equal(len % 4, 0);
	free(buf);
}

static void cpio_same_input_same_bytes(void **state)
{
	struct boot_cpio_entry e1[4], e2[4];
	struct boot_cpio a = { .ents = e1, .cap = 4, .mtime = 7 };
	struct boot_cpio b = { .ents = e2, .cap = 4, .mtime = 7 };
	size_t la, lb;
	char *ba, *bb;

	(void)state;
	boot_cpio_add(&a, "b", S_IFREG | 0644, "x", 1, 0, 0);
	boot_cpio_add(&a, "a", S_IFDIR | 0755, NULL, 0, 0, 0);
	boot_cpio_add(&b, "a", S_IFDIR | 0755, NULL, 0, 0, 0);
	boot_cpio_add(&b, "b", S_IFREG | 0644, "x", 1, 0, 0);
	ba = write_archive(&a, &la);
	bb = write_archive(&b, &lb);
	assert_int_equal(la, lb);
	assert_memory_equal(ba, bb, la);
	free(ba);
	free(bb);
}

static void cpio_rejects_duplicates_and_overflow(void **state)
{
	struct boot_cpio_entry ents[2];
	struct boot_cpio c = { .ents = ents, .cap = 2 };
	char longname[300];

	(void)state;
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(boot_cpio_add(&c, "x", S_IFDIR | 0755, NULL, 0, 0, 0), 0);
	assert_int_equal(boot_cpio_add(&c, "/x", S_IFDIR | 0755, NULL, 0, 0, 0), -EEXIST);
	assert_int_equal(boot_cpio_add(&c, longname, S_IFDIR | 0755, NULL, 0, 0, 0), -ENAMETOOLONG);
	assert_int_equal(boot_cpio_add(&c, "y", S_IFDIR | 0755, NULL, 0, 0, 0), 0);
	assert_int_equal(boot_cpio_add(&c, "z", S_IFDIR | 0755, NULL, 0, 0, 0), -ENOSPC);
}

/* A 64 KiB "device" in a temporary file with some bytes set. */
static int dev_with(const void *b, size_t len, off_t off)
{
	char path[] = "/tmp/cvmboot-probe-XXXXXX";
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(ftruncate(fd, 64 << 10), 0);
	if (len)
		assert_int_equal(pwrite(fd, b, len, off), (ssize_t)len);
	return fd;
}

static void drive_probe_by_magic(void **state)
{
	unsigned char bs[512] = { 0xeb, 0x3c, 0x90, 'm', 'k', 'f', 's', '.', 'f', 'a', 't' };
	unsigned char gpt[512] = { 0 };
	unsigned char fat32[512] = { 0 };
	int fd;

	(void)state;
	bs[510] = 0x55;
	bs[511] = 0xaa;
	memcpy(bs + 54, "FAT12   ", 8);
	gpt[450] = 0xee;	/* protective MBR: the scratch disk, no FAT */
	gpt[510] = 0x55;
	gpt[511] = 0xaa;
	memcpy(fat32 + 82, "FAT32   ", 8);
	fat32[510] = 0x55;
	fat32[511] = 0xaa;
	fd = dev_with("\1CD001\1", 7, 32768);
	assert_int_equal(boot_drive_probe(fd), BOOT_DRIVE_ISO9660);
	close(fd);
	fd = dev_with("\0BEA01\1", 7, 32768);	/* UDF: BEA01, then NSR03 */
	assert_int_equal(pwrite(fd, "\0NSR03\1", 7, 32768 + 2048), 7);
	assert_int_equal(boot_drive_probe(fd), BOOT_DRIVE_UDF);
	assert_int_equal(pwrite(fd, "\1CD001\1", 7, 32768), 7);	/* a UDF bridge disc */
	assert_int_equal(boot_drive_probe(fd), BOOT_DRIVE_ISO9660 | BOOT_DRIVE_UDF);
	close(fd);
	fd = dev_with(bs, sizeof(bs), 0);
	assert_int_equal(boot_drive_probe(fd), BOOT_DRIVE_VFAT);
	close(fd);
	fd = dev_with(fat32, sizeof(fat32), 0);
	assert_int_equal(boot_drive_probe(fd), BOOT_DRIVE_VFAT);
	close(fd);
	fd = dev_with(gpt, sizeof(gpt), 0);
	assert_int_equal(boot_drive_probe(fd), 0);
	close(fd);
	fd = dev_with(NULL, 0, 0);	/* blank */
	assert_int_equal(boot_drive_probe(fd), 0);
	close(fd);
	fd = dev_with("\1CD001", 6, 0);	/* too short a device for the descriptor */
	assert_int_equal(ftruncate(fd, 100), 0);
	assert_int_equal(boot_drive_probe(fd), 0);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(cpio_sorted_and_padded),
		cmocka_unit_test(cpio_same_input_same_bytes),
		cmocka_unit_test(cpio_rejects_duplicates_and_overflow),
		cmocka_unit_test(drive_probe_by_magic),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
