/* Batch-norm and per-channel reductions: own kernels rather than cuDNN's batch-norm, which is
   deprecated in cuDNN 9, insists on eps >= 1e-5 and always writes dx (our din may be NULL).
   Reductions accumulate in double, as the reference does, in a fixed order (block partials,
   then one thread per channel), so results are deterministic run to run.

   Per channel c of an NCHW tensor the elements are x[(n*C + c)*HW + q]. A reduction runs
   C x S blocks: block (c, s) sums images [s*npc, (s+1)*npc) of channel c into
   partial[s, c, 0..1]; a finalize kernel (one thread per channel) adds the S partials. */
#include "cuda_impl.h"

/* RED_SUM:    s1 = sum g
   RED_STATS:  s1 = sum (x - x0), s2 = sum (x - x0)^2 with x0 = the channel's first element
               (shifted sums keep E[x^2] - E[x]^2 from cancelling when |mean| >> std)
   RED_BN_BWD: s1 = sum g, s2 = sum g * (x - mean) * invstd
   RED_DIFF:   s1 = sum g * (x - y) */
template <int MODE>
__global__ static void channel_partials_kernel(double *partial, const float *x, const float *y, const float *g,
					       const float *mean, const float *invstd, int N, int C, int HW,
					       int npc)
{
	__shared__ double sh[32];
	const int c = blockIdx.x, s = blockIdx.y;
	const int n0 = s * npc, n1 = min(N, n0 + npc);
	const long long cnt = (long long)(n1 - n0) * HW;
	double s1 = 0, s2 = 0, shift = 0, m = 0, is = 0;
	if (MODE == RED_STATS)
		shift = x[(size_t)c * HW];
	if (MODE == RED_BN_BWD) {
		m = mean[c];
		is = invstd[c];
	}
	for (long long i = threadIdx.x; i < cnt; i += blockDim.x) {
		long long n = n0 + i / HW, q = i % HW;
		size_t o = ((size_t)n * C + c) * HW + q;
		if (MODE == RED_SUM) {
			s1 += g[o];
		} else if (MODE == RED_STATS) {
			double d = (double)x[o] - shift;
			s1 += d;
			s2 += d * d;
		} else if (MODE == RED_DIFF) {
			s1 += (double)g[o] * ((double)x[o] - (double)y[o]);
		} else {
			double gg = g[o];
			s1 += gg;
			s2 += gg * (((double)x[o] - m) * is);
		}
	}
	s1 = block_sum(s1, sh);
	s2 = block_sum(s2, sh);
	if (threadIdx.x == 0) {
		partial[((size_t)s * C + c) * 2] = s1;
		partial[((size_t)s * C + c) * 2 + 1] = s2;
	}
}

/* S chunks per channel: about 1024 blocks in all, each with at least ~2048 elements. */
static void chunking(int N, int C, int HW, int *S, int *npc)
{
	long long s = 1024 / C, by_work = (long long)N * HW / 2048;
	if (s > by_work)
		s = by_work;
	if (s > N)
		s = N;
	if (s < 1)
		s = 1;
	*npc = (int)((N + s - 1) / s);
	*S = (N + *npc - 1) / *npc; /* no empty chunk */
}

int cuda_channel_partials(CudaImpl *im, ChannelPartials *cp, float **extra, size_t extra_floats, int mode,
			  const float *x, const float *y, const float *g, const float *mean, const float *invstd,
			  int N, int C, int HW)
{
	chunking(N, C, HW, &cp->S, &cp->n_per_chunk);
	size_t pbytes = (size_t)cp->S * C * 2 * sizeof(double), off = (pbytes + 255) / 256 * 256;
	char *buf = (char *)cuda_scratch(im, off + extra_floats * sizeof(float));
	if (!buf)
		return 0;
	cp->partial = (double *)buf;
	if (extra)
		*extra = (float *)(buf + off);
	dim3 grid((unsigned)C, (unsigned)cp->S);
	if (mode == RED_SUM)
		channel_partials_kernel<RED_SUM><<<grid, NASH_THREADS, 0, im->stream>>>(cp->partial, x, y, g, mean,
											invstd, N, C, HW, cp->n_per_chunk);
	else if (mode == RED_STATS)
		channel_partials_kernel<RED_STATS><<<grid, NASH_THREADS, 0, im->stream>>>(cp->partial, x, y, g, mean,
											  invstd, N, C, HW, cp->n_per_chunk);
	else if (mode == RED_DIFF)
		channel_partials_kernel<RED_DIFF><<<grid, NASH_THREADS, 0, im->stream>>>(cp->partial, x, y, g, mean,
											 invstd, N, C, HW, cp->n_per_chunk);
	else
		channel_partials_kernel<RED_BN_BWD><<<grid, NASH_THREADS, 0, im->stream>>>(
			cp->partial, x, y, g, mean, invstd, N, C, HW, cp->n_per_chunk);
	return LAUNCHED(im);
}

__global__ static void channel_sum_finalize(float *db, const double *partial, int S, int C)
{
	int c = blockIdx.x * blockDim.x + threadIdx.x;
	if (c >= C)
		return;
	double s = 0;
	for (int k = 0; k < S; k++)
		s += partial[((size_t)k * C + c) * 2];
	db[c] = (float)s;
}

void cuda_channel_sum(CudaImpl *im, float *db, const float *dout, int N, int C, int HW)
{
	if (im->failed || (size_t)N * C * HW == 0)
		return;
	ChannelPartials cp;
	if (!cuda_channel_partials(im, &cp, NULL, 0, RED_SUM, NULL, NULL, dout, NULL, NULL, N, C, HW))
		return;
	channel_sum_finalize<<<cuda_blocks((size_t)C), NASH_THREADS, 0, im->stream>>>(db, cp.partial, cp.S, C);
	LAUNCHED(im);
}

void cuda_channel_diff_sum(CudaImpl *im, float *dst, const float *g, const float *x, const float *y, int N, int C,
			   int HW)
{
	if (im->failed)
		return;
	if ((size_t)N * C * HW == 0) {
		if (C > 0)
			CU(im, cudaMemsetAsync(dst, 0, (size_t)C * sizeof(float), im->stream));
		return;
	}
	ChannelPartials cp;
	if (!cuda_channel_partials(im, &cp, NULL, 0, RED_DIFF, x, y, g, NULL, NULL, N, C, HW))
		return;
	channel_sum_finalize<<<cuda_blocks((size_t)C), NASH_THREADS, 0, im->stream>>>(dst, cp.partial, cp.S, C);
	LAUNCHED(im);
}

__global__ static void add_bias_kernel(float *out, const float *b, int C, int Q, size_t total)
{
	for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x)
		out[i] += b[(i / Q) % C];
}

void cuda_add_bias(CudaImpl *im, float *out, const float *b, int N, int C, int Q)
{
	size_t total = (size_t)N * C * Q;
	if (im->failed || total == 0)
		return;
	add_bias_kernel<<<cuda_blocks(total), NASH_THREADS, 0, im->stream>>>(out, b, C, Q, total);
	LAUNCHED(im);
}

/* ---- batch-norm ---- */

/* Batch statistics from the shifted sums; cstat[C + c] = invstd, cstat[c] = mean for the
   normalisation; the optional outputs as lib/backend/backend.h says (running_var: unbiased). */
__global__ static void bn_stats_finalize(float *cstat, float *mean, float *invstd, float *running_mean,
					 float *running_var, const double *partial, const float *x, int S, int N,
					 int C, int HW, float momentum, float eps)
{
	int c = blockIdx.x * blockDim.x + threadIdx.x;
	if (c >= C)
		return;
	double s1 = 0, s2 = 0, M = (double)N * HW;
	for (int k = 0; k < S; k++) {
		s1 += partial[((size_t)k * C + c) * 2];
		s2 += partial[((size_t)k * C + c) * 2 + 1];
	}
	double ms = s1 / M, var = s2 / M - ms * ms;
	if (var < 0)
		var = 0; /* rounding; NaN stays NaN so divergence shows */
	double m = (double)x[(size_t)c * HW] + ms, is = 1.0 / sqrt(var + (double)eps);
	cstat[c] = (float)m;
	cstat[C + c] = (float)is;
	if (mean)
		mean[c] = (float)m;
	if (invstd)
		invstd[c] = (float)is;
	double uvar = M > 1 ? var * M / (M - 1) : var;
	if (running_mean)
		running_mean[c] = (float)((1.0 - momentum) * running_mean[c] + (double)momentum * m);
	if (running_var)
		running_var[c] = (float)((1.0 - momentum) * running_var[c] + (double)momentum * uvar);
}

__global__ static void bn_normalize(float *out, const float *in, const float *cstat, const float *gamma,
				    const float *beta, int C, int HW, size_t total)
{
	for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
		int c = (int)((i / HW) % C);
		out[i] = gamma[c] * ((in[i] - cstat[c]) * cstat[C + c]) + beta[c];
	}
}

void cuda_bn_forward_train(Ctx *ctx, float *out, float *mean, float *invstd, float *running_mean,
			   float *running_var, const float *in, const float *gamma, const float *beta, int N,
			   int C, int HW, float momentum, float eps)
{
	CudaImpl *im = cuda_impl(ctx);
	size_t total = (size_t)N * C * HW;
	if (im->failed || total == 0)
		return;
	ChannelPartials cp;
	float *cstat; /* [2, C] mean, invstd */
	if (!cuda_channel_partials(im, &cp, &cstat, 2 * (size_t)C, RED_STATS, in, NULL, NULL, NULL, NULL, N, C, HW))
		return;
	bn_stats_finalize<<<cuda_blocks((size_t)C), NASH_THREADS, 0, im->stream>>>(
		cstat, mean, invstd, running_mean, running_var, cp.partial, in, cp.S, N, C, HW, momentum, eps);
	if (!LAUNCHED(im))
		return;
	bn_normalize<<<cuda_blocks(total), NASH_THREADS, 0, im->stream>>>(out, in, cstat, gamma, beta, C, HW, total);
	LAUNCHED(im);
}

__global__ static void bn_eval_kernel(float *out, const float *in, const float *gamma, const float *beta,
				      const float *rmean, const float *rvar, int C, int HW, float eps, size_t total)
{
	for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
		int c = (int)((i / HW) % C);
		float is = 1.0f / sqrtf(rvar[c] + eps);
		out[i] = gamma[c] * ((in[i] - rmean[c]) * is) + beta[c];
	}
}

void cuda_bn_forward_eval(Ctx *ctx, float *out, const float *in, const float *gamma, const float *beta,
			  const float *running_mean, const float *running_var, int N, int C, int HW, float eps)
{
	CudaImpl *im = cuda_impl(ctx);
	size_t total = (size_t)N * C * HW;
	if (im->failed || total == 0)
		return;
	bn_eval_kernel<<<cuda_blocks(total), NASH_THREADS, 0, im->stream>>>(out, in, gamma, beta, running_mean,
									    running_var, C, HW, eps, total);
	LAUNCHED(im);
}

/* dbeta = sum dout, dgamma = sum dout*xhat; for din: cstat = [k1, mean(dout), mean(dout*xhat)]
   with k1 = gamma*invstd, so din += k1 * (dout - mg - xhat*mgx) (lib/backend/ref/ref_ops.inc's formula
   with M divided through, which keeps float terms of the size of dout). */
__global__ static void bn_bwd_finalize(float *cstat, float *dgamma, float *dbeta, const double *partial,
				       const float *gamma, const float *invstd, int S, int N, int C, int HW)
{
	int c = blockIdx.x * blockDim.x + threadIdx.x;
	if (c >= C)
		return;
	double sg = 0, sgx = 0, M = (double)N * HW;
	for (int k = 0; k < S; k++) {
		sg += partial[((size_t)k * C + c) * 2];
		sgx += partial[((size_t)k * C + c) * 2 + 1];
	}
	if (dbeta)
		dbeta[c] = (float)sg;
	if (dgamma)
		dgamma[c] = (float)sgx;
	cstat[c] = (float)((double)gamma[c] * invstd[c]);
	cstat[C + c] = (float)(sg / M);
	cstat[2 * C + c] = (float)(sgx / M);
}

__global__ static void bn_bwd_apply(float *din, const float *dout, const float *in, const float *mean,
				    const float *invstd, const float *cstat, int C, int HW, size_t total)
{
	for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
		int c = (int)((i / HW) % C);
		float xhat = (in[i] - mean[c]) * invstd[c];
		din[i] += cstat[c] * (dout[i] - cstat[C + c] - xhat * cstat[2 * C + c]);
	}
}

void cuda_bn_backward(Ctx *ctx, float *din, float *dgamma, float *dbeta, const float *dout, const float *in,
		      const float *mean, const float *invstd, const float *gamma, int N, int C, int HW)
{
	CudaImpl *im = cuda_impl(ctx);
	size_t total = (size_t)N * C * HW;
	if (im->failed || total == 0)
		return;
	ChannelPartials cp;
	float *cstat; /* [3, C] */
	if (!cuda_channel_partials(im, &cp, &cstat, 3 * (size_t)C, RED_BN_BWD, in, NULL, dout, mean, invstd, N, C, HW))
		return;
	bn_bwd_finalize<<<cuda_blocks((size_t)C), NASH_THREADS, 0, im->stream>>>(cstat, dgamma, dbeta, cp.partial,
										 gamma, invstd, cp.S, N, C, HW);
	if (!LAUNCHED(im) || !din)
		return;
	bn_bwd_apply<<<cuda_blocks(total), NASH_THREADS, 0, im->stream>>>(din, dout, in, mean, invstd, cstat, C, HW,
									  total);
	LAUNCHED(im);
}
