/* Test-time augmentation inside the exported graph (nash-export --tta, docs/EXPORT.md): the
   views nash's evaluation takes of each image (model.h, tta_views), stacked along the batch so
   that the network runs once on all of them, and the weighted mean of their softmax outputs,
   summed in the order engine/train.c's evaluate sums them. The views are read from the same
   table as evaluation's, so the two cannot drift apart. */
#include <stdint.h>

#include "export/onnx_build.h"

static int max_shift(const TtaView *v, int nv)
{
	int pad = 0;
	for (int k = 0; k < nv; k++) {
		int dy = v[k].dy < 0 ? -v[k].dy : v[k].dy, dx = v[k].dx < 0 ? -v[k].dx : v[k].dx;
		pad = dy > pad ? dy : pad;
		pad = dx > pad ? dx : pad;
	}
	return pad;
}

/* View (dy, dx, flip) of image x is, as the batch builder makes it (ref_make_batch), pixel
   (y + dy, mirrored x + dx) of the normalised image, 0 outside it: the shift, then the mirror.
   The shift is a Slice of the image padded with zeros after normalisation (so the pixels that
   come in are the mean, not black); the mirror a Slice with step -1 along W. */
int onnx_tta_views(Onnx *o, Tta tta, const char *in, const char *out)
{
	TtaView v[TTA_MAX_VIEWS];
	int nv = tta_views(tta, v), pad = max_shift(v, nv);
	int64_t h = o->g->in_h, w = o->g->in_w;
	const char *padded = in;
	if (pad) {
		const int64_t pads[8] = {0, 0, pad, pad, 0, 0, pad, pad}; /* N, C, H, W begins, then ends */
		const char *kpads = onnx_init_int64(o, "tta.pads", 1, (const int64_t[]){8}, pads);
		padded = "tta.padded"; /* Pad's default: mode constant, value 0 */
		if (!onnx_emit(o, "Pad", padded, 2, (const char *[]){in, kpads}, padded))
			return -1;
		if (!o->axes_hw && !(o->axes_hw = onnx_init_int64(o, "axes_hw", 1, (const int64_t[]){2}, (const int64_t[]){2, 3})))
			return -1;
	}
	/* from the last column back past the first: INT64_MIN is ONNX's "to the beginning" */
	const char *mirror[4] = {onnx_init_int64(o, "tta.mirror.starts", 1, (const int64_t[]){1}, (const int64_t[]){-1}),
				 onnx_init_int64(o, "tta.mirror.ends", 1, (const int64_t[]){1}, (const int64_t[]){INT64_MIN}),
				 onnx_init_int64(o, "tta.mirror.axes", 1, (const int64_t[]){1}, (const int64_t[]){3}),
				 onnx_init_int64(o, "tta.mirror.steps", 1, (const int64_t[]){1}, (const int64_t[]){-1})};
	const char *views[TTA_MAX_VIEWS];
	for (int k = 0; k < nv; k++) {
		const char *x = in;
		if (v[k].dy || v[k].dx) {
			const int64_t starts[2] = {pad + v[k].dy, pad + v[k].dx}, ends[2] = {starts[0] + h, starts[1] + w};
			const char *kstarts = onnx_init_int64(o, onnx_pool_printf(&o->pool, "tta.view%d.starts", k), 1,
							      (const int64_t[]){2}, starts);
			const char *kends = onnx_init_int64(o, onnx_pool_printf(&o->pool, "tta.view%d.ends", k), 1,
							    (const int64_t[]){2}, ends);
			char *shifted = onnx_pool_printf(&o->pool, "tta.view%d.shifted", k);
			if (!onnx_emit(o, "Slice", shifted, 4, (const char *[]){padded, kstarts, kends, o->axes_hw}, shifted))
				return -1;
			x = shifted;
		}
		if (v[k].flip) {
			char *mirrored = onnx_pool_printf(&o->pool, "tta.view%d.mirrored", k);
			if (!onnx_emit(o, "Slice", mirrored, 5, (const char *[]){x, mirror[0], mirror[1], mirror[2], mirror[3]},
				       mirrored))
				return -1;
			x = mirrored;
		}
		views[k] = x;
	}
	Onnx__NodeProto *stack = onnx_emit(o, "Concat", out, nv, views, out); /* view k at k*N + i */
	onnx_attr_int(o, stack, "axis", 0);
	return stack ? 0 : -1;
}

/* Softmax over each view's logits, then p = w0 p0 + w1 p1 + ... added left to right. The
   weights are powers of two, so each product is exact; only the float sums and float softmax
   (evaluation's are in double) differ from nash's figures, by rounding. */
int onnx_tta_mean(Onnx *o, Tta tta, const char *in, const char *out)
{
	TtaView v[TTA_MAX_VIEWS];
	int nv = tta_views(tta, v);
	const char *probs = "tta.view_probabilities", *by_view = "tta.view_probabilities.by_view";
	Onnx__NodeProto *softmax = onnx_emit(o, "Softmax", probs, 1, (const char *[]){in}, probs);
	onnx_attr_int(o, softmax, "axis", 1);
	const int64_t shape[3] = {nv, -1, o->g->n_classes}; /* [V*N, K] -> [V, N, K] */
	const char *kshape = onnx_init_int64(o, "tta.by_view", 1, (const int64_t[]){3}, shape);
	if (!softmax || !onnx_emit(o, "Reshape", by_view, 2, (const char *[]){probs, kshape}, by_view))
		return -1;
	const char *sum = NULL;
	for (int k = 0; k < nv; k++) {
		float *weight = onnx_pool_alloc(&o->pool, sizeof *weight);
		if (!weight)
			return -1;
		*weight = (float)v[k].weight;
		const char *kview = onnx_init_int64(o, onnx_pool_printf(&o->pool, "tta.view%d.index", k), 0, NULL,
						    (const int64_t[]){k});
		const char *kweight = onnx_init_float(o, onnx_pool_printf(&o->pool, "tta.view%d.weight", k), 0, NULL, weight);
		char *pk = onnx_pool_printf(&o->pool, "tta.view%d.probabilities", k);
		char *wk = nv == 1 ? (char *)out : onnx_pool_printf(&o->pool, "tta.view%d.weighted", k);
		Onnx__NodeProto *pick = onnx_emit(o, "Gather", pk, 2, (const char *[]){by_view, kview}, pk); /* [N, K] */
		onnx_attr_int(o, pick, "axis", 0);
		if (!pick || !onnx_emit(o, "Mul", wk, 2, (const char *[]){pk, kweight}, wk))
			return -1;
		if (k == 0) {
			sum = wk;
			continue;
		}
		char *next = k == nv - 1 ? (char *)out : onnx_pool_printf(&o->pool, "tta.sum%d", k);
		if (!onnx_emit(o, "Add", next, 2, (const char *[]){sum, wk}, next))
			return -1;
		sum = next;
	}
	return 0;
}
