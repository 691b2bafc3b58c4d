#include "search/select.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/rng.h"
#include "search/morph.h"

int select_metric_from_name(const char *name)
{
	if (strcmp(name, "val_accuracy") == 0)
		return METRIC_VAL_ACCURACY;
	if (strcmp(name, "test_accuracy") == 0)
		return METRIC_TEST_ACCURACY;
	return -1;
}

const char *select_metric_name(SelectMetric metric)
{
	return metric == METRIC_TEST_ACCURACY ? "test_accuracy" : "val_accuracy";
}

/* Structure and weights only: ids, records and momentum do not change what a model computes. */
uint64_t model_weights_hash(const Graph *g)
{
	uint64_t h = NASH_HASH_INIT;
	int shape[4] = {g->in_c, g->in_h, g->in_w, g->n_classes};
	h = nash_hash(h, shape, sizeof shape);
	for (int i = 0; i < g->n_nodes; i++) {
		const Node *nd = &g->nodes[i];
		int meta[5] = {(int)nd->op, nd->n_inputs, nd->out_channels, nd->kernel, nd->has_bias};
		h = nash_hash(h, meta, sizeof meta);
		h = nash_hash(h, nd->inputs, (size_t)nd->n_inputs * sizeof nd->inputs[0]);
		for (int p = 0; p < nd->n_params; p++) {
			const Tensor *t = &nd->params[p];
			h = nash_hash(h, t->name, strnlen(t->name, sizeof t->name));
			if (t->data)
				h = nash_hash(h, t->data, tensor_size(t) * sizeof(float));
		}
	}
	return h;
}

void model_info(ModelInfo *mi, const Model *m, const char *path)
{
	memset(mi, 0, sizeof *mi);
	mi->path = path;
	snprintf(mi->id, sizeof mi->id, "%s", m->id);
	snprintf(mi->parent_id, sizeof mi->parent_id, "%s", m->parent_id);
	snprintf(mi->dataset, sizeof mi->dataset, "%s", m->dataset);
	mi->val_accuracy = m->val_accuracy;
	mi->test_accuracy = m->test_accuracy;
	mi->failed = m->failed;
	snprintf(mi->failure, sizeof mi->failure, "%s", m->failure);
	mi->params = graph_param_count(&m->g);
	mi->macs = graph_macs(&m->g);
	mi->epochs = m->n_records;
	for (int i = 0; i < m->n_records; i++) {
		int run = m->records[i].run;
		/* a record's run is checked by the reader; an epoch of a run trains its images once */
		double images = run >= 0 && run < m->n_runs && m->runs[run].images > 0 ? m->runs[run].images : 0;
		mi->total_seconds += m->records[i].seconds;
		mi->total_images += images;
		if (run == m->n_runs - 1) {
			mi->seconds += m->records[i].seconds;
			mi->images += images;
		}
	}
	mi->n_lineage = m->n_lineage;
	size_t used = 0;
	for (int i = 0; i < m->n_lineage; i++) {
		int w = snprintf(mi->lineage + used, sizeof mi->lineage - used, "%s%.*s", i ? "," : "",
				 (int)sizeof m->lineage[i].op, m->lineage[i].op);
		if (w < 0 || (size_t)w >= sizeof mi->lineage - used)
			break; /* truncated: a table cell, not data */
		used += (size_t)w;
	}
	mi->since_parent = -1;
	mi->weights_hash = model_weights_hash(&m->g);
	graph_summary(&m->g, mi->summary, sizeof mi->summary);
}

float model_info_metric(const ModelInfo *mi, SelectMetric metric)
{
	return metric == METRIC_TEST_ACCURACY ? mi->test_accuracy : mi->val_accuracy;
}

int select_comparable(const Model *a, const char *a_name, const Model *b, const char *b_name, int on_validation,
		      NashErr *err)
{
	const Graph *ga = &a->g, *gb = &b->g;
	if (strcmp(a->dataset, b->dataset) || ga->in_c != gb->in_c || ga->in_h != gb->in_h || ga->in_w != gb->in_w ||
	    ga->n_classes != gb->n_classes)
		return nash_err(err, NASH_ERR_RUNTIME,
				"%s: the model is for %s (%dx%dx%d images, %d classes), %s for %s (%dx%dx%d images, %d "
				"classes): models of different datasets cannot be compared",
				nash_name(b_name).s, b->dataset, gb->in_c, gb->in_h, gb->in_w, gb->n_classes, nash_name(a_name).s,
				a->dataset, ga->in_c, ga->in_h, ga->in_w, ga->n_classes);
	/* the validation split is the last val_size training images: another size, other images */
	if (on_validation && a->val_size != b->val_size)
		return nash_err(err, NASH_ERR_RUNTIME,
				"%s: holds out %d validation images, %s holds out %d: their validation accuracies are "
				"not on the same images and cannot be compared",
				nash_name(b_name).s, b->val_size, nash_name(a_name).s, a->val_size);
	return 0;
}

const char *select_unusable(const ModelInfo *mi, SelectMetric metric, char *buf, size_t n)
{
	if (mi->failed) {
		snprintf(buf, n, "failed: %s", mi->failure[0] ? mi->failure : "no reason recorded");
		return buf;
	}
	if (!isfinite(model_info_metric(mi, metric))) {
		snprintf(buf, n, "no %s (not trained or not evaluated)", select_metric_name(metric));
		return buf;
	}
	return NULL;
}

void select_link_parents(ModelInfo *c, int n)
{
	for (int i = 0; i < n; i++) {
		c[i].since_parent = -1;
		if (!c[i].parent_id[0])
			continue;
		for (int j = 0; j < n; j++)
			if (j != i && strcmp(c[j].id, c[i].parent_id) == 0) {
				c[i].since_parent = c[i].n_lineage - c[j].n_lineage;
				break;
			}
	}
}

/* < 0 when a ranks before b. */
static int compare(const ModelInfo *a, const ModelInfo *b, SelectMetric metric)
{
	char buf[8];
	int ua = select_unusable(a, metric, buf, sizeof buf) == NULL;
	int ub = select_unusable(b, metric, buf, sizeof buf) == NULL;
	if (ua != ub)
		return ua ? -1 : 1;
	if (ua) {
		float va = model_info_metric(a, metric), vb = model_info_metric(b, metric);
		if (va != vb)
			return va > vb ? -1 : 1;
		if (a->macs != b->macs)
			return a->macs < b->macs ? -1 : 1;
		/* a parent wins a tie with its child of equal cost (which has more parameters too:
		   every morphism adds some) */
		if (a->id[0] && !strcmp(a->id, b->parent_id))
			return -1;
		if (b->id[0] && !strcmp(b->id, a->parent_id))
			return 1;
		if (a->params != b->params)
			return a->params < b->params ? -1 : 1;
	}
	return strcmp(a->path ? a->path : "", b->path ? b->path : "");
}

int select_rank(int *order, const ModelInfo *c, int n, SelectMetric metric)
{
	/* insertion sort: a handful of candidates, and stable */
	for (int i = 0; i < n; i++) {
		int j = i;
		while (j > 0 && compare(&c[i], &c[order[j - 1]], metric) < 0) {
			order[j] = order[j - 1];
			j--;
		}
		order[j] = i;
	}
	int usable = 0;
	char buf[8];
	for (int i = 0; i < n; i++)
		usable += select_unusable(&c[i], metric, buf, sizeof buf) == NULL;
	return usable;
}

int select_tolerance(int *order, int n, const ModelInfo *c, SelectMetric metric, double tolerance)
{
	char buf[8];
	if (n < 1 || !(tolerance > 0) || select_unusable(&c[order[0]], metric, buf, sizeof buf))
		return 0;
	double best = model_info_metric(&c[order[0]], metric);
	int pick = 0;
	for (int r = 1; r < n; r++) {
		const ModelInfo *mi = &c[order[r]];
		if (select_unusable(mi, metric, buf, sizeof buf))
			break; /* the unusable rank last */
		if (best - (double)model_info_metric(mi, metric) <= tolerance + 1e-6 && mi->macs < c[order[pick]].macs)
			pick = r;
	}
	int w = order[pick];
	for (int r = pick; r > 0; r--)
		order[r] = order[r - 1];
	order[0] = w;
	return pick;
}

int select_rank_replace(int *order, int *n_ranked, const ModelInfo *c, int n, int parent, SelectMetric metric)
{
	int usable = select_rank(order, c, n, metric), k = 0;
	char buf[8];
	int parent_usable = select_unusable(&c[parent], metric, buf, sizeof buf) == NULL;
	if (usable - parent_usable > 0) { /* a child can win: the parent leaves the ranking */
		for (int i = 0; i < n; i++)
			if (order[i] != parent)
				order[k++] = order[i];
		*n_ranked = k;
		return usable - parent_usable;
	}
	/* no child can: the parent first (it wins when it can), then the children as ranked */
	for (int i = n - 1; i > 0; i--)
		if (order[i] == parent) {
			order[i] = order[i - 1];
			order[i - 1] = parent;
		}
	*n_ranked = n;
	return usable;
}

void select_recent_ops(char *buf, size_t n, const ModelInfo *mi, int k)
{
	buf[0] = '\0';
	if (k <= 0 || n == 0)
		return;
	/* skip the first n_lineage - k entries of the comma-separated list */
	const char *s = mi->lineage;
	for (int skip = mi->n_lineage - k; skip > 0 && s; skip--) {
		s = strchr(s, ',');
		if (s)
			s++;
	}
	snprintf(buf, n, "%s", s ? s : "");
}

const ModelInfo *select_none_fit(const ModelInfo *c, const int *order, int n_order, int parent)
{
	const ModelInfo *last = NULL;
	int children = 0;
	for (int r = 0; r < n_order; r++) {
		if (order[r] == parent)
			continue;
		const ModelInfo *mi = &c[order[r]];
		children++;
		if (!mi->failed || !strstr(mi->failure, MORPH_NO_FIT_BUDGET))
			return NULL;
		last = mi;
	}
	return children ? last : NULL;
}
