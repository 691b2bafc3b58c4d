/* Weight initialisation and the seed networks. */
#ifndef NASH_INIT_H
#define NASH_INIT_H

#include "model/model.h"
#include "base/rng.h"

/* He (Kaiming) normal for conv weights, N(0, 2/fan_in); dense weights U(+-1/sqrt(fan_in)) as
   PyTorch's default (no batch-norm follows the classifier); biases 0; batch-norm
   gamma 1, beta 0, running mean 0, running var 1; lambda 1. Fills node i's tensors. */
void init_node(Graph *g, int i, Rng *rng);
/* Fills rows [row_begin, rows) of a conv/dense weight (output channels) with He normal values:
   used when a morphism adds filters. */
void init_rows_he(Tensor *w, int row_begin, Rng *rng);

/* The seed networks nash-init --arch builds; every morphism applies to each of them
   (tests/unit/test_morph_seeds.c). */
typedef enum SeedArch {
	SEED_ARCH_PAPER,  /* the paper's, and nash-init's default: for each width
			     conv3x3(no bias)-BN-ReLU, with a 2x2 max-pool between consecutive
			     blocks, then flatten and a dense layer to the classes (bias);
			     Conv-MaxPool-Conv-MaxPool-Conv-FC for three widths */
	SEED_ARCH_GROUPS, /* after airbench94's groups: for each width conv3x3-maxpool-BN-ReLU-
			     conv3x3-BN-ReLU, then flatten and the dense layer */
	SEED_ARCH_COUNT
} SeedArch;

const char *seed_arch_name(SeedArch arch); /* "paper", "groups" */
int seed_arch_from_name(const char *name); /* -1 when unknown */
/* The widths nash-init gives arch when none are asked for: 32,64,128 for the paper's, 16,32,64
   for groups. Writes widths[3]; returns 3. */
int seed_arch_default_widths(SeedArch arch, int *widths);

/* Builds arch for the dataset's images and classes, He-initialised from seed (init_node,
   node by node). Its id depends on what made it: dataset, widths, seed, and the arch unless
   it is the paper's (whose ids predate the choice). Too many pools for the image size is a
   NASH_ERR_USAGE error. */
int seed_network_arch(Model *m, SeedArch arch, const char *dataset, int c, int h, int w, int n_classes,
		      const int *widths, int n_widths, uint64_t seed, NashErr *err);
/* The paper's seed network (SEED_ARCH_PAPER). */
int seed_network(Model *m, const char *dataset, int c, int h, int w, int n_classes, const int *widths,
		 int n_widths, uint64_t seed, NashErr *err);

/* For retraining from scratch: *out gets like's graph with every weight drawn afresh exactly
   as seed_network draws its own (init_node, node by node, from one stream seeded with seed), so
   the seed network itself comes back from its own seed. It keeps like's dataset,
   normalisation and val_size; its parent_id is like's id and its lineage like's plus a
   "reinit" row (MODEL_LINEAGE_REINIT) with the seed; its id is new. It has no training
   record, accuracies, failure mark or optimizer state: it is untrained. like may be a
   checkpoint (its unfinished run is dropped with the rest of its training) or marked failed. */
int nash_init_like(Model *out, const Model *like, uint64_t seed, NashErr *err);

#endif
