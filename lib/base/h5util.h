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

/* ---- compound tables: one description serves writer (packed little-endian file type)
   and reader (native memory type, fields matched by name) ---- */

enum { F_I32, F_U64, F_F32, F_STR16 }; /* int, uint64_t, float, char[16] */

typedef struct Field {
	const char *name;
	size_t off;
	int kind;
	int optional; /* added to the format later: a file without it reads as zero bytes */
} Field;

typedef struct H5Table {
	const Field *fields; /* [n_fields] */
	int n_fields;
	size_t row_size;     /* sizeof the C struct of one row */
} H5Table;

/* file: packed, explicit little-endian; memory: the C struct's layout. -1 on failure. */
hid_t h5_compound_type(const H5Table *t, int file);
/* The memory type for reading a file of type file_type: the C struct's layout with only the
   fields file_type has (matched by name), so fields it lacks keep what the buffer held. */
hid_t h5_compound_type_read(const H5Table *t, hid_t file_type);

#endif
