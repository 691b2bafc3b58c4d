/* Model files: exact round trips, byte-identical output, and a clear error for every kind of
   broken file (each made by editing a valid file with the HDF5 API). */
#include <dirent.h>
#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "base/atomic.h"
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

TEST(round_trip_is_exact)
{
	for (int mom = 0; mom < 2; mom++) {
		Model m, r;
		NashErr err = { 0 };
		make_model(&m, mom);
		void *buf;
		size_t len;
		CHECKF(model_write_mem(&m, &buf, &len, &err) == 0, "%s", err.msg);
		CHECKF(model_read_mem(&r, buf, len, "mem", &err) == 0, "%s", err.msg);
		CHECK(models_equal(&m, &r));
		CHECK(r.n_records == 2 && isnan(r.records[0].val_acc));
		free(buf);
		model_free(&r);
		model_free(&m);
	}
}

TEST(file_round_trip_and_h5dump)
{
	Model m, r;
	NashErr err = { 0 };
	char path[512], cmd[1200];
	make_model(&m, 0);
	m.test_accuracy = 0.5f;
	m.failed = 1;
	snprintf(m.failure, sizeof m.failure, "diverged at epoch 3");
	path_in_tmp(path, sizeof path, "m.h5");
	CHECKF(model_write(&m, path, &err) == 0, "%s", err.msg);
	CHECKF(model_read(&r, path, &err) == 0, "%s", err.msg);
	CHECK(models_equal(&m, &r));
	model_free(&r);
	if (system("command -v h5dump >/dev/null 2>&1") != 0) {
		printf("# skip: h5dump not installed\n");
	} else {
		snprintf(cmd, sizeof cmd, "h5dump -H '%s' >/dev/null 2>&1", path);
		CHECK(system(cmd) == 0);
		snprintf(cmd, sizeof cmd, "h5dump -a val_accuracy '%s' | grep -q 0.8125", path);
		CHECK(system(cmd) == 0);
		snprintf(cmd, sizeof cmd, "h5dump -d graph/001_conv/weight '%s' >/dev/null 2>&1", path);
		CHECK(system(cmd) == 0);
	}
	model_free(&m);
}

TEST(optional_attributes)
{
	Model m, r;
	NashErr err = { 0 };
	char path[512];
	make_model(&m, 0);
	m.val_accuracy = NAN;
	m.val_tta = TTA_NONE; /* no accuracy, nothing it was measured with */
	path_in_tmp(path, sizeof path, "opt.h5");
	CHECKF(model_write(&m, path, &err) == 0, "%s", err.msg);
	hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
	CHECK(f >= 0);
	CHECK(H5Aexists(f, "val_accuracy") == 0);
	CHECK(H5Aexists(f, "test_accuracy") == 0);
	CHECK(H5Aexists(f, "failed") == 0);
	CHECK(H5Aexists(f, "checkpoint_epochs_done") == 0);
	CHECK(H5Lexists(f, "graph/001_conv/momentum_weight", H5P_DEFAULT) == 0);
	CHECK(H5Lexists(f, "graph/001_conv/ema_weight", H5P_DEFAULT) == 0);
	CHECK(H5Aexists(f, "val_accuracy_tta") == 0 && H5Aexists(f, "test_accuracy_tta") == 0);
	CHECK(H5Aexists(f, "model_id") > 0);
	H5Fclose(f);
	CHECKF(model_read(&r, path, &err) == 0, "%s", err.msg);
	CHECK(isnan(r.val_accuracy) && isnan(r.test_accuracy) && !r.failed && r.ckpt_epochs_done == 0);
	CHECK(r.g.nodes[1].params[0].momentum == NULL && r.g.nodes[1].params[0].ema == NULL);
	CHECK(r.val_tta == TTA_NONE && r.test_tta == TTA_NONE);
	model_free(&r);
	/* empty tables and a seed's empty parent id */
	free(m.records);
	free(m.runs);
	free(m.lineage);
	m.records = NULL, m.runs = NULL, m.lineage = NULL;
	m.n_records = m.n_runs = m.n_lineage = 0;
	m.parent_id[0] = '\0';
	CHECKF(model_write(&m, path, &err) == 0, "%s", err.msg);
	CHECKF(model_read(&r, path, &err) == 0, "%s", err.msg);
	CHECK(models_equal(&m, &r));
	model_free(&r);
	model_free(&m);
}

TEST(writing_is_deterministic)
{
	Model m, r;
	NashErr err = { 0 };
	void *a, *b, *c;
	size_t la, lb, lc;
	make_model(&m, 1);
	CHECKF(model_write_mem(&m, &a, &la, &err) == 0, "%s", err.msg);
#ifdef __GLIBC__
	mallopt(M_PERTURB, 0xa5); /* fresh heap garbage, so uninitialised bytes would show */
#endif
	CHECKF(model_write_mem(&m, &b, &lb, &err) == 0, "%s", err.msg);
	CHECK(la == lb && memcmp(a, b, la) == 0);
	CHECKF(model_read_mem(&r, a, la, "mem", &err) == 0, "%s", err.msg);
	CHECKF(model_write_mem(&r, &c, &lc, &err) == 0, "%s", err.msg);
	CHECK(la == lc && memcmp(a, c, la) == 0);
#ifdef __GLIBC__
	mallopt(M_PERTURB, 0);
#endif
	/* junk after a string's NUL is not part of the model */
	memset(r.runs[0].engine + 4, 'q', sizeof r.runs[0].engine - 4);
	memset(r.runs[0].job + 7, 'q', sizeof r.runs[0].job - 7);
	memset(r.lineage[1].op + 6, 'q', sizeof r.lineage[1].op - 6);
	free(c);
	CHECKF(model_write_mem(&r, &c, &lc, &err) == 0, "%s", err.msg);
	CHECK(la == lc && memcmp(a, c, la) == 0);
	/* a different model gives different bytes */
	m.g.nodes[1].params[0].data[0] += 1.0f;
	free(c);
	CHECKF(model_write_mem(&m, &c, &lc, &err) == 0, "%s", err.msg);
	CHECK(!(la == lc && memcmp(a, c, la) == 0));
	free(a);
	free(b);
	free(c);
	model_free(&r);
	model_free(&m);
}

/* A file written before training/runs had warmup, train_on and images reads as what those
   runs did (no warmup, the training split, images not recorded); a bad train_on is refused. */
static void write_runs_table(const char *path, int with_train_on, const char *train_on)
{
	typedef struct {
		uint64_t seed;
		int batch, epochs, limit, augment;
		float lr_start, lr_end, momentum, weight_decay;
		char device[16], train_on[16];
	} OldRun;
	OldRun row = {.seed = 7, .batch = 64, .epochs = 3, .limit = 0, .augment = 1, .lr_start = 0.1f,
		      .lr_end = 0.001f, .momentum = 0.9f, .weight_decay = 5e-4f, .device = "cpu"};
	snprintf(row.train_on, sizeof row.train_on, "%s", train_on);
	hid_t str = H5Tcopy(H5T_C_S1);
	H5Tset_size(str, 16);
	hid_t t = H5Tcreate(H5T_COMPOUND, sizeof row);
	H5Tinsert(t, "seed", offsetof(OldRun, seed), H5T_NATIVE_UINT64);
	H5Tinsert(t, "batch", offsetof(OldRun, batch), H5T_NATIVE_INT);
	H5Tinsert(t, "epochs", offsetof(OldRun, epochs), H5T_NATIVE_INT);
	H5Tinsert(t, "limit", offsetof(OldRun, limit), H5T_NATIVE_INT);
	H5Tinsert(t, "augment", offsetof(OldRun, augment), H5T_NATIVE_INT);
	H5Tinsert(t, "lr_start", offsetof(OldRun, lr_start), H5T_NATIVE_FLOAT);
	H5Tinsert(t, "lr_end", offsetof(OldRun, lr_end), H5T_NATIVE_FLOAT);
	H5Tinsert(t, "momentum", offsetof(OldRun, momentum), H5T_NATIVE_FLOAT);
	H5Tinsert(t, "weight_decay", offsetof(OldRun, weight_decay), H5T_NATIVE_FLOAT);
	H5Tinsert(t, "device", offsetof(OldRun, device), str);
	if (with_train_on)
		H5Tinsert(t, "train_on", offsetof(OldRun, train_on), str);
	hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
	H5Ldelete(f, "training/runs", H5P_DEFAULT);
	hsize_t one = 1;
	hid_t sp = H5Screate_simple(1, &one, NULL);
	hid_t d = H5Dcreate2(f, "training/runs", t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
	CHECK(d >= 0 && H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, &row) >= 0);
	H5Dclose(d);
	H5Sclose(sp);
	H5Fclose(f);
	H5Tclose(t);
	H5Tclose(str);
}

TEST(runs_table_without_later_fields)
{
	Model m, r;
	NashErr err = { 0 };
	char path[512];
	make_model(&m, 0);
	path_in_tmp(path, sizeof path, "oldruns.h5");
	CHECKF(model_write(&m, path, &err) == 0, "%s", err.msg);
	write_runs_table(path, 0, "");
	CHECKF(model_read(&r, path, &err) == 0, "%s", err.msg);
	CHECK(r.n_runs == 1 && r.runs[0].seed == 7 && r.runs[0].batch == 64 && r.runs[0].epochs == 3 &&
	      same_float(r.runs[0].lr_end, 0.001f) && !strcmp(r.runs[0].engine, "cpu"));
	CHECK(r.runs[0].warmup == 0.0f && !strcmp(r.runs[0].train_on, "train") && r.runs[0].images == 0);
	CHECK(r.runs[0].label_smoothing == 0.0f && r.runs[0].ema == 0.0f && !strcmp(r.runs[0].tta, "none"));
	CHECK(!run_trained_on_val(&r.runs[0]));
	model_free(&r);
	write_runs_table(path, 1, "all"); /* some fields only */
	CHECKF(model_read(&r, path, &err) == 0, "%s", err.msg);
	CHECK(r.n_runs == 1 && !strcmp(r.runs[0].train_on, "all") && run_trained_on_val(&r.runs[0]) &&
	      r.runs[0].warmup == 0.0f);
	model_free(&r);
	write_runs_table(path, 1, "both");
	CHECK(model_read(&r, path, &err) == -1 && strstr(err.msg, "train_on 'both'") && strstr(err.msg, path));
	model_free(&m);
}

/* The recipe's record (nash-train --label-smoothing, --ema, --tta): the accuracies' test-time
   augmentation as root attributes only when it is not none, a checkpoint's weight average as
   ema_<name>, and values out of range refused by the writer and the reader. */
TEST(recipe_fields)
{
	Model m, r;
	NashErr err = { 0 };
	char path[512];
	make_model(&m, 1);
	m.test_accuracy = 0.75f; /* measured without augmentation: no test_accuracy_tta */
	path_in_tmp(path, sizeof path, "recipe.h5");
	CHECKF(model_write(&m, path, &err) == 0, "%s", err.msg);
	hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
	CHECK(H5Aexists(f, "val_accuracy_tta") > 0 && H5Aexists(f, "test_accuracy_tta") == 0);
	CHECK(H5Lexists(f, "graph/002_bn/ema_running_var", H5P_DEFAULT) > 0);
	H5Fclose(f);
	CHECKF(model_read(&r, path, &err) == 0, "%s", err.msg);
	CHECK(models_equal(&m, &r) && r.val_tta == TTA_FLIP_SHIFT && r.test_tta == TTA_NONE);
	CHECK(!strcmp(r.runs[0].tta, "flip-shift") && r.runs[0].ema == 0.99f && r.runs[0].label_smoothing == 0.125f);
	/* a fresh run drops the weight average with the momentum */
	model_drop_optimizer(&r);
	CHECK(r.g.nodes[2].params[3].ema == NULL && r.g.nodes[2].params[3].momentum == NULL);
	model_free(&r);
	/* an unknown root tta is refused, naming it */
	f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
	H5Adelete(f, "val_accuracy_tta");
	hid_t str = H5Tcopy(H5T_C_S1), sp = H5Screate(H5S_SCALAR);
	H5Tset_size(str, 8);
	hid_t a = H5Acreate2(f, "val_accuracy_tta", str, sp, H5P_DEFAULT, H5P_DEFAULT);
	CHECK(a >= 0 && H5Awrite(a, str, "mirror\0\0") >= 0);
	H5Aclose(a), H5Sclose(sp), H5Tclose(str), H5Fclose(f);
	CHECK(model_read(&r, path, &err) == -1 &&
	      strstr(err.msg, "val_accuracy_tta 'mirror' is not none, flip or flip-shift"));
	/* the writer refuses what the reader would */
	struct { float ls, ema; const char *tta, *msg; } bad[] = {
		{1.0f, 0, "none", "label_smoothing 1 or ema 0 is not in [0, 1)"},
		{0, -0.5f, "none", "label_smoothing 0 or ema -0.5 is not in [0, 1)"},
		{0, 0, "flop", "tta 'flop' is not none, flip or flip-shift"},
	};
	for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
		RunSettings keep = m.runs[0];
		m.runs[0].label_smoothing = bad[k].ls, m.runs[0].ema = bad[k].ema;
		snprintf(m.runs[0].tta, sizeof m.runs[0].tta, "%s", bad[k].tta);
		nash_err_clear(&err);
		CHECKF(model_write(&m, path, &err) == -1 && strstr(err.msg, bad[k].msg), "%s", err.msg);
		m.runs[0] = keep;
	}
	model_free(&m);
}

/* ---- corrupting a valid file with the HDF5 API ---- */

static hid_t open_rw(const char *path) { return H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT); }

static void set_attr(const char *path, const char *obj, const char *name, hid_t type, int n, const void *v)
{
	hid_t f = open_rw(path), o = H5Oopen(f, obj, H5P_DEFAULT);
	if (H5Aexists(o, name) > 0)
		H5Adelete(o, name);
	hsize_t d = (hsize_t)n;
	hid_t sp = n ? H5Screate_simple(1, &d, NULL) : H5Screate(H5S_SCALAR);
	hid_t a = H5Acreate2(o, name, type, sp, H5P_DEFAULT, H5P_DEFAULT);
	H5Awrite(a, type, v);
	H5Aclose(a);
	H5Sclose(sp);
	H5Oclose(o);
	H5Fclose(f);
}

static void set_int(const char *path, const char *obj, const char *name, int v)
{
	set_attr(path, obj, name, H5T_NATIVE_INT, 0, &v);
}

static void set_str(const char *path, const char *obj, const char *name, const char *s)
{
	hid_t t = H5Tcopy(H5T_C_S1);
	H5Tset_size(t, strlen(s) + 1);
	set_attr(path, obj, name, t, 0, s);
	H5Tclose(t);
}

static void del_attr(const char *path, const char *obj, const char *name)
{
	hid_t f = open_rw(path);
	H5Adelete_by_name(f, obj, name, H5P_DEFAULT);
	H5Fclose(f);
}

static void del_link(const char *path, const char *obj)
{
	hid_t f = open_rw(path);
	H5Ldelete(f, obj, H5P_DEFAULT);
	H5Fclose(f);
}

static void move_link(const char *path, const char *from, const char *to)
{
	hid_t f = open_rw(path);
	H5Lmove(f, from, f, to, H5P_DEFAULT, H5P_DEFAULT);
	H5Fclose(f);
}

static void add_dataset(const char *path, const char *obj, int rank, const hsize_t *dims)
{
	hid_t f = open_rw(path), sp = H5Screate_simple(rank, dims, NULL);
	hid_t d = H5Dcreate2(f, obj, H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
	H5Dclose(d);
	H5Sclose(sp);
	H5Fclose(f);
}

static void poke_nan(const char *path, const char *obj)
{
	hid_t f = open_rw(path), d = H5Dopen2(f, obj, H5P_DEFAULT), sp = H5Dget_space(d);
	size_t n = (size_t)H5Sget_simple_extent_npoints(sp);
	float *x = malloc(n * sizeof *x);
	H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, x);
	x[n / 2] = NAN;
	H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, x);
	free(x);
	H5Sclose(sp);
	H5Dclose(d);
	H5Fclose(f);
}

static void write_bytes(const char *path, const char *s)
{
	FILE *f = fopen(path, "wb");
	fputs(s, f);
	fclose(f);
}

/* A fresh valid model file at path. */
static void fresh(const char *path)
{
	Model m;
	NashErr err = { 0 };
	make_model(&m, 0);
	if (model_write(&m, path, &err))
		printf("# fresh: %s\n", err.msg);
	model_free(&m);
}

/* model_read must fail with a message naming the file and containing phrase. */
static void expect_fail(const char *path, const char *phrase, int line)
{
	Model m;
	NashErr err = { 0 };
	int rc = model_read(&m, path, &err);
	if (rc == 0) {
		printf("#   line %d: read succeeded, expected '%s'\n", line, phrase);
		check_current_failed = 1;
		model_free(&m);
		return;
	}
	if (!strstr(err.msg, phrase) || strncmp(err.msg, path, strlen(path)) != 0 || err.code != NASH_ERR_RUNTIME) {
		printf("#   line %d: error '%s' lacks the file name or '%s'\n", line, err.msg, phrase);
		check_current_failed = 1;
	}
	CHECK(m.g.nodes == NULL && m.records == NULL); /* nothing left allocated */
}
#define EXPECT_FAIL(path, phrase) expect_fail(path, phrase, __LINE__)

TEST(bad_files_are_rejected)
{
	char p[512];
	H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* our own edits may probe missing objects */
	path_in_tmp(p, sizeof p, "bad.h5");

	write_bytes(p, "");
	EXPECT_FAIL(p, "empty file");
	write_bytes(p, "this is not a model\n");
	EXPECT_FAIL(p, "not an HDF5 file");
	fresh(p);
	FILE *f = fopen(p, "r+b"); /* keep the signature, destroy the superblock */
	fseek(f, 8, SEEK_SET);
	fputs("garbage garbage garbage", f);
	fclose(f);
	EXPECT_FAIL(p, "corrupt HDF5 file");

	fresh(p);
	set_int(p, "/", "format_version", 7);
	EXPECT_FAIL(p, "format_version 7 is newer than this nash supports (2)");
	fresh(p);
	set_str(p, "/", "format", "keras");
	EXPECT_FAIL(p, "format is 'keras'");
	fresh(p);
	del_attr(p, "/", "format");
	EXPECT_FAIL(p, "not a nash model file");
	fresh(p);
	del_attr(p, "/", "num_classes");
	EXPECT_FAIL(p, "missing attribute 'num_classes'");
	fresh(p);
	del_attr(p, "graph/001_conv", "kernel");
	EXPECT_FAIL(p, "graph/001_conv: missing attribute 'kernel'");
	fresh(p);
	set_int(p, "/", "dataset", 3);
	EXPECT_FAIL(p, "attribute 'dataset' has the wrong type");

	fresh(p);
	move_link(p, "graph/005_conv", "graph/005_foo");
	set_str(p, "graph/005_foo", "op", "foo");
	EXPECT_FAIL(p, "unknown op 'foo' in graph/005_foo");
	fresh(p);
	set_str(p, "graph/009_add", "inputs", "007_relu,099_conv");
	EXPECT_FAIL(p, "graph/009_add: input '099_conv' does not exist");
	fresh(p);
	set_str(p, "graph/005_conv", "inputs", "008_conv");
	EXPECT_FAIL(p, "graph/005_conv: input '008_conv' is not an earlier node");
	fresh(p);
	move_link(p, "graph/003_relu", "graph/013_relu");
	EXPECT_FAIL(p, "graph/013_relu: node groups must be named");
	fresh(p);
	move_link(p, "graph/003_relu", "graph/003_gap");
	EXPECT_FAIL(p, "must be named 003_relu");
	fresh(p);
	set_int(p, "graph/008_conv", "out_channels", 8);
	EXPECT_FAIL(p, "add of shapes");
	fresh(p);
	int shape[3] = { 9, 28, 28 };
	set_attr(p, "graph/001_conv", "output_shape", H5T_NATIVE_INT, 3, shape);
	EXPECT_FAIL(p, "graph/001_conv: output_shape 9x28x28 does not match the inferred 8x28x28");

	fresh(p);
	del_link(p, "graph/005_conv/bias");
	EXPECT_FAIL(p, "graph/005_conv: missing dataset 'bias'");
	fresh(p);
	hsize_t d1 = 4;
	add_dataset(p, "graph/006_bn/foo", 1, &d1);
	EXPECT_FAIL(p, "graph/006_bn: unexpected dataset 'foo'");
	fresh(p);
	hsize_t d4[4] = { 8, 1, 5, 5 };
	del_link(p, "graph/001_conv/weight");
	add_dataset(p, "graph/001_conv/weight", 4, d4);
	EXPECT_FAIL(p, "graph/001_conv/weight: shape [8,1,5,5] does not match the expected [8,1,3,3]");
	fresh(p);
	poke_nan(p, "graph/008_conv/weight");
	EXPECT_FAIL(p, "graph/008_conv/weight: element");
	EXPECT_FAIL(p, "NaN");
	fresh(p);
	del_link(p, "training/record");
	EXPECT_FAIL(p, "missing dataset 'training/record'");
	fresh(p);
	del_link(p, "lineage");
	EXPECT_FAIL(p, "missing dataset 'lineage'");
	fresh(p);
	set_str(p, "/", "model_id", "XYZ");
	EXPECT_FAIL(p, "model_id 'XYZ'");

	path_in_tmp(p, sizeof p, "does-not-exist.h5");
	EXPECT_FAIL(p, "No such file or directory");
	CHECK(H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL) == 0); /* no HDF5 handle leaked */
}

/* What h5py writes for `f.attrs[k] = v`: variable-length strings, int64, float64. */
/* Replaces dataset obj by a [1] one holding v. */
static void set_scalar_dataset(const char *path, const char *obj, float v)
{
	hsize_t one = 1;
	del_link(path, obj);
	add_dataset(path, obj, 1, &one);
	hid_t f = open_rw(path), d = H5Dopen2(f, obj, H5P_DEFAULT);
	H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, &v);
	H5Dclose(d);
	H5Fclose(f);
}

/* format_version 1 stored one lambda [1] per add; it is read as that value for every channel.
   In a version 2 file a [1] lambda is an error. */
TEST(format_version_1_lambda)
{
	char p[512];
	H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
	path_in_tmp(p, sizeof p, "v1.h5");
	Model m;
	NashErr err = {0};
	make_model(&m, 1); /* a checkpoint: momentum buffers too */
	CHECKF(model_write(&m, p, &err) == 0, "%s", err.msg);
	model_free(&m);
	del_link(p, "/graph/009_add/ema_lambda"); /* the weight average came after version 2 */
	set_scalar_dataset(p, "/graph/009_add/lambda", 0.75f);
	EXPECT_FAIL(p, "graph/009_add/lambda: shape [1] does not match the expected [16]");
	set_int(p, "/", "format_version", 1);
	EXPECT_FAIL(p, "graph/009_add/momentum_lambda: shape [16] does not match the expected [1]");
	set_scalar_dataset(p, "/graph/009_add/momentum_lambda", -0.25f);
	CHECKF(model_read(&m, p, &err) == 0, "%s", err.msg);
	if (err.code == 0) {
		const Tensor *l = &m.g.nodes[9].params[0];
		int all = l->dims[0] == 16 && l->momentum;
		for (int c = 0; all && c < l->dims[0]; c++)
			all &= l->data[c] == 0.75f && l->momentum[c] == -0.25f;
		CHECK(all);
		model_free(&m);
	}
}

/* Rewrites training/runs as a nash before the placement fields (host, hardware, job) wrote
   it; with int_job, plus a field 'job' of the wrong type (an integer); with old_hardware, plus
   the hardware as files had it before 2026-12-07: "device_name", 64 bytes. */
static void rewrite_runs_without_placement(const char *path, int int_job, const char *old_hardware)
{
	typedef struct OldRun {
		uint64_t seed;
		int batch, epochs, limit, augment;
		float lr_start, lr_end, momentum, weight_decay;
		char device[16];
		int job;
		char device_name[64];
	} OldRun;
	hid_t str64 = H5Tcopy(H5T_C_S1);
	H5Tset_size(str64, 64);
	hid_t str = H5Tcopy(H5T_C_S1);
	H5Tset_size(str, 16);
	hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(OldRun));
	H5Tinsert(t, "seed", offsetof(OldRun, seed), H5T_NATIVE_UINT64);
	H5Tinsert(t, "batch", offsetof(OldRun, batch), H5T_NATIVE_INT);
	H5Tinsert(t, "epochs", offsetof(OldRun, epochs), H5T_NATIVE_INT);
	H5Tinsert(t, "limit", offsetof(OldRun, limit), H5T_NATIVE_INT);
	H5Tinsert(t, "augment", offsetof(OldRun, augment), H5T_NATIVE_INT);
	H5Tinsert(t, "lr_start", offsetof(OldRun, lr_start), H5T_NATIVE_FLOAT);
	H5Tinsert(t, "lr_end", offsetof(OldRun, lr_end), H5T_NATIVE_FLOAT);
	H5Tinsert(t, "momentum", offsetof(OldRun, momentum), H5T_NATIVE_FLOAT);
	H5Tinsert(t, "weight_decay", offsetof(OldRun, weight_decay), H5T_NATIVE_FLOAT);
	H5Tinsert(t, "device", offsetof(OldRun, device), str);
	if (int_job)
		H5Tinsert(t, "job", offsetof(OldRun, job), H5T_NATIVE_INT);
	if (old_hardware)
		H5Tinsert(t, "device_name", offsetof(OldRun, device_name), str64);
	hid_t f = open_rw(path), d = H5Dopen2(f, "training/runs", H5P_DEFAULT), sp = H5Dget_space(d);
	hsize_t n = 0;
	H5Sget_simple_extent_dims(sp, &n, NULL);
	OldRun *rows = calloc(n, sizeof *rows);
	H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows); /* job: not in the file, stays 0 */
	for (hsize_t i = 0; old_hardware && i < n; i++)
		snprintf(rows[i].device_name, sizeof rows[i].device_name, "%s", old_hardware);
	H5Dclose(d);
	H5Ldelete(f, "training/runs", H5P_DEFAULT);
	d = H5Dcreate2(f, "training/runs", t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
	H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows);
	free(rows);
	H5Dclose(d);
	H5Sclose(sp);
	H5Fclose(f);
	H5Tclose(t);
	H5Tclose(str);
	H5Tclose(str64);
}

/* Files written before the placement fields still read: the fields are empty, the rest intact.
   A placement field of another type is an error, as for any other field. */
TEST(runs_without_placement_are_read)
{
	char p[512];
	H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
	path_in_tmp(p, sizeof p, "old-runs.h5");
	Model m, r;
	NashErr err = {0};
	make_model(&m, 0);
	CHECKF(model_write(&m, p, &err) == 0, "%s", err.msg);
	rewrite_runs_without_placement(p, 0, NULL);
	CHECKF(model_read(&r, p, &err) == 0, "%s", err.msg);
	if (err.code == 0) {
		CHECK(r.n_runs == 1 && r.runs[0].host[0] == '\0' && r.runs[0].hardware[0] == '\0' &&
		      r.runs[0].job[0] == '\0');
		snprintf(r.runs[0].host, sizeof r.runs[0].host, "%s", m.runs[0].host);
		snprintf(r.runs[0].hardware, sizeof r.runs[0].hardware, "%s", m.runs[0].hardware);
		snprintf(r.runs[0].job, sizeof r.runs[0].job, "%s", m.runs[0].job);
		/* the later fields of the training (warmup, train_on, images, the recipe's) are not in
		   the file either */
		CHECK(r.runs[0].warmup == 0.0f && !strcmp(r.runs[0].train_on, "train") && r.runs[0].images == 0);
		CHECK(r.runs[0].label_smoothing == 0 && r.runs[0].ema == 0 && !strcmp(r.runs[0].tta, "none"));
		r.runs[0].warmup = m.runs[0].warmup, r.runs[0].images = m.runs[0].images;
		r.runs[0].label_smoothing = m.runs[0].label_smoothing, r.runs[0].ema = m.runs[0].ema;
		snprintf(r.runs[0].train_on, sizeof r.runs[0].train_on, "%s", m.runs[0].train_on);
		snprintf(r.runs[0].tta, sizeof r.runs[0].tta, "%s", m.runs[0].tta);
		CHECK(models_equal(&m, &r));
		model_free(&r);
	}
	model_free(&m);
	/* the hardware in 64 bytes, as files had it before it had 128 */
	const char *old = "NVIDIA H200, GPU 0 of 1, 139.8 GiB (CUDA_VISIBLE_DEVICES=3) and";
	CHECK(strlen(old) == 63);
	rewrite_runs_without_placement(p, 0, old);
	CHECKF(model_read(&r, p, &err) == 0, "%s", err.msg);
	if (err.code == 0) {
		CHECKF(strcmp(r.runs[0].hardware, old) == 0, "%s", r.runs[0].hardware);
		model_free(&r);
	}
	fresh(p);
	rewrite_runs_without_placement(p, 1, NULL);
	EXPECT_FAIL(p, "training/runs: field 'job' has the wrong type");
}

TEST(h5py_style_attributes_are_read)
{
	char p[512];
	Model m;
	NashErr err = { 0 };
	path_in_tmp(p, sizeof p, "h5py.h5");
	fresh(p);
	hid_t vs = H5Tcopy(H5T_C_S1);
	H5Tset_size(vs, H5T_VARIABLE);
	const char *name = "cifar10";
	set_attr(p, "/", "dataset", vs, 0, &name);
	H5Tclose(vs);
	long long val_size = 1234;
	set_attr(p, "/", "val_size", H5T_NATIVE_LLONG, 0, &val_size);
	double acc = 0.25;
	set_attr(p, "/", "test_accuracy", H5T_NATIVE_DOUBLE, 0, &acc);
	hid_t np = H5Tcopy(H5T_C_S1); /* numpy bytes: NULLPAD, no room for a NUL */
	H5Tset_size(np, 16);
	H5Tset_strpad(np, H5T_STR_NULLPAD);
	set_attr(p, "/", "parent_id", np, 0, "fedcba9876543210");
	H5Tclose(np);
	CHECKF(model_read(&m, p, &err) == 0, "%s", err.msg);
	CHECK(strcmp(m.dataset, "cifar10") == 0 && m.val_size == 1234 && m.test_accuracy == 0.25f);
	CHECKF(strcmp(m.parent_id, "fedcba9876543210") == 0, "%s", m.parent_id);
	model_free(&m);
	/* "-" reads standard input */
	if (freopen(p, "rb", stdin)) {
		CHECKF(model_read(&m, "-", &err) == 0, "%s", err.msg);
		CHECK(strcmp(m.dataset, "cifar10") == 0);
		model_free(&m);
	}
}

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	int n = 0;
	for (struct dirent *e; d && (e = readdir(d));)
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	if (d)
		closedir(d);
	return n;
}

TEST(failed_writes_leave_nothing)
{
	Model m;
	NashErr err = { 0 };
	char dir[512], p[600];
	make_model(&m, 0);
	path_in_tmp(dir, sizeof dir, "w");
	CHECK(mkdir(dir, 0700) == 0);
	snprintf(p, sizeof p, "%s/missing/m.h5", dir);
	CHECK(model_write(&m, p, &err) == -1);
	CHECKF(strstr(err.msg, "No such file or directory") && strstr(err.msg, p), "%s", err.msg);
	CHECK(count_entries(dir) == 0);
	/* the temp file is created, then rename onto a directory fails: it must be removed */
	snprintf(p, sizeof p, "%s/m.h5", dir);
	CHECK(mkdir(p, 0700) == 0);
	CHECK(model_write(&m, p, &err) == -1);
	CHECKF(strstr(err.msg, p) != NULL, "%s", err.msg);
	CHECK(count_entries(dir) == 1);
	rmdir(p);
	/* an invalid model is refused before anything is written */
	m.g.nodes[2].params[0].data[3] = INFINITY;
	CHECK(model_write(&m, p, &err) == -1);
	CHECKF(strstr(err.msg, "graph/002_bn/gamma") && strstr(err.msg, "Inf"), "%s", err.msg);
	CHECK(count_entries(dir) == 0);
	/* a good write replaces an existing file */
	m.g.nodes[2].params[0].data[3] = 1.0f;
	write_bytes(p, "old");
	CHECKF(model_write(&m, p, &err) == 0, "%s", err.msg);
	CHECK(count_entries(dir) == 1);
	Model r;
	CHECKF(model_read(&r, p, &err) == 0, "%s", err.msg);
	CHECK(models_equal(&m, &r));
	model_free(&r);
	unlink(p);
	rmdir(dir);
	model_free(&m);
}

TEST(validate_clone_and_ids)
{
	Model m, c;
	NashErr err = { 0 };
	make_model(&m, 1);
	CHECKF(model_validate(&m, &err) == 0, "%s", err.msg);
	CHECKF(model_clone(&c, &m, &err) == 0, "%s", err.msg);
	CHECK(models_equal(&m, &c));
	CHECK(c.g.nodes[1].params[0].data != m.g.nodes[1].params[0].data);
	CHECK(c.records != m.records);
	model_set_id(&c, 0xabcULL);
	CHECK(strcmp(c.id, "0000000000000abc") == 0);
	c.std[0] = 0;
	CHECK(model_validate(&c, &err) == -1 && strstr(err.msg, "norm_std"));
	c.std[0] = 1;
	c.dataset[0] = '\0';
	CHECK(model_validate(&c, &err) == -1 && strstr(err.msg, "dataset"));
	snprintf(c.dataset, sizeof c.dataset, "cifar10");
	c.val_size = -1;
	CHECK(model_validate(&c, &err) == -1 && strstr(err.msg, "val_size"));
	c.val_size = 0;
	c.g.nodes[12].params[1].data[0] = NAN;
	CHECK(model_validate(&c, &err) == -1 && strstr(err.msg, "graph/012_dense/bias") && strstr(err.msg, "NaN"));
	c.g.nodes[12].params[1].data[0] = 0;
	CHECKF(model_validate(&c, &err) == 0, "%s", err.msg);
	model_free(&c);
	CHECK(c.g.nodes == NULL && isnan(c.val_accuracy));
	model_free(&m);
}

TEST(read_all_and_atomic_write)
{
	char p[512];
	NashErr err = { 0 };
	void *buf;
	size_t len;
	path_in_tmp(p, sizeof p, "bytes");
	CHECKF(atomic_write(p, "hello", 5, &err) == 0, "%s", err.msg);
	CHECKF(read_all(p, &buf, &len, &err) == 0, "%s", err.msg);
	CHECK(len == 5 && memcmp(buf, "hello", 5) == 0 && ((char *)buf)[5] == '\0');
	free(buf);
	struct stat st;
	mode_t um = umask(0);
	umask(um);
	CHECK(stat(p, &st) == 0 && (st.st_mode & 0777) == (0666 & ~um)); /* not mkstemp's 0600 */
	unlink(p);
	CHECK(read_all(tmpdir, &buf, &len, &err) == -1 && strstr(err.msg, tmpdir));
}

int main(void)
{
	const char *t = getenv("TMPDIR");
	snprintf(tmpdir, sizeof tmpdir, "%s/nash-test-modelfile-XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	RUN(round_trip_is_exact);
	RUN(file_round_trip_and_h5dump);
	RUN(optional_attributes);
	RUN(writing_is_deterministic);
	RUN(runs_table_without_later_fields);
	RUN(recipe_fields);
	RUN(bad_files_are_rejected);
	RUN(format_version_1_lambda);
	RUN(runs_without_placement_are_read);
	RUN(h5py_style_attributes_are_read);
	RUN(failed_writes_leave_nothing);
	RUN(validate_clone_and_ids);
	RUN(read_all_and_atomic_write);
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", tmpdir);
	CHECK_DONE();
}
