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
	int force;              /* take class folders named like sets (train, test, val, validation),
				   and class folders that hold only folders, as classes */
} PackOpts;

/* What packing skipped without refusing it, for the tool to show: README*, *.txt and *.csv files
   beside the class folders of the training tree [0] and of the test tree [1], as one line each
   ("DIR: skipped README.md, labels.csv beside the class folders (notes, not images)"), or "". */
typedef struct PackNotes {
	char skipped[2][1024];
} PackNotes;

/* Fills d with both sets (images in a seeded random order: nash holds out the last images of
   the training set for validation, so a class-sorted order would validate on a few classes
   only) and the class names, and *notes. Errors name the file or folder, and for a tree of sets
   given as a tree of classes (DIR/train, DIR/test) or a tree a level too high (class folders
   holding only folders) the command that packs it; nothing is half-filled. */
int data_pack(Dataset *d, const PackOpts *o, PackNotes *notes, NashErr *err);

/* The dataset name for the tree dir when none is given: its last component, but the parent's
   when that is "train" (X/train is the training set of dataset X: named train, every dataset
   packed from X/train, Y/train ... would have one name, and a model made for one would take
   the others' data), looked up (realpath) when the path does not name it ("train", "../train").
   Not checked against the name rule. */
void pack_default_name(char *out, size_t n, const char *dir);

#endif
