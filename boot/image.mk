# SPDX-License-Identifier: MIT
# boot/image.mk: what goes into the boot image besides build/init: the
# kernel-module subset (its own cpio, appended: the kernel unpacks
# concatenated archives), the combined initrd, and later the ISO/disk images.

# The Debian cloud kernel (linux-image-cloud-amd64) and its modules.
KVER ?= $(notdir $(lastword $(sort $(wildcard /lib/modules/*-cloud-amd64))))
KERNEL ?= /boot/vmlinuz-$(KVER)
KMODS := $(shell grep -v '^\#' boot/kmods.list)

# Module subset + its dependencies (modprobe --show-depends), indexed by depmod.
$(B)/modules/lib/modules/$(KVER)/modules.dep: boot/kmods.list $(TP_STAMP)
	@echo "  KMODS   $(KVER): $(words $(KMODS)) asked for"
	$(Q)rm -rf $(B)/modules && mkdir -p $(B)/modules/lib/modules/$(KVER)
	$(Q)for m in $(KMODS); do modprobe --show-depends -S $(KVER) $$m || exit 1; done | \
		awk '$$1 == "insmod" {print $$2}' | sort -u | while read -r ko; do \
		rel=$${ko#/lib/modules/$(KVER)/}; mkdir -p $(B)/modules/lib/modules/$(KVER)/$$(dirname $$rel); \
		cp $$ko $(B)/modules/lib/modules/$(KVER)/$$rel; done
	$(Q)cp /lib/modules/$(KVER)/modules.builtin /lib/modules/$(KVER)/modules.order $(B)/modules/lib/modules/$(KVER)/
	$(Q)depmod -b $(B)/modules $(KVER)
	$(Q)cd $(B)/modules/lib/modules/$(KVER) && rm -f modules.*.bin modules.builtin* modules.order \
		modules.devname modules.softdep modules.symbols

$(B)/modules.cpio: $(B)/cvmboot $(B)/modules/lib/modules/$(KVER)/modules.dep
	@echo "  CPIO    $@"
	$(Q)$(B)/cvmboot mkinitramfs --modules-only --tree $(B)/modules -o $@
$(B)/modules.cpio.xz: $(B)/modules.cpio
	@echo "  XZ      $@"
	$(Q)xz -T1 --check=crc32 -9e -c $< > $@

# What the boot loader hands the kernel: core archive, then the modules.
$(B)/initrd.img: $(B)/initramfs.cpio.xz $(B)/modules.cpio.xz
	@echo "  INITRD  $@"
	$(Q)cat $^ > $@
