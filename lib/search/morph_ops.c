/* The morphism operators at a given place, and where each may act (docs/MORPHISMS.md).
   Wider and skip-concat add channels to some node outputs; a "layout" pass follows those
   channels downstream and every conv/dense that reads them gets zero weights for them. */
#include "search/morph.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/init.h"
#include "search/morph_layout.h"

#define FAIL(...) nash_err(err, NASH_ERR_RUNTIME, __VA_ARGS__)
#define OOM() nash_err(err, NASH_ERR_OOM, "out of memory")

/* ---- channel layouts (search/morph_layout.h) ------------------------------------------ */

void morph_layouts_free(Layout *lay, int n)
{
	for (int i = 0; lay && i < n; i++)
		free(lay[i].map);
	free(lay);
}

static int layout_alloc(Layout *l, int c_old, int c_new, NashErr *err)
{
	l->c_new = c_new;
	l->map = malloc((size_t)c_old * sizeof *l->map + 1); /* [c_old] */
	return l->map ? 0 : OOM();
}

int morph_is_channelwise(OpKind op)
{
	return op == OP_BN || op == OP_RELU || op == OP_MAXPOOL || op == OP_GAP;
}

int morph_layout_of(const Graph *g, int i, int extra, Layout *lay, NashErr *err)
{
	const Node *nd = &g->nodes[i];
	const Layout *a = nd->n_inputs > 0 ? &lay[nd->inputs[0]] : NULL;
	Layout *l = &lay[i];
	l->c_new = nd->c;
	if (extra > 0) {
		if (layout_alloc(l, nd->c, nd->c + extra, err))
			return -1;
		for (int c = 0; c < nd->c; c++)
			l->map[c] = c;
	} else if (morph_is_channelwise(nd->op) || nd->op == OP_ADD) {
		if (nd->op == OP_ADD) {
			const Layout *b = &lay[nd->inputs[1]];
			if (!a->map && !b->map)
				return 0;
			if (!a->map || !b->map || a->c_new != b->c_new ||
			    memcmp(a->map, b->map, (size_t)nd->c * sizeof *a->map))
				return 1;
		}
		if (!a->map)
			return 0;
		if (layout_alloc(l, nd->c, a->c_new, err))
			return -1;
		memcpy(l->map, a->map, (size_t)nd->c * sizeof *l->map);
	} else if (nd->op == OP_CONCAT) {
		int changed = 0, c_new = 0;
		for (int k = 0; k < nd->n_inputs; k++) {
			changed |= lay[nd->inputs[k]].map != NULL;
			c_new += lay[nd->inputs[k]].c_new;
		}
		if (!changed)
			return 0;
		if (layout_alloc(l, nd->c, c_new, err))
			return -1;
		/* Each input's channels keep their order, shifted by what earlier inputs grew. */
		for (int k = 0, off_old = 0, off_new = 0; k < nd->n_inputs; k++) {
			const Node *b = &g->nodes[nd->inputs[k]];
			const Layout *lb = &lay[nd->inputs[k]];
			for (int c = 0; c < b->c; c++)
				l->map[off_old + c] = off_new + (lb->map ? lb->map[c] : c);
			off_old += b->c;
			off_new += lb->c_new;
		}
	} else if (nd->op == OP_FLATTEN) {
		if (!a->map)
			return 0;
		const Node *in = &g->nodes[nd->inputs[0]];
		int hw = in->h * in->w; /* flatten order C,H,W: channel c is columns c*hw.. */
		if (layout_alloc(l, nd->c, a->c_new * hw, err))
			return -1;
		for (int c = 0; c < in->c; c++)
			for (int s = 0; s < hw; s++)
				l->map[c * hw + s] = a->map[c] * hw + s;
	}
	/* conv, dense, input: a fresh output layout (their inputs are handled by apply) */
	return i == g->n_nodes - 1 && l->map ? 1 : 0;
}

/* Computes every node's layout, in topological order, when node i's output gets extra[i]
   channels appended (extra: [n_nodes]). Old shapes are the nodes' c, h, w fields. Returns 0,
   1 when the change cannot be made function-preserving (an add would see two different
   layouts, or the network's output would change), or -1 with err. lay: [n_nodes], zeroed. */
static int propagate(const Graph *g, const int *extra, Layout *lay, NashErr *err)
{
	for (int i = 0; i < g->n_nodes; i++) {
		int rc = morph_layout_of(g, i, extra[i], lay, err);
		if (rc)
			return rc;
	}
	return 0;
}

/* Replaces a conv/dense weight [rows, cols(, k, k)] by [rows + add_rows, in->c_new(, k, k)]:
   old values at the mapped input columns, zero for extra inputs, He-random new rows. */
static int resize_weight(Tensor *w, int add_rows, const Layout *in, Rng *rng, NashErr *err)
{
	int rows = w->dims[0], cols = w->dims[1];
	size_t sp = w->ndim == 4 ? (size_t)w->dims[2] * w->dims[3] : 1;
	Tensor t = *w;
	t.dims[0] = rows + add_rows;
	t.dims[1] = in->map ? in->c_new : cols;
	t.data = calloc(tensor_size(&t) + 1, sizeof *t.data); /* [rows+add, cols_new, sp] */
	t.momentum = NULL;
	if (!t.data)
		return OOM();
	for (int o = 0; o < rows; o++)
		for (int c = 0; c < cols; c++)
			memcpy(t.data + ((size_t)o * t.dims[1] + (in->map ? in->map[c] : c)) * sp,
			       w->data + ((size_t)o * cols + c) * sp, sp * sizeof *t.data);
	if (add_rows > 0)
		init_rows_he(&t, rows, rng);
	free(w->data);
	free(w->momentum);
	*w = t;
	return 0;
}

/* Replaces a vector [n] by [n_new]: old value c at map[c] (identity when map is NULL), fill
   elsewhere. */
static int resize_vec(Tensor *v, int n_new, const int *map, float fill, NashErr *err)
{
	int n = v->dims[0];
	float *d = malloc((size_t)n_new * sizeof *d + 1); /* [n_new] */
	if (!d)
		return OOM();
	for (int c = 0; c < n_new; c++)
		d[c] = fill;
	for (int c = 0; c < n; c++)
		d[map ? map[c] : c] = v->data[c];
	free(v->data);
	free(v->momentum);
	v->data = d;
	v->momentum = NULL;
	v->dims[0] = n_new;
	return 0;
}

/* Rewrites the tensors for computed layouts: convs with extra[i] get new He-random filters
   (bias 0); conv/dense readers of changed layouts get zero weights for extra channels;
   batch-norms are extended neutrally (gamma 1, beta 0, mean 0, var 1), adds with their mean
   lambda. */
static int apply_layouts(Graph *g, const int *extra, const Layout *lay, Rng *rng, NashErr *err)
{
	for (int i = 1; i < g->n_nodes; i++) {
		Node *nd = &g->nodes[i];
		const Layout *a = &lay[nd->inputs[0]];
		if (nd->op == OP_CONV || nd->op == OP_DENSE) {
			int add = nd->op == OP_CONV ? extra[i] : 0;
			if (!a->map && !add)
				continue;
			if (resize_weight(&nd->params[0], add, a, rng, err))
				return -1;
			if (nd->has_bias && add && resize_vec(&nd->params[1], nd->out_channels + add, NULL, 0, err))
				return -1;
			nd->out_channels += add;
		} else if (nd->op == OP_BN && a->map) {
			for (int p = 0; p < nd->n_params; p++) {
				const char *name = nd->params[p].name;
				float fill = !strcmp(name, "gamma") || !strcmp(name, "running_var") ? 1.0f : 0.0f;
				if (resize_vec(&nd->params[p], a->c_new, a->map, fill, err))
					return -1;
			}
		} else if (nd->op == OP_ADD && a->map) {
			/* Extra channels: any lambda keeps the function (nobody reads them). The mean of
			   the others lets both branches' new filters learn at once, where 1 would starve
			   the second branch's, and is what a format_version 1 add had for every channel. */
			const Tensor *l = &nd->params[0];
			double mean = 0;
			for (int c = 0; c < l->dims[0]; c++)
				mean += l->data[c] / l->dims[0];
			if (resize_vec(&nd->params[0], a->c_new, a->map, (float)mean, err))
				return -1;
		}
	}
	return 0;
}

/* Whether extra channels can be added function-preservingly: 0 yes, 1 no, -1 with err. */
static int check_channels(const Graph *g, const int *extra, NashErr *err)
{
	Layout *lay = calloc((size_t)g->n_nodes, sizeof *lay); /* [n_nodes] */
	if (!lay)
		return OOM();
	int rc = propagate(g, extra, lay, err);
	morph_layouts_free(lay, g->n_nodes);
	return rc;
}

/* Adds the channels and rewrites the tensors: 0, 1 when not possible (g unchanged), -1. */
static int add_channels(Graph *g, const int *extra, Rng *rng, NashErr *err)
{
	Layout *lay = calloc((size_t)g->n_nodes, sizeof *lay); /* [n_nodes] */
	if (!lay)
		return OOM();
	int rc = propagate(g, extra, lay, err);
	if (rc == 0)
		rc = apply_layouts(g, extra, lay, rng, err);
	morph_layouts_free(lay, g->n_nodes);
	return rc;
}

/* ---- where operators may act -------------------------------------------------------- */

int morph_find_root(int *parent, int i)
{
	while (parent[i] != i)
		i = parent[i] = parent[parent[i]];
	return i;
}

void morph_layout_groups(int *parent, const Graph *g)
{
	for (int i = 0; i < g->n_nodes; i++) {
		parent[i] = i;
		const Node *nd = &g->nodes[i];
		if (!morph_is_channelwise(nd->op) && nd->op != OP_ADD)
			continue;
		for (int k = 0; k < nd->n_inputs; k++) {
			int a = morph_find_root(parent, i), b = morph_find_root(parent, nd->inputs[k]);
			parent[a > b ? a : b] = a > b ? b : a;
		}
	}
}

int morph_wider_group(const Graph *g, int conv, int *members)
{
	if (conv < 1 || conv >= g->n_nodes || g->nodes[conv].op != OP_CONV)
		return -1;
	/* Union-find (members as the parent array): nodes that share one channel layout. */
	int *parent = members;
	morph_layout_groups(parent, g);
	for (int i = 0; i < g->n_nodes; i++)
		parent[i] = morph_find_root(parent, i);
	/* Compact in place: the write index never passes the read index. */
	int root = parent[conv], count = 0, ok = 1;
	for (int i = 0; i < g->n_nodes; i++) {
		if (parent[i] != root)
			continue;
		OpKind op = g->nodes[i].op;
		if (morph_is_channelwise(op) || op == OP_ADD)
			continue;
		if (op != OP_CONV)
			ok = 0; /* the layout also comes from a concat, flatten, dense or the input */
		members[count++] = i;
	}
	return ok ? count : -1;
}

/* Widening conv: extra channels for every group member. Returns 0, 1 when not possible, -1. */
static int wider_extra(const Graph *g, int conv, int factor, int *extra, NashErr *err)
{
	int *members = malloc((size_t)g->n_nodes * sizeof *members + 1); /* [n_nodes] */
	if (!members)
		return OOM();
	int n = morph_wider_group(g, conv, members);
	memset(extra, 0, (size_t)g->n_nodes * sizeof *extra);
	for (int k = 0; k < n; k++)
		extra[members[k]] = g->nodes[conv].c * (factor - 1);
	free(members);
	return n < 0;
}

/* Spatial ratio for a skip from source to target: r >= 1 with h_s = r h_t and w_s = r w_t,
   or 0 when there is none. */
int morph_skip_ratio(const Node *s, const Node *t)
{
	if (t->h < 1 || t->w < 1 || s->h % t->h || s->w % t->w || s->h / t->h != s->w / t->w)
		return 0;
	return s->h / t->h;
}

/* 0: valid; 1: not (reason in *why); -1: err. The graph must be inferred. */
static int skip_check(const Graph *g, MorphOp op, int source, int target, const char **why, NashErr *err)
{
	*why = NULL;
	if (source < 1 || target >= g->n_nodes || source >= target)
		*why = "source must come before target";
	else if (g->nodes[source].op != OP_RELU || g->nodes[target].op != OP_RELU)
		*why = "source and target must be ReLUs";
	else if (!morph_skip_ratio(&g->nodes[source], &g->nodes[target]))
		*why = "the source's size is not an integer multiple of the target's";
	if (*why || op == MORPH_SKIP_ADD)
		return *why != NULL;
	/* Concat: the target's consumers read the source's channels appended to its own. */
	int *extra = calloc((size_t)g->n_nodes, sizeof *extra); /* [n_nodes] channels appended */
	if (!extra)
		return OOM();
	extra[target] = g->nodes[source].c;
	int rc = check_channels(g, extra, err);
	free(extra);
	if (rc == 1)
		*why = "the target's output reaches an add or the network's output";
	return rc;
}

/* ---- the operators ------------------------------------------------------------------ */

/* The operators' names live with the operators; morph.c (drawing and applying) uses them. */
static const char *const morph_names[MORPH_OP_COUNT] = {
	[MORPH_DEEPER] = "deeper", [MORPH_WIDER] = "wider",
	[MORPH_SKIP_ADD] = "skip-add", [MORPH_SKIP_CONCAT] = "skip-concat",
};

const char *morph_op_name(MorphOp op)
{
	return (op >= 0 && op < MORPH_OP_COUNT) ? morph_names[op] : "?";
}

static Node new_node(OpKind op, int in0, int in1)
{
	Node n;
	memset(&n, 0, sizeof n);
	n.op = op;
	n.n_inputs = in1 >= 0 ? 2 : 1;
	n.inputs[0] = in0;
	n.inputs[1] = in1;
	n.bn_eps = 1e-5f;
	n.bn_momentum = 0.1f;
	return n;
}

static void node_label(const Graph *g, int i, char *buf, size_t n)
{
	if (i >= 0 && i < g->n_nodes)
		node_name(g, i, buf, n);
	else
		snprintf(buf, n, "node %d", i);
}

int morph_deeper(Graph *g, int relu, int kernel, NashErr *err)
{
	char name[32];
	if (graph_infer(g, err))
		return -1;
	node_label(g, relu, name, sizeof name);
	if (relu < 1 || relu >= g->n_nodes || g->nodes[relu].op != OP_RELU)
		return FAIL("deeper: %s is not a ReLU", name);
	if (kernel < 1 || kernel % 2 == 0 || kernel > NASH_MAX_DEEPER_KERNEL)
		return FAIL("deeper: kernel %d is not an odd size in 1..%d", kernel, NASH_MAX_DEEPER_KERNEL);
	int C = g->nodes[relu].c;
	Node conv = new_node(OP_CONV, relu, -1);
	conv.out_channels = C;
	conv.kernel = kernel;
	Node bn = new_node(OP_BN, relu + 1, -1), act = new_node(OP_RELU, relu + 2, -1);
	if (graph_reserve(g, 3, err))
		return -1;
	graph_insert(g, relu + 1, &conv);
	graph_insert(g, relu + 2, &bn);
	graph_insert(g, relu + 3, &act);
	graph_redirect(g, relu, relu + 3, relu + 4);
	if (graph_infer(g, err) || graph_alloc_params(g, err))
		return -1;
	/* Identity conv: the centre tap of filter c reads channel c. The input is a ReLU's output,
	   so the block's ReLU sees x >= 0 and passes it unchanged. */
	Tensor *w = &g->nodes[relu + 1].params[0]; /* [C, C, k, k], zeroed */
	for (int c = 0; c < C; c++)
		w->data[(((size_t)c * C + c) * kernel + kernel / 2) * kernel + kernel / 2] = 1.0f;
	/* BN in inference: gamma (x - mean) / sqrt(var + eps) + beta = x. */
	Node *b = &g->nodes[relu + 2];
	for (int c = 0; c < C; c++) {
		b->params[0].data[c] = sqrtf(1.0f + b->bn_eps); /* gamma */
		b->params[1].data[c] = 0.0f;                    /* beta */
		b->params[2].data[c] = 0.0f;                    /* running_mean */
		b->params[3].data[c] = 1.0f;                    /* running_var */
	}
	return 0;
}

int morph_wider(Graph *g, int conv, int factor, Rng *rng, NashErr *err)
{
	char name[32];
	if (graph_infer(g, err))
		return -1;
	node_label(g, conv, name, sizeof name);
	if (conv < 1 || conv >= g->n_nodes || g->nodes[conv].op != OP_CONV)
		return FAIL("wider: %s is not a conv", name);
	if (factor < 2 || factor > NASH_MAX_WIDER_FACTOR)
		return FAIL("wider: factor %d is not in 2..%d", factor, NASH_MAX_WIDER_FACTOR);
	int *extra = malloc((size_t)g->n_nodes * sizeof *extra + 1); /* [n_nodes] */
	if (!extra)
		return OOM();
	int rc = wider_extra(g, conv, factor, extra, err);
	if (rc == 1) {
		free(extra);
		return FAIL("wider: %s shares its channels (through an add) with a concat, flatten, dense or the input",
			    name);
	}
	if (rc == 0)
		rc = add_channels(g, extra, rng, err);
	free(extra);
	if (rc == 1)
		return FAIL("wider: the new channels of %s would reach an add through a concat, or the output", name);
	if (rc < 0 || graph_infer(g, err))
		return -1;
	return 0;
}

int morph_skip(Graph *g, MorphOp op, int source, int target, Rng *rng, NashErr *err)
{
	char sname[32], tname[32];
	const char *why;
	if (op != MORPH_SKIP_ADD && op != MORPH_SKIP_CONCAT)
		return FAIL("skip: operator %d is not skip-add or skip-concat", (int)op);
	if (graph_infer(g, err))
		return -1;
	node_label(g, source, sname, sizeof sname);
	node_label(g, target, tname, sizeof tname);
	int rc = skip_check(g, op, source, target, &why, err);
	if (rc < 0)
		return -1;
	if (rc)
		return FAIL("%s from %s to %s: %s", morph_op_name(op), sname, tname, why);
	if (graph_reserve(g, 3, err)) /* at most a pool, a projection and the add or concat */
		return -1;
	const Node s = g->nodes[source], t = g->nodes[target];
	int r = morph_skip_ratio(&s, &t), pos = target + 1, skip = source;
	if (r > 1) {
		Node mp = new_node(OP_MAXPOOL, source, -1);
		mp.kernel = r;
		mp.c = s.c, mp.h = t.h, mp.w = t.w; /* shapes for the layout pass below */
		skip = graph_insert(g, pos++, &mp);
	}
	if (op == MORPH_SKIP_ADD) {
		int proj = -1;
		if (s.c != t.c) {
			Node pc = new_node(OP_CONV, skip, -1);
			pc.out_channels = t.c;
			pc.kernel = 1;
			skip = proj = graph_insert(g, pos++, &pc);
		}
		Node add = new_node(OP_ADD, target, skip);
		graph_insert(g, pos, &add);
		graph_redirect(g, target, pos, pos + 1);
		if (graph_infer(g, err) || graph_alloc_params(g, err))
			return -1;
		if (proj >= 0)
			init_node(g, proj, rng); /* He-random: its output is weighed by 1 - lambda = 0 */
		for (int c = 0; c < g->nodes[pos].c; c++)
			g->nodes[pos].params[0].data[c] = 1.0f; /* lambda: the output is the main path */
		return 0;
	}
	Node cat = new_node(OP_CONCAT, target, skip);
	cat.c = t.c, cat.h = t.h, cat.w = t.w; /* seen by consumers as the target until rewritten */
	graph_insert(g, pos, &cat);
	graph_redirect(g, target, pos, pos + 1);
	int *extra = calloc((size_t)g->n_nodes, sizeof *extra); /* [n_nodes] channels appended */
	if (!extra)
		return OOM();
	extra[pos] = s.c;
	rc = add_channels(g, extra, rng, err);
	free(extra);
	if (rc == 1)
		return FAIL("skip-concat from %s to %s: not function-preserving", sname, tname);
	if (rc < 0 || graph_infer(g, err) || graph_alloc_params(g, err))
		return -1;
	return 0;
}
