/* Reading a model file costs time linear in its graph's nodes (docs/FORMAT.md, "Large graphs"),
   shown without timing anything. A lookup by name (or by index) in an HDF5 group costs up to
   the group's number of links: HDF5 scans the compact storage nash writes, and walks an old-style
   group's B-tree up to an index. So this program stands in front of libhdf5 for the calls that
   look a link up (the dynamic linker binds libnash's calls to the definitions here, which pass
   them on to libhdf5 through dlsym) and adds up, for each, the links of the group it searched.
   Reading a graph of 4n nodes must then cost about 4 times as much as one of n nodes; a reader
   that looks each node up in the graph group costs 16 times as much. Writing: the graph group's
   header is allocated at once, not grown node by node. */
#define _GNU_SOURCE /* RTLD_NEXT */
#include <dlfcn.h>
#include <hdf5.h>
#include <stdlib.h>
#include <string.h>

#include "base/h5util.h"
#include "check.h"
#include "model/model.h"

static int counting;          /* only the reads under test are counted */
static long long links_seen;  /* sum over counted lookups of the links in the group searched */

/* The links of group (or file) loc; 0 for any other object. */
static long long links_in(hid_t loc)
{
	H5I_type_t t = H5Iget_type(loc);
	H5G_info_t info;
	if ((t != H5I_GROUP && t != H5I_FILE) || H5Gget_info(loc, &info) < 0)
		return 0;
	return (long long)info.nlinks;
}

static void count(hid_t loc)
{
	if (counting)
		links_seen += links_in(loc);
}

/* libhdf5's own definition of name, into the function pointer *fn (POSIX's way to turn
   dlsym's pointer into a function's). */
static void real_fn(void *fn, const char *name)
{
	void *p = dlsym(RTLD_NEXT, name);
	if (!p) {
		printf("Bail out! %s not found in libhdf5\n", name);
		exit(1);
	}
	memcpy(fn, &p, sizeof p);
}

htri_t H5Lexists(hid_t loc, const char *name, hid_t lapl)
{
	static htri_t (*real)(hid_t, const char *, hid_t);
	if (!real)
		real_fn(&real, "H5Lexists");
	count(loc);
	return real(loc, name, lapl);
}

hid_t H5Oopen(hid_t loc, const char *name, hid_t lapl)
{
	static hid_t (*real)(hid_t, const char *, hid_t);
	if (!real)
		real_fn(&real, "H5Oopen");
	count(loc);
	return real(loc, name, lapl);
}

hid_t H5Gopen2(hid_t loc, const char *name, hid_t gapl)
{
	static hid_t (*real)(hid_t, const char *, hid_t);
	if (!real)
		real_fn(&real, "H5Gopen2");
	count(loc);
	return real(loc, name, gapl);
}

hid_t H5Dopen2(hid_t loc, const char *name, hid_t dapl)
{
	static hid_t (*real)(hid_t, const char *, hid_t);
	if (!real)
		real_fn(&real, "H5Dopen2");
	count(loc);
	return real(loc, name, dapl);
}

ssize_t H5Lget_name_by_idx(hid_t loc, const char *group, H5_index_t idx_type, H5_iter_order_t order, hsize_t n,
			   char *name, size_t size, hid_t lapl)
{
	static ssize_t (*real)(hid_t, const char *, H5_index_t, H5_iter_order_t, hsize_t, char *, size_t, hid_t);
	if (!real)
		real_fn(&real, "H5Lget_name_by_idx");
	count(loc);
	return real(loc, group, idx_type, order, n, name, size, lapl);
}

hid_t H5Oopen_by_idx(hid_t loc, const char *group, H5_index_t idx_type, H5_iter_order_t order, hsize_t n,
		     hid_t lapl)
{
	static hid_t (*real)(hid_t, const char *, H5_index_t, H5_iter_order_t, hsize_t, hid_t);
	if (!real)
		real_fn(&real, "H5Oopen_by_idx");
	count(loc);
	return real(loc, group, idx_type, order, n, lapl);
}

/* One pass over all of a group's links. 1.12 turned H5Literate and H5Lget_info into macros
   for H5Literate2 and H5Lget_info2. */
#if H5_VERSION_GE(1, 12, 0)
herr_t H5Literate2(hid_t g, H5_index_t idx_type, H5_iter_order_t order, hsize_t *idx, H5L_iterate2_t op, void *data)
{
	static herr_t (*real)(hid_t, H5_index_t, H5_iter_order_t, hsize_t *, H5L_iterate2_t, void *);
	if (!real)
		real_fn(&real, "H5Literate2");
	count(g);
	return real(g, idx_type, order, idx, op, data);
}
#else
herr_t H5Literate(hid_t g, H5_index_t idx_type, H5_iter_order_t order, hsize_t *idx, H5L_iterate_t op, void *data)
{
	static herr_t (*real)(hid_t, H5_index_t, H5_iter_order_t, hsize_t *, H5L_iterate_t, void *);
	if (!real)
		real_fn(&real, "H5Literate");
	count(g);
	return real(g, idx_type, order, idx, op, data);
}
#endif

#if H5_VERSION_GE(1, 12, 0)
herr_t H5Lget_info2(hid_t loc, const char *name, H5L_info2_t *info, hid_t lapl)
{
	static herr_t (*real)(hid_t, const char *, H5L_info2_t *, hid_t);
	if (!real)
		real_fn(&real, "H5Lget_info2");
	count(loc);
	return real(loc, name, info, lapl);
}
#else
herr_t H5Lget_info(hid_t loc, const char *name, H5L_info_t *info, hid_t lapl)
{
	static herr_t (*real)(hid_t, const char *, H5L_info_t *, hid_t);
	if (!real)
		real_fn(&real, "H5Lget_info");
	count(loc);
	return real(loc, name, info, lapl);
}
#endif

/* n nodes: input 1x4x4, then conv2 1x1 (with bias), batch norm and relu in turn, then GAP and
   dense: every kind of node group (no weights, 2 datasets, 4 datasets), all in one chain. */
static int make_chain(Model *m, int n, NashErr *err)
{
	model_init(m);
	snprintf(m->dataset, sizeof m->dataset, "fashion-mnist");
	m->mean[0] = 0.5f;
	m->std[0] = 0.25f;
	graph_init(&m->g, 1, 4, 4, 2);
	Graph *g = &m->g;
	int x = 0;
	for (int i = 0; i < n - 3; i++)
		x = i % 3 == 0 ? graph_conv(g, x, 2, 1, 1) : i % 3 == 1 ? graph_bn(g, x) : graph_relu(g, x);
	graph_dense(g, graph_unary(g, OP_GAP, x), 2, 1);
	if (graph_infer(g, err) || graph_alloc_params(g, err))
		return -1;
	for (int i = 0; i < g->n_nodes; i++)
		for (int p = 0; p < g->nodes[i].n_params; p++) {
			Tensor *t = &g->nodes[i].params[p];
			for (size_t k = 0; k < tensor_size(t); k++)
				t->data[k] = (float)(i + 1) / (float)(k + 1); /* positive: a valid running_var */
		}
	model_set_id(m, 0x0123456789abcdefULL);
	return 0;
}

/* The links searched to read a chain of n nodes (-1 when it cannot be written or read back
   exactly, node for node and weight for weight). */
static long long read_cost(int n)
{
	NashErr err = {0};
	Model m, back;
	void *buf = NULL;
	size_t len = 0;
	if (make_chain(&m, n, &err) || model_write_mem(&m, &buf, &len, &err)) {
		printf("# %d nodes: %s\n", n, err.msg);
		model_free(&m);
		return -1;
	}
	links_seen = 0;
	counting = 1;
	int rc = model_parse_mem(&back, buf, len, "chain.h5", &err); /* in this process: counted */
	counting = 0;
	free(buf);
	if (rc)
		printf("# %d nodes: %s\n", n, err.msg);
	int same = !rc && back.g.n_nodes == n;
	for (int i = 0; same && i < n; i++) {
		const Node *a = &m.g.nodes[i], *b = &back.g.nodes[i];
		same = a->op == b->op && a->n_params == b->n_params;
		for (int p = 0; same && p < a->n_params; p++)
			same = memcmp(a->params[p].data, b->params[p].data, tensor_size(&a->params[p]) * sizeof(float)) == 0;
	}
	if (!rc && !same)
		printf("# %d nodes: read back differently\n", n);
	model_free(&m);
	if (!rc)
		model_free(&back);
	return same ? links_seen : -1;
}

TEST(lookups_are_counted)
{
	/* the count is real: libnash's lookups come here, each with its group's links */
	hid_t fcpl = H5Pcreate(H5P_FILE_CREATE), fapl = H5Pcreate(H5P_FILE_ACCESS);
	CHECK(H5Pset_fapl_core(fapl, 1 << 16, 0) >= 0);
	hid_t f = H5Fcreate("nash-test-scale", H5F_ACC_EXCL, fcpl, fapl);
	for (int i = 0; i < 5; i++) {
		char name[8];
		snprintf(name, sizeof name, "g%d", i);
		H5Gclose(H5Gcreate2(f, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
	}
	/* from inside libnash: H5Lexists, H5Lget_info and H5Oopen, each in a group of 5 links */
	links_seen = 0;
	counting = 1;
	CHECK(h5_link_kind(f, "g3") == H5_LINK_GROUP);
	counting = 0;
	CHECKF(links_seen == 15, "%lld links seen, expected 3 lookups of 5", links_seen);
	H5Fclose(f);
	H5Pclose(fapl);
	H5Pclose(fcpl);
}

TEST(reading_is_linear_in_the_nodes)
{
	long long small = read_cost(300), large = read_cost(1200);
	printf("# links searched: %lld for 300 nodes, %lld for 1200\n", small, large);
	CHECK(small > 0 && large > 0);
	/* linear: about 4x (some lookups in the root and training groups do not grow at all);
	   one lookup per node in the graph group: 16x */
	CHECKF(large <= 5 * small, "%lld links searched for 1200 nodes, %lld for 300", large, small);
}

/* The pieces ("chunks") of the graph group's object header in a chain of n nodes as written;
   -1 when it cannot be written or looked at. */
static int graph_header_chunks(int n)
{
	NashErr err = {0};
	Model m;
	void *buf = NULL;
	size_t len = 0;
	int chunks = -1;
	if (make_chain(&m, n, &err) || model_write_mem(&m, &buf, &len, &err)) {
		printf("# %d nodes: %s\n", n, err.msg);
		model_free(&m);
		return -1;
	}
	model_free(&m);
	hid_t fapl = H5Pcreate(H5P_FILE_ACCESS), f = -1, g = -1;
	if (H5Pset_fapl_core(fapl, 1 << 20, 0) >= 0 && H5Pset_file_image(fapl, buf, len) >= 0)
		f = H5Fopen("nash-test-scale-image", H5F_ACC_RDONLY, fapl);
	if (f >= 0)
		g = H5Gopen2(f, "graph", H5P_DEFAULT);
#if H5_VERSION_GE(1, 12, 0)
	H5O_native_info_t info;
	if (g >= 0 && H5Oget_native_info(g, &info, H5O_NATIVE_INFO_HDR) >= 0)
		chunks = (int)info.hdr.nchunks;
#else
	H5O_info_t info;
	if (g >= 0 && H5Oget_info2(g, &info, H5O_INFO_HDR) >= 0)
		chunks = (int)info.hdr.nchunks;
#endif
	if (g >= 0)
		H5Gclose(g);
	if (f >= 0)
		H5Fclose(f);
	H5Pclose(fapl);
	free(buf);
	return chunks;
}

TEST(the_graph_header_is_allocated_at_once)
{
	/* grown one link at a time, the header gains a piece again and again, and HDF5 searches
	   all of it for room at each link: writing 4,000 nodes took 90 s */
	int chunks = graph_header_chunks(1200);
	CHECKF(chunks >= 1 && chunks <= 2, "the graph group's header of 1200 nodes is in %d pieces", chunks);
}

int main(void)
{
	RUN(lookups_are_counted);
	RUN(reading_is_linear_in_the_nodes);
	RUN(the_graph_header_is_allocated_at_once);
	CHECK_DONE();
}
