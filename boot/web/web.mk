# SPDX-License-Identifier: MIT
# boot/web/web.mk: the web flavour: cvmboot booting inside a web page, in v86
# (an x86 emulator compiled to WebAssembly; no long mode, so everything here is
# i386). `make web` builds the page's files into $(WEB_DIR)/srv and serves
# them with nginx on 127.0.0.1 (boot/web/serve.py); `make web-files` only
# builds them. In $(WEB_DIR)/srv, one origin:
#   vmlinuz          our i386 kernel (boot/web/kernel-i386.config; LZ4)
#   initrd.img       $(B)/i386/init (PID 1: same sources, static musl i386,
#                    gcc -m32), the CA bundle, and a config archive with the
#                    repository's public key (as boot/image.mk bakes REPO_KEY)
#   cvmfs/<fqrn>/    the i386 test OS (BusyBox, boot/web/mkos), signed
#   index.html, web.js, v86/ (npm, pinned), bios/ (Debian's SeaBIOS)

WEB_DIR := $(B)/web
WEB_NPM := $(TP)/web
KCACHE ?= /var/cache/cvmboot
WEB_KSRC_TAR ?= /usr/src/linux-source-6.12.tar.xz

# --- The kernel: built and cached by boot/kernel-build like the x86-64 one;
# the key covers everything that decides its bytes.
WEB_KKEY = $(shell { dpkg-query -W -f='$${Version}' linux-source-6.12; \
	cat boot/web/kernel-i386.config boot/kernel-build boot/kernel-check; \
	gcc --version | head -1; ld --version | head -1; echo i386; } | sha256sum | cut -c1-16)
WEB_KOUT = $(KCACHE)/kernel-i386-$(WEB_KKEY)
# The key, kept in a file that changes only with it: a new toolchain or
# source package fetches (or builds) the kernel of the new key.
$(WEB_DIR)/kernel-key: FORCE
	@mkdir -p $(@D)
	$(Q)echo '$(WEB_KKEY)' | cmp -s - $@ || echo '$(WEB_KKEY)' > $@
$(WEB_DIR)/vmlinuz: boot/web/kernel-i386.config boot/kernel-build boot/kernel-check $(WEB_DIR)/kernel-key
	$(Q)KERNEL_JOBS=$${KERNEL_JOBS:-2} nice -n 10 boot/kernel-build i386 boot/web/kernel-i386.config \
		$(WEB_KSRC_TAR) $(WEB_KOUT)
	$(Q)mkdir -p $(@D) && cp $(WEB_KOUT)/vmlinuz $@.tmp && cp $(WEB_KOUT)/config $(WEB_DIR)/kernel.config && mv $@.tmp $@

# --- PID 1 for i386: the same sources and Makefile rules, built by a sub-make
# into $(B)/i386 with gcc -m32 and Debian's musl:i386 (unpacked by make deps,
# third_party/pins) through a specs file that points into that unpacked tree;
# its third-party libraries go to $(TP)/musl-i386. The specs' link line
# replaces gcc's own, which is where -m32 picks the linker's elf_i386.
WEB_MUSL := $(abspath $(TP_SRC))/musl-dev-i386
WEB_SPECS := $(abspath $(B))/i386/musl-gcc.specs
WEB_T_CC := gcc -m32 -march=i686 -specs $(WEB_SPECS)
$(WEB_SPECS): $(TP_STAMP) boot/web/web.mk
	$(Q)mkdir -p $(@D)
	$(Q)test -r $(WEB_MUSL)/usr/lib/i386-linux-musl/musl-gcc.specs || \
		{ echo "web: $(WEB_MUSL) is missing: run \`make deps\` (third_party/pins: musl-dev-i386)" >&2; exit 1; }
	$(Q)sed -e 's|/usr/include/i386-linux-musl|$(WEB_MUSL)/usr/include/i386-linux-musl|g' \
		-e 's|/usr/lib/i386-linux-musl|$(WEB_MUSL)/usr/lib/i386-linux-musl|g' \
		-e 's|^-dynamic-linker|-m elf_i386 -dynamic-linker|' \
		$(WEB_MUSL)/usr/lib/i386-linux-musl/musl-gcc.specs > $@
$(B)/i386/init: $(WEB_SPECS) FORCE
	$(Q)$(MAKE) --no-print-directory B=$(B)/i386 TP=$(TP) TP_T_FLAV=musl-i386 \
		T_CC='$(WEB_T_CC)' $(B)/i386/init

# --- The initramfs: the i386 /init and the CA bundle (as the x86-64 one), then
# a config archive with the repository's name, tag and public key. The xz'd
# copy is what `make size` reports.
WEB_FQRN := web.cvmboot.test
WEB_TAG := web
WEB_SRV := $(WEB_DIR)/srv
$(B)/i386/initramfs.cpio.xz: $(B)/cvmboot $(B)/i386/init $(TLS_CA_DER) $(B)/source-date-epoch
	@echo "  CPIO    $@"
	$(Q)$(B)/cvmboot mkinitramfs --init $(B)/i386/init --file $(TLS_CA_DER):etc/cvmboot/ca.der -o $(@:.xz=)
	$(Q)xz -T1 --check=crc32 --x86 --lzma2=preset=9e -c $(@:.xz=) > $@

# The repository's signing keys: made once per build directory.
$(WEB_DIR)/keys/$(WEB_FQRN).pub: | $(B)/cvmboot
	$(Q)mkdir -p $(@D)
	$(Q)$(B)/cvmboot keygen $(WEB_FQRN) $(@D) >/dev/null
$(WEB_DIR)/config.cpio: $(WEB_DIR)/keys/$(WEB_FQRN).pub $(B)/cvmboot boot/web/web.mk
	@echo "  CONFIG  $@"
	$(Q)printf 'repo_name=%s\nrepo_tag=%s\nrepo_key=/etc/cvmboot/keys/repo.pub\n' \
		$(WEB_FQRN) $(WEB_TAG) > $(WEB_DIR)/defaults
	$(Q)$(B)/cvmboot mkinitramfs --modules-only --file $(WEB_DIR)/defaults:etc/cvmboot/defaults \
		--file $<:etc/cvmboot/keys/repo.pub -o $@
# The page's initrd is not compressed: v86 would run the kernel's xz
# decoder, which costs more seconds than the 0.5 MB it saves (README).
$(WEB_SRV)/initrd.img: $(B)/i386/initramfs.cpio.xz $(WEB_DIR)/config.cpio
	@echo "  INITRD  $@"
	$(Q)mkdir -p $(@D) && cat $(B)/i386/initramfs.cpio $(WEB_DIR)/config.cpio > $@

# --- The i386 test OS, published as $(WEB_FQRN) (tag $(WEB_TAG)) under
# $(WEB_SRV)/cvmfs/, where the page's default repo= path points; a new tree
# is published into a new repository (one revision, tag $(WEB_TAG)).
$(WEB_DIR)/os/sbin/init: boot/web/mkos $(TP_STAMP)
	@echo "  MKOS    $(WEB_DIR)/os"
	$(Q)boot/web/mkos $(TP_SRC)/busybox-i386/bin/busybox $(WEB_DIR)/os
$(WEB_SRV)/cvmfs/$(WEB_FQRN)/.cvmfspublished: $(WEB_DIR)/os/sbin/init $(WEB_DIR)/keys/$(WEB_FQRN).pub $(B)/cvmboot
	@echo "  PUBLISH $(WEB_FQRN) ($(WEB_TAG))"
	$(Q)rm -rf $(WEB_SRV)/cvmfs/$(WEB_FQRN) && mkdir -p $(WEB_SRV)/cvmfs
	$(Q)$(B)/cvmboot publish $(WEB_DIR)/os $(WEB_SRV)/cvmfs/$(WEB_FQRN) --name $(WEB_FQRN) \
		--keys $(WEB_DIR)/keys --tag $(WEB_TAG) >/dev/null
	$(Q)touch $@

# --- The page, v86 (npm, pinned in boot/web/package-lock.json; `make deps`
# installs it into $(WEB_NPM)) and Debian's SeaBIOS.
$(WEB_NPM)/.installed: boot/web/package.json boot/web/package-lock.json
	$(Q)command -v npm >/dev/null || { echo "web: npm is missing: run \`make deps\` (nodejs)" >&2; exit 1; }
	$(Q)mkdir -p $(@D) && cp boot/web/package.json boot/web/package-lock.json $(@D)/
	$(Q)cd $(@D) && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	$(Q)touch $@
WEB_V86 := $(WEB_NPM)/node_modules/v86/build
$(WEB_SRV)/v86/%: $(WEB_NPM)/.installed
	$(Q)mkdir -p $(@D) && cp $(WEB_V86)/$* $@
$(WEB_SRV)/bios/seabios.bin: /usr/share/seabios/bios.bin
	$(Q)mkdir -p $(@D) && cp $< $@
$(WEB_SRV)/bios/vgabios.bin: /usr/share/seabios/vgabios-stdvga.bin
	$(Q)mkdir -p $(@D) && cp $< $@
/usr/share/seabios/%:
	@echo "web: $@ is missing: run \`make deps\` (seabios)" >&2; exit 1
$(WEB_SRV)/%: boot/web/%
	$(Q)mkdir -p $(@D) && cp $< $@
$(WEB_SRV)/vmlinuz: $(WEB_DIR)/vmlinuz
	$(Q)mkdir -p $(@D) && cp $< $@

WEB_FILES := $(WEB_SRV)/index.html $(WEB_SRV)/web.js $(WEB_SRV)/v86/libv86.js \
	$(WEB_SRV)/v86/v86.wasm $(WEB_SRV)/bios/seabios.bin $(WEB_SRV)/bios/vgabios.bin \
	$(WEB_SRV)/vmlinuz $(WEB_SRV)/initrd.img $(WEB_SRV)/cvmfs/$(WEB_FQRN)/.cvmfspublished

# `make web [WEB_PORT=8086]`: build, then serve until ^C.
WEB_PORT ?= 8086
.PHONY: web web-files web-deps
web-deps: $(WEB_NPM)/.installed
web-files: $(WEB_FILES)
web: $(WEB_FILES)
	$(Q)$(PYTHON) boot/web/serve.py --root $(WEB_SRV) --port $(WEB_PORT)

# The browser test (tests/web/) and the bench (tests/bench/bench_web.py) use
# them; `make check T=...` builds them only when T names tests/web.
check: $(if $(T),$(if $(findstring tests/web,$(T)),web-files),web-files)
bench: web-files
# `make bench-web`: only the web flavour's figures.
.PHONY: bench-web
bench-web: web-files
	$(Q)CVMBOOT_BUILD=$(abspath $(B)) CVMBOOT_TP=$(abspath $(TP)) $(PYTHON) tests/bench/bench_web.py --runs $(BENCH_RUNS)
