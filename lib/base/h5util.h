/* HDF5 plumbing shared by the library's file readers and writers: a silenced error stack, the
   core (in-memory) driver, attributes, and compound tables described once so that writer and
   reader cannot drift apart. Internal to the library. */
#ifndef NASH_H5UTIL_H
#define NASH_H5UTIL_H

#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>

/* HDF5 prints its error stack to stderr by default; the library must stay silent. */
typedef struct H5Quiet {
	H5E_auto2_t func;
	void *data;
} H5Quiet;

void h5_quiet(H5Quiet *q);
void h5_restore(const H5Quiet *q);
/* While quiet, a failed HDF5 call whose error stack says an allocation failed is counted: how
   the isolated readers (isolate.h) tell a read stopped by their memory limit from a read error. */
int h5_alloc_failures(void);
void h5_reset_alloc_failures(void);

/* File access through the core driver (no backing store); -1 on failure. for_writing: files
   are created in HDF5's 1.8 object formats, whose metadata carries checksums, so a corrupted
   header is refused by HDF5 rather than decoded (docs/FORMAT.md, "Security"). */
hid_t h5_core_fapl(int for_writing);

/* Creation properties of every group nash writes (a file creation list too, which derives from
   the group class): no timestamps, so writing is deterministic, and links and attributes kept
   in the object header itself ("compact" storage, up to NASH_MAX_NODES links), which version 2
   headers checksum; HDF5's default moves more than 8 into a fractal heap whose blocks carry no
   checksum. 0, or -1 when HDF5 failed. */
int h5_group_props(hid_t gcpl);

/* The bytes of in-memory file f (malloc'd; NULL on failure) after flushing it. HDF5 1.10's
   H5Fget_file_image clears a version 2 superblock's status flags in the copy without updating
   its checksum, so that no HDF5 could open the image; the checksum is recomputed here. */
void *h5_file_image(hid_t f, size_t *len);
/* HDF5's metadata checksum (Bob Jenkins' lookup3 hashlittle, initval 0). */
uint32_t h5_checksum(const void *buf, size_t n);

/* ---- reading untrusted files (docs/FORMAT.md, "Security") ----
   What a link may be before anything behind it is opened: a hard link to a group or dataset in
   the same file. Soft links, external links (to another file) and user-defined links are never
   followed; nash writes none. */
enum {
	H5_LINK_GROUP = 2,
	H5_LINK_DATASET = 1,
	H5_LINK_ABSENT = 0,
	H5_LINK_OTHER = -1,      /* a hard link to a named datatype or another kind of object */
	H5_LINK_SOFT = -2,
	H5_LINK_EXTERNAL = -3,   /* an external or user-defined link */
	H5_LINK_BAD_NAME = -4,   /* empty, ".", or a path: a name must not walk through other links */
	H5_LINK_UNREADABLE = -5,
};
int h5_link_kind(hid_t loc, const char *name);
/* "a soft link", "an external link (to another file)", ... for messages. */
const char *h5_link_kind_name(int kind);

/* Listing a group of many links (a graph of 10,000 nodes) in time linear in its links: one
   H5Literate pass, then each object opened by its address. Looking a link up by name costs
   O(links) in the compact storage nash writes (HDF5 scans the group's header), and
   H5Lget_name_by_idx O(links) in every storage without a creation-order index (h5py's old-style
   groups included), so n lookups or n names by index cost O(n^2). */
#if H5_VERSION_GE(1, 12, 0)
typedef H5O_token_t H5LinkTarget;
#else
typedef haddr_t H5LinkTarget;
#endif
enum { H5_LINK_HARD = 3 }; /* a hard link, not yet opened: h5_open_link says to what */
typedef struct H5Link {
	char *name;      /* malloc'd */
	int kind;        /* H5_LINK_HARD, H5_LINK_SOFT, H5_LINK_EXTERNAL or H5_LINK_BAD_NAME */
	H5LinkTarget at; /* a hard link's object */
} H5Link;
/* The links of group g in name order: *links (malloc'd) and *n. More than max: -1 with *n the
   count and nothing allocated; -1 with *n 0 when HDF5 failed or memory ran out. */
int h5_list_links(hid_t g, size_t max, H5Link **links, size_t *n);
void h5_free_links(H5Link *links, size_t n);
/* Opens the object that link l of group g (listed by h5_list_links) points to, when it is a
   hard link to a group or a dataset: the object (close it with H5Oclose), *kind H5_LINK_GROUP or
   H5_LINK_DATASET. Otherwise -1 with *kind as h5_link_kind would say. */
hid_t h5_open_link(hid_t g, const H5Link *l, int *kind);

/* The filters a reader accepts (a mask): nash's own files use none; dataset files may be
   compressed by other writers (docs/DATASETS.md). */
enum { H5_ALLOW_DEFLATE = 1, H5_ALLOW_SHUFFLE = 2, H5_ALLOW_FLETCHER32 = 4 };
/* Checks what reading dataset d would touch, before any of its data is read: no external
   storage (raw data in other files, a FIFO), no virtual layout (data mapped from other
   datasets or files), no filter outside `allow`. 0, or -1 with what is wrong in why[n]. */
int h5_check_dataset(hid_t d, unsigned allow, char *why, size_t n);
/* Opens dataset `name` of loc once h5_link_kind says it is one and h5_check_dataset accepts
   it; -1 with why[n] otherwise. */
hid_t h5_open_dataset(hid_t loc, const char *name, unsigned allow, char *why, size_t n);

/* 1 when t is exactly one of HDF5's standard integer (8 to 64 bits, either order, either sign)
   or IEEE float (32 or 64 bits) types, whose conversions to native types are HDF5's own fixed
   routines; 0 for anything else, however it calls itself. */
int h5_standard_number(hid_t t, H5T_class_t cls);

/* ---- attributes: the model and ensemble files' reader and writer both use these ---- */

/* Writes attribute `name` of loc: n values (n = 0: a scalar) of file type ftype, from v in
   memory type mtype. 0, or -1 when HDF5 failed. */
int h5_write_attr(hid_t loc, const char *name, hid_t ftype, hid_t mtype, int n, const void *v);
int h5_write_int(hid_t loc, const char *name, int v);     /* 32-bit little-endian */
int h5_write_float(hid_t loc, const char *name, float v); /* IEEE 32-bit little-endian */
/* Fixed-length, NUL-terminated ASCII: no global heap, so no stray bytes in the file. */
int h5_write_str(hid_t loc, const char *name, const char *s);
/* n strings s[n][stride] as a 1-D attribute of fixed-length NUL-terminated UTF-8 strings, each
   as long as the longest plus its NUL and zero-padded (no global heap, deterministic bytes). */
int h5_write_strs(hid_t loc, const char *name, const char *s, int n, size_t stride);

/* What reading an attribute found; the caller words the message (it knows the file). */
enum {
	H5_ATTR_READ = 1,
	H5_ATTR_ABSENT = 0,
	H5_ATTR_UNREADABLE = -1,  /* HDF5 failed */
	H5_ATTR_WRONG_CLASS = -2, /* not an integer / float / string as asked */
	H5_ATTR_WRONG_COUNT = -3, /* not the number of values asked */
	H5_ATTR_TOO_LONG = -4,    /* a string that does not fit the buffer: refused, never cut */
	H5_ATTR_NOT_ASCII = -5,   /* a string whose text is not 7-bit ASCII */
	H5_ATTR_OUT_OF_RANGE = -6, /* an integer that the integer type asked cannot hold */
};
/* Before an attribute is read: its dataspace is a scalar or 1-D, its type a standard number
   (h5_standard_number) of the class asked or a string (fixed-length of at most
   H5_MAX_STR_BYTES, or variable-length), else H5_ATTR_WRONG_CLASS. */
#define H5_MAX_STR_BYTES 65536
/* n values (0: a scalar) of class cls, converted to mtype, into out. *count (may be NULL)
   receives the number of values the attribute holds, for messages. HDF5 reports an absent
   attribute as an error: read between h5_quiet and h5_restore (every reader does). */
int h5_read_attr(hid_t loc, const char *name, H5T_class_t cls, hid_t mtype, int n, void *out,
		 long long *count);
/* A scalar string, fixed-length (ours) or variable-length (what h5py writes for a str), ASCII
   or UTF-8 character set (h5py's), into buf[n] when it has fewer than n characters and its
   text is ASCII. */
int h5_read_str(hid_t loc, const char *name, char *buf, size_t n);
/* Exactly n strings (a 1-D attribute; fixed-length or variable-length, ASCII or UTF-8 character
   set) into out[n][stride], each shorter than stride (else H5_ATTR_TOO_LONG); the text is not
   checked (the caller's rule does that). */
int h5_read_strs(hid_t loc, const char *name, int n, char *out, size_t stride);
/* Gives the memory type mt (a C_S1 string type) the character set of the file's string type t:
   HDF5 converts no string of one set into another, and h5py writes a str as UTF-8. 0 or -1. */
int h5_str_cset_like(hid_t mt, hid_t t);
/* 1 when s is 7-bit ASCII (what nash's own string attributes hold), else 0. */
int h5_str_ascii(const char *s);

/* ---- compound tables: one description serves writer (packed little-endian file type)
   and reader (native memory type, fields matched by name) ---- */

/* int, uint64_t, float, char[16], char[64], char[128]. A string field reads from a file whose
   string is narrower too (a field widened since: the older files read). */
enum { F_I32, F_U64, F_F32, F_STR16, F_STR64, F_STR128 };

typedef struct Field {
	const char *name;
	size_t off;
	int kind;
	int optional; /* may be missing from a file written before the field existed: reads as 0 / "" */
} Field;

typedef struct H5Table {
	const Field *fields; /* [n_fields] */
	int n_fields;
	size_t row_size;     /* sizeof the C struct of one row */
} H5Table;

/* file: packed, explicit little-endian; memory: the C struct's layout. -1 on failure. */
hid_t h5_compound_type(const H5Table *t, int file);

/* Reads table `tab` from dataset d (already checked by h5_check_dataset) without HDF5's type
   conversion, which would decode the file's compound type: the type is checked first (every
   field of tab by name: class, size, little-endian, within the row; any other field of a
   simple type, so a newer writer's extra columns are skipped), then the rows are read as raw
   bytes of the file's own type and each field is decoded here. At most max_rows rows, and no
   more bytes than budget (the file's size: a table larger than its file is a forgery).
   *rows (malloc'd, NULL for 0 rows) and *n; 0, or -1 with what is wrong in why[wn]. */
int h5_read_table(hid_t d, const H5Table *tab, long long max_rows, size_t budget, void **rows, int *n,
		  char *why, size_t wn);
/* Bytes of a string field (F_STR16, F_STR64, F_STR128), 0 for the others. */
size_t h5_field_str_size(int kind);

#endif
