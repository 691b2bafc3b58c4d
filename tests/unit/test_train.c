/* Training runs: the learning-rate schedule (warmup, then cosine), the warmup chosen for
   --warmup auto, the collapse test on a network made dead by construction and on a healthy
   one, and training on the validation images too (--train-on all). Datasets are built in
   memory from the fixture generator's images, so every test runs in about a second. */
#include "check.h"
#include "data/data.h"
#include "engine/train.h"
#include "model/init.h"

#include <string.h>

#define GEN_FIXTURES_NO_MAIN
#include "../fixtures/gen_fixtures.c"

/* An in-memory Fashion-MNIST-shaped dataset: n_noise images of noise with random labels,
   then n_signal images of the generator's learnable classes. */
static void make_dataset(Dataset *d, int n_noise, int n_signal)
{
	memset(d, 0, sizeof *d);
	snprintf(d->name, sizeof d->name, "fashion-mnist");
	d->c = 1, d->h = 28, d->w = 28, d->n_classes = 10;
	d->n_train = n_noise + n_signal;
	d->train_x = malloc((size_t)d->n_train * 784); /* [n_train, 1, 28, 28] */
	d->train_y = malloc((size_t)d->n_train);      /* [n_train] */
	uint64_t st = 12345;
	for (int i = 0; i < n_noise; i++) {
		for (int k = 0; k < 784; k++)
			d->train_x[(size_t)i * 784 + k] = (uint8_t)(gen_next(&st) & 0xff);
		d->train_y[i] = (uint8_t)(gen_next(&st) % 10);
	}
	for (int i = 0; i < n_signal; i++)
		d->train_y[n_noise + i] =
			(uint8_t)gen_image(d->train_x + (size_t)(n_noise + i) * 784, 1, 28, 28, 10, GEN_S_FMNIST_TRAIN, i);
}

static void make_model(Model *m, const Dataset *d, int val_size)
{
	NashErr err = {0};
	static const int widths[2] = {4, 8};
	CHECKF(seed_network(m, "fashion-mnist", 1, 28, 28, 10, widths, 2, 7, &err) == 0, "%s", err.msg);
	data_norm_stats(m->mean, m->std, d, 0, d->n_train - val_size);
	m->val_size = val_size;
}

/* Trains m on d; returns train_model's result, err filled. */
static int train(Model *m, const Dataset *d, const TrainOpts *o, NashErr *err)
{
	const Backend *be = backend_find("cpu", err);
	Net net;
	BackendOpts one_thread = BACKEND_OPTS_DEFAULT;
	one_thread.threads = 1;
	if (!be || net_create(&net, be, &one_thread, &m->g, o->batch, m->mean, m->std, err))
		return -2;
	int rc = train_model(m, &net, d, o, NULL, NULL, err);
	net_free(&net);
	return rc;
}

TEST(test_schedule)
{
	/* 10 warmup steps of 100: lr_start (k+1)/10, then the cosine over the 90 steps left */
	CHECK(check_close(schedule_lr(0.05f, 0, 10, 0, 100), 0.005, 1e-9, 1e-6));
	CHECK(check_close(schedule_lr(0.05f, 0, 10, 4, 100), 0.025, 1e-9, 1e-6));
	CHECK(check_close(schedule_lr(0.05f, 0, 10, 9, 100), 0.05, 1e-9, 1e-6));
	CHECK(check_close(schedule_lr(0.05f, 0, 10, 10, 100), 0.05, 1e-9, 1e-6));
	CHECK(check_close(schedule_lr(0.05f, 0, 10, 55, 100), 0.025, 1e-9, 1e-5));
	CHECK(check_close(schedule_lr(0.05f, 0.01f, 10, 100, 100), 0.01, 1e-9, 1e-5));
	CHECK(check_close(schedule_lr(0.05f, 0, 10, 99, 100), 0.05 * 0.5 * (1 + cos(3.14159265358979323846 * 89 / 90)), 1e-9, 1e-5));
	/* no warmup: exactly the cosine */
	for (long k = 0; k < 100; k += 7)
		CHECK(schedule_lr(0.05f, 0.001f, 0, k, 100) == cosine_lr(0.05f, 0.001f, k, 100));
	/* a warmup as long as the run: the ramp only */
	CHECK(check_close(schedule_lr(0.1f, 0, 4, 3, 4), 0.1, 1e-9, 1e-6));
}

TEST(test_warmup_auto)
{
	Model m;
	model_init(&m);
	CHECK(train_warmup_auto(&m) == NASH_WARMUP_FROM_SCRATCH && NASH_WARMUP_FROM_SCRATCH > 0);
	RunSettings r = {.epochs = 3};
	NashErr err = {0};
	model_add_run(&m, &r, &err);
	m.ckpt_epochs_done = 2; /* a checkpoint of the first run: still from scratch, so it resumes */
	CHECK(train_warmup_auto(&m) == NASH_WARMUP_FROM_SCRATCH);
	m.ckpt_epochs_done = 0; /* trained once: a child or a model trained further */
	CHECK(train_warmup_auto(&m) == 0.0f);
	model_add_run(&m, &r, &err);
	m.ckpt_epochs_done = 1;
	CHECK(train_warmup_auto(&m) == 0.0f);
	model_free(&m);
}

/* The warmup as run: the first epoch starts at lr_start / warmup steps, and it is recorded. */
TEST(test_warmup_recorded)
{
	Dataset d;
	Model m;
	NashErr err = {0};
	make_dataset(&d, 0, 600);
	make_model(&m, &d, 100);
	TrainOpts o;
	train_opts_default(&o);
	o.batch = 50, o.epochs = 2, o.augment = 0; /* 10 steps per epoch */
	CHECKF(train(&m, &d, &o, &err) == 0, "%s", err.msg);
	long w = lroundf(NASH_WARMUP_FROM_SCRATCH * 10);
	CHECK(m.n_runs == 1 && m.runs[0].warmup == NASH_WARMUP_FROM_SCRATCH && m.runs[0].images == 500 &&
	      !strcmp(m.runs[0].train_on, "train"));
	CHECK(m.n_records == 2 && check_close(m.records[0].lr, 0.05 / w, 1e-9, 1e-6));
	CHECK(check_close(m.records[1].lr, schedule_lr(0.05f, 0, w, 10, 20), 1e-9, 1e-6));
	/* trained once: auto gives no warmup */
	CHECKF(train(&m, &d, &o, &err) == 0, "%s", err.msg);
	CHECK(m.n_runs == 2 && m.runs[1].warmup == 0.0f && m.records[2].lr == 0.05f);
	/* an explicit warmup longer than the run is refused */
	o.warmup = 2.5f;
	CHECK(train(&m, &d, &o, &err) == -1 && err.code == NASH_ERR_USAGE && strstr(err.msg, "warmup"));
	model_free(&m);
	dataset_free(&d);
}

TEST(test_output_constant)
{
	float p[3][4] = {{0.1f, 0.2f, 0.3f, 0.4f}, {0.1f, 0.2f, 0.3f, 0.4f}, {0.1f, 0.2f, 0.3f, 0.4f}};
	int cls = -1;
	CHECK(train_output_constant(&p[0][0], 3, 4, &cls) == 1 && cls == 3);
	p[2][1] += 0.5f * NASH_COLLAPSE_TOL;
	CHECK(train_output_constant(&p[0][0], 3, 4, &cls) == 1);
	p[2][1] += 2 * NASH_COLLAPSE_TOL;
	CHECK(train_output_constant(&p[0][0], 3, 4, &cls) == 0);
	CHECK(train_output_constant(&p[0][0], 1, 4, &cls) == 0); /* one image says nothing */
}

/* A network made dead by construction: every batch-norm's gamma 0 and beta -1, so every ReLU
   outputs 0 in training and inference and no gradient reaches a weight before the classifier.
   The run must fail as collapsed, marked in the model; the same network left alone must not. */
TEST(test_collapse)
{
	Dataset d;
	Model m;
	NashErr err = {0};
	make_dataset(&d, 0, 600);
	make_model(&m, &d, 100);
	for (int i = 0; i < m.g.n_nodes; i++) {
		Node *n = &m.g.nodes[i];
		if (n->op != OP_BN)
			continue;
		for (int p = 0; p < n->n_params; p++) {
			Tensor *t = &n->params[p];
			float v = !strcmp(t->name, "gamma") ? 0.0f : !strcmp(t->name, "beta") ? -1.0f : NAN;
			for (size_t k = 0; !isnan(v) && k < tensor_size(t); k++)
				t->data[k] = v;
		}
	}
	TrainOpts o;
	train_opts_default(&o);
	o.batch = 50, o.epochs = 3;
	int rc = train(&m, &d, &o, &err);
	CHECKF(rc == -1 && err.code == NASH_ERR_DIVERGED, "rc %d code %d: %s", rc, err.code, err.msg);
	CHECKF(!strncmp(err.msg, "collapsed: after epoch 1 ", 25) && strstr(err.msg, "100 validation images"), "%s",
	       err.msg);
	CHECK(m.failed && !strcmp(m.failure, err.msg));
	CHECK(m.n_records == 1); /* the epoch that showed it is in the record */
	model_free(&m);

	/* healthy: the same seed network, same data, a few epochs */
	make_model(&m, &d, 100);
	nash_err_clear(&err);
	rc = train(&m, &d, &o, &err);
	CHECKF(rc == 0 && !m.failed, "healthy run failed: %s", err.msg);
	CHECK(m.n_records == 3 && m.val_accuracy > 0.2f);
	model_free(&m);

	/* healthy without a validation split: the test looks at training images */
	make_model(&m, &d, 0);
	o.epochs = 1;
	rc = train(&m, &d, &o, &err);
	CHECKF(rc == 0 && !m.failed && isnan(m.val_accuracy), "%s", err.msg);
	model_free(&m);
	dataset_free(&d);
}

/* --train-on all: only the validation images carry a learnable signal (the training split is
   noise with random labels), so the validation accuracy is high only if they were trained on. */
TEST(test_train_on_all)
{
	Dataset d;
	Model m;
	NashErr err = {0};
	make_dataset(&d, 300, 300);
	TrainOpts o;
	train_opts_default(&o);
	o.batch = 30, o.epochs = 6, o.augment = 0;
	float acc[2];
	for (int all = 0; all <= 1; all++) {
		make_model(&m, &d, 300);
		o.train_on_all = all;
		CHECKF(train(&m, &d, &o, &err) == 0, "%s", err.msg);
		CHECK(m.n_runs == 1 && m.runs[0].images == (all ? 600 : 300));
		CHECK(!strcmp(m.runs[0].train_on, all ? "all" : "train") && run_trained_on_val(&m.runs[0]) == all);
		acc[all] = m.val_accuracy;
		model_free(&m);
	}
	printf("# validation accuracy trained on the training split %.3f, on training + validation %.3f\n", acc[0],
	       acc[1]);
	CHECK(acc[0] < 0.3f && acc[1] > 0.6f);
	dataset_free(&d);
}

int main(void)
{
	(void)gen_fixtures; /* only the image generator is used here */
	RUN(test_schedule);
	RUN(test_warmup_auto);
	RUN(test_warmup_recorded);
	RUN(test_output_constant);
	RUN(test_collapse);
	RUN(test_train_on_all);
	CHECK_DONE();
}
