/* Model files, reader (layout in docs/FORMAT.md): read from an in-memory image with the core
   driver. Everything read is validated, and every error names the file and the object. */
#include "model/model.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/atomic.h"
#include "model/modelfile.h"

typedef struct R {
	const char *file;
	NashErr *err;
	int version; /* the file's format_version, once the root is read */
} R;

static int rfail(const R *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int rfail(const R *r, const char *fmt, ...)
{
	char msg[sizeof r->err->msg];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return nash_err(r->err, NASH_ERR_RUNTIME, "%s: %s", r->file, msg);
}

static int rfail_oom(const R *r)
{
	return nash_err(r->err, NASH_ERR_OOM, "%s: out of memory", r->file);
}

/* The message for what h5_read_attr/h5_read_str found (H5_ATTR_*): returns 1 when read,
   0 when absent and optional, else -1 with the error. where ("" or "graph/003_conv: ")
   prefixes messages; n: the values asked (0: a scalar); len: a string buffer's size. */
static int r_result(const R *r, int rc, const char *where, const char *name, H5T_class_t cls, int n,
		    long long count, size_t len, int optional)
{
	switch (rc) {
	case H5_ATTR_READ: return 1;
	case H5_ATTR_ABSENT: return optional ? 0 : rfail(r, "%smissing attribute '%s'", where, name);
	case H5_ATTR_WRONG_CLASS:
		return rfail(r, "%sattribute '%s' has the wrong type (expected %s)", where, name,
			     cls == H5T_INTEGER ? "an integer" : cls == H5T_FLOAT ? "a float" : "a string");
	case H5_ATTR_WRONG_COUNT:
		return rfail(r, "%sattribute '%s' has %lld values, expected %d", where, name, count, n ? n : 1);
	case H5_ATTR_TOO_LONG:
		return rfail(r, "%sattribute '%s' is longer than %zu characters", where, name, len - 1);
	default: return rfail(r, "%scannot read attribute '%s'", where, name);
	}
}

/* Numeric attribute: n values (0: scalar) converted to mtype. Returns as r_result. */
static int r_attr(const R *r, hid_t loc, const char *where, const char *name, H5T_class_t cls,
		  hid_t mtype, int n, void *out, int optional)
{
	long long count = 0;
	int rc = h5_read_attr(loc, name, cls, mtype, n, out, &count);
	return r_result(r, rc, where, name, cls, n, count, 0, optional);
}

static int r_int(const R *r, hid_t loc, const char *where, const char *name, int *v, int optional)
{
	return r_attr(r, loc, where, name, H5T_INTEGER, H5T_NATIVE_INT, 0, v, optional);
}

static int r_float(const R *r, hid_t loc, const char *where, const char *name, float *v, int optional)
{
	return r_attr(r, loc, where, name, H5T_FLOAT, H5T_NATIVE_FLOAT, 0, v, optional);
}

/* Strings: fixed-length (ours) or variable-length (what h5py writes for a str). */
static int r_str(const R *r, hid_t loc, const char *where, const char *name, char *buf, size_t n,
		 int optional)
{
	int rc = h5_read_str(loc, name, buf, n);
	return r_result(r, rc, where, name, H5T_STRING, 0, 1, n, optional);
}

/* Names of the links in group g in name order (each and the array malloc'd). */
static int r_links(const R *r, hid_t g, const char *where, char ***names, int *n)
{
	H5G_info_t info;
	*names = NULL;
	*n = 0;
	if (H5Gget_info(g, &info) < 0 || info.nlinks > 1000000)
		return rfail(r, "%scannot list the group", where);
	char **v = calloc(info.nlinks + 1, sizeof *v);
	if (!v)
		return rfail_oom(r);
	for (hsize_t i = 0; i < info.nlinks; i++) {
		ssize_t l = H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, NULL, 0, H5P_DEFAULT);
		v[i] = l >= 0 ? malloc((size_t)l + 1) : NULL;
		if (!v[i] || H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, v[i], (size_t)l + 1,
						H5P_DEFAULT) != l) {
			for (hsize_t k = 0; k <= i; k++)
				free(v[k]);
			free(v);
			return rfail(r, "%scannot list the group", where);
		}
	}
	*names = v;
	*n = (int)info.nlinks;
	return 0;
}

static void free_names(char **names, int n)
{
	for (int i = 0; names && i < n; i++)
		free(names[i]);
	free(names);
}

/* H5I_GROUP, H5I_DATASET, ... of the object a link names; H5I_BADID when it cannot be opened. */
static H5I_type_t link_type(hid_t g, const char *name)
{
	hid_t o = H5Oopen(g, name, H5P_DEFAULT);
	if (o < 0)
		return H5I_BADID;
	H5I_type_t t = H5Iget_type(o);
	H5Oclose(o);
	return t;
}

static void fmt_dims(char *buf, size_t n, int rank, const hsize_t *d)
{
	size_t l = (size_t)snprintf(buf, n, "[");
	for (int i = 0; i < rank && l < n; i++)
		l += (size_t)snprintf(buf + l, n - l, "%s%llu", i ? "," : "", (unsigned long long)d[i]);
	if (l < n)
		snprintf(buf + l, n - l, "]");
}

/* Reads the float32 dataset `ds` of a node group into dst, which has t's shape. */
static int r_tensor(const R *r, hid_t g, const char *node, const char *ds, const Tensor *t, float *dst)
{
	hid_t d = H5Dopen2(g, ds, H5P_DEFAULT);
	hid_t ty = d >= 0 ? H5Dget_type(d) : -1, sp = d >= 0 ? H5Dget_space(d) : -1;
	int rank = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1, rc = 0;
	hsize_t dims[H5S_MAX_RANK], want[4];
	for (int i = 0; i < t->ndim; i++)
		want[i] = (hsize_t)t->dims[i];
	int same = rank == t->ndim && H5Sget_simple_extent_dims(sp, dims, NULL) == rank;
	for (int i = 0; same && i < rank; i++)
		same = dims[i] == want[i];
	if (d < 0 || ty < 0 || sp < 0 || rank < 0) {
		rc = rfail(r, "graph/%s/%s: cannot open dataset", node, ds);
	} else if (H5Tget_class(ty) != H5T_FLOAT) {
		rc = rfail(r, "graph/%s/%s: not a float dataset", node, ds);
	} else if (!same) {
		char got[128] = "[]", exp[128];
		if (rank >= 0 && rank <= H5S_MAX_RANK && H5Sget_simple_extent_dims(sp, dims, NULL) == rank)
			fmt_dims(got, sizeof got, rank, dims);
		fmt_dims(exp, sizeof exp, t->ndim, want);
		rc = rfail(r, "graph/%s/%s: shape %s does not match the expected %s", node, ds, got, exp);
	} else if (H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, dst) < 0) {
		rc = rfail(r, "graph/%s/%s: cannot read dataset", node, ds);
	}
	if (sp >= 0)
		H5Sclose(sp);
	if (ty >= 0)
		H5Tclose(ty);
	if (d >= 0)
		H5Dclose(d);
	return rc;
}

/* r_tensor, plus format_version 1's add, whose one lambda [1] held for every channel. */
static int r_tensor_compat(const R *r, hid_t g, const Node *nd, const char *node, const char *ds, const Tensor *t,
			   float *dst)
{
	if (nd->op != OP_ADD || r->version >= 2)
		return r_tensor(r, g, node, ds, t, dst);
	Tensor one = *t;
	one.dims[0] = 1;
	if (r_tensor(r, g, node, ds, &one, dst))
		return -1;
	for (int c = 1; c < t->dims[0]; c++)
		dst[c] = dst[0];
	return 0;
}

/* The weights (and momentum buffers) of node i; every dataset in the group must be one. */
static int r_weights(const R *r, hid_t g, Node *nd, const char *node)
{
	char **names, where[64];
	int n;
	snprintf(where, sizeof where, "graph/%s: ", node);
	if (r_links(r, g, where, &names, &n))
		return -1;
	int rc = 0;
	for (int k = 0; k < n && !rc; k++) {
		int known = 0;
		for (int p = 0; p < nd->n_params && !known; p++) {
			const char *s = names[k], *pn = nd->params[p].name;
			known = strcmp(s, pn) == 0 ||
				(strncmp(s, "momentum_", 9) == 0 && strcmp(s + 9, pn) == 0);
		}
		H5I_type_t ty = link_type(g, names[k]);
		if (!known || ty != H5I_DATASET)
			rc = rfail(r, "graph/%s: unexpected %s '%s'", node,
				   ty == H5I_DATASET ? "dataset" : "object", names[k]);
	}
	free_names(names, n);
	for (int p = 0; p < nd->n_params && !rc; p++) {
		Tensor *t = &nd->params[p];
		char mname[32];
		snprintf(mname, sizeof mname, "momentum_%s", t->name);
		if (H5Lexists(g, t->name, H5P_DEFAULT) <= 0)
			return rfail(r, "graph/%s: missing dataset '%s'", node, t->name);
		rc = r_tensor_compat(r, g, nd, node, t->name, t, t->data);
		if (rc || H5Lexists(g, mname, H5P_DEFAULT) <= 0)
			continue;
		if (!(t->momentum = malloc(tensor_size(t) * sizeof(float) + 1)))
			return rfail_oom(r);
		rc = r_tensor_compat(r, g, nd, node, mname, t, t->momentum);
	}
	return rc;
}

/* "NNN_op" -> NNN (at least three digits), or -1. */
static int name_index(const char *s)
{
	int i, v = 0;
	for (i = 0; s[i] >= '0' && s[i] <= '9' && v < 10000000; i++)
		v = 10 * v + (s[i] - '0');
	return i >= 3 && s[i] == '_' ? v : -1;
}

/* Node i's op, inputs (resolved by name: earlier nodes only) and settings; appends it to g. */
static int r_node(const R *r, hid_t gi, Graph *g, int i, char **names, const int *order, int n,
		  int *shape)
{
	const char *nm = names[order[i]];
	char where[64], op_s[32], in_s[NASH_MAX_INPUTS * 32], expect[64];
	snprintf(where, sizeof where, "graph/%s: ", nm);
	if (r_str(r, gi, where, "op", op_s, sizeof op_s, 0) < 0)
		return -1;
	int op = op_from_name(op_s);
	if (op < 0)
		return rfail(r, "unknown op '%s' in graph/%s", op_s, nm);
	if ((i == 0) != (op == OP_INPUT))
		return rfail(r, "graph/%s: %s", nm, i ? "only node 0 may be the input" :
			     "node 0 must be the input node");
	if (r_str(r, gi, where, "inputs", in_s, sizeof in_s, 0) < 0)
		return -1;
	int ins[NASH_MAX_INPUTS], n_in = 0;
	for (char *save = NULL, *tok = strtok_r(in_s, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		int j = name_index(tok);
		if (j < 0 || j >= n || strcmp(names[order[j]], tok) != 0)
			return rfail(r, "graph/%s: input '%s' does not exist", nm, tok);
		if (j >= i)
			return rfail(r, "graph/%s: input '%s' is not an earlier node (a cycle)", nm, tok);
		if (n_in == NASH_MAX_INPUTS)
			return rfail(r, "graph/%s: more than %d inputs", nm, NASH_MAX_INPUTS);
		ins[n_in++] = j;
	}
	if (i == 0 && n_in)
		return rfail(r, "graph/%s: the input node has inputs", nm);
	if (i > 0 && graph_add(g, op, n_in, ins) != i)
		return rfail(r, "graph/%s: cannot add the node", nm);
	Node *nd = &g->nodes[i];
	node_name(g, i, expect, sizeof expect);
	if (strcmp(expect, nm) != 0)
		return rfail(r, "graph/%s: node %d with op '%s' must be named %s", nm, i, op_s, expect);
	int rc = 0;
	if (op == OP_CONV || op == OP_DENSE) {
		rc |= r_int(r, gi, where, "out_channels", &nd->out_channels, 0) < 0;
		rc |= r_int(r, gi, where, "has_bias", &nd->has_bias, 0) < 0;
		if (!rc && nd->has_bias != 0 && nd->has_bias != 1)
			return rfail(r, "graph/%s: has_bias must be 0 or 1", nm);
		if (!rc && (nd->out_channels < 1 || nd->out_channels > 65536))
			return rfail(r, "graph/%s: out_channels %d is not in 1..65536", nm, nd->out_channels);
	}
	if (!rc && (op == OP_CONV || op == OP_MAXPOOL))
		rc |= r_int(r, gi, where, "kernel", &nd->kernel, 0) < 0;
	if (!rc && op == OP_BN) {
		rc |= r_float(r, gi, where, "eps", &nd->bn_eps, 0) < 0;
		rc |= !rc && r_float(r, gi, where, "momentum", &nd->bn_momentum, 0) < 0;
	}
	if (!rc)
		rc |= r_attr(r, gi, where, "output_shape", H5T_INTEGER, H5T_NATIVE_INT, 3, shape, 0) < 0;
	return rc ? -1 : 0;
}

/* The graph: node groups numbered 000..n-1, built with graph_add, checked by graph_infer,
   then the weights read into the tensors graph_alloc_params allocates. */
static int r_graph(const R *r, hid_t f, Graph *g)
{
	if (H5Lexists(f, "graph", H5P_DEFAULT) <= 0 || link_type(f, "graph") != H5I_GROUP)
		return rfail(r, "missing group 'graph'");
	hid_t gr = H5Gopen2(f, "graph", H5P_DEFAULT);
	char **names = NULL;
	int n = 0, rc = gr < 0 ? rfail(r, "cannot open group 'graph'") : r_links(r, gr, "graph: ", &names, &n);
	int *order = rc ? NULL : malloc(((size_t)n + 1) * sizeof *order);
	int *shapes = rc ? NULL : malloc(((size_t)n + 1) * 3 * sizeof *shapes);
	if (!rc && (!order || !shapes))
		rc = rfail_oom(r);
	if (!rc && n == 0)
		rc = rfail(r, "graph: no nodes");
	for (int i = 0; !rc && i < n; i++)
		order[i] = -1;
	for (int k = 0; !rc && k < n; k++) {
		int j = name_index(names[k]);
		if (j < 0 || j >= n || order[j] >= 0)
			rc = rfail(r, "graph/%s: node groups must be named 000_op .. %03d_op, each number once",
				   names[k], n - 1);
		else
			order[j] = k;
	}
	for (int i = 0; !rc && i < n; i++) {
		const char *nm = names[order[i]];
		hid_t gi = link_type(gr, nm) == H5I_GROUP ? H5Gopen2(gr, nm, H5P_DEFAULT) : -1;
		rc = gi < 0 ? rfail(r, "graph/%s: not a group", nm) : r_node(r, gi, g, i, names, order, n, &shapes[3 * i]);
		if (gi >= 0)
			H5Gclose(gi);
	}
	if (!rc && graph_infer(g, r->err))
		rc = nash_err_prefix(r->err, r->file);
	for (int i = 0; !rc && i < n; i++) {
		const Node *nd = &g->nodes[i];
		const int *s = &shapes[3 * i];
		/* bounds keep weight sizes (int dims, e.g. dense in = c*h*w) from overflowing */
		if ((long long)nd->c * nd->h * nd->w > (1LL << 28))
			rc = rfail(r, "graph/%s: output %dx%dx%d is too large", names[order[i]], nd->c, nd->h, nd->w);
		else if (s[0] != nd->c || s[1] != nd->h || s[2] != nd->w)
			rc = rfail(r, "graph/%s: output_shape %dx%dx%d does not match the inferred %dx%dx%d",
				   names[order[i]], s[0], s[1], s[2], nd->c, nd->h, nd->w);
	}
	if (!rc && graph_alloc_params(g, r->err))
		rc = nash_err_prefix(r->err, r->file);
	for (int i = 0; !rc && i < n; i++) {
		hid_t gi = H5Gopen2(gr, names[order[i]], H5P_DEFAULT);
		rc = gi < 0 ? rfail(r, "graph/%s: cannot open", names[order[i]])
			    : r_weights(r, gi, &g->nodes[i], names[order[i]]);
		if (gi >= 0)
			H5Gclose(gi);
	}
	free(shapes);
	free(order);
	free_names(names, n);
	if (gr >= 0)
		H5Gclose(gr);
	return rc;
}

/* A compound table (0 rows allowed); fields matched by name, all must be present but the
   optional ones, which read as zero bytes when absent. */
static int r_table(const R *r, hid_t loc, const char *ds, const char *path, const H5Table *tab,
		   void **rows, int *n)
{
	const Field *f = tab->fields;
	int nf = tab->n_fields;
	size_t sz = tab->row_size;
	*rows = NULL;
	*n = 0;
	if (H5Lexists(loc, ds, H5P_DEFAULT) <= 0 || link_type(loc, ds) != H5I_DATASET)
		return rfail(r, "missing dataset '%s'", path);
	hid_t d = H5Dopen2(loc, ds, H5P_DEFAULT);
	hid_t ft = d >= 0 ? H5Dget_type(d) : -1, sp = d >= 0 ? H5Dget_space(d) : -1, mt = -1;
	hsize_t dim = 0;
	int rc = 0;
	if (d < 0 || ft < 0 || sp < 0 || H5Tget_class(ft) != H5T_COMPOUND)
		rc = rfail(r, "%s: not a compound dataset", path);
	else if (H5Sget_simple_extent_ndims(sp) != 1 || H5Sget_simple_extent_dims(sp, &dim, NULL) != 1 ||
		 dim > 10000000)
		rc = rfail(r, "%s: not a 1-D table", path);
	for (int k = 0; !rc && k < nf; k++) {
		int idx = H5Tget_member_index(ft, f[k].name);
		H5T_class_t want = f[k].kind == F_F32 ? H5T_FLOAT : f[k].kind == F_STR16 ? H5T_STRING : H5T_INTEGER;
		if (idx < 0 && f[k].optional)
			continue;
		if (idx < 0 || H5Tget_member_class(ft, (unsigned)idx) != want)
			rc = rfail(r, "%s: %s field '%s'", path, idx < 0 ? "missing" : "wrong type of",
				   f[k].name);
	}
	char *buf = !rc && dim ? calloc((size_t)dim, sz) : NULL;
	if (!rc && dim && !buf)
		rc = rfail_oom(r);
	if (!rc && dim && ((mt = h5_compound_type_read(tab, ft)) < 0 ||
			   H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0))
		rc = rfail(r, "%s: cannot read", path);
	for (size_t i = 0; !rc && i < dim; i++)
		for (int k = 0; k < nf; k++)
			if (f[k].kind == F_STR16)
				buf[i * sz + f[k].off + 15] = '\0';
	if (mt >= 0)
		H5Tclose(mt);
	if (sp >= 0)
		H5Sclose(sp);
	if (ft >= 0)
		H5Tclose(ft);
	if (d >= 0)
		H5Dclose(d);
	if (rc) {
		free(buf);
		return -1;
	}
	*rows = buf;
	*n = (int)dim;
	return 0;
}

static int r_root(R *r, hid_t f, Model *m)
{
	char s[64];
	int v, shape[3], classes;
	int rc = r_str(r, f, "", "format", s, sizeof s, 1);
	if (rc == 0)
		return rfail(r, "not a nash model file (no 'format' attribute)");
	if (rc < 0 || strcmp(s, "nash-model") != 0)
		return rc < 0 ? -1 : rfail(r, "format is '%s', not 'nash-model'", s);
	if (r_int(r, f, "", "format_version", &v, 0) < 0)
		return -1;
	if (v > NASH_FORMAT_VERSION)
		return rfail(r, "format_version %d is newer than this nash supports (%d)", v, NASH_FORMAT_VERSION);
	if (v < 1)
		return rfail(r, "format_version %d is invalid", v);
	r->version = v;
	if (r_attr(r, f, "", "input_shape", H5T_INTEGER, H5T_NATIVE_INT, 3, shape, 0) < 0 ||
	    r_int(r, f, "", "num_classes", &classes, 0) < 0)
		return -1;
	if (shape[0] < 1 || shape[0] > NASH_MAX_CHANNELS || shape[1] < 1 || shape[2] < 1 ||
	    shape[1] > 4096 || shape[2] > 4096)
		return rfail(r, "input_shape %dx%dx%d is invalid (C in 1..%d, H and W in 1..4096)",
			     shape[0], shape[1], shape[2], NASH_MAX_CHANNELS);
	graph_init(&m->g, shape[0], shape[1], shape[2], classes);
	if (r_str(r, f, "", "dataset", m->dataset, sizeof m->dataset, 0) < 0 ||
	    r_attr(r, f, "", "norm_mean", H5T_FLOAT, H5T_NATIVE_FLOAT, shape[0], m->mean, 0) < 0 ||
	    r_attr(r, f, "", "norm_std", H5T_FLOAT, H5T_NATIVE_FLOAT, shape[0], m->std, 0) < 0 ||
	    r_int(r, f, "", "val_size", &m->val_size, 0) < 0 ||
	    r_str(r, f, "", "model_id", m->id, sizeof m->id, 0) < 0 ||
	    r_str(r, f, "", "parent_id", m->parent_id, sizeof m->parent_id, 0) < 0 ||
	    r_float(r, f, "", "val_accuracy", &m->val_accuracy, 1) < 0 ||
	    r_float(r, f, "", "test_accuracy", &m->test_accuracy, 1) < 0 ||
	    r_int(r, f, "", "failed", &m->failed, 1) < 0 ||
	    r_int(r, f, "", "checkpoint_epochs_done", &m->ckpt_epochs_done, 1) < 0)
		return -1;
	if (m->failed && r_str(r, f, "", "failure", m->failure, sizeof m->failure, 0) < 0)
		return -1;
	/* absent accuracies stay NaN; present ones must be real numbers */
	if (H5Aexists(f, "val_accuracy") > 0 && !isfinite(m->val_accuracy))
		return rfail(r, "val_accuracy is not finite");
	if (H5Aexists(f, "test_accuracy") > 0 && !isfinite(m->test_accuracy))
		return rfail(r, "test_accuracy is not finite");
	return 0;
}

static int r_model(R *r, hid_t f, Model *m)
{
	if (r_root(r, f, m) || r_graph(r, f, &m->g))
		return -1;
	if (H5Lexists(f, "training", H5P_DEFAULT) <= 0 || link_type(f, "training") != H5I_GROUP)
		return rfail(r, "missing group 'training'");
	hid_t tr = H5Gopen2(f, "training", H5P_DEFAULT);
	int rc = tr < 0 ? rfail(r, "cannot open group 'training'") : 0;
	rc = rc ? rc : r_table(r, tr, "runs", "training/runs", &h5_run_table, (void **)&m->runs,
			       &m->n_runs);
	for (int i = 0; !rc && i < m->n_runs; i++)
		if (!m->runs[i].train_on[0]) /* a file from before train_on: the training split */
			snprintf(m->runs[i].train_on, sizeof m->runs[i].train_on, "train");
	rc = rc ? rc : r_table(r, tr, "record", "training/record", &h5_record_table,
			       (void **)&m->records, &m->n_records);
	if (tr >= 0)
		H5Gclose(tr);
	rc = rc ? rc : r_table(r, f, "lineage", "lineage", &h5_morph_table, (void **)&m->lineage,
			       &m->n_lineage);
	if (!rc && model_validate(m, r->err))
		rc = nash_err_prefix(r->err, r->file);
	return rc;
}

/* HDF5's signature sits at offset 0, 512, 1024, ... (after an optional user block). */
static int has_hdf5_signature(const unsigned char *p, size_t len)
{
	for (size_t off = 0; off + 8 <= len; off = off ? 2 * off : 512)
		if (memcmp(p + off, "\211HDF\r\n\032\n", 8) == 0)
			return 1;
	return 0;
}

int model_read_mem(Model *m, const void *buf, size_t len, const char *name, NashErr *err)
{
	R r = {.file = name ? name : "<memory>", .err = err};
	model_init(m);
	if (len == 0)
		return rfail(&r, "empty file");
	if (!has_hdf5_signature(buf, len))
		return rfail(&r, "not an HDF5 file");
	H5Quiet q;
	h5_quiet(&q);
	hid_t fapl = h5_core_fapl(), f = -1;
	char fname[64];
	snprintf(fname, sizeof fname, "nash-image-%p", buf);
	if (fapl >= 0 && H5Pset_file_image(fapl, (void *)buf, len) >= 0)
		f = H5Fopen(fname, H5F_ACC_RDONLY, fapl);
	int rc = f < 0 ? rfail(&r, "corrupt HDF5 file (cannot open it)") : r_model(&r, f, m);
	if (f >= 0)
		H5Fclose(f);
	if (fapl >= 0)
		H5Pclose(fapl);
	h5_restore(&q);
	if (rc)
		model_free(m);
	return rc ? -1 : 0;
}

int model_read(Model *m, const char *path, NashErr *err)
{
	void *buf;
	size_t len;
	model_init(m);
	if (read_all(path, &buf, &len, err))
		return -1;
	int rc = model_read_mem(m, buf, len, strcmp(path, "-") ? path : "<stdin>", err);
	free(buf);
	return rc;
}
