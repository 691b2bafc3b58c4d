/* Backend selection by name (the tools' --device). */
#include <omp.h>
#include <stdio.h>
#include <string.h>

#include "backend/backend.h"

/* The binaries for a GPU machine (kernels/cuda.mk, `make device`) are built without oneDNN:
   Debian has no static libdnnl and the GPU machine no shared one. There "cpu" is the im2col +
   OpenBLAS engine and "cpu-bf16" does not exist. */
#ifdef NASH_NO_ONEDNN
#define CPU_DEFAULT (&nash_backend_blas)
#else
#define CPU_DEFAULT (&nash_backend_onednn)
#endif

#ifndef NASH_HAVE_CUDA
/* Built without CUDA: there is no CUDA backend. A CUDA build (kernels/cuda.mk) defines
   NASH_HAVE_CUDA and provides the real one. */
const Backend *nash_backend_cuda(void) { return NULL; }
#endif

/* Errors for "cuda" when nash_backend_cuda() is NULL: in a build without CUDA a usage error
   (exit 2): the command line asks for what this nash can never do. In a CUDA build on a
   machine without a visible GPU a runtime error (exit 1): the same command works elsewhere.
   "auto" (and NULL) takes CUDA exactly when nash_backend_cuda() offers it, i.e. a GPU is
   visible, else the default CPU engine (oneDNN). */
const Backend *backend_find(const char *name, NashErr *err)
{
	if (!name || !strcmp(name, "auto")) {
		const Backend *cuda = nash_backend_cuda();
		return cuda ? cuda : CPU_DEFAULT;
	}
	if (!strcmp(name, "cpu"))
		return CPU_DEFAULT;
	if (!strcmp(name, "cpu-bf16")) {
#ifdef NASH_NO_ONEDNN
		nash_err(err, NASH_ERR_USAGE, "--device cpu-bf16: this nash was built without oneDNN");
		return NULL;
#else
		return &nash_backend_onednn_bf16;
#endif
	}
	if (!strcmp(name, "cpu-blas"))
		return &nash_backend_blas;
	if (!strcmp(name, "ref"))
		return &nash_backend_ref;
	if (!strcmp(name, "cuda")) {
		const Backend *cuda = nash_backend_cuda();
		if (cuda)
			return cuda;
#ifdef NASH_HAVE_CUDA
		nash_err(err, NASH_ERR_RUNTIME, "--device cuda: no GPU visible to this process");
#else
		nash_err(err, NASH_ERR_USAGE, "--device cuda: this nash was built without CUDA");
#endif
		return NULL;
	}
	nash_err(err, NASH_ERR_USAGE, "--device %s: unknown device (choose auto, cpu, cpu-bf16, cpu-blas, cuda or ref)",
		 name);
	return NULL;
}

void backend_describe(const Ctx *ctx, char *buf, size_t n)
{
	if (!n)
		return;
	buf[0] = '\0';
	if (ctx->be && ctx->be->describe)
		ctx->be->describe(ctx, buf, n);
	if (buf[0])
		return;
	if (ctx->be && ctx->be->describe) {
		snprintf(buf, n, "GPU");
		return;
	}
	/* The thread count too: the default engine's (oneDNN's) results depend on it in the last
	   bits (docs/DESIGN.md, "Determinism"), so a training's record says it. */
	int t = ctx->opts.threads > 0 ? ctx->opts.threads : omp_get_max_threads();
	snprintf(buf, n, "CPU, %d thread%s", t, t == 1 ? "" : "s");
}
