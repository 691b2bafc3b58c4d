/* The CUDA engine's extra entry points (C linkage), beyond lib/backend/backend.h's
   nash_backend_cuda(). Only present in a build with NASH_HAVE_CUDA (kernels/cuda.mk).

   nash_backend_cuda() returns the CUDA backend table only when at least one GPU is visible,
   NULL otherwise, so backend_find("auto") falls back to the CPU on a machine without a GPU
   (CI) even though the build has CUDA. nash_cuda_device_count() tells the two cases apart
   for error messages ("built without CUDA" vs "no GPU visible").

   Environment read by the backend's init (docs/GPU.md):
     NASH_GPU=N            device index among the visible ones (default 0); what --gpu N sets
     NASH_TF32=1           TF32 tensor-core math for convolutions and dense layers
     NASH_CUDNN_FIND=0     cuDNN heuristics (cudnnGet*_v7) instead of timed cudnnFind*
     NASH_CUDNN_WS_MB=M    largest cuDNN workspace an algorithm may use (default 256 MiB) */
#ifndef NASH_CUDA_H
#define NASH_CUDA_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "backend/backend.h"

/* GPUs visible to this process (after CUDA_VISIBLE_DEVICES); 0 when there is no driver, no
   device or any error. Never fails, never prints. */
int nash_cuda_device_count(void);

/* "NVIDIA H200, GPU 0 of 1, 139.8 GiB" for the context's device: what the tools print after
   "device cuda". Writes "" when ctx is not an initialised CUDA context. */
void nash_cuda_describe(const Ctx *ctx, char *buf, size_t n);

/* Bytes of device memory the backend holds besides what went through ctx->be->alloc:
   its own cuDNN workspace and reduction scratch (cuDNN's and cuBLAS's handles not counted). */
size_t nash_cuda_private_bytes(const Ctx *ctx);

#ifdef __cplusplus
}
#endif

#endif
