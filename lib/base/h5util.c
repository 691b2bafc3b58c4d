/* HDF5 plumbing shared by every file reader and writer (h5util.h). */
#include "base/h5util.h"

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
