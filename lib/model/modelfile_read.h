/* Internal to the model file reader: what its two halves share, the root, tables and entry points
   (modelfile_read.c) and the graph group (modelfile_read_graph.c). */
#ifndef NASH_MODELFILE_READ_H
#define NASH_MODELFILE_READ_H

#include <stddef.h>

#include "base/h5util.h"
#include "model/model.h"

/* One read of a model file (or of an ensemble file's member). */
typedef struct MfReader {
	const char *file;
	NashErr *err;
	int version;  /* the file's format_version, once the root is read */
	size_t *left; /* bytes of the file not yet accounted for by a dataset read from it */
	const unsigned char *image; /* the file's bytes (modelfile_read_group), or NULL */
	size_t image_len;
} MfReader;

/* -1 with "FILE: message" (NASH_ERR_RUNTIME), or "FILE: out of memory" (NASH_ERR_OOM). */
int mf_fail(const MfReader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int mf_oom(const MfReader *r);

/* Attributes, checked before they are read (h5_read_attr, h5_read_str): 1 when read, 0 when
   absent and optional, else -1 with the error. node: the node group's name in messages
   ("graph/003_conv: attribute ..."), NULL for the root's; n: the values asked (0: a scalar);
   mf_str's n: the buffer's size. */
int mf_attr(const MfReader *r, hid_t loc, const char *node, const char *name, H5T_class_t cls, hid_t mtype,
	    int n, void *out, int optional);
int mf_int(const MfReader *r, hid_t loc, const char *node, const char *name, int *v, int optional);
int mf_float(const MfReader *r, hid_t loc, const char *node, const char *name, float *v, int optional);
int mf_str(const MfReader *r, hid_t loc, const char *node, const char *name, char *buf, size_t n, int optional);
/* The links of group g in name order (at most max), or -1 with the error. node: the node group's
   name in messages, NULL for the graph group. */
int mf_links(const MfReader *r, hid_t g, const char *node, int max, H5Link **links, int *n);
/* Opens group `name` of loc when it is a hard link to a group; else -1 with the error. */
hid_t mf_group(const MfReader *r, hid_t loc, const char *path, const char *name);

/* The graph group of the file f into g (graph_init'd from the root's attributes), weights
   included; 0 or -1 with the error. */
int modelfile_read_graph(const MfReader *r, hid_t f, Graph *g);

#endif
