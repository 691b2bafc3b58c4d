/* Ensembles and ensemble files. A member is stored in /members/NNN with exactly a model file's
   layout, written and read by the model file's own writer and reader on that group
   (modelfile_write_group, modelfile_read_group): the layout and its checks are reused as they
   are, without knowing them here, and no HDF5 object is ever copied from an untrusted file. */
#include "search/ensemble.h"

#include "base/h5util.h"

#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/atomic.h"
#include "base/isolate.h"
#include "base/limits.h"
#include "engine/net.h"
#include "model/handover.h"
#include "model/modelfile.h"
#include "engine/train.h"
#include "search/select.h"

void ensemble_init(Ensemble *e)
{
	memset(e, 0, sizeof *e);
	e->val_accuracy = NAN;
	e->test_accuracy = NAN;
}

void ensemble_free(Ensemble *e)
{
	for (int i = 0; i < e->n; i++)
		model_free(&e->members[i]);
	free(e->members);
	free(e->sources);
	ensemble_init(e);
}

/* Room for one more member; 0 or -1 with err. */
static int grow(Ensemble *e, NashErr *err)
{
	if (e->n == e->cap) {
		int cap = e->cap ? 2 * e->cap : 8;
		Model *mm = realloc(e->members, (size_t)cap * sizeof *mm);
		if (mm)
			e->members = mm;
		char(*ss)[256] = realloc(e->sources, (size_t)cap * sizeof *ss);
		if (ss)
			e->sources = ss;
		if (!mm || !ss)
			return nash_err(err, NASH_ERR_OOM, "out of memory");
		e->cap = cap;
	}
	return 0;
}

int ensemble_same_weights(const uint64_t *hash, int i)
{
	for (int j = 0; j < i; j++)
		if (hash[j] == hash[i])
			return j;
	return -1;
}

int ensemble_add(Ensemble *e, const Model *m, const char *source, NashErr *err)
{
	if (grow(e, err) || model_clone(&e->members[e->n], m, err))
		return -1;
	snprintf(e->sources[e->n], sizeof e->sources[0], "%s", source ? source : "");
	e->n++;
	return 0;
}

/* ensemble_add of a model read here, moved in rather than copied (*m is left empty): a read
   member's weights are as large as its file. */
static int adopt(Ensemble *e, Model *m, const char *source, NashErr *err)
{
	if (grow(e, err)) {
		model_free(m);
		return -1;
	}
	e->members[e->n] = *m;
	model_init(m);
	snprintf(e->sources[e->n], sizeof e->sources[0], "%s", source ? source : "");
	e->n++;
	return 0;
}

/* ---- HDF5 plumbing ---- */

/* A new in-memory file with a process-unique name (the core driver keys open files by name),
   in the checksummed 1.8 formats; no object timestamps, so writing is deterministic. */
static hid_t mem_create(const void *tag, hid_t *gcpl)
{
	char name[80];
	snprintf(name, sizeof name, "nash-ensemble-%p", tag);
	hid_t fcpl = H5Pcreate(H5P_FILE_CREATE), fapl = h5_core_fapl(1), f = -1;
	*gcpl = H5Pcreate(H5P_GROUP_CREATE);
	if (fcpl >= 0 && fapl >= 0 && *gcpl >= 0 && h5_group_props(fcpl) == 0 && h5_group_props(*gcpl) == 0)
		f = H5Fcreate(name, H5F_ACC_EXCL, fcpl, fapl);
	if (fcpl >= 0)
		H5Pclose(fcpl);
	if (fapl >= 0)
		H5Pclose(fapl);
	return f;
}

/* Opens an HDF5 image read-only; -1 when it is not one. */
static hid_t mem_open(const void *buf, size_t len)
{
	char name[80];
	snprintf(name, sizeof name, "nash-ensemble-in-%p", buf);
	hid_t fapl = h5_core_fapl(0), f = -1;
	if (fapl >= 0 && H5Pset_file_image(fapl, (void *)buf, len) >= 0)
		f = H5Fopen(name, H5F_ACC_RDONLY, fapl);
	if (fapl >= 0)
		H5Pclose(fapl);
	return f;
}

/* ---- writing ---- */

/* Member i is written into members/NNN by the model file's own writer: the values, validated
   as for a model file, never HDF5 objects copied from another file. */
static int write_member(hid_t members, hid_t gcpl, const Model *m, const char *source, int i, NashErr *err)
{
	char name[16];
	snprintf(name, sizeof name, "%03d", i);
	hid_t g = H5Gcreate2(members, name, H5P_DEFAULT, gcpl, H5P_DEFAULT);
	if (g < 0)
		return nash_err(err, NASH_ERR_RUNTIME, "HDF5 failed to write member %d of the ensemble", i);
	int rc = modelfile_write_group(g, m, err);
	if (rc) {
		char where[64];
		snprintf(where, sizeof where, "members/%03d", i);
		nash_err_prefix(err, where);
	} else if (h5_write_str(g, "source", source)) {
		rc = nash_err(err, NASH_ERR_RUNTIME, "HDF5 failed to write member %d of the ensemble", i);
	}
	H5Gclose(g);
	return rc;
}

int ensemble_write_mem(const Ensemble *e, void **buf, size_t *len, NashErr *err)
{
	*buf = NULL;
	*len = 0;
	if (e->n < 1)
		return nash_err(err, NASH_ERR_RUNTIME, "an ensemble needs at least one member");
	if (e->n > NASH_MAX_MEMBERS)
		return nash_err(err, NASH_ERR_RUNTIME, "an ensemble holds at most %d members, not %d", NASH_MAX_MEMBERS,
				e->n);
	/* the file records one dataset, the first member's */
	for (int i = 1; i < e->n; i++)
		if (select_comparable(&e->members[0], e->sources[0], &e->members[i], e->sources[i], 0, err))
			return -1;
	H5Quiet q;
	h5_quiet(&q);
	hid_t gcpl = -1, f = mem_create(e, &gcpl), members = -1;
	int rc = -1;
	if (f >= 0 && h5_write_str(f, "format", "nash-ensemble") == 0 &&
	    h5_write_int(f, "format_version", NASH_ENSEMBLE_FORMAT_VERSION) == 0 &&
	    h5_write_int(f, "num_members", e->n) == 0 && h5_write_str(f, "dataset", e->members[0].dataset) == 0 &&
	    h5_write_str(f, "combine", "mean-softmax") == 0 &&
	    (!isfinite(e->val_accuracy) || h5_write_float(f, "val_accuracy", e->val_accuracy) == 0) &&
	    (!isfinite(e->test_accuracy) || h5_write_float(f, "test_accuracy", e->test_accuracy) == 0) &&
	    (members = H5Gcreate2(f, "members", H5P_DEFAULT, gcpl, H5P_DEFAULT)) >= 0) {
		rc = 0;
		for (int i = 0; rc == 0 && i < e->n; i++)
			rc = write_member(members, gcpl, &e->members[i], e->sources[i], i, err);
		if (rc == 0 && !(*buf = h5_file_image(f, len)))
			rc = nash_err(err, NASH_ERR_RUNTIME, "HDF5 failed to serialise the ensemble");
	} else {
		nash_err(err, NASH_ERR_RUNTIME, "HDF5 failed to create the ensemble");
	}
	if (members >= 0)
		H5Gclose(members);
	if (f >= 0)
		H5Fclose(f);
	if (gcpl >= 0)
		H5Pclose(gcpl);
	h5_restore(&q);
	return rc;
}

int ensemble_write(const Ensemble *e, const char *path, NashErr *err)
{
	void *buf;
	size_t len;
	if (ensemble_write_mem(e, &buf, &len, err))
		return nash_err_prefix(err, strcmp(path, "-") ? path : "<stdout>");
	int rc = atomic_write(path, buf, len, err);
	free(buf);
	return rc;
}

/* ---- reading ---- */

/* Reads member i, the group members/NNN, with the model file's reader. */
static int read_member(Ensemble *e, hid_t members, int i, const char *name, const void *image, size_t len, size_t *left,
		       NashErr *err)
{
	char gname[16], where[600], source[256] = "";
	snprintf(gname, sizeof gname, "%03d", i);
	snprintf(where, sizeof where, "%s: members/%s", nash_name(name).s, gname);
	int kind = h5_link_kind(members, gname);
	if (kind != H5_LINK_GROUP)
		return nash_err(err, NASH_ERR_RUNTIME, "%s: %s", where,
				kind == H5_LINK_ABSENT ? "missing" : kind == H5_LINK_DATASET ? "a dataset, expected a group"
												 : h5_link_kind_name(kind));
	hid_t g = H5Gopen2(members, gname, H5P_DEFAULT);
	if (g < 0)
		return nash_err(err, NASH_ERR_RUNTIME, "%s: cannot open the member's group", where);
	int src_rc = h5_read_str(g, "source", source, sizeof source);
	if (src_rc < 0) {
		H5Gclose(g);
		return nash_err(err, NASH_ERR_RUNTIME, "%s: attribute 'source' %s", where,
				src_rc == H5_ATTR_TOO_LONG ? "is longer than 255 characters" : "is not a readable string");
	}
	for (char *c = source; *c; c++)
		if ((unsigned char)*c < 32 || *c == 127)
			*c = '?'; /* a name shown in messages and tables */
	Model m;
	int rc = modelfile_read_group(&m, g, where, image, len, left, err);
	H5Gclose(g);
	if (rc)
		return -1;
	/* the recorded origin, so rewriting an ensemble gives the same file */
	char src[256];
	snprintf(src, sizeof src, "%.200s:members/%s", name, gname);
	return adopt(e, &m, source[0] ? source : src, err);
}

static int read_ensemble(Ensemble *e, hid_t f, const char *name, const void *image, size_t len, NashErr *err)
{
	int version = 0, n = 0;
	if (h5_read_attr(f, "format_version", H5T_INTEGER, H5T_NATIVE_INT, 0, &version, NULL) != H5_ATTR_READ)
		return nash_err(err, NASH_ERR_RUNTIME, "%s: missing or invalid attribute 'format_version'", nash_name(name).s);
	if (version > NASH_ENSEMBLE_FORMAT_VERSION)
		return nash_err(err, NASH_ERR_RUNTIME, "%s: format_version %d is newer than this nash supports (%d)",
				nash_name(name).s, version, NASH_ENSEMBLE_FORMAT_VERSION);
	if (version < 1)
		return nash_err(err, NASH_ERR_RUNTIME, "%s: format_version %d is invalid", nash_name(name).s, version);
	if (h5_read_attr(f, "num_members", H5T_INTEGER, H5T_NATIVE_INT, 0, &n, NULL) != H5_ATTR_READ || n < 1 ||
	    n > NASH_MAX_MEMBERS)
		return nash_err(err, NASH_ERR_RUNTIME, "%s: missing or invalid attribute 'num_members' (1 to %d)",
				nash_name(name).s, NASH_MAX_MEMBERS);
	int kind = h5_link_kind(f, "members");
	if (kind != H5_LINK_GROUP)
		return nash_err(err, NASH_ERR_RUNTIME, "%s: members: %s", nash_name(name).s,
				kind == H5_LINK_ABSENT ? "missing group" : h5_link_kind_name(kind));
	hid_t members = H5Gopen2(f, "members", H5P_DEFAULT);
	if (members < 0)
		return nash_err(err, NASH_ERR_RUNTIME, "%s: cannot open group 'members'", nash_name(name).s);
	H5G_info_t gi;
	int rc = 0;
	if (H5Gget_info(members, &gi) < 0 || gi.nlinks != (hsize_t)n)
		rc = nash_err(err, NASH_ERR_RUNTIME, "%s: group 'members' holds %llu objects, num_members says %d",
			      nash_name(name).s, (unsigned long long)gi.nlinks, n);
	/* every member's data comes out of the one file: together no more than its size */
	size_t left = len;
	for (int i = 0; rc == 0 && i < n; i++)
		rc = read_member(e, members, i, name, image, len, &left, err);
	H5Gclose(members);
	return rc;
}

int ensemble_parse_mem_append(Ensemble *e, const void *buf, size_t len, const char *name, NashErr *err)
{
	H5Quiet q;
	h5_quiet(&q);
	hid_t f = len > 0 ? mem_open(buf, len) : -1;
	char format[64] = "";
	int has_format = f >= 0 ? h5_read_str(f, "format", format, sizeof format) : H5_ATTR_ABSENT;
	int rc;
	if (has_format == H5_ATTR_READ && strcmp(format, "nash-ensemble") == 0) {
		rc = read_ensemble(e, f, name, buf, len, err);
		H5Fclose(f);
	} else {
		/* a model file, or not one: the model reader gives the precise error (on the file
		   already open, which is not opened and copied again) */
		Model m;
		rc = f >= 0 ? modelfile_read_file(&m, f, name, buf, len, err) : model_parse_mem(&m, buf, len, name, err);
		if (f >= 0)
			H5Fclose(f);
		if (rc == 0)
			rc = adopt(e, &m, name, err);
	}
	h5_restore(&q);
	return rc;
}

typedef struct ParseArgs {
	const void *buf;
	size_t len;
	const char *name;
} ParseArgs;

/* The isolated child's part: the file parsed with HDF5 and checked, then its members handed
   over in nash's own form: their number, then each one's source and model (model/handover.h). */
static int parse_and_hand_over(void *arg, WireOut *out, NashErr *err)
{
	const ParseArgs *a = arg;
	Ensemble e;
	ensemble_init(&e);
	int rc = ensemble_parse_mem_append(&e, a->buf, a->len, a->name, err);
	if (rc == 0) {
		wire_reserve(out, a->len + ((size_t)64 << 10)); /* the weights, at most the file's size */
		wire_put_i32(out, e.n);
		for (int i = 0; i < e.n; i++) {
			wire_put_str(out, e.sources[i]);
			model_handover_put(out, &e.members[i]);
		}
	}
	ensemble_free(&e);
	return rc;
}

/* The members the child handed over, checked as untrusted input (model_handover_get), appended
   to e; on failure e is left as it was. */
static int take_members(Ensemble *e, WireIn *r, const char *name, NashErr *err)
{
	int before = e->n, n = wire_get_i32(r), rc = 0;
	if (r->bad || n < 1 || n > NASH_MAX_MEMBERS)
		rc = nash_err(err, NASH_ERR_RUNTIME, "%s: corrupt HDF5 file (its reading process handed back %d members)",
			      nash_name(name).s, n);
	for (int i = 0; rc == 0 && i < n; i++) {
		char source[sizeof e->sources[0]];
		Model m;
		if (wire_get_str(r, source, sizeof source)) {
			rc = nash_err(err, NASH_ERR_RUNTIME, "%s: corrupt HDF5 file (its reading process handed back an invalid source)",
				      nash_name(name).s);
			break;
		}
		if (model_handover_get(r, &m, name, err))
			rc = -1;
		else
			rc = adopt(e, &m, source, err);
	}
	if (rc == 0)
		rc = model_handover_end(r, name, err);
	while (rc && e->n > before)
		model_free(&e->members[--e->n]);
	return rc;
}

/* The file is parsed once, in the isolated child; this process takes the members it hands over
   and checks them as untrusted input, never giving the file itself to HDF5. */
int ensemble_read_mem_append(Ensemble *e, const void *buf, size_t len, const char *name, NashErr *err)
{
	ParseArgs a = {buf, len, name};
	void *report;
	size_t n;
	if (isolate_read(parse_and_hand_over, &a, name, len, model_handover_bound(len), &report, &n, err))
		return -1;
	WireIn r;
	wire_in_init(&r, report, n);
	int rc = take_members(e, &r, name, err);
	free(report);
	return rc;
}

int ensemble_read_append(Ensemble *e, const char *path, NashErr *err)
{
	void *buf;
	size_t len;
	if (read_all(path, &buf, &len, err))
		return -1;
	int rc = ensemble_read_mem_append(e, buf, len, strcmp(path, "-") ? path : "<stdin>", err);
	free(buf);
	return rc;
}

/* ---- evaluation ---- */

int ensemble_check_data(const Ensemble *e, const Dataset *d, int on_test, NashErr *err)
{
	if (e->n < 1)
		return nash_err(err, NASH_ERR_RUNTIME, "an ensemble needs at least one member");
	for (int i = 0; i < e->n; i++) {
		const Model *m = &e->members[i];
		if (m->g.in_c != d->c || m->g.in_h != d->h || m->g.in_w != d->w || m->g.n_classes != d->n_classes)
			return nash_err(err, NASH_ERR_RUNTIME,
					"%s: the model is for %dx%dx%d images in %d classes, the data %s has %dx%dx%d in %d",
					nash_name(e->sources[i]).s, m->g.in_c, m->g.in_h, m->g.in_w, m->g.n_classes, d->name, d->c, d->h,
					d->w, d->n_classes);
		if (select_comparable(&e->members[0], e->sources[0], m, e->sources[i], !on_test, err))
			return -1;
	}
	if (on_test && d->n_test < 1)
		return nash_err(err, NASH_ERR_RUNTIME, "%s: no test images loaded", d->name);
	return 0;
}

int ensemble_evaluate(const Ensemble *e, const Backend *be, const BackendOpts *opts, int batch, const Dataset *d,
		      int on_test, Tta tta, double *member_acc, double *acc, NashErr *err)
{
	if (ensemble_check_data(e, d, on_test, err))
		return -1;
	const uint8_t *x = on_test ? d->test_x : d->train_x, *y = on_test ? d->test_y : d->train_y;
	int n_set = on_test ? d->n_test : d->n_train, begin = 0, count = n_set;
	if (!on_test) {
		Split sp;
		if (data_split(&sp, d, e->members[0].val_size, 0, err))
			return -1;
		begin = sp.val_begin;
		count = sp.val_count;
	}
	if (count < 1)
		return nash_err(err, NASH_ERR_RUNTIME, "%s: no validation images (val_size is 0)", nash_name(e->sources[0]).s);
	int K = d->n_classes;
	float *probs = malloc((size_t)count * K * sizeof *probs); /* [count, K] one member's softmax */
	double *mean = calloc((size_t)count * K, sizeof *mean);   /* [count, K] summed over members */
	if (!probs || !mean) {
		free(probs);
		free(mean);
		return nash_err(err, NASH_ERR_OOM, "out of memory");
	}
	int rc = 0;
	for (int i = 0; rc == 0 && i < e->n; i++) {
		Net net;
		DeviceSet set;
		double loss;
		const Model *m = &e->members[i];
		if (net_create(&net, be, opts, &m->g, batch, m->mean, m->std, err)) {
			rc = nash_err_prefix(err, e->sources[i]);
			break;
		}
		if (net_upload_set(&net, &set, x, y, n_set, err) == 0) {
			if (evaluate(&net, &set, begin, count, tta, &loss, &member_acc[i], probs, err))
				rc = nash_err_prefix(err, e->sources[i]);
			net_free_set(&net, &set);
		} else {
			rc = -1;
		}
		net_free(&net);
		for (size_t k = 0; rc == 0 && k < (size_t)count * K; k++)
			mean[k] += probs[k];
	}
	if (rc == 0) {
		long correct = 0;
		for (int j = 0; j < count; j++) {
			const double *p = mean + (size_t)j * K;
			int best = 0;
			for (int k = 1; k < K; k++)
				best = p[k] > p[best] ? k : best;
			correct += best == y[begin + j];
		}
		*acc = (double)correct / count;
	}
	free(probs);
	free(mean);
	return rc;
}
