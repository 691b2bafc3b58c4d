/* Convolutions through cuDNN's legacy API (docs/GPU.md says why not the graph API).
   One ConvPlan per shape (N, C, H, W, K, ks), created at first use (normally from
   conv_workspace, when the engine sizes its workspace) and kept until fini: descriptors plus
   the forward, backward-data and backward-filter algorithms, each chosen once by timing
   (cudnnFind*) or by cuDNN's heuristics (cudnnGet*_v7), among those that
     - need at most im->ws_limit bytes of workspace, and
     - in the default strict FP32 mode use FMA math only (no TF32 tensor cores).
   A step then only looks its plans up (a short linear scan: a network has few shapes). */
#include <stdlib.h>

#include "cuda_impl.h"

enum { DIR_FWD, DIR_BWD_DATA, DIR_BWD_FILTER };

struct ConvPlan {
	int N, C, H, W, K, ks;
	cudnnTensorDescriptor_t x;  /* [N, C, H, W] */
	cudnnTensorDescriptor_t y;  /* [N, K, H, W] */
	cudnnFilterDescriptor_t w;  /* [K, C, ks, ks] */
	cudnnConvolutionDescriptor_t conv[3]; /* per direction: carries its algorithm's math type */
	cudnnConvolutionFwdAlgo_t fwd;
	cudnnConvolutionBwdDataAlgo_t bwd_data;
	cudnnConvolutionBwdFilterAlgo_t bwd_filter;
	size_t ws[3]; /* workspace bytes per direction */
};

static cudnnMathType_t base_math(const CudaImpl *im)
{
	return im->tf32 ? CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION : CUDNN_FMA_MATH;
}

/* Index of the first acceptable result (they come best first), or -1. */
template <typename Perf> static int pick(const CudaImpl *im, const Perf *perf, int got)
{
	for (int i = 0; i < got; i++) {
		if (perf[i].status != CUDNN_STATUS_SUCCESS || perf[i].memory > im->ws_limit)
			continue;
		if (!im->tf32 && perf[i].mathType != CUDNN_FMA_MATH)
			continue; /* strict FP32: CUDNN_DEFAULT_MATH may use TF32 on Ampere and later */
		return i;
	}
	return -1;
}

/* The timed search allocates its own trial buffers; one that could not be allocated leaves
   a (non-sticky) error behind that must not fail the next launch check. */
static void clear_search_error(void) { (void)cudaGetLastError(); }

/* The three directions differ only in their cuDNN types and calls: one traits struct each,
   and one chooser over them. Each call goes through DNN (or is checked by the caller) inside
   the traits, so error messages still name the cuDNN function. */
struct ConvFwd {
	typedef cudnnConvolutionFwdAlgoPerf_t Perf;
	typedef cudnnConvolutionFwdAlgo_t Algo;
	static constexpr int dir = DIR_FWD, count = CUDNN_CONVOLUTION_FWD_ALGO_COUNT;
	/* Nothing acceptable: implicit GEMM works for every shape and needs no workspace. */
	static constexpr Algo fallback = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM;
	static Algo &algo(ConvPlan *p) { return p->fwd; }
	static cudnnStatus_t find(CudaImpl *im, ConvPlan *p, int *got, Perf *perf)
	{
		return cudnnFindConvolutionForwardAlgorithm(im->dnn, p->x, p->w, p->conv[dir], p->y, count, got, perf);
	}
	static int get(CudaImpl *im, ConvPlan *p, int *got, Perf *perf)
	{
		return DNN(im, cudnnGetConvolutionForwardAlgorithm_v7(im->dnn, p->x, p->w, p->conv[dir], p->y, count, got,
								      perf));
	}
	static int workspace(CudaImpl *im, ConvPlan *p, Algo a, size_t *ws)
	{
		return DNN(im, cudnnGetConvolutionForwardWorkspaceSize(im->dnn, p->x, p->w, p->conv[dir], p->y, a, ws));
	}
};

struct ConvBwdData {
	typedef cudnnConvolutionBwdDataAlgoPerf_t Perf;
	typedef cudnnConvolutionBwdDataAlgo_t Algo;
	static constexpr int dir = DIR_BWD_DATA, count = CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT;
	static constexpr Algo fallback = CUDNN_CONVOLUTION_BWD_DATA_ALGO_1;
	static Algo &algo(ConvPlan *p) { return p->bwd_data; }
	static cudnnStatus_t find(CudaImpl *im, ConvPlan *p, int *got, Perf *perf)
	{
		return cudnnFindConvolutionBackwardDataAlgorithm(im->dnn, p->w, p->y, p->conv[dir], p->x, count, got,
								 perf);
	}
	static int get(CudaImpl *im, ConvPlan *p, int *got, Perf *perf)
	{
		return DNN(im, cudnnGetConvolutionBackwardDataAlgorithm_v7(im->dnn, p->w, p->y, p->conv[dir], p->x, count,
									   got, perf));
	}
	static int workspace(CudaImpl *im, ConvPlan *p, Algo a, size_t *ws)
	{
		return DNN(im, cudnnGetConvolutionBackwardDataWorkspaceSize(im->dnn, p->w, p->y, p->conv[dir], p->x, a,
									    ws));
	}
};

struct ConvBwdFilter {
	typedef cudnnConvolutionBwdFilterAlgoPerf_t Perf;
	typedef cudnnConvolutionBwdFilterAlgo_t Algo;
	static constexpr int dir = DIR_BWD_FILTER, count = CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT;
	static constexpr Algo fallback = CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1;
	static Algo &algo(ConvPlan *p) { return p->bwd_filter; }
	static cudnnStatus_t find(CudaImpl *im, ConvPlan *p, int *got, Perf *perf)
	{
		return cudnnFindConvolutionBackwardFilterAlgorithm(im->dnn, p->x, p->y, p->conv[dir], p->w, count, got,
								   perf);
	}
	static int get(CudaImpl *im, ConvPlan *p, int *got, Perf *perf)
	{
		return DNN(im, cudnnGetConvolutionBackwardFilterAlgorithm_v7(im->dnn, p->x, p->y, p->conv[dir], p->w,
									     count, got, perf));
	}
	static int workspace(CudaImpl *im, ConvPlan *p, Algo a, size_t *ws)
	{
		return DNN(im, cudnnGetConvolutionBackwardFilterWorkspaceSize(im->dnn, p->x, p->y, p->conv[dir], p->w,
									      a, ws));
	}
};

/* Chooses direction D's algorithm for plan p: the timed search when enabled, the heuristics
   when it is off or found nothing acceptable, the fallback when neither did; sets its math
   type on the direction's descriptor and records its workspace. 0 on a cuDNN error. */
template <typename D> static int choose(CudaImpl *im, ConvPlan *p)
{
	typename D::Perf perf[D::count];
	int got = 0, i = -1;
	if (im->find) {
		cudnnStatus_t s = D::find(im, p, &got, perf);
		clear_search_error();
		if (s == CUDNN_STATUS_SUCCESS)
			i = pick(im, perf, got);
	}
	if (i < 0) {
		if (!D::get(im, p, &got, perf))
			return 0;
		i = pick(im, perf, got);
	}
	typename D::Algo algo = i >= 0 ? perf[i].algo : D::fallback;
	cudnnMathType_t math = i >= 0 ? perf[i].mathType : base_math(im);
	size_t ws = 0;
	if (!DNN(im, cudnnSetConvolutionMathType(p->conv[D::dir], math)) || !D::workspace(im, p, algo, &ws))
		return 0;
	D::algo(p) = algo;
	p->ws[D::dir] = i >= 0 && perf[i].memory > ws ? perf[i].memory : ws;
	return 1;
}

static void plan_destroy(ConvPlan *p)
{
	if (!p)
		return;
	/* Teardown: nothing left to report errors to. */
	if (p->x)
		(void)cudnnDestroyTensorDescriptor(p->x);
	if (p->y)
		(void)cudnnDestroyTensorDescriptor(p->y);
	if (p->w)
		(void)cudnnDestroyFilterDescriptor(p->w);
	for (int d = 0; d < 3; d++)
		if (p->conv[d])
			(void)cudnnDestroyConvolutionDescriptor(p->conv[d]);
	free(p);
}

static ConvPlan *plan_create(CudaImpl *im, int N, int C, int H, int W, int K, int ks)
{
	ConvPlan *p = (ConvPlan *)calloc(1, sizeof *p);
	if (!p) {
		cuda_fail(im, NASH_ERR_RUNTIME, __FILE__, __LINE__, "out of memory");
		return NULL;
	}
	p->N = N, p->C = C, p->H = H, p->W = W, p->K = K, p->ks = ks;
	int pad = ks / 2;
	int ok = DNN(im, cudnnCreateTensorDescriptor(&p->x)) && DNN(im, cudnnCreateTensorDescriptor(&p->y)) &&
		 DNN(im, cudnnCreateFilterDescriptor(&p->w)) &&
		 DNN(im, cudnnSetTensor4dDescriptor(p->x, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, N, C, H, W)) &&
		 DNN(im, cudnnSetTensor4dDescriptor(p->y, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, N, K, H, W)) &&
		 DNN(im, cudnnSetFilter4dDescriptor(p->w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, K, C, ks, ks));
	/* Stride 1, zero padding ks/2 ("same"), cross-correlation (no kernel flip), as the reference. */
	for (int d = 0; ok && d < 3; d++)
		ok = DNN(im, cudnnCreateConvolutionDescriptor(&p->conv[d])) &&
		     DNN(im, cudnnSetConvolution2dDescriptor(p->conv[d], pad, pad, 1, 1, 1, 1, CUDNN_CROSS_CORRELATION,
							     CUDNN_DATA_FLOAT)) &&
		     DNN(im, cudnnSetConvolutionMathType(p->conv[d], base_math(im)));
	if (ok)
		ok = choose<ConvFwd>(im, p) && choose<ConvBwdData>(im, p) && choose<ConvBwdFilter>(im, p);
	if (!ok) {
		plan_destroy(p);
		return NULL;
	}
	return p;
}

static ConvPlan *plan_get(CudaImpl *im, int N, int C, int H, int W, int K, int ks)
{
	for (int i = 0; i < im->n_plans; i++) {
		ConvPlan *p = im->plans[i];
		if (p->N == N && p->C == C && p->H == H && p->W == W && p->K == K && p->ks == ks)
			return p;
	}
	if (im->failed)
		return NULL;
	if (im->n_plans == im->cap_plans) {
		int cap = im->cap_plans ? 2 * im->cap_plans : 16;
		ConvPlan **pl = (ConvPlan **)realloc(im->plans, (size_t)cap * sizeof *pl);
		if (!pl) {
			cuda_fail(im, NASH_ERR_RUNTIME, __FILE__, __LINE__, "out of memory");
			return NULL;
		}
		im->plans = pl;
		im->cap_plans = cap;
	}
	ConvPlan *p = plan_create(im, N, C, H, W, K, ks);
	if (p)
		im->plans[im->n_plans++] = p;
	return p;
}

void cuda_conv_plans_free(CudaImpl *im)
{
	for (int i = 0; i < im->n_plans; i++)
		plan_destroy(im->plans[i]);
	free(im->plans);
	im->plans = NULL;
	im->n_plans = im->cap_plans = 0;
}

/* In floats, the most any direction of this shape needs (the engine allocates the max over
   its convolutions once as ctx->workspace). */
size_t cuda_conv_workspace(Ctx *ctx, int N, int C, int H, int W, int K, int ks)
{
	CudaImpl *im = cuda_impl(ctx);
	if (im->failed || N <= 0)
		return 0;
	ConvPlan *p = plan_get(im, N, C, H, W, K, ks);
	if (!p)
		return 0; /* recorded: the next sync reports it */
	size_t b = p->ws[0];
	for (int d = 1; d < 3; d++)
		b = p->ws[d] > b ? p->ws[d] : b;
	return (b + sizeof(float) - 1) / sizeof(float);
}

/* out[N,K,H,W] = in (*) w + b */
void cuda_conv_forward(Ctx *ctx, float *out, const float *in, const float *w, const float *b, int N, int C,
		       int H, int W, int K, int ks)
{
	CudaImpl *im = cuda_impl(ctx);
	if (im->failed || N <= 0)
		return;
	ConvPlan *p = plan_get(im, N, C, H, W, K, ks);
	if (!p)
		return;
	void *ws = cuda_workspace(ctx, p->ws[DIR_FWD]);
	if (p->ws[DIR_FWD] && !ws)
		return;
	const float one = 1.0f, zero = 0.0f;
	if (!DNN(im, cudnnConvolutionForward(im->dnn, &one, p->x, in, p->w, w, p->conv[DIR_FWD], p->fwd, ws,
					     p->ws[DIR_FWD], &zero, p->y, out)))
		return;
	if (b)
		cuda_add_bias(im, out, b, N, K, H * W);
}

/* din += conv^T(dout) (beta = 1), dw = ... and db = ... (beta = 0 / overwrite) */
void cuda_conv_backward(Ctx *ctx, float *din, float *dw, float *db, const float *dout, const float *in,
			const float *w, int N, int C, int H, int W, int K, int ks)
{
	CudaImpl *im = cuda_impl(ctx);
	if (im->failed || N <= 0)
		return;
	ConvPlan *p = plan_get(im, N, C, H, W, K, ks);
	if (!p)
		return;
	const float one = 1.0f, zero = 0.0f;
	if (db)
		cuda_channel_sum(im, db, dout, N, K, H * W);
	if (dw) {
		void *ws = cuda_workspace(ctx, p->ws[DIR_BWD_FILTER]);
		if (p->ws[DIR_BWD_FILTER] && !ws)
			return;
		if (!DNN(im, cudnnConvolutionBackwardFilter(im->dnn, &one, p->x, in, p->y, dout, p->conv[DIR_BWD_FILTER],
							    p->bwd_filter, ws, p->ws[DIR_BWD_FILTER], &zero, p->w, dw)))
			return;
	}
	if (din) {
		void *ws = cuda_workspace(ctx, p->ws[DIR_BWD_DATA]);
		if (p->ws[DIR_BWD_DATA] && !ws)
			return;
		DNN(im, cudnnConvolutionBackwardData(im->dnn, &one, p->w, w, p->y, dout, p->conv[DIR_BWD_DATA], p->bwd_data,
						     ws, p->ws[DIR_BWD_DATA], &one, p->x, din));
	}
}
