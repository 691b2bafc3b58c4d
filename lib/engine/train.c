#include "engine/train.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void train_opts_default(TrainOpts *o)
{
	memset(o, 0, sizeof *o);
	o->epochs = 1;
	o->batch = 128;
	o->augment = 1;
	o->lr_start = 0.05f;
	o->lr_end = 0.0f;
	o->momentum = 0.9f;
	o->weight_decay = 5e-4f;
	o->nesterov = 1;
	o->seed = 1;
	o->engine = "cpu";
	o->warmup = NASH_WARMUP_AUTO;
}

float cosine_lr(float lr_start, float lr_end, long k, long total)
{
	if (total <= 0)
		return lr_start;
	return lr_end + (lr_start - lr_end) * 0.5f * (1.0f + (float)cos(3.14159265358979323846 * (double)k / (double)total));
}

float schedule_lr(float lr_start, float lr_end, long warmup, long k, long total)
{
	if (k < warmup)
		return lr_start * (float)(k + 1) / (float)warmup;
	return cosine_lr(lr_start, lr_end, k - warmup, total - warmup);
}

float train_warmup_auto(const Model *m, int epochs)
{
	int finished = m->n_runs - (m->ckpt_epochs_done > 0); /* a checkpoint's last run is unfinished */
	float half = 0.5f * (float)epochs;
	return finished > 0 ? 0.0f : NASH_WARMUP_FROM_SCRATCH < half ? NASH_WARMUP_FROM_SCRATCH : half;
}

float ema_decay(float D, long k)
{
	float warm = (float)(1 + k) / (float)(10 + k);
	return warm < D ? warm : D;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- evaluation ---- */

/* evaluate with test-time augmentation: every batch once per view, the views' softmax outputs
   averaged on the host (in double). The loss, -log of the mean's probability of the label, is
   taken as a log-sum-exp over the views' log-probabilities, so that a confident wrong view
   cannot underflow it to infinity where the plain loss is finite. */
static int evaluate_tta(Net *net, const DeviceSet *set, int begin, int count, Tta tta, double *loss, double *acc,
			float *probs, NashErr *err)
{
	TtaView views[TTA_MAX_VIEWS];
	int nv = tta_views(tta, views), B = net->batch, K = net->g->n_classes;
	Sample *s = malloc((size_t)B * sizeof *s);                /* [B] */
	float *logits = malloc((size_t)B * K * sizeof *logits);   /* [B, K] one view's */
	double *mix = malloc((size_t)B * K * sizeof *mix);        /* [B, K] weighted mean of the softmax */
	double *lp = malloc((size_t)B * nv * sizeof *lp);         /* [B, nv] log(weight * p(label)) */
	int32_t *y = malloc((size_t)B * sizeof *y);               /* [B] */
	double l, a, loss_sum = 0;
	long c, correct = 0;
	int rc = 0;
	if (!s || !logits || !mix || !lp || !y)
		rc = nash_err(err, NASH_ERR_OOM, "out of memory");
	if (rc == 0)
		rc = net_take_stats(net, &l, &a, &c, err); /* clears what training left */
	for (int b = 0; rc == 0 && b < count; b += B) {
		int n = count - b < B ? count - b : B;
		memset(mix, 0, (size_t)n * K * sizeof *mix);
		for (int v = 0; v < nv; v++) {
			for (int i = 0; i < n; i++)
				s[i] = (Sample){.index = begin + b + i, .dy = views[v].dy, .dx = views[v].dx,
						.flip = views[v].flip};
			net_eval_batch(net, set, s, n);
			net_read_logits(net, logits, n);
			if (v == 0)
				net_read_labels(net, y, n);
			for (int i = 0; i < n; i++) {
				const float *z = logits + (size_t)i * K;
				double mx = z[0], sum = 0;
				for (int k = 1; k < K; k++)
					mx = z[k] > mx ? z[k] : mx;
				for (int k = 0; k < K; k++)
					sum += exp((double)z[k] - mx);
				double lse = mx + log(sum);
				for (int k = 0; k < K; k++)
					mix[(size_t)i * K + k] += views[v].weight * exp((double)z[k] - lse);
				int valid = y[i] >= 0 && y[i] < K;
				lp[(size_t)i * nv + v] = valid ? log(views[v].weight) + z[valid ? y[i] : 0] - lse : NAN;
			}
		}
		for (int i = 0; i < n; i++) {
			const double *p = mix + (size_t)i * K, *q = lp + (size_t)i * nv;
			int arg = 0;
			for (int k = 1; k < K; k++)
				arg = p[k] > p[arg] ? k : arg; /* the first maximum wins, as softmax_xent */
			correct += arg == y[i];
			double mq = q[0], sq = 0;
			for (int v = 1; v < nv; v++)
				mq = q[v] > mq ? q[v] : mq;
			for (int v = 0; v < nv; v++)
				sq += exp(q[v] - mq);
			loss_sum -= mq + log(sq); /* NaN for a label outside the classes, as softmax_xent */
			for (int k = 0; probs && k < K; k++)
				probs[(size_t)(b + i) * K + k] = (float)p[k];
		}
	}
	/* waits, reports deferred errors, and drops the views' own (unaveraged) figures */
	if (rc == 0)
		rc = net_take_stats(net, &l, &a, &c, err);
	if (rc == 0) {
		*loss = loss_sum / count;
		*acc = (double)correct / count;
	}
	free(s);
	free(logits);
	free(mix);
	free(lp);
	free(y);
	return rc;
}

int evaluate(Net *net, const DeviceSet *set, int begin, int count, Tta tta, double *loss, double *acc,
	     float *probs, NashErr *err)
{
	if (tta != TTA_NONE)
		return evaluate_tta(net, set, begin, count, tta, loss, acc, probs, err);
	Sample *s = malloc((size_t)net->batch * sizeof *s);
	float *logits = probs ? malloc((size_t)net->batch * net->g->n_classes * sizeof *logits) : NULL;
	if (!s || (probs && !logits)) {
		free(s);
		free(logits);
		return nash_err(err, NASH_ERR_OOM, "out of memory");
	}
	double l = 0, a = 0;
	long c = 0;
	if (net_take_stats(net, &l, &a, &c, err)) /* clears what training left */
		goto fail;
	int K = net->g->n_classes;
	for (int b = 0; b < count; b += net->batch) {
		int n = count - b < net->batch ? count - b : net->batch;
		for (int i = 0; i < n; i++)
			s[i] = (Sample){.index = begin + b + i};
		net_eval_batch(net, set, s, n);
		if (probs) {
			net_read_logits(net, logits, n);
			for (int i = 0; i < n; i++) {
				const float *z = logits + (size_t)i * K;
				float *p = probs + (size_t)(b + i) * K, mx = z[0];
				double sum = 0;
				for (int k = 1; k < K; k++)
					mx = z[k] > mx ? z[k] : mx;
				for (int k = 0; k < K; k++)
					sum += (p[k] = expf(z[k] - mx));
				for (int k = 0; k < K; k++)
					p[k] = (float)(p[k] / sum);
			}
		}
	}
	if (net_take_stats(net, loss, acc, &c, err))
		goto fail;
	free(s);
	free(logits);
	return 0;
fail:
	free(s);
	free(logits);
	return -1;
}

int eval_set(EvalSet *s, const Dataset *d, int on_test, int val_size, NashErr *err)
{
	memset(s, 0, sizeof *s);
	if (on_test) {
		if (d->n_test < 1)
			return nash_err(err, NASH_ERR_RUNTIME, "%s: no test images loaded", d->name);
		*s = (EvalSet){.x = d->test_x, .y = d->test_y, .n = d->n_test, .begin = 0, .count = d->n_test};
		return 0;
	}
	Split sp;
	if (data_split(&sp, d, val_size, 0, err))
		return -1;
	if (sp.val_count < 1)
		return nash_err(err, NASH_ERR_RUNTIME,
				"the model holds out no validation images (val_size 0): nothing to evaluate");
	*s = (EvalSet){.x = d->train_x, .y = d->train_y, .n = d->n_train, .begin = sp.val_begin, .count = sp.val_count};
	return 0;
}

int evaluate_on(Net *net, const EvalSet *s, Tta tta, double *loss, double *acc, float *probs, NashErr *err)
{
	DeviceSet set;
	if (net_upload_set(net, &set, s->x, s->y, s->n, err))
		return -1;
	int rc = evaluate(net, &set, s->begin, s->count, tta, loss, acc, probs, err);
	net_free_set(net, &set);
	return rc;
}

/* ---- collapse ---- */

int train_output_constant(const float *probs, int n, int K, int *cls)
{
	int first = 0;
	for (int k = 1; k < K; k++)
		first = probs[k] > probs[first] ? k : first;
	*cls = first;
	for (int i = 1; i < n; i++) {
		const float *p = probs + (size_t)i * K;
		for (int k = 0; k < K; k++)
			if (fabsf(p[k] - probs[k]) > NASH_COLLAPSE_TOL)
				return 0;
	}
	return n > 1;
}

/* ---- one run ---- */

/* What a run works with; one per train_model call. */
typedef struct Run {
	Model *m;
	Net *net;
	const Dataset *d;
	const TrainOpts *o;
	int run;            /* index of this run in m->runs */
	int first_epoch;    /* > 1 when resuming a checkpoint */
	Split sp;
	int n_images;       /* trained on per epoch: the training split, plus the validation split with train_on_all */
	int steps;          /* per epoch; the last partial batch is dropped, as PyTorch's drop_last */
	long total, warmup; /* steps in the run, of them warming up */
	int pad;
	DeviceSet set;      /* the whole training set (validation split included) */
	int32_t *order;     /* [n_images] indices into the training set, shuffled per epoch */
	Sample *samples;    /* [batch] */
	float *probs;       /* [check_count, classes] for the collapse test */
	int check_begin, check_count; /* images the collapse test looks at */
	double check_loss, check_acc; /* their figures after the last epoch */
	float warmup_epochs;          /* as given, or as chosen for --warmup auto */
	double t_run, train_s; /* train_s: time in training steps, evaluation excluded */
	long images_done;
} Run;

/* Where the run ran: set when it starts and again when it resumes, so that a run cut short and
   resumed elsewhere records where it finished. */
static void record_place(RunSettings *r, const TrainOpts *o)
{
	snprintf(r->host, sizeof r->host, "%s", o->host ? o->host : "");
	snprintf(r->hardware, sizeof r->hardware, "%s", o->hardware ? o->hardware : "");
	snprintf(r->job, sizeof r->job, "%s", o->job ? o->job : "");
}

/* A checkpoint's key: the settings of its run that a resumed run must share (the recipe's
   among them: a checkpoint of one recipe does not go on under another). */
static int same_run(const RunSettings *r, const TrainOpts *o, float warmup)
{
	return r->seed == o->seed && r->batch == o->batch && r->epochs == o->epochs && r->limit == o->limit &&
	       r->augment == o->augment && r->lr_start == o->lr_start && r->lr_end == o->lr_end &&
	       r->warmup == warmup && !strcmp(r->train_on, o->train_on_all ? "all" : "train") &&
	       r->momentum == o->momentum && r->weight_decay == o->weight_decay &&
	       r->label_smoothing == o->label_smoothing && r->ema == o->ema &&
	       !strncmp(r->tta, tta_name(o->tta), sizeof r->tta);
}

/* The images of the run: the split, how many are trained on per epoch, steps and warmup. */
static int run_plan(Run *r, NashErr *err)
{
	const TrainOpts *o = r->o;
	if (data_split(&r->sp, r->d, r->m->val_size, o->limit, err))
		return -1;
	r->n_images = r->sp.train_count + (o->train_on_all ? r->sp.val_count : 0);
	if (r->n_images < o->batch)
		return nash_err(err, NASH_ERR_USAGE, "only %d training images, fewer than one batch of %d",
				r->n_images, o->batch);
	r->steps = r->n_images / o->batch;
	r->total = (long)r->steps * o->epochs;
	float w = o->warmup < 0 ? train_warmup_auto(r->m, o->epochs) : o->warmup;
	if (w > o->epochs)
		return nash_err(err, NASH_ERR_USAGE, "a warmup of %g epochs is longer than the run's %d", w, o->epochs);
	r->warmup_epochs = w;
	r->warmup = lroundf(w * (float)r->steps);
	r->pad = data_crop_pad(r->d->h);
	/* The collapse test looks at the validation images, or at most 1024 training ones. */
	r->check_begin = r->sp.val_count > 0 ? r->sp.val_begin : r->sp.train_begin;
	r->check_count = r->sp.val_count > 0 ? r->sp.val_count : (r->sp.train_count < 1024 ? r->sp.train_count : 1024);
	return 0;
}

/* Resumes the checkpoint's unfinished run when its settings are this run's, else appends a
   new run (SGDR: with a fresh optimizer). */
static int run_begin(Run *r, NashErr *err)
{
	Model *m = r->m;
	const TrainOpts *o = r->o;
	float w = r->warmup_epochs;
	r->first_epoch = 1;
	/* a model made in memory has not been through the file reader's check */
	if (model_check_checkpoint(m, err))
		return -1;
	int resume = m->ckpt_epochs_done > 0 && same_run(&m->runs[m->n_runs - 1], o, w);
	if (resume) {
		r->first_epoch = m->ckpt_epochs_done + 1; /* weights and momentum came from the file */
		record_place(&m->runs[m->n_runs - 1], o);
	} else {
		RunSettings rs = {.seed = o->seed, .batch = o->batch, .epochs = o->epochs, .limit = o->limit,
				  .augment = o->augment, .lr_start = o->lr_start, .lr_end = o->lr_end,
				  .momentum = o->momentum, .weight_decay = o->weight_decay, .warmup = w,
				  .images = r->n_images, .label_smoothing = o->label_smoothing, .ema = o->ema};
		snprintf(rs.engine, sizeof rs.engine, "%s", o->engine ? o->engine : "");
		snprintf(rs.train_on, sizeof rs.train_on, "%s", o->train_on_all ? "all" : "train");
		snprintf(rs.tta, sizeof rs.tta, "%s", tta_name(o->tta));
		record_place(&rs, o);
		if (model_add_run(m, &rs, err))
			return -1;
		r->net->ctx.be->zero(&r->net->ctx, r->net->velocity, r->net->n_params * sizeof(float));
	}
	r->run = m->n_runs - 1;
	/* the average starts from the weights, or goes on from the checkpoint's */
	return o->ema > 0 ? net_ema_begin(r->net, resume, err) : 0;
}

static int run_alloc(Run *r, NashErr *err)
{
	if (net_upload_set(r->net, &r->set, r->d->train_x, r->d->train_y, r->d->n_train, err))
		return -1;
	r->order = malloc((size_t)r->n_images * sizeof *r->order);
	r->samples = malloc((size_t)r->o->batch * sizeof *r->samples);
	r->probs = malloc((size_t)r->check_count * r->d->n_classes * sizeof *r->probs);
	if (!r->order || !r->samples || !r->probs)
		return nash_err(err, NASH_ERR_OOM, "out of memory");
	return 0;
}

static void run_free(Run *r)
{
	net_free_set(r->net, &r->set);
	free(r->order);
	free(r->samples);
	free(r->probs);
}

/* Epoch e's order: the run's images (training split, then the validation split when trained
   on), shuffled by stream (seed, e); rng continues into the batches' augmentation. */
static void shuffle_epoch(Run *r, int e, Rng *rng)
{
	rng_seed3(rng, r->o->seed, (uint64_t)e, 0);
	for (int i = 0; i < r->sp.train_count; i++)
		r->order[i] = r->sp.train_begin + i;
	for (int i = r->sp.train_count; i < r->n_images; i++)
		r->order[i] = r->sp.val_begin + (i - r->sp.train_count);
	for (int i = r->n_images - 1; i > 0; i--) {
		int j = (int)rng_below(rng, (uint32_t)i + 1);
		int32_t t = r->order[i];
		r->order[i] = r->order[j];
		r->order[j] = t;
	}
}

/* Marks m failed with the reason, which is also the error (exit 4 in the tools). */
static int fail_as(Model *m, NashErr *err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail_as(Model *m, NashErr *err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(m->failure, sizeof m->failure, fmt, ap);
	va_end(ap);
	m->failed = 1;
	return nash_err(err, NASH_ERR_DIVERGED, "%s", m->failure);
}

/* The training steps of epoch e; *loss and *acc: their means over the epoch. */
static int train_epoch(Run *r, int e, TrainCallback cb, void *cb_arg, double *loss, double *acc, NashErr *err)
{
	const TrainOpts *o = r->o;
	Rng rng;
	shuffle_epoch(r, e, &rng);
	double t0 = now_s(), last_report = t0, l = 0, a = 0;
	long seen = 0;
	for (int s = 0; s < r->steps; s++) {
		long k = (long)(e - 1) * r->steps + s;
		Optim opt = {.lr = schedule_lr(o->lr_start, o->lr_end, r->warmup, k, r->total),
			     .momentum = o->momentum, .weight_decay = o->weight_decay, .nesterov = o->nesterov,
			     .label_smoothing = o->label_smoothing};
		data_plan_batch(r->samples, r->order + (size_t)s * o->batch, o->batch, r->pad, o->augment, &rng);
		net_train_step(r->net, &r->set, r->samples, o->batch, &opt);
		if (o->ema > 0)
			net_ema_update(r->net, ema_decay(o->ema, k));
		double t = now_s();
		int last = s == r->steps - 1;
		if (t - last_report < 0.5 && !last)
			continue;
		/* The sums run over the whole epoch, only looked at mid-way: were they cleared at each
		   look, where the clock put the looks would split the float sums, and two equal runs
		   would record different losses. */
		if ((last ? net_take_stats : net_peek_stats)(r->net, &l, &a, &seen, err))
			return -1;
		if (!isfinite(l))
			return fail_as(r->m, err, "loss diverged (%g) in epoch %d, step %d", l, e, s + 1);
		last_report = t;
		if (cb && !last) {
			double ts = r->train_s + (t - t0), rate = (r->images_done + seen) / (ts > 0 ? ts : 1e-9);
			long left = ((long)(o->epochs - e) * r->steps + (r->steps - s - 1)) * o->batch;
			TrainProgress p = {.epoch = e, .epochs = o->epochs, .step = s + 1, .steps = r->steps,
					   .loss = l, .acc = a, .images_per_s = rate,
					   .elapsed_s = t - r->t_run, .eta_s = left / (rate > 0 ? rate : 1e-9)};
			cb(&p, cb_arg);
		}
	}
	r->images_done += seen;
	r->train_s += now_s() - t0;
	*loss = l;
	*acc = a;
	return 0;
}

/* After epoch e: evaluates the images the collapse test looks at (the validation split when
   there is one: then *vl, *va are its figures, else NaN). */
static int check_epoch(Run *r, int e, double *vl, double *va, NashErr *err)
{
	*vl = *va = NAN;
	if (r->o->ema > 0) /* the average is what is evaluated (and kept) */
		net_ema_swap(r->net);
	int rc = evaluate(r->net, &r->set, r->check_begin, r->check_count, r->o->tta, &r->check_loss, &r->check_acc,
			  r->probs, err);
	if (r->o->ema > 0)
		net_ema_swap(r->net);
	if (rc)
		return -1;
	if (r->sp.val_count > 0) {
		*vl = r->check_loss, *va = r->check_acc;
		if (!isfinite(*vl))
			return fail_as(r->m, err, "validation loss diverged (%g) after epoch %d", *vl, e);
	}
	return 0;
}

/* The collapse test: a network whose output is the same for every image it looks at has no
   path from input to output left (every ReLU on it dead), scores chance and cannot learn
   again (no gradient reaches the weights before the dead layer). A learning network, even a
   poor one, gives different images different outputs, so this cannot fire on it. */
static int check_collapse(Run *r, int e, NashErr *err)
{
	int cls, K = r->d->n_classes;
	if (!train_output_constant(r->probs, r->check_count, K, &cls))
		return 0;
	return fail_as(r->m, err,
		       "collapsed: after epoch %d the network gives all %d %s images the same output (class %d, "
		       "probabilities equal within %g: every ReLU dead); accuracy %.4f, loss %.4f (chance %.4f, "
		       "ln %d = %.4f)",
		       e, r->check_count, r->sp.val_count > 0 ? "validation" : "training", cls, NASH_COLLAPSE_TOL,
		       r->check_acc, r->check_loss, 1.0 / K, K, log((double)K));
}

/* Copies the net's weights (and momentum when asked) into m, through a copy first: weights that
   overflowed (a batch-norm variance gone to Inf can still give finite losses) make the run
   diverged, and m keeps its last good weights. */
static int store_checked(Model *m, Net *net, int momentum, int run, NashErr *err)
{
	Graph trained;
	if (graph_clone(&trained, &m->g, err))
		return -1;
	if (net_store(net, &trained, momentum, err)) {
		graph_free(&trained);
		return -1;
	}
	if (!graph_finite(&trained)) {
		graph_free(&trained);
		return fail_as(m, err, "weights overflowed to NaN or Inf in run %d", run + 1);
	}
	graph_free(&m->g);
	m->g = trained; /* same shapes: net->g, which points at m->g, stays valid */
	return 0;
}

static int checkpoint(Run *r, int e, NashErr *err)
{
	if (store_checked(r->m, r->net, 1, r->run, err))
		return -1;
	r->m->ckpt_epochs_done = e;
	return model_write(r->m, r->o->checkpoint, err);
}

int train_model(Model *m, Net *net, const Dataset *d, const TrainOpts *o, TrainCallback cb, void *cb_arg,
		NashErr *err)
{
	Run r = {.m = m, .net = net, .d = d, .o = o};
	if (run_plan(&r, err) || run_begin(&r, err))
		return -1;
	int rc = run_alloc(&r, err);
	r.t_run = now_s();
	for (int e = r.first_epoch; rc == 0 && e <= o->epochs; e++) {
		double t0 = now_s(), tl = NAN, ta = NAN, vl = NAN, va = NAN;
		float lr0 = schedule_lr(o->lr_start, o->lr_end, r.warmup, (long)(e - 1) * r.steps, r.total);
		float lr_last = lr0, lr_peak = lr0;
		for (long k = (long)(e - 1) * r.steps; k < (long)e * r.steps; k++) {
			lr_last = schedule_lr(o->lr_start, o->lr_end, r.warmup, k, r.total);
			lr_peak = lr_last > lr_peak ? lr_last : lr_peak;
		}
		rc = train_epoch(&r, e, cb, cb_arg, &tl, &ta, err);
		rc = rc ? rc : check_epoch(&r, e, &vl, &va, err);
		EpochRecord rec = {.run = r.run, .epoch = e, .lr = lr0, .train_loss = (float)tl, .train_acc = (float)ta,
				   .val_loss = (float)vl, .val_acc = (float)va, .seconds = (float)(now_s() - t0)};
		rc = rc ? rc : model_add_record(m, &rec, err);
		if (rc == 0) {
			m->val_accuracy = (float)va;
			m->val_tta = o->tta;
		}
		rc = rc ? rc : check_collapse(&r, e, err); /* after the record: the file shows the epoch */
		if (rc)
			break;
		if (o->checkpoint && e < o->epochs && (rc = checkpoint(&r, e, err)))
			break;
		if (cb) {
			double rate = r.images_done / (r.train_s > 0 ? r.train_s : 1e-9);
			TrainProgress p = {.epoch = e, .epochs = o->epochs, .step = r.steps, .steps = r.steps,
					   .loss = rec.train_loss, .acc = rec.train_acc, .images_per_s = rate,
					   .elapsed_s = now_s() - r.t_run,
					   .eta_s = (double)(o->epochs - e) * r.steps * o->batch / rate, .epoch_done = 1,
					   .rec = &rec, .lr_last = lr_last, .lr_peak = lr_peak};
			cb(&p, cb_arg);
		}
	}
	if (rc == 0) {
		model_drop_optimizer(m);
		if (o->ema > 0) /* the model keeps the average, and so does the net for what follows */
			net_ema_adopt(net);
		rc = store_checked(m, net, 0, r.run, err);
	}
	run_free(&r);
	return rc;
}
