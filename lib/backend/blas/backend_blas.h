/* Internal to the CPU backends, not part of the library's API: the thread helpers of
   lib/backend/blas/backend_blas.c and backend_blas_conv.c, and the im2col + BLAS engine's ops,
   which the oneDNN backend (lib/backend/onednn/) shares for everything but convolution. */
#ifndef NASH_BACKEND_BLAS_H
#define NASH_BACKEND_BLAS_H

#include <cblas.h>
#undef I /* from <complex.h>, which cblas.h includes; backend.h's dense sizes use the name */
#include <omp.h>
#include <stddef.h>
#include <stdint.h>

#include "backend/backend.h"

/* Elementwise loops are parallel only past this many floats (thread wake-up costs ~µs). */
#define PAR_MIN 32768

/* The most pieces a GEMM's work or a reduction is split into. The split is fixed by the
   shapes, never by the thread count (the threads share out the pieces), so that any thread
   count gives the same bits (docs/DESIGN.md, "Determinism"); up to this many threads are kept
   busy. */
#define CPU_CHUNKS 16

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

/* The rest of the nash_backend_blas table (backend_blas.c), same signatures as backend.h's. */
void cpu_zero(Ctx *ctx, void *p, size_t bytes);
void cpu_bn_forward_train(Ctx *ctx, float *out, float *mean, float *invstd, float *running_mean,
			  float *running_var, const float *in, const float *gamma, const float *beta,
			  int N, int C, int HW, float momentum, float eps);
void cpu_bn_forward_eval(Ctx *ctx, float *out, const float *in, const float *gamma,
			 const float *beta, const float *running_mean, const float *running_var,
			 int N, int C, int HW, float eps);
void cpu_bn_backward(Ctx *ctx, float *din, float *dgamma, float *dbeta, const float *dout,
		     const float *in, const float *mean, const float *invstd, const float *gamma,
		     int N, int C, int HW);
void cpu_relu_forward(Ctx *ctx, float *out, const float *in, size_t n);
void cpu_relu_backward(Ctx *ctx, float *din, const float *dout, const float *out, size_t n);
void cpu_add_forward(Ctx *ctx, float *out, const float *a, const float *b, const float *lambda,
		     int N, int C, int HW);
void cpu_add_backward(Ctx *ctx, float *da, float *db, float *dlambda, const float *dout,
		      const float *a, const float *b, const float *lambda, int N, int C, int HW);
void cpu_sgd_update(Ctx *ctx, float *p, float *v, const float *grad, size_t n, float lr,
		    float mu, float wd, int nesterov);
void cpu_maxpool_forward(Ctx *ctx, float *out, const float *in, int N, int C, int H, int W, int k);
void cpu_maxpool_backward(Ctx *ctx, float *din, const float *dout, const float *in, int N, int C,
			  int H, int W, int k);
void cpu_concat_forward(Ctx *ctx, float *out, const float *in, int N, int Cin, int Cout,
			int offset, int HW);
void cpu_concat_backward(Ctx *ctx, float *din, const float *dout, int N, int Cin, int Cout,
			 int offset, int HW);
void cpu_gap_forward(Ctx *ctx, float *out, const float *in, int N, int C, int HW);
void cpu_gap_backward(Ctx *ctx, float *din, const float *dout, int N, int C, int HW);
void cpu_dense_forward(Ctx *ctx, float *out, const float *in, const float *w, const float *b,
		       int N, int I, int O);
void cpu_dense_backward(Ctx *ctx, float *din, float *dw, float *db, const float *dout,
			const float *in, const float *w, int N, int I, int O);
void cpu_ema_update(Ctx *ctx, float *avg, const float *p, size_t n, float decay);
void cpu_softmax_xent(Ctx *ctx, float *dlogits, float *stats, const float *logits,
		      const int32_t *labels, int N, int K, float smoothing);

#endif
