/* Thread count and results: every op of the CPU engines run at 1 thread and at several
   others on the same inputs, compared bit for bit. The reference and the im2col + OpenBLAS
   engine (cpu-blas) must give identical results for any thread count (their reductions run
   over a chunking fixed by the shapes alone, combined in a fixed order). oneDNN's
   convolutions (the default cpu engine) split their reductions by the thread count and
   oneDNN 2.6 has no deterministic mode: for them the differences are measured and printed,
   not failed (docs/DESIGN.md, "Determinism"); their other ops are cpu-blas's and are held to
   the same bit-for-bit rule. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "check.h"
#include "ops_common.h"

/* Thread counts compared with 1: the machine's cores need not be that many (OpenMP runs
   more threads than cores), and odd counts split the work unevenly. */
static const int thread_counts[] = {2, 3, 5};
#define N_COUNTS (int)(sizeof thread_counts / sizeof thread_counts[0])

/* What one run of an op family gives: its outputs, one after the other, with their names. */
#define MAX_OUTS 12
typedef struct Outs {
	int n;
	const char *name[MAX_OUTS];
	float *data[MAX_OUTS]; /* host copies, owned */
	size_t len[MAX_OUTS];
} Outs;

static void outs_add(Outs *o, Ctx *ctx, const char *name, const float *dev, size_t n)
{
	NashErr err = {0};
	CHECKF(ctx->be->sync(ctx, &err) == 0, "%s: sync: %s", name, err.msg);
	float *h = malloc((n ? n : 1) * sizeof *h);
	if (!h || o->n == MAX_OUTS)
		abort();
	ctx->be->download(ctx, h, dev, n * sizeof *h);
	o->name[o->n] = name;
	o->data[o->n] = h;
	o->len[o->n++] = n;
}

static void outs_free(Outs *o)
{
	for (int i = 0; i < o->n; i++)
		free(o->data[i]);
	o->n = 0;
}

/* The inputs of a case: the same for every thread count (the stream is reseeded per case). */
static float *inputs(Pool *P, uint64_t seed, size_t n, double scale)
{
	Rng r;
	rng_seed3(&r, seed, n, 0);
	float *p = hnew(P, n * sizeof *p);
	for (size_t i = 0; i < n; i++)
		p[i] = (float)(scale * rng_normal(&r));
	return p;
}

typedef void (*Family)(Ctx *ctx, const int *shape, Outs *o);

static void run_conv(Ctx *ctx, const int *s, Outs *o)
{
	int N = s[0], C = s[1], H = s[2], W = s[3], K = s[4], ks = s[5];
	const Backend *be = ctx->be;
	Pool P = {.ctx = ctx};
	size_t nin = (size_t)N * C * H * W, nout = (size_t)N * K * H * W, nw = (size_t)K * C * ks * ks;
	float *in = inputs(&P, 1, nin, 1), *w = inputs(&P, 2, nw, 1 / sqrt(C * ks * ks));
	float *b = inputs(&P, 3, K, 1), *dout = inputs(&P, 4, nout, 1), *din0 = inputs(&P, 5, nin, 1);
	size_t ws = be->conv_workspace(ctx, N, C, H, W, K, ks);
	ctx->workspace = ws ? dput(&P, NULL, ws * sizeof(float)) : NULL;
	ctx->workspace_floats = ws;
	float *d_in = dput(&P, in, nin * 4), *d_w = dput(&P, w, nw * 4), *d_b = dput(&P, b, K * 4);
	float *d_dout = dput(&P, dout, nout * 4), *d_out = dnan(&P, nout), *d_din = dput(&P, din0, nin * 4);
	float *d_dw = dnan(&P, nw), *d_db = dnan(&P, K);
	be->conv_forward(ctx, d_out, d_in, d_w, d_b, N, C, H, W, K, ks);
	be->conv_backward(ctx, d_din, d_dw, d_db, d_dout, d_in, d_w, N, C, H, W, K, ks);
	outs_add(o, ctx, "conv out", d_out, nout);
	outs_add(o, ctx, "conv din", d_din, nin);
	outs_add(o, ctx, "conv dw", d_dw, nw);
	outs_add(o, ctx, "conv db", d_db, K);
	ctx->workspace = NULL;
	ctx->workspace_floats = 0;
	pool_free(&P);
}

static void run_bn(Ctx *ctx, const int *s, Outs *o)
{
	int N = s[0], C = s[1], HW = s[2];
	const Backend *be = ctx->be;
	Pool P = {.ctx = ctx};
	size_t n = (size_t)N * C * HW;
	float *x = inputs(&P, 1, n, 3), *gamma = inputs(&P, 2, C, 1), *beta = inputs(&P, 3, C, 1);
	float *rm = inputs(&P, 4, C, 1), *rv = inputs(&P, 5, C, 1), *dout = inputs(&P, 6, n, 1);
	float *din0 = inputs(&P, 7, n, 1);
	for (int c = 0; c < C; c++)
		rv[c] = 1 + rv[c] * rv[c];
	float *d_x = dput(&P, x, n * 4), *d_g = dput(&P, gamma, C * 4), *d_b = dput(&P, beta, C * 4);
	float *d_out = dnan(&P, n), *d_mean = dnan(&P, C), *d_is = dnan(&P, C);
	float *d_rm = dput(&P, rm, C * 4), *d_rv = dput(&P, rv, C * 4), *d_ev = dnan(&P, n);
	float *d_dout = dput(&P, dout, n * 4), *d_din = dput(&P, din0, n * 4);
	float *d_dg = dnan(&P, C), *d_db = dnan(&P, C);
	be->bn_forward_train(ctx, d_out, d_mean, d_is, d_rm, d_rv, d_x, d_g, d_b, N, C, HW, 0.1f, 1e-5f);
	be->bn_forward_eval(ctx, d_ev, d_x, d_g, d_b, d_rm, d_rv, N, C, HW, 1e-5f);
	be->bn_backward(ctx, d_din, d_dg, d_db, d_dout, d_x, d_mean, d_is, d_g, N, C, HW);
	outs_add(o, ctx, "bn out", d_out, n);
	outs_add(o, ctx, "bn mean", d_mean, C);
	outs_add(o, ctx, "bn invstd", d_is, C);
	outs_add(o, ctx, "bn running_mean", d_rm, C);
	outs_add(o, ctx, "bn running_var", d_rv, C);
	outs_add(o, ctx, "bn eval out", d_ev, n);
	outs_add(o, ctx, "bn din", d_din, n);
	outs_add(o, ctx, "bn dgamma", d_dg, C);
	outs_add(o, ctx, "bn dbeta", d_db, C);
	pool_free(&P);
}

/* relu, add (and its lambda gradient), maxpool 2x2, gap, concat on [N, C, H, W] */
static void run_elementwise(Ctx *ctx, const int *s, Outs *o)
{
	int N = s[0], C = s[1], H = s[2], W = s[3], HW = H * W;
	const Backend *be = ctx->be;
	Pool P = {.ctx = ctx};
	size_t n = (size_t)N * C * HW, np = (size_t)N * C * (H / 2) * (W / 2);
	float *x = inputs(&P, 1, n, 1), *y = inputs(&P, 2, n, 1), *g = inputs(&P, 3, n, 1);
	float *acc = inputs(&P, 4, n, 1), *lambda = inputs(&P, 5, C, 1), *gp = inputs(&P, 6, np, 1);
	float *gg = inputs(&P, 7, (size_t)N * C, 1);
	float *d_x = dput(&P, x, n * 4), *d_y = dput(&P, y, n * 4), *d_g = dput(&P, g, n * 4);
	float *d_l = dput(&P, lambda, C * 4), *d_relu = dnan(&P, n), *d_drelu = dput(&P, acc, n * 4);
	float *d_add = dnan(&P, n), *d_da = dput(&P, acc, n * 4), *d_db = dput(&P, acc, n * 4);
	float *d_dl = dnan(&P, C), *d_pool = dnan(&P, np), *d_gp = dput(&P, gp, np * 4);
	float *d_dpool = dput(&P, acc, n * 4), *d_gap = dnan(&P, (size_t)N * C);
	float *d_gg = dput(&P, gg, (size_t)N * C * 4), *d_dgap = dput(&P, acc, n * 4);
	float *d_cat = dnan(&P, 2 * n), *d_dcat = dput(&P, acc, n * 4);
	be->relu_forward(ctx, d_relu, d_x, n);
	be->relu_backward(ctx, d_drelu, d_g, d_relu, n);
	be->add_forward(ctx, d_add, d_x, d_y, d_l, N, C, HW);
	be->add_backward(ctx, d_da, d_db, d_dl, d_g, d_x, d_y, d_l, N, C, HW);
	be->maxpool_forward(ctx, d_pool, d_x, N, C, H, W, 2);
	be->maxpool_backward(ctx, d_dpool, d_gp, d_x, N, C, H, W, 2);
	be->gap_forward(ctx, d_gap, d_x, N, C, HW);
	be->gap_backward(ctx, d_dgap, d_gg, N, C, HW);
	be->concat_forward(ctx, d_cat, d_x, N, C, 2 * C, 0, HW);
	be->concat_forward(ctx, d_cat, d_y, N, C, 2 * C, C, HW);
	float *d_cat2 = dput(&P, NULL, 2 * n * 4);
	be->upload(ctx, d_cat2, x, n * 4);
	be->upload(ctx, d_cat2 + n, y, n * 4);
	be->concat_backward(ctx, d_dcat, d_cat2, N, C, 2 * C, C, HW);
	outs_add(o, ctx, "relu", d_relu, n);
	outs_add(o, ctx, "relu din", d_drelu, n);
	outs_add(o, ctx, "add", d_add, n);
	outs_add(o, ctx, "add da", d_da, n);
	outs_add(o, ctx, "add db", d_db, n);
	outs_add(o, ctx, "add dlambda", d_dl, C);
	outs_add(o, ctx, "maxpool", d_pool, np);
	outs_add(o, ctx, "maxpool din", d_dpool, n);
	outs_add(o, ctx, "gap", d_gap, (size_t)N * C);
	outs_add(o, ctx, "gap din", d_dgap, n);
	outs_add(o, ctx, "concat", d_cat, 2 * n);
	outs_add(o, ctx, "concat din", d_dcat, n);
	pool_free(&P);
}

/* dense [N, I] -> [N, O], softmax cross-entropy on its output, SGD on its weights */
static void run_dense(Ctx *ctx, const int *s, Outs *o)
{
	int N = s[0], I = s[1], O = s[2];
	const Backend *be = ctx->be;
	Pool P = {.ctx = ctx};
	size_t nx = (size_t)N * I, ny = (size_t)N * O, nw = (size_t)O * I;
	float *x = inputs(&P, 1, nx, 1), *w = inputs(&P, 2, nw, 0.1), *b = inputs(&P, 3, O, 1);
	float *dout = inputs(&P, 4, ny, 1), *din0 = inputs(&P, 5, nx, 1), *v = inputs(&P, 6, nw, 1);
	int32_t *labels = hnew(&P, N * sizeof *labels);
	for (int i = 0; i < N; i++)
		labels[i] = i % O;
	float stats0[3] = {0, 0, 0};
	float *d_x = dput(&P, x, nx * 4), *d_w = dput(&P, w, nw * 4), *d_b = dput(&P, b, O * 4);
	float *d_out = dnan(&P, ny), *d_dout = dput(&P, dout, ny * 4), *d_din = dput(&P, din0, nx * 4);
	float *d_dw = dnan(&P, nw), *d_db = dnan(&P, O), *d_v = dput(&P, v, nw * 4);
	float *d_dl = dnan(&P, ny), *d_st = dput(&P, stats0, sizeof stats0);
	int32_t *d_lab = dput(&P, labels, N * sizeof *labels);
	be->dense_forward(ctx, d_out, d_x, d_w, d_b, N, I, O);
	be->dense_backward(ctx, d_din, d_dw, d_db, d_dout, d_x, d_w, N, I, O);
	be->softmax_xent(ctx, d_dl, d_st, d_out, d_lab, N, O, 0);
	be->sgd_update(ctx, d_w, d_v, d_dw, nw, 0.05f, 0.9f, 5e-4f, 1);
	outs_add(o, ctx, "dense out", d_out, ny);
	outs_add(o, ctx, "dense din", d_din, nx);
	outs_add(o, ctx, "dense dw", d_dw, nw);
	outs_add(o, ctx, "dense db", d_db, O);
	outs_add(o, ctx, "softmax_xent dlogits", d_dl, ny);
	outs_add(o, ctx, "softmax_xent stats", d_st, 3);
	outs_add(o, ctx, "sgd weights", d_w, nw);
	outs_add(o, ctx, "sgd momentum", d_v, nw);
	pool_free(&P);
}

/* the batch builder: n images [c, h, w] of bytes, shifted and flipped, normalised */
static void run_batch(Ctx *ctx, const int *s, Outs *o)
{
	int n = s[0], c = s[1], h = s[2], w = s[3];
	const Backend *be = ctx->be;
	Pool P = {.ctx = ctx};
	size_t img = (size_t)c * h * w;
	uint8_t *images = hnew(&P, (size_t)n * img), *labels = hnew(&P, n);
	Sample *smp = hnew(&P, n * sizeof *smp);
	Rng r;
	rng_seed3(&r, 7, n, 0);
	for (size_t i = 0; i < (size_t)n * img; i++)
		images[i] = (uint8_t)rng_below(&r, 256);
	for (int i = 0; i < n; i++) {
		labels[i] = (uint8_t)(i % 10);
		smp[i] = (Sample){.index = n - 1 - i, .dy = (int8_t)(i % 5 - 2), .dx = (int8_t)(i % 3 - 1),
				  .flip = (int8_t)(i % 2)};
	}
	float mean[3] = {0.3f, 0.4f, 0.5f}, std[3] = {0.2f, 0.25f, 0.3f};
	uint8_t *d_images = dput(&P, images, (size_t)n * img), *d_labels = dput(&P, labels, n);
	float *d_x = dnan(&P, (size_t)n * img);
	int32_t *d_y = dput(&P, NULL, n * sizeof(int32_t));
	be->make_batch(ctx, d_x, d_y, d_images, d_labels, smp, n, c, h, w, mean, std);
	outs_add(o, ctx, "make_batch", d_x, (size_t)n * img);
	pool_free(&P);
}

/* Largest |a - b| over n floats, relative to the largest |a|; *differ: how many differ. */
static double max_rel_diff(const float *a, const float *b, size_t n, size_t *differ)
{
	double worst = 0, scale = 0;
	*differ = 0;
	for (size_t i = 0; i < n; i++) {
		double d = fabs((double)a[i] - (double)b[i]);
		if (memcmp(&a[i], &b[i], sizeof a[i]) != 0)
			(*differ)++;
		worst = d > worst || isnan(d) ? d : worst;
		scale = fabs((double)a[i]) > scale ? fabs((double)a[i]) : scale;
	}
	return scale > 0 ? worst / scale : worst;
}

/* Runs family f on shape at 1 thread and at each of thread_counts, comparing every output.
   strict: a difference fails the test; otherwise it is printed as a measurement. */
static void compare_threads(const Backend *be, Family f, const char *what, const int *shape, int strict)
{
	Outs one = {0};
	Ctx c1 = {.be = be, .opts = BACKEND_OPTS_DEFAULT};
	c1.opts.threads = 1;
	NashErr err = {0};
	if (be->init && be->init(&c1, &err) != 0) {
		CHECKF(0, "%s: init: %s", be->name, err.msg);
		return;
	}
	f(&c1, shape, &one);
	for (int t = 0; t < N_COUNTS; t++) {
		Ctx ct = {.be = be, .opts = BACKEND_OPTS_DEFAULT};
		ct.opts.threads = thread_counts[t];
		if (be->init && be->init(&ct, &err) != 0) {
			CHECKF(0, "%s: init: %s", be->name, err.msg);
			break;
		}
		Outs many = {0};
		f(&ct, shape, &many);
		for (int i = 0; i < one.n; i++) {
			size_t differ;
			double rel = max_rel_diff(one.data[i], many.data[i], one.len[i], &differ);
			if (strict)
				CHECKF(differ == 0, "%s %s %s: %zu of %zu values differ between 1 and %d threads (at most %.3g of the largest)",
				       be->name, what, one.name[i], differ, one.len[i], thread_counts[t], rel);
			else if (differ)
				printf("# %s %s %s: %zu of %zu values differ between 1 and %d threads, by at most %.3g of the largest\n",
				       be->name, what, one.name[i], differ, one.len[i], thread_counts[t], rel);
		}
		outs_free(&many);
		if (be->fini)
			be->fini(&ct);
	}
	outs_free(&one);
	if (be->fini)
		be->fini(&c1);
}

/* Shapes: those of a search's networks (28x28 and 32x32 inputs, here in batches of 40 to be
   quick; batches of 128 on the 14x14 and 7x7 maps after pooling; 1x1, 3x3, 5x5 kernels) and
   odd ones (a batch that no thread count divides, a batch smaller than the threads). */
static const int conv_shapes[][6] = {
	{40, 1, 28, 28, 16, 3},  {40, 16, 28, 28, 16, 3},  {128, 32, 14, 14, 32, 3}, {128, 64, 7, 7, 64, 3},
	{40, 3, 32, 32, 16, 3},  {37, 12, 7, 7, 20, 5},    {37, 12, 7, 7, 20, 1},    {3, 5, 9, 9, 6, 3},
	{1, 4, 28, 28, 8, 3},
};
static const int bn_shapes[][3] = {{32, 16, 784}, {128, 64, 49}, {37, 7, 25}, {2, 3, 1}};
static const int ew_shapes[][4] = {{32, 16, 28, 28}, {37, 7, 6, 6}, {1, 3, 2, 2}};
static const int dense_shapes[][3] = {{128, 3136, 10}, {128, 64, 10}, {37, 500, 100}, {3, 7, 2}};
static const int batch_shapes[][4] = {{128, 1, 28, 28}, {128, 3, 32, 32}, {5, 3, 8, 8}};

/* max_conv: convolutions of more multiply-adds are left out (the reference's plain loops would
   take seconds on a search's shapes, and run on one thread whatever the count). */
static void compare_backend_threads(const Backend *be, int strict_conv, double max_conv)
{
	for (size_t i = 0; i < sizeof conv_shapes / sizeof conv_shapes[0]; i++) {
		const int *c = conv_shapes[i];
		if ((double)c[0] * c[1] * c[2] * c[3] * c[4] * c[5] * c[5] <= max_conv)
			compare_threads(be, run_conv, "conv", c, strict_conv);
	}
	for (size_t i = 0; i < sizeof batch_shapes / sizeof batch_shapes[0]; i++)
		compare_threads(be, run_batch, "batch", batch_shapes[i], 1);
	for (size_t i = 0; i < sizeof bn_shapes / sizeof bn_shapes[0]; i++)
		compare_threads(be, run_bn, "bn", bn_shapes[i], 1);
	for (size_t i = 0; i < sizeof ew_shapes / sizeof ew_shapes[0]; i++)
		compare_threads(be, run_elementwise, "elementwise", ew_shapes[i], 1);
	for (size_t i = 0; i < sizeof dense_shapes / sizeof dense_shapes[0]; i++)
		compare_threads(be, run_dense, "dense", dense_shapes[i], 1);
}

TEST(test_ref_any_threads) { compare_backend_threads(&nash_backend_ref, 1, 2e6); }
TEST(test_cpu_blas_any_threads) { compare_backend_threads(&nash_backend_cpu, 1, INFINITY); }
/* Measured, not required (the header's comment): oneDNN's convolutions. */
TEST(test_onednn_threads) { compare_backend_threads(&nash_backend_onednn, 0, INFINITY); }

int main(void)
{
	rng_seed(&rng, 12);
	RUN(test_ref_any_threads);
	RUN(test_cpu_blas_any_threads);
	RUN(test_onednn_threads);
	CHECK_DONE();
}
