/* Packing a folder tree of images into a Dataset (pack.h). Two steps: list (pack_list.c:
   classes and files, in byte order, every odd thing an error), then decode in parallel into one
   slot per image. */
/* realpath (pack_default_name) is XSI, beyond the POSIX.1-2008 base the build asks for */
#define _XOPEN_SOURCE 700

#include "data/pack.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/rng.h"
#include "data/data_h5.h"
#include "data/image.h"
#include "data/pack_list.h"

/* ---- decoding ---- */

typedef struct Slots {
	int planes, h, w; /* planes 3 (R, G, B) or 4 (with A), at the final size */
	uint8_t *px;      /* [n, planes, h, w] */
	uint8_t *gray;    /* [n] the file is grayscale */
} Slots;

/* Whether an image of h x w, as its header declares it, fits its slot before it is decoded:
   without resizing it must fit a dataset file and have the slot's size, which is the first
   file's (ref_path); resized, any size the decoder takes fits. */
static int check_size(const Slots *s, int h, int w, const char *path, const char *ref_path, int resize,
		      NashErr *err)
{
	if (resize)
		return 0;
	if (h > MAX_SIDE || w > MAX_SIDE)
		return nash_err(err, NASH_ERR_RUNTIME,
				"%s: %dx%d image (H x W), larger than a dataset holds (at most %d a side); resize the "
				"images (nash-data pack --resize HxW)", nash_name(path).s, h, w, MAX_SIDE);
	if (h != s->h || w != s->w)
		return nash_err(err, NASH_ERR_RUNTIME,
				"%s: %dx%d image (H x W), but %s is %dx%d; images of several sizes need resizing "
				"(nash-data pack --resize HxW)", nash_name(path).s, h, w, nash_name(ref_path).s, s->h, s->w);
	return 0;
}

/* Decodes file i into its slot, its size checked from its header first. A JPEG bound for a
   smaller slot is decoded at a reduced scale, so a thread holds at most one image at the size
   the file declares (a PNG), and a folder of camera photos packs in little memory. */
static int decode_one(Slots *s, size_t i, const char *path, const char *ref_path, int resize, NashErr *err)
{
	ImageFile *file;
	Image im;
	int h, w;
	if (image_open(&file, &h, &w, path, err))
		return -1;
	int rc = check_size(s, h, w, path, ref_path, resize, err) ||
		 image_decode(&im, file, resize ? s->h : 0, resize ? s->w : 0, err) ? -1 : 0;
	image_close(file);
	if (rc)
		return -1;
	uint8_t *dst = s->px + i * (size_t)s->planes * s->h * s->w;
	s->gray[i] = (uint8_t)im.gray;
	if (im.h == s->h && im.w == s->w) {
		image_planes(dst, &im, s->planes);
		image_free(&im);
		return 0;
	}
	uint8_t *tmp = malloc((size_t)im.h * im.w * s->planes); /* [planes, im.h, im.w] */
	if (!tmp) {
		image_free(&im);
		return nash_err(err, NASH_ERR_OOM, "%s: out of memory", nash_name(path).s);
	}
	image_planes(tmp, &im, s->planes);
	h = im.h, w = im.w;
	image_free(&im); /* before the resize needs its own memory */
	if (image_resize(dst, tmp, s->planes, h, w, s->h, s->w, err))
		rc = nash_err_prefix(err, path);
	free(tmp);
	return rc;
}

/* Decodes every file of f into s (in parallel); the error is the first failing file's. */
static int decode_all(Slots *s, const Files *f, const PackOpts *o, NashErr *err)
{
	int resize = o->resize_h > 0, first_bad = INT_MAX;
	int nt = o->threads > 0 ? o->threads : omp_get_max_threads();
	#pragma omp parallel for schedule(dynamic, 8) num_threads(nt)
	for (int i = 0; i < f->n; i++) {
		int bad;
		#pragma omp atomic read
		bad = first_bad;
		if (i > bad)
			continue; /* an earlier file failed: its error is the one reported */
		NashErr e = { 0 };
		if (decode_one(s, (size_t)i, f->paths[i], f->paths[0], resize, &e)) {
			#pragma omp critical(pack_error)
			if (i < first_bad) {
				first_bad = i;
				*err = e;
			}
		}
	}
	return first_bad == INT_MAX ? 0 : -1;
}

/* ---- the split and the sets ---- */

static void shuffle(int *a, int n, Rng *r)
{
	for (int i = n - 1; i > 0; i--) {
		int j = (int)rng_below(r, (uint32_t)i + 1), t = a[i];
		a[i] = a[j], a[j] = t;
	}
}

/* Marks test files: of each class, round(fraction * n) drawn at random, 1 <= that <= n - 1. */
static int split_off(uint8_t *is_test, const Files *f, int n_classes, const PackOpts *o, const char *classes,
		     NashErr *err)
{
	int *idx = malloc((size_t)f->n * sizeof *idx);
	if (!idx)
		return nash_err(err, NASH_ERR_OOM, "%s: out of memory", nash_name(o->dir).s);
	for (int k = 0; k < n_classes; k++) {
		int n = 0;
		for (int i = 0; i < f->n; i++)
			if (f->labels[i] == k)
				idx[n++] = i;
		if (n < 2) {
			free(idx);
			return nash_err(err, NASH_ERR_RUNTIME,
					"%s/%s: 1 image: a test fraction needs at least 2 of every class (or give a test tree)",
					nash_name(o->dir).s, nash_name(classes + (size_t)k * NASH_CLASS_NAME_MAX).s);
		}
		long t = lround(o->test_fraction * n);
		t = t < 1 ? 1 : t > n - 1 ? n - 1 : t;
		Rng r;
		rng_seed3(&r, o->seed, 1, (uint64_t)k);
		shuffle(idx, n, &r);
		for (long j = 0; j < t; j++)
			is_test[idx[j]] = 1;
	}
	free(idx);
	return 0;
}

/* One set: the files of s marked `which` (is_test), in a seeded random order, as [n, c, h, w]. */
static int fill_set(uint8_t **x, uint8_t **y, int *n_out, const Slots *s, const Files *f, const uint8_t *is_test,
		    int which, int c, uint64_t seed, NashErr *err)
{
	int n = 0;
	for (int i = 0; i < f->n; i++)
		n += is_test[i] == which;
	size_t img = (size_t)c * s->h * s->w, hw = (size_t)s->h * s->w;
	int *order = malloc((size_t)(n ? n : 1) * sizeof *order);
	*x = malloc((n ? n : 1) * img);
	*y = malloc((size_t)(n ? n : 1));
	if (!order || !*x || !*y) {
		free(order);
		return nash_err(err, NASH_ERR_OOM, "out of memory packing %d images", n);
	}
	n = 0;
	for (int i = 0; i < f->n; i++)
		if (is_test[i] == which)
			order[n++] = i;
	Rng r;
	rng_seed3(&r, seed, 2, (uint64_t)which);
	shuffle(order, n, &r);
	for (int j = 0; j < n; j++) {
		const uint8_t *src = s->px + (size_t)order[j] * s->planes * hw;
		uint8_t *dst = *x + (size_t)j * img;
		if (c == 1 && s->gray[order[j]])
			memcpy(dst, src, hw); /* R = G = B */
		else if (c == 1)
			for (size_t p = 0; p < hw; p++)
				dst[p] = (uint8_t)((src[p] * 19595u + src[hw + p] * 38470u + src[2 * hw + p] * 7471u + 0x8000u) >> 16);
		else
			memcpy(dst, src, img);
		(*y)[j] = (uint8_t)f->labels[order[j]];
	}
	free(order);
	*n_out = n;
	return 0;
}

/* The last component of path[0..len) without trailing slashes: path[*start .. *end). */
static void last_component(const char *path, size_t len, size_t *start, size_t *end)
{
	while (len > 1 && path[len - 1] == '/')
		len--;
	size_t s = len;
	while (s > 0 && path[s - 1] != '/')
		s--;
	*start = s, *end = len;
}

/* Whether a component names a folder by itself: not "", ".", ".." or "/". */
static int named(const char *c, size_t n)
{
	return n > 0 && !(n == 1 && (*c == '.' || *c == '/')) && !(n == 2 && !strncmp(c, "..", 2));
}

void pack_default_name(char *out, size_t n, const char *dir)
{
	char *real = NULL;
	const char *p = dir;
	size_t s, e, ps, pe;
	last_component(p, strlen(p), &s, &e);
	last_component(p, s, &ps, &pe); /* the parent's, as the path names it */
	int train = e - s == 5 && !strncasecmp(p + s, "train", 5);
	if (!named(p + s, e - s) || (train && !named(p + ps, pe - ps))) {
		/* ".", "..", "train", "../train": the folders' own names */
		if ((real = realpath(dir, NULL))) {
			p = real;
			last_component(p, strlen(p), &s, &e);
			last_component(p, s, &ps, &pe);
			train = e - s == 5 && !strncasecmp(p + s, "train", 5);
		}
	}
	if (train && named(p + ps, pe - ps))
		s = ps, e = pe;
	snprintf(out, n, "%.*s", (int)(e - s), p + s);
	free(real);
}

static int is_builtin(const char *name) { return dataset_builtin_classes(name) != NULL; }

static int check_opts(const PackOpts *o, NashErr *err)
{
	if (!o->name || !dataset_name_ok(o->name))
		return nash_err(err, NASH_ERR_USAGE, "dataset name '%s': expected 1 to 63 of the characters A-Z a-z 0-9 . _ + -, one a letter or digit",
				nash_name(o->name ? o->name : "").s);
	if (is_builtin(o->name))
		return nash_err(err, NASH_ERR_USAGE, "dataset name '%s' is a built-in dataset's; choose another", o->name);
	if (o->channels != 0 && o->channels != 1 && o->channels != 3 && o->channels != 4)
		return nash_err(err, NASH_ERR_USAGE, "channels %d: expected 1, 3 or 4", o->channels);
	if ((o->resize_h > 0) != (o->resize_w > 0) || o->resize_h < 0 || o->resize_w < 0 ||
	    o->resize_h > MAX_SIDE || o->resize_w > MAX_SIDE)
		return nash_err(err, NASH_ERR_USAGE, "bad resize %dx%d", o->resize_h, o->resize_w);
	if (!o->test_dir && !(o->test_fraction > 0 && o->test_fraction < 1))
		return nash_err(err, NASH_ERR_USAGE, "test fraction %g: expected more than 0 and less than 1", o->test_fraction);
	return 0;
}

int data_pack(Dataset *d, const PackOpts *o, PackNotes *notes, NashErr *err)
{
	Files f = { 0 };
	char *classes = NULL, *test_classes = NULL;
	int n_classes = 0, n_test_classes = 0, n_train_files, rc = -1;
	uint8_t *is_test = NULL;
	Slots s = { 0 };
	memset(d, 0, sizeof *d);
	memset(notes, 0, sizeof *notes);
	if (check_opts(o, err) || pack_list_tree(&f, &classes, &n_classes, o->dir, o->force, notes->skipped[0],
						 sizeof notes->skipped[0], err))
		goto done;
	n_train_files = f.n;
	if (o->test_dir) {
		if (pack_list_tree(&f, &test_classes, &n_test_classes, o->test_dir, o->force, notes->skipped[1],
				   sizeof notes->skipped[1], err))
			goto done;
		for (int k = 0; k < n_classes || k < n_test_classes; k++) {
			const char *a = k < n_classes ? classes + (size_t)k * NASH_CLASS_NAME_MAX : NULL;
			const char *b = k < n_test_classes ? test_classes + (size_t)k * NASH_CLASS_NAME_MAX : NULL;
			int c = !a ? 1 : !b ? -1 : strcmp(a, b);
			if (c < 0) {
				nash_err(err, NASH_ERR_RUNTIME, "%s/%s: the class has no folder in the test tree %s",
					 nash_name(o->dir).s, nash_name(a).s, nash_name(o->test_dir).s);
				goto done;
			} else if (c > 0) {
				nash_err(err, NASH_ERR_RUNTIME, "%s/%s: the test tree's class is not one of %s's",
					 nash_name(o->test_dir).s, nash_name(b).s, nash_name(o->dir).s);
				goto done;
			}
		}
	}
	if (!(is_test = calloc((size_t)f.n, 1))) {
		nash_err(err, NASH_ERR_OOM, "%s: out of memory", nash_name(o->dir).s);
		goto done;
	}
	for (int i = n_train_files; i < f.n; i++)
		is_test[i] = 1;
	if (!o->test_dir && split_off(is_test, &f, n_classes, o, classes, err))
		goto done;

	/* the slot size: the resize, or the first image's */
	s.planes = o->channels == 4 ? 4 : 3;
	if (o->resize_h > 0) {
		s.h = o->resize_h, s.w = o->resize_w;
	} else {
		ImageFile *first; /* its header alone */
		if (image_open(&first, &s.h, &s.w, f.paths[0], err))
			goto done;
		image_close(first);
		if (check_size(&s, s.h, s.w, f.paths[0], f.paths[0], 0, err))
			goto done;
	}
	size_t slot = (size_t)s.planes * s.h * s.w;
	if ((size_t)f.n > SIZE_MAX / slot || !(s.px = malloc((size_t)f.n * slot)) || !(s.gray = malloc((size_t)f.n))) {
		nash_err(err, NASH_ERR_OOM, "%s: out of memory for %d images of %dx%d", nash_name(o->dir).s, f.n, s.h,
			 s.w);
		goto done;
	}
	if (decode_all(&s, &f, o, err))
		goto done;

	int c = o->channels;
	if (c == 0) {
		c = 1;
		for (int i = 0; i < f.n && c == 1; i++)
			c = s.gray[i] ? 1 : 3;
	}
	snprintf(d->name, sizeof d->name, "%s", o->name);
	snprintf(d->dir, sizeof d->dir, "%s", o->dir);
	d->c = c, d->h = s.h, d->w = s.w, d->n_classes = n_classes;
	d->class_names = classes;
	classes = NULL;
	if (fill_set(&d->train_x, &d->train_y, &d->n_train, &s, &f, is_test, 0, c, o->seed, err) ||
	    fill_set(&d->test_x, &d->test_y, &d->n_test, &s, &f, is_test, 1, c, o->seed, err))
		goto done;
	rc = 0;
done:
	if (rc)
		dataset_free(d);
	free(s.px);
	free(s.gray);
	free(is_test);
	free(classes);
	free(test_classes);
	files_free(&f);
	return rc;
}
