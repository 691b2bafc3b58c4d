/* The double-precision reference ops (lib/backend/ref/ref_ops.h), what the backends are tested against
   (test_ops_backends.c):
   1. known answers pin their semantics (what the ops mean);
   2. every backward against central finite differences (that the gradients are those of the
      forwards), accumulate targets pre-filled with known values (op_grad.h), on every case of
      op_cases.h small enough. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>

#include "backend/ref/ref_ops.h"
#include "check.h"
#include "op_cases.h"

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

/* ---- 2. finite differences (double reference), on the cases of op_cases.h ---- */

/* Every case of op that finite differences can afford (op_grad.h). */
static void fd_op(int op)
{
	int n = 0;
	fd_worst_frac = 0;
	fd_worst_where[0] = 0;
	for (int i = 0; i < N_CASES; i++)
		if (cases[i].op == op && case_has_fd(i)) {
			case_fd(i);
			n++;
		}
	printf("# %s: %d cases, worst error %.3g of its tolerance (%s)\n", ops[op].name, n,
	       fd_worst_frac, fd_worst_where);
}

int main(void)
{
	RUN(test_known_conv);
	RUN(test_known_pool_softmax_sgd);
	RUN(test_known_bn_add_dense_gap);
	for (int op = 0; op < N_OT; op++) {
		char name[64];
		snprintf(name, sizeof name, "test_fd_%s", ops[op].name);
		if (ops[op].fd)
			RUN_AS(name, fd_op(op));
	}
	CHECK_DONE();
}
