/* HDF5 plumbing shared by the library's file readers and writers: a silenced error stack, the
   core (in-memory) driver, and compound tables described once so that writer and reader cannot
   drift apart. Internal to the library. */
#ifndef NASH_H5UTIL_H
#define NASH_H5UTIL_H

#include <hdf5.h>
#include <stddef.h>

/* HDF5 prints its error stack to stderr by default; the library must stay silent. */
typedef struct H5Quiet {
	H5E_auto2_t func;
	void *data;
} H5Quiet;

void h5_quiet(H5Quiet *q);
void h5_restore(const H5Quiet *q);

/* File access through the core driver (no backing store); -1 on failure. */
hid_t h5_core_fapl(void);

/* Gives the memory type mt (a C_S1 string type) the character set of the file's string type t:
   HDF5 converts no string of one set into another, and h5py writes a str as UTF-8. 0 or -1. */
int h5_str_cset_like(hid_t mt, hid_t t);
/* 1 when s is 7-bit ASCII (what nash's own string attributes hold), else 0. */
int h5_str_ascii(const char *s);

/* ---- compound tables: one description serves writer (packed little-endian file type)
   and reader (native memory type, fields matched by name) ---- */

enum { F_I32, F_U64, F_F32, F_STR16 }; /* int, uint64_t, float, char[16] */

typedef struct Field {
	const char *name;
	size_t off;
	int kind;
} Field;

typedef struct H5Table {
	const Field *fields; /* [n_fields] */
	int n_fields;
	size_t row_size;     /* sizeof the C struct of one row */
} H5Table;

/* file: packed, explicit little-endian; memory: the C struct's layout. -1 on failure. */
hid_t h5_compound_type(const H5Table *t, int file);

#endif
