/* SPDX-License-Identifier: MIT */
/* boot/kmod.h: load just the kernel modules this VM needs (coldplug). */
#ifndef BOOT_KMOD_H
#define BOOT_KMOD_H

#include <stdint.h>

/* Where the initramfs holds the packed module subset; "%s" is uname -r. */
#define BOOT_KMOD_DIR "/lib/modules/%s"

struct boot_kmod_stats {
	unsigned devices;	/* modalias files seen in the last pass */
	unsigned loaded;	/* modules this call inserted */
	unsigned failed;	/* finit_module errors other than EEXIST */
	unsigned passes;
};

/* Read-only view of modules.dep and modules.alias, mapped (no heap). */
struct boot_kmod {
	char dir[128];
	const char *dep, *alias;
	size_t dep_len, alias_len;
};

/* Maps DIR/modules.dep and DIR/modules.alias. Returns 0 or -errno (-ENOENT:
 * the image was built without modules; the caller decides if that is fatal). */
int boot_kmod_open(struct boot_kmod *k, const char *dir);
void boot_kmod_close(struct boot_kmod *k);

/* Loads NAME ("virtio_net"; '-' and '_' are the same) after its dependencies
 * from modules.dep. Already-loaded modules (/sys/module/NAME) are skipped.
 * Returns 1 if something was inserted, 0 if nothing was needed, -ENOENT if
 * NAME is not in the packed subset, or -errno from finit_module. */
int boot_kmod_load(const struct boot_kmod *k, const char *name);

/* Coldplug: match every /sys/bus/WHATEVER/devices/WHO/modalias against
 * modules.alias and load what matches, pass after pass while new devices
 * appear (a loaded bus driver adds devices), until a pass loads nothing or
 * deadline_ms. Returns 0 (stats filled) or -ETIMEDOUT. */
int boot_kmod_coldplug(const struct boot_kmod *k, uint64_t deadline_ms,
		       struct boot_kmod_stats *st);

#endif
