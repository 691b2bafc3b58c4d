/* Every op of each compute backend (lib/backend/backend.h) against the float reference, on the
   cases of op_cases.h that the reference can afford (op_run.h: NaN-poisoned outputs, guard
   bytes, accumulated gradients from random values). The reference runs each case once and
   every backend is compared with that; a device backend runs unchanged (CUDA when there; its
   own, tighter test is tests/gpu/test_gpu_ops.c). The reference itself is checked by
   test_ops_grad.c (known answers, finite differences). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "check.h"
#include "op_cases.h"

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
/* elementwise ops and short sums: a few roundings at most */
#define EW_ATOL 1e-6
#define EW_RTOL 1e-5

/* |got-want| <= atol*max(1, rms(want)) + rtol*|want| by class (T_BITS: equal bytes). */
static const struct {
	double atol, rtol;
} tols[N_TOL] = {
	[T_EXACT] = {0, 0},
	[T_MOVE] = {EW_ATOL, EW_RTOL},
	[T_ELEM] = {EW_ATOL, EW_RTOL},
	[T_XENT] = {EW_ATOL, EW_RTOL},
	[T_STATS] = {1e-5, 1e-5},
	/* sums of N*HW terms in another order (rows in float, then double), and what inherits
	   their errors (batch-norm's out and din); dense: float GEMM sums, like conv's */
	[T_REDUCE] = {CONV_ATOL, CONV_RTOL},
	[T_BN_EVAL] = {CONV_ATOL, CONV_RTOL},
	[T_DENSE] = {CONV_ATOL, CONV_RTOL},
	[T_CONV] = {CONV_ATOL, CONV_RTOL},
	[T_CONV_BIAS] = {CONV_ATOL, CONV_RTOL},
};

/* One backend at one thread count, a TAP test of its own. */
typedef struct Config {
	const char *test;
	const Backend *be;
	int threads;
	double conv_atol, conv_rtol; /* T_CONV and T_CONV_BIAS */
	unsigned only;               /* nonzero: only the cases with these flags */
	int on, failed;
	Ctx ctx;
	/* The largest error seen as a fraction of its tolerance, and where (printed: how close
	   each backend comes to failing); over all comparisons, over convolutions'. */
	double worst_frac, worst_conv_frac;
	char worst_where[320], worst_conv_where[320];
} Config;

/* got[n] against the reference's want[n]. The absolute part of the tolerance scales with the
   typical magnitude because float rounding errors of a sum grow with the sum's magnitude, not
   with each (possibly tiny) element. */
static void expect(Config *cf, const char *what, const float *got, const float *want, size_t n,
		   double atol, double rtol, int conv)
{
	double ss = 0;
	for (size_t i = 0; i < n; i++)
		ss += (double)want[i] * want[i];
	double rms = n ? sqrt(ss / n) : 0, worst;
	double abs_tol = atol * (rms > 1 ? rms : 1);
	long i = check_arrays_close(got, want, n, abs_tol, rtol, &worst);
	for (size_t k = 0; k < n; k++) {
		double lim = abs_tol + rtol * fabs((double)want[k]);
		double frac = lim > 0 ? fabs((double)got[k] - want[k]) / lim : 0;
		char where[320];
		if (frac > cf->worst_frac || (conv && frac > cf->worst_conv_frac))
			snprintf(where, sizeof where, "%s: element %zu: got %.9g, want %.9g", what, k,
				 got[k], want[k]);
		if (frac > cf->worst_frac) {
			cf->worst_frac = frac;
			memcpy(cf->worst_where, where, sizeof where);
		}
		if (conv && frac > cf->worst_conv_frac) {
			cf->worst_conv_frac = frac;
			memcpy(cf->worst_conv_where, where, sizeof where);
		}
	}
	CHECKF(i < 0, "%s: element %ld of %zu: got %.9g, want %.9g", what, i, n, i < 0 ? 0 : got[i],
	       i < 0 ? 0 : want[i]);
}

/* Case i's outputs on cf's backend against the reference's. */
static void compare(Config *cf, int i, const Outs *got, const Outs *want)
{
	char name[96], what[192];
	case_name(name, sizeof name, i);
	CHECKF(got->n == want->n, "%s %s: %d outputs, the reference %d", cf->be->name, name, got->n,
	       want->n);
	for (int k = 0; k < got->n && k < want->n; k++) {
		const Out *g = &got->o[k], *w = &want->o[k];
		snprintf(what, sizeof what, "%s %s threads %d: %s", cf->be->name, name, cf->threads, g->name);
		if (g->tol == T_BITS) {
			CHECKF(!memcmp(g->data, w->data, g->n), "%s: differs", what);
			continue;
		}
		int conv = g->tol == T_CONV || g->tol == T_CONV_BIAS;
		double atol = conv ? cf->conv_atol : tols[g->tol].atol;
		double rtol = conv ? cf->conv_rtol : tols[g->tol].rtol;
		const float *gf = g->data, *wf = w->data;
		if (g->tol == T_STATS) { /* the counts exactly; a NaN loss (a bad label) for NaN */
			CHECKF(gf[1] == wf[1] && gf[2] == wf[2], "%s: counts %g %g, want %g %g", what,
			       gf[1], gf[2], wf[1], wf[2]);
			if (isnan(gf[0]) && isnan(wf[0]))
				continue;
		}
		expect(cf, what, gf, wf, g->n, atol, rtol, conv);
	}
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

/* A device backend, when this build has one and a device is there. */
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

/* Every case on every usable backend, each against the reference's run of it; then one TAP
   line per backend. */
static void compare_backends(void)
{
	Config cfs[] = {
		{.test = "test_ref_vs_ref", .be = &nash_backend_ref}, /* the harness itself */
		{.test = "test_cpu_vs_ref", .be = &nash_backend_blas},
		{.test = "test_cpu_vs_ref_3_threads", .be = &nash_backend_blas, .threads = 3},
		/* oneDNN's kernels sum in their own order (blocked over channels and pixels,
		   across threads): the float-GEMM tolerances hold for them too. */
		{.test = "test_onednn_vs_ref", .be = &nash_backend_onednn},
		{.test = "test_onednn_vs_ref_3_threads", .be = &nash_backend_onednn, .threads = 3},
		{.test = "test_onednn_bf16_vs_ref", .be = &nash_backend_onednn_bf16,
		 .conv_atol = CONV_BF16_ATOL, .conv_rtol = CONV_BF16_RTOL},
		/* less workspace than asked for: the CPU engine falls back to the reference loops
		   rather than write past the end */
		{.test = "test_cpu_small_workspace", .be = &nash_backend_blas, .threads = 2, .only = F_NO_WS},
		{.test = "test_cuda_vs_ref", .be = nash_backend_cuda()},
	};
	int n_cfs = (int)(sizeof cfs / sizeof cfs[0]);
	for (int b = 0; b < n_cfs; b++) {
		Config *cf = &cfs[b];
		cf->on = cf->be == &nash_backend_onednn_bf16 ? bf16_usable()
			 : cf->be == nash_backend_cuda()    ? cuda_usable()
							    : 1;
		if (!cf->conv_atol) {
			cf->conv_atol = CONV_ATOL;
			cf->conv_rtol = CONV_RTOL;
		}
		cf->ctx = (Ctx){.be = cf->be, .opts = BACKEND_OPTS_DEFAULT};
		cf->ctx.opts.threads = cf->threads;
		NashErr err = {0};
		if (cf->on && cf->be->init && cf->be->init(&cf->ctx, &err) != 0) {
			printf("#   %s: init: %s\n", cf->be->name, err.msg);
			cf->failed = 1;
			cf->on = 0;
		}
	}
	Ctx ref = {.be = &nash_backend_ref, .opts = BACKEND_OPTS_DEFAULT};
	for (int i = 0; i < N_CASES; i++) {
		if (case_cost(i) > REF_MAX_COST)
			continue;
		Outs want = {0}, got = {0};
		case_run(&ref, i, &want);
		for (int b = 0; b < n_cfs; b++) {
			Config *cf = &cfs[b];
			if (!cf->on || (cf->only && !(cases[i].flags & cf->only)))
				continue;
			check_current_failed = 0;
			case_run(&cf->ctx, i, &got);
			compare(cf, i, &got, &want);
			outs_free(&got);
			cf->failed |= check_current_failed;
		}
		outs_free(&want);
	}
	for (int b = 0; b < n_cfs; b++) {
		Config *cf = &cfs[b];
		if (cf->on && cf->be->fini)
			cf->be->fini(&cf->ctx);
		if (cf->on)
			printf("# %s, %d threads: worst error %.3g of its tolerance (%s); of a convolution %.3g (%s)\n",
			       cf->be->name, cf->threads, cf->worst_frac, cf->worst_where, cf->worst_conv_frac,
			       cf->worst_conv_where);
		if (cf->on || cf->failed)
			RUN_AS(cf->test, check_current_failed = cf->failed);
	}
}

TEST(test_backend_find)
{
	NashErr err = {0};
	CHECK(backend_find("ref", &err) == &nash_backend_ref);
	CHECK(backend_find("cpu", &err) == &nash_backend_onednn);
	CHECK(backend_find("cpu-blas", &err) == &nash_backend_blas);
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
	      !strcmp(nash_backend_blas.name, "cpu-blas"));
}

int main(void)
{
	compare_backends();
	RUN(test_backend_find);
	CHECK_DONE();
}
