/* HDF5 plumbing shared by every file reader and writer (h5util.h). */
#include "base/h5util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int alloc_failures;

static herr_t note_alloc_failure(unsigned n, const H5E_error2_t *e, void *data)
{
	if (e->min_num == H5E_CANTALLOC || e->min_num == H5E_NOSPACE)
		alloc_failures++;
	return 0;
}

/* Called by HDF5 when an API call fails: prints nothing, counts failed allocations. */
static herr_t record_failure(hid_t stack, void *data)
{
	H5Ewalk2(stack, H5E_WALK_DOWNWARD, note_alloc_failure, NULL);
	return 0;
}

void h5_quiet(H5Quiet *q)
{
	H5Eget_auto2(H5E_DEFAULT, &q->func, &q->data);
	H5Eset_auto2(H5E_DEFAULT, record_failure, NULL);
}

int h5_alloc_failures(void) { return alloc_failures; }
void h5_reset_alloc_failures(void) { alloc_failures = 0; }

void h5_restore(const H5Quiet *q) { H5Eset_auto2(H5E_DEFAULT, q->func, q->data); }

hid_t h5_core_fapl(int for_writing)
{
	hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
	/* low bound 1.8: superblock version 2 and version 2 object headers, both checksummed;
	   high bound 1.8 too, so that HDF5 1.8 (and every h5py since) still reads the files. The
	   reader's fapl sets no bound: older files (superblock 0, version 1 headers) still open. */
	if (fapl >= 0 && (H5Pset_fapl_core(fapl, 1 << 20, 0) < 0 ||
			  (for_writing && H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_V18) < 0))) {
		H5Pclose(fapl);
		fapl = -1;
	}
	return fapl;
}

#define ROT(x, k) (((x) << (k)) ^ ((x) >> (32 - (k))))

uint32_t h5_checksum(const void *buf, size_t n)
{
	const uint8_t *k = buf;
	uint32_t a, b, c;
	a = b = c = 0xdeadbeef + (uint32_t)n;
	for (; n > 12; n -= 12, k += 12) {
		a += (uint32_t)k[0] | (uint32_t)k[1] << 8 | (uint32_t)k[2] << 16 | (uint32_t)k[3] << 24;
		b += (uint32_t)k[4] | (uint32_t)k[5] << 8 | (uint32_t)k[6] << 16 | (uint32_t)k[7] << 24;
		c += (uint32_t)k[8] | (uint32_t)k[9] << 8 | (uint32_t)k[10] << 16 | (uint32_t)k[11] << 24;
		a -= c, a ^= ROT(c, 4), c += b;
		b -= a, b ^= ROT(a, 6), a += c;
		c -= b, c ^= ROT(b, 8), b += a;
		a -= c, a ^= ROT(c, 16), c += b;
		b -= a, b ^= ROT(a, 19), a += c;
		c -= b, c ^= ROT(b, 4), b += a;
	}
	if (n == 0)
		return c;
	uint32_t w[3] = {0, 0, 0}; /* the last 1..12 bytes, little-endian words */
	for (size_t i = 0; i < n; i++)
		w[i / 4] |= (uint32_t)k[i] << (8 * (i % 4));
	a += w[0], b += w[1], c += w[2];
	c ^= b, c -= ROT(b, 14);
	a ^= c, a -= ROT(c, 11);
	b ^= a, b -= ROT(a, 25);
	c ^= b, c -= ROT(b, 16);
	a ^= c, a -= ROT(c, 4);
	b ^= a, b -= ROT(a, 14);
	c ^= b, c -= ROT(b, 24);
	return c;
}

int h5_group_props(hid_t gcpl)
{
	return H5Pset_obj_track_times(gcpl, 0) < 0 || H5Pset_link_phase_change(gcpl, 65535, 0) < 0 ||
			       H5Pset_attr_phase_change(gcpl, 65535, 0) < 0
		       ? -1
		       : 0;
}

void *h5_file_image(hid_t f, size_t *len)
{
	*len = 0;
	if (H5Fflush(f, H5F_SCOPE_GLOBAL) < 0)
		return NULL;
	ssize_t n = H5Fget_file_image(f, NULL, 0);
	unsigned char *img = n > 0 ? malloc((size_t)n) : NULL;
	if (img && H5Fget_file_image(f, img, (size_t)n) != n) {
		free(img);
		return NULL;
	}
	/* superblock 2 or 3 at offset 0 (nash writes no user block): signature, version, sizes of
	   offsets and lengths, flags, four addresses, then the checksum of all that */
	size_t o = img && n >= 12 ? img[9] : 0, at = 12 + 4 * o;
	if (img && (img[8] == 2 || img[8] == 3) && (o == 4 || o == 8) && (size_t)n >= at + 4) {
		uint32_t c = h5_checksum(img, at);
		for (int i = 0; i < 4; i++)
			img[at + (size_t)i] = (unsigned char)(c >> (8 * i));
	}
	if (img)
		*len = (size_t)n;
	return img;
}

size_t h5_field_str_size(int kind)
{
	return kind == F_STR16 ? 16 : kind == F_STR64 ? 64 : kind == F_STR128 ? 128 : 0;
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

int h5_write_strs(hid_t loc, const char *name, const char *s, int n, size_t stride)
{
	size_t size = 1;
	for (int i = 0; i < n; i++) {
		size_t l = strnlen(s + (size_t)i * stride, stride - 1) + 1;
		size = l > size ? l : size;
	}
	/* copied into zeroed rows of the file's size: no byte after a NUL reaches the file */
	char *buf = calloc((size_t)n, size);
	hid_t t = H5Tcopy(H5T_C_S1);
	int rc = -1;
	if (buf && t >= 0 && H5Tset_size(t, size) >= 0 && H5Tset_cset(t, H5T_CSET_UTF8) >= 0) {
		for (int i = 0; i < n; i++)
			memcpy(buf + (size_t)i * size, s + (size_t)i * stride, strnlen(s + (size_t)i * stride, stride - 1));
		rc = h5_write_attr(loc, name, t, t, n, buf);
	}
	if (t >= 0)
		H5Tclose(t);
	free(buf);
	return rc;
}

/* Standard type k (h5_standard_number's numbering). Each H5T_STD_* is a call (to H5open): only
   the one type compared is named. */
static hid_t standard_type(int k)
{
	switch (k) {
	case 0: return H5T_STD_I8LE;
	case 1: return H5T_STD_I8BE;
	case 2: return H5T_STD_U8LE;
	case 3: return H5T_STD_U8BE;
	case 4: return H5T_STD_I16LE;
	case 5: return H5T_STD_I16BE;
	case 6: return H5T_STD_U16LE;
	case 7: return H5T_STD_U16BE;
	case 8: return H5T_STD_I32LE;
	case 9: return H5T_STD_I32BE;
	case 10: return H5T_STD_U32LE;
	case 11: return H5T_STD_U32BE;
	case 12: return H5T_STD_I64LE;
	case 13: return H5T_STD_I64BE;
	case 14: return H5T_STD_U64LE;
	case 15: return H5T_STD_U64BE;
	case 16: return H5T_IEEE_F32LE;
	case 17: return H5T_IEEE_F32BE;
	case 18: return H5T_IEEE_F64LE;
	default: return H5T_IEEE_F64BE;
	}
}

/* The number k of standard_type that t is exactly, or -1 when it is none of class cls. */
static int standard_kind(hid_t t, H5T_class_t cls)
{
	if (cls != H5T_INTEGER && cls != H5T_FLOAT)
		return -1;
	/* the type nash writes (int32, float32, little-endian) first, by one comparison: the
	   questions below are five calls into HDF5, for every attribute and weight of a model */
	int usual = cls == H5T_INTEGER ? 8 : 16;
	if (H5Tequal(t, standard_type(usual)) > 0)
		return usual;
	if (H5Tget_class(t) != cls)
		return -1;
	/* the one standard type of t's size, byte order and sign, then H5Tequal to it (precision,
	   offset, padding): naming all 20 and comparing t with each cost a tenth of reading a model */
	size_t size = H5Tget_size(t);
	H5T_order_t order = H5Tget_order(t);
	int k;
	if (order != H5T_ORDER_LE && order != H5T_ORDER_BE)
		return -1;
	if (cls == H5T_INTEGER) {
		H5T_sign_t sign = H5Tget_sign(t);
		int bytes = size == 1 ? 0 : size == 2 ? 1 : size == 4 ? 2 : size == 8 ? 3 : -1;
		if (bytes < 0 || (sign != H5T_SGN_2 && sign != H5T_SGN_NONE))
			return -1;
		k = 4 * bytes + 2 * (sign == H5T_SGN_NONE) + (order == H5T_ORDER_BE);
	} else {
		if (size != 4 && size != 8)
			return -1;
		k = 16 + 2 * (size == 8) + (order == H5T_ORDER_BE);
	}
	return H5Tequal(t, standard_type(k)) > 0 ? k : -1;
}

int h5_standard_number(hid_t t, H5T_class_t cls) { return standard_kind(t, cls) >= 0; }

/* What open_attr learnt of an attribute's type, so that no later step asks HDF5 again. */
typedef struct AttrType {
	hid_t type;  /* the attribute's type (to be closed) */
	int kind;    /* a number's: standard_kind */
	int vlen;    /* a string's: variable-length */
	size_t size; /* a fixed-length string's bytes */
} AttrType;

/* A string type the readers accept: fixed-length of at most H5_MAX_STR_BYTES, or
   variable-length. */
static int plain_string(hid_t t, AttrType *at)
{
	if (H5Tget_class(t) != H5T_STRING)
		return 0;
	htri_t v = H5Tis_variable_str(t);
	size_t sz = H5Tget_size(t);
	at->vlen = v > 0;
	at->size = sz;
	return v > 0 || (v == 0 && sz > 0 && sz <= H5_MAX_STR_BYTES);
}

/* Opens attribute `name` after checking its dataspace, type and count: H5_ATTR_READ with *a
   and at->type open (both to be closed), or what is wrong (nothing open). */
static int open_attr(hid_t loc, const char *name, H5T_class_t cls, int n, hid_t *a, AttrType *at, long long *count)
{
	/* opened first, asked whether it exists only when that fails: most are there */
	*a = H5Aopen(loc, name, H5P_DEFAULT);
	htri_t ex = *a >= 0 ? 1 : H5Aexists(loc, name);
	if (ex <= 0)
		return ex < 0 ? H5_ATTR_UNREADABLE : H5_ATTR_ABSENT;
	hid_t t = *a >= 0 ? H5Aget_type(*a) : -1;
	hid_t sp = *a >= 0 ? H5Aget_space(*a) : -1;
	/* a scalar (rank 0) or 1-D space of the values asked: rank and count tell them apart from a
	   null space (no values) without asking for its class too */
	int rank = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
	hssize_t np = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : -1;
	int rc = H5_ATTR_READ;
	if (count)
		*count = (long long)np;
	*at = (AttrType){.type = t, .kind = -1};
	if (*a < 0 || t < 0 || sp < 0)
		rc = H5_ATTR_UNREADABLE;
	else if (cls == H5T_STRING ? !plain_string(t, at) : (at->kind = standard_kind(t, cls)) < 0)
		rc = H5_ATTR_WRONG_CLASS;
	else if (rank < 0 || rank > 1 || np != (n ? n : 1))
		rc = H5_ATTR_WRONG_COUNT;
	if (sp >= 0)
		H5Sclose(sp);
	if (rc != H5_ATTR_READ && t >= 0)
		H5Tclose(t);
	if (rc != H5_ATTR_READ && *a >= 0)
		H5Aclose(*a);
	return rc;
}

/* Whether the k integers of attribute a, of standard type kind (at most 64 bits), all fit the
   integer type mtype: HDF5 converts one that does not to mtype's nearest bound, and a file's
   uint64 2^64-1 would be read, and reported, as INT_MAX. 1 yes, 0 no, -1 unreadable. */
static int ints_fit(hid_t a, int kind, hid_t mtype, int k)
{
	size_t file_bits = (size_t)8 << (kind / 4);
	int file_unsigned = (kind >> 1) & 1;
	int native_int = mtype == H5T_NATIVE_INT; /* what the model reader asks: no questions */
	size_t bits = native_int ? sizeof(int) * 8 : H5Tget_size(mtype) * 8;
	int m_unsigned = native_int ? 0 : H5Tget_sign(mtype) == H5T_SGN_NONE;
	if (bits == 0 || bits > 64)
		return -1;
	/* a type all of whose values mtype holds (an int32 for an int): nothing to look at */
	if ((file_unsigned == m_unsigned && file_bits <= bits) || (file_unsigned && !m_unsigned && file_bits < bits))
		return 1;
	/* mtype's range, as int64 bounds (an unsigned 64-bit mtype holds any non-negative value) */
	int64_t lo = m_unsigned ? 0 : bits == 64 ? INT64_MIN : -((int64_t)1 << (bits - 1));
	uint64_t hi = m_unsigned ? (bits == 64 ? UINT64_MAX : ((uint64_t)1 << bits) - 1)
				 : ((uint64_t)1 << (bits - 1)) - 1;
	int64_t *v = malloc((size_t)k * sizeof *v); /* [k] */
	int rc = v && H5Aread(a, file_unsigned ? H5T_NATIVE_UINT64 : H5T_NATIVE_INT64, v) >= 0 ? 1 : -1;
	for (int i = 0; rc == 1 && i < k; i++)
		if (file_unsigned ? (uint64_t)v[i] > hi : v[i] < lo || (v[i] >= 0 && (uint64_t)v[i] > hi))
			rc = 0;
	free(v);
	return rc;
}

int h5_read_attr(hid_t loc, const char *name, H5T_class_t cls, hid_t mtype, int n, void *out,
		 long long *count)
{
	hid_t a;
	AttrType at;
	int rc = open_attr(loc, name, cls, n, &a, &at, count);
	if (rc != H5_ATTR_READ)
		return rc;
	int fit = cls == H5T_INTEGER ? ints_fit(a, at.kind, mtype, n ? n : 1) : 1;
	if (fit == 0)
		rc = H5_ATTR_OUT_OF_RANGE;
	else if (fit < 0 || H5Aread(a, mtype, out) < 0)
		rc = H5_ATTR_UNREADABLE;
	H5Tclose(at.type);
	H5Aclose(a);
	return rc;
}

int h5_read_strs(hid_t loc, const char *name, int n, char *out, size_t stride)
{
	hid_t a, mt = H5Tcopy(H5T_C_S1);
	AttrType at;
	long long count;
	int rc = open_attr(loc, name, H5T_STRING, n, &a, &at, &count);
	if (rc != H5_ATTR_READ) {
		if (mt >= 0)
			H5Tclose(mt);
		return rc;
	}
	hid_t t = at.type;
	int vlen = at.vlen;
	size_t sz = vlen ? sizeof(char *) : at.size + 1; /* one spare byte: a NULLPAD string fills its size */
	char *tmp = calloc((size_t)n, sz);
	if (mt < 0 || !tmp || H5Tset_size(mt, vlen ? H5T_VARIABLE : sz) < 0 || h5_str_cset_like(mt, t) < 0 ||
	    H5Aread(a, mt, tmp) < 0) {
		rc = H5_ATTR_UNREADABLE;
		vlen = 0; /* nothing read: nothing to free */
	}
	for (int i = 0; rc == H5_ATTR_READ && i < n; i++) {
		const char *s = vlen ? ((char **)tmp)[i] : tmp + (size_t)i * sz;
		if (!s)
			s = "";
		if (strlen(s) >= stride)
			rc = H5_ATTR_TOO_LONG;
		else
			memcpy(out + (size_t)i * stride, s, strlen(s) + 1);
	}
	for (int i = 0; vlen && i < n; i++)
		if (((char **)tmp)[i])
			H5free_memory(((char **)tmp)[i]);
	free(tmp);
	H5Tclose(t);
	if (mt >= 0)
		H5Tclose(mt);
	H5Aclose(a);
	return rc;
}

int h5_str_cset_like(hid_t mt, hid_t t)
{
	H5T_cset_t cs = H5Tget_cset(t);
	return cs < 0 || H5Tset_cset(mt, cs) < 0 ? -1 : 0;
}

int h5_str_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return 0;
	return 1;
}

int h5_read_str(hid_t loc, const char *name, char *buf, size_t n)
{
	hid_t a, mt = -1;
	AttrType at;
	int rc = open_attr(loc, name, H5T_STRING, 0, &a, &at, NULL);
	if (rc != H5_ATTR_READ)
		return rc;
	/* A fixed-length string padded with NULs (nash's own, numpy's bytes) is read in the file's own
	   type, as HDF5 would convert it to a C string: the text up to its first NUL, or all of its
	   size (the spare byte ends it). Any other (variable-length, space-padded) goes through a C
	   string type of the file's character set, HDF5 converting no set into another. */
	H5T_str_t pad = at.vlen ? H5T_STR_ERROR : H5Tget_strpad(at.type);
	int raw = pad == H5T_STR_NULLTERM || pad == H5T_STR_NULLPAD;
	size_t sz = at.vlen ? sizeof(char *) : at.size;
	char *tmp = calloc(1, sz + 1), *s = tmp;
	if (!raw && (mt = H5Tcopy(H5T_C_S1)) >= 0 &&
	    (H5Tset_size(mt, at.vlen ? H5T_VARIABLE : sz + 1) < 0 || h5_str_cset_like(mt, at.type) < 0)) {
		H5Tclose(mt);
		mt = -1;
	}
	if (!tmp || (!raw && mt < 0) || H5Aread(a, raw ? at.type : mt, at.vlen ? (void *)&s : (void *)tmp) < 0 || !s)
		rc = H5_ATTR_UNREADABLE;
	else if (!h5_str_ascii(s))
		rc = H5_ATTR_NOT_ASCII;
	else if (strlen(s) >= n)
		rc = H5_ATTR_TOO_LONG;
	else
		memcpy(buf, s, strlen(s) + 1);
	if (at.vlen && s && s != tmp)
		H5free_memory(s);
	free(tmp);
	H5Tclose(at.type);
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
		H5Tset_size(t, h5_field_str_size(kind));
		return t;
	}
	}
}

hid_t h5_compound_type(const H5Table *tab, int file)
{
	const Field *f = tab->fields;
	int nf = tab->n_fields;
	size_t size = 0;
	for (int i = 0; i < nf; i++) {
		size_t str = h5_field_str_size(f[i].kind);
		size += f[i].kind == F_U64 ? 8 : str ? str : 4;
	}
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

