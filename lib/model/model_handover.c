/* model/handover.h: a model in nash's own form, from the isolated child that read it to the
   program, which checks it again. The form is the Model's fields in a fixed order, each number
   in the machine's byte order, strings as length and bytes (class names: whether there are
   any, then one per class), a node's fields only those its op has (the file reader's), the
   weights as the graph's tensors in order, the tables row by row and field by field (no struct
   padding goes down the pipe). */
#include "model/handover.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/limits.h"

#define HANDOVER_MAGIC 0x314d484e /* "NHM1" */

/* Which settings a node of op has in a file (docs/FORMAT.md, "graph/"). */
enum { HAS_OUT = 1, HAS_KERNEL = 2, HAS_BN = 4 };

static int op_settings(int op)
{
	return (op == OP_CONV || op == OP_DENSE ? HAS_OUT : 0) | (op == OP_CONV || op == OP_MAXPOOL ? HAS_KERNEL : 0) |
	       (op == OP_BN ? HAS_BN : 0);
}

/* A tensor's optimizer state, as flags on the wire. */
enum { HAS_MOMENTUM = 1, HAS_EMA = 2 };

/* Bytes of one row of each table on the wire (put_run, put_record, put_morphism). */
enum { RUN_BYTES = 8 + 4 * 4 + 4 * 4 + 16 + 64 + 128 + 64 + 4 + 16 + 4 + 4 + 4 + 16, RECORD_BYTES = 8 * 4,
       MORPHISM_BYTES = 16 + 5 * 4 + 8 };

size_t model_handover_bound(size_t len)
{
	size_t extra = (size_t)2 << 20;
	return len > (SIZE_MAX - extra) / 16 ? SIZE_MAX : 16 * len + extra;
}

static void put_run(WireOut *w, const RunSettings *r)
{
	wire_put_u64(w, r->seed);
	wire_put_i32(w, r->batch);
	wire_put_i32(w, r->epochs);
	wire_put_i32(w, r->limit);
	wire_put_i32(w, r->augment);
	wire_put_f32(w, r->lr_start);
	wire_put_f32(w, r->lr_end);
	wire_put_f32(w, r->momentum);
	wire_put_f32(w, r->weight_decay);
	wire_put(w, r->engine, sizeof r->engine);
	wire_put(w, r->host, sizeof r->host);
	wire_put(w, r->hardware, sizeof r->hardware);
	wire_put(w, r->job, sizeof r->job);
	wire_put_f32(w, r->warmup);
	wire_put(w, r->train_on, sizeof r->train_on);
	wire_put_i32(w, r->images);
	wire_put_f32(w, r->label_smoothing);
	wire_put_f32(w, r->ema);
	wire_put(w, r->tta, sizeof r->tta);
}

static void put_record(WireOut *w, const EpochRecord *e)
{
	wire_put_i32(w, e->run);
	wire_put_i32(w, e->epoch);
	wire_put_f32(w, e->lr);
	wire_put_f32(w, e->train_loss);
	wire_put_f32(w, e->train_acc);
	wire_put_f32(w, e->val_loss);
	wire_put_f32(w, e->val_acc);
	wire_put_f32(w, e->seconds);
}

static void put_morphism(WireOut *w, const Morphism *mm)
{
	wire_put(w, mm->op, sizeof mm->op);
	wire_put_i32(w, mm->node);
	wire_put_i32(w, mm->kernel);
	wire_put_i32(w, mm->factor);
	wire_put_i32(w, mm->source);
	wire_put_i32(w, mm->target);
	wire_put_u64(w, mm->seed);
}

void model_handover_put(WireOut *w, const Model *m)
{
	const Graph *g = &m->g;
	wire_put_i32(w, HANDOVER_MAGIC);
	wire_put_i32(w, g->in_c);
	wire_put_i32(w, g->in_h);
	wire_put_i32(w, g->in_w);
	wire_put_i32(w, g->n_classes);
	wire_put_str(w, m->dataset);
	wire_put_i32(w, m->class_names != NULL);
	for (int k = 0; m->class_names && k < g->n_classes; k++)
		wire_put_str(w, m->class_names + (size_t)k * NASH_CLASS_NAME_MAX);
	for (int c = 0; c < g->in_c && c < NASH_MAX_CHANNELS; c++) {
		wire_put_f32(w, m->mean[c]);
		wire_put_f32(w, m->std[c]);
	}
	wire_put_i32(w, m->val_size);
	wire_put_str(w, m->id);
	wire_put_str(w, m->parent_id);
	wire_put_f32(w, m->val_accuracy);
	wire_put_f32(w, m->test_accuracy);
	wire_put_i32(w, (int32_t)m->val_tta);
	wire_put_i32(w, (int32_t)m->test_tta);
	wire_put_i32(w, m->failed);
	wire_put_str(w, m->failure);
	wire_put_i32(w, m->ckpt_epochs_done);
	wire_put_i32(w, g->n_nodes);
	for (int i = 0; i < g->n_nodes; i++) {
		const Node *nd = &g->nodes[i];
		int has = op_settings(nd->op);
		wire_put_i32(w, nd->op);
		wire_put_i32(w, nd->n_inputs);
		wire_put(w, nd->inputs, (size_t)nd->n_inputs * sizeof nd->inputs[0]);
		if (has & HAS_OUT) {
			wire_put_i32(w, nd->out_channels);
			wire_put_i32(w, nd->has_bias);
		}
		if (has & HAS_KERNEL)
			wire_put_i32(w, nd->kernel);
		if (has & HAS_BN) {
			wire_put_f32(w, nd->bn_eps);
			wire_put_f32(w, nd->bn_momentum);
		}
	}
	for (int i = 0; i < g->n_nodes; i++)
		for (int p = 0; p < g->nodes[i].n_params; p++) {
			const Tensor *t = &g->nodes[i].params[p];
			size_t bytes = tensor_size(t) * sizeof(float);
			wire_put(w, t->data, bytes);
			wire_put_i32(w, (t->momentum ? HAS_MOMENTUM : 0) | (t->ema ? HAS_EMA : 0));
			if (t->momentum)
				wire_put(w, t->momentum, bytes);
			if (t->ema)
				wire_put(w, t->ema, bytes);
		}
	wire_put_i32(w, m->n_runs);
	for (int i = 0; i < m->n_runs; i++)
		put_run(w, &m->runs[i]);
	wire_put_i32(w, m->n_records);
	for (int i = 0; i < m->n_records; i++)
		put_record(w, &m->records[i]);
	wire_put_i32(w, m->n_lineage);
	for (int i = 0; i < m->n_lineage; i++)
		put_morphism(w, &m->lineage[i]);
}

/* ---- taking a model back: nothing in the bytes is trusted ---- */

/* What broke the form: -1 with "FILE: corrupt HDF5 file (its reading process handed back ...)". */
static int broken(const char *file, NashErr *err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int broken(const char *file, NashErr *err, const char *fmt, ...)
{
	char what[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	return nash_err(err, NASH_ERR_RUNTIME, "%s: corrupt HDF5 file (its reading process handed back %s)",
			nash_name(file).s, what);
}

/* A string attribute as the file reader takes it: ASCII, shorter than its field. */
static int get_text(WireIn *r, char *buf, size_t cap)
{
	if (wire_get_str(r, buf, cap))
		return -1;
	for (const char *c = buf; *c; c++)
		if ((unsigned char)*c >= 0x80) {
			r->bad = 1;
			return -1;
		}
	return 0;
}

/* A fixed-size string field of a table row: its bytes, the last one made the end (as
   h5_read_table does). */
static void get_field(WireIn *r, char *dst, size_t n)
{
	wire_get(r, dst, n);
	dst[n - 1] = '\0';
}

static int get_root(WireIn *r, Model *m, const char *file, NashErr *err)
{
	if ((uint32_t)wire_get_i32(r) != HANDOVER_MAGIC)
		return broken(file, err, "no model");
	int c = wire_get_i32(r), h = wire_get_i32(r), w = wire_get_i32(r), classes = wire_get_i32(r);
	if (r->bad || c < 1 || c > NASH_MAX_CHANNELS || h < 1 || w < 1 || h > NASH_MAX_INPUT_SIDE ||
	    w > NASH_MAX_INPUT_SIDE || classes < 2 || classes > NASH_MAX_CLASSES)
		return broken(file, err, "an input shape or class count out of range");
	graph_init(&m->g, c, h, w, classes);
	if (get_text(r, m->dataset, sizeof m->dataset))
		return broken(file, err, "an invalid dataset name");
	/* class names: UTF-8 (model_validate checks them as the file reader's caller does) */
	int has_names = wire_get_i32(r);
	if (has_names != 0 && has_names != 1)
		return broken(file, err, "an invalid class name count");
	if (has_names && !(m->class_names = calloc((size_t)classes, NASH_CLASS_NAME_MAX)))
		return nash_err(err, NASH_ERR_OOM, "%s: out of memory", nash_name(file).s);
	for (int k = 0; has_names && k < classes; k++)
		if (wire_get_str(r, m->class_names + (size_t)k * NASH_CLASS_NAME_MAX, NASH_CLASS_NAME_MAX))
			return broken(file, err, "an invalid class name");
	for (int k = 0; k < c; k++) {
		m->mean[k] = wire_get_f32(r);
		m->std[k] = wire_get_f32(r);
	}
	m->val_size = wire_get_i32(r);
	if (get_text(r, m->id, sizeof m->id) || get_text(r, m->parent_id, sizeof m->parent_id))
		return broken(file, err, "an invalid model id");
	m->val_accuracy = wire_get_f32(r);
	m->test_accuracy = wire_get_f32(r);
	int vt = wire_get_i32(r), tt = wire_get_i32(r);
	if (vt < TTA_NONE || vt > TTA_FLIP_SHIFT || tt < TTA_NONE || tt > TTA_FLIP_SHIFT)
		return broken(file, err, "an unknown test-time augmentation");
	m->val_tta = (Tta)vt;
	m->test_tta = (Tta)tt;
	m->failed = wire_get_i32(r);
	/* the reader reads a failure only when failed says so */
	if (get_text(r, m->failure, sizeof m->failure) || (!m->failed && m->failure[0]))
		return broken(file, err, "an invalid failure");
	m->ckpt_epochs_done = wire_get_i32(r);
	return r->bad ? broken(file, err, "too few bytes") : 0;
}

/* The nodes, built with graph_add and checked by graph_infer, as the file reader does. */
static int get_graph(WireIn *r, Graph *g, const char *file, NashErr *err)
{
	int n = wire_get_i32(r);
	if (r->bad || n < 1 || n > NASH_MAX_NODES)
		return broken(file, err, "%d nodes", n);
	for (int i = 0; i < n; i++) {
		int op = wire_get_i32(r), n_in = wire_get_i32(r), ins[NASH_MAX_INPUTS];
		if (r->bad || op < 0 || op >= OP_COUNT || (op == OP_INPUT) != (i == 0) || n_in < 0 || n_in > NASH_MAX_INPUTS ||
		    (i == 0 && n_in != 0))
			return broken(file, err, "node %d with op %d and %d inputs", i, op, n_in);
		for (int k = 0; k < n_in; k++) {
			ins[k] = wire_get_i32(r);
			if (r->bad || ins[k] < 0 || ins[k] >= i)
				return broken(file, err, "node %d with an input that is not an earlier node", i);
		}
		if (i > 0 && graph_add(g, (OpKind)op, n_in, ins) != i)
			return g->out_of_memory ? nash_err(err, NASH_ERR_OOM, "%s: out of memory", nash_name(file).s)
						: broken(file, err, "node %d out of place", i);
		Node *nd = &g->nodes[i];
		int has = op_settings(op);
		if (has & HAS_OUT) {
			nd->out_channels = wire_get_i32(r);
			nd->has_bias = wire_get_i32(r);
			if (nd->out_channels < 1 || nd->out_channels > NASH_MAX_OUT_CHANNELS || (nd->has_bias != 0 && nd->has_bias != 1))
				return broken(file, err, "node %d with out_channels %d and has_bias %d", i, nd->out_channels,
					      nd->has_bias);
		}
		if (has & HAS_KERNEL)
			nd->kernel = wire_get_i32(r);
		if (has & HAS_BN) {
			nd->bn_eps = wire_get_f32(r);
			nd->bn_momentum = wire_get_f32(r);
		}
		if (r->bad)
			return broken(file, err, "too few bytes");
	}
	if (graph_infer(g, err))
		return nash_err_prefix(err, file);
	for (int i = 0; i < n; i++) {
		const Node *nd = &g->nodes[i];
		/* bounds keep weight sizes (int dims, e.g. dense in = c*h*w) from overflowing */
		if ((long long)nd->c * nd->h * nd->w > NASH_MAX_ACTIVATION)
			return broken(file, err, "node %d with an output of %dx%dx%d", i, nd->c, nd->h, nd->w);
	}
	return 0;
}

/* The weights the checked graph implies, in its order, each after its size is checked against
   what is left: nothing is allocated for weights that were not sent. */
static int get_weights(WireIn *r, Graph *g, const char *file, NashErr *err)
{
	unsigned long long weights = 0;
	for (int i = 0; i < g->n_nodes; i++) {
		Tensor want[NASH_MAX_PARAMS];
		int nw = node_expected_params(g, i, want);
		for (int p = 0; p < nw; p++)
			weights += tensor_size(&want[p]);
	}
	if (weights > wire_left(r) / sizeof(float))
		return broken(file, err, "fewer weights than its graph holds");
	if (graph_alloc_params(g, err))
		return nash_err_prefix(err, file);
	for (int i = 0; i < g->n_nodes; i++)
		for (int p = 0; p < g->nodes[i].n_params; p++) {
			Tensor *t = &g->nodes[i].params[p];
			size_t bytes = tensor_size(t) * sizeof(float);
			wire_get(r, t->data, bytes);
			int has = wire_get_i32(r);
			if (r->bad || (has & ~(HAS_MOMENTUM | HAS_EMA)))
				return broken(file, err, "a tensor without its weights");
			float **state[2] = {&t->momentum, &t->ema};
			for (int k = 0; k < 2; k++) {
				if (!(has & (k ? HAS_EMA : HAS_MOMENTUM)))
					continue;
				if (bytes > wire_left(r))
					return broken(file, err, "a tensor without its optimizer state");
				if (!(*state[k] = malloc(bytes + 1)))
					return nash_err(err, NASH_ERR_OOM, "%s: out of memory", nash_name(file).s);
				wire_get(r, *state[k], bytes);
			}
		}
	return 0;
}

/* A table of n rows of row_bytes each on the wire: n within max and what is left, then rows
   (calloc'd, NULL for none). */
static int table_rows(WireIn *r, int max, size_t row_bytes, size_t row_size, void **rows, int *n, const char *what,
		      const char *file, NashErr *err)
{
	*n = wire_get_i32(r);
	if (r->bad || *n < 0 || *n > max || (size_t)*n > wire_left(r) / row_bytes) {
		int bad = *n;
		*n = 0;
		return broken(file, err, "%d rows of %s", bad, what);
	}
	if (*n && !(*rows = calloc((size_t)*n, row_size))) {
		*n = 0;
		return nash_err(err, NASH_ERR_OOM, "%s: out of memory", nash_name(file).s);
	}
	return 0;
}

static int get_tables(WireIn *r, Model *m, const char *file, NashErr *err)
{
	if (table_rows(r, NASH_MAX_RUNS, RUN_BYTES, sizeof *m->runs, (void **)&m->runs, &m->n_runs, "training/runs", file,
		       err))
		return -1;
	for (int i = 0; i < m->n_runs; i++) {
		RunSettings *x = &m->runs[i];
		x->seed = wire_get_u64(r);
		x->batch = wire_get_i32(r);
		x->epochs = wire_get_i32(r);
		x->limit = wire_get_i32(r);
		x->augment = wire_get_i32(r);
		x->lr_start = wire_get_f32(r);
		x->lr_end = wire_get_f32(r);
		x->momentum = wire_get_f32(r);
		x->weight_decay = wire_get_f32(r);
		get_field(r, x->engine, sizeof x->engine);
		get_field(r, x->host, sizeof x->host);
		get_field(r, x->hardware, sizeof x->hardware);
		get_field(r, x->job, sizeof x->job);
		x->warmup = wire_get_f32(r);
		get_field(r, x->train_on, sizeof x->train_on);
		x->images = wire_get_i32(r);
		x->label_smoothing = wire_get_f32(r);
		x->ema = wire_get_f32(r);
		get_field(r, x->tta, sizeof x->tta);
	}
	if (table_rows(r, NASH_MAX_RECORDS, RECORD_BYTES, sizeof *m->records, (void **)&m->records, &m->n_records,
		       "training/record", file, err))
		return -1;
	for (int i = 0; i < m->n_records; i++) {
		EpochRecord *e = &m->records[i];
		e->run = wire_get_i32(r);
		e->epoch = wire_get_i32(r);
		e->lr = wire_get_f32(r);
		e->train_loss = wire_get_f32(r);
		e->train_acc = wire_get_f32(r);
		e->val_loss = wire_get_f32(r);
		e->val_acc = wire_get_f32(r);
		e->seconds = wire_get_f32(r);
	}
	if (table_rows(r, NASH_MAX_LINEAGE, MORPHISM_BYTES, sizeof *m->lineage, (void **)&m->lineage, &m->n_lineage,
		       "lineage", file, err))
		return -1;
	for (int i = 0; i < m->n_lineage; i++) {
		Morphism *mm = &m->lineage[i];
		get_field(r, mm->op, sizeof mm->op);
		mm->node = wire_get_i32(r);
		mm->kernel = wire_get_i32(r);
		mm->factor = wire_get_i32(r);
		mm->source = wire_get_i32(r);
		mm->target = wire_get_i32(r);
		mm->seed = wire_get_u64(r);
	}
	return r->bad ? broken(file, err, "too few bytes") : 0;
}

int model_handover_get(WireIn *r, Model *m, const char *file, NashErr *err)
{
	model_init(m);
	int rc = get_root(r, m, file, err) || get_graph(r, &m->g, file, err) || get_weights(r, &m->g, file, err) ||
		 get_tables(r, m, file, err) ? -1 : 0;
	if (rc == 0 && model_validate(m, err))
		rc = nash_err_prefix(err, file);
	if (rc)
		model_free(m);
	return rc;
}

int model_handover_end(const WireIn *r, const char *file, NashErr *err)
{
	if (r->bad || r->at != r->n)
		return broken(file, err, "%zu bytes more than it read", r->bad ? (size_t)0 : r->n - r->at);
	return 0;
}
