# tests/module.mk: unit tests (cmocka, host flavour) and the check layers.
# A module's unit test links only lib<mod>.a and its <mod>_DEPS, so it cannot
# reach code its module does not depend on.
UNIT_MODULES := boot

define unit_rules
$(B)/h/tests/t-$(1): $(B)/h/tests/unit/$(1)_test.o $(B)/h/lib$(1).a $$($(1)_DEPS:%=$(B)/h/lib%.a) $$(TP_H_LIBS)
	@echo "  LD      $$@"
	$(Q)$(H_CC) -o $$@ $$^ -lcmocka -lpthread -lm
endef
$(foreach m,$(UNIT_MODULES),$(eval $(call unit_rules,$(m))))
UNIT_BINS := $(UNIT_MODULES:%=$(B)/h/tests/t-%)

PYTEST := $(PYTHON) -m pytest -q -p no:cacheprovider
CHECK_DEPS := all $(UNIT_BINS)

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
