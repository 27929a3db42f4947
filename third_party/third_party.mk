# SPDX-License-Identifier: MIT
# Third-party libraries: fetched by third_party/deps (apt-get source, pinned in
# third_party/pins), built twice into $(TP): with musl-gcc for build/init and
# with gcc for the host tool and the unit tests. Nothing here is committed.

TP_SRC := $(TP)/src
TP_STAMP := $(TP_SRC)/.deps-ok

$(TP_STAMP): third_party/deps third_party/pins third_party/packages
	$(Q)third_party/deps $(TP_SRC)
	$(Q)touch $@

# Source lists need the fetched trees, so they live in a generated fragment
# that make builds first and then re-reads (GNU make restarts itself).
$(TP)/sources.mk: $(TP_STAMP) third_party/third_party.mk
	$(Q)mkdir -p $(@D)
	$(Q)printf 'TP_MBEDTLS_SRCS := %s\n' "$$(cd $(TP_SRC)/mbedtls/library && ls *.c | tr '\n' ' ')" > $@

ifeq ($(filter clean distclean,$(MAKECMDGOALS)),)
-include $(TP)/sources.mk
endif

TP_ZLIB_SRCS := adler32.c crc32.c deflate.c inflate.c inftrees.c inffast.c trees.c zutil.c compress.c uncompr.c
TP_LWIP_SRCS := core/init.c core/def.c core/inet_chksum.c core/ip.c core/mem.c core/memp.c \
	core/netif.c core/pbuf.c core/udp.c core/timeouts.c core/ipv4/dhcp.c core/ipv4/etharp.c \
	core/ipv4/icmp.c core/ipv4/ip4.c core/ipv4/ip4_addr.c netif/ethernet.c

# SQLite: the host build (publisher: writes) keeps the defaults. build/init
# only reads catalogs with plain SELECTs, so its copy drops every SQL feature
# and pragma family it never uses. Options that change the grammar only work
# when the parser is generated with them, so the musl flavour gets its own
# amalgamation, generated with the same OPTS it is compiled with.
TP_SQLITE_OPTS := -DSQLITE_THREADSAFE=1 -DSQLITE_DQS=0 -DSQLITE_DEFAULT_MEMSTATUS=0 \
	-DSQLITE_OMIT_DEPRECATED -DSQLITE_OMIT_LOAD_EXTENSION -DSQLITE_OMIT_SHARED_CACHE \
	-DSQLITE_OMIT_PROGRESS_CALLBACK -DSQLITE_OMIT_DECLTYPE -DSQLITE_OMIT_JSON \
	-DSQLITE_OMIT_AUTOINIT -DSQLITE_LIKE_DOESNT_MATCH_BLOBS -DSQLITE_MAX_EXPR_DEPTH=0 \
	-DSQLITE_OMIT_UTF16 -DSQLITE_OMIT_COMPLETE -DSQLITE_OMIT_GET_TABLE \
	-DSQLITE_OMIT_TCL_VARIABLE -DSQLITE_OMIT_WAL -DSQLITE_TEMP_STORE=3 \
	-DSQLITE_USE_ALLOCA -DSQLITE_OMIT_ALTERTABLE -DSQLITE_OMIT_ANALYZE \
	-DSQLITE_OMIT_AUTHORIZATION -DSQLITE_OMIT_AUTOINCREMENT \
	-DSQLITE_OMIT_AUTOVACUUM -DSQLITE_OMIT_BLOB_LITERAL \
	-DSQLITE_OMIT_COMPILEOPTION_DIAGS -DSQLITE_OMIT_CTE -DSQLITE_OMIT_DATETIME_FUNCS \
	-DSQLITE_OMIT_EXPLAIN -DSQLITE_OMIT_FLAG_PRAGMAS \
	-DSQLITE_OMIT_GENERATED_COLUMNS -DSQLITE_OMIT_INCRBLOB -DSQLITE_OMIT_INTEGRITY_CHECK \
	-DSQLITE_OMIT_INTROSPECTION_PRAGMAS -DSQLITE_OMIT_LOCALTIME -DSQLITE_OMIT_REINDEX \
	-DSQLITE_OMIT_SCHEMA_VERSION_PRAGMAS -DSQLITE_OMIT_TEMPDB -DSQLITE_OMIT_TRACE \
	-DSQLITE_OMIT_TRIGGER -DSQLITE_OMIT_UPSERT -DSQLITE_OMIT_VIEW \
	-DSQLITE_OMIT_VIRTUALTABLE -DSQLITE_OMIT_WINDOWFUNC -DSQLITE_OMIT_XFER_OPT \
	-DSQLITE_OMIT_DESERIALIZE -DSQLITE_OMIT_SEH -DSQLITE_OMIT_POPEN \
	-DSQLITE_OMIT_CASE_SENSITIVE_LIKE_PRAGMA -DSQLITE_OMIT_HEX_INTEGER \
	-DSQLITE_OMIT_COMPOUND_SELECT -DSQLITE_OMIT_OR_OPTIMIZATION \
	-DSQLITE_OMIT_LIKE_OPTIMIZATION -DSQLITE_OMIT_BETWEEN_OPTIMIZATION \
	-DSQLITE_OMIT_AUTOMATIC_INDEX -DSQLITE_OMIT_QUICKBALANCE -DSQLITE_OMIT_PRAGMA \
	-DSQLITE_OMIT_TRUNCATE_OPTIMIZATION -DSQLITE_UNTESTABLE
TP_SQLITE_HOST_OPTS := -DSQLITE_THREADSAFE=1 -DSQLITE_OMIT_LOAD_EXTENSION

# sqlite_amalg(dir, opts): configure once per flavour, then `make sqlite3.c`;
# regenerated when the options change (dir.opts records them). Several
# builds may share one TP: the generation is serialised by flock, done in a
# temporary directory and moved into place, and skipped when another build
# already made it with the same options.
define sqlite_amalg
$(TP_SRC)/sqlite/$(1).opts: FORCE | $(TP_STAMP)
	@echo '$(2)' | cmp -s - $$@ || echo '$(2)' > $$@
$(TP_SRC)/sqlite/$(1)/sqlite3.c: $(TP_SRC)/sqlite/$(1).opts
	@echo "  GEN     $$@"
	$$(Q)cd $(TP_SRC)/sqlite && flock .lock sh -c 'cmp -s $(1).opts $(1)/opts && exit 0; \
		rm -rf $(1).tmp && mkdir $(1).tmp && cd $(1).tmp && \
		../configure --disable-tcl >/dev/null 2>&1 && \
		$$(MAKE) -j1 -s OPTS="$(2)" sqlite3.c >/dev/null 2>&1 && \
		cp ../$(1).opts opts && cd .. && rm -rf $(1) && mv $(1).tmp $(1)'
	$$(Q)test -s $$@ && touch $$@
endef
$(eval $(call sqlite_amalg,bld,$(TP_SQLITE_HOST_OPTS)))
$(eval $(call sqlite_amalg,bld-min,$(TP_SQLITE_OPTS)))

# The target flavour's directory under $(TP): musl (x86-64), or musl-i386 for
# the web flavour's PID 1 (boot/web/web.mk builds it with its own T_CC).
TP_T_FLAV ?= musl

TP_CFLAGS_COMMON := -w -ffile-prefix-map=$(CURDIR)/= -D_GNU_SOURCE
TP_T_CFLAGS := $(TP_CFLAGS_COMMON) -Os -ffunction-sections -fdata-sections \
	-fno-asynchronous-unwind-tables -fno-unwind-tables -isystem $(KINC)
TP_H_CFLAGS := $(TP_CFLAGS_COMMON) -O2 -g -fPIC -DCVMBOOT_HOST

# tp_lib(flavour, lib, compiler, flags, srcdir, sources, extra-flags)
define tp_lib
$(TP)/$(1)/lib/lib$(2).a: $$(patsubst %.c,$(TP)/$(1)/obj/$(2)/%.o,$(6))
	@mkdir -p $$(@D)
	@echo "  AR      $$@"
	$(Q)rm -f $$@ && $(AR) rcsD $$@ $$^
$(TP)/$(1)/obj/$(2)/%.o: $(5)/%.c | $(TP_STAMP) $(KINC)
	@mkdir -p $$(@D)
	@echo "  CC      $$@"
	$(Q)$(3) $(4) $(7) -c $$< -o $$@
endef

TP_MBEDTLS_FLAGS := -I$(TP_SRC)/mbedtls/include -I$(CURDIR)/third_party \
	-DMBEDTLS_CONFIG_FILE='"mbedtls-config.h"'
TP_LWIP_FLAGS := -I$(TP_SRC)/lwip/src/include -I$(CURDIR)/net/lwip-port

$(foreach f,$(TP_T_FLAV) host,$(eval $(call tp_lib,$(f),z,$(if $(filter $(TP_T_FLAV),$(f)),$(T_CC),$(H_CC)),$(if $(filter $(TP_T_FLAV),$(f)),$(TP_T_CFLAGS),$(TP_H_CFLAGS)),$(TP_SRC)/zlib,$(TP_ZLIB_SRCS),)))
$(foreach f,$(TP_T_FLAV) host,$(eval $(call tp_lib,$(f),mbedtls,$(if $(filter $(TP_T_FLAV),$(f)),$(T_CC),$(H_CC)),$(if $(filter $(TP_T_FLAV),$(f)),$(TP_T_CFLAGS),$(TP_H_CFLAGS)),$(TP_SRC)/mbedtls/library,$(TP_MBEDTLS_SRCS),$(TP_MBEDTLS_FLAGS))))
$(foreach f,$(TP_T_FLAV) host,$(eval $(call tp_lib,$(f),lwip,$(if $(filter $(TP_T_FLAV),$(f)),$(T_CC),$(H_CC)),$(if $(filter $(TP_T_FLAV),$(f)),$(TP_T_CFLAGS),$(TP_H_CFLAGS)),$(TP_SRC)/lwip/src,$(TP_LWIP_SRCS),$(TP_LWIP_FLAGS))))
# lwIP compiles our options and hooks into itself: rebuild it when they change.
$(foreach f,$(TP_T_FLAV) host,$(patsubst %.c,$(TP)/$(f)/obj/lwip/%.o,$(TP_LWIP_SRCS))): \
	net/lwip-port/lwipopts.h net/lwip-port/hooks.h net/lwip-port/arch/cc.h
$(eval $(call tp_lib,$(TP_T_FLAV),sqlite3,$(T_CC),$(TP_T_CFLAGS),$(TP_SRC)/sqlite/bld-min,sqlite3.c,$(TP_SQLITE_OPTS)))
$(eval $(call tp_lib,host,sqlite3,$(H_CC),$(TP_H_CFLAGS),$(TP_SRC)/sqlite/bld,sqlite3.c,$(TP_SQLITE_HOST_OPTS)))

TP_LIBS := z mbedtls lwip sqlite3
TP_T_LIBS := $(TP_LIBS:%=$(TP)/$(TP_T_FLAV)/lib/lib%.a)
TP_H_LIBS := $(TP_LIBS:%=$(TP)/host/lib/lib%.a)
# Headers our code compiles against, for both flavours.
TP_INCLUDES := -I$(TP_SRC)/zlib -I$(TP_SRC)/mbedtls/include -I$(CURDIR)/third_party \
	-DMBEDTLS_CONFIG_FILE='"mbedtls-config.h"' -I$(TP_SRC)/lwip/src/include \
	-I$(CURDIR)/net/lwip-port
# sqlite3.h comes out of each flavour's generated amalgamation.
TP_T_INCLUDES := $(TP_INCLUDES) -I$(TP_SRC)/sqlite/bld-min
TP_H_INCLUDES := $(TP_INCLUDES) -I$(TP_SRC)/sqlite/bld
TP_T_HEADERS := $(TP_SRC)/sqlite/bld-min/sqlite3.c
TP_H_HEADERS := $(TP_SRC)/sqlite/bld/sqlite3.c

# Kernel UAPI headers for musl (musl-gcc searches only musl's own tree).
$(KINC):
	$(Q)mkdir -p $@
	$(Q)ln -sfn /usr/include/linux $@/linux
	$(Q)ln -sfn /usr/include/asm-generic $@/asm-generic
	$(Q)ln -sfn /usr/include/x86_64-linux-gnu/asm $@/asm
	$(Q)ln -sfn /usr/include/mtd $@/mtd
