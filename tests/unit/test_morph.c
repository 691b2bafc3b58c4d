/* Network morphisms: every operator preserves the inference-mode function on random inputs,
   invalid places, lineage and reproducibility. The property test over random sequences, on
   every seed network, is test_morph_seeds.c's. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "model/init.h"
#include "model/model.h"
#include "morph_check.h"
#include "search/morph.h"

static void make_parent(Model *m, int c, int h, int w, const int *widths, int nw, uint64_t seed)
{
	make_seed(m, SEED_ARCH_PAPER, c, h, w, widths, nw, seed);
}

static int count_op(const Graph *g, OpKind op)
{
	int n = 0;
	for (int i = 0; i < g->n_nodes; i++)
		n += g->nodes[i].op == op;
	return n;
}

static const int W48[] = {4, 8}, W88[] = {8, 8}, W448[] = {4, 4, 8};

TEST(deeper_each_relu)
{
	Model m;
	make_parent(&m, 1, 12, 12, W48, 2, 1);
	MorphPlace *pl;
	NashErr err = {0};
	int n = morph_places(&m.g, MORPH_DEEPER, &pl, &err);
	CHECK(n == 2);
	for (int p = 0; p < n; p++) {
		for (int k = 3; k <= 5; k += 2) {
			Graph g;
			CHECK(graph_clone(&g, &m.g, &err) == 0);
			int rc = morph_deeper(&g, pl[p].node, k, &err);
			CHECKF(rc == 0, "%s", err.msg);
			CHECK(infers(&g));
			CHECK(g.n_nodes == m.g.n_nodes + 3);
			const Node *cv = &g.nodes[pl[p].node + 1];
			CHECK(cv->op == OP_CONV && cv->kernel == k && cv->c == m.g.nodes[pl[p].node].c && !cv->has_bias);
			CHECK(g.nodes[pl[p].node + 2].op == OP_BN && g.nodes[pl[p].node + 3].op == OP_RELU);
			/* the old consumer now reads the new ReLU */
			CHECK(g.nodes[pl[p].node + 4].inputs[0] == pl[p].node + 3);
			double d = logit_diff(&m.g, &g, 7);
			CHECKF(d <= TOL, "deeper after %d k=%d: rel diff %g", pl[p].node, k, d);
			graph_free(&g);
		}
	}
	free(pl);
	/* not a ReLU, bad kernel */
	Graph g;
	CHECK(graph_clone(&g, &m.g, &err) == 0);
	CHECK(morph_deeper(&g, 1, 3, &err) == -1 && strstr(err.msg, "not a ReLU"));
	graph_free(&g);
	CHECK(graph_clone(&g, &m.g, &err) == 0);
	CHECK(morph_deeper(&g, 3, 4, &err) == -1 && strstr(err.msg, "kernel"));
	graph_free(&g);
	model_free(&m);
}

TEST(wider_each_conv)
{
	Model m;
	make_parent(&m, 3, 8, 8, W448, 3, 2);
	MorphPlace *pl;
	NashErr err = {0};
	int n = morph_places(&m.g, MORPH_WIDER, &pl, &err);
	CHECK(n == 3);
	for (int p = 0; p < n; p++) {
		for (int f = 2; f <= 4; f += 2) {
			Graph g;
			Rng r;
			rng_seed(&r, (uint64_t)(p * 10 + f));
			CHECK(graph_clone(&g, &m.g, &err) == 0);
			int rc = morph_wider(&g, pl[p].node, f, &r, &err);
			CHECKF(rc == 0, "%s", err.msg);
			CHECK(infers(&g));
			CHECK(g.n_nodes == m.g.n_nodes);
			CHECK(g.nodes[pl[p].node].c == f * m.g.nodes[pl[p].node].c);
			CHECK(g.nodes[pl[p].node + 1].params[0].dims[0] == g.nodes[pl[p].node].c); /* bn gamma */
			CHECK(graph_param_count(&g) > graph_param_count(&m.g));
			double d = logit_diff(&m.g, &g, 8);
			CHECKF(d <= TOL, "wider %d x%d: rel diff %g", pl[p].node, f, d);
			graph_free(&g);
		}
	}
	free(pl);
	Graph g;
	Rng r;
	rng_seed(&r, 1);
	CHECK(graph_clone(&g, &m.g, &err) == 0);
	CHECK(morph_wider(&g, 3, 2, &r, &err) == -1 && strstr(err.msg, "not a conv"));
	graph_free(&g);
	model_free(&m);
}

/* Every valid (source, target) pair of both skip kinds, on a 3-block net (12 -> 6 -> 3). */
TEST(skip_each_pair)
{
	Model m;
	make_parent(&m, 1, 12, 12, W448, 3, 3);
	NashErr err = {0};
	for (MorphOp op = MORPH_SKIP_ADD; op <= MORPH_SKIP_CONCAT; op++) {
		MorphPlace *pl;
		int n = morph_places(&m.g, op, &pl, &err);
		CHECKF(n == 3, "%s: %d places", morph_op_name(op), n); /* relus 3, 7, 11: 3 pairs */
		for (int p = 0; p < n; p++) {
			Graph g;
			Rng r;
			rng_seed(&r, (uint64_t)p);
			CHECK(graph_clone(&g, &m.g, &err) == 0);
			const Node *s = &m.g.nodes[pl[p].source], *t = &m.g.nodes[pl[p].target];
			int rc = morph_skip(&g, op, pl[p].source, pl[p].target, &r, &err);
			CHECKF(rc == 0, "%s", err.msg);
			CHECK(infers(&g));
			int pools = s->h > t->h, proj = op == MORPH_SKIP_ADD && s->c != t->c;
			CHECK(g.n_nodes == m.g.n_nodes + 1 + pools + proj);
			CHECK(count_op(&g, OP_MAXPOOL) == count_op(&m.g, OP_MAXPOOL) + pools);
			CHECK(count_op(&g, op == MORPH_SKIP_ADD ? OP_ADD : OP_CONCAT) == 1);
			const Node *j = &g.nodes[pl[p].target + 1 + pools + proj];
			CHECK(j->op == (op == MORPH_SKIP_ADD ? OP_ADD : OP_CONCAT));
			CHECK(j->inputs[0] == pl[p].target);
			CHECK(g.nodes[pl[p].target + 2 + pools + proj].inputs[0] == pl[p].target + 1 + pools + proj);
			if (op == MORPH_SKIP_ADD) {
				int ones = j->params[0].dims[0] == j->c;
				for (int c = 0; c < j->c; c++)
					ones &= j->params[0].data[c] == 1.0f;
				CHECK(ones);
			} else
				CHECK(j->c == s->c + t->c);
			double d = logit_diff(&m.g, &g, 9);
			CHECKF(d <= TOL, "%s %d->%d: rel diff %g", morph_op_name(op), pl[p].source, pl[p].target, d);
			graph_free(&g);
		}
		free(pl);
	}
	/* invalid pairs */
	Graph g;
	Rng r;
	rng_seed(&r, 1);
	CHECK(graph_clone(&g, &m.g, &err) == 0);
	CHECK(morph_skip(&g, MORPH_SKIP_ADD, 7, 3, &r, &err) == -1 && strstr(err.msg, "before"));
	graph_free(&g);
	CHECK(graph_clone(&g, &m.g, &err) == 0);
	CHECK(morph_skip(&g, MORPH_SKIP_CONCAT, 2, 7, &r, &err) == -1 && strstr(err.msg, "ReLU"));
	graph_free(&g);
	model_free(&m);
}

/* 10 -> 5 -> 2: 10/5 and 10/2 are integer ratios, 5/2 is not. */
TEST(skip_needs_integer_ratio)
{
	Model m;
	make_parent(&m, 1, 10, 10, W448, 3, 4);
	NashErr err = {0};
	MorphPlace *pl;
	int n = morph_places(&m.g, MORPH_SKIP_ADD, &pl, &err);
	CHECK(n == 2);
	for (int p = 0; p < n; p++)
		CHECK(!(pl[p].source == 7 && pl[p].target == 11));
	free(pl);
	Graph g;
	Rng r;
	rng_seed(&r, 1);
	CHECK(graph_clone(&g, &m.g, &err) == 0);
	CHECK(morph_skip(&g, MORPH_SKIP_ADD, 7, 11, &r, &err) == -1 && strstr(err.msg, "integer multiple"));
	graph_free(&g);
	model_free(&m);
}

/* The comparison can fail: a changed weight, a lambda below 1 after skip-add, or a non-zero
   weight on channels that wider added are all visible in the logits. */
TEST(check_detects_changes)
{
	Model m;
	make_parent(&m, 1, 12, 12, W48, 2, 11);
	NashErr err = {0};
	Rng r;
	rng_seed(&r, 11);
	Graph g;
	CHECK(graph_clone(&g, &m.g, &err) == 0);
	g.nodes[5].params[0].data[0] += 0.5f;
	CHECK(logit_diff(&m.g, &g, 1) > TOL);
	graph_free(&g);
	CHECK(graph_clone(&g, &m.g, &err) == 0);
	CHECK(morph_skip(&g, MORPH_SKIP_ADD, 3, 7, &r, &err) == 0);
	CHECK(logit_diff(&m.g, &g, 1) <= TOL);
	for (int i = 0; i < g.n_nodes; i++)
		if (g.nodes[i].op == OP_ADD)
			g.nodes[i].params[0].data[0] = 0.5f;
	CHECK(logit_diff(&m.g, &g, 1) > TOL);
	graph_free(&g);
	CHECK(graph_clone(&g, &m.g, &err) == 0);
	CHECK(morph_wider(&g, 1, 2, &r, &err) == 0);
	CHECK(logit_diff(&m.g, &g, 1) <= TOL);
	Tensor *w = &g.nodes[5].params[0]; /* [8, 8, 3, 3]: input channels 4..7 are new */
	for (int o = 0; o < 8; o++)
		w->data[((size_t)o * 8 + 6) * 9 + 4] = 1.0f;
	CHECK(logit_diff(&m.g, &g, 1) > TOL);
	graph_free(&g);
	model_free(&m);
}

/* Convs whose outputs meet in an add are widened together. */
TEST(wider_add_group)
{
	Model m;
	make_parent(&m, 1, 12, 12, W88, 2, 5); /* relus 3 (8ch 12x12) and 7 (8ch 6x6) */
	NashErr err = {0};
	Rng r;
	rng_seed(&r, 5);
	CHECK(morph_skip(&m.g, MORPH_SKIP_ADD, 3, 7, &r, &err) == 0); /* pool, add: no projection */
	CHECK(count_op(&m.g, OP_CONV) == 2);
	randomise(&m.g, &r);
	int members[64];
	CHECK(morph_wider_group(&m.g, 1, members) == 2);
	CHECK(members[0] == 1 && members[1] == 5);
	Graph g;
	CHECK(graph_clone(&g, &m.g, &err) == 0);
	CHECKF(morph_wider(&g, 5, 2, &r, &err) == 0, "%s", err.msg);
	CHECK(infers(&g));
	CHECK(g.nodes[1].c == 16 && g.nodes[5].c == 16);
	/* the add's lambda: old values kept, the 8 new channels at their mean */
	const Tensor *l0 = NULL, *l1 = NULL;
	for (int i = 0; i < m.g.n_nodes; i++)
		if (m.g.nodes[i].op == OP_ADD)
			l0 = &m.g.nodes[i].params[0];
	for (int i = 0; i < g.n_nodes; i++)
		if (g.nodes[i].op == OP_ADD)
			l1 = &g.nodes[i].params[0];
	CHECK(l0 && l1 && l0->dims[0] == 8 && l1->dims[0] == 16);
	if (l0 && l1 && l0->dims[0] == 8 && l1->dims[0] == 16) {
		double mean = 0;
		int kept = 1, filled = 1;
		for (int c = 0; c < 8; c++)
			mean += l0->data[c] / 8.0;
		for (int c = 0; c < 8; c++)
			kept &= l1->data[c] == l0->data[c];
		for (int c = 8; c < 16; c++)
			filled &= fabs(l1->data[c] - mean) < 1e-6;
		CHECK(kept && filled);
		CHECK(l0->data[0] != l0->data[1]); /* randomise gave distinct values */
	}
	double d = logit_diff(&m.g, &g, 10);
	CHECKF(d <= TOL, "rel diff %g", d);
	/* and a skip-concat onto the target of that add is refused: the add would break */
	MorphPlace *pl;
	int n = morph_places(&g, MORPH_SKIP_CONCAT, &pl, &err);
	for (int p = 0; p < n; p++)
		CHECK(pl[p].target != 7);
	free(pl);
	graph_free(&g);
	model_free(&m);
}

/* A hand-built net where a concat meets an add: nothing upstream of it can be widened. */
TEST(wider_refused_through_concat_into_add)
{
	Graph g;
	NashErr err = {0};
	Rng r;
	rng_seed(&r, 6);
	graph_init(&g, 1, 6, 6, 3);
	int a = graph_relu(&g, graph_conv(&g, 0, 4, 3, 0));
	int b = graph_relu(&g, graph_conv(&g, a, 4, 3, 1));
	int cin[2] = {a, b};
	int cat = graph_add(&g, OP_CONCAT, 2, cin);
	int c = graph_relu(&g, graph_conv(&g, a, 8, 3, 0));
	int ain[2] = {cat, c};
	int add = graph_add(&g, OP_ADD, 2, ain);
	graph_dense(&g, graph_unary(&g, OP_FLATTEN, add), 3, 1);
	CHECK(graph_infer(&g, &err) == 0 && graph_alloc_params(&g, &err) == 0);
	MorphPlace *pl;
	CHECK(morph_places(&g, MORPH_WIDER, &pl, &err) == 0);
	free(pl);
	int members[32];
	CHECK(morph_wider_group(&g, c - 1, members) == -1);
	CHECK(morph_wider(&g, 1, 2, &r, &err) == -1 && strstr(err.msg, "concat"));
	graph_free(&g);
}

/* Skips of skips, widened concats, deeper blocks inside skips: chained directly. */
TEST(chained_operators)
{
	Model m;
	make_parent(&m, 3, 8, 8, W48, 2, 7);
	NashErr err = {0};
	Rng r;
	rng_seed(&r, 7);
	Graph g;
	CHECK(graph_clone(&g, &m.g, &err) == 0);
	CHECKF(morph_skip(&g, MORPH_SKIP_CONCAT, 3, 7, &r, &err) == 0, "%s", err.msg); /* concat after 7 */
	CHECKF(morph_wider(&g, 1, 4, &r, &err) == 0, "%s", err.msg); /* widen the concat's source */
	CHECKF(morph_wider(&g, 5, 2, &r, &err) == 0, "%s", err.msg); /* and its main input */
	CHECKF(morph_deeper(&g, 3, 5, &err) == 0, "%s", err.msg);    /* before the pool */
	int relu_last = -1;
	for (int i = 0; i < g.n_nodes; i++)
		if (g.nodes[i].op == OP_RELU)
			relu_last = i;
	CHECKF(morph_skip(&g, MORPH_SKIP_ADD, 3, relu_last, &r, &err) == 0, "%s", err.msg);
	CHECKF(morph_skip(&g, MORPH_SKIP_ADD, 3, relu_last, &r, &err) == 0, "%s", err.msg); /* add of add */
	CHECK(infers(&g));
	CHECK(count_op(&g, OP_ADD) == 2 && count_op(&g, OP_CONCAT) == 1);
	double d = logit_diff(&m.g, &g, 11);
	CHECKF(d <= TOL, "rel diff %g", d);
	/* train-like noise, then every operator again on the result */
	randomise(&g, &r);
	for (MorphOp op = 0; op < MORPH_OP_COUNT; op++) {
		MorphPlace *pl;
		int n = morph_places(&g, op, &pl, &err);
		CHECKF(n > 0, "%s has no place", morph_op_name(op));
		for (int p = 0; p < n; p++) {
			Graph h;
			CHECK(graph_clone(&h, &g, &err) == 0);
			int rc = op == MORPH_DEEPER ? morph_deeper(&h, pl[p].node, 3, &err)
				 : op == MORPH_WIDER ? morph_wider(&h, pl[p].node, 2, &r, &err)
						     : morph_skip(&h, op, pl[p].source, pl[p].target, &r, &err);
			CHECKF(rc == 0, "%s: %s", morph_op_name(op), err.msg);
			CHECK(infers(&h));
			d = logit_diff(&g, &h, 12);
			CHECKF(d <= TOL, "%s at %d (%d->%d): rel diff %g", morph_op_name(op), pl[p].node,
			       pl[p].source, pl[p].target, d);
			graph_free(&h);
		}
		free(pl);
	}
	graph_free(&g);
	model_free(&m);
}

/* A hand-built net with what seed networks lack: a three-input concat, a conv with bias
   reading it, a global-average-pool head. Every operator at every place. */
TEST(every_place_on_hand_built_net)
{
	Graph g;
	NashErr err = {0};
	Rng r;
	rng_seed(&r, 21);
	graph_init(&g, 3, 8, 8, 10);
	int a = graph_relu(&g, graph_bn(&g, graph_conv(&g, 0, 4, 3, 0)));
	int b = graph_relu(&g, graph_bn(&g, graph_conv(&g, a, 4, 3, 0)));
	int c = graph_relu(&g, graph_bn(&g, graph_conv(&g, b, 6, 5, 0)));
	int cin[3] = {a, b, c};
	int cat = graph_add(&g, OP_CONCAT, 3, cin);
	int d = graph_relu(&g, graph_bn(&g, graph_conv(&g, cat, 8, 3, 1)));
	int e = graph_relu(&g, graph_bn(&g, graph_conv(&g, graph_maxpool(&g, d, 2), 8, 3, 0)));
	graph_dense(&g, graph_unary(&g, OP_GAP, e), 10, 1);
	CHECK(graph_infer(&g, &err) == 0 && graph_alloc_params(&g, &err) == 0);
	for (int i = 0; i < g.n_nodes; i++)
		init_node(&g, i, &r);
	randomise(&g, &r);
	int expect[MORPH_OP_COUNT] = {5, 5, 10, 10};
	check_every_place(&g, expect, &r, 22);
	graph_free(&g);
}

static void parent_with_history(Model *m)
{
	NashErr err = {0};
	make_parent(m, 1, 12, 12, W48, 2, 8);
	snprintf(m->dataset, sizeof m->dataset, "fashion-mnist");
	RunSettings rs = {.seed = 1, .batch = 8, .epochs = 1, .lr_start = 0.1f};
	EpochRecord er = {.run = 0, .epoch = 1, .lr = 0.1f, .train_loss = 2.0f, .val_acc = 0.5f};
	CHECK(model_add_run(m, &rs, &err) == 0 && model_add_record(m, &er, &err) == 0);
	m->val_accuracy = 0.5f;
	m->test_accuracy = 0.4f;
	m->failed = 1;
	snprintf(m->failure, sizeof m->failure, "diverged");
	m->ckpt_epochs_done = 1;
	for (int i = 0; i < m->g.n_nodes; i++)
		for (int p = 0; p < m->g.nodes[i].n_params; p++) {
			Tensor *t = &m->g.nodes[i].params[p];
			if (param_role(m->g.nodes[i].op, t->name) & PARAM_TRAINABLE)
				t->momentum = calloc(tensor_size(t), sizeof(float));
		}
}

TEST(child_record_and_reproducible)
{
	Model m, a, b, c;
	NashErr err = {0};
	parent_with_history(&m);
	MorphOpts o;
	morph_opts_default(&o);
	o.n = 4;
	o.seed = 42;
	CHECKF(morph_apply(&a, &m, &o, &err) == 0, "%s", err.msg);
	CHECKF(morph_apply(&b, &m, &o, &err) == 0, "%s", err.msg);
	o.seed = 43;
	CHECKF(morph_apply(&c, &m, &o, &err) == 0, "%s", err.msg);
	CHECK(!strcmp(a.parent_id, m.id) && strcmp(a.id, m.id) && strlen(a.id) == 16);
	CHECK(!strcmp(a.id, b.id) && strcmp(a.id, c.id));
	CHECK(isnan(a.val_accuracy) && isnan(a.test_accuracy) && !a.failed && !a.failure[0]);
	CHECK(a.ckpt_epochs_done == 0 && a.n_records == 1 && a.n_runs == 1);
	CHECK(a.n_lineage == 4);
	for (int k = 0; k < a.n_lineage; k++) {
		const Morphism *mm = &a.lineage[k];
		CHECK(mm->seed == 42);
		if (!strcmp(mm->op, "deeper"))
			CHECK((mm->kernel == 3 || mm->kernel == 5) && mm->factor == -1 && mm->source == -1);
		else if (!strcmp(mm->op, "wider"))
			CHECK((mm->factor == 2 || mm->factor == 4) && mm->kernel == -1 && mm->target == -1);
		else
			CHECK((!strcmp(mm->op, "skip-add") || !strcmp(mm->op, "skip-concat")) && mm->kernel == -1 &&
			      mm->source >= 1 && mm->target > mm->source && mm->node == mm->target);
	}
	for (int i = 0; i < a.g.n_nodes; i++)
		for (int p = 0; p < a.g.nodes[i].n_params; p++)
			CHECK(a.g.nodes[i].params[p].momentum == NULL);
	CHECKF(model_validate(&a, &err) == 0, "%s", err.msg);
	void *ba, *bb;
	size_t la, lb;
	CHECKF(model_write_mem(&a, &ba, &la, &err) == 0, "%s", err.msg);
	CHECKF(model_write_mem(&b, &bb, &lb, &err) == 0, "%s", err.msg);
	CHECK(la == lb && memcmp(ba, bb, la) == 0);
	/* the file round-trips and still computes the parent's function */
	Model back;
	CHECKF(model_read_mem(&back, ba, la, "child", &err) == 0, "%s", err.msg);
	CHECK(back.n_lineage == 4 && !strcmp(back.parent_id, m.id));
	double d = logit_diff(&m.g, &back.g, 13);
	CHECKF(d <= TOL, "rel diff %g", d);
	/* a grandchild appends to the lineage */
	Model gc;
	o.n = 2;
	CHECKF(morph_apply(&gc, &back, &o, &err) == 0, "%s", err.msg);
	CHECK(gc.n_lineage == 6 && !strcmp(gc.parent_id, back.id));
	model_free(&gc);
	model_free(&back);
	free(ba);
	free(bb);
	model_free(&a);
	model_free(&b);
	model_free(&c);
	model_free(&m);
}

static int reports;
static void count_report(const Morphism *mm, const char *desc, void *arg)
{
	(void)arg;
	reports += desc[0] != '\0' && !strncmp(desc, mm->op, strlen(mm->op));
}

TEST(forced_ops_and_limits)
{
	Model m, c;
	NashErr err = {0};
	const int w1[] = {4};
	make_parent(&m, 1, 8, 8, w1, 1, 9); /* one ReLU: no skip anywhere */
	MorphOpts o;
	morph_opts_default(&o);
	CHECK(morph_parse_ops(&o, "skip-add", &err) == 0);
	CHECK(morph_apply(&c, &m, &o, &err) == -1 && !strcmp(err.msg, "no valid place for skip-add"));
	morph_opts_default(&o);
	CHECK(morph_parse_ops(&o, "skip", &err) == 0);
	CHECK(morph_apply(&c, &m, &o, &err) == -1 &&
	      !strcmp(err.msg, "no valid place for skip-add or skip-concat"));
	/* with another operator in the list, the impossible one is redrawn */
	CHECK(morph_parse_ops(&o, "wider", &err) == 0 && o.n_choices == 2);
	o.report = count_report;
	reports = 0;
	CHECKF(morph_apply(&c, &m, &o, &err) == 0, "%s", err.msg);
	CHECK(c.n_lineage == 5 && reports == 5);
	for (int k = 0; k < c.n_lineage; k++)
		CHECK(!strcmp(c.lineage[k].op, "wider"));
	model_free(&c);
	/* unknown names */
	CHECK(morph_parse_ops(&o, "deeper,shallower", &err) == -1 && err.code == NASH_ERR_USAGE &&
	      strstr(err.msg, "'shallower'"));
	CHECK(morph_parse_ops(&o, ",", &err) == -1 && err.code == NASH_ERR_USAGE);
	/* --max-params: every result stays within; an impossible limit is an error */
	morph_opts_default(&o);
	size_t base = graph_param_count(&m.g);
	o.max_params = base + 2500; /* 5 deepers fit, any wider does not */
	o.n = 5;
	for (uint64_t s = 0; s < 10; s++) {
		o.seed = s;
		CHECKF(morph_apply(&c, &m, &o, &err) == 0, "%s", err.msg);
		CHECK(graph_param_count(&c.g) <= o.max_params && c.n_lineage == 5);
		model_free(&c);
	}
	o.max_params = base;
	CHECK(morph_apply(&c, &m, &o, &err) == -1 && strstr(err.msg, "--max-params"));
	CHECK(err.code == NASH_ERR_NO_FIT && !strncmp(err.msg, MORPH_NO_FIT_BUDGET, strlen(MORPH_NO_FIT_BUDGET)));
	/* --max-macs: the same for the multiply-adds per image. On so small a network a deeper
	   (9*4*4*8*8 = 9216) or a wider (x2, x4) nearly doubles the cost or more: 2 morphisms within
	   3 times the cost, drawn again where they exceed it (fitting ones are left for some seeds) */
	morph_opts_default(&o);
	uint64_t cost = graph_macs(&m.g);
	o.n = 2;
	int capped = 0, fitted = 0;
	for (uint64_t s = 0; s < 10; s++) {
		o.seed = s;
		o.max_macs = 0;
		CHECKF(morph_apply(&c, &m, &o, &err) == 0, "%s", err.msg);
		int over = graph_macs(&c.g) > 3 * cost;
		capped += over;
		Model free_child = c;
		o.max_macs = 3 * cost;
		if (morph_apply(&c, &m, &o, &err) == 0) {
			CHECK(graph_macs(&c.g) <= o.max_macs && graph_macs(&c.g) > cost && c.n_lineage == 2);
			/* a child within the cap is drawn as without it */
			CHECK(over || !strcmp(c.id, free_child.id));
			fitted++;
			model_free(&c);
		} else {
			CHECKF(err.code == NASH_ERR_NO_FIT && strstr(err.msg, "--max-macs"), "%s", err.msg);
		}
		model_free(&free_child);
	}
	CHECKF(capped > 0 && fitted > 0, "%d capped, %d fitted", capped, fitted);
	/* every deeper and wider costs more: none fits the parent's own cost */
	o.max_macs = cost;
	CHECK(morph_apply(&c, &m, &o, &err) == -1 && err.code == NASH_ERR_NO_FIT);
	char want[256];
	snprintf(want, sizeof want, MORPH_NO_FIT_BUDGET "macs %llu (%d draws; it costs %llu multiply-adds per image)",
		 (unsigned long long)cost, MORPH_MAX_TRIES, (unsigned long long)cost);
	CHECKF(!strcmp(err.msg, want), "%s", err.msg);
	/* both limits: the error names the one that rejected every draw, both when each did */
	o.max_params = base;
	o.max_macs = 1000 * cost;
	CHECK(morph_apply(&c, &m, &o, &err) == -1 && strstr(err.msg, "within --max-params ") && !strstr(err.msg, "macs"));
	o.max_macs = cost;
	CHECK(morph_apply(&c, &m, &o, &err) == -1 && strstr(err.msg, "within --max-params ") &&
	      strstr(err.msg, " and --max-macs ") && strstr(err.msg, "multiply-adds per image)"));
	model_free(&m);
}

int main(void)
{
	RUN(check_detects_changes);
	worst_rel = 0; /* its differences were meant to be large */
	RUN(deeper_each_relu);
	RUN(wider_each_conv);
	RUN(skip_each_pair);
	RUN(skip_needs_integer_ratio);
	RUN(wider_add_group);
	RUN(wider_refused_through_concat_into_add);
	RUN(chained_operators);
	RUN(every_place_on_hand_built_net);
	RUN(child_record_and_reproducible);
	RUN(forced_ops_and_limits);
	printf("# worst relative logit difference over all tests: %.3g (tolerance %g)\n", worst_rel, TOL);
	CHECK_DONE();
}
