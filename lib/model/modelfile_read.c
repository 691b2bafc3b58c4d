/* Model files, reader (layout in docs/FORMAT.md): read from an in-memory image with the core
   driver. Everything read is validated, and every error names the file and the object. The
   file is untrusted (docs/FORMAT.md, "Security"): a link is followed only when it is a hard link
   within the file, a dataset is read only after its type, shape, storage and size are checked,
   and no size the file declares is allocated before it is checked against the file's own size
   and the graph's shapes. model_read_mem parses in a separate process only (base/isolate.h),
   which hands the model back to be checked again (model/handover.h). This file: the root's
   attributes, the tables, the entry points, and the helpers that word what HDF5 answers as
   messages; the graph group is read by modelfile_read_graph.c. */
#include "model/model.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/atomic.h"
#include "base/isolate.h"
#include "base/limits.h"
#include "model/handover.h"
#include "model/modelfile.h"
#include "model/modelfile_read.h"

int mf_fail(const MfReader *r, const char *fmt, ...)
{
	char msg[sizeof r->err->msg];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return nash_err(r->err, NASH_ERR_RUNTIME, "%s: %s", nash_name(r->file).s, msg);
}

int mf_oom(const MfReader *r)
{
	return nash_err(r->err, NASH_ERR_OOM, "%s: out of memory", nash_name(r->file).s);
}

/* The message for what h5_read_attr/h5_read_str found (H5_ATTR_*): returns 1 when read,
   0 when absent and optional, else -1 with the error. node (NULL: the root) names the node
   group in messages ("graph/003_conv: "), written only into a message: most attributes are
   read without fault, thousands of them in a large graph. n: the values asked (0: a scalar);
   len: a string buffer's size. */
static int r_result(const MfReader *r, int rc, const char *node, const char *name, H5T_class_t cls, int n,
		    long long count, size_t len, int optional)
{
	if (rc == H5_ATTR_READ)
		return 1;
	char where[64] = "";
	if (node)
		snprintf(where, sizeof where, "graph/%s: ", node);
	switch (rc) {
	case H5_ATTR_READ: return 1;
	case H5_ATTR_ABSENT: return optional ? 0 : mf_fail(r, "%smissing attribute '%s'", where, name);
	case H5_ATTR_WRONG_CLASS:
		return mf_fail(r, "%sattribute '%s' has the wrong type (expected %s)", where, name,
			     cls == H5T_INTEGER ? "an integer" : cls == H5T_FLOAT ? "a float" : "a string");
	case H5_ATTR_WRONG_COUNT:
		return mf_fail(r, "%sattribute '%s' has %lld values, expected %d", where, name, count, n ? n : 1);
	case H5_ATTR_TOO_LONG:
		return mf_fail(r, "%sattribute '%s' is longer than %zu characters", where, name, len - 1);
	case H5_ATTR_NOT_ASCII: return mf_fail(r, "%sattribute '%s' is not ASCII text", where, name);
	case H5_ATTR_OUT_OF_RANGE:
		return mf_fail(r, "%sattribute '%s' is out of range for a 32-bit signed integer", where, name);
	default: return mf_fail(r, "%scannot read attribute '%s'", where, name);
	}
}

/* Numeric attribute: n values (0: scalar) converted to mtype. Returns as r_result. */
int mf_attr(const MfReader *r, hid_t loc, const char *node, const char *name, H5T_class_t cls,
		  hid_t mtype, int n, void *out, int optional)
{
	long long count = 0;
	int rc = h5_read_attr(loc, name, cls, mtype, n, out, &count);
	return r_result(r, rc, node, name, cls, n, count, 0, optional);
}

int mf_int(const MfReader *r, hid_t loc, const char *node, const char *name, int *v, int optional)
{
	return mf_attr(r, loc, node, name, H5T_INTEGER, H5T_NATIVE_INT, 0, v, optional);
}

int mf_float(const MfReader *r, hid_t loc, const char *node, const char *name, float *v, int optional)
{
	return mf_attr(r, loc, node, name, H5T_FLOAT, H5T_NATIVE_FLOAT, 0, v, optional);
}

/* Strings: fixed-length (ours) or variable-length (what h5py writes for a str). */
int mf_str(const MfReader *r, hid_t loc, const char *node, const char *name, char *buf, size_t n,
		 int optional)
{
	int rc = h5_read_str(loc, name, buf, n);
	return r_result(r, rc, node, name, H5T_STRING, 0, 1, n, optional);
}

/* The links of group g in name order (h5_list_links: one pass, linear in the group's size);
   at most max. node: the node group's name, or NULL for the graph group itself. */
int mf_links(const MfReader *r, hid_t g, const char *node, int max, H5Link **links, int *n)
{
	size_t count;
	*n = 0;
	if (h5_list_links(g, (size_t)max, links, &count) == 0) {
		*n = (int)count;
		return 0;
	}
	char where[64] = "graph: ";
	if (node)
		snprintf(where, sizeof where, "graph/%s: ", node);
	if (count > (size_t)max)
		return mf_fail(r, "%s%zu objects, more than the %d nash reads and writes", where, count, max);
	return mf_fail(r, "%scannot list the group", where);
}

/* Opens group `name` of loc when it is a hard link to a group; else -1 with the error. */
hid_t mf_group(const MfReader *r, hid_t loc, const char *path, const char *name)
{
	int kind = h5_link_kind(loc, name);
	if (kind == H5_LINK_ABSENT)
		return mf_fail(r, "missing group '%s'", path);
	if (kind != H5_LINK_GROUP)
		return mf_fail(r, "%s: %s, expected a group", path, kind == H5_LINK_DATASET ? "a dataset" : h5_link_kind_name(kind));
	hid_t g = H5Gopen2(loc, name, H5P_DEFAULT);
	return g >= 0 ? g : mf_fail(r, "cannot open group '%s'", path);
}

/* A compound table (0 rows allowed), of at most max_rows rows; fields matched by name, all
   must be present (h5_read_table: no type conversion, every field checked). */
static int r_table(const MfReader *r, hid_t loc, const char *ds, const char *path, const H5Table *tab,
		   long long max_rows, void **rows, int *n)
{
	char why[200];
	*rows = NULL;
	*n = 0;
	if (h5_link_kind(loc, ds) == H5_LINK_ABSENT)
		return mf_fail(r, "missing dataset '%s'", path);
	hid_t d = h5_open_dataset(loc, ds, 0, why, sizeof why);
	if (d < 0)
		return mf_fail(r, "%s: %s", path, why);
	int rc = h5_read_table(d, tab, max_rows, *r->left, rows, n, why, sizeof why);
	H5Dclose(d);
	if (rc)
		return mf_fail(r, "%s: %s", path, why);
	size_t bytes = (size_t)*n * tab->row_size; /* h5_read_table kept it within *r->left */
	*r->left -= bytes < *r->left ? bytes : *r->left;
	return 0;
}

static int r_root(MfReader *r, hid_t f, Model *m)
{
	char s[64];
	int v, shape[3], classes;
	int rc = mf_str(r, f, NULL, "format", s, sizeof s, 1);
	if (rc == 0)
		return mf_fail(r, "not a nash model file (no 'format' attribute)");
	if (rc < 0 || strcmp(s, "nash-model") != 0)
		return rc < 0 ? -1 : mf_fail(r, "format is '%s', not 'nash-model'", s);
	if (mf_int(r, f, NULL, "format_version", &v, 0) < 0)
		return -1;
	if (v > NASH_FORMAT_VERSION)
		return mf_fail(r, "format_version %d is newer than this nash supports (%d)", v, NASH_FORMAT_VERSION);
	if (v < 1)
		return mf_fail(r, "format_version %d is invalid", v);
	r->version = v;
	if (mf_attr(r, f, NULL, "input_shape", H5T_INTEGER, H5T_NATIVE_INT, 3, shape, 0) < 0 ||
	    mf_int(r, f, NULL, "num_classes", &classes, 0) < 0)
		return -1;
	if (shape[0] < 1 || shape[0] > NASH_MAX_CHANNELS || shape[1] < 1 || shape[2] < 1 ||
	    shape[1] > NASH_MAX_INPUT_SIDE || shape[2] > NASH_MAX_INPUT_SIDE)
		return mf_fail(r, "input_shape %dx%dx%d is invalid (C in 1..%d, H and W in 1..%d)",
			     shape[0], shape[1], shape[2], NASH_MAX_CHANNELS, NASH_MAX_INPUT_SIDE);
	if (classes < 2 || classes > NASH_MAX_CLASSES)
		return mf_fail(r, "num_classes %d is not in 2..%d", classes, NASH_MAX_CLASSES);
	graph_init(&m->g, shape[0], shape[1], shape[2], classes);
	if (mf_str(r, f, NULL, "dataset", m->dataset, sizeof m->dataset, 0) < 0 ||
	    mf_attr(r, f, NULL, "norm_mean", H5T_FLOAT, H5T_NATIVE_FLOAT, shape[0], m->mean, 0) < 0 ||
	    mf_attr(r, f, NULL, "norm_std", H5T_FLOAT, H5T_NATIVE_FLOAT, shape[0], m->std, 0) < 0 ||
	    mf_int(r, f, NULL, "val_size", &m->val_size, 0) < 0 ||
	    mf_str(r, f, NULL, "model_id", m->id, sizeof m->id, 0) < 0 ||
	    mf_str(r, f, NULL, "parent_id", m->parent_id, sizeof m->parent_id, 0) < 0 ||
	    mf_float(r, f, NULL, "val_accuracy", &m->val_accuracy, 1) < 0 ||
	    mf_float(r, f, NULL, "test_accuracy", &m->test_accuracy, 1) < 0 ||
	    mf_int(r, f, NULL, "failed", &m->failed, 1) < 0 ||
	    mf_int(r, f, NULL, "checkpoint_epochs_done", &m->ckpt_epochs_done, 1) < 0)
		return -1;
	if (m->failed && mf_str(r, f, NULL, "failure", m->failure, sizeof m->failure, 0) < 0)
		return -1;
	/* optional (files before them have none); checked by model_validate */
	if (!(m->class_names = calloc((size_t)classes, NASH_CLASS_NAME_MAX)))
		return mf_oom(r);
	int names = h5_read_strs(f, "class_names", classes, m->class_names, NASH_CLASS_NAME_MAX);
	if (names != H5_ATTR_READ) {
		free(m->class_names);
		m->class_names = NULL;
	}
	if (names == H5_ATTR_WRONG_COUNT)
		return mf_fail(r, "attribute 'class_names' does not hold num_classes (%d) strings", classes);
	if (r_result(r, names, NULL, "class_names", H5T_STRING, classes, 0, NASH_CLASS_NAME_MAX, 1) < 0)
		return -1;
	/* absent accuracies stay NaN; present ones must be real numbers */
	if (H5Aexists(f, "val_accuracy") > 0 && !isfinite(m->val_accuracy))
		return mf_fail(r, "val_accuracy is not finite");
	if (H5Aexists(f, "test_accuracy") > 0 && !isfinite(m->test_accuracy))
		return mf_fail(r, "test_accuracy is not finite");
	/* the test-time augmentation of each accuracy; absent (older files): none */
	const char *tta_attr[2] = {"val_accuracy_tta", "test_accuracy_tta"};
	Tta *tta[2] = {&m->val_tta, &m->test_tta};
	for (int k = 0; k < 2; k++) {
		char name[32] = "";
		int got = mf_str(r, f, NULL, tta_attr[k], name, sizeof name, 1);
		if (got < 0)
			return -1;
		if (got > 0 && tta_parse(name, tta[k]))
			return mf_fail(r, "%s '%s' is not %s", tta_attr[k], name, TTA_NAMES);
	}
	return 0; /* ranges: model_validate, which the writer runs too */
}

static int r_model(MfReader *r, hid_t f, Model *m)
{
	if (r_root(r, f, m) || modelfile_read_graph(r, f, &m->g))
		return -1;
	hid_t tr = mf_group(r, f, "training", "training");
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

int modelfile_read_group(Model *m, hid_t loc, const char *name, const void *image, size_t image_len, size_t *left,
			 NashErr *err)
{
	MfReader r = {.file = name, .err = err, .left = left, .image = image, .image_len = image ? image_len : 0};
	model_init(m);
	H5Quiet q;
	h5_quiet(&q);
	int rc = r_model(&r, loc, m);
	h5_restore(&q);
	if (rc)
		model_free(m);
	return rc ? -1 : 0;
}

int modelfile_read_file(Model *m, hid_t f, const char *name, const void *image, size_t len, NashErr *err)
{
	MfReader r = {.file = name, .err = err};
	H5Quiet q;
	h5_quiet(&q);
	hid_t root = H5Gopen2(f, "/", H5P_DEFAULT);
	int rc = root < 0 ? mf_fail(&r, "corrupt HDF5 file (cannot open its root group)") : 0;
	size_t left = len;
	if (!rc)
		rc = modelfile_read_group(m, root, name, image, len, &left, err);
	else
		model_init(m);
	if (root >= 0)
		H5Gclose(root);
	h5_restore(&q);
	return rc;
}

int model_parse_mem(Model *m, const void *buf, size_t len, const char *name, NashErr *err)
{
	MfReader r = {.file = name ? name : "<memory>", .err = err};
	model_init(m);
	if (len == 0)
		return mf_fail(&r, "empty file");
	if (!has_hdf5_signature(buf, len))
		return mf_fail(&r, "not an HDF5 file");
	H5Quiet q;
	h5_quiet(&q);
	hid_t fapl = h5_core_fapl(0), f = -1;
	char fname[64];
	snprintf(fname, sizeof fname, "nash-image-%p", buf);
	if (fapl >= 0 && H5Pset_file_image(fapl, (void *)buf, len) >= 0)
		f = H5Fopen(fname, H5F_ACC_RDONLY, fapl);
	int rc = f < 0 ? mf_fail(&r, "corrupt HDF5 file (cannot open it)") : modelfile_read_file(m, f, r.file, buf, len, err);
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

/* The isolated child's part: the file parsed with HDF5 and checked, then handed over in nash's
   own form (model/handover.h). */
static int parse_and_hand_over(void *arg, WireOut *out, NashErr *err)
{
	const ParseArgs *a = arg;
	Model m;
	int rc = model_parse_mem(&m, a->buf, a->len, a->name, err);
	if (rc == 0) {
		wire_reserve(out, a->len + ((size_t)64 << 10)); /* the weights, at most the file's size */
		model_handover_put(out, &m);
	}
	model_free(&m);
	return rc;
}

/* The file is parsed once, in the isolated child; this process takes the model it hands over
   and checks it as untrusted input, never giving the file itself to HDF5. */
int model_read_mem(Model *m, const void *buf, size_t len, const char *name, NashErr *err)
{
	ParseArgs a = {buf, len, name ? name : "<memory>"};
	void *report;
	size_t n;
	model_init(m);
	if (isolate_read(parse_and_hand_over, &a, a.name, len, model_handover_bound(len), &report, &n, err))
		return -1;
	WireIn r;
	wire_in_init(&r, report, n);
	int rc = model_handover_get(&r, m, a.name, err);
	if (rc == 0 && model_handover_end(&r, a.name, err)) {
		model_free(m);
		rc = -1;
	}
	free(report);
	return rc;
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
