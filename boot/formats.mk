# SPDX-License-Identifier: MIT
# boot/formats.mk: the raw boot disk ($(B)/cvmboot.hdd) in every format a
# hypervisor or cloud wants, by boot/mkformat.py with Debian's qemu-img
# (qemu-utils); reproducible: identifiers and times derive from the input
# and SOURCE_DATE_EPOCH.
#   make image FORMAT="qcow2 vhd"   the ISO, the raw disk and those formats
#   make image-formats              every format
#   make $(B)/cvmboot.qcow2         one of them
# qcow2: OpenStack, KVM; vmdk: VMware (stream-optimized, 20 GiB);
# vdi: VirtualBox, BOINC's vboxwrapper (20 GiB); vhd: Azure (fixed size);
# vhdx: Hyper-V; ova: OVF 1.0 appliance (boot disk, blank 20000 MB scratch
# disk, NAT NIC, 1 GiB); gce: disk.raw in a tar.gz (GCE image import).
IMAGE_FORMATS := qcow2 vmdk vdi vhd vhdx ova gce
image_format_file = $(B)/$(if $(filter gce,$(1)),cvmboot-gce.tar.gz,cvmboot.$(1))
FORMAT ?=

define format_rule
$(call image_format_file,$(1)): $(B)/cvmboot.hdd boot/mkformat.py
	@echo "  FORMAT  $$@"
	$$(Q)command -v qemu-img > /dev/null || { echo "no qemu-img: apt-get install qemu-utils (make deps)" >&2; exit 1; }
	$$(Q)CVMBOOT_VERSION=$(VERSION) $(PYTHON) boot/mkformat.py $(1) $$< $$@
endef
$(foreach f,$(IMAGE_FORMATS),$(eval $(call format_rule,$(f))))

$(if $(filter-out $(IMAGE_FORMATS),$(FORMAT)),$(error FORMAT=$(FORMAT): known formats are $(IMAGE_FORMATS)))
image: $(foreach f,$(FORMAT),$(call image_format_file,$(f)))
.PHONY: image-formats
image-formats: $(foreach f,$(IMAGE_FORMATS),$(call image_format_file,$(f)))

# Signed metadata of the images (boot/tool-sign.c): sizes and SHA-256 of the
# ISO, the raw disk, the formats asked for, the kernel and the initrd
# archives, and the repository settings baked in; signed with the
# repository's master key:  make sign-image SIGN_KEYS=DIR SIGN_NAME=FQRN
# Check:  build/cvmboot verify-image --key DIR/FQRN.pub --meta build/cvmboot.meta
SIGN_KEYS ?=
SIGN_NAME ?= $(REPO_NAME)
SIGNED := $(B)/cvmboot.iso $(B)/cvmboot.hdd $(foreach f,$(FORMAT),$(call image_format_file,$(f)))
.PHONY: sign-image
sign-image: $(B)/cvmboot.meta
$(B)/cvmboot.meta: $(SIGNED) $(IMAGE_INITRDS) $(B)/config.cpio $(B)/cvmboot FORCE
	@echo "  SIGN    $@"
	$(Q)test -n "$(SIGN_KEYS)" -a -n "$(SIGN_NAME)" || { echo "make sign-image needs SIGN_KEYS=DIR (cvmboot keygen) and SIGN_NAME=FQRN" >&2; exit 1; }
	$(Q)$(B)/cvmboot sign-image --keys $(SIGN_KEYS) --name $(SIGN_NAME) --version $(VERSION) \
		$(SIGNED:%=--image %) --kernel $(IMAGE_KERNEL) $(IMAGE_INITRDS:%=--initrd %) \
		--defaults $(B)/config/defaults -o $@
