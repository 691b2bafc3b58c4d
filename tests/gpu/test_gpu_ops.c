/* The CUDA backend against the reference backend (lib/backend/ref/backend_ref.c): every op forward and
   backward on fresh random inputs, outputs poisoned with NaN first (accumulated gradients start
   from random values instead, so "+=" is checked too), then three training steps of a small
   grown network (convs, an add skip, concat skips, a widened layer) through lib/engine/net.h on both
   engines. Skips (TAP "# SKIP", exit 0) when no GPU is visible.

   Usage: test_gpu_ops [--sanitizer]   (--sanitizer: leaves out the deliberately failing calls,
                                        which a sanitizer would count as errors)

   Tolerances, "normwise": |got - want| <= tol * (max|want| + |want|) per element; NaN fails.
     exact     0      relu, max-pool, concat, batch builder (same float operations)
     elem      1e-5   add, gap, sgd, batch-norm eval (float vs the reference's double)
     reduce    1e-4   batch-norm train/backward, softmax cross-entropy, bias gradients
     conv      2e-4   cuDNN convolutions in FP32 FMA math (FFT/Winograd algorithms included)
     dense     2e-5   cuBLAS sgemm, FP32
     net       2e-3   parameters after three SGD steps, evaluation logits
   With NASH_TF32=1 (tensor-core TF32, 10-bit mantissa) conv and dense use 1e-2, net 5e-2. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/check.h"
#include "backend/backend.h"
#include "data/data.h"
#include "model/graph.h"
#include "model/init.h"
#include "engine/net.h"
#include "base/rng.h"
#include "../../tools/cli.h"
#ifdef NASH_HAVE_CUDA
#include <cuda_runtime_api.h>

#include "../../kernels/nash_cuda.h"
#endif

enum { EXACT, ELEM, REDUCE, CONV, DENSE, NET };
static double tol[] = {0, 1e-5, 1e-4, 2e-4, 2e-5, 2e-3};

static const Backend *cu;
static BackendOpts gpu_opts = BACKEND_OPTS_DEFAULT; /* NASH_* from the environment, as the tools */
static Ctx cctx;                                   /* the CUDA context of the op tests */
static Ctx rctx = {.be = &nash_backend_ref};
static Rng rng;
static int sanitizer; /* --sanitizer: no deliberately failing CUDA calls */

/* ---- host and device buffers ---- */

static float *hnew(size_t n)
{
	float *p = malloc((n ? n : 1) * sizeof *p);
	if (!p) {
		printf("Bail out! out of host memory\n");
		exit(1);
	}
	return p;
}

static float *hrand(size_t n, float lo, float hi)
{
	float *p = hnew(n);
	for (size_t i = 0; i < n; i++)
		p[i] = lo + (hi - lo) * (float)rng_uniform(&rng);
	return p;
}

static float *hcopy(const float *src, size_t n)
{
	float *p = hnew(n);
	memcpy(p, src, n * sizeof *p);
	return p;
}

static void *dalloc(size_t bytes)
{
	NashErr err = {0};
	void *p = cu->alloc(&cctx, bytes, &err);
	if (!p) {
		printf("Bail out! %s\n", err.msg);
		exit(1);
	}
	return p;
}

/* Device copy of host floats. */
static float *dcopy(const float *h, size_t n)
{
	float *d = dalloc((n ? n : 1) * sizeof *d);
	cu->upload(&cctx, d, h, n * sizeof *h);
	return d;
}

/* Device buffer of n NaNs: whatever the op does not write stays NaN and fails the check. */
static float *dnan(size_t n)
{
	float *h = hnew(n);
	for (size_t i = 0; i < n; i++)
		h[i] = NAN;
	float *d = dcopy(h, n);
	free(h);
	return d;
}

static void dfree(void *d) { cu->free(&cctx, d); }

/* Host copy of device floats, after checking that everything queued so far succeeded. */
static float *fetch(const float *d, size_t n)
{
	NashErr err = {0};
	float *h = hnew(n);
	int rc = cu->sync(&cctx, &err);
	CHECKF(rc == 0, "deferred CUDA error: %s", err.msg);
	cu->download(&cctx, h, d, n * sizeof *h);
	return h;
}

/* Compares n device floats with the reference's host floats (normwise, see the top). */
static void expect(const char *what, const float *dgot, const float *want, size_t n, int kind)
{
	float *got = fetch(dgot, n);
	double scale = 0, worst = 0;
	for (size_t i = 0; i < n; i++)
		scale = fabs(want[i]) > scale ? fabs(want[i]) : scale;
	double t = tol[kind];
	long bad = check_arrays_close(got, want, n, t * scale, t, &worst);
	double maxerr = 0;
	for (size_t i = 0; i < n; i++) {
		double e = fabs((double)got[i] - want[i]);
		maxerr = e > maxerr || isnan(e) ? e : maxerr;
	}
	printf("#   %-44s max|err| %.2e  scale %.2e  tol %.0e\n", what, maxerr, scale, t);
	CHECKF(bad < 0, "%s: element %ld: got %.9g, want %.9g (%zu elements)", what, bad, bad < 0 ? 0.0 : got[bad],
	       bad < 0 ? 0.0 : want[bad], n);
	free(got);
}

/* ---- memory and errors ---- */

TEST(test_memory)
{
	size_t n = 1000;
	float *h = hrand(n, -1, 1), *back = hnew(n);
	float *d = dcopy(h, n);
	cu->download(&cctx, back, d, n * sizeof *back);
	CHECK(memcmp(h, back, n * sizeof *h) == 0);
	cu->zero(&cctx, d, n * sizeof(float));
	float *z = fetch(d, n);
	int zeros = 1;
	for (size_t i = 0; i < n; i++)
		zeros &= z[i] == 0.0f;
	CHECK(zeros);
	dfree(d);
	free(h), free(back), free(z);
	if (sanitizer)
		return;
	/* Out of memory: NULL, NASH_ERR_OOM, a message with the size, and the context still works. */
	h = hrand(n, -1, 1);
	d = dcopy(h, n);
	NashErr err = {0};
	void *huge = cu->alloc(&cctx, (size_t)1 << 52, &err);
	CHECK(huge == NULL);
	CHECKF(err.code == NASH_ERR_OOM, "code %d: %s", err.code, err.msg);
	CHECKF(strstr(err.msg, "4503599627370496 bytes") != NULL, "message: %s", err.msg);
	printf("#   OOM message: %s\n", err.msg);
	NashErr serr = {0};
	CHECKF(cu->sync(&cctx, &serr) == 0, "after OOM: %s", serr.msg);
	cu->upload(&cctx, d, h, n * sizeof *h);
	float *again = fetch(d, n);
	CHECK(memcmp(again, h, n * sizeof *h) == 0);
	dfree(d);
	free(h), free(again);
}

/* A failing call is recorded and reported by sync, naming the source file; a failed download
   yields NaN rather than stale data. Uses its own context: a failed one stays failed. */
TEST(test_deferred_error)
{
	Ctx c = {.be = cu, .opts = gpu_opts};
	NashErr err = {0};
	if (cu->init(&c, &err)) {
		CHECKF(0, "init: %s", err.msg);
		return;
	}
	float *d = cu->alloc(&c, 64, &err);
	CHECK(d != NULL);
	cu->conv_forward(&c, d, d, d, NULL, 1, 1, -1, 4, 1, 3); /* H = -1: cuDNN rejects it */
	int rc = cu->sync(&c, &err);
	CHECK(rc == -1);
	CHECKF(strstr(err.msg, "cuda_conv.cu:") != NULL, "message: %s", err.msg);
	printf("#   deferred error: %s\n", err.msg);
	float h[4] = {1, 2, 3, 4};
	cu->download(&c, h, d, sizeof h);
	CHECK(isnan(h[0]) && isnan(h[3]));
	cu->free(&c, d);
	cu->fini(&c);
}

/* ---- convolution ---- */

typedef struct ConvShape {
	int N, C, H, W, K, ks;
} ConvShape;

static const ConvShape conv_shapes[] = {
	{2, 3, 8, 8, 4, 3},   {3, 5, 7, 9, 6, 1},    {2, 4, 9, 7, 3, 5},  {8, 16, 16, 16, 32, 3},
	{4, 32, 14, 14, 64, 3}, {1, 1, 28, 28, 8, 3}, {16, 64, 7, 7, 64, 3},
};

static void conv_case(const ConvShape *s, int bias, int want_din)
{
	int N = s->N, C = s->C, H = s->H, W = s->W, K = s->K, ks = s->ks;
	size_t nin = (size_t)N * C * H * W, nout = (size_t)N * K * H * W, nw = (size_t)K * C * ks * ks;
	char name[96];
	float *in = hrand(nin, -1, 1), *w = hrand(nw, -1, 1), *b = hrand(K, -1, 1), *dout = hrand(nout, -1, 1);
	for (size_t i = 0; i < nw; i++)
		w[i] /= sqrtf((float)(C * ks * ks));
	float *din0 = hrand(nin, -1, 1), *out = hnew(nout), *din = hcopy(din0, nin), *dw = hnew(nw), *db = hnew(K);
	nash_backend_ref.conv_forward(&rctx, out, in, w, bias ? b : NULL, N, C, H, W, K, ks);
	nash_backend_ref.conv_backward(&rctx, want_din ? din : NULL, dw, bias ? db : NULL, dout, in, w, N, C, H, W, K, ks);

	float *d_in = dcopy(in, nin), *d_w = dcopy(w, nw), *d_b = dcopy(b, K), *d_dout = dcopy(dout, nout);
	float *d_out = dnan(nout), *d_din = dcopy(din0, nin), *d_dw = dnan(nw), *d_db = dnan(K);
	cu->conv_forward(&cctx, d_out, d_in, d_w, bias ? d_b : NULL, N, C, H, W, K, ks);
	cu->conv_backward(&cctx, want_din ? d_din : NULL, d_dw, bias ? d_db : NULL, d_dout, d_in, d_w, N, C, H, W, K, ks);
	snprintf(name, sizeof name, "conv N%d C%d %dx%d K%d k%d%s out", N, C, H, W, K, ks, bias ? " +b" : "");
	expect(name, d_out, out, nout, CONV);
	snprintf(name, sizeof name, "conv N%d C%d %dx%d K%d k%d din%s", N, C, H, W, K, ks, want_din ? "" : " (NULL)");
	expect(name, d_din, want_din ? din : din0, nin, CONV);
	snprintf(name, sizeof name, "conv N%d C%d %dx%d K%d k%d dw", N, C, H, W, K, ks);
	expect(name, d_dw, dw, nw, CONV);
	if (bias) {
		snprintf(name, sizeof name, "conv N%d C%d %dx%d K%d k%d db", N, C, H, W, K, ks);
		expect(name, d_db, db, K, REDUCE);
	}
	void *dev[] = {d_in, d_w, d_b, d_dout, d_out, d_din, d_dw, d_db};
	for (size_t i = 0; i < sizeof dev / sizeof dev[0]; i++)
		dfree(dev[i]);
	free(in), free(w), free(b), free(dout), free(din0), free(out), free(din), free(dw), free(db);
}

TEST(test_conv)
{
	size_t n = sizeof conv_shapes / sizeof conv_shapes[0], ws = 0;
	/* As the engine does: plans (and algorithms) first, one workspace for the largest. */
	for (size_t i = 0; i < n; i++) {
		const ConvShape *s = &conv_shapes[i];
		size_t w = cu->conv_workspace(&cctx, s->N, s->C, s->H, s->W, s->K, s->ks);
		ws = w > ws ? w : ws;
	}
	printf("#   conv workspace: %zu floats\n", ws);
	if (ws) {
		cctx.workspace = dalloc(ws * sizeof(float));
		cctx.workspace_floats = ws;
	}
	for (size_t i = 0; i < n; i++)
		conv_case(&conv_shapes[i], (int)(i % 2), i != 2);
	/* A shape never announced through conv_workspace (e.g. a smaller last batch) and no
	   engine workspace: the backend plans it at first use with its own workspace. */
	if (ws) {
		dfree(cctx.workspace);
		cctx.workspace = NULL;
		cctx.workspace_floats = 0;
	}
	ConvShape late = {5, 16, 16, 16, 32, 3};
	conv_case(&late, 1, 1);
}

/* ---- batch-norm ---- */

static void bn_case(int N, int C, int HW)
{
	size_t n = (size_t)N * C * HW;
	char name[96];
	float *in = hrand(n, 1, 5); /* |mean| > std: the shifted sums matter */
	float *gamma = hrand(C, 0.5f, 1.5f), *beta = hrand(C, -0.5f, 0.5f), *rm = hrand(C, -1, 1), *rv = hrand(C, 0.5f, 2);
	float *dout = hrand(n, -1, 1), *din0 = hrand(n, -1, 1);
	float *out = hnew(n), *mean = hnew(C), *invstd = hnew(C), *rm2 = hcopy(rm, C), *rv2 = hcopy(rv, C);
	float *eout = hnew(n), *din = hcopy(din0, n), *dg = hnew(C), *dbt = hnew(C);
	const Backend *R = &nash_backend_ref;
	R->bn_forward_train(&rctx, out, mean, invstd, rm2, rv2, in, gamma, beta, N, C, HW, 0.1f, 1e-5f);
	R->bn_forward_eval(&rctx, eout, in, gamma, beta, rm, rv, N, C, HW, 1e-5f);
	R->bn_backward(&rctx, din, dg, dbt, dout, in, mean, invstd, gamma, N, C, HW);

	float *d_in = dcopy(in, n), *d_g = dcopy(gamma, C), *d_b = dcopy(beta, C), *d_rm = dcopy(rm, C);
	float *d_rv = dcopy(rv, C), *d_rm2 = dcopy(rm, C), *d_rv2 = dcopy(rv, C), *d_dout = dcopy(dout, n);
	float *d_out = dnan(n), *d_mean = dnan(C), *d_is = dnan(C), *d_eout = dnan(n);
	float *d_din = dcopy(din0, n), *d_dg = dnan(C), *d_dbt = dnan(C);
	float *d_mean_ref = dcopy(mean, C), *d_is_ref = dcopy(invstd, C), *d_din_null = dcopy(din0, n);
	cu->bn_forward_train(&cctx, d_out, d_mean, d_is, d_rm2, d_rv2, d_in, d_g, d_b, N, C, HW, 0.1f, 1e-5f);
	cu->bn_forward_eval(&cctx, d_eout, d_in, d_g, d_b, d_rm, d_rv, N, C, HW, 1e-5f);
	/* The backward pass from the reference's saved statistics isolates it from the forward. */
	cu->bn_backward(&cctx, d_din, d_dg, d_dbt, d_dout, d_in, d_mean_ref, d_is_ref, d_g, N, C, HW);
	snprintf(name, sizeof name, "bn N%d C%d HW%d", N, C, HW);
	char what[128];
	const struct {
		const char *part;
		float *got, *want;
		size_t n;
		int kind;
	} parts[] = {
		{"out", d_out, out, n, REDUCE},        {"mean", d_mean, mean, C, REDUCE},
		{"invstd", d_is, invstd, C, REDUCE},    {"running_mean", d_rm2, rm2, C, REDUCE},
		{"running_var", d_rv2, rv2, C, REDUCE}, {"eval out", d_eout, eout, n, ELEM},
		{"din", d_din, din, n, REDUCE},         {"dgamma", d_dg, dg, C, REDUCE},
		{"dbeta", d_dbt, dbt, C, REDUCE},
	};
	for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
		snprintf(what, sizeof what, "%s %s", name, parts[i].part);
		expect(what, parts[i].got, parts[i].want, parts[i].n, parts[i].kind);
	}
	/* din NULL: only the parameter gradients (recomputed, overwritten). */
	cu->bn_backward(&cctx, NULL, d_dg, d_dbt, d_dout, d_in, d_mean_ref, d_is_ref, d_g, N, C, HW);
	snprintf(what, sizeof what, "%s dgamma (din NULL)", name);
	expect(what, d_dg, dg, C, REDUCE);
	void *dev[] = {d_in, d_g, d_b, d_rm, d_rv, d_rm2, d_rv2, d_dout, d_out, d_mean, d_is, d_eout,
		       d_din, d_dg, d_dbt, d_mean_ref, d_is_ref, d_din_null};
	for (size_t i = 0; i < sizeof dev / sizeof dev[0]; i++)
		dfree(dev[i]);
	void *host[] = {in, gamma, beta, rm, rv, dout, din0, out, mean, invstd, rm2, rv2, eout, din, dg, dbt};
	for (size_t i = 0; i < sizeof host / sizeof host[0]; i++)
		free(host[i]);
}

TEST(test_bn)
{
	bn_case(4, 3, 25);
	bn_case(16, 8, 49);
	bn_case(64, 4, 64);   /* several chunks per channel */
	bn_case(2, 300, 1);   /* more channels than the chunk target */
	bn_case(128, 32, 196);
	bn_case(1, 3, 1);     /* one value per channel: variance 0, unbiased falls back */
}

/* ---- element-wise ops ---- */

TEST(test_relu)
{
	size_t n = 100003;
	float *in = hrand(n, -1, 1), *dout = hrand(n, -1, 1), *din0 = hrand(n, -1, 1);
	for (size_t i = 0; i < n; i += 7)
		in[i] = 0.0f; /* exactly zero: no gradient */
	float *out = hnew(n), *din = hcopy(din0, n);
	nash_backend_ref.relu_forward(&rctx, out, in, n);
	nash_backend_ref.relu_backward(&rctx, din, dout, out, n);
	float *d_in = dcopy(in, n), *d_out = dnan(n), *d_dout = dcopy(dout, n), *d_din = dcopy(din0, n);
	cu->relu_forward(&cctx, d_out, d_in, n);
	cu->relu_backward(&cctx, d_din, d_dout, d_out, n);
	expect("relu out", d_out, out, n, EXACT);
	expect("relu din", d_din, din, n, EXACT);
	dfree(d_in), dfree(d_out), dfree(d_dout), dfree(d_din);
	free(in), free(dout), free(din0), free(out), free(din);
}

static void pool_case(int N, int C, int H, int W, int k)
{
	size_t nin = (size_t)N * C * H * W, nout = (size_t)N * C * (H / k) * (W / k);
	float *in = hnew(nin);
	for (size_t i = 0; i < nin; i++)
		in[i] = (float)rng_below(&rng, 3); /* many ties: the first maximum must win */
	float *dout = hrand(nout, -1, 1), *din0 = hrand(nin, -1, 1), *out = hnew(nout), *din = hcopy(din0, nin);
	nash_backend_ref.maxpool_forward(&rctx, out, in, N, C, H, W, k);
	nash_backend_ref.maxpool_backward(&rctx, din, dout, in, N, C, H, W, k);
	float *d_in = dcopy(in, nin), *d_out = dnan(nout), *d_dout = dcopy(dout, nout), *d_din = dcopy(din0, nin);
	cu->maxpool_forward(&cctx, d_out, d_in, N, C, H, W, k);
	cu->maxpool_backward(&cctx, d_din, d_dout, d_in, N, C, H, W, k);
	char name[96];
	snprintf(name, sizeof name, "maxpool N%d C%d %dx%d k%d out", N, C, H, W, k);
	expect(name, d_out, out, nout, EXACT);
	snprintf(name, sizeof name, "maxpool N%d C%d %dx%d k%d din", N, C, H, W, k);
	expect(name, d_din, din, nin, EXACT);
	dfree(d_in), dfree(d_out), dfree(d_dout), dfree(d_din);
	free(in), free(dout), free(din0), free(out), free(din);
}

TEST(test_maxpool)
{
	pool_case(2, 3, 8, 8, 2);
	pool_case(2, 2, 7, 9, 2);
	pool_case(1, 3, 9, 9, 3);
	pool_case(16, 32, 28, 28, 2);
}

static void add_case(int N, int C, int HW, int same, int with_db, int with_dlambda)
{
	size_t n = (size_t)N * C * HW;
	float *a = hrand(n, -1, 1), *b = hrand(n, -1, 1), *dout = hrand(n, -1, 1), *lambda = hrand(C, -0.5f, 1.5f);
	float *da0 = hrand(n, -1, 1), *db0 = hrand(n, -1, 1), *out = hnew(n), *da = hcopy(da0, n);
	float *db = same ? da : hcopy(db0, n), *dl = hnew(C);
	nash_backend_ref.add_forward(&rctx, out, a, b, lambda, N, C, HW);
	nash_backend_ref.add_backward(&rctx, da, with_db ? db : NULL, with_dlambda ? dl : NULL, dout, a, b, lambda,
				      N, C, HW);
	float *d_a = dcopy(a, n), *d_b = dcopy(b, n), *d_dout = dcopy(dout, n), *d_l = dcopy(lambda, C);
	float *d_out = dnan(n), *d_da = dcopy(da0, n), *d_db = same ? d_da : dcopy(db0, n), *d_dl = dnan(C);
	cu->add_forward(&cctx, d_out, d_a, d_b, d_l, N, C, HW);
	cu->add_backward(&cctx, d_da, with_db ? d_db : NULL, with_dlambda ? d_dl : NULL, d_dout, d_a, d_b, d_l, N, C,
			 HW);
	char what[64], name[96];
	snprintf(what, sizeof what, "add N%d C%d HW%d%s%s", N, C, HW, same ? " da=db" : "", with_db ? "" : " db NULL");
	snprintf(name, sizeof name, "%s out", what);
	expect(name, d_out, out, n, ELEM);
	snprintf(name, sizeof name, "%s da", what);
	expect(name, d_da, da, n, ELEM);
	if (!same) {
		snprintf(name, sizeof name, "%s db", what);
		expect(name, d_db, with_db ? db : db0, n, ELEM);
	}
	if (with_dlambda) {
		snprintf(name, sizeof name, "%s dlambda", what);
		expect(name, d_dl, dl, C, REDUCE);
	}
	dfree(d_a), dfree(d_b), dfree(d_dout), dfree(d_l), dfree(d_out), dfree(d_da), dfree(d_dl);
	if (!same)
		dfree(d_db), free(db);
	free(a), free(b), free(dout), free(lambda), free(da0), free(db0), free(out), free(da), free(dl);
}

TEST(test_add)
{
	add_case(4, 5, 250, 0, 1, 1);
	add_case(4, 5, 250, 1, 1, 1);
	add_case(7, 3, 37, 0, 0, 1);
	add_case(7, 3, 37, 0, 1, 0);
	add_case(128, 64, 196, 0, 1, 1); /* the grown networks' size: several chunks per channel */
	add_case(1, 1, 1, 0, 1, 1);
}

TEST(test_concat)
{
	int N = 3, HW = 10, Cs[2] = {2, 5}, Cout = 7;
	size_t nout = (size_t)N * Cout * HW;
	float *out = hnew(nout), *dout = hrand(nout, -1, 1), *d_out = dnan(nout), *d_dout = dcopy(dout, nout);
	for (int part = 0, off = 0; part < 2; off += Cs[part], part++) {
		size_t nin = (size_t)N * Cs[part] * HW;
		float *in = hrand(nin, -1, 1), *din0 = hrand(nin, -1, 1), *din = hcopy(din0, nin);
		nash_backend_ref.concat_forward(&rctx, out, in, N, Cs[part], Cout, off, HW);
		nash_backend_ref.concat_backward(&rctx, din, dout, N, Cs[part], Cout, off, HW);
		float *d_in = dcopy(in, nin), *d_din = dcopy(din0, nin);
		cu->concat_forward(&cctx, d_out, d_in, N, Cs[part], Cout, off, HW);
		cu->concat_backward(&cctx, d_din, d_dout, N, Cs[part], Cout, off, HW);
		expect(part ? "concat din (part 2)" : "concat din (part 1)", d_din, din, nin, EXACT);
		dfree(d_in), dfree(d_din);
		free(in), free(din0), free(din);
	}
	expect("concat out (both parts)", d_out, out, nout, EXACT);
	dfree(d_out), dfree(d_dout);
	free(out), free(dout);
}

static void gap_case(int N, int C, int HW)
{
	size_t nin = (size_t)N * C * HW, nout = (size_t)N * C;
	float *in = hrand(nin, -1, 1), *dout = hrand(nout, -1, 1), *din0 = hrand(nin, -1, 1);
	float *out = hnew(nout), *din = hcopy(din0, nin);
	nash_backend_ref.gap_forward(&rctx, out, in, N, C, HW);
	nash_backend_ref.gap_backward(&rctx, din, dout, N, C, HW);
	float *d_in = dcopy(in, nin), *d_out = dnan(nout), *d_dout = dcopy(dout, nout), *d_din = dcopy(din0, nin);
	cu->gap_forward(&cctx, d_out, d_in, N, C, HW);
	cu->gap_backward(&cctx, d_din, d_dout, N, C, HW);
	char name[96];
	snprintf(name, sizeof name, "gap N%d C%d HW%d out", N, C, HW);
	expect(name, d_out, out, nout, ELEM);
	snprintf(name, sizeof name, "gap N%d C%d HW%d din", N, C, HW);
	expect(name, d_din, din, nin, ELEM);
	dfree(d_in), dfree(d_out), dfree(d_dout), dfree(d_din);
	free(in), free(dout), free(din0), free(out), free(din);
}

TEST(test_gap)
{
	gap_case(4, 5, 49);
	gap_case(3, 7, 1);
	gap_case(2, 3, 1000);
}

/* ---- dense ---- */

static void dense_case(int N, int I, int O, int bias, int want_din)
{
	size_t nin = (size_t)N * I, nout = (size_t)N * O, nw = (size_t)O * I;
	float *in = hrand(nin, -1, 1), *w = hrand(nw, -1, 1), *b = hrand(O, -1, 1), *dout = hrand(nout, -1, 1);
	float *din0 = hrand(nin, -1, 1), *out = hnew(nout), *din = hcopy(din0, nin), *dw = hnew(nw), *db = hnew(O);
	nash_backend_ref.dense_forward(&rctx, out, in, w, bias ? b : NULL, N, I, O);
	nash_backend_ref.dense_backward(&rctx, want_din ? din : NULL, dw, bias ? db : NULL, dout, in, w, N, I, O);
	float *d_in = dcopy(in, nin), *d_w = dcopy(w, nw), *d_b = dcopy(b, O), *d_dout = dcopy(dout, nout);
	float *d_out = dnan(nout), *d_din = dcopy(din0, nin), *d_dw = dnan(nw), *d_db = dnan(O);
	cu->dense_forward(&cctx, d_out, d_in, d_w, bias ? d_b : NULL, N, I, O);
	cu->dense_backward(&cctx, want_din ? d_din : NULL, d_dw, bias ? d_db : NULL, d_dout, d_in, d_w, N, I, O);
	char name[96];
	snprintf(name, sizeof name, "dense N%d I%d O%d%s out", N, I, O, bias ? " +b" : "");
	expect(name, d_out, out, nout, DENSE);
	snprintf(name, sizeof name, "dense N%d I%d O%d din%s", N, I, O, want_din ? "" : " (NULL)");
	expect(name, d_din, want_din ? din : din0, nin, DENSE);
	snprintf(name, sizeof name, "dense N%d I%d O%d dw", N, I, O);
	expect(name, d_dw, dw, nw, DENSE);
	if (bias) {
		snprintf(name, sizeof name, "dense N%d I%d O%d db", N, I, O);
		expect(name, d_db, db, O, REDUCE);
	}
	void *dev[] = {d_in, d_w, d_b, d_dout, d_out, d_din, d_dw, d_db};
	for (size_t i = 0; i < sizeof dev / sizeof dev[0]; i++)
		dfree(dev[i]);
	free(in), free(w), free(b), free(dout), free(din0), free(out), free(din), free(dw), free(db);
}

TEST(test_dense)
{
	dense_case(33, 70, 11, 1, 1);
	dense_case(128, 6272, 10, 1, 1);
	dense_case(5, 1, 3, 0, 1);
	dense_case(7, 20, 9, 1, 0);
}

/* ---- loss, optimizer, batches ---- */

static void xent_case(int N, int K, int bad_label, int train, float smoothing)
{
	size_t n = (size_t)N * K;
	float *logits = hrand(n, -4, 4), stats[3] = {1.5f, 2.0f, 3.0f}, got_stats[3];
	for (int k = 0; k < K; k++)
		logits[K + k] = 1.0f; /* row 1: all tied, the first (class 0) is the argmax */
	int32_t *labels = malloc((size_t)N * sizeof *labels);
	for (int i = 0; i < N; i++)
		labels[i] = (int32_t)rng_below(&rng, (uint32_t)K);
	labels[1] = 0;
	if (bad_label)
		labels[N - 1] = K; /* out of range: NaN loss, never correct */
	float *dl = hnew(n);
	nash_backend_ref.softmax_xent(&rctx, train ? dl : NULL, stats, logits, labels, N, K, smoothing);
	float *d_logits = dcopy(logits, n), *d_dl = dnan(n), *d_stats = dcopy((float[]){1.5f, 2.0f, 3.0f}, 3);
	int32_t *d_labels = dalloc((size_t)N * sizeof *d_labels);
	cu->upload(&cctx, d_labels, labels, (size_t)N * sizeof *labels);
	cu->softmax_xent(&cctx, train ? d_dl : NULL, d_stats, d_logits, d_labels, N, K, smoothing);
	char name[96];
	if (train) {
		snprintf(name, sizeof name, "softmax_xent N%d K%d smoothing %g dlogits", N, K, smoothing);
		expect(name, d_dl, dl, n, REDUCE);
	}
	float *s = fetch(d_stats, 3);
	memcpy(got_stats, s, sizeof got_stats);
	free(s);
	printf("#   softmax_xent N%d K%d smoothing %g%s stats: got %.7g %g %g, want %.7g %g %g\n", N, K, smoothing,
	       bad_label ? " (bad label)" : "", got_stats[0], got_stats[1], got_stats[2], stats[0], stats[1], stats[2]);
	if (bad_label)
		CHECK(isnan(got_stats[0]) && isnan(stats[0]));
	else
		CHECK(check_close(got_stats[0], stats[0], 0, tol[REDUCE]));
	CHECK(got_stats[1] == stats[1] && got_stats[2] == stats[2]);
	dfree(d_logits), dfree(d_dl), dfree(d_stats), dfree(d_labels);
	free(logits), free(labels), free(dl);
}

TEST(test_softmax_xent)
{
	xent_case(37, 10, 0, 1, 0);
	xent_case(128, 10, 0, 1, 0);
	xent_case(300, 100, 0, 0, 0);
	xent_case(20, 10, 1, 1, 0);
	xent_case(128, 10, 0, 1, 0.1f); /* label smoothing */
	xent_case(37, 100, 0, 0, 0.3f);
}

TEST(test_sgd)
{
	size_t n = 10007;
	for (int nesterov = 0; nesterov < 2; nesterov++) {
		float *p = hrand(n, -1, 1), *v = hrand(n, -0.1f, 0.1f), *g = hrand(n, -1, 1);
		float *d_p = dcopy(p, n), *d_v = dcopy(v, n), *d_g = dcopy(g, n);
		nash_backend_ref.sgd_update(&rctx, p, v, g, n, 0.05f, 0.9f, 5e-4f, nesterov);
		cu->sgd_update(&cctx, d_p, d_v, d_g, n, 0.05f, 0.9f, 5e-4f, nesterov);
		expect(nesterov ? "sgd nesterov p" : "sgd p", d_p, p, n, ELEM);
		expect(nesterov ? "sgd nesterov v" : "sgd v", d_v, v, n, ELEM);
		dfree(d_p), dfree(d_v), dfree(d_g);
		free(p), free(v), free(g);
	}
}

TEST(test_ema)
{
	size_t n = 10007;
	for (int k = 0; k < 2; k++) {
		float decay = k ? 0.0f : 0.99f, *avg = hrand(n, -1, 1), *p = hrand(n, -1, 1);
		float *d_avg = dcopy(avg, n), *d_p = dcopy(p, n);
		nash_backend_ref.ema_update(&rctx, avg, p, n, decay);
		cu->ema_update(&cctx, d_avg, d_p, n, decay);
		expect(k ? "ema_update decay 0" : "ema_update decay 0.99", d_avg, avg, n, ELEM);
		dfree(d_avg), dfree(d_p);
		free(avg), free(p);
	}
}

static void batch_case(int c, int h, int w, int n_img, int n)
{
	size_t img = (size_t)c * h * w;
	uint8_t *images = malloc((size_t)n_img * img), *labels = malloc((size_t)n_img);
	for (size_t i = 0; i < (size_t)n_img * img; i++)
		images[i] = (uint8_t)rng_below(&rng, 256);
	for (int i = 0; i < n_img; i++)
		labels[i] = (uint8_t)rng_below(&rng, 10);
	int32_t *idx = malloc((size_t)n * sizeof *idx), *y = malloc((size_t)n * sizeof *y), *gy;
	for (int i = 0; i < n; i++)
		idx[i] = (int32_t)rng_below(&rng, (uint32_t)n_img);
	Sample *s = malloc((size_t)n * sizeof *s);
	data_plan_batch(s, idx, n, data_crop_pad(h), 1, &rng);
	float mean[3] = {0.3f, 0.4f, 0.5f}, std[3] = {0.2f, 0.25f, 0.3f};
	float *x = hnew((size_t)n * img);
	nash_backend_ref.make_batch(&rctx, x, y, images, labels, s, n, c, h, w, mean, std);

	uint8_t *d_images = dalloc((size_t)n_img * img), *d_labels = dalloc((size_t)n_img);
	Sample *d_s = dalloc((size_t)n * sizeof *d_s);
	int32_t *d_y = dalloc((size_t)n * sizeof *d_y);
	float *d_x = dnan((size_t)n * img);
	cu->upload(&cctx, d_images, images, (size_t)n_img * img);
	cu->upload(&cctx, d_labels, labels, (size_t)n_img);
	cu->upload(&cctx, d_s, s, (size_t)n * sizeof *s);
	cu->zero(&cctx, d_y, (size_t)n * sizeof *d_y);
	cu->make_batch(&cctx, d_x, d_y, d_images, d_labels, d_s, n, c, h, w, mean, std);
	char name[96];
	snprintf(name, sizeof name, "make_batch %dx%dx%d n%d x", c, h, w, n);
	expect(name, d_x, x, (size_t)n * img, EXACT);
	gy = malloc((size_t)n * sizeof *gy);
	cu->download(&cctx, gy, d_y, (size_t)n * sizeof *gy);
	CHECK(memcmp(gy, y, (size_t)n * sizeof *y) == 0);
	dfree(d_images), dfree(d_labels), dfree(d_s), dfree(d_y), dfree(d_x);
	free(images), free(labels), free(idx), free(y), free(gy), free(s), free(x);
}

TEST(test_make_batch)
{
	batch_case(1, 28, 28, 20, 64);
	batch_case(3, 32, 32, 20, 33);
}

/* ---- three training steps of a grown network, reference engine vs CUDA ---- */

/* input 1x12x12 -> conv8-bn-relu (a) -> concat(input, a) -> conv8-bn-relu (b)
   -> add(a, b) -> [conv1x1 4 +bias -> relu] concat with the add -> maxpool
   -> conv24-bn-relu (widened) -> maxpool -> flatten -> dense10 */
static int grown_graph(Graph *g, NashErr *err)
{
	graph_init(g, 1, 12, 12, 10);
	int a = graph_relu(g, graph_bn(g, graph_conv(g, 0, 8, 3, 0)));
	int c0[2] = {0, a};
	int b = graph_relu(g, graph_bn(g, graph_conv(g, graph_add(g, OP_CONCAT, 2, c0), 8, 3, 0)));
	int ab[2] = {a, b};
	int s = graph_add(g, OP_ADD, 2, ab);
	int c = graph_relu(g, graph_conv(g, s, 4, 1, 1));
	int sc[2] = {s, c};
	int p = graph_maxpool(g, graph_add(g, OP_CONCAT, 2, sc), 2);
	int w = graph_relu(g, graph_bn(g, graph_conv(g, p, 24, 3, 0)));
	graph_dense(g, graph_unary(g, OP_FLATTEN, graph_maxpool(g, w, 2)), 10, 1);
	if (graph_infer(g, err) || graph_alloc_params(g, err))
		return -1;
	Rng r;
	rng_seed(&r, 7);
	for (int i = 0; i < g->n_nodes; i++)
		init_node(g, i, &r);
	for (int k = 0; k < g->nodes[s].c; k++) /* lambda: both branches get gradient, per channel */
		g->nodes[s].params[0].data[k] = 0.3f + 0.6f * (float)k / (float)g->nodes[s].c;
	return 0;
}

TEST(test_net_steps)
{
	NashErr err = {0};
	Graph g, gr, gc;
	if (grown_graph(&g, &err) || graph_clone(&gr, &g, &err) || graph_clone(&gc, &g, &err)) {
		CHECKF(0, "graph: %s", err.msg);
		return;
	}
	enum { IMAGES = 96, BATCH = 32, STEPS = 3 };
	size_t img = 12 * 12;
	uint8_t *x = malloc(IMAGES * img), *y = malloc(IMAGES);
	for (size_t i = 0; i < IMAGES * img; i++)
		x[i] = (uint8_t)rng_below(&rng, 256);
	for (int i = 0; i < IMAGES; i++)
		y[i] = (uint8_t)rng_below(&rng, 10);
	float mean[1] = {0.45f}, std[1] = {0.25f};
	Net nr, nc;
	DeviceSet sr, sc;
	BackendOpts ref_opts = BACKEND_OPTS_DEFAULT;
	ref_opts.threads = 1;
	if (net_create(&nr, &nash_backend_ref, &ref_opts, &g, BATCH, mean, std, &err) ||
	    net_create(&nc, cu, &gpu_opts, &g, BATCH, mean, std, &err) || net_upload_set(&nr, &sr, x, y, IMAGES, &err) ||
	    net_upload_set(&nc, &sc, x, y, IMAGES, &err)) {
		CHECKF(0, "net: %s", err.msg);
		return;
	}
	Optim o = {.lr = 0.05f, .momentum = 0.9f, .weight_decay = 5e-4f, .nesterov = 1};
	int32_t idx[IMAGES];
	Sample s[BATCH];
	for (int i = 0; i < IMAGES; i++)
		idx[i] = i;
	for (int step = 0; step < STEPS; step++) {
		data_plan_batch(s, idx + step * BATCH, BATCH, 2, 1, &rng);
		net_train_step(&nr, &sr, s, BATCH, &o);
		net_train_step(&nc, &sc, s, BATCH, &o);
	}
	double lr_, ar, lc, ac;
	long cr, cc;
	CHECKF(net_take_stats(&nr, &lr_, &ar, &cr, &err) == 0, "%s", err.msg);
	CHECKF(net_take_stats(&nc, &lc, &ac, &cc, &err) == 0, "cuda: %s", err.msg);
	printf("#   3 steps: loss ref %.6f cuda %.6f, accuracy ref %.4f cuda %.4f over %ld images\n", lr_, lc, ar, ac, cr);
	CHECK(cr == cc && cr == STEPS * BATCH);
	CHECK(check_close(lc, lr_, 0, tol[NET]));
	CHECK(fabs(ac - ar) * cr <= 2.0 + 1e-9); /* a near tie may flip a prediction or two */
	CHECKF(net_store(&nr, &gr, 1, &err) == 0, "%s", err.msg);
	CHECKF(net_store(&nc, &gc, 1, &err) == 0, "cuda: %s", err.msg);
	for (int i = 0; i < g.n_nodes; i++)
		for (int p = 0; p < g.nodes[i].n_params; p++) {
			const Tensor *tr = &gr.nodes[i].params[p], *tc = &gc.nodes[i].params[p];
			char name[96], nn[32];
			node_name(&g, i, nn, sizeof nn);
			snprintf(name, sizeof name, "after 3 steps: %s %s", nn, tr->name);
			/* expect() reads device memory: upload the CUDA net's host copy to compare. */
			float *d = dcopy(tc->data, tensor_size(tc));
			expect(name, d, tr->data, tensor_size(tr), NET);
			dfree(d);
			if (tr->momentum && tc->momentum) {
				snprintf(name, sizeof name, "after 3 steps: %s %s momentum", nn, tr->name);
				d = dcopy(tc->momentum, tensor_size(tc));
				expect(name, d, tr->momentum, tensor_size(tr), NET);
				dfree(d);
			}
		}
	/* Inference with the running statistics. */
	for (int i = 0; i < BATCH; i++)
		s[i] = (Sample){.index = IMAGES - 1 - i};
	net_eval_batch(&nr, &sr, s, BATCH);
	net_eval_batch(&nc, &sc, s, BATCH);
	float lgr[BATCH * 10], lgc[BATCH * 10];
	net_read_logits(&nr, lgr, BATCH);
	net_read_logits(&nc, lgc, BATCH);
	CHECKF(net_take_stats(&nc, &lc, &ac, &cc, &err) == 0, "cuda: %s", err.msg);
	float *d = dcopy(lgc, BATCH * 10);
	expect("eval logits after 3 steps", d, lgr, BATCH * 10, NET);
	dfree(d);
	net_free_set(&nr, &sr);
	net_free_set(&nc, &sc);
	net_free(&nr);
	net_free(&nc);
	graph_free(&g), graph_free(&gr), graph_free(&gc);
	free(x), free(y);
}

int main(int argc, char **argv)
{
	sanitizer = argc > 1 && strcmp(argv[1], "--sanitizer") == 0;
#ifdef NASH_HAVE_CUDA
	int ndev = nash_cuda_device_count();
	cu = nash_backend_cuda();
#else
	int ndev = 0;
#endif
	if (ndev <= 0 || !cu) {
		printf("ok 1 - gpu # SKIP no GPU\n1..1\n");
		return 0;
	}
	cli_backend_env("test_gpu_ops", -1, &gpu_opts);
	if (gpu_opts.tf32) {
		tol[CONV] = tol[DENSE] = 1e-2;
		tol[NET] = 5e-2;
	}
	NashErr err = {0};
	cctx.be = cu;
	cctx.opts = gpu_opts;
	if (cu->init(&cctx, &err)) {
		printf("not ok 1 - init: %s\n1..1\n", err.msg);
		return 1;
	}
#ifdef NASH_HAVE_CUDA
	struct cudaDeviceProp p;
	if (cudaGetDeviceProperties(&p, gpu_opts.gpu) == cudaSuccess)
		printf("# %s, GPU %d of %d, %.1f GiB; math %s\n", p.name, gpu_opts.gpu, ndev,
		       p.totalGlobalMem / 1073741824.0, tol[CONV] > 1e-3 ? "TF32" : "FP32");
	else
		(void)cudaGetLastError();
#endif
	rng_seed(&rng, 12345);
	RUN(test_memory);
	RUN(test_conv);
	RUN(test_bn);
	RUN(test_relu);
	RUN(test_maxpool);
	RUN(test_add);
	RUN(test_concat);
	RUN(test_gap);
	RUN(test_dense);
	RUN(test_softmax_xent);
	RUN(test_ema);
	RUN(test_sgd);
	RUN(test_make_batch);
	RUN(test_net_steps);
	if (!sanitizer)
		RUN(test_deferred_error);
	if (cctx.workspace)
		dfree(cctx.workspace);
	cu->fini(&cctx);
	CHECK_DONE();
}
