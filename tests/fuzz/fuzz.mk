# Fuzzing the model, checkpoint and ensemble readers (tests/fuzz/README.md), included by the
# Makefile. The library is compiled again with clang, AddressSanitizer, UBSan and libFuzzer's
# coverage instrumentation under $(BUILD)/fuzz; Debian's HDF5 is linked as it is.
#   make fuzz [FUZZ_SECONDS=60]   fuzz from tests/fuzz/corpus (new inputs go to $(BUILD)/fuzz/corpus)
#   make fuzz-replay              build the replay of tests/fuzz/regress (make test runs it)
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_DIR      = $(BUILD)/fuzz
FUZZ_SAN      = -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS   = -std=c11 -D_POSIX_C_SOURCE=200809L -DNASH_VERSION='"$(VERSION)"' -fopenmp -g -O1 -Wno-pass-failed \
                $(HDF5_CFLAGS) $(BLAS_CFLAGS) -Ilib $(FUZZ_SAN) -MMD -MP
FUZZ_LDLIBS   = $(HDF5_LIBS) $(BLAS_LIBS) $(DNNL_LIBS) $(IMAGE_LIBS) -lz -lm -fopenmp
# The readers only: not the ONNX exporter (its generated protobuf code is not theirs to fuzz).
FUZZ_LIB_OBJ  = $(patsubst %.c,$(FUZZ_DIR)/obj/%.o,$(filter-out lib/export/%,$(LIB_SRC)))

$(FUZZ_DIR)/obj/%.o: %.c $(BUILD)/config
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_DIR)/fuzz_readers: $(FUZZ_DIR)/obj/tests/fuzz/fuzz_readers.o $(FUZZ_LIB_OBJ)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(FUZZ_LDLIBS)

$(FUZZ_DIR)/replay: $(FUZZ_DIR)/obj/tests/fuzz/replay.o $(FUZZ_DIR)/obj/tests/fuzz/fuzz_readers.o $(FUZZ_LIB_OBJ)
	$(FUZZ_CC) $(FUZZ_SAN) -o $@ $^ $(FUZZ_LDLIBS)

fuzz-replay: $(FUZZ_DIR)/replay

# One process (-fork=1) that goes on after a crash (each is kept as
# $(BUILD)/fuzz/artifacts/crash-*: minimise it, README, and add it to tests/fuzz/regress).
# New inputs land in $(BUILD)/fuzz/corpus; the seeds in the tree stay as they are.
fuzz: $(FUZZ_DIR)/fuzz_readers
	@mkdir -p $(FUZZ_DIR)/corpus $(FUZZ_DIR)/artifacts
	cd $(FUZZ_DIR) && LSAN_OPTIONS=suppressions=$(CURDIR)/tests/fuzz/lsan.supp ASAN_OPTIONS=allocator_may_return_null=1 ./fuzz_readers -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
		-max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 -timeout=20 -artifact_prefix=artifacts/ \
		-dict=$(CURDIR)/tests/fuzz/nash.dict corpus $(CURDIR)/tests/fuzz/corpus

.PHONY: fuzz fuzz-replay
-include $(wildcard $(FUZZ_DIR)/obj/*/*.d $(FUZZ_DIR)/obj/*/*/*.d $(FUZZ_DIR)/obj/*/*/*/*.d)
