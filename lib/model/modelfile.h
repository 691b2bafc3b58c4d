/* Internal to the model layer: what the model file writer (modelfile_write.c) and reader
   (modelfile_read.c) share. */
#ifndef NASH_MODELFILE_H
#define NASH_MODELFILE_H

#include "base/h5util.h"
#include "model/model.h"

/* The model file's tables (docs/FORMAT.md): training/record, training/runs, lineage. */
extern const H5Table h5_record_table; /* EpochRecord */
extern const H5Table h5_run_table;    /* RunSettings */
extern const H5Table h5_morph_table;  /* Morphism */

#endif
