/* Shared by the morphism tests (test_morph.c, test_morph_seeds.c): the check that a morphism
   keeps the function, on randomised weights and random images, on the CPU backends; and a
   randomised seed network to morph. */
#ifndef NASH_MORPH_CHECK_H
#define NASH_MORPH_CHECK_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "engine/net.h"
#include "model/init.h"
#include "model/model.h"
#include "search/morph.h"

#define N_IMG 6
#define TOL 1e-4 /* max|child - parent| <= TOL * (1 + max|parent|) */

/* The direct operator tests compare on every CPU backend (the reference loops add the zero
   terms in order, so they usually agree bit for bit; BLAS and oneDNN reorder sums); the
   property test uses the two fast ones. */
static const Backend *backends[3] = {&nash_backend_ref, &nash_backend_blas, &nash_backend_onednn};
static int n_backends = 3;
static double worst_rel; /* largest relative logit difference seen anywhere */

/* Non-trivial weights and statistics, as after training: BN gamma/beta/running stats,
   lambdas, biases, and noise on every weight (so zero weights of earlier morphisms are no
   longer zero). */
static void randomise(Graph *g, Rng *r)
{
	for (int i = 0; i < g->n_nodes; i++) {
		Node *n = &g->nodes[i];
		for (int p = 0; p < n->n_params; p++) {
			Tensor *t = &n->params[p];
			for (size_t k = 0; k < tensor_size(t); k++) {
				double u = rng_uniform(r), z = rng_normal(r);
				float *x = &t->data[k];
				if (!strcmp(t->name, "gamma"))
					*x = (float)(0.5 + u);
				else if (!strcmp(t->name, "beta") || !strcmp(t->name, "running_mean"))
					*x = (float)(0.3 * z);
				else if (!strcmp(t->name, "running_var"))
					*x = (float)(0.3 + 1.5 * u);
				else if (!strcmp(t->name, "lambda"))
					*x = (float)(0.2 + 0.8 * u);
				else if (!strcmp(t->name, "bias"))
					*x = (float)(0.1 * z);
				else
					*x += (float)(0.05 * z);
			}
		}
	}
}

/* Inference-mode logits [N_IMG, classes] of g on fixed random images; 0 or -1. */
static int logits(float *out, const Backend *be, const Graph *g, uint64_t img_seed)
{
	NashErr err = {0};
	size_t img = (size_t)g->in_c * g->in_h * g->in_w;
	uint8_t *x = malloc(N_IMG * img), y[N_IMG] = {0};
	Sample s[N_IMG];
	float mean[NASH_MAX_CHANNELS] = {0.5f, 0.5f, 0.5f, 0.5f};
	float sd[NASH_MAX_CHANNELS] = {0.25f, 0.25f, 0.25f, 0.25f};
	Rng r;
	rng_seed(&r, img_seed);
	for (size_t k = 0; k < N_IMG * img; k++)
		x[k] = (uint8_t)rng_below(&r, 256);
	memset(s, 0, sizeof s);
	for (int k = 0; k < N_IMG; k++)
		s[k].index = k;
	Net net;
	DeviceSet set;
	int rc = -1;
	BackendOpts one_thread = BACKEND_OPTS_DEFAULT;
	one_thread.threads = 1;
	if (net_create(&net, be, &one_thread, g, N_IMG, mean, sd, &err) == 0) {
		if (net_upload_set(&net, &set, x, y, N_IMG, &err) == 0) {
			net_eval_batch(&net, &set, s, N_IMG);
			net_read_logits(&net, out, N_IMG);
			net_free_set(&net, &set);
			rc = 0;
		}
		net_free(&net);
	}
	if (rc)
		printf("# net: %s\n", err.msg);
	free(x);
	return rc;
}

/* Relative difference of the two graphs' logits: max|a-b| / (1 + max|a|) over the backends
   in use; +inf on failure, NaN-safe. */
static double logit_diff(const Graph *parent, const Graph *child, uint64_t img_seed)
{
	int K = parent->n_classes;
	float *a = malloc(N_IMG * K * sizeof *a), *b = malloc(N_IMG * K * sizeof *b);
	double worst = 0;
	for (int k = 0; k < n_backends; k++) {
		double d = INFINITY;
		if (logits(a, backends[k], parent, img_seed) == 0 && logits(b, backends[k], child, img_seed) == 0) {
			double m = 0, am = 0;
			for (int i = 0; i < N_IMG * K; i++) {
				double e = fabs((double)a[i] - b[i]);
				if (!(e <= m)) /* NaN propagates */
					m = e;
				if (fabs(a[i]) > am)
					am = fabs(a[i]);
			}
			d = m / (1 + am);
		}
		if (!(d <= worst))
			worst = d;
	}
	free(a);
	free(b);
	if (!(worst <= worst_rel))
		worst_rel = worst;
	return worst;
}

static int infers(Graph *g)
{
	NashErr err = {0};
	if (graph_infer(g, &err)) {
		printf("# graph_infer: %s\n", err.msg);
		return 0;
	}
	return 1;
}

/* Every operator at every place of g (deeper k 3 and 5, wider x2 and x4, both skips), each on
   a copy of g: it applies, the graph infers, and the logits stay within TOL. expect: the
   places per operator, or NULL for at least one each. */
static void check_every_place(const Graph *g, const int *expect, Rng *r, uint64_t img_seed)
{
	NashErr err = {0};
	for (MorphOp op = 0; op < MORPH_OP_COUNT; op++) {
		MorphPlace *pl;
		int n = morph_places(g, op, &pl, &err);
		if (expect)
			CHECKF(n == expect[op], "%s: %d places", morph_op_name(op), n);
		else
			CHECKF(n >= 1, "%s: %d places", morph_op_name(op), n);
		for (int p = 0; p < n; p++) {
			for (int v = 0; v < 2; v++) {
				Graph h;
				CHECK(graph_clone(&h, g, &err) == 0);
				int rc = op == MORPH_DEEPER ? morph_deeper(&h, pl[p].node, 3 + 2 * v, &err)
					 : op == MORPH_WIDER ? morph_wider(&h, pl[p].node, 2 + 2 * v, r, &err)
							     : morph_skip(&h, op, pl[p].source, pl[p].target, r, &err);
				CHECKF(rc == 0, "%s: %s", morph_op_name(op), err.msg);
				CHECK(infers(&h));
				double diff = logit_diff(g, &h, img_seed);
				CHECKF(diff <= TOL, "%s at %d (%d->%d): rel diff %g", morph_op_name(op), pl[p].node,
				       pl[p].source, pl[p].target, diff);
				graph_free(&h);
			}
		}
		free(pl);
	}
}

/* A seed network of arch with randomised weights, as if trained; exits on failure. */
static void make_seed(Model *m, SeedArch arch, int c, int h, int w, const int *widths, int nw, uint64_t seed)
{
	NashErr err = {0};
	if (seed_network_arch(m, arch, "test", c, h, w, 10, widths, nw, seed, &err)) {
		printf("# seed_network_arch: %s\n", err.msg);
		exit(1);
	}
	for (int k = 0; k < c; k++)
		m->mean[k] = 0.5f, m->std[k] = 0.25f;
	Rng r;
	rng_seed(&r, seed ^ 0x5eed);
	randomise(&m->g, &r);
}

#endif
