/* Helpers shared by the compute-backend tests (test_ops_backends.c, test_ops_threads.c,
   test_ops_grad.c, tests/gpu/test_gpu_ops.c): host buffers and NaN-poisoned, guard-byte-fenced
   backend buffers freed together, and what one run of an op case gives (Outs, with each
   output's tolerance class). The cases themselves are in op_cases.h. Header-only: each test
   program is one file, and static inline keeps a helper that a program does not use from
   warning. */
#ifndef NASH_OPS_COMMON_H
#define NASH_OPS_COMMON_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "check.h"
#include "base/rng.h"

/* ---- host and backend buffers, freed together ---- */

typedef struct Pool {
	Ctx *ctx; /* NULL: host only */
	int n_host, n_dev;
	void *host[64], *dev[64];
	size_t dev_bytes[64]; /* each followed by GUARD bytes of 0xa5 that no op may touch */
} Pool;

#define GUARD 64

/* bytes of zeroed host memory */
static inline void *hnew(Pool *P, size_t bytes)
{
	void *p = calloc(bytes ? bytes : 1, 1);
	if (!p || P->n_host == 64)
		abort();
	return P->host[P->n_host++] = p;
}

/* n floats of mean 0 and standard deviation scale from r: uniform in [-a, a) (variance
   a^2/3), two from each 64-bit draw (rng_normal's logarithm and cosine would take most of a
   large case's time) */
static inline float *hrand(Pool *P, Rng *r, size_t n, double scale)
{
	float *p = hnew(P, n * sizeof *p);
	double a = scale * 1.7320508075688772 / 2147483648.0;
	for (size_t i = 0; i < n; i += 2) {
		uint64_t u = rng_u64(r);
		p[i] = (float)(a * (double)(int32_t)(uint32_t)u);
		if (i + 1 < n)
			p[i + 1] = (float)(a * (double)(int32_t)(uint32_t)(u >> 32));
	}
	return p;
}

static inline float *hcopy(Pool *P, const float *src, size_t n)
{
	float *p = hnew(P, n * sizeof *p);
	memcpy(p, src, n * sizeof *p);
	return p;
}

/* bytes of backend memory holding host[bytes] (uninitialised when host is NULL) */
static inline void *dput(Pool *P, const void *host, size_t bytes)
{
	NashErr err = {0};
	unsigned char guard[GUARD];
	char *p = P->ctx->be->alloc(P->ctx, bytes + GUARD, &err);
	if (!p || P->n_dev == 64) {
		printf("# alloc of %zu bytes failed: %s\n", bytes, err.msg);
		abort();
	}
	if (host && bytes)
		P->ctx->be->upload(P->ctx, p, host, bytes);
	memset(guard, 0xa5, GUARD);
	P->ctx->be->upload(P->ctx, p + bytes, guard, GUARD);
	P->dev_bytes[P->n_dev] = bytes;
	return P->dev[P->n_dev++] = p;
}

/* n floats of backend memory, every one NaN: an output the op must overwrite */
static inline float *dnan(Pool *P, size_t n)
{
	float *h = hnew(P, n * sizeof *h);
	for (size_t i = 0; i < n; i++)
		h[i] = NAN;
	return dput(P, h, n * sizeof *h);
}

/* n floats of backend memory, hrand's; *host (when not NULL): their host copy */
static inline float *drand(Pool *P, Rng *r, size_t n, double scale, float **host)
{
	float *h = hrand(P, r, n, scale);
	if (host)
		*host = h;
	return dput(P, h, n * sizeof *h);
}

/* Frees everything; fails the test if an op wrote past the end of a backend buffer. */
static inline void pool_free(Pool *P)
{
	for (int i = 0; i < P->n_host; i++)
		free(P->host[i]);
	for (int i = 0; i < P->n_dev; i++) {
		unsigned char g[GUARD];
		P->ctx->be->download(P->ctx, g, (char *)P->dev[i] + P->dev_bytes[i], GUARD);
		int bad = 0;
		for (int j = 0; j < GUARD; j++)
			bad += g[j] != 0xa5;
		CHECKF(!bad, "%s: a write past the end of a %zu-byte buffer", P->ctx->be->name,
		       P->dev_bytes[i]);
		P->ctx->be->free(P->ctx, P->dev[i]);
	}
	P->n_host = P->n_dev = 0;
}

/* ---- what one run of an op case gives ---- */

/* How far an output may be from the reference's, by what computes it. Each test program maps
   a class to its own tolerances (test_ops_backends.c for the CPU engines, test_gpu_ops.c for
   CUDA, with why); test_ops_threads.c compares bits whatever the class. */
enum Tol {
	T_BITS,      /* not floats (labels, bytes) or counts: memcmp */
	T_EXACT,     /* a selection among the inputs (max-pool's maximum, ema_update's decay 0) */
	T_MOVE,      /* copies and masks: relu, max-pool's gradient, concat, the batch builder */
	T_ELEM,      /* a few roundings: add, gap, sgd, ema_update */
	T_XENT,      /* softmax cross-entropy's gradient (an exp and a sum over K) */
	T_STATS,     /* its statistics: summed loss (a sum over N; NaN for NaN), exact counts */
	T_REDUCE,    /* sums over the batch: batch-norm (train), dlambda, dense's bias gradient */
	T_BN_EVAL,   /* batch-norm with the running statistics */
	T_DENSE,     /* dense: GEMMs */
	T_CONV,      /* convolutions: GEMMs, Winograd or FFT */
	T_CONV_BIAS, /* a convolution's bias gradient: a sum over N*H*W */
	N_TOL
};

#define MAX_OUTS 16
typedef struct Out {
	char name[40];
	int tol;    /* enum Tol */
	void *data; /* host copy, owned */
	size_t n;   /* floats; bytes when tol is T_BITS */
} Out;

typedef struct Outs {
	int n;
	Out o[MAX_OUTS];
} Outs;

/* Copies n floats (bytes for T_BITS) of backend memory dev into o, after checking that
   everything queued so far succeeded. */
static inline void outs_add(Outs *o, Ctx *ctx, const char *name, int tol, const void *dev, size_t n)
{
	NashErr err = {0};
	size_t bytes = tol == T_BITS ? n : n * sizeof(float);
	CHECKF(ctx->be->sync(ctx, &err) == 0, "%s %s: sync (a deferred error): %s", ctx->be->name,
	       name, err.msg);
	void *h = malloc(bytes ? bytes : 1);
	if (!h || o->n == MAX_OUTS)
		abort();
	ctx->be->download(ctx, h, dev, bytes);
	Out *out = &o->o[o->n++];
	snprintf(out->name, sizeof out->name, "%s", name);
	out->tol = tol;
	out->data = h;
	out->n = n;
}

static inline void outs_free(Outs *o)
{
	for (int i = 0; i < o->n; i++)
		free(o->o[i].data);
	o->n = 0;
}

/* ---- op cases (the table is op_cases.h) ---- */

/* A case's variants; an op reads those it knows (op_run.h and op_grad.h say which). */
enum {
	F_BIAS = 1 << 0,       /* conv, dense: with a bias */
	F_NO_DIN = 1 << 1,     /* conv, dense: din NULL (the buffer must stay as it was) */
	F_NO_WS = 1 << 2,      /* conv: no workspace (a shape the engine never announced) */
	F_SAME = 1 << 3,       /* add: da and db one buffer */
	F_SELF = 1 << 4,       /* add: a node added to itself (a and b one input too) */
	F_NO_DB = 1 << 5,      /* add: db NULL */
	F_NO_DLAMBDA = 1 << 6, /* add: dlambda NULL */
	F_BAD_LABEL = 1 << 7,  /* softmax_xent: the last label out of range (NaN loss) */
};
#define FLAG_NAMES {"bias", "din NULL", "no workspace", "da=db", "added to itself", "db NULL", \
		    "dlambda NULL", "bad label"}

typedef struct OpCase {
	int op;       /* index into ops[] */
	int s[6];     /* the shape, as the op's dims name it */
	unsigned flags;
} OpCase;

typedef struct Op {
	const char *name;
	const char *dims[6]; /* what s[] holds, in order */
	/* about the multiply-adds of one forward pass: which modes can afford the case */
	double (*cost)(const int *s);
	/* runs the case on ctx's backend, inputs from r, outputs into o */
	void (*run)(Ctx *ctx, const OpCase *c, Rng *r, Outs *o);
	/* the double reference's gradients against finite differences (name: the case's, for
	   messages); NULL: the op has none */
	void (*fd)(const OpCase *c, const char *name, Rng *r);
	/* the largest cost its finite differences stay within their tolerance at, when less
	   than op_cases.h's FD_MAX_COST (0: that) */
	double fd_max_cost;
} Op;

#endif
