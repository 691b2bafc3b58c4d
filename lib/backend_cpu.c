/* The fast CPU backend: convolution as im2col + OpenBLAS sgemm over blocks of images,
   everything else as tight loops; OpenMP across images (conv) or channels (batch-norm).
   Host memory, shared with the reference backend (lib/backend_ref.c).

   Threads: the conv GEMMs run inside our OpenMP regions, one block of images per thread, so
   OpenBLAS is held to one thread (a multithreaded sgemm inside each OpenMP thread would
   oversubscribe the cores; blocks big enough for single-threaded GEMMs measured faster than
   OpenBLAS's own threading on the small per-image GEMMs of a CNN). */
#include <cblas.h>
#undef I /* from <complex.h>, which cblas.h includes; backend.h's dense sizes use the name */
#include <math.h>
#include <omp.h>
#include <stddef.h>
#include <string.h>

#include "backend.h"
#include "ref_ops.h"

/* Columns (images x pixels) a conv block aims at: enough for sgemm to run near peak on the
   small 7x7 maps of a CNN's last stage, small enough for a block to stay in L2/L3. */
#ifndef NASH_CONV_COLS
#define NASH_CONV_COLS 784
#endif

/* Elementwise loops are parallel only past this many floats (thread wake-up costs ~µs). */
#define PAR_MIN 32768

static int nthreads(const Ctx *ctx)
{
	int nt = ctx && ctx->threads > 0 ? ctx->threads : omp_get_max_threads();
	return nt > 0 ? nt : 1;
}

/* OpenBLAS to one thread: our OpenMP threads each run their own GEMMs. */
static void blas_single(void)
{
	if (openblas_get_num_threads() != 1)
		openblas_set_num_threads(1);
}

/* The engine clears every activation gradient before each backward pass: tens of MB, which
   one core cannot write at the memory bus's full speed. */
static void cpu_zero(Ctx *ctx, void *p, size_t bytes)
{
	if (bytes < ((size_t)1 << 20)) {
		ref_host_zero(ctx, p, bytes);
		return;
	}
#pragma omp parallel num_threads(nthreads(ctx))
	{
		size_t t = (size_t)omp_get_thread_num(), T = (size_t)omp_get_num_threads();
		size_t a = bytes / T * t / 64 * 64, b = t + 1 == T ? bytes : bytes / T * (t + 1) / 64 * 64;
		memset((char *)p + a, 0, b - a);
	}
}

/* ---- convolution ---- */

typedef struct ConvPlan {
	int nb;          /* images per block */
	int nblocks;
	size_t hw, ckk;  /* H*W, C*ks*ks */
	size_t cols;     /* nb*hw: columns of a block */
	size_t col;      /* floats of a block's im2col, [ckk, cols] (also its gradient) */
	size_t mat;      /* floats of a block's output or output gradient, [K, cols] */
	size_t dw;       /* floats of a thread's partial weight gradient, [K, ckk] */
	size_t per_thread;
} ConvPlan;

/* nt: threads to share the blocks (small batches get smaller blocks, not idle threads) */
static ConvPlan conv_plan(int N, int C, int H, int W, int K, int ks, int nt)
{
	ConvPlan p;
	p.hw = (size_t)H * W;
	p.ckk = (size_t)C * ks * ks;
	p.nb = p.hw >= NASH_CONV_COLS ? 1 : (int)((NASH_CONV_COLS + p.hw - 1) / p.hw);
	if (p.nb > (N + nt - 1) / nt)
		p.nb = (N + nt - 1) / nt;
	if (p.nb < 1)
		p.nb = 1;
	p.nblocks = N > 0 ? (N + p.nb - 1) / p.nb : 0;
	p.cols = (size_t)p.nb * p.hw;
	p.col = ks == 1 && p.nb == 1 ? 0 : p.ckk * p.cols;
	p.mat = p.nb == 1 ? 0 : (size_t)K * p.cols;
	p.dw = (size_t)K * p.ckk;
	p.per_thread = p.col + p.mat + p.dw;
	return p;
}

static size_t conv_workspace(Ctx *ctx, int N, int C, int H, int W, int K, int ks)
{
	int nt = nthreads(ctx);
	return conv_plan(N, C, H, W, K, ks, nt).per_thread * (size_t)nt;
}

/* Threads the workspace can serve (0: too small for even one, use the reference). */
static int conv_threads(const Ctx *ctx, const ConvPlan *p)
{
	int nt = nthreads(ctx);
	if (nt > p->nblocks)
		nt = p->nblocks;
	if (p->per_thread == 0)
		return nt;
	size_t fit = ctx->workspace ? ctx->workspace_floats / p->per_thread : 0;
	return fit < (size_t)nt ? (int)fit : nt;
}

/* The plane shifted by (dy, dx) lies, in a plane's flat index q = y*W + x, in the single span
   [a, b) read from q + off; inside the span only the positions that wrap around a row edge
   (x outside [x0, x1)) are not valid. So one copy per plane and shift, not one per row. */
typedef struct Shift {
	size_t a, b;   /* the span [a, b); a == b: nothing valid */
	ptrdiff_t off; /* source index - destination index */
	int y0, y1, x0, x1;
} Shift;

static Shift shift_of(int H, int W, int dy, int dx)
{
	Shift s;
	s.y0 = dy < 0 ? -dy : 0;
	s.y1 = dy > 0 ? H - dy : H;
	s.x0 = dx < 0 ? -dx : 0;
	s.x1 = dx > 0 ? W - dx : W;
	s.off = (ptrdiff_t)dy * W + dx;
	if (s.y1 <= s.y0 || s.x1 <= s.x0)
		s.a = s.b = 0;
	else {
		s.a = (size_t)s.y0 * W + s.x0;
		s.b = (size_t)(s.y1 - 1) * W + s.x1;
	}
	return s;
}

/* Zeroes the wrap-around positions inside the span: [x1, W) of a row and [0, x0) of the next. */
static void shift_zero_wraps(float *plane, const Shift *s, int W)
{
	if (s->a == s->b || (s->x0 == 0 && s->x1 == W))
		return;
	for (int y = s->y0; y < s->y1 - 1; y++)
		for (size_t q = (size_t)y * W + s->x1; q < (size_t)(y + 1) * W + s->x0; q++)
			plane[q] = 0;
}

/* col[(c*ks+i)*ks+j][b*hw + y*W + x] = img_b[c][y+i-p][x+j-p] (0 outside), for nb images. */
static void im2col(float *col, const float *in, int nb, int C, int H, int W, int ks)
{
	int p = ks / 2;
	size_t hw = (size_t)H * W, cols = (size_t)nb * hw;
	for (int i = 0; i < ks; i++)
		for (int j = 0; j < ks; j++) {
			Shift s = shift_of(H, W, i - p, j - p);
			for (int c = 0; c < C; c++) {
				float *row = col + ((size_t)(c * ks + i) * ks + j) * cols;
				for (int b = 0; b < nb; b++) {
					const float *src = in + ((size_t)b * C + c) * hw;
					float *dst = row + b * hw;
					memset(dst, 0, s.a * sizeof *dst);
					if (s.b > s.a)
						memcpy(dst + s.a, src + s.a + s.off, (s.b - s.a) * sizeof *dst);
					memset(dst + s.b, 0, (hw - s.b) * sizeof *dst);
					shift_zero_wraps(dst, &s, W);
				}
			}
		}
}

/* din_b[c][y+i-p][x+j-p] += dcol[(c*ks+i)*ks+j][b*hw + y*W + x]: im2col's adjoint. Clobbers
   dcol's wrap-around positions (zeroed so that each span is added whole). */
static void col2im_add(float *din, float *dcol, int nb, int C, int H, int W, int ks)
{
	int p = ks / 2;
	size_t hw = (size_t)H * W, cols = (size_t)nb * hw;
	for (int i = 0; i < ks; i++)
		for (int j = 0; j < ks; j++) {
			Shift s = shift_of(H, W, i - p, j - p);
			for (int c = 0; c < C; c++) {
				float *row = dcol + ((size_t)(c * ks + i) * ks + j) * cols;
				for (int b = 0; b < nb; b++) {
					float *src = row + b * hw;
					float *dst = din + ((size_t)b * C + c) * hw + s.off;
					shift_zero_wraps(src, &s, W);
#pragma omp simd
					for (size_t q = s.a; q < s.b; q++)
						dst[q] += src[q];
				}
			}
		}
}

static void conv_forward(Ctx *ctx, float *out, const float *in, const float *w, const float *b,
			 int N, int C, int H, int W, int K, int ks)
{
	ConvPlan p = conv_plan(N, C, H, W, K, ks, nthreads(ctx));
	int nt = conv_threads(ctx, &p);
	if (nt < 1) {
		if (N > 0)
			ref_conv_forward_f(out, in, w, b, N, C, H, W, K, ks);
		return;
	}
	blas_single();
#pragma omp parallel num_threads(nt)
	{
		float *ws = ctx->workspace + (size_t)omp_get_thread_num() * p.per_thread;
		float *col = ws, *mat = ws + p.col;
#pragma omp for schedule(static)
		for (int blk = 0; blk < p.nblocks; blk++) {
			int n0 = blk * p.nb, nb = N - n0 < p.nb ? N - n0 : p.nb;
			size_t cols = (size_t)nb * p.hw;
			const float *B = in + (size_t)n0 * C * p.hw;
			if (p.col) {
				im2col(col, B, nb, C, H, W, ks);
				B = col;
			}
			float *O = p.nb == 1 ? out + (size_t)n0 * K * p.hw : mat;
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, K, (int)cols, (int)p.ckk,
				    1.0f, w, (int)p.ckk, B, (int)cols, 0.0f, O, (int)cols);
			/* scatter [K, nb*hw] to [nb, K, hw], adding the bias */
			for (int bi = 0; bi < nb; bi++)
				for (int k = 0; k < K; k++) {
					float *o = out + ((size_t)(n0 + bi) * K + k) * p.hw;
					const float *s = O + (size_t)k * cols + (size_t)bi * p.hw;
					float bk = b ? b[k] : 0.0f;
					if (o == s) {
						if (b)
#pragma omp simd
							for (size_t q = 0; q < p.hw; q++)
								o[q] += bk;
					} else {
#pragma omp simd
						for (size_t q = 0; q < p.hw; q++)
							o[q] = s[q] + bk;
					}
				}
		}
	}
}

static void conv_backward(Ctx *ctx, float *din, float *dw, float *db, const float *dout,
			  const float *in, const float *w, int N, int C, int H, int W, int K, int ks)
{
	ConvPlan p = conv_plan(N, C, H, W, K, ks, nthreads(ctx));
	int nt = conv_threads(ctx, &p);
	if (nt < 1) {
		if (N > 0) {
			ref_conv_backward_f(din, dw, db, dout, in, w, N, C, H, W, K, ks);
			return;
		}
		nt = 0; /* empty batch: gradients of parameters are zero */
	}
	if (db) {
#pragma omp parallel for num_threads(nthreads(ctx)) schedule(static)
		for (int k = 0; k < K; k++) {
			double s = 0;
			for (int n = 0; n < N; n++) {
				const float *g = dout + ((size_t)n * K + k) * p.hw;
				float r = 0;
#pragma omp simd reduction(+ : r)
				for (size_t q = 0; q < p.hw; q++)
					r += g[q];
				s += r;
			}
			db[k] = (float)s;
		}
	}
	if (!dw && !din)
		return;
	blas_single();
	int used[nt > 0 ? nt : 1];
	memset(used, 0, sizeof used);
	if (nt > 0) {
#pragma omp parallel num_threads(nt)
		{
			int t = omp_get_thread_num();
			float *ws = ctx->workspace + (size_t)t * p.per_thread;
			float *col = ws, *mat = ws + p.col, *pdw = ws + p.col + p.mat;
#pragma omp for schedule(static)
			for (int blk = 0; blk < p.nblocks; blk++) {
				int n0 = blk * p.nb, nb = N - n0 < p.nb ? N - n0 : p.nb;
				int cols = nb * (int)p.hw;
				const float *G = dout + (size_t)n0 * K * p.hw; /* [K, cols] */
				if (p.nb > 1) {
					for (int bi = 0; bi < nb; bi++)
						for (int k = 0; k < K; k++)
							memcpy(mat + (size_t)k * cols + (size_t)bi * p.hw,
							       G + ((size_t)bi * K + k) * p.hw,
							       p.hw * sizeof *mat);
					G = mat;
				}
				const float *X = in + (size_t)n0 * C * p.hw;
				if (dw) {
					if (p.col) {
						im2col(col, X, nb, C, H, W, ks);
						X = col;
					}
					cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, K, (int)p.ckk,
						    cols, 1.0f, G, cols, X, cols, used[t] ? 1.0f : 0.0f,
						    pdw, (int)p.ckk);
					used[t] = 1;
				}
				if (!din)
					continue;
				float *dX = din + (size_t)n0 * C * p.hw;
				if (!p.col) {
					cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)p.ckk, cols,
						    K, 1.0f, w, (int)p.ckk, G, cols, 1.0f, dX, cols);
				} else {
					cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)p.ckk, cols,
						    K, 1.0f, w, (int)p.ckk, G, cols, 0.0f, col, cols);
					col2im_add(dX, col, nb, C, H, W, ks);
				}
			}
		}
	}
	if (!dw)
		return;
#pragma omp parallel for num_threads(nthreads(ctx)) if (p.dw > PAR_MIN) schedule(static)
	for (size_t i = 0; i < p.dw; i++) {
		float s = 0;
		for (int t = 0; t < nt; t++)
			if (used[t])
				s += ctx->workspace[(size_t)t * p.per_thread + p.col + p.mat + i];
		dw[i] = s;
	}
}

/* ---- batch-norm: one channel per iteration, rows of HW contiguous floats ---- */

static void bn_forward_train(Ctx *ctx, float *out, float *mean, float *invstd, float *running_mean,
			     float *running_var, const float *in, const float *gamma,
			     const float *beta, int N, int C, int HW, float momentum, float eps)
{
	double M = (double)N * HW;
#pragma omp parallel for num_threads(nthreads(ctx)) schedule(static)
	for (int c = 0; c < C; c++) {
		/* one read of the channel: each row's mean and squared deviations (the row is in
		   L1 for its second loop), merged exactly in double (Chan et al.) */
		double m = 0, m2 = 0, cnt = 0;
		for (int n = 0; n < N && HW > 0; n++) {
			const float *x = in + ((size_t)n * C + c) * HW;
			float r = 0, r2 = 0;
#pragma omp simd reduction(+ : r)
			for (int q = 0; q < HW; q++)
				r += x[q];
			float rm = r / HW;
#pragma omp simd reduction(+ : r2)
			for (int q = 0; q < HW; q++)
				r2 += (x[q] - rm) * (x[q] - rm);
			double d = rm - m, tot = cnt + HW;
			m += d * HW / tot;
			m2 += r2 + d * d * cnt * HW / tot;
			cnt = tot;
		}
		float mf = (float)m;
		double var = M > 0 ? m2 / M : 0;
		double is = 1.0 / sqrt(var + eps);
		float a = (float)(gamma[c] * is), bb = beta[c];
		for (int n = 0; n < N; n++) {
			const float *x = in + ((size_t)n * C + c) * HW;
			float *o = out + ((size_t)n * C + c) * HW;
#pragma omp simd
			for (int q = 0; q < HW; q++)
				o[q] = (x[q] - mf) * a + bb;
		}
		if (mean)
			mean[c] = mf;
		if (invstd)
			invstd[c] = (float)is;
		double uvar = M > 1 ? var * M / (M - 1) : var;
		if (running_mean)
			running_mean[c] = (float)((1.0 - momentum) * running_mean[c] + (double)momentum * m);
		if (running_var)
			running_var[c] = (float)((1.0 - momentum) * running_var[c] + (double)momentum * uvar);
	}
}

static void bn_forward_eval(Ctx *ctx, float *out, const float *in, const float *gamma,
			    const float *beta, const float *running_mean, const float *running_var,
			    int N, int C, int HW, float eps)
{
#pragma omp parallel for collapse(2) num_threads(nthreads(ctx)) schedule(static)
	for (int n = 0; n < N; n++)
		for (int c = 0; c < C; c++) {
			double is = 1.0 / sqrt((double)running_var[c] + eps);
			float a = (float)(gamma[c] * is);
			float bb = (float)(beta[c] - running_mean[c] * gamma[c] * is);
			const float *x = in + ((size_t)n * C + c) * HW;
			float *o = out + ((size_t)n * C + c) * HW;
#pragma omp simd
			for (int q = 0; q < HW; q++)
				o[q] = x[q] * a + bb;
		}
}

/* din += gamma*invstd/M * (M*dout - dbeta - xhat*dgamma) with xhat = (x-mean)*invstd, as
   A * ((dout - mean(dout)) - (x-mean) * invstd*dgamma/M): the differences of like terms come
   before the multiplication by invstd, which can be large (a channel of near-constant values). */
static void bn_backward(Ctx *ctx, float *din, float *dgamma, float *dbeta, const float *dout,
			const float *in, const float *mean, const float *invstd, const float *gamma,
			int N, int C, int HW)
{
	double M = (double)N * HW;
#pragma omp parallel for num_threads(nthreads(ctx)) schedule(static)
	for (int c = 0; c < C; c++) {
		double sg = 0, sgx = 0;
		float m = mean[c];
		for (int n = 0; n < N; n++) {
			const float *x = in + ((size_t)n * C + c) * HW;
			const float *g = dout + ((size_t)n * C + c) * HW;
			float r = 0, rx = 0;
#pragma omp simd reduction(+ : r, rx)
			for (int q = 0; q < HW; q++) {
				r += g[q];
				rx += g[q] * (x[q] - m);
			}
			sg += r;
			sgx += rx;
		}
		double is = invstd[c], dg = sgx * is;
		if (dbeta)
			dbeta[c] = (float)sg;
		if (dgamma)
			dgamma[c] = (float)dg;
		if (!din)
			continue;
		float A = (float)(gamma[c] * is), mg = (float)(sg / M), c2 = (float)(is * dg / M);
		for (int n = 0; n < N; n++) {
			const float *x = in + ((size_t)n * C + c) * HW;
			const float *g = dout + ((size_t)n * C + c) * HW;
			float *d = din + ((size_t)n * C + c) * HW;
#pragma omp simd
			for (int q = 0; q < HW; q++)
				d[q] += A * ((g[q] - mg) - (x[q] - m) * c2);
		}
	}
}

/* ---- elementwise ---- */

static void relu_forward(Ctx *ctx, float *out, const float *in, size_t n)
{
#pragma omp parallel for simd num_threads(nthreads(ctx)) if (n > PAR_MIN) schedule(static)
	for (size_t i = 0; i < n; i++)
		out[i] = in[i] > 0 ? in[i] : 0.0f;
}

static void relu_backward(Ctx *ctx, float *din, const float *dout, const float *out, size_t n)
{
#pragma omp parallel for simd num_threads(nthreads(ctx)) if (n > PAR_MIN) schedule(static)
	for (size_t i = 0; i < n; i++) {
		float g = dout[i]; /* loaded unconditionally: a select, not a branch */
		din[i] += out[i] > 0 ? g : 0.0f;
	}
}

static void add_forward(Ctx *ctx, float *out, const float *a, const float *b, const float *lambda,
			size_t n)
{
	float l = lambda[0], r = 1.0f - l;
#pragma omp parallel for simd num_threads(nthreads(ctx)) if (n > PAR_MIN) schedule(static)
	for (size_t i = 0; i < n; i++)
		out[i] = l * a[i] + r * b[i];
}

static void add_backward(Ctx *ctx, float *da, float *db, float *dlambda, const float *dout,
			 const float *a, const float *b, const float *lambda, size_t n)
{
	float l = lambda[0], r = 1.0f - l;
	double s = 0;
	if (da == db && da) { /* the same node on both sides: one update, no aliasing hazard */
		l = 1.0f;
		r = 0.0f;
		db = NULL;
	}
#pragma omp parallel for num_threads(nthreads(ctx)) if (n > PAR_MIN) schedule(static) reduction(+ : s)
	for (size_t i0 = 0; i0 < n; i0 += 1024) {
		size_t i1 = i0 + 1024 < n ? i0 + 1024 : n;
		float part = 0;
		if (da)
#pragma omp simd
			for (size_t i = i0; i < i1; i++)
				da[i] += l * dout[i];
		if (db)
#pragma omp simd
			for (size_t i = i0; i < i1; i++)
				db[i] += r * dout[i];
#pragma omp simd reduction(+ : part)
		for (size_t i = i0; i < i1; i++)
			part += dout[i] * (a[i] - b[i]);
		s += part;
	}
	if (dlambda)
		dlambda[0] = (float)s;
}

static void sgd_update(Ctx *ctx, float *p, float *v, const float *grad, size_t n, float lr,
		       float mu, float wd, int nesterov)
{
	/* step = cg*g + cv*v: nesterov g + mu*v, plain v (branch-free for SIMD) */
	float cg = nesterov ? 1.0f : 0.0f, cv = nesterov ? mu : 1.0f;
#pragma omp parallel for simd num_threads(nthreads(ctx)) if (n > PAR_MIN) schedule(static)
	for (size_t i = 0; i < n; i++) {
		float g = grad[i] + wd * p[i];
		float vi = mu * v[i] + g;
		v[i] = vi;
		p[i] -= lr * (cg * g + cv * vi);
	}
}

/* ---- pooling, concat, gap, dense ---- */

static void maxpool_forward(Ctx *ctx, float *out, const float *in, int N, int C, int H, int W, int k)
{
	int Ho = H / k, Wo = W / k;
	size_t NC = (size_t)N * C;
	if (k != 2) {
		ref_maxpool_forward_f(out, in, N, C, H, W, k);
		return;
	}
#pragma omp parallel for num_threads(nthreads(ctx)) if (NC * H * W > PAR_MIN) schedule(static)
	for (size_t nc = 0; nc < NC; nc++)
		for (int oy = 0; oy < Ho; oy++) {
			const float *r0 = in + (nc * H + 2 * oy) * W, *r1 = r0 + W;
			float *o = out + (nc * Ho + oy) * Wo;
			for (int ox = 0; ox < Wo; ox++) {
				float m = r0[2 * ox];
				m = r0[2 * ox + 1] > m ? r0[2 * ox + 1] : m;
				m = r1[2 * ox] > m ? r1[2 * ox] : m;
				o[ox] = r1[2 * ox + 1] > m ? r1[2 * ox + 1] : m;
			}
		}
}

static void maxpool_backward(Ctx *ctx, float *din, const float *dout, const float *in, int N, int C,
			     int H, int W, int k)
{
	int Ho = H / k, Wo = W / k;
	size_t NC = (size_t)N * C;
	if (k != 2) {
		ref_maxpool_backward_f(din, dout, in, N, C, H, W, k);
		return;
	}
#pragma omp parallel for num_threads(nthreads(ctx)) if (NC * H * W > PAR_MIN) schedule(static)
	for (size_t nc = 0; nc < NC; nc++)
		for (int oy = 0; oy < Ho; oy++) {
			const float *r0 = in + (nc * H + 2 * oy) * W, *r1 = r0 + W;
			float *d0 = din + (nc * H + 2 * oy) * W;
			const float *g = dout + (nc * Ho + oy) * Wo;
			/* first maximum in scan order (r0[x], r0[x+1], r1[x], r1[x+1]): a later one must
			   be strictly greater. Its offset is computed with integer selects, not
			   branches (their outcome is random: mispredictions cost 5x the loop). */
			for (int ox = 0; ox < Wo; ox++) {
				int x = 2 * ox;
				float v0 = r0[x], v1 = r0[x + 1], v2 = r1[x], v3 = r1[x + 1];
				float m01 = v0 >= v1 ? v0 : v1, m23 = v2 >= v3 ? v2 : v3;
				int a = v1 > v0, b = v3 > v2, r = -(m23 > m01); /* r: all ones or 0 */
				d0[x + ((a & ~r) | ((W + b) & r))] += g[ox];
			}
		}
}

static void concat_forward(Ctx *ctx, float *out, const float *in, int N, int Cin, int Cout,
			   int offset, int HW)
{
	for (int n = 0; n < N; n++)
		memcpy(out + ((size_t)n * Cout + offset) * HW, in + (size_t)n * Cin * HW,
		       (size_t)Cin * HW * sizeof *out);
}

static void concat_backward(Ctx *ctx, float *din, const float *dout, int N, int Cin, int Cout,
			    int offset, int HW)
{
	size_t m = (size_t)Cin * HW;
#pragma omp parallel for num_threads(nthreads(ctx)) if ((size_t)N * m > PAR_MIN) schedule(static)
	for (int n = 0; n < N; n++) {
		float *d = din + (size_t)n * m;
		const float *g = dout + ((size_t)n * Cout + offset) * HW;
#pragma omp simd
		for (size_t i = 0; i < m; i++)
			d[i] += g[i];
	}
}

static void gap_forward(Ctx *ctx, float *out, const float *in, int N, int C, int HW)
{
	size_t NC = (size_t)N * C;
#pragma omp parallel for num_threads(nthreads(ctx)) if (NC * HW > PAR_MIN) schedule(static)
	for (size_t nc = 0; nc < NC; nc++) {
		const float *x = in + nc * HW;
		float s = 0;
#pragma omp simd reduction(+ : s)
		for (int q = 0; q < HW; q++)
			s += x[q];
		out[nc] = s / HW;
	}
}

static void gap_backward(Ctx *ctx, float *din, const float *dout, int N, int C, int HW)
{
	size_t NC = (size_t)N * C;
#pragma omp parallel for num_threads(nthreads(ctx)) if (NC * HW > PAR_MIN) schedule(static)
	for (size_t nc = 0; nc < NC; nc++) {
		float g = dout[nc] / HW;
		float *d = din + nc * HW;
#pragma omp simd
		for (int q = 0; q < HW; q++)
			d[q] += g;
	}
}

/* Dense GEMMs are skinny (O = classes): OpenBLAS is held to one thread, so the threads take
   slices, of the batch (forward, din) or of the inputs (dw). Worth it past ~1 MFLOP. */
static int dense_threads(const Ctx *ctx, int N, int I, int O)
{
	return (double)N * I * O > 5e5 ? nthreads(ctx) : 1;
}

static void dense_forward(Ctx *ctx, float *out, const float *in, const float *w, const float *b,
			  int N, int I, int O)
{
	if (N <= 0 || O <= 0)
		return;
	for (int n = 0; n < N; n++)
		for (int o = 0; o < O; o++)
			out[(size_t)n * O + o] = b ? b[o] : 0.0f;
	if (I <= 0)
		return;
	blas_single();
#pragma omp parallel num_threads(dense_threads(ctx, N, I, O))
	{
		int t = omp_get_thread_num(), T = omp_get_num_threads();
		int n0 = (int)((long)N * t / T), n1 = (int)((long)N * (t + 1) / T);
		if (n1 > n0)
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n1 - n0, O, I, 1.0f,
				    in + (size_t)n0 * I, I, w, I, 1.0f, out + (size_t)n0 * O, O);
	}
}

static void dense_backward(Ctx *ctx, float *din, float *dw, float *db, const float *dout,
			   const float *in, const float *w, int N, int I, int O)
{
	if (db)
		for (int o = 0; o < O; o++) {
			double s = 0;
			for (int n = 0; n < N; n++)
				s += dout[(size_t)n * O + o];
			db[o] = (float)s;
		}
	if (O <= 0 || I <= 0)
		return;
	if (dw && N <= 0)
		memset(dw, 0, (size_t)O * I * sizeof *dw);
	if (N <= 0)
		return;
	blas_single();
#pragma omp parallel num_threads(dense_threads(ctx, N, I, O))
	{
		int t = omp_get_thread_num(), T = omp_get_num_threads();
		int i0 = (int)((long)I * t / T), i1 = (int)((long)I * (t + 1) / T);
		int n0 = (int)((long)N * t / T), n1 = (int)((long)N * (t + 1) / T);
		if (dw && i1 > i0) /* dw[:, i0:i1] = dout^T in[:, i0:i1] */
			cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, O, i1 - i0, N, 1.0f, dout,
				    O, in + i0, I, 0.0f, dw + i0, I);
		if (din && n1 > n0) /* din[n0:n1] += dout[n0:n1] w */
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n1 - n0, I, O, 1.0f,
				    dout + (size_t)n0 * O, O, w, I, 1.0f, din + (size_t)n0 * I, I);
	}
}

static void softmax_xent(Ctx *ctx, float *dlogits, float *stats, const float *logits,
			 const int32_t *labels, int N, int K)
{
	ref_softmax_xent_f(dlogits, stats, logits, labels, N, K);
}

const Backend nash_backend_cpu = {
	.name = "cpu",
	.init = NULL,
	.fini = NULL,
	.alloc = ref_host_alloc,
	.free = ref_host_free,
	.upload = ref_host_copy,
	.download = ref_host_copy,
	.zero = cpu_zero,
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
	.make_batch = ref_make_batch,
};
