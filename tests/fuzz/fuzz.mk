# Fuzzing the file readers (tests/fuzz/README.md), included by the Makefile. The library is
# compiled again with clang, AddressSanitizer, UBSan and libFuzzer's coverage instrumentation
# under $(BUILD)/fuzz; Debian's HDF5 is linked as it is. Two targets: `readers` (model,
# checkpoint and ensemble files; seeds in tests/fuzz/corpus) and `datasets` (dataset files,
# h5:FILE; seeds in tests/fuzz/corpus-datasets).
#   make fuzz [FUZZ_TARGET=readers|datasets] [FUZZ_SECONDS=60]
#                                 fuzz from the seeds (new inputs go to $(BUILD)/fuzz/corpus-TARGET)
#   make fuzz-replay              build the replay of tests/fuzz/regress (make test runs it)
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_TARGET  ?= readers
FUZZ_DIR      = $(BUILD)/fuzz
FUZZ_SAN      = -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS   = -std=c11 -D_POSIX_C_SOURCE=200809L -DNASH_VERSION='"$(VERSION)"' -fopenmp -g -O1 -Wno-pass-failed \
                $(HDF5_CFLAGS) $(BLAS_CFLAGS) -Ilib $(FUZZ_SAN) -MMD -MP
FUZZ_LDLIBS   = $(HDF5_LIBS) $(IMAGE_LIBS) -lz -lm -fopenmp
# The readers only: not the ONNX exporter (its generated protobuf code is not theirs to fuzz),
# nor the fast engines (libnash-engines: no reader calls them).
FUZZ_LIB_OBJ  = $(patsubst %.c,$(FUZZ_DIR)/obj/%.o,$(filter-out lib/export/% $(ENGINE_SRC),$(LIB_SRC)))

$(FUZZ_DIR)/obj/%.o: %.c $(BUILD)/config
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_DIR)/fuzz_readers $(FUZZ_DIR)/fuzz_datasets: $(FUZZ_DIR)/fuzz_%: $(FUZZ_DIR)/obj/tests/fuzz/fuzz_%.o $(FUZZ_LIB_OBJ)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(FUZZ_LDLIBS)

# The replay (make test builds it) compiles only what the readers it replays stand on: the
# layers below search and search's ensemble reader, not the whole library again.
FUZZ_REPLAY_OBJ = $(patsubst %.c,$(FUZZ_DIR)/obj/%.o,$(wildcard lib/base/*.c lib/model/*.c lib/data/*.c lib/engine/*.c) \
                  lib/search/ensemble.c lib/search/select.c)
$(FUZZ_DIR)/replay: $(FUZZ_DIR)/obj/tests/fuzz/replay.o $(FUZZ_DIR)/obj/tests/fuzz/fuzz_readers.o $(FUZZ_REPLAY_OBJ)
	$(FUZZ_CC) $(FUZZ_SAN) -o $@ $^ $(FUZZ_LDLIBS)

fuzz-replay: $(FUZZ_DIR)/replay

# One process (-fork=1) that goes on after a crash (each is kept as
# $(BUILD)/fuzz/artifacts-TARGET/crash-*: minimise it, README, and add it to tests/fuzz/regress).
# New inputs land in $(BUILD)/fuzz/corpus-TARGET; the seeds in the tree stay as they are.
# -timeout=10: HDF5 spins on some crafted files (the isolated readers stop those); a shorter
# timeout spends less of the hour on each.
FUZZ_SEEDS_readers  = tests/fuzz/corpus
FUZZ_SEEDS_datasets = tests/fuzz/corpus-datasets
fuzz: $(FUZZ_DIR)/fuzz_$(FUZZ_TARGET)
	@test -n '$(FUZZ_SEEDS_$(FUZZ_TARGET))' || { echo 'make fuzz: FUZZ_TARGET is readers or datasets' >&2; exit 2; }
	@mkdir -p $(FUZZ_DIR)/corpus-$(FUZZ_TARGET) $(FUZZ_DIR)/artifacts-$(FUZZ_TARGET)
	cd $(FUZZ_DIR) && LSAN_OPTIONS=suppressions=$(CURDIR)/tests/fuzz/lsan.supp ASAN_OPTIONS=allocator_may_return_null=1 \
		./fuzz_$(FUZZ_TARGET) -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
		-max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 -timeout=10 -artifact_prefix=artifacts-$(FUZZ_TARGET)/ \
		-dict=$(CURDIR)/tests/fuzz/nash.dict corpus-$(FUZZ_TARGET) $(CURDIR)/$(FUZZ_SEEDS_$(FUZZ_TARGET))

.PHONY: fuzz fuzz-replay
-include $(wildcard $(FUZZ_DIR)/obj/*/*.d $(FUZZ_DIR)/obj/*/*/*.d $(FUZZ_DIR)/obj/*/*/*/*.d)
