/* Class names: the rule (base/classnames.h), their JSON form (the ONNX metadata), and the
   model file's optional class_names attribute: written, read back exactly, absent in older
   files, and refused when the file's names break the rule. */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/classnames.h"
#include "check.h"
#include "model/init.h"
#include "model/model.h"

static char tmpdir[256];

/* names[n][NASH_CLASS_NAME_MAX] from a list */
static char *names_of(const char *const *list, int n)
{
	char *s = calloc((size_t)n, NASH_CLASS_NAME_MAX);
	for (int k = 0; k < n; k++)
		snprintf(s + (size_t)k * NASH_CLASS_NAME_MAX, NASH_CLASS_NAME_MAX, "%s", list[k]);
	return s;
}

static const char *const tricky[3] = { "big cat, small \"dog\"", "caf\xc3\xa9 \\ cr\xc3\xa8me", "x" };

TEST(rule)
{
	NashErr err = { 0 };
	char *ok = names_of(tricky, 3);
	CHECK(class_names_check(ok, 3, &err) == 0);
	const char *const dup[2] = { "Cat", "cAT" }, *const empty[2] = { "a", "" }, *const ctl[2] = { "a", "b\tc" };
	const char *const latin1[2] = { "a", "caf\xe9" };
	char *s = names_of(dup, 2);
	CHECK(class_names_check(s, 2, &err) == -1 && strstr(err.msg, "classes 0 and 1 have the same name 'cAT' (ignoring case)"));
	free(s);
	s = names_of(empty, 2);
	CHECK(class_names_check(s, 2, &err) == -1 && strstr(err.msg, "class 1 has an empty name"));
	free(s);
	s = names_of(ctl, 2);
	CHECK(class_names_check(s, 2, &err) == -1 && strstr(err.msg, "class 1's name is not UTF-8 text"));
	free(s);
	s = names_of(latin1, 2);
	CHECK(class_names_check(s, 2, &err) == -1 && strstr(err.msg, "class 1's name is not UTF-8 text"));
	memset(s, 'a', NASH_CLASS_NAME_MAX); /* no NUL in its row */
	CHECK(class_names_check(s, 2, &err) == -1 && strstr(err.msg, "class 0's name is longer than 63 bytes"));
	free(s);
	free(ok);
}

TEST(json)
{
	char *s = names_of(tricky, 3);
	char *j = class_names_json(s, 3);
	CHECKF(j && !strcmp(j, "[\"big cat, small \\\"dog\\\"\",\"caf\xc3\xa9 \\\\ cr\xc3\xa8me\",\"x\"]"), "%s", j);
	free(j);
	free(s);
}

static void make(Model *m, const char *names)
{
	int widths[2] = { 4, 8 };
	NashErr err = { 0 };
	CHECK(seed_network(m, "pets", 3, 8, 8, 3, widths, 2, 1, &err) == 0);
	for (int c = 0; c < 3; c++)
		m->mean[c] = 0.5f, m->std[c] = 0.25f;
	CHECK(model_set_class_names(m, names, &err) == 0);
}

/* Replaces m.h5's class_names with n strings of type t (from buf). */
static void set_attr(const char *path, hid_t t, int n, const void *buf)
{
	hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
	hsize_t d = (hsize_t)n;
	hid_t sp = H5Screate_simple(1, &d, NULL);
	H5Adelete(f, "class_names");
	hid_t a = H5Acreate2(f, "class_names", t, sp, H5P_DEFAULT, H5P_DEFAULT);
	CHECK(a >= 0 && H5Awrite(a, t, buf) >= 0);
	H5Aclose(a);
	H5Sclose(sp);
	H5Fclose(f);
}

TEST(model_file)
{
	NashErr err = { 0 };
	char path[300], *names = names_of(tricky, 3);
	snprintf(path, sizeof path, "%s/m.h5", tmpdir);
	Model m, r, c;
	make(&m, names);
	CHECKF(model_write(&m, path, &err) == 0, "%s", err.msg);
	CHECKF(model_read(&r, path, &err) == 0, "%s", err.msg);
	if (!r.class_names)
		return;
	CHECK(r.class_names && !memcmp(r.class_names, names, 3 * NASH_CLASS_NAME_MAX));
	CHECK(model_clone(&c, &r, &err) == 0 && c.class_names != r.class_names &&
	      !memcmp(c.class_names, names, 3 * NASH_CLASS_NAME_MAX));
	model_free(&c);
	/* deterministic: bytes after a name's NUL never reach the file */
	void *a, *b;
	size_t la, lb;
	memset(r.class_names + 2 * NASH_CLASS_NAME_MAX + 2, 'z', 10);
	CHECK(model_write_mem(&m, &a, &la, &err) == 0 && model_write_mem(&r, &b, &lb, &err) == 0);
	CHECK(la == lb && !memcmp(a, b, la));
	free(a);
	free(b);
	model_free(&r);
	model_free(&m);

	/* a model without names (a file from before them) reads as before: NULL */
	make(&m, NULL);
	CHECK(model_write(&m, path, &err) == 0 && model_read(&r, path, &err) == 0 && !r.class_names);
	model_free(&r);
	model_free(&m);

	/* h5py's str list: variable-length UTF-8, read too */
	make(&m, names);
	CHECK(model_write(&m, path, &err) == 0);
	hid_t vt = H5Tcopy(H5T_C_S1);
	H5Tset_size(vt, H5T_VARIABLE);
	H5Tset_cset(vt, H5T_CSET_UTF8);
	const char *v[3] = { tricky[0], tricky[1], tricky[2] };
	set_attr(path, vt, 3, v);
	CHECKF(model_read(&r, path, &err) == 0 && r.class_names && !memcmp(r.class_names, names, 3 * NASH_CLASS_NAME_MAX),
	       "%s", err.msg);
	model_free(&r);
	/* broken: another count, a duplicate, too long */
	set_attr(path, vt, 2, v);
	CHECK(model_read(&r, path, &err) == -1 && strstr(err.msg, "m.h5: attribute 'class_names' does not hold num_classes (3) strings"));
	const char *dup[3] = { "a", "b", "A" };
	set_attr(path, vt, 3, dup);
	CHECKF(model_read(&r, path, &err) == -1 && strstr(err.msg, "m.h5: class_names: classes 0 and 2 have the same name 'A' (ignoring case)"),
	       "%s", err.msg);
	char longer[100];
	memset(longer, 'n', 99);
	longer[99] = '\0';
	const char *too_long[3] = { "a", longer, "c" };
	set_attr(path, vt, 3, too_long);
	CHECKF(model_read(&r, path, &err) == -1 && strstr(err.msg, "m.h5: attribute 'class_names' is longer than 63 characters"),
	       "%s", err.msg);
	H5Tclose(vt);
	/* and the writer refuses what the reader would */
	memcpy(m.class_names + NASH_CLASS_NAME_MAX, "A", 2);
	memcpy(m.class_names, "a", 2);
	CHECK(model_write(&m, path, &err) == -1 && strstr(err.msg, "class_names: classes 0 and 1 have the same name"));
	model_free(&m);
	free(names);
}

int main(void)
{
	const char *t = getenv("TMPDIR");
	snprintf(tmpdir, sizeof tmpdir, "%s/nash-test-classnames-XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	RUN(rule);
	RUN(json);
	RUN(model_file);
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", tmpdir);
	CHECK_DONE();
}
