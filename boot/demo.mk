# SPDX-License-Identifier: MIT
# boot/demo.mk: `make demo` (Debian 12 streamed from a repository published
# here, booted under QEMU/TCG up to its login prompt) and `make bench` (the
# side-by-side figures). Neither is part of `make check`: they take minutes.
#   make demo [INTERACTIVE=1] [DEMO_DIR=...]    make bench [BENCH_RUNS=3]
# The Debian tree, keys and repository stay in $(DEMO_DIR) and are re-used.

DEMO_DIR ?= $(B)/demo
BENCH_RUNS ?= 3
BENCH_JSON ?= $(B)/bench.json

demo: $(B)/cvmboot $(B)/initrd.img
	$(Q)third_party/deps $(TP_SRC)
	$(Q)$(PYTHON) tests/demo/demo.py --build $(B) --dir $(DEMO_DIR) $(if $(INTERACTIVE),--interactive)

bench: $(B)/cvmboot $(B)/init $(B)/initrd.img $(B)/initramfs.cpio.xz $(B)/cvmboot.iso \
		$(B)/modules-$(KVER).cpio.xz $(B)/modules-$(IMAGE_KVER).cpio.xz
	$(Q)third_party/deps $(TP_SRC)
	$(Q)CVMBOOT_TP=$(abspath $(TP)) $(PYTHON) tests/bench/bench.py --build $(B) --dir $(DEMO_DIR) --runs $(BENCH_RUNS) \
		--json $(BENCH_JSON)
