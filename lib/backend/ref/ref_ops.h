/* The reference ops of lib/backend/ref/ref_ops.inc as plain functions over host arrays, without a Ctx:
   ref_*_d (double) for finite-difference gradient checks, ref_*_f (float) behind
   nash_backend_ref and reused by nash_backend_blas where speed does not matter. Semantics,
   layouts and accumulate-vs-overwrite rules are those of lib/backend/backend.h. Also the host-memory
   functions both CPU backends share. */
#ifndef NASH_REF_OPS_H
#define NASH_REF_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "backend/backend.h"

#define NASH_REF_OPS_DECLARE(real, S)                                                            \
	void ref_conv_forward##S(real *out, const real *in, const real *w, const real *b, int N, \
				 int C, int H, int W, int K, int ks);                            \
	void ref_conv_backward##S(real *din, real *dw, real *db, const real *dout,              \
				  const real *in, const real *w, int N, int C, int H, int W,    \
				  int K, int ks);                                                \
	void ref_bn_forward_train##S(real *out, real *mean, real *invstd, real *running_mean,   \
				     real *running_var, const real *in, const real *gamma,      \
				     const real *beta, int N, int C, int HW, real momentum,     \
				     real eps);                                                  \
	void ref_bn_forward_eval##S(real *out, const real *in, const real *gamma,               \
				    const real *beta, const real *running_mean,                 \
				    const real *running_var, int N, int C, int HW, real eps);   \
	void ref_bn_backward##S(real *din, real *dgamma, real *dbeta, const real *dout,         \
				const real *in, const real *mean, const real *invstd,           \
				const real *gamma, int N, int C, int HW);                       \
	void ref_relu_forward##S(real *out, const real *in, size_t n);                          \
	void ref_relu_backward##S(real *din, const real *dout, const real *out, size_t n);      \
	void ref_maxpool_forward##S(real *out, const real *in, int N, int C, int H, int W,      \
				    int k);                                                      \
	void ref_maxpool_backward##S(real *din, const real *dout, const real *in, int N, int C, \
				     int H, int W, int k);                                       \
	void ref_add_forward##S(real *out, const real *a, const real *b, const real *lambda,    \
				int N, int C, int HW);                                           \
	void ref_add_backward##S(real *da, real *db, real *dlambda, const real *dout,           \
				 const real *a, const real *b, const real *lambda, int N, int C,\
				 int HW);                                                        \
	void ref_concat_forward##S(real *out, const real *in, int N, int Cin, int Cout,         \
				   int offset, int HW);                                          \
	void ref_concat_backward##S(real *din, const real *dout, int N, int Cin, int Cout,      \
				    int offset, int HW);                                         \
	void ref_gap_forward##S(real *out, const real *in, int N, int C, int HW);               \
	void ref_gap_backward##S(real *din, const real *dout, int N, int C, int HW);            \
	void ref_dense_forward##S(real *out, const real *in, const real *w, const real *b,      \
				  int N, int I, int O);                                          \
	void ref_dense_backward##S(real *din, real *dw, real *db, const real *dout,             \
				   const real *in, const real *w, int N, int I, int O);         \
	void ref_softmax_xent##S(real *dlogits, real *stats, const real *logits,                \
				 const int32_t *labels, int N, int K, real smoothing);           \
	void ref_sgd_update##S(real *p, real *v, const real *grad, size_t n, real lr, real mu,  \
			       real wd, int nesterov);                                          \
	void ref_ema_update##S(real *avg, const real *p, size_t n, real decay);

NASH_REF_OPS_DECLARE(double, _d)
NASH_REF_OPS_DECLARE(float, _f)

/* Host memory for the CPU backends: 64-byte aligned; alloc fails with NASH_ERR_OOM. */
void *ref_host_alloc(Ctx *ctx, size_t bytes, NashErr *err);
void ref_host_free(Ctx *ctx, void *p);
void ref_host_copy(Ctx *ctx, void *dst, const void *src, size_t bytes); /* upload, download */
void ref_host_zero(Ctx *ctx, void *p, size_t bytes);
int ref_host_sync(Ctx *ctx, NashErr *err);
void ref_make_batch(Ctx *ctx, float *x, int32_t *y, const uint8_t *images, const uint8_t *labels,
		    const Sample *samples, int n, int c, int h, int w, const float *mean,
		    const float *std);

#endif
