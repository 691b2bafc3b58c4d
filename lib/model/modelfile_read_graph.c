/* Model files, reader: the graph group (docs/FORMAT.md, "graph/"), its node groups listed once
   and opened by address, their attributes checked and turned into a Graph, then their weights
   read into the tensors the inferred graph implies, each dataset checked before it is read and
   charged to the file's size. The root, the tables and the entry points are in
   modelfile_read.c. */
#include "model/model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/limits.h"
#include "model/modelfile.h"
#include "model/modelfile_read.h"

/* Opens node group l of the graph group by its address (h5_open_link): a lookup by name would
   scan the graph's links, for each node. */
static hid_t r_node_group(const MfReader *r, hid_t gr, const H5Link *l)
{
	int kind;
	hid_t gi = h5_open_link(gr, l, &kind);
	if (gi >= 0 && kind == H5_LINK_GROUP)
		return gi;
	if (gi >= 0)
		H5Oclose(gi);
	return mf_fail(r, "graph/%s: %s, expected a group", l->name, kind == H5_LINK_DATASET ? "a dataset" : h5_link_kind_name(kind));
}

/* Takes n bytes from what the file has left: a file cannot hold more data than its size. 0, or
   -1 with what is wrong in why[wn]. */
static int r_take(const MfReader *r, unsigned long long n, char *why, size_t wn)
{
	if (n > *r->left) {
		snprintf(why, wn, "declares %llu bytes of data, more than the rest of the file (%zu bytes)", n, *r->left);
		return -1;
	}
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

/* Copies the weights of dataset d, of file type ty, into dst (bytes of them) straight from the
   file's image, when HDF5's read would do no more than that: d is stored contiguously in this
   file (h5_check_dataset found no external storage and no filter), its type is float32
   little-endian, this machine's float, and its bytes lie within the image. 1 when copied, 0
   when d must be read through H5Dread (which costs a fifth of a small tensor's read). */
static int copy_from_image(const MfReader *r, hid_t d, hid_t ty, unsigned long long bytes, float *dst)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	if (!r->image || H5Tequal(ty, H5T_IEEE_F32LE) <= 0)
		return 0;
	/* the dataset's place in the file, its base address (a user block) included */
	haddr_t at = H5Dget_offset(d);
	if (at == HADDR_UNDEF || at > r->image_len || bytes > r->image_len - at)
		return 0;
	memcpy(dst, r->image + at, (size_t)bytes);
	return 1;
#else
	return 0;
#endif
}

/* Reads dataset d, graph/node/ds, into dst, which has t's shape: read only once nothing outside
   the file is behind it (h5_check_dataset) and its type (IEEE float32 or float64), shape and
   stored size are checked. d stays open. The dataset's path is written only into a message. */
static int r_tensor(const MfReader *r, hid_t d, const char *node, const char *ds, const Tensor *t, float *dst)
{
	char why[300] = "";
	if (h5_check_dataset(d, 0, why, sizeof why))
		return mf_fail(r, "graph/%s/%s: %s", node, ds, why);
	hid_t ty = H5Dget_type(d), sp = H5Dget_space(d);
	hsize_t dims[H5S_MAX_RANK], want[4];
	/* the rank of a simple space; a scalar or null one has none (0), which no tensor has */
	int rank = sp >= 0 ? H5Sget_simple_extent_dims(sp, dims, NULL) : -1;
	int same = rank == t->ndim;
	for (int i = 0; i < t->ndim; i++) {
		want[i] = (hsize_t)t->dims[i];
		same = same && dims[i] == want[i];
	}
	unsigned long long bytes = (unsigned long long)tensor_size(t) * (ty >= 0 ? H5Tget_size(ty) : 0);
	if (ty < 0 || sp < 0) {
		snprintf(why, sizeof why, "cannot open dataset");
	} else if (!h5_standard_number(ty, H5T_FLOAT)) {
		snprintf(why, sizeof why, "not a float32 or float64 dataset");
	} else if (!same) {
		char got[128] = "[]", exp[128];
		if (rank >= 0 && rank <= H5S_MAX_RANK)
			fmt_dims(got, sizeof got, rank, dims);
		fmt_dims(exp, sizeof exp, t->ndim, want);
		snprintf(why, sizeof why, "shape %s does not match the expected %s", got, exp);
	} else if (r_take(r, bytes, why, sizeof why)) {
		/* why says */
	} else if (H5Dget_storage_size(d) < bytes) {
		snprintf(why, sizeof why, "only %llu of its %llu bytes are stored (data never written)",
			 (unsigned long long)H5Dget_storage_size(d), bytes);
	} else if (!copy_from_image(r, d, ty, bytes, dst) &&
		   H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, dst) < 0) {
		snprintf(why, sizeof why, "cannot read dataset");
	}
	if (sp >= 0)
		H5Sclose(sp);
	if (ty >= 0)
		H5Tclose(ty);
	return why[0] ? mf_fail(r, "graph/%s/%s: %s", node, ds, why) : 0;
}

/* r_tensor, plus format_version 1's add, whose one lambda [1] held for every channel. */
static int r_tensor_compat(const MfReader *r, hid_t d, const Node *nd, const char *node, const char *ds, const Tensor *t,
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
static int r_weights(const MfReader *r, hid_t g, Node *nd, const char *node)
{
	H5Link *links;
	hid_t ds[3 * NASH_MAX_PARAMS];
	int n, opened = 0, rc = 0;
	/* a node without weights (relu, pool, ...): an empty group is all there is to see, and
	   asking its size costs half of listing it; anything in it is listed, and refused below */
	H5G_info_t info;
	if (nd->n_params == 0 && H5Gget_info(g, &info) >= 0 && info.nlinks == 0)
		return 0;
	if (mf_links(r, g, node, 3 * NASH_MAX_PARAMS, &links, &n))
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
			rc = mf_fail(r, "graph/%s/%s: %s, expected a dataset", nash_name(node).s,
				   nash_name(links[opened].name).s, h5_link_kind_name(kind));
		else if (!known)
			rc = mf_fail(r, "graph/%s: unexpected dataset '%s'", nash_name(node).s, nash_name(links[opened].name).s);
	}
	for (int p = 0; p < nd->n_params && !rc; p++) {
		Tensor *t = &nd->params[p];
		int w = find_link(links, n, t->name);
		if (w < 0) {
			rc = mf_fail(r, "graph/%s: missing dataset '%s'", nash_name(node).s, t->name);
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
				rc = mf_oom(r);
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
static int r_node(const MfReader *r, hid_t gi, Graph *g, int i, const H5Link *links, const int *order, int n,
		  int *shape)
{
	const char *nm = links[order[i]].name;
	char op_s[32], in_s[NASH_MAX_INPUTS * 32], expect[64];
	if (mf_str(r, gi, nm, "op", op_s, sizeof op_s, 0) < 0)
		return -1;
	int op = op_from_name(op_s);
	if (op < 0)
		return mf_fail(r, "unknown op '%s' in graph/%s", nash_name(op_s).s, nash_name(nm).s);
	if ((i == 0) != (op == OP_INPUT))
		return mf_fail(r, "graph/%s: %s", nash_name(nm).s, i ? "only node 0 may be the input" :
			     "node 0 must be the input node");
	if (mf_str(r, gi, nm, "inputs", in_s, sizeof in_s, 0) < 0)
		return -1;
	int ins[NASH_MAX_INPUTS], n_in = 0;
	for (char *save = NULL, *tok = strtok_r(in_s, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		int j = name_index(tok);
		if (j < 0 || j >= n || strcmp(links[order[j]].name, tok) != 0)
			return mf_fail(r, "graph/%s: input '%s' does not exist", nash_name(nm).s, nash_name(tok).s);
		if (j >= i)
			return mf_fail(r, "graph/%s: input '%s' is not an earlier node (a cycle)", nash_name(nm).s, nash_name(tok).s);
		if (n_in == NASH_MAX_INPUTS)
			return mf_fail(r, "graph/%s: more than %d inputs", nash_name(nm).s, NASH_MAX_INPUTS);
		ins[n_in++] = j;
	}
	if (i == 0 && n_in)
		return mf_fail(r, "graph/%s: the input node has inputs", nash_name(nm).s);
	if (i > 0 && graph_add(g, op, n_in, ins) != i)
		return mf_fail(r, "graph/%s: cannot add the node", nash_name(nm).s);
	Node *nd = &g->nodes[i];
	node_name(g, i, expect, sizeof expect);
	if (strcmp(expect, nm) != 0)
		return mf_fail(r, "graph/%s: node %d with op '%s' must be named %s", nash_name(nm).s, i, nash_name(op_s).s,
			     expect);
	int rc = 0;
	if (op == OP_CONV || op == OP_DENSE) {
		rc |= mf_int(r, gi, nm, "out_channels", &nd->out_channels, 0) < 0;
		rc |= mf_int(r, gi, nm, "has_bias", &nd->has_bias, 0) < 0;
		if (!rc && nd->has_bias != 0 && nd->has_bias != 1)
			return mf_fail(r, "graph/%s: has_bias must be 0 or 1", nash_name(nm).s);
		if (!rc && (nd->out_channels < 1 || nd->out_channels > NASH_MAX_OUT_CHANNELS))
			return mf_fail(r, "graph/%s: out_channels %d is not in 1..%d", nash_name(nm).s, nd->out_channels,
				     NASH_MAX_OUT_CHANNELS);
	}
	if (!rc && (op == OP_CONV || op == OP_MAXPOOL))
		rc |= mf_int(r, gi, nm, "kernel", &nd->kernel, 0) < 0;
	if (!rc && op == OP_BN) {
		rc |= mf_float(r, gi, nm, "eps", &nd->bn_eps, 0) < 0;
		rc |= !rc && mf_float(r, gi, nm, "momentum", &nd->bn_momentum, 0) < 0;
	}
	if (!rc)
		rc |= mf_attr(r, gi, nm, "output_shape", H5T_INTEGER, H5T_NATIVE_INT, 3, shape, 0) < 0;
	return rc ? -1 : 0;
}

/* The graph: node groups numbered 000..n-1, built with graph_add, checked by graph_infer,
   then the weights read into the tensors graph_alloc_params allocates. */
int modelfile_read_graph(const MfReader *r, hid_t f, Graph *g)
{
	hid_t gr = mf_group(r, f, "graph", "graph");
	H5Link *links = NULL;
	int n = 0, rc = gr < 0 ? -1 : mf_links(r, gr, NULL, NASH_MAX_NODES, &links, &n);
	int *order = rc ? NULL : malloc(((size_t)n + 1) * sizeof *order);
	int *shapes = rc ? NULL : malloc(((size_t)n + 1) * 3 * sizeof *shapes);
	/* each node's group, open from its first read to its second (its weights) */
	hid_t *groups = rc ? NULL : malloc(((size_t)n + 1) * sizeof *groups);
	if (!rc && (!order || !shapes || !groups))
		rc = mf_oom(r);
	if (!rc && n == 0)
		rc = mf_fail(r, "graph: no nodes");
	for (int i = 0; !rc && i < n; i++)
		order[i] = groups[i] = -1;
	for (int k = 0; !rc && k < n; k++) {
		int j = name_index(links[k].name);
		if (j < 0 || j >= n || order[j] >= 0)
			rc = mf_fail(r, "graph/%s: node groups must be named 000_op .. %03d_op, each number once",
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
			rc = mf_fail(r, "graph/%s: output %dx%dx%d is too large", nash_name(links[order[i]].name).s, nd->c, nd->h, nd->w);
		else if (s[0] != nd->c || s[1] != nd->h || s[2] != nd->w)
			rc = mf_fail(r, "graph/%s: output_shape %dx%dx%d does not match the inferred %dx%dx%d",
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
		rc = mf_fail(r, "graph: its layers hold %llu weights (%llu bytes), more than the file's %zu bytes of data",
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
