/* A model: everything one model file holds (docs/FORMAT.md). The graph with its weights,
   the dataset it is for, normalisation, identity, lineage and training record. */
#ifndef NASH_MODEL_H
#define NASH_MODEL_H

#include <stdint.h>

#include "model/graph.h"

#define NASH_FORMAT_VERSION 2 /* 2: an add's lambda is [C], one per channel (1: [1]) */
#define NASH_ID_LEN 17 /* 16 hex digits + NUL */

/* One row of the training record: one epoch of one run. */
typedef struct EpochRecord {
	int run;   /* index into Model.runs */
	int epoch; /* 1-based within its run */
	float lr;  /* learning rate at the epoch's start */
	float train_loss, train_acc;
	float val_loss, val_acc; /* NaN when not evaluated */
	float seconds;
} EpochRecord;

/* Test-time augmentation of an evaluation (nash-train --tta): the views of each image whose
   softmax outputs are averaged. none: the image; flip: it and its mirror; flip-shift: those
   and both shifted one pixel down-right and up-left (train.h, evaluate). */
typedef enum Tta { TTA_NONE, TTA_FLIP, TTA_FLIP_SHIFT } Tta;
#define TTA_NAMES "none, flip or flip-shift"
const char *tta_name(Tta t); /* "none", "flip", "flip-shift" */
int tta_parse(const char *s, Tta *t); /* 0, or -1 when s is none of the names */

/* One view of test-time augmentation: the crop offset and mirroring of training's batches
   (base/sample.h: pixel (y, x) of the view is the image's (y + dy, mirrored x + dx), the
   pixels from outside the image zero after normalisation, i.e. the mean), and its weight in
   the mean of the views' softmax outputs. The one table of them: evaluation (engine/train.c)
   and the ONNX export (export/onnx_tta.c) both read it, so they cannot drift apart. */
typedef struct TtaView {
	int8_t dy, dx, flip;
	double weight;
} TtaView;
enum { TTA_MAX_VIEWS = 6 };
/* The views of t, in the order their softmax outputs are summed; returns how many (1 for
   none: the image itself, weight 1). */
int tta_views(Tta t, TtaView v[TTA_MAX_VIEWS]);

/* Settings of one nash-train run. The fields from warmup on came later: a file without them
   reads as warmup 0, train_on "train", images 0 (not recorded), label smoothing 0, EMA 0 (off)
   and TTA "none", which is what those runs did. */
typedef struct RunSettings {
	uint64_t seed;
	int batch, epochs, limit, augment;
	float lr_start, lr_end, momentum, weight_decay;
	char engine[16];      /* the engine it ran on (backend_find: "cpu", "cuda"...); file field "device" */
	/* Where it ran (a resumed run: where it finished), as the tool was told; "" when unknown. */
	char host[64];        /* the machine's host name */
	char hardware[128];   /* "CPU", or the GPU: "NVIDIA H200, GPU 0 of 1, 139.8 GiB"; file field
	                         "device_name" (64 bytes in files before 2026-12-07, read as well) */
	char job[64];         /* the scheduler's job: Slurm's "JOB.STEP", "" outside one */
	float warmup;      /* epochs of linear learning-rate warmup */
	char train_on[16]; /* "train" (the training split) or "all" (training + validation split) */
	int images;        /* images trained on per epoch; 0: not recorded */
	float label_smoothing; /* the loss's target (1-e) one-hot + e/K; 0: one-hot */
	float ema;             /* decay of the weight average evaluated and kept; 0: none */
	char tta[16];          /* the test-time augmentation of its validation figures (tta_name) */
} RunSettings;
/* 1 when the run trained on the validation split too (its validation figures are not held out). */
int run_trained_on_val(const RunSettings *r);

/* One row of the lineage: an applied morphism (nash-morph), or the weights drawn afresh
   (nash-init --like: op "reinit", only the seed set). Unused fields are -1. */
#define MODEL_LINEAGE_REINIT "reinit"
typedef struct Morphism {
	char op[16];     /* "deeper", "wider", "skip-add", "skip-concat", or "reinit" */
	int node;        /* node acted on: index in the graph just before this morphism (skips: the target) */
	int kernel;      /* deeper */
	int factor;      /* wider */
	int source, target; /* skip */
	uint64_t seed;
} Morphism;

typedef struct Model {
	Graph g;
	char dataset[64];             /* "fashion-mnist", "cifar10", "cifar100" */
	char *class_names;            /* [g.n_classes][NASH_CLASS_NAME_MAX] (malloc'd): the dataset's name of
					 each label; NULL when not known (a file from before them) */
	float mean[NASH_MAX_CHANNELS]; /* per input channel, on 0..1 pixel scale */
	float std[NASH_MAX_CHANNELS];
	int val_size;                 /* images held out from the end of the training set */
	char id[NASH_ID_LEN];
	char parent_id[NASH_ID_LEN];  /* "" for a seed network */
	float val_accuracy;           /* NaN when never evaluated */
	float test_accuracy;          /* NaN when never evaluated */
	Tta val_tta, test_tta;        /* the test-time augmentation each accuracy was measured with */
	int failed;                   /* training failed (diverged, OOM); see failure */
	char failure[256];

	int n_records;
	EpochRecord *records;
	int n_runs;
	RunSettings *runs;
	int n_lineage;
	Morphism *lineage;

	/* Checkpoint of an unfinished run (issue: search): epochs of runs[n_runs-1] done so far,
	   and the tensors' momentum buffers are set. 0 when the file is not a checkpoint. */
	int ckpt_epochs_done;
} Model;

void model_init(Model *m); /* zeroed, accuracies NaN */
void model_free(Model *m);
int model_clone(Model *dst, const Model *src, NashErr *err);
/* Appends to the growing arrays (realloc); return -1 with err on allocation failure. */
int model_add_record(Model *m, const EpochRecord *r, NashErr *err);
int model_add_run(Model *m, const RunSettings *r, NashErr *err);
int model_add_morphism(Model *m, const Morphism *mm, NashErr *err);
/* Drops the optimizer state of a checkpoint (momentum buffers, weight averages, epochs done):
   for a model that starts a fresh run, or a failed one that is a record, not something to
   resume. */
void model_drop_optimizer(Model *m);
/* Sets m's class names to a copy of names[m->g.n_classes][NASH_CLASS_NAME_MAX] (NULL: none). */
int model_set_class_names(Model *m, const char *names, NashErr *err);
/* Derives a 16-hex-digit id from a 64-bit value. */
void model_set_id(Model *m, uint64_t h);
/* Checks what the file format promises beyond the graph: finite weights, sane metadata. */
int model_validate(const Model *m, NashErr *err);
/* A checkpoint's epochs done (ckpt_epochs_done, when not 0) lie within its last run: 1 to the
   run's epochs - 1, as nash-train writes them ("checkpoint says N epochs done, but the run
   has M"). Part of model_validate. */
int model_check_checkpoint(const Model *m, NashErr *err);

/* Model files (lib/model/modelfile_write.c, lib/model/modelfile_read.c, modelfile_read_graph.c). path "-" means stdin/stdout. Writing goes to a temporary
   file in the destination's directory and is renamed into place, so a failure never leaves a
   partial file. Errors name the file: "m.h5: unknown op 'foo' in graph/003_foo". */
int model_read(Model *m, const char *path, NashErr *err);
int model_read_mem(Model *m, const void *buf, size_t len, const char *name, NashErr *err);
/* model_read_mem without its crash isolation (which parses in a forked child first, so that a
   crash inside HDF5 on a crafted file becomes "FILE: corrupt HDF5 file"): for callers that
   isolate themselves, the fuzz target (tests/fuzz) among them. */
int model_parse_mem(Model *m, const void *buf, size_t len, const char *name, NashErr *err);
int model_write(const Model *m, const char *path, NashErr *err);
/* Serialises to an in-memory HDF5 file image (malloc'd, caller frees). */
int model_write_mem(const Model *m, void **buf, size_t *len, NashErr *err);

#endif
