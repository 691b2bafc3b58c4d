/* The HDF5 dataset file (docs/DATASETS.md): the reader (the writer is data_h5_write.c). Images are stored N x H x W x C
   (numpy's, h5py's and PIL's layout) and held [n, c, h, w]; the reader converts a block of
   images at a time. Everything read is checked, and every error names the file and the object. */
#include "data/data.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>

#include <hdf5.h>

#include "base/atomic.h"
#include "base/classnames.h"
#include "base/h5util.h"
#include "base/isolate.h"
#include "data/data_h5.h"


typedef struct Rd {
	const char *file;
	NashErr *err;
} Rd;

static int rfail(const Rd *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int rfail(const Rd *r, const char *fmt, ...)
{
	char msg[sizeof r->err->msg];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return nash_err(r->err, NASH_ERR_RUNTIME, "%s: %s", nash_name(r->file).s, msg);
}

static int room(const Rd *r)
{
	return nash_err(r->err, NASH_ERR_OOM, "%s: out of memory", r->file);
}

/* "uint8", "int64", "float32", "a string", ... for messages. */
static void type_name(char *out, size_t n, hid_t t)
{
	H5T_class_t cls = H5Tget_class(t);
	size_t bits = H5Tget_size(t) * 8;
	if (cls == H5T_INTEGER)
		snprintf(out, n, "%sint%zu", H5Tget_sign(t) == H5T_SGN_NONE ? "u" : "", bits);
	else if (cls == H5T_FLOAT)
		snprintf(out, n, "float%zu", bits);
	else if (cls == H5T_STRING)
		snprintf(out, n, "a string");
	else
		snprintf(out, n, "an HDF5 type of class %d", (int)cls);
}

/* Whether type t (an attribute's or a dataset's; closed here) is an unsigned integer: nash reads
   it as uint64 then, since HDF5 would clamp a uint64 above INT64_MAX to INT64_MAX as int64. */
static int is_unsigned(hid_t t)
{
	int u = t >= 0 && H5Tget_class(t) == H5T_INTEGER && H5Tget_sign(t) == H5T_SGN_NONE;
	if (t >= 0)
		H5Tclose(t);
	return u;
}

/* Whether v, read as int64 or (unsigned) as uint64, lies in lo..hi (lo >= 0); *text: its value
   as the file holds it, for messages. */
static int int_in(int64_t v, int unsigned_, int64_t lo, int64_t hi, char *text, size_t n)
{
	if (unsigned_) {
		snprintf(text, n, "%llu", (unsigned long long)(uint64_t)v);
		return (uint64_t)v >= (uint64_t)lo && (uint64_t)v <= (uint64_t)hi;
	}
	snprintf(text, n, "%lld", (long long)v);
	return v >= lo && v <= hi;
}

/* ---- attributes ---- */

/* Opens attribute `name` of the root; 1 with *a open, 0 when absent and optional, -1 on error. */
static int open_attr(const Rd *r, hid_t loc, const char *name, int optional, hid_t *a)
{
	htri_t ex = H5Aexists(loc, name);
	if (ex < 0)
		return rfail(r, "cannot read attribute '%s'", name);
	if (ex == 0)
		return optional ? 0 : rfail(r, "missing attribute '%s'", name);
	*a = H5Aopen(loc, name, H5P_DEFAULT);
	return *a < 0 ? rfail(r, "cannot read attribute '%s'", name) : 1;
}

/* Values in the attribute: a scalar or a 1-D array; -1 for anything else. */
static hssize_t attr_count(hid_t a)
{
	hid_t sp = H5Aget_space(a);
	int rank = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
	hssize_t n = rank == 0 || rank == 1 ? H5Sget_simple_extent_npoints(sp) : -1;
	if (sp >= 0)
		H5Sclose(sp);
	return n;
}

/* String attribute: a scalar (max_n = 1) or up to max_n values, into out[max_n][cap].
   Fixed- or variable-length, ASCII or UTF-8 (h5py writes a str as variable-length UTF-8). */
static int r_strings(const Rd *r, hid_t loc, const char *name, char *out, int max_n, size_t cap,
		     int *n_out, int optional)
{
	hid_t a;
	int rc = open_attr(r, loc, name, optional, &a);
	if (rc <= 0)
		return rc;
	hid_t t = H5Aget_type(a), mt = H5Tcopy(H5T_C_S1);
	hssize_t n = attr_count(a);
	char **vs = NULL, *fixed = NULL;
	size_t sz = 0;
	int vlen = 0;
	if (t < 0 || mt < 0 || n < 0) {
		rc = rfail(r, "cannot read attribute '%s'", name);
		goto done;
	}
	if (H5Tget_class(t) != H5T_STRING) {
		char tn[64];
		type_name(tn, sizeof tn, t);
		rc = rfail(r, "attribute '%s' is %s, expected a string", name, tn);
		goto done;
	}
	if (n < 1 || n > max_n) {
		rc = max_n == 1 ? rfail(r, "attribute '%s' holds %lld strings, expected one", name, (long long)n)
				: rfail(r, "attribute '%s' holds %lld strings, expected 1 to %d", name, (long long)n, max_n);
		goto done;
	}
	vlen = H5Tis_variable_str(t) > 0;
	sz = vlen ? 0 : H5Tget_size(t);
	/* the memory type takes the file's character set: HDF5 converts none into another */
	if (h5_str_cset_like(mt, t) < 0 || H5Tset_size(mt, vlen ? H5T_VARIABLE : sz + 1) < 0) {
		rc = rfail(r, "cannot read attribute '%s'", name);
		goto done;
	}
	if (vlen)
		vs = calloc((size_t)n, sizeof *vs);
	else
		fixed = calloc((size_t)n, sz + 1); /* one spare byte: a NULLPAD string fills its size */
	if (!vs && !fixed) {
		rc = room(r);
		goto done;
	}
	if (H5Aread(a, mt, vlen ? (void *)vs : (void *)fixed) < 0) {
		rc = rfail(r, "cannot read attribute '%s'", name);
		goto done;
	}
	for (hssize_t i = 0; i < n && rc > 0; i++) {
		const char *s = vlen ? vs[i] : fixed + (size_t)i * (sz + 1);
		if (!s)
			s = "";
		if (strlen(s) >= cap)
			rc = rfail(r, "attribute '%s': string %lld is longer than %zu bytes", name, (long long)i, cap - 1);
		else
			memcpy(out + (size_t)i * cap, s, strlen(s) + 1);
	}
	*n_out = (int)n;
done:
	if (vs) {
		for (hssize_t i = 0; i < n; i++)
			if (vs[i])
				H5free_memory(vs[i]);
		free(vs);
	}
	free(fixed);
	if (mt >= 0)
		H5Tclose(mt);
	if (t >= 0)
		H5Tclose(t);
	H5Aclose(a);
	return rc;
}

/* Numeric attribute of class cls: exactly n values (scalar or 1-D), converted to mtype. */
static int r_numbers(const Rd *r, hid_t loc, const char *name, H5T_class_t cls, hid_t mtype, int n,
		     void *out, int optional)
{
	hid_t a;
	int rc = open_attr(r, loc, name, optional, &a);
	if (rc <= 0)
		return rc;
	hid_t t = H5Aget_type(a);
	hssize_t np = attr_count(a);
	char tn[64] = "";
	if (t >= 0)
		type_name(tn, sizeof tn, t);
	if (t < 0 || np < 0)
		rc = rfail(r, "cannot read attribute '%s'", name);
	else if (!h5_standard_number(t, cls))
		rc = rfail(r, "attribute '%s' is %s, expected %s", name, tn, cls == H5T_INTEGER ? "an integer" : "a float");
	else if (np != n)
		rc = rfail(r, "attribute '%s' holds %lld values, expected %d", name, (long long)np, n);
	else if (H5Aread(a, mtype, out) < 0)
		rc = rfail(r, "cannot read attribute '%s'", name);
	if (t >= 0)
		H5Tclose(t);
	H5Aclose(a);
	return rc;
}

/* ---- datasets ---- */

/* Whether dataset d's stored bytes can hold what its shape declares: all of it unfiltered, at
   most 1100 times as much when compressed. */
static int room_for(hid_t d, hid_t t, hid_t sp)
{
	hid_t dcpl = H5Dget_create_plist(d);
	int filtered = dcpl >= 0 && H5Pget_nfilters(dcpl) > 0;
	if (dcpl >= 0)
		H5Pclose(dcpl);
	double need = (double)H5Sget_simple_extent_npoints(sp) * (double)H5Tget_size(t);
	double have = (double)H5Dget_storage_size(d) * (filtered ? 1100.0 : 1.0);
	return need <= have;
}

/* Opens dataset `path` ("train/images") and checks its class (uint8 pixels, or any integer
   when !pixels), rank and that all of it was written; dims[rank] out. */

/* Whether every element of the dataset was ever written. HDF5's space status compares the
   stored bytes with the full size, so a compressed chunked dataset reads as "part allocated"
   even when whole: for a chunked one count its chunks instead (each written chunk is stored; HDF5 1.10 needs the file space, not H5S_ALL). */
static int all_written(hid_t ds, hid_t sp, H5D_space_status_t *st)
{
	if (H5Dget_space_status(ds, st) < 0)
		return 0;
	if (*st == H5D_SPACE_STATUS_ALLOCATED)
		return 1;
	hid_t dcpl = H5Dget_create_plist(ds);
	int ok = 0;
	if (dcpl >= 0 && H5Pget_layout(dcpl) == H5D_CHUNKED) {
		hsize_t dims[H5S_MAX_RANK], chunk[H5S_MAX_RANK], have = 0, want = 1;
		int rk = H5Sget_simple_extent_ndims(sp);
		if (rk > 0 && rk <= H5S_MAX_RANK && H5Sget_simple_extent_dims(sp, dims, NULL) == rk &&
		    H5Pget_chunk(dcpl, rk, chunk) == rk && H5Dget_num_chunks(ds, sp, &have) >= 0) {
			for (int k = 0; k < rk; k++)
				want *= chunk[k] ? (dims[k] + chunk[k] - 1) / chunk[k] : 0;
			ok = want > 0 && have == want;
		}
	}
	if (dcpl >= 0)
		H5Pclose(dcpl);
	return ok;
}
static int open_set(const Rd *r, hid_t f, const char *group, const char *name, int rank, int pixels,
		    hsize_t *dims, hid_t *ds)
{
	char path[64], why[160];
	snprintf(path, sizeof path, "%s/%s", group, name);
	/* only hard links within the file, and no data from outside it (docs/FORMAT.md, "Security") */
	int kind = h5_link_kind(f, group);
	if (kind != H5_LINK_GROUP)
		return kind == H5_LINK_ABSENT ? rfail(r, "missing group '%s'", group)
					      : rfail(r, "%s: %s, expected a group", group, h5_link_kind_name(kind));
	hid_t g = H5Gopen2(f, group, H5P_DEFAULT);
	kind = g >= 0 ? h5_link_kind(g, name) : H5_LINK_UNREADABLE;
	if (kind != H5_LINK_DATASET) {
		if (g >= 0)
			H5Gclose(g);
		return kind == H5_LINK_ABSENT ? rfail(r, "missing dataset '%s'", path)
		       : kind == H5_LINK_GROUP ? rfail(r, "'%s' is not a dataset", path)
					       : rfail(r, "%s: %s", path, h5_link_kind_name(kind));
	}
	*ds = h5_open_dataset(g, name, H5_ALLOW_DEFLATE | H5_ALLOW_SHUFFLE | H5_ALLOW_FLETCHER32, why, sizeof why);
	H5Gclose(g);
	if (*ds < 0)
		return rfail(r, "%s: %s", path, why);
	hid_t t = *ds >= 0 ? H5Dget_type(*ds) : -1, sp = *ds >= 0 ? H5Dget_space(*ds) : -1;
	int rk = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1, rc = 0;
	H5D_space_status_t st = H5D_SPACE_STATUS_ERROR;
	char tn[64] = "";
	if (t >= 0)
		type_name(tn, sizeof tn, t);
	if (*ds < 0 || t < 0 || sp < 0 || rk < 0)
		rc = rfail(r, "%s: cannot read the dataset", path);
	else if (pixels && (!h5_standard_number(t, H5T_INTEGER) || H5Tget_size(t) != 1 || H5Tget_sign(t) != H5T_SGN_NONE))
		rc = rfail(r, "%s: the pixels are %s, expected uint8", path, tn);
	else if (!pixels && !h5_standard_number(t, H5T_INTEGER))
		rc = rfail(r, "%s: the labels are %s, expected integers", path, tn);
	else if (rk != rank)
		rc = rfail(r, "%s: rank %d, expected %d (%s)", path, rk, rank, pixels ? "N x H x W x C" : "N");
	else if (H5Sget_simple_extent_dims(sp, dims, NULL) < 0)
		rc = rfail(r, "%s: cannot read the dataset's shape", path);
	else if (dims[0] == 0)
		rc = rfail(r, "%s: no images (N = 0); both the train and the test set must hold some", path);
	else if (dims[0] > INT_MAX)
		rc = rfail(r, "%s: %llu images, more than %d", path, (unsigned long long)dims[0], INT_MAX);
	else if (!all_written(*ds, sp, &st))
		/* a chunked dataset of which some chunks were never written reads as fill values */
		rc = rfail(r, "%s: incomplete: %s of its data was ever written", path,
			   st == H5D_SPACE_STATUS_NOT_ALLOCATED ? "none" : "only part");
	else if (rc == 0 && !room_for(*ds, t, sp))
		/* deflate packs at most about 1032:1: a file cannot unpack to more than that */
		rc = rfail(r, "%s: declares %llu bytes, more than its %llu stored bytes can hold", path,
			   (unsigned long long)H5Sget_simple_extent_npoints(sp) * H5Tget_size(t),
			   (unsigned long long)H5Dget_storage_size(*ds));
	if (sp >= 0)
		H5Sclose(sp);
	if (t >= 0)
		H5Tclose(t);
	if (rc < 0 && *ds >= 0) {
		H5Dclose(*ds);
		*ds = -1;
	}
	return rc;
}

/* One set's metadata: images [n, h, w, c] and labels [n]. */
typedef struct SetInfo {
	hid_t images, labels;
	int n, h, w, c;
} SetInfo;

static void set_close(SetInfo *s)
{
	if (s->images >= 0)
		H5Dclose(s->images);
	if (s->labels >= 0)
		H5Dclose(s->labels);
	s->images = s->labels = -1;
}

static int set_open(const Rd *r, hid_t f, const char *group, SetInfo *s)
{
	hsize_t di[4], dl[1];
	s->images = s->labels = -1;
	if (open_set(r, f, group, "images", 4, 1, di, &s->images) ||
	    open_set(r, f, group, "labels", 1, 0, dl, &s->labels)) {
		set_close(s);
		return -1;
	}
	if (di[1] < 1 || di[1] > MAX_SIDE || di[2] < 1 || di[2] > MAX_SIDE || di[3] < 1 || di[3] > NASH_MAX_CHANNELS) {
		set_close(s);
		return rfail(r, "%s/images: images of %llux%llux%llu (H x W x C); H and W must be 1..%d, C 1..%d",
			     group, (unsigned long long)di[1], (unsigned long long)di[2], (unsigned long long)di[3],
			     MAX_SIDE, NASH_MAX_CHANNELS);
	}
	if (dl[0] != di[0]) {
		set_close(s);
		return rfail(r, "%s: %llu labels for %llu images", group, (unsigned long long)dl[0],
			     (unsigned long long)di[0]);
	}
	s->n = (int)di[0], s->h = (int)di[1], s->w = (int)di[2], s->c = (int)di[3];
	return 0;
}

/* Reads a set's pixels into x [n, c, h, w] and labels into y [n], checking label range. */
static int set_read(const Rd *r, const char *group, const SetInfo *s, int n_classes, uint8_t **x, uint8_t **y)
{
	size_t img = (size_t)s->h * s->w * s->c, hw = (size_t)s->h * s->w;
	size_t block = BLOCK_PIXELS / img ? BLOCK_PIXELS / img : 1;
	if (block > (size_t)s->n)
		block = (size_t)s->n;
	*x = malloc((size_t)s->n * img);
	*y = malloc((size_t)s->n);
	uint8_t *nhwc = malloc(block * img); /* [block, h, w, c] */
	int64_t *lab = malloc((size_t)s->n * sizeof *lab); /* [n] */
	hid_t fsp = H5Dget_space(s->images), msp = -1;
	int rc = 0;
	if (!*x || !*y || !nhwc || !lab) {
		rc = room(r);
		goto done;
	}
	for (size_t i = 0; i < (size_t)s->n && rc == 0; i += block) {
		size_t b = (size_t)s->n - i < block ? (size_t)s->n - i : block;
		hsize_t start[4] = { i, 0, 0, 0 }, count[4] = { b, (hsize_t)s->h, (hsize_t)s->w, (hsize_t)s->c };
		msp = H5Screate_simple(4, count, NULL);
		if (fsp < 0 || msp < 0 || H5Sselect_hyperslab(fsp, H5S_SELECT_SET, start, NULL, count, NULL) < 0 ||
		    H5Dread(s->images, H5T_NATIVE_UINT8, msp, fsp, H5P_DEFAULT, nhwc) < 0)
			rc = rfail(r, "%s/images: cannot read images %zu..%zu", group, i, i + b - 1);
		H5Sclose(msp);
		for (size_t k = 0; k < b && rc == 0; k++) {
			const uint8_t *src = nhwc + k * img;
			uint8_t *dst = *x + (i + k) * img;
			for (size_t p = 0; p < hw; p++)
				for (int ch = 0; ch < s->c; ch++)
					dst[(size_t)ch * hw + p] = src[p * (size_t)s->c + (size_t)ch];
		}
	}
	int uns = is_unsigned(H5Dget_type(s->labels));
	if (rc == 0 && H5Dread(s->labels, uns ? H5T_NATIVE_UINT64 : H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT,
			       lab) < 0)
		rc = rfail(r, "%s/labels: cannot read the labels", group);
	for (int i = 0; i < s->n && rc == 0; i++) {
		char v[24];
		if (!int_in(lab[i], uns, 0, n_classes - 1, v, sizeof v))
			rc = rfail(r, "%s/labels: label %s at index %d out of range (%d classes)", group, v, i,
				   n_classes);
		else
			(*y)[i] = (uint8_t)lab[i];
	}
done:
	if (fsp >= 0)
		H5Sclose(fsp);
	free(nhwc);
	free(lab);
	if (rc) {
		free(*x);
		free(*y);
		*x = *y = NULL;
	}
	return rc;
}

static int load_root(const Rd *r, hid_t f, Dataset *d)
{
	char fmt[64];
	int n1;
	int64_t version;
	if (r_strings(r, f, "format", fmt, 1, sizeof fmt, &n1, 0) < 0)
		return -1;
	if (strcmp(fmt, NASH_DATASET_FORMAT))
		return rfail(r, "attribute 'format' is '%s', expected '%s' (not a nash dataset file)", fmt,
			     NASH_DATASET_FORMAT);
	hid_t va = H5Aexists(f, "format_version") > 0 ? H5Aopen(f, "format_version", H5P_DEFAULT) : -1;
	int uns = va >= 0 && is_unsigned(H5Aget_type(va));
	if (va >= 0)
		H5Aclose(va);
	if (r_numbers(r, f, "format_version", H5T_INTEGER, uns ? H5T_NATIVE_UINT64 : H5T_NATIVE_INT64, 1, &version,
		      0) < 0)
		return -1;
	char v[24];
	int newer = uns ? (uint64_t)version > NASH_DATASET_VERSION : version > NASH_DATASET_VERSION;
	if (!int_in(version, uns, 1, NASH_DATASET_VERSION, v, sizeof v))
		return rfail(r, "format_version %s: this nash reads dataset files of version 1%s", v,
			     newer ? " (the file is newer)" : "");
	if (r_strings(r, f, "name", d->name, 1, sizeof d->name, &n1, 0) < 0)
		return -1;
	if (!dataset_name_ok(d->name))
		return rfail(r, "attribute 'name' is '%s': expected 1 to 63 of the characters A-Z a-z 0-9 . _ + -, one a letter or digit",
			     d->name);
	d->class_names = calloc(NASH_MAX_CLASSES, NASH_CLASS_NAME_MAX);
	if (!d->class_names)
		return room(r);
	if (r_strings(r, f, "class_names", d->class_names, NASH_MAX_CLASSES, NASH_CLASS_NAME_MAX,
		      &d->n_classes, 0) < 0)
		return -1;
	if (d->n_classes < 2)
		return rfail(r, "attribute 'class_names' names %d class; a classifier needs at least 2", d->n_classes);
	if (class_names_check(d->class_names, d->n_classes, r->err))
		return nash_err_prefix(r->err, r->file);
	return 0;
}

static int load_norm(const Rd *r, hid_t f, Dataset *d)
{
	int hm = r_numbers(r, f, "norm_mean", H5T_FLOAT, H5T_NATIVE_FLOAT, d->c, d->norm_mean, 1);
	if (hm < 0)
		return -1;
	int hs = r_numbers(r, f, "norm_std", H5T_FLOAT, H5T_NATIVE_FLOAT, d->c, d->norm_std, 1);
	if (hs < 0)
		return -1;
	if (hm != hs)
		return rfail(r, "attribute '%s' without '%s': give both or neither", hm ? "norm_mean" : "norm_std",
			     hm ? "norm_std" : "norm_mean");
	for (int ch = 0; hm && ch < d->c; ch++) {
		if (!isfinite(d->norm_mean[ch]) || d->norm_mean[ch] < 0 || d->norm_mean[ch] > 1)
			return rfail(r, "norm_mean[%d] = %g: expected a mean on the pixel scale 0..1", ch, d->norm_mean[ch]);
		if (!isfinite(d->norm_std[ch]) || !(d->norm_std[ch] > 0))
			return rfail(r, "norm_std[%d] = %g: expected a positive standard deviation", ch, d->norm_std[ch]);
	}
	d->has_norm = hm;
	return 0;
}

/* Reads the dataset file f (open); path names it in messages. */
static int load_h5(Dataset *d, hid_t f, const char *path, int want_test, NashErr *err)
{
	Rd r = { path, err };
	SetInfo tr = { -1, -1, 0, 0, 0, 0 }, te = { -1, -1, 0, 0, 0, 0 };
	int rc = -1;
	if (load_root(&r, f, d) || set_open(&r, f, "train", &tr) || set_open(&r, f, "test", &te))
		goto done;
	if (te.h != tr.h || te.w != tr.w || te.c != tr.c) {
		rfail(&r, "test/images holds %dx%dx%d images but train/images %dx%dx%d (H x W x C)", te.h, te.w,
		      te.c, tr.h, tr.w, tr.c);
		goto done;
	}
	d->c = tr.c, d->h = tr.h, d->w = tr.w;
	if (load_norm(&r, f, d) || set_read(&r, "train", &tr, d->n_classes, &d->train_x, &d->train_y))
		goto done;
	d->n_train = tr.n;
	if (want_test) {
		if (set_read(&r, "test", &te, d->n_classes, &d->test_x, &d->test_y))
			goto done;
		d->n_test = te.n;
	}
	rc = 0;
done:
	set_close(&tr);
	set_close(&te);
	return rc;
}

/* Opens the file at path, or the file image buf[len] when buf is given, and reads it. */
static int open_and_load(Dataset *d, const char *path, const void *buf, size_t len, int want_test,
			 NashErr *err)
{
	Rd r = { path, err };
	memset(d, 0, sizeof *d);
	if (snprintf(d->dir, sizeof d->dir, "%s", path) >= (int)sizeof d->dir)
		return nash_err(err, NASH_ERR_USAGE, "%s: path too long", nash_name(path).s);
	H5Quiet q;
	h5_quiet(&q);
	int rc = -1;
	hid_t fapl = H5P_DEFAULT, f = -1;
	if (buf && ((fapl = h5_core_fapl(0)) < 0 || H5Pset_file_image(fapl, (void *)buf, len) < 0))
		rfail(&r, "cannot open the file image");
	else if ((f = H5Fopen(path, H5F_ACC_RDONLY, fapl)) < 0)
		rfail(&r, "not an HDF5 file (or a damaged one)");
	else
		rc = load_h5(d, f, path, want_test, err);
	if (f >= 0 && H5Fclose(f) < 0 && rc == 0)
		rc = rfail(&r, "cannot close the file");
	if (fapl != H5P_DEFAULT && fapl >= 0)
		H5Pclose(fapl);
	h5_restore(&q);
	if (rc)
		dataset_free(d);
	return rc;
}

int dataset_parse_h5_mem(Dataset *d, const void *buf, size_t len, const char *name, int want_test, NashErr *err)
{
	return open_and_load(d, name, buf, len, want_test, err);
}

typedef struct LoadArgs {
	const char *path;
	int want_test;
} LoadArgs;

static int load_and_drop(void *arg, NashErr *err)
{
	const LoadArgs *a = arg;
	Dataset d;
	int rc = open_and_load(&d, a->path, NULL, 0, a->want_test, err);
	if (rc == 0)
		dataset_free(&d);
	return rc;
}

/* Read first in a separate process (base/isolate.h): a crash, a spin or a memory bomb inside
   HDF5 on a crafted file becomes "FILE: corrupt HDF5 file (...)". The file is read from disk
   twice; a file replaced between the two reads is a race this does not cover (the model
   readers read an image in memory). */
int dataset_load_h5(Dataset *d, const char *path, int want_test, NashErr *err)
{
	LoadArgs a = {path, want_test};
	memset(d, 0, sizeof *d);
	struct stat st;
	if (stat(path, &st) < 0)
		return nash_err(err, NASH_ERR_RUNTIME, "%s: %s", nash_name(path).s, strerror(errno));
	if (S_ISDIR(st.st_mode) && data_path_hint(err, NASH_ERR_RUNTIME, path, 1) == 0)
		return -1;
	if (!S_ISREG(st.st_mode))
		return nash_err(err, NASH_ERR_RUNTIME, "%s: not a regular file", nash_name(path).s);
	if (isolate_check(load_and_drop, &a, path, (size_t)st.st_size, err))
		return -1;
	return open_and_load(d, path, NULL, 0, want_test, err);
}
