/* The pieces the ONNX export builds its graph with, shared by onnx.c (the network) and
   onnx_tta.c (test-time augmentation around it). Not part of the library's interface. */
#ifndef NASH_ONNX_BUILD_H
#define NASH_ONNX_BUILD_H

#include <stddef.h>
#include <stdint.h>

#include <onnx.pb-c.h>

#include "model/model.h"

/* Every message, string and array of the ONNX model comes from one pool, freed at once: the
   protobuf-c structs point into each other and into the model's weights, which are never
   copied. After the first failed allocation every onnx_pool_alloc returns NULL. */
typedef struct Pool {
	void **ptrs;
	size_t n, cap;
	int oom;
} Pool;

typedef struct Onnx {
	Pool pool;
	const Graph *g;
	Onnx__NodeProto **nodes; /* [cap_nodes] */
	size_t n_nodes, cap_nodes;
	Onnx__TensorProto **inits; /* [cap_inits] the weights and constants */
	size_t n_inits, cap_inits;
	char **names;  /* [g->n_nodes] the ONNX tensor holding each nash node's output */
	int *rank;     /* [g->n_nodes] 4 (N,C,H,W), or 2 (N,C) after flatten and dense */
	char **names4; /* [g->n_nodes] a rank-4 view of a rank-2 output, made once when needed */
	const char *axes_hw; /* the int64 constant {2, 3} (Unsqueeze's and Slice's axes), made once */
} Onnx;

void *onnx_pool_alloc(Pool *p, size_t bytes); /* zeroed */
char *onnx_pool_printf(Pool *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends a node reading in[n_in] and writing out; NULL when out of memory (or an input is
   NULL: a failed allocation before). */
Onnx__NodeProto *onnx_emit(Onnx *o, const char *op_type, const char *name, int n_in, const char *const *in,
			   const char *out);
void onnx_attr_int(Onnx *o, Onnx__NodeProto *n, const char *name, int64_t v);

/* An initializer named name: float32 over data, not copied (the model's weights or pool
   memory); int64 a copy of data (small constants). Returns name, NULL when out of memory.
   ndim 0: a scalar. */
const char *onnx_init_float(Onnx *o, const char *name, int ndim, const int64_t *dims, const float *data);
const char *onnx_init_int64(Onnx *o, const char *name, int ndim, const int64_t *dims, const int64_t *data);

/* Test-time augmentation (onnx_tta.c). How many nodes and initializers it adds at most, over
   V views: nodes Pad, a shift and a mirror per view, Concat, Softmax, Reshape, and Gather,
   Mul and Add per view (5V + 4); initializers the pads, Slice's axes, the mirror's 4, starts
   and ends per view, Reshape's shape, and index and weight per view (4V + 7). */
enum { ONNX_TTA_MAX_NODES = 6 * TTA_MAX_VIEWS + 8, ONNX_TTA_MAX_INITS = 6 * TTA_MAX_VIEWS + 8 };
/* The views of tta (model.h, tta_views) of the normalised images in [N,C,H,W], stacked
   along the batch, view by view, into out [V*N,C,H,W]: the network then runs once on all. */
int onnx_tta_views(Onnx *o, Tta tta, const char *in, const char *out);
/* The weighted mean of the views' softmax from the network's logits in [V*N,K] (as
   onnx_tta_views stacked them) into out [N,K], summed view by view in tta_views's order as
   evaluation sums them. */
int onnx_tta_mean(Onnx *o, Tta tta, const char *in, const char *out);

#endif
