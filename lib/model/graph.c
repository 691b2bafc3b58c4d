#include "model/graph.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const op_names[OP_COUNT] = {
	[OP_INPUT] = "input", [OP_CONV] = "conv", [OP_BN] = "bn",
	[OP_RELU] = "relu", [OP_MAXPOOL] = "maxpool", [OP_ADD] = "add",
	[OP_CONCAT] = "concat", [OP_GAP] = "gap", [OP_FLATTEN] = "flatten",
	[OP_DENSE] = "dense",
};

const char *op_name(OpKind op) { return (op >= 0 && op < OP_COUNT) ? op_names[op] : "?"; }

int op_from_name(const char *name)
{
	for (int i = 0; i < OP_COUNT; i++)
		if (strcmp(op_names[i], name) == 0)
			return i;
	return -1;
}

void graph_init(Graph *g, int in_c, int in_h, int in_w, int n_classes)
{
	memset(g, 0, sizeof *g);
	g->in_c = in_c;
	g->in_h = in_h;
	g->in_w = in_w;
	g->n_classes = n_classes;
	graph_add(g, OP_INPUT, 0, NULL);
}

static void tensor_free(Tensor *t)
{
	free(t->data);
	free(t->momentum);
	free(t->ema);
	t->data = t->momentum = t->ema = NULL;
}

void graph_free(Graph *g)
{
	for (int i = 0; i < g->n_nodes; i++)
		for (int p = 0; p < g->nodes[i].n_params; p++)
			tensor_free(&g->nodes[i].params[p]);
	free(g->nodes);
	memset(g, 0, sizeof *g);
}

size_t tensor_size(const Tensor *t)
{
	size_t n = 1;
	for (int d = 0; d < t->ndim; d++)
		n *= (size_t)t->dims[d];
	return n;
}

int graph_finite(const Graph *g)
{
	for (int i = 0; i < g->n_nodes; i++)
		for (int p = 0; p < g->nodes[i].n_params; p++) {
			const Tensor *t = &g->nodes[i].params[p];
			for (size_t k = 0, n = tensor_size(t); k < n; k++)
				if (!isfinite(t->data[k]))
					return 0;
		}
	return 1;
}

static float *dup_floats(const float *src, size_t n)
{
	if (!src)
		return NULL;
	float *p = malloc(n * sizeof *p + 1);
	if (p)
		memcpy(p, src, n * sizeof *p);
	return p;
}

int graph_clone(Graph *dst, const Graph *src, NashErr *err)
{
	*dst = *src;
	dst->nodes = malloc((size_t)src->cap * sizeof *dst->nodes + 1);
	if (!dst->nodes)
		return nash_err(err, NASH_ERR_OOM, "out of memory");
	memcpy(dst->nodes, src->nodes, (size_t)src->n_nodes * sizeof *dst->nodes);
	for (int i = 0; i < src->n_nodes; i++) {
		for (int p = 0; p < src->nodes[i].n_params; p++) {
			const Tensor *s = &src->nodes[i].params[p];
			Tensor *d = &dst->nodes[i].params[p];
			size_t n = tensor_size(s);
			d->data = dup_floats(s->data, n);
			d->momentum = dup_floats(s->momentum, n);
			d->ema = dup_floats(s->ema, n);
			if ((s->data && !d->data) || (s->momentum && !d->momentum) || (s->ema && !d->ema)) {
				dst->n_nodes = i + 1;
				graph_free(dst);
				return nash_err(err, NASH_ERR_OOM, "out of memory");
			}
		}
	}
	return 0;
}

/* Room for `more` nodes beyond n_nodes; on failure the graph is unchanged but marked out of
   memory (graph_infer reports it), so a builder's caller need not check every step. */
static int reserve(Graph *g, int more)
{
	if (g->n_nodes + more <= g->cap)
		return 0;
	int cap = g->cap ? g->cap : 16;
	while (cap < g->n_nodes + more)
		cap *= 2;
	Node *nodes = realloc(g->nodes, (size_t)cap * sizeof *nodes);
	if (!nodes) {
		g->out_of_memory = 1;
		return -1;
	}
	g->nodes = nodes;
	g->cap = cap;
	return 0;
}

int graph_reserve(Graph *g, int more, NashErr *err)
{
	if (reserve(g, more))
		return nash_err(err, NASH_ERR_OOM, "out of memory");
	return 0;
}

static Node *append_node(Graph *g)
{
	if (reserve(g, 1))
		return NULL;
	Node *n = &g->nodes[g->n_nodes++];
	memset(n, 0, sizeof *n);
	return n;
}

int graph_add(Graph *g, OpKind op, int n_inputs, const int *inputs)
{
	Node *n = append_node(g);
	if (!n)
		return -1;
	n->op = op;
	n->n_inputs = n_inputs;
	for (int i = 0; i < n_inputs && i < NASH_MAX_INPUTS; i++)
		n->inputs[i] = inputs[i];
	n->bn_eps = 1e-5f;
	n->bn_momentum = 0.1f;
	n->kernel = op == OP_MAXPOOL ? 2 : 0;
	return g->n_nodes - 1;
}

int graph_conv(Graph *g, int in, int out_channels, int kernel, int has_bias)
{
	int i = graph_add(g, OP_CONV, 1, &in);
	if (i < 0)
		return -1;
	g->nodes[i].out_channels = out_channels;
	g->nodes[i].kernel = kernel;
	g->nodes[i].has_bias = has_bias;
	return i;
}

int graph_bn(Graph *g, int in) { return graph_add(g, OP_BN, 1, &in); }
int graph_relu(Graph *g, int in) { return graph_add(g, OP_RELU, 1, &in); }
int graph_unary(Graph *g, OpKind op, int in) { return graph_add(g, op, 1, &in); }

int graph_maxpool(Graph *g, int in, int kernel)
{
	int i = graph_add(g, OP_MAXPOOL, 1, &in);
	if (i < 0)
		return -1;
	g->nodes[i].kernel = kernel;
	return i;
}

int graph_dense(Graph *g, int in, int out, int has_bias)
{
	int i = graph_add(g, OP_DENSE, 1, &in);
	if (i < 0)
		return -1;
	g->nodes[i].out_channels = out;
	g->nodes[i].has_bias = has_bias;
	return i;
}

int graph_insert(Graph *g, int pos, const Node *node)
{
	if (!append_node(g))
		return -1;
	memmove(&g->nodes[pos + 1], &g->nodes[pos], (size_t)(g->n_nodes - 1 - pos) * sizeof *g->nodes);
	g->nodes[pos] = *node;
	for (int j = pos + 1; j < g->n_nodes; j++)
		for (int k = 0; k < g->nodes[j].n_inputs; k++)
			if (g->nodes[j].inputs[k] >= pos)
				g->nodes[j].inputs[k]++;
	return pos;
}

void graph_redirect(Graph *g, int old_in, int new_in, int first)
{
	for (int j = first; j < g->n_nodes; j++) {
		if (j == new_in)
			continue;
		for (int k = 0; k < g->nodes[j].n_inputs; k++)
			if (g->nodes[j].inputs[k] == old_in)
				g->nodes[j].inputs[k] = new_in;
	}
}

static void set_tensor(Tensor *t, const char *name, int ndim, int d0, int d1, int d2, int d3)
{
	memset(t, 0, sizeof *t);
	snprintf(t->name, sizeof t->name, "%s", name);
	t->ndim = ndim;
	t->dims[0] = d0;
	t->dims[1] = d1;
	t->dims[2] = d2;
	t->dims[3] = d3;
}

int node_expected_params(const Graph *g, int i, Tensor *out)
{
	const Node *n = &g->nodes[i];
	const Node *in = n->n_inputs > 0 ? &g->nodes[n->inputs[0]] : NULL;
	int k = 0;
	switch (n->op) {
	case OP_CONV:
		set_tensor(&out[k++], "weight", 4, n->out_channels, in->c, n->kernel, n->kernel);
		if (n->has_bias)
			set_tensor(&out[k++], "bias", 1, n->out_channels, 0, 0, 0);
		break;
	case OP_DENSE:
		set_tensor(&out[k++], "weight", 2, n->out_channels, in->c * in->h * in->w, 0, 0);
		if (n->has_bias)
			set_tensor(&out[k++], "bias", 1, n->out_channels, 0, 0, 0);
		break;
	case OP_BN:
		set_tensor(&out[k++], "gamma", 1, in->c, 0, 0, 0);
		set_tensor(&out[k++], "beta", 1, in->c, 0, 0, 0);
		set_tensor(&out[k++], "running_mean", 1, in->c, 0, 0, 0);
		set_tensor(&out[k++], "running_var", 1, in->c, 0, 0, 0);
		break;
	case OP_ADD:
		set_tensor(&out[k++], "lambda", 1, in->c, 0, 0, 0);
		break;
	default:
		break;
	}
	return k;
}

int param_role(OpKind op, const char *name)
{
	if (strcmp(name, "running_mean") == 0 || strcmp(name, "running_var") == 0)
		return 0;
	if ((op == OP_CONV || op == OP_DENSE) && strcmp(name, "weight") == 0)
		return PARAM_TRAINABLE | PARAM_DECAY;
	return PARAM_TRAINABLE;
}

void node_name(const Graph *g, int i, char *buf, size_t n)
{
	/* "%03d_%s" by hand: graph_infer and model_validate name every node they check, and
	   snprintf cost more than the checks */
	const char *op = op_name(g->nodes[i].op);
	char s[16 + 16];
	size_t len = 0, k = 0;
	if (i < 0 || i > 99999999 || strlen(op) > 15 || n == 0) {
		if (n)
			snprintf(buf, n, "%03d_%s", i, op);
		return;
	}
	char digits[8];
	for (int v = i; v > 0 || k < 3; v /= 10)
		digits[k++] = (char)('0' + v % 10);
	while (k > 0)
		s[len++] = digits[--k];
	s[len++] = '_';
	while (*op)
		s[len++] = *op++;
	if (len > n - 1)
		len = n - 1;
	memcpy(buf, s, len);
	buf[len] = '\0';
}

#define FAIL(...) nash_err(err, NASH_ERR_RUNTIME, __VA_ARGS__)

static int infer_node(Graph *g, int i, NashErr *err)
{
	Node *n = &g->nodes[i];
	char name[32];
	node_name(g, i, name, sizeof name);
	if (n->op < 0 || n->op >= OP_COUNT)
		return FAIL("graph/%s: unknown op %d", name, (int)n->op);
	if (n->op == OP_INPUT) {
		if (i != 0 || n->n_inputs != 0)
			return FAIL("graph/%s: the input node must be node 0 and have no inputs", name);
		n->c = g->in_c, n->h = g->in_h, n->w = g->in_w;
		return 0;
	}
	if (i == 0)
		return FAIL("graph/%s: node 0 must be the input node", name);
	int want_min = 1, want_max = 1;
	if (n->op == OP_ADD)
		want_min = want_max = 2;
	if (n->op == OP_CONCAT)
		want_min = 2, want_max = NASH_MAX_INPUTS;
	if (n->n_inputs < want_min || n->n_inputs > want_max)
		return FAIL("graph/%s: %s takes %d%s input%s, has %d", name, op_name(n->op), want_min,
			    want_max > want_min ? " or more" : "", want_min > 1 ? "s" : "", n->n_inputs);
	for (int k = 0; k < n->n_inputs; k++) {
		int j = n->inputs[k];
		if (j < 0 || j >= g->n_nodes)
			return FAIL("graph/%s: input %d refers to node %d, which does not exist", name, k, j);
		if (j >= i)
			return FAIL("graph/%s: input %d refers to node %d, which is not earlier (cycle or bad order)",
				    name, k, j);
	}
	const Node *a = &g->nodes[n->inputs[0]];
	switch (n->op) {
	case OP_CONV:
		if (n->kernel < 1 || n->kernel % 2 == 0 || n->kernel > 15)
			return FAIL("graph/%s: kernel %d is not an odd size in 1..15", name, n->kernel);
		if (n->out_channels < 1)
			return FAIL("graph/%s: out_channels %d < 1", name, n->out_channels);
		n->c = n->out_channels, n->h = a->h, n->w = a->w;
		break;
	case OP_BN:
	case OP_RELU:
		n->c = a->c, n->h = a->h, n->w = a->w;
		break;
	case OP_MAXPOOL:
		if (n->kernel < 2 || n->kernel > a->h || n->kernel > a->w)
			return FAIL("graph/%s: pool kernel %d does not fit input %dx%d", name, n->kernel, a->h, a->w);
		n->c = a->c, n->h = a->h / n->kernel, n->w = a->w / n->kernel;
		break;
	case OP_ADD: {
		const Node *b = &g->nodes[n->inputs[1]];
		if (a->c != b->c || a->h != b->h || a->w != b->w)
			return FAIL("graph/%s: add of shapes %dx%dx%d and %dx%dx%d", name, a->c, a->h, a->w, b->c, b->h, b->w);
		n->c = a->c, n->h = a->h, n->w = a->w;
		break;
	}
	case OP_CONCAT:
		n->c = 0, n->h = a->h, n->w = a->w;
		for (int k = 0; k < n->n_inputs; k++) {
			const Node *b = &g->nodes[n->inputs[k]];
			if (b->h != a->h || b->w != a->w)
				return FAIL("graph/%s: concat of spatial sizes %dx%d and %dx%d", name, a->h, a->w, b->h, b->w);
			if ((long long)n->c + b->c > NASH_MAX_FEATURES)
				return FAIL("graph/%s: concat has too many channels", name);
			n->c += b->c;
		}
		break;
	case OP_GAP:
		n->c = a->c, n->h = 1, n->w = 1;
		break;
	case OP_FLATTEN:
		if ((long long)a->c * a->h * a->w > NASH_MAX_FEATURES)
			return FAIL("graph/%s: flatten of %dx%dx%d is too large", name, a->c, a->h, a->w);
		n->c = a->c * a->h * a->w, n->h = 1, n->w = 1;
		break;
	case OP_DENSE:
		if (a->h != 1 || a->w != 1)
			return FAIL("graph/%s: dense needs a flat input, got %dx%dx%d (flatten or gap first)",
				    name, a->c, a->h, a->w);
		if (n->out_channels < 1)
			return FAIL("graph/%s: out_channels %d < 1", name, n->out_channels);
		n->c = n->out_channels, n->h = 1, n->w = 1;
		break;
	default:
		return FAIL("graph/%s: unexpected op", name);
	}
	if (n->op == OP_BN && !(n->bn_eps > 0 && isfinite(n->bn_eps)))
		return FAIL("graph/%s: eps must be positive", name);
	if (n->op == OP_BN && !(n->bn_momentum >= 0 && n->bn_momentum <= 1))
		return FAIL("graph/%s: momentum must be in [0, 1]", name);
	return 0;
}

int node_check_params(const Graph *g, int i, NashErr *err)
{
	const Node *n = &g->nodes[i];
	Tensor want[NASH_MAX_PARAMS];
	int nw = node_expected_params(g, i, want);
	char name[32];
	node_name(g, i, name, sizeof name);
	if (nw != n->n_params)
		return FAIL("graph/%s: has %d weight tensors, expected %d", name, n->n_params, nw);
	for (int p = 0; p < nw; p++) {
		const Tensor *t = &n->params[p];
		int same = strcmp(t->name, want[p].name) == 0 && t->ndim == want[p].ndim;
		for (int d = 0; same && d < t->ndim; d++)
			same = t->dims[d] == want[p].dims[d];
		if (!same)
			return FAIL("graph/%s/%s: weight shape does not match the graph", name, want[p].name);
	}
	return 0;
}

int graph_infer(Graph *g, NashErr *err)
{
	if (g->out_of_memory)
		return nash_err(err, NASH_ERR_OOM, "out of memory building the graph");
	if (g->n_nodes < 2)
		return FAIL("graph has no layers");
	if (g->in_c < 1 || g->in_c > NASH_MAX_CHANNELS || g->in_h < 1 || g->in_w < 1)
		return FAIL("bad input shape %dx%dx%d", g->in_c, g->in_h, g->in_w);
	if (g->n_classes < 2)
		return FAIL("bad number of classes %d", g->n_classes);
	for (int i = 0; i < g->n_nodes; i++) {
		if (infer_node(g, i, err))
			return -1;
		/* Existing params must match the shapes this graph implies. */
		if (g->nodes[i].n_params > 0 && node_check_params(g, i, err))
			return -1;
	}
	const Node *last = &g->nodes[g->n_nodes - 1];
	if (last->c != g->n_classes || last->h != 1 || last->w != 1)
		return FAIL("the last node outputs %dx%dx%d, expected %dx1x1 (one logit per class)",
			    last->c, last->h, last->w, g->n_classes);
	/* Every node but the last must be consumed, or its work is wasted and its grads undefined.
	   Marked in one pass over the inputs: searching the later nodes for each node's consumer
	   costs O(n^2) when consumers are far away (a skip connection over the whole network). */
	unsigned char *used = calloc((size_t)g->n_nodes, 1);
	if (!used)
		return nash_err(err, NASH_ERR_OOM, "out of memory");
	for (int j = 1; j < g->n_nodes; j++)
		for (int k = 0; k < g->nodes[j].n_inputs; k++)
			used[g->nodes[j].inputs[k]] = 1; /* inputs < j, checked by infer_node */
	int unused = 0;
	while (unused < g->n_nodes - 1 && used[unused])
		unused++;
	free(used);
	if (unused < g->n_nodes - 1) {
		char name[32];
		node_name(g, unused, name, sizeof name);
		return FAIL("graph/%s: output is not used by any node", name);
	}
	return 0;
}

int graph_alloc_params(Graph *g, NashErr *err)
{
	for (int i = 0; i < g->n_nodes; i++) {
		Node *n = &g->nodes[i];
		if (n->n_params)
			continue;
		Tensor want[NASH_MAX_PARAMS];
		int nw = node_expected_params(g, i, want);
		for (int p = 0; p < nw; p++) {
			want[p].data = calloc(tensor_size(&want[p]) + 1, sizeof(float));
			if (!want[p].data) {
				for (int q = 0; q < p; q++)
					free(want[q].data);
				return nash_err(err, NASH_ERR_OOM, "out of memory");
			}
			n->params[p] = want[p];
		}
		n->n_params = nw;
	}
	return 0;
}

size_t graph_param_count(const Graph *g)
{
	size_t total = 0;
	for (int i = 0; i < g->n_nodes; i++) {
		Tensor want[NASH_MAX_PARAMS];
		int nw = node_expected_params(g, i, want);
		for (int p = 0; p < nw; p++)
			if (param_role(g->nodes[i].op, want[p].name) & PARAM_TRAINABLE)
				total += tensor_size(&want[p]);
	}
	return total;
}

/* a * b, or UINT64_MAX when it does not fit */
static uint64_t mul_sat(uint64_t a, uint64_t b) { return a && b > UINT64_MAX / a ? UINT64_MAX : a * b; }

/* Convolutions and dense layers only: they do k*k*in (a dense layer: in) multiply-adds per
   output value, 9 to thousands, the bulk of a network's arithmetic. Batch-norm, ReLU,
   max-pool, add, concat, pooling and flatten do one or a few operations per value (or copy
   it); counted as their output's values they would add 2.7% to the paper's seed network at
   16,32,64 channels (51,744 values against 1,950,592 multiply-adds) and less to wider ones,
   for no better ordering of networks. Biases (an add per output value) are not counted. */
uint64_t graph_macs(const Graph *g)
{
	uint64_t total = 0;
	for (int i = 1; i < g->n_nodes; i++) {
		const Node *n = &g->nodes[i], *in = &g->nodes[n->inputs[0]];
		uint64_t m = 0;
		if (n->op == OP_CONV)
			m = mul_sat(mul_sat((uint64_t)n->kernel * (uint64_t)n->kernel, (uint64_t)in->c),
				    mul_sat((uint64_t)n->out_channels, (uint64_t)n->h * (uint64_t)n->w));
		else if (n->op == OP_DENSE)
			m = mul_sat((uint64_t)in->c * (uint64_t)in->h * (uint64_t)in->w, (uint64_t)n->out_channels);
		total = m > UINT64_MAX - total ? UINT64_MAX : total + m;
	}
	return total;
}

void graph_summary(const Graph *g, char *buf, size_t n)
{
	size_t used = 0;
	buf[0] = '\0';
	for (int i = 1; i < g->n_nodes && used + 1 < n; i++) {
		const Node *nd = &g->nodes[i];
		char part[48];
		switch (nd->op) {
		case OP_CONV:
			snprintf(part, sizeof part, "conv%dk%d", nd->out_channels, nd->kernel);
			break;
		case OP_DENSE:
			snprintf(part, sizeof part, "dense%d", nd->out_channels);
			break;
		case OP_MAXPOOL:
			snprintf(part, sizeof part, "pool");
			break;
		default:
			snprintf(part, sizeof part, "%s", op_name(nd->op));
		}
		int w = snprintf(buf + used, n - used, "%s%s", i > 1 ? "-" : "", part);
		if (w < 0)
			break;
		used += (size_t)w;
	}
}
