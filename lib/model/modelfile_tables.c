/* The model file's compound tables, described once for writer and reader (modelfile.h). */
#include <stddef.h>

#include "model/modelfile.h"

#define FLD(T, m, k) { #m, offsetof(T, m), k, 0 }
#define FLD_OPT(T, m, k) { #m, offsetof(T, m), k, 1 } /* added later: old files lack it */
/* a member whose file field has another (older) name */
#define FLD_AS(T, m, name, k, opt) { name, offsetof(T, m), k, opt }
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
	FLD(RunSettings, weight_decay, F_F32), FLD_AS(RunSettings, engine, "device", F_STR16, 0),
	FLD_OPT(RunSettings, host, F_STR64), FLD_AS(RunSettings, hardware, "device_name", F_STR128, 1),
	FLD_OPT(RunSettings, job, F_STR64), FLD_OPT(RunSettings, warmup, F_F32),
	FLD_OPT(RunSettings, train_on, F_STR16), FLD_OPT(RunSettings, images, F_I32),
	FLD_OPT(RunSettings, label_smoothing, F_F32), FLD_OPT(RunSettings, ema, F_F32),
	FLD_OPT(RunSettings, tta, F_STR16),
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
