/* The network graph: a DAG of nodes kept in topological order (every input index is smaller
   than the node's own index), with shape inference, validation and the weights each node owns.
   Activations are NCHW float32; a node's output shape is (c, h, w) per image. */
#ifndef NASH_GRAPH_H
#define NASH_GRAPH_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/limits.h"

typedef enum OpKind {
	OP_INPUT,   /* the image batch; exactly one, node 0 */
	OP_CONV,    /* k x k, stride 1, same padding (k odd), optional bias */
	OP_BN,      /* batch-norm over channels; train: batch stats, eval: running stats */
	OP_RELU,
	OP_MAXPOOL, /* window = stride = kernel (2 by default); output floor(h/k) x floor(w/k) */
	OP_ADD,     /* two inputs of equal shape: lambda*in0 + (1-lambda)*in1, lambda [c] trainable */
	OP_CONCAT,  /* two or more inputs of equal h, w: channels stacked in input order */
	OP_GAP,     /* global average pool: c x 1 x 1 */
	OP_FLATTEN, /* c*h*w x 1 x 1, flatten order C,H,W (PyTorch's) */
	OP_DENSE,   /* input must be flat (h = w = 1): out_channels x 1 x 1 */
	OP_COUNT
} OpKind;

#define NASH_MAX_INPUTS 16
#define NASH_MAX_PARAMS 4
#define NASH_MAX_FEATURES (1 << 28) /* channels of a concat, features of a flatten */

/* Roles of a node's tensors: what the optimizer does with them. */
enum {
	PARAM_TRAINABLE = 1, /* updated by SGD */
	PARAM_DECAY = 2,     /* weight decay applies (conv and dense weights only) */
};

/* A named float32 tensor owned by a node. Layouts are PyTorch's:
   conv   "weight" [out,in,k,k], "bias" [out]
   bn     "gamma" [c], "beta" [c], "running_mean" [c], "running_var" [c]
   add    "lambda" [c] (one weight per channel, as batch-norm's gamma)
   dense  "weight" [out,in], "bias" [out]                                      */
typedef struct Tensor {
	char name[16];
	int ndim;
	int dims[4];
	float *data;     /* host memory, product(dims) floats */
	float *momentum; /* optimizer state for checkpoints; NULL when absent */
	float *ema;      /* a checkpoint's weight average (nash-train --ema); NULL when absent */
} Tensor;

typedef struct Node {
	OpKind op;
	int n_inputs;
	int inputs[NASH_MAX_INPUTS]; /* indices of earlier nodes */
	int out_channels;            /* conv, dense */
	int kernel;                  /* conv (odd), maxpool (window = stride) */
	int has_bias;                /* conv, dense */
	float bn_eps;                /* bn, default 1e-5 */
	float bn_momentum;           /* bn, default 0.1 (PyTorch's convention) */
	int c, h, w;                 /* output shape per image, set by graph_infer */
	int n_params;
	Tensor params[NASH_MAX_PARAMS];
} Node;

typedef struct Graph {
	int n_nodes, cap;
	Node *nodes;
	int out_of_memory; /* a node could not be added: graph_infer fails with NASH_ERR_OOM */
	int in_c, in_h, in_w; /* input image shape */
	int n_classes;        /* the last node must be classes x 1 x 1 */
} Graph;

const char *op_name(OpKind op); /* "conv", "bn", ... (the names used in model files) */
int op_from_name(const char *name); /* -1 when unknown */

void graph_init(Graph *g, int in_c, int in_h, int in_w, int n_classes); /* adds the input node */
void graph_free(Graph *g);
int graph_clone(Graph *dst, const Graph *src, NashErr *err); /* deep copy, weights included */

/* Appends a node (params not yet allocated); returns its index. Out of memory: returns -1
   and marks the graph, so graph_infer fails; a builder need not check each node it adds. */
int graph_add(Graph *g, OpKind op, int n_inputs, const int *inputs);
/* Convenience builders for common nodes; each returns the new node's index (-1 as graph_add). */
int graph_conv(Graph *g, int in, int out_channels, int kernel, int has_bias);
int graph_bn(Graph *g, int in);
int graph_relu(Graph *g, int in);
int graph_maxpool(Graph *g, int in, int kernel);
int graph_dense(Graph *g, int in, int out, int has_bias);
int graph_unary(Graph *g, OpKind op, int in); /* gap, flatten */

/* Inserts a copy of *node at position pos, shifting later nodes and renumbering every input
   index >= pos. The node's own inputs must refer to indices < pos. Returns pos; -1 (graph
   unchanged, marked as graph_add) when out of memory, which graph_reserve rules out. */
int graph_insert(Graph *g, int pos, const Node *node);
/* Room for `more` nodes, so that that many graph_add/graph_insert calls cannot fail: a
   morphism reserves first and so fails, when out of memory, before changing anything. */
int graph_reserve(Graph *g, int more, NashErr *err);
/* Every node j >= first with j != new_in that reads old_in reads new_in instead
   (a morphism inserting a node after old_in routes its consumers through the new node). */
void graph_redirect(Graph *g, int old_in, int new_in, int first);

/* Infers every node's output shape and validates the graph: inputs earlier than the node
   (which also rules out cycles), input counts per op, compatible shapes, last node classes x1x1,
   exactly one input node at index 0. Also checks existing params have the right shapes. */
int graph_infer(Graph *g, NashErr *err);
/* Allocates (zeroed) every param tensor a node needs that is not yet allocated, with the
   shapes implied by the inferred graph. graph_infer must have succeeded. */
int graph_alloc_params(Graph *g, NashErr *err);
/* The expected param tensors of node i (names, dims) as implied by its shape and inputs. */
int node_expected_params(const Graph *g, int i, Tensor *out /* [NASH_MAX_PARAMS] */);
int param_role(OpKind op, const char *param_name); /* PARAM_* flags */
/* Node i's tensors are exactly those node_expected_params implies (names, count, shapes). */
int node_check_params(const Graph *g, int i, NashErr *err);

/* "003_conv": zero-padded position and op name; used as the HDF5 group name. */
void node_name(const Graph *g, int i, char *buf, size_t n);
size_t tensor_size(const Tensor *t); /* product of dims */
/* 1 when every weight and running statistic is finite. */
int graph_finite(const Graph *g);
/* Number of trainable parameters (what tables and --max-params count). */
size_t graph_param_count(const Graph *g);
/* Multiply-adds of one image's forward pass (what tables and --max-macs count): k*k*in*out*h*w
   for a convolution (stride 1, same padding: h x w is its input's and its output's size), in*out
   for a dense layer, nothing for the other ops. The graph must be inferred (graph_infer).
   Saturates at UINT64_MAX, which no network that fits in memory reaches. */
uint64_t graph_macs(const Graph *g);
/* Human-readable one-line summary, e.g. "conv32-bn-relu-pool-...-dense10". */
void graph_summary(const Graph *g, char *buf, size_t n);

#endif
