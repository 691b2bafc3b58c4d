/* The oneDNN backend's convolution: oneDNN's forward, backward-data and backward-weights
   primitives, created once per shape (and thread count) and cached in the backend's state, like
   the CUDA engine's cuDNN plans (kernels/cuda_conv.cu).

   Layouts. nash's activations are NCHW and its weights KCkk (oneDNN's nchw and oihw). Each
   primitive is created with "any" layout and oneDNN picks its own (on AVX-512 a channel-blocked
   nChw16c and OIhw16i16o-like weights, for which its JIT kernels exist; with plain nchw it falls
   back to im2col + its GEMM, several times slower for the weight gradient). Reorder primitives
   convert nash's tensors into that layout in the workspace and the results back; a reorder with
   oneDNN's "sum" post-op adds the data gradient into din, which backend.h says accumulates.
   Where a primitive takes a tensor in nash's own layout (the 1-channel input of a first layer)
   there is no reorder.

   Workspace. The reordered tensors and oneDNN's scratchpad (attr scratchpad_mode user) live in
   Ctx.workspace, so a training step allocates nothing; onednn_conv_workspace reports the floats.

   A shape oneDNN refuses (it should not: stride 1, 2-D, f32) runs on the im2col + BLAS engine's
   convolution instead, so results are always computed. An execution failure is kept and
   reported by the next sync (backend.h's deferred errors). */
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/blas/backend_blas.h"
#include "backend/onednn/onednn.h"

/* One tensor argument of a primitive: the layout the primitive wants and, when that is not
   nash's, the reorder between the two and where the reordered copy lives in the workspace. */
typedef struct Slot {
	dnnl_memory_desc_t md; /* the primitive's layout */
	dnnl_memory_t mem;     /* over md; its data handle is set per call */
	dnnl_primitive_t reorder; /* NULL: md is nash's layout, the primitive reads nash's buffer */
	dnnl_memory_t user;    /* the reorder's other side, nash's layout */
	size_t off;            /* floats into the workspace of the reordered copy */
	size_t floats;
} Slot;

typedef struct Prim {
	dnnl_primitive_t p;
	dnnl_memory_t scratch; /* over the workspace */
	size_t scratch_floats;
} Prim;

struct OnednnConv {
	int N, C, H, W, K, ks, threads;
	int ok; /* 0: oneDNN refused the shape; the BLAS engine's convolution runs it */
	Prim fwd, bwd_data, bwd_weights;
	Slot f_src, f_w, f_dst;      /* forward */
	Slot d_ddst, d_w, d_dsrc;    /* backward data; d_dsrc's reorder adds into din */
	Slot w_src, w_ddst, w_dw;    /* backward weights; w_ddst may share d_ddst's copy */
	int share_ddst;
	dnnl_memory_t f_bias, w_dbias; /* [K], plain; handles set per call */
	float *zero_bias;            /* [K] zeros: the bias of a convolution without one */
	float *dbias_sink;           /* [K]: the bias gradient nobody asked for */
	size_t fwd_floats, bwd_floats; /* workspace each direction needs */
	size_t fwd_scratch, bwd_scratch; /* where in it the scratchpad starts */
};

static size_t floats_of(const dnnl_memory_desc_t *md)
{
	return (dnnl_memory_desc_get_size(md) + sizeof(float) - 1) / sizeof(float);
}

/* 64-byte steps, so every copy in the workspace is cache-line aligned (oneDNN's kernels want
   it, and a fixed alignment keeps results reproducible). */
static size_t round16(size_t n) { return (n + 15) / 16 * 16; }

int onednn_threads_enter(const Ctx *ctx)
{
	int prev = omp_get_max_threads();
	if (ctx->opts.threads <= 0 || ctx->opts.threads == prev)
		return 0;
	omp_set_num_threads(ctx->opts.threads);
	return prev;
}

void onednn_threads_restore(int previous)
{
	if (previous > 0)
		omp_set_num_threads(previous);
}

static void slot_free(Slot *s)
{
	if (s->reorder)
		dnnl_primitive_destroy(s->reorder);
	if (s->mem)
		dnnl_memory_destroy(s->mem);
	if (s->user)
		dnnl_memory_destroy(s->user);
	memset(s, 0, sizeof *s);
}

static void prim_free(Prim *p)
{
	if (p->p)
		dnnl_primitive_destroy(p->p);
	if (p->scratch)
		dnnl_memory_destroy(p->scratch);
	memset(p, 0, sizeof *p);
}

static void conv_free(OnednnConv *cv)
{
	Slot *slots[] = {&cv->f_src, &cv->f_w, &cv->f_dst, &cv->d_ddst, &cv->d_w,
			 &cv->d_dsrc, &cv->w_src, &cv->w_ddst, &cv->w_dw};
	for (size_t i = 0; i < sizeof slots / sizeof slots[0]; i++)
		slot_free(slots[i]);
	prim_free(&cv->fwd);
	prim_free(&cv->bwd_data);
	prim_free(&cv->bwd_weights);
	if (cv->f_bias)
		dnnl_memory_destroy(cv->f_bias);
	if (cv->w_dbias)
		dnnl_memory_destroy(cv->w_dbias);
	free(cv->zero_bias);
	free(cv->dbias_sink);
	free(cv);
}

void onednn_conv_cache_free(OnednnState *st)
{
	for (int i = 0; i < st->n_convs; i++)
		conv_free(st->convs[i]);
	free(st->convs);
	st->convs = NULL;
	st->n_convs = st->cap_convs = 0;
}

/* The slot for argument `query` of pd, against nash's layout `user`. to_user: the primitive
   writes it (a reorder back), else reads it (a reorder in). sum: the reorder back adds. */
static dnnl_status_t slot_make(Slot *s, OnednnState *st, const_dnnl_primitive_desc_t pd,
			       dnnl_query_t query, const dnnl_memory_desc_t *user, int to_user, int sum)
{
	dnnl_status_t r;
	s->md = *dnnl_primitive_desc_query_md(pd, query, 0);
	if ((r = dnnl_memory_create(&s->mem, &s->md, st->engine, DNNL_MEMORY_NONE)))
		return r;
	if (dnnl_memory_desc_equal(&s->md, user) && !sum)
		return dnnl_success;
	s->floats = floats_of(&s->md);
	if ((r = dnnl_memory_create(&s->user, user, st->engine, DNNL_MEMORY_NONE)))
		return r;
	dnnl_primitive_attr_t attr = NULL;
	dnnl_post_ops_t po = NULL;
	if (sum) {
		if ((r = dnnl_primitive_attr_create(&attr)) || (r = dnnl_post_ops_create(&po)) ||
		    (r = dnnl_post_ops_append_sum(po, 1.0f)) ||
		    (r = dnnl_primitive_attr_set_post_ops(attr, po)))
			goto out;
	}
	dnnl_primitive_desc_t rpd = NULL;
	r = to_user ? dnnl_reorder_primitive_desc_create(&rpd, &s->md, st->engine, user, st->engine, attr)
		    : dnnl_reorder_primitive_desc_create(&rpd, user, st->engine, &s->md, st->engine, attr);
	if (!r)
		r = dnnl_primitive_create(&s->reorder, rpd);
	if (rpd)
		dnnl_primitive_desc_destroy(rpd);
out:
	if (po)
		dnnl_post_ops_destroy(po);
	if (attr)
		dnnl_primitive_attr_destroy(attr);
	return r;
}

static dnnl_status_t prim_make(Prim *p, OnednnState *st, const_dnnl_primitive_desc_t pd)
{
	dnnl_status_t r;
	const dnnl_memory_desc_t *sp = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
	p->scratch_floats = sp ? floats_of(sp) : 0;
	if (p->scratch_floats && (r = dnnl_memory_create(&p->scratch, sp, st->engine, DNNL_MEMORY_NONE)))
		return r;
	return dnnl_primitive_create(&p->p, pd);
}

/* Places the reordered copies of slots[0..n) one after another from *off. */
static void carve(size_t *off, Slot *const *slots, int n)
{
	for (int i = 0; i < n; i++) {
		slots[i]->off = *off;
		*off += round16(slots[i]->floats);
	}
}

/* Winograd F(4x4, 3x3) where it pays: oneDNN's jit_wino_4x3 kernels (AVX-512) do the 3x3
   convolutions of 16 channels or more in 2.25 times fewer multiplications, and measured 1.3 to 2
   times faster than the direct kernels for forward, backward data and backward weights alike on
   the shapes of nash's networks (16 to 256 channels, 7x7 to 28x28, batch 128; bench/README.md).
   On the 1- and 3-channel first layers the direct kernels are faster (the transforms cost more
   than they save). f32 only: oneDNN 2.6 has no bf16 Winograd. The rule depends on the shape
   alone, never on a timing, so a rerun picks the same kernels and computes the same bits. */
static int conv_winograd_pays(int C, int ks, dnnl_data_type_t in)
{
	return ks == 3 && C >= 16 && in == dnnl_f32;
}

/* in: the type the primitives read their inputs in (src, weights, diff_dst): f32, or bf16
   (the reorders convert; outputs, weight gradients and sums stay f32). alg: oneDNN's
   direct or Winograd algorithm, for all three primitives. */
static dnnl_status_t conv_make(OnednnConv *cv, OnednnState *st, dnnl_data_type_t in, dnnl_alg_kind_t alg)
{
	int N = cv->N, C = cv->C, H = cv->H, W = cv->W, K = cv->K, ks = cv->ks;
	dnnl_dims_t sdims = {N, C, H, W}, wdims = {K, C, ks, ks}, ddims = {N, K, H, W}, bdims = {K};
	dnnl_dims_t strides = {1, 1}, pad_l = {ks / 2, ks / 2}, pad_r = {ks - 1 - ks / 2, ks - 1 - ks / 2};
	/* _u: nash's layouts; _a: inputs, _o: outputs, in the layout oneDNN picks */
	dnnl_memory_desc_t src_u, w_u, dst_u, b_u, src_a, w_a, dst_a, src_o, w_o, dst_o;
	dnnl_status_t r;
	if ((r = dnnl_memory_desc_init_by_tag(&src_u, 4, sdims, dnnl_f32, dnnl_nchw)) ||
	    (r = dnnl_memory_desc_init_by_tag(&w_u, 4, wdims, dnnl_f32, dnnl_oihw)) ||
	    (r = dnnl_memory_desc_init_by_tag(&dst_u, 4, ddims, dnnl_f32, dnnl_nchw)) ||
	    (r = dnnl_memory_desc_init_by_tag(&b_u, 1, bdims, dnnl_f32, dnnl_x)) ||
	    (r = dnnl_memory_desc_init_by_tag(&src_a, 4, sdims, in, dnnl_format_tag_any)) ||
	    (r = dnnl_memory_desc_init_by_tag(&w_a, 4, wdims, in, dnnl_format_tag_any)) ||
	    (r = dnnl_memory_desc_init_by_tag(&dst_a, 4, ddims, in, dnnl_format_tag_any)) ||
	    (r = dnnl_memory_desc_init_by_tag(&src_o, 4, sdims, dnnl_f32, dnnl_format_tag_any)) ||
	    (r = dnnl_memory_desc_init_by_tag(&w_o, 4, wdims, dnnl_f32, dnnl_format_tag_any)) ||
	    (r = dnnl_memory_desc_init_by_tag(&dst_o, 4, ddims, dnnl_f32, dnnl_format_tag_any)))
		return r;

	dnnl_primitive_attr_t attr = NULL;
	dnnl_primitive_desc_t fpd = NULL, dpd = NULL, wpd = NULL;
	dnnl_convolution_desc_t fd, dd, wd;
	if ((r = dnnl_primitive_attr_create(&attr)) ||
	    (r = dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user)) ||
	    (r = dnnl_convolution_forward_desc_init(&fd, dnnl_forward_training, alg,
						     &src_a, &w_a, &b_u, &dst_o, strides, pad_l, pad_r)) ||
	    (r = dnnl_primitive_desc_create(&fpd, &fd, attr, st->engine, NULL)) ||
	    (r = dnnl_convolution_backward_data_desc_init(&dd, alg, &src_o, &w_a,
							   &dst_a, strides, pad_l, pad_r)) ||
	    (r = dnnl_primitive_desc_create(&dpd, &dd, attr, st->engine, fpd)) ||
	    (r = dnnl_convolution_backward_weights_desc_init(&wd, alg, &src_a, &w_o,
							      &b_u, &dst_a, strides, pad_l, pad_r)) ||
	    (r = dnnl_primitive_desc_create(&wpd, &wd, attr, st->engine, fpd)))
		goto out;

	if ((r = prim_make(&cv->fwd, st, fpd)) || (r = prim_make(&cv->bwd_data, st, dpd)) ||
	    (r = prim_make(&cv->bwd_weights, st, wpd)) ||
	    (r = slot_make(&cv->f_src, st, fpd, dnnl_query_src_md, &src_u, 0, 0)) ||
	    (r = slot_make(&cv->f_w, st, fpd, dnnl_query_weights_md, &w_u, 0, 0)) ||
	    (r = slot_make(&cv->f_dst, st, fpd, dnnl_query_dst_md, &dst_u, 1, 0)) ||
	    (r = slot_make(&cv->d_ddst, st, dpd, dnnl_query_diff_dst_md, &dst_u, 0, 0)) ||
	    (r = slot_make(&cv->d_w, st, dpd, dnnl_query_weights_md, &w_u, 0, 0)) ||
	    (r = slot_make(&cv->d_dsrc, st, dpd, dnnl_query_diff_src_md, &src_u, 1, 1)) ||
	    (r = slot_make(&cv->w_src, st, wpd, dnnl_query_src_md, &src_u, 0, 0)) ||
	    (r = slot_make(&cv->w_ddst, st, wpd, dnnl_query_diff_dst_md, &dst_u, 0, 0)) ||
	    (r = slot_make(&cv->w_dw, st, wpd, dnnl_query_diff_weights_md, &w_u, 1, 0)) ||
	    (r = dnnl_memory_create(&cv->f_bias, &b_u, st->engine, DNNL_MEMORY_NONE)) ||
	    (r = dnnl_memory_create(&cv->w_dbias, &b_u, st->engine, DNNL_MEMORY_NONE)))
		goto out;
	cv->zero_bias = calloc((size_t)K, sizeof(float));
	cv->dbias_sink = calloc((size_t)K, sizeof(float));
	if (!cv->zero_bias || !cv->dbias_sink) {
		r = dnnl_out_of_memory;
		goto out;
	}

	/* Forward: [src][weights][dst][scratchpad]. */
	size_t off = 0;
	carve(&off, (Slot *const[]){&cv->f_src, &cv->f_w, &cv->f_dst}, 3);
	cv->fwd_scratch = off;
	cv->fwd_floats = off + cv->fwd.scratch_floats;
	/* Backward: [diff_dst] then data's [weights][diff_src] or weights' [src][diff_dst][diff
	   weights] (one after the other, in the same place), then the larger scratchpad. */
	cv->share_ddst = cv->d_ddst.reorder && cv->w_ddst.reorder &&
			 dnnl_memory_desc_equal(&cv->d_ddst.md, &cv->w_ddst.md);
	off = 0;
	carve(&off, (Slot *const[]){&cv->d_ddst}, 1);
	size_t data_end = off, weights_end = off;
	carve(&data_end, (Slot *const[]){&cv->d_w, &cv->d_dsrc}, 2);
	if (cv->share_ddst)
		cv->w_ddst.off = cv->d_ddst.off;
	else
		carve(&weights_end, (Slot *const[]){&cv->w_ddst}, 1);
	carve(&weights_end, (Slot *const[]){&cv->w_src, &cv->w_dw}, 2);
	off = data_end > weights_end ? data_end : weights_end;
	size_t sp = cv->bwd_data.scratch_floats > cv->bwd_weights.scratch_floats
			    ? cv->bwd_data.scratch_floats
			    : cv->bwd_weights.scratch_floats;
	cv->bwd_scratch = off;
	cv->bwd_floats = off + sp;
out:
	if (fpd)
		dnnl_primitive_desc_destroy(fpd);
	if (dpd)
		dnnl_primitive_desc_destroy(dpd);
	if (wpd)
		dnnl_primitive_desc_destroy(wpd);
	if (attr)
		dnnl_primitive_attr_destroy(attr);
	return r;
}

static int conv_threads_now(const Ctx *ctx)
{
	return ctx->opts.threads > 0 ? ctx->opts.threads : omp_get_max_threads();
}

/* The cache entry of this shape, made on first use (NULL: out of memory). */
static OnednnConv *conv_get(Ctx *ctx, int N, int C, int H, int W, int K, int ks)
{
	OnednnState *st = ctx->impl;
	int nt = conv_threads_now(ctx);
	for (int i = 0; i < st->n_convs; i++) {
		OnednnConv *cv = st->convs[i];
		if (cv->N == N && cv->C == C && cv->H == H && cv->W == W && cv->K == K && cv->ks == ks &&
		    cv->threads == nt)
			return cv;
	}
	if (st->n_convs == st->cap_convs) {
		int cap = st->cap_convs ? 2 * st->cap_convs : 16;
		OnednnConv **a = realloc(st->convs, (size_t)cap * sizeof *a);
		if (!a)
			return NULL;
		st->convs = a;
		st->cap_convs = cap;
	}
	OnednnConv *cv = calloc(1, sizeof *cv);
	if (!cv)
		return NULL;
	*cv = (OnednnConv){.N = N, .C = C, .H = H, .W = W, .K = K, .ks = ks, .threads = nt};
	int prev = onednn_threads_enter(ctx);
	/* The first of these that oneDNN implements: Winograd where it pays (a processor without
	   AVX-512 has no Winograd kernel), bf16 inputs when asked for, f32 direct. */
	dnnl_data_type_t in = st->bf16 ? dnnl_bf16 : dnnl_f32;
	dnnl_alg_kind_t alg = conv_winograd_pays(C, ks, in) ? dnnl_convolution_winograd : dnnl_convolution_direct;
	dnnl_status_t r = conv_make(cv, st, in, alg);
	if (r != dnnl_success && r != dnnl_out_of_memory && (in != dnnl_f32 || alg != dnnl_convolution_direct)) {
		conv_free(cv); /* no bf16 kernel, or no Winograd kernel: f32 direct */
		if (!(cv = calloc(1, sizeof *cv)))
			return NULL;
		*cv = (OnednnConv){.N = N, .C = C, .H = H, .W = W, .K = K, .ks = ks, .threads = nt};
		r = conv_make(cv, st, dnnl_f32, dnnl_convolution_direct);
	}
	onednn_threads_restore(prev);
	if (r != dnnl_success) {
		conv_free(cv);
		if (r == dnnl_out_of_memory || !(cv = calloc(1, sizeof *cv)))
			return NULL;
		/* refused: remembered as such (ok 0), so it is not tried again */
		*cv = (OnednnConv){.N = N, .C = C, .H = H, .W = W, .K = K, .ks = ks, .threads = nt};
	} else {
		cv->ok = 1;
	}
	st->convs[st->n_convs++] = cv;
	return cv;
}

size_t onednn_conv_workspace(Ctx *ctx, int N, int C, int H, int W, int K, int ks)
{
	if (!ctx->impl || N <= 0)
		return 0;
	OnednnConv *cv = conv_get(ctx, N, C, H, W, K, ks);
	if (!cv || !cv->ok)
		return cpu_conv_workspace(ctx, N, C, H, W, K, ks);
	return cv->fwd_floats > cv->bwd_floats ? cv->fwd_floats : cv->bwd_floats;
}

/* The workspace for n floats: Ctx's when it is large enough, else the backend's own scratch,
   grown once to the largest shape that needed it. -1: out of memory. */
static int workspace_for(Ctx *ctx, size_t n, float **ws)
{
	OnednnState *st = ctx->impl;
	if (n <= ctx->workspace_floats && (ctx->workspace || n == 0)) {
		*ws = ctx->workspace;
		return 0;
	}
	if (n > st->scratch_floats) {
		float *p = NULL;
		if (posix_memalign((void **)&p, 64, n * sizeof *p))
			return -1;
		free(st->scratch);
		st->scratch = p;
		st->scratch_floats = n;
	}
	*ws = st->scratch;
	return 0;
}

static dnnl_status_t handle(dnnl_memory_t m, const void *p)
{
	return dnnl_memory_set_data_handle(m, (void *)p);
}

static dnnl_status_t reorder_run(OnednnState *st, dnnl_primitive_t p, dnnl_memory_t from,
				 dnnl_memory_t to)
{
	dnnl_exec_arg_t a[2] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
	return dnnl_primitive_execute(p, st->stream, 2, a);
}

/* An input of a primitive: nash's buffer itself, or its copy reordered into the workspace. */
static dnnl_status_t slot_in(OnednnState *st, Slot *s, float *ws, const float *user)
{
	dnnl_status_t r;
	if (!s->reorder)
		return handle(s->mem, user);
	if ((r = handle(s->user, user)) || (r = handle(s->mem, ws + s->off)))
		return r;
	return reorder_run(st, s->reorder, s->user, s->mem);
}

/* An output: written straight into nash's buffer, or into the workspace for slot_out. */
static dnnl_status_t slot_target(Slot *s, float *ws, float *user)
{
	return handle(s->mem, s->reorder ? ws + s->off : user);
}

static dnnl_status_t slot_out(OnednnState *st, Slot *s, float *user)
{
	dnnl_status_t r;
	if (!s->reorder)
		return dnnl_success;
	if ((r = handle(s->user, user)))
		return r;
	return reorder_run(st, s->reorder, s->mem, s->user);
}

static dnnl_status_t prim_run(OnednnState *st, Prim *p, float *ws, size_t scratch_off,
			      dnnl_exec_arg_t *args, int n)
{
	dnnl_status_t r;
	if (p->scratch) {
		if ((r = handle(p->scratch, ws + scratch_off)))
			return r;
		args[n++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, p->scratch};
	}
	if ((r = dnnl_primitive_execute(p->p, st->stream, n, args)))
		return r;
	return dnnl_stream_wait(st->stream);
}

static void keep_failure(OnednnState *st, dnnl_status_t r)
{
	if (r != dnnl_success && st->failed == dnnl_success)
		st->failed = r;
}

/* The entry and workspace for a shape oneDNN runs, or NULL: the BLAS engine's convolution
   runs it (oneDNN refused the shape, or out of memory for its entry or scratch). */
static OnednnConv *conv_ready(Ctx *ctx, int N, int C, int H, int W, int K, int ks, int backward,
			      float **ws)
{
	if (!ctx->impl)
		return NULL;
	OnednnConv *cv = conv_get(ctx, N, C, H, W, K, ks);
	if (!cv || !cv->ok)
		return NULL;
	if (workspace_for(ctx, backward ? cv->bwd_floats : cv->fwd_floats, ws))
		return NULL;
	return cv;
}

void onednn_conv_forward(Ctx *ctx, float *out, const float *in, const float *w, const float *b,
			 int N, int C, int H, int W, int K, int ks)
{
	if (N <= 0)
		return;
	float *ws = NULL;
	OnednnConv *cv = conv_ready(ctx, N, C, H, W, K, ks, 0, &ws);
	if (!cv) {
		cpu_conv_forward(ctx, out, in, w, b, N, C, H, W, K, ks);
		return;
	}
	OnednnState *st = ctx->impl;
	int prev = onednn_threads_enter(ctx);
	dnnl_exec_arg_t args[5] = {{DNNL_ARG_SRC, cv->f_src.mem},
				   {DNNL_ARG_WEIGHTS, cv->f_w.mem},
				   {DNNL_ARG_BIAS, cv->f_bias},
				   {DNNL_ARG_DST, cv->f_dst.mem}};
	dnnl_status_t r;
	if (!(r = slot_in(st, &cv->f_src, ws, in)) && !(r = slot_in(st, &cv->f_w, ws, w)) &&
	    !(r = handle(cv->f_bias, b ? b : cv->zero_bias)) &&
	    !(r = slot_target(&cv->f_dst, ws, out)) &&
	    !(r = prim_run(st, &cv->fwd, ws, cv->fwd_scratch, args, 4)))
		r = slot_out(st, &cv->f_dst, out);
	onednn_threads_restore(prev);
	keep_failure(st, r);
}

void onednn_conv_backward(Ctx *ctx, float *din, float *dw, float *db, const float *dout,
			  const float *in, const float *w, int N, int C, int H, int W, int K, int ks)
{
	if (N <= 0) { /* no images: the parameter gradients are zero, din gets nothing */
		if (dw)
			memset(dw, 0, (size_t)K * C * ks * ks * sizeof *dw);
		if (db)
			memset(db, 0, (size_t)K * sizeof *db);
		return;
	}
	if (!dw && !din) {
		if (db) /* the bias gradient alone: the BLAS engine's sum over dout */
			cpu_conv_backward(ctx, NULL, NULL, db, dout, in, w, N, C, H, W, K, ks);
		return;
	}
	float *ws = NULL;
	OnednnConv *cv = conv_ready(ctx, N, C, H, W, K, ks, 1, &ws);
	if (!cv) {
		cpu_conv_backward(ctx, din, dw, db, dout, in, w, N, C, H, W, K, ks);
		return;
	}
	OnednnState *st = ctx->impl;
	int prev = onednn_threads_enter(ctx);
	dnnl_status_t r = dnnl_success;
	if (din) {
		dnnl_exec_arg_t args[4] = {{DNNL_ARG_DIFF_DST, cv->d_ddst.mem},
					   {DNNL_ARG_WEIGHTS, cv->d_w.mem},
					   {DNNL_ARG_DIFF_SRC, cv->d_dsrc.mem}};
		if (!(r = slot_in(st, &cv->d_ddst, ws, dout)) && !(r = slot_in(st, &cv->d_w, ws, w)) &&
		    !(r = slot_target(&cv->d_dsrc, ws, din)) &&
		    !(r = prim_run(st, &cv->bwd_data, ws, cv->bwd_scratch, args, 3)))
			r = slot_out(st, &cv->d_dsrc, din); /* din += */
	}
	if (dw && !r) {
		dnnl_exec_arg_t args[5] = {{DNNL_ARG_SRC, cv->w_src.mem},
					   {DNNL_ARG_DIFF_DST, cv->w_ddst.mem},
					   {DNNL_ARG_DIFF_WEIGHTS, cv->w_dw.mem},
					   {DNNL_ARG_DIFF_BIAS, cv->w_dbias}};
		/* the data gradient's reordered dout is already where this one reads it */
		if (din && cv->share_ddst)
			r = handle(cv->w_ddst.mem, ws + cv->w_ddst.off);
		else
			r = slot_in(st, &cv->w_ddst, ws, dout);
		if (!r && !(r = slot_in(st, &cv->w_src, ws, in)) && !(r = slot_target(&cv->w_dw, ws, dw)) &&
		    !(r = handle(cv->w_dbias, db ? db : cv->dbias_sink)) &&
		    !(r = prim_run(st, &cv->bwd_weights, ws, cv->bwd_scratch, args, 4)))
			r = slot_out(st, &cv->w_dw, dw);
	} else if (db && !r) {
		cpu_conv_backward(ctx, NULL, NULL, db, dout, in, w, N, C, H, W, K, ks);
	}
	onednn_threads_restore(prev);
	keep_failure(st, r);
}
