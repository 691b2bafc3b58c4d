/* Training runs: the learning-rate schedule (warmup, then cosine), the warmup chosen for
   --warmup auto, the collapse test on a network made dead by construction and on a healthy
   one, training on the validation images too (--train-on all), the weight average (--ema)
   and test-time augmentation (--tta). Datasets are built in memory from the fixture
   generator's images, so every test runs in about a second. */
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
	BackendOpts one_thread = BACKEND_OPTS_DEFAULT;
	one_thread.threads = 1;
	Net net;
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
	CHECK(NASH_WARMUP_FROM_SCRATCH == 1.0f);
	CHECK(train_warmup_auto(&m, 4) == 1.0f && train_warmup_auto(&m, 2) == 1.0f);
	CHECK(train_warmup_auto(&m, 1) == 0.5f); /* at most half the run */
	RunSettings r = {.epochs = 3};
	NashErr err = {0};
	model_add_run(&m, &r, &err);
	m.ckpt_epochs_done = 2; /* a checkpoint of the first run: still from scratch, so it resumes */
	CHECK(train_warmup_auto(&m, 3) == 1.0f);
	m.ckpt_epochs_done = 0; /* trained once: a child or a model trained further */
	CHECK(train_warmup_auto(&m, 3) == 0.0f);
	model_add_run(&m, &r, &err);
	m.ckpt_epochs_done = 1;
	CHECK(train_warmup_auto(&m, 3) == 0.0f);
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
	long w = 10; /* one epoch */
	CHECK(m.n_runs == 1 && m.runs[0].warmup == 1.0f && m.runs[0].images == 500 &&
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

/* ---- the weight average (--ema) ---- */

TEST(test_ema_decay)
{
	/* min(D, (1+k)/(10+k)): 0.1 at the first update, D once (1+k)/(10+k) passes it */
	CHECK(ema_decay(0.99f, 0) == 0.1f && ema_decay(0.99f, 90) == 0.91f && ema_decay(0.99f, 890) == 0.99f);
	CHECK(ema_decay(0.5f, 0) == 0.1f && ema_decay(0.5f, 8) == 0.5f && ema_decay(0.5f, 100000) == 0.5f);
	CHECK(ema_decay(0.0f, 3) == 0.0f);
}

/* The average of every tensor, running statistics included, on the reference engine (whose
   ema_update rounds the double result once, so the figures below are exact): begun from the
   weights, one update, evaluated by swapping, written to a checkpoint, then adopted. */
TEST(test_net_ema)
{
	Dataset d;
	Model m;
	NashErr err = {0};
	make_dataset(&d, 0, 10);
	make_model(&m, &d, 0);
	Net net;
	CHECKF(net_create(&net, &nash_backend_ref, NULL, &m.g, 4, m.mean, m.std, &err) == 0, "%s", err.msg);
	CHECK(net_ema_begin(&net, 1, &err) == -1 && strstr(err.msg, "no weight average")); /* no checkpoint's */
	nash_err_clear(&err);
	CHECKF(net_ema_begin(&net, 0, &err) == 0, "%s", err.msg);
	Graph g;
	CHECKF(graph_clone(&g, &m.g, &err) == 0, "%s", err.msg);
	/* new weights: old + 1 (running_var stays positive), uploaded where the net keeps them */
	for (int i = 0; i < g.n_nodes; i++)
		for (int p = 0; p < g.nodes[i].n_params; p++) {
			Tensor *t = &g.nodes[i].params[p];
			for (size_t k = 0; k < tensor_size(t); k++)
				t->data[k] += 1.0f;
			net.ctx.be->upload(&net.ctx, net.plan[i].p[p], t->data, tensor_size(t) * sizeof(float));
		}
	net_ema_update(&net, 0.75f);
	long wrong[4] = {0}, n = 0;
	net_ema_swap(&net); /* evaluation sees the average */
	CHECKF(net_store(&net, &g, 0, &err) == 0, "%s", err.msg);
	for (int i = 0; i < g.n_nodes; i++)
		for (int p = 0; p < g.nodes[i].n_params; p++)
			for (size_t k = 0; k < tensor_size(&g.nodes[i].params[p]); k++, n++) {
				float old = m.g.nodes[i].params[p].data[k];
				wrong[0] += g.nodes[i].params[p].data[k] != (float)(0.75 * old + 0.25 * (double)(old + 1.0f));
			}
	net_ema_swap(&net); /* and training the weights */
	CHECKF(net_store(&net, &g, 1, &err) == 0, "%s", err.msg); /* a checkpoint: the average beside them */
	for (int i = 0; i < g.n_nodes; i++)
		for (int p = 0; p < g.nodes[i].n_params; p++) {
			const Tensor *t = &g.nodes[i].params[p];
			for (size_t k = 0; k < tensor_size(t); k++) {
				float old = m.g.nodes[i].params[p].data[k];
				wrong[1] += t->data[k] != old + 1.0f;
				wrong[2] += !t->ema || t->ema[k] != (float)(0.75 * old + 0.25 * (double)(old + 1.0f));
			}
		}
	/* resuming from that checkpoint's average, then adopting it: the net's weights are the average */
	Net again;
	CHECKF(net_create(&again, &nash_backend_ref, NULL, &g, 4, m.mean, m.std, &err) == 0, "%s", err.msg);
	CHECKF(net_ema_begin(&again, 1, &err) == 0, "%s", err.msg);
	net_ema_adopt(&again);
	CHECK(again.ema_params == NULL);
	Graph h;
	CHECKF(graph_clone(&h, &m.g, &err) == 0 && net_store(&again, &h, 0, &err) == 0, "%s", err.msg);
	for (int i = 0; i < h.n_nodes; i++)
		for (int p = 0; p < h.nodes[i].n_params; p++)
			for (size_t k = 0; k < tensor_size(&h.nodes[i].params[p]); k++)
				wrong[3] += h.nodes[i].params[p].data[k] != g.nodes[i].params[p].ema[k];
	CHECKF(!wrong[0] && !wrong[1] && !wrong[2] && !wrong[3], "of %ld values wrong: %ld %ld %ld %ld", n, wrong[0],
	       wrong[1], wrong[2], wrong[3]);
	net_free(&again);
	net_free(&net);
	graph_free(&h);
	graph_free(&g);
	model_free(&m);
	dataset_free(&d);
}

/* A run with the recipe: recorded; with --ema the model keeps the average (other weights than
   the same run without it), and the validation accuracy recorded is the kept model's. */
TEST(test_train_ema_recorded)
{
	Dataset d;
	Model m, plain;
	NashErr err = {0};
	make_dataset(&d, 0, 300);
	make_model(&m, &d, 100);
	make_model(&plain, &d, 100);
	TrainOpts o;
	train_opts_default(&o);
	o.batch = 50, o.epochs = 2, o.augment = 0, o.label_smoothing = 0.1f, o.tta = TTA_FLIP;
	CHECKF(train(&plain, &d, &o, &err) == 0, "%s", err.msg);
	o.ema = 0.9f;
	CHECKF(train(&m, &d, &o, &err) == 0, "%s", err.msg);
	CHECK(m.n_runs == 1 && m.runs[0].ema == 0.9f && m.runs[0].label_smoothing == 0.1f &&
	      !strcmp(m.runs[0].tta, "flip") && m.val_tta == TTA_FLIP && plain.runs[0].ema == 0.0f);
	CHECK(m.g.nodes[1].params[0].ema == NULL && m.g.nodes[1].params[0].momentum == NULL);
	CHECK(m.val_accuracy > 0.2f);
	CHECK(memcmp(m.g.nodes[1].params[0].data, plain.g.nodes[1].params[0].data, 4 * sizeof(float)) != 0);
	Net net;
	EvalSet val;
	double loss, acc;
	CHECKF(net_create(&net, &nash_backend_ref, NULL, &m.g, o.batch, m.mean, m.std, &err) == 0 &&
		       eval_set(&val, &d, 0, m.val_size, &err) == 0 &&
		       evaluate_on(&net, &val, TTA_FLIP, &loss, &acc, NULL, &err) == 0,
	       "%s", err.msg);
	printf("# validation accuracy recorded %.4f, of the model kept %.4f (without --ema %.4f)\n", m.val_accuracy, acc,
	       plain.val_accuracy);
	CHECK(fabs(acc - m.val_accuracy) <= 1.0 / 100 + 1e-6); /* another engine: one image may differ */
	net_free(&net);
	model_free(&plain);
	model_free(&m);
	dataset_free(&d);
}

/* ---- test-time augmentation (--tta) ---- */

/* Image i of d in view (dy, dx, flip), built on the host as ref_make_batch builds it:
   out(y, x) = in(y + dy, (flip ? w-1-x : x) + dx), 0 outside the image. With the model's
   normalisation mean 0, a pixel 0 is what the views' padding is. */
static void view_image(uint8_t *out, const uint8_t *in, int h, int w, int dy, int dx, int flip)
{
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++) {
			int sy = y + dy, sx = (flip ? w - 1 - x : x) + dx;
			out[y * w + x] = sy < 0 || sy >= h || sx < 0 || sx >= w ? 0 : in[sy * w + sx];
		}
}

/* TTA on the fixture generator's images, whose classes are not mirror-symmetric, against the
   views built by hand and evaluated without TTA: the probabilities are the views' weighted
   mean (flip: 1/2, 1/2; flip-shift: 1/4, 1/4 and 1/8 for each shifted view), the accuracy
   that mean's, the loss -log of its probability of the label; and the flip matters. */
TEST(test_tta)
{
	enum { N = 40, V = 6, K = 10 };
	static const int8_t views[V][3] = {{0, 0, 0}, {0, 0, 1}, {-1, -1, 0}, {-1, -1, 1}, {1, 1, 0}, {1, 1, 1}};
	static const double w_flip[V] = {0.5, 0.5, 0, 0, 0, 0}, w_shift[V] = {0.25, 0.25, 0.125, 0.125, 0.125, 0.125};
	Dataset src, d;
	Model m;
	NashErr err = {0};
	make_dataset(&src, 0, N);
	make_dataset(&d, 0, N * V); /* view v of image i at v*N + i */
	for (int v = 0; v < V; v++)
		for (int i = 0; i < N; i++) {
			view_image(d.train_x + (size_t)(v * N + i) * 784, src.train_x + (size_t)i * 784, 28, 28, views[v][0],
				   views[v][1], views[v][2]);
			d.train_y[v * N + i] = src.train_y[i];
		}
	make_model(&m, &src, 0);
	m.mean[0] = 0.0f, m.std[0] = 0.5f;
	/* a little training, so that the network has learned the classes' orientations */
	TrainOpts o;
	train_opts_default(&o);
	o.batch = 20, o.epochs = 1, o.augment = 0;
	CHECKF(train(&m, &src, &o, &err) == 0, "%s", err.msg);
	Net net;
	BackendOpts one_thread = BACKEND_OPTS_DEFAULT;
	one_thread.threads = 1;
	CHECKF(net_create(&net, backend_find("cpu", &err), &one_thread, &m.g, 16, m.mean, m.std, &err) == 0, "%s",
	       err.msg);
	EvalSet all = {.x = d.train_x, .y = d.train_y, .n = d.n_train, .begin = 0, .count = d.n_train};
	EvalSet orig = all;
	orig.count = N;
	static float p_views[N * V * K], p_tta[N * K];
	double loss, acc;
	CHECKF(evaluate_on(&net, &all, TTA_NONE, &loss, &acc, p_views, &err) == 0, "%s", err.msg);
	double flip_changes = 0;
	for (int t = 0; t < 2; t++) {
		const double *wt = t ? w_shift : w_flip;
		CHECKF(evaluate_on(&net, &orig, t ? TTA_FLIP_SHIFT : TTA_FLIP, &loss, &acc, p_tta, &err) == 0, "%s", err.msg);
		double worst = 0, want_loss = 0;
		int correct = 0;
		for (int i = 0; i < N; i++) {
			double mean[K] = {0};
			int arg = 0;
			for (int k = 0; k < K; k++) {
				for (int v = 0; v < V; v++)
					mean[k] += wt[v] * p_views[(size_t)(v * N + i) * K + k];
				worst = fmax(worst, fabs(mean[k] - p_tta[(size_t)i * K + k]));
				arg = mean[k] > mean[arg] ? k : arg;
				if (!t)
					flip_changes = fmax(flip_changes, fabs(mean[k] - p_views[(size_t)i * K + k]));
			}
			correct += arg == src.train_y[i];
			want_loss -= log(mean[src.train_y[i]]);
		}
		printf("# %s: largest difference %.3g from the views' mean; accuracy %.3f (the views' mean %.3f)\n",
		       t ? "flip-shift" : "flip", worst, acc, (double)correct / N);
		CHECK(worst < 1e-5);
		CHECK(check_close(loss, want_loss / N, 1e-4, 1e-4) && fabs(acc - (double)correct / N) <= 1.0 / N);
	}
	printf("# the flip moves a probability by up to %.3f\n", flip_changes);
	CHECK(flip_changes > 0.01);
	net_free(&net);
	model_free(&m);
	dataset_free(&src);
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
	RUN(test_ema_decay);
	RUN(test_net_ema);
	RUN(test_train_ema_recorded);
	RUN(test_tta);
	CHECK_DONE();
}
