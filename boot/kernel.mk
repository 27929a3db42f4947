# SPDX-License-Identifier: MIT
# boot/kernel.mk: the images' own kernel. Linux 6.12 from Debian's
# linux-source-6.12 (pinned in third_party/pins), tinyconfig plus
# boot/kernel.config: every driver the supported hypervisors need built in,
# XZ-compressed, no modules. boot/kernel-build builds it once per machine into
# a cache outside the work tree, KCACHE (default /var/cache/cvmboot; README),
# under a key that hashes everything that decides its bytes: the source
# package version, the fragment, the build and check scripts and the
# toolchain. A second `make`, a new clone and CI find it there; a clean
# machine builds it once (~15 min on 2 cores).
#
# Out: $(OWN_KERNEL) (bzImage) and its config beside it. `make kernel` builds
# it; `make image` (KERNEL=own, the default) and build/initrd.img's VM suite
# use it. KERNEL=debian selects Debian's kernels and their module archives.

KCACHE ?= /var/cache/cvmboot
KERNEL_SRC_TAR := /usr/src/linux-source-6.12.tar.xz
KERNEL_SRC_PIN := $(shell awk '$$4 == "deb" && $$1 == "kernel-src" {print $$2 "=" $$3}' third_party/pins)
KERNEL_TOOLCHAIN := $(shell $(H_CC) --version | head -1; ld --version | head -1)
# kernel_key(arch, fragment): 16 hex digits of sha256 over the inputs above.
kernel_key = $(shell { echo '$(1) $(KERNEL_SRC_PIN) $(KERNEL_TOOLCHAIN)'; \
	cat $(2) boot/kernel-build boot/kernel-check; } | sha256sum | cut -c1-16)
OWN_KERNEL_DIR := $(KCACHE)/kernel-x86_64-$(call kernel_key,x86_64,boot/kernel.config)
OWN_KERNEL := $(OWN_KERNEL_DIR)/vmlinuz

# The path names the inputs, so the file exists exactly when it is current.
# A source package at another version than the pin is refused by name.
$(OWN_KERNEL):
	$(Q)v=$$(dpkg-query -W -f='$${Version}' $(firstword $(subst =, ,$(KERNEL_SRC_PIN))) 2>/dev/null); \
	test "$$v" = "$(lastword $(subst =, ,$(KERNEL_SRC_PIN)))" || { echo "kernel: $(KERNEL_SRC_PIN) is pinned but $${v:-nothing} is installed: run \`make deps\`" >&2; exit 1; }
	$(Q)boot/kernel-build x86_64 boot/kernel.config $(KERNEL_SRC_TAR) $(OWN_KERNEL_DIR)

.PHONY: kernel
kernel: $(OWN_KERNEL)
	@echo "  KERNEL  $(OWN_KERNEL): $$(stat -c %s $(OWN_KERNEL)) bytes"
