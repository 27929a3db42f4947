/* SPDX-License-Identifier: MIT */
/* lwIP compiler/platform glue for static musl (and glibc for host tests). */
#ifndef CVMBOOT_LWIP_ARCH_CC_H
#define CVMBOOT_LWIP_ARCH_CC_H
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#define LWIP_ERRNO_STDINCLUDE	1
#define LWIP_RAND()		((u32_t)random())
#define LWIP_PLATFORM_DIAG(x)	do { } while (0)
#define LWIP_PLATFORM_ASSERT(x)	abort()
#include <endian.h>	/* BYTE_ORDER, as the libc defines it */
#endif
