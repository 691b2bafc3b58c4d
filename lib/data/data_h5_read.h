/* Internal to the dataset file reader: what its two halves share, the root attributes
   (data_h5_root.c) and the image and label sets (data_h5.c). */
#ifndef NASH_DATA_H5_READ_H
#define NASH_DATA_H5_READ_H

#include <stddef.h>
#include <stdint.h>

#include <hdf5.h>

#include "data/data.h"

/* The file being read: its name for messages, and where errors go. */
typedef struct Rd {
	const char *file;
	NashErr *err;
} Rd;

/* -1 with "FILE: message" (NASH_ERR_RUNTIME), or "FILE: out of memory" (NASH_ERR_OOM). */
int data_h5_fail(const Rd *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int data_h5_oom(const Rd *r);

/* "uint8", "int64", "float32", "a string", ... for messages. */
void data_h5_type_name(char *out, size_t n, hid_t t);
/* Whether type t (an attribute's or a dataset's; closed here) is an unsigned integer: nash reads
   it as uint64 then, since HDF5 would clamp a uint64 above INT64_MAX to INT64_MAX as int64. */
int data_h5_is_unsigned(hid_t t);
/* Whether v, read as int64 or (unsigned) as uint64, lies in lo..hi (lo >= 0); *text: its value
   as the file holds it, for messages. */
int data_h5_int_in(int64_t v, int unsigned_, int64_t lo, int64_t hi, char *text, size_t n);

/* The root's format, format_version, name and class names into d. */
int data_h5_load_root(const Rd *r, hid_t f, Dataset *d);
/* The optional norm_mean and norm_std (both or neither) into d, whose d->c is set. */
int data_h5_load_norm(const Rd *r, hid_t f, Dataset *d);

#endif
