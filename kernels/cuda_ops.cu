/* Own kernels for the element-wise and small ops: ReLU, max-pool, lambda-add, concat, global
   average pool, softmax cross-entropy, the fused SGD update and the batch builder. Semantics
   are lib/backend/ref/ref_ops.inc's (backward ops accumulate into din); every kernel uses a grid-stride
   loop, so any n fits the grid that cuda_blocks() gives. */
#include <math.h>

#include "cuda_impl.h"

extern "C" {
#include "base/limits.h"
}

#define GRID_STRIDE(i, total) \
	for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < (total); i += (size_t)gridDim.x * blockDim.x)

/* ---- ReLU ---- */

__global__ static void relu_fwd_kernel(float *out, const float *in, size_t n)
{
	GRID_STRIDE(i, n)
	{
		float v = in[i];
		out[i] = v > 0 ? v : 0.0f; /* NaN -> 0, as the reference */
	}
}

__global__ static void relu_bwd_kernel(float *din, const float *dout, const float *out, size_t n)
{
	GRID_STRIDE(i, n)
	if (out[i] > 0)
		din[i] += dout[i];
}

void cuda_relu_forward(Ctx *ctx, float *out, const float *in, size_t n)
{
	CudaImpl *im = cuda_impl(ctx);
	if (im->failed || n == 0)
		return;
	relu_fwd_kernel<<<cuda_blocks(n), NASH_THREADS, 0, im->stream>>>(out, in, n);
	LAUNCHED(im);
}

void cuda_relu_backward(Ctx *ctx, float *din, const float *dout, const float *out, size_t n)
{
	CudaImpl *im = cuda_impl(ctx);
	if (im->failed || n == 0 || !din)
		return;
	relu_bwd_kernel<<<cuda_blocks(n), NASH_THREADS, 0, im->stream>>>(din, dout, out, n);
	LAUNCHED(im);
}

/* ---- max-pool: window = stride = k, floor; the first maximum in row-major order wins ---- */

/* Offset within the plane of window (oy, ox)'s first maximum (lib/backend/ref/ref_ops.inc's pool_argmax). */
static __device__ inline size_t pool_argmax(const float *plane, int W, int k, int oy, int ox)
{
	size_t best = (size_t)oy * k * W + (size_t)ox * k;
	float bv = plane[best];
	for (int a = 0; a < k; a++)
		for (int b = 0; b < k; b++) {
			size_t o = (size_t)(oy * k + a) * W + (size_t)ox * k + b;
			float v = plane[o];
			if (v > bv) {
				bv = v;
				best = o;
			}
		}
	return best;
}

__global__ static void maxpool_fwd_kernel(float *out, const float *in, int H, int W, int k, int Ho, int Wo,
					  size_t total)
{
	GRID_STRIDE(i, total)
	{
		int ox = (int)(i % Wo), oy = (int)(i / Wo % Ho);
		const float *plane = in + i / ((size_t)Wo * Ho) * H * W;
		out[i] = plane[pool_argmax(plane, W, k, oy, ox)];
	}
}

/* Windows do not overlap (stride = window), so each din element gets at most one update. */
__global__ static void maxpool_bwd_kernel(float *din, const float *dout, const float *in, int H, int W, int k,
					  int Ho, int Wo, size_t total)
{
	GRID_STRIDE(i, total)
	{
		int ox = (int)(i % Wo), oy = (int)(i / Wo % Ho);
		size_t plane = i / ((size_t)Wo * Ho) * H * W;
		din[plane + pool_argmax(in + plane, W, k, oy, ox)] += dout[i];
	}
}

void cuda_maxpool_forward(Ctx *ctx, float *out, const float *in, int N, int C, int H, int W, int k)
{
	CudaImpl *im = cuda_impl(ctx);
	int Ho = H / k, Wo = W / k;
	size_t total = (size_t)N * C * Ho * Wo;
	if (im->failed || total == 0)
		return;
	maxpool_fwd_kernel<<<cuda_blocks(total), NASH_THREADS, 0, im->stream>>>(out, in, H, W, k, Ho, Wo, total);
	LAUNCHED(im);
}

void cuda_maxpool_backward(Ctx *ctx, float *din, const float *dout, const float *in, int N, int C, int H,
			   int W, int k)
{
	CudaImpl *im = cuda_impl(ctx);
	int Ho = H / k, Wo = W / k;
	size_t total = (size_t)N * C * Ho * Wo;
	if (im->failed || total == 0 || !din)
		return;
	maxpool_bwd_kernel<<<cuda_blocks(total), NASH_THREADS, 0, im->stream>>>(din, dout, in, H, W, k, Ho, Wo,
										total);
	LAUNCHED(im);
}

/* ---- lambda-add: out = l*a + (1-l)*b, l = lambda[c] per channel, in device memory ---- */

__global__ static void add_fwd_kernel(float *out, const float *a, const float *b, const float *lambda, int C,
				      int HW, size_t n)
{
	GRID_STRIDE(i, n)
	{
		float l = lambda[(i / HW) % C];
		out[i] = l * a[i] + (1.0f - l) * b[i];
	}
}

/* da and db may be NULL or the same buffer (a node added to itself): each element's two
   updates happen one after the other in the same thread. */
__global__ static void add_bwd_kernel(float *da, float *db, const float *dout, const float *lambda, int C, int HW,
				      size_t n)
{
	GRID_STRIDE(i, n)
	{
		float g = dout[i], l = lambda[(i / HW) % C];
		if (da)
			da[i] += l * g;
		if (db)
			db[i] += (1.0f - l) * g;
	}
}

void cuda_add_forward(Ctx *ctx, float *out, const float *a, const float *b, const float *lambda, int N, int C,
		      int HW)
{
	CudaImpl *im = cuda_impl(ctx);
	size_t n = (size_t)N * C * HW;
	if (im->failed || n == 0)
		return;
	add_fwd_kernel<<<cuda_blocks(n), NASH_THREADS, 0, im->stream>>>(out, a, b, lambda, C, HW, n);
	LAUNCHED(im);
}

/* dlambda[c] = sum over the channel of dout * (a - b): the per-channel reduction of
   kernels/cuda_bn.cu (double partials, fixed order). */
void cuda_add_backward(Ctx *ctx, float *da, float *db, float *dlambda, const float *dout, const float *a,
		       const float *b, const float *lambda, int N, int C, int HW)
{
	CudaImpl *im = cuda_impl(ctx);
	size_t n = (size_t)N * C * HW;
	if (im->failed)
		return;
	if (n > 0 && (da || db)) {
		add_bwd_kernel<<<cuda_blocks(n), NASH_THREADS, 0, im->stream>>>(da, db, dout, lambda, C, HW, n);
		if (!LAUNCHED(im))
			return;
	}
	if (dlambda)
		cuda_channel_diff_sum(im, dlambda, dout, a, b, N, C, HW);
}

/* ---- concat: channels [offset, offset + Cin) of out[N, Cout, HW] <-> in[N, Cin, HW] ---- */

__global__ static void concat_fwd_kernel(float *out, const float *in, size_t chunk, size_t out_stride,
					 size_t out_off, size_t total)
{
	GRID_STRIDE(i, total)
	out[i / chunk * out_stride + out_off + i % chunk] = in[i];
}

__global__ static void concat_bwd_kernel(float *din, const float *dout, size_t chunk, size_t out_stride,
					 size_t out_off, size_t total)
{
	GRID_STRIDE(i, total)
	din[i] += dout[i / chunk * out_stride + out_off + i % chunk];
}

void cuda_concat_forward(Ctx *ctx, float *out, const float *in, int N, int Cin, int Cout, int offset, int HW)
{
	CudaImpl *im = cuda_impl(ctx);
	size_t chunk = (size_t)Cin * HW, total = (size_t)N * chunk;
	if (im->failed || total == 0)
		return;
	concat_fwd_kernel<<<cuda_blocks(total), NASH_THREADS, 0, im->stream>>>(out, in, chunk, (size_t)Cout * HW,
									       (size_t)offset * HW, total);
	LAUNCHED(im);
}

void cuda_concat_backward(Ctx *ctx, float *din, const float *dout, int N, int Cin, int Cout, int offset, int HW)
{
	CudaImpl *im = cuda_impl(ctx);
	size_t chunk = (size_t)Cin * HW, total = (size_t)N * chunk;
	if (im->failed || total == 0 || !din)
		return;
	concat_bwd_kernel<<<cuda_blocks(total), NASH_THREADS, 0, im->stream>>>(din, dout, chunk, (size_t)Cout * HW,
									       (size_t)offset * HW, total);
	LAUNCHED(im);
}

/* ---- global average pool: one warp per (n, c) plane ---- */

__global__ static void gap_fwd_kernel(float *out, const float *in, int HW, size_t planes)
{
	size_t warp = (blockIdx.x * (size_t)blockDim.x + threadIdx.x) / 32, nwarps = (size_t)gridDim.x * blockDim.x / 32;
	int lane = threadIdx.x & 31;
	for (size_t p = warp; p < planes; p += nwarps) { /* uniform within the warp */
		double s = 0;
		for (int q = lane; q < HW; q += 32)
			s += in[p * HW + q];
		for (int o = 16; o > 0; o >>= 1)
			s += __shfl_down_sync(0xffffffffu, s, o);
		if (lane == 0)
			out[p] = (float)(s / HW);
	}
}

__global__ static void gap_bwd_kernel(float *din, const float *dout, int HW, size_t total)
{
	GRID_STRIDE(i, total)
	din[i] += dout[i / HW] / (float)HW;
}

void cuda_gap_forward(Ctx *ctx, float *out, const float *in, int N, int C, int HW)
{
	CudaImpl *im = cuda_impl(ctx);
	size_t planes = (size_t)N * C;
	if (im->failed || planes == 0 || HW <= 0)
		return;
	gap_fwd_kernel<<<cuda_blocks(planes * 32), NASH_THREADS, 0, im->stream>>>(out, in, HW, planes);
	LAUNCHED(im);
}

void cuda_gap_backward(Ctx *ctx, float *din, const float *dout, int N, int C, int HW)
{
	CudaImpl *im = cuda_impl(ctx);
	size_t total = (size_t)N * C * HW;
	if (im->failed || total == 0 || !din)
		return;
	gap_bwd_kernel<<<cuda_blocks(total), NASH_THREADS, 0, im->stream>>>(din, dout, HW, total);
	LAUNCHED(im);
}

/* ---- softmax cross-entropy against the label-smoothed target: one block, a thread per row, in
   double like the reference (ref_ops.inc: smoothing 0 is exactly the one-hot loss) ---- */

__global__ static void softmax_xent_kernel(float *dlogits, float *stats, const float *logits,
					   const int32_t *labels, int N, int K, float smoothing)
{
	__shared__ double sh[32];
	const double nan = __longlong_as_double(0x7ff8000000000000LL);
	double loss = 0, correct = 0, e = smoothing, on = 1.0 - e, off = e / K;
	for (int n = threadIdx.x; n < N; n += blockDim.x) {
		const float *l = logits + (size_t)n * K;
		int y = labels[n], arg = 0;
		for (int k = 1; k < K; k++)
			if (l[k] > l[arg])
				arg = k;
		double mx = l[arg], z = 0, sum = 0;
		for (int k = 0; k < K; k++) {
			z += exp((double)l[k] - mx);
			sum += l[k];
		}
		int valid = y >= 0 && y < K;
		/* a bad label reads as divergence */
		loss += valid ? mx + log(z) - on * (double)l[y] - (e != 0 ? off * sum : 0) : nan;
		correct += valid && arg == y;
		if (dlogits)
			for (int k = 0; k < K; k++)
				dlogits[(size_t)n * K + k] = (float)((exp((double)l[k] - mx) / z - (on * (k == y) + off)) / N);
	}
	loss = block_sum(loss, sh);
	correct = block_sum(correct, sh);
	if (threadIdx.x == 0 && stats) {
		stats[0] = (float)(stats[0] + loss);
		stats[1] = (float)(stats[1] + correct);
		stats[2] = (float)(stats[2] + N);
	}
}

void cuda_softmax_xent(Ctx *ctx, float *dlogits, float *stats, const float *logits, const int32_t *labels,
		       int N, int K, float smoothing)
{
	CudaImpl *im = cuda_impl(ctx);
	if (im->failed || N <= 0 || K <= 0)
		return;
	softmax_xent_kernel<<<1, NASH_THREADS, 0, im->stream>>>(dlogits, stats, logits, labels, N, K, smoothing);
	LAUNCHED(im);
}

/* ---- SGD (PyTorch's rule): g = grad + wd*p; v = mu*v + g; p -= lr*(nesterov ? g + mu*v : v) ---- */

__global__ static void sgd_kernel(float *p, float *v, const float *grad, size_t n, float lr, float mu, float wd,
				  int nesterov)
{
	GRID_STRIDE(i, n)
	{
		float g = grad[i] + wd * p[i];
		float vi = mu * v[i] + g;
		v[i] = vi;
		p[i] -= lr * (nesterov ? g + mu * vi : vi);
	}
}

void cuda_sgd_update(Ctx *ctx, float *p, float *v, const float *grad, size_t n, float lr, float mu, float wd,
		     int nesterov)
{
	CudaImpl *im = cuda_impl(ctx);
	if (im->failed || n == 0)
		return;
	sgd_kernel<<<cuda_blocks(n), NASH_THREADS, 0, im->stream>>>(p, v, grad, n, lr, mu, wd, nesterov);
	LAUNCHED(im);
}

/* ---- weight average (nash-train --ema): avg = decay*avg + (1-decay)*p, as cpu_ema_update ---- */

__global__ static void ema_kernel(float *avg, const float *p, size_t n, float keep, float take)
{
	GRID_STRIDE(i, n)
	avg[i] = keep * avg[i] + take * p[i];
}

void cuda_ema_update(Ctx *ctx, float *avg, const float *p, size_t n, float decay)
{
	CudaImpl *im = cuda_impl(ctx);
	if (im->failed || n == 0)
		return;
	ema_kernel<<<cuda_blocks(n), NASH_THREADS, 0, im->stream>>>(avg, p, n, decay, 1.0f - decay);
	LAUNCHED(im);
}

/* ---- batch builder: ref_make_batch (lib/backend/ref/backend_ref.c) on the device, a thread per output ---- */

typedef struct Norm {
	float mean[NASH_MAX_CHANNELS], std[NASH_MAX_CHANNELS];
} Norm;

/* out(y, x) = norm(in(y + dy, (flip ? w-1-x : x) + dx)), 0 outside the image */
__global__ static void make_batch_kernel(float *x, int32_t *y, const uint8_t *images, const uint8_t *labels,
					 const Sample *samples, int c, int h, int w, Norm nm, size_t total)
{
	size_t img = (size_t)c * h * w;
	GRID_STRIDE(i, total)
	{
		size_t b = i / img;
		int r = (int)(i % img), ch = r / (h * w), yy = r / w % h, xx = r % w;
		Sample s = samples[b];
		if (r == 0)
			y[b] = labels[s.index];
		int sy = yy + s.dy, sx = (s.flip ? w - 1 - xx : xx) + s.dx;
		float v = 0.0f;
		if (sy >= 0 && sy < h && sx >= 0 && sx < w)
			v = ((float)images[(size_t)s.index * img + ((size_t)ch * h + sy) * w + sx] / 255.0f - nm.mean[ch]) /
			    nm.std[ch];
		x[i] = v;
	}
}

void cuda_make_batch(Ctx *ctx, float *x, int32_t *y, const uint8_t *images, const uint8_t *labels,
		     const Sample *samples, int n, int c, int h, int w, const float *mean, const float *std)
{
	CudaImpl *im = cuda_impl(ctx);
	size_t total = (size_t)n * c * h * w;
	if (im->failed || total == 0)
		return;
	if (c > NASH_MAX_CHANNELS) {
		cuda_fail(im, NASH_ERR_RUNTIME, __FILE__, __LINE__, "make_batch: more image channels than NASH_MAX_CHANNELS");
		return;
	}
	Norm nm;
	for (int k = 0; k < NASH_MAX_CHANNELS; k++) {
		nm.mean[k] = k < c ? mean[k] : 0.0f;
		nm.std[k] = k < c ? std[k] : 1.0f;
	}
	make_batch_kernel<<<cuda_blocks(total), NASH_THREADS, 0, im->stream>>>(x, y, images, labels, samples, c, h, w,
									       nm, total);
	LAUNCHED(im);
}
