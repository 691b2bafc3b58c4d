/* HDF5 plumbing shared by the model file writer and reader (h5util.h). */
#include "h5util.h"

#include "model.h"

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

#define FLD(T, m, k) { #m, offsetof(T, m), k }
#define TABLE(f, T) { f, (int)(sizeof f / sizeof f[0]), sizeof(T) }

static const Field record_fields[] = {
	FLD(EpochRecord, run, F_I32), FLD(EpochRecord, epoch, F_I32),
	FLD(EpochRecord, lr, F_F32), FLD(EpochRecord, train_loss, F_F32),
	FLD(EpochRecord, train_acc, F_F32), FLD(EpochRecord, val_loss, F_F32),
	FLD(EpochRecord, val_acc, F_F32), FLD(EpochRecord, seconds, F_F32),
};
static const Field run_fields[] = {
	FLD(RunSettings, seed, F_U64), FLD(RunSettings, batch, F_I32),
	FLD(RunSettings, epochs, F_I32), FLD(RunSettings, limit, F_I32),
	FLD(RunSettings, augment, F_I32), FLD(RunSettings, lr_start, F_F32),
	FLD(RunSettings, lr_end, F_F32), FLD(RunSettings, momentum, F_F32),
	FLD(RunSettings, weight_decay, F_F32), FLD(RunSettings, device, F_STR16),
};
static const Field morph_fields[] = {
	FLD(Morphism, op, F_STR16), FLD(Morphism, node, F_I32),
	FLD(Morphism, kernel, F_I32), FLD(Morphism, factor, F_I32),
	FLD(Morphism, source, F_I32), FLD(Morphism, target, F_I32),
	FLD(Morphism, seed, F_U64),
};

const H5Table h5_record_table = TABLE(record_fields, EpochRecord);
const H5Table h5_run_table = TABLE(run_fields, RunSettings);
const H5Table h5_morph_table = TABLE(morph_fields, Morphism);

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
