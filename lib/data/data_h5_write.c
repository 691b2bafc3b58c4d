/* The HDF5 dataset file (docs/DATASETS.md): the writer (the reader is data_h5.c and
   data_h5_root.c). Images are held [n, c, h, w] and stored N x H x W x C, converted a block at a
   time; the file is written atomically. */
#include "data/data.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hdf5.h>

#include "base/atomic.h"
#include "base/h5util.h"
#include "data/data_h5.h"

typedef struct Wr {
	hid_t gcpl, dcpl; /* creation properties without timestamps: the same data, the same bytes */
	int bad;
} Wr;

static void w_attr(Wr *w, hid_t loc, const char *name, hid_t ftype, hid_t mtype, int n, const void *v)
{
	if (w->bad)
		return;
	hsize_t dn = (hsize_t)n;
	hid_t sp = n ? H5Screate_simple(1, &dn, NULL) : H5Screate(H5S_SCALAR);
	hid_t a = sp >= 0 ? H5Acreate2(loc, name, ftype, sp, H5P_DEFAULT, H5P_DEFAULT) : -1;
	if (a < 0 || H5Awrite(a, mtype, v) < 0)
		w->bad = 1;
	if (a >= 0)
		H5Aclose(a);
	if (sp >= 0)
		H5Sclose(sp);
}

/* n fixed-length NUL-terminated strings of `stride` bytes each (n = 0: one, as a scalar). */
static void w_strings(Wr *w, hid_t loc, const char *name, const char *s, int n, size_t stride, int utf8)
{
	size_t longest = 0;
	for (int i = 0; i < (n ? n : 1); i++) {
		size_t l = strlen(s + (size_t)i * stride);
		longest = l > longest ? l : longest;
	}
	hid_t ft = H5Tcopy(H5T_C_S1), mt = H5Tcopy(H5T_C_S1);
	if (ft < 0 || mt < 0 || H5Tset_size(ft, longest + 1) < 0 || H5Tset_size(mt, stride) < 0 ||
	    H5Tset_cset(ft, utf8 ? H5T_CSET_UTF8 : H5T_CSET_ASCII) < 0 ||
	    H5Tset_cset(mt, utf8 ? H5T_CSET_UTF8 : H5T_CSET_ASCII) < 0)
		w->bad = 1;
	w_attr(w, loc, name, ft, mt, n, s);
	if (ft >= 0)
		H5Tclose(ft);
	if (mt >= 0)
		H5Tclose(mt);
}

/* images [n, c, h, w] stored as [n, h, w, c]; labels [n] stored as uint8. */
static void w_set(Wr *w, hid_t f, const char *group, const uint8_t *x, const uint8_t *y, int n, int c, int h, int wd)
{
	if (w->bad)
		return;
	hid_t g = H5Gcreate2(f, group, H5P_DEFAULT, w->gcpl, H5P_DEFAULT);
	hsize_t di[4] = { (hsize_t)n, (hsize_t)h, (hsize_t)wd, (hsize_t)c }, dl = (hsize_t)n;
	hid_t si = H5Screate_simple(4, di, NULL), sl = H5Screate_simple(1, &dl, NULL);
	hid_t ds = g >= 0 && si >= 0 ? H5Dcreate2(g, "images", H5T_STD_U8LE, si, H5P_DEFAULT, w->dcpl, H5P_DEFAULT) : -1;
	hid_t dl_ = g >= 0 && sl >= 0 ? H5Dcreate2(g, "labels", H5T_STD_U8LE, sl, H5P_DEFAULT, w->dcpl, H5P_DEFAULT) : -1;
	size_t img = (size_t)c * h * wd, hw = (size_t)h * wd;
	size_t block = BLOCK_PIXELS / img ? BLOCK_PIXELS / img : 1;
	if (block > (size_t)n)
		block = (size_t)n;
	uint8_t *nhwc = malloc(block * img); /* [block, h, w, c] */
	if (ds < 0 || dl_ < 0 || !nhwc || H5Dwrite(dl_, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, y) < 0)
		w->bad = 1;
	for (size_t i = 0; i < (size_t)n && !w->bad; i += block) {
		size_t b = (size_t)n - i < block ? (size_t)n - i : block;
		for (size_t k = 0; k < b; k++) {
			const uint8_t *src = x + (i + k) * img;
			uint8_t *dst = nhwc + k * img;
			for (size_t p = 0; p < hw; p++)
				for (int ch = 0; ch < c; ch++)
					dst[p * (size_t)c + (size_t)ch] = src[(size_t)ch * hw + p];
		}
		hsize_t start[4] = { i, 0, 0, 0 }, count[4] = { b, (hsize_t)h, (hsize_t)wd, (hsize_t)c };
		hid_t msp = H5Screate_simple(4, count, NULL);
		if (msp < 0 || H5Sselect_hyperslab(si, H5S_SELECT_SET, start, NULL, count, NULL) < 0 ||
		    H5Dwrite(ds, H5T_NATIVE_UINT8, msp, si, H5P_DEFAULT, nhwc) < 0)
			w->bad = 1;
		if (msp >= 0)
			H5Sclose(msp);
	}
	free(nhwc);
	if (ds >= 0)
		H5Dclose(ds);
	if (dl_ >= 0)
		H5Dclose(dl_);
	if (si >= 0)
		H5Sclose(si);
	if (sl >= 0)
		H5Sclose(sl);
	if (g >= 0)
		H5Gclose(g);
	else
		w->bad = 1;
}

static void w_dataset(Wr *w, hid_t f, const Dataset *d)
{
	int version = NASH_DATASET_VERSION;
	w_strings(w, f, "format", NASH_DATASET_FORMAT, 0, sizeof NASH_DATASET_FORMAT, 0);
	w_attr(w, f, "format_version", H5T_STD_I32LE, H5T_NATIVE_INT, 0, &version);
	w_strings(w, f, "name", d->name, 0, sizeof d->name, 0);
	w_strings(w, f, "class_names", d->class_names, d->n_classes, NASH_CLASS_NAME_MAX, 1);
	if (d->has_norm) {
		w_attr(w, f, "norm_mean", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, d->c, d->norm_mean);
		w_attr(w, f, "norm_std", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, d->c, d->norm_std);
	}
	w_set(w, f, "train", d->train_x, d->train_y, d->n_train, d->c, d->h, d->w);
	w_set(w, f, "test", d->test_x, d->test_y, d->n_test, d->c, d->h, d->w);
}

static int check_writable(const Dataset *d, const char *path, NashErr *err)
{
	if (!dataset_name_ok(d->name))
		return nash_err(err, NASH_ERR_USAGE,
				"%s: dataset name '%s': expected 1 to 63 of the characters A-Z a-z 0-9 . _ + -, one a letter or digit", path, d->name);
	if (!d->class_names)
		return nash_err(err, NASH_ERR_RUNTIME, "%s: the dataset %s has no class names", path, d->name);
	if (d->n_classes < 2 || d->n_classes > NASH_MAX_CLASSES)
		return nash_err(err, NASH_ERR_RUNTIME, "%s: %d classes (expected 2 to %d)", path, d->n_classes,
				NASH_MAX_CLASSES);
	if (class_names_check(d->class_names, d->n_classes, err))
		return nash_err_prefix(err, path);
	if (d->n_train < 1 || d->n_test < 1)
		return nash_err(err, NASH_ERR_RUNTIME, "%s: the dataset has %d training and %d test images; both sets must hold some",
				path, d->n_train, d->n_test);
	if (d->c < 1 || d->c > NASH_MAX_CHANNELS || d->h < 1 || d->h > MAX_SIDE || d->w < 1 || d->w > MAX_SIDE)
		return nash_err(err, NASH_ERR_RUNTIME, "%s: bad image shape %dx%dx%d", path, d->c, d->h, d->w);
	for (int i = 0; i < d->n_train; i++)
		if (d->train_y[i] >= d->n_classes)
			return nash_err(err, NASH_ERR_RUNTIME, "%s: training label %d out of range", path, i);
	for (int i = 0; i < d->n_test; i++)
		if (d->test_y[i] >= d->n_classes)
			return nash_err(err, NASH_ERR_RUNTIME, "%s: test label %d out of range", path, i);
	return 0;
}

int dataset_write_h5(const Dataset *d, const char *path, NashErr *err)
{
	if (check_writable(d, path, err))
		return -1;
	H5Quiet q;
	h5_quiet(&q);
	Wr w = { .gcpl = H5Pcreate(H5P_GROUP_CREATE), .dcpl = H5Pcreate(H5P_DATASET_CREATE) };
	hid_t fcpl = H5Pcreate(H5P_FILE_CREATE), fapl = H5Pcreate(H5P_FILE_ACCESS), f = -1;
	/* the in-memory file grows in steps of about its final size, not 1 MB at a time */
	size_t pixels = ((size_t)d->n_train + (size_t)d->n_test) * (size_t)d->c * d->h * d->w;
	/* the checksummed 1.8 formats, everything in the object headers, as for model files */
	if (w.gcpl < 0 || w.dcpl < 0 || fcpl < 0 || fapl < 0 || h5_group_props(w.gcpl) < 0 ||
	    H5Pset_obj_track_times(w.dcpl, 0) < 0 || h5_group_props(fcpl) < 0 ||
	    H5Pset_fapl_core(fapl, pixels + (1u << 20), 0) < 0 ||
	    H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_V18) < 0)
		w.bad = 1;
	char fname[64];
	snprintf(fname, sizeof fname, "nash-dataset-%p", (const void *)d);
	if (!w.bad && (f = H5Fcreate(fname, H5F_ACC_EXCL, fcpl, fapl)) < 0)
		w.bad = 1;
	if (!w.bad)
		w_dataset(&w, f, d);
	if (!w.bad && H5Fflush(f, H5F_SCOPE_GLOBAL) < 0)
		w.bad = 1;
	size_t n = 0;
	void *img = w.bad ? NULL : h5_file_image(f, &n);
	if (f >= 0 && H5Fclose(f) < 0) {
		free(img);
		img = NULL;
	}
	H5Pclose(fapl);
	H5Pclose(fcpl);
	H5Pclose(w.dcpl);
	H5Pclose(w.gcpl);
	h5_restore(&q);
	if (!img)
		return nash_err(err, w.bad ? NASH_ERR_RUNTIME : NASH_ERR_OOM, "%s: HDF5 failed to serialise the dataset%s",
				strcmp(path, "-") ? path : "<stdout>", w.bad ? "" : " (out of memory?)");
	int rc = atomic_write(path, img, n, err);
	free(img);
	return rc;
}
