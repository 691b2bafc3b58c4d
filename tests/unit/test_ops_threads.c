/* Thread count and results: every case of op_cases.h on the CPU engines, run at 1 thread and at
   several others on the same inputs, compared bit for bit. The reference and the im2col +
   OpenBLAS engine (cpu-blas) must give identical results for any thread count (their
   reductions run over a chunking fixed by the shapes alone, combined in a fixed order).
   oneDNN's convolutions (the default cpu engine) split their reductions by the thread count
   and oneDNN 2.6 has no deterministic mode: for them the differences are measured and
   printed, not failed (docs/DESIGN.md, "Determinism"); their other ops are cpu-blas's and are
   held to the same bit-for-bit rule. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "check.h"
#include "op_cases.h"

/* Thread counts compared with 1: the machine's cores need not be that many (OpenMP runs
   more threads than cores), and odd counts split the work unevenly. */
static const int thread_counts[] = {2, 3, 5};
#define N_COUNTS (int)(sizeof thread_counts / sizeof thread_counts[0])

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

static int init(Ctx *c, const Backend *be, int threads)
{
	NashErr err = {0};
	*c = (Ctx){.be = be, .opts = BACKEND_OPTS_DEFAULT};
	c->opts.threads = threads;
	if (be->init && be->init(c, &err) != 0) {
		CHECKF(0, "%s: init: %s", be->name, err.msg);
		return -1;
	}
	return 0;
}

/* Runs case i at 1 thread and at each of thread_counts, comparing every output.
   strict: a difference fails the test; otherwise it is printed as a measurement. */
static void compare_threads(const Backend *be, int i, int strict)
{
	char name[96];
	Outs one = {0};
	Ctx c1;
	case_name(name, sizeof name, i);
	if (init(&c1, be, 1))
		return;
	case_run(&c1, i, &one);
	for (int t = 0; t < N_COUNTS; t++) {
		Ctx ct;
		if (init(&ct, be, thread_counts[t]))
			break;
		Outs many = {0};
		case_run(&ct, i, &many);
		CHECKF(one.n == many.n, "%s %s: %d outputs at 1 thread, %d at %d", be->name, name, one.n,
		       many.n, thread_counts[t]);
		for (int k = 0; k < one.n && k < many.n; k++) {
			const Out *a = &one.o[k], *b = &many.o[k];
			size_t differ = 0, n = a->n;
			double rel = 0;
			if (a->tol == T_BITS)
				differ = memcmp(a->data, b->data, n) != 0;
			else
				rel = max_rel_diff(a->data, b->data, n, &differ);
			if (strict)
				CHECKF(differ == 0, "%s %s: %s: %zu of %zu values differ between 1 and %d threads (at most %.3g of the largest)",
				       be->name, name, a->name, differ, n, thread_counts[t], rel);
			else if (differ)
				printf("# %s %s: %s: %zu of %zu values differ between 1 and %d threads, by at most %.3g of the largest\n",
				       be->name, name, a->name, differ, n, thread_counts[t], rel);
		}
		outs_free(&many);
		if (be->fini)
			be->fini(&ct);
	}
	outs_free(&one);
	if (be->fini)
		be->fini(&c1);
}

/* max_cost: the cases of more are left out (the reference's plain loops would take seconds
   on a search's shapes, and run on one thread whatever the count). */
static void compare_backend_threads(const Backend *be, int strict_conv, double max_cost)
{
	for (int i = 0; i < N_CASES; i++)
		if (case_cost(i) <= max_cost)
			compare_threads(be, i, cases[i].op == OT_CONV ? strict_conv : 1);
}

TEST(test_ref_any_threads) { compare_backend_threads(&nash_backend_ref, 1, REF_THREADS_MAX_COST); }
TEST(test_cpu_blas_any_threads) { compare_backend_threads(&nash_backend_blas, 1, INFINITY); }
/* Measured, not required (the header's comment): oneDNN's convolutions. */
TEST(test_onednn_threads) { compare_backend_threads(&nash_backend_onednn, 0, INFINITY); }

int main(void)
{
	RUN(test_ref_any_threads);
	RUN(test_cpu_blas_any_threads);
	RUN(test_onednn_threads);
	CHECK_DONE();
}
