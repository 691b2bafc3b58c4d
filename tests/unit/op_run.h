/* Each op's run on a backend, for the cases of op_cases.h: inputs drawn from the case's own
   random stream (the same on every backend and thread count), outputs poisoned with NaN
   beforehand so an unwritten element shows, accumulated gradients starting from random values
   so "+=" is checked, and every backend buffer fenced by guard bytes (pool_free). Works through
   be->alloc/upload/download only, so it runs a device backend unchanged. What the outputs are
   compared with, and how closely, is each test program's (by the outputs' enum Tol). */
#ifndef NASH_OP_RUN_H
#define NASH_OP_RUN_H

#include "backend/ref/ref_ops.h"
#include "data/data.h"
#include "ops_common.h"

/* conv {N, C, H, W, K, ks}; F_BIAS, F_NO_DIN, F_NO_WS */
static void run_conv(Ctx *ctx, const OpCase *c, Rng *r, Outs *o)
{
	const Backend *be = ctx->be;
	int N = c->s[0], C = c->s[1], H = c->s[2], W = c->s[3], K = c->s[4], ks = c->s[5];
	int bias = c->flags & F_BIAS, want_din = !(c->flags & F_NO_DIN);
	Pool P = {.ctx = ctx};
	size_t nin = (size_t)N * C * H * W, nout = (size_t)N * K * H * W, nw = (size_t)K * C * ks * ks;
	float *in = drand(&P, r, nin, 1, NULL), *w = drand(&P, r, nw, 1 / sqrt(C * ks * ks), NULL);
	float *b = bias ? drand(&P, r, K, 1, NULL) : NULL, *dout = drand(&P, r, nout, 1, NULL);
	float *din = drand(&P, r, nin, 1, NULL), *out = dnan(&P, nout), *dw = dnan(&P, nw);
	float *db = bias ? dnan(&P, K) : NULL;
	/* A workspace of exactly the announced size, guarded, unless the context has one (the
	   CUDA test sizes one for all its shapes first, as the engine does) or the case has none
	   (the backend must cope: the CPU engine falls back to the reference loops, oneDNN and
	   CUDA plan the shape at first use with their own scratch). */
	float *ws0 = ctx->workspace;
	size_t ws0_floats = ctx->workspace_floats;
	if (c->flags & F_NO_WS) {
		ctx->workspace = NULL;
		ctx->workspace_floats = 0;
	} else if (!ctx->workspace) {
		size_t ws = be->conv_workspace(ctx, N, C, H, W, K, ks);
		ctx->workspace = ws ? dput(&P, NULL, ws * sizeof(float)) : NULL;
		ctx->workspace_floats = ws;
	}
	be->conv_forward(ctx, out, in, w, b, N, C, H, W, K, ks);
	be->conv_backward(ctx, want_din ? din : NULL, dw, db, dout, in, w, N, C, H, W, K, ks);
	ctx->workspace = ws0;
	ctx->workspace_floats = ws0_floats;
	outs_add(o, ctx, "out", T_CONV, out, nout);
	outs_add(o, ctx, want_din ? "din" : "din (NULL)", T_CONV, din, nin);
	outs_add(o, ctx, "dw", T_CONV, dw, nw);
	if (bias)
		outs_add(o, ctx, "db", T_CONV_BIAS, db, K);
	pool_free(&P);
}

/* batch-norm {N, C, HW}: train (with and without saved statistics), eval, backward (with and
   without din) */
static void run_bn(Ctx *ctx, const OpCase *c, Rng *r, Outs *o)
{
	const Backend *be = ctx->be;
	int N = c->s[0], C = c->s[1], HW = c->s[2];
	Pool P = {.ctx = ctx};
	size_t n = (size_t)N * C * HW;
	/* |mean| > std, as after a conv with bias: the shifted sums matter. On a grid of 2^-10:
	   a channel of two close values (N*HW = 2) has an exact mean and differences, where
	   continuous ones would make a float engine's rounding of the mean (~1e-7 of 3) a large
	   part of their small differences, and so of the normalised outputs; sums over a large
	   batch still round. */
	float *x = hrand(&P, r, n, 1.2), *gamma = hrand(&P, r, C, 1), *beta = hrand(&P, r, C, 1);
	float *rm = hrand(&P, r, C, 1), *rv = hrand(&P, r, C, 1);
	for (size_t i = 0; i < n; i++)
		x[i] = roundf((x[i] + 3) * 1024) / 1024;
	for (int k = 0; k < C; k++)
		rv[k] = 1 + rv[k] * rv[k];
	float *d_x = dput(&P, x, n * 4), *d_g = dput(&P, gamma, C * 4), *d_b = dput(&P, beta, C * 4);
	float *dout = drand(&P, r, n, 1, NULL), *din = drand(&P, r, n, 1, NULL);
	float *out = dnan(&P, n), *mean = dnan(&P, C), *invstd = dnan(&P, C), *ev = dnan(&P, n);
	float *d_rm = dput(&P, rm, C * 4), *d_rv = dput(&P, rv, C * 4);
	float *d_rm2 = dput(&P, rm, C * 4), *d_rv2 = dput(&P, rv, C * 4), *o2 = dnan(&P, n);
	float *dg = dnan(&P, C), *dbeta = dnan(&P, C);
	/* the backward gets the reference's statistics: it is checked apart from the forward */
	float *mean_h = hnew(&P, C * 4), *is_h = hnew(&P, C * 4), *tmp = hnew(&P, n * 4);
	ref_bn_forward_train_f(tmp, mean_h, is_h, NULL, NULL, x, gamma, beta, N, C, HW, 0.1f, 1e-5f);
	float *d_ms = dput(&P, mean_h, C * 4), *d_is = dput(&P, is_h, C * 4);
	be->bn_forward_train(ctx, out, mean, invstd, d_rm, d_rv, d_x, d_g, d_b, N, C, HW, 0.1f, 1e-5f);
	be->bn_forward_eval(ctx, ev, d_x, d_g, d_b, d_rm2, d_rv2, N, C, HW, 1e-5f);
	be->bn_backward(ctx, din, dg, dbeta, dout, d_x, d_ms, d_is, d_g, N, C, HW);
	outs_add(o, ctx, "out", T_REDUCE, out, n);
	outs_add(o, ctx, "mean", T_REDUCE, mean, C);
	outs_add(o, ctx, "invstd", T_REDUCE, invstd, C);
	outs_add(o, ctx, "running_mean", T_REDUCE, d_rm, C);
	outs_add(o, ctx, "running_var", T_REDUCE, d_rv, C);
	outs_add(o, ctx, "eval out", T_BN_EVAL, ev, n);
	outs_add(o, ctx, "din", T_REDUCE, din, n);
	outs_add(o, ctx, "dgamma", T_REDUCE, dg, C);
	outs_add(o, ctx, "dbeta", T_REDUCE, dbeta, C);
	/* train mode without saved statistics (evaluation of a training batch), its running ones */
	be->bn_forward_train(ctx, o2, NULL, NULL, d_rm2, d_rv2, d_x, d_g, d_b, N, C, HW, 0.1f, 1e-5f);
	outs_add(o, ctx, "out (no stats)", T_REDUCE, o2, n);
	outs_add(o, ctx, "running_mean (no stats)", T_REDUCE, d_rm2, C);
	outs_add(o, ctx, "running_var (no stats)", T_REDUCE, d_rv2, C);
	/* din NULL: only the parameter gradients, overwritten (not added to the last ones) */
	be->bn_backward(ctx, NULL, dg, dbeta, dout, d_x, d_ms, d_is, d_g, N, C, HW);
	outs_add(o, ctx, "dgamma (din NULL)", T_REDUCE, dg, C);
	outs_add(o, ctx, "dbeta (din NULL)", T_REDUCE, dbeta, C);
	pool_free(&P);
}

/* relu {n}; every 7th input exactly zero (no gradient there) */
static void run_relu(Ctx *ctx, const OpCase *c, Rng *r, Outs *o)
{
	const Backend *be = ctx->be;
	size_t n = (size_t)c->s[0];
	Pool P = {.ctx = ctx};
	float *x = hrand(&P, r, n, 1), *mask = hnew(&P, n * 4);
	for (size_t i = 0; i < n; i += 7)
		x[i] = 0;
	ref_relu_forward_f(mask, x, n); /* the backward's input: the reference's output */
	float *d_x = dput(&P, x, n * 4), *d_mask = dput(&P, mask, n * 4);
	float *dout = drand(&P, r, n, 1, NULL), *din = drand(&P, r, n, 1, NULL), *out = dnan(&P, n);
	be->relu_forward(ctx, out, d_x, n);
	be->relu_backward(ctx, din, dout, d_mask, n);
	outs_add(o, ctx, "out", T_MOVE, out, n);
	outs_add(o, ctx, "din", T_MOVE, din, n);
	pool_free(&P);
}

/* maxpool {N, C, H, W, k}; inputs multiples of 0.5 in [0, 2], many ties (as after a ReLU):
   the first-maximum rule must agree exactly */
static void run_maxpool(Ctx *ctx, const OpCase *c, Rng *r, Outs *o)
{
	const Backend *be = ctx->be;
	int N = c->s[0], C = c->s[1], H = c->s[2], W = c->s[3], k = c->s[4];
	Pool P = {.ctx = ctx};
	size_t nin = (size_t)N * C * H * W, nout = (size_t)N * C * (H / k) * (W / k);
	float *x = hnew(&P, nin * 4);
	for (size_t i = 0; i < nin; i++)
		x[i] = 0.5f * (float)rng_below(r, 5);
	float *d_x = dput(&P, x, nin * 4), *dout = drand(&P, r, nout, 1, NULL);
	float *din = drand(&P, r, nin, 1, NULL), *out = dnan(&P, nout);
	be->maxpool_forward(ctx, out, d_x, N, C, H, W, k);
	be->maxpool_backward(ctx, din, dout, d_x, N, C, H, W, k);
	outs_add(o, ctx, "out", T_EXACT, out, nout);
	outs_add(o, ctx, "din", T_MOVE, din, nin);
	pool_free(&P);
}

/* add {N, C, HW}, one lambda per channel; F_SAME, F_SELF, F_NO_DB, F_NO_DLAMBDA */
static void run_add(Ctx *ctx, const OpCase *c, Rng *r, Outs *o)
{
	const Backend *be = ctx->be;
	int N = c->s[0], C = c->s[1], HW = c->s[2];
	int self = c->flags & F_SELF, same = self || (c->flags & F_SAME);
	int want_db = !(c->flags & F_NO_DB), want_dl = !(c->flags & F_NO_DLAMBDA);
	Pool P = {.ctx = ctx};
	size_t n = (size_t)N * C * HW;
	float *a = drand(&P, r, n, 1, NULL), *b = self ? a : drand(&P, r, n, 1, NULL);
	float *lambda = drand(&P, r, C, 1, NULL), *dout = drand(&P, r, n, 1, NULL);
	float *da = drand(&P, r, n, 1, NULL), *db = same ? da : drand(&P, r, n, 1, NULL);
	float *out = dnan(&P, n), *dl = want_dl ? dnan(&P, C) : NULL;
	be->add_forward(ctx, out, a, b, lambda, N, C, HW);
	be->add_backward(ctx, da, want_db ? db : NULL, dl, dout, a, b, lambda, N, C, HW);
	outs_add(o, ctx, "out", T_ELEM, out, n);
	outs_add(o, ctx, "da", T_ELEM, da, n);
	if (!same)
		outs_add(o, ctx, want_db ? "db" : "db (NULL)", T_ELEM, db, n);
	if (want_dl)
		outs_add(o, ctx, "dlambda", T_REDUCE, dl, C);
	pool_free(&P);
}

/* concat {N, HW, C1, C2, C3}: inputs of C1, C2 and C3 channels (C3 may be 0) filling the
   output's channels in turn */
static void run_concat(Ctx *ctx, const OpCase *c, Rng *r, Outs *o)
{
	const Backend *be = ctx->be;
	int N = c->s[0], HW = c->s[1], Cout = c->s[2] + c->s[3] + c->s[4];
	Pool P = {.ctx = ctx};
	size_t nout = (size_t)N * Cout * HW;
	float *out = dnan(&P, nout), *dout = drand(&P, r, nout, 1, NULL), *din[3] = {0};
	for (int part = 0, off = 0; part < 3; off += c->s[2 + part], part++) {
		int Cin = c->s[2 + part];
		if (!Cin)
			continue;
		size_t nin = (size_t)N * Cin * HW;
		float *in = drand(&P, r, nin, 1, NULL);
		din[part] = drand(&P, r, nin, 1, NULL);
		be->concat_forward(ctx, out, in, N, Cin, Cout, off, HW);
		be->concat_backward(ctx, din[part], dout, N, Cin, Cout, off, HW);
	}
	outs_add(o, ctx, "out", T_MOVE, out, nout);
	for (int part = 0; part < 3; part++) {
		char name[32];
		snprintf(name, sizeof name, "din (part %d)", part + 1);
		if (din[part])
			outs_add(o, ctx, name, T_MOVE, din[part], (size_t)N * c->s[2 + part] * HW);
	}
	pool_free(&P);
}

/* global average pool {N, C, HW} */
static void run_gap(Ctx *ctx, const OpCase *c, Rng *r, Outs *o)
{
	const Backend *be = ctx->be;
	int N = c->s[0], C = c->s[1], HW = c->s[2];
	Pool P = {.ctx = ctx};
	size_t nin = (size_t)N * C * HW, nout = (size_t)N * C;
	float *x = drand(&P, r, nin, 1, NULL), *dout = drand(&P, r, nout, 1, NULL);
	float *din = drand(&P, r, nin, 1, NULL), *out = dnan(&P, nout);
	be->gap_forward(ctx, out, x, N, C, HW);
	be->gap_backward(ctx, din, dout, N, C, HW);
	outs_add(o, ctx, "out", T_ELEM, out, nout);
	outs_add(o, ctx, "din", T_ELEM, din, nin);
	pool_free(&P);
}

/* dense {N, I, O}; F_BIAS, F_NO_DIN */
static void run_dense(Ctx *ctx, const OpCase *c, Rng *r, Outs *o)
{
	const Backend *be = ctx->be;
	int N = c->s[0], I = c->s[1], O = c->s[2];
	int bias = c->flags & F_BIAS, want_din = !(c->flags & F_NO_DIN);
	Pool P = {.ctx = ctx};
	size_t nin = (size_t)N * I, nout = (size_t)N * O, nw = (size_t)O * I;
	float *x = drand(&P, r, nin, 1, NULL), *w = drand(&P, r, nw, 1 / sqrt(I), NULL);
	float *b = bias ? drand(&P, r, O, 1, NULL) : NULL, *dout = drand(&P, r, nout, 1, NULL);
	float *din = drand(&P, r, nin, 1, NULL), *out = dnan(&P, nout), *dw = dnan(&P, nw);
	float *db = bias ? dnan(&P, O) : NULL;
	be->dense_forward(ctx, out, x, w, b, N, I, O);
	be->dense_backward(ctx, want_din ? din : NULL, dw, db, dout, x, w, N, I, O);
	outs_add(o, ctx, "out", T_DENSE, out, nout);
	outs_add(o, ctx, want_din ? "din" : "din (NULL)", T_DENSE, din, nin);
	outs_add(o, ctx, "dw", T_DENSE, dw, nw);
	if (bias)
		outs_add(o, ctx, "db", T_REDUCE, db, O);
	pool_free(&P);
}

/* softmax_xent {N, K, smoothing in hundredths}, with dlogits and without (evaluation); row 1
   all tied (the first maximum, class 0, is the prediction: its label is 0); F_BAD_LABEL: the
   last label is K */
static void run_softmax_xent(Ctx *ctx, const OpCase *c, Rng *r, Outs *o)
{
	const Backend *be = ctx->be;
	int N = c->s[0], K = c->s[1];
	float smoothing = (float)c->s[2] / 100;
	Pool P = {.ctx = ctx};
	float *logits = hrand(&P, r, (size_t)N * K, 3), stats0[3] = {1.5f, 2, 7};
	int32_t *labels = hnew(&P, N * sizeof *labels);
	for (int i = 0; i < N; i++)
		labels[i] = (int32_t)rng_below(r, K);
	if (N > 1) {
		for (int k = 0; k < K; k++)
			logits[K + k] = 0.5f;
		labels[1] = 0;
	}
	if (c->flags & F_BAD_LABEL)
		labels[N - 1] = K;
	float *d_lg = dput(&P, logits, (size_t)N * K * 4), *dl = dnan(&P, (size_t)N * K);
	int32_t *d_lab = dput(&P, labels, N * sizeof *labels);
	float *st[2] = {dput(&P, stats0, 12), dput(&P, stats0, 12)};
	be->softmax_xent(ctx, dl, st[0], d_lg, d_lab, N, K, smoothing);
	be->softmax_xent(ctx, NULL, st[1], d_lg, d_lab, N, K, smoothing);
	outs_add(o, ctx, "dlogits", T_XENT, dl, (size_t)N * K);
	for (int i = 0; i < 2; i++) {
		const char *name = i ? "stats (no dlogits)" : "stats";
		outs_add(o, ctx, name, T_STATS, st[i], 3);
		/* a label out of range: the loss is NaN (on every backend, the reference included;
		   the comparisons take NaN for NaN there), never counted correct */
		float loss = ((float *)o->o[o->n - 1].data)[0];
		if (c->flags & F_BAD_LABEL)
			CHECKF(isnan(loss), "%s softmax_xent N%d K%d smoothing %g: %s: loss %g with a bad label, want NaN",
			       be->name, N, K, smoothing, name, loss);
		else
			CHECKF(isfinite(loss), "%s softmax_xent N%d K%d smoothing %g: %s: loss %g", be->name,
			       N, K, smoothing, name, loss);
	}
	pool_free(&P);
}

/* sgd {n}: plain, with weight decay, Nesterov with weight decay */
static void run_sgd(Ctx *ctx, const OpCase *c, Rng *r, Outs *o)
{
	const Backend *be = ctx->be;
	size_t n = (size_t)c->s[0];
	Pool P = {.ctx = ctx};
	float *p0 = hrand(&P, r, n, 1), *v0 = hrand(&P, r, n, 1), *g = drand(&P, r, n, 1, NULL);
	const char *names[3][2] = {{"p", "v"}, {"p wd", "v wd"}, {"p nesterov wd", "v nesterov wd"}};
	for (int i = 0; i < 3; i++) {
		float *p = dput(&P, p0, n * 4), *v = dput(&P, v0, n * 4);
		be->sgd_update(ctx, p, v, g, n, 0.05f, 0.9f, i ? 5e-4f : 0, i == 2);
		outs_add(o, ctx, names[i][0], T_ELEM, p, n);
		outs_add(o, ctx, names[i][1], T_ELEM, v, n);
	}
	pool_free(&P);
}

/* ema_update {n}: decays 0.9 and 0.99 (nash-train --ema's range), then 0, which must copy p
   exactly (backend.h) */
static void run_ema(Ctx *ctx, const OpCase *c, Rng *r, Outs *o)
{
	const Backend *be = ctx->be;
	size_t n = (size_t)c->s[0];
	Pool P = {.ctx = ctx};
	float *avg0 = hrand(&P, r, n, 1), *p = drand(&P, r, n, 1, NULL);
	const float decays[3] = {0.9f, 0.99f, 0};
	const char *names[3] = {"avg decay 0.9", "avg decay 0.99", "avg decay 0 (a copy)"};
	for (int i = 0; i < 3; i++) {
		float *avg = dput(&P, avg0, n * 4);
		be->ema_update(ctx, avg, p, n, decays[i]);
		outs_add(o, ctx, names[i], decays[i] ? T_ELEM : T_EXACT, avg, n);
	}
	pool_free(&P);
}

/* make_batch {n, c, h, w, n_img}: n samples of n_img byte images, shifted and flipped at
   random, normalised */
static void run_make_batch(Ctx *ctx, const OpCase *cs, Rng *r, Outs *o)
{
	const Backend *be = ctx->be;
	int n = cs->s[0], c = cs->s[1], h = cs->s[2], w = cs->s[3], n_img = cs->s[4];
	int pad = data_crop_pad(h);
	Pool P = {.ctx = ctx};
	size_t img = (size_t)c * h * w;
	uint8_t *images = hnew(&P, n_img * img), *labels = hnew(&P, n_img);
	for (size_t i = 0; i < n_img * img; i++)
		images[i] = (uint8_t)rng_below(r, 256);
	for (int i = 0; i < n_img; i++)
		labels[i] = (uint8_t)rng_below(r, 10);
	Sample *sm = hnew(&P, n * sizeof *sm);
	int32_t *y0 = hnew(&P, n * 4);
	for (int i = 0; i < n; i++) {
		sm[i].index = (int32_t)rng_below(r, n_img);
		sm[i].dy = (int8_t)((int)rng_below(r, 2 * pad + 1) - pad);
		sm[i].dx = (int8_t)((int)rng_below(r, 2 * pad + 1) - pad);
		sm[i].flip = (int8_t)rng_below(r, 2);
		y0[i] = -12345;
	}
	float mean[3] = {0.3f, 0.5f, 0.4f}, std[3] = {0.25f, 0.3f, 0.2f};
	float *x = dnan(&P, n * img);
	int32_t *y = dput(&P, y0, n * 4);
	uint8_t *d_img = dput(&P, images, n_img * img), *d_lab = dput(&P, labels, n_img);
	Sample *d_sm = dput(&P, sm, n * sizeof *sm);
	be->make_batch(ctx, x, y, d_img, d_lab, d_sm, n, c, h, w, mean, std);
	outs_add(o, ctx, "x", T_MOVE, x, n * img);
	outs_add(o, ctx, "labels", T_BITS, y, n * sizeof *y);
	pool_free(&P);
}

/* zero {bytes}: upload and download round trip, then zero of a large, unaligned range; its
   neighbours stay */
static void run_zero(Ctx *ctx, const OpCase *c, Rng *r, Outs *o)
{
	size_t n = (size_t)c->s[0], a = 3, len = n - 3 - 13, bad = 0;
	Pool P = {.ctx = ctx};
	unsigned char *h = hnew(&P, n), *got = hnew(&P, n);
	for (size_t i = 0; i < n; i++)
		h[i] = (unsigned char)(i % 251 + 1);
	unsigned char *d = dput(&P, h, n);
	ctx->be->download(ctx, got, d, n);
	CHECKF(!memcmp(got, h, n), "%s: %zu bytes: upload and download differ", ctx->be->name, n);
	ctx->be->zero(ctx, d + a, len);
	outs_add(o, ctx, "bytes", T_BITS, d, n);
	got = o->o[o->n - 1].data;
	for (size_t i = 0; i < n; i++)
		bad += got[i] != (i >= a && i < a + len ? 0 : h[i]);
	CHECKF(bad == 0, "%s: zero of [%zu, %zu) in %zu bytes: %zu bytes wrong", ctx->be->name, a,
	       a + len, n, bad);
	pool_free(&P);
}

#endif
