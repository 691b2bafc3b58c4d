/* Internal to the model layer: what the model file writer (modelfile_write.c) and reader
   (modelfile_read.c, modelfile_read_graph.c) share. */
#ifndef NASH_MODELFILE_H
#define NASH_MODELFILE_H

#include "base/h5util.h"
#include "model/model.h"

/* The model file's tables (docs/FORMAT.md): training/record, training/runs, lineage. */
extern const H5Table h5_record_table; /* EpochRecord */
extern const H5Table h5_run_table;    /* RunSettings */
extern const H5Table h5_morph_table;  /* Morphism */

/* The model file's layout read from, or written into, an open group: a file's root, or an
   ensemble file's members/NNN (lib/search/ensemble.c), so that an ensemble member is read and
   written by exactly this code and never copied object by object. name: the file (and member)
   in messages; image[image_len]: the file's bytes as the core driver opened them, from which a
   plain contiguous float32 dataset's weights are copied rather than read through HDF5 (NULL:
   every dataset through H5Dread); *left: the bytes of the file not yet accounted for, lowered by
   what is read (a file cannot hold more data than its size). The group reader does no crash
   isolation: its caller parses in a child first (base/isolate.h). */
int modelfile_read_group(Model *m, hid_t loc, const char *name, const void *image, size_t image_len, size_t *left,
			 NashErr *err);
/* A model file opened read-only from image[len] (the file f): its root group read by
   modelfile_read_group, the whole file's size the budget. */
int modelfile_read_file(Model *m, hid_t f, const char *name, const void *image, size_t len, NashErr *err);
int modelfile_write_group(hid_t loc, const Model *m, NashErr *err);

#endif
