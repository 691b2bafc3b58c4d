/* Model files nash did not just write: older files (training/runs before its later fields and
   the placement fields, format_version 1's lambdas) read as what they recorded; the attributes
   h5py writes are read; and a clear error for every kind of broken file (each made by editing
   a valid file with the HDF5 API). Round trips and writing: test_modelfile.c. */
#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "model/model.h"
#include "modelfile_common.h"

/* A file written before training/runs had warmup, train_on and images reads as what those
   runs did (no warmup, the training split, images not recorded); a bad train_on is refused. */
static void write_runs_table(const char *path, int with_train_on, const char *train_on)
{
	typedef struct {
		uint64_t seed;
		int batch, epochs, limit, augment;
		float lr_start, lr_end, momentum, weight_decay;
		char device[16], train_on[16];
	} OldRun;
	OldRun row = {.seed = 7, .batch = 64, .epochs = 3, .limit = 0, .augment = 1, .lr_start = 0.1f,
		      .lr_end = 0.001f, .momentum = 0.9f, .weight_decay = 5e-4f, .device = "cpu"};
	snprintf(row.train_on, sizeof row.train_on, "%s", train_on);
	hid_t str = H5Tcopy(H5T_C_S1);
	H5Tset_size(str, 16);
	hid_t t = H5Tcreate(H5T_COMPOUND, sizeof row);
	H5Tinsert(t, "seed", offsetof(OldRun, seed), H5T_NATIVE_UINT64);
	H5Tinsert(t, "batch", offsetof(OldRun, batch), H5T_NATIVE_INT);
	H5Tinsert(t, "epochs", offsetof(OldRun, epochs), H5T_NATIVE_INT);
	H5Tinsert(t, "limit", offsetof(OldRun, limit), H5T_NATIVE_INT);
	H5Tinsert(t, "augment", offsetof(OldRun, augment), H5T_NATIVE_INT);
	H5Tinsert(t, "lr_start", offsetof(OldRun, lr_start), H5T_NATIVE_FLOAT);
	H5Tinsert(t, "lr_end", offsetof(OldRun, lr_end), H5T_NATIVE_FLOAT);
	H5Tinsert(t, "momentum", offsetof(OldRun, momentum), H5T_NATIVE_FLOAT);
	H5Tinsert(t, "weight_decay", offsetof(OldRun, weight_decay), H5T_NATIVE_FLOAT);
	H5Tinsert(t, "device", offsetof(OldRun, device), str);
	if (with_train_on)
		H5Tinsert(t, "train_on", offsetof(OldRun, train_on), str);
	hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
	H5Ldelete(f, "training/runs", H5P_DEFAULT);
	hsize_t one = 1;
	hid_t sp = H5Screate_simple(1, &one, NULL);
	hid_t d = H5Dcreate2(f, "training/runs", t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
	CHECK(d >= 0 && H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, &row) >= 0);
	H5Dclose(d);
	H5Sclose(sp);
	H5Fclose(f);
	H5Tclose(t);
	H5Tclose(str);
}

TEST(runs_table_without_later_fields)
{
	Model m, r;
	NashErr err = { 0 };
	char path[512];
	make_model(&m, 0);
	path_in_tmp(path, sizeof path, "oldruns.h5");
	CHECKF(model_write(&m, path, &err) == 0, "%s", err.msg);
	write_runs_table(path, 0, "");
	CHECKF(model_read(&r, path, &err) == 0, "%s", err.msg);
	CHECK(r.n_runs == 1 && r.runs[0].seed == 7 && r.runs[0].batch == 64 && r.runs[0].epochs == 3 &&
	      same_float(r.runs[0].lr_end, 0.001f) && !strcmp(r.runs[0].engine, "cpu"));
	CHECK(r.runs[0].warmup == 0.0f && !strcmp(r.runs[0].train_on, "train") && r.runs[0].images == 0);
	CHECK(r.runs[0].label_smoothing == 0.0f && r.runs[0].ema == 0.0f && !strcmp(r.runs[0].tta, "none"));
	CHECK(!run_trained_on_val(&r.runs[0]));
	model_free(&r);
	write_runs_table(path, 1, "all"); /* some fields only */
	CHECKF(model_read(&r, path, &err) == 0, "%s", err.msg);
	CHECK(r.n_runs == 1 && !strcmp(r.runs[0].train_on, "all") && run_trained_on_val(&r.runs[0]) &&
	      r.runs[0].warmup == 0.0f);
	model_free(&r);
	write_runs_table(path, 1, "both");
	CHECK(model_read(&r, path, &err) == -1 && strstr(err.msg, "train_on 'both'") && strstr(err.msg, path));
	model_free(&m);
}

/* ---- corrupting a valid file with the HDF5 API ---- */

static hid_t open_rw(const char *path) { return H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT); }

static void set_attr(const char *path, const char *obj, const char *name, hid_t type, int n, const void *v)
{
	hid_t f = open_rw(path), o = H5Oopen(f, obj, H5P_DEFAULT);
	if (H5Aexists(o, name) > 0)
		H5Adelete(o, name);
	hsize_t d = (hsize_t)n;
	hid_t sp = n ? H5Screate_simple(1, &d, NULL) : H5Screate(H5S_SCALAR);
	hid_t a = H5Acreate2(o, name, type, sp, H5P_DEFAULT, H5P_DEFAULT);
	H5Awrite(a, type, v);
	H5Aclose(a);
	H5Sclose(sp);
	H5Oclose(o);
	H5Fclose(f);
}

static void set_int(const char *path, const char *obj, const char *name, int v)
{
	set_attr(path, obj, name, H5T_NATIVE_INT, 0, &v);
}

static void set_str(const char *path, const char *obj, const char *name, const char *s)
{
	hid_t t = H5Tcopy(H5T_C_S1);
	H5Tset_size(t, strlen(s) + 1);
	set_attr(path, obj, name, t, 0, s);
	H5Tclose(t);
}

static void del_attr(const char *path, const char *obj, const char *name)
{
	hid_t f = open_rw(path);
	H5Adelete_by_name(f, obj, name, H5P_DEFAULT);
	H5Fclose(f);
}

static void del_link(const char *path, const char *obj)
{
	hid_t f = open_rw(path);
	H5Ldelete(f, obj, H5P_DEFAULT);
	H5Fclose(f);
}

static void move_link(const char *path, const char *from, const char *to)
{
	hid_t f = open_rw(path);
	H5Lmove(f, from, f, to, H5P_DEFAULT, H5P_DEFAULT);
	H5Fclose(f);
}

static void add_dataset(const char *path, const char *obj, int rank, const hsize_t *dims)
{
	hid_t f = open_rw(path), sp = H5Screate_simple(rank, dims, NULL);
	hid_t d = H5Dcreate2(f, obj, H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
	H5Dclose(d);
	H5Sclose(sp);
	H5Fclose(f);
}

static void poke_nan(const char *path, const char *obj)
{
	hid_t f = open_rw(path), d = H5Dopen2(f, obj, H5P_DEFAULT), sp = H5Dget_space(d);
	size_t n = (size_t)H5Sget_simple_extent_npoints(sp);
	float *x = malloc(n * sizeof *x);
	H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, x);
	x[n / 2] = NAN;
	H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, x);
	free(x);
	H5Sclose(sp);
	H5Dclose(d);
	H5Fclose(f);
}

/* A fresh valid model file at path. */
static void fresh(const char *path)
{
	Model m;
	NashErr err = { 0 };
	make_model(&m, 0);
	if (model_write(&m, path, &err))
		printf("# fresh: %s\n", err.msg);
	model_free(&m);
}

/* model_read must fail with a message naming the file and containing phrase. */
static void expect_fail(const char *path, const char *phrase, int line)
{
	Model m;
	NashErr err = { 0 };
	int rc = model_read(&m, path, &err);
	if (rc == 0) {
		printf("#   line %d: read succeeded, expected '%s'\n", line, phrase);
		check_current_failed = 1;
		model_free(&m);
		return;
	}
	if (!strstr(err.msg, phrase) || strncmp(err.msg, path, strlen(path)) != 0 || err.code != NASH_ERR_RUNTIME) {
		printf("#   line %d: error '%s' lacks the file name or '%s'\n", line, err.msg, phrase);
		check_current_failed = 1;
	}
	CHECK(m.g.nodes == NULL && m.records == NULL); /* nothing left allocated */
}
#define EXPECT_FAIL(path, phrase) expect_fail(path, phrase, __LINE__)

TEST(bad_files_are_rejected)
{
	char p[512];
	H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* our own edits may probe missing objects */
	path_in_tmp(p, sizeof p, "bad.h5");

	write_bytes(p, "");
	EXPECT_FAIL(p, "empty file");
	write_bytes(p, "this is not a model\n");
	EXPECT_FAIL(p, "not an HDF5 file");
	fresh(p);
	FILE *f = fopen(p, "r+b"); /* keep the signature, destroy the superblock */
	fseek(f, 8, SEEK_SET);
	fputs("garbage garbage garbage", f);
	fclose(f);
	EXPECT_FAIL(p, "corrupt HDF5 file");

	fresh(p);
	set_int(p, "/", "format_version", 7);
	EXPECT_FAIL(p, "format_version 7 is newer than this nash supports (2)");
	fresh(p);
	set_str(p, "/", "format", "keras");
	EXPECT_FAIL(p, "format is 'keras'");
	fresh(p);
	del_attr(p, "/", "format");
	EXPECT_FAIL(p, "not a nash model file");
	fresh(p);
	del_attr(p, "/", "num_classes");
	EXPECT_FAIL(p, "missing attribute 'num_classes'");
	fresh(p);
	del_attr(p, "graph/001_conv", "kernel");
	EXPECT_FAIL(p, "graph/001_conv: missing attribute 'kernel'");
	fresh(p);
	set_int(p, "/", "dataset", 3);
	EXPECT_FAIL(p, "attribute 'dataset' has the wrong type");

	fresh(p);
	move_link(p, "graph/005_conv", "graph/005_foo");
	set_str(p, "graph/005_foo", "op", "foo");
	EXPECT_FAIL(p, "unknown op 'foo' in graph/005_foo");
	fresh(p);
	set_str(p, "graph/009_add", "inputs", "007_relu,099_conv");
	EXPECT_FAIL(p, "graph/009_add: input '099_conv' does not exist");
	fresh(p);
	set_str(p, "graph/005_conv", "inputs", "008_conv");
	EXPECT_FAIL(p, "graph/005_conv: input '008_conv' is not an earlier node");
	fresh(p);
	move_link(p, "graph/003_relu", "graph/013_relu");
	EXPECT_FAIL(p, "graph/013_relu: node groups must be named");
	fresh(p);
	move_link(p, "graph/003_relu", "graph/003_gap");
	EXPECT_FAIL(p, "must be named 003_relu");
	fresh(p);
	set_int(p, "graph/008_conv", "out_channels", 8);
	EXPECT_FAIL(p, "add of shapes");
	fresh(p);
	int shape[3] = { 9, 28, 28 };
	set_attr(p, "graph/001_conv", "output_shape", H5T_NATIVE_INT, 3, shape);
	EXPECT_FAIL(p, "graph/001_conv: output_shape 9x28x28 does not match the inferred 8x28x28");

	fresh(p);
	del_link(p, "graph/005_conv/bias");
	EXPECT_FAIL(p, "graph/005_conv: missing dataset 'bias'");
	fresh(p);
	hsize_t d1 = 4;
	add_dataset(p, "graph/006_bn/foo", 1, &d1);
	EXPECT_FAIL(p, "graph/006_bn: unexpected dataset 'foo'");
	fresh(p);
	hsize_t d4[4] = { 8, 1, 5, 5 };
	del_link(p, "graph/001_conv/weight");
	add_dataset(p, "graph/001_conv/weight", 4, d4);
	EXPECT_FAIL(p, "graph/001_conv/weight: shape [8,1,5,5] does not match the expected [8,1,3,3]");
	fresh(p);
	poke_nan(p, "graph/008_conv/weight");
	EXPECT_FAIL(p, "graph/008_conv/weight: element");
	EXPECT_FAIL(p, "NaN");
	fresh(p);
	del_link(p, "training/record");
	EXPECT_FAIL(p, "missing dataset 'training/record'");
	fresh(p);
	del_link(p, "lineage");
	EXPECT_FAIL(p, "missing dataset 'lineage'");
	fresh(p);
	set_str(p, "/", "model_id", "XYZ");
	EXPECT_FAIL(p, "model_id 'XYZ'");

	path_in_tmp(p, sizeof p, "does-not-exist.h5");
	EXPECT_FAIL(p, "No such file or directory");
	CHECK(H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL) == 0); /* no HDF5 handle leaked */
}

/* Replaces dataset obj by a [1] one holding v. */
static void set_scalar_dataset(const char *path, const char *obj, float v)
{
	hsize_t one = 1;
	del_link(path, obj);
	add_dataset(path, obj, 1, &one);
	hid_t f = open_rw(path), d = H5Dopen2(f, obj, H5P_DEFAULT);
	H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, &v);
	H5Dclose(d);
	H5Fclose(f);
}

/* format_version 1 stored one lambda [1] per add; it is read as that value for every channel.
   In a version 2 file a [1] lambda is an error. */
TEST(format_version_1_lambda)
{
	char p[512];
	H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
	path_in_tmp(p, sizeof p, "v1.h5");
	Model m;
	NashErr err = {0};
	make_model(&m, 1); /* a checkpoint: momentum buffers too */
	CHECKF(model_write(&m, p, &err) == 0, "%s", err.msg);
	model_free(&m);
	del_link(p, "/graph/009_add/ema_lambda"); /* the weight average came after version 2 */
	set_scalar_dataset(p, "/graph/009_add/lambda", 0.75f);
	EXPECT_FAIL(p, "graph/009_add/lambda: shape [1] does not match the expected [16]");
	set_int(p, "/", "format_version", 1);
	EXPECT_FAIL(p, "graph/009_add/momentum_lambda: shape [16] does not match the expected [1]");
	set_scalar_dataset(p, "/graph/009_add/momentum_lambda", -0.25f);
	CHECKF(model_read(&m, p, &err) == 0, "%s", err.msg);
	if (err.code == 0) {
		const Tensor *l = &m.g.nodes[9].params[0];
		int all = l->dims[0] == 16 && l->momentum;
		for (int c = 0; all && c < l->dims[0]; c++)
			all &= l->data[c] == 0.75f && l->momentum[c] == -0.25f;
		CHECK(all);
		model_free(&m);
	}
}

/* Rewrites training/runs as a nash before the placement fields (host, hardware, job) wrote
   it; with int_job, plus a field 'job' of the wrong type (an integer); with old_hardware, plus
   the hardware as files had it before 2026-12-07: "device_name", 64 bytes. */
static void rewrite_runs_without_placement(const char *path, int int_job, const char *old_hardware)
{
	typedef struct OldRun {
		uint64_t seed;
		int batch, epochs, limit, augment;
		float lr_start, lr_end, momentum, weight_decay;
		char device[16];
		int job;
		char device_name[64];
	} OldRun;
	hid_t str64 = H5Tcopy(H5T_C_S1);
	H5Tset_size(str64, 64);
	hid_t str = H5Tcopy(H5T_C_S1);
	H5Tset_size(str, 16);
	hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(OldRun));
	H5Tinsert(t, "seed", offsetof(OldRun, seed), H5T_NATIVE_UINT64);
	H5Tinsert(t, "batch", offsetof(OldRun, batch), H5T_NATIVE_INT);
	H5Tinsert(t, "epochs", offsetof(OldRun, epochs), H5T_NATIVE_INT);
	H5Tinsert(t, "limit", offsetof(OldRun, limit), H5T_NATIVE_INT);
	H5Tinsert(t, "augment", offsetof(OldRun, augment), H5T_NATIVE_INT);
	H5Tinsert(t, "lr_start", offsetof(OldRun, lr_start), H5T_NATIVE_FLOAT);
	H5Tinsert(t, "lr_end", offsetof(OldRun, lr_end), H5T_NATIVE_FLOAT);
	H5Tinsert(t, "momentum", offsetof(OldRun, momentum), H5T_NATIVE_FLOAT);
	H5Tinsert(t, "weight_decay", offsetof(OldRun, weight_decay), H5T_NATIVE_FLOAT);
	H5Tinsert(t, "device", offsetof(OldRun, device), str);
	if (int_job)
		H5Tinsert(t, "job", offsetof(OldRun, job), H5T_NATIVE_INT);
	if (old_hardware)
		H5Tinsert(t, "device_name", offsetof(OldRun, device_name), str64);
	hid_t f = open_rw(path), d = H5Dopen2(f, "training/runs", H5P_DEFAULT), sp = H5Dget_space(d);
	hsize_t n = 0;
	H5Sget_simple_extent_dims(sp, &n, NULL);
	OldRun *rows = calloc(n, sizeof *rows);
	H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows); /* job: not in the file, stays 0 */
	for (hsize_t i = 0; old_hardware && i < n; i++)
		snprintf(rows[i].device_name, sizeof rows[i].device_name, "%s", old_hardware);
	H5Dclose(d);
	H5Ldelete(f, "training/runs", H5P_DEFAULT);
	d = H5Dcreate2(f, "training/runs", t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
	H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows);
	free(rows);
	H5Dclose(d);
	H5Sclose(sp);
	H5Fclose(f);
	H5Tclose(t);
	H5Tclose(str);
	H5Tclose(str64);
}

/* Files written before the placement fields still read: the fields are empty, the rest intact.
   A placement field of another type is an error, as for any other field. */
TEST(runs_without_placement_are_read)
{
	char p[512];
	H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
	path_in_tmp(p, sizeof p, "old-runs.h5");
	Model m, r;
	NashErr err = {0};
	make_model(&m, 0);
	CHECKF(model_write(&m, p, &err) == 0, "%s", err.msg);
	rewrite_runs_without_placement(p, 0, NULL);
	CHECKF(model_read(&r, p, &err) == 0, "%s", err.msg);
	if (err.code == 0) {
		CHECK(r.n_runs == 1 && r.runs[0].host[0] == '\0' && r.runs[0].hardware[0] == '\0' &&
		      r.runs[0].job[0] == '\0');
		snprintf(r.runs[0].host, sizeof r.runs[0].host, "%s", m.runs[0].host);
		snprintf(r.runs[0].hardware, sizeof r.runs[0].hardware, "%s", m.runs[0].hardware);
		snprintf(r.runs[0].job, sizeof r.runs[0].job, "%s", m.runs[0].job);
		/* the later fields of the training (warmup, train_on, images, the recipe's) are not in
		   the file either */
		CHECK(r.runs[0].warmup == 0.0f && !strcmp(r.runs[0].train_on, "train") && r.runs[0].images == 0);
		CHECK(r.runs[0].label_smoothing == 0 && r.runs[0].ema == 0 && !strcmp(r.runs[0].tta, "none"));
		r.runs[0].warmup = m.runs[0].warmup, r.runs[0].images = m.runs[0].images;
		r.runs[0].label_smoothing = m.runs[0].label_smoothing, r.runs[0].ema = m.runs[0].ema;
		snprintf(r.runs[0].train_on, sizeof r.runs[0].train_on, "%s", m.runs[0].train_on);
		snprintf(r.runs[0].tta, sizeof r.runs[0].tta, "%s", m.runs[0].tta);
		CHECK(models_equal(&m, &r));
		model_free(&r);
	}
	model_free(&m);
	/* the hardware in 64 bytes, as files had it before it had 128 */
	const char *old = "NVIDIA H200, GPU 0 of 1, 139.8 GiB (CUDA_VISIBLE_DEVICES=3) and";
	CHECK(strlen(old) == 63);
	rewrite_runs_without_placement(p, 0, old);
	CHECKF(model_read(&r, p, &err) == 0, "%s", err.msg);
	if (err.code == 0) {
		CHECKF(strcmp(r.runs[0].hardware, old) == 0, "%s", r.runs[0].hardware);
		model_free(&r);
	}
	fresh(p);
	rewrite_runs_without_placement(p, 1, NULL);
	EXPECT_FAIL(p, "training/runs: field 'job' has the wrong type");
}

/* What h5py writes for `f.attrs[k] = v`: variable-length strings, int64, float64. */
TEST(h5py_style_attributes_are_read)
{
	char p[512];
	Model m;
	NashErr err = { 0 };
	path_in_tmp(p, sizeof p, "h5py.h5");
	fresh(p);
	hid_t vs = H5Tcopy(H5T_C_S1);
	H5Tset_size(vs, H5T_VARIABLE);
	const char *name = "cifar10";
	set_attr(p, "/", "dataset", vs, 0, &name);
	H5Tclose(vs);
	long long val_size = 1234;
	set_attr(p, "/", "val_size", H5T_NATIVE_LLONG, 0, &val_size);
	double acc = 0.25;
	set_attr(p, "/", "test_accuracy", H5T_NATIVE_DOUBLE, 0, &acc);
	hid_t np = H5Tcopy(H5T_C_S1); /* numpy bytes: NULLPAD, no room for a NUL */
	H5Tset_size(np, 16);
	H5Tset_strpad(np, H5T_STR_NULLPAD);
	set_attr(p, "/", "parent_id", np, 0, "fedcba9876543210");
	H5Tclose(np);
	CHECKF(model_read(&m, p, &err) == 0, "%s", err.msg);
	CHECK(strcmp(m.dataset, "cifar10") == 0 && m.val_size == 1234 && m.test_accuracy == 0.25f);
	CHECKF(strcmp(m.parent_id, "fedcba9876543210") == 0, "%s", m.parent_id);
	model_free(&m);
	/* "-" reads standard input */
	if (freopen(p, "rb", stdin)) {
		CHECKF(model_read(&m, "-", &err) == 0, "%s", err.msg);
		CHECK(strcmp(m.dataset, "cifar10") == 0);
		model_free(&m);
	}
}

int main(void)
{
	if (tmpdir_make("modelfile-compat"))
		return 1;
	RUN(runs_table_without_later_fields);
	RUN(bad_files_are_rejected);
	RUN(format_version_1_lambda);
	RUN(runs_without_placement_are_read);
	RUN(h5py_style_attributes_are_read);
	tmpdir_remove();
	CHECK_DONE();
}
