/* SPDX-License-Identifier: MIT */
/* fuzz_gpt: partition tables and signatures on a disk the VM brings:
 * blk_table_read, blk_part_add (plan=1, then plan=0 writing into the
 * image), blk_part_grow, blk_disk_check_blank and blk_ext4_probe on a
 * 256 MiB sparse memfd. Input: the disk's head, optionally followed by
 * "\n--8<--\n" and its tail (placed at the end: the backup GPT). The sector
 * size (512 or 4096) comes from the tail's length parity. */
#include "tests/fuzz/fuzz.h"
#include "blk/blk.h"
#include "blk/internal.h"

#define DISK (256ull << 20)

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	static struct blk_table t;
	struct blk_ctx c;
	const uint8_t *head, *tail;
	size_t hn, tn;
	uint64_t start, plen, blocks;
	unsigned partno;
	uint32_t sector;
	char label[17];
	int fd;

	if (n > 1 << 20)
		return 0;
	fuzz_split(d, n, &head, &hn, &tail, &tn);
	sector = (tn & 1) ? 4096 : 512;
	fd = fuzz_memfd(head, hn);
	if (ftruncate(fd, DISK) < 0 || (tn && pwrite(fd, tail, tn, DISK - tn) != (ssize_t)tn))
		abort();
	memset(&c, 0, sizeof(c));
	blk_table_read(&c, fd, DISK, sector, &t);
	memset(&c, 0, sizeof(c));
	blk_disk_check_blank(&c, "fuzz", fd, DISK);
	blk_ext4_probe(fd, 0, label, &blocks);
	blk_ext4_probe(fd, 1 << 20, label, &blocks);
	memset(&c, 0, sizeof(c));
	if (blk_part_add(&c, fd, DISK, sector, 1 << 20, 0, 0, 1, &partno, &start, &plen) == 0 &&
	    (start % sector || start + plen > DISK))
		abort();	/* a planned partition must lie inside the disk */
	memset(&c, 0, sizeof(c));
	if (blk_part_add(&c, fd, DISK, sector, 1 << 20, 0, 0, 0, &partno, &start, &plen) == 0) {
		if (start + plen > DISK)
			abort();
		/* The table just written must read back. */
		memset(&c, 0, sizeof(c));
		if (blk_table_read(&c, fd, DISK, sector, &t) < 0)
			abort();
		memset(&c, 0, sizeof(c));
		blk_part_grow(&c, fd, DISK, sector, partno, &start, &plen);
	}
	close(fd);
	return 0;
}
