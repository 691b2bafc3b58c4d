#include "model/init.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void init_rows_he(Tensor *w, int row_begin, Rng *rng)
{
	size_t row = tensor_size(w) / (size_t)w->dims[0];
	double sd = sqrt(2.0 / (double)row); /* fan_in = in * k * k for conv, in for dense */
	for (size_t i = (size_t)row_begin * row; i < tensor_size(w); i++)
		w->data[i] = (float)(sd * rng_normal(rng));
}

void init_node(Graph *g, int i, Rng *rng)
{
	Node *n = &g->nodes[i];
	for (int p = 0; p < n->n_params; p++) {
		Tensor *t = &n->params[p];
		size_t sz = tensor_size(t);
		float v = 0.0f;
		if (strcmp(t->name, "weight") == 0 && n->op == OP_DENSE) {
			/* The classifier has no batch-norm after it: PyTorch's default scale,
			   U(-1/sqrt(fan_in), 1/sqrt(fan_in)), keeps the first logits small. */
			double bound = 1.0 / sqrt((double)t->dims[1]);
			for (size_t k = 0; k < sz; k++)
				t->data[k] = (float)(bound * (2.0 * rng_uniform(rng) - 1.0));
			continue;
		}
		if (strcmp(t->name, "weight") == 0) {
			init_rows_he(t, 0, rng);
			continue;
		}
		if (strcmp(t->name, "gamma") == 0 || strcmp(t->name, "running_var") == 0 ||
		    strcmp(t->name, "lambda") == 0)
			v = 1.0f;
		for (size_t k = 0; k < sz; k++)
			t->data[k] = v;
	}
}

int seed_network(Model *m, const char *dataset, int c, int h, int w, int n_classes, const int *widths,
		 int n_widths, uint64_t seed, NashErr *err)
{
	model_init(m);
	snprintf(m->dataset, sizeof m->dataset, "%s", dataset);
	graph_init(&m->g, c, h, w, n_classes);
	Graph *g = &m->g;
	if (n_widths < 1 || (h >> (n_widths - 1)) < 1 || (w >> (n_widths - 1)) < 1)
		return nash_err(err, NASH_ERR_USAGE, "%d blocks do not fit %dx%d images (each pool halves them)",
				n_widths, h, w);
	int x = 0;
	for (int b = 0; b < n_widths; b++) {
		if (b > 0)
			x = graph_maxpool(g, x, 2);
		x = graph_conv(g, x, widths[b], 3, 0);
		x = graph_bn(g, x);
		x = graph_relu(g, x);
	}
	x = graph_unary(g, OP_FLATTEN, x);
	graph_dense(g, x, n_classes, 1);
	if (graph_infer(g, err) || graph_alloc_params(g, err))
		return -1;
	Rng rng;
	rng_seed(&rng, seed);
	for (int i = 0; i < g->n_nodes; i++)
		init_node(g, i, &rng);
	/* The id depends only on what made the network. */
	uint64_t hsh = nash_hash(NASH_HASH_INIT, "nash-init", 9);
	hsh = nash_hash(hsh, dataset, strlen(dataset));
	hsh = nash_hash(hsh, widths, (size_t)n_widths * sizeof *widths);
	hsh = nash_hash(hsh, &seed, sizeof seed);
	model_set_id(m, hsh);
	m->parent_id[0] = '\0';
	return 0;
}
