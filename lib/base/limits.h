/* Limits shared by every layer. The file readers refuse, and the writers refuse to write,
   anything beyond them: one set of limits on both sides, so that no tool writes a file its own
   reader rejects, and so that a small file cannot make a reader allocate without bound. */
#ifndef NASH_LIMITS_H
#define NASH_LIMITS_H

#define NASH_MAX_CHANNELS 4 /* input image channels */

/* Model files (docs/FORMAT.md). */
#define NASH_MAX_NODES 10000          /* graph nodes */
#define NASH_MAX_OUT_CHANNELS 65536   /* out_channels of a conv or dense node */
#define NASH_MAX_INPUT_SIDE 4096      /* input height and width */
#define NASH_MAX_ACTIVATION (1 << 28) /* values of one node's output, c*h*w */
#define NASH_MAX_CLASSES 256          /* num_classes of a model, classes of a dataset (labels are uint8) */
#define NASH_CLASS_NAME_MAX 64        /* bytes of one class name, NUL included */
#define NASH_MAX_RUNS 100000          /* rows of training/runs */
#define NASH_MAX_RECORDS 1000000      /* rows of training/record (epochs of every run) */
#define NASH_MAX_LINEAGE 100000       /* rows of lineage (morphisms since the seed) */
/* What the morphisms accept (lib/search/morph_ops.c), and so what a lineage row may record. */
#define NASH_MAX_DEEPER_KERNEL 15 /* deeper: an odd kernel size, 1 to this */
#define NASH_MAX_WIDER_FACTOR 64  /* wider: a factor of 2 to this */

/* Ensemble files (docs/SEARCH.md). */
#define NASH_MAX_MEMBERS 10000

#endif
