/* Model files, reader (layout in docs/FORMAT.md): read from an in-memory image with the core
   driver. Everything read is validated, and every error names the file and the object. The
   file is untrusted (docs/FORMAT.md, "Security"): a link is followed only when it is a hard link
   within the file, a dataset is read only after its type, shape, storage and size are checked,
   and no size the file declares is allocated before it is checked against the file's own size
   and the graph's shapes. model_read_mem parses in a separate process first (base/isolate.h). */
#include "model/model.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/atomic.h"
#include "base/isolate.h"
#include "base/limits.h"
#include "model/modelfile.h"

typedef struct R {
	const char *file;
	NashErr *err;
	int version;  /* the file's format_version, once the root is read */
	size_t *left; /* bytes of the file not yet accounted for by a dataset read from it */
} R;

static int rfail(const R *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int rfail(const R *r, const char *fmt, ...)
{
	char msg[sizeof r->err->msg];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return nash_err(r->err, NASH_ERR_RUNTIME, "%s: %s", nash_name(r->file).s, msg);
}

static int rfail_oom(const R *r)
{
	return nash_err(r->err, NASH_ERR_OOM, "%s: out of memory", nash_name(r->file).s);
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
	case H5_ATTR_NOT_ASCII: return rfail(r, "%sattribute '%s' is not ASCII text", where, name);
	case H5_ATTR_OUT_OF_RANGE:
		return rfail(r, "%sattribute '%s' is out of range for a 32-bit signed integer", where, name);
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

/* The links of group g in name order (h5_list_links: one pass, linear in the group's size);
   at most max. */
static int r_links(const R *r, hid_t g, const char *where, int max, H5Link **links, int *n)
{
	size_t count;
	*n = 0;
	if (h5_list_links(g, (size_t)max, links, &count) == 0) {
		*n = (int)count;
		return 0;
	}
	if (count > (size_t)max)
		return rfail(r, "%s%zu objects, more than the %d nash reads and writes", where, count, max);
	return rfail(r, "%scannot list the group", where);
}

/* Opens group `name` of loc when it is a hard link to a group; else -1 with the error. */
static hid_t r_group(const R *r, hid_t loc, const char *path, const char *name)
{
	int kind = h5_link_kind(loc, name);
	if (kind == H5_LINK_ABSENT)
		return rfail(r, "missing group '%s'", path);
	if (kind != H5_LINK_GROUP)
		return rfail(r, "%s: %s, expected a group", path, kind == H5_LINK_DATASET ? "a dataset" : h5_link_kind_name(kind));
	hid_t g = H5Gopen2(loc, name, H5P_DEFAULT);
	return g >= 0 ? g : rfail(r, "cannot open group '%s'", path);
}

/* Opens node group l of the graph group by its address (h5_open_link): a lookup by name would
   scan the graph's links, for each node. */
static hid_t r_node_group(const R *r, hid_t gr, const H5Link *l)
{
	int kind;
	hid_t gi = h5_open_link(gr, l, &kind);
	if (gi >= 0 && kind == H5_LINK_GROUP)
		return gi;
	if (gi >= 0)
		H5Oclose(gi);
	return rfail(r, "graph/%s: %s, expected a group", l->name, kind == H5_LINK_DATASET ? "a dataset" : h5_link_kind_name(kind));
}

/* Takes n bytes from what the file has left: a file cannot hold more data than its size. */
static int r_take(const R *r, const char *path, unsigned long long n)
{
	if (n > *r->left)
		return rfail(r, "%s: declares %llu bytes of data, more than the rest of the file (%zu bytes)", path, n,
			     *r->left);
	*r->left -= (size_t)n;
	return 0;
}

static void fmt_dims(char *buf, size_t n, int rank, const hsize_t *d)
{
	size_t l = (size_t)snprintf(buf, n, "[");
	for (int i = 0; i < rank && l < n; i++)
		l += (size_t)snprintf(buf + l, n - l, "%s%llu", i ? "," : "", (unsigned long long)d[i]);
	if (l < n)
		snprintf(buf + l, n - l, "]");
}

/* Reads dataset d, graph/node/ds, into dst, which has t's shape: read only once nothing outside
   the file is behind it (h5_check_dataset) and its type (IEEE float32 or float64), shape and
   stored size are checked. d stays open. */
static int r_tensor(const R *r, hid_t d, const char *node, const char *ds, const Tensor *t, float *dst)
{
	char why[160], path[96];
	snprintf(path, sizeof path, "graph/%s/%s", node, ds);
	if (h5_check_dataset(d, 0, why, sizeof why))
		return rfail(r, "%s: %s", path, why);
	hid_t ty = H5Dget_type(d), sp = H5Dget_space(d);
	int rank = sp >= 0 && H5Sget_simple_extent_type(sp) == H5S_SIMPLE ? H5Sget_simple_extent_ndims(sp) : -1, rc = 0;
	hsize_t dims[H5S_MAX_RANK], want[4];
	for (int i = 0; i < t->ndim; i++)
		want[i] = (hsize_t)t->dims[i];
	int same = rank == t->ndim && H5Sget_simple_extent_dims(sp, dims, NULL) == rank;
	for (int i = 0; same && i < rank; i++)
		same = dims[i] == want[i];
	unsigned long long bytes = (unsigned long long)tensor_size(t) * (ty >= 0 ? H5Tget_size(ty) : 0);
	if (ty < 0 || sp < 0) {
		rc = rfail(r, "%s: cannot open dataset", path);
	} else if (!h5_standard_number(ty, H5T_FLOAT)) {
		rc = rfail(r, "%s: not a float32 or float64 dataset", path);
	} else if (!same) {
		char got[128] = "[]", exp[128];
		if (rank >= 0 && rank <= H5S_MAX_RANK && H5Sget_simple_extent_dims(sp, dims, NULL) == rank)
			fmt_dims(got, sizeof got, rank, dims);
		fmt_dims(exp, sizeof exp, t->ndim, want);
		rc = rfail(r, "%s: shape %s does not match the expected %s", path, got, exp);
	} else if (r_take(r, path, bytes)) {
		rc = -1;
	} else if (H5Dget_storage_size(d) < bytes) {
		rc = rfail(r, "%s: only %llu of its %llu bytes are stored (data never written)", path,
			   (unsigned long long)H5Dget_storage_size(d), bytes);
	} else if (H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, dst) < 0) {
		rc = rfail(r, "%s: cannot read dataset", path);
	}
	if (sp >= 0)
		H5Sclose(sp);
	if (ty >= 0)
		H5Tclose(ty);
	return rc;
}

/* r_tensor, plus format_version 1's add, whose one lambda [1] held for every channel. */
static int r_tensor_compat(const R *r, hid_t d, const Node *nd, const char *node, const char *ds, const Tensor *t,
			   float *dst)
{
	if (nd->op != OP_ADD || r->version >= 2)
		return r_tensor(r, d, node, ds, t, dst);
	Tensor one = *t;
	one.dims[0] = 1;
	if (r_tensor(r, d, node, ds, &one, dst))
		return -1;
	for (int c = 1; c < t->dims[0]; c++)
		dst[c] = dst[0];
	return 0;
}

/* A checkpoint's optimizer state beside a tensor's weights: "momentum_<name>", "ema_<name>". */
static const char *const state_prefix[] = {"momentum_", "ema_"};

static float **state_of(Tensor *t, int k) { return k == 0 ? &t->momentum : &t->ema; }

/* The index of the link named name, or -1 (a node group holds at most 3 * NASH_MAX_PARAMS). */
static int find_link(const H5Link *links, int n, const char *name)
{
	for (int k = 0; k < n; k++)
		if (strcmp(links[k].name, name) == 0)
			return k;
	return -1;
}

/* The weights (and checkpoint state: momentum buffers, weight averages) of node i; every link
   in the group must be one of them. Each dataset is opened once, by address (h5_open_link): an
   open costs far more than a read of a few weights, and lookups by name would repeat it. */
static int r_weights(const R *r, hid_t g, Node *nd, const char *node)
{
	char where[64];
	H5Link *links;
	hid_t ds[3 * NASH_MAX_PARAMS];
	int n, opened = 0, rc = 0;
	snprintf(where, sizeof where, "graph/%s: ", node);
	if (r_links(r, g, where, 3 * NASH_MAX_PARAMS, &links, &n))
		return -1;
	for (; opened < n && !rc; opened++) {
		int known = 0, kind;
		for (int p = 0; p < nd->n_params && !known; p++) {
			const char *s = links[opened].name, *pn = nd->params[p].name;
			known = strcmp(s, pn) == 0;
			for (int j = 0; j < 2 && !known; j++) {
				size_t l = strlen(state_prefix[j]);
				known = strncmp(s, state_prefix[j], l) == 0 && strcmp(s + l, pn) == 0;
			}
		}
		ds[opened] = h5_open_link(g, &links[opened], &kind);
		if (kind != H5_LINK_DATASET)
			rc = rfail(r, "graph/%s/%s: %s, expected a dataset", nash_name(node).s,
				   nash_name(links[opened].name).s, h5_link_kind_name(kind));
		else if (!known)
			rc = rfail(r, "graph/%s: unexpected dataset '%s'", nash_name(node).s, nash_name(links[opened].name).s);
	}
	for (int p = 0; p < nd->n_params && !rc; p++) {
		Tensor *t = &nd->params[p];
		int w = find_link(links, n, t->name);
		if (w < 0) {
			rc = rfail(r, "graph/%s: missing dataset '%s'", nash_name(node).s, t->name);
			break;
		}
		rc = r_tensor_compat(r, ds[w], nd, node, t->name, t, t->data);
		for (int k = 0; k < 2 && !rc; k++) {
			char sname[32];
			snprintf(sname, sizeof sname, "%s%s", state_prefix[k], t->name);
			int j = find_link(links, n, sname);
			if (j < 0)
				continue;
			float **dst = state_of(t, k);
			if (!(*dst = malloc(tensor_size(t) * sizeof(float) + 1)))
				rc = rfail_oom(r);
			else
				rc = r_tensor_compat(r, ds[j], nd, node, sname, t, *dst);
		}
	}
	for (int k = 0; k < opened; k++)
		if (ds[k] >= 0)
			H5Oclose(ds[k]);
	h5_free_links(links, n);
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
static int r_node(const R *r, hid_t gi, Graph *g, int i, const H5Link *links, const int *order, int n,
		  int *shape)
{
	const char *nm = links[order[i]].name;
	char where[64], op_s[32], in_s[NASH_MAX_INPUTS * 32], expect[64];
	snprintf(where, sizeof where, "graph/%s: ", nm);
	if (r_str(r, gi, where, "op", op_s, sizeof op_s, 0) < 0)
		return -1;
	int op = op_from_name(op_s);
	if (op < 0)
		return rfail(r, "unknown op '%s' in graph/%s", nash_name(op_s).s, nash_name(nm).s);
	if ((i == 0) != (op == OP_INPUT))
		return rfail(r, "graph/%s: %s", nash_name(nm).s, i ? "only node 0 may be the input" :
			     "node 0 must be the input node");
	if (r_str(r, gi, where, "inputs", in_s, sizeof in_s, 0) < 0)
		return -1;
	int ins[NASH_MAX_INPUTS], n_in = 0;
	for (char *save = NULL, *tok = strtok_r(in_s, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		int j = name_index(tok);
		if (j < 0 || j >= n || strcmp(links[order[j]].name, tok) != 0)
			return rfail(r, "graph/%s: input '%s' does not exist", nash_name(nm).s, nash_name(tok).s);
		if (j >= i)
			return rfail(r, "graph/%s: input '%s' is not an earlier node (a cycle)", nash_name(nm).s, nash_name(tok).s);
		if (n_in == NASH_MAX_INPUTS)
			return rfail(r, "graph/%s: more than %d inputs", nash_name(nm).s, NASH_MAX_INPUTS);
		ins[n_in++] = j;
	}
	if (i == 0 && n_in)
		return rfail(r, "graph/%s: the input node has inputs", nash_name(nm).s);
	if (i > 0 && graph_add(g, op, n_in, ins) != i)
		return rfail(r, "graph/%s: cannot add the node", nash_name(nm).s);
	Node *nd = &g->nodes[i];
	node_name(g, i, expect, sizeof expect);
	if (strcmp(expect, nm) != 0)
		return rfail(r, "graph/%s: node %d with op '%s' must be named %s", nash_name(nm).s, i, nash_name(op_s).s,
			     expect);
	int rc = 0;
	if (op == OP_CONV || op == OP_DENSE) {
		rc |= r_int(r, gi, where, "out_channels", &nd->out_channels, 0) < 0;
		rc |= r_int(r, gi, where, "has_bias", &nd->has_bias, 0) < 0;
		if (!rc && nd->has_bias != 0 && nd->has_bias != 1)
			return rfail(r, "graph/%s: has_bias must be 0 or 1", nash_name(nm).s);
		if (!rc && (nd->out_channels < 1 || nd->out_channels > NASH_MAX_OUT_CHANNELS))
			return rfail(r, "graph/%s: out_channels %d is not in 1..%d", nash_name(nm).s, nd->out_channels,
				     NASH_MAX_OUT_CHANNELS);
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
	hid_t gr = r_group(r, f, "graph", "graph");
	H5Link *links = NULL;
	int n = 0, rc = gr < 0 ? -1 : r_links(r, gr, "graph: ", NASH_MAX_NODES, &links, &n);
	int *order = rc ? NULL : malloc(((size_t)n + 1) * sizeof *order);
	int *shapes = rc ? NULL : malloc(((size_t)n + 1) * 3 * sizeof *shapes);
	/* each node's group, open from its first read to its second (its weights) */
	hid_t *groups = rc ? NULL : malloc(((size_t)n + 1) * sizeof *groups);
	if (!rc && (!order || !shapes || !groups))
		rc = rfail_oom(r);
	if (!rc && n == 0)
		rc = rfail(r, "graph: no nodes");
	for (int i = 0; !rc && i < n; i++)
		order[i] = groups[i] = -1;
	for (int k = 0; !rc && k < n; k++) {
		int j = name_index(links[k].name);
		if (j < 0 || j >= n || order[j] >= 0)
			rc = rfail(r, "graph/%s: node groups must be named 000_op .. %03d_op, each number once",
				   nash_name(links[k].name).s, n - 1);
		else
			order[j] = k;
	}
	for (int i = 0; !rc && i < n; i++) {
		groups[i] = r_node_group(r, gr, &links[order[i]]);
		rc = groups[i] < 0 ? -1 : r_node(r, groups[i], g, i, links, order, n, &shapes[3 * i]);
	}
	if (!rc && graph_infer(g, r->err))
		rc = nash_err_prefix(r->err, r->file);
	for (int i = 0; !rc && i < n; i++) {
		const Node *nd = &g->nodes[i];
		const int *s = &shapes[3 * i];
		/* bounds keep weight sizes (int dims, e.g. dense in = c*h*w) from overflowing */
		if ((long long)nd->c * nd->h * nd->w > NASH_MAX_ACTIVATION)
			rc = rfail(r, "graph/%s: output %dx%dx%d is too large", nash_name(links[order[i]].name).s, nd->c, nd->h, nd->w);
		else if (s[0] != nd->c || s[1] != nd->h || s[2] != nd->w)
			rc = rfail(r, "graph/%s: output_shape %dx%dx%d does not match the inferred %dx%dx%d",
				   nash_name(links[order[i]].name).s, s[0], s[1], s[2], nd->c, nd->h, nd->w);
	}
	/* the weights the graph implies must fit in the file before they are allocated: a small
	   file declaring wide layers must not cost gigabytes */
	unsigned long long weights = 0;
	for (int i = 0; !rc && i < n; i++) {
		Tensor want[NASH_MAX_PARAMS];
		int nw = node_expected_params(g, i, want);
		for (int p = 0; p < nw; p++)
			weights += tensor_size(&want[p]);
	}
	if (!rc && weights > *r->left / sizeof(float))
		rc = rfail(r, "graph: its layers hold %llu weights (%llu bytes), more than the file's %zu bytes of data",
			   weights, weights * sizeof(float), *r->left);
	if (!rc && graph_alloc_params(g, r->err))
		rc = nash_err_prefix(r->err, r->file);
	for (int i = 0; !rc && i < n; i++)
		rc = r_weights(r, groups[i], &g->nodes[i], links[order[i]].name);
	for (int i = 0; groups && i < n; i++)
		if (groups[i] >= 0)
			H5Oclose(groups[i]);
	free(groups);
	free(shapes);
	free(order);
	h5_free_links(links, n);
	if (gr >= 0)
		H5Gclose(gr);
	return rc;
}

/* A compound table (0 rows allowed), of at most max_rows rows; fields matched by name, all
   must be present (h5_read_table: no type conversion, every field checked). */
static int r_table(const R *r, hid_t loc, const char *ds, const char *path, const H5Table *tab,
		   long long max_rows, void **rows, int *n)
{
	char why[200];
	*rows = NULL;
	*n = 0;
	if (h5_link_kind(loc, ds) == H5_LINK_ABSENT)
		return rfail(r, "missing dataset '%s'", path);
	hid_t d = h5_open_dataset(loc, ds, 0, why, sizeof why);
	if (d < 0)
		return rfail(r, "%s: %s", path, why);
	int rc = h5_read_table(d, tab, max_rows, *r->left, rows, n, why, sizeof why);
	H5Dclose(d);
	if (rc)
		return rfail(r, "%s: %s", path, why);
	size_t bytes = (size_t)*n * tab->row_size; /* h5_read_table kept it within *r->left */
	*r->left -= bytes < *r->left ? bytes : *r->left;
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
	    shape[1] > NASH_MAX_INPUT_SIDE || shape[2] > NASH_MAX_INPUT_SIDE)
		return rfail(r, "input_shape %dx%dx%d is invalid (C in 1..%d, H and W in 1..%d)",
			     shape[0], shape[1], shape[2], NASH_MAX_CHANNELS, NASH_MAX_INPUT_SIDE);
	if (classes < 2 || classes > NASH_MAX_CLASSES)
		return rfail(r, "num_classes %d is not in 2..%d", classes, NASH_MAX_CLASSES);
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
	/* optional (files before them have none); checked by model_validate */
	if (!(m->class_names = calloc((size_t)classes, NASH_CLASS_NAME_MAX)))
		return rfail_oom(r);
	int names = h5_read_strs(f, "class_names", classes, m->class_names, NASH_CLASS_NAME_MAX);
	if (names != H5_ATTR_READ) {
		free(m->class_names);
		m->class_names = NULL;
	}
	if (names == H5_ATTR_WRONG_COUNT)
		return rfail(r, "attribute 'class_names' does not hold num_classes (%d) strings", classes);
	if (r_result(r, names, "", "class_names", H5T_STRING, classes, 0, NASH_CLASS_NAME_MAX, 1) < 0)
		return -1;
	/* absent accuracies stay NaN; present ones must be real numbers */
	if (H5Aexists(f, "val_accuracy") > 0 && !isfinite(m->val_accuracy))
		return rfail(r, "val_accuracy is not finite");
	if (H5Aexists(f, "test_accuracy") > 0 && !isfinite(m->test_accuracy))
		return rfail(r, "test_accuracy is not finite");
	/* the test-time augmentation of each accuracy; absent (older files): none */
	const char *tta_attr[2] = {"val_accuracy_tta", "test_accuracy_tta"};
	Tta *tta[2] = {&m->val_tta, &m->test_tta};
	for (int k = 0; k < 2; k++) {
		char name[32] = "";
		int got = r_str(r, f, "", tta_attr[k], name, sizeof name, 1);
		if (got < 0)
			return -1;
		if (got > 0 && tta_parse(name, tta[k]))
			return rfail(r, "%s '%s' is not %s", tta_attr[k], name, TTA_NAMES);
	}
	return 0; /* ranges: model_validate, which the writer runs too */
}

static int r_model(R *r, hid_t f, Model *m)
{
	if (r_root(r, f, m) || r_graph(r, f, &m->g))
		return -1;
	hid_t tr = r_group(r, f, "training", "training");
	int rc = tr < 0 ? -1 : 0;
	rc = rc ? rc : r_table(r, tr, "runs", "training/runs", &h5_run_table, NASH_MAX_RUNS, (void **)&m->runs,
			       &m->n_runs);
	for (int i = 0; !rc && i < m->n_runs; i++) {
		if (!m->runs[i].train_on[0]) /* a file from before train_on: the training split */
			snprintf(m->runs[i].train_on, sizeof m->runs[i].train_on, "train");
		if (!m->runs[i].tta[0]) /* a file from before tta: none */
			snprintf(m->runs[i].tta, sizeof m->runs[i].tta, "%s", tta_name(TTA_NONE));
	}
	rc = rc ? rc : r_table(r, tr, "record", "training/record", &h5_record_table, NASH_MAX_RECORDS,
			       (void **)&m->records, &m->n_records);
	if (tr >= 0)
		H5Gclose(tr);
	rc = rc ? rc : r_table(r, f, "lineage", "lineage", &h5_morph_table, NASH_MAX_LINEAGE, (void **)&m->lineage,
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

int modelfile_read_group(Model *m, hid_t loc, const char *name, size_t *left, NashErr *err)
{
	R r = {.file = name, .err = err, .left = left};
	model_init(m);
	H5Quiet q;
	h5_quiet(&q);
	int rc = r_model(&r, loc, m);
	h5_restore(&q);
	if (rc)
		model_free(m);
	return rc ? -1 : 0;
}

int model_parse_mem(Model *m, const void *buf, size_t len, const char *name, NashErr *err)
{
	R r = {.file = name ? name : "<memory>", .err = err};
	model_init(m);
	if (len == 0)
		return rfail(&r, "empty file");
	if (!has_hdf5_signature(buf, len))
		return rfail(&r, "not an HDF5 file");
	H5Quiet q;
	h5_quiet(&q);
	hid_t fapl = h5_core_fapl(0), f = -1;
	char fname[64];
	snprintf(fname, sizeof fname, "nash-image-%p", buf);
	if (fapl >= 0 && H5Pset_file_image(fapl, (void *)buf, len) >= 0)
		f = H5Fopen(fname, H5F_ACC_RDONLY, fapl);
	int rc = f < 0 ? rfail(&r, "corrupt HDF5 file (cannot open it)") : 0;
	hid_t root = f >= 0 ? H5Gopen2(f, "/", H5P_DEFAULT) : -1;
	if (!rc && root < 0)
		rc = rfail(&r, "corrupt HDF5 file (cannot open its root group)");
	size_t left = len;
	if (!rc)
		rc = modelfile_read_group(m, root, r.file, &left, err);
	if (root >= 0)
		H5Gclose(root);
	if (f >= 0)
		H5Fclose(f);
	if (fapl >= 0)
		H5Pclose(fapl);
	h5_restore(&q);
	if (rc)
		model_free(m);
	return rc ? -1 : 0;
}

typedef struct ParseArgs {
	const void *buf;
	size_t len;
	const char *name;
} ParseArgs;

static int parse_and_drop(void *arg, NashErr *err)
{
	const ParseArgs *a = arg;
	Model m;
	int rc = model_parse_mem(&m, a->buf, a->len, a->name, err);
	model_free(&m);
	return rc;
}

int model_read_mem(Model *m, const void *buf, size_t len, const char *name, NashErr *err)
{
	ParseArgs a = {buf, len, name ? name : "<memory>"};
	model_init(m);
	if (isolate_check(parse_and_drop, &a, a.name, len, err))
		return -1;
	return model_parse_mem(m, buf, len, name, err);
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
