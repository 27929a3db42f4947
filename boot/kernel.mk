# SPDX-License-Identifier: MIT
# boot/kernel.mk: `make kernel` builds a minimal virtualization kernel from
# Debian's linux-source package: every driver the supported hypervisors need
# built in (boot/kernel.config), XZ-compressed, no modules. Slow (minutes), so
# it is in neither `all` nor `check`; `make image KERNEL=$(B)/kernel/vmlinuz`
# uses it. Out: $(B)/kernel/vmlinuz (bzImage) and $(B)/kernel/config.

KERNEL_SRC_TAR ?= /usr/src/linux-source-6.1.tar.xz
KERNEL_JOBS ?= 2
K_DIR := $(B)/kernel
K_SRC := $(K_DIR)/src
K_SRC_ABS := $(abspath $(K_SRC))
K_OBJ := $(abspath $(K_DIR)/obj)
# Kbuild runs with a clean environment of make variables (ours, such as B= or
# V=, must not leak into it) and reproducible version strings.
K_MAKE := env -u MAKEFLAGS -u MFLAGS -u MAKEOVERRIDES -u MAKELEVEL $(MAKE) -C $(K_SRC_ABS) \
	O=$(K_OBJ) ARCH=x86_64 -j$(KERNEL_JOBS) $(if $(V),V=1) \
	KBUILD_BUILD_USER=cvmboot KBUILD_BUILD_HOST=cvmboot KBUILD_BUILD_VERSION=1 \
	KBUILD_BUILD_TIMESTAMP="$$(date -u -d @$(SOURCE_DATE_EPOCH) '+%Y-%m-%d %H:%M:%S UTC')"

# Unpacked once; again only when the package brings a new tarball.
$(K_SRC)/.unpacked: $(KERNEL_SRC_TAR)
	@echo "  UNPACK  $(KERNEL_SRC_TAR)"
	$(Q)rm -rf $(K_SRC) $(K_DIR)/unpack && mkdir -p $(K_DIR)/unpack
	$(Q)tar -C $(K_DIR)/unpack -xf $(KERNEL_SRC_TAR)
	$(Q)mv $(K_DIR)/unpack/linux-source-6.1 $(K_SRC) && rmdir $(K_DIR)/unpack
	$(Q)touch $@
$(KERNEL_SRC_TAR):
	@echo "kernel: $@ is missing: apt-get install linux-source-6.1 (it is in third_party/packages; \`make deps\`)" >&2
	@exit 1

# tinyconfig with our fragment merged on top (merge_config.sh), then resolved
# by allnoconfig with that as KCONFIG_ALLCONFIG, so that options our fragment
# brings into view (XEN's back-ends, dom0, balloon...) default to off instead of
# to their Kconfig default as olddefconfig alone would leave them. Then checked:
# an option Kconfig dropped for an unmet dependency fails the build by name.
$(K_OBJ)/.config: boot/kernel.config boot/kernel-check boot/kernel.mk $(K_SRC)/.unpacked
	@echo "  KCONFIG $@"
	$(Q)mkdir -p $(K_OBJ)
	$(Q)$(K_MAKE) -s tinyconfig >/dev/null
	$(Q)cd $(K_OBJ) && $(K_SRC_ABS)/scripts/kconfig/merge_config.sh -m -O $(K_OBJ) \
		$(K_OBJ)/.config $(CURDIR)/boot/kernel.config >/dev/null
	$(Q)mv $@ $(K_OBJ)/merged.config
	$(Q)$(K_MAKE) -s KCONFIG_ALLCONFIG=$(K_OBJ)/merged.config allnoconfig
	$(Q)$(K_MAKE) -s olddefconfig
	$(Q)boot/kernel-check boot/kernel.config $@

$(K_DIR)/vmlinuz: $(K_OBJ)/.config
	@echo "  KBUILD  $@ (make -j$(KERNEL_JOBS) bzImage)"
	$(Q)$(K_MAKE) $(if $(V),,-s) bzImage
	$(Q)cp $(K_OBJ)/arch/x86/boot/bzImage $@.tmp && mv $@.tmp $@
$(K_DIR)/config: $(K_DIR)/vmlinuz
	$(Q)cp $(K_OBJ)/.config $@
	@ls -l $(K_DIR)/vmlinuz | awk '{print "  KERNEL  " $$NF ": " $$5 " bytes"}'

.PHONY: kernel kernel-config
kernel: $(K_DIR)/vmlinuz $(K_DIR)/config
kernel-config: $(K_OBJ)/.config
