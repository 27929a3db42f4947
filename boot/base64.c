/* SPDX-License-Identifier: MIT */
/* boot/base64.c: base64 decoding (user-data, EC2_USER_DATA, cernvm_inject). */
#include <errno.h>

#include "boot/context.h"

static int b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* see context.h */
ssize_t boot_base64_decode(const char *in, size_t len, void *out, size_t cap)
{
	unsigned char *o = out;
	unsigned long acc = 0;
	size_t i, n = 0;
	int bits = 0, pad = 0, v;

	/* The write position never passes the read position, so in == out works. */
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			continue;
		if (c == '=') {
			pad++;
			continue;
		}
		if (pad || (v = b64val(c)) < 0)
			return -EINVAL;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (n == cap)
				return -ENOSPC;
			o[n++] = (unsigned char)(acc >> bits);
		}
	}
	/* 6 leftover bits cannot come from whole bytes. */
	if (bits >= 6 || pad > 2)
		return -EINVAL;
	return (ssize_t)n;
}
