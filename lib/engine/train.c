#include "engine/train.h"

#include <math.h>
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
	o->device = "cpu";
}

float cosine_lr(float lr_start, float lr_end, long k, long total)
{
	if (total <= 0)
		return lr_start;
	return lr_end + (lr_start - lr_end) * 0.5f * (1.0f + (float)cos(3.14159265358979323846 * (double)k / (double)total));
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int evaluate(Net *net, const DeviceSet *set, int begin, int count, double *loss, double *acc, float *probs,
	     NashErr *err)
{
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

/* Where the run ran: set when it starts and again when it resumes, so that a run cut short and
   resumed elsewhere records where it finished. */
static void record_place(RunSettings *r, const TrainOpts *o)
{
	snprintf(r->host, sizeof r->host, "%s", o->host ? o->host : "");
	snprintf(r->device_name, sizeof r->device_name, "%s", o->device_name ? o->device_name : "");
	snprintf(r->job, sizeof r->job, "%s", o->job ? o->job : "");
}

static int same_run(const RunSettings *r, const TrainOpts *o)
{
	return r->seed == o->seed && r->batch == o->batch && r->epochs == o->epochs && r->limit == o->limit &&
	       r->augment == o->augment && r->lr_start == o->lr_start && r->lr_end == o->lr_end;
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
		m->failed = 1;
		snprintf(m->failure, sizeof m->failure, "weights overflowed to NaN or Inf in run %d", run + 1);
		return nash_err(err, NASH_ERR_DIVERGED, "%s", m->failure);
	}
	graph_free(&m->g);
	m->g = trained; /* same shapes: net->g, which points at m->g, stays valid */
	return 0;
}

int train_model(Model *m, Net *net, const Dataset *d, const TrainOpts *o, TrainCallback cb, void *cb_arg,
		NashErr *err)
{
	Split sp;
	if (data_split(&sp, d, m->val_size, o->limit, err))
		return -1;
	if (sp.train_count < o->batch)
		return nash_err(err, NASH_ERR_USAGE, "only %d training images, fewer than one batch of %d",
				sp.train_count, o->batch);
	int first_epoch = 1;
	if (m->ckpt_epochs_done > 0 && m->n_runs > 0 && same_run(&m->runs[m->n_runs - 1], o)) {
		first_epoch = m->ckpt_epochs_done + 1; /* resume: weights and momentum came from the file */
		record_place(&m->runs[m->n_runs - 1], o);
	} else {
		RunSettings r = {.seed = o->seed, .batch = o->batch, .epochs = o->epochs, .limit = o->limit,
				 .augment = o->augment, .lr_start = o->lr_start, .lr_end = o->lr_end,
				 .momentum = o->momentum, .weight_decay = o->weight_decay};
		snprintf(r.device, sizeof r.device, "%s", o->device ? o->device : "");
		record_place(&r, o);
		if (model_add_run(m, &r, err))
			return -1;
		/* SGDR: every run starts with a fresh optimizer. */
		net->ctx.be->zero(&net->ctx, net->velocity, net->n_params * sizeof(float));
	}
	int run = m->n_runs - 1;
	DeviceSet set;
	if (net_upload_set(net, &set, d->train_x, d->train_y, d->n_train, err))
		return -1;
	int32_t *order = malloc((size_t)sp.train_count * sizeof *order);
	Sample *samples = malloc((size_t)o->batch * sizeof *samples);
	if (!order || !samples) {
		nash_err(err, NASH_ERR_OOM, "out of memory");
		goto fail;
	}
	int steps = sp.train_count / o->batch; /* the last partial batch is dropped, as PyTorch's drop_last */
	long total = (long)steps * o->epochs;
	int pad = data_crop_pad(d->h);
	double t_run = now_s(), train_s = 0; /* train_s: time in training steps, evaluation excluded */
	long images_done = 0;
	for (int e = first_epoch; e <= o->epochs; e++) {
		Rng rng;
		rng_seed3(&rng, o->seed, (uint64_t)e, 0);
		for (int i = 0; i < sp.train_count; i++)
			order[i] = sp.train_begin + i;
		for (int i = sp.train_count - 1; i > 0; i--) {
			int j = (int)rng_below(&rng, (uint32_t)i + 1);
			int32_t t = order[i];
			order[i] = order[j];
			order[j] = t;
		}
		double t0 = now_s(), last_report = t0, loss_sum = 0, acc_sum = 0;
		long seen = 0;
		float lr0 = cosine_lr(o->lr_start, o->lr_end, (long)(e - 1) * steps, total);
		for (int s = 0; s < steps; s++) {
			Optim opt = {.lr = cosine_lr(o->lr_start, o->lr_end, (long)(e - 1) * steps + s, total),
				     .momentum = o->momentum, .weight_decay = o->weight_decay, .nesterov = o->nesterov};
			data_plan_batch(samples, order + (size_t)s * o->batch, o->batch, pad, o->augment, &rng);
			net_train_step(net, &set, samples, o->batch, &opt);
			double t = now_s();
			if (t - last_report >= 0.5 || s == steps - 1) {
				double l, a;
				long c;
				if (net_take_stats(net, &l, &a, &c, err))
					goto fail;
				if (!isfinite(l)) {
					m->failed = 1;
					snprintf(m->failure, sizeof m->failure, "loss diverged (%g) in epoch %d, step %d", l, e,
						 s + 1);
					nash_err(err, NASH_ERR_DIVERGED, "%s", m->failure);
					goto fail;
				}
				loss_sum += l * c, acc_sum += a * c, seen += c;
				last_report = t;
				if (cb) {
					double el = t - t_run, ts = train_s + (t - t0);
					double rate = (images_done + seen) / (ts > 0 ? ts : 1e-9);
					long left = ((long)(o->epochs - e) * steps + (steps - s - 1)) * o->batch;
					TrainProgress p = {.epoch = e, .epochs = o->epochs, .step = s + 1, .steps = steps,
							   .loss = loss_sum / seen, .acc = acc_sum / seen, .images_per_s = rate,
							   .elapsed_s = el, .eta_s = left / (rate > 0 ? rate : 1e-9)};
					if (s < steps - 1)
						cb(&p, cb_arg);
				}
			}
		}
		images_done += seen;
		train_s += now_s() - t0;
		double vl = NAN, va = NAN;
		if (sp.val_count > 0 && evaluate(net, &set, sp.val_begin, sp.val_count, &vl, &va, NULL, err))
			goto fail;
		if (sp.val_count > 0 && !isfinite(vl)) {
			m->failed = 1;
			snprintf(m->failure, sizeof m->failure, "validation loss diverged (%g) after epoch %d", vl, e);
			nash_err(err, NASH_ERR_DIVERGED, "%s", m->failure);
			goto fail;
		}
		EpochRecord rec = {.run = run, .epoch = e, .lr = lr0, .train_loss = (float)(loss_sum / seen),
				   .train_acc = (float)(acc_sum / seen), .val_loss = (float)vl, .val_acc = (float)va,
				   .seconds = (float)(now_s() - t0)};
		if (model_add_record(m, &rec, err))
			goto fail;
		m->val_accuracy = (float)va;
		if (o->checkpoint && e < o->epochs) {
			if (store_checked(m, net, 1, run, err))
				goto fail;
			m->ckpt_epochs_done = e;
			if (model_write(m, o->checkpoint, err))
				goto fail;
		}
		if (cb) {
			double el = now_s() - t_run, rate = images_done / (train_s > 0 ? train_s : 1e-9);
			TrainProgress p = {.epoch = e, .epochs = o->epochs, .step = steps, .steps = steps,
					   .loss = rec.train_loss, .acc = rec.train_acc, .images_per_s = rate,
					   .elapsed_s = el, .eta_s = (double)(o->epochs - e) * steps * o->batch / rate,
					   .epoch_done = 1, .rec = &rec};
			cb(&p, cb_arg);
		}
	}
	model_drop_optimizer(m);
	if (store_checked(m, net, 0, run, err))
		goto fail;
	net_free_set(net, &set);
	free(order);
	free(samples);
	return 0;
fail:
	net_free_set(net, &set);
	free(order);
	free(samples);
	return -1;
}
