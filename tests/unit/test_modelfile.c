/* Model files: exact round trips through memory and files, the optional attributes,
   byte-identical output, the recipe's fields, failed writes that leave nothing, validation and
   cloning. Reading older, h5py-written and broken files: test_modelfile_compat.c. */
#include <dirent.h>
#include <hdf5.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "base/atomic.h"
#include "check.h"
#include "model/model.h"
#include "modelfile_common.h"

TEST(round_trip_is_exact)
{
	for (int mom = 0; mom < 2; mom++) {
		Model m, r;
		NashErr err = { 0 };
		make_model(&m, mom);
		void *buf;
		size_t len;
		CHECKF(model_write_mem(&m, &buf, &len, &err) == 0, "%s", err.msg);
		CHECKF(model_read_mem(&r, buf, len, "mem", &err) == 0, "%s", err.msg);
		CHECK(models_equal(&m, &r));
		CHECK(r.n_records == 2 && isnan(r.records[0].val_acc));
		free(buf);
		model_free(&r);
		model_free(&m);
	}
}

TEST(file_round_trip_and_h5dump)
{
	Model m, r;
	NashErr err = { 0 };
	char path[512], cmd[1200];
	make_model(&m, 0);
	m.test_accuracy = 0.5f;
	m.failed = 1;
	snprintf(m.failure, sizeof m.failure, "diverged at epoch 3");
	path_in_tmp(path, sizeof path, "m.h5");
	CHECKF(model_write(&m, path, &err) == 0, "%s", err.msg);
	CHECKF(model_read(&r, path, &err) == 0, "%s", err.msg);
	CHECK(models_equal(&m, &r));
	model_free(&r);
	if (system("command -v h5dump >/dev/null 2>&1") != 0) {
		printf("# skip: h5dump not installed\n");
	} else {
		snprintf(cmd, sizeof cmd, "h5dump -H '%s' >/dev/null 2>&1", path);
		CHECK(system(cmd) == 0);
		snprintf(cmd, sizeof cmd, "h5dump -a val_accuracy '%s' | grep -q 0.8125", path);
		CHECK(system(cmd) == 0);
		snprintf(cmd, sizeof cmd, "h5dump -d graph/001_conv/weight '%s' >/dev/null 2>&1", path);
		CHECK(system(cmd) == 0);
	}
	model_free(&m);
}

TEST(optional_attributes)
{
	Model m, r;
	NashErr err = { 0 };
	char path[512];
	make_model(&m, 0);
	m.val_accuracy = NAN;
	m.val_tta = TTA_NONE; /* no accuracy, nothing it was measured with */
	path_in_tmp(path, sizeof path, "opt.h5");
	CHECKF(model_write(&m, path, &err) == 0, "%s", err.msg);
	hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
	CHECK(f >= 0);
	CHECK(H5Aexists(f, "val_accuracy") == 0);
	CHECK(H5Aexists(f, "test_accuracy") == 0);
	CHECK(H5Aexists(f, "failed") == 0);
	CHECK(H5Aexists(f, "checkpoint_epochs_done") == 0);
	CHECK(H5Lexists(f, "graph/001_conv/momentum_weight", H5P_DEFAULT) == 0);
	CHECK(H5Lexists(f, "graph/001_conv/ema_weight", H5P_DEFAULT) == 0);
	CHECK(H5Aexists(f, "val_accuracy_tta") == 0 && H5Aexists(f, "test_accuracy_tta") == 0);
	CHECK(H5Aexists(f, "model_id") > 0);
	H5Fclose(f);
	CHECKF(model_read(&r, path, &err) == 0, "%s", err.msg);
	CHECK(isnan(r.val_accuracy) && isnan(r.test_accuracy) && !r.failed && r.ckpt_epochs_done == 0);
	CHECK(r.g.nodes[1].params[0].momentum == NULL && r.g.nodes[1].params[0].ema == NULL);
	CHECK(r.val_tta == TTA_NONE && r.test_tta == TTA_NONE);
	model_free(&r);
	/* empty tables and a seed's empty parent id */
	free(m.records);
	free(m.runs);
	free(m.lineage);
	m.records = NULL, m.runs = NULL, m.lineage = NULL;
	m.n_records = m.n_runs = m.n_lineage = 0;
	m.parent_id[0] = '\0';
	CHECKF(model_write(&m, path, &err) == 0, "%s", err.msg);
	CHECKF(model_read(&r, path, &err) == 0, "%s", err.msg);
	CHECK(models_equal(&m, &r));
	model_free(&r);
	model_free(&m);
}

TEST(writing_is_deterministic)
{
	Model m, r;
	NashErr err = { 0 };
	void *a, *b, *c;
	size_t la, lb, lc;
	make_model(&m, 1);
	CHECKF(model_write_mem(&m, &a, &la, &err) == 0, "%s", err.msg);
#ifdef __GLIBC__
	mallopt(M_PERTURB, 0xa5); /* fresh heap garbage, so uninitialised bytes would show */
#endif
	CHECKF(model_write_mem(&m, &b, &lb, &err) == 0, "%s", err.msg);
	CHECK(la == lb && memcmp(a, b, la) == 0);
	CHECKF(model_read_mem(&r, a, la, "mem", &err) == 0, "%s", err.msg);
	CHECKF(model_write_mem(&r, &c, &lc, &err) == 0, "%s", err.msg);
	CHECK(la == lc && memcmp(a, c, la) == 0);
#ifdef __GLIBC__
	mallopt(M_PERTURB, 0);
#endif
	/* junk after a string's NUL is not part of the model */
	memset(r.runs[0].engine + 4, 'q', sizeof r.runs[0].engine - 4);
	memset(r.runs[0].job + 7, 'q', sizeof r.runs[0].job - 7);
	memset(r.lineage[1].op + 6, 'q', sizeof r.lineage[1].op - 6);
	free(c);
	CHECKF(model_write_mem(&r, &c, &lc, &err) == 0, "%s", err.msg);
	CHECK(la == lc && memcmp(a, c, la) == 0);
	/* a different model gives different bytes */
	m.g.nodes[1].params[0].data[0] += 1.0f;
	free(c);
	CHECKF(model_write_mem(&m, &c, &lc, &err) == 0, "%s", err.msg);
	CHECK(!(la == lc && memcmp(a, c, la) == 0));
	free(a);
	free(b);
	free(c);
	model_free(&r);
	model_free(&m);
}


/* The recipe's record (nash-train --label-smoothing, --ema, --tta): the accuracies' test-time
   augmentation as root attributes only when it is not none, a checkpoint's weight average as
   ema_<name>, and values out of range refused by the writer and the reader. */
TEST(recipe_fields)
{
	Model m, r;
	NashErr err = { 0 };
	char path[512];
	make_model(&m, 1);
	m.test_accuracy = 0.75f; /* measured without augmentation: no test_accuracy_tta */
	path_in_tmp(path, sizeof path, "recipe.h5");
	CHECKF(model_write(&m, path, &err) == 0, "%s", err.msg);
	hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
	CHECK(H5Aexists(f, "val_accuracy_tta") > 0 && H5Aexists(f, "test_accuracy_tta") == 0);
	CHECK(H5Lexists(f, "graph/002_bn/ema_running_var", H5P_DEFAULT) > 0);
	H5Fclose(f);
	CHECKF(model_read(&r, path, &err) == 0, "%s", err.msg);
	CHECK(models_equal(&m, &r) && r.val_tta == TTA_FLIP_SHIFT && r.test_tta == TTA_NONE);
	CHECK(!strcmp(r.runs[0].tta, "flip-shift") && r.runs[0].ema == 0.99f && r.runs[0].label_smoothing == 0.125f);
	/* a fresh run drops the weight average with the momentum */
	model_drop_optimizer(&r);
	CHECK(r.g.nodes[2].params[3].ema == NULL && r.g.nodes[2].params[3].momentum == NULL);
	model_free(&r);
	/* an unknown root tta is refused, naming it */
	f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
	H5Adelete(f, "val_accuracy_tta");
	hid_t str = H5Tcopy(H5T_C_S1), sp = H5Screate(H5S_SCALAR);
	H5Tset_size(str, 8);
	hid_t a = H5Acreate2(f, "val_accuracy_tta", str, sp, H5P_DEFAULT, H5P_DEFAULT);
	CHECK(a >= 0 && H5Awrite(a, str, "mirror\0\0") >= 0);
	H5Aclose(a), H5Sclose(sp), H5Tclose(str), H5Fclose(f);
	CHECK(model_read(&r, path, &err) == -1 &&
	      strstr(err.msg, "val_accuracy_tta 'mirror' is not none, flip or flip-shift"));
	/* the writer refuses what the reader would */
	struct { float ls, ema; const char *tta, *msg; } bad[] = {
		{1.0f, 0, "none", "label_smoothing 1 or ema 0 is not in [0, 1)"},
		{0, -0.5f, "none", "label_smoothing 0 or ema -0.5 is not in [0, 1)"},
		{0, 0, "flop", "tta 'flop' is not none, flip or flip-shift"},
	};
	for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
		RunSettings keep = m.runs[0];
		m.runs[0].label_smoothing = bad[k].ls, m.runs[0].ema = bad[k].ema;
		snprintf(m.runs[0].tta, sizeof m.runs[0].tta, "%s", bad[k].tta);
		nash_err_clear(&err);
		CHECKF(model_write(&m, path, &err) == -1 && strstr(err.msg, bad[k].msg), "%s", err.msg);
		m.runs[0] = keep;
	}
	model_free(&m);
}

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	int n = 0;
	for (struct dirent *e; d && (e = readdir(d));)
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	if (d)
		closedir(d);
	return n;
}

TEST(failed_writes_leave_nothing)
{
	Model m;
	NashErr err = { 0 };
	char dir[512], p[600];
	make_model(&m, 0);
	path_in_tmp(dir, sizeof dir, "w");
	CHECK(mkdir(dir, 0700) == 0);
	snprintf(p, sizeof p, "%s/missing/m.h5", dir);
	CHECK(model_write(&m, p, &err) == -1);
	CHECKF(strstr(err.msg, "No such file or directory") && strstr(err.msg, p), "%s", err.msg);
	CHECK(count_entries(dir) == 0);
	/* the temp file is created, then rename onto a directory fails: it must be removed */
	snprintf(p, sizeof p, "%s/m.h5", dir);
	CHECK(mkdir(p, 0700) == 0);
	CHECK(model_write(&m, p, &err) == -1);
	CHECKF(strstr(err.msg, p) != NULL, "%s", err.msg);
	CHECK(count_entries(dir) == 1);
	rmdir(p);
	/* an invalid model is refused before anything is written */
	m.g.nodes[2].params[0].data[3] = INFINITY;
	CHECK(model_write(&m, p, &err) == -1);
	CHECKF(strstr(err.msg, "graph/002_bn/gamma") && strstr(err.msg, "Inf"), "%s", err.msg);
	CHECK(count_entries(dir) == 0);
	/* a good write replaces an existing file */
	m.g.nodes[2].params[0].data[3] = 1.0f;
	write_bytes(p, "old");
	CHECKF(model_write(&m, p, &err) == 0, "%s", err.msg);
	CHECK(count_entries(dir) == 1);
	Model r;
	CHECKF(model_read(&r, p, &err) == 0, "%s", err.msg);
	CHECK(models_equal(&m, &r));
	model_free(&r);
	unlink(p);
	rmdir(dir);
	model_free(&m);
}

TEST(validate_clone_and_ids)
{
	Model m, c;
	NashErr err = { 0 };
	make_model(&m, 1);
	CHECKF(model_validate(&m, &err) == 0, "%s", err.msg);
	CHECKF(model_clone(&c, &m, &err) == 0, "%s", err.msg);
	CHECK(models_equal(&m, &c));
	CHECK(c.g.nodes[1].params[0].data != m.g.nodes[1].params[0].data);
	CHECK(c.records != m.records);
	model_set_id(&c, 0xabcULL);
	CHECK(strcmp(c.id, "0000000000000abc") == 0);
	c.std[0] = 0;
	CHECK(model_validate(&c, &err) == -1 && strstr(err.msg, "norm_std"));
	c.std[0] = 1;
	c.dataset[0] = '\0';
	CHECK(model_validate(&c, &err) == -1 && strstr(err.msg, "dataset"));
	snprintf(c.dataset, sizeof c.dataset, "cifar10");
	c.val_size = -1;
	CHECK(model_validate(&c, &err) == -1 && strstr(err.msg, "val_size"));
	c.val_size = 0;
	c.g.nodes[12].params[1].data[0] = NAN;
	CHECK(model_validate(&c, &err) == -1 && strstr(err.msg, "graph/012_dense/bias") && strstr(err.msg, "NaN"));
	c.g.nodes[12].params[1].data[0] = 0;
	CHECKF(model_validate(&c, &err) == 0, "%s", err.msg);
	model_free(&c);
	CHECK(c.g.nodes == NULL && isnan(c.val_accuracy));
	model_free(&m);
}

TEST(read_all_and_atomic_write)
{
	char p[512];
	NashErr err = { 0 };
	void *buf;
	size_t len;
	path_in_tmp(p, sizeof p, "bytes");
	CHECKF(atomic_write(p, "hello", 5, &err) == 0, "%s", err.msg);
	CHECKF(read_all(p, &buf, &len, &err) == 0, "%s", err.msg);
	CHECK(len == 5 && memcmp(buf, "hello", 5) == 0 && ((char *)buf)[5] == '\0');
	free(buf);
	struct stat st;
	mode_t um = umask(0);
	umask(um);
	CHECK(stat(p, &st) == 0 && (st.st_mode & 0777) == (0666 & ~um)); /* not mkstemp's 0600 */
	unlink(p);
	CHECK(read_all(tmpdir, &buf, &len, &err) == -1 && strstr(err.msg, tmpdir));
}

int main(void)
{
	if (tmpdir_make("modelfile"))
		return 1;
	RUN(round_trip_is_exact);
	RUN(file_round_trip_and_h5dump);
	RUN(optional_attributes);
	RUN(writing_is_deterministic);
	RUN(recipe_fields);
	RUN(failed_writes_leave_nothing);
	RUN(validate_clone_and_ids);
	RUN(read_all_and_atomic_write);
	tmpdir_remove();
	CHECK_DONE();
}
