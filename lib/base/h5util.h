/* HDF5 plumbing shared by the library's file readers and writers: a silenced error stack, the
   core (in-memory) driver, attributes, and compound tables described once so that writer and
   reader cannot drift apart. Internal to the library. */
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

/* ---- attributes: the model and ensemble files' reader and writer both use these ---- */

/* Writes attribute `name` of loc: n values (n = 0: a scalar) of file type ftype, from v in
   memory type mtype. 0, or -1 when HDF5 failed. */
int h5_write_attr(hid_t loc, const char *name, hid_t ftype, hid_t mtype, int n, const void *v);
int h5_write_int(hid_t loc, const char *name, int v);     /* 32-bit little-endian */
int h5_write_float(hid_t loc, const char *name, float v); /* IEEE 32-bit little-endian */
/* Fixed-length, NUL-terminated ASCII: no global heap, so no stray bytes in the file. */
int h5_write_str(hid_t loc, const char *name, const char *s);

/* What reading an attribute found; the caller words the message (it knows the file). */
enum {
	H5_ATTR_READ = 1,
	H5_ATTR_ABSENT = 0,
	H5_ATTR_UNREADABLE = -1,  /* HDF5 failed */
	H5_ATTR_WRONG_CLASS = -2, /* not an integer / float / string as asked */
	H5_ATTR_WRONG_COUNT = -3, /* not the number of values asked */
	H5_ATTR_TOO_LONG = -4,    /* a string that does not fit the buffer: refused, never cut */
};
/* n values (0: a scalar) of class cls, converted to mtype, into out. *count (may be NULL)
   receives the number of values the attribute holds, for messages. */
int h5_read_attr(hid_t loc, const char *name, H5T_class_t cls, hid_t mtype, int n, void *out,
		 long long *count);
/* A scalar string, fixed-length (ours) or variable-length (what h5py writes for a str), into
   buf[n] when it has fewer than n characters. */
int h5_read_str(hid_t loc, const char *name, char *buf, size_t n);

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
