# SPDX-License-Identifier: MIT
# boot/image.mk: what goes into the boot image besides build/init: the
# kernel-module subset (its own cpio, appended: the kernel unpacks
# concatenated archives), the combined initrd, and later the ISO/disk images.

# The kernel: KERNEL=own (default) is boot/kernel.mk's OWN_KERNEL, every
# driver built in, no module archive; it boots the images and build/initrd.img
# (the VM suite, demo, bench). KERNEL=debian selects Debian's 6.12, pinned in
# third_party/pins (the release is the package name's tail) with a module
# archive each: KVER boots build/initrd.img (the cloud flavour: ext4 and NVMe
# built in, sooner at PID 1 under TCG), IMAGE_KVER is the images' (generic:
# e1000 and AHCI). Any installed release (/lib/modules/<release>,
# /boot/vmlinuz-<release>) can be given instead, e.g. bookworm's 6.1: make
# KERNEL=debian KVER=6.1.0-57-cloud-amd64 IMAGE_KVER=6.1.0-57-amd64.
# KERNEL=<path> boots that bzImage, without modules.
pin_kver = $(patsubst linux-image-%,%,$(shell awk '$$4 == "deb" && $$1 == "$(1)" {print $$2}' third_party/pins))
KVER_PINNED := $(call pin_kver,kernel-cloud)
IMAGE_KVER_PINNED := $(call pin_kver,kernel)
KVER ?= $(KVER_PINNED)
IMAGE_KVER ?= $(IMAGE_KVER_PINNED)
KERNEL ?= own
ifeq ($(KERNEL),own)
IMAGE_KERNEL := $(OWN_KERNEL)
VM_KERNEL := $(OWN_KERNEL)
else ifeq ($(KERNEL),debian)
IMAGE_KERNEL := /boot/vmlinuz-$(IMAGE_KVER)
IMAGE_MODULES := $(B)/modules-$(IMAGE_KVER).cpio.xz
VM_KERNEL := /boot/vmlinuz-$(KVER)
VM_MODULES := $(B)/modules-$(KVER).cpio.xz
else ifneq ($(wildcard $(KERNEL)),)
IMAGE_KERNEL := $(KERNEL)
VM_KERNEL := $(KERNEL)
else
$(error KERNEL=$(KERNEL) is neither "own", "debian" nor an existing bzImage file)
endif
KMODS := $(shell grep -v '^\#' boot/kmods.list)

# Module subset + its dependencies (modprobe --show-depends), indexed by
# depmod; one tree and archive per kernel release. Modules a kernel does not
# have (built in, or not configured) are skipped. Modules the package ships
# compressed (.ko.xz, 6.12) are stored decompressed: the archive is xz'd as a
# whole, which packs them tighter, and PID 1 loads them as they are.
define kmod_rules
$(B)/modules/$(1)/lib/modules/$(1)/modules.dep: boot/kmods.list boot/image.mk | $(TP_STAMP)
	@echo "  KMODS   $(1): $(words $(KMODS)) asked for"
	$$(Q)test -d /lib/modules/$(1) || { echo "no /lib/modules/$(1): install its linux-image package" >&2; exit 1; }
	$$(Q)rm -rf $(B)/modules/$(1) && mkdir -p $$(@D)
	$$(Q)for m in $(KMODS); do modprobe --show-depends -S $(1) $$$$m 2>/dev/null; done | \
		awk '$$$$1 == "insmod" {print $$$$2}' | sort -u | while read -r ko; do \
		rel=$$$${ko#/lib/modules/$(1)/}; mkdir -p $$(@D)/$$$$(dirname $$$$rel); \
		case $$$$ko in *.ko.xz) xz -dc $$$$ko > $$(@D)/$$$${rel%.xz};; *) cp $$$$ko $$(@D)/$$$$rel;; esac; \
		done
	$$(Q)cp /lib/modules/$(1)/modules.builtin /lib/modules/$(1)/modules.builtin.modinfo \
		/lib/modules/$(1)/modules.order $$(@D)/
	$$(Q)depmod -b $(B)/modules/$(1) $(1)
	$$(Q)cd $$(@D) && rm -f modules.*.bin modules.builtin* modules.order modules.devname \
		modules.softdep modules.symbols
$(B)/modules-$(1).cpio: $(B)/cvmboot $(B)/modules/$(1)/lib/modules/$(1)/modules.dep
	@echo "  CPIO    $$@"
	$$(Q)$(B)/cvmboot mkinitramfs --modules-only --tree $(B)/modules/$(1) -o $$@
$(B)/modules-$(1).cpio.xz: $(B)/modules-$(1).cpio
	@echo "  XZ      $$@"
	$$(Q)xz -T1 --check=crc32 --x86 --lzma2=preset=9e -c $$< > $$@
endef
# What the build's kernels are, for the tests (tests/lib/qemu.py): vm-kernel
# boots build/initrd.img; image-kernel is `make image`'s kernel and its module
# archive ("-" for none); debian-kernel is the Debian pair (KVER) that the
# suite boots once besides the default, and the releases of both pairs.
$(B)/vm-kernel: FORCE
	@mkdir -p $(@D)
	@echo '$(VM_KERNEL) $(or $(VM_MODULES),-)' | cmp -s - $@ || echo '$(VM_KERNEL) $(or $(VM_MODULES),-)' > $@
$(B)/image-kernel: FORCE
	@mkdir -p $(@D)
	@echo '$(IMAGE_KERNEL) $(or $(IMAGE_MODULES),-)' | cmp -s - $@ || echo '$(IMAGE_KERNEL) $(or $(IMAGE_MODULES),-)' > $@
$(B)/debian-kernel: FORCE
	@mkdir -p $(@D)
	@echo '/boot/vmlinuz-$(KVER) $(B)/modules-$(KVER).cpio.xz /boot/vmlinuz-$(IMAGE_KVER) $(B)/modules-$(IMAGE_KVER).cpio.xz' | cmp -s - $@ || \
		echo '/boot/vmlinuz-$(KVER) $(B)/modules-$(KVER).cpio.xz /boot/vmlinuz-$(IMAGE_KVER) $(B)/modules-$(IMAGE_KVER).cpio.xz' > $@

$(foreach k,$(sort $(KVER) $(IMAGE_KVER)),$(eval $(call kmod_rules,$(k))))

# What the boot loader hands the kernel: core archive, the CA bundle, then the
# modules (a Debian kernel's; the own kernel needs none).
$(B)/initrd.img: $(B)/initramfs.cpio.xz $(B)/ca.cpio.xz $(VM_MODULES) $(VM_KERNEL) $(B)/vm-kernel \
		| $(B)/image-kernel $(B)/debian-kernel
	@echo "  INITRD  $@"
	$(Q)cat $(filter %.xz,$^) > $@

# Repository settings baked into the image (overridable at boot by the kernel
# command line and user-data): make image REPO_URL=... REPO_NAME=...
# REPO_KEY=path.pub REPO_TAG=... They travel as a third, uncompressed archive
# so that changing them rebuilds neither build/init nor the core initramfs.
REPO_URL ?=
REPO_NAME ?=
REPO_KEY ?=
REPO_TAG ?=
REPO_PROXY ?=
IMAGE_CMDLINE ?= console=ttyS0 console=tty0 quiet
# The raw disk ends with its boot partition (sized to its files) unless given.
HDD_SIZE_MIB ?=
IMAGE_VARS := $(REPO_URL)|$(REPO_NAME)|$(REPO_KEY)|$(REPO_TAG)|$(REPO_PROXY)|$(IMAGE_CMDLINE)|$(IMAGE_CA)|$(KERNEL)

$(B)/config/vars: FORCE
	@mkdir -p $(@D)
	@echo '$(IMAGE_VARS)' | cmp -s - $@ || echo '$(IMAGE_VARS)' > $@
$(B)/config.cpio: $(B)/config/vars $(B)/cvmboot $(REPO_KEY)
	@echo "  CONFIG  $@"
	$(Q)rm -f $(@D)/config/defaults && touch $(@D)/config/defaults
	$(Q)$(if $(REPO_URL),echo 'repo_url=$(REPO_URL)' >> $(@D)/config/defaults;)
	$(Q)$(if $(REPO_NAME),echo 'repo_name=$(REPO_NAME)' >> $(@D)/config/defaults;)
	$(Q)$(if $(REPO_TAG),echo 'repo_tag=$(REPO_TAG)' >> $(@D)/config/defaults;)
	$(Q)$(if $(REPO_PROXY),echo 'proxy=$(REPO_PROXY)' >> $(@D)/config/defaults;)
	$(Q)$(if $(REPO_KEY),echo 'repo_key=/etc/cvmboot/keys/repo.pub' >> $(@D)/config/defaults;)
	$(Q)$(B)/cvmboot mkinitramfs --modules-only --file $(@D)/config/defaults:etc/cvmboot/defaults \
		$(if $(REPO_KEY),--file $(REPO_KEY):etc/cvmboot/keys/repo.pub) -o $@

# IMAGE_CA=yes (default) carries the CA bundle (CA_BUNDLE=file.pem: only the
# CAs asked for); IMAGE_CA=none leaves it out of an image for http:// only.
IMAGE_CA ?= yes
IMAGE_CA_ARCHIVE := $(if $(filter none,$(IMAGE_CA)),,$(B)/ca.cpio.xz)
IMAGE_INITRDS := $(B)/initramfs.cpio.xz $(IMAGE_CA_ARCHIVE) $(IMAGE_MODULES) $(B)/config.cpio
$(B)/cvmboot.iso: $(B)/cvmboot $(IMAGE_INITRDS) $(IMAGE_KERNEL)
	@echo "  ISO     $@"
	$(Q)$(B)/cvmboot mkimage --kernel $(IMAGE_KERNEL) $(IMAGE_INITRDS:%=--initrd %) \
		--cmdline '$(IMAGE_CMDLINE)' --iso $@
$(B)/cvmboot.hdd: $(B)/cvmboot $(IMAGE_INITRDS) $(IMAGE_KERNEL)
	@echo "  HDD     $@"
	$(Q)$(B)/cvmboot mkimage --kernel $(IMAGE_KERNEL) $(IMAGE_INITRDS:%=--initrd %) \
		--cmdline '$(IMAGE_CMDLINE)' --hdd $@ $(if $(HDD_SIZE_MIB),--hdd-size $(HDD_SIZE_MIB))

.PHONY: image FORCE
image: $(B)/cvmboot.iso $(B)/cvmboot.hdd
FORCE:
