/* Training runs and evaluation: SGD with Nesterov momentum under cosine annealing (SGDR:
   the learning rate restarts at lr_start for every run), validation after every epoch. */
#ifndef NASH_TRAIN_H
#define NASH_TRAIN_H

#include "data/data.h"
#include "model/model.h"
#include "engine/net.h"

typedef struct TrainOpts {
	int epochs;       /* epochs in this run */
	int batch;
	int limit;        /* train on the first `limit` training images; <= 0: all */
	int augment;
	float lr_start, lr_end, momentum, weight_decay;
	int nesterov;
	uint64_t seed;    /* shuffling and augmentation; epoch e uses streams (seed, e) */
	const char *device;
	const char *checkpoint; /* path written after every epoch (model + momentum), or NULL */
	/* Where the training runs, recorded in its RunSettings (the tool finds out; NULL: ""). */
	const char *host, *device_name, *job;
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
} TrainProgress;
typedef void (*TrainCallback)(const TrainProgress *p, void *arg);

/* The learning rate at step k of `total` steps: lr_end + (lr_start-lr_end)(1+cos(pi k/total))/2. */
float cosine_lr(float lr_start, float lr_end, long k, long total);

/* Trains m in place on d's training split (m->val_size held out), appending a RunSettings and
   one EpochRecord per epoch; sets m->val_accuracy. If m is a checkpoint of an unfinished run
   with the same settings, resumes after its last completed epoch. Returns -1 with
   NASH_ERR_DIVERGED if the loss becomes NaN or infinite. */
int train_model(Model *m, Net *net, const Dataset *d, const TrainOpts *o, TrainCallback cb, void *cb_arg,
		NashErr *err);

/* Evaluates a net on images [begin, begin+count) of x/y already on the backend (batch-norm in
   inference mode). probs, when non-NULL, receives softmax probabilities [count, classes]. */
int evaluate(Net *net, const DeviceSet *set, int begin, int count, double *loss, double *acc, float *probs,
	     NashErr *err);

#endif
