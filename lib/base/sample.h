/* The batch plan shared by the data layer (which draws it) and the backends (which build the
   batch from it): one image's augmentation. */
#ifndef NASH_SAMPLE_H
#define NASH_SAMPLE_H

#include <stdint.h>

/* Augmentation choice of one image in a batch: which image, crop offset, flip. */
typedef struct Sample {
	int32_t index; /* into the image array */
	int8_t dy, dx; /* crop offset in [-pad, pad]; 0 = centred, no shift */
	int8_t flip;   /* 1 = mirror horizontally */
	int8_t pad_;
} Sample;

#endif
