/* Every op of a compute backend (lib/backend/backend.h) against the float reference on random
   inputs, outputs poisoned with NaN beforehand so an unwritten element fails, and guard bytes
   after every backend buffer so a write past its end fails. compare_backend() works through
   be->alloc/upload/download only, so it runs a device backend unchanged. The reference
   itself is checked by test_ops_grad.c (known answers, finite differences). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "check.h"
#include "data/data.h"
#include "ops_common.h"
#include "backend/ref/ref_ops.h"
#include "base/rng.h"

/* ---- a backend against the float reference ---- */

/* conv: float GEMMs sum C*ks*ks (forward) or N*H*W (dw) products in another order than the
   reference's double sums: errors ~ sqrt(terms) * 6e-8 * magnitude, far below 1e-5*rms. */
#define CONV_ATOL 1e-5
#define CONV_RTOL 1e-4
/* bfloat16 convolution inputs (cpu-bf16) are rounded to 8 significant bits (relative error up
   to 2^-9 each); products and sums are f32. Measured on these shapes and larger ones: errors
   of 2.4e-3 of the result's rms (rms over the elements), 1.7e-2 at worst; a wrong convolution
   (a tap or channel misplaced) is off by the rms itself. */
#define CONV_BF16_ATOL 3e-2
#define CONV_BF16_RTOL 1e-2
/* the convolution tolerances compare_backend uses */
static double conv_atol = CONV_ATOL, conv_rtol = CONV_RTOL;
/* elementwise ops and short sums: a few roundings at most */
#define EW_ATOL 1e-6
#define EW_RTOL 1e-5

static void cmp_conv(Ctx *ctx, int N, int C, int H, int W, int K, int ks, int bias, int want_din)
{
	const Backend *be = ctx->be;
	Pool P = {.ctx = ctx};
	size_t nin = (size_t)N * C * H * W, nout = (size_t)N * K * H * W, nw = (size_t)K * C * ks * ks;
	float *in = hrand(&P, nin, 1), *w = hrand(&P, nw, 1 / sqrt(C * ks * ks));
	float *b = bias ? hrand(&P, K, 1) : NULL, *dout = hrand(&P, nout, 1);
	float *din0 = hrand(&P, nin, 1);
	float *out_r = hnew(&P, nout * 4), *din_r = hcopy(&P, din0, nin);
	float *dw_r = hnew(&P, nw * 4), *db_r = hnew(&P, K * 4);
	ref_conv_forward_f(out_r, in, w, b, N, C, H, W, K, ks);
	ref_conv_backward_f(want_din ? din_r : NULL, dw_r, bias ? db_r : NULL, dout, in, w, N, C, H, W,
			    K, ks);

	size_t ws = be->conv_workspace(ctx, N, C, H, W, K, ks);
	ctx->workspace = ws ? dput(&P, NULL, ws * sizeof(float)) : NULL;
	ctx->workspace_floats = ws;
	float *d_in = dput(&P, in, nin * 4), *d_w = dput(&P, w, nw * 4);
	float *d_b = bias ? dput(&P, b, K * 4) : NULL, *d_dout = dput(&P, dout, nout * 4);
	float *d_out = dnan(&P, nout), *d_din = dput(&P, din0, nin * 4), *d_dw = dnan(&P, nw);
	float *d_db = bias ? dnan(&P, K) : NULL;
	be->conv_forward(ctx, d_out, d_in, d_w, d_b, N, C, H, W, K, ks);
	be->conv_backward(ctx, want_din ? d_din : NULL, d_dw, d_db, d_dout, d_in, d_w, N, C, H, W, K,
			  ks);
	char s[160];
	int l = snprintf(s, sizeof s, "%s conv N%d C%d %dx%d K%d k%d threads %d%s: ", be->name, N, C,
			 H, W, K, ks, ctx->opts.threads, bias ? " bias" : "");
	snprintf(s + l, sizeof s - l, "out");
	expect(&P, s, d_out, out_r, nout, conv_atol, conv_rtol);
	snprintf(s + l, sizeof s - l, "din");
	expect(&P, s, d_din, din_r, nin, conv_atol, conv_rtol);
	snprintf(s + l, sizeof s - l, "dw");
	expect(&P, s, d_dw, dw_r, nw, conv_atol, conv_rtol);
	if (bias) {
		snprintf(s + l, sizeof s - l, "db");
		expect(&P, s, d_db, db_r, K, conv_atol, conv_rtol);
	}
	ctx->workspace = NULL;
	ctx->workspace_floats = 0;
	pool_free(&P);
}

static void cmp_bn(Ctx *ctx, int N, int C, int HW)
{
	const Backend *be = ctx->be;
	Pool P = {.ctx = ctx};
	size_t n = (size_t)N * C * HW;
	float *x = hrand(&P, n, 3), *gamma = hrand(&P, C, 1), *beta = hrand(&P, C, 1);
	for (size_t i = 0; i < n; i++) /* an offset mean, as after a conv with bias */
		x[i] += 2;
	float *rm0 = hrand(&P, C, 1), *rv0 = hrand(&P, C, 1), *dout = hrand(&P, n, 1);
	float *din0 = hrand(&P, n, 1);
	for (int c = 0; c < C; c++)
		rv0[c] = 1 + rv0[c] * rv0[c];
	float *out_r = hnew(&P, n * 4), *mean_r = hnew(&P, C * 4), *is_r = hnew(&P, C * 4);
	float *rm_r = hcopy(&P, rm0, C), *rv_r = hcopy(&P, rv0, C), *ev_r = hnew(&P, n * 4);
	float *din_r = hcopy(&P, din0, n), *dg_r = hnew(&P, C * 4), *db_r = hnew(&P, C * 4);
	ref_bn_forward_train_f(out_r, mean_r, is_r, rm_r, rv_r, x, gamma, beta, N, C, HW, 0.1f, 1e-5f);
	ref_bn_forward_eval_f(ev_r, x, gamma, beta, rm0, rv0, N, C, HW, 1e-5f);
	/* the backward of both gets the reference's statistics */
	ref_bn_backward_f(din_r, dg_r, db_r, dout, x, mean_r, is_r, gamma, N, C, HW);

	float *d_x = dput(&P, x, n * 4), *d_g = dput(&P, gamma, C * 4), *d_b = dput(&P, beta, C * 4);
	float *d_out = dnan(&P, n), *d_mean = dnan(&P, C), *d_is = dnan(&P, C);
	float *d_rm = dput(&P, rm0, C * 4), *d_rv = dput(&P, rv0, C * 4), *d_ev = dnan(&P, n);
	be->bn_forward_train(ctx, d_out, d_mean, d_is, d_rm, d_rv, d_x, d_g, d_b, N, C, HW, 0.1f, 1e-5f);
	d_rm = dput(&P, rm0, C * 4);
	d_rv = dput(&P, rv0, C * 4);
	be->bn_forward_eval(ctx, d_ev, d_x, d_g, d_b, d_rm, d_rv, N, C, HW, 1e-5f);
	float *d_dout = dput(&P, dout, n * 4), *d_din = dput(&P, din0, n * 4);
	float *d_dg = dnan(&P, C), *d_db = dnan(&P, C);
	float *d_ms = dput(&P, mean_r, C * 4), *d_iss = dput(&P, is_r, C * 4);
	be->bn_backward(ctx, d_din, d_dg, d_db, d_dout, d_x, d_ms, d_iss, d_g, N, C, HW);

	/* train mode's own statistics, run again to check the running ones */
	float *d_rm2 = dput(&P, rm0, C * 4), *d_rv2 = dput(&P, rv0, C * 4), *d_o2 = dnan(&P, n);
	be->bn_forward_train(ctx, d_o2, NULL, NULL, d_rm2, d_rv2, d_x, d_g, d_b, N, C, HW, 0.1f, 1e-5f);

	char s[128];
	int l = snprintf(s, sizeof s, "%s bn N%d C%d HW%d: ", be->name, N, C, HW);
	const char *names[] = {"out", "mean", "invstd", "running_mean", "running_var", "eval out",
			       "din", "dgamma", "dbeta", "out (no stats)"};
	const float *dev[] = {d_out, d_mean, d_is, d_rm2, d_rv2, d_ev, d_din, d_dg, d_db, d_o2};
	const float *want[] = {out_r, mean_r, is_r, rm_r, rv_r, ev_r, din_r, dg_r, db_r, out_r};
	size_t sizes[] = {n, C, C, C, C, n, n, C, C, n};
	for (int i = 0; i < 10; i++) {
		snprintf(s + l, sizeof s - l, "%s", names[i]);
		/* a reduction's tolerance: statistics and parameter gradients sum N*HW terms (in a
		   different order: rows in float, then double), and out and din inherit their errors */
		expect(&P, s, dev[i], want[i], sizes[i], CONV_ATOL, CONV_RTOL);
	}
	pool_free(&P);
}

/* relu on n = N*C*HW elements, and the per-channel lambda-add on [N, C, HW] */
static void cmp_elementwise(Ctx *ctx, int N, int C, int HW)
{
	const Backend *be = ctx->be;
	Pool P = {.ctx = ctx};
	size_t n = (size_t)N * C * HW;
	float *x = hrand(&P, n, 1), *y = hrand(&P, n, 1), *g = hrand(&P, n, 1), *acc = hrand(&P, n, 1);
	float *acc2 = hrand(&P, n, 1), *lambda = hrand(&P, C, 1);
	float *relu_r = hnew(&P, n * 4), *drelu_r = hcopy(&P, acc, n), *add_r = hnew(&P, n * 4);
	float *da_r = hcopy(&P, acc, n), *db_r = hcopy(&P, acc2, n), *dl_r = hnew(&P, C * 4);
	float *dself_r = hcopy(&P, acc, n), *dself_l = hnew(&P, C * 4);
	ref_relu_forward_f(relu_r, x, n);
	ref_relu_backward_f(drelu_r, g, relu_r, n);
	ref_add_forward_f(add_r, x, y, lambda, N, C, HW);
	ref_add_backward_f(da_r, db_r, dl_r, g, x, y, lambda, N, C, HW);
	ref_add_backward_f(dself_r, dself_r, dself_l, g, x, x, lambda, N, C, HW); /* a node added to itself */

	float *d_x = dput(&P, x, n * 4), *d_y = dput(&P, y, n * 4), *d_g = dput(&P, g, n * 4);
	float *d_l = dput(&P, lambda, C * 4), *d_relu = dnan(&P, n), *d_drelu = dput(&P, acc, n * 4);
	float *d_add = dnan(&P, n), *d_da = dput(&P, acc, n * 4), *d_db = dput(&P, acc2, n * 4);
	float *d_dl = dnan(&P, C), *d_self = dput(&P, acc, n * 4), *d_dsl = dnan(&P, C);
	float *d_relu_r = dput(&P, relu_r, n * 4);
	be->relu_forward(ctx, d_relu, d_x, n);
	be->relu_backward(ctx, d_drelu, d_g, d_relu_r, n);
	be->add_forward(ctx, d_add, d_x, d_y, d_l, N, C, HW);
	be->add_backward(ctx, d_da, d_db, d_dl, d_g, d_x, d_y, d_l, N, C, HW);
	be->add_backward(ctx, d_self, d_self, d_dsl, d_g, d_x, d_x, d_l, N, C, HW);
	char s[96];
	int l = snprintf(s, sizeof s, "%s elementwise N%d C%d HW%d: ", be->name, N, C, HW);
	const char *names[] = {"relu", "relu din", "add", "add da", "add db", "add dlambda",
			       "add to itself da", "add to itself dlambda"};
	const float *dev[] = {d_relu, d_drelu, d_add, d_da, d_db, d_dl, d_self, d_dsl};
	const float *want[] = {relu_r, drelu_r, add_r, da_r, db_r, dl_r, dself_r, dself_l};
	size_t sizes[] = {n, n, n, n, n, C, n, C};
	for (int i = 0; i < 8; i++) {
		snprintf(s + l, sizeof s - l, "%s", names[i]);
		/* dlambda sums N*HW products per channel: a reduction's tolerance, like conv's */
		int reduction = i == 5 || i == 7;
		expect(&P, s, dev[i], want[i], sizes[i], reduction ? CONV_ATOL : EW_ATOL,
		       reduction ? CONV_RTOL : EW_RTOL);
	}
	pool_free(&P);
}

/* maxpool on values with many ties (multiples of 0.5, as after a ReLU): the first-maximum
   rule must agree exactly */
static void cmp_pool(Ctx *ctx, int N, int C, int H, int W, int k)
{
	const Backend *be = ctx->be;
	Pool P = {.ctx = ctx};
	size_t nin = (size_t)N * C * H * W, nout = (size_t)N * C * (H / k) * (W / k);
	float *x = hrand(&P, nin, 1), *g = hrand(&P, nout, 1), *acc = hrand(&P, nin, 1);
	for (size_t i = 0; i < nin; i++)
		x[i] = x[i] < 0 ? 0 : roundf(x[i] * 2) / 2;
	float *out_r = hnew(&P, nout * 4 + 4), *din_r = hcopy(&P, acc, nin);
	ref_maxpool_forward_f(out_r, x, N, C, H, W, k);
	ref_maxpool_backward_f(din_r, g, x, N, C, H, W, k);
	float *d_x = dput(&P, x, nin * 4), *d_g = dput(&P, g, nout * 4), *d_out = dnan(&P, nout);
	float *d_din = dput(&P, acc, nin * 4);
	be->maxpool_forward(ctx, d_out, d_x, N, C, H, W, k);
	be->maxpool_backward(ctx, d_din, d_g, d_x, N, C, H, W, k);
	char s[96];
	int l = snprintf(s, sizeof s, "%s maxpool N%d C%d %dx%d k%d: ", be->name, N, C, H, W, k);
	snprintf(s + l, sizeof s - l, "out");
	expect(&P, s, d_out, out_r, nout, 0, 0);
	snprintf(s + l, sizeof s - l, "din");
	expect(&P, s, d_din, din_r, nin, EW_ATOL, EW_RTOL);
	pool_free(&P);
}

/* concat (two inputs filling out), gap, dense */
static void cmp_misc(Ctx *ctx, int N, int C1, int C2, int HW, int O, int bias)
{
	const Backend *be = ctx->be;
	Pool P = {.ctx = ctx};
	int Co = C1 + C2, I = Co * HW;
	size_t n1 = (size_t)N * C1 * HW, n2 = (size_t)N * C2 * HW, no = (size_t)N * Co * HW;
	float *a = hrand(&P, n1, 1), *b = hrand(&P, n2, 1), *g = hrand(&P, no, 1);
	float *acc = hrand(&P, no, 1), *gg = hrand(&P, (size_t)N * Co, 1);
	float *w = hrand(&P, (size_t)O * I, 0.1), *bi = bias ? hrand(&P, O, 1) : NULL;
	float *gd = hrand(&P, (size_t)N * O, 1), *accd = hrand(&P, no, 1);
	float *cat_r = hnew(&P, no * 4), *da_r = hcopy(&P, acc, n1), *db_r = hcopy(&P, acc + n1, n2);
	float *gap_r = hnew(&P, (size_t)N * Co * 4), *dgap_r = hcopy(&P, acc, no);
	float *den_r = hnew(&P, (size_t)N * O * 4), *dden_r = hcopy(&P, accd, no);
	float *dw_r = hnew(&P, (size_t)O * I * 4), *dbi_r = hnew(&P, O * 4 + 4);
	ref_concat_forward_f(cat_r, a, N, C1, Co, 0, HW);
	ref_concat_forward_f(cat_r, b, N, C2, Co, C1, HW);
	ref_concat_backward_f(da_r, g, N, C1, Co, 0, HW);
	ref_concat_backward_f(db_r, g, N, C2, Co, C1, HW);
	ref_gap_forward_f(gap_r, cat_r, N, Co, HW);
	ref_gap_backward_f(dgap_r, gg, N, Co, HW);
	ref_dense_forward_f(den_r, cat_r, w, bi, N, I, O);
	ref_dense_backward_f(dden_r, dw_r, bias ? dbi_r : NULL, gd, cat_r, w, N, I, O);

	float *d_a = dput(&P, a, n1 * 4), *d_b = dput(&P, b, n2 * 4), *d_g = dput(&P, g, no * 4);
	float *d_cat = dnan(&P, no), *d_da = dput(&P, acc, n1 * 4), *d_db = dput(&P, acc + n1, n2 * 4);
	be->concat_forward(ctx, d_cat, d_a, N, C1, Co, 0, HW);
	be->concat_forward(ctx, d_cat, d_b, N, C2, Co, C1, HW);
	be->concat_backward(ctx, d_da, d_g, N, C1, Co, 0, HW);
	be->concat_backward(ctx, d_db, d_g, N, C2, Co, C1, HW);
	float *d_catr = dput(&P, cat_r, no * 4), *d_gap = dnan(&P, (size_t)N * Co);
	float *d_gg = dput(&P, gg, (size_t)N * Co * 4), *d_dgap = dput(&P, acc, no * 4);
	be->gap_forward(ctx, d_gap, d_catr, N, Co, HW);
	be->gap_backward(ctx, d_dgap, d_gg, N, Co, HW);
	float *d_w = dput(&P, w, (size_t)O * I * 4), *d_bi = bias ? dput(&P, bi, O * 4) : NULL;
	float *d_den = dnan(&P, (size_t)N * O), *d_gd = dput(&P, gd, (size_t)N * O * 4);
	float *d_dden = dput(&P, accd, no * 4), *d_dw = dnan(&P, (size_t)O * I);
	float *d_dbi = bias ? dnan(&P, O) : NULL;
	be->dense_forward(ctx, d_den, d_catr, d_w, d_bi, N, I, O);
	be->dense_backward(ctx, d_dden, d_dw, d_dbi, d_gd, d_catr, d_w, N, I, O);

	char s[128];
	int l = snprintf(s, sizeof s, "%s concat/gap/dense N%d C%d+%d HW%d O%d%s: ", be->name, N, C1,
			 C2, HW, O, bias ? " bias" : "");
	const char *names[] = {"concat", "concat da", "concat db", "gap", "gap din", "dense",
			       "dense din", "dense dw", "dense db"};
	const float *dev[] = {d_cat, d_da, d_db, d_gap, d_dgap, d_den, d_dden, d_dw, d_dbi};
	const float *want[] = {cat_r, da_r, db_r, gap_r, dgap_r, den_r, dden_r, dw_r, dbi_r};
	size_t sizes[] = {no, n1, n2, (size_t)N * Co, no, (size_t)N * O, no, (size_t)O * I, O};
	for (int i = 0; i < (bias ? 9 : 8); i++) {
		snprintf(s + l, sizeof s - l, "%s", names[i]);
		/* dense: float GEMM sums, like conv; the rest: exact copies or short sums */
		expect(&P, s, dev[i], want[i], sizes[i], i >= 5 ? CONV_ATOL : EW_ATOL,
		       i >= 5 ? CONV_RTOL : EW_RTOL);
	}
	pool_free(&P);
}

static void cmp_xent_sgd(Ctx *ctx, int N, int K, size_t np, float smoothing)
{
	const Backend *be = ctx->be;
	Pool P = {.ctx = ctx};
	float *logits = hrand(&P, (size_t)N * K, 3), stats0[3] = {1.5f, 2, 7};
	int32_t *labels = hnew(&P, N * sizeof *labels);
	for (int i = 0; i < N; i++)
		labels[i] = (int32_t)rng_below(&rng, K);
	if (N > 1) /* a row of equal logits: the first maximum is the prediction */
		for (int k = 0; k < K; k++)
			logits[K + k] = 0.5f;
	float *dl_r = hnew(&P, (size_t)N * K * 4), *st_r = hcopy(&P, stats0, 3);
	float *st2_r = hcopy(&P, stats0, 3);
	ref_softmax_xent_f(dl_r, st_r, logits, labels, N, K, smoothing);
	ref_softmax_xent_f(NULL, st2_r, logits, labels, N, K, smoothing);
	float *d_lg = dput(&P, logits, (size_t)N * K * 4), *d_dl = dnan(&P, (size_t)N * K);
	int32_t *d_lab = dput(&P, labels, N * sizeof *labels);
	float *d_st = dput(&P, stats0, 12), *d_st2 = dput(&P, stats0, 12);
	be->softmax_xent(ctx, d_dl, d_st, d_lg, d_lab, N, K, smoothing);
	be->softmax_xent(ctx, NULL, d_st2, d_lg, d_lab, N, K, smoothing);

	float *p0 = hrand(&P, np, 1), *v0 = hrand(&P, np, 1), *gr = hrand(&P, np, 1);
	float *p_r[2], *v_r[2], *d_p[2], *d_v[2];
	float *d_gr = dput(&P, gr, np * 4);
	for (int nest = 0; nest < 2; nest++) {
		p_r[nest] = hcopy(&P, p0, np);
		v_r[nest] = hcopy(&P, v0, np);
		ref_sgd_update_f(p_r[nest], v_r[nest], gr, np, 0.05f, 0.9f, nest ? 5e-4f : 0, nest);
		d_p[nest] = dput(&P, p0, np * 4);
		d_v[nest] = dput(&P, v0, np * 4);
		be->sgd_update(ctx, d_p[nest], d_v[nest], d_gr, np, 0.05f, 0.9f, nest ? 5e-4f : 0, nest);
	}
	/* the weight average (--ema): decay 0.9, then 0 (a copy) */
	float *avg_r[2], *d_avg[2];
	for (int k = 0; k < 2; k++) {
		avg_r[k] = hcopy(&P, v0, np);
		ref_ema_update_f(avg_r[k], gr, np, k ? 0.0f : 0.9f);
		d_avg[k] = dput(&P, v0, np * 4);
		be->ema_update(ctx, d_avg[k], d_gr, np, k ? 0.0f : 0.9f);
	}
	char s[96];
	int l = snprintf(s, sizeof s, "%s softmax_xent N%d K%d smoothing %g: ", be->name, N, K, smoothing);
	snprintf(s + l, sizeof s - l, "dlogits");
	expect(&P, s, d_dl, dl_r, (size_t)N * K, EW_ATOL, EW_RTOL);
	snprintf(s + l, sizeof s - l, "stats");
	expect(&P, s, d_st, st_r, 3, 1e-5, 1e-5);
	snprintf(s + l, sizeof s - l, "stats without dlogits");
	expect(&P, s, d_st2, st2_r, 3, 1e-5, 1e-5);
	for (int nest = 0; nest < 2; nest++) {
		l = snprintf(s, sizeof s, "%s sgd n%zu nesterov %d: ", be->name, np, nest);
		snprintf(s + l, sizeof s - l, "p");
		expect(&P, s, d_p[nest], p_r[nest], np, EW_ATOL, EW_RTOL);
		snprintf(s + l, sizeof s - l, "v");
		expect(&P, s, d_v[nest], v_r[nest], np, EW_ATOL, EW_RTOL);
	}
	for (int k = 0; k < 2; k++) {
		snprintf(s, sizeof s, "%s ema_update n%zu decay %s", be->name, np, k ? "0" : "0.9");
		expect(&P, s, d_avg[k], avg_r[k], np, k ? 0 : EW_ATOL, k ? 0 : EW_RTOL); /* decay 0: exact */
	}
	pool_free(&P);
}

static void cmp_make_batch(Ctx *ctx, int n, int c, int h, int w)
{
	const Backend *be = ctx->be;
	Pool P = {.ctx = ctx};
	int n_img = 11, pad = data_crop_pad(h);
	size_t img = (size_t)c * h * w;
	uint8_t *images = hnew(&P, n_img * img), *labels = hnew(&P, n_img);
	for (size_t i = 0; i < n_img * img; i++)
		images[i] = (uint8_t)rng_below(&rng, 256);
	for (int i = 0; i < n_img; i++)
		labels[i] = (uint8_t)rng_below(&rng, 10);
	Sample *sm = hnew(&P, n * sizeof *sm);
	for (int i = 0; i < n; i++) {
		sm[i].index = (int32_t)rng_below(&rng, n_img);
		sm[i].dy = (int8_t)((int)rng_below(&rng, 2 * pad + 1) - pad);
		sm[i].dx = (int8_t)((int)rng_below(&rng, 2 * pad + 1) - pad);
		sm[i].flip = (int8_t)rng_below(&rng, 2);
	}
	float mean[3] = {0.3f, 0.5f, 0.4f}, std[3] = {0.25f, 0.3f, 0.2f};
	float *x_r = hnew(&P, n * img * 4);
	int32_t *y_r = hnew(&P, n * 4), *y_got = hnew(&P, n * 4), *y_poison = hnew(&P, n * 4);
	ref_make_batch(NULL, x_r, y_r, images, labels, sm, n, c, h, w, mean, std);
	for (int i = 0; i < n; i++)
		y_poison[i] = -12345;
	float *d_x = dnan(&P, n * img);
	int32_t *d_y = dput(&P, y_poison, n * 4);
	uint8_t *d_img = dput(&P, images, n_img * img), *d_lab = dput(&P, labels, n_img);
	Sample *d_sm = dput(&P, sm, n * sizeof *sm);
	be->make_batch(ctx, d_x, d_y, d_img, d_lab, d_sm, n, c, h, w, mean, std);
	char s[96];
	snprintf(s, sizeof s, "%s make_batch n%d %dx%dx%d", be->name, n, c, h, w);
	expect(&P, s, d_x, x_r, n * img, EW_ATOL, EW_RTOL);
	be->download(ctx, y_got, d_y, n * 4);
	CHECKF(!memcmp(y_got, y_r, n * 4), "%s: labels differ", s);
	pool_free(&P);
}

/* upload/download round trip; zero of a large, unaligned range leaves its neighbours alone */
static void cmp_memory(Ctx *ctx, size_t n)
{
	Pool P = {.ctx = ctx};
	unsigned char *h = hnew(&P, n), *got = hnew(&P, n);
	for (size_t i = 0; i < n; i++)
		h[i] = (unsigned char)(i % 251 + 1);
	unsigned char *d = dput(&P, h, n);
	size_t a = 3, len = n - 3 - 13;
	ctx->be->zero(ctx, d + a, len);
	NashErr err = {0};
	CHECKF(ctx->be->sync(ctx, &err) == 0, "sync: %s", err.msg);
	ctx->be->download(ctx, got, d, n);
	size_t bad = 0;
	for (size_t i = 0; i < n; i++)
		bad += got[i] != (i >= a && i < a + len ? 0 : h[i]);
	CHECKF(bad == 0, "%s: zero of [%zu, %zu) in %zu bytes: %zu bytes wrong", ctx->be->name, a,
	       a + len, n, bad);
	pool_free(&P);
}

/* Every op of be against the float reference. */
static void compare_backend(const Backend *be, int threads)
{
	Ctx ctx = {.be = be, .opts = BACKEND_OPTS_DEFAULT};
	ctx.opts.threads = threads;
	NashErr err = {0};
	worst_frac = worst_conv_frac = 0;
	worst_where[0] = worst_conv_where[0] = 0;
	if (be->init && be->init(&ctx, &err) != 0) {
		CHECKF(0, "%s: init: %s", be->name, err.msg);
		return;
	}
	cmp_memory(&ctx, 100);
	cmp_memory(&ctx, (3 << 20) + 77);
	/* N, C, H, W, K, ks, bias, din */
	static const int conv[][8] = {
		{1, 1, 1, 1, 1, 1, 0, 1},   {1, 3, 5, 7, 4, 3, 1, 1},  {2, 5, 6, 6, 7, 5, 0, 1},
		{3, 13, 9, 11, 6, 1, 1, 1}, {17, 7, 7, 7, 10, 3, 0, 1}, {3, 2, 28, 28, 5, 3, 1, 0},
		{2, 3, 2, 3, 4, 5, 1, 1},   {5, 6, 4, 4, 3, 1, 0, 1},   {33, 4, 3, 3, 5, 3, 1, 1},
		/* 16 channels or more, 3x3: oneDNN's Winograd kernels (onednn_conv.c) */
		{4, 16, 14, 14, 16, 3, 1, 1}, {3, 32, 7, 9, 24, 3, 0, 1}, {2, 17, 5, 5, 33, 3, 1, 1},
		{2, 64, 28, 28, 64, 3, 1, 1},
	};
	for (size_t i = 0; i < sizeof conv / sizeof conv[0]; i++) {
		const int *t = conv[i];
		cmp_conv(&ctx, t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7]);
	}
	cmp_bn(&ctx, 1, 1, 1);
	cmp_bn(&ctx, 2, 3, 5);
	cmp_bn(&ctx, 16, 7, 49);
	cmp_bn(&ctx, 3, 5, 784);
	cmp_elementwise(&ctx, 1, 1, 1);
	cmp_elementwise(&ctx, 1, 37, 1);
	cmp_elementwise(&ctx, 3, 5, 7);
	cmp_elementwise(&ctx, 7, 31, 461); /* past the CPU backend's parallel threshold */
	cmp_pool(&ctx, 2, 3, 7, 7, 2);
	cmp_pool(&ctx, 1, 5, 5, 8, 2);
	cmp_pool(&ctx, 3, 2, 7, 8, 3);
	cmp_pool(&ctx, 16, 32, 28, 28, 2);
	cmp_misc(&ctx, 1, 1, 2, 1, 1, 1);
	cmp_misc(&ctx, 3, 5, 3, 9, 10, 0);
	cmp_misc(&ctx, 16, 8, 8, 16, 10, 1);
	cmp_misc(&ctx, 37, 30, 20, 49, 10, 1); /* dense big enough for the CPU's threads */
	cmp_xent_sgd(&ctx, 1, 10, 1, 0);
	cmp_xent_sgd(&ctx, 37, 10, 155627, 0);
	cmp_xent_sgd(&ctx, 5, 100, 33, 0);
	cmp_xent_sgd(&ctx, 37, 10, 1, 0.1f); /* label smoothing */
	cmp_make_batch(&ctx, 7, 1, 28, 28);
	cmp_make_batch(&ctx, 4, 3, 32, 32);
	if (be->fini)
		be->fini(&ctx);
	printf("# %s, %d threads: worst error %.3g of its tolerance (%s); of a convolution %.3g (%s)\n",
	       be->name, threads, worst_frac, worst_where, worst_conv_frac, worst_conv_where);
}

TEST(test_ref_vs_ref) { compare_backend(&nash_backend_ref, 0); } /* the harness itself */
TEST(test_cpu_vs_ref) { compare_backend(&nash_backend_cpu, 0); }
TEST(test_cpu_vs_ref_3_threads) { compare_backend(&nash_backend_cpu, 3); }
/* oneDNN's kernels sum in their own order (blocked over channels and pixels, across threads):
   the float-GEMM tolerances above hold for them too. */
TEST(test_onednn_vs_ref) { compare_backend(&nash_backend_onednn, 0); }
TEST(test_onednn_vs_ref_3_threads) { compare_backend(&nash_backend_onednn, 3); }
TEST(test_onednn_bf16_vs_ref)
{
	conv_atol = CONV_BF16_ATOL;
	conv_rtol = CONV_BF16_RTOL;
	compare_backend(&nash_backend_onednn_bf16, 0);
	conv_atol = CONV_ATOL;
	conv_rtol = CONV_RTOL;
}

/* cpu-bf16 where the processor has bfloat16 instructions (its init says when not). */
static int bf16_usable(void)
{
	Ctx ctx = {.be = &nash_backend_onednn_bf16};
	NashErr err = {0};
	if (nash_backend_onednn_bf16.init(&ctx, &err) != 0) {
		printf("# %s: test_onednn_bf16_vs_ref not run\n", err.msg);
		return 0;
	}
	nash_backend_onednn_bf16.fini(&ctx);
	return 1;
}

/* Conv with less workspace than asked for still computes the right thing (the CPU backend
   falls back to the reference loops rather than write past the end). */
TEST(test_cpu_small_workspace)
{
	Ctx ctx = {.be = &nash_backend_cpu, .opts = BACKEND_OPTS_DEFAULT};
	ctx.opts.threads = 2;
	Pool P = {.ctx = &ctx};
	int N = 4, C = 3, H = 5, W = 5, K = 2;
	size_t nin = (size_t)N * C * H * W, nout = (size_t)N * K * H * W;
	float *in = hrand(&P, nin, 1), *w = hrand(&P, (size_t)K * C * 9, 0.3), *dout = hrand(&P, nout, 1);
	float *out_r = hnew(&P, nout * 4), *dw_r = hnew(&P, (size_t)K * C * 36);
	float *din_r = hnew(&P, nin * 4), *din = hnew(&P, nin * 4);
	ref_conv_forward_f(out_r, in, w, NULL, N, C, H, W, K, 3);
	ref_conv_backward_f(din_r, dw_r, NULL, dout, in, w, N, C, H, W, K, 3);
	float *out = dnan(&P, nout), *dw = dnan(&P, (size_t)K * C * 9);
	ctx.workspace = NULL;
	ctx.workspace_floats = 0;
	nash_backend_cpu.conv_forward(&ctx, out, in, w, NULL, N, C, H, W, K, 3);
	nash_backend_cpu.conv_backward(&ctx, din, dw, NULL, dout, in, w, N, C, H, W, K, 3);
	expect(&P, "conv without workspace: out", out, out_r, nout, CONV_ATOL, CONV_RTOL);
	expect(&P, "conv without workspace: din", din, din_r, nin, CONV_ATOL, CONV_RTOL);
	expect(&P, "conv without workspace: dw", dw, dw_r, (size_t)K * C * 9, CONV_ATOL, CONV_RTOL);
	pool_free(&P);
}

TEST(test_backend_find)
{
	NashErr err = {0};
	CHECK(backend_find("ref", &err) == &nash_backend_ref);
	CHECK(backend_find("cpu", &err) == &nash_backend_onednn);
	CHECK(backend_find("cpu-blas", &err) == &nash_backend_cpu);
	CHECK(backend_find("cpu-bf16", &err) == &nash_backend_onednn_bf16);
	const Backend *a = backend_find("auto", &err);
	CHECK(a == (nash_backend_cuda() ? nash_backend_cuda() : &nash_backend_onednn));
	nash_err_clear(&err);
	CHECK(backend_find("tpu", &err) == NULL);
	CHECK(err.code == NASH_ERR_USAGE && strstr(err.msg, "tpu") && strstr(err.msg, "cpu"));
	nash_err_clear(&err);
	const Backend *c = backend_find("cuda", &err);
	if (nash_backend_cuda())
		CHECK(c == nash_backend_cuda());
	else
#ifdef NASH_HAVE_CUDA /* a CUDA build on a machine without a GPU */
		CHECK(!c && err.code == NASH_ERR_RUNTIME && strstr(err.msg, "no GPU"));
#else
		CHECK(!c && err.code == NASH_ERR_USAGE && strstr(err.msg, "without CUDA"));
#endif
	CHECK(!strcmp(nash_backend_ref.name, "ref") && !strcmp(nash_backend_onednn.name, "cpu") &&
	      !strcmp(nash_backend_cpu.name, "cpu-blas"));
}

/* A device backend, when this build has one and a device is there. */
TEST(test_cuda_vs_ref) { compare_backend(nash_backend_cuda(), 0); }

static int cuda_usable(void)
{
	const Backend *be = nash_backend_cuda();
	Ctx ctx = {.be = be, .opts = BACKEND_OPTS_DEFAULT};
	NashErr err = {0};
	if (!be) {
		printf("# no CUDA backend (not built, or no GPU visible): test_cuda_vs_ref not run\n");
		return 0;
	}
	if (be->init && be->init(&ctx, &err) != 0) {
		printf("# CUDA backend without a usable device (%s): test_cuda_vs_ref not run\n", err.msg);
		return 0;
	}
	if (be->fini)
		be->fini(&ctx);
	return 1;
}

int main(void)
{
	rng_seed(&rng, 20240601);
	RUN(test_ref_vs_ref);
	RUN(test_cpu_vs_ref);
	RUN(test_cpu_vs_ref_3_threads);
	RUN(test_onednn_vs_ref);
	RUN(test_onednn_vs_ref_3_threads);
	if (bf16_usable())
		RUN(test_onednn_bf16_vs_ref);
	RUN(test_cpu_small_workspace);
	RUN(test_backend_find);
	if (cuda_usable())
		RUN(test_cuda_vs_ref);
	CHECK_DONE();
}
