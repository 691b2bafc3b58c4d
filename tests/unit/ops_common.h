/* Helpers shared by the compute-backend tests (test_ops_grad.c, test_ops_backends.c): host
   buffers and NaN-poisoned, guard-byte-fenced backend buffers freed together, and the
   comparison of a backend's result with the reference. Header-only: each test program is
   one file, and static inline keeps a helper that a program does not use from warning. */
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

/* The test program's random stream, seeded by its main(). */
static Rng rng;

/* ---- host and backend buffers, freed together ---- */

typedef struct Pool {
	Ctx *ctx; /* NULL: host only */
	int n_host, n_dev;
	void *host[64], *dev[64];
	size_t dev_bytes[64]; /* each followed by GUARD bytes of 0xa5 that no op may touch */
} Pool;

#define GUARD 64

static inline void *hnew(Pool *P, size_t bytes)
{
	void *p = calloc(bytes ? bytes : 1, 1);
	if (!p || P->n_host == 64)
		abort();
	return P->host[P->n_host++] = p;
}

/* n floats, normal(0, scale) */
static inline float *hrand(Pool *P, size_t n, double scale)
{
	float *p = hnew(P, n * sizeof *p);
	for (size_t i = 0; i < n; i++)
		p[i] = (float)(scale * rng_normal(&rng));
	return p;
}

static inline float *hcopy(Pool *P, const float *src, size_t n)
{
	float *p = hnew(P, n * sizeof *p);
	memcpy(p, src, n * sizeof *p);
	return p;
}

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

/* The largest error seen by expect() as a fraction of its tolerance, and where (the tests
   print it per backend: how close each comes to failing). */
static double worst_frac, worst_conv_frac; /* over all comparisons; over convolutions' */
static char worst_where[192], worst_conv_where[192];

/* Backend result dev[n] against the reference want[n]: |got-want| <= atol*max(1, rms(want))
   + rtol*|want|. The absolute part scales with the typical magnitude because float rounding
   errors of a sum grow with the sum's magnitude, not with each (possibly tiny) element. */
static inline void expect(Pool *P, const char *what, const float *dev, const float *want,
			  size_t n, double atol, double rtol)
{
	NashErr err = {0};
	CHECKF(P->ctx->be->sync(P->ctx, &err) == 0, "%s: sync: %s", what, err.msg);
	float *got = hnew(P, n * sizeof *got);
	P->ctx->be->download(P->ctx, got, dev, n * sizeof *got);
	double ss = 0;
	for (size_t i = 0; i < n; i++)
		ss += (double)want[i] * want[i];
	double rms = n ? sqrt(ss / n) : 0, worst;
	double abs_tol = atol * (rms > 1 ? rms : 1);
	long i = check_arrays_close(got, want, n, abs_tol, rtol, &worst);
	for (size_t k = 0; k < n; k++) {
		double lim = abs_tol + rtol * fabs((double)want[k]);
		double frac = lim > 0 ? fabs((double)got[k] - want[k]) / lim : 0;
		int conv = strstr(what, " conv ") != NULL;
		if (frac > worst_frac || (conv && frac > worst_conv_frac)) {
			char *where = frac > worst_frac ? worst_where : worst_conv_where;
			snprintf(where, sizeof worst_where, "%s: element %zu: got %.9g, want %.9g", what,
				 k, got[k], want[k]);
			if (conv && frac > worst_conv_frac) {
				if (where == worst_where)
					memcpy(worst_conv_where, worst_where, sizeof worst_where);
				worst_conv_frac = frac;
			}
			if (frac > worst_frac)
				worst_frac = frac;
		}
	}
	CHECKF(i < 0, "%s: element %ld of %zu: got %.9g, want %.9g", what, i, n, i < 0 ? 0 : got[i],
	       i < 0 ? 0 : want[i]);
}

#endif
