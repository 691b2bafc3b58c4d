# nash: architecture search for CNNs (NASH). `make` builds build/bin/*, `make test` runs the tests.
.SUFFIXES:
# A recipe that fails removes its half-made target, so a rerun cannot take it for done.
.DELETE_ON_ERROR:

# Every path below is the clone's, relative: make must run in the clone (make -C CLONE), or
# the pipeline through its own file (make -f PREFIX/share/nash/search.mk search, installed).
ifneq ($(abspath $(dir $(firstword $(MAKEFILE_LIST)))),$(CURDIR))
$(error $(firstword $(MAKEFILE_LIST)) runs in its own directory: make -C $(patsubst %/,%,$(dir $(firstword $(MAKEFILE_LIST)))) ... (RUN= then relative to it), or after make install: make -f PREFIX/share/nash/search.mk search from anywhere)
endif

VERSION   = 0.1.0
PREFIX   ?= /usr/local
BUILD    ?= build
# CC: make's own default (cc) unless given; `CC ?= cc` would do nothing, as make predefines CC
# (except under make -R). NVCC: looked up once (a `?=` would rerun the shell at every
# expansion); `make NVCC=` builds without CUDA.
ifeq ($(origin CC),undefined)
CC := cc
endif
ifeq ($(origin NVCC),undefined)
NVCC := $(shell command -v nvcc 2>/dev/null || { test -x /usr/local/cuda/bin/nvcc && echo /usr/local/cuda/bin/nvcc; })
endif

HDF5_CFLAGS ?= -I/usr/include/hdf5/serial
HDF5_LIBS   ?= -L/usr/lib/x86_64-linux-gnu/hdf5/serial -lhdf5
# The programs link HDF5 statically where its static library is installed (Debian's
# libhdf5-dev has it): Debian's shared HDF5 loads 37 more libraries (curl, gnutls, krb5, ldap,
# for a network driver nash never uses), and a program's start was mostly that loading.
HDF5_STATIC ?= /usr/lib/x86_64-linux-gnu/hdf5/serial/libhdf5.a
HDF5_PROG_LIBS = $(if $(wildcard $(HDF5_STATIC)),$(HDF5_STATIC) -lsz -laec -ldl,$(HDF5_LIBS))
BLAS_CFLAGS ?= -I/usr/include/x86_64-linux-gnu/openblas-pthread
BLAS_LIBS   ?= -lopenblas
DNNL_LIBS   ?= -ldnnl
IMAGE_LIBS  ?= -lpng -ljpeg
# The ONNX schema (Debian's python3-onnx ships it); protoc-c turns it into C under $(BUILD)/gen.
ONNX_PROTO  ?= /usr/lib/python3/dist-packages/onnx/onnx.proto
PROTOC_C    ?= protoc-c
PROTOBUF_C_LIBS ?= -lprotobuf-c

WARN     = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter
CFLAGS  ?= -O2 -g
ALL_CFLAGS = -std=c11 -D_POSIX_C_SOURCE=200809L -DNASH_VERSION='"$(VERSION)"' -fPIC -fopenmp \
             $(WARN) $(HDF5_CFLAGS) $(BLAS_CFLAGS) -Ilib -I$(BUILD)/gen $(CFLAGS) -MMD -MP
# libnash's own libraries, and the fast engines' (libnash-engines, below).
LDLIBS_CORE    = $(HDF5_LIBS) $(IMAGE_LIBS) $(PROTOBUF_C_LIBS) -lz -lm -fopenmp
LDLIBS_ENGINES = $(BLAS_LIBS) $(DNNL_LIBS) -lm -fopenmp
LDLIBS_ALL     = $(LDLIBS_CORE) $(LDLIBS_ENGINES)

LIB_SRC   = $(wildcard lib/*/*.c lib/*/*/*.c)
GEN_OBJ   = $(BUILD)/obj/gen/onnx.pb-c.o
# The fast engines (OpenBLAS, oneDNN and, with nvcc, CUDA) are apart from the rest of the
# library: only the programs that train link them (nash-train, nash-ensemble, the tests, the
# benchmarks), and every other program starts without loading oneDNN, OpenBLAS, cuDNN and
# cudart (docs/DESIGN.md, "Linking").
ENGINE_SRC = $(wildcard lib/backend/blas/*.c lib/backend/onednn/*.c)
ENGINE_OBJ = $(ENGINE_SRC:%.c=$(BUILD)/obj/%.o)
CORE_OBJ   = $(filter-out $(ENGINE_OBJ),$(LIB_SRC:%.c=$(BUILD)/obj/%.o)) $(GEN_OBJ)
LIB_OBJ    = $(CORE_OBJ) $(ENGINE_OBJ)
TOOL_SRC  = $(wildcard tools/nash-*.c)
CLI_OBJ   = $(BUILD)/obj/tools/cli.o $(BUILD)/obj/tools/thread_env.o
TOOLS     = $(TOOL_SRC:tools/%.c=$(BUILD)/bin/%)
UNIT_SRC  = $(wildcard tests/unit/test_*.c)
UNITS     = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
# The programs (nash-*) link libnash.a: the objects each needs, HDF5 static (above). The test
# programs and the benchmarks' builder link the shared libraries, libnash.so and
# libnash-engines.so (built faster; they run once).
LIBNASH_A = $(BUILD)/lib/libnash.a
LIBNASH   = $(BUILD)/lib/libnash.so
LIBENGINES = $(BUILD)/lib/libnash-engines.so
# How a test links the engines: named even where the toolchain links only the libraries a
# program calls (--as-needed): the program never calls them, libnash finds them.
WITH_ENGINES = -L$(BUILD)/lib -Wl,--push-state,--no-as-needed -lnash-engines -Wl,--pop-state -lnash
# What a program links after libnash.a (only what it calls: --as-needed).
PROG_LIBS = -Wl,--push-state,--as-needed $(HDF5_PROG_LIBS) $(IMAGE_LIBS) $(PROTOBUF_C_LIBS) -lz -lm -fopenmp \
            -Wl,--pop-state
MKGROWN   = $(BUILD)/bench/mkgrown

# The CUDA engine joins the library whenever nvcc is found (kernels/cuda.mk).
-include kernels/cuda.mk

# How the objects are built; when it changes (another compiler or CFLAGS, CUDA switched on or
# off with NVCC=), every object is rebuilt rather than mixed with stale ones. An existing
# $(BUILD)/config is rewritten while the makefile is read (not in dry runs: make -n / -q write
# nothing); a missing one is made before the first object.
BUILD_CONFIG := $(CC) $(CFLAGS) $(if $(strip $(NVCC)),cuda $(NVCC) $(NVCC_ARCH) $(NVCC_FLAGS),no-cuda)
BUILD_CONFIG_Q = '$(subst ','\'',$(BUILD_CONFIG))'
ifeq ($(findstring n,$(firstword -$(MAKEFLAGS)))$(findstring q,$(firstword -$(MAKEFLAGS))),)
$(shell f='$(BUILD)/config' v=$(BUILD_CONFIG_Q) && \
	{ [ ! -e "$$f" ] || [ "$$(cat "$$f")" = "$$v" ] || printf '%s\n' "$$v" >"$$f"; })
endif
$(BUILD)/config:
	@mkdir -p $(@D)
	@printf '%s\n' $(BUILD_CONFIG_Q) >$@

all: $(TOOLS) $(MKGROWN)

$(BUILD)/obj/%.o: %.c $(BUILD)/config
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# Generated at build time, never committed: the C encoding of the ONNX schema (lib/export).
$(BUILD)/gen/onnx.pb-c.c: $(ONNX_PROTO)
	@mkdir -p $(@D)
	$(PROTOC_C) --c_out=$(@D) -I$(dir $(ONNX_PROTO)) $(ONNX_PROTO)
$(BUILD)/gen/onnx.pb-c.h: $(BUILD)/gen/onnx.pb-c.c
$(BUILD)/obj/lib/export/onnx.o $(BUILD)/obj/lib/export/onnx_tta.o: $(BUILD)/gen/onnx.pb-c.h
# Generated code is not held to the project's warnings.
$(GEN_OBJ): $(BUILD)/gen/onnx.pb-c.c $(BUILD)/config
	@mkdir -p $(@D)
	$(CC) -std=c11 -fPIC $(CFLAGS) -I$(BUILD)/gen -c -o $@ $<

$(LIBNASH): $(CORE_OBJ)
	@mkdir -p $(@D)
	$(CC) -shared -o $@ $(CORE_OBJ) $(LDLIBS_CORE)

$(LIBENGINES): $(ENGINE_OBJ) $(LIBNASH)
	@mkdir -p $(@D)
	$(CC) -shared -o $@ $(ENGINE_OBJ) -L$(BUILD)/lib -lnash -Wl,-rpath,'$$ORIGIN' $(LDLIBS_ENGINES)

$(LIBNASH_A): $(CORE_OBJ)
	@mkdir -p $(@D)
	rm -f $@.tmp && ar rcs $@.tmp $(CORE_OBJ) && mv -f $@.tmp $@

# The engines as objects, not from an archive: libnash refers to them weakly
# (lib/backend/backend.c), and a weak reference pulls no member out of an archive.
PROG_ENGINES =
$(BUILD)/bin/nash-train $(BUILD)/bin/nash-ensemble: PROG_ENGINES = $(ENGINE_OBJ)
$(BUILD)/bin/nash-train $(BUILD)/bin/nash-ensemble: $(ENGINE_OBJ)
PROG_ENGINE_LIBS = $(if $(PROG_ENGINES),$(LDLIBS_ENGINES))

$(BUILD)/bin/%: $(BUILD)/obj/tools/%.o $(CLI_OBJ) $(LIBNASH_A)
	@mkdir -p $(@D)
	$(CC) -o $@ $< $(CLI_OBJ) $(PROG_ENGINES) $(LIBNASH_A) $(PROG_LIBS) $(PROG_ENGINE_LIBS)

# nash-report's text is files of its own (tools/report_text.c, report_budget.c), linked into it alone.
$(BUILD)/bin/nash-report: $(BUILD)/obj/tools/nash-report.o $(BUILD)/obj/tools/report_text.o \
		$(BUILD)/obj/tools/report_budget.o $(CLI_OBJ) $(LIBNASH_A)
	@mkdir -p $(@D)
	$(CC) -o $@ $(filter %.o,$^) $(LIBNASH_A) $(PROG_LIBS)

# The benchmarks' model builder (bench/cpu.sh, bench/gpu.sh).
$(MKGROWN): $(BUILD)/obj/bench/mkgrown.o $(LIBENGINES)
	@mkdir -p $(@D)
	$(CC) -o $@ $< $(WITH_ENGINES) -Wl,-rpath,'$$ORIGIN/../lib' $(LDLIBS_ALL)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(LIBENGINES)
	@mkdir -p $(@D)
	$(CC) -o $@ $< $(WITH_ENGINES) -Wl,-rpath,'$$ORIGIN/../lib' $(LDLIBS_ALL)

$(BUILD)/obj/tests/unit/%.o: tests/unit/%.c $(BUILD)/config
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Itests/unit -c -o $@ $<

units: $(UNITS)

# Objects are kept, not deleted as intermediates, so a library change relinks the tools and
# tests instead of recompiling them.
.SECONDARY: $(UNIT_SRC:tests/unit/%.c=$(BUILD)/obj/tests/unit/%.o) $(TOOL_SRC:%.c=$(BUILD)/obj/%.o) $(CLI_OBJ) \
	$(BUILD)/obj/tools/report_text.o

# What the export tests compare onnxruntime with: nash's own logits (tests/onnx).
# odd_graph: a model with the ops no search makes (gap, dense after gap, bn on [N, C], ...).
ONNX_HELPERS = $(BUILD)/tests/nash_logits $(BUILD)/tests/odd_graph
$(ONNX_HELPERS): $(BUILD)/tests/%: $(BUILD)/obj/tests/onnx/%.o $(LIBENGINES)
	@mkdir -p $(@D)
	$(CC) -o $@ $< $(WITH_ENGINES) -Wl,-rpath,'$$ORIGIN/../lib' $(LDLIBS_ALL)

# onnxruntime-node from npm, pinned by tests/onnx/package-lock.json, into $(BUILD)/node; when npm
# cannot reach its registry the reason is written there and the tests that need it skip.
node-deps:
	@tests/node-deps.sh $(BUILD)/node

# Tiny learnable datasets in every supported format, plus broken ones, for the tests.
$(BUILD)/tests/gen_fixtures: tests/fixtures/gen_fixtures.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -o $@ $< -lz

$(BUILD)/fixtures/.stamp: $(BUILD)/tests/gen_fixtures
	rm -rf $(BUILD)/fixtures
	$(BUILD)/tests/gen_fixtures $(BUILD)/fixtures
	touch $@

# The Bats tests' training hooks stop a training right after its checkpoint with it
# (tests/bats/stop_on_rename.c); LD_PRELOADed, so a shared library of its own.
STOP_ON_RENAME = $(BUILD)/tests/stop_on_rename.so
$(STOP_ON_RENAME): tests/bats/stop_on_rename.c $(BUILD)/config
	@mkdir -p $(@D)
	$(CC) -std=c11 -fPIC -shared $(WARN) $(CFLAGS) -o $@ $< -ldl

fixtures: $(BUILD)/fixtures/.stamp $(STOP_ON_RENAME)

# The library's layering rules (docs/DESIGN.md): includes point down; lib/ never exits,
# prints or reads the environment. `make test` runs it too, as its first test.
check-layers:
	@tests/check_layers.sh

# The tests: the layering check, C unit tests, the fuzzing regression corpus replayed under
# ASan/UBSan (tests/fuzz), then the Bats tests; the last line is
# "N passed, N failed, N skipped". tests/run.sh runs them side by side.
# Installs missing Debian packages first (as root), so a fresh clone needs only `make test`.
# What they need is built on every CPU unless make was given a -j of its own (the CI's
# MAKEFLAGS=-j$(nproc) among them; -j1 is one job at a time).
test:
	@tests/deps.sh --test
	@$(MAKE) --no-print-directory $(if $(filter -j%,$(MAKEFLAGS)),,-j$$(nproc)) \
		all units fixtures $(ONNX_HELPERS) node-deps fuzz-replay
	@tests/run.sh $(BUILD) $(UNITS) tests/fuzz/replay.sh

deps:
	@tests/deps.sh --test

# The programs (libnash linked into each), the man pages and the search
# pipeline: the installed share/nash/search.mk is pipelines/search.mk with BIN defaulting to
# PREFIX/bin, so `make -f PREFIX/share/nash/search.mk search` runs from any directory.
# DESTDIR is for packaging: files go under DESTDIR, paths inside them name PREFIX.
MAN_PAGES = $(wildcard docs/man/*.1)
install: all
	mkdir -p $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
		$(DESTDIR)$(PREFIX)/share/nash
	for t in $(TOOLS); do cp $$t $(DESTDIR)$(PREFIX)/bin/; done
	$(if $(MAN_PAGES),cp $(MAN_PAGES) $(DESTDIR)$(PREFIX)/share/man/man1/)
	cp pipelines/search.sh pipelines/climb.sh pipelines/report.sh pipelines/common.sh pipelines/gpu.sh pipelines/aggregate.sh \
		pipelines/ablation.mk $(DESTDIR)$(PREFIX)/share/nash/
	{ echo '# Installed by make install from pipelines/search.mk: the programs in $(PREFIX)/bin.'; \
	  echo 'BIN ?= $(PREFIX)/bin'; cat pipelines/search.mk; } >$(DESTDIR)$(PREFIX)/share/nash/search.mk.tmp
	mv -f $(DESTDIR)$(PREFIX)/share/nash/search.mk.tmp $(DESTDIR)$(PREFIX)/share/nash/search.mk

clean:
	rm -rf $(BUILD)

.PHONY: all units fixtures check-layers test deps node-deps install clean

-include pipelines/search.mk
include tests/fuzz/fuzz.mk
-include $(wildcard $(BUILD)/obj/*/*.d $(BUILD)/obj/*/*/*.d $(BUILD)/obj/*/*/*/*.d)
