# libFuzzer targets (tests/fuzz/fuzz_*.c), built with clang from the library sources into
# $(FUZZ_BUILD), apart from the gcc build (which has _FORTIFY_SOURCE and no coverage).
# Included by the top-level Makefile.
#   make fuzz               build all, run each for FUZZ_SECONDS (default 60)
#   make fuzz-smoke         run each for FUZZ_SMOKE_SECONDS (default 10), in parallel; fails on
#                           any crash, leak, timeout or sanitizer report (part of `make test`)
#   make fuzz-corpus        regenerate the engine seeds in tests/fuzz/corpus/ (real messages)
#   make build/fuzz/fuzz_X  build one target
# New corpus entries go to $(FUZZ_BUILD)/corpus/TARGET; the committed seeds (and the
# dictionary tests/fuzz/corpus/NAME.dict, for target fuzz_NAME) are read only.

FUZZ_CC      ?= clang
FUZZ_BUILD   := build/fuzz
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 10
# Per-input limit (s) and memory limit (MB) for a run.
FUZZ_TIMEOUT ?= 10
FUZZ_RSS_MB  ?= 2048

FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS  := -O1 -g -std=c11 -D_GNU_SOURCE -I. -MMD -MP $(VERSION_DEF) $(FUZZ_SAN) \
                -fsanitize=fuzzer-no-link $(PKG_CFLAGS)
# Harnesses are ours: warnings are errors.  Library warnings under clang are shown, not fatal,
# so that a clang-only warning in someone's module does not stop the fuzz build in CI (the
# gcc build is the gate for those).
FUZZ_WARN    := $(filter-out -Werror,$(WARN))

FUZZ_SRC     := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_NAMES   := $(patsubst tests/fuzz/%.c,%,$(FUZZ_SRC))
FUZZ_BINS    := $(addprefix $(FUZZ_BUILD)/,$(FUZZ_NAMES))
FUZZ_LIBTUNNELD := $(FUZZ_BUILD)/libtunneld.a
FUZZ_LIBWG   := $(FUZZ_BUILD)/libwg.a
FUZZ_LIBKEYS := $(FUZZ_BUILD)/libkeys.a
FUZZ_LIBCOMMON := $(FUZZ_BUILD)/libcommon.a
FUZZ_GEN     := $(FUZZ_BUILD)/gen_corpus

fuzzobj = $(patsubst %.c,$(FUZZ_BUILD)/obj/%.o,$(1))

.PHONY: fuzz fuzz-build fuzz-smoke fuzz-corpus

# clang and its libFuzzer runtime, for `make deps`.
DEPS += clang libclang-rt-dev

$(FUZZ_BUILD)/obj/tests/fuzz/%.o: tests/fuzz/%.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  FUZZCC  $<")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) $(WARN) -c -o $@ $<

$(FUZZ_BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  FUZZCC  $<")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_WARN) -c -o $@ $<

$(FUZZ_LIBTUNNELD): $(call fuzzobj,$(LIBTUNNELD_SRC))
	$(Q)rm -f $@ && ar rcs $@ $^

$(FUZZ_LIBWG): $(call fuzzobj,$(LIBWG_SRC))
	$(Q)rm -f $@ && ar rcs $@ $^

$(FUZZ_LIBKEYS): $(call fuzzobj,$(LIBKEYS_SRC))
	$(Q)rm -f $@ && ar rcs $@ $^

$(FUZZ_LIBCOMMON): $(call fuzzobj,$(LIBCOMMON_SRC))
	$(Q)rm -f $@ && ar rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: $(FUZZ_BUILD)/obj/tests/fuzz/fuzz_%.o $(FUZZ_LIBTUNNELD) $(FUZZ_LIBWG) $(FUZZ_LIBKEYS) $(FUZZ_LIBCOMMON)
	@$(if $(Q),echo "  FUZZLD  $@")
	$(Q)$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(PKG_LIBS) -ldl

$(FUZZ_GEN): $(FUZZ_BUILD)/obj/tests/fuzz/gen_corpus.o $(FUZZ_LIBTUNNELD) $(FUZZ_LIBWG) $(FUZZ_LIBKEYS) $(FUZZ_LIBCOMMON)
	@$(if $(Q),echo "  FUZZLD  $@")
	$(Q)$(FUZZ_CC) $(FUZZ_SAN) -o $@ $^ $(PKG_LIBS)

# Keep the objects make would treat as intermediate (and delete after each link).
.SECONDARY: $(call fuzzobj,$(FUZZ_SRC) tests/fuzz/gen_corpus.c)

fuzz-build: $(FUZZ_BINS)

fuzz-corpus: $(FUZZ_GEN)
	$(Q)$(FUZZ_GEN) tests/fuzz/corpus

# $(1): seconds per target.  All targets run at once (they are independent); each writes its
# log to $(FUZZ_BUILD)/log/TARGET.log and a crashing input to $(FUZZ_BUILD)/artifacts/.
define fuzz_run
	$(Q)mkdir -p $(FUZZ_BUILD)/log $(FUZZ_BUILD)/artifacts; fail=0; pids=; \
	for t in $(FUZZ_NAMES); do \
		mkdir -p $(FUZZ_BUILD)/corpus/$$t tests/fuzz/corpus/$$t; \
		d=tests/fuzz/corpus/$${t#fuzz_}.dict; dict=; [ -f $$d ] && dict=-dict=$$d; \
		$(FUZZ_BUILD)/$$t -max_total_time=$(1) -timeout=$(FUZZ_TIMEOUT) $$dict \
		    -rss_limit_mb=$(FUZZ_RSS_MB) -max_len=4096 -print_final_stats=1 \
		    -artifact_prefix=$(FUZZ_BUILD)/artifacts/$$t- \
		    $(FUZZ_BUILD)/corpus/$$t tests/fuzz/corpus/$$t \
		    >$(FUZZ_BUILD)/log/$$t.log 2>&1 & pids="$$pids $$!:$$t"; \
	done; \
	for p in $$pids; do \
		if wait $${p%%:*}; then \
			echo "  FUZZ    $${p#*:}: ok, $$(grep -m1 '^stat::number_of_executed_units' \
			    $(FUZZ_BUILD)/log/$${p#*:}.log | awk '{print $$2}') runs"; \
		else \
			fail=1; echo "  FUZZ    $${p#*:}: FAILED ($(FUZZ_BUILD)/log/$${p#*:}.log)"; \
			grep -E -A30 '^==[0-9]+==ERROR|runtime error|deadly signal|Test unit written' \
			    $(FUZZ_BUILD)/log/$${p#*:}.log | head -60; \
		fi; \
	done; exit $$fail
endef

fuzz: $(FUZZ_BINS)
	$(call fuzz_run,$(FUZZ_SECONDS))

fuzz-smoke: $(FUZZ_BINS)
	$(call fuzz_run,$(FUZZ_SMOKE_SECONDS))

-include $(shell find $(FUZZ_BUILD) -name '*.d' 2>/dev/null)
