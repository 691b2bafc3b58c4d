/* The CUDA backend: context (device, stream, cuDNN and cuBLAS handles), memory, deferred error
   reporting, and the Backend table. The ops live in cuda_conv.cu, cuda_bn.cu, cuda_ops.cu and
   cuda_dense.cu. Design notes: docs/GPU.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nash_cuda.h"
#include "cuda_impl.h"

/* "cudnnConvolutionForward(h, ...)" -> "cudnnConvolutionForward": messages name the call. */
static void call_name(char *buf, size_t n, const char *call)
{
	size_t i = 0;
	while (call[i] && call[i] != '(' && i + 1 < n) {
		buf[i] = call[i];
		i++;
	}
	buf[i] = '\0';
	const char *dot = strrchr(buf, '.'); /* "im->cb.sgemm" -> "sgemm" */
	if (dot)
		memmove(buf, dot + 1, strlen(dot + 1) + 1);
}

void cuda_fail(CudaImpl *im, int code, const char *file, int line, const char *what)
{
	if (im->failed)
		return; /* keep the first error: later ones are usually its consequences */
	im->failed = 1;
	nash_err(&im->err, code, "%s:%d: %s", file, line, what);
}

/* Records a failed call as "function: detail" (what the checks below report). */
static void fail_call(CudaImpl *im, int oom, const char *file, int line, const char *call, const char *detail)
{
	char name[96], what[512];
	call_name(name, sizeof name, call);
	snprintf(what, sizeof what, "%s: %s", name, detail);
	cuda_fail(im, oom ? NASH_ERR_OOM : NASH_ERR_RUNTIME, file, line, what);
}

int cuda_ok_rt(CudaImpl *im, cudaError_t e, const char *file, int line, const char *call)
{
	if (e == cudaSuccess)
		return 1;
	char detail[400];
	snprintf(detail, sizeof detail, "%s (%s)", cudaGetErrorString(e), cudaGetErrorName(e));
	fail_call(im, e == cudaErrorMemoryAllocation, file, line, call, detail);
	return 0;
}

int cuda_ok_dnn(CudaImpl *im, cudnnStatus_t s, const char *file, int line, const char *call)
{
	if (s == CUDNN_STATUS_SUCCESS)
		return 1;
	int oom = s == CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED ||
		  s == CUDNN_STATUS_INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED;
	fail_call(im, oom, file, line, call, cudnnGetErrorString(s));
	return 0;
}

int cuda_ok_blas(CudaImpl *im, cublasStatus_t s, const char *file, int line, const char *call)
{
	if (s == CUBLAS_STATUS_SUCCESS)
		return 1;
	char detail[400];
	if (im->cb.status_string && im->cb.status_name)
		snprintf(detail, sizeof detail, "%s (%s)", im->cb.status_string(s), im->cb.status_name(s));
	else
		snprintf(detail, sizeof detail, "cuBLAS status %d", (int)s);
	fail_call(im, s == CUBLAS_STATUS_ALLOC_FAILED, file, line, call, detail);
	return 0;
}

extern "C" int nash_cuda_device_count(void)
{
	int n = 0;
	if (cudaGetDeviceCount(&n) != cudaSuccess) {
		(void)cudaGetLastError(); /* no driver or no device: not an error here */
		return 0;
	}
	return n;
}

/* Backend.private_bytes: what grow() holds besides the engine's allocations. */
static size_t cuda_private_bytes(const Ctx *ctx)
{
	const CudaImpl *im = (const CudaImpl *)ctx->impl;
	return im ? im->own_ws_bytes + im->scratch_bytes : 0;
}

/* Backend.describe: "NVIDIA H200, GPU 0 of 1, 139.8 GiB" (the index among the visible GPUs);
   "" when the context has no device. */
static void cuda_describe(const Ctx *ctx, char *buf, size_t n)
{
	const CudaImpl *im = (const CudaImpl *)ctx->impl;
	struct cudaDeviceProp p;
	int count = 0;
	if (!n)
		return;
	buf[0] = '\0';
	if (!im || cudaGetDeviceProperties(&p, im->gpu) != cudaSuccess || cudaGetDeviceCount(&count) != cudaSuccess) {
		(void)cudaGetLastError();
		return;
	}
	snprintf(buf, n, "%s, GPU %d of %d, %.1f GiB", p.name, im->gpu, count, p.totalGlobalMem / 1073741824.0);
}

/* Grows a backend-owned device buffer to at least `bytes` (rounded up to whole MiB). The old
   one may still be in use by queued work, hence the sync before freeing it. */
static void *grow(CudaImpl *im, void **buf, size_t *have, size_t bytes, const char *what)
{
	if (bytes <= *have)
		return *buf;
	if (im->failed)
		return NULL;
	size_t mib = (size_t)1 << 20, want = (bytes + mib - 1) / mib * mib;
	if (*buf) {
		if (!CU(im, cudaStreamSynchronize(im->stream)) || !CU(im, cudaFree(*buf)))
			return NULL;
		*buf = NULL;
		*have = 0;
	}
	cudaError_t e = cudaMalloc(buf, want);
	if (e != cudaSuccess) {
		(void)cudaGetLastError();
		*buf = NULL;
		char msg[256];
		snprintf(msg, sizeof msg, "out of GPU memory allocating %zu bytes (%.1f MiB) of %s: %s", want,
			 want / 1048576.0, what, cudaGetErrorString(e));
		cuda_fail(im, e == cudaErrorMemoryAllocation ? NASH_ERR_OOM : NASH_ERR_RUNTIME, __FILE__, __LINE__, msg);
		return NULL;
	}
	*have = want;
	return *buf;
}

void *cuda_scratch(CudaImpl *im, size_t bytes)
{
	return grow(im, &im->scratch, &im->scratch_bytes, bytes ? bytes : 1, "reduction scratch");
}

void *cuda_workspace(Ctx *ctx, size_t bytes)
{
	CudaImpl *im = cuda_impl(ctx);
	if (bytes == 0)
		return NULL;
	if (ctx->workspace && bytes <= ctx->workspace_floats * sizeof(float))
		return ctx->workspace;
	return grow(im, &im->own_ws, &im->own_ws_bytes, bytes, "cuDNN workspace");
}

/* ---- context ---- */

static void cuda_fini(Ctx *ctx)
{
	CudaImpl *im = cuda_impl(ctx);
	if (!im)
		return;
	/* Teardown: errors can no longer be reported, so they are ignored. */
	if (im->stream)
		(void)cudaStreamSynchronize(im->stream);
	cuda_conv_plans_free(im);
	for (int i = 0; i < NASH_PIN_SLOTS; i++)
		if (im->pin_ev[i])
			(void)cudaEventDestroy(im->pin_ev[i]);
	if (im->pinned)
		(void)cudaFreeHost(im->pinned);
	if (im->own_ws)
		(void)cudaFree(im->own_ws);
	if (im->scratch)
		(void)cudaFree(im->scratch);
	if (im->blas)
		(void)im->cb.destroy(im->blas);
	cuda_blas_unload(im);
	if (im->dnn)
		(void)cudnnDestroy(im->dnn);
	if (im->stream)
		(void)cudaStreamDestroy(im->stream);
	(void)cudaGetLastError();
	free(im);
	ctx->impl = NULL;
}

static int cuda_init(Ctx *ctx, NashErr *err)
{
	ctx->impl = NULL;
	int count = 0;
	cudaError_t e = cudaGetDeviceCount(&count);
	if (e != cudaSuccess || count <= 0) {
		(void)cudaGetLastError();
		return nash_err(err, NASH_ERR_RUNTIME, "no CUDA GPU is visible (%s)",
				e != cudaSuccess ? cudaGetErrorString(e) : "no devices");
	}
	const BackendOpts *o = &ctx->opts; /* the tools' settings (tools/cli.c) */
	if (o->gpu < 0 || o->gpu >= count)
		return nash_err(err, NASH_ERR_USAGE, "GPU %d: not one of the %d visible GPU(s) (0..%d)", o->gpu,
				count, count - 1);
	if (o->tf32 < 0 || o->cudnn_find < 0 || o->cudnn_ws_mb < 0)
		return nash_err(err, NASH_ERR_USAGE,
				"NASH_TF32, NASH_CUDNN_FIND and NASH_CUDNN_WS_MB take non-negative integers");
	CudaImpl *im = (CudaImpl *)calloc(1, sizeof *im);
	if (!im)
		return nash_err(err, NASH_ERR_RUNTIME, "out of memory");
	ctx->impl = im;
	im->gpu = o->gpu;
	im->tf32 = o->tf32 != 0;
	im->find = o->cudnn_find != 0;
	im->ws_limit = (size_t)o->cudnn_ws_mb << 20;
	/* cuBLAS's default math is strict FP32; TF32 only when asked for. */
	cublasMath_t bmath = im->tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH;
	if (cuda_blas_load(im, err)) {
		cuda_fini(ctx);
		return -1;
	}
	if (!CU(im, cudaSetDevice(im->gpu)) ||
	    !CU(im, cudaStreamCreateWithFlags(&im->stream, cudaStreamNonBlocking)) ||
	    !DNN(im, cudnnCreate(&im->dnn)) || !DNN(im, cudnnSetStream(im->dnn, im->stream)) ||
	    !BLAS(im, im->cb.create(&im->blas)) || !BLAS(im, im->cb.set_stream(im->blas, im->stream)) ||
	    !BLAS(im, im->cb.set_math_mode(im->blas, bmath)) || !cuda_scratch(im, (size_t)1 << 20) ||
	    !CU(im, cudaHostAlloc((void **)&im->pinned, (size_t)NASH_PIN_SLOTS * NASH_PIN_SLOT, cudaHostAllocDefault)))
		goto fail;
	for (int i = 0; i < NASH_PIN_SLOTS; i++)
		if (!CU(im, cudaEventCreateWithFlags(&im->pin_ev[i], cudaEventDisableTiming)))
			goto fail;
	return 0;
fail:
	if (err)
		*err = im->err;
	cuda_fini(ctx);
	return -1;
}

/* ---- memory ---- */

static void *cuda_alloc(Ctx *ctx, size_t bytes, NashErr *err)
{
	CudaImpl *im = cuda_impl(ctx);
	void *p = NULL;
	cudaError_t e = cudaMalloc(&p, bytes ? bytes : 1);
	if (e == cudaSuccess)
		return p;
	(void)cudaGetLastError(); /* a failed cudaMalloc is not sticky: clear it for the launch checks */
	if (e == cudaErrorMemoryAllocation) {
		size_t free_b = 0, total_b = 0;
		if (cudaMemGetInfo(&free_b, &total_b) != cudaSuccess)
			(void)cudaGetLastError();
		nash_err(err, NASH_ERR_OOM,
			 "out of GPU memory: allocating %zu bytes (%.1f MiB) on GPU %d with %.1f MiB free of %.1f MiB",
			 bytes, bytes / 1048576.0, im->gpu, free_b / 1048576.0, total_b / 1048576.0);
	} else {
		nash_err(err, NASH_ERR_RUNTIME, "GPU %d: cudaMalloc of %zu bytes: %s", im->gpu, bytes,
			 cudaGetErrorString(e));
	}
	return NULL;
}

static void cuda_free(Ctx *ctx, void *p)
{
	if (p)
		CU(cuda_impl(ctx), cudaFree(p));
}

/* The caller may reuse host_src as soon as this returns (net_train_step does, for the samples).
   Up to NASH_PIN_SLOT bytes: copied into the next pinned slot, whose previous copy finished
   long ago unless the GPU is NASH_PIN_SLOTS uploads behind (then this waits: back-pressure),
   and copied from there asynchronously. Larger ones (data sets, weights: set-up, not steps)
   from pageable memory, which stages the source before returning. */
static void cuda_upload(Ctx *ctx, void *dst, const void *host_src, size_t bytes)
{
	CudaImpl *im = cuda_impl(ctx);
	if (im->failed || bytes == 0)
		return;
	if (bytes > NASH_PIN_SLOT) {
		CU(im, cudaMemcpyAsync(dst, host_src, bytes, cudaMemcpyHostToDevice, im->stream));
		return;
	}
	int i = im->pin_next;
	char *slot = im->pinned + (size_t)i * NASH_PIN_SLOT;
	if (!CU(im, cudaEventSynchronize(im->pin_ev[i])))
		return;
	memcpy(slot, host_src, bytes);
	if (CU(im, cudaMemcpyAsync(dst, slot, bytes, cudaMemcpyHostToDevice, im->stream)) &&
	    CU(im, cudaEventRecord(im->pin_ev[i], im->stream)))
		im->pin_next = (i + 1) % NASH_PIN_SLOTS;
}

/* Waits for the copy. After an error the host buffer is filled with 0xff bytes (NaN as
   floats), so a failed read can never pass for data; sync reports the error. */
static void cuda_download(Ctx *ctx, void *host_dst, const void *src, size_t bytes)
{
	CudaImpl *im = cuda_impl(ctx);
	if (bytes == 0)
		return;
	if (!im->failed && CU(im, cudaMemcpyAsync(host_dst, src, bytes, cudaMemcpyDeviceToHost, im->stream)) &&
	    CU(im, cudaStreamSynchronize(im->stream)))
		return;
	memset(host_dst, 0xff, bytes);
}

static void cuda_zero(Ctx *ctx, void *p, size_t bytes)
{
	CudaImpl *im = cuda_impl(ctx);
	if (im->failed || bytes == 0)
		return;
	CU(im, cudaMemsetAsync(p, 0, bytes, im->stream));
}

static int cuda_sync(Ctx *ctx, NashErr *err)
{
	CudaImpl *im = cuda_impl(ctx);
	if (!im->failed)
		CU(im, cudaStreamSynchronize(im->stream));
	if (im->failed) {
		if (err)
			*err = im->err;
		return -1;
	}
	return 0;
}

/* The order follows struct Backend (C++20 designated initializers must). */
static const Backend cuda_backend = {
	.name = "cuda",
	.init = cuda_init,
	.fini = cuda_fini,
	.alloc = cuda_alloc,
	.free = cuda_free,
	.upload = cuda_upload,
	.download = cuda_download,
	.zero = cuda_zero,
	.sync = cuda_sync,
	.private_bytes = cuda_private_bytes,
	.describe = cuda_describe,
	.conv_workspace = cuda_conv_workspace,
	.conv_forward = cuda_conv_forward,
	.conv_backward = cuda_conv_backward,
	.bn_forward_train = cuda_bn_forward_train,
	.bn_forward_eval = cuda_bn_forward_eval,
	.bn_backward = cuda_bn_backward,
	.relu_forward = cuda_relu_forward,
	.relu_backward = cuda_relu_backward,
	.maxpool_forward = cuda_maxpool_forward,
	.maxpool_backward = cuda_maxpool_backward,
	.add_forward = cuda_add_forward,
	.add_backward = cuda_add_backward,
	.concat_forward = cuda_concat_forward,
	.concat_backward = cuda_concat_backward,
	.gap_forward = cuda_gap_forward,
	.gap_backward = cuda_gap_backward,
	.dense_forward = cuda_dense_forward,
	.dense_backward = cuda_dense_backward,
	.softmax_xent = cuda_softmax_xent,
	.sgd_update = cuda_sgd_update,
	.ema_update = cuda_ema_update,
	.make_batch = cuda_make_batch,
};

/* NULL without a visible GPU, so that "auto" picks the CPU there (kernels/nash_cuda.h). */
extern "C" const Backend *nash_backend_cuda(void)
{
	return nash_cuda_device_count() > 0 ? &cuda_backend : NULL;
}
