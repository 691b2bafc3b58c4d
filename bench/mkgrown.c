/* mkgrown: the benchmark's inputs (bench/gpu.sh).
     mkgrown seed|grown C H W OUT      writes a model file: the seed network (conv32-pool-conv64-
                                       pool-conv128-fc, as nash-init) or the grown one (64, res64,
                                       pool, 128, res128, pool, 256, res256, fc; res = x + cbr(x)),
                                       each conv = conv3x3-BN-ReLU, for C x H x W images, 10 classes,
                                       no validation split (val_size 0)
     mkgrown chain|relus N C H W OUT   writes a model of N nodes (N >= 3): input, then conv4 3x3-
                                       BN-ReLU repeated (chain; cut wherever N ends it) or ReLUs
                                       (relus: no weights), then GAP and dense; for timing the
                                       model file's reader and writer on large graphs
                                       (docs/FORMAT.md, "Large graphs")
     mkgrown --fake-cifar DIR [N]      writes N (default 50000) random CIFAR-10-format training
                                       images (DIR/data_batch_1.bin) and 1000 test ones
   The networks are those of bench/torch_gpu.py (seed0, grown). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "model/init.h"
#include "model/model.h"
#include "base/rng.h"

static int cbr(Graph *g, int in, int width)
{
	return graph_relu(g, graph_bn(g, graph_conv(g, in, width, 3, 0)));
}

static int grown_network(Model *m, const char *dataset, int c, int h, int w, NashErr *err)
{
	static const int widths[3] = {64, 128, 256};
	model_init(m);
	snprintf(m->dataset, sizeof m->dataset, "%s", dataset);
	graph_init(&m->g, c, h, w, 10);
	Graph *g = &m->g;
	int x = 0;
	for (int b = 0; b < 3; b++) {
		if (b > 0)
			x = graph_maxpool(g, x, 2);
		x = cbr(g, x, widths[b]);
		int in[2] = {x, cbr(g, x, widths[b])};
		x = graph_add(g, OP_ADD, 2, in);
	}
	graph_dense(g, graph_unary(g, OP_FLATTEN, x), 10, 1);
	if (graph_infer(g, err) || graph_alloc_params(g, err))
		return -1;
	Rng rng;
	rng_seed(&rng, 1);
	for (int i = 0; i < g->n_nodes; i++) {
		init_node(g, i, &rng);
		if (g->nodes[i].op == OP_ADD)
			for (int k = 0; k < g->nodes[i].c; k++)
				g->nodes[i].params[0].data[k] = 0.5f;
	}
	model_set_id(m, nash_hash(NASH_HASH_INIT, "mkgrown", 7));
	return 0;
}

/* n nodes: the input, n - 3 of conv4 3x3, batch norm, relu in turn (or relus only), then GAP
   and dense. */
static int chain_network(Model *m, const char *dataset, int n, int relus, int c, int h, int w, NashErr *err)
{
	model_init(m);
	snprintf(m->dataset, sizeof m->dataset, "%s", dataset);
	graph_init(&m->g, c, h, w, 10);
	Graph *g = &m->g;
	int x = 0;
	for (int i = 0; i < n - 3; i++)
		x = relus || i % 3 == 2 ? graph_relu(g, x) : i % 3 == 0 ? graph_conv(g, x, 4, 3, 1) : graph_bn(g, x);
	graph_dense(g, graph_unary(g, OP_GAP, x), 10, 1);
	if (graph_infer(g, err) || graph_alloc_params(g, err))
		return -1;
	Rng rng;
	rng_seed(&rng, 1);
	for (int i = 0; i < g->n_nodes; i++)
		init_node(g, i, &rng);
	model_set_id(m, nash_hash(NASH_HASH_INIT, "mkgrown chain", 13));
	return 0;
}

static int write_file(const char *dir, const char *name, int n, Rng *rng)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (!f) {
		fprintf(stderr, "mkgrown: %s: %s\n", path, strerror(errno));
		return -1;
	}
	unsigned char rec[1 + 3072];
	int ok = 1;
	for (int i = 0; i < n && ok; i++) {
		rec[0] = (unsigned char)rng_below(rng, 10);
		for (size_t k = 1; k < sizeof rec; k++)
			rec[k] = (unsigned char)rng_below(rng, 256);
		ok = fwrite(rec, sizeof rec, 1, f) == 1;
	}
	if (fclose(f) != 0 || !ok) {
		fprintf(stderr, "mkgrown: %s: write error\n", path);
		return -1;
	}
	return 0;
}

static int fake_cifar(const char *dir, int n)
{
	if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
		fprintf(stderr, "mkgrown: %s: %s\n", dir, strerror(errno));
		return 1;
	}
	Rng rng;
	rng_seed(&rng, 1);
	return write_file(dir, "data_batch_1.bin", n, &rng) || write_file(dir, "test_batch.bin", 1000, &rng);
}

int main(int argc, char **argv)
{
	if (argc >= 3 && !strcmp(argv[1], "--fake-cifar"))
		return fake_cifar(argv[2], argc > 3 ? atoi(argv[3]) : 50000);
	int relus = argc == 7 && !strcmp(argv[1], "relus");
	int chain = argc == 7 && (relus || !strcmp(argv[1], "chain")) ? atoi(argv[2]) : 0;
	if (chain)
		argv++, argc--;
	if (argc != 6 || (strcmp(argv[1], "seed") && strcmp(argv[1], "grown") && !chain) ||
	    (chain && (chain < 3 || chain > NASH_MAX_NODES))) {
		fprintf(stderr, "usage: mkgrown seed|grown C H W OUT\n       mkgrown chain|relus N C H W OUT (3 <= N <= %d)\n"
			"       mkgrown --fake-cifar DIR [N]\n", NASH_MAX_NODES);
		return 2;
	}
	int c = atoi(argv[2]), h = atoi(argv[3]), w = atoi(argv[4]);
	if (c < 1 || c > NASH_MAX_CHANNELS || h < 4 || w < 4) {
		fprintf(stderr, "mkgrown: bad image shape %sx%sx%s\n", argv[2], argv[3], argv[4]);
		return 2;
	}
	/* Only the shape matters to the benchmark; the names let nash-train pick the loader. */
	const char *dataset = c == 1 ? "fashion-mnist" : "cifar10";
	NashErr err = {0};
	Model m;
	static const int seed_widths[3] = {32, 64, 128};
	int rc = chain ? chain_network(&m, dataset, chain, relus, c, h, w, &err)
		 : !strcmp(argv[1], "seed") ? seed_network(&m, dataset, c, h, w, 10, seed_widths, 3, 1, &err)
					  : grown_network(&m, dataset, c, h, w, &err);
	if (rc == 0) {
		for (int k = 0; k < c; k++) {
			m.mean[k] = c == 1 ? 0.2860f : 0.5f;
			m.std[k] = c == 1 ? 0.3530f : 0.2887f;
		}
		m.val_size = 0;
		rc = model_write(&m, argv[5], &err);
	}
	if (rc) {
		fprintf(stderr, "mkgrown: %s\n", err.msg);
		return 1;
	}
	model_free(&m);
	return 0;
}
