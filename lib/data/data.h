/* Datasets: Fashion-MNIST (IDX, gzip'd or plain) and CIFAR-10/100 (binary version), held in
   memory as uint8 images [n, c, h, w] and uint8 labels. */
#ifndef NASH_DATA_H
#define NASH_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/rng.h"
#include "base/sample.h"

#define NASH_FMNIST_DIR "/usr/share/datasets/fashion-mnist"
#define NASH_DEFAULT_VAL 5000

typedef struct Dataset {
	char name[64];    /* "fashion-mnist", "cifar10", "cifar100" */
	char dir[512];
	int declared[2];  /* training and test images the spec declared (NAME@TRAIN,TEST:DIR); 0: official */
	int c, h, w, n_classes;
	int n_train;      /* the whole training set (before the validation split) */
	uint8_t *train_x; /* [n_train, c, h, w] */
	uint8_t *train_y; /* [n_train] */
	int n_test;       /* 0 unless loaded with want_test */
	uint8_t *test_x;  /* [n_test, c, h, w] */
	uint8_t *test_y;  /* [n_test] */
} Dataset;

/* Parses "fashion-mnist", "fashion-mnist:DIR", "cifar10:DIR", "cifar100:DIR" into a name and a
   directory, and sizes[2] = {0, 0}. A dataset of another size in one of these formats declares
   its training and test image counts: "cifar10@600,100:DIR" gives sizes {600, 100}. Usage
   error (NASH_ERR_USAGE) when malformed. */
int data_parse_spec(const char *spec, char *name, size_t name_n, char *dir, size_t dir_n, int sizes[2],
		    NashErr *err);
/* Loads the training set (and the test set when want_test), whole or not at all: the official
   file layout with the official counts (Fashion-MNIST 60000 / 10000; CIFAR-10 data_batch_1..5.bin
   of 10000 records each / test_batch.bin of 10000; CIFAR-100 train.bin 50000 / test.bin 10000),
   or, for a spec that declares its size, the same files holding the declared counts. Missing
   files, short files, truncated records, bad magic numbers, labels out of range and count
   mismatches are errors naming the file. */
int dataset_load(Dataset *d, const char *spec, int want_test, NashErr *err);
void dataset_free(Dataset *d);
/* The spec to load for a model made for `model_dataset` ("cifar10"): `given` when not NULL,
   else the model's own name when it has a default directory (fashion-mnist); NULL with a
   usage error saying how to give it otherwise. Every tool that loads a model's data says the
   same thing. */
const char *data_spec_for_model(const char *given, const char *model_dataset, NashErr *err);
/* Image shape and class count of a dataset name without loading it (-1 if unknown). */
int dataset_shape(const char *name, int *c, int *h, int *w, int *n_classes);

/* The split: validation = the last val_size images of the training set; training = the first
   min(limit, n_train - val_size) images (limit <= 0: all). Deterministic by construction. */
typedef struct Split {
	int train_begin, train_count; /* indices into the training set */
	int val_begin, val_count;
} Split;
int data_split(Split *s, const Dataset *d, int val_size, int limit, NashErr *err);

/* Per-channel mean and standard deviation (pixel scale 0..1) over images [begin, begin+count). */
void data_norm_stats(float *mean, float *std, const Dataset *d, int begin, int count);

/* Padding used by random crops: 4 px for 32x32 images, 2 px for 28x28. */
int data_crop_pad(int h);
/* Draws the batch's samples from an index list (already shuffled); augment=0 gives zero
   offsets and no flips. */
void data_plan_batch(Sample *out, const int32_t *indices, int n, int pad, int augment, Rng *rng);

#endif
