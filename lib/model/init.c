#include "model/init.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
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

static const char *const arch_names[SEED_ARCH_COUNT] = {"paper", "groups"};

/* The paper's are nash-init's widths of always. groups' are sized for a 2-core CPU: an epoch
   of Fashion-MNIST in well under a minute. Measured (docs/SEARCH.md, "Seed networks"): about
   26 CPU-seconds an epoch at 16,32,64, 80 at 32,64,128, where the paper's seed network takes
   1.2 to 1.3 times less at the same widths. */
static const int arch_widths[SEED_ARCH_COUNT][3] = {{32, 64, 128}, {16, 32, 64}};

const char *seed_arch_name(SeedArch arch)
{
	return arch >= 0 && arch < SEED_ARCH_COUNT ? arch_names[arch] : "?";
}

int seed_arch_default_widths(SeedArch arch, int *widths)
{
	memcpy(widths, arch_widths[arch >= 0 && arch < SEED_ARCH_COUNT ? arch : 0], sizeof arch_widths[0]);
	return 3;
}

int seed_arch_from_name(const char *name)
{
	for (int a = 0; a < SEED_ARCH_COUNT; a++)
		if (strcmp(name, arch_names[a]) == 0)
			return a;
	return -1;
}

/* Conv-MaxPool-Conv-MaxPool-Conv-FC: a block per width, pooled between blocks. */
static int build_paper(Graph *g, const int *widths, int n_widths)
{
	int x = 0;
	for (int b = 0; b < n_widths; b++) {
		if (b > 0)
			x = graph_maxpool(g, x, 2);
		x = graph_conv(g, x, widths[b], 3, 0);
		x = graph_bn(g, x);
		x = graph_relu(g, x);
	}
	return graph_unary(g, OP_FLATTEN, x);
}

/* airbench94's groups with nash's ops: ReLU for GELU; no residuals, as airbench has none
   (skip morphisms add them). Flatten, not global pooling (airbench's is a global max, nash's
   global pool an average), before the classifier: measured on Fashion-MNIST at 16,32,64, two
   epochs, test accuracy 89.1% with flatten against 88.6% with global average pooling, for 7%
   more parameters (77,786 against 72,666; docs/SEARCH.md, "Seed networks"). The last group's
   map is small (3x3 for 28x28 images, 4x4 for 32x32), so its position still pays. */
static int build_groups(Graph *g, const int *widths, int n_widths)
{
	int x = 0;
	for (int b = 0; b < n_widths; b++) {
		x = graph_conv(g, x, widths[b], 3, 0);
		x = graph_maxpool(g, x, 2);
		x = graph_bn(g, x);
		x = graph_relu(g, x);
		x = graph_conv(g, x, widths[b], 3, 0);
		x = graph_bn(g, x);
		x = graph_relu(g, x);
	}
	return graph_unary(g, OP_FLATTEN, x);
}

int seed_network_arch(Model *m, SeedArch arch, const char *dataset, int c, int h, int w, int n_classes,
		      const int *widths, int n_widths, uint64_t seed, NashErr *err)
{
	model_init(m);
	snprintf(m->dataset, sizeof m->dataset, "%s", dataset);
	graph_init(&m->g, c, h, w, n_classes);
	Graph *g = &m->g;
	if (arch < 0 || arch >= SEED_ARCH_COUNT)
		return nash_err(err, NASH_ERR_USAGE, "unknown seed network %d", (int)arch);
	int pools = arch == SEED_ARCH_PAPER ? n_widths - 1 : n_widths;
	if (n_widths < 1 || n_widths > 30 || (h >> pools) < 1 || (w >> pools) < 1)
		return nash_err(err, NASH_ERR_USAGE, "%d blocks do not fit %dx%d images (%d pools, each halves them)",
				n_widths, h, w, pools);
	int x = arch == SEED_ARCH_PAPER ? build_paper(g, widths, n_widths) : build_groups(g, widths, n_widths);
	graph_dense(g, x, n_classes, 1);
	if (graph_infer(g, err) || graph_alloc_params(g, err))
		return -1;
	Rng rng;
	rng_seed(&rng, seed);
	for (int i = 0; i < g->n_nodes; i++)
		init_node(g, i, &rng);
	/* The id depends only on what made the network; the paper's ids are as they were before
	   there was a choice of arch. */
	uint64_t hsh = nash_hash(NASH_HASH_INIT, "nash-init", 9);
	if (arch != SEED_ARCH_PAPER)
		hsh = nash_hash(hsh, arch_names[arch], strlen(arch_names[arch]));
	hsh = nash_hash(hsh, dataset, strlen(dataset));
	hsh = nash_hash(hsh, widths, (size_t)n_widths * sizeof *widths);
	hsh = nash_hash(hsh, &seed, sizeof seed);
	model_set_id(m, hsh);
	m->parent_id[0] = '\0';
	return 0;
}

int seed_network(Model *m, const char *dataset, int c, int h, int w, int n_classes, const int *widths,
		 int n_widths, uint64_t seed, NashErr *err)
{
	return seed_network_arch(m, SEED_ARCH_PAPER, dataset, c, h, w, n_classes, widths, n_widths, seed, err);
}

int nash_init_like(Model *out, const Model *like, uint64_t seed, NashErr *err)
{
	model_init(out);
	if (model_clone(out, like, err))
		return -1;
	/* Never trained: no runs (so nash-train --warmup auto warms it up as a seed), no record,
	   no accuracies, no failure, no checkpoint. */
	free(out->records);
	free(out->runs);
	out->records = NULL;
	out->runs = NULL;
	out->n_records = out->n_runs = 0;
	out->val_accuracy = out->test_accuracy = NAN;
	out->failed = 0;
	memset(out->failure, 0, sizeof out->failure);
	model_drop_optimizer(out);
	Graph *g = &out->g;
	if (graph_infer(g, err))
		goto fail;
	/* seed_network's order and stream: a seed network reinitialised with its own seed is
	   itself again, weight for weight */
	Rng rng;
	rng_seed(&rng, seed);
	for (int i = 0; i < g->n_nodes; i++)
		init_node(g, i, &rng);
	Morphism row = {.node = -1, .kernel = -1, .factor = -1, .source = -1, .target = -1, .seed = seed};
	snprintf(row.op, sizeof row.op, "%s", MODEL_LINEAGE_REINIT);
	if (model_add_morphism(out, &row, err))
		goto fail;
	/* The id depends only on what made the network: the model it came from (its id, and its
	   graph for a file without one) and the seed. */
	uint64_t h = nash_hash(NASH_HASH_INIT, "nash-init --like", 16);
	h = nash_hash(h, like->id, strnlen(like->id, sizeof like->id));
	for (int i = 0; i < g->n_nodes; i++) {
		const Node *n = &g->nodes[i];
		int32_t shape[5] = {(int32_t)n->op, n->c, n->h, n->w, n->kernel};
		h = nash_hash(h, shape, sizeof shape);
		for (int k = 0; k < n->n_inputs; k++) {
			int32_t in = n->inputs[k];
			h = nash_hash(h, &in, sizeof in);
		}
	}
	h = nash_hash(h, &seed, sizeof seed);
	snprintf(out->parent_id, sizeof out->parent_id, "%s", like->id);
	model_set_id(out, h);
	return 0;
fail:
	model_free(out);
	return -1;
}
