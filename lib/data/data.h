/* Datasets: Fashion-MNIST (IDX, gzip'd or plain), CIFAR-10/100 (binary version) and nash's own
   HDF5 dataset files (docs/DATASETS.md, lib/data/data_h5.c), held in memory as uint8 images
   [n, c, h, w] and uint8 labels. */
#ifndef NASH_DATA_H
#define NASH_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "base/classnames.h"
#include "base/err.h"
#include "base/limits.h"
#include "base/rng.h"
#include "base/sample.h"

#define NASH_FMNIST_DIR "/usr/share/datasets/fashion-mnist"
#define NASH_DEFAULT_VAL 5000

typedef struct Dataset {
	char name[64];    /* "fashion-mnist", "cifar10", "cifar100", or an HDF5 file's `name` */
	char dir[512];    /* the directory, or the HDF5 file */
	int declared[2];  /* training and test images the spec declared (NAME@TRAIN,TEST:DIR); 0: official */
	int c, h, w, n_classes;
	int n_train;      /* the whole training set (before the validation split) */
	uint8_t *train_x; /* [n_train, c, h, w] */
	uint8_t *train_y; /* [n_train] */
	int n_test;       /* 0 unless loaded with want_test */
	uint8_t *test_x;  /* [n_test, c, h, w] */
	uint8_t *test_y;  /* [n_test] */
	char *class_names; /* [n_classes][NASH_CLASS_NAME_MAX]; NULL when not known */
	int has_norm;      /* the file gives its normalisation (HDF5 norm_mean, norm_std) */
	float norm_mean[NASH_MAX_CHANNELS], norm_std[NASH_MAX_CHANNELS]; /* pixel scale 0..1 */
} Dataset;

/* Parses "fashion-mnist", "fashion-mnist:DIR", "cifar10:DIR", "cifar100:DIR", "h5:FILE" into a
   name ("h5" for the last), a directory or file, and sizes[2] = {0, 0}. A dataset of another
   size in one of the built-in formats declares its training and test image counts:
   "cifar10@600,100:DIR" gives sizes {600, 100} (an HDF5 file carries its own). Usage error
   (NASH_ERR_USAGE) when malformed. */
int data_parse_spec(const char *spec, char *name, size_t name_n, char *dir, size_t dir_n, int sizes[2],
		    NashErr *err);
/* Loads the training set (and the test set when want_test), whole or not at all: for the
   built-in formats, the official file layout with the official counts (Fashion-MNIST 60000 /
   10000; CIFAR-10 data_batch_1..5.bin of 10000 records each / test_batch.bin of 10000;
   CIFAR-100 train.bin 50000 / test.bin 10000), or, for a spec that declares its size, the same
   files holding the declared counts. Missing files, short files, truncated records, bad magic
   numbers, labels out of range and count mismatches are errors naming the file. */
int dataset_load(Dataset *d, const char *spec, int want_test, NashErr *err);
void dataset_free(Dataset *d);
/* The spec to load for a model made for `model_dataset` ("cifar10", or an HDF5 dataset's name):
   `given` when not NULL, else the model's own name when it has a default directory
   (fashion-mnist); NULL with a usage error saying how to give it otherwise (DIR for a built-in
   dataset, h5:FILE for another). Every tool that loads a model's data says the same thing. */
const char *data_spec_for_model(const char *given, const char *model_dataset, NashErr *err);
/* Image shape and class count of a dataset name without loading it (-1 if unknown). */
int dataset_shape(const char *name, int *c, int *h, int *w, int *n_classes);

/* ---- lib/data/data_meta.c ---- */

/* The official class names of a built-in dataset ([n_classes] strings), NULL for other names. */
const char *const *dataset_builtin_classes(const char *name);
/* Fills d->class_names from the built-in names when d is a built-in dataset and has none. */
int dataset_set_builtin_classes(Dataset *d, NashErr *err);
/* Does the data fit a model made for dataset `name`, input c x h x w, n_classes? The shape and the
   class count must agree, and so must the name (two datasets of one shape are still two). The
   error names `what` (the model's file) and both sides. */
int dataset_check_fit(const Dataset *d, const char *what, const char *name, int c, int h, int w,
		      int n_classes, NashErr *err);

/* ---- lib/data/data_h5.c, data_h5_root.c: the HDF5 dataset file (docs/DATASETS.md) ---- */

#define NASH_DATASET_FORMAT "nash-dataset"
#define NASH_DATASET_VERSION 1
/* Reads FILE (what "h5:FILE" names): every attribute and dataset checked (types, ranks, sizes,
   label range, both sets non-empty). Images are stored N x H x W x C and held [n, c, h, w]. The
   test set's metadata is checked always, its images read only when want_test. */
int dataset_load_h5(Dataset *d, const char *path, int want_test, NashErr *err);
/* The same reader on the file image buf[len], in this process, without the crash isolation and
   its limits: for the fuzz target (tests/fuzz), which must see a crash. name is for messages. */
int dataset_parse_h5_mem(Dataset *d, const void *buf, size_t len, const char *name, int want_test,
			 NashErr *err);
/* Writes d (both sets, class names required) as a dataset file, atomically; "-" is stdout. */
int dataset_write_h5(const Dataset *d, const char *path, NashErr *err);
/* (Class names are checked by class_names_check, base/classnames.h: the model file holds them too.) */
/* A dataset name as files hold it: 1..63 characters from [A-Za-z0-9._+-]. */
int dataset_name_ok(const char *name);

/* The split: validation = the last val_size images of the training set; training = the first
   min(limit, n_train - val_size) images (limit <= 0: all). Deterministic by construction. */
typedef struct Split {
	int train_begin, train_count; /* indices into the training set */
	int val_begin, val_count;
} Split;
int data_split(Split *s, const Dataset *d, int val_size, int limit, NashErr *err);
/* The validation images to hold out of d's training set: NASH_DEFAULT_VAL, but at most a tenth
   of the training set (and at least one image per class), so that a small dataset of one's own
   keeps most of its images for training; always below n_train. */
int data_default_val(const Dataset *d);
/* *val = the validation size that `percent` percent of d's training images make (rounded, at
   least one image per class); an error when that leaves no training image. */
int data_val_percent(int *val, const Dataset *d, double percent, NashErr *err);

/* Per-channel mean and standard deviation (pixel scale 0..1) over images [begin, begin+count). */
void data_norm_stats(float *mean, float *std, const Dataset *d, int begin, int count);

/* Padding used by random crops: 4 px for 32x32 images, 2 px for 28x28. */
int data_crop_pad(int h);
/* Draws the batch's samples from an index list (already shuffled); augment=0 gives zero
   offsets and no flips. */
void data_plan_batch(Sample *out, const int32_t *indices, int n, int pad, int augment, Rng *rng);

#endif
