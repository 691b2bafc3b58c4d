/* Backend selection by name (the tools' --device). */
#include <omp.h>
#include <stdio.h>
#include <string.h>

#include "backend/backend.h"

/* The fast engines live in libnash-engines (lib/backend/blas, lib/backend/onednn, kernels/),
   which only the programs that train link: libnash refers to them weakly, so a program without
   them starts without loading OpenBLAS, oneDNN or CUDA, and sees their addresses as NULL. */
#pragma weak nash_backend_blas
#pragma weak nash_backend_onednn
#pragma weak nash_backend_onednn_bf16

/* The binaries for a GPU machine (kernels/cuda.mk, `make device`) are built without oneDNN:
   Debian has no static libdnnl and the GPU machine no shared one. There "cpu" is the im2col +
   OpenBLAS engine and "cpu-bf16" does not exist. */
#ifdef NASH_NO_ONEDNN
#define CPU_DEFAULT (&nash_backend_blas)
#else
#define CPU_DEFAULT (&nash_backend_onednn)
#endif

#ifdef NASH_HAVE_CUDA
#pragma weak nash_backend_cuda
#else
/* Built without CUDA: there is no CUDA backend. A CUDA build (kernels/cuda.mk) defines
   NASH_HAVE_CUDA and provides the real one. */
const Backend *nash_backend_cuda(void) { return NULL; }
#endif

/* The CUDA backend when a GPU is visible; NULL without one, in a build without CUDA, and in a
   program linked without the engines. */
static const Backend *cuda_backend(void)
{
#ifdef NASH_HAVE_CUDA
	return nash_backend_cuda ? nash_backend_cuda() : NULL;
#else
	return nash_backend_cuda();
#endif
}

/* An engine of libnash-engines, or an error when the program was linked without them. */
static const Backend *engine(const Backend *be, const char *name, NashErr *err)
{
	if (!be)
		nash_err(err, NASH_ERR_RUNTIME,
			 "--device %s: this program is linked without the engines (libnash-engines)", name);
	return be;
}

const Backend *backend_find(const char *name, NashErr *err)
{
	if (!name || !strcmp(name, "auto")) {
		const Backend *cuda = cuda_backend();
		return cuda ? cuda : engine(CPU_DEFAULT, "auto", err);
	}
	if (!strcmp(name, "cpu"))
		return engine(CPU_DEFAULT, name, err);
	if (!strcmp(name, "cpu-bf16")) {
#ifdef NASH_NO_ONEDNN
		nash_err(err, NASH_ERR_USAGE, "--device cpu-bf16: this nash was built without oneDNN");
		return NULL;
#else
		return engine(&nash_backend_onednn_bf16, name, err);
#endif
	}
	if (!strcmp(name, "cpu-blas"))
		return engine(&nash_backend_blas, name, err);
	if (!strcmp(name, "ref"))
		return &nash_backend_ref;
	if (!strcmp(name, "cuda")) {
		const Backend *cuda = cuda_backend();
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
