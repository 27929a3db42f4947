/* SPDX-License-Identifier: MIT */
/* blk/mkfs-layout.c: where blk_mkfs puts every ext4 metadata block (pure arithmetic). */
#include <errno.h>
#include <string.h>

#include "blk/internal.h"

#define DIV_UP(a, b) (((a) + (b) - 1) / (b))

/* see internal.h */
int blk_fs_has_super(uint32_t g)
{
	static const uint32_t bases[] = { 3, 5, 7 };
	uint64_t p;
	unsigned i;

	if (g <= 1)
		return 1;
	for (i = 0; i < 3; i++) {
		for (p = bases[i]; p < g; p *= bases[i])
			;
		if (p == g)
			return 1;
	}
	return 0;
}

/* see internal.h */
uint32_t blk_fs_group_len(const struct blk_fs_layout *L, uint32_t g)
{
	uint64_t start = (uint64_t)g * BLK_FS_BPG;

	return L->blocks - start < BLK_FS_BPG ? (uint32_t)(L->blocks - start) : BLK_FS_BPG;
}

/* Groups in g's flex group when g leads it, else 0. */
static uint32_t flex_members(const struct blk_fs_layout *L, uint32_t g)
{
	if (g % BLK_FS_FLEX)
		return 0;
	return L->groups - g < BLK_FS_FLEX ? L->groups - g : BLK_FS_FLEX;
}

static uint32_t base_meta(const struct blk_fs_layout *L, uint32_t g)
{
	return blk_fs_has_super(g) ? 1 + L->gdt_blocks : 0;
}

static uint32_t reserved_meta(const struct blk_fs_layout *L, uint32_t g)
{
	return base_meta(L, g) + flex_members(L, g) * (2 + L->itb);
}

/* see internal.h */
uint32_t blk_fs_reserved(const struct blk_fs_layout *L, uint32_t g)
{
	uint32_t r = reserved_meta(L, g);

	if (g == 0)
		r += 1 + BLK_FS_LPF_BLOCKS + (L->jleaf ? 1 : 0);
	return r;
}

/* Journal blocks inside group g. */
static uint32_t journal_in(const struct blk_fs_layout *L, uint32_t g)
{
	uint64_t gs = (uint64_t)g * BLK_FS_BPG, ge = gs + blk_fs_group_len(L, g), a, b;
	uint32_t i, n = 0;

	for (i = 0; i < L->jn; i++) {
		a = L->jext[i].start > gs ? L->jext[i].start : gs;
		b = L->jext[i].start + L->jext[i].len;
		b = b < ge ? b : ge;
		if (a < b)
			n += (uint32_t)(b - a);
	}
	return n;
}

/* see internal.h */
uint32_t blk_fs_used(const struct blk_fs_layout *L, uint32_t g)
{
	return blk_fs_reserved(L, g) + journal_in(L, g);
}

/* see internal.h */
void blk_fs_group_tables(const struct blk_fs_layout *L, uint32_t g, uint64_t *bb, uint64_t *ib,
			 uint64_t *it)
{
	uint32_t lead = g - g % BLK_FS_FLEX, m = flex_members(L, lead), i = g - lead;
	uint64_t t = (uint64_t)lead * BLK_FS_BPG + base_meta(L, lead);

	*bb = t + i;
	*ib = t + m + i;
	*it = t + 2ull * m + (uint64_t)i * L->itb;
}

/* see internal.h */
int blk_fs_group_init(const struct blk_fs_layout *L, uint32_t g)
{
	return g == 0 || g == L->groups - 1 || flex_members(L, g) || journal_in(L, g);
}

static void set_bits(unsigned char *bm, uint32_t a, uint32_t b)
{
	for (; a < b && (a & 7); a++)
		bm[a >> 3] |= (unsigned char)(1u << (a & 7));
	for (; a + 8 <= b; a += 8)
		bm[a >> 3] = 0xff;
	for (; a < b; a++)
		bm[a >> 3] |= (unsigned char)(1u << (a & 7));
}

/* see internal.h */
void blk_fs_block_bitmap(const struct blk_fs_layout *L, uint32_t g, unsigned char *bm)
{
	uint64_t gs = (uint64_t)g * BLK_FS_BPG, ge = gs + blk_fs_group_len(L, g), a, b;
	uint32_t i;

	memset(bm, 0, BLK_FS_BS);
	set_bits(bm, 0, blk_fs_reserved(L, g));
	for (i = 0; i < L->jn; i++) {
		a = L->jext[i].start > gs ? L->jext[i].start : gs;
		b = L->jext[i].start + L->jext[i].len;
		b = b < ge ? b : ge;
		if (a < b)
			set_bits(bm, (uint32_t)(a - gs), (uint32_t)(b - gs));
	}
	/* Bits past the end of a short last group are set, as the kernel does. */
	set_bits(bm, blk_fs_group_len(L, g), BLK_FS_BPG);
}

/* see internal.h */
uint32_t blk_fs_journal_blocks(uint64_t blocks)
{
	if (blocks < 32768)
		return 1024;
	if (blocks < 256 * 1024)
		return 4096;
	if (blocks < 512 * 1024)
		return 8192;
	if (blocks < 4096 * 1024)
		return 16384;
	if (blocks < 8192 * 1024)
		return 32768;
	if (blocks < 16384 * 1024)
		return 65536;
	if (blocks < 32768 * 1024)
		return 131072;
	return 262144;
}

/* Journal extents in the free tails of groups from group s on. */
static int journal_alloc(struct blk_fs_layout *L, uint32_t s)
{
	uint32_t need = L->jblocks, lblk = 0, g, len;
	uint64_t a, end;
	struct blk_fs_ext *e;

	L->jn = 0;
	for (g = s; g < L->groups && need; g++) {
		a = (uint64_t)g * BLK_FS_BPG + blk_fs_reserved(L, g);
		end = (uint64_t)g * BLK_FS_BPG + blk_fs_group_len(L, g);
		while (a < end && need) {
			len = end - a < need ? (uint32_t)(end - a) : need;
			e = L->jn ? &L->jext[L->jn - 1] : NULL;
			if (e && e->start + e->len == a && e->len < BLK_FS_EXT_LEN) {
				len = len < BLK_FS_EXT_LEN - e->len ? len : BLK_FS_EXT_LEN - e->len;
				e->len += len;
			} else {
				if (L->jn == BLK_FS_JEXT_MAX)
					return -ENOSPC;
				len = len < BLK_FS_EXT_LEN ? len : BLK_FS_EXT_LEN;
				L->jext[L->jn++] = (struct blk_fs_ext){ a, lblk, len };
			}
			a += len;
			lblk += len;
			need -= len;
		}
	}
	return need ? -ENOSPC : 0;
}

/* Inodes per group: one per 16 KiB, whole inode-table blocks, within the
 * bitmap (one block) and within 2^32 inodes in all. */
static uint32_t inodes_per_group(uint64_t blocks, uint32_t groups)
{
	uint64_t ipg = DIV_UP(blocks * BLK_FS_BS / BLK_FS_IRATIO, groups);
	uint32_t per_blk = BLK_FS_BS / BLK_FS_ISIZE;

	ipg = DIV_UP(ipg, per_blk) * per_blk;
	if (ipg < per_blk)
		ipg = per_blk;
	if (ipg > BLK_FS_BPG)
		ipg = BLK_FS_BPG;
	if (ipg * groups > 0xffffffffull)
		ipg = (0xffffffffull / groups) / per_blk * per_blk;
	return (uint32_t)ipg;
}

/* see internal.h */
int blk_fs_layout(struct blk_fs_layout *L, uint64_t blocks, int is64)
{
	uint32_t last;
	int rc;

	memset(L, 0, sizeof(*L));
	if (blocks > BLK_MKFS_MAX / BLK_FS_BS || (!is64 && blocks > 0xffffffffull))
		return -EFBIG;
	L->desc_size = is64 ? 64 : 32;
	for (;;) {
		if (blocks < BLK_MKFS_MIN / BLK_FS_BS)
			return -ENOSPC;
		L->blocks = blocks;
		L->groups = (uint32_t)DIV_UP(blocks, BLK_FS_BPG);
		L->ipg = inodes_per_group(blocks, L->groups);
		L->itb = L->ipg * BLK_FS_ISIZE / BLK_FS_BS;
		L->gdt_blocks = (uint32_t)DIV_UP((uint64_t)L->groups * L->desc_size, BLK_FS_BS);
		last = L->groups - 1;
		/* A last group too short for what it must hold is dropped, as mke2fs does. */
		if (last && blk_fs_group_len(L, last) < blk_fs_reserved(L, last) + 256) {
			blocks = (uint64_t)last * BLK_FS_BPG;
			continue;
		}
		break;
	}
	L->root_blk = reserved_meta(L, 0);
	L->lpf_blk = L->root_blk + 1;
	L->jblocks = blk_fs_journal_blocks(L->blocks);
	if (blk_fs_reserved(L, 0) + 64 > blk_fs_group_len(L, 0))
		return -ENOSPC;
	/* The journal goes to the middle (mke2fs does the same); one leaf block
	 * holds its extents when the inode's four do not suffice. */
	rc = journal_alloc(L, L->groups / 2);
	if (rc < 0)
		rc = journal_alloc(L, 0);
	if (rc == 0 && L->jn > 4) {
		L->jleaf = L->lpf_blk + BLK_FS_LPF_BLOCKS;
		rc = journal_alloc(L, L->groups / 2);
		if (rc < 0)
			rc = journal_alloc(L, 0);
	}
	L->first_free_g0 = blk_fs_reserved(L, 0);
	return rc;
}
