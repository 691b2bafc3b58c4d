/* Ensembles and ensemble files. A member is stored by copying the objects and attributes of its
   model file (serialised by model_write_mem) into /members/NNN, and read back by copying them into
   a fresh in-memory file that model_read_mem validates: the model file's layout and checks are
   reused as they are, without knowing them here. */
#include "search/ensemble.h"

#include "base/h5util.h"

#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/atomic.h"
#include "engine/net.h"
#include "engine/train.h"

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

int ensemble_add(Ensemble *e, const Model *m, const char *source, NashErr *err)
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
	if (model_clone(&e->members[e->n], m, err))
		return -1;
	snprintf(e->sources[e->n], sizeof e->sources[0], "%s", source ? source : "");
	e->n++;
	return 0;
}

/* ---- HDF5 plumbing ---- */

/* Property lists for deterministic in-memory files: no object timestamps. */
typedef struct Props {
	hid_t fcpl, fapl, gcpl;
} Props;

static int props_open(Props *p)
{
	p->fcpl = H5Pcreate(H5P_FILE_CREATE);
	p->fapl = h5_core_fapl();
	p->gcpl = H5Pcreate(H5P_GROUP_CREATE);
	if (p->fcpl < 0 || p->fapl < 0 || p->gcpl < 0 || H5Pset_obj_track_times(p->fcpl, 0) < 0 ||
	    H5Pset_obj_track_times(p->gcpl, 0) < 0)
		return -1;
	return 0;
}

static void props_close(Props *p)
{
	if (p->fcpl >= 0)
		H5Pclose(p->fcpl);
	if (p->fapl >= 0)
		H5Pclose(p->fapl);
	if (p->gcpl >= 0)
		H5Pclose(p->gcpl);
}

/* A new in-memory file with a process-unique name (the core driver keys open files by name). */
static hid_t mem_create(const Props *p, const void *tag, int i)
{
	char name[80];
	snprintf(name, sizeof name, "nash-ensemble-%p-%d", tag, i);
	return H5Fcreate(name, H5F_ACC_EXCL, p->fcpl, p->fapl);
}

/* Opens an HDF5 image read-only; -1 when it is not one. */
static hid_t mem_open(const void *buf, size_t len, int i)
{
	char name[80];
	snprintf(name, sizeof name, "nash-ensemble-in-%p-%d", buf, i);
	hid_t fapl = h5_core_fapl(), f = -1;
	if (fapl >= 0 && H5Pset_file_image(fapl, (void *)buf, len) >= 0)
		f = H5Fopen(name, H5F_ACC_RDONLY, fapl);
	if (fapl >= 0)
		H5Pclose(fapl);
	return f;
}

/* The file's bytes (malloc'd) after flushing; NULL on failure. */
static void *mem_image(hid_t f, size_t *len)
{
	if (H5Fflush(f, H5F_SCOPE_GLOBAL) < 0)
		return NULL;
	ssize_t n = H5Fget_file_image(f, NULL, 0);
	void *img = n > 0 ? malloc((size_t)n) : NULL;
	if (img && H5Fget_file_image(f, img, (size_t)n) != n) {
		free(img);
		img = NULL;
	}
	*len = img ? (size_t)n : 0;
	return img;
}

typedef struct AttrCopy {
	hid_t dst;
	const char *skip;
	int bad;
} AttrCopy;

/* Copies one attribute as raw bytes of its own type (variable-length data is not supported:
   model files have none). */
static herr_t copy_attr(hid_t loc, const char *name, const H5A_info_t *info, void *arg)
{
	(void)info;
	AttrCopy *c = arg;
	if (c->skip && strcmp(name, c->skip) == 0)
		return 0;
	hid_t a = H5Aopen(loc, name, H5P_DEFAULT), t = a >= 0 ? H5Aget_type(a) : -1;
	hid_t sp = a >= 0 ? H5Aget_space(a) : -1, na = -1;
	hssize_t np = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : -1;
	void *buf = NULL;
	int ok = t >= 0 && np >= 0 && H5Tdetect_class(t, H5T_VLEN) == 0 && H5Tis_variable_str(t) == 0;
	if (ok) {
		buf = malloc(H5Tget_size(t) * (size_t)(np ? np : 1));
		ok = buf && H5Aread(a, t, buf) >= 0;
	}
	if (ok) {
		na = H5Acreate2(c->dst, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
		ok = na >= 0 && H5Awrite(na, t, buf) >= 0;
	}
	free(buf);
	if (na >= 0)
		H5Aclose(na);
	if (sp >= 0)
		H5Sclose(sp);
	if (t >= 0)
		H5Tclose(t);
	if (a >= 0)
		H5Aclose(a);
	if (!ok) {
		c->bad = 1;
		return -1;
	}
	return 0;
}

/* Copies every object linked from group src and every attribute of src (except skip) into dst. */
static int copy_contents(hid_t src, hid_t dst, const char *skip)
{
	H5G_info_t gi;
	if (H5Gget_info(src, &gi) < 0)
		return -1;
	for (hsize_t i = 0; i < gi.nlinks; i++) {
		char name[256];
		ssize_t l = H5Lget_name_by_idx(src, ".", H5_INDEX_NAME, H5_ITER_INC, i, name, sizeof name, H5P_DEFAULT);
		if (l < 0 || (size_t)l >= sizeof name || H5Ocopy(src, name, dst, name, H5P_DEFAULT, H5P_DEFAULT) < 0)
			return -1;
	}
	AttrCopy c = {.dst = dst, .skip = skip};
	hsize_t idx = 0;
	if (H5Aiterate2(src, H5_INDEX_NAME, H5_ITER_INC, &idx, copy_attr, &c) < 0 || c.bad)
		return -1;
	return 0;
}

/* ---- writing ---- */

static int write_member(hid_t members, const Props *p, const Model *m, const char *source, int i, NashErr *err)
{
	void *img;
	size_t len;
	if (model_write_mem(m, &img, &len, err)) {
		char where[64];
		snprintf(where, sizeof where, "members/%03d", i);
		return nash_err_prefix(err, where);
	}
	hid_t src = mem_open(img, len, i), root = src >= 0 ? H5Gopen2(src, "/", H5P_DEFAULT) : -1, g = -1;
	char name[16];
	snprintf(name, sizeof name, "%03d", i);
	int rc = -1;
	if (root >= 0 && (g = H5Gcreate2(members, name, H5P_DEFAULT, p->gcpl, H5P_DEFAULT)) >= 0 &&
	    copy_contents(root, g, NULL) == 0 && h5_write_str(g, "source", source) == 0)
		rc = 0;
	if (g >= 0)
		H5Gclose(g);
	if (root >= 0)
		H5Gclose(root);
	if (src >= 0)
		H5Fclose(src);
	free(img);
	if (rc)
		nash_err(err, NASH_ERR_RUNTIME, "HDF5 failed to copy member %d into the ensemble", i);
	return rc;
}

int ensemble_write_mem(const Ensemble *e, void **buf, size_t *len, NashErr *err)
{
	*buf = NULL;
	*len = 0;
	if (e->n < 1)
		return nash_err(err, NASH_ERR_RUNTIME, "an ensemble needs at least one member");
	H5Quiet q;
	h5_quiet(&q);
	Props p = {-1, -1, -1};
	hid_t f = -1, members = -1;
	int rc = -1;
	if (props_open(&p) == 0 && (f = mem_create(&p, e, -1)) >= 0 && h5_write_str(f, "format", "nash-ensemble") == 0 &&
	    h5_write_int(f, "format_version", NASH_ENSEMBLE_FORMAT_VERSION) == 0 &&
	    h5_write_int(f, "num_members", e->n) == 0 && h5_write_str(f, "dataset", e->members[0].dataset) == 0 &&
	    h5_write_str(f, "combine", "mean-softmax") == 0 &&
	    (!isfinite(e->val_accuracy) || h5_write_float(f, "val_accuracy", e->val_accuracy) == 0) &&
	    (!isfinite(e->test_accuracy) || h5_write_float(f, "test_accuracy", e->test_accuracy) == 0) &&
	    (members = H5Gcreate2(f, "members", H5P_DEFAULT, p.gcpl, H5P_DEFAULT)) >= 0) {
		rc = 0;
		for (int i = 0; rc == 0 && i < e->n; i++)
			rc = write_member(members, &p, &e->members[i], e->sources[i], i, err);
		if (rc == 0 && !(*buf = mem_image(f, len)))
			rc = nash_err(err, NASH_ERR_RUNTIME, "HDF5 failed to serialise the ensemble");
	} else {
		nash_err(err, NASH_ERR_RUNTIME, "HDF5 failed to create the ensemble");
	}
	if (members >= 0)
		H5Gclose(members);
	if (f >= 0)
		H5Fclose(f);
	props_close(&p);
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

/* Rebuilds member i of an open ensemble as a model file image and reads it. */
static int read_member(Ensemble *e, hid_t members, const Props *p, int i, const char *name, NashErr *err)
{
	char gname[16], where[600], source[256] = "";
	snprintf(gname, sizeof gname, "%03d", i);
	snprintf(where, sizeof where, "%s: members/%s", name, gname);
	if (H5Lexists(members, gname, H5P_DEFAULT) <= 0)
		return nash_err(err, NASH_ERR_RUNTIME, "%s: missing", where);
	hid_t g = H5Gopen2(members, gname, H5P_DEFAULT), f = -1, root = -1;
	void *img = NULL;
	size_t len = 0;
	int src_rc = g >= 0 ? h5_read_str(g, "source", source, sizeof source) : H5_ATTR_UNREADABLE;
	if (src_rc == H5_ATTR_TOO_LONG) {
		H5Gclose(g);
		return nash_err(err, NASH_ERR_RUNTIME, "%s: attribute 'source' is longer than %zu characters", where,
				sizeof source - 1);
	}
	if (src_rc >= 0 && (f = mem_create(p, e, i)) >= 0 &&
	    (root = H5Gopen2(f, "/", H5P_DEFAULT)) >= 0 && copy_contents(g, root, "source") == 0)
		img = mem_image(f, &len);
	if (root >= 0)
		H5Gclose(root);
	if (f >= 0)
		H5Fclose(f);
	if (g >= 0)
		H5Gclose(g);
	if (!img)
		return nash_err(err, NASH_ERR_RUNTIME, "%s: cannot read the member's group", where);
	Model m;
	int rc = model_read_mem(&m, img, len, where, err);
	free(img);
	if (rc)
		return -1;
	/* the recorded origin, so rewriting an ensemble gives the same file */
	char src[256];
	snprintf(src, sizeof src, "%.200s:members/%s", name, gname);
	rc = ensemble_add(e, &m, source[0] ? source : src, err);
	model_free(&m);
	return rc;
}

static int read_ensemble(Ensemble *e, hid_t f, const char *name, NashErr *err)
{
	int version = 0, n = 0;
	if (h5_read_attr(f, "format_version", H5T_INTEGER, H5T_NATIVE_INT, 0, &version, NULL) != H5_ATTR_READ)
		return nash_err(err, NASH_ERR_RUNTIME, "%s: missing or invalid attribute 'format_version'", name);
	if (version > NASH_ENSEMBLE_FORMAT_VERSION)
		return nash_err(err, NASH_ERR_RUNTIME, "%s: format_version %d is newer than this nash supports (%d)",
				name, version, NASH_ENSEMBLE_FORMAT_VERSION);
	if (version < 1)
		return nash_err(err, NASH_ERR_RUNTIME, "%s: format_version %d is invalid", name, version);
	if (h5_read_attr(f, "num_members", H5T_INTEGER, H5T_NATIVE_INT, 0, &n, NULL) != H5_ATTR_READ || n < 1)
		return nash_err(err, NASH_ERR_RUNTIME, "%s: missing or invalid attribute 'num_members'", name);
	hid_t members = H5Lexists(f, "members", H5P_DEFAULT) > 0 ? H5Gopen2(f, "members", H5P_DEFAULT) : -1;
	if (members < 0)
		return nash_err(err, NASH_ERR_RUNTIME, "%s: missing group 'members'", name);
	H5G_info_t gi;
	int rc = 0;
	if (H5Gget_info(members, &gi) < 0 || gi.nlinks != (hsize_t)n)
		rc = nash_err(err, NASH_ERR_RUNTIME, "%s: group 'members' holds %llu objects, num_members says %d",
			      name, (unsigned long long)gi.nlinks, n);
	Props p = {-1, -1, -1};
	if (rc == 0 && props_open(&p))
		rc = nash_err(err, NASH_ERR_RUNTIME, "%s: HDF5 failed", name);
	for (int i = 0; rc == 0 && i < n; i++)
		rc = read_member(e, members, &p, i, name, err);
	props_close(&p);
	H5Gclose(members);
	return rc;
}

int ensemble_read_mem_append(Ensemble *e, const void *buf, size_t len, const char *name, NashErr *err)
{
	H5Quiet q;
	h5_quiet(&q);
	hid_t f = len > 0 ? mem_open(buf, len, -1) : -1;
	char format[64] = "";
	int has_format = f >= 0 ? h5_read_str(f, "format", format, sizeof format) : H5_ATTR_ABSENT;
	int rc;
	if (has_format == H5_ATTR_READ && strcmp(format, "nash-ensemble") == 0) {
		rc = read_ensemble(e, f, name, err);
		H5Fclose(f);
	} else {
		/* a model file, or not one: the model reader gives the precise error */
		if (f >= 0)
			H5Fclose(f);
		Model m;
		rc = model_read_mem(&m, buf, len, name, err);
		if (rc == 0) {
			rc = ensemble_add(e, &m, name, err);
			model_free(&m);
		}
	}
	h5_restore(&q);
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
					e->sources[i], m->g.in_c, m->g.in_h, m->g.in_w, m->g.n_classes, d->name, d->c, d->h,
					d->w, d->n_classes);
		if (!on_test && m->val_size != e->members[0].val_size)
			return nash_err(err, NASH_ERR_RUNTIME,
					"%s: holds out %d validation images, %s holds out %d: they cannot be compared on "
					"the validation split (use the test set)",
					e->sources[i], m->val_size, e->sources[0], e->members[0].val_size);
	}
	if (on_test && d->n_test < 1)
		return nash_err(err, NASH_ERR_RUNTIME, "%s: no test images loaded", d->name);
	return 0;
}

int ensemble_evaluate(const Ensemble *e, const Backend *be, const BackendOpts *opts, int batch, const Dataset *d,
		      int on_test, double *member_acc, double *acc, NashErr *err)
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
		return nash_err(err, NASH_ERR_RUNTIME, "%s: no validation images (val_size is 0)", e->sources[0]);
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
			if (evaluate(&net, &set, begin, count, &loss, &member_acc[i], probs, err))
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
