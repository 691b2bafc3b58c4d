/* Training runs and evaluation: SGD with Nesterov momentum under cosine annealing (SGDR:
   the learning rate restarts at lr_start for every run), after an optional linear warmup;
   validation and a collapse test after every epoch. */
#ifndef NASH_TRAIN_H
#define NASH_TRAIN_H

#include "data/data.h"
#include "model/model.h"
#include "engine/net.h"

/* TrainOpts.warmup: choose by the model (train_warmup_auto). */
#define NASH_WARMUP_AUTO (-1.0f)
/* The warmup, in epochs, of a run from scratch under NASH_WARMUP_AUTO, at most half the run
   (docs/SEARCH.md, "Warmup", has the measurements behind it). */
#define NASH_WARMUP_FROM_SCRATCH 1.0f
/* Probabilities that differ by no more than this across images count as the same output. */
#define NASH_COLLAPSE_TOL 1e-4f

typedef struct TrainOpts {
	int epochs;       /* epochs in this run */
	int batch;
	int limit;        /* train on the first `limit` training images; <= 0: all */
	int augment;
	float lr_start, lr_end, momentum, weight_decay;
	int nesterov;
	uint64_t seed;    /* shuffling and augmentation; epoch e uses streams (seed, e) */
	float warmup;     /* epochs of linear warmup (fractions allowed), or NASH_WARMUP_AUTO */
	int train_on_all; /* also train on the validation split (which is then not held out) */
	/* The recipe (docs/SEARCH.md, "Training recipe"); the defaults change nothing. */
	float label_smoothing; /* the loss's target (1-e) one-hot + e/K, 0 <= e < 1 */
	float ema;             /* decay of the weight average evaluated and kept (0 <= D < 1; 0: none) */
	Tta tta;               /* test-time augmentation of the validation figures */
	const char *engine;       /* the engine (backend_find: cpu, cpu-blas, ref, cuda, ...), recorded in RunSettings.engine */
	const char *checkpoint; /* path written after every epoch (model + momentum), or NULL */
	/* Where the training runs, recorded in its RunSettings (the tool finds out; NULL: ""). */
	const char *host, *hardware, *job;
} TrainOpts;

void train_opts_default(TrainOpts *o);

/* Progress of a run, passed to the callback after every few steps and at every epoch end. */
typedef struct TrainProgress {
	int epoch, epochs;     /* 1-based */
	int step, steps;       /* within the epoch */
	double loss, acc;      /* running means over the epoch so far */
	double images_per_s;
	double elapsed_s, eta_s; /* for the whole run */
	int epoch_done;        /* 1 at the end of an epoch: rec holds the record row */
	const EpochRecord *rec;
	/* At the end of an epoch, the learning rate of its last step and its highest (rec->lr is
	   its first step's): a warmup climbs within an epoch, a cosine falls. */
	float lr_last, lr_peak;
} TrainProgress;
typedef void (*TrainCallback)(const TrainProgress *p, void *arg);

/* The learning rate at step k of `total` steps: lr_end + (lr_start-lr_end)(1+cos(pi k/total))/2. */
float cosine_lr(float lr_start, float lr_end, long k, long total);
/* The learning rate at step k (0-based) of a run of `total` steps whose first `warmup` steps
   warm up: lr_start (k+1)/warmup for k < warmup (the first step already moves, at
   lr_start/warmup), then cosine_lr over the remaining total - warmup steps, so the cosine
   starts at lr_start right after the warmup and ends at lr_end with the run. */
float schedule_lr(float lr_start, float lr_end, long warmup, long k, long total);
/* The warmup NASH_WARMUP_AUTO gives m's next run of `epochs` epochs: for a model with no
   finished run (a seed from nash-init, or a checkpoint of its first run)
   NASH_WARMUP_FROM_SCRATCH epochs or half the run, whichever is shorter; 0 for one that has
   been trained (a search child, a model trained further). */
float train_warmup_auto(const Model *m, int epochs);

/* The decay of the weight average's update k (0-based, over the run) for --ema D:
   min(D, (1+k)/(10+k)), TensorFlow's ExponentialMovingAverage with num_updates. The early
   updates forget the starting weights quickly, so that a run of a few hundred steps is not
   averaged towards where it started. */
float ema_decay(float D, long k);

/* Trains m in place on d's training split (m->val_size held out; with o->train_on_all the
   validation images too), appending a RunSettings (warmup, train_on, images per epoch, the
   recipe) and one EpochRecord per epoch; sets m->val_accuracy (measured with o->tta: m->val_tta).
   With o->ema, the weight average is updated after every step, evaluated in place of the
   weights, and becomes the model's weights at the end (the net then holds it too). If m is a
   checkpoint of an unfinished run with the same settings (the recipe included), resumes after
   its last completed epoch. Returns -1 with
   NASH_ERR_DIVERGED and m marked failed (m->failure says why) if the loss becomes NaN or
   infinite, or if the network collapses: after an epoch, its output is the same for every
   image (train_output_constant), the failure then starting "collapsed: ". */
int train_model(Model *m, Net *net, const Dataset *d, const TrainOpts *o, TrainCallback cb, void *cb_arg,
		NashErr *err);

/* 1 when every one of n > 1 rows of probs [n, K] equals the first within NASH_COLLAPSE_TOL
   (a network whose output does not depend on its input); *cls: the first row's class. */
int train_output_constant(const float *probs, int n, int K, int *cls);

/* Evaluates a net on images [begin, begin+count) of x/y already on the backend (batch-norm in
   inference mode). probs, when non-NULL, receives softmax probabilities [count, classes].
   With test-time augmentation (tta not TTA_NONE) each image is evaluated in several views,
   and the prediction is the weighted mean of their softmax outputs (as nash-ensemble averages
   its members'): flip, the image and its mirror, 1/2 each; flip-shift, those 1/4 each and the
   image shifted one pixel down and right and one pixel up and left (the crop offsets of
   training, padded with the mean), each also mirrored, 1/8 each (airbench's views and
   weights). *acc is then the accuracy of that mean, *loss the mean of -log of its
   probability of the label; probs receives it. */
int evaluate(Net *net, const DeviceSet *set, int begin, int count, Tta tta, double *loss, double *acc,
	     float *probs, NashErr *err);

/* The images an evaluation covers: the test set, or the validation split of a model that
   holds out val_size images (an error when it holds out none, or no test set is loaded). */
typedef struct EvalSet {
	const uint8_t *x, *y; /* the whole set: [n, c, h, w], [n] */
	int n;
	int begin, count;     /* the images evaluated */
} EvalSet;
int eval_set(EvalSet *s, const Dataset *d, int on_test, int val_size, NashErr *err);
/* Uploads s, evaluates net on it (evaluate) and frees the upload: one model's accuracy on the
   validation split or the test set. probs as in evaluate: [s->count, classes]. */
int evaluate_on(Net *net, const EvalSet *s, Tta tta, double *loss, double *acc, float *probs, NashErr *err);

#endif
