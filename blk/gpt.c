/* SPDX-License-Identifier: MIT */
/* blk/gpt.c: GPT and MBR partition tables: read, create, add an entry, grow the last one. */
#include <errno.h>
#include <string.h>

#include "blk/internal.h"

#define GPT_HDR_SIZE 92
#define GPT_ENT_SIZE 128
#define GPT_ENTS 128
#define GPT_ARRAY (GPT_ENT_SIZE * GPT_ENTS)	/* 16 KiB, the UEFI minimum and what we support */
#define MBR_LBA_MAX 0xffffffffull

/* GUIDs in their on-disk (mixed-endian) byte order. */
static const unsigned char guid_linux[16] = { 0xaf, 0x3d, 0xc6, 0x0f, 0x83, 0x84, 0x72, 0x47,
					      0x8e, 0x79, 0x3d, 0x69, 0xd8, 0x47, 0x7d, 0xe4 };
static const unsigned char guid_esp[16] = { 0x28, 0x73, 0x2a, 0xc1, 0x1f, 0xf8, 0xd2, 0x11,
					    0xba, 0x4b, 0x00, 0xa0, 0xc9, 0x3e, 0xc9, 0x3b };
static const unsigned char guid_bios[16] = { 0x48, 0x61, 0x68, 0x21, 0x49, 0x64, 0x6f, 0x6e,
					     0x74, 0x4e, 0x65, 0x65, 0x64, 0x45, 0x46, 0x49 };

/* One GPT as read from the disk (whichever copy was valid). */
struct gpt {
	uint64_t nsec, alt, first, last, elba;
	unsigned char guid[16];
	unsigned char ent[GPT_ARRAY];
};

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) / a * a;
}

static int is_zero(const unsigned char *p, size_t n)
{
	while (n--)
		if (*p++)
			return 0;
	return 1;
}

/* Reads and checks the header at lba and its entry array. 0, -ENOENT (no
 * signature), -EBADMSG (CRC or field wrong), -ENOTSUP (entry array shape). */
static int gpt_read_at(int fd, uint32_t sector, uint64_t lba, struct gpt *g)
{
	unsigned char h[4096];
	uint32_t hs, crc;
	int rc = blk_pread(fd, h, sector, lba * sector);

	if (rc < 0)
		return rc;
	if (memcmp(h, "EFI PART", 8))
		return -ENOENT;
	hs = blk_get32(h + 12);
	if (hs < GPT_HDR_SIZE || hs > sector || blk_get64(h + 24) != lba)
		return -EBADMSG;
	crc = blk_get32(h + 16);
	blk_put32(h + 16, 0);
	if (blk_crc32(h, hs) != crc)
		return -EBADMSG;
	if (blk_get32(h + 80) != GPT_ENTS || blk_get32(h + 84) != GPT_ENT_SIZE)
		return -ENOTSUP;
	g->alt = blk_get64(h + 32);
	g->first = blk_get64(h + 40);
	g->last = blk_get64(h + 48);
	memcpy(g->guid, h + 56, 16);
	g->elba = blk_get64(h + 72);
	if (g->first > g->last || g->last >= g->nsec || g->elba >= g->nsec)
		return -EBADMSG;
	rc = blk_pread(fd, g->ent, GPT_ARRAY, g->elba * sector);
	if (rc < 0)
		return rc;
	return blk_crc32(g->ent, GPT_ARRAY) == blk_get32(h + 88) ? 0 : -EBADMSG;
}

/* Primary, else the backup at the last sector (or where the primary said). */
static int gpt_read(int fd, uint64_t len, uint32_t sector, struct gpt *g)
{
	int rc, rc2;

	g->nsec = len / sector;
	rc = gpt_read_at(fd, sector, 1, g);
	if (rc == 0 || (rc != -ENOENT && rc != -EBADMSG))
		return rc;
	rc2 = gpt_read_at(fd, sector, g->nsec - 1, g);
	if (rc2 == 0) {
		/* Rebuild the primary's view from the backup. */
		g->alt = g->nsec - 1;
		g->elba = 2;
		return 0;
	}
	return rc == -ENOENT && rc2 == -ENOENT ? -ENOENT : -EBADMSG;
}

static void gpt_hdr(const struct gpt *g, unsigned char *h, uint64_t my, uint64_t alt, uint64_t elba)
{
	memset(h, 0, GPT_HDR_SIZE);
	memcpy(h, "EFI PART", 8);
	blk_put32(h + 8, 0x00010000);
	blk_put32(h + 12, GPT_HDR_SIZE);
	blk_put64(h + 24, my);
	blk_put64(h + 32, alt);
	blk_put64(h + 40, g->first);
	blk_put64(h + 48, g->last);
	memcpy(h + 56, g->guid, 16);
	blk_put64(h + 72, elba);
	blk_put32(h + 80, GPT_ENTS);
	blk_put32(h + 84, GPT_ENT_SIZE);
	blk_put32(h + 88, blk_crc32(g->ent, GPT_ARRAY));
	blk_put32(h + 16, blk_crc32(h, GPT_HDR_SIZE));
}

/* Writes both copies with the backup at the disk's last sector (moving it
 * there if the disk grew), backup first so that a crash leaves one valid
 * copy, and a protective MBR sized to the disk (a hybrid MBR is kept). */
static int gpt_write(int fd, uint32_t sector, struct gpt *g, int fresh)
{
	unsigned char s[4096];
	uint64_t esec = GPT_ARRAY / sector, old_alt = g->alt;
	int rc;

	g->alt = g->nsec - 1;
	g->last = g->alt - esec - 1;
	memset(s, 0, sector);
	if ((rc = blk_pwrite(fd, g->ent, GPT_ARRAY, (g->alt - esec) * sector)) < 0)
		return rc;
	gpt_hdr(g, s, g->alt, 1, g->alt - esec);
	if ((rc = blk_pwrite(fd, s, sector, g->alt * sector)) < 0)
		return rc;
	if ((rc = blk_pwrite(fd, g->ent, GPT_ARRAY, 2ull * sector)) < 0)
		return rc;
	gpt_hdr(g, s, 1, g->alt, 2);
	if ((rc = blk_pwrite(fd, s, sector, 1ull * sector)) < 0)
		return rc;
	/* The old backup header would be a stale second GPT inside our space. */
	if (!fresh && old_alt != g->alt && old_alt > 1 && old_alt < g->nsec) {
		memset(s, 0, sector);
		if ((rc = blk_pwrite(fd, s, sector, old_alt * sector)) < 0)
			return rc;
	}
	if ((rc = blk_pread(fd, s, 512, 0)) < 0)
		return rc;
	if (fresh || (s[446 + 4] == 0xee && is_zero(s + 446 + 16, 48))) {
		if (fresh)
			memset(s, 0, 512);
		memset(s + 446, 0, 16);
		s[446 + 2] = 0x02;			/* CHS 0/0/2 */
		s[446 + 4] = 0xee;
		memset(s + 446 + 5, 0xff, 3);
		blk_put32(s + 446 + 8, 1);
		blk_put32(s + 446 + 12, (uint32_t)(g->nsec - 1 > MBR_LBA_MAX ? MBR_LBA_MAX : g->nsec - 1));
		s[510] = 0x55;
		s[511] = 0xaa;
		rc = blk_pwrite(fd, s, 512, 0);
	}
	return rc;
}

static void gpt_entry(unsigned char *e, uint64_t first, uint64_t last, const char *name,
		      const unsigned char *uniq)
{
	size_t i;

	memset(e, 0, GPT_ENT_SIZE);
	memcpy(e, guid_linux, 16);
	memcpy(e + 16, uniq, 16);
	blk_put64(e + 32, first);
	blk_put64(e + 40, last);
	for (i = 0; name[i] && i < 36; i++)
		blk_put16(e + 56 + 2 * i, (uint16_t)name[i]);
}

/* see internal.h */
void blk_gpt_plan(uint64_t len, uint32_t sector, uint64_t cap, uint64_t *start, uint64_t *plen)
{
	uint64_t a = BLK_MIB / sector, nsec = len / sector;
	uint64_t end = (nsec - 1 - GPT_ARRAY / sector) / a * a, cut;

	cut = cap ? a + align_up(cap, BLK_MIB) / sector : end;
	if (cut + a > end)
		cut = end;
	*start = a * sector;
	*plen = (cut - a) * sector;
}

/* see blk.h */
int blk_gpt_create(struct blk_ctx *c, int fd, uint64_t len, uint32_t sector, uint64_t cap,
		   uint64_t *start, uint64_t *plen)
{
	struct gpt g;
	unsigned char rnd[48];
	uint64_t a = BLK_MIB / sector, end, cut;
	int rc;

	if (!c || !start || !plen || (sector != 512 && sector != 4096))
		return blk_fail(c, BLK_WHY_ARG, -EINVAL, "GPT: sector size %u", sector);

	memset(&g, 0, sizeof(g));
	g.nsec = len / sector;
	if (len < BLK_DISK_MIN)
		return blk_fail(c, BLK_WHY_TOO_SMALL, -ENOSPC, "disk of %llu bytes (at least %llu)",
				(unsigned long long)len, (unsigned long long)BLK_DISK_MIN);
	rc = blk_random(rnd, sizeof(rnd));
	if (rc < 0)
		return blk_fail(c, BLK_WHY_IO, rc, "getrandom: %s", strerror(-rc));
	memcpy(g.guid, rnd, 16);
	g.first = 2 + GPT_ARRAY / sector;
	g.alt = g.nsec - 1;
	g.last = g.alt - GPT_ARRAY / sector - 1;
	end = (g.last + 1) / a * a;			/* first sector past the partition */
	blk_gpt_plan(len, sector, cap, start, plen);
	cut = (*start + *plen) / sector;
	gpt_entry(g.ent, a, cut - 1, "cvmboot-scratch", rnd + 16);
	if (cut < end)
		gpt_entry(g.ent + GPT_ENT_SIZE, cut, end - 1, "cvmboot-rest", rnd + 32);
	rc = gpt_write(fd, sector, &g, 1);
	return rc < 0 ? blk_fail_io(c, rc, "write", "GPT") : 0;
}

/* Byte range after the last GPT partition, 1 MiB aligned, before margin. */
static int gpt_free(const struct gpt *g, uint32_t sector, uint64_t margin, unsigned *slot,
		    uint64_t *a, uint64_t *b)
{
	const unsigned char *e;
	uint64_t end = g->first, last;
	unsigned i;

	*slot = GPT_ENTS;
	for (i = 0; i < GPT_ENTS; i++) {
		e = g->ent + i * GPT_ENT_SIZE;
		if (is_zero(e, 16)) {
			if (*slot == GPT_ENTS)
				*slot = i;
			continue;
		}
		last = blk_get64(e + 40);
		if (last + 1 > end)
			end = last + 1;
	}
	*a = align_up(end * sector, BLK_MIB);
	/* last usable sector once the backup sits at the disk's end */
	last = g->nsec - 1 - GPT_ARRAY / sector - 1;
	*b = ((last + 1) * sector > margin ? (last + 1) * sector - margin : 0) / BLK_MIB * BLK_MIB;
	return *slot == GPT_ENTS ? -EMLINK : 0;
}

/* The MBR in s: free space after its last partition, and a free slot. */
static int mbr_free(const unsigned char *s, uint64_t len, uint32_t sector, uint64_t margin,
		    unsigned *slot, uint64_t *a, uint64_t *b)
{
	const unsigned char *e;
	uint64_t end = 1, pe, lim;
	unsigned i;

	*slot = 4;
	for (i = 0; i < 4; i++) {
		e = s + 446 + 16 * i;
		if (e[4] == 0) {
			if (*slot == 4)
				*slot = i;
			continue;
		}
		pe = (uint64_t)blk_get32(e + 8) + blk_get32(e + 12);
		if (pe > end)
			end = pe;
	}
	*a = align_up(end * sector, BLK_MIB);
	lim = len - (len > margin ? margin : len);
	/* An MBR entry addresses at most 2^32 - 1 sectors from a start below 2^32. */
	if (lim / sector > *a / sector + MBR_LBA_MAX)
		lim = (*a / sector + MBR_LBA_MAX) * sector;
	*b = lim / BLK_MIB * BLK_MIB;
	if (*a / sector > MBR_LBA_MAX)
		return -EFBIG;
	return *slot == 4 ? -EMLINK : 0;
}

static int is_mbr(const unsigned char *s)
{
	return s[510] == 0x55 && s[511] == 0xaa;
}

static int has_ee(const unsigned char *s)
{
	unsigned i;

	for (i = 0; i < 4; i++)
		if (s[446 + 16 * i + 4] == 0xee)
			return 1;
	return 0;
}

/* A boot sector whose four entries look like partitions (status 0 or 0x80). */
static int mbr_valid(const unsigned char *s)
{
	unsigned i;

	if (!is_mbr(s))
		return 0;
	for (i = 0; i < 4; i++)
		if (s[446 + 16 * i] & 0x7f)
			return 0;
	return 1;
}

/* Reads sector 0 and, if it is protective, the GPT. Returns 1 (MBR), 2
 * (GPT), 0 (neither), or -errno (-EBADMSG: corrupt GPT). */
static int table_load(struct blk_ctx *c, int fd, uint64_t len, uint32_t sector,
		      unsigned char *s, struct gpt *g)
{
	int rc = blk_pread(fd, s, 512, 0);

	if (rc < 0)
		return blk_fail_io(c, rc, "read", "sector 0");
	if (!mbr_valid(s))
		return 0;
	if (!has_ee(s))
		return 1;
	rc = gpt_read(fd, len, sector, g);
	if (rc == -EBADMSG || rc == -ENOENT)
		return blk_fail(c, BLK_WHY_GPT_CORRUPT, -EBADMSG, "protective MBR but %s; repair "
				"it (sgdisk -e / gdisk) or use another disk",
				rc == -ENOENT ? "no GPT header" : "GPT header or entries fail their CRC32");
	if (rc == -ENOTSUP)
		return blk_fail(c, BLK_WHY_TABLE, rc, "GPT entry array is not 128 x 128 bytes");
	if (rc < 0)
		return blk_fail_io(c, rc, "read", "GPT");
	return 2;
}

/* see internal.h */
int blk_table_read(struct blk_ctx *c, int fd, uint64_t len, uint32_t sector, struct blk_table *t)
{
	unsigned char s[512];
	struct gpt g;
	const unsigned char *e;
	uint64_t pe;
	unsigned i;
	int type = table_load(c, fd, len, sector, s, &g);

	memset(t, 0, sizeof(*t));
	if (type <= 0)
		return type;
	t->type = type;
	for (i = 0; type == 1 && i < 4; i++) {
		e = s + 446 + 16 * i;
		if (!e[4])
			continue;
		t->part[t->n].no = i + 1;
		t->part[t->n].start = (uint64_t)blk_get32(e + 8) * sector;
		t->part[t->n].len = (uint64_t)blk_get32(e + 12) * sector;
		t->n++;
		t->maxno = i + 1;
		t->bootable |= e[0] == 0x80;
		pe = ((uint64_t)blk_get32(e + 8) + blk_get32(e + 12)) * sector;
		t->end = pe > t->end ? pe : t->end;
	}
	for (i = 0; type == 2 && i < GPT_ENTS; i++) {
		e = g.ent + i * GPT_ENT_SIZE;
		if (is_zero(e, 16))
			continue;
		t->part[t->n].no = i + 1;
		t->part[t->n].start = blk_get64(e + 32) * sector;
		t->part[t->n].len = (blk_get64(e + 40) + 1 - blk_get64(e + 32)) * sector;
		t->n++;
		t->maxno = i + 1;
		t->bootable |= !memcmp(e, guid_esp, 16) || !memcmp(e, guid_bios, 16);
		pe = (blk_get64(e + 40) + 1) * sector;
		t->end = pe > t->end ? pe : t->end;
	}
	return 0;
}

static int too_small(struct blk_ctx *c, uint64_t a, uint64_t b, uint64_t min_free)
{
	return blk_fail(c, BLK_WHY_TOO_SMALL, -ENOSPC, "%llu MiB free after the last partition "
			"(at least %llu MiB needed); give the VM a blank disk",
			(unsigned long long)(b > a ? (b - a) >> 20 : 0),
			(unsigned long long)(min_free >> 20));
}

/* see blk.h */
int blk_part_add(struct blk_ctx *c, int fd, uint64_t len, uint32_t sector, uint64_t min_free,
		 uint64_t margin, uint64_t cap, int plan, unsigned *partno, uint64_t *start,
		 uint64_t *plen)
{
	unsigned char s[512], rnd[16];
	struct gpt g;
	unsigned slot;
	uint64_t a, b;
	int rc, type = table_load(c, fd, len, sector, s, &g);

	if (type < 0)
		return type;
	if (type == 0)
		return blk_fail(c, BLK_WHY_TABLE, -ENOENT, "no partition table");
	rc = type == 2 ? gpt_free(&g, sector, margin, &slot, &a, &b)
		       : mbr_free(s, len, sector, margin, &slot, &a, &b);
	if (rc == -EMLINK)
		return blk_fail(c, BLK_WHY_TABLE, rc, "no free %s entry", type == 2 ? "GPT" : "MBR");
	if (rc == -EFBIG)
		return blk_fail(c, BLK_WHY_TOO_BIG, rc, "free space starts beyond the 2 TiB an MBR "
				"can address");
	if (b < a || b - a < min_free)
		return too_small(c, a, b, min_free);
	if (cap && b - a > cap)
		b = a + align_up(cap, BLK_MIB);
	*partno = slot + 1;
	*start = a;
	*plen = b - a;
	if (plan)
		return 0;
	if (type == 2) {
		if ((rc = blk_random(rnd, sizeof(rnd))) < 0)
			return blk_fail(c, BLK_WHY_IO, rc, "getrandom: %s", strerror(-rc));
		gpt_entry(g.ent + slot * GPT_ENT_SIZE, a / sector, b / sector - 1, "cvmboot-scratch",
			  rnd);
		rc = gpt_write(fd, sector, &g, 0);
	} else {
		unsigned char *e = s + 446 + 16 * slot;

		memset(e, 0, 16);
		e[1] = 0xfe;				/* CHS unusable: LBA only */
		e[2] = 0xff;
		e[3] = 0xff;
		e[4] = 0x83;
		memset(e + 5, 0xff, 3);
		e[5] = 0xfe;
		blk_put32(e + 8, (uint32_t)(a / sector));
		blk_put32(e + 12, (uint32_t)((b - a) / sector));
		rc = blk_pwrite(fd, s, 512, 0);
	}
	return rc < 0 ? blk_fail_io(c, rc, "write", "partition table") : 0;
}

/* see blk.h */
int blk_part_grow(struct blk_ctx *c, int fd, uint64_t len, uint32_t sector, unsigned partno,
		  uint64_t *start, uint64_t *plen)
{
	unsigned char s[512], *e;
	struct gpt g;
	uint64_t first, end, a, b, lim;
	unsigned slot;
	int rc, type = table_load(c, fd, len, sector, s, &g);

	if (type < 0)
		return type;
	if (type == 0 || partno == 0 || partno > (type == 2 ? GPT_ENTS : 4u))
		return blk_fail(c, BLK_WHY_TABLE, -ENOENT, "no partition %u", partno);
	if (type == 2) {
		e = g.ent + (partno - 1) * GPT_ENT_SIZE;
		if (is_zero(e, 16))
			return blk_fail(c, BLK_WHY_TABLE, -ENOENT, "GPT entry %u is empty", partno);
		first = blk_get64(e + 32);
		end = blk_get64(e + 40) + 1;
		gpt_free(&g, sector, 0, &slot, &a, &b);
		lim = b / sector;
	} else {
		e = s + 446 + 16 * (partno - 1);
		if (!e[4])
			return blk_fail(c, BLK_WHY_TABLE, -ENOENT, "MBR entry %u is empty", partno);
		first = blk_get32(e + 8);
		end = first + blk_get32(e + 12);
		mbr_free(s, len, sector, 0, &slot, &a, &b);
		lim = len / sector;
		if (lim > first + MBR_LBA_MAX)
			lim = first + MBR_LBA_MAX;
		lim = lim * sector / BLK_MIB * BLK_MIB / sector;
	}
	*start = first * sector;
	*plen = (end - first) * sector;
	/* Only the last partition can grow: something else must not start after it. */
	if (a > align_up(end * sector, BLK_MIB))
		return blk_fail(c, BLK_WHY_TABLE, -ENOSPC, "partition %u is not the last one", partno);
	if (lim < end + BLK_MIB / sector && !(type == 2 && g.alt != g.nsec - 1))
		return 0;
	if (lim < end)
		lim = end;
	if (type == 2) {
		blk_put64(e + 40, lim - 1);
		rc = gpt_write(fd, sector, &g, 0);
	} else {
		blk_put32(e + 12, (uint32_t)(lim - first));
		rc = blk_pwrite(fd, s, 512, 0);
	}
	if (rc < 0)
		return blk_fail_io(c, rc, "write", "partition table");
	*plen = (lim - first) * sector;
	return 1;
}
