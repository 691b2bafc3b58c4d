/* Datasets: Fashion-MNIST (IDX, gzip'd or plain) and CIFAR-10/100 (binary version), the
   train/validation split, normalisation statistics and the CPU reference batch builder. (The
   specs that name them: data_spec.c.) */
#include "data/data.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <zlib.h>

#define READ_CHUNK (16u << 20)   /* bytes per gzread: big chunks keep loading fast */
#define FIRST_ALLOC (64u << 20)  /* a lying header cannot make us allocate more up front */
#define CIFAR_PIXELS 3072        /* 3 x 32 x 32 */

int dataset_shape(const char *name, int *c, int *h, int *w, int *n_classes)
{
	int cc, hh, kk;
	if (!strcmp(name, "fashion-mnist"))
		cc = 1, hh = 28, kk = 10;
	else if (!strcmp(name, "cifar10"))
		cc = 3, hh = 32, kk = 10;
	else if (!strcmp(name, "cifar100"))
		cc = 3, hh = 32, kk = 100;
	else
		return -1;
	*c = cc, *h = hh, *w = hh, *n_classes = kk;
	return 0;
}

/* ---- file reading ---- */

static int file_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

static int join(char *out, size_t out_n, const char *dir, const char *file, NashErr *err)
{
	if (snprintf(out, out_n, "%s/%s", dir, file) >= (int)out_n)
		return nash_err(err, NASH_ERR_RUNTIME, "%s/%s: path too long", nash_name(dir).s, nash_name(file).s);
	return 0;
}

/* gzread in chunks (it takes an unsigned length); returns bytes read or -1 on a zlib error. */
static long long gz_read_all(gzFile f, uint8_t *buf, size_t n)
{
	size_t got = 0;
	while (got < n) {
		size_t want = n - got < READ_CHUNK ? n - got : READ_CHUNK;
		int r = gzread(f, buf + got, (unsigned)want);
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (long long)got;
}

static int gz_fail(gzFile f, const char *path, NashErr *err)
{
	int zerr;
	const char *m = gzerror(f, &zerr);
	if (zerr == Z_ERRNO)
		m = strerror(errno);
	return nash_err(err, NASH_ERR_RUNTIME, "%s: read error: %s", nash_name(path).s, m);
}

/* Reads the rest of an open file as exactly `expected` bytes (after a header of `header`
   bytes); a short or a long file is an error that names both lengths. */
static int gz_read_payload(uint8_t **out, gzFile f, const char *path, size_t header, size_t expected,
			   NashErr *err)
{
	size_t cap = expected < FIRST_ALLOC ? expected : FIRST_ALLOC, got = 0;
	uint8_t *buf = malloc(cap ? cap : 1); /* [cap] grows up to expected */
	if (!buf)
		return nash_err(err, NASH_ERR_OOM, "%s: out of memory", nash_name(path).s);
	for (;;) {
		long long r = gz_read_all(f, buf + got, cap - got);
		if (r < 0)
			goto fail_read;
		got += (size_t)r;
		if (got < cap || cap == expected)
			break;
		size_t ncap = cap * 2 < expected ? cap * 2 : expected;
		uint8_t *nb = realloc(buf, ncap);
		if (!nb) {
			free(buf);
			return nash_err(err, NASH_ERR_OOM, "%s: out of memory", nash_name(path).s);
		}
		buf = nb, cap = ncap;
	}
	if (got < expected) {
		int zerr;
		const char *zm = gzerror(f, &zerr);
		free(buf);
		return nash_err(err, NASH_ERR_RUNTIME, "%s: truncated: expected %zu bytes, got %zu%s%s%s",
				nash_name(path).s, header + expected, header + got, zerr ? " (" : "",
				zerr ? zm : "", zerr ? ")" : "");
	}
	/* Anything after the payload is trailing garbage: count it for the message. */
	uint8_t scratch[1 << 14];
	size_t extra = 0;
	long long r;
	while ((r = gz_read_all(f, scratch, sizeof scratch)) > 0)
		extra += (size_t)r;
	if (r < 0)
		goto fail_read;
	if (extra) {
		free(buf);
		return nash_err(err, NASH_ERR_RUNTIME, "%s: trailing data: expected %zu bytes, got %zu",
				nash_name(path).s, header + expected, header + expected + extra);
	}
	*out = buf;
	return 0;
fail_read:
	free(buf);
	return gz_fail(f, path, err);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Finds DIR/NAME.gz or else DIR/NAME. */
static int idx_path(char *path, size_t path_n, const char *dir, const char *name, NashErr *err)
{
	char file[128];
	snprintf(file, sizeof file, "%s.gz", name);
	if (join(path, path_n, dir, file, err))
		return -1;
	if (file_exists(path))
		return 0;
	if (join(path, path_n, dir, name, err))
		return -1;
	if (file_exists(path))
		return 0;
	return nash_err(err, NASH_ERR_RUNTIME, "%s/%s.gz: no such file (nor %s without .gz)", nash_name(dir).s,
			name, name);
}

/* Reads an IDX file of uint8: images (magic 0x803, dims n x 28 x 28) when images, else labels
   (magic 0x801, dim n). out: [n * 28 * 28] or [n]. */
static int idx_read(uint8_t **out, int *n, const char *path, int images, NashErr *err)
{
	uint32_t magic = images ? 0x00000803 : 0x00000801;
	size_t header = images ? 16 : 8;
	uint8_t hd[16];
	errno = 0;
	gzFile f = gzopen(path, "rb");
	if (!f)
		return nash_err(err, NASH_ERR_RUNTIME, "%s: %s", nash_name(path).s,
				errno ? strerror(errno) : "cannot open");
	gzbuffer(f, 1 << 20);
	long long r = gz_read_all(f, hd, header);
	if (r < 0) {
		gz_fail(f, path, err);
		goto fail;
	}
	if ((size_t)r < header) {
		nash_err(err, NASH_ERR_RUNTIME, "%s: truncated: expected at least %zu bytes, got %lld",
			 nash_name(path).s, header, r);
		goto fail;
	}
	if (be32(hd) != magic) {
		nash_err(err, NASH_ERR_RUNTIME, "%s: bad magic number 0x%08x (expected 0x%08x, IDX %s)",
			 nash_name(path).s, be32(hd), magic, images ? "images" : "labels");
		goto fail;
	}
	uint32_t count = be32(hd + 4);
	if (images && (be32(hd + 8) != 28 || be32(hd + 12) != 28)) {
		nash_err(err, NASH_ERR_RUNTIME, "%s: expected 28x28 images, got %ux%u", nash_name(path).s,
			 be32(hd + 8), be32(hd + 12));
		goto fail;
	}
	if (count == 0 || count > INT_MAX) {
		nash_err(err, NASH_ERR_RUNTIME, "%s: bad item count %u", nash_name(path).s, count);
		goto fail;
	}
	if (gz_read_payload(out, f, path, header, (size_t)count * (images ? 28 * 28 : 1), err))
		goto fail;
	gzclose(f);
	*n = (int)count;
	return 0;
fail:
	gzclose(f);
	return -1;
}

static int check_labels(const uint8_t *y, int n, int n_classes, const char *path, NashErr *err)
{
	for (int i = 0; i < n; i++)
		if (y[i] >= n_classes)
			return nash_err(err, NASH_ERR_RUNTIME,
					"%s: label %d at index %d out of range (%d classes)", nash_name(path).s,
					y[i], i, n_classes);
	return 0;
}

/* A file of an official dataset's layout that holds `got` (images or records) where the layout
   has `official`: fewer is an incomplete file, more an over-long one. Only a short training
   file is pointed to --limit (it trains on fewer training images); another size is declared in
   the spec instead (NAME@TRAIN,TEST:DIR). layout: what the official dataset holds. */
static int official_count_error(NashErr *err, const char *path, size_t got, const char *unit, int official,
				const char *layout, const char *name, int test)
{
	if (got < (size_t)official && !test)
		return nash_err(err, NASH_ERR_RUNTIME,
				"%s: %zu %s, expected %d: the file is incomplete (%s; to train on fewer images, use "
				"--limit)", nash_name(path).s, got, unit, official, layout);
	return nash_err(err, NASH_ERR_RUNTIME,
			"%s: %zu %s, expected %d: the file is %s (%s; a copy of another size is declared as "
			"%s@TRAIN,TEST:DIR)", nash_name(path).s, got, unit, official,
			got < (size_t)official ? "incomplete" : "longer than the official one", layout, name);
}

/* One Fashion-MNIST split ("train" or "t10k") of `expected` images (declared: a size the spec
   declared, else the official one). x: [n, 1, 28, 28], y: [n] */
static int fmnist_load(uint8_t **x, uint8_t **y, int *n, const char *dir, const char *split, int expected,
		       int declared, NashErr *err)
{
	char name[64], ipath[1024], lpath[1024];
	int ni = 0, nl = 0;
	*x = *y = NULL;
	snprintf(name, sizeof name, "%s-images-idx3-ubyte", split);
	if (idx_path(ipath, sizeof ipath, dir, name, err))
		return -1;
	snprintf(name, sizeof name, "%s-labels-idx1-ubyte", split);
	if (idx_path(lpath, sizeof lpath, dir, name, err))
		return -1;
	if (idx_read(x, &ni, ipath, 1, err) || idx_read(y, &nl, lpath, 0, err))
		goto fail;
	if (ni != nl) {
		nash_err(err, NASH_ERR_RUNTIME, "%s: count mismatch: %d labels but %s has %d images",
			 nash_name(lpath).s, nl, nash_name(ipath).s, ni);
		goto fail;
	}
	if (check_labels(*y, nl, 10, lpath, err))
		goto fail;
	if (ni != expected) {
		if (declared)
			nash_err(err, NASH_ERR_RUNTIME, "%s: %d images, expected %d (the dataset spec declares %d)",
				 nash_name(ipath).s, ni, expected, expected);
		else {
			int test = strcmp(split, "train") != 0;
			char layout[64];
			snprintf(layout, sizeof layout, "Fashion-MNIST's %s set has %d", test ? "test" : "training",
				 expected);
			official_count_error(err, ipath, (size_t)ni, "images", expected, layout, "fashion-mnist", test);
		}
		goto fail;
	}
	*n = ni;
	return 0;
fail:
	free(*x);
	free(*y);
	*x = *y = NULL;
	return -1;
}

/* The record counts a dataset's files must hold: `per_file` records in each (the official
   layout), or, for a dataset of a declared size, `total` records over all of them. */
typedef struct Counts {
	int per_file, total;
	char layout[160]; /* what is expected, for the messages */
	const char *name; /* the dataset's, for the spec in messages */
	int test;         /* the test set's files */
} Counts;

static void counts_set(Counts *c, int official, int declared, const char *official_layout, const char *files,
		       const char *name, int test)
{
	c->name = name;
	c->test = test;
	c->per_file = declared ? 0 : official;
	c->total = declared;
	if (declared)
		snprintf(c->layout, sizeof c->layout, "the dataset spec declares %d records in %s", declared, files);
	else
		snprintf(c->layout, sizeof c->layout, "%s", official_layout);
}

/* Reads CIFAR binary files (records of label_bytes + 3072 pixels; the last label byte is the
   one used: CIFAR-100's fine label) into one array; every file must exist and hold whole
   records, as many as `want` says. x: [n, 3, 32, 32], y: [n] */
static int cifar_load(uint8_t **x, uint8_t **y, int *n, char (*paths)[1024], int n_paths,
		      int label_bytes, int n_classes, const Counts *want, NashErr *err)
{
	size_t rec = (size_t)label_bytes + CIFAR_PIXELS, total = 0, counts[8];
	enum { CHUNK = 1024 };
	uint8_t *buf = NULL; /* [CHUNK, rec] */
	*x = *y = NULL;
	for (int p = 0; p < n_paths; p++) { /* a missing file first: it says most about what is wrong */
		struct stat st;
		if (stat(paths[p], &st))
			return nash_err(err, NASH_ERR_RUNTIME, "%s: %s (%s)", nash_name(paths[p]).s, strerror(errno), want->layout);
	}
	for (int p = 0; p < n_paths; p++) {
		struct stat st;
		if (stat(paths[p], &st))
			return nash_err(err, NASH_ERR_RUNTIME, "%s: %s", nash_name(paths[p]).s, strerror(errno));
		if (st.st_size <= 0 || (size_t)st.st_size % rec)
			return nash_err(err, NASH_ERR_RUNTIME,
					"%s: size %lld is not a positive multiple of the %zu-byte record "
					"(%zu whole records, then %zu bytes of a truncated one)",
					nash_name(paths[p]).s, (long long)st.st_size, rec, (size_t)st.st_size / rec,
					(size_t)st.st_size % rec);
		counts[p] = (size_t)st.st_size / rec;
		if (want->per_file && counts[p] != (size_t)want->per_file)
			return official_count_error(err, paths[p], counts[p], "records", want->per_file, want->layout,
						    want->name, want->test);
		total += counts[p];
	}
	if (want->total && total != (size_t)want->total)
		return nash_err(err, NASH_ERR_RUNTIME, "%s%s: %zu records in all, expected %d (%s)", nash_name(paths[0]).s,
				n_paths > 1 ? " .. " : "", total, want->total, want->layout);
	if (total > INT_MAX)
		return nash_err(err, NASH_ERR_RUNTIME, "%s: too many images", nash_name(paths[0]).s);
	*x = malloc(total * CIFAR_PIXELS);
	*y = malloc(total);
	buf = malloc(CHUNK * rec);
	if (!*x || !*y || !buf) {
		nash_err(err, NASH_ERR_OOM, "%s: out of memory", nash_name(paths[0]).s);
		goto fail;
	}
	size_t at = 0;
	for (int p = 0; p < n_paths; p++) {
		FILE *f = fopen(paths[p], "rb");
		if (!f) {
			nash_err(err, NASH_ERR_RUNTIME, "%s: %s", nash_name(paths[p]).s, strerror(errno));
			goto fail;
		}
		for (size_t i = 0; i < counts[p];) {
			size_t k = counts[p] - i < CHUNK ? counts[p] - i : CHUNK;
			if (fread(buf, rec, k, f) != k) {
				nash_err(err, NASH_ERR_RUNTIME, "%s: %s", nash_name(paths[p]).s,
					 ferror(f) ? strerror(errno) : "file shrank while reading");
				fclose(f);
				goto fail;
			}
			for (size_t j = 0; j < k; j++, i++) {
				const uint8_t *r = buf + j * rec;
				uint8_t label = r[label_bytes - 1];
				if (label >= n_classes) {
					nash_err(err, NASH_ERR_RUNTIME,
						 "%s: label %d of record %zu out of range (%d classes)",
						 nash_name(paths[p]).s, label, i, n_classes);
					fclose(f);
					goto fail;
				}
				(*y)[at] = label;
				memcpy(*x + at * CIFAR_PIXELS, r + label_bytes, CIFAR_PIXELS);
				at++;
			}
		}
		fclose(f);
	}
	free(buf);
	*n = (int)total;
	return 0;
fail:
	free(buf);
	free(*x);
	free(*y);
	*x = *y = NULL;
	return -1;
}

static int cifar10_load(Dataset *d, int want_test, NashErr *err)
{
	char paths[5][1024], file[32];
	for (int b = 1; b <= 5; b++) {
		snprintf(file, sizeof file, "data_batch_%d.bin", b);
		if (join(paths[b - 1], sizeof paths[b - 1], d->dir, file, err))
			return -1;
	}
	Counts want;
	counts_set(&want, 10000, d->declared[0],
		   "CIFAR-10's training set is data_batch_1.bin .. data_batch_5.bin, 10000 records each",
		   "data_batch_1.bin .. data_batch_5.bin", "cifar10", 0);
	if (cifar_load(&d->train_x, &d->train_y, &d->n_train, paths, 5, 1, 10, &want, err))
		return -1;
	if (!want_test)
		return 0;
	counts_set(&want, 10000, d->declared[1], "CIFAR-10's test_batch.bin holds 10000 records",
		   "test_batch.bin", "cifar10", 1);
	if (join(paths[0], sizeof paths[0], d->dir, "test_batch.bin", err))
		return -1;
	return cifar_load(&d->test_x, &d->test_y, &d->n_test, paths, 1, 1, 10, &want, err);
}

static int cifar100_load(Dataset *d, int want_test, NashErr *err)
{
	char paths[1][1024];
	Counts want;
	counts_set(&want, 50000, d->declared[0], "CIFAR-100's train.bin holds 50000 records", "train.bin",
		   "cifar100", 0);
	if (join(paths[0], sizeof paths[0], d->dir, "train.bin", err) ||
	    cifar_load(&d->train_x, &d->train_y, &d->n_train, paths, 1, 2, 100, &want, err))
		return -1;
	if (!want_test)
		return 0;
	counts_set(&want, 10000, d->declared[1], "CIFAR-100's test.bin holds 10000 records", "test.bin",
		   "cifar100", 1);
	if (join(paths[0], sizeof paths[0], d->dir, "test.bin", err))
		return -1;
	return cifar_load(&d->test_x, &d->test_y, &d->n_test, paths, 1, 2, 100, &want, err);
}

int dataset_load(Dataset *d, const char *spec, int want_test, NashErr *err)
{
	int r;
	memset(d, 0, sizeof *d);
	if (data_parse_spec(spec, d->name, sizeof d->name, d->dir, sizeof d->dir, d->declared, err))
		return -1;
	if (!strcmp(d->name, "h5")) {
		char path[sizeof d->dir];
		memcpy(path, d->dir, sizeof path);
		return dataset_load_h5(d, path, want_test, err);
	}
	dataset_shape(d->name, &d->c, &d->h, &d->w, &d->n_classes);
	if (!strcmp(d->name, "fashion-mnist")) {
		int *dc = d->declared;
		r = fmnist_load(&d->train_x, &d->train_y, &d->n_train, d->dir, "train", dc[0] ? dc[0] : 60000,
				dc[0] != 0, err);
		if (!r && want_test)
			r = fmnist_load(&d->test_x, &d->test_y, &d->n_test, d->dir, "t10k", dc[1] ? dc[1] : 10000,
					dc[1] != 0, err);
	} else if (!strcmp(d->name, "cifar10")) {
		r = cifar10_load(d, want_test, err);
	} else {
		r = cifar100_load(d, want_test, err);
	}
	if (r) {
		dataset_free(d);
		return -1;
	}
	return 0;
}

void dataset_free(Dataset *d)
{
	if (!d)
		return;
	free(d->train_x);
	free(d->train_y);
	free(d->test_x);
	free(d->test_y);
	free(d->class_names);
	memset(d, 0, sizeof *d);
}

/* ---- split, statistics, batches ---- */

int data_split(Split *s, const Dataset *d, int val_size, int limit, NashErr *err)
{
	if (val_size < 0 || val_size >= d->n_train)
		return nash_err(err, NASH_ERR_USAGE,
				"validation size %d out of range: %s has %d training images (need 0 <= val < %d)",
				val_size, d->name, d->n_train, d->n_train);
	s->val_begin = d->n_train - val_size;
	s->val_count = val_size;
	s->train_begin = 0;
	s->train_count = d->n_train - val_size;
	if (limit > 0 && limit < s->train_count)
		s->train_count = limit;
	return 0;
}

int data_default_val(const Dataset *d)
{
	int v = d->n_train / 10;
	if (v > NASH_DEFAULT_VAL)
		v = NASH_DEFAULT_VAL;
	if (v < d->n_classes)
		v = d->n_classes;
	return v < d->n_train ? v : d->n_train - 1;
}

int data_val_percent(int *val, const Dataset *d, double percent, NashErr *err)
{
	double v = floor(d->n_train * percent / 100.0 + 0.5);
	if (v < d->n_classes)
		v = d->n_classes;
	if (!(percent > 0 && percent < 100) || v >= d->n_train)
		return nash_err(err, NASH_ERR_USAGE,
				"a validation split of %g%% leaves no training image: %s has %d training images of %d classes",
				percent, d->name, d->n_train, d->n_classes);
	*val = (int)v;
	return 0;
}

void data_norm_stats(float *mean, float *std, const Dataset *d, int begin, int count)
{
	size_t hw = (size_t)d->h * d->w;
	for (int ch = 0; ch < d->c; ch++) {
		/* Integer sums are exact (60000 * 784 * 255^2 < 2^63); the rest is double. */
		uint64_t s = 0, sq = 0;
		for (int i = begin; i < begin + count; i++) {
			const uint8_t *p = d->train_x + ((size_t)i * d->c + ch) * hw;
			uint64_t si = 0, sqi = 0;
			for (size_t k = 0; k < hw; k++) {
				si += p[k];
				sqi += (uint64_t)p[k] * p[k];
			}
			s += si, sq += sqi;
		}
		double n = (double)count * (double)hw;
		double m = n > 0 ? (double)s / n : 0.0;
		double var = n > 0 ? (double)sq / n - m * m : 0.0;
		double sd = var > 0 ? sqrt(var) / 255.0 : 0.0;
		mean[ch] = (float)(m / 255.0);
		/* A constant channel gets std 1 so that normalised pixels stay finite. */
		std[ch] = sd > 1e-6 ? (float)sd : 1.0f;
	}
}

int data_crop_pad(int h) { return h >= 32 ? 4 : 2; }

void data_plan_batch(Sample *out, const int32_t *indices, int n, int pad, int augment, Rng *rng)
{
	for (int i = 0; i < n; i++) {
		Sample s = { .index = indices[i] };
		if (augment) {
			/* Draw order (part of the reproducibility contract): dy, dx, flip. */
			s.dy = (int8_t)((int)rng_below(rng, (uint32_t)(2 * pad + 1)) - pad);
			s.dx = (int8_t)((int)rng_below(rng, (uint32_t)(2 * pad + 1)) - pad);
			s.flip = (int8_t)rng_below(rng, 2);
		}
		out[i] = s;
	}
}

/* Crop then flip, as torchvision's RandomCrop(padding) followed by RandomHorizontalFlip:
     crop(y, x) = norm(in(y + dy, x + dx)), 0 outside the image (padding after normalising)
     out(y, x)  = crop(y, flip ? w-1-x : x)
   so out(y, x) = norm(in(y + dy, (flip ? w-1-x : x) + dx)). */
