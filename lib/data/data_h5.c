/* The HDF5 dataset file (docs/DATASETS.md): the reader's image and label sets and the reading of
   a file as a whole, isolation included (the root attributes are read by data_h5_root.c, the
   writer is data_h5_write.c). Images are stored N x H x W x C (numpy's, h5py's and PIL's layout)
   and held [n, c, h, w]; the reader converts a block of images at a time. Everything read is
   checked, and every error names the file and the object. */
#include "data/data.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>

#include <hdf5.h>

#include "base/atomic.h"
#include "base/h5util.h"
#include "base/isolate.h"
#include "data/data_h5.h"
#include "data/data_h5_read.h"

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
		return kind == H5_LINK_ABSENT ? data_h5_fail(r, "missing group '%s'", group)
					      : data_h5_fail(r, "%s: %s, expected a group", group, h5_link_kind_name(kind));
	hid_t g = H5Gopen2(f, group, H5P_DEFAULT);
	kind = g >= 0 ? h5_link_kind(g, name) : H5_LINK_UNREADABLE;
	if (kind != H5_LINK_DATASET) {
		if (g >= 0)
			H5Gclose(g);
		return kind == H5_LINK_ABSENT ? data_h5_fail(r, "missing dataset '%s'", path)
		       : kind == H5_LINK_GROUP ? data_h5_fail(r, "'%s' is not a dataset", path)
					       : data_h5_fail(r, "%s: %s", path, h5_link_kind_name(kind));
	}
	*ds = h5_open_dataset(g, name, H5_ALLOW_DEFLATE | H5_ALLOW_SHUFFLE | H5_ALLOW_FLETCHER32, why, sizeof why);
	H5Gclose(g);
	if (*ds < 0)
		return data_h5_fail(r, "%s: %s", path, why);
	hid_t t = *ds >= 0 ? H5Dget_type(*ds) : -1, sp = *ds >= 0 ? H5Dget_space(*ds) : -1;
	int rk = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1, rc = 0;
	H5D_space_status_t st = H5D_SPACE_STATUS_ERROR;
	char tn[64] = "";
	if (t >= 0)
		data_h5_type_name(tn, sizeof tn, t);
	if (*ds < 0 || t < 0 || sp < 0 || rk < 0)
		rc = data_h5_fail(r, "%s: cannot read the dataset", path);
	else if (pixels && (!h5_standard_number(t, H5T_INTEGER) || H5Tget_size(t) != 1 || H5Tget_sign(t) != H5T_SGN_NONE))
		rc = data_h5_fail(r, "%s: the pixels are %s, expected uint8", path, tn);
	else if (!pixels && !h5_standard_number(t, H5T_INTEGER))
		rc = data_h5_fail(r, "%s: the labels are %s, expected integers", path, tn);
	else if (rk != rank)
		rc = data_h5_fail(r, "%s: rank %d, expected %d (%s)", path, rk, rank, pixels ? "N x H x W x C" : "N");
	else if (H5Sget_simple_extent_dims(sp, dims, NULL) < 0)
		rc = data_h5_fail(r, "%s: cannot read the dataset's shape", path);
	else if (dims[0] == 0)
		rc = data_h5_fail(r, "%s: no images (N = 0); both the train and the test set must hold some", path);
	else if (dims[0] > INT_MAX)
		rc = data_h5_fail(r, "%s: %llu images, more than %d", path, (unsigned long long)dims[0], INT_MAX);
	else if (!all_written(*ds, sp, &st))
		/* a chunked dataset of which some chunks were never written reads as fill values */
		rc = data_h5_fail(r, "%s: incomplete: %s of its data was ever written", path,
			   st == H5D_SPACE_STATUS_NOT_ALLOCATED ? "none" : "only part");
	else if (rc == 0 && !room_for(*ds, t, sp))
		/* deflate packs at most about 1032:1: a file cannot unpack to more than that */
		rc = data_h5_fail(r, "%s: declares %llu bytes, more than its %llu stored bytes can hold", path,
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
		return data_h5_fail(r, "%s/images: images of %llux%llux%llu (H x W x C); H and W must be 1..%d, C 1..%d",
			     group, (unsigned long long)di[1], (unsigned long long)di[2], (unsigned long long)di[3],
			     MAX_SIDE, NASH_MAX_CHANNELS);
	}
	if (dl[0] != di[0]) {
		set_close(s);
		return data_h5_fail(r, "%s: %llu labels for %llu images", group, (unsigned long long)dl[0],
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
		rc = data_h5_oom(r);
		goto done;
	}
	for (size_t i = 0; i < (size_t)s->n && rc == 0; i += block) {
		size_t b = (size_t)s->n - i < block ? (size_t)s->n - i : block;
		hsize_t start[4] = { i, 0, 0, 0 }, count[4] = { b, (hsize_t)s->h, (hsize_t)s->w, (hsize_t)s->c };
		msp = H5Screate_simple(4, count, NULL);
		if (fsp < 0 || msp < 0 || H5Sselect_hyperslab(fsp, H5S_SELECT_SET, start, NULL, count, NULL) < 0 ||
		    H5Dread(s->images, H5T_NATIVE_UINT8, msp, fsp, H5P_DEFAULT, nhwc) < 0)
			rc = data_h5_fail(r, "%s/images: cannot read images %zu..%zu", group, i, i + b - 1);
		H5Sclose(msp);
		for (size_t k = 0; k < b && rc == 0; k++) {
			const uint8_t *src = nhwc + k * img;
			uint8_t *dst = *x + (i + k) * img;
			for (size_t p = 0; p < hw; p++)
				for (int ch = 0; ch < s->c; ch++)
					dst[(size_t)ch * hw + p] = src[p * (size_t)s->c + (size_t)ch];
		}
	}
	int uns = data_h5_is_unsigned(H5Dget_type(s->labels));
	if (rc == 0 && H5Dread(s->labels, uns ? H5T_NATIVE_UINT64 : H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT,
			       lab) < 0)
		rc = data_h5_fail(r, "%s/labels: cannot read the labels", group);
	for (int i = 0; i < s->n && rc == 0; i++) {
		char v[24];
		if (!data_h5_int_in(lab[i], uns, 0, n_classes - 1, v, sizeof v))
			rc = data_h5_fail(r, "%s/labels: label %s at index %d out of range (%d classes)", group, v, i,
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


/* Reads the dataset file f (open); path names it in messages. */
static int load_h5(Dataset *d, hid_t f, const char *path, int want_test, NashErr *err)
{
	Rd r = { path, err };
	SetInfo tr = { -1, -1, 0, 0, 0, 0 }, te = { -1, -1, 0, 0, 0, 0 };
	int rc = -1;
	if (data_h5_load_root(&r, f, d) || set_open(&r, f, "train", &tr) || set_open(&r, f, "test", &te))
		goto done;
	if (te.h != tr.h || te.w != tr.w || te.c != tr.c) {
		data_h5_fail(&r, "test/images holds %dx%dx%d images but train/images %dx%dx%d (H x W x C)", te.h, te.w,
		      te.c, tr.h, tr.w, tr.c);
		goto done;
	}
	d->c = tr.c, d->h = tr.h, d->w = tr.w;
	if (data_h5_load_norm(&r, f, d) || set_read(&r, "train", &tr, d->n_classes, &d->train_x, &d->train_y))
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
		data_h5_fail(&r, "cannot open the file image");
	else if ((f = H5Fopen(path, H5F_ACC_RDONLY, fapl)) < 0)
		data_h5_fail(&r, "not an HDF5 file (or a damaged one)");
	else
		rc = load_h5(d, f, path, want_test, err);
	if (f >= 0 && H5Fclose(f) < 0 && rc == 0)
		rc = data_h5_fail(&r, "cannot close the file");
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
