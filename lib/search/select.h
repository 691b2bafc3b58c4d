/* Selection: the facts about a model that a search ranks it by (nash-select) and reports
   (nash-show --tsv), and the ranking rule of NASH's hill climbing. */
#ifndef NASH_SELECT_H
#define NASH_SELECT_H

#include <stddef.h>
#include <stdint.h>

#include "model/model.h"

/* What can rank a model. */
typedef enum SelectMetric {
	METRIC_VAL_ACCURACY,
	METRIC_TEST_ACCURACY,
} SelectMetric;

/* -1 when the name is not a metric. */
int select_metric_from_name(const char *name);
const char *select_metric_name(SelectMetric metric);

/* A model's summary: everything a ranked table or a report row shows. */
typedef struct ModelInfo {
	const char *path;     /* as given, not owned */
	char id[NASH_ID_LEN];
	char parent_id[NASH_ID_LEN];
	char dataset[64];
	float val_accuracy;   /* NaN when never evaluated */
	float test_accuracy;  /* NaN when never evaluated */
	int failed;
	char failure[256];
	size_t params;        /* trainable parameters */
	uint64_t macs;        /* multiply-adds of one image's forward pass (graph_macs) */
	int epochs;           /* rows of the training record: every epoch the model went through */
	float seconds;        /* training seconds of the last run */
	float total_seconds;  /* training seconds of all runs */
	double images;        /* images trained on in the last run (its epochs x its images per epoch) */
	double total_images;  /* images trained on in all runs: the training compute in image passes */
	int n_lineage;        /* morphisms since the seed network */
	char lineage[512];    /* their operators, oldest first, comma-separated; "" when none */
	int since_parent;     /* morphisms since the parent when the parent is known, else -1 */
	uint64_t weights_hash; /* FNV-1a over graph structure and weights: equal models, equal hash */
	char summary[512];    /* graph_summary */
} ModelInfo;

/* FNV-1a over the graph's structure and weights (not ids, records or optimizer state): two
   models compute the same function exactly when their hashes match (barring collisions). */
uint64_t model_weights_hash(const Graph *g);

/* Fills mi from m (path is kept as a pointer). since_parent is left at -1. */
void model_info(ModelInfo *mi, const Model *m, const char *path);

/* The metric's value, NaN when absent. */
float model_info_metric(const ModelInfo *mi, SelectMetric metric);

/* Whether models a (file a_name) and b can be ranked or ensembled together (nash-select,
   nash-ensemble): they are for the same dataset (its name, input shape and classes) and, when
   compared on the validation split (on_validation), hold out the same validation images.
   Otherwise -1 with an error naming both files and what differs. */
int select_comparable(const Model *a, const char *a_name, const Model *b, const char *b_name, int on_validation,
		      NashErr *err);

/* Why a model cannot win ("failed: ...", "not trained"), or NULL when it can. */
const char *select_unusable(const ModelInfo *mi, SelectMetric metric, char *buf, size_t n);

/* Sets since_parent of every candidate whose parent is also a candidate (matched by id):
   the difference of their lineage lengths. */
void select_link_parents(ModelInfo *c, int n);

/* The ranking: usable models first by metric (higher first), ties by fewer multiply-adds per
   image, then a parent before its child (by id: of equal cost, the child is no better), then
   fewer parameters, then by path; unusable ones (failed, no value for the metric) last, by
   path. order[n] receives candidate indices, best first. Returns the number of usable models. */
int select_rank(int *order, const ModelInfo *c, int n, SelectMetric metric);

/* The cost-aware choice (nash-select --tolerance T) over a ranking order[n] (select_rank's or
   select_rank_replace's): among the usable models whose metric is within T of the first's, the
   one with the fewest multiply-adds per image (of equal cost, the first in order) moves to the
   front, the others keeping their order. Within: at most T + 1e-6 below, a slack for the
   rounding of float accuracies, below one validation image of any split under a million. T = 0
   changes nothing (select_rank breaks exact ties by cost already). Returns the position the
   winner came from, 0 when the first stays first. */
int select_tolerance(int *order, int n, const ModelInfo *c, SelectMetric metric, double tolerance);

/* The ranking without model selection (a search's KEEP_PARENT=no): c[parent] is no candidate
   while any other model can win, whatever they compare like; it wins only when none can (all
   failed). order[] receives the ranked candidates, best first: n - 1 of them (the parent left
   out) when a child can win, else all n with the parent first. *n_ranked receives their
   number. Returns the number of usable models among them. */
int select_rank_replace(int *order, int *n_ranked, const ModelInfo *c, int n, int parent, SelectMetric metric);

/* A search step's selection (nash-select --step), the parent c[parent] among the candidates
   ranked in order[n_order]: the child whose failure says that no morphism kept it within the
   parameter budget or the multiply-adds' cap (nash-morph's MORPH_NO_FIT_BUDGET), the last such
   in order, when every child (every other candidate) failed so; NULL otherwise. Then the parent
   stays, and every later step would fail the same way (the budget, the cap, a multiple of the
   parent's cost, and the parent do not change): a silent no-op that the search must stop at
   instead. */
const ModelInfo *select_none_fit(const ModelInfo *c, const int *order, int n_order, int parent);

/* The last k operators of the lineage list ("wider,deeper"), for "morphisms since parent". */
void select_recent_ops(char *buf, size_t n, const ModelInfo *mi, int k);

#endif
