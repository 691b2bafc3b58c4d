/* Network morphisms (NASH, Elsken et al. 2017): operators that grow a network while keeping
   the function it computes in inference mode, so a child starts where its parent stands.
   docs/MORPHISMS.md gives the math of each operator and the rules for where it may act. */
#ifndef NASH_MORPH_H
#define NASH_MORPH_H

#include <stddef.h>
#include <stdint.h>

#include "model/model.h"
#include "base/rng.h"

typedef enum MorphOp {
	MORPH_DEEPER,      /* conv-BN-ReLU identity block after a ReLU */
	MORPH_WIDER,       /* more filters in a conv (and its add group), zero weights downstream */
	MORPH_SKIP_ADD,    /* add(target, [pool][1x1 conv](source)) with lambda = 1 */
	MORPH_SKIP_CONCAT, /* concat(target, [pool](source)), consumers' new weights zero */
	MORPH_OP_COUNT
} MorphOp;

#define MORPH_MASK(op) (1u << (op))
#define MORPH_MASK_SKIP (MORPH_MASK(MORPH_SKIP_ADD) | MORPH_MASK(MORPH_SKIP_CONCAT))
#define MORPH_MAX_CHOICES 32
#define MORPH_MAX_TRIES 100 /* draws per morphism before giving up (--max-params, --max-macs rejections) */
/* The start of the error when no draw fits --max-params or --max-macs (exit 5), which a search
   records as the child's failure: nash-select --step finds it there (select_none_fit). */
#define MORPH_NO_FIT_BUDGET "no morphism keeps the network within --max-"

/* "deeper", "wider", "skip-add", "skip-concat": the names in the lineage. */
const char *morph_op_name(MorphOp op);

/* Where an operator can act: deeper: node = a ReLU; wider: node = a conv; skip: source and
   target ReLUs (node = target). Unused fields are -1. */
typedef struct MorphPlace {
	int node, source, target;
} MorphPlace;

/* The valid places of op in g, found without listing them: a skip has a place for each fitting
   pair of ReLUs, as many as the nodes squared, while finding and counting them costs time
   near-linear in the nodes (lib/search/morph_places.c says how). g must be inferred
   (graph_infer succeeded) and stay unchanged until morph_places_free. */
typedef struct MorphPlaces {
	MorphOp op;
	int n;           /* valid places in all */
	long long steps; /* nodes and candidate sizes looked at: the search's cost, which tests count */
	struct PlaceFinder *f;
} MorphPlaces;
int morph_find_places(const Graph *g, MorphOp op, MorphPlaces *p, NashErr *err);
/* Place k (0 <= k < p->n), in the order morph_places lists them: by node (a skip's target),
   then a skip's sources in order. 0, or -1 with err (out of memory). */
int morph_place_at(MorphPlaces *p, int k, MorphPlace *out, NashErr *err);
void morph_places_free(MorphPlaces *p);
/* Lists the valid places of op in g, which must be inferred. *out is malloc'd (NULL when none;
   the caller frees). Returns the count, or -1 with err. The list of a skip's places is as long
   as the nodes squared: morph_apply draws one with morph_find_places and morph_place_at. */
int morph_places(const Graph *g, MorphOp op, MorphPlace **out, NashErr *err);

/* The operators, each at a given place (tests force them; morph_apply draws them). On
   success the graph infers, every tensor is allocated and the inference-mode function is
   unchanged. An invalid place is a NASH_ERR_RUNTIME error and leaves g as it was (only
   running out of memory can leave it half-changed: free it then).
   deeper: kernel 3 or 5. wider: factor >= 2; new filters He-random from rng. skip: a 1x1
   projection (add, when channel counts differ) is He-random from rng. */
int morph_deeper(Graph *g, int relu, int kernel, NashErr *err);
int morph_wider(Graph *g, int conv, int factor, Rng *rng, NashErr *err);
int morph_skip(Graph *g, MorphOp op, int source, int target, Rng *rng, NashErr *err);

/* The convs widened together with `conv` (those sharing its channel layout through BN,
   ReLU, max-pool, global pooling and add nodes), in index order; returns the count or -1
   when the conv cannot be widened. members: [g->n_nodes]. */
int morph_wider_group(const Graph *g, int conv, int *members);

/* One line describing an applied morphism, in terms of the graph it acted on (before). */
void morph_describe(const Graph *before, const Morphism *mm, char *buf, size_t n);

typedef struct MorphOpts {
	int n;             /* morphisms to apply in sequence (default 5, the paper's n_NM) */
	uint64_t seed;     /* with the parent's id, seeds every random choice */
	int n_choices;     /* 0: the default list {deeper, wider, skip} */
	unsigned choices[MORPH_MAX_CHOICES]; /* each a MORPH_MASK set; an entry is drawn
						uniformly, then an operator within it */
	size_t max_params; /* 0: no limit; else reject morphisms that exceed it */
	uint64_t max_macs; /* 0: no limit; else reject morphisms whose result costs more multiply-adds
			      per image (graph_macs) */
	/* Called after each applied morphism with its record and description; may be NULL. */
	void (*report)(const Morphism *mm, const char *desc, void *arg);
	void *report_arg;
} MorphOpts;

void morph_opts_default(MorphOpts *o);
/* Appends the operators of a comma-separated list ("deeper,skip"); "skip" is one entry
   meaning skip-add or skip-concat. Unknown names are NASH_ERR_USAGE errors. */
int morph_parse_ops(MorphOpts *o, const char *list, NashErr *err);

/* Makes *child (initialised here; model_free it) from parent by o->n morphisms. The child
   gets parent_id = the parent's id, a new id derived from (parent id, seed, morphisms), NaN
   accuracies, no failure, no checkpoint and no momentum buffers (a fresh optimizer); its
   training record is the parent's (the history stays complete) and its lineage the
   parent's plus one Morphism per operator applied. The same parent and options always give
   the same child. */
int morph_apply(Model *child, const Model *parent, const MorphOpts *o, NashErr *err);

#endif
