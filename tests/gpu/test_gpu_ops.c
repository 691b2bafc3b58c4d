/* The CUDA backend against the reference backend (lib/backend/ref/backend_ref.c): every case of
   tests/unit/op_cases.h that the reference can afford, forward and backward on the case's random
   inputs, outputs poisoned with NaN first (accumulated gradients start from random values
   instead, so "+=" is checked too) and guard bytes after every buffer (tests/unit/op_run.h),
   then three training steps of a small grown network (convs, an add skip, concat skips, a
   widened layer) through lib/engine/net.h on both engines. Skips (TAP "# SKIP", exit 0) when
   no GPU is visible.

   Usage: test_gpu_ops [--sanitizer]   (--sanitizer: leaves out the deliberately failing calls,
                                        which a sanitizer would count as errors)

   Tolerances, "normwise": |got - want| <= tol * (max|want| + |want|) per element; NaN fails.
     exact     0      relu, max-pool, concat, batch builder (same float operations), ema_update
                      of decay 0 (a copy)
     elem      1e-5   add, gap, sgd, ema_update, batch-norm eval (float vs the reference's double)
     reduce    1e-4   batch-norm train/backward, softmax cross-entropy, bias gradients, dlambda
     conv      2e-4   cuDNN convolutions in FP32 FMA math (FFT/Winograd algorithms included)
     dense     2e-5   cuBLAS sgemm, FP32
     net       2e-3   parameters after three SGD steps, evaluation logits
   With NASH_TF32=1 (tensor-core TF32, 10-bit mantissa) conv and dense use 1e-2, net 5e-2. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/check.h"
#include "../unit/op_cases.h"
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
/* the tolerance of each class of output (tests/unit/ops_common.h) */
static const int tol_of[N_TOL] = {
	[T_EXACT] = EXACT, [T_MOVE] = EXACT,    [T_ELEM] = ELEM,  [T_XENT] = REDUCE,
	[T_STATS] = REDUCE, [T_REDUCE] = REDUCE, [T_BN_EVAL] = ELEM, [T_DENSE] = DENSE,
	[T_CONV] = CONV,    [T_CONV_BIAS] = REDUCE,
};

static const Backend *cu;
static BackendOpts gpu_opts = BACKEND_OPTS_DEFAULT; /* NASH_* from the environment, as the tools */
static Ctx cctx;                                   /* the CUDA context of the op tests */
static Ctx rctx = {.be = &nash_backend_ref};
static Rng rng;
static int sanitizer; /* --sanitizer: no deliberately failing CUDA calls */

/* Compares n floats of the CUDA engine's with the reference's (normwise, see the top). */
static void expect(const char *what, const float *got, const float *want, size_t n, double t)
{
	double scale = 0, worst = 0;
	for (size_t i = 0; i < n; i++)
		scale = fabs(want[i]) > scale ? fabs(want[i]) : scale;
	long bad = check_arrays_close(got, want, n, t * scale, t, &worst);
	double maxerr = 0;
	for (size_t i = 0; i < n; i++) {
		double e = fabs((double)got[i] - want[i]);
		maxerr = e > maxerr || isnan(e) ? e : maxerr;
	}
	printf("#   %-44s max|err| %.2e  scale %.2e  tol %.0e\n", what, maxerr, scale, t);
	CHECKF(bad < 0, "%s: element %ld: got %.9g, want %.9g (%zu elements)", what, bad, bad < 0 ? 0.0 : got[bad],
	       bad < 0 ? 0.0 : want[bad], n);
}

/* ---- the op cases ---- */

/* Case i on CUDA against the reference. */
static void compare_case(int i)
{
	char name[96], what[160];
	Outs want = {0}, got = {0};
	case_name(name, sizeof name, i);
	case_run(&rctx, i, &want);
	case_run(&cctx, i, &got);
	CHECKF(got.n == want.n, "%s: %d outputs, the reference %d", name, got.n, want.n);
	for (int k = 0; k < got.n && k < want.n; k++) {
		const Out *g = &got.o[k], *w = &want.o[k];
		const float *gf = g->data, *wf = w->data;
		snprintf(what, sizeof what, "%s %s", name, g->name);
		if (g->tol == T_BITS) {
			CHECKF(!memcmp(g->data, w->data, g->n), "%s: differs", what);
		} else if (g->tol == T_STATS) { /* summed loss, then counts (exact) */
			printf("#   %s: got %.7g %g %g, want %.7g %g %g\n", what, gf[0], gf[1], gf[2], wf[0],
			       wf[1], wf[2]);
			CHECK(check_close(gf[0], wf[0], 0, tol[REDUCE]) || (isnan(gf[0]) && isnan(wf[0])));
			CHECK(gf[1] == wf[1] && gf[2] == wf[2]);
		} else {
			expect(what, gf, wf, g->n, tol[tol_of[g->tol]]);
		}
	}
	outs_free(&want);
	outs_free(&got);
}

/* As the engine does: every convolution's plan (and algorithm) first, one workspace for the
   largest. The cases without one (F_NO_WS) are left unannounced: the backend plans them at
   first use with its own workspace. */
static void *conv_workspace(Pool *P)
{
	size_t ws = 0;
	for (int i = 0; i < N_CASES; i++) {
		const int *s = cases[i].s;
		if (cases[i].op != OT_CONV || (cases[i].flags & F_NO_WS) || case_cost(i) > REF_MAX_COST)
			continue;
		size_t w = cu->conv_workspace(&cctx, s[0], s[1], s[2], s[3], s[4], s[5]);
		ws = w > ws ? w : ws;
	}
	printf("#   conv workspace: %zu floats\n", ws);
	cctx.workspace_floats = ws;
	return ws ? dput(P, NULL, ws * sizeof(float)) : NULL;
}

/* Every case of op that the reference can afford. */
static void test_op(int op)
{
	Pool P = {.ctx = &cctx};
	if (op == OT_CONV)
		cctx.workspace = conv_workspace(&P);
	for (int i = 0; i < N_CASES; i++)
		if (cases[i].op == op && case_cost(i) <= REF_MAX_COST)
			compare_case(i);
	pool_free(&P);
	cctx.workspace = NULL;
	cctx.workspace_floats = 0;
}

/* ---- memory and errors ---- */

TEST(test_memory)
{
	size_t n = 1000;
	Pool P = {.ctx = &cctx};
	float *h = hrand(&P, &rng, n, 1), *back = hnew(&P, n * sizeof *back);
	float *d = dput(&P, h, n * sizeof *h);
	NashErr err = {0};
	cu->download(&cctx, back, d, n * sizeof *back);
	CHECK(memcmp(h, back, n * sizeof *h) == 0);
	cu->zero(&cctx, d, n * sizeof(float));
	CHECKF(cu->sync(&cctx, &err) == 0, "deferred CUDA error: %s", err.msg);
	cu->download(&cctx, back, d, n * sizeof *back);
	int zeros = 1;
	for (size_t i = 0; i < n; i++)
		zeros &= back[i] == 0.0f;
	CHECK(zeros);
	if (!sanitizer) {
		/* Out of memory: NULL, NASH_ERR_OOM, a message with the size, and the context
		   still works. */
		void *huge = cu->alloc(&cctx, (size_t)1 << 52, &err);
		CHECK(huge == NULL);
		CHECKF(err.code == NASH_ERR_OOM, "code %d: %s", err.code, err.msg);
		CHECKF(strstr(err.msg, "4503599627370496 bytes") != NULL, "message: %s", err.msg);
		printf("#   OOM message: %s\n", err.msg);
		NashErr serr = {0};
		CHECKF(cu->sync(&cctx, &serr) == 0, "after OOM: %s", serr.msg);
		cu->upload(&cctx, d, h, n * sizeof *h);
		cu->download(&cctx, back, d, n * sizeof *back);
		CHECK(memcmp(back, h, n * sizeof *h) == 0);
	}
	pool_free(&P);
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
			expect(name, tc->data, tr->data, tensor_size(tr), tol[NET]);
			if (tr->momentum && tc->momentum) {
				snprintf(name, sizeof name, "after 3 steps: %s %s momentum", nn, tr->name);
				expect(name, tc->momentum, tr->momentum, tensor_size(tr), tol[NET]);
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
	expect("eval logits after 3 steps", lgc, lgr, BATCH * 10, tol[NET]);
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
	for (int op = 0; op < N_OT; op++) {
		char name[64];
		snprintf(name, sizeof name, "test_%s", ops[op].name);
		RUN_AS(name, test_op(op));
	}
	RUN(test_net_steps);
	if (!sanitizer)
		RUN(test_deferred_error);
	cu->fini(&cctx);
	CHECK_DONE();
}
