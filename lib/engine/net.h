/* A network instantiated on a backend for training or inference: every buffer allocated once
   (one allocation per category), a step that allocates nothing and, on the GPU, never waits. */
#ifndef NASH_NET_H
#define NASH_NET_H

#include "backend/backend.h"
#include "model/graph.h"

typedef struct NodePlan {
	float *out;  /* [batch, c, h, w] this node's output (flatten aliases its input's) */
	float *dout; /* [batch, c, h, w] gradient of the loss w.r.t. out */
	float *p[NASH_MAX_PARAMS];  /* each tensor in backend memory (params or buffers arena) */
	float *dp[NASH_MAX_PARAMS]; /* its gradient; NULL for running statistics */
	float *v[NASH_MAX_PARAMS];  /* its momentum buffer; NULL for running statistics */
	float *bn_mean, *bn_invstd; /* [c] batch statistics saved by the forward pass */
} NodePlan;

/* Images and labels resident in backend memory. */
typedef struct DeviceSet {
	uint8_t *x; /* [n, c, h, w] */
	uint8_t *y; /* [n] */
	int n;
} DeviceSet;

typedef struct Net {
	Ctx ctx;
	const Graph *g; /* shapes; host weights are read at create and written by net_store */
	int batch;      /* largest batch a step takes */
	size_t n_params, n_decay, n_buffers, n_acts;
	float *params;   /* [n_params] trainable tensors, weight-decayed ones first ([0, n_decay)) */
	float *grads;    /* [n_params] */
	float *velocity; /* [n_params] SGD momentum */
	float *buffers;  /* [n_buffers] batch-norm running statistics */
	float *acts;     /* [n_acts] node outputs, then batch-norm saved statistics */
	float *dacts;    /* [n_acts] gradients of node outputs */
	int32_t *labels; /* [batch] */
	Sample *samples; /* [batch] */
	float *stats;    /* [4] summed loss, correct, count since the last net_take_stats; the
			    fourth float is padding (one 16-byte transfer), never written */
	NodePlan *plan;  /* [g->n_nodes] host array of pointers into the arenas */
	float mean[NASH_MAX_CHANNELS], std[NASH_MAX_CHANNELS];
} Net;

typedef struct Optim {
	float lr, momentum, weight_decay;
	int nesterov;
} Optim;

/* Allocates everything for batches of up to `batch` images and uploads the graph's weights
   (and momentum buffers when the tensors carry them). The graph must be inferred and have its
   params allocated; it must outlive the net. mean/std: per input channel normalisation.
   opts: how the backend's context is set up (threads, GPU settings); NULL: the defaults. */
int net_create(Net *net, const Backend *be, const BackendOpts *opts, const Graph *g, int batch,
	       const float *mean, const float *std, NashErr *err);
void net_free(Net *net);
/* Bytes of backend memory the net holds: its buffers plus what the backend keeps for itself
   (Backend.private_bytes) at the time of the call. */
size_t net_bytes(const Net *net);

int net_upload_set(Net *net, DeviceSet *set, const uint8_t *x, const uint8_t *y, int n, NashErr *err);
void net_free_set(Net *net, DeviceSet *set);

/* One SGD step on n <= batch samples (train-mode batch-norm). */
void net_train_step(Net *net, const DeviceSet *set, const Sample *samples, int n, const Optim *o);
/* Inference (eval-mode batch-norm) on n <= batch samples; adds loss/accuracy to the stats. */
void net_eval_batch(Net *net, const DeviceSet *set, const Sample *samples, int n);
/* Reads and clears the stats: mean loss and accuracy over the images since the last call.
   Synchronises with the backend; returns -1 on a deferred backend error. */
int net_take_stats(Net *net, double *loss, double *acc, long *count, NashErr *err);
/* The same without clearing: what a progress display may read at any moment. The stats are
   float sums, so where the takes fall changes their last bits; a peek changes nothing. */
int net_peek_stats(Net *net, double *loss, double *acc, long *count, NashErr *err);
/* Copies the logits of the last net_eval_batch ([n, classes]) to host memory. */
void net_read_logits(Net *net, float *host, int n);
/* Writes the weights and running statistics back into the graph's host tensors; with
   momentum != 0 also the momentum buffers (allocating Tensor.momentum). */
int net_store(Net *net, Graph *g, int momentum, NashErr *err);

#endif
