/* Ensembles: models whose softmax outputs are averaged with uniform weights (NASH's snapshot
   ensemble of every hill-climbing step's best model), and the ensemble file that holds them.

   Ensemble file (docs/SEARCH.md, "Ensemble files"): HDF5; root attributes format =
   "nash-ensemble", format_version, num_members, dataset, combine = "mean-softmax" and the
   ensemble's val_accuracy/test_accuracy when evaluated; each member under /members/000,
   /members/001, ... with exactly the layout of a model file's root (docs/FORMAT.md) plus a
   `source` attribute naming the file it came from. */
#ifndef NASH_ENSEMBLE_H
#define NASH_ENSEMBLE_H

#include <stddef.h>
#include <stdint.h>

#include "backend/backend.h"
#include "data/data.h"
#include "model/model.h"

#define NASH_ENSEMBLE_FORMAT_VERSION 1

typedef struct Ensemble {
	int n, cap;
	Model *members;         /* [n] */
	char (*sources)[256];   /* [n] where each member came from */
	float val_accuracy;     /* the ensemble's; NaN when not evaluated */
	float test_accuracy;
} Ensemble;

void ensemble_init(Ensemble *e);
void ensemble_free(Ensemble *e);
/* Appends a deep copy of m. */
int ensemble_add(Ensemble *e, const Model *m, const char *source, NashErr *err);

/* Reads a model file or an ensemble file (told apart by the root `format` attribute) from path
   ("-": stdin) and appends its model(s). Errors name the file, and the member when it is one. */
int ensemble_read_append(Ensemble *e, const char *path, NashErr *err);
int ensemble_read_mem_append(Ensemble *e, const void *buf, size_t len, const char *name, NashErr *err);
/* ensemble_read_mem_append without its crash isolation (model_parse_mem): for the fuzz target. */
int ensemble_parse_mem_append(Ensemble *e, const void *buf, size_t len, const char *name, NashErr *err);

/* The first of models 0..i-1 with the same weights as model i (hash: model_weights_hash of
   each), -1 when none: an ensemble counts such a model once (a step whose parent won has the
   same best as the step before), and a report says which member it repeats. */
int ensemble_same_weights(const uint64_t *hash, int i);

/* Serialises to an in-memory HDF5 image (malloc'd), deterministically. */
int ensemble_write_mem(const Ensemble *e, void **buf, size_t *len, NashErr *err);
/* Atomic, like model_write; "-" is stdout. */
int ensemble_write(const Ensemble *e, const char *path, NashErr *err);

/* Checks the members fit d (input shape and classes) and can be compared with each other
   (select_comparable: the same dataset, and on the validation split the same val_size, so
   they are evaluated on the same images). */
int ensemble_check_data(const Ensemble *e, const Dataset *d, int on_test, NashErr *err);

/* Evaluates every member and the uniform average of their softmax outputs on the validation
   split (on_test = 0) or the test set (d loaded with want_test), each member's output with the
   test-time augmentation tta (evaluate: its views' mean). member_acc[e->n] receives each
   member's accuracy, *acc the ensemble's (argmax of the mean, first maximum wins). */
int ensemble_evaluate(const Ensemble *e, const Backend *be, const BackendOpts *opts, int batch, const Dataset *d,
		      int on_test, Tta tta, double *member_acc, double *acc, NashErr *err);

#endif
