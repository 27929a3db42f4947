# SPDX-License-Identifier: MIT
# cvmboot: one non-recursive GNU Makefile. Two programs come out of one tree:
# build/init (static musl, PID 1 of the initramfs and the cvmfs-lite daemon)
# and build/cvmboot (host tool). See README.md for the targets.

.DELETE_ON_ERROR:
.SUFFIXES:
.DEFAULT_GOAL := all
# Both cores by default; `make -j1` still works.
MAKEFLAGS += -j$(shell nproc)

B := build
# Helpers working in parallel use their own B= and share one TP=.
TP ?= $(B)/third_party
KINC := $(TP)/kinc
Q := $(if $(V),,@)
VERSION := $(shell cat VERSION)
# Reproducible builds: every timestamp we write comes from here.
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
export SOURCE_DATE_EPOCH

T_CC := musl-gcc
H_CC := gcc
AR := ar
PYTHON := /usr/bin/python3

CFLAGS_COMMON := -std=c11 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -Wall -Wextra -Wvla \
	-Wno-unused-parameter -Wno-missing-field-initializers -I. \
	-ffile-prefix-map=$(CURDIR)/= -DCVMBOOT_VERSION='"$(VERSION)"' -MMD -MP
T_CFLAGS := $(CFLAGS_COMMON) -Os -ffunction-sections -fdata-sections \
	-fno-asynchronous-unwind-tables -fno-unwind-tables -fno-ident -isystem $(KINC)
H_CFLAGS := $(CFLAGS_COMMON) -O2 -g -DCVMBOOT_HOST
T_LDFLAGS := -static -Wl,--gc-sections -Wl,--build-id=sha1 -Wl,-z,norelro \
	-Wl,-z,noexecstack -Wl,-z,noseparate-code -Wl,--hash-style=gnu -Wl,--sort-section=name
H_LDFLAGS :=

MODULES := boot net tls cvmfs-lite cvmfs-pub blk aufs-setup
# Archive order for the linker: a module before the modules it depends on
# (its <mod>_DEPS). The one copy: build/init, build/cvmboot and the fuzz
# targets all link in this order, so it is set before the includes.
LINK_ORDER := boot cvmfs-pub cvmfs-lite tls net blk aufs-setup
# Modules with host sources only (no <mod>_SRCS): never linked into build/init.
HOST_ONLY := cvmfs-pub
include third_party/third_party.mk
include $(MODULES:%=%/module.mk)
include linker/module.mk
include boot/kernel.mk
include boot/image.mk
include boot/formats.mk
include tests/module.mk
include tests/fuzz/fuzz.mk
include boot/demo.mk
include boot/web/web.mk

T_CFLAGS += $(TP_T_INCLUDES)
H_CFLAGS += $(TP_H_INCLUDES)

# mod_rules(mod): lib<mod>.a for both flavours. <mod>_SRCS go into both
# programs; <mod>_HOST_SRCS only into the host tool (publisher, CLI verbs).
define mod_rules
$(B)/t/lib$(1).a: $$(patsubst %.c,$(B)/t/%.o,$$($(1)_SRCS))
	@mkdir -p $$(@D)
	@echo "  AR      $$@"
	$(Q)rm -f $$@ && $(AR) rcsD $$@ $$^
$(B)/h/lib$(1).a: $$(patsubst %.c,$(B)/h/%.o,$$($(1)_SRCS) $$($(1)_HOST_SRCS))
	@mkdir -p $$(@D)
	@echo "  AR      $$@"
	$(Q)rm -f $$@ && $(AR) rcsD $$@ $$^
endef
$(foreach m,$(MODULES),$(eval $(call mod_rules,$(m))))

$(B)/t/%.o: %.c | $(TP_STAMP) $(KINC) $(TP_T_HEADERS)
	@mkdir -p $(@D)
	@echo "  CC      $@"
	$(Q)$(T_CC) $(T_CFLAGS) -c $< -o $@
$(B)/h/%.o: %.c | $(TP_STAMP) $(TP_H_HEADERS)
	@mkdir -p $(@D)
	@echo "  HOSTCC  $@"
	$(Q)$(H_CC) $(H_CFLAGS) -c $< -o $@

$(B)/init.unstripped: Makefile $(B)/t/boot/main.o $(filter-out $(HOST_ONLY:%=$(B)/t/lib%.a),$(LINK_ORDER:%=$(B)/t/lib%.a)) $(TP_T_LIBS)
	@echo "  LD      $@"
	$(Q)$(T_CC) $(T_LDFLAGS) -Wl,-Map=$(B)/init.map -o $@ $(filter-out Makefile,$^) -lpthread
$(B)/init: $(B)/init.unstripped linker/check-static
	@echo "  STRIP   $@"
	$(Q)strip --strip-all -R .comment -R .note.GNU-stack -o $@ $<
	$(Q)linker/check-static $@

$(B)/cvmboot: $(B)/h/boot/tool.o $(LINK_ORDER:%=$(B)/h/lib%.a) $(TP_H_LIBS)
	@echo "  LD      $@"
	$(Q)$(H_CC) $(H_LDFLAGS) -o $@ $^ -lpthread -lm

# The initramfs: /init plus what boot/ bakes in, packed by our own cpio writer.
# Its mtimes are SOURCE_DATE_EPOCH (the last commit's time), so a new commit
# repacks it even when no input file changed.
$(B)/source-date-epoch: FORCE
	@mkdir -p $(@D)
	$(Q)echo '$(SOURCE_DATE_EPOCH)' | cmp -s - $@ || echo '$(SOURCE_DATE_EPOCH)' > $@
$(B)/initramfs.cpio: $(B)/cvmboot $(B)/init $(B)/source-date-epoch
	@echo "  CPIO    $@"
	$(Q)$(B)/cvmboot mkinitramfs --init $(B)/init -o $@
# The CA bundle travels in its own archive after the core one: only https://
# needs it, so an image for http:// repositories (CernVM-FS content is signed)
# leaves it out (make image IMAGE_CA=none; boot/image.mk).
$(B)/ca.cpio: $(B)/cvmboot $(TLS_CA_DER) $(B)/source-date-epoch
	@echo "  CPIO    $@"
	$(Q)$(B)/cvmboot mkinitramfs --modules-only --file $(TLS_CA_DER):etc/cvmboot/ca.der -o $@
# xz with a CRC32 check and the x86 BCJ filter, both of which the kernel's
# unpacker reads (XZ_DEC_X86); BCJ makes the archive ~4% smaller.
$(B)/initramfs.cpio.xz: $(B)/initramfs.cpio
	@echo "  XZ      $@"
	$(Q)xz -T1 --check=crc32 --x86 --lzma2=preset=9e -c $< > $@
$(B)/ca.cpio.xz: $(B)/ca.cpio
	@echo "  XZ      $@"
	$(Q)xz -T1 --check=crc32 --lzma2=preset=9e -c $< > $@

.PHONY: all deps check size size-budget clean distclean unit host vm bench demo
all: $(B)/init $(B)/cvmboot $(B)/initramfs.cpio.xz $(B)/ca.cpio.xz $(B)/initrd.img

deps:
	$(Q)third_party/deps $(TP_SRC)
	$(Q)touch $(TP_STAMP)
	$(Q)$(MAKE) --no-print-directory $(TP_T_LIBS) $(TP_H_LIBS) web-deps

# The image's parts (boot/image.mk IMAGE_INITRDS and its kernel) and what the
# ISO and the raw disk add around them, each against linker/budget too; and
# the i386 init of the web flavour (boot/web/web.mk), shown beside it.
SIZE_ARGS = --map $(B)/init.map --init $(B)/init --initramfs $(B)/initramfs.cpio.xz \
	--budget linker/budget --part kernel=$(IMAGE_KERNEL) \
	$(foreach f,$(IMAGE_INITRDS),--part $(notdir $(f))=$(f)) \
	--image iso=$(B)/cvmboot.iso --image hdd=$(B)/cvmboot.hdd \
	--i386-map $(B)/i386/init.map --i386-init $(B)/i386/init \
	--i386-initramfs $(B)/i386/initramfs.cpio.xz
size: $(B)/init $(B)/initramfs.cpio.xz $(B)/cvmboot.iso $(B)/cvmboot.hdd \
		$(B)/i386/init $(B)/i386/initramfs.cpio.xz
	$(Q)$(PYTHON) linker/size.py $(SIZE_ARGS)

clean:
	rm -rf $(B)/t $(B)/h $(B)/init* $(B)/cvmboot $(B)/initramfs* $(B)/tests
distclean:
	rm -rf $(B)

-include $(shell find $(B)/t $(B)/h -name '*.d' 2>/dev/null)

# Re-measure and rewrite linker/budget (+10% headroom). Commit the result.
size-budget: $(B)/init $(B)/initramfs.cpio.xz $(B)/cvmboot.iso $(B)/cvmboot.hdd
	$(Q)$(PYTHON) linker/size.py $(SIZE_ARGS) --write-budget
