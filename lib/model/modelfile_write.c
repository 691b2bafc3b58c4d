/* Model files, writer (layout in docs/FORMAT.md). Serialised in memory with the core driver (no
   backing store) and written atomically. Writing is deterministic: no object timestamps,
   strings zero-padded, so the same Model always gives the same bytes. */
#include "model/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/atomic.h"
#include "model/modelfile.h"

typedef struct W {
	hid_t gcpl, dcpl; /* creation properties without timestamps */
	int bad;          /* an HDF5 call failed */
} W;

/* The attribute writers of h5util.h, sticky: after a failure every later call does nothing. */
static void w_attr(W *w, hid_t loc, const char *name, hid_t ftype, hid_t mtype, int n, const void *v)
{
	if (!w->bad && h5_write_attr(loc, name, ftype, mtype, n, v))
		w->bad = 1;
}

static void w_int(W *w, hid_t loc, const char *name, int v)
{
	if (!w->bad && h5_write_int(loc, name, v))
		w->bad = 1;
}

static void w_float(W *w, hid_t loc, const char *name, float v)
{
	if (!w->bad && h5_write_float(loc, name, v))
		w->bad = 1;
}

static void w_str(W *w, hid_t loc, const char *name, const char *s)
{
	if (!w->bad && h5_write_str(loc, name, s))
		w->bad = 1;
}

static hid_t w_group(W *w, hid_t loc, const char *name)
{
	hid_t g = w->bad ? -1 : H5Gcreate2(loc, name, H5P_DEFAULT, w->gcpl, H5P_DEFAULT);
	if (g < 0)
		w->bad = 1;
	return g;
}

/* The graph's group, its object header sized for all its links from the start (estimated: n
   names of the nodes' mean length): grown one link at a time, HDF5 searches the whole header for
   room for each, and writing 4,000 nodes took 90 s. */
static hid_t w_graph_group(W *w, hid_t loc, const Graph *g)
{
	size_t chars = 0;
	for (int i = 0; i < g->n_nodes; i++) {
		char name[32];
		node_name(g, i, name, sizeof name);
		chars += strlen(name);
	}
	unsigned mean = g->n_nodes ? (unsigned)((chars + (size_t)g->n_nodes - 1) / (size_t)g->n_nodes) : 0;
	hid_t gcpl = w->bad ? -1 : H5Pcopy(w->gcpl), grp = -1;
	if (gcpl >= 0 && H5Pset_est_link_info(gcpl, (unsigned)g->n_nodes, mean) >= 0)
		grp = H5Gcreate2(loc, "graph", H5P_DEFAULT, gcpl, H5P_DEFAULT);
	if (gcpl >= 0)
		H5Pclose(gcpl);
	if (grp < 0)
		w->bad = 1;
	return grp;
}

static void w_dataset(W *w, hid_t loc, const char *name, hid_t ftype, hid_t mtype, int rank,
		      const hsize_t *dims, const void *data)
{
	if (w->bad)
		return;
	hsize_t n = 1;
	for (int i = 0; i < rank; i++)
		n *= dims[i];
	hid_t sp = H5Screate_simple(rank, dims, NULL);
	hid_t d = H5Dcreate2(loc, name, ftype, sp, H5P_DEFAULT, w->dcpl, H5P_DEFAULT);
	if (sp < 0 || d < 0 || (n && H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0))
		w->bad = 1;
	if (d >= 0)
		H5Dclose(d);
	if (sp >= 0)
		H5Sclose(sp);
}

static void w_tensor(W *w, hid_t loc, const char *name, const Tensor *t, const float *data)
{
	hsize_t dims[4];
	for (int d = 0; d < t->ndim; d++)
		dims[d] = (hsize_t)t->dims[d];
	w_dataset(w, loc, name, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, t->ndim, dims, data);
}

/* Rows copied with their strings zero-padded: bytes after a C string's NUL are not part of the
   model, and must never reach the file (HDF5 copies them verbatim when no conversion runs). */
static void w_table(W *w, hid_t loc, const char *name, const H5Table *tab, const void *rows, int n)
{
	const Field *f = tab->fields;
	int nf = tab->n_fields;
	size_t sz = tab->row_size;
	char *buf = n > 0 ? malloc((size_t)n * sz) : NULL;
	hid_t ft = h5_compound_type(tab, 1), mt = h5_compound_type(tab, 0);
	if ((n > 0 && !buf) || ft < 0 || mt < 0) {
		w->bad = 1;
	} else {
		if (n > 0)
			memcpy(buf, rows, (size_t)n * sz);
		for (int i = 0; i < n; i++)
			for (int k = 0; k < nf; k++)
				if (h5_field_str_size(f[k].kind)) {
					size_t cap = h5_field_str_size(f[k].kind);
					char *s = buf + (size_t)i * sz + f[k].off;
					s[cap - 1] = '\0';
					size_t l = strlen(s);
					memset(s + l, 0, cap - l);
				}
		hsize_t d = (hsize_t)n;
		w_dataset(w, loc, name, ft, mt, 1, &d, buf);
	}
	if (ft >= 0)
		H5Tclose(ft);
	if (mt >= 0)
		H5Tclose(mt);
	free(buf);
}

static void w_node(W *w, hid_t graph, const Graph *g, int i)
{
	const Node *n = &g->nodes[i];
	char name[32], inputs[NASH_MAX_INPUTS * 32] = "";
	node_name(g, i, name, sizeof name);
	hid_t grp = w_group(w, graph, name);
	if (grp < 0)
		return;
	w_str(w, grp, "op", op_name(n->op));
	for (int k = 0; k < n->n_inputs && k < NASH_MAX_INPUTS; k++) {
		char in[32];
		node_name(g, n->inputs[k], in, sizeof in);
		size_t l = strlen(inputs);
		snprintf(inputs + l, sizeof inputs - l, "%s%s", k ? "," : "", in);
	}
	w_str(w, grp, "inputs", inputs);
	int shape[3] = { n->c, n->h, n->w };
	w_attr(w, grp, "output_shape", H5T_STD_I32LE, H5T_NATIVE_INT, 3, shape);
	if (n->op == OP_CONV || n->op == OP_DENSE)
		w_int(w, grp, "out_channels", n->out_channels);
	if (n->op == OP_CONV || n->op == OP_MAXPOOL)
		w_int(w, grp, "kernel", n->kernel);
	if (n->op == OP_CONV || n->op == OP_DENSE)
		w_int(w, grp, "has_bias", n->has_bias);
	if (n->op == OP_BN) {
		w_float(w, grp, "eps", n->bn_eps);
		w_float(w, grp, "momentum", n->bn_momentum);
	}
	for (int p = 0; p < n->n_params; p++)
		w_tensor(w, grp, n->params[p].name, &n->params[p], n->params[p].data);
	for (int p = 0; p < n->n_params; p++) {
		if (!n->params[p].momentum)
			continue;
		char mname[32];
		snprintf(mname, sizeof mname, "momentum_%s", n->params[p].name);
		w_tensor(w, grp, mname, &n->params[p], n->params[p].momentum);
	}
	for (int p = 0; p < n->n_params; p++) {
		if (!n->params[p].ema)
			continue;
		char ename[32];
		snprintf(ename, sizeof ename, "ema_%s", n->params[p].name);
		w_tensor(w, grp, ename, &n->params[p], n->params[p].ema);
	}
	H5Gclose(grp);
}

/* The weights must have the shapes the graph implies, or the reader would reject the file. */
static int check_params(const Graph *g, NashErr *err)
{
	for (int i = 0; i < g->n_nodes; i++) {
		const Node *n = &g->nodes[i];
		if (n->n_inputs > NASH_MAX_INPUTS) {
			char name[32];
			node_name(g, i, name, sizeof name);
			return nash_err(err, NASH_ERR_RUNTIME, "graph/%s: too many inputs", name);
		}
		if (node_check_params(g, i, err))
			return -1;
	}
	return 0;
}

static void w_model(W *w, hid_t f, const Model *m)
{
	const Graph *g = &m->g;
	w_str(w, f, "format", "nash-model");
	w_int(w, f, "format_version", NASH_FORMAT_VERSION);
	int shape[3] = { g->in_c, g->in_h, g->in_w };
	w_attr(w, f, "input_shape", H5T_STD_I32LE, H5T_NATIVE_INT, 3, shape);
	w_int(w, f, "num_classes", g->n_classes);
	w_str(w, f, "dataset", m->dataset);
	if (m->class_names && !w->bad && h5_write_strs(f, "class_names", m->class_names, g->n_classes, NASH_CLASS_NAME_MAX))
		w->bad = 1;
	w_attr(w, f, "norm_mean", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, g->in_c, m->mean);
	w_attr(w, f, "norm_std", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, g->in_c, m->std);
	w_int(w, f, "val_size", m->val_size);
	w_str(w, f, "model_id", m->id);
	w_str(w, f, "parent_id", m->parent_id);
	if (isfinite(m->val_accuracy))
		w_float(w, f, "val_accuracy", m->val_accuracy);
	if (isfinite(m->test_accuracy))
		w_float(w, f, "test_accuracy", m->test_accuracy);
	/* only when not none: files measured without test-time augmentation stay as they were */
	if (isfinite(m->val_accuracy) && m->val_tta != TTA_NONE)
		w_str(w, f, "val_accuracy_tta", tta_name(m->val_tta));
	if (isfinite(m->test_accuracy) && m->test_tta != TTA_NONE)
		w_str(w, f, "test_accuracy_tta", tta_name(m->test_tta));
	if (m->failed) {
		w_int(w, f, "failed", 1);
		w_str(w, f, "failure", m->failure);
	}
	if (m->ckpt_epochs_done > 0)
		w_int(w, f, "checkpoint_epochs_done", m->ckpt_epochs_done);

	hid_t graph = w_graph_group(w, f, g);
	for (int i = 0; graph >= 0 && i < g->n_nodes; i++)
		w_node(w, graph, g, i);
	if (graph >= 0)
		H5Gclose(graph);
	hid_t tr = w_group(w, f, "training");
	if (tr >= 0) {
		w_table(w, tr, "runs", &h5_run_table, m->runs, m->n_runs);
		w_table(w, tr, "record", &h5_record_table, m->records, m->n_records);
		H5Gclose(tr);
	}
	w_table(w, f, "lineage", &h5_morph_table, m->lineage, m->n_lineage);
}

/* What the reader would refuse is not written either: the same checks, the same limits. */
static int check_model(const Model *m, NashErr *err)
{
	if (model_validate(m, err) || check_params(&m->g, err))
		return -1;
	/* the string attributes are written with strlen: they must be terminated */
	if (!memchr(m->id, 0, sizeof m->id) || !memchr(m->parent_id, 0, sizeof m->parent_id) ||
	    !memchr(m->failure, 0, sizeof m->failure))
		return nash_err(err, NASH_ERR_RUNTIME, "model strings not terminated");
	return 0;
}

int modelfile_write_group(hid_t loc, const Model *m, NashErr *err)
{
	if (check_model(m, err))
		return -1;
	H5Quiet q;
	h5_quiet(&q);
	W w = {.gcpl = H5Pcreate(H5P_GROUP_CREATE), .dcpl = H5Pcreate(H5P_DATASET_CREATE)};
	if (w.gcpl < 0 || w.dcpl < 0 || h5_group_props(w.gcpl) < 0 || H5Pset_obj_track_times(w.dcpl, 0) < 0)
		w.bad = 1;
	if (!w.bad)
		w_model(&w, loc, m);
	if (w.dcpl >= 0)
		H5Pclose(w.dcpl);
	if (w.gcpl >= 0)
		H5Pclose(w.gcpl);
	h5_restore(&q);
	return w.bad ? nash_err(err, NASH_ERR_RUNTIME, "HDF5 failed to write the model") : 0;
}

int model_write_mem(const Model *m, void **buf, size_t *len, NashErr *err)
{
	*buf = NULL;
	*len = 0;
	if (check_model(m, err))
		return -1;
	H5Quiet q;
	h5_quiet(&q);
	hid_t fcpl = H5Pcreate(H5P_FILE_CREATE), fapl = h5_core_fapl(1), f = -1;
	int bad = 0;
	/* fcpl derives from the group class: this untimestamps the root group */
	if (fcpl < 0 || fapl < 0 || h5_group_props(fcpl) < 0)
		bad = 1;
	char fname[64];
	snprintf(fname, sizeof fname, "nash-model-%p", (const void *)m);
	if (!bad && (f = H5Fcreate(fname, H5F_ACC_EXCL, fcpl, fapl)) < 0)
		bad = 1;
	hid_t root = bad ? -1 : H5Gopen2(f, "/", H5P_DEFAULT);
	if (root < 0 || modelfile_write_group(root, m, err))
		bad = 1;
	if (root >= 0)
		H5Gclose(root);
	size_t n = 0;
	void *img = bad ? NULL : h5_file_image(f, &n);
	if (f >= 0 && H5Fclose(f) < 0) {
		free(img);
		img = NULL;
	}
	if (fapl >= 0)
		H5Pclose(fapl);
	if (fcpl >= 0)
		H5Pclose(fcpl);
	h5_restore(&q);
	if (!img)
		return nash_err(err, NASH_ERR_RUNTIME, "HDF5 failed to serialise the model");
	*buf = img;
	*len = n;
	return 0;
}

int model_write(const Model *m, const char *path, NashErr *err)
{
	void *buf;
	size_t len;
	if (model_write_mem(m, &buf, &len, err)) {
		nash_err_prefix(err, strcmp(path, "-") ? path : "<stdout>");
		return -1;
	}
	int rc = atomic_write(path, buf, len, err);
	free(buf);
	return rc;
}
