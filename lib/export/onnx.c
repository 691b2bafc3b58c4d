/* ONNX export (docs/EXPORT.md): one pass over the graph in topological order, each node
   becoming one to three ONNX nodes, encoded with protobuf-c from the ONNX schema (the C code
   is generated at build time from Debian's onnx.proto). */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/atomic.h"
#include "base/classnames.h"
#include "export/onnx.h"
#include "export/onnx_build.h"

void *onnx_pool_alloc(Pool *p, size_t bytes)
{
	if (p->oom)
		return NULL;
	if (p->n == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 256;
		void **ptrs = realloc(p->ptrs, cap * sizeof *ptrs);
		if (!ptrs) {
			p->oom = 1;
			return NULL;
		}
		p->ptrs = ptrs;
		p->cap = cap;
	}
	void *q = calloc(1, bytes ? bytes : 1);
	if (!q) {
		p->oom = 1;
		return NULL;
	}
	p->ptrs[p->n++] = q;
	return q;
}

static void pool_free(Pool *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->ptrs[i]);
	free(p->ptrs);
}

char *onnx_pool_printf(Pool *p, const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	char *s = onnx_pool_alloc(p, strlen(buf) + 1);
	if (s)
		strcpy(s, buf);
	return s;
}

#define MAX_ATTRS 4

Onnx__NodeProto *onnx_emit(Onnx *o, const char *op_type, const char *name, int n_in, const char *const *in,
			   const char *out)
{
	if (o->n_nodes == o->cap_nodes) { /* the caps bound what any graph needs */
		o->pool.oom = 1;
		return NULL;
	}
	Onnx__NodeProto *n = onnx_pool_alloc(&o->pool, sizeof *n);
	char **ins = onnx_pool_alloc(&o->pool, (size_t)n_in * sizeof *ins);
	char **outs = onnx_pool_alloc(&o->pool, sizeof *outs);
	Onnx__AttributeProto **attrs = onnx_pool_alloc(&o->pool, MAX_ATTRS * sizeof *attrs);
	if (!n || !ins || !outs || !attrs || !name || !out)
		return NULL;
	onnx__node_proto__init(n);
	for (int i = 0; i < n_in; i++) {
		if (!in[i])
			return NULL;
		ins[i] = (char *)in[i];
	}
	outs[0] = (char *)out;
	n->op_type = (char *)op_type;
	n->name = (char *)name;
	n->n_input = (size_t)n_in;
	n->input = ins;
	n->n_output = 1;
	n->output = outs;
	n->attribute = attrs;
	o->nodes[o->n_nodes++] = n;
	return n;
}

static Onnx__AttributeProto *attr(Onnx *o, Onnx__NodeProto *n, const char *name)
{
	if (!n || n->n_attribute == MAX_ATTRS)
		return NULL;
	Onnx__AttributeProto *a = onnx_pool_alloc(&o->pool, sizeof *a);
	if (!a)
		return NULL;
	onnx__attribute_proto__init(a);
	a->name = (char *)name;
	a->has_type = 1;
	n->attribute[n->n_attribute++] = a;
	return a;
}

void onnx_attr_int(Onnx *o, Onnx__NodeProto *n, const char *name, int64_t v)
{
	Onnx__AttributeProto *a = attr(o, n, name);
	if (!a)
		return;
	a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
	a->has_i = 1;
	a->i = v;
}

static void attr_float(Onnx *o, Onnx__NodeProto *n, const char *name, float v)
{
	Onnx__AttributeProto *a = attr(o, n, name);
	if (!a)
		return;
	a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
	a->has_f = 1;
	a->f = v;
}

/* ints: n copies of v (every window, stride and padding here is square). */
static void attr_ints(Onnx *o, Onnx__NodeProto *n, const char *name, int64_t v, int count)
{
	Onnx__AttributeProto *a = attr(o, n, name);
	int64_t *vals = onnx_pool_alloc(&o->pool, (size_t)count * sizeof *vals);
	if (!a || !vals)
		return;
	for (int i = 0; i < count; i++)
		vals[i] = v;
	a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
	a->n_ints = (size_t)count;
	a->ints = vals;
}

/* An initializer's header: its name, dims and element type; NULL when out of memory. */
static Onnx__TensorProto *init_tensor(Onnx *o, const char *name, int ndim, const int64_t *dims, int type,
				      size_t *count)
{
	Onnx__TensorProto *t = onnx_pool_alloc(&o->pool, sizeof *t);
	int64_t *d = onnx_pool_alloc(&o->pool, (size_t)ndim * sizeof *d);
	if (!t || !d || !name || o->n_inits == o->cap_inits)
		return NULL;
	onnx__tensor_proto__init(t);
	*count = 1;
	for (int i = 0; i < ndim; i++) {
		d[i] = dims[i];
		*count *= (size_t)dims[i];
	}
	t->name = (char *)name;
	t->n_dims = (size_t)ndim;
	t->dims = d;
	t->has_data_type = 1;
	t->data_type = type;
	o->inits[o->n_inits++] = t;
	return t;
}

const char *onnx_init_float(Onnx *o, const char *name, int ndim, const int64_t *dims, const float *data)
{
	size_t count;
	Onnx__TensorProto *t = init_tensor(o, name, ndim, dims, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, &count);
	if (!t)
		return NULL;
	t->n_float_data = count;
	t->float_data = (float *)data;
	return name;
}

const char *onnx_init_int64(Onnx *o, const char *name, int ndim, const int64_t *dims, const int64_t *data)
{
	size_t count;
	Onnx__TensorProto *t = init_tensor(o, name, ndim, dims, ONNX__TENSOR_PROTO__DATA_TYPE__INT64, &count);
	int64_t *copy = onnx_pool_alloc(&o->pool, count * sizeof *copy);
	if (!t || !copy)
		return NULL;
	memcpy(copy, data, count * sizeof *copy);
	t->n_int64_data = count;
	t->int64_data = copy;
	return name;
}

static const Tensor *param(const Node *nd, const char *name)
{
	for (int i = 0; i < nd->n_params; i++)
		if (!strcmp(nd->params[i].name, name))
			return &nd->params[i];
	return NULL;
}

/* A nash tensor as an initializer named "NODE.PARAM", its dims as they are. */
static const char *init_param(Onnx *o, int i, const char *pname)
{
	const Node *nd = &o->g->nodes[i];
	const Tensor *t = param(nd, pname);
	if (!t)
		return NULL;
	int64_t dims[4];
	for (int k = 0; k < t->ndim; k++)
		dims[k] = t->dims[k];
	return onnx_init_float(o, onnx_pool_printf(&o->pool, "%s.%s", o->names[i], pname), t->ndim, dims, t->data);
}

/* A per-channel constant shaped to broadcast over a tensor of the given rank: [1,C,1,1] or [1,C]. */
static const char *init_channels(Onnx *o, const char *name, const float *data, int c, int rank)
{
	int64_t dims[4] = {1, c, 1, 1};
	return onnx_init_float(o, name, rank, dims, data);
}

/* Node i's output as rank 4: itself, or (once) an Unsqueeze of its [N,C] to [N,C,1,1]. */
static const char *view4(Onnx *o, int i)
{
	if (o->rank[i] == 4)
		return o->names[i];
	if (o->names4[i])
		return o->names4[i];
	if (!o->axes_hw && !(o->axes_hw = onnx_init_int64(o, "axes_hw", 1, (const int64_t[]){2}, (const int64_t[]){2, 3})))
		return NULL;
	char *name = onnx_pool_printf(&o->pool, "%s.4d", o->names[i]);
	const char *in[2] = {o->names[i], o->axes_hw};
	if (!onnx_emit(o, "Unsqueeze", name, 2, in, name))
		return NULL;
	o->names4[i] = name;
	return name;
}

/* The normalisation nash applies to every pixel, ((float)p / 255 - mean) / std, in the same
   float operations and order, so the ONNX model takes raw pixels; into out. */
static int emit_input(Onnx *o, const Model *m, const char *out)
{
	const Graph *g = o->g;
	float *c255 = onnx_pool_alloc(&o->pool, sizeof *c255);
	float *mean = onnx_pool_alloc(&o->pool, (size_t)g->in_c * sizeof *mean);
	float *std = onnx_pool_alloc(&o->pool, (size_t)g->in_c * sizeof *std);
	if (!c255 || !mean || !std)
		return -1;
	*c255 = 255.0f;
	memcpy(mean, m->mean, (size_t)g->in_c * sizeof *mean);
	memcpy(std, m->std, (size_t)g->in_c * sizeof *std);
	const char *k255 = onnx_init_float(o, "input.255", 0, NULL, c255);
	const char *kmean = init_channels(o, "input.mean", mean, g->in_c, 4);
	const char *kstd = init_channels(o, "input.std", std, g->in_c, 4);
	const char *scaled = "input.scaled", *centred = "input.centred";
	const char *a[2] = {"image", k255}, *b[2] = {scaled, kmean}, *c[2] = {centred, kstd};
	if (!onnx_emit(o, "Div", scaled, 2, a, scaled) || !onnx_emit(o, "Sub", centred, 2, b, centred) ||
	    !onnx_emit(o, "Div", out, 2, c, out))
		return -1;
	o->rank[0] = 4;
	return 0;
}

/* lambda[c]*a + (1-lambda[c])*b as Mul, Mul, Add over per-channel constants. */
static int emit_add(Onnx *o, int i)
{
	const Node *nd = &o->g->nodes[i];
	int a = nd->inputs[0], b = nd->inputs[1];
	int rank = o->rank[a] == 4 || o->rank[b] == 4 ? 4 : 2;
	const char *xa = rank == 4 ? view4(o, a) : o->names[a];
	const char *xb = rank == 4 ? view4(o, b) : o->names[b];
	const Tensor *lam = param(nd, "lambda");
	float *rest = onnx_pool_alloc(&o->pool, (size_t)nd->c * sizeof *rest); /* [c] 1 - lambda */
	if (!lam || !rest)
		return -1;
	for (int c = 0; c < nd->c; c++)
		rest[c] = (float)(1.0 - (double)lam->data[c]);
	const char *kl = init_channels(o, onnx_pool_printf(&o->pool, "%s.lambda", o->names[i]), lam->data, nd->c, rank);
	const char *kr = init_channels(o, onnx_pool_printf(&o->pool, "%s.one_minus_lambda", o->names[i]), rest, nd->c, rank);
	char *ta = onnx_pool_printf(&o->pool, "%s.a", o->names[i]), *tb = onnx_pool_printf(&o->pool, "%s.b", o->names[i]);
	const char *ma[2] = {xa, kl}, *mb[2] = {xb, kr}, *sum[2] = {ta, tb};
	if (!onnx_emit(o, "Mul", ta, 2, ma, ta) || !onnx_emit(o, "Mul", tb, 2, mb, tb) ||
	    !onnx_emit(o, "Add", o->names[i], 2, sum, o->names[i]))
		return -1;
	o->rank[i] = rank;
	return 0;
}

static int emit_concat(Onnx *o, int i)
{
	const Node *nd = &o->g->nodes[i];
	int rank = 2;
	for (int k = 0; k < nd->n_inputs; k++)
		if (o->rank[nd->inputs[k]] == 4)
			rank = 4;
	const char *in[NASH_MAX_INPUTS];
	for (int k = 0; k < nd->n_inputs; k++)
		in[k] = rank == 4 ? view4(o, nd->inputs[k]) : o->names[nd->inputs[k]];
	Onnx__NodeProto *n = onnx_emit(o, "Concat", o->names[i], nd->n_inputs, in, o->names[i]);
	onnx_attr_int(o, n, "axis", 1);
	o->rank[i] = rank;
	return n ? 0 : -1;
}

static int emit_node(Onnx *o, int i, NashErr *err)
{
	const Node *nd = &o->g->nodes[i];
	const char *out = o->names[i];
	int x = nd->n_inputs > 0 ? nd->inputs[0] : 0;
	Onnx__NodeProto *n = NULL;
	o->rank[i] = 4;
	switch (nd->op) {
	case OP_CONV: {
		int pad = nd->kernel / 2;
		const char *in[3] = {view4(o, x), init_param(o, i, "weight"), nd->has_bias ? init_param(o, i, "bias") : NULL};
		n = onnx_emit(o, "Conv", out, nd->has_bias ? 3 : 2, in, out);
		attr_ints(o, n, "kernel_shape", nd->kernel, 2);
		attr_ints(o, n, "pads", pad, 4);
		attr_ints(o, n, "strides", 1, 2);
		break;
	}
	case OP_BN: {
		const char *in[5] = {o->names[x], init_param(o, i, "gamma"), init_param(o, i, "beta"),
				     init_param(o, i, "running_mean"), init_param(o, i, "running_var")};
		n = onnx_emit(o, "BatchNormalization", out, 5, in, out);
		attr_float(o, n, "epsilon", nd->bn_eps);
		o->rank[i] = o->rank[x];
		break;
	}
	case OP_RELU:
		n = onnx_emit(o, "Relu", out, 1, (const char *[]){o->names[x]}, out);
		o->rank[i] = o->rank[x];
		break;
	case OP_MAXPOOL: /* window = stride = k, no padding: floor(h/k) x floor(w/k), as nash */
		n = onnx_emit(o, "MaxPool", out, 1, (const char *[]){view4(o, x)}, out);
		attr_ints(o, n, "kernel_shape", nd->kernel, 2);
		attr_ints(o, n, "strides", nd->kernel, 2);
		break;
	case OP_ADD:
		return emit_add(o, i);
	case OP_CONCAT:
		return emit_concat(o, i);
	case OP_GAP: /* an [N,C] input is already its own average */
		n = onnx_emit(o, o->rank[x] == 4 ? "GlobalAveragePool" : "Identity", out, 1, (const char *[]){o->names[x]}, out);
		o->rank[i] = o->rank[x];
		break;
	case OP_FLATTEN: /* ONNX's Flatten keeps C,H,W order, as nash's */
		n = onnx_emit(o, "Flatten", out, 1, (const char *[]){o->names[x]}, out);
		onnx_attr_int(o, n, "axis", 1);
		o->rank[i] = 2;
		break;
	case OP_DENSE: {
		const char *flat = o->names[x];
		if (o->rank[x] == 4) { /* e.g. straight after global average pooling: [N,C,1,1] */
			char *name = onnx_pool_printf(&o->pool, "%s.flat", out);
			Onnx__NodeProto *f = onnx_emit(o, "Flatten", name, 1, (const char *[]){flat}, name);
			onnx_attr_int(o, f, "axis", 1);
			flat = f ? name : NULL;
		}
		const char *in[3] = {flat, init_param(o, i, "weight"), nd->has_bias ? init_param(o, i, "bias") : NULL};
		n = onnx_emit(o, "Gemm", out, nd->has_bias ? 3 : 2, in, out); /* x w^T + b */
		onnx_attr_int(o, n, "transB", 1);
		o->rank[i] = 2;
		break;
	}
	default:
		return nash_err(err, NASH_ERR_RUNTIME, "node %s: op '%s' has no ONNX export", out, op_name(nd->op));
	}
	return n ? 0 : -1;
}

static Onnx__ValueInfoProto *value_info(Onnx *o, const char *name, int ndim, const int64_t *dims)
{
	Onnx__ValueInfoProto *v = onnx_pool_alloc(&o->pool, sizeof *v);
	Onnx__TypeProto *type = onnx_pool_alloc(&o->pool, sizeof *type);
	Onnx__TypeProto__Tensor *tt = onnx_pool_alloc(&o->pool, sizeof *tt);
	Onnx__TensorShapeProto *shape = onnx_pool_alloc(&o->pool, sizeof *shape);
	Onnx__TensorShapeProto__Dimension **dim = onnx_pool_alloc(&o->pool, (size_t)ndim * sizeof *dim);
	if (!v || !type || !tt || !shape || !dim)
		return NULL;
	onnx__value_info_proto__init(v);
	onnx__type_proto__init(type);
	onnx__type_proto__tensor__init(tt);
	onnx__tensor_shape_proto__init(shape);
	for (int k = 0; k < ndim; k++) {
		dim[k] = onnx_pool_alloc(&o->pool, sizeof *dim[k]);
		if (!dim[k])
			return NULL;
		onnx__tensor_shape_proto__dimension__init(dim[k]);
		if (dims[k] < 0) { /* the batch: any size */
			dim[k]->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
			dim[k]->dim_param = "N";
		} else {
			dim[k]->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
			dim[k]->dim_value = dims[k];
		}
	}
	shape->n_dim = (size_t)ndim;
	shape->dim = dim;
	tt->has_elem_type = 1;
	tt->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
	tt->shape = shape;
	type->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
	type->tensor_type = tt;
	v->name = (char *)name;
	v->type = type;
	return v;
}

static Onnx__StringStringEntryProto *meta(Onnx *o, const char *key, const char *value)
{
	Onnx__StringStringEntryProto *e = onnx_pool_alloc(&o->pool, sizeof *e);
	if (!e || !value)
		return NULL;
	onnx__string_string_entry_proto__init(e);
	e->key = (char *)key;
	e->value = (char *)value;
	return e;
}

/* Builds the whole model in o's pool and packs it. */
static int build(void **buf, size_t *len, Onnx *o, const Model *m, Tta tta, NashErr *err)
{
	const Graph *g = &m->g;
	int nn = g->n_nodes;
	/* Bounds: per node at most 3 ONNX nodes for its op plus one Unsqueeze of its output, and at
	   most 4 parameters plus 2 constants; the input adds 3 of each, the end one Flatten. */
	o->cap_nodes = 4 * (size_t)nn + 8 + ONNX_TTA_MAX_NODES;
	o->cap_inits = 6 * (size_t)nn + 8 + ONNX_TTA_MAX_INITS;
	o->nodes = onnx_pool_alloc(&o->pool, o->cap_nodes * sizeof *o->nodes);
	o->inits = onnx_pool_alloc(&o->pool, o->cap_inits * sizeof *o->inits);
	o->names = onnx_pool_alloc(&o->pool, (size_t)nn * sizeof *o->names);
	o->names4 = onnx_pool_alloc(&o->pool, (size_t)nn * sizeof *o->names4);
	o->rank = onnx_pool_alloc(&o->pool, (size_t)nn * sizeof *o->rank);
	if (!o->nodes || !o->inits || !o->names || !o->names4 || !o->rank)
		goto oom;
	for (int i = 0; i < nn; i++) {
		char name[32];
		node_name(g, i, name, sizeof name);
		if (!(o->names[i] = onnx_pool_printf(&o->pool, "%s", name)))
			goto oom;
	}
	/* With test-time augmentation the network's input is the normalised image's views, its
	   output their logits, and the graph's output the mean of their softmax. */
	if (tta == TTA_NONE ? emit_input(o, m, o->names[0])
			    : emit_input(o, m, "input.normalised") || onnx_tta_views(o, tta, "input.normalised", o->names[0]))
		goto oom;
	for (int i = 1; i < nn; i++)
		if (emit_node(o, i, err)) {
			if (err->code)
				return -1;
			goto oom;
		}
	/* The last node's output is the network's, "logits" [N, classes], and the graph's; with
	   test-time augmentation the views' logits [V*N, classes], whose mean softmax is the graph's. */
	const char *logits = tta == TTA_NONE ? "logits" : "view_logits";
	const char *output = tta == TTA_NONE ? "logits" : "probabilities";
	int last = nn - 1;
	if (o->rank[last] == 2) {
		o->nodes[o->n_nodes - 1]->output[0] = (char *)logits;
	} else {
		Onnx__NodeProto *f = onnx_emit(o, "Flatten", logits, 1, (const char *[]){o->names[last]}, logits);
		onnx_attr_int(o, f, "axis", 1);
		if (!f)
			goto oom;
	}
	if (tta != TTA_NONE && onnx_tta_mean(o, tta, logits, output))
		goto oom;

	int64_t in_dims[4] = {-1, g->in_c, g->in_h, g->in_w}, out_dims[2] = {-1, g->n_classes};
	Onnx__ValueInfoProto *in = value_info(o, "image", 4, in_dims);
	Onnx__ValueInfoProto *out = value_info(o, output, 2, out_dims);
	Onnx__GraphProto *graph = onnx_pool_alloc(&o->pool, sizeof *graph);
	Onnx__ModelProto *model = onnx_pool_alloc(&o->pool, sizeof *model);
	Onnx__OperatorSetIdProto *opset = onnx_pool_alloc(&o->pool, sizeof *opset);
	Onnx__ValueInfoProto **ins = onnx_pool_alloc(&o->pool, sizeof *ins), **outs = onnx_pool_alloc(&o->pool, sizeof *outs);
	Onnx__OperatorSetIdProto **opsets = onnx_pool_alloc(&o->pool, sizeof *opsets);
	Onnx__StringStringEntryProto **props = onnx_pool_alloc(&o->pool, 6 * sizeof *props);
	if (!in || !out || !graph || !model || !opset || !ins || !outs || !opsets || !props)
		goto oom;
	onnx__graph_proto__init(graph);
	onnx__model_proto__init(model);
	onnx__operator_set_id_proto__init(opset);
	ins[0] = in;
	outs[0] = out;
	graph->name = onnx_pool_printf(&o->pool, "nash_%s", m->id[0] ? m->id : "model");
	if (tta == TTA_NONE) {
		graph->doc_string = "input 'image': float32 pixels 0..255 [N,C,H,W], normalised inside; output 'logits' [N,classes]";
	} else {
		graph->doc_string = onnx_pool_printf(&o->pool, "input 'image': float32 pixels 0..255 [N,C,H,W], normalised "
						     "inside; output 'probabilities' [N,classes]: the mean softmax of the "
						     "image's views, as nash-train --tta %s evaluates", tta_name(tta));
		out->doc_string = "softmax probabilities (not logits): the weighted mean over the test-time augmentation views";
	}
	graph->n_node = o->n_nodes;
	graph->node = o->nodes;
	graph->n_initializer = o->n_inits;
	graph->initializer = o->inits;
	graph->n_input = 1;
	graph->input = ins;
	graph->n_output = 1;
	graph->output = outs;
	opset->domain = "";
	opset->has_version = 1;
	opset->version = NASH_ONNX_OPSET;
	opsets[0] = opset;
	props[0] = meta(o, "nash.id", m->id);
	props[1] = meta(o, "nash.dataset", m->dataset);
	props[2] = meta(o, "nash.classes", onnx_pool_printf(&o->pool, "%d", g->n_classes));
	/* the image a program must give it, C,H,W (classify.js resizes to it) */
	props[3] = meta(o, "nash.input", onnx_pool_printf(&o->pool, "%d,%d,%d", g->in_c, g->in_h, g->in_w));
	if (!props[0] || !props[1] || !props[2] || !props[3] || !graph->name || !graph->doc_string)
		goto oom;
	size_t n_props = 4;
	/* the views the output averages; absent without them, so that the default export stays as it was */
	if (tta != TTA_NONE && !(props[n_props++] = meta(o, "nash.tta", tta_name(tta))))
		goto oom;
	if (m->class_names) { /* a JSON array: names may hold commas and quotes */
		char *json = class_names_json(m->class_names, g->n_classes);
		char *copy = json ? onnx_pool_alloc(&o->pool, strlen(json) + 1) : NULL;
		if (copy)
			memcpy(copy, json, strlen(json) + 1);
		free(json);
		if (!copy || !(props[n_props++] = meta(o, "nash.class_names", copy)))
			goto oom;
	}
	model->has_ir_version = 1;
	model->ir_version = NASH_ONNX_IR_VERSION;
	model->n_opset_import = 1;
	model->opset_import = opsets;
	model->producer_name = "nash";
	model->producer_version = NASH_VERSION;
	model->graph = graph;
	model->n_metadata_props = n_props;
	model->metadata_props = props;

	*len = onnx__model_proto__get_packed_size(model);
	if (!(*buf = malloc(*len ? *len : 1)))
		goto oom;
	onnx__model_proto__pack(model, *buf);
	return 0;
oom:
	return nash_err(err, NASH_ERR_OOM, "out of memory building the ONNX model");
}

int onnx_export_mem(void **buf, size_t *len, const Model *m, Tta tta, NashErr *err)
{
	const Graph *g = &m->g;
	if (g->n_nodes < 2 || g->nodes[0].op != OP_INPUT || g->nodes[g->n_nodes - 1].c != g->n_classes)
		return nash_err(err, NASH_ERR_RUNTIME, "the graph is not inferred or has no output node");
	if (!graph_finite(g))
		return nash_err(err, NASH_ERR_RUNTIME, "weights or running statistics are not finite");
	Onnx o = {.g = g};
	*buf = NULL;
	int rc = build(buf, len, &o, m, tta, err);
	pool_free(&o.pool);
	return rc;
}

int onnx_export(const char *path, const Model *m, Tta tta, NashErr *err)
{
	void *buf;
	size_t len;
	if (onnx_export_mem(&buf, &len, m, tta, err))
		return nash_err_prefix(err, path);
	int rc = atomic_write(path, buf, len, err);
	free(buf);
	return rc;
}
