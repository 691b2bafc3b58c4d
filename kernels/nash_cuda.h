/* The CUDA engine's extra entry points (C linkage), beyond lib/backend/backend.h's
   nash_backend_cuda(). Only present in a build with NASH_HAVE_CUDA (kernels/cuda.mk).

   nash_backend_cuda() returns the CUDA backend table only when at least one GPU is visible,
   NULL otherwise, so backend_find("auto") falls back to the CPU on a machine without a GPU
   (CI) even though the build has CUDA. nash_cuda_device_count() tells the two cases apart
   for error messages ("built without CUDA" vs "no GPU visible").

   The engine's settings (device, TF32, cuDNN search, workspace limit) come in the context's
   BackendOpts (lib/backend/backend.h); the tools fill them from --gpu and the NASH_*
   variables of docs/GPU.md. */
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

#ifdef __cplusplus
}
#endif

#endif
