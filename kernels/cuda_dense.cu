/* Dense layers through cuBLAS (column-major) on row-major tensors. A row-major [R, C] matrix is
   the column-major [C, R] matrix with leading dimension C, so with in[N, I], w[O, I] and
   out[N, O] row-major:
     out^T[O, N]  = (w as [I, O])^T (in as [I, N])          sgemm(T, N, m=O, n=N, k=I)
     din^T[I, N] += (w as [I, O])   (dout as [O, N])        sgemm(N, N, m=I, n=N, k=O), beta 1
     dw^T[I, O]   = (in as [I, N])  (dout as [O, N])^T      sgemm(N, T, m=I, n=O, k=N), beta 0
   Biases and the bias gradient are own kernels (db: one thread per output, double sums). */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "cuda_impl.h"

int cuda_blas_load(CudaImpl *im, NashErr *err)
{
	char name[64];
	snprintf(name, sizeof name, "libcublas.so.%d", CUBLAS_VER_MAJOR); /* the major we compiled against */
	CublasApi *cb = &im->cb;
	memset(cb, 0, sizeof *cb);
	cb->lib = dlopen(name, RTLD_NOW | RTLD_LOCAL);
	if (!cb->lib) {
		const char *e = dlerror();
		return nash_err(err, NASH_ERR_RUNTIME, "cannot load cuBLAS: %s", e ? e : name);
	}
	/* dlsym returns void *; the casts go to the exact prototype types. */
#define SYM(field, symbol)                                                    \
	if (!(cb->field = (decltype(cb->field))dlsym(cb->lib, symbol))) { \
		nash_err(err, NASH_ERR_RUNTIME, "%s: no symbol %s", name, symbol); \
		cuda_blas_unload(im);                                         \
		return -1;                                                    \
	}
	SYM(create, "cublasCreate_v2")
	SYM(destroy, "cublasDestroy_v2")
	SYM(set_stream, "cublasSetStream_v2")
	SYM(set_math_mode, "cublasSetMathMode")
	SYM(sgemm, "cublasSgemm_v2")
	SYM(status_string, "cublasGetStatusString")
	SYM(status_name, "cublasGetStatusName")
#undef SYM
	return 0;
}

void cuda_blas_unload(CudaImpl *im)
{
	if (im->cb.lib)
		(void)dlclose(im->cb.lib);
	memset(&im->cb, 0, sizeof im->cb);
}

void cuda_dense_forward(Ctx *ctx, float *out, const float *in, const float *w, const float *b, int N, int I,
			int O)
{
	CudaImpl *im = cuda_impl(ctx);
	if (im->failed || N <= 0 || O <= 0)
		return;
	const float one = 1.0f, zero = 0.0f;
	if (I <= 0) { /* an empty sum: out = b (or 0) */
		if (CU(im, cudaMemsetAsync(out, 0, (size_t)N * O * sizeof(float), im->stream)) && b)
			cuda_add_bias(im, out, b, N, O, 1);
		return;
	}
	if (!BLAS(im, im->cb.sgemm(im->blas, CUBLAS_OP_T, CUBLAS_OP_N, O, N, I, &one, w, I, in, I, &zero, out, O)))
		return;
	if (b)
		cuda_add_bias(im, out, b, N, O, 1);
}

__global__ static void dense_bias_grad_kernel(float *db, const float *dout, int N, int O)
{
	int o = blockIdx.x * blockDim.x + threadIdx.x;
	if (o >= O)
		return;
	double s = 0;
	for (int n = 0; n < N; n++)
		s += dout[(size_t)n * O + o];
	db[o] = (float)s;
}

void cuda_dense_backward(Ctx *ctx, float *din, float *dw, float *db, const float *dout, const float *in,
			 const float *w, int N, int I, int O)
{
	CudaImpl *im = cuda_impl(ctx);
	if (im->failed || O <= 0 || I < 0 || N < 0)
		return;
	const float one = 1.0f, zero = 0.0f;
	if (N == 0) { /* empty sums: the overwritten gradients are zero, din is unchanged */
		if (dw && I > 0)
			CU(im, cudaMemsetAsync(dw, 0, (size_t)O * I * sizeof(float), im->stream));
		if (db)
			CU(im, cudaMemsetAsync(db, 0, (size_t)O * sizeof(float), im->stream));
		return;
	}
	if (db) {
		dense_bias_grad_kernel<<<cuda_blocks((size_t)O), NASH_THREADS, 0, im->stream>>>(db, dout, N, O);
		if (!LAUNCHED(im))
			return;
	}
	if (I == 0)
		return;
	if (dw && !BLAS(im, im->cb.sgemm(im->blas, CUBLAS_OP_N, CUBLAS_OP_T, I, O, N, &one, in, I, dout, O, &zero, dw, I)))
		return;
	if (din)
		BLAS(im, im->cb.sgemm(im->blas, CUBLAS_OP_N, CUBLAS_OP_N, I, N, O, &one, w, I, dout, O, &one, din, I));
}
