/* The fast CPU backend: convolution as im2col + OpenBLAS sgemm over blocks of images
   (lib/backend/blas/backend_blas_conv.c), everything else as tight loops here; OpenMP across images (conv)
   or channels (batch-norm). Host memory, shared with the reference backend (lib/backend/ref/backend_ref.c).
   OpenBLAS is held to one thread: the GEMMs run inside our own OpenMP regions. */
#include <math.h>
#include <omp.h>
#include <stddef.h>
#include <string.h>

#include "backend/blas/backend_blas.h"
#include "backend/ref/ref_ops.h"

/* The engine clears every activation gradient before each backward pass: tens of MB, which
   one core cannot write at the memory bus's full speed. */
void cpu_zero(Ctx *ctx, void *p, size_t bytes)
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

/* ---- batch-norm: one channel per iteration, rows of HW contiguous floats ---- */

void cpu_bn_forward_train(Ctx *ctx, float *out, float *mean, float *invstd, float *running_mean,
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

void cpu_bn_forward_eval(Ctx *ctx, float *out, const float *in, const float *gamma,
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
void cpu_bn_backward(Ctx *ctx, float *din, float *dgamma, float *dbeta, const float *dout,
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

void cpu_relu_forward(Ctx *ctx, float *out, const float *in, size_t n)
{
#pragma omp parallel for simd num_threads(nthreads(ctx)) if (n > PAR_MIN) schedule(static)
	for (size_t i = 0; i < n; i++)
		out[i] = in[i] > 0 ? in[i] : 0.0f;
}

void cpu_relu_backward(Ctx *ctx, float *din, const float *dout, const float *out, size_t n)
{
#pragma omp parallel for simd num_threads(nthreads(ctx)) if (n > PAR_MIN) schedule(static)
	for (size_t i = 0; i < n; i++) {
		float g = dout[i]; /* loaded unconditionally: a select, not a branch */
		din[i] += out[i] > 0 ? g : 0.0f;
	}
}

void cpu_add_forward(Ctx *ctx, float *out, const float *a, const float *b, const float *lambda,
			int N, int C, int HW)
{
	size_t rows = (size_t)N * C;
#pragma omp parallel for num_threads(nthreads(ctx)) if (rows * HW > PAR_MIN) schedule(static)
	for (size_t nc = 0; nc < rows; nc++) {
		float l = lambda[nc % C], r = 1.0f - l;
		size_t o = nc * HW;
#pragma omp simd
		for (int q = 0; q < HW; q++)
			out[o + q] = l * a[o + q] + r * b[o + q];
	}
}

/* One channel per iteration: its lambda gradient is a sum over the channel's N rows (float
   per row, double across rows), so no two threads write the same dlambda[c]. */
void cpu_add_backward(Ctx *ctx, float *da, float *db, float *dlambda, const float *dout,
			 const float *a, const float *b, const float *lambda, int N, int C, int HW)
{
	int same = da == db && da; /* the same node on both sides: one update, no aliasing hazard */
#pragma omp parallel for num_threads(nthreads(ctx)) if ((size_t)N * C * HW > PAR_MIN) schedule(static)
	for (int c = 0; c < C; c++) {
		float l = same ? 1.0f : lambda[c], r = 1.0f - l;
		double s = 0;
		for (int n = 0; n < N; n++) {
			size_t o = ((size_t)n * C + c) * HW;
			float part = 0;
			if (da)
#pragma omp simd
				for (int q = 0; q < HW; q++)
					da[o + q] += l * dout[o + q];
			if (db && !same)
#pragma omp simd
				for (int q = 0; q < HW; q++)
					db[o + q] += r * dout[o + q];
#pragma omp simd reduction(+ : part)
			for (int q = 0; q < HW; q++)
				part += dout[o + q] * (a[o + q] - b[o + q]);
			s += part;
		}
		if (dlambda)
			dlambda[c] = (float)s;
	}
}

void cpu_sgd_update(Ctx *ctx, float *p, float *v, const float *grad, size_t n, float lr,
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

void cpu_ema_update(Ctx *ctx, float *avg, const float *p, size_t n, float decay)
{
	float keep = decay, take = 1.0f - decay; /* take is exactly 1 for decay 0: a copy */
#pragma omp parallel for simd num_threads(nthreads(ctx)) if (n > PAR_MIN) schedule(static)
	for (size_t i = 0; i < n; i++)
		avg[i] = keep * avg[i] + take * p[i];
}

/* ---- pooling, concat, gap, dense ---- */

void cpu_maxpool_forward(Ctx *ctx, float *out, const float *in, int N, int C, int H, int W, int k)
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

void cpu_maxpool_backward(Ctx *ctx, float *din, const float *dout, const float *in, int N, int C,
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

void cpu_concat_forward(Ctx *ctx, float *out, const float *in, int N, int Cin, int Cout,
			   int offset, int HW)
{
	for (int n = 0; n < N; n++)
		memcpy(out + ((size_t)n * Cout + offset) * HW, in + (size_t)n * Cin * HW,
		       (size_t)Cin * HW * sizeof *out);
}

void cpu_concat_backward(Ctx *ctx, float *din, const float *dout, int N, int Cin, int Cout,
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

void cpu_gap_forward(Ctx *ctx, float *out, const float *in, int N, int C, int HW)
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

void cpu_gap_backward(Ctx *ctx, float *din, const float *dout, int N, int C, int HW)
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
   slices, of the batch (forward, din) or of the inputs (dw). Worth it past ~1 MFLOP. The
   slices are fixed by the shape (CPU_CHUNKS of them), not by the thread count: OpenBLAS's sum
   for an output element depends on the size of the GEMM it is part of. */
static int dense_slices(int N, int I, int O, int len)
{
	if ((double)N * I * O <= 5e5)
		return 1;
	return len < CPU_CHUNKS ? len : CPU_CHUNKS;
}

static int at_most(int nt, int n) { return nt < n ? nt : n; }

void cpu_dense_forward(Ctx *ctx, float *out, const float *in, const float *w, const float *b,
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
	int S = dense_slices(N, I, O, N);
#pragma omp parallel for num_threads(at_most(nthreads(ctx), S)) schedule(static)
	for (int s = 0; s < S; s++) {
		int n0 = (int)((long)N * s / S), n1 = (int)((long)N * (s + 1) / S);
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n1 - n0, O, I, 1.0f, in + (size_t)n0 * I, I, w,
			    I, 1.0f, out + (size_t)n0 * O, O);
	}
}

void cpu_dense_backward(Ctx *ctx, float *din, float *dw, float *db, const float *dout,
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
	int Si = dense_slices(N, I, O, I), Sn = dense_slices(N, I, O, N);
	int S = Si > Sn ? Si : Sn;
#pragma omp parallel num_threads(at_most(nthreads(ctx), S))
	{
		if (dw) { /* dw[:, i0:i1] = dout^T in[:, i0:i1] */
#pragma omp for schedule(static) nowait
			for (int s = 0; s < Si; s++) {
				int i0 = (int)((long)I * s / Si), i1 = (int)((long)I * (s + 1) / Si);
				cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, O, i1 - i0, N, 1.0f, dout, O,
					    in + i0, I, 0.0f, dw + i0, I);
			}
		}
		if (din) { /* din[n0:n1] += dout[n0:n1] w */
#pragma omp for schedule(static) nowait
			for (int s = 0; s < Sn; s++) {
				int n0 = (int)((long)N * s / Sn), n1 = (int)((long)N * (s + 1) / Sn);
				cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n1 - n0, I, O, 1.0f,
					    dout + (size_t)n0 * O, O, w, I, 1.0f, din + (size_t)n0 * I, I);
			}
		}
	}
}

void cpu_softmax_xent(Ctx *ctx, float *dlogits, float *stats, const float *logits,
			 const int32_t *labels, int N, int K, float smoothing)
{
	ref_softmax_xent_f(dlogits, stats, logits, labels, N, K, smoothing);
}

const Backend nash_backend_blas = {
	.name = "cpu-blas",
	.init = NULL,
	.fini = NULL,
	.alloc = ref_host_alloc,
	.free = ref_host_free,
	.upload = ref_host_copy,
	.download = ref_host_copy,
	.zero = cpu_zero,
	.sync = ref_host_sync,
	.conv_workspace = cpu_conv_workspace,
	.conv_forward = cpu_conv_forward,
	.conv_backward = cpu_conv_backward,
	.bn_forward_train = cpu_bn_forward_train,
	.bn_forward_eval = cpu_bn_forward_eval,
	.bn_backward = cpu_bn_backward,
	.relu_forward = cpu_relu_forward,
	.relu_backward = cpu_relu_backward,
	.maxpool_forward = cpu_maxpool_forward,
	.maxpool_backward = cpu_maxpool_backward,
	.add_forward = cpu_add_forward,
	.add_backward = cpu_add_backward,
	.concat_forward = cpu_concat_forward,
	.concat_backward = cpu_concat_backward,
	.gap_forward = cpu_gap_forward,
	.gap_backward = cpu_gap_backward,
	.dense_forward = cpu_dense_forward,
	.dense_backward = cpu_dense_backward,
	.softmax_xent = cpu_softmax_xent,
	.sgd_update = cpu_sgd_update,
	.ema_update = cpu_ema_update,
	.make_batch = ref_make_batch,
};
