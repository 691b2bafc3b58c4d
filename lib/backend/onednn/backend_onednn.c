/* The oneDNN backend, nash's default CPU engine: convolutions through oneDNN's primitives
   (lib/backend/onednn/onednn_conv.c), everything else the im2col + BLAS engine's vectorised
   loops (lib/backend/blas/backend_blas.c), which measured as fast as oneDNN's batch-norm,
   pooling and elementwise primitives would be behind the reorders NCHW tensors need (the
   README's Engines section has the figures). Host memory, as the other CPU backends.

   Threads: Debian's libdnnl runs on OpenMP (libgomp), the pool nash's own loops use, so oneDNN
   and the loops share one set of threads. */
#include <stdlib.h>
#include <string.h>

#include "backend/blas/backend_blas.h"
#include "backend/onednn/onednn.h"
#include "backend/ref/ref_ops.h"

static int onednn_init(Ctx *ctx, NashErr *err)
{
	OnednnState *st = calloc(1, sizeof *st);
	if (!st)
		return nash_err(err, NASH_ERR_OOM, "out of memory");
	dnnl_status_t r = dnnl_engine_create(&st->engine, dnnl_cpu, 0);
	if (r == dnnl_success)
		r = dnnl_stream_create(&st->stream, st->engine, dnnl_stream_default_flags);
	if (r != dnnl_success) {
		if (st->engine)
			dnnl_engine_destroy(st->engine);
		free(st);
		return nash_err(err, r == dnnl_out_of_memory ? NASH_ERR_OOM : NASH_ERR_RUNTIME,
				"oneDNN: cannot create a CPU engine (status %d)", (int)r);
	}
	ctx->impl = st;
	return 0;
}

/* bf16: only where the processor multiplies bfloat16 itself (AVX512_BF16); oneDNN would
   otherwise emulate it, slower than f32. */
static int onednn_bf16_init(Ctx *ctx, NashErr *err)
{
	dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
	if ((isa & dnnl_cpu_isa_avx512_core_bf16) != dnnl_cpu_isa_avx512_core_bf16)
		return nash_err(err, NASH_ERR_RUNTIME,
				"--device cpu-bf16: this processor has no bfloat16 instructions (AVX512_BF16)");
	if (onednn_init(ctx, err))
		return -1;
	((OnednnState *)ctx->impl)->bf16 = 1;
	return 0;
}

static void onednn_fini(Ctx *ctx)
{
	OnednnState *st = ctx->impl;
	if (!st)
		return;
	onednn_conv_cache_free(st);
	free(st->scratch);
	dnnl_stream_destroy(st->stream);
	dnnl_engine_destroy(st->engine);
	free(st);
	ctx->impl = NULL;
}

/* Execution is synchronous on the CPU; what is left to report is a failed primitive. */
static int onednn_sync(Ctx *ctx, NashErr *err)
{
	OnednnState *st = ctx->impl;
	if (!st || st->failed == dnnl_success)
		return 0;
	dnnl_status_t r = st->failed;
	st->failed = dnnl_success;
	return nash_err(err, r == dnnl_out_of_memory ? NASH_ERR_OOM : NASH_ERR_RUNTIME,
			"oneDNN: a convolution failed (status %d)", (int)r);
}

/* Backend.private_bytes: the scratch for shapes the engine's workspace was not sized for. */
static size_t onednn_private_bytes(const Ctx *ctx)
{
	const OnednnState *st = ctx->impl;
	return st ? st->scratch_floats * sizeof(float) : 0;
}

/* The two oneDNN tables differ in their name and init only (cpu-bf16 sets OnednnState.bf16). */
#define ONEDNN_BACKEND(NAME, INIT) \
	{ \
		.name = NAME, .init = INIT, \
		.fini = onednn_fini, \
		.alloc = ref_host_alloc, \
		.free = ref_host_free, \
		.upload = ref_host_copy, \
		.download = ref_host_copy, \
		.zero = cpu_zero, \
		.sync = onednn_sync, \
		.private_bytes = onednn_private_bytes, \
		.conv_workspace = onednn_conv_workspace, \
		.conv_forward = onednn_conv_forward, \
		.conv_backward = onednn_conv_backward, \
		.bn_forward_train = cpu_bn_forward_train, \
		.bn_forward_eval = cpu_bn_forward_eval, \
		.bn_backward = cpu_bn_backward, \
		.relu_forward = cpu_relu_forward, \
		.relu_backward = cpu_relu_backward, \
		.maxpool_forward = cpu_maxpool_forward, \
		.maxpool_backward = cpu_maxpool_backward, \
		.add_forward = cpu_add_forward, \
		.add_backward = cpu_add_backward, \
		.concat_forward = cpu_concat_forward, \
		.concat_backward = cpu_concat_backward, \
		.gap_forward = cpu_gap_forward, \
		.gap_backward = cpu_gap_backward, \
		.dense_forward = cpu_dense_forward, \
		.dense_backward = cpu_dense_backward, \
		.softmax_xent = cpu_softmax_xent, \
		.sgd_update = cpu_sgd_update, \
		.ema_update = cpu_ema_update, \
		.make_batch = ref_make_batch, \
	}

const Backend nash_backend_onednn = ONEDNN_BACKEND("cpu", onednn_init);

/* The same with bfloat16 convolution inputs (products exact in f32, sums in f32): twice
   oneDNN's f32 kernel speed on processors with AVX512_BF16; "cpu-bf16". */
const Backend nash_backend_onednn_bf16 = ONEDNN_BACKEND("cpu-bf16", onednn_bf16_init);
