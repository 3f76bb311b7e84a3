# SPDX-License-Identifier: MIT
# allocscope: one non-recursive Makefile. Everything builds out of tree under
# $(BUILD) (build/ by default; build/asan, build/tsan, build/ubsan for the
# sanitizer configurations), which mirrors the source tree.
#
# Conventions, so a new part needs no new rule:
#   allocators/common/*.c            shared helpers (as/*.h)
#   allocators/frame/*/*.c           frame allocators (+ registry.c)
#   allocators/object/NAME/          an object allocator when it has backend.h:
#                                    -> $(BUILD)/lib/liballocscope-NAME.so, made of
#                                    NAME/*.c + preload/*.c (compiled against
#                                    NAME/backend.h) + pagesource/*.c + frame allocators
#   harness/probe/*.c                the probe, linked by every workload
#   harness/*.c                      the runner, $(BUILD)/bin/allocscope (main.c)
#   workloads/frame/*.c              $(BUILD)/bin/framebench
#   workloads/micro/NAME.c           $(BUILD)/bin/micro-NAME (+ workloads/micro/lib/*.c)
#   workloads/imgserver/server/*.c   $(BUILD)/bin/imgserver (HTTP server; a probe program)
#   workloads/imgserver/load/*.c     $(BUILD)/bin/imgload (load generator; a probe program)
#   workloads/redis/client/*.c       $(BUILD)/bin/redis-client (hiredis; a probe program)
#   scripts/build-redis.sh           $(BUILD)/redis/redis-server (Debian source, MALLOC=libc)
#   tools/NAME.c                     $(BUILD)/bin/NAME (offline tools; link common only)
#   tests/unit/*.c, tests/stress/*.c $(BUILD)/bin/test-unit, $(BUILD)/bin/test-stress
#   tests/sh/*.sh                    shell tests, run by tests/run.sh

.DELETE_ON_ERROR:
.SUFFIXES:
.DEFAULT_GOAL := all

BUILD ?= build
CC ?= cc
ifeq ($(origin CC),default)
CC := cc
endif
SANITIZE ?=
OPT ?= -O2 -g

CC_IS_CLANG := $(shell $(CC) --version 2>/dev/null | grep -qi clang && echo 1)

WARN := -Wall -Wextra -Werror -Wstrict-prototypes -Wmissing-prototypes -Wvla \
	-Wimplicit-fallthrough -Wshadow -Wpointer-arith -Wformat-security \
	-Wold-style-definition -Wwrite-strings -fno-common
ifeq ($(CC_IS_CLANG),1)
# Narrowing conversions are real bugs in allocator code (16-bit counters);
# sign conversions are too noisy against libc's size_t/ssize_t interfaces.
WARN += -Wconversion -Wno-sign-conversion -Wno-implicit-int-float-conversion
endif

# gnu11, honestly: we use __typeof__, inline asm and GNU libc extensions.
CSTD := -std=gnu11 -D_GNU_SOURCE
INCLUDES := -Iallocators/include -Iharness/probe -Iharness -Itests

SANFLAGS :=
ifneq ($(SANITIZE),)
SANFLAGS := -fsanitize=$(SANITIZE) -fno-sanitize-recover=all -fno-omit-frame-pointer
ifeq ($(SANITIZE),thread)
SANFLAGS += -DAS_TEST_SCALE_DIV=10 -DAS_TSAN=1
else
SANFLAGS += -DAS_TEST_SCALE_DIV=4
endif
endif

CFLAGS_ALL := $(CSTD) $(OPT) $(WARN) -pthread $(INCLUDES) $(SANFLAGS) $(CFLAGS)
LDFLAGS_ALL := -pthread $(SANFLAGS) $(LDFLAGS)
DEPFLAGS = -MMD -MP

LIBS_BASE := -lm -ldl
LIBS_HARNESS := -lhwloc -lnuma -lpfm -ljansson -linih $(LIBS_BASE)

BIN := $(BUILD)/bin
LIB := $(BUILD)/lib
OBJ := $(BUILD)/obj
PIC := $(BUILD)/pic

# Rebuild everything when the compiler or flags change (after git's GIT-CFLAGS).
FLAGS_FILE := $(BUILD)/.flags
FLAGS_NOW := $(CC) $(CFLAGS_ALL) $(LDFLAGS_ALL)
$(shell mkdir -p $(BUILD) && { [ -f $(FLAGS_FILE) ] && [ "$$(cat $(FLAGS_FILE))" = '$(FLAGS_NOW)' ] || echo '$(FLAGS_NOW)' > $(FLAGS_FILE); })

# ---------------------------------------------------------------------------
# Sources

COMMON_SRC := $(wildcard allocators/common/*.c)
FRAME_SRC := allocators/frame/registry.c $(wildcard allocators/frame/*/*.c)
PROBE_SRC := $(wildcard harness/probe/*.c)
HARNESS_SRC := $(filter-out harness/main.c,$(wildcard harness/*.c))
PAGESOURCE_SRC := $(wildcard allocators/object/pagesource/*.c)
PRELOAD_SRC := $(wildcard allocators/object/preload/*.c)
OBJECT_ALLOCS := $(patsubst allocators/object/%/backend.h,%,$(wildcard allocators/object/*/backend.h))
OBJECT_CORE_SRC := $(foreach a,$(OBJECT_ALLOCS),$(wildcard allocators/object/$(a)/*.c))
FRAMEBENCH_SRC := $(wildcard workloads/frame/*.c)
MICRO_LIB_SRC := $(wildcard workloads/micro/lib/*.c)
MICRO_PROGS := $(patsubst workloads/micro/%.c,$(BIN)/micro-%,$(wildcard workloads/micro/*.c))
TOOL_PROGS := $(patsubst tools/%.c,$(BIN)/%,$(wildcard tools/*.c))
TOOL_LIB_SRC := $(wildcard tools/lib/*.c)
TEST_UNIT_SRC := $(wildcard tests/unit/*.c) tests/test_main.c
TEST_STRESS_SRC := $(wildcard tests/stress/*.c) tests/test_main.c

o = $(patsubst %.c,$(OBJ)/%.o,$(1))
p = $(patsubst %.c,$(PIC)/%.o,$(1))

COMMON_O := $(call o,$(COMMON_SRC))
FRAME_O := $(call o,$(FRAME_SRC))
PROBE_O := $(call o,$(PROBE_SRC))
HARNESS_O := $(call o,$(HARNESS_SRC))
OBJECT_CORE_O := $(call o,$(OBJECT_CORE_SRC) $(PAGESOURCE_SRC))

# ---------------------------------------------------------------------------
# Compilation

$(OBJ)/%.o: %.c $(FLAGS_FILE)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) $(DEPFLAGS) -c $< -o $@

$(PIC)/%.o: %.c $(FLAGS_FILE)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -fPIC -fvisibility=hidden $(DEPFLAGS) -c $< -o $@

# ---------------------------------------------------------------------------
# Programs

PROGRAMS := $(BIN)/allocscope $(BIN)/framebench $(MICRO_PROGS) $(TOOL_PROGS)

$(BIN)/%: $(OBJ)/tools/%.o $(call o,$(TOOL_LIB_SRC)) $(COMMON_O)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_ALL) $^ -o $@ $(LIBS_BASE)

$(BIN)/allocscope: $(OBJ)/harness/main.o $(HARNESS_O) $(COMMON_O)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_ALL) $^ -o $@ $(LIBS_HARNESS)

$(BIN)/framebench: $(call o,$(FRAMEBENCH_SRC)) $(FRAME_O) $(PROBE_O) $(COMMON_O)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_ALL) $^ -o $@ $(LIBS_HARNESS)

$(BIN)/micro-%: $(OBJ)/workloads/micro/%.o $(call o,$(MICRO_LIB_SRC)) $(PROBE_O) $(COMMON_O)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_ALL) $^ -o $@ $(LIBS_BASE)

# Server workloads: built only once their sources exist.
IMGSERVER_SRC := $(wildcard workloads/imgserver/server/*.c)
IMGLOAD_SRC := $(wildcard workloads/imgserver/load/*.c)
REDIS_CLIENT_SRC := $(wildcard workloads/redis/client/*.c)
PROGRAMS += $(if $(IMGSERVER_SRC),$(BIN)/imgserver) $(if $(IMGLOAD_SRC),$(BIN)/imgload) \
	$(if $(REDIS_CLIENT_SRC),$(BIN)/redis-client)

$(BIN)/imgserver: $(call o,$(IMGSERVER_SRC)) $(PROBE_O) $(COMMON_O)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_ALL) $^ -o $@ -lmicrohttpd -lpng -ljpeg -lz $(LIBS_BASE)

$(BIN)/imgload: $(call o,$(IMGLOAD_SRC)) $(PROBE_O) $(COMMON_O)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_ALL) $^ -o $@ $(LIBS_BASE)

$(BIN)/redis-client: $(call o,$(REDIS_CLIENT_SRC)) $(PROBE_O) $(COMMON_O)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_ALL) $^ -o $@ -lhiredis $(LIBS_BASE)

# Redis from Debian's source package, with MALLOC=libc so every allocation
# goes through the preloaded allocator (see workloads/redis/README.md).
REDIS_SERVER := $(BUILD)/redis/redis-server
redis: $(REDIS_SERVER)
$(REDIS_SERVER): $(wildcard scripts/build-redis.sh)
	@test -f scripts/build-redis.sh || { echo "allocscope: the Redis workload is not built yet" >&2; exit 1; }
	BUILD=$(BUILD) bash scripts/build-redis.sh

# ---------------------------------------------------------------------------
# LD_PRELOAD libraries: one per object allocator with a backend.h. The
# preload layer is compiled once per allocator, against that backend.

define OBJECT_LIB
$(PIC)/preload-$(1)/%.o: allocators/object/preload/%.c $(FLAGS_FILE)
	@mkdir -p $$(@D)
	$$(CC) $$(CFLAGS_ALL) -fPIC -fvisibility=hidden -Iallocators/object/$(1) -DAS_BACKEND_NAME='"$(1)"' $$(DEPFLAGS) -c $$< -o $$@

$(LIB)/liballocscope-$(1).so: $(patsubst allocators/object/preload/%.c,$(PIC)/preload-$(1)/%.o,$(PRELOAD_SRC)) \
		$(call p,$(wildcard allocators/object/$(1)/*.c) $(PAGESOURCE_SRC) $(FRAME_SRC) $(COMMON_SRC))
	@mkdir -p $$(@D)
	$$(CC) -shared $$(LDFLAGS_ALL) -Wl,-z,now $(if $(filter thread,$(SANITIZE)),,-Wl,--no-undefined) $$^ -o $$@ $$(LIBS_BASE) $$(OBJECT_LIB_EXTRA_$(1))
endef
$(foreach a,$(OBJECT_ALLOCS),$(eval $(call OBJECT_LIB,$(a))))
PRELOAD_LIBS := $(foreach a,$(OBJECT_ALLOCS),$(LIB)/liballocscope-$(a).so)

# ---------------------------------------------------------------------------
# Tests

TEST_LIB_O := $(FRAME_O) $(PROBE_O) $(HARNESS_O) $(OBJECT_CORE_O) $(call o,$(TOOL_LIB_SRC)) $(COMMON_O)

$(BIN)/test-unit: $(call o,$(TEST_UNIT_SRC)) $(TEST_LIB_O)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_ALL) $^ -o $@ $(LIBS_HARNESS)

$(BIN)/test-stress: $(call o,$(TEST_STRESS_SRC)) $(TEST_LIB_O)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_ALL) $^ -o $@ $(LIBS_HARNESS)

TESTS := $(BIN)/test-unit $(BIN)/test-stress

# ---------------------------------------------------------------------------
# Top-level targets

.PHONY: all redis deps test bench figures regress regress-update asan tsan ubsan clean help

all: $(PROGRAMS) $(PRELOAD_LIBS) $(TESTS) $(REDIS_SERVER)

deps:
	@bash scripts/install-deps.sh

## make test [T=filter]: unit tests, stress tests, shell tests, harness smoke run
test: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) SANITIZE=$(SANITIZE) T='$(T)' bash tests/run.sh

## make bench [ALLOC=a,b] [WORKLOAD=w] [THREADS=1,2] [REPS=n] [CONFIG=file]
bench: deps
	@$(MAKE) --no-print-directory all
	$(BIN)/allocscope bench $(if $(ALLOC),--alloc $(ALLOC)) $(if $(WORKLOAD),--workload $(WORKLOAD)) \
		$(if $(THREADS),--threads $(THREADS)) $(if $(REPS),--reps $(REPS)) $(if $(CONFIG),--config $(CONFIG))

## make figures [RESULTS=dir]: run the paper configs (or reuse RESULTS) and render
figures: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) RESULTS='$(RESULTS)' bash plots/figures.sh

## make regress: fresh configs/ci.ini run compared against results/baseline
regress: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) bash scripts/regress.sh

regress-update: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) bash scripts/regress.sh --update

asan:
	@$(MAKE) --no-print-directory BUILD=build/asan SANITIZE=address test
tsan:
	@$(MAKE) --no-print-directory BUILD=build/tsan SANITIZE=thread CC=clang test
ubsan:
	@$(MAKE) --no-print-directory BUILD=build/ubsan SANITIZE=undefined test

clean:
	rm -rf build

help:
	@echo "allocscope targets:"
	@echo "  make                 build everything into $(BUILD)/"
	@echo "  make test [T=name]   install deps, build, run all tests (last line: N passed, N failed)"
	@echo "  make bench [ALLOC=a,b,...] [WORKLOAD=w,...] [THREADS=1,2] [REPS=n] [CONFIG=file]"
	@echo "  make figures [RESULTS=dir]   reproduce the papers' figures and report"
	@echo "  make regress         fresh CI run vs results/baseline (exit 1 on regression)"
	@echo "  make regress-update  replace results/baseline deliberately"
	@echo "  make asan|tsan|ubsan build into build/<san>/ and run the tests there"
	@echo "  make fuzz [FUZZ_S=60]  run each libFuzzer target (tests/fuzz/) for FUZZ_S seconds"
	@echo "  make crash-test [KILLS=200]  LLFree persistence: kill an allocation storm, recover, verify"
	@echo "  make redis           build Redis from Debian's source (MALLOC=libc) into $(BUILD)/redis"
	@echo "  make clean           remove build/"
	@echo "Variables: CC, OPT (default -O2 -g), BUILD, SANITIZE, CFLAGS, LDFLAGS"

-include $(shell find $(BUILD)/obj $(BUILD)/pic -name '*.d' 2>/dev/null)

# ---------------------------------------------------------------------------
# Reliability (issue 13): the LLFree crash test. Self-contained: the test
# program links only the frame allocators and the common helpers.
#   make crash-test [KILLS=200] [CRASH_ARGS='--gib 4 --threads 4']
# The short version runs in `make test` as tests/sh/llfree_crash.sh.

CRASH_SRC := $(wildcard tests/crash/*.c)
KILLS ?= 200
CRASH_ARGS ?=

$(BIN)/llfree-crash-test: $(call o,$(CRASH_SRC)) $(FRAME_O) $(COMMON_O)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS_ALL) $^ -o $@ $(LIBS_BASE)

all: $(BIN)/llfree-crash-test

.PHONY: crash-test
crash-test: $(BIN)/llfree-crash-test
	$(BIN)/llfree-crash-test --kills $(KILLS) $(CRASH_ARGS)

# ---------------------------------------------------------------------------
# Reliability (issue 13): libFuzzer targets, tests/fuzz/fuzz_NAME.c ->
# $(BUILD)/fuzz/fuzz_NAME, built by clang with -fsanitize=fuzzer,address from
# the sources (not from $(OBJ): other flags). Each runs FUZZ_S seconds over
# the committed corpus tests/fuzz/corpus/NAME plus a scratch corpus in
# $(BUILD)/fuzz/corpus-NAME; a finding stops `make fuzz` with the crash file.
#   make fuzz [FUZZ_S=60]

FUZZ_S ?= 60
FUZZ_CC ?= clang
FUZZ_FLAGS := -std=gnu11 -D_GNU_SOURCE -O1 -g -fsanitize=fuzzer,address -fno-omit-frame-pointer \
	-pthread $(INCLUDES)
FUZZ_DIR := $(BUILD)/fuzz
FUZZ_OBJECT_ALLOCS := adaptive lifetime
FUZZERS := $(FUZZ_DIR)/fuzz_frame $(foreach a,$(FUZZ_OBJECT_ALLOCS),$(FUZZ_DIR)/fuzz_object_$(a)) \
	$(FUZZ_DIR)/fuzz_config $(FUZZ_DIR)/fuzz_trace $(FUZZ_DIR)/fuzz_profile

$(FUZZ_DIR)/fuzz_frame: tests/fuzz/fuzz_frame.c $(FRAME_SRC) $(COMMON_SRC)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) $^ -o $@ $(LIBS_BASE)

# Input readers. fuzz_config parses configs against the build's catalog: the
# workloads that $(BIN)/framebench and $(BIN)/micro-* describe (built first,
# order-only: the fuzzer runs them at start-up, it does not link them).
$(FUZZ_DIR)/fuzz_config: tests/fuzz/fuzz_config.c $(HARNESS_SRC) $(COMMON_SRC) | $(BIN)/framebench $(MICRO_PROGS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) $(filter %.c,$^) -o $@ $(LIBS_HARNESS)

$(FUZZ_DIR)/fuzz_trace: tests/fuzz/fuzz_trace.c allocators/object/trace/trace_format.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) $< -o $@

$(FUZZ_DIR)/fuzz_profile: tests/fuzz/fuzz_profile.c allocators/object/lifetime/lt_format.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) $< -o $@

define FUZZ_OBJECT
$(FUZZ_DIR)/fuzz_object_$(1): tests/fuzz/fuzz_object.c $(wildcard allocators/object/$(1)/*.c) \
		$(PAGESOURCE_SRC) $(FRAME_SRC) $(COMMON_SRC)
	@mkdir -p $$(@D)
	$$(FUZZ_CC) $$(FUZZ_FLAGS) -Iallocators/object/$(1) $$^ -o $$@ $$(LIBS_BASE)
endef
$(foreach a,$(FUZZ_OBJECT_ALLOCS),$(eval $(call FUZZ_OBJECT,$(a))))

.PHONY: fuzz
fuzz: $(FUZZERS)
	@for f in $(FUZZERS); do \
		n=$$(basename $$f); c=tests/fuzz/corpus/$${n#fuzz_}; mkdir -p $(FUZZ_DIR)/corpus-$$n $$c; \
		echo "== $$n for $(FUZZ_S) s (log: $(FUZZ_DIR)/$$n.log)"; \
		if (cd $(FUZZ_DIR) && ./$$n -max_total_time=$(FUZZ_S) -max_len=4096 -print_final_stats=1 \
			corpus-$$n $(CURDIR)/$$c >$$n.log 2>&1); then \
			grep -E '^(Done|stat::number_of_executed_units)' $(FUZZ_DIR)/$$n.log; \
		else tail -n 30 $(FUZZ_DIR)/$$n.log; echo "$$n: finding (crash file in $(FUZZ_DIR))"; exit 1; fi; \
	done

# Sanitizer runs (issue 13): LeakSanitizer is off under `make asan`. The
# allocators never call malloc (metadata comes from as_meta_alloc/mmap, which
# LSan does not track), so what LSan reports are the harness's
# process-lifetime allocations (option vectors, the topology description)
# released by exit; reporting them also turns every `exit 2` bad-input path
# into exit 1. allocator_may_return_null: the conformance workload checks
# that calloc(-1, 2) and huge mallocs return NULL, which ASan would otherwise
# abort on. All other ASan checks stay on.
asan: export ASAN_OPTIONS := detect_leaks=0:allocator_may_return_null=1
