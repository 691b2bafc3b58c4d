/* The fast CPU backend's convolution: im2col + OpenBLAS sgemm over blocks of images, OpenMP
   across the blocks (the rest of the backend is lib/backend/blas/backend_blas.c).

   Threads: the conv GEMMs run inside our OpenMP regions, one block of images per thread, so
   OpenBLAS is held to one thread (a multithreaded sgemm inside each OpenMP thread would
   oversubscribe the cores; blocks big enough for single-threaded GEMMs measured faster than
   OpenBLAS's own threading on the small per-image GEMMs of a CNN).

   Any thread count gives the same bits: the blocks are fixed by the shape alone (OpenBLAS's
   sum for an output element depends on the size of the GEMM it is part of), and the weight
   gradient is summed per group of blocks, CPU_CHUNKS groups at most, each group's blocks in
   order, then the groups in order; the threads share out the groups. */
#include <omp.h>
#include <stddef.h>
#include <string.h>

#include "backend/blas/backend_blas.h"
#include "backend/ref/ref_ops.h"

/* Columns (images x pixels) a conv block aims at: enough for sgemm to run near peak on the
   small 7x7 maps of a CNN's last stage, small enough for a block to stay in L2/L3. */
#ifndef NASH_CONV_COLS
#define NASH_CONV_COLS 784
#endif

typedef struct ConvPlan {
	int nb;          /* images per block */
	int nblocks;
	int groups;      /* of consecutive blocks, each with its partial weight gradient */
	size_t hw, ckk;  /* H*W, C*ks*ks */
	size_t cols;     /* nb*hw: columns of a block */
	size_t col;      /* floats of a block's im2col, [ckk, cols] (also its gradient) */
	size_t mat;      /* floats of a block's output or output gradient, [K, cols] */
	size_t dw;       /* floats of a group's partial weight gradient, [K, ckk] */
	size_t per_thread; /* col + mat */
	size_t shared;     /* groups * dw, at the workspace's start */
} ConvPlan;

/* By the shape only, never the thread count (the file's comment): small batches get smaller
   blocks, so that a batch of CPU_CHUNKS images or more makes CPU_CHUNKS blocks or more. */
static ConvPlan conv_plan(int N, int C, int H, int W, int K, int ks)
{
	ConvPlan p;
	p.hw = (size_t)H * W;
	p.ckk = (size_t)C * ks * ks;
	p.nb = p.hw >= NASH_CONV_COLS ? 1 : (int)((NASH_CONV_COLS + p.hw - 1) / p.hw);
	if (p.nb > (N + CPU_CHUNKS - 1) / CPU_CHUNKS)
		p.nb = (N + CPU_CHUNKS - 1) / CPU_CHUNKS;
	if (p.nb < 1)
		p.nb = 1;
	p.nblocks = N > 0 ? (N + p.nb - 1) / p.nb : 0;
	p.groups = p.nblocks < CPU_CHUNKS ? p.nblocks : CPU_CHUNKS;
	p.cols = (size_t)p.nb * p.hw;
	p.col = ks == 1 && p.nb == 1 ? 0 : p.ckk * p.cols;
	p.mat = p.nb == 1 ? 0 : (size_t)K * p.cols;
	p.dw = (size_t)K * p.ckk;
	p.per_thread = p.col + p.mat;
	p.shared = (size_t)p.groups * p.dw;
	return p;
}

size_t cpu_conv_workspace(Ctx *ctx, int N, int C, int H, int W, int K, int ks)
{
	ConvPlan p = conv_plan(N, C, H, W, K, ks);
	return p.shared + p.per_thread * (size_t)nthreads(ctx);
}

/* Threads the workspace can serve, at most `most` (0: too small for even one, use the
   reference). */
static int conv_threads(const Ctx *ctx, const ConvPlan *p, int most)
{
	int nt = nthreads(ctx);
	if (nt > most)
		nt = most;
	size_t have = ctx->workspace ? ctx->workspace_floats : 0;
	if (have < p->shared)
		return 0;
	if (p->per_thread == 0)
		return nt;
	size_t fit = (have - p->shared) / p->per_thread;
	return fit < (size_t)nt ? (int)fit : nt;
}

/* Thread t's scratch: a block's im2col, then its output (gradient) matrix. */
static float *thread_scratch(const Ctx *ctx, const ConvPlan *p, int t)
{
	return ctx->workspace + p->shared + (size_t)t * p->per_thread;
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

void cpu_conv_forward(Ctx *ctx, float *out, const float *in, const float *w, const float *b,
		      int N, int C, int H, int W, int K, int ks)
{
	ConvPlan p = conv_plan(N, C, H, W, K, ks);
	int nt = conv_threads(ctx, &p, p.nblocks);
	if (nt < 1) {
		if (N > 0)
			ref_conv_forward_f(out, in, w, b, N, C, H, W, K, ks);
		return;
	}
	blas_single();
#pragma omp parallel num_threads(nt)
	{
		float *col = thread_scratch(ctx, &p, omp_get_thread_num()), *mat = col + p.col;
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

/* Block blk's share of the backward pass: its weight gradient into pdw (added to it when
   accumulate, else written) and its data gradient added into din. */
static void conv_backward_block(float *din, float *pdw, int accumulate, float *col, float *mat,
				const ConvPlan *p, int blk, const float *dout, const float *in,
				const float *w, int N, int C, int H, int W, int K, int ks)
{
	int n0 = blk * p->nb, nb = N - n0 < p->nb ? N - n0 : p->nb;
	int cols = nb * (int)p->hw;
	const float *G = dout + (size_t)n0 * K * p->hw; /* [K, cols] */
	if (p->nb > 1) {
		for (int bi = 0; bi < nb; bi++)
			for (int k = 0; k < K; k++)
				memcpy(mat + (size_t)k * cols + (size_t)bi * p->hw, G + ((size_t)bi * K + k) * p->hw,
				       p->hw * sizeof *mat);
		G = mat;
	}
	const float *X = in + (size_t)n0 * C * p->hw;
	if (pdw) {
		if (p->col) {
			im2col(col, X, nb, C, H, W, ks);
			X = col;
		}
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, K, (int)p->ckk, cols, 1.0f, G, cols, X,
			    cols, accumulate ? 1.0f : 0.0f, pdw, (int)p->ckk);
	}
	if (!din)
		return;
	float *dX = din + (size_t)n0 * C * p->hw;
	if (!p->col) {
		cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)p->ckk, cols, K, 1.0f, w, (int)p->ckk,
			    G, cols, 1.0f, dX, cols);
	} else {
		cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)p->ckk, cols, K, 1.0f, w, (int)p->ckk,
			    G, cols, 0.0f, col, cols);
		col2im_add(dX, col, nb, C, H, W, ks);
	}
}

void cpu_conv_backward(Ctx *ctx, float *din, float *dw, float *db, const float *dout,
		       const float *in, const float *w, int N, int C, int H, int W, int K, int ks)
{
	ConvPlan p = conv_plan(N, C, H, W, K, ks);
	int nt = conv_threads(ctx, &p, p.groups);
	if (nt < 1 && N > 0) {
		ref_conv_backward_f(din, dw, db, dout, in, w, N, C, H, W, K, ks);
		return;
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
	if (nt > 0) {
#pragma omp parallel num_threads(nt)
		{
			float *col = thread_scratch(ctx, &p, omp_get_thread_num()), *mat = col + p.col;
#pragma omp for schedule(static)
			for (int g = 0; g < p.groups; g++) {
				float *pdw = dw ? ctx->workspace + (size_t)g * p.dw : NULL;
				int b0 = (int)((long)p.nblocks * g / p.groups), b1 = (int)((long)p.nblocks * (g + 1) / p.groups);
				for (int blk = b0; blk < b1; blk++)
					conv_backward_block(din, pdw, blk > b0, col, mat, &p, blk, dout, in, w, N, C, H, W,
							    K, ks);
			}
		}
	}
	if (!dw)
		return;
	/* the groups in order; none (an empty batch): the gradient is zero */
#pragma omp parallel for num_threads(nthreads(ctx)) if (p.dw > PAR_MIN) schedule(static)
	for (size_t i = 0; i < p.dw; i++) {
		float s = 0;
		for (int g = 0; g < p.groups; g++)
			s += ctx->workspace[(size_t)g * p.dw + i];
		dw[i] = s;
	}
}
