/* Internal to the fast CPU backend (lib/backend/cpu/backend_cpu.c, lib/backend/cpu/backend_cpu_conv.c), not part of
   the library's API: the thread helpers both files use, and the convolution that
   backend_cpu_conv.c implements for the nash_backend_cpu table. */
#ifndef NASH_BACKEND_CPU_H
#define NASH_BACKEND_CPU_H

#include <cblas.h>
#undef I /* from <complex.h>, which cblas.h includes; backend.h's dense sizes use the name */
#include <omp.h>
#include <stddef.h>

#include "backend/backend.h"

/* Elementwise loops are parallel only past this many floats (thread wake-up costs ~µs). */
#define PAR_MIN 32768

static inline int nthreads(const Ctx *ctx)
{
	int nt = ctx && ctx->opts.threads > 0 ? ctx->opts.threads : omp_get_max_threads();
	return nt > 0 ? nt : 1;
}

/* OpenBLAS to one thread: our OpenMP threads each run their own GEMMs. */
static inline void blas_single(void)
{
	if (openblas_get_num_threads() != 1)
		openblas_set_num_threads(1);
}

/* The Backend table's conv_workspace, conv_forward and conv_backward (lib/backend/backend.h). */
size_t cpu_conv_workspace(Ctx *ctx, int N, int C, int H, int W, int K, int ks);
void cpu_conv_forward(Ctx *ctx, float *out, const float *in, const float *w, const float *b,
		      int N, int C, int H, int W, int K, int ks);
void cpu_conv_backward(Ctx *ctx, float *din, float *dw, float *db, const float *dout,
		       const float *in, const float *w, int N, int C, int H, int W, int K, int ks);

#endif
