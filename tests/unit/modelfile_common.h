/* Shared by the model file tests (test_modelfile.c, test_modelfile_compat.c): a temporary
   directory for their files, a model that uses every part of the format (every table, a
   checkpoint's momentum and weight average, strings with junk after their NUL), bitwise
   comparison of two models, and a file of given bytes. Header-only: both programs use every
   helper here. */
#ifndef NASH_MODELFILE_COMMON_H
#define NASH_MODELFILE_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "model/model.h"
#include "base/rng.h"

static char tmpdir[256];

static void path_in_tmp(char *buf, size_t n, const char *name)
{
	snprintf(buf, n, "%s/%s", tmpdir, name);
}

static void fill(Tensor *t, float *p, Rng *r, int positive)
{
	for (size_t i = 0; i < tensor_size(t); i++)
		p[i] = positive ? 0.5f + (float)rng_uniform(r) : (float)rng_normal(r);
}

/* input 1x28x28 -> conv8 -> bn -> relu -> pool -> conv16+b -> bn -> relu(7) ->
   conv16+b(8) -> add(7,8) -> concat(9,7) -> gap -> dense10+b. */
static void make_model(Model *m, int with_momentum)
{
	NashErr err = { 0 };
	model_init(m);
	Graph *g = &m->g;
	graph_init(g, 1, 28, 28, 10);
	int x = graph_conv(g, 0, 8, 3, 0);
	x = graph_relu(g, graph_bn(g, x));
	x = graph_maxpool(g, x, 2);
	x = graph_conv(g, x, 16, 3, 1);
	int a = graph_relu(g, graph_bn(g, x));
	int b = graph_conv(g, a, 16, 3, 1);
	int ins[2] = { a, b };
	int s = graph_add(g, OP_ADD, 2, ins);
	ins[0] = s, ins[1] = a;
	x = graph_add(g, OP_CONCAT, 2, ins);
	x = graph_unary(g, OP_GAP, x);
	graph_dense(g, x, 10, 1);
	if (graph_infer(g, &err) || graph_alloc_params(g, &err))
		printf("# model setup failed: %s\n", err.msg);
	Rng r;
	rng_seed(&r, 42);
	for (int i = 0; i < g->n_nodes; i++)
		for (int p = 0; p < g->nodes[i].n_params; p++) {
			Tensor *t = &g->nodes[i].params[p];
			fill(t, t->data, &r, strcmp(t->name, "running_var") == 0);
			if (with_momentum) { /* a checkpoint's state: momentum, and the --ema average */
				t->momentum = malloc(tensor_size(t) * sizeof(float));
				fill(t, t->momentum, &r, 0);
				t->ema = malloc(tensor_size(t) * sizeof(float));
				fill(t, t->ema, &r, strcmp(t->name, "running_var") == 0);
			}
		}
	snprintf(m->dataset, sizeof m->dataset, "fashion-mnist");
	m->mean[0] = 0.2860f;
	m->std[0] = 0.3530f;
	m->val_size = 5000;
	model_set_id(m, 0x0123456789abcdefULL);
	snprintf(m->parent_id, sizeof m->parent_id, "00000000deadbeef");
	m->val_accuracy = 0.8125f;
	m->val_tta = TTA_FLIP_SHIFT;
	RunSettings rs = { .seed = 0xfedcba9876543210ULL, .batch = 128, .epochs = 2, .limit = 1000,
			   .augment = 1, .lr_start = 0.05f, .lr_end = 0.0f, .momentum = 0.9f,
			   .weight_decay = 5e-4f, .warmup = 0.25f, .images = 1000,
			   .label_smoothing = 0.125f, .ema = 0.99f, .tta = "flip-shift" };
	memset(rs.engine, 'x', sizeof rs.engine); /* junk after the NUL must not reach the file */
	snprintf(rs.engine, sizeof rs.engine, "cpu");
	snprintf(rs.train_on, sizeof rs.train_on, "all");
	memset(rs.host, 'x', sizeof rs.host);
	snprintf(rs.host, sizeof rs.host, "node-17.cluster.example.org");
	/* longer than the 64 bytes files had before: kept whole */
	snprintf(rs.hardware, sizeof rs.hardware,
		 "NVIDIA H100 80GB HBM3, GPU 0 of 1, 79.1 GiB (CUDA_VISIBLE_DEVICES=GPU-5c2f6a1e-90d4-3b7e-a1f0-1234)");
	snprintf(rs.job, sizeof rs.job, "4242.0");
	model_add_run(m, &rs, &err);
	for (int e = 1; e <= 2; e++) {
		EpochRecord rec = { 0, e, 0.05f / e, 1.5f / e, 0.5f, e == 1 ? NAN : 0.7f, e == 1 ? NAN : 0.75f, 3.25f };
		model_add_record(m, &rec, &err);
	}
	Morphism mm = { .node = 5, .kernel = 3, .factor = -1, .source = -1, .target = -1, .seed = 7 };
	memset(mm.op, 'y', sizeof mm.op);
	snprintf(mm.op, sizeof mm.op, "deeper");
	model_add_morphism(m, &mm, &err);
	mm.node = 8, mm.kernel = -1, mm.factor = 2, mm.seed = UINT64_MAX;
	memset(mm.op, 'z', sizeof mm.op);
	snprintf(mm.op, sizeof mm.op, "wider");
	model_add_morphism(m, &mm, &err);
	if (with_momentum)
		m->ckpt_epochs_done = 1;
}

static int same_float(float a, float b) { return memcmp(&a, &b, sizeof a) == 0; }

/* Bitwise equality of two models; prints the first difference. */
static int models_equal(const Model *a, const Model *b)
{
#define DIFF(cond, ...) do { if (cond) { printf("#   differs: "); printf(__VA_ARGS__); printf("\n"); return 0; } } while (0)
	const Graph *ga = &a->g, *gb = &b->g;
	DIFF(ga->n_nodes != gb->n_nodes, "n_nodes %d vs %d", ga->n_nodes, gb->n_nodes);
	DIFF(ga->in_c != gb->in_c || ga->in_h != gb->in_h || ga->in_w != gb->in_w ||
	     ga->n_classes != gb->n_classes, "input shape / classes");
	for (int i = 0; i < ga->n_nodes; i++) {
		const Node *x = &ga->nodes[i], *y = &gb->nodes[i];
		DIFF(x->op != y->op || x->n_inputs != y->n_inputs || x->out_channels != y->out_channels ||
		     x->kernel != y->kernel || x->has_bias != y->has_bias || !same_float(x->bn_eps, y->bn_eps) ||
		     !same_float(x->bn_momentum, y->bn_momentum) || x->c != y->c || x->h != y->h ||
		     x->w != y->w || x->n_params != y->n_params, "node %d settings", i);
		for (int k = 0; k < x->n_inputs; k++)
			DIFF(x->inputs[k] != y->inputs[k], "node %d input %d", i, k);
		for (int p = 0; p < x->n_params; p++) {
			const Tensor *s = &x->params[p], *t = &y->params[p];
			DIFF(strcmp(s->name, t->name) || s->ndim != t->ndim ||
			     memcmp(s->dims, t->dims, sizeof s->dims), "node %d tensor %d shape", i, p);
			size_t n = tensor_size(s) * sizeof(float);
			DIFF(memcmp(s->data, t->data, n), "node %d tensor %s data", i, s->name);
			DIFF(!s->momentum != !t->momentum, "node %d tensor %s momentum presence", i, s->name);
			DIFF(s->momentum && memcmp(s->momentum, t->momentum, n), "node %d %s momentum", i, s->name);
			DIFF(!s->ema != !t->ema, "node %d tensor %s ema presence", i, s->name);
			DIFF(s->ema && memcmp(s->ema, t->ema, n), "node %d %s ema", i, s->name);
		}
	}
	DIFF(strcmp(a->dataset, b->dataset), "dataset");
	DIFF(memcmp(a->mean, b->mean, sizeof a->mean) || memcmp(a->std, b->std, sizeof a->std), "norm");
	DIFF(a->val_size != b->val_size, "val_size");
	DIFF(strcmp(a->id, b->id) || strcmp(a->parent_id, b->parent_id), "ids");
	DIFF(!same_float(a->val_accuracy, b->val_accuracy) && !(isnan(a->val_accuracy) && isnan(b->val_accuracy)),
	     "val_accuracy");
	DIFF(!same_float(a->test_accuracy, b->test_accuracy) && !(isnan(a->test_accuracy) && isnan(b->test_accuracy)),
	     "test_accuracy");
	DIFF(a->val_tta != b->val_tta || a->test_tta != b->test_tta, "accuracies' tta");
	DIFF(a->failed != b->failed || strcmp(a->failure, b->failure), "failure");
	DIFF(a->ckpt_epochs_done != b->ckpt_epochs_done, "ckpt");
	DIFF(a->n_records != b->n_records || a->n_runs != b->n_runs || a->n_lineage != b->n_lineage, "counts");
	if (a->n_records)
		DIFF(memcmp(a->records, b->records, (size_t)a->n_records * sizeof *a->records), "records");
	for (int i = 0; i < a->n_runs; i++) {
		const RunSettings *x = &a->runs[i], *y = &b->runs[i];
		DIFF(x->seed != y->seed || x->batch != y->batch || x->epochs != y->epochs || x->limit != y->limit ||
		     x->augment != y->augment || !same_float(x->lr_start, y->lr_start) ||
		     !same_float(x->lr_end, y->lr_end) || !same_float(x->momentum, y->momentum) ||
		     !same_float(x->weight_decay, y->weight_decay) || strcmp(x->engine, y->engine) ||
		     !same_float(x->warmup, y->warmup) || strcmp(x->train_on, y->train_on) || x->images != y->images,
		     "run %d", i);
		DIFF(!same_float(x->label_smoothing, y->label_smoothing) || !same_float(x->ema, y->ema) ||
		     strcmp(x->tta, y->tta), "run %d: recipe", i);
		DIFF(strcmp(x->host, y->host) || strcmp(x->hardware, y->hardware) || strcmp(x->job, y->job),
		     "run %d: where it ran", i);
	}
	for (int i = 0; i < a->n_lineage; i++) {
		const Morphism *x = &a->lineage[i], *y = &b->lineage[i];
		DIFF(strcmp(x->op, y->op) || x->node != y->node || x->kernel != y->kernel || x->factor != y->factor ||
		     x->source != y->source || x->target != y->target || x->seed != y->seed, "morphism %d", i);
	}
	return 1;
#undef DIFF
}

static void write_bytes(const char *path, const char *s)
{
	FILE *f = fopen(path, "wb");
	fputs(s, f);
	fclose(f);
}

/* Makes tmpdir, $TMPDIR/nash-test-NAME-XXXXXX (or under /tmp); -1 when it cannot. */
static int tmpdir_make(const char *name)
{
	const char *t = getenv("TMPDIR");
	snprintf(tmpdir, sizeof tmpdir, "%s/nash-test-%s-XXXXXX", t && *t ? t : "/tmp", name);
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return -1;
	}
	return 0;
}

/* Removes tmpdir and what the tests left in it. */
static void tmpdir_remove(void)
{
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", tmpdir);
}

#endif
