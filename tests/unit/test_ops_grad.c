/* The double-precision reference ops (lib/backend/ref/ref_ops.h), what the backends are tested against
   (test_ops_backends.c):
   1. known answers pin their semantics (what the ops mean);
   2. every backward against central finite differences (that the gradients are those of the
      forwards), accumulate targets pre-filled with known values. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>

#include "check.h"
#include "ops_common.h"
#include "backend/ref/ref_ops.h"
#include "base/rng.h"

/* ---- 1. known answers (double reference) ---- */

TEST(test_known_conv)
{
	/* cross-correlation with zero padding: a 1 at the kernel's top-left reads in[y-1][x-1] */
	double in[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, w[9] = {1, 0, 0, 0, 0, 0, 0, 0, 0}, b = 0.5;
	double out[9], want[9] = {0, 0, 0, 0, 1, 2, 0, 4, 5};
	ref_conv_forward_d(out, in, w, &b, 1, 1, 3, 3, 1, 3);
	for (int i = 0; i < 9; i++)
		CHECKF(out[i] == want[i] + 0.5, "out[%d] = %g, want %g", i, out[i], want[i] + 0.5);
	/* two channels, 1x1 kernel: out = 2*in0 - in1 */
	double in2[4] = {1, 2, 10, 30}, w2[2] = {2, -1}, out2[2];
	ref_conv_forward_d(out2, in2, w2, NULL, 1, 2, 1, 2, 1, 1);
	CHECK(out2[0] == -8 && out2[1] == -26);
}

TEST(test_known_pool_softmax_sgd)
{
	/* 3x3 -> 1x1 (floor); the window {1,3;3,2} ties: the first maximum (row-major) wins */
	double in[9] = {1, 3, 9, 3, 2, 9, 9, 9, 9}, out, dout = 2, din[9] = {0};
	ref_maxpool_forward_d(&out, in, 1, 1, 3, 3, 2);
	ref_maxpool_backward_d(din, &dout, in, 1, 1, 3, 3, 2);
	CHECK(out == 3 && din[1] == 2 && din[3] == 0 && din[0] == 0 && din[2] == 0);

	/* equal logits: loss log K each, argmax is class 0; gradient (1/K - onehot)/N */
	double logits[8] = {0}, dl[8], stats[3] = {1, 2, 3};
	int32_t labels[2] = {0, 3};
	ref_softmax_xent_d(dl, stats, logits, labels, 2, 4, 0);
	CHECK(check_close(stats[0], 1 + 2 * log(4), 1e-12, 0));
	CHECK(stats[1] == 3 && stats[2] == 5);
	CHECK(check_close(dl[0], (0.25 - 1) / 2, 1e-15, 0) && check_close(dl[1], 0.125, 1e-15, 0));
	CHECK(check_close(dl[7], (0.25 - 1) / 2, 1e-15, 0));

	/* label smoothing 0.2, K 2: softmax of {0, ln 3} is {1/4, 3/4}; the target of label 0 is
	   0.8 {1, 0} + 0.2/2 = {0.9, 0.1}: loss -(0.9 ln 1/4 + 0.1 ln 3/4), gradient p - q */
	double two[2] = {0, log(3)}, dtwo[2], st[3] = {0};
	int32_t zero = 0;
	ref_softmax_xent_d(dtwo, st, two, &zero, 1, 2, 0.2);
	CHECK(check_close(st[0], -(0.9 * log(0.25) + 0.1 * log(0.75)), 1e-15, 1e-15) && st[1] == 0 && st[2] == 1);
	CHECK(check_close(dtwo[0], 0.25 - 0.9, 1e-15, 0) && check_close(dtwo[1], 0.75 - 0.1, 1e-15, 0));
	/* equal logits: log K whatever the smoothing (the target still sums to 1) */
	stats[0] = 0;
	ref_softmax_xent_d(dl, stats, logits, labels, 2, 4, 0.5);
	CHECK(check_close(stats[0], 2 * log(4), 1e-12, 0));
	CHECK(check_close(dl[0], (0.25 - (0.5 + 0.125)) / 2, 1e-15, 0) && check_close(dl[1], (0.25 - 0.125) / 2, 1e-15, 0));

	/* PyTorch's SGD: g = 0.2 + 0.01*1 = 0.21, v = 0.9*0.5 + g = 0.66 */
	double p = 1, v = 0.5, g = 0.2;
	ref_sgd_update_d(&p, &v, &g, 1, 0.1, 0.9, 0.01, 0);
	CHECK(check_close(v, 0.66, 1e-15, 0) && check_close(p, 1 - 0.066, 1e-15, 0));
	p = 1, v = 0.5;
	ref_sgd_update_d(&p, &v, &g, 1, 0.1, 0.9, 0.01, 1);
	CHECK(check_close(v, 0.66, 1e-15, 0) && check_close(p, 1 - 0.1 * (0.21 + 0.9 * 0.66), 1e-15, 0));

	/* weight average: 0.75*1 + 0.25*3 = 1.5, then 0.75*1.5 + 0.25*3 = 1.875; decay 0 copies */
	double avg[2] = {1, 1}, w[2] = {3, -2};
	ref_ema_update_d(avg, w, 2, 0.75);
	CHECK(avg[0] == 1.5 && avg[1] == 0.25);
	ref_ema_update_d(avg, w, 1, 0.75);
	CHECK(avg[0] == 1.875 && avg[1] == 0.25); /* n 1: the second element untouched */
	ref_ema_update_d(avg, w, 2, 0);
	CHECK(avg[0] == 3 && avg[1] == -2);
}

TEST(test_known_bn_add_dense_gap)
{
	/* one channel, N=2, HW=2: mean 2.5, biased var 1.25, unbiased 5/3 */
	double x[4] = {1, 2, 3, 4}, gamma = 2, beta = 1, out[4], mean, invstd, rm = 0, rv = 1;
	ref_bn_forward_train_d(out, &mean, &invstd, &rm, &rv, x, &gamma, &beta, 2, 1, 2, 0.1, 1e-5);
	CHECK(check_close(mean, 2.5, 1e-15, 0) && check_close(invstd, 1 / sqrt(1.25 + 1e-5), 1e-15, 0));
	CHECK(check_close(rm, 0.25, 1e-15, 0) && check_close(rv, 0.9 + 0.1 * 5 / 3.0, 1e-15, 0));
	CHECK(check_close(out[0], 2 * (1 - 2.5) * invstd + 1, 1e-14, 0));
	double ev[4];
	ref_bn_forward_eval_d(ev, x, &gamma, &beta, &rm, &rv, 2, 1, 2, 1e-5);
	CHECK(check_close(ev[3], 2 * (4 - rm) / sqrt(rv + 1e-5) + 1, 1e-14, 0));

	/* add, one lambda per channel: [N=1, C=2, HW=1] */
	double a[2] = {1, 2}, b[2] = {5, 6}, lambda[2] = {0.25, 0.5}, o[2];
	ref_add_forward_d(o, a, b, lambda, 1, 2, 1);
	CHECK(o[0] == 4 && o[1] == 4);

	/* dense: out[n][o] = sum_i in[n][i] w[o][i] + b[o] */
	double in[6] = {1, 2, 3, 4, 5, 6}, w[6] = {1, 0, -1, 0, 1, 0}, bias[2] = {10, 20}, d[4];
	ref_dense_forward_d(d, in, w, bias, 2, 3, 2);
	CHECK(d[0] == 8 && d[1] == 22 && d[2] == 8 && d[3] == 25);

	double g[2];
	ref_gap_forward_d(g, x, 2, 1, 2);
	CHECK(g[0] == 1.5 && g[1] == 3.5);
	double cat[8];
	for (int i = 0; i < 8; i++)
		cat[i] = -1;
	ref_concat_forward_d(cat, a, 2, 1, 2, 1, 1); /* a as [2,1,1] into channel 1 of [2,2,1] */
	CHECK(cat[0] == -1 && cat[1] == 1 && cat[2] == -1 && cat[3] == 2);
}

/* ---- 2. finite differences (double reference) ---- */

#define FD_EPS 1e-6
#define FD_RTOL 1e-6

/* The arguments of one forward; the loss is L = sum(out * R). */
typedef struct Fd {
	int N, C, H, W, K, ks, HW, Cout, offset;
	size_t n;
	double *x, *x2, *w, *b, *lambda, *beta; /* inputs and parameters (b: bias or add's b) */
	int32_t *labels;
	double *out, *R;
	size_t n_out;
	int op;
	double smoothing; /* FD_XENT */
} Fd;

enum { FD_CONV, FD_BN, FD_RELU, FD_POOL, FD_ADD, FD_CONCAT, FD_GAP, FD_DENSE, FD_XENT };

static double fd_loss(const Fd *f)
{
	switch (f->op) {
	case FD_CONV:
		ref_conv_forward_d(f->out, f->x, f->w, f->b, f->N, f->C, f->H, f->W, f->K, f->ks);
		break;
	case FD_BN:
		ref_bn_forward_train_d(f->out, NULL, NULL, NULL, NULL, f->x, f->w, f->beta, f->N, f->C,
				       f->HW, 0.1, 1e-5);
		break;
	case FD_RELU:
		ref_relu_forward_d(f->out, f->x, f->n);
		break;
	case FD_POOL:
		ref_maxpool_forward_d(f->out, f->x, f->N, f->C, f->H, f->W, f->ks);
		break;
	case FD_ADD:
		ref_add_forward_d(f->out, f->x, f->x2, f->lambda, f->N, f->C, f->HW);
		break;
	case FD_CONCAT:
		ref_concat_forward_d(f->out, f->x, f->N, f->C, f->Cout, f->offset, f->HW);
		break;
	case FD_GAP:
		ref_gap_forward_d(f->out, f->x, f->N, f->C, f->HW);
		break;
	case FD_DENSE:
		ref_dense_forward_d(f->out, f->x, f->w, f->b, f->N, f->C, f->K);
		break;
	case FD_XENT: {
		double stats[3] = {0};
		ref_softmax_xent_d(NULL, stats, f->x, f->labels, f->N, f->K, f->smoothing);
		return stats[0] / f->N; /* the mean loss: what dlogits is the gradient of */
	}
	}
	double s = 0;
	for (size_t i = 0; i < f->n_out; i++)
		s += f->out[i] * f->R[i];
	return s;
}

/* Compares grad[n], the analytic gradient w.r.t. x[n], with central differences of the loss.
   Rounding makes the differences' absolute error ~1e-16*|L|/eps, so near-zero elements are
   judged against the largest gradient element. */
static void fd_check(const char *what, Fd *f, double *x, const double *grad, size_t n)
{
	double gmax = 0;
	for (size_t i = 0; i < n; i++)
		gmax = fmax(gmax, fabs(grad[i]));
	int bad = 0;
	for (size_t i = 0; i < n && bad < 3; i++) {
		double x0 = x[i];
		x[i] = x0 + FD_EPS;
		double lp = fd_loss(f);
		x[i] = x0 - FD_EPS;
		double lm = fd_loss(f);
		x[i] = x0;
		double fd = (lp - lm) / (2 * FD_EPS);
		if (!check_close(grad[i], fd, FD_RTOL * 1e-2 * fmax(gmax, 1), FD_RTOL)) {
			printf("#   %s[%zu]: analytic %.12g, finite differences %.12g\n", what, i, grad[i], fd);
			check_current_failed = 1;
			bad++;
		}
	}
}

static double *drand(Pool *P, size_t n, double scale)
{
	double *p = hnew(P, n * sizeof *p);
	for (size_t i = 0; i < n; i++)
		p[i] = scale * rng_normal(&rng);
	return p;
}

static double *dfill(Pool *P, size_t n, double v)
{
	double *p = hnew(P, n * sizeof *p);
	for (size_t i = 0; i < n; i++)
		p[i] = v;
	return p;
}

/* An accumulate target pre-filled with 0.5: subtract it before comparing, and the backward
   must have added to it (not overwritten it). */
#define PRE 0.5
static double *unpre(double *g, size_t n)
{
	for (size_t i = 0; i < n; i++)
		g[i] -= PRE;
	return g;
}

static void fd_conv(int N, int C, int H, int W, int K, int ks, int bias)
{
	Pool P = {.ctx = NULL};
	Fd f = {.op = FD_CONV, .N = N, .C = C, .H = H, .W = W, .K = K, .ks = ks};
	size_t nin = (size_t)N * C * H * W, nw = (size_t)K * C * ks * ks;
	f.n_out = (size_t)N * K * H * W;
	f.x = drand(&P, nin, 1);
	f.w = drand(&P, nw, 1 / sqrt(C * ks * ks));
	f.b = bias ? drand(&P, K, 1) : NULL;
	f.out = dfill(&P, f.n_out, 0);
	f.R = drand(&P, f.n_out, 1);
	double *din = dfill(&P, nin, PRE), *dw = dfill(&P, nw, NAN), *db = dfill(&P, K, NAN);
	ref_conv_backward_d(din, dw, bias ? db : NULL, f.R, f.x, f.w, N, C, H, W, K, ks);
	char what[64];
	snprintf(what, sizeof what, "conv k%d%s din", ks, bias ? " bias" : "");
	fd_check(what, &f, f.x, unpre(din, nin), nin);
	fd_check("conv dw", &f, f.w, dw, nw);
	if (bias)
		fd_check("conv db", &f, f.b, db, K);
	pool_free(&P);
}

TEST(test_fd_conv)
{
	fd_conv(2, 3, 5, 6, 4, 1, 0);
	fd_conv(2, 3, 5, 6, 4, 3, 1);
	fd_conv(1, 2, 4, 7, 3, 5, 1);
	fd_conv(2, 1, 3, 2, 2, 5, 0); /* kernel larger than the image */
}

TEST(test_fd_bn)
{
	Pool P = {.ctx = NULL};
	int N = 3, C = 2, HW = 5;
	size_t n = (size_t)N * C * HW;
	Fd f = {.op = FD_BN, .N = N, .C = C, .HW = HW, .n_out = n};
	f.x = drand(&P, n, 2);
	f.w = drand(&P, C, 1); /* gamma */
	f.beta = drand(&P, C, 1);
	f.out = dfill(&P, n, 0);
	f.R = drand(&P, n, 1);
	double mean[2], invstd[2];
	ref_bn_forward_train_d(f.out, mean, invstd, NULL, NULL, f.x, f.w, f.beta, N, C, HW, 0.1, 1e-5);
	double *din = dfill(&P, n, PRE), *dg = dfill(&P, C, NAN), *dbeta = dfill(&P, C, NAN);
	ref_bn_backward_d(din, dg, dbeta, f.R, f.x, mean, invstd, f.w, N, C, HW);
	fd_check("bn din", &f, f.x, unpre(din, n), n);
	fd_check("bn dgamma", &f, f.w, dg, C);
	fd_check("bn dbeta", &f, f.beta, dbeta, C);
	pool_free(&P);
}

TEST(test_fd_relu_pool)
{
	Pool P = {.ctx = NULL};
	Fd f = {.op = FD_RELU, .n = 40, .n_out = 40};
	f.x = drand(&P, 40, 1);
	for (int i = 0; i < 40; i++) /* away from the kink */
		f.x[i] += f.x[i] > 0 ? 1e-3 : -1e-3;
	f.out = dfill(&P, 40, 0);
	f.R = drand(&P, 40, 1);
	ref_relu_forward_d(f.out, f.x, 40);
	double *din = dfill(&P, 40, PRE);
	ref_relu_backward_d(din, f.R, f.out, 40);
	fd_check("relu din", &f, f.x, unpre(din, 40), 40);

	/* 7x7 -> 3x3 with k=2, 7x8 -> 2x2 with k=3; random normals have no ties */
	int ks[2] = {2, 3}, Ws[2] = {7, 8};
	for (int t = 0; t < 2; t++) {
		Fd g = {.op = FD_POOL, .N = 2, .C = 3, .H = 7, .W = Ws[t], .ks = ks[t]};
		size_t nin = (size_t)2 * 3 * 7 * Ws[t];
		g.n_out = (size_t)2 * 3 * (7 / ks[t]) * (Ws[t] / ks[t]);
		g.x = drand(&P, nin, 1);
		g.out = dfill(&P, g.n_out, 0);
		g.R = drand(&P, g.n_out, 1);
		double *dp = dfill(&P, nin, PRE);
		ref_maxpool_backward_d(dp, g.R, g.x, 2, 3, 7, Ws[t], ks[t]);
		fd_check(t ? "maxpool k3 din" : "maxpool k2 din", &g, g.x, unpre(dp, nin), nin);
	}
	pool_free(&P);
}

TEST(test_fd_add_concat_gap)
{
	Pool P = {.ctx = NULL};
	/* add [N=2, C=3, HW=5], one lambda per channel */
	size_t n = 30;
	Fd f = {.op = FD_ADD, .N = 2, .C = 3, .HW = 5, .n = n, .n_out = n};
	f.x = drand(&P, n, 1);
	f.x2 = drand(&P, n, 1);
	f.lambda = drand(&P, 3, 1);
	f.out = dfill(&P, n, 0);
	f.R = drand(&P, n, 1);
	double *da = dfill(&P, n, PRE), *db = dfill(&P, n, PRE), *dl = dfill(&P, 3, NAN);
	ref_add_backward_d(da, db, dl, f.R, f.x, f.x2, f.lambda, 2, 3, 5);
	fd_check("add da", &f, f.x, unpre(da, n), n);
	fd_check("add db", &f, f.x2, unpre(db, n), n);
	fd_check("add dlambda", &f, f.lambda, dl, 3);

	/* in [2,3,4] into channels 2..4 of [2,6,4] */
	Fd c = {.op = FD_CONCAT, .N = 2, .C = 3, .Cout = 6, .offset = 2, .HW = 4, .n_out = 48};
	c.x = drand(&P, 24, 1);
	c.out = dfill(&P, 48, 0);
	c.R = drand(&P, 48, 1);
	double *dc = dfill(&P, 24, PRE);
	ref_concat_backward_d(dc, c.R, 2, 3, 6, 2, 4);
	fd_check("concat din", &c, c.x, unpre(dc, 24), 24);

	Fd g = {.op = FD_GAP, .N = 2, .C = 3, .HW = 5, .n_out = 6};
	g.x = drand(&P, 30, 1);
	g.out = dfill(&P, 6, 0);
	g.R = drand(&P, 6, 1);
	double *dg = dfill(&P, 30, PRE);
	ref_gap_backward_d(dg, g.R, 2, 3, 5);
	fd_check("gap din", &g, g.x, unpre(dg, 30), 30);
	pool_free(&P);
}

TEST(test_fd_dense_xent)
{
	Pool P = {.ctx = NULL};
	for (int bias = 0; bias < 2; bias++) {
		int N = 3, I = 5, O = 4;
		Fd f = {.op = FD_DENSE, .N = N, .C = I, .K = O, .n_out = (size_t)N * O};
		f.x = drand(&P, (size_t)N * I, 1);
		f.w = drand(&P, (size_t)O * I, 1);
		f.b = bias ? drand(&P, O, 1) : NULL;
		f.out = dfill(&P, f.n_out, 0);
		f.R = drand(&P, f.n_out, 1);
		double *din = dfill(&P, (size_t)N * I, PRE), *dw = dfill(&P, (size_t)O * I, NAN);
		double *db = dfill(&P, O, NAN);
		ref_dense_backward_d(din, dw, bias ? db : NULL, f.R, f.x, f.w, N, I, O);
		fd_check("dense din", &f, f.x, unpre(din, (size_t)N * I), (size_t)N * I);
		fd_check("dense dw", &f, f.w, dw, (size_t)O * I);
		if (bias)
			fd_check("dense db", &f, f.b, db, O);
	}
	int N = 4, K = 5;
	int32_t labels[4] = {0, 4, 2, 2};
	for (int s = 0; s < 2; s++) { /* one-hot, then label-smoothed targets */
		Fd x = {.op = FD_XENT, .N = N, .K = K, .labels = labels, .smoothing = s ? 0.1 : 0};
		x.x = drand(&P, (size_t)N * K, 2);
		double *dl = dfill(&P, (size_t)N * K, NAN), stats[3] = {0};
		ref_softmax_xent_d(dl, stats, x.x, labels, N, K, x.smoothing);
		fd_check(s ? "softmax_xent smoothing 0.1 dlogits" : "softmax_xent dlogits", &x, x.x, dl, (size_t)N * K);
	}
	pool_free(&P);
}

int main(void)
{
	rng_seed(&rng, 20240601);
	RUN(test_known_conv);
	RUN(test_known_pool_softmax_sgd);
	RUN(test_known_bn_add_dense_gap);
	RUN(test_fd_conv);
	RUN(test_fd_bn);
	RUN(test_fd_relu_pool);
	RUN(test_fd_add_concat_gap);
	RUN(test_fd_dense_xent);
	CHECK_DONE();
}
