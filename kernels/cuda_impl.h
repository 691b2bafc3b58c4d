/* Internals of the CUDA backend shared by the kernels/ .cu files (C++ compiled by nvcc; not for C code).

   Error model: the Backend ops return void and run asynchronously, so a failing CUDA, cuDNN or
   cuBLAS call records the first error (file, line, call, status) in the CudaImpl and every
   later op becomes a no-op; Backend.sync reports it. Every call goes through CU/DNN/BLAS and
   every kernel launch is followed by LAUNCHED, which checks cudaGetLastError(). */
#ifndef NASH_CUDA_IMPL_H
#define NASH_CUDA_IMPL_H

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <stddef.h>
#include <stdint.h>

extern "C" {
#include "backend/backend.h"
}

struct ConvPlan; /* kernels/cuda_conv.cu */

/* cuBLAS, loaded with dlopen at init (kernels/cuda_dense.cu): linking it costs every nash
   process ~0.15 s of start-up (libcublasLt's static constructors), GPU or not. The pointer
   types come from the real prototypes, so a mismatch does not compile. */
typedef struct CublasApi {
	void *lib;
	decltype(&cublasCreate_v2) create;
	decltype(&cublasDestroy_v2) destroy;
	decltype(&cublasSetStream_v2) set_stream;
	decltype(&cublasSetMathMode) set_math_mode;
	decltype(&cublasSgemm_v2) sgemm;
	decltype(&cublasGetStatusString) status_string;
	decltype(&cublasGetStatusName) status_name;
} CublasApi;

enum { NASH_PIN_SLOTS = 8, NASH_PIN_SLOT = 64 << 10 };

typedef struct CudaImpl {
	int gpu;               /* the CUDA device index, among the visible GPUs */
	cudaStream_t stream;   /* every op of this context is queued here, in order */
	cudnnHandle_t dnn;     /* bound to stream */
	CublasApi cb;          /* cuBLAS entry points */
	cublasHandle_t blas;   /* bound to stream */
	int tf32;              /* BackendOpts.tf32: tensor-op math allowed for convs and dense */
	int find;              /* BackendOpts.cudnn_find: timed cudnnFind* (1) or heuristics (0) */
	size_t ws_limit;       /* bytes: the largest workspace a chosen algorithm may need */

	struct ConvPlan **plans; /* [n_plans] one per convolution shape, created at first use */
	int n_plans, cap_plans;

	/* Small uploads (a step's samples) go through pinned slots, so that they never wait for
	   the stream (a pageable cudaMemcpyAsync may); slot i is reused once pin_ev[i] passed. */
	char *pinned;          /* [NASH_PIN_SLOTS * NASH_PIN_SLOT] page-locked host memory */
	cudaEvent_t pin_ev[NASH_PIN_SLOTS];
	int pin_next;

	void *own_ws;          /* [own_ws_bytes] for shapes whose workspace exceeds ctx->workspace */
	size_t own_ws_bytes;
	void *scratch;         /* [scratch_bytes] reduction partials and per-channel factors */
	size_t scratch_bytes;

	int failed;            /* an error was recorded: ops do nothing, sync reports err */
	NashErr err;
} CudaImpl;

static inline CudaImpl *cuda_impl(Ctx *ctx) { return (CudaImpl *)ctx->impl; }

/* Record-and-report helpers (kernels/cuda_backend.cu): return 1 when the call succeeded,
   else record the first error and return 0. */
int cuda_ok_rt(CudaImpl *im, cudaError_t e, const char *file, int line, const char *call);
int cuda_ok_dnn(CudaImpl *im, cudnnStatus_t s, const char *file, int line, const char *call);
int cuda_ok_blas(CudaImpl *im, cublasStatus_t s, const char *file, int line, const char *call);
/* Records a non-library error (code: NASH_ERR_*). */
void cuda_fail(CudaImpl *im, int code, const char *file, int line, const char *what);

#define CU(im, call) cuda_ok_rt((im), (call), __FILE__, __LINE__, #call)
#define DNN(im, call) cuda_ok_dnn((im), (call), __FILE__, __LINE__, #call)
#define BLAS(im, call) cuda_ok_blas((im), (call), __FILE__, __LINE__, #call)
/* After every <<<...>>>: launch-configuration errors show up here, faults at the next sync. */
#define LAUNCHED(im) cuda_ok_rt((im), cudaGetLastError(), __FILE__, __LINE__, "kernel launch")

/* Device scratch of at least `bytes`, grown (after a stream sync) only when a larger size is
   first asked for, so steady-state steps never allocate. NULL on failure (error recorded). */
void *cuda_scratch(CudaImpl *im, size_t bytes);
/* Workspace for a cuDNN call needing `bytes`: the engine's ctx->workspace when it is large
   enough, else the backend's own, grown like the scratch. NULL only when bytes > 0 and the
   allocation failed. */
void *cuda_workspace(Ctx *ctx, size_t bytes);

/* Grid size for a grid-stride loop over n elements (n > 0). */
enum { NASH_THREADS = 256 };
static inline unsigned cuda_blocks(size_t n)
{
	size_t b = (n + NASH_THREADS - 1) / NASH_THREADS;
	const size_t max_blocks = (size_t)1 << 20; /* grid-stride loops cover the rest */
	return (unsigned)(b < 1 ? 1 : b > max_blocks ? max_blocks : b);
}

/* Sum of v over the block (blockDim.x a multiple of 32, at most 1024); valid in thread 0.
   sh: 32 doubles of shared memory, reusable right after the call. */
static __device__ inline double block_sum(double v, double *sh)
{
	for (int o = 16; o > 0; o >>= 1)
		v += __shfl_down_sync(0xffffffffu, v, o);
	int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
	if (lane == 0)
		sh[warp] = v;
	__syncthreads();
	v = (int)threadIdx.x < nw ? sh[threadIdx.x] : 0.0;
	if (warp == 0)
		for (int o = 16; o > 0; o >>= 1)
			v += __shfl_down_sync(0xffffffffu, v, o);
	__syncthreads();
	return v;
}

/* Per-channel sums over an NCHW tensor, written as S partial pairs (kernels/cuda_bn.cu).
   They are used by batch-norm, the conv bias gradient and the lambda-add's gradient. */
enum { RED_SUM = 0, RED_STATS = 1, RED_BN_BWD = 2, RED_DIFF = 3 };
typedef struct ChannelPartials {
	double *partial; /* [S, C, 2] device scratch */
	int S, n_per_chunk;
} ChannelPartials;
/* Launches the partial-sum kernel; returns 0 on failure (error recorded). Uses the scratch
   from offset 0; extra_floats more floats are reserved after it and returned in *extra. */
int cuda_channel_partials(CudaImpl *im, ChannelPartials *cp, float **extra, size_t extra_floats, int mode,
			  const float *x, const float *y, const float *g, const float *mean, const float *invstd,
			  int N, int C, int HW);
/* db[C] = sum over N, HW of dout[N, C, HW] (overwrite). */
void cuda_channel_sum(CudaImpl *im, float *db, const float *dout, int N, int C, int HW);
/* dst[C] = sum over N, HW of g * (x - y), all [N, C, HW] (overwrite). */
void cuda_channel_diff_sum(CudaImpl *im, float *dst, const float *g, const float *x, const float *y, int N, int C,
			   int HW);
/* out[n, c, q] += b[c] over [N, C, Q] (conv bias: Q = H*W; dense bias: C = O, Q = 1). */
void cuda_add_bias(CudaImpl *im, float *out, const float *b, int N, int C, int Q);

/* Loads cuBLAS into im->cb; returns 0, or -1 with err filled. */
int cuda_blas_load(CudaImpl *im, NashErr *err);
void cuda_blas_unload(CudaImpl *im);

/* Backend table entries defined in the other .cu files. */
size_t cuda_conv_workspace(Ctx *ctx, int N, int C, int H, int W, int K, int ks);
void cuda_conv_forward(Ctx *ctx, float *out, const float *in, const float *w, const float *b, int N, int C,
		       int H, int W, int K, int ks);
void cuda_conv_backward(Ctx *ctx, float *din, float *dw, float *db, const float *dout, const float *in,
			const float *w, int N, int C, int H, int W, int K, int ks);
void cuda_conv_plans_free(CudaImpl *im);

void cuda_bn_forward_train(Ctx *ctx, float *out, float *mean, float *invstd, float *running_mean,
			   float *running_var, const float *in, const float *gamma, const float *beta, int N,
			   int C, int HW, float momentum, float eps);
void cuda_bn_forward_eval(Ctx *ctx, float *out, const float *in, const float *gamma, const float *beta,
			  const float *running_mean, const float *running_var, int N, int C, int HW, float eps);
void cuda_bn_backward(Ctx *ctx, float *din, float *dgamma, float *dbeta, const float *dout, const float *in,
		      const float *mean, const float *invstd, const float *gamma, int N, int C, int HW);

void cuda_relu_forward(Ctx *ctx, float *out, const float *in, size_t n);
void cuda_relu_backward(Ctx *ctx, float *din, const float *dout, const float *out, size_t n);
void cuda_maxpool_forward(Ctx *ctx, float *out, const float *in, int N, int C, int H, int W, int k);
void cuda_maxpool_backward(Ctx *ctx, float *din, const float *dout, const float *in, int N, int C, int H,
			   int W, int k);
void cuda_add_forward(Ctx *ctx, float *out, const float *a, const float *b, const float *lambda, int N, int C,
		      int HW);
void cuda_add_backward(Ctx *ctx, float *da, float *db, float *dlambda, const float *dout, const float *a,
		       const float *b, const float *lambda, int N, int C, int HW);
void cuda_concat_forward(Ctx *ctx, float *out, const float *in, int N, int Cin, int Cout, int offset, int HW);
void cuda_concat_backward(Ctx *ctx, float *din, const float *dout, int N, int Cin, int Cout, int offset,
			  int HW);
void cuda_gap_forward(Ctx *ctx, float *out, const float *in, int N, int C, int HW);
void cuda_gap_backward(Ctx *ctx, float *din, const float *dout, int N, int C, int HW);

void cuda_dense_forward(Ctx *ctx, float *out, const float *in, const float *w, const float *b, int N, int I,
			int O);
void cuda_dense_backward(Ctx *ctx, float *din, float *dw, float *db, const float *dout, const float *in,
			 const float *w, int N, int I, int O);
void cuda_softmax_xent(Ctx *ctx, float *dlogits, float *stats, const float *logits, const int32_t *labels,
		       int N, int K, float smoothing);
void cuda_sgd_update(Ctx *ctx, float *p, float *v, const float *grad, size_t n, float lr, float mu, float wd,
		     int nesterov);
void cuda_ema_update(Ctx *ctx, float *avg, const float *p, size_t n, float decay);
void cuda_make_batch(Ctx *ctx, float *x, int32_t *y, const uint8_t *images, const uint8_t *labels,
		     const Sample *samples, int n, int c, int h, int w, const float *mean, const float *std);

#endif
