# The CUDA engine (kernels/*.cu) joins libnash-engines whenever nvcc is found; the top-level Makefile
# includes this file right after LIBNASH is defined. `make NVCC=` builds without CUDA and then
# this file changes nothing. docs/GPU.md has the design.
#
#   make gpu-tests   $(BUILD)/tests/gpu/test_gpu_ops (skips without a GPU; not in `make test`)
#                    and $(BUILD)/bench/mkgrown (the Makefile's); `make` builds both too, so CI
#                    compiles them
#   make device      binaries for a GPU machine without HDF5 or OpenBLAS, in $(BUILD)/device/bin:
#                    libnash objects linked into each program, cudart, HDF5, OpenBLAS,
#                    protobuf-c, gfortran and libgomp static; cuDNN dynamic; cuBLAS loaded at run
#                    time (dlopen)
#   make device-pack those programs in one file, $(BUILD)/device/nash-device.tar.xz

# This file comes before the Makefile's first rule: keep `all` the default goal.
ifeq ($(.DEFAULT_GOAL),)
.DEFAULT_GOAL := all
endif

ifneq ($(strip $(NVCC)),)

CUDA_HOME  ?= /usr/local/cuda
CUDA_LIB   ?= $(CUDA_HOME)/lib64
CU_SRC      = $(wildcard kernels/*.cu)
CU_OBJ      = $(CU_SRC:%.cu=$(BUILD)/obj/%.o)
# Ampere and Hopper machine code, plus Hopper PTX that later GPUs JIT-compile at start-up.
NVCC_ARCH  ?= -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 \
              -gencode arch=compute_90,code=compute_90
# nvcc's own warning set; not -Werror, which would tie CI to one toolkit's diagnostics.
NVCC_FLAGS ?= -O3 -std=c++20 -Xcompiler -fPIC,-Wall,-Wextra,-Wshadow -Ilib -Ikernels -MMD -MP

ENGINE_OBJ += $(CU_OBJ)
ALL_CFLAGS += -DNASH_HAVE_CUDA -I$(CUDA_HOME)/include
# No -lcublas: the backend dlopens it (kernels/cuda_impl.h says why); the rpath finds it.
LDLIBS_ENGINES += -L$(CUDA_LIB) -Wl,-rpath,$(CUDA_LIB) -lcudnn -lcudart -ldl -lstdc++

$(BUILD)/obj/kernels/%.o: kernels/%.cu $(BUILD)/config
	@mkdir -p $(@D)
	$(NVCC) $(NVCC_FLAGS) $(NVCC_ARCH) -c -o $@ $<

# ---- GPU tests (normal build) ----

GPU_TEST = $(BUILD)/tests/gpu/test_gpu_ops
$(GPU_TEST): $(BUILD)/obj/tests/gpu/test_gpu_ops.o $(CLI_OBJ) $(LIBENGINES)
	@mkdir -p $(@D)
	$(CC) -o $@ $< $(CLI_OBJ) $(WITH_ENGINES) -Wl,-rpath,'$$ORIGIN/../../lib' $(LDLIBS_ALL)

gpu-tests: $(GPU_TEST) $(MKGROWN)

# Built with everything else, so CI keeps them compiling.
all: gpu-tests

# The device link reuses these objects (the tools' are kept by the Makefile): keep make from
# deleting them as intermediates.
.SECONDARY: $(BUILD)/obj/tests/gpu/test_gpu_ops.o $(BUILD)/obj/bench/mkgrown.o

# ---- binaries for the GPU machine ----

DEV         = $(BUILD)/device
DEV_PROGS   = $(TOOL_SRC:tools/%.c=$(DEV)/bin/%) $(DEV)/bin/test_gpu_ops $(DEV)/bin/mkgrown
BLAS_STATIC ?= /usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.a
DEV_LDLIBS  = $(CUDA_LIB)/libcudart_static.a -L$(CUDA_LIB) -Wl,-rpath,$(CUDA_LIB) -lcudnn \
              $(HDF5_STATIC) $(BLAS_STATIC) \
              -Wl,-Bstatic -lpng16 -ljpeg -lprotobuf-c -lsz -laec -lz -lgfortran -lquadmath -lgomp -Wl,-Bdynamic \
              -lstdc++ -lm -ldl -lpthread -lrt
# Without oneDNN: Debian ships no static libdnnl and the GPU machine has no shared one, so the
# device binaries leave its engine out and take the im2col + OpenBLAS engine for "cpu"
# (lib/backend/backend.c, compiled again with NASH_NO_ONEDNN).
DEV_LIB_OBJ = $(filter-out $(BUILD)/obj/lib/backend/onednn/% $(BUILD)/obj/lib/backend/backend.o,$(LIB_OBJ)) \
              $(BUILD)/obj/device/backend.o
# Stripped (-s): the binaries travel to the GPU machine, and size counts there.
DEV_LINK    = $(CC) -s -o $@ $^ $(DEV_LDLIBS)

$(BUILD)/obj/device/backend.o: lib/backend/backend.c $(BUILD)/config
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -DNASH_NO_ONEDNN -c -o $@ $<

$(DEV)/bin/%: $(BUILD)/obj/tools/%.o $(CLI_OBJ) $(DEV_LIB_OBJ)
	@mkdir -p $(@D)
	$(DEV_LINK)

$(DEV)/bin/test_gpu_ops: $(BUILD)/obj/tests/gpu/test_gpu_ops.o $(CLI_OBJ) $(DEV_LIB_OBJ)
	@mkdir -p $(@D)
	$(DEV_LINK)

$(DEV)/bin/mkgrown: $(BUILD)/obj/bench/mkgrown.o $(DEV_LIB_OBJ)
	@mkdir -p $(@D)
	$(DEV_LINK)

# Only system libraries and cuDNN may remain dynamic (cuBLAS comes by dlopen, found through
# the rpath: the GPU machine has it in the same place).
DEV_DYN_OK = linux-vdso|ld-linux|lib(c|m|dl|pthread|rt|gcc_s|stdc\+\+)\.so|libcudnn|libcublas
device: $(DEV_PROGS)
	@for p in $(DEV_PROGS); do \
		if ldd $$p | grep -vE '$(DEV_DYN_OK)'; then echo "$$p: unexpected dynamic library" >&2; exit 1; fi; \
	done
	@echo "device binaries in $(DEV)/bin: $(notdir $(DEV_PROGS))"

# The programs and what tests/gpu/check.sh needs, in one small file to carry to the GPU machine (the static
# binaries are ~30 MB each, mostly OpenBLAS; solid xz -9 shares it between them: ~4 MB).
DEV_PACK_PROGS = test_gpu_ops mkgrown $(notdir $(TOOLS))
DEV_PACK       = $(DEV)/nash-device.tar.xz
$(DEV_PACK): $(DEV_PACK_PROGS:%=$(DEV)/bin/%)
	cd $(DEV) && tar cf - $(DEV_PACK_PROGS:%=bin/%) | xz -9 -T1 >$(@F).tmp && mv $(@F).tmp $(@F)
device-pack: device $(DEV_PACK)

.PHONY: gpu-tests device device-pack

endif
