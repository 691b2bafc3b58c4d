/* HDF5 plumbing shared by every file reader and writer (h5util.h). */
#include "base/h5util.h"

#include <stdlib.h>
#include <string.h>

void h5_quiet(H5Quiet *q)
{
	H5Eget_auto2(H5E_DEFAULT, &q->func, &q->data);
	H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

void h5_restore(const H5Quiet *q) { H5Eset_auto2(H5E_DEFAULT, q->func, q->data); }

hid_t h5_core_fapl(void)
{
	hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
	if (fapl >= 0 && H5Pset_fapl_core(fapl, 1 << 20, 0) < 0) {
		H5Pclose(fapl);
		fapl = -1;
	}
	return fapl;
}

int h5_write_attr(hid_t loc, const char *name, hid_t ftype, hid_t mtype, int n, const void *v)
{
	hsize_t d = (hsize_t)n;
	hid_t sp = n ? H5Screate_simple(1, &d, NULL) : H5Screate(H5S_SCALAR);
	hid_t a = sp >= 0 ? H5Acreate2(loc, name, ftype, sp, H5P_DEFAULT, H5P_DEFAULT) : -1;
	int rc = (a < 0 || H5Awrite(a, mtype, v) < 0) ? -1 : 0;
	if (a >= 0)
		H5Aclose(a);
	if (sp >= 0)
		H5Sclose(sp);
	return rc;
}

int h5_write_int(hid_t loc, const char *name, int v)
{
	return h5_write_attr(loc, name, H5T_STD_I32LE, H5T_NATIVE_INT, 0, &v);
}

int h5_write_float(hid_t loc, const char *name, float v)
{
	return h5_write_attr(loc, name, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 0, &v);
}

int h5_write_str(hid_t loc, const char *name, const char *s)
{
	hid_t t = H5Tcopy(H5T_C_S1);
	int rc = (t < 0 || H5Tset_size(t, strlen(s) + 1) < 0) ? -1 : h5_write_attr(loc, name, t, t, 0, s);
	if (t >= 0)
		H5Tclose(t);
	return rc;
}

/* Opens attribute `name` after checking its class and count: H5_ATTR_READ with *a open, or
   what is wrong (*a closed). */
static int open_attr(hid_t loc, const char *name, H5T_class_t cls, int n, hid_t *a, long long *count)
{
	htri_t ex = H5Aexists(loc, name);
	if (ex <= 0)
		return ex < 0 ? H5_ATTR_UNREADABLE : H5_ATTR_ABSENT;
	*a = H5Aopen(loc, name, H5P_DEFAULT);
	hid_t t = *a >= 0 ? H5Aget_type(*a) : -1;
	hid_t sp = *a >= 0 ? H5Aget_space(*a) : -1;
	hssize_t np = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : -1;
	int rc = H5_ATTR_READ;
	if (count)
		*count = (long long)np;
	if (*a < 0 || t < 0 || sp < 0)
		rc = H5_ATTR_UNREADABLE;
	else if (H5Tget_class(t) != cls)
		rc = H5_ATTR_WRONG_CLASS;
	else if (np != (n ? n : 1))
		rc = H5_ATTR_WRONG_COUNT;
	if (sp >= 0)
		H5Sclose(sp);
	if (t >= 0)
		H5Tclose(t);
	if (rc != H5_ATTR_READ && *a >= 0)
		H5Aclose(*a);
	return rc;
}

int h5_read_attr(hid_t loc, const char *name, H5T_class_t cls, hid_t mtype, int n, void *out,
		 long long *count)
{
	hid_t a;
	int rc = open_attr(loc, name, cls, n, &a, count);
	if (rc != H5_ATTR_READ)
		return rc;
	if (H5Aread(a, mtype, out) < 0)
		rc = H5_ATTR_UNREADABLE;
	H5Aclose(a);
	return rc;
}

int h5_read_str(hid_t loc, const char *name, char *buf, size_t n)
{
	hid_t a, t, mt = H5Tcopy(H5T_C_S1);
	int rc = open_attr(loc, name, H5T_STRING, 0, &a, NULL);
	if (rc != H5_ATTR_READ) {
		if (mt >= 0)
			H5Tclose(mt);
		return rc;
	}
	t = H5Aget_type(a);
	int vlen = t >= 0 && H5Tis_variable_str(t) > 0;
	size_t sz = vlen ? sizeof(char *) : t >= 0 ? H5Tget_size(t) : 0;
	char *tmp = calloc(1, sz + 1), *s = tmp;
	/* one more byte than stored: a NULLPAD string (numpy's bytes) fills all of its size */
	if (t < 0 || mt < 0 || !tmp || H5Tset_size(mt, vlen ? H5T_VARIABLE : sz + 1) < 0 ||
	    H5Aread(a, mt, vlen ? (void *)&s : (void *)tmp) < 0 || !s)
		rc = H5_ATTR_UNREADABLE;
	else if (strlen(s) >= n)
		rc = H5_ATTR_TOO_LONG;
	else
		memcpy(buf, s, strlen(s) + 1);
	if (vlen && s && s != tmp)
		H5free_memory(s);
	free(tmp);
	if (t >= 0)
		H5Tclose(t);
	if (mt >= 0)
		H5Tclose(mt);
	H5Aclose(a);
	return rc;
}

static hid_t field_type(int kind, int file)
{
	switch (kind) {
	case F_I32: return H5Tcopy(file ? H5T_STD_I32LE : H5T_NATIVE_INT);
	case F_U64: return H5Tcopy(file ? H5T_STD_U64LE : H5T_NATIVE_UINT64);
	case F_F32: return H5Tcopy(file ? H5T_IEEE_F32LE : H5T_NATIVE_FLOAT);
	default: {
		hid_t t = H5Tcopy(H5T_C_S1);
		H5Tset_size(t, 16);
		return t;
	}
	}
}

hid_t h5_compound_type(const H5Table *tab, int file)
{
	const Field *f = tab->fields;
	int nf = tab->n_fields;
	size_t size = 0;
	for (int i = 0; i < nf; i++)
		size += f[i].kind == F_U64 ? 8 : f[i].kind == F_STR16 ? 16 : 4;
	hid_t t = H5Tcreate(H5T_COMPOUND, file ? size : tab->row_size);
	size_t off = 0;
	for (int i = 0; t >= 0 && i < nf; i++) {
		hid_t ft = field_type(f[i].kind, file);
		if (H5Tinsert(t, f[i].name, file ? off : f[i].off, ft) < 0) {
			H5Tclose(t);
			t = -1;
		}
		off += H5Tget_size(ft);
		H5Tclose(ft);
	}
	return t;
}

hid_t h5_compound_type_read(const H5Table *tab, hid_t file_type)
{
	hid_t t = H5Tcreate(H5T_COMPOUND, tab->row_size);
	for (int i = 0; t >= 0 && i < tab->n_fields; i++) {
		const Field *f = &tab->fields[i];
		if (H5Tget_member_index(file_type, f->name) < 0)
			continue;
		hid_t ft = field_type(f->kind, 0);
		if (H5Tinsert(t, f->name, f->off, ft) < 0) {
			H5Tclose(t);
			t = -1;
		}
		H5Tclose(ft);
	}
	return t;
}
