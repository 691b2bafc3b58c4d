/* Where the morphism operators may act (lib/search/morph_places.c): exactly where each operator
   succeeds, found in time near-linear in the nodes. The places are compared with the ground
   truth, the operator tried at every node and every pair of nodes of grown networks; the cost
   is counted in the steps the search reports (nodes and candidate sizes looked at), never
   timed: a search four times as large may cost at most five times as much (a search that
   scans the graph per candidate costs sixteen times, or sixty-four). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "model/init.h"
#include "model/model.h"
#include "search/morph.h"

/* Whether op succeeds at (node, or source and target) on a copy of g. */
static int acts(const Graph *g, MorphOp op, int node, int source, NashErr *err)
{
	Graph c;
	Rng r;
	rng_seed(&r, 1);
	if (graph_clone(&c, g, err))
		return 0;
	int rc = op == MORPH_DEEPER  ? morph_deeper(&c, node, 3, err)
		 : op == MORPH_WIDER ? morph_wider(&c, node, 2, &r, err)
				     : morph_skip(&c, op, source, node, &r, err);
	graph_free(&c);
	return rc == 0;
}

/* morph_places and the one-at-a-time morph_place_at against the operators themselves. */
static void check_places(const Graph *g, const char *what)
{
	NashErr err = {0};
	for (int op = 0; op < MORPH_OP_COUNT; op++) {
		MorphPlace *pl = NULL;
		int n = morph_places(g, (MorphOp)op, &pl, &err), k = 0, wrong = 0;
		CHECKF(n >= 0, "%s", err.msg);
		int skip = op == MORPH_SKIP_ADD || op == MORPH_SKIP_CONCAT;
		for (int j = 1; j < g->n_nodes; j++)
			for (int i = skip ? 1 : j; i <= j - skip; i++) {
				if (!acts(g, (MorphOp)op, j, skip ? i : -1, &err))
					continue;
				/* the next place listed must be this one: the same places in the same order */
				if (k >= n || pl[k].node != j || pl[k].source != (skip ? i : -1) || pl[k].target != (skip ? j : -1))
					wrong++;
				k++;
			}
		CHECKF(wrong == 0 && k == n, "%s, %s: %d places listed, %d where the operator acts, %d out of place",
		       what, morph_op_name((MorphOp)op), n, k, wrong);
		free(pl);
	}
}

/* Grown networks: a seed network of arch and children of several morphisms (skips, concats,
   adds, widened groups), as a search makes them. */
static void places_are_where_the_operators_act(SeedArch arch)
{
	NashErr err = {0};
	int widths[] = {4, 8, 8};
	Model seed;
	CHECKF(seed_network_arch(&seed, arch, "test", 3, 16, 16, 10, widths, 3, 5, &err) == 0, "%s", err.msg);
	seed.std[0] = seed.std[1] = seed.std[2] = 0.25f;
	model_set_id(&seed, 1);
	check_places(&seed.g, "the seed network");
	for (uint64_t s = 1; s <= 6; s++) {
		MorphOpts o;
		morph_opts_default(&o);
		o.n = 4 + (int)s;
		o.seed = s;
		Model child;
		CHECKF(morph_apply(&child, &seed, &o, &err) == 0, "%s", err.msg);
		char what[64];
		snprintf(what, sizeof what, "a child of %d morphisms (seed %d)", o.n, (int)s);
		check_places(&child.g, what);
		model_free(&child);
	}
	/* many concats and widened groups, then a child of that child (small ones: every operator
	   is tried on a copy of the network at every place) */
	MorphOpts o;
	morph_opts_default(&o);
	o.n = 12;
	o.seed = 7;
	o.max_params = 40000;
	CHECK(morph_parse_ops(&o, "skip-concat,wider,skip-add", &err) == 0);
	Model child, grandchild;
	CHECKF(morph_apply(&child, &seed, &o, &err) == 0, "%s", err.msg);
	check_places(&child.g, "a child of 12 skips and widenings");
	model_set_id(&child, 2);
	morph_opts_default(&o);
	o.n = 15;
	o.seed = 8;
	o.max_params = 60000;
	CHECKF(morph_apply(&grandchild, &child, &o, &err) == 0, "%s", err.msg);
	check_places(&grandchild.g, "its child of 15 morphisms");
	model_free(&grandchild);
	model_free(&child);
	model_free(&seed);
}

/* A chain of n nodes as mkgrown makes it: conv-BN-ReLU blocks (relus: ReLUs only). */
static void chain(Graph *g, int n, int relus)
{
	NashErr err = {0};
	graph_init(g, 3, 32, 32, 10);
	int x = 0;
	while (g->n_nodes < n - 2)
		x = relus ? graph_relu(g, x) : graph_relu(g, graph_bn(g, graph_conv(g, x, 4, 3, 0)));
	graph_dense(g, graph_unary(g, OP_GAP, x), 10, 1);
	CHECKF(graph_infer(g, &err) == 0, "%s", err.msg);
}

/* Steps of finding op's places in a chain of n nodes and drawing three of them. */
static long long cost(int n, int relus, MorphOp op, int *places)
{
	Graph g;
	chain(&g, n, relus);
	MorphPlaces p;
	NashErr err = {0};
	CHECKF(morph_find_places(&g, op, &p, &err) == 0, "%s", err.msg);
	for (int k = 0; k < 3 && p.n; k++) {
		MorphPlace pl;
		CHECK(morph_place_at(&p, (int)((long long)p.n * k / 3), &pl, &err) == 0);
	}
	long long steps = p.steps;
	*places = p.n;
	morph_places_free(&p);
	graph_free(&g);
	return steps;
}

TEST(finding_places_is_near_linear)
{
	for (int relus = 0; relus <= 1; relus++)
		for (int op = 0; op < MORPH_OP_COUNT; op++) {
			int small, large;
			long long a = cost(1000, relus, (MorphOp)op, &small), b = cost(4000, relus, (MorphOp)op, &large);
			printf("# %s, %s: 1,000 nodes %lld steps (%d places), 4,000 nodes %lld steps (%d places)\n",
			       relus ? "ReLUs" : "conv-BN-ReLU", morph_op_name((MorphOp)op), a, small, b, large);
			CHECKF(b <= 5 * a, "%s: %.1f times the steps for 4 times the nodes", morph_op_name((MorphOp)op),
			       (double)b / (double)a);
		}
}

int main(void)
{
	for (int a = 0; a < SEED_ARCH_COUNT; a++) {
		char label[64];
		snprintf(label, sizeof label, "places_are_where_the_operators_act_on_the_%s_seed",
			 seed_arch_name((SeedArch)a));
		RUN_AS(label, places_are_where_the_operators_act((SeedArch)a));
	}
	RUN(finding_places_is_near_linear);
	CHECK_DONE();
}
