#include "engine/net.h"

#include <stdlib.h>
#include <string.h>

/* Walks every tensor of the graph in arena order. Decayed trainables, then other trainables,
   then running statistics: so weight decay is two sgd_update calls over contiguous ranges. */
enum { CAT_DECAY, CAT_NODECAY, CAT_BUFFER };

static int tensor_category(const Node *n, const Tensor *t)
{
	int role = param_role(n->op, t->name);
	if (!(role & PARAM_TRAINABLE))
		return CAT_BUFFER;
	return (role & PARAM_DECAY) ? CAT_DECAY : CAT_NODECAY;
}

static int is_alias(const Node *n) { return n->op == OP_FLATTEN; }

int net_create(Net *net, const Backend *be, const BackendOpts *opts, const Graph *g, int batch,
	       const float *mean, const float *std, NashErr *err)
{
	static const BackendOpts defaults = BACKEND_OPTS_DEFAULT;
	memset(net, 0, sizeof *net);
	net->ctx.be = be;
	net->ctx.opts = opts ? *opts : defaults;
	net->g = g;
	net->batch = batch;
	for (int c = 0; c < g->in_c; c++) {
		net->mean[c] = mean[c];
		net->std[c] = std[c];
	}
	if (be->init && be->init(&net->ctx, err))
		return -1;
	net->plan = calloc((size_t)g->n_nodes, sizeof *net->plan);
	if (!net->plan)
		return nash_err(err, NASH_ERR_OOM, "out of memory");

	/* Sizes of each category. */
	size_t cat_size[3] = {0, 0, 0}, ws = 0;
	for (int i = 0; i < g->n_nodes; i++) {
		const Node *n = &g->nodes[i];
		for (int p = 0; p < n->n_params; p++)
			cat_size[tensor_category(n, &n->params[p])] += tensor_size(&n->params[p]);
		if (!is_alias(n))
			net->n_acts += (size_t)batch * n->c * n->h * n->w;
		if (n->op == OP_BN)
			net->n_acts += 2 * (size_t)n->c;
		if (n->op == OP_CONV) {
			const Node *in = &g->nodes[n->inputs[0]];
			size_t w = be->conv_workspace(&net->ctx, batch, in->c, in->h, in->w, n->c, n->kernel);
			if (w > ws)
				ws = w;
		}
	}
	net->n_decay = cat_size[CAT_DECAY];
	net->n_params = cat_size[CAT_DECAY] + cat_size[CAT_NODECAY];
	net->n_buffers = cat_size[CAT_BUFFER];
	net->ctx.workspace_floats = ws;

#define ALLOC(ptr, bytes)                                                        \
	do {                                                                     \
		(ptr) = be->alloc(&net->ctx, (bytes) > 0 ? (bytes) : 4, err);     \
		if (!(ptr)) {                                                    \
			net_free(net);                                           \
			return -1;                                               \
		}                                                                \
	} while (0)
	ALLOC(net->params, net->n_params * sizeof(float));
	ALLOC(net->grads, net->n_params * sizeof(float));
	ALLOC(net->velocity, net->n_params * sizeof(float));
	ALLOC(net->buffers, net->n_buffers * sizeof(float));
	ALLOC(net->acts, net->n_acts * sizeof(float));
	ALLOC(net->dacts, net->n_acts * sizeof(float));
	ALLOC(net->labels, (size_t)batch * sizeof(int32_t));
	ALLOC(net->samples, (size_t)batch * sizeof(Sample));
	ALLOC(net->stats, 4 * sizeof(float));
	if (ws)
		ALLOC(net->ctx.workspace, ws * sizeof(float));
#undef ALLOC
	be->zero(&net->ctx, net->velocity, net->n_params * sizeof(float));
	be->zero(&net->ctx, net->grads, net->n_params * sizeof(float));
	be->zero(&net->ctx, net->stats, 4 * sizeof(float));

	/* Carve the arenas and upload the host tensors. */
	size_t off[3] = {0, net->n_decay, 0}, act = 0;
	for (int i = 0; i < g->n_nodes; i++) {
		const Node *n = &g->nodes[i];
		NodePlan *pl = &net->plan[i];
		for (int p = 0; p < n->n_params; p++) {
			const Tensor *t = &n->params[p];
			int cat = tensor_category(n, t);
			size_t sz = tensor_size(t);
			if (cat == CAT_BUFFER) {
				pl->p[p] = net->buffers + off[cat];
			} else {
				pl->p[p] = net->params + off[cat];
				pl->dp[p] = net->grads + off[cat];
				pl->v[p] = net->velocity + off[cat];
				if (t->momentum)
					be->upload(&net->ctx, pl->v[p], t->momentum, sz * sizeof(float));
			}
			be->upload(&net->ctx, pl->p[p], t->data, sz * sizeof(float));
			off[cat] += sz;
		}
		if (is_alias(n)) {
			pl->out = net->plan[n->inputs[0]].out;
			pl->dout = net->plan[n->inputs[0]].dout;
		} else {
			pl->out = net->acts + act;
			pl->dout = net->dacts + act;
			act += (size_t)batch * n->c * n->h * n->w;
		}
	}
	for (int i = 0; i < g->n_nodes; i++) {
		if (g->nodes[i].op != OP_BN)
			continue;
		net->plan[i].bn_mean = net->acts + act;
		net->plan[i].bn_invstd = net->acts + act + g->nodes[i].c;
		act += 2 * (size_t)g->nodes[i].c;
	}
	return 0;
}

void net_free(Net *net)
{
	const Backend *be = net->ctx.be;
	if (!be)
		return;
	void *bufs[] = {net->params, net->grads, net->velocity, net->buffers, net->acts, net->dacts,
			net->labels, net->samples, net->stats, net->ctx.workspace};
	for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
		if (bufs[i])
			be->free(&net->ctx, bufs[i]);
	if (be->fini)
		be->fini(&net->ctx);
	free(net->plan);
	memset(net, 0, sizeof *net);
}

size_t net_bytes(const Net *net)
{
	size_t own = net->ctx.be->private_bytes ? net->ctx.be->private_bytes(&net->ctx) : 0;
	return (3 * net->n_params + net->n_buffers + 2 * net->n_acts + net->ctx.workspace_floats) * sizeof(float) +
	       (size_t)net->batch * (sizeof(int32_t) + sizeof(Sample)) + own;
}

int net_upload_set(Net *net, DeviceSet *set, const uint8_t *x, const uint8_t *y, int n, NashErr *err)
{
	const Graph *g = net->g;
	size_t img = (size_t)g->in_c * g->in_h * g->in_w;
	memset(set, 0, sizeof *set);
	set->x = net->ctx.be->alloc(&net->ctx, (size_t)n * img + 1, err);
	if (!set->x)
		return -1;
	set->y = net->ctx.be->alloc(&net->ctx, (size_t)n + 1, err);
	if (!set->y) {
		net->ctx.be->free(&net->ctx, set->x);
		return -1;
	}
	net->ctx.be->upload(&net->ctx, set->x, x, (size_t)n * img);
	net->ctx.be->upload(&net->ctx, set->y, y, (size_t)n);
	set->n = n;
	return 0;
}

void net_free_set(Net *net, DeviceSet *set)
{
	if (set->x)
		net->ctx.be->free(&net->ctx, set->x);
	if (set->y)
		net->ctx.be->free(&net->ctx, set->y);
	memset(set, 0, sizeof *set);
}

static void forward(Net *net, int n, int train)
{
	const Backend *be = net->ctx.be;
	Ctx *ctx = &net->ctx;
	const Graph *g = net->g;
	for (int i = 1; i < g->n_nodes; i++) {
		const Node *nd = &g->nodes[i];
		NodePlan *pl = &net->plan[i];
		const Node *a = &g->nodes[nd->inputs[0]];
		const float *in = net->plan[nd->inputs[0]].out;
		size_t len = (size_t)n * nd->c * nd->h * nd->w;
		switch (nd->op) {
		case OP_CONV:
			be->conv_forward(ctx, pl->out, in, pl->p[0], nd->has_bias ? pl->p[1] : NULL, n, a->c,
					 a->h, a->w, nd->c, nd->kernel);
			break;
		case OP_BN:
			if (train)
				be->bn_forward_train(ctx, pl->out, pl->bn_mean, pl->bn_invstd, pl->p[2], pl->p[3], in,
						     pl->p[0], pl->p[1], n, nd->c, nd->h * nd->w, nd->bn_momentum,
						     nd->bn_eps);
			else
				be->bn_forward_eval(ctx, pl->out, in, pl->p[0], pl->p[1], pl->p[2], pl->p[3], n, nd->c,
						    nd->h * nd->w, nd->bn_eps);
			break;
		case OP_RELU:
			be->relu_forward(ctx, pl->out, in, len);
			break;
		case OP_MAXPOOL:
			be->maxpool_forward(ctx, pl->out, in, n, a->c, a->h, a->w, nd->kernel);
			break;
		case OP_ADD:
			be->add_forward(ctx, pl->out, in, net->plan[nd->inputs[1]].out, pl->p[0], n, nd->c, nd->h * nd->w);
			break;
		case OP_CONCAT:
			for (int k = 0, offset = 0; k < nd->n_inputs; k++) {
				const Node *b = &g->nodes[nd->inputs[k]];
				be->concat_forward(ctx, pl->out, net->plan[nd->inputs[k]].out, n, b->c, nd->c, offset,
						   nd->h * nd->w);
				offset += b->c;
			}
			break;
		case OP_GAP:
			be->gap_forward(ctx, pl->out, in, n, a->c, a->h * a->w);
			break;
		case OP_FLATTEN:
			break; /* aliases its input */
		case OP_DENSE:
			be->dense_forward(ctx, pl->out, in, pl->p[0], nd->has_bias ? pl->p[1] : NULL, n,
					  a->c * a->h * a->w, nd->c);
			break;
		default:
			break;
		}
	}
}

static void backward(Net *net, int n)
{
	const Backend *be = net->ctx.be;
	Ctx *ctx = &net->ctx;
	const Graph *g = net->g;
	for (int i = g->n_nodes - 1; i >= 1; i--) {
		const Node *nd = &g->nodes[i];
		NodePlan *pl = &net->plan[i];
		const Node *a = &g->nodes[nd->inputs[0]];
		int i0 = nd->inputs[0];
		/* The input image needs no gradient. */
		float *din = i0 == 0 ? NULL : net->plan[i0].dout;
		const float *in = net->plan[i0].out;
		size_t len = (size_t)n * nd->c * nd->h * nd->w;
		switch (nd->op) {
		case OP_CONV:
			be->conv_backward(ctx, din, pl->dp[0], nd->has_bias ? pl->dp[1] : NULL, pl->dout, in, pl->p[0],
					  n, a->c, a->h, a->w, nd->c, nd->kernel);
			break;
		case OP_BN:
			be->bn_backward(ctx, din, pl->dp[0], pl->dp[1], pl->dout, in, pl->bn_mean, pl->bn_invstd,
					pl->p[0], n, nd->c, nd->h * nd->w);
			break;
		case OP_RELU:
			if (din)
				be->relu_backward(ctx, din, pl->dout, pl->out, len);
			break;
		case OP_MAXPOOL:
			if (din)
				be->maxpool_backward(ctx, din, pl->dout, in, n, a->c, a->h, a->w, nd->kernel);
			break;
		case OP_ADD: {
			int i1 = nd->inputs[1];
			be->add_backward(ctx, din, i1 == 0 ? NULL : net->plan[i1].dout, pl->dp[0], pl->dout, in,
					 net->plan[i1].out, pl->p[0], n, nd->c, nd->h * nd->w);
			break;
		}
		case OP_CONCAT:
			for (int k = 0, offset = 0; k < nd->n_inputs; k++) {
				const Node *b = &g->nodes[nd->inputs[k]];
				if (nd->inputs[k] != 0)
					be->concat_backward(ctx, net->plan[nd->inputs[k]].dout, pl->dout, n, b->c, nd->c,
							    offset, nd->h * nd->w);
				offset += b->c;
			}
			break;
		case OP_GAP:
			if (din)
				be->gap_backward(ctx, din, pl->dout, n, a->c, a->h * a->w);
			break;
		case OP_FLATTEN:
			break; /* shares its input's gradient buffer */
		case OP_DENSE:
			be->dense_backward(ctx, din, pl->dp[0], nd->has_bias ? pl->dp[1] : NULL, pl->dout, in, pl->p[0],
					   n, a->c * a->h * a->w, nd->c);
			break;
		default:
			break;
		}
	}
}

static void load_batch(Net *net, const DeviceSet *set, const Sample *samples, int n)
{
	const Graph *g = net->g;
	net->ctx.be->upload(&net->ctx, net->samples, samples, (size_t)n * sizeof(Sample));
	net->ctx.be->make_batch(&net->ctx, net->plan[0].out, net->labels, set->x, set->y, net->samples, n,
				g->in_c, g->in_h, g->in_w, net->mean, net->std);
}

void net_train_step(Net *net, const DeviceSet *set, const Sample *samples, int n, const Optim *o)
{
	const Backend *be = net->ctx.be;
	const Graph *g = net->g;
	load_batch(net, set, samples, n);
	forward(net, n, 1);
	const NodePlan *last = &net->plan[g->n_nodes - 1];
	/* Input gradients accumulate, so they start from zero; the loss then writes dlogits. */
	be->zero(&net->ctx, net->dacts, net->n_acts * sizeof(float));
	be->softmax_xent(&net->ctx, last->dout, net->stats, last->out, net->labels, n, g->n_classes);
	backward(net, n);
	be->sgd_update(&net->ctx, net->params, net->velocity, net->grads, net->n_decay, o->lr, o->momentum,
		       o->weight_decay, o->nesterov);
	be->sgd_update(&net->ctx, net->params + net->n_decay, net->velocity + net->n_decay,
		       net->grads + net->n_decay, net->n_params - net->n_decay, o->lr, o->momentum, 0.0f,
		       o->nesterov);
}

void net_eval_batch(Net *net, const DeviceSet *set, const Sample *samples, int n)
{
	const Graph *g = net->g;
	load_batch(net, set, samples, n);
	forward(net, n, 0);
	const NodePlan *last = &net->plan[g->n_nodes - 1];
	net->ctx.be->softmax_xent(&net->ctx, NULL, net->stats, last->out, net->labels, n, g->n_classes);
}

static int read_stats(Net *net, int clear, double *loss, double *acc, long *count, NashErr *err)
{
	float s[4];
	if (net->ctx.be->sync && net->ctx.be->sync(&net->ctx, err))
		return -1;
	net->ctx.be->download(&net->ctx, s, net->stats, sizeof s);
	if (clear)
		net->ctx.be->zero(&net->ctx, net->stats, sizeof s);
	long c = (long)s[2];
	if (count)
		*count = c;
	*loss = c ? s[0] / c : 0.0 / 0.0;
	*acc = c ? s[1] / c : 0.0 / 0.0;
	return 0;
}

int net_take_stats(Net *net, double *loss, double *acc, long *count, NashErr *err)
{
	return read_stats(net, 1, loss, acc, count, err);
}

int net_peek_stats(Net *net, double *loss, double *acc, long *count, NashErr *err)
{
	return read_stats(net, 0, loss, acc, count, err);
}

void net_read_logits(Net *net, float *host, int n)
{
	const NodePlan *last = &net->plan[net->g->n_nodes - 1];
	net->ctx.be->download(&net->ctx, host, last->out, (size_t)n * net->g->n_classes * sizeof(float));
}

int net_store(Net *net, Graph *g, int momentum, NashErr *err)
{
	if (net->ctx.be->sync && net->ctx.be->sync(&net->ctx, err))
		return -1;
	for (int i = 0; i < g->n_nodes; i++) {
		Node *n = &g->nodes[i];
		for (int p = 0; p < n->n_params; p++) {
			Tensor *t = &n->params[p];
			size_t bytes = tensor_size(t) * sizeof(float);
			net->ctx.be->download(&net->ctx, t->data, net->plan[i].p[p], bytes);
			if (momentum && net->plan[i].v[p]) {
				if (!t->momentum && !(t->momentum = malloc(bytes + 1)))
					return nash_err(err, NASH_ERR_OOM, "out of memory");
				net->ctx.be->download(&net->ctx, t->momentum, net->plan[i].v[p], bytes);
			}
		}
	}
	return 0;
}
