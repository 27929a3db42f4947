# SPDX-License-Identifier: MIT
# boot/web/web.mk: the web flavour: cvmboot booting inside a web page, in v86
# (an x86 emulator compiled to WebAssembly; no long mode, so everything here is
# i386). `make web` builds the page's files into $(WEB_DIR) and serves them with
# nginx on 127.0.0.1 (boot/web/serve); `make web-files` only builds them.
#   $(B)/i386/init           PID 1, same sources, static musl i386 (gcc -m32)
#   $(WEB_DIR)/vmlinuz       our i386 kernel (boot/web/kernel-i386.config)
#   $(WEB_DIR)/initrd.img    /init + CA + a config archive with the repository's
#                            public key (as boot/image.mk bakes REPO_KEY)
#   $(WEB_DIR)/repo/         the i386 test OS (BusyBox), published and signed
#   $(WEB_DIR)/index.html, web.js, v86 (npm, pinned), SeaBIOS (Debian)

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
$(WEB_DIR)/vmlinuz: boot/web/kernel-i386.config boot/kernel-build boot/kernel-check
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
