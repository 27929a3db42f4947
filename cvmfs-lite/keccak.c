/* SPDX-License-Identifier: MIT */
/* cvmfs-lite/keccak.c: SHAKE128 (FIPS 202) for shake128 repositories; mbedTLS 2.28 has no SHA-3. */
#include <string.h>

#include "cvmfs-lite/format.h"

#define SHAKE128_RATE 168	/* (1600 - 2 * 128) / 8 */

static const uint64_t rc[24] = {
	0x0000000000000001ULL, 0x0000000000008082ULL, 0x800000000000808aULL,
	0x8000000080008000ULL, 0x000000000000808bULL, 0x0000000080000001ULL,
	0x8000000080008081ULL, 0x8000000000008009ULL, 0x000000000000008aULL,
	0x0000000000000088ULL, 0x0000000080008009ULL, 0x000000008000000aULL,
	0x000000008000808bULL, 0x800000000000008bULL, 0x8000000000008089ULL,
	0x8000000000008003ULL, 0x8000000000008002ULL, 0x8000000000000080ULL,
	0x000000000000800aULL, 0x800000008000000aULL, 0x8000000080008081ULL,
	0x8000000000008080ULL, 0x0000000080000001ULL, 0x8000000080008008ULL,
};
/* rho offsets and pi lane order, FIPS 202 3.2.2/3.2.3 in the usual
 * "walk the 24 non-zero lanes" form. */
static const unsigned rotc[24] = {
	1, 3, 6, 10, 15, 21, 28, 36, 45, 55, 2, 14, 27, 41, 56, 8, 25, 43, 62, 18, 39, 61, 20, 44,
};
static const unsigned piln[24] = {
	10, 7, 11, 17, 18, 3, 5, 16, 8, 21, 24, 4, 15, 23, 19, 13, 12, 2, 20, 14, 22, 9, 6, 1,
};

static uint64_t rotl(uint64_t x, unsigned n)
{
	return (x << n) | (x >> (64 - n));
}

static void keccakf(uint64_t st[25])
{
	uint64_t bc[5], t;
	int r, i, j;

	for (r = 0; r < 24; r++) {
		for (i = 0; i < 5; i++)
			bc[i] = st[i] ^ st[i + 5] ^ st[i + 10] ^ st[i + 15] ^ st[i + 20];
		for (i = 0; i < 5; i++) {
			t = bc[(i + 4) % 5] ^ rotl(bc[(i + 1) % 5], 1);
			for (j = 0; j < 25; j += 5)
				st[j + i] ^= t;
		}
		t = st[1];
		for (i = 0; i < 24; i++) {
			j = piln[i];
			bc[0] = st[j];
			st[j] = rotl(t, rotc[i]);
			t = bc[0];
		}
		for (j = 0; j < 25; j += 5) {
			for (i = 0; i < 5; i++)
				bc[i] = st[j + i];
			for (i = 0; i < 5; i++)
				st[j + i] ^= (~bc[(i + 1) % 5]) & bc[(i + 2) % 5];
		}
		st[0] ^= rc[r];
	}
}

/* Lanes are little-endian (FIPS 202 B.1); byte-wise xor keeps it portable. */
static void xor_byte(uint64_t st[25], size_t pos, unsigned char b)
{
	st[pos / 8] ^= (uint64_t)b << (8 * (pos % 8));
}

/* see format.h */
void cvmfs_shake128_init(struct cvmfs_keccak *k)
{
	memset(k, 0, sizeof(*k));
}

/* see format.h */
void cvmfs_shake128_update(struct cvmfs_keccak *k, const void *data, size_t len)
{
	const unsigned char *p = data;

	while (len > 0) {
		if (k->pos == 0 && len >= SHAKE128_RATE) {
			size_t i;

			for (i = 0; i < SHAKE128_RATE / 8; i++) {
				uint64_t w = 0;
				int b;

				for (b = 7; b >= 0; b--)
					w = (w << 8) | p[i * 8 + b];
				k->st[i] ^= w;
			}
			keccakf(k->st);
			p += SHAKE128_RATE;
			len -= SHAKE128_RATE;
			continue;
		}
		xor_byte(k->st, k->pos++, *p++);
		len--;
		if (k->pos == SHAKE128_RATE) {
			keccakf(k->st);
			k->pos = 0;
		}
	}
}

/* see format.h */
void cvmfs_shake128_final(struct cvmfs_keccak *k, unsigned char *out, size_t len)
{
	if (!k->squeezing) {
		/* SHAKE domain bits 1111, then pad10*1. */
		xor_byte(k->st, k->pos, 0x1f);
		xor_byte(k->st, SHAKE128_RATE - 1, 0x80);
		keccakf(k->st);
		k->pos = 0;
		k->squeezing = 1;
	}
	while (len > 0) {
		if (k->pos == SHAKE128_RATE) {
			keccakf(k->st);
			k->pos = 0;
		}
		*out++ = (unsigned char)(k->st[k->pos / 8] >> (8 * (k->pos % 8)));
		k->pos++;
		len--;
	}
}
