/* Retraining from scratch (nash_init_like): the architecture kept, every weight drawn afresh
   by the seed network's own initialiser, the model untrained, the lineage row "reinit"; and
   the lineage rows a model file may hold (model_validate, the reader). */
#include <hdf5.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "engine/train.h"
#include "model/init.h"
#include "model/model.h"
#include "search/morph.h"

static char tmpdir[256];

static void seed_or_die(Model *m, uint64_t seed)
{
	static const int widths[] = {4, 8};
	NashErr err = {0};
	if (seed_network(m, "fashion-mnist", 1, 28, 28, 10, widths, 2, seed, &err)) {
		printf("# seed_network: %s\n", err.msg);
		exit(1);
	}
	m->mean[0] = 0.25f;
	m->std[0] = 0.5f;
	m->val_size = 200;
}

/* 1 when every tensor of a and b holds the same bits (the graphs alike). */
static int same_weights(const Graph *a, const Graph *b)
{
	if (a->n_nodes != b->n_nodes)
		return 0;
	for (int i = 0; i < a->n_nodes; i++) {
		if (a->nodes[i].n_params != b->nodes[i].n_params)
			return 0;
		for (int p = 0; p < a->nodes[i].n_params; p++) {
			const Tensor *s = &a->nodes[i].params[p], *t = &b->nodes[i].params[p];
			if (tensor_size(s) != tensor_size(t) || memcmp(s->data, t->data, tensor_size(s) * sizeof(float)))
				return 0;
		}
	}
	return 1;
}

/* The node-by-node description of the architecture: ops, inputs, settings, shapes. */
static int same_architecture(const Graph *a, const Graph *b)
{
	if (a->n_nodes != b->n_nodes || a->in_c != b->in_c || a->in_h != b->in_h || a->in_w != b->in_w ||
	    a->n_classes != b->n_classes)
		return 0;
	for (int i = 0; i < a->n_nodes; i++) {
		const Node *x = &a->nodes[i], *y = &b->nodes[i];
		if (x->op != y->op || x->n_inputs != y->n_inputs || memcmp(x->inputs, y->inputs, sizeof x->inputs) ||
		    x->out_channels != y->out_channels || x->kernel != y->kernel || x->has_bias != y->has_bias ||
		    x->c != y->c || x->h != y->h || x->w != y->w || x->n_params != y->n_params)
			return 0;
	}
	return 1;
}

/* A seed network grown by a deeper block, a skip-concat and a skip-add, then changed as
   training changes it (every weight, BN statistic and lambda moved), with a run, a record,
   accuracies, a failure mark and a checkpoint's momentum buffers. */
static void grown_trained_checkpoint(Model *m)
{
	static const MorphOp ops[] = {MORPH_DEEPER, MORPH_SKIP_CONCAT, MORPH_SKIP_ADD};
	Model seed;
	NashErr err = {0};
	seed_or_die(&seed, 5);
	for (int k = 0; k < 3; k++) {
		MorphOpts o;
		morph_opts_default(&o);
		o.n = 1;
		o.seed = 11;
		o.n_choices = 1;
		o.choices[0] = MORPH_MASK(ops[k]);
		if (morph_apply(m, &seed, &o, &err)) {
			printf("# morph_apply: %s\n", err.msg);
			exit(1);
		}
		model_free(&seed);
		seed = *m;
	}
	model_init(&seed); /* *m owns the last child */
	Rng r;
	rng_seed(&r, 99);
	for (int i = 0; i < m->g.n_nodes; i++)
		for (int p = 0; p < m->g.nodes[i].n_params; p++) {
			Tensor *t = &m->g.nodes[i].params[p];
			t->momentum = malloc(tensor_size(t) * sizeof(float));
			for (size_t k = 0; k < tensor_size(t); k++) {
				t->data[k] = 0.5f + (float)rng_uniform(&r); /* > 0: a valid variance too */
				t->momentum[k] = (float)rng_normal(&r);
			}
		}
	RunSettings rs = {.seed = 3, .batch = 64, .epochs = 2, .lr_start = 0.05f, .momentum = 0.9f, .images = 300};
	snprintf(rs.engine, sizeof rs.engine, "cpu");
	EpochRecord rec = {.run = 0, .epoch = 1, .lr = 0.05f, .train_loss = 1, .train_acc = 0.5f,
			   .val_loss = 1, .val_acc = 0.5f, .seconds = 1};
	if (model_add_run(m, &rs, &err) || model_add_record(m, &rec, &err)) {
		printf("# %s\n", err.msg);
		exit(1);
	}
	m->val_accuracy = 0.5f;
	m->test_accuracy = 0.45f;
	m->failed = 1;
	snprintf(m->failure, sizeof m->failure, "loss diverged (nan) in epoch 2");
	m->ckpt_epochs_done = 1;
}

TEST(a_seed_network_reinitialised_with_its_seed_is_itself)
{
	Model s, r, other;
	NashErr err = {0};
	seed_or_die(&s, 3);
	CHECKF(nash_init_like(&r, &s, 3, &err) == 0, "%s", err.msg);
	CHECK(same_architecture(&s.g, &r.g));
	CHECK(same_weights(&s.g, &r.g)); /* the seed network's initialiser, draw for draw */
	CHECK(strcmp(r.id, s.id) != 0 && strlen(r.id) == 16);
	CHECK(strcmp(r.parent_id, s.id) == 0);
	CHECK(strcmp(r.dataset, s.dataset) == 0 && r.val_size == 200 && r.mean[0] == 0.25f && r.std[0] == 0.5f);
	CHECK(r.n_lineage == 1 && strcmp(r.lineage[0].op, MODEL_LINEAGE_REINIT) == 0 && r.lineage[0].seed == 3);
	CHECK(r.lineage[0].node == -1 && r.lineage[0].kernel == -1 && r.lineage[0].factor == -1 &&
	      r.lineage[0].source == -1 && r.lineage[0].target == -1);
	CHECKF(model_validate(&r, &err) == 0, "%s", err.msg);
	/* another seed: other weights, another id; the same seed: the same id */
	CHECKF(nash_init_like(&other, &s, 4, &err) == 0, "%s", err.msg);
	CHECK(same_architecture(&s.g, &other.g) && !same_weights(&s.g, &other.g));
	CHECK(strcmp(other.id, r.id) != 0);
	model_free(&other);
	CHECKF(nash_init_like(&other, &s, 3, &err) == 0, "%s", err.msg);
	CHECK(strcmp(other.id, r.id) == 0 && same_weights(&r.g, &other.g));
	model_free(&other);
	model_free(&r);
	model_free(&s);
}

TEST(a_grown_trained_checkpoint_comes_back_untrained)
{
	Model m, r, expect;
	NashErr err = {0};
	grown_trained_checkpoint(&m);
	int adds = 0, concats = 0;
	for (int i = 0; i < m.g.n_nodes; i++)
		adds += m.g.nodes[i].op == OP_ADD, concats += m.g.nodes[i].op == OP_CONCAT;
	CHECK(adds == 1 && concats == 1 && m.n_lineage == 3);
	CHECKF(nash_init_like(&r, &m, 7, &err) == 0, "%s", err.msg);
	CHECK(same_architecture(&m.g, &r.g));
	CHECK(graph_param_count(&m.g) == graph_param_count(&r.g));
	/* exactly init_node over the graph from one stream of the seed, as seed_network does */
	CHECKF(model_clone(&expect, &m, &err) == 0, "%s", err.msg);
	Rng rng;
	rng_seed(&rng, 7);
	for (int i = 0; i < expect.g.n_nodes; i++)
		init_node(&expect.g, i, &rng);
	CHECK(same_weights(&expect.g, &r.g));
	model_free(&expect);
	/* what that means: BN identity, lambda 1, biases 0, He conv weights */
	for (int i = 0; i < r.g.n_nodes; i++) {
		const Node *n = &r.g.nodes[i];
		for (int p = 0; p < n->n_params; p++) {
			const Tensor *t = &n->params[p];
			size_t sz = tensor_size(t);
			CHECK(t->momentum == NULL);
			int one = !strcmp(t->name, "gamma") || !strcmp(t->name, "running_var") || !strcmp(t->name, "lambda");
			int zero = !strcmp(t->name, "beta") || !strcmp(t->name, "running_mean") || !strcmp(t->name, "bias");
			for (size_t k = 0; k < sz && (one || zero); k++)
				CHECKF(t->data[k] == (one ? 1.0f : 0.0f), "node %d %s[%zu] = %g", i, t->name, k,
				       (double)t->data[k]);
			if (n->op == OP_CONV && !strcmp(t->name, "weight") && sz >= 200) {
				double ss = 0;
				for (size_t k = 0; k < sz; k++)
					ss += (double)t->data[k] * t->data[k];
				double sd = sqrt(ss / (double)sz), he = sqrt(2.0 / (double)(sz / (size_t)t->dims[0]));
				CHECKF(fabs(sd / he - 1) < 0.2, "node %d: weight sd %g, He %g", i, sd, he);
			}
		}
	}
	/* untrained: no runs or record, no accuracies, no failure, no checkpoint */
	CHECK(r.n_runs == 0 && r.n_records == 0 && r.runs == NULL && r.records == NULL);
	CHECK(isnan(r.val_accuracy) && isnan(r.test_accuracy) && !r.failed && !r.failure[0]);
	CHECK(r.ckpt_epochs_done == 0);
	CHECK(train_warmup_auto(&r, 4) == NASH_WARMUP_FROM_SCRATCH && train_warmup_auto(&m, 4) == NASH_WARMUP_FROM_SCRATCH);
	m.ckpt_epochs_done = 0; /* the same model with its run finished is a trained one */
	CHECK(train_warmup_auto(&m, 4) == 0.0f);
	/* the lineage: the morphisms that made the architecture, then the reinit */
	CHECK(r.n_lineage == 4 && strcmp(r.parent_id, m.id) == 0 && strcmp(r.id, m.id) != 0);
	for (int k = 0; k < 3; k++)
		CHECK(memcmp(&r.lineage[k], &m.lineage[k], sizeof m.lineage[k]) == 0);
	CHECK(strcmp(r.lineage[3].op, MODEL_LINEAGE_REINIT) == 0 && r.lineage[3].seed == 7);
	/* written and read back as it is */
	void *buf;
	size_t len;
	Model back;
	CHECKF(model_write_mem(&r, &buf, &len, &err) == 0, "%s", err.msg);
	CHECKF(model_read_mem(&back, buf, len, "mem", &err) == 0, "%s", err.msg);
	CHECK(same_weights(&back.g, &r.g) && back.n_lineage == 4 && back.lineage[3].seed == 7 &&
	      strcmp(back.lineage[3].op, MODEL_LINEAGE_REINIT) == 0 && back.n_runs == 0);
	free(buf);
	model_free(&back);
	model_free(&r);
	model_free(&m);
}

/* Sets the op of every lineage row of the file to op, with the HDF5 API (a file no nash wrote). */
static void set_lineage_op(const char *path, const char *op)
{
	char ops[4][16] = {{0}};
	for (int k = 0; k < 4; k++)
		snprintf(ops[k], sizeof ops[k], "%s", op);
	hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT), d = H5Dopen2(f, "lineage", H5P_DEFAULT);
	hid_t str = H5Tcopy(H5T_C_S1), mt = H5Tcreate(H5T_COMPOUND, sizeof ops[0]);
	H5Tset_size(str, sizeof ops[0]);
	H5Tinsert(mt, "op", 0, str);
	CHECK(H5Dwrite(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, ops) >= 0); /* only the op field */
	H5Tclose(mt);
	H5Tclose(str);
	H5Dclose(d);
	H5Fclose(f);
}

TEST(lineage_rows_are_validated)
{
	Model s, r, back;
	NashErr err = {0};
	seed_or_die(&s, 1);
	CHECKF(nash_init_like(&r, &s, 2, &err) == 0, "%s", err.msg);
	/* a reinit row has only a seed */
	r.lineage[0].node = 4;
	CHECK(model_validate(&r, &err) == -1 && strstr(err.msg, "lineage row 0: a reinit row has only a seed"));
	char path[512];
	snprintf(path, sizeof path, "%s/r.h5", tmpdir);
	CHECK(model_write(&r, path, &err) == -1 && access(path, F_OK) != 0); /* the writer refuses it too */
	r.lineage[0].node = -1;
	snprintf(r.lineage[0].op, sizeof r.lineage[0].op, "shallower");
	CHECK(model_validate(&r, &err) == -1 && strstr(err.msg, "lineage row 0: op 'shallower' is not deeper, wider"));
	snprintf(r.lineage[0].op, sizeof r.lineage[0].op, MODEL_LINEAGE_REINIT);
	CHECKF(model_write(&r, path, &err) == 0, "%s", err.msg);
	CHECKF(model_read(&back, path, &err) == 0, "%s", err.msg);
	model_free(&back);
	/* the reader refuses an unknown op, naming the file */
	set_lineage_op(path, "bogus");
	CHECK(model_read(&back, path, &err) == -1 && strstr(err.msg, path) &&
	      strstr(err.msg, "lineage row 0: op 'bogus' is not deeper, wider, skip-add, skip-concat or reinit"));
	/* a known op with a reinit row's -1s is not what that morphism records */
	set_lineage_op(path, "skip-add");
	CHECK(model_read(&back, path, &err) == -1 && strstr(err.msg, path) &&
	      strstr(err.msg, "lineage row 0: node -1 is not a node of the graph after its input (1..9)"));
	unlink(path);
	model_free(&r);
	model_free(&s);
}

/* Sets lineage row 0 of m to op with the given fields, validates m and checks the message. */
static void expect_row(Model *m, const char *op, int node, int kernel, int factor, int source, int target,
		       const char *want)
{
	NashErr err = {0};
	Morphism *mm = &m->lineage[0];
	snprintf(mm->op, sizeof mm->op, "%s", op);
	mm->node = node, mm->kernel = kernel, mm->factor = factor, mm->source = source, mm->target = target;
	int rc = model_validate(m, &err);
	if (want)
		CHECKF(rc == -1 && strstr(err.msg, want), "%s %d %d %d %d %d: '%s', expected '%s'", op, node, kernel,
		       factor, source, target, rc ? err.msg : "valid", want);
	else
		CHECKF(rc == 0, "%s %d %d %d %d %d: %s", op, node, kernel, factor, source, target, err.msg);
}

TEST(lineage_fields_are_what_the_morphism_records)
{
	Model s, m;
	NashErr err = {0};
	seed_or_die(&s, 1); /* 10 nodes: 000_input .. 009_dense */
	CHECKF(nash_init_like(&m, &s, 2, &err) == 0, "%s", err.msg);
	/* what morph.c writes, at the edges of the graph and of the operators' ranges */
	expect_row(&m, "deeper", 1, 3, -1, -1, -1, NULL);
	expect_row(&m, "deeper", 9, 15, -1, -1, -1, NULL);
	expect_row(&m, "wider", 2, -1, 64, -1, -1, NULL);
	expect_row(&m, "skip-add", 7, -1, -1, 3, 7, NULL);
	expect_row(&m, "skip-concat", 9, -1, -1, 1, 9, NULL);
	/* nodes outside the graph, or its input */
	expect_row(&m, "deeper", -5, 3, -1, -1, -1, "lineage row 0: node -5 is not a node of the graph after its input (1..9)");
	expect_row(&m, "wider", 10, -1, 2, -1, -1, "lineage row 0: node 10 is not a node of the graph");
	expect_row(&m, "deeper", 0, 3, -1, -1, -1, "lineage row 0: node 0 is not a node of the graph");
	expect_row(&m, "skip-add", 7, -1, -1, 2147483647, 7, "lineage row 0: source 2147483647 is not a node of the graph after its input (1..9)");
	expect_row(&m, "skip-concat", 7, -1, -1, 3, 2147483647, "lineage row 0: target 2147483647 is not a node");
	/* a skip's node is its target, after its source */
	expect_row(&m, "skip-add", 6, -1, -1, 3, 7, "lineage row 0: node 6 is not the skip's target 7");
	expect_row(&m, "skip-add", 7, -1, -1, 7, 7, "lineage row 0: source 7 does not come before target 7");
	expect_row(&m, "skip-concat", 3, -1, -1, 7, 3, "lineage row 0: source 7 does not come before target 3");
	/* the operators' parameters */
	expect_row(&m, "deeper", 3, 4, -1, -1, -1, "lineage row 0: kernel 4 is not an odd size in 1..15");
	expect_row(&m, "deeper", 3, 17, -1, -1, -1, "lineage row 0: kernel 17 is not an odd size in 1..15");
	expect_row(&m, "wider", 2, -1, 1, -1, -1, "lineage row 0: factor 1 is not in 2..64");
	expect_row(&m, "wider", 2, -1, 65, -1, -1, "lineage row 0: factor 65 is not in 2..64");
	/* fields the op does not use are -1 */
	expect_row(&m, "deeper", 3, 3, 2, -1, -1, "lineage row 0: factor is 2, but a deeper row has none (-1)");
	expect_row(&m, "wider", 2, 3, 2, -1, -1, "lineage row 0: kernel is 3, but a wider row has none (-1)");
	expect_row(&m, "wider", 2, -1, 2, 1, -1, "lineage row 0: source is 1, but a wider row has none (-1)");
	expect_row(&m, "skip-add", 7, 3, -1, 3, 7, "lineage row 0: kernel is 3, but a skip-add row has none (-1)");
	/* the writer refuses such a row, and the reader one it finds in a file */
	char path[512];
	snprintf(path, sizeof path, "%s/l.h5", tmpdir);
	expect_row(&m, "deeper", 3, 3, -1, -1, -1, NULL);
	CHECKF(model_write(&m, path, &err) == 0, "%s", err.msg);
	m.lineage[0].node = 12;
	CHECK(model_write(&m, path, &err) == -1 && strstr(err.msg, "lineage row 0: node 12 is not a node"));
	hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT), d = H5Dopen2(f, "lineage", H5P_DEFAULT);
	hid_t mt = H5Tcreate(H5T_COMPOUND, sizeof(int));
	int node = -5;
	H5Tinsert(mt, "node", 0, H5T_NATIVE_INT);
	CHECK(H5Dwrite(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, &node) >= 0); /* only the node field */
	H5Tclose(mt);
	H5Dclose(d);
	H5Fclose(f);
	Model back;
	CHECK(model_read(&back, path, &err) == -1 && strstr(err.msg, path) &&
	      strstr(err.msg, "lineage row 0: node -5 is not a node of the graph after its input (1..9)"));
	unlink(path);
	model_free(&m);
	model_free(&s);
}

int main(void)
{
	const char *t = getenv("TMPDIR");
	snprintf(tmpdir, sizeof tmpdir, "%s/nash-test-init-XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	RUN(a_seed_network_reinitialised_with_its_seed_is_itself);
	RUN(a_grown_trained_checkpoint_comes_back_untrained);
	RUN(lineage_rows_are_validated);
	RUN(lineage_fields_are_what_the_morphism_records);
	rmdir(tmpdir);
	CHECK_DONE();
}
