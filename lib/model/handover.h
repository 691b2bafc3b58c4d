/* A model handed from the isolated child that read its file to the program (base/isolate.h,
   base/wire.h): the child, having read and checked the file with HDF5, puts the model in nash's
   own form; the program gets it back without HDF5 and checks it again as untrusted input,
   since the child may have been subverted by the file it parsed: every count, index and size
   is bounded before anything is allocated, every string fits its field (ASCII where the file
   reader wants ASCII; class names are UTF-8, which model_validate checks), the graph is built
   with graph_add and checked by graph_infer, the weights are exactly those the checked graph
   implies, and the whole model passes model_validate. Values the file format forbids never
   come back: a NaN weight, accuracy or statistic fails here as it fails in the file reader.
   The program ends up with the Model the file reader would have given it. */
#ifndef NASH_HANDOVER_H
#define NASH_HANDOVER_H

#include <stddef.h>

#include "base/wire.h"
#include "model/model.h"

/* Appends model m (read and validated) to w. */
void model_handover_put(WireOut *w, const Model *m);
/* Takes one model from r into m (model_init'd here; freed again on failure). file names the
   input in messages: "FILE: corrupt HDF5 file (its reading process handed back ...)" for what
   breaks the form, "FILE: " and the check's own message for a model that fails a check. */
int model_handover_get(WireIn *r, Model *m, const char *file, NashErr *err);
/* 0 when every byte of r has been taken, else -1 with "FILE: corrupt HDF5 file (...)": what a
   child hands over is exactly what its reader put. */
int model_handover_end(const WireIn *r, const char *file, NashErr *err);
/* The most bytes an isolated read of a file of len bytes may hand over (isolate_read's
   max_report): 16 times len and 2 MiB more. What model_handover_put writes stays far below: a
   weight is charged to the file at 4 or more bytes and takes 4 here, a table row takes at most
   5.3 times what it took in the file (a training/runs row without the optional fields), a
   node or a member less than its group and attributes did. */
size_t model_handover_bound(size_t len);

#endif
