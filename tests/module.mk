# tests/module.mk: unit tests (cmocka, host flavour) and the check layers.
# One binary per tests/unit/<name>_test.c. It links only the library of its
# module (<name>_MOD, default <name>) and that module's <mod>_DEPS, so a unit
# test cannot reach code its module does not depend on.
UNIT_TESTS := boot cvmfs-lite cvmfs-pub
UNIT_TESTS += tls
UNIT_TESTS += blk
UNIT_TESTS += boot-config boot-context boot-tar
UNIT_TESTS += net
UNIT_TESTS += aufs-setup
boot-config_MOD := boot
boot-context_MOD := boot
boot-tar_MOD := boot
UNIT_TESTS += boot-parity
boot-parity_MOD := boot
UNIT_TESTS += net-http cvmfs-lite-client
net-http_MOD := net
cvmfs-lite-client_MOD := cvmfs-lite
UNIT_TESTS += cvmfs-lite-integrity
cvmfs-lite-integrity_MOD := cvmfs-lite
UNIT_TESTS += cvmfs-lite-fuse
cvmfs-lite-fuse_MOD := cvmfs-lite
UNIT_TESTS += cvmfs-lite-verify
cvmfs-lite-verify_MOD := cvmfs-lite

define unit_rules
$(1)_MOD ?= $(1)
$(B)/h/tests/t-$(1): $(B)/h/tests/unit/$(1)_test.o $(B)/h/lib$$($(1)_MOD).a $$($$($(1)_MOD)_DEPS:%=$(B)/h/lib%.a) $$(TP_H_LIBS)
	@echo "  LD      $$@"
	$(Q)$(H_CC) -o $$@ $$^ -lcmocka -lpthread -lm
endef
$(foreach t,$(UNIT_TESTS),$(eval $(call unit_rules,$(t))))
UNIT_BINS := $(UNIT_TESTS:%=$(B)/h/tests/t-%)

PYTEST := CVMBOOT_BUILD=$(abspath $(B)) CVMBOOT_TP=$(abspath $(TP)) $(PYTHON) -m pytest -q -p no:cacheprovider
CHECK_DEPS := all $(UNIT_BINS) $(B)/modules-$(IMAGE_KVER).cpio.xz $(B)/modules-$(KVER).cpio.xz \
	$(B)/cvmboot.iso $(B)/cvmboot.hdd

# `make check` runs every layer in one pytest session so that it ends with
# one summary line; `make unit|host|vm` run one layer. T=path::name runs one test.
check: $(CHECK_DEPS)
	$(Q)$(PYTEST) $(if $(T),$(T),tests)
unit: $(UNIT_BINS)
	$(Q)$(PYTEST) tests/test_unit.py
host: $(CHECK_DEPS)
	$(Q)$(PYTEST) tests/host
vm: $(CHECK_DEPS)
	$(Q)$(PYTEST) tests/vm
