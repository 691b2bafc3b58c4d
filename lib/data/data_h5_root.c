/* The HDF5 dataset file's root attributes (docs/DATASETS.md), read from an untrusted file: strings
   (fixed- or variable-length, any character set) and numbers of any standard type, each checked
   before it is read; the format, version, name, class names and normalisation they hold. The
   image and label sets, and the reading of a file as a whole, are in data_h5.c. */
#include "data/data.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hdf5.h>

#include "base/classnames.h"
#include "base/h5util.h"
#include "data/data_h5_read.h"

int data_h5_fail(const Rd *r, const char *fmt, ...)
{
	char msg[sizeof r->err->msg];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return nash_err(r->err, NASH_ERR_RUNTIME, "%s: %s", nash_name(r->file).s, msg);
}

int data_h5_oom(const Rd *r)
{
	return nash_err(r->err, NASH_ERR_OOM, "%s: out of memory", r->file);
}

/* "uint8", "int64", "float32", "a string", ... for messages. */
void data_h5_type_name(char *out, size_t n, hid_t t)
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
int data_h5_is_unsigned(hid_t t)
{
	int u = t >= 0 && H5Tget_class(t) == H5T_INTEGER && H5Tget_sign(t) == H5T_SGN_NONE;
	if (t >= 0)
		H5Tclose(t);
	return u;
}

/* Whether v, read as int64 or (unsigned) as uint64, lies in lo..hi (lo >= 0); *text: its value
   as the file holds it, for messages. */
int data_h5_int_in(int64_t v, int unsigned_, int64_t lo, int64_t hi, char *text, size_t n)
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
		return data_h5_fail(r, "cannot read attribute '%s'", name);
	if (ex == 0)
		return optional ? 0 : data_h5_fail(r, "missing attribute '%s'", name);
	*a = H5Aopen(loc, name, H5P_DEFAULT);
	return *a < 0 ? data_h5_fail(r, "cannot read attribute '%s'", name) : 1;
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
		rc = data_h5_fail(r, "cannot read attribute '%s'", name);
		goto done;
	}
	if (H5Tget_class(t) != H5T_STRING) {
		char tn[64];
		data_h5_type_name(tn, sizeof tn, t);
		rc = data_h5_fail(r, "attribute '%s' is %s, expected a string", name, tn);
		goto done;
	}
	if (n < 1 || n > max_n) {
		rc = max_n == 1 ? data_h5_fail(r, "attribute '%s' holds %lld strings, expected one", name, (long long)n)
				: data_h5_fail(r, "attribute '%s' holds %lld strings, expected 1 to %d", name, (long long)n, max_n);
		goto done;
	}
	vlen = H5Tis_variable_str(t) > 0;
	sz = vlen ? 0 : H5Tget_size(t);
	/* the memory type takes the file's character set: HDF5 converts none into another */
	if (h5_str_cset_like(mt, t) < 0 || H5Tset_size(mt, vlen ? H5T_VARIABLE : sz + 1) < 0) {
		rc = data_h5_fail(r, "cannot read attribute '%s'", name);
		goto done;
	}
	if (vlen)
		vs = calloc((size_t)n, sizeof *vs);
	else
		fixed = calloc((size_t)n, sz + 1); /* one spare byte: a NULLPAD string fills its size */
	if (!vs && !fixed) {
		rc = data_h5_oom(r);
		goto done;
	}
	if (H5Aread(a, mt, vlen ? (void *)vs : (void *)fixed) < 0) {
		rc = data_h5_fail(r, "cannot read attribute '%s'", name);
		goto done;
	}
	for (hssize_t i = 0; i < n && rc > 0; i++) {
		const char *s = vlen ? vs[i] : fixed + (size_t)i * (sz + 1);
		if (!s)
			s = "";
		if (strlen(s) >= cap)
			rc = data_h5_fail(r, "attribute '%s': string %lld is longer than %zu bytes", name, (long long)i, cap - 1);
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
		data_h5_type_name(tn, sizeof tn, t);
	if (t < 0 || np < 0)
		rc = data_h5_fail(r, "cannot read attribute '%s'", name);
	else if (!h5_standard_number(t, cls))
		rc = data_h5_fail(r, "attribute '%s' is %s, expected %s", name, tn, cls == H5T_INTEGER ? "an integer" : "a float");
	else if (np != n)
		rc = data_h5_fail(r, "attribute '%s' holds %lld values, expected %d", name, (long long)np, n);
	else if (H5Aread(a, mtype, out) < 0)
		rc = data_h5_fail(r, "cannot read attribute '%s'", name);
	if (t >= 0)
		H5Tclose(t);
	H5Aclose(a);
	return rc;
}

int data_h5_load_root(const Rd *r, hid_t f, Dataset *d)
{
	char fmt[64];
	int n1;
	int64_t version;
	if (r_strings(r, f, "format", fmt, 1, sizeof fmt, &n1, 0) < 0)
		return -1;
	if (strcmp(fmt, NASH_DATASET_FORMAT))
		return data_h5_fail(r, "attribute 'format' is '%s', expected '%s' (not a nash dataset file)", fmt,
			     NASH_DATASET_FORMAT);
	hid_t va = H5Aexists(f, "format_version") > 0 ? H5Aopen(f, "format_version", H5P_DEFAULT) : -1;
	int uns = va >= 0 && data_h5_is_unsigned(H5Aget_type(va));
	if (va >= 0)
		H5Aclose(va);
	if (r_numbers(r, f, "format_version", H5T_INTEGER, uns ? H5T_NATIVE_UINT64 : H5T_NATIVE_INT64, 1, &version,
		      0) < 0)
		return -1;
	char v[24];
	int newer = uns ? (uint64_t)version > NASH_DATASET_VERSION : version > NASH_DATASET_VERSION;
	if (!data_h5_int_in(version, uns, 1, NASH_DATASET_VERSION, v, sizeof v))
		return data_h5_fail(r, "format_version %s: this nash reads dataset files of version 1%s", v,
			     newer ? " (the file is newer)" : "");
	if (r_strings(r, f, "name", d->name, 1, sizeof d->name, &n1, 0) < 0)
		return -1;
	if (!dataset_name_ok(d->name))
		return data_h5_fail(r, "attribute 'name' is '%s': expected 1 to 63 of the characters A-Z a-z 0-9 . _ + -, one a letter or digit",
			     d->name);
	d->class_names = calloc(NASH_MAX_CLASSES, NASH_CLASS_NAME_MAX);
	if (!d->class_names)
		return data_h5_oom(r);
	if (r_strings(r, f, "class_names", d->class_names, NASH_MAX_CLASSES, NASH_CLASS_NAME_MAX,
		      &d->n_classes, 0) < 0)
		return -1;
	if (d->n_classes < 2)
		return data_h5_fail(r, "attribute 'class_names' names %d class; a classifier needs at least 2", d->n_classes);
	if (class_names_check(d->class_names, d->n_classes, r->err))
		return nash_err_prefix(r->err, r->file);
	return 0;
}

int data_h5_load_norm(const Rd *r, hid_t f, Dataset *d)
{
	int hm = r_numbers(r, f, "norm_mean", H5T_FLOAT, H5T_NATIVE_FLOAT, d->c, d->norm_mean, 1);
	if (hm < 0)
		return -1;
	int hs = r_numbers(r, f, "norm_std", H5T_FLOAT, H5T_NATIVE_FLOAT, d->c, d->norm_std, 1);
	if (hs < 0)
		return -1;
	if (hm != hs)
		return data_h5_fail(r, "attribute '%s' without '%s': give both or neither", hm ? "norm_mean" : "norm_std",
			     hm ? "norm_std" : "norm_mean");
	for (int ch = 0; hm && ch < d->c; ch++) {
		if (!isfinite(d->norm_mean[ch]) || d->norm_mean[ch] < 0 || d->norm_mean[ch] > 1)
			return data_h5_fail(r, "norm_mean[%d] = %g: expected a mean on the pixel scale 0..1", ch, d->norm_mean[ch]);
		if (!isfinite(d->norm_std[ch]) || !(d->norm_std[ch] > 0))
			return data_h5_fail(r, "norm_std[%d] = %g: expected a positive standard deviation", ch, d->norm_std[ch]);
	}
	d->has_norm = hm;
	return 0;
}
