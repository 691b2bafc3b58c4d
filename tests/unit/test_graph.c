/* The graph's cost (graph_macs) against hand-computed values: each op on a small graph built
   by hand, the paper's seed network, and a count too large for 64 bits. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "model/graph.h"
#include "model/init.h"
#include "model/model.h"

static int infer(Graph *g)
{
	NashErr err = {0};
	int rc = graph_infer(g, &err);
	if (rc)
		printf("# graph_infer: %s\n", err.msg);
	return rc;
}

/* 1x8x8 images, 3 classes: every op once. */
TEST(every_op)
{
	Graph g;
	graph_init(&g, 1, 8, 8, 3);
	int c1 = graph_conv(&g, 0, 4, 3, 1);   /* 3*3 * 1 in * 4 out * 8*8 = 2304 (the bias: none) */
	int r1 = graph_relu(&g, graph_bn(&g, c1));
	int p = graph_maxpool(&g, r1, 2);      /* 4x4x4: none */
	int c2 = graph_conv(&g, p, 6, 5, 0);   /* 5*5 * 4 * 6 * 4*4 = 9600 */
	int r2 = graph_relu(&g, c2);
	int c3 = graph_conv(&g, p, 6, 1, 0);   /* 1*1 * 4 * 6 * 4*4 = 384 */
	int sum = graph_add(&g, OP_ADD, 2, (int[]){r2, c3});
	int cat = graph_add(&g, OP_CONCAT, 2, (int[]){sum, p}); /* 10x4x4: none */
	int gap = graph_unary(&g, OP_GAP, cat);
	graph_dense(&g, gap, 3, 1);            /* 10 * 3 = 30 */
	CHECK(infer(&g) == 0);
	CHECKF(graph_macs(&g) == 2304 + 9600 + 384 + 30, "%llu", (unsigned long long)graph_macs(&g));
	graph_free(&g);

	/* a dense layer after flatten: every value of its input, 4*4*10 * 3 = 480 */
	graph_init(&g, 1, 8, 8, 3);
	c1 = graph_conv(&g, 0, 10, 3, 0); /* 9 * 1 * 10 * 64 = 5760 */
	p = graph_maxpool(&g, c1, 2);
	graph_dense(&g, graph_unary(&g, OP_FLATTEN, p), 3, 0);
	CHECK(infer(&g) == 0);
	CHECKF(graph_macs(&g) == 5760 + 480, "%llu", (unsigned long long)graph_macs(&g));
	graph_free(&g);
}

/* The paper's seed network at 16,32,64 on Fashion-MNIST: 3x3 convolutions at 28x28, 14x14
   and 7x7, the dense layer on 64*7*7 values. */
TEST(paper_seed)
{
	Model m;
	NashErr err = {0};
	const int w[] = {16, 32, 64};
	CHECK(seed_network_arch(&m, SEED_ARCH_PAPER, "fashion-mnist", 1, 28, 28, 10, w, 3, 1, &err) == 0);
	uint64_t want = 9ull * 1 * 16 * 28 * 28 + 9ull * 16 * 32 * 14 * 14 + 9ull * 32 * 64 * 7 * 7 + 64ull * 7 * 7 * 10;
	CHECK(want == 1950592);
	CHECKF(graph_macs(&m.g) == want, "%llu", (unsigned long long)graph_macs(&m.g));
	model_free(&m);
}

/* 15x15 convolutions of n convolutions of 65536 channels on side x side images after a first one
   of 65536 from the image's 4 channels; then global pooling and a dense layer. */
static int deep_wide(Graph *g, int n, int side)
{
	graph_init(g, 4, side, side, 3);
	int c = graph_conv(g, 0, 65536, 15, 0);
	for (int i = 0; i < n; i++)
		c = graph_conv(g, c, 65536, 15, 0);
	graph_dense(g, graph_unary(g, OP_GAP, c), 3, 0);
	return infer(g);
}

/* Counts too large for 64 bits saturate instead of wrapping around: on 4096x4096 images a 15x15
   convolution of 65536 channels to 65536 costs 225 * 2^16 * 2^16 * 2^24 (0.88 of 2^64), two of
   them more than 64 bits hold; on 65536x65536 images one alone does. (No weights: graph_infer
   allocates nothing.) */
TEST(saturates)
{
	Graph g;
	CHECK(deep_wide(&g, 1, 4096) == 0);
	CHECK(graph_macs(&g) == 225ull * 4 * 65536 * 4096 * 4096 + 225ull * 65536 * 65536 * 4096 * 4096 + 65536 * 3);
	graph_free(&g);
	CHECK(deep_wide(&g, 2, 4096) == 0 && graph_macs(&g) == UINT64_MAX);
	graph_free(&g);
	CHECK(deep_wide(&g, 1, 65536) == 0 && graph_macs(&g) == UINT64_MAX);
	graph_free(&g);
}

int main(void)
{
	RUN(every_op);
	RUN(paper_seed);
	RUN(saturates);
	CHECK_DONE();
}
