/* A compute backend is a table of functions over a context (ggml-style). The CPU reference
   ("ref": plain loops, the test oracle), the default CPU engine ("cpu": oneDNN convolutions),
   the im2col engine ("cpu-blas": im2col + OpenBLAS + OpenMP) and the CUDA engine ("cuda")
   implement the same table; tests run each against "ref".

   Conventions (llm.c's): outputs first, then inputs, then sizes. Pointers are backend memory
   (host for the CPU backends, device for CUDA). All tensors are NCHW float32 unless said.
   Backward functions ACCUMULATE into input gradients (din += ...), because a node's output may
   feed several consumers; they OVERWRITE parameter gradients (dw = ...), because each
   parameter belongs to exactly one node. A NULL gradient pointer means "not needed". */
#ifndef NASH_BACKEND_H
#define NASH_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "base/sample.h"
#include "base/err.h"

typedef struct Backend Backend;

/* How a context is set up. The tools fill it from their options (and the environment: the
   NASH_* variables of docs/GPU.md, read by tools/cli.c); the library never reads the
   environment itself. Each backend reads the fields it knows and ignores the others. */
typedef struct BackendOpts {
	int threads;     /* CPU threads (OpenMP); 0 = library default */
	int gpu;         /* CUDA: device index among the visible ones */
	int tf32;        /* CUDA: TF32 tensor-core math allowed for convolutions and dense layers */
	int cudnn_find;  /* CUDA: timed cudnnFind* (1) or cuDNN's heuristics, cudnnGet*_v7 (0) */
	int cudnn_ws_mb; /* CUDA: largest cuDNN workspace (MiB) a chosen algorithm may need */
} BackendOpts;

/* The defaults; `BackendOpts o = BACKEND_OPTS_DEFAULT;` */
#define BACKEND_OPTS_DEFAULT {.threads = 0, .gpu = 0, .tf32 = 0, .cudnn_find = 1, .cudnn_ws_mb = 256}

typedef struct Ctx {
	const Backend *be;
	BackendOpts opts;    /* read by init (and, for threads, by every CPU op) */
	float *workspace;    /* backend memory for scratch, sized by the engine from *_workspace */
	size_t workspace_floats;
	void *impl;          /* backend-private state (CUDA stream, cuDNN/cuBLAS handles, caches) */
} Ctx;

struct Backend {
	const char *name;
	int (*init)(Ctx *ctx, NashErr *err); /* fills ctx->impl; may be NULL */
	void (*fini)(Ctx *ctx);

	/* memory: alloc returns NULL and sets err (NASH_ERR_OOM) on failure */
	void *(*alloc)(Ctx *ctx, size_t bytes, NashErr *err);
	void (*free)(Ctx *ctx, void *p);
	void (*upload)(Ctx *ctx, void *dst, const void *host_src, size_t bytes);
	void (*download)(Ctx *ctx, void *host_dst, const void *src, size_t bytes);
	void (*zero)(Ctx *ctx, void *p, size_t bytes);
	int (*sync)(Ctx *ctx, NashErr *err); /* waits for queued work; reports deferred errors */
	/* Bytes of backend memory the backend holds itself, besides what went through alloc
	   (the CUDA engine's own cuDNN workspace and reduction scratch); may be NULL: none. */
	size_t (*private_bytes)(const Ctx *ctx);
	/* The device in words into buf[n] (the GPU's name and index); may be NULL: "CPU". */
	void (*describe)(const Ctx *ctx, char *buf, size_t n);

	/* Scratch floats needed by conv_forward/conv_backward for this shape. */
	size_t (*conv_workspace)(Ctx *ctx, int N, int C, int H, int W, int K, int ks);

	/* conv: out[N,K,H,W] = in[N,C,H,W] (*) w[K,C,ks,ks] + b[K]; stride 1, pad ks/2; b may be NULL */
	void (*conv_forward)(Ctx *ctx, float *out, const float *in, const float *w, const float *b,
			     int N, int C, int H, int W, int K, int ks);
	/* din[N,C,H,W] += ..., dw[K,C,ks,ks] = ..., db[K] = ... (din, db may be NULL) */
	void (*conv_backward)(Ctx *ctx, float *din, float *dw, float *db, const float *dout,
			      const float *in, const float *w, int N, int C, int H, int W, int K, int ks);

	/* batch-norm, train mode: normalise with batch statistics (biased variance), save them as
	   mean[C] and invstd[C] = 1/sqrt(var+eps), update running stats with momentum m:
	   running = (1-m)*running + m*batch (running_var uses the unbiased variance). */
	void (*bn_forward_train)(Ctx *ctx, float *out, float *mean, float *invstd,
				 float *running_mean, float *running_var, const float *in,
				 const float *gamma, const float *beta, int N, int C, int HW,
				 float momentum, float eps);
	void (*bn_forward_eval)(Ctx *ctx, float *out, const float *in, const float *gamma,
				const float *beta, const float *running_mean, const float *running_var,
				int N, int C, int HW, float eps);
	/* din += ..., dgamma[C] = ..., dbeta[C] = ... (train-mode backward, batch statistics) */
	void (*bn_backward)(Ctx *ctx, float *din, float *dgamma, float *dbeta, const float *dout,
			    const float *in, const float *mean, const float *invstd, const float *gamma,
			    int N, int C, int HW);

	void (*relu_forward)(Ctx *ctx, float *out, const float *in, size_t n);
	/* din += dout * (out > 0) */
	void (*relu_backward)(Ctx *ctx, float *din, const float *dout, const float *out, size_t n);

	/* out[N,C,H/k,W/k] (floor) = max over k x k windows, stride k */
	void (*maxpool_forward)(Ctx *ctx, float *out, const float *in, int N, int C, int H, int W, int k);
	/* din += dout routed to the first maximum of each window */
	void (*maxpool_backward)(Ctx *ctx, float *din, const float *dout, const float *in,
				 int N, int C, int H, int W, int k);

	/* out[N,C,HW] = lambda[c]*a + (1-lambda[c])*b per channel c; lambda [C] in backend memory */
	void (*add_forward)(Ctx *ctx, float *out, const float *a, const float *b, const float *lambda,
			    int N, int C, int HW);
	/* da += lambda[c]*dout, db += (1-lambda[c])*dout, dlambda[c] = sum over n, q of
	   dout*(a-b); da, db and dlambda may be NULL, da and db the same buffer */
	void (*add_backward)(Ctx *ctx, float *da, float *db, float *dlambda, const float *dout,
			     const float *a, const float *b, const float *lambda, int N, int C, int HW);

	/* concat: copies in[N,Cin,HW] into channels [offset, offset+Cin) of out[N,Cout,HW] */
	void (*concat_forward)(Ctx *ctx, float *out, const float *in, int N, int Cin, int Cout, int offset, int HW);
	/* din[N,Cin,HW] += dout[N, offset.., HW] */
	void (*concat_backward)(Ctx *ctx, float *din, const float *dout, int N, int Cin, int Cout, int offset, int HW);

	/* global average pool: out[N,C] = mean over HW */
	void (*gap_forward)(Ctx *ctx, float *out, const float *in, int N, int C, int HW);
	void (*gap_backward)(Ctx *ctx, float *din, const float *dout, int N, int C, int HW);

	/* dense: out[N,O] = in[N,I] w[O,I]^T + b[O]; b may be NULL */
	void (*dense_forward)(Ctx *ctx, float *out, const float *in, const float *w, const float *b, int N, int I, int O);
	/* din[N,I] += dout w, dw[O,I] = dout^T in, db[O] = sum_n dout */
	void (*dense_backward)(Ctx *ctx, float *din, float *dw, float *db, const float *dout,
			       const float *in, const float *w, int N, int I, int O);

	/* Softmax cross-entropy against the label-smoothed target q = (1-smoothing) onehot +
	   smoothing/K (0 <= smoothing < 1; 0: the plain one-hot loss, to the bit), mean over the
	   batch: loss = logsumexp(logits) - sum_k q_k logits_k. dlogits[N,K] = (softmax - q)/N
	   (may be NULL: evaluation). stats[0] += summed loss, stats[1] += number correct (argmax,
	   first maximum wins), stats[2] += N; stats live in backend memory so a step needs no sync. */
	void (*softmax_xent)(Ctx *ctx, float *dlogits, float *stats, const float *logits,
			     const int32_t *labels, int N, int K, float smoothing);

	/* SGD with momentum mu, weight decay wd, Nesterov when nesterov != 0 (PyTorch's rule):
	   g = grad + wd*p; v = mu*v + g; p -= lr * (nesterov ? g + mu*v : v) */
	void (*sgd_update)(Ctx *ctx, float *p, float *v, const float *grad, size_t n,
			   float lr, float mu, float wd, int nesterov);

	/* Exponential moving average of weights (nash-train --ema): avg = decay*avg + (1-decay)*p
	   elementwise, 0 <= decay < 1; decay 0 copies p exactly. */
	void (*ema_update)(Ctx *ctx, float *avg, const float *p, size_t n, float decay);

	/* Builds a normalised, augmented batch from uint8 images in backend memory.
	   x[n,c,h,w], y[n]; samples in backend memory; mean/std are c floats in host memory. */
	void (*make_batch)(Ctx *ctx, float *x, int32_t *y, const uint8_t *images, const uint8_t *labels,
			   const Sample *samples, int n, int c, int h, int w, const float *mean, const float *std);
};

extern const Backend nash_backend_ref;    /* plain loops, the oracle */
extern const Backend nash_backend_onednn; /* oneDNN convolutions, OpenMP loops: "cpu" */
extern const Backend nash_backend_onednn_bf16; /* the same, bfloat16 conv inputs: "cpu-bf16" */
extern const Backend nash_backend_blas;    /* im2col + OpenBLAS + OpenMP: "cpu-blas" */
const Backend *nash_backend_cuda(void); /* NULL when built without CUDA */

/* Picks a backend by name: "ref", "cpu" (oneDNN), "cpu-bf16", "cpu-blas", "cuda", "auto" (cuda
   when a GPU is visible, else cpu). */
const Backend *backend_find(const char *name, NashErr *err);

/* The context's device in words, for the training record: "CPU, 2 threads" (the threads the
   CPU engines run), or for CUDA the GPU's name and index among the visible ones
   ("NVIDIA H200, GPU 0 of 1, 139.8 GiB"). */
void backend_describe(const Ctx *ctx, char *buf, size_t n);

#endif
