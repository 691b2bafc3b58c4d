/* The reference backend: lib/backend/ref/ref_ops.inc compiled for float (the backend) and for double (the
   finite-difference oracle of tests/unit/test_ops_grad.c), in host memory. Slow on purpose. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "backend/ref/ref_ops.h"

#define real double
#define REF(op) ref_##op##_d
#include "backend/ref/ref_ops.inc"
#undef REF
#undef real

#define real float
#define REF(op) ref_##op##_f
#include "backend/ref/ref_ops.inc"
#undef REF
#undef real

void *ref_host_alloc(Ctx *ctx, size_t bytes, NashErr *err)
{
	void *p = NULL;
	size_t n = (bytes + 63) / 64 * 64; /* whole cache lines; never 0 */
	if (n < bytes || posix_memalign(&p, 64, n ? n : 64) != 0) {
		nash_err(err, NASH_ERR_OOM, "out of memory allocating %zu bytes", bytes);
		return NULL;
	}
	return p;
}

void ref_host_free(Ctx *ctx, void *p) { free(p); }

void ref_host_copy(Ctx *ctx, void *dst, const void *src, size_t bytes)
{
	if (bytes)
		memcpy(dst, src, bytes);
}

void ref_host_zero(Ctx *ctx, void *p, size_t bytes)
{
	if (bytes)
		memset(p, 0, bytes);
}

int ref_host_sync(Ctx *ctx, NashErr *err) { return 0; }

/* The reference batch builder: normalises, crops (zero padding in normalised space) and flips.
   x: [n, c, h, w] float, y: [n] int32. */
void ref_make_batch(Ctx *ctx, float *x, int32_t *y, const uint8_t *images, const uint8_t *labels,
		    const Sample *s, int n, int c, int h, int w, const float *mean, const float *std)
{
	size_t img = (size_t)c * h * w;
#pragma omp parallel for schedule(static) if ((size_t)n * img > (1u << 18))
	for (int i = 0; i < n; i++) {
		const uint8_t *src = images + (size_t)s[i].index * img; /* [c, h, w] */
		float *dst = x + (size_t)i * img;                        /* [c, h, w] */
		int dy = s[i].dy, dx = s[i].dx, flip = s[i].flip;
		y[i] = labels[s[i].index];
		for (int ch = 0; ch < c; ch++) {
			float m = mean[ch], sd = std[ch];
			for (int yy = 0; yy < h; yy++) {
				int sy = yy + dy;
				float *row = dst + ((size_t)ch * h + yy) * w;
				if (sy < 0 || sy >= h) {
					memset(row, 0, (size_t)w * sizeof *row);
					continue;
				}
				const uint8_t *srow = src + ((size_t)ch * h + sy) * w;
				for (int xx = 0; xx < w; xx++) {
					int sx = (flip ? w - 1 - xx : xx) + dx;
					row[xx] = sx < 0 || sx >= w ? 0.0f
						: ((float)srow[sx] / 255.0f - m) / sd;
				}
			}
		}
	}
}

/* The table's entries: the float reference ops with the context dropped. */

static size_t conv_workspace(Ctx *ctx, int N, int C, int H, int W, int K, int ks) { return 0; }

static void conv_forward(Ctx *ctx, float *out, const float *in, const float *w, const float *b,
			 int N, int C, int H, int W, int K, int ks)
{
	ref_conv_forward_f(out, in, w, b, N, C, H, W, K, ks);
}

static void conv_backward(Ctx *ctx, float *din, float *dw, float *db, const float *dout,
			  const float *in, const float *w, int N, int C, int H, int W, int K, int ks)
{
	ref_conv_backward_f(din, dw, db, dout, in, w, N, C, H, W, K, ks);
}

static void bn_forward_train(Ctx *ctx, float *out, float *mean, float *invstd, float *running_mean,
			     float *running_var, const float *in, const float *gamma,
			     const float *beta, int N, int C, int HW, float momentum, float eps)
{
	ref_bn_forward_train_f(out, mean, invstd, running_mean, running_var, in, gamma, beta, N, C,
			       HW, momentum, eps);
}

static void bn_forward_eval(Ctx *ctx, float *out, const float *in, const float *gamma,
			    const float *beta, const float *running_mean, const float *running_var,
			    int N, int C, int HW, float eps)
{
	ref_bn_forward_eval_f(out, in, gamma, beta, running_mean, running_var, N, C, HW, eps);
}

static void bn_backward(Ctx *ctx, float *din, float *dgamma, float *dbeta, const float *dout,
			const float *in, const float *mean, const float *invstd, const float *gamma,
			int N, int C, int HW)
{
	ref_bn_backward_f(din, dgamma, dbeta, dout, in, mean, invstd, gamma, N, C, HW);
}

static void relu_forward(Ctx *ctx, float *out, const float *in, size_t n)
{
	ref_relu_forward_f(out, in, n);
}

static void relu_backward(Ctx *ctx, float *din, const float *dout, const float *out, size_t n)
{
	ref_relu_backward_f(din, dout, out, n);
}

static void maxpool_forward(Ctx *ctx, float *out, const float *in, int N, int C, int H, int W, int k)
{
	ref_maxpool_forward_f(out, in, N, C, H, W, k);
}

static void maxpool_backward(Ctx *ctx, float *din, const float *dout, const float *in, int N, int C,
			     int H, int W, int k)
{
	ref_maxpool_backward_f(din, dout, in, N, C, H, W, k);
}

static void add_forward(Ctx *ctx, float *out, const float *a, const float *b, const float *lambda,
			int N, int C, int HW)
{
	ref_add_forward_f(out, a, b, lambda, N, C, HW);
}

static void add_backward(Ctx *ctx, float *da, float *db, float *dlambda, const float *dout,
			 const float *a, const float *b, const float *lambda, int N, int C, int HW)
{
	ref_add_backward_f(da, db, dlambda, dout, a, b, lambda, N, C, HW);
}

static void concat_forward(Ctx *ctx, float *out, const float *in, int N, int Cin, int Cout,
			   int offset, int HW)
{
	ref_concat_forward_f(out, in, N, Cin, Cout, offset, HW);
}

static void concat_backward(Ctx *ctx, float *din, const float *dout, int N, int Cin, int Cout,
			    int offset, int HW)
{
	ref_concat_backward_f(din, dout, N, Cin, Cout, offset, HW);
}

static void gap_forward(Ctx *ctx, float *out, const float *in, int N, int C, int HW)
{
	ref_gap_forward_f(out, in, N, C, HW);
}

static void gap_backward(Ctx *ctx, float *din, const float *dout, int N, int C, int HW)
{
	ref_gap_backward_f(din, dout, N, C, HW);
}

static void dense_forward(Ctx *ctx, float *out, const float *in, const float *w, const float *b,
			  int N, int I, int O)
{
	ref_dense_forward_f(out, in, w, b, N, I, O);
}

static void dense_backward(Ctx *ctx, float *din, float *dw, float *db, const float *dout,
			   const float *in, const float *w, int N, int I, int O)
{
	ref_dense_backward_f(din, dw, db, dout, in, w, N, I, O);
}

static void softmax_xent(Ctx *ctx, float *dlogits, float *stats, const float *logits,
			 const int32_t *labels, int N, int K, float smoothing)
{
	ref_softmax_xent_f(dlogits, stats, logits, labels, N, K, smoothing);
}

static void sgd_update(Ctx *ctx, float *p, float *v, const float *grad, size_t n, float lr,
		       float mu, float wd, int nesterov)
{
	ref_sgd_update_f(p, v, grad, n, lr, mu, wd, nesterov);
}

static void ema_update(Ctx *ctx, float *avg, const float *p, size_t n, float decay)
{
	ref_ema_update_f(avg, p, n, decay);
}

const Backend nash_backend_ref = {
	.name = "ref",
	.init = NULL,
	.fini = NULL,
	.alloc = ref_host_alloc,
	.free = ref_host_free,
	.upload = ref_host_copy,
	.download = ref_host_copy,
	.zero = ref_host_zero,
	.sync = ref_host_sync,
	.conv_workspace = conv_workspace,
	.conv_forward = conv_forward,
	.conv_backward = conv_backward,
	.bn_forward_train = bn_forward_train,
	.bn_forward_eval = bn_forward_eval,
	.bn_backward = bn_backward,
	.relu_forward = relu_forward,
	.relu_backward = relu_backward,
	.maxpool_forward = maxpool_forward,
	.maxpool_backward = maxpool_backward,
	.add_forward = add_forward,
	.add_backward = add_backward,
	.concat_forward = concat_forward,
	.concat_backward = concat_backward,
	.gap_forward = gap_forward,
	.gap_backward = gap_backward,
	.dense_forward = dense_forward,
	.dense_backward = dense_backward,
	.softmax_xent = softmax_xent,
	.sgd_update = sgd_update,
	.ema_update = ema_update,
	.make_batch = ref_make_batch,
};
