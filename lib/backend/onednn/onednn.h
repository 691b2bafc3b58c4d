/* Internal to the oneDNN backend (lib/backend/onednn/), not part of the library's API: the
   backend's private state behind Ctx.impl and the convolution that onednn_conv.c implements
   for the nash_backend_onednn table (backend_onednn.c). */
#ifndef NASH_ONEDNN_H
#define NASH_ONEDNN_H

#include <oneapi/dnnl/dnnl.h>
#include <stddef.h>

#include "backend/backend.h"

typedef struct OnednnConv OnednnConv; /* one convolution shape's primitives (onednn_conv.c) */

typedef struct OnednnState {
	int bf16; /* convolutions read their inputs as bfloat16 (nash_backend_onednn_bf16) */
	dnnl_engine_t engine;
	dnnl_stream_t stream;
	OnednnConv **convs; /* the cache: one entry per shape and thread count, made on first use */
	int n_convs, cap_convs;
	/* Scratch for a shape whose primitives need more than Ctx.workspace holds (the engine
	   sizes that for the training batch; a smaller last evaluation batch may pick other
	   kernels). Grown on first use of such a shape, then reused. */
	float *scratch;
	size_t scratch_floats;
	dnnl_status_t failed; /* the first failed execution, reported by sync */
} OnednnState;

/* Runs oneDNN (its OpenMP regions) on ctx->opts.threads threads: oneDNN takes its thread count from
   omp_get_max_threads() of the calling thread, at creation and at execution. Returns the
   previous setting for onednn_threads_restore. */
int onednn_threads_enter(const Ctx *ctx);
void onednn_threads_restore(int previous);

size_t onednn_conv_workspace(Ctx *ctx, int N, int C, int H, int W, int K, int ks);
void onednn_conv_forward(Ctx *ctx, float *out, const float *in, const float *w, const float *b,
			 int N, int C, int H, int W, int K, int ks);
void onednn_conv_backward(Ctx *ctx, float *din, float *dw, float *db, const float *dout,
			  const float *in, const float *w, int N, int C, int H, int W, int K, int ks);
void onednn_conv_cache_free(OnednnState *st);

#endif
