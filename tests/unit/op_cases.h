/* The op tests' one table: every case (op, shape, variant) that the op tests run, in each of
   their modes:
     test_ops_backends.c  each CPU engine (and CUDA, when there) against the float reference
     test_ops_threads.c   the CPU engines at 1 thread against 2, 3 and 5, bit for bit
     test_ops_grad.c      the double reference's gradients against finite differences
     tests/gpu/test_gpu_ops.c  the CUDA engine against the float reference
   A mode runs every case it can afford (the budgets below). A new shape is one line in
   cases[]; a new op is its run (op_run.h), its gradient check if it has one (op_grad.h), a
   line in ops[] and its cases. How close each output must come is each mode's, by the
   outputs' tolerance classes (enum Tol, ops_common.h). */
#ifndef NASH_OP_CASES_H
#define NASH_OP_CASES_H

#include "op_grad.h"
#include "op_run.h"
#include "ops_common.h"

/* Which cases a mode runs, by cost (about the multiply-adds of one forward pass):
   against the reference (CPU engines, CUDA): its plain loops take about a second per 1e9;
   the reference at each thread count (it runs serially at any count);
   finite differences (two forward passes in double per perturbed value). */
#define REF_MAX_COST 6e7
#define REF_THREADS_MAX_COST 5e6
#define FD_MAX_COST 3e4

/* the ops tested (OT_; model/graph.h's OP_ are the graph's nodes) */
enum {
	OT_ZERO, OT_CONV, OT_BN, OT_RELU, OT_MAXPOOL, OT_ADD, OT_CONCAT, OT_GAP, OT_DENSE,
	OT_SOFTMAX_XENT, OT_SGD, OT_EMA, OT_MAKE_BATCH, N_OT
};

static double prod(const int *s, int k)
{
	double p = 1;
	for (int i = 0; i < k; i++)
		p *= s[i];
	return p;
}
static double cost_1(const int *s) { return prod(s, 1); }
static double cost_2(const int *s) { return prod(s, 2); }
static double cost_3(const int *s) { return prod(s, 3); }
static double cost_4(const int *s) { return prod(s, 4); }
static double cost_conv(const int *s) { return prod(s, 6) * s[5]; }
static double cost_concat(const int *s) { return prod(s, 2) * (s[2] + s[3] + s[4]); }

static const Op ops[N_OT] = {
	[OT_ZERO] = {"zero", {"bytes"}, cost_1, run_zero, NULL},
	[OT_CONV] = {"conv", {"N", "C", "H", "W", "K", "k"}, cost_conv, run_conv, fd_conv},
	/* each value moves every output of its channel through the statistics, whose rounding
	   (correlated over the channel) reaches the tolerance past a few thousand values */
	[OT_BN] = {"bn", {"N", "C", "HW"}, cost_3, run_bn, fd_bn, .fd_max_cost = 1000},
	[OT_RELU] = {"relu", {"n"}, cost_1, run_relu, fd_relu},
	[OT_MAXPOOL] = {"maxpool", {"N", "C", "H", "W", "k"}, cost_4, run_maxpool, fd_maxpool},
	[OT_ADD] = {"add", {"N", "C", "HW"}, cost_3, run_add, fd_add},
	[OT_CONCAT] = {"concat", {"N", "HW", "C", "+", "+"}, cost_concat, run_concat, fd_concat},
	[OT_GAP] = {"gap", {"N", "C", "HW"}, cost_3, run_gap, fd_gap},
	[OT_DENSE] = {"dense", {"N", "I", "O"}, cost_3, run_dense, fd_dense},
	[OT_SOFTMAX_XENT] = {"softmax_xent", {"N", "K", "smoothing%"}, cost_2, run_softmax_xent,
			     fd_softmax_xent},
	[OT_SGD] = {"sgd", {"n"}, cost_1, run_sgd, NULL},
	/* no finite differences: a weight average is no function of a loss, it has no gradient */
	[OT_EMA] = {"ema_update", {"n"}, cost_1, run_ema, NULL},
	[OT_MAKE_BATCH] = {"make_batch", {"n", "c", "h", "w", "images"}, cost_4, run_make_batch, NULL},
};

static const OpCase cases[] = {
	{OT_ZERO, {100}, 0},
	{OT_ZERO, {4000}, 0},
	{OT_ZERO, {(3 << 20) + 77}, 0},

	/* N, C, H, W, K, ks */
	{OT_CONV, {1, 1, 1, 1, 1, 1}, 0},
	{OT_CONV, {1, 3, 5, 7, 4, 3}, F_BIAS},
	{OT_CONV, {2, 5, 6, 6, 7, 5}, 0},
	{OT_CONV, {3, 13, 9, 11, 6, 1}, F_BIAS},
	{OT_CONV, {17, 7, 7, 7, 10, 3}, 0},
	{OT_CONV, {3, 2, 28, 28, 5, 3}, F_BIAS | F_NO_DIN},
	{OT_CONV, {2, 3, 2, 3, 4, 5}, F_BIAS}, /* kernel larger than the image */
	{OT_CONV, {2, 1, 3, 2, 2, 5}, 0},
	{OT_CONV, {5, 6, 4, 4, 3, 1}, 0},
	{OT_CONV, {33, 4, 3, 3, 5, 3}, F_BIAS},
	{OT_CONV, {2, 3, 5, 6, 4, 1}, 0},
	{OT_CONV, {2, 3, 5, 6, 4, 3}, F_BIAS},
	{OT_CONV, {1, 2, 4, 7, 3, 5}, F_BIAS},
	{OT_CONV, {2, 3, 8, 8, 4, 3}, 0},
	{OT_CONV, {3, 5, 7, 9, 6, 1}, F_BIAS},
	{OT_CONV, {2, 4, 9, 7, 3, 5}, F_NO_DIN},
	{OT_CONV, {3, 5, 9, 9, 6, 3}, F_BIAS},
	{OT_CONV, {1, 1, 28, 28, 8, 3}, F_BIAS},
	/* a batch of one, and batches that no thread count divides */
	{OT_CONV, {1, 4, 28, 28, 8, 3}, F_BIAS},
	{OT_CONV, {37, 12, 7, 7, 20, 5}, F_BIAS},
	{OT_CONV, {37, 12, 7, 7, 20, 1}, F_BIAS},
	/* 16 channels or more, 3x3: oneDNN's Winograd kernels (onednn_conv.c) */
	{OT_CONV, {4, 16, 14, 14, 16, 3}, F_BIAS},
	{OT_CONV, {3, 32, 7, 9, 24, 3}, 0},
	{OT_CONV, {2, 17, 5, 5, 33, 3}, F_BIAS},
	{OT_CONV, {8, 16, 16, 16, 32, 3}, F_BIAS},
	{OT_CONV, {4, 32, 14, 14, 64, 3}, 0},
	{OT_CONV, {16, 64, 7, 7, 64, 3}, 0},
	{OT_CONV, {2, 64, 28, 28, 64, 3}, F_BIAS},
	/* a search's shapes (28x28 and 32x32 inputs in batches of 40; batches of 128 on the
	   14x14 and 7x7 maps after pooling) */
	{OT_CONV, {40, 1, 28, 28, 16, 3}, F_BIAS},
	{OT_CONV, {40, 3, 32, 32, 16, 3}, F_BIAS},
	{OT_CONV, {40, 16, 28, 28, 16, 3}, F_BIAS},
	{OT_CONV, {128, 32, 14, 14, 32, 3}, F_BIAS},
	{OT_CONV, {128, 64, 7, 7, 64, 3}, F_BIAS},
	/* no workspace: the CPU engine's reference-loop fallback; on CUDA a shape never
	   announced through conv_workspace (e.g. a smaller last batch), planned at first use */
	{OT_CONV, {4, 3, 5, 5, 2, 3}, F_NO_WS},
	{OT_CONV, {5, 16, 16, 16, 32, 3}, F_BIAS | F_NO_WS},

	/* N, C, HW */
	{OT_BN, {1, 1, 1}, 0},
	{OT_BN, {1, 3, 1}, 0}, /* one value per channel: variance 0, the unbiased one falls back */
	{OT_BN, {2, 3, 1}, 0},
	{OT_BN, {2, 3, 5}, 0},
	{OT_BN, {3, 2, 5}, 0},
	{OT_BN, {4, 3, 25}, 0},
	{OT_BN, {37, 7, 25}, 0},
	{OT_BN, {16, 7, 49}, 0},
	{OT_BN, {16, 8, 49}, 0},
	{OT_BN, {64, 4, 64}, 0},   /* several chunks per channel */
	{OT_BN, {2, 300, 1}, 0},   /* more channels than the chunk target */
	{OT_BN, {3, 5, 784}, 0},
	{OT_BN, {128, 64, 49}, 0},
	{OT_BN, {128, 32, 196}, 0},
	{OT_BN, {32, 16, 784}, 0},

	/* n */
	{OT_RELU, {1}, 0},
	{OT_RELU, {12}, 0},
	{OT_RELU, {37}, 0},
	{OT_RELU, {40}, 0},
	{OT_RELU, {105}, 0},
	{OT_RELU, {9324}, 0},
	{OT_RELU, {100003}, 0}, /* past the CPU engine's parallel threshold */
	{OT_RELU, {100037}, 0},
	{OT_RELU, {401408}, 0},

	/* N, C, H, W, k (floor) */
	{OT_MAXPOOL, {1, 3, 2, 2, 2}, 0},
	{OT_MAXPOOL, {2, 3, 7, 7, 2}, 0},
	{OT_MAXPOOL, {2, 3, 8, 8, 2}, 0},
	{OT_MAXPOOL, {2, 2, 7, 9, 2}, 0},
	{OT_MAXPOOL, {1, 5, 5, 8, 2}, 0},
	{OT_MAXPOOL, {3, 2, 7, 8, 3}, 0},
	{OT_MAXPOOL, {2, 3, 7, 8, 3}, 0},
	{OT_MAXPOOL, {1, 3, 9, 9, 3}, 0},
	{OT_MAXPOOL, {37, 7, 6, 6, 2}, 0},
	{OT_MAXPOOL, {16, 32, 28, 28, 2}, 0},
	{OT_MAXPOOL, {32, 16, 28, 28, 2}, 0},

	/* N, C, HW */
	{OT_ADD, {1, 1, 1}, 0},
	{OT_ADD, {1, 1, 1}, F_SELF},
	{OT_ADD, {1, 3, 4}, 0},
	{OT_ADD, {2, 3, 5}, 0},
	{OT_ADD, {2, 3, 5}, F_SELF},
	{OT_ADD, {1, 37, 1}, 0},
	{OT_ADD, {1, 37, 1}, F_SELF},
	{OT_ADD, {3, 5, 7}, 0},
	{OT_ADD, {3, 5, 7}, F_SELF},
	{OT_ADD, {7, 3, 37}, F_NO_DB},
	{OT_ADD, {7, 3, 37}, F_NO_DLAMBDA},
	{OT_ADD, {37, 7, 36}, 0},
	{OT_ADD, {4, 5, 250}, 0},
	{OT_ADD, {4, 5, 250}, F_SAME},
	{OT_ADD, {7, 31, 461}, 0}, /* past the CPU engine's parallel threshold */
	{OT_ADD, {7, 31, 461}, F_SELF},
	{OT_ADD, {32, 16, 784}, 0},
	{OT_ADD, {128, 64, 196}, 0}, /* the grown networks' size: several chunks per channel */

	/* N, HW, then the inputs' channels */
	{OT_CONCAT, {1, 1, 1, 2, 0}, 0},
	{OT_CONCAT, {1, 4, 3, 3, 0}, 0},
	{OT_CONCAT, {2, 4, 2, 3, 1}, 0},
	{OT_CONCAT, {3, 10, 2, 5, 0}, 0},
	{OT_CONCAT, {3, 9, 5, 3, 0}, 0},
	{OT_CONCAT, {16, 16, 8, 8, 0}, 0},
	{OT_CONCAT, {37, 36, 7, 7, 0}, 0},
	{OT_CONCAT, {37, 49, 30, 20, 0}, 0},
	{OT_CONCAT, {32, 784, 16, 16, 0}, 0},

	/* N, C, HW */
	{OT_GAP, {1, 3, 1}, 0},
	{OT_GAP, {3, 7, 1}, 0},
	{OT_GAP, {1, 3, 4}, 0},
	{OT_GAP, {2, 3, 5}, 0},
	{OT_GAP, {3, 8, 9}, 0},
	{OT_GAP, {16, 16, 16}, 0},
	{OT_GAP, {4, 5, 49}, 0},
	{OT_GAP, {37, 7, 36}, 0},
	{OT_GAP, {2, 3, 1000}, 0},
	{OT_GAP, {37, 50, 49}, 0},
	{OT_GAP, {32, 16, 784}, 0},

	/* N, I, O */
	{OT_DENSE, {1, 3, 1}, F_BIAS},
	{OT_DENSE, {5, 1, 3}, 0},
	{OT_DENSE, {3, 7, 2}, F_BIAS},
	{OT_DENSE, {3, 5, 4}, 0},
	{OT_DENSE, {3, 5, 4}, F_BIAS},
	{OT_DENSE, {7, 20, 9}, F_BIAS | F_NO_DIN},
	{OT_DENSE, {3, 72, 10}, 0},
	{OT_DENSE, {33, 70, 11}, F_BIAS},
	{OT_DENSE, {16, 256, 10}, F_BIAS},
	{OT_DENSE, {128, 64, 10}, F_BIAS},
	{OT_DENSE, {37, 500, 100}, F_BIAS},
	{OT_DENSE, {37, 2450, 10}, F_BIAS}, /* big enough for the CPU engine's threads */
	{OT_DENSE, {128, 3136, 10}, F_BIAS},
	{OT_DENSE, {128, 6272, 10}, F_BIAS},

	/* N, K, label smoothing in hundredths (0: the one-hot loss) */
	{OT_SOFTMAX_XENT, {1, 10}, 0},
	{OT_SOFTMAX_XENT, {3, 2}, 0},
	{OT_SOFTMAX_XENT, {4, 5}, 0},
	{OT_SOFTMAX_XENT, {5, 100}, 0},
	{OT_SOFTMAX_XENT, {20, 10}, F_BAD_LABEL},
	{OT_SOFTMAX_XENT, {37, 10}, 0},
	{OT_SOFTMAX_XENT, {37, 100}, 0},
	{OT_SOFTMAX_XENT, {128, 10}, 0},
	{OT_SOFTMAX_XENT, {300, 100}, 0},
	{OT_SOFTMAX_XENT, {1, 10, 10}, 0},
	{OT_SOFTMAX_XENT, {3, 2, 20}, 0},
	{OT_SOFTMAX_XENT, {4, 5, 10}, 0},
	{OT_SOFTMAX_XENT, {20, 10, 10}, F_BAD_LABEL},
	{OT_SOFTMAX_XENT, {37, 10, 10}, 0},
	{OT_SOFTMAX_XENT, {37, 100, 30}, 0},
	{OT_SOFTMAX_XENT, {128, 10, 10}, 0},

	/* n */
	{OT_SGD, {1}, 0},
	{OT_SGD, {14}, 0},
	{OT_SGD, {33}, 0},
	{OT_SGD, {640}, 0},
	{OT_SGD, {10007}, 0},
	{OT_SGD, {31360}, 0},
	{OT_SGD, {50000}, 0},
	{OT_SGD, {155627}, 0},

	/* n */
	{OT_EMA, {1}, 0},
	{OT_EMA, {33}, 0},
	{OT_EMA, {10007}, 0},
	{OT_EMA, {155627}, 0}, /* past the CPU engine's parallel threshold */

	/* n, c, h, w, images */
	{OT_MAKE_BATCH, {5, 3, 8, 8, 5}, 0},
	{OT_MAKE_BATCH, {7, 1, 28, 28, 11}, 0},
	{OT_MAKE_BATCH, {4, 3, 32, 32, 11}, 0},
	{OT_MAKE_BATCH, {64, 1, 28, 28, 20}, 0},
	{OT_MAKE_BATCH, {33, 3, 32, 32, 20}, 0},
	{OT_MAKE_BATCH, {128, 1, 28, 28, 128}, 0},
	{OT_MAKE_BATCH, {128, 3, 32, 32, 128}, 0},
};
#define N_CASES (int)(sizeof cases / sizeof cases[0])

static inline double case_cost(int i) { return ops[cases[i].op].cost(cases[i].s); }

/* "conv N2 C3 H8 W8 K4 k3 bias"; a dim named with a trailing '%' is a percentage:
   "softmax_xent N37 K10 smoothing 10%" */
static inline void case_name(char *buf, size_t n, int i)
{
	const OpCase *c = &cases[i];
	const Op *op = &ops[c->op];
	static const char *flag_names[] = FLAG_NAMES;
	int l = snprintf(buf, n, "%s", op->name);
	for (int d = 0; d < 6 && op->dims[d] && l < (int)n; d++) {
		int len = (int)strlen(op->dims[d]), pct = op->dims[d][len - 1] == '%';
		l += snprintf(buf + l, n - l, pct ? " %.*s %d%%" : " %.*s%d", len - pct, op->dims[d],
			      c->s[d]);
	}
	for (int f = 0; f < (int)(sizeof flag_names / sizeof *flag_names) && l < (int)n; f++)
		if (c->flags & (1u << f))
			l += snprintf(buf + l, n - l, " %s", flag_names[f]);
}

/* The case's inputs come from its own stream, seeded by what the case is: the same on every
   backend and thread count, and whatever else the table holds. */
static inline void case_seed(Rng *r, int i, uint64_t mode)
{
	rng_seed3(r, nash_hash(NASH_HASH_INIT, &cases[i], sizeof cases[i]), mode, 0);
}

static inline void case_run(Ctx *ctx, int i, Outs *o)
{
	Rng r;
	case_seed(&r, i, 0);
	ops[cases[i].op].run(ctx, &cases[i], &r, o);
}

/* Whether the case has gradients to check and finite differences can afford it. */
static inline int case_has_fd(int i)
{
	const Op *op = &ops[cases[i].op];
	return op->fd && case_cost(i) <= (op->fd_max_cost ? op->fd_max_cost : FD_MAX_COST);
}

static inline void case_fd(int i)
{
	char name[96];
	Rng r;
	case_name(name, sizeof name, i);
	case_seed(&r, i, 1);
	ops[cases[i].op].fd(&cases[i], name, &r);
}

#endif
