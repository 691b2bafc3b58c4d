#include "model/model.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/classnames.h"
#include "base/limits.h"

void model_init(Model *m)
{
	memset(m, 0, sizeof *m);
	m->val_accuracy = NAN;
	m->test_accuracy = NAN;
}

void model_free(Model *m)
{
	graph_free(&m->g);
	free(m->records);
	free(m->runs);
	free(m->lineage);
	free(m->class_names);
	model_init(m);
}

/* Copies n elements of size sz; NULL for n == 0 so an empty array owns nothing. */
static int dup_array(void **dst, const void *src, int n, size_t sz)
{
	*dst = NULL;
	if (n <= 0)
		return 0;
	*dst = malloc((size_t)n * sz);
	if (!*dst)
		return -1;
	memcpy(*dst, src, (size_t)n * sz);
	return 0;
}

int model_clone(Model *dst, const Model *src, NashErr *err)
{
	*dst = *src;
	dst->records = NULL;
	dst->runs = NULL;
	dst->lineage = NULL;
	dst->class_names = NULL;
	memset(&dst->g, 0, sizeof dst->g);
	if (graph_clone(&dst->g, &src->g, err)) {
		model_init(dst);
		return -1;
	}
	if (dup_array((void **)&dst->records, src->records, src->n_records, sizeof *src->records) ||
	    dup_array((void **)&dst->runs, src->runs, src->n_runs, sizeof *src->runs) ||
	    dup_array((void **)&dst->lineage, src->lineage, src->n_lineage, sizeof *src->lineage) ||
	    (src->class_names && dup_array((void **)&dst->class_names, src->class_names, src->g.n_classes,
					   NASH_CLASS_NAME_MAX))) {
		model_free(dst);
		return nash_err(err, NASH_ERR_OOM, "out of memory");
	}
	return 0;
}

/* Appends one element to a realloc'd array of *n elements. */
static int append(void **arr, int *n, const void *elem, size_t sz, NashErr *err)
{
	void *p = realloc(*arr, (size_t)(*n + 1) * sz);
	if (!p)
		return nash_err(err, NASH_ERR_OOM, "out of memory");
	memcpy((char *)p + (size_t)*n * sz, elem, sz);
	*arr = p;
	(*n)++;
	return 0;
}

int model_add_record(Model *m, const EpochRecord *r, NashErr *err)
{
	return append((void **)&m->records, &m->n_records, r, sizeof *r, err);
}

int model_add_run(Model *m, const RunSettings *r, NashErr *err)
{
	if (append((void **)&m->runs, &m->n_runs, r, sizeof *r, err))
		return -1;
	RunSettings *added = &m->runs[m->n_runs - 1];
	if (!added->train_on[0]) /* unset: the training split, as before the field existed */
		snprintf(added->train_on, sizeof added->train_on, "train");
	if (!added->tta[0]) /* unset: no test-time augmentation, as before the field existed */
		snprintf(added->tta, sizeof added->tta, "%s", tta_name(TTA_NONE));
	return 0;
}

static const char *const tta_names[] = {"none", "flip", "flip-shift"};

const char *tta_name(Tta t) { return t >= TTA_NONE && t <= TTA_FLIP_SHIFT ? tta_names[t] : "?"; }

int tta_parse(const char *s, Tta *t)
{
	for (int k = TTA_NONE; k <= TTA_FLIP_SHIFT; k++)
		if (strncmp(s, tta_names[k], 16) == 0) {
			*t = (Tta)k;
			return 0;
		}
	return -1;
}

int tta_views(Tta t, TtaView v[TTA_MAX_VIEWS])
{
	static const TtaView none[] = {{0, 0, 0, 1.0}};
	static const TtaView flip[] = {{0, 0, 0, 0.5}, {0, 0, 1, 0.5}};
	static const TtaView flip_shift[] = {{0, 0, 0, 0.25},    {0, 0, 1, 0.25},   {-1, -1, 0, 0.125},
					     {-1, -1, 1, 0.125}, {1, 1, 0, 0.125}, {1, 1, 1, 0.125}}; /* airbench's */
	const TtaView *from = t == TTA_FLIP ? flip : t == TTA_FLIP_SHIFT ? flip_shift : none;
	int n = t == TTA_FLIP ? 2 : t == TTA_FLIP_SHIFT ? 6 : 1;
	memcpy(v, from, (size_t)n * sizeof *v);
	return n;
}

int model_add_morphism(Model *m, const Morphism *mm, NashErr *err)
{
	return append((void **)&m->lineage, &m->n_lineage, mm, sizeof *mm, err);
}

int model_set_class_names(Model *m, const char *names, NashErr *err)
{
	free(m->class_names);
	m->class_names = NULL;
	if (names && dup_array((void **)&m->class_names, names, m->g.n_classes, NASH_CLASS_NAME_MAX))
		return nash_err(err, NASH_ERR_OOM, "out of memory");
	return 0;
}

void model_set_id(Model *m, uint64_t h)
{
	snprintf(m->id, sizeof m->id, "%016" PRIx64, h);
}

/* "" or exactly 16 lowercase hex digits. */
static int valid_id(const char *s)
{
	size_t n = strnlen(s, NASH_ID_LEN);
	if (n == 0)
		return 1;
	if (n != NASH_ID_LEN - 1)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

/* Index of the first non-finite value in n floats, or -1. */
static long first_nonfinite(const float *x, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isfinite(x[i]))
			return (long)i;
	return -1;
}

/* A dataset name: 1 to 63 of A-Z a-z 0-9 . _ + -, one of them a letter or digit (what a
   dataset file's name may be, docs/DATASETS.md); it is printed in tables and compared. */
static int valid_dataset_name(const char *s, size_t cap)
{
	size_t n = strnlen(s, cap);
	int alnum = 0;
	if (n == 0 || n >= cap)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		int a = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
		if (!a && c != '.' && c != '_' && c != '+' && c != '-')
			return 0;
		alnum |= a;
	}
	return alnum;
}

/* What a lineage row may record: the morphisms (lib/search/morph.c names them) or a reinit. */
static int valid_lineage_op(const char *op)
{
	static const char *const ops[] = {"deeper", "wider", "skip-add", "skip-concat", MODEL_LINEAGE_REINIT};
	for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++)
		if (strncmp(op, ops[k], sizeof ((Morphism *)0)->op) == 0)
			return 1;
	return 0;
}

/* Row i of the lineage holds what lib/search/morph.c records: the fields its op uses, each
   within what the operator accepts, the others -1; a reinit row only its seed. Its nodes are
   indices in the graph before that morphism, which is no larger than the model's (n_nodes
   nodes; morphisms only add nodes), and never the input, node 0. */
static int check_lineage_row(const Morphism *mm, int i, int n_nodes, NashErr *err)
{
	int n = (int)strnlen(mm->op, sizeof mm->op);
	if (!valid_lineage_op(mm->op))
		return nash_err(err, NASH_ERR_RUNTIME,
				"lineage row %d: op '%.*s' is not deeper, wider, skip-add, skip-concat or %s", i, n,
				mm->op, MODEL_LINEAGE_REINIT);
	if (strcmp(mm->op, MODEL_LINEAGE_REINIT) == 0) {
		if (mm->node != -1 || mm->kernel != -1 || mm->factor != -1 || mm->source != -1 || mm->target != -1)
			return nash_err(err, NASH_ERR_RUNTIME,
					"lineage row %d: a %s row has only a seed (node, kernel, factor, source and target -1)",
					i, MODEL_LINEAGE_REINIT);
		return 0;
	}
	int deeper = strcmp(mm->op, "deeper") == 0, wider = strcmp(mm->op, "wider") == 0;
	int skip = !deeper && !wider;
	const struct {
		const char *name;
		int value, used, is_node;
	} field[] = {{"node", mm->node, 1, 1}, {"kernel", mm->kernel, deeper, 0}, {"factor", mm->factor, wider, 0},
		     {"source", mm->source, skip, 1}, {"target", mm->target, skip, 1}};
	for (size_t k = 0; k < sizeof field / sizeof field[0]; k++) {
		int v = field[k].value;
		if (!field[k].used && v != -1)
			return nash_err(err, NASH_ERR_RUNTIME, "lineage row %d: %s is %d, but a %.*s row has none (-1)", i,
					field[k].name, v, n, mm->op);
		if (field[k].used && field[k].is_node && (v < 1 || v >= n_nodes))
			return nash_err(err, NASH_ERR_RUNTIME,
					"lineage row %d: %s %d is not a node of the graph after its input (1..%d)", i,
					field[k].name, v, n_nodes - 1);
	}
	if (deeper && (mm->kernel < 1 || mm->kernel % 2 == 0 || mm->kernel > NASH_MAX_DEEPER_KERNEL))
		return nash_err(err, NASH_ERR_RUNTIME, "lineage row %d: kernel %d is not an odd size in 1..%d", i,
				mm->kernel, NASH_MAX_DEEPER_KERNEL);
	if (wider && (mm->factor < 2 || mm->factor > NASH_MAX_WIDER_FACTOR))
		return nash_err(err, NASH_ERR_RUNTIME, "lineage row %d: factor %d is not in 2..%d", i, mm->factor,
				NASH_MAX_WIDER_FACTOR);
	if (skip && mm->node != mm->target)
		return nash_err(err, NASH_ERR_RUNTIME, "lineage row %d: node %d is not the skip's target %d", i,
				mm->node, mm->target);
	if (skip && mm->source >= mm->target)
		return nash_err(err, NASH_ERR_RUNTIME, "lineage row %d: source %d does not come before target %d", i,
				mm->source, mm->target);
	return 0;
}

/* NaN (never evaluated) or an accuracy in 0..1. */
static int valid_accuracy(float a) { return isnan(a) || (a >= 0 && a <= 1); }

int model_check_checkpoint(const Model *m, NashErr *err)
{
	int done = m->ckpt_epochs_done;
	if (done == 0)
		return 0; /* not a checkpoint */
	if (m->n_runs < 1)
		return nash_err(err, NASH_ERR_RUNTIME, "checkpoint says %d epochs done, but the file records no run", done);
	int epochs = m->runs[m->n_runs - 1].epochs;
	/* nash-train writes one after every epoch but the last: 1 <= done < epochs */
	if (done < 1 || done >= epochs)
		return nash_err(err, NASH_ERR_RUNTIME, "checkpoint says %d epochs done, but the run has %d", done,
				epochs);
	return 0;
}

int model_validate(const Model *m, NashErr *err)
{
	const Graph *g = &m->g;
	if (g->n_nodes < 1 || !g->nodes)
		return nash_err(err, NASH_ERR_RUNTIME, "model has no graph");
	if (g->n_nodes > NASH_MAX_NODES)
		return nash_err(err, NASH_ERR_RUNTIME, "graph has %d nodes, more than %d", g->n_nodes, NASH_MAX_NODES);
	if (g->in_h < 1 || g->in_w < 1 || g->in_h > NASH_MAX_INPUT_SIDE || g->in_w > NASH_MAX_INPUT_SIDE)
		return nash_err(err, NASH_ERR_RUNTIME, "input %dx%d is not within 1..%d", g->in_h, g->in_w,
				NASH_MAX_INPUT_SIDE);
	if (g->n_classes < 2 || g->n_classes > NASH_MAX_CLASSES)
		return nash_err(err, NASH_ERR_RUNTIME, "num_classes %d is not in 2..%d", g->n_classes, NASH_MAX_CLASSES);
	for (int i = 0; i < g->n_nodes; i++) {
		const Node *n = &g->nodes[i];
		if ((n->op == OP_CONV || n->op == OP_DENSE) &&
		    (n->out_channels < 1 || n->out_channels > NASH_MAX_OUT_CHANNELS)) {
			char name[32];
			node_name(g, i, name, sizeof name);
			return nash_err(err, NASH_ERR_RUNTIME, "graph/%s: out_channels %d is not in 1..%d", name,
					n->out_channels, NASH_MAX_OUT_CHANNELS);
		}
		if ((long long)n->c * n->h * n->w > NASH_MAX_ACTIVATION) {
			char name[32];
			node_name(g, i, name, sizeof name);
			return nash_err(err, NASH_ERR_RUNTIME, "graph/%s: output %dx%dx%d is too large", name, n->c, n->h,
					n->w);
		}
		for (int p = 0; p < n->n_params; p++) {
			const Tensor *t = &n->params[p];
			char name[32];
			node_name(g, i, name, sizeof name);
			if (!t->data)
				return nash_err(err, NASH_ERR_RUNTIME, "graph/%s/%s: weights not allocated",
						name, t->name);
			size_t sz = tensor_size(t);
			long bad = first_nonfinite(t->data, sz);
			if (bad >= 0)
				return nash_err(err, NASH_ERR_RUNTIME,
						"graph/%s/%s: element %ld is %s (weights must be finite)",
						name, t->name, bad, isnan(t->data[bad]) ? "NaN" : "Inf");
			bad = t->momentum ? first_nonfinite(t->momentum, sz) : -1;
			if (bad >= 0)
				return nash_err(err, NASH_ERR_RUNTIME,
						"graph/%s/momentum_%s: element %ld is not finite",
						name, t->name, bad);
			bad = t->ema ? first_nonfinite(t->ema, sz) : -1;
			if (bad >= 0)
				return nash_err(err, NASH_ERR_RUNTIME, "graph/%s/ema_%s: element %ld is not finite",
						name, t->name, bad);
			/* a variance below 0 makes batch norm's sqrt(var + eps) NaN or silently wrong */
			for (size_t k = 0; n->op == OP_BN && strcmp(t->name, "running_var") == 0 && k < sz; k++)
				if (t->data[k] < 0)
					return nash_err(err, NASH_ERR_RUNTIME,
							"graph/%s/running_var: element %zu is %g (a variance must be >= 0)",
							name, k, (double)t->data[k]);
		}
	}
	if (memchr(m->dataset, '\0', sizeof m->dataset) == NULL || m->dataset[0] == '\0')
		return nash_err(err, NASH_ERR_RUNTIME, "dataset name is empty");
	if (!valid_dataset_name(m->dataset, sizeof m->dataset))
		return nash_err(err, NASH_ERR_RUNTIME,
				"dataset name is not 1 to 63 of the characters A-Z a-z 0-9 . _ + - (one a letter or digit)");
	if (m->class_names && class_names_check(m->class_names, g->n_classes, err))
		return nash_err_prefix(err, "class_names");
	if (!valid_accuracy(m->val_accuracy))
		return nash_err(err, NASH_ERR_RUNTIME, "val_accuracy %g is not in 0..1", (double)m->val_accuracy);
	if (!valid_accuracy(m->test_accuracy))
		return nash_err(err, NASH_ERR_RUNTIME, "test_accuracy %g is not in 0..1", (double)m->test_accuracy);
	if (m->failed != 0 && m->failed != 1)
		return nash_err(err, NASH_ERR_RUNTIME, "failed is %d, must be 0 or 1", m->failed);
	if (g->in_c < 1 || g->in_c > NASH_MAX_CHANNELS)
		return nash_err(err, NASH_ERR_RUNTIME, "input has %d channels (1..%d supported)",
				g->in_c, NASH_MAX_CHANNELS);
	for (int c = 0; c < g->in_c; c++) {
		if (!isfinite(m->mean[c]))
			return nash_err(err, NASH_ERR_RUNTIME, "norm_mean[%d] is not finite", c);
		if (!(m->std[c] > 0) || !isfinite(m->std[c]))
			return nash_err(err, NASH_ERR_RUNTIME, "norm_std[%d] = %g must be > 0", c,
					(double)m->std[c]);
	}
	if (m->val_size < 0)
		return nash_err(err, NASH_ERR_RUNTIME, "val_size %d < 0", m->val_size);
	if (!valid_id(m->id))
		return nash_err(err, NASH_ERR_RUNTIME, "model_id '%.*s' is not 16 lowercase hex digits",
				NASH_ID_LEN, m->id);
	if (!valid_id(m->parent_id))
		return nash_err(err, NASH_ERR_RUNTIME, "parent_id '%.*s' is not 16 lowercase hex digits",
				NASH_ID_LEN, m->parent_id);
	if (m->n_records < 0 || m->n_runs < 0 || m->n_lineage < 0)
		return nash_err(err, NASH_ERR_RUNTIME, "negative record/run/lineage count");
	if (model_check_checkpoint(m, err))
		return -1;
	if (m->n_runs > NASH_MAX_RUNS)
		return nash_err(err, NASH_ERR_RUNTIME, "training/runs has %d rows, more than %d", m->n_runs, NASH_MAX_RUNS);
	if (m->n_records > NASH_MAX_RECORDS)
		return nash_err(err, NASH_ERR_RUNTIME, "training/record has %d rows, more than %d", m->n_records,
				NASH_MAX_RECORDS);
	if (m->n_lineage > NASH_MAX_LINEAGE)
		return nash_err(err, NASH_ERR_RUNTIME, "lineage has %d rows, more than %d", m->n_lineage,
				NASH_MAX_LINEAGE);
	for (int i = 0; i < m->n_records; i++)
		if (m->records[i].run < 0 || m->records[i].run >= m->n_runs || m->records[i].epoch < 1)
			return nash_err(err, NASH_ERR_RUNTIME,
					"training/record row %d: run %d epoch %d does not refer to one of the %d runs",
					i, m->records[i].run, m->records[i].epoch, m->n_runs);
	for (int i = 0; i < m->n_lineage; i++)
		if (check_lineage_row(&m->lineage[i], i, g->n_nodes, err))
			return -1;
	for (int i = 0; i < m->n_runs; i++) {
		const RunSettings *r = &m->runs[i];
		if (strcmp(r->train_on, "train") && strcmp(r->train_on, "all"))
			return nash_err(err, NASH_ERR_RUNTIME, "training/runs row %d: train_on '%s' is not train or all", i,
					r->train_on);
		if (!(r->warmup >= 0) || r->images < 0)
			return nash_err(err, NASH_ERR_RUNTIME, "training/runs row %d: warmup %g or images %d is negative",
					i, r->warmup, r->images);
		if (!(r->label_smoothing >= 0 && r->label_smoothing < 1) || !(r->ema >= 0 && r->ema < 1))
			return nash_err(err, NASH_ERR_RUNTIME,
					"training/runs row %d: label_smoothing %g or ema %g is not in [0, 1)", i,
					r->label_smoothing, r->ema);
		Tta t;
		if (tta_parse(r->tta, &t))
			return nash_err(err, NASH_ERR_RUNTIME, "training/runs row %d: tta '%.*s' is not %s", i,
					(int)strnlen(r->tta, sizeof r->tta), r->tta, TTA_NAMES);
	}
	return 0;
}

int run_trained_on_val(const RunSettings *r) { return strcmp(r->train_on, "all") == 0; }

void model_drop_optimizer(Model *m)
{
	m->ckpt_epochs_done = 0;
	for (int i = 0; i < m->g.n_nodes; i++)
		for (int p = 0; p < m->g.nodes[i].n_params; p++) {
			Tensor *t = &m->g.nodes[i].params[p];
			free(t->momentum);
			free(t->ema);
			t->momentum = t->ema = NULL;
		}
}
