/* Packing a folder tree of images into a Dataset (nash-data pack; docs/DATASETS.md): one
   subfolder per class (torchvision's ImageFolder, Keras' image_dataset_from_directory), classes
   in byte order of their names, PNG and JPEG files. */
#ifndef NASH_PACK_H
#define NASH_PACK_H

#include <stdint.h>

#include "data/data.h"

typedef struct PackOpts {
	const char *dir;        /* the training tree (the whole set when test_dir is NULL) */
	const char *test_dir;   /* the test tree, with the same classes; NULL: split off test_fraction */
	double test_fraction;   /* of each class, rounded, at least one image, at most all but one */
	int channels;           /* 1, 3 or 4; 0: 1 when every image is grayscale, else 3 */
	int resize_h, resize_w; /* 0: every image must have the size of the first */
	uint64_t seed;          /* the test split and the order of both sets */
	const char *name;       /* the dataset's name */
	int threads;            /* decoding threads; 0: OpenMP's default */
} PackOpts;

/* Fills d with both sets (images in a seeded random order: nash holds out the last images of
   the training set for validation, so a class-sorted order would validate on a few classes
   only) and the class names. Errors name the file or folder; nothing is half-filled. */
int data_pack(Dataset *d, const PackOpts *o, NashErr *err);

#endif
