# tests/fuzz/fuzz.mk: libFuzzer targets (clang, ASan + UBSan), one binary per
# tests/fuzz/fuzz_<name>.c in $(B)/fuzz/. The module sources are compiled a
# third time, instrumented, with the host flavour's flags (-DCVMBOOT_HOST);
# SQLite is PID 1's own copy (bld-min, same options), instrumented too, so
# that crafted catalogs are fuzzed with coverage inside SQLite. zlib, mbedTLS
# and lwIP come from the host third-party build, uninstrumented.
#
#   make fuzz [FUZZ_SECONDS=60] [FUZZ=name]   each target for FUZZ_SECONDS
#   make fuzz-build                          just the binaries ($(FUZZ_BINS))
#   tests/host/test_fuzz.py                  each target briefly (make check)
#   make torture [TORTURE_TRIALS=30]         VM crash-consistency trials
#
# New inputs go to $(B)/fuzz/corpus/<name> (the seeds in tests/fuzz/corpus
# are read only); a crash leaves its reproducer in $(B)/fuzz/crashes/<name>/.

FUZZ_TARGETS := manifest whitelist cert xattr http_head http_exchange dhcp cmdline userdata \
	shvars tar fuse gpt accounts catalog catalog_rows history read
FUZZ_CC := clang
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	-fno-omit-frame-pointer
FUZZ_CFLAGS = $(filter-out -O2,$(H_CFLAGS)) -O1 -fsanitize=fuzzer-no-link $(FUZZ_SAN) \
	-DFUZZ_DATA='"$(CURDIR)/tests/data"'
FUZZ_SQLITE_CFLAGS = $(TP_CFLAGS_COMMON) -O1 -g -fsanitize=fuzzer-no-link,address \
	-ffunction-sections -fdata-sections \
	-fno-omit-frame-pointer $(TP_SQLITE_OPTS)
FUZZ_SECONDS ?= 60
FUZZ_BINS := $(FUZZ_TARGETS:%=$(B)/fuzz/fuzz_%)

# Instrumented module archives; only the members a target needs are linked.
define fuzz_mod_rules
$(B)/fuzz/lib$(1).a: $$(patsubst %.c,$(B)/fuzz/obj/%.o,$$($(1)_SRCS))
	@mkdir -p $$(@D)
	@echo "  AR      $$@"
	$(Q)rm -f $$@ && $(AR) rcsD $$@ $$^
endef
$(foreach m,$(MODULES),$(eval $(call fuzz_mod_rules,$(m))))

$(B)/fuzz/obj/%.o: %.c | $(TP_STAMP) $(TP_H_HEADERS)
	@mkdir -p $(@D)
	@echo "  FUZZCC  $@"
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@
$(B)/fuzz/obj/sqlite3.o: $(TP_SRC)/sqlite/bld-min/sqlite3.c
	@mkdir -p $(@D)
	@echo "  FUZZCC  $@"
	$(Q)$(FUZZ_CC) $(FUZZ_SQLITE_CFLAGS) -c $< -o $@

# In the Makefile's LINK_ORDER: a module first, then the modules it depends on.
FUZZ_LIBS := $(LINK_ORDER:%=$(B)/fuzz/lib%.a) $(B)/fuzz/obj/sqlite3.o \
	$(filter-out %/libsqlite3.a,$(TP_H_LIBS))
$(B)/fuzz/fuzz_%: $(B)/fuzz/obj/tests/fuzz/fuzz_%.o $(FUZZ_LIBS)
	@echo "  FUZZLD  $@"
	$(Q)$(FUZZ_CC) -fsanitize=fuzzer $(FUZZ_SAN) -Wl,--gc-sections -o $@ $^ -lpthread -lm

.PHONY: fuzz fuzz-build
fuzz-build: $(FUZZ_BINS)
# One target after the other, each for FUZZ_SECONDS on one worker; a crash
# is reported (log tail, reproducer) and the next target still runs.
fuzz: $(FUZZ_BINS)
	$(Q)bad=; for t in $(if $(FUZZ),$(FUZZ),$(FUZZ_TARGETS)); do \
		mkdir -p $(B)/fuzz/corpus/$$t $(B)/fuzz/crashes/$$t; \
		echo "  FUZZ    $$t ($(FUZZ_SECONDS) s)"; \
		if $(B)/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
			-print_final_stats=1 -artifact_prefix=$(B)/fuzz/crashes/$$t/ \
			$(B)/fuzz/corpus/$$t tests/fuzz/corpus/$$t >$(B)/fuzz/$$t.log 2>&1; then :; else \
			grep -E 'ERROR|SUMMARY|^ +#[0-9]+ .* in |Test unit written' $(B)/fuzz/$$t.log | head -n 20; \
			echo "fuzz_$$t: FAILED, reproducer in $(B)/fuzz/crashes/$$t/" >&2; bad="$$bad $$t"; \
		fi; \
		grep -E 'stat::number_of_executed_units|stat::new_units_added' $(B)/fuzz/$$t.log | tr '\n' ' '; echo; \
	done; \
	if [ -n "$$bad" ]; then echo "fuzz: crashes in:$$bad" >&2; exit 1; fi

# The long form of tests/vm/test_vm_torture.py (pulled plug during first
# boots; `make check` runs one trial per kill point). Kept here until it has a home.
TORTURE_TRIALS ?= 30
.PHONY: torture
torture: $(CHECK_DEPS)
	$(Q)TORTURE_TRIALS=$(TORTURE_TRIALS) $(PYTEST) -s tests/vm/test_vm_torture.py

# `make check` and `make host` run tests/host/test_fuzz.py: build the targets first.
check host: $(FUZZ_BINS)

-include $(shell find $(B)/fuzz/obj -name '*.d' 2>/dev/null)
