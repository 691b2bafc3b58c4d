/* Writes a model whose graph no morphism makes but the file format allows, for the export
   paths a search never takes: a conv with bias and k = 5, max-pool 3 (floor of 28/3), global
   average pooling into a dense without flatten, batch-norm and ReLU on [N, C] tensors, a concat
   of an [N, C, 1, 1] and an [N, C] tensor, an add of two such, a dense without bias. Weights,
   lambdas and running statistics are random (seeded), so nothing is an identity.
   Usage: odd_graph OUT.h5   (Fashion-MNIST's shape: 1 x 28 x 28, 10 classes) */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/rng.h"
#include "model/model.h"

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: odd_graph OUT.h5\n");
		return 2;
	}
	Model m;
	model_init(&m);
	snprintf(m.dataset, sizeof m.dataset, "fashion-mnist");
	m.mean[0] = 0.29f;
	m.std[0] = 0.35f;
	m.val_size = 200;
	Graph *g = &m.g;
	graph_init(g, 1, 28, 28, 10);
	int x = graph_conv(g, 0, 6, 5, 1);
	x = graph_relu(g, x);
	x = graph_maxpool(g, x, 3);            /* 9 x 9 */
	int pooled = graph_unary(g, OP_GAP, x); /* [N, 6, 1, 1] */
	int d = graph_dense(g, pooled, 6, 1);   /* [N, 6] in ONNX */
	d = graph_bn(g, d);
	d = graph_relu(g, d);
	int sum = graph_add(g, OP_ADD, 2, (int[]){pooled, d});
	int cat = graph_add(g, OP_CONCAT, 2, (int[]){pooled, sum});
	graph_dense(g, cat, 10, 0);
	NashErr err = {0};
	if (graph_infer(g, &err) || graph_alloc_params(g, &err)) {
		fprintf(stderr, "odd_graph: %s\n", err.msg);
		return 1;
	}
	Rng r;
	rng_seed(&r, 5);
	for (int i = 0; i < g->n_nodes; i++)
		for (int p = 0; p < g->nodes[i].n_params; p++) {
			Tensor *t = &g->nodes[i].params[p];
			for (size_t k = 0; k < tensor_size(t); k++) {
				double v = rng_normal(&r) * 0.3;
				if (!strcmp(t->name, "running_var") || !strcmp(t->name, "gamma"))
					v = 0.5 + rng_uniform(&r);
				if (!strcmp(t->name, "lambda"))
					v = rng_uniform(&r);
				t->data[k] = (float)v;
			}
		}
	model_set_id(&m, 0x0dd);
	if (model_write(&m, argv[1], &err)) {
		fprintf(stderr, "odd_graph: %s\n", err.msg);
		return 1;
	}
	model_free(&m);
	return 0;
}
