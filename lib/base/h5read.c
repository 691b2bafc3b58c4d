/* HDF5 plumbing for reading untrusted files (h5util.h): links listed and opened without
   following what leaves the file, datasets checked before they are read, tables read against
   their expected types within a budget. The writing side and attributes are in h5util.c. */
#include "base/h5util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int h5_link_kind(hid_t loc, const char *name)
{
	if (!name[0] || strchr(name, '/') || strcmp(name, ".") == 0)
		return H5_LINK_BAD_NAME;
	htri_t ex = H5Lexists(loc, name, H5P_DEFAULT);
	if (ex <= 0)
		return ex < 0 ? H5_LINK_UNREADABLE : H5_LINK_ABSENT;
	H5L_info_t li;
	if (H5Lget_info(loc, name, &li, H5P_DEFAULT) < 0)
		return H5_LINK_UNREADABLE;
	if (li.type == H5L_TYPE_SOFT)
		return H5_LINK_SOFT;
	if (li.type != H5L_TYPE_HARD)
		return H5_LINK_EXTERNAL;
	/* a hard link: opening it stays inside this file */
	hid_t o = H5Oopen(loc, name, H5P_DEFAULT);
	if (o < 0)
		return H5_LINK_UNREADABLE;
	H5I_type_t t = H5Iget_type(o);
	H5Oclose(o);
	return t == H5I_GROUP ? H5_LINK_GROUP : t == H5I_DATASET ? H5_LINK_DATASET : H5_LINK_OTHER;
}

/* What h5_list_links collects, in the order H5Literate gives: at most max links, then only
   their count. */
typedef struct LinkList {
	H5Link *v;
	size_t n, cap, max, seen;
	int oom;
} LinkList;

#if H5_VERSION_GE(1, 12, 0)
static herr_t list_link(hid_t g, const char *name, const H5L_info2_t *li, void *arg)
#else
static herr_t list_link(hid_t g, const char *name, const H5L_info_t *li, void *arg)
#endif
{
	LinkList *l = arg;
	if (++l->seen > l->max)
		return 0; /* counted, for the message, and not kept */
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 16;
		H5Link *v = realloc(l->v, cap * sizeof *v);
		if (!v) {
			l->oom = 1;
			return -1;
		}
		l->v = v;
		l->cap = cap;
	}
	H5Link *k = &l->v[l->n];
	size_t len = strlen(name);
	if (!(k->name = malloc(len + 1))) {
		l->oom = 1;
		return -1;
	}
	memcpy(k->name, name, len + 1);
	memset(&k->at, 0, sizeof k->at);
	if (!name[0] || strchr(name, '/') || strcmp(name, ".") == 0)
		k->kind = H5_LINK_BAD_NAME;
	else if (li->type == H5L_TYPE_SOFT)
		k->kind = H5_LINK_SOFT;
	else if (li->type != H5L_TYPE_HARD)
		k->kind = H5_LINK_EXTERNAL;
	else
		k->kind = H5_LINK_HARD;
#if H5_VERSION_GE(1, 12, 0)
	if (k->kind == H5_LINK_HARD)
		k->at = li->u.token;
#else
	if (k->kind == H5_LINK_HARD)
		k->at = li->u.address;
#endif
	l->n++;
	return 0;
}

/* One pass of H5Literate, without asking the group's size first (H5Gget_info counts a compact
   group's links by walking them: as much again as the listing of a 10,000-link group). */
int h5_list_links(hid_t g, size_t max, H5Link **links, size_t *n)
{
	*links = NULL;
	*n = 0;
	LinkList l = {.max = max};
#if H5_VERSION_GE(1, 12, 0)
	herr_t rc = H5Literate2(g, H5_INDEX_NAME, H5_ITER_INC, NULL, list_link, &l);
#else
	herr_t rc = H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, NULL, list_link, &l);
#endif
	if (rc < 0 || l.oom || l.seen > max) {
		h5_free_links(l.v, l.n);
		if (rc >= 0 && !l.oom)
			*n = l.seen;
		return -1;
	}
	if (!l.v && !(l.v = calloc(1, sizeof *l.v))) /* an empty list is not NULL */
		return -1;
	*links = l.v;
	*n = l.n;
	return 0;
}

void h5_free_links(H5Link *links, size_t n)
{
	for (size_t i = 0; links && i < n; i++)
		free(links[i].name);
	free(links);
}

hid_t h5_open_link(hid_t g, const H5Link *l, int *kind)
{
	*kind = l->kind;
	if (l->kind != H5_LINK_HARD)
		return -1;
	/* by address: the same object a lookup of the hard link's name would reach, in this file */
#if H5_VERSION_GE(1, 12, 0)
	hid_t o = H5Oopen_by_token(g, l->at);
#else
	hid_t o = H5Oopen_by_addr(g, l->at);
#endif
	H5I_type_t t = o >= 0 ? H5Iget_type(o) : H5I_BADID;
	*kind = o < 0 ? H5_LINK_UNREADABLE : t == H5I_GROUP ? H5_LINK_GROUP : t == H5I_DATASET ? H5_LINK_DATASET
										       : H5_LINK_OTHER;
	if (o >= 0 && *kind != H5_LINK_GROUP && *kind != H5_LINK_DATASET) {
		H5Oclose(o);
		o = -1;
	}
	return o;
}

const char *h5_link_kind_name(int kind)
{
	switch (kind) {
	case H5_LINK_GROUP: return "a group";
	case H5_LINK_DATASET: return "a dataset";
	case H5_LINK_ABSENT: return "missing";
	case H5_LINK_OTHER: return "an object that is neither a group nor a dataset";
	case H5_LINK_SOFT: return "a soft link (nash files hold none)";
	case H5_LINK_EXTERNAL: return "an external link (to another file: never followed)";
	case H5_LINK_BAD_NAME: return "a link whose name is not a plain name";
	default: return "an unreadable link";
	}
}

/* Object header message types (HDF5 file format specification, "Header Message Types"). */
enum { MSG_EXTERNAL_FILES = 0x0007, MSG_FILTER_PIPELINE = 0x000B };

/* 1 when d is what nash and h5py write, a contiguous dataset in this file without filters or
   external storage, which h5_check_dataset accepts; told from its address and its object
   header's message types, without a copy of its creation properties (H5Dget_create_plist),
   which costs more than the rest of a small dataset's read. 0: ask the full check. */
static int plainly_contiguous(hid_t d)
{
	/* only a contiguous layout has an address: compact, chunked and virtual ones have none */
	if (H5Dget_offset(d) == HADDR_UNDEF)
		return 0;
	/* HDF5 takes an external file list and filters from these messages alone: without them, the
	   property list would say no external file and no filter */
#if H5_VERSION_GE(1, 12, 0)
	H5O_native_info_t info;
	if (H5Oget_native_info(d, &info, H5O_NATIVE_INFO_HDR) < 0)
		return 0;
#else
	H5O_info_t info;
	if (H5Oget_info2(d, &info, H5O_INFO_HDR) < 0)
		return 0;
#endif
	uint64_t refused = (uint64_t)1 << MSG_EXTERNAL_FILES | (uint64_t)1 << MSG_FILTER_PIPELINE;
	return (info.hdr.mesg.present & refused) == 0;
}

int h5_check_dataset(hid_t d, unsigned allow, char *why, size_t n)
{
	if (plainly_contiguous(d))
		return 0;
	hid_t dcpl = H5Dget_create_plist(d);
	if (dcpl < 0) {
		snprintf(why, n, "cannot read its storage properties");
		return -1;
	}
	int rc = 0;
	H5D_layout_t lay = H5Pget_layout(dcpl);
	int ext = H5Pget_external_count(dcpl), nf = H5Pget_nfilters(dcpl);
	if (lay == H5D_VIRTUAL) {
		rc = -1;
		snprintf(why, n, "a virtual dataset (its data would come from other datasets or files): refused");
	} else if (lay != H5D_COMPACT && lay != H5D_CONTIGUOUS && lay != H5D_CHUNKED) {
		rc = -1;
		snprintf(why, n, "unknown storage layout");
	} else if (ext != 0) {
		rc = -1;
		snprintf(why, n, "external storage (its data would be read from %s): refused",
			 ext > 0 ? "another file" : "elsewhere");
	} else if (nf < 0) {
		rc = -1;
		snprintf(why, n, "cannot read its filters");
	}
	for (int i = 0; rc == 0 && i < nf; i++) {
		unsigned flags = 0, config = 0;
		size_t nv = 0;
		char name[64] = "";
		H5Z_filter_t id = H5Pget_filter2(dcpl, (unsigned)i, &flags, &nv, NULL, sizeof name, name, &config);
		int ok = (id == H5Z_FILTER_DEFLATE && (allow & H5_ALLOW_DEFLATE)) ||
			 (id == H5Z_FILTER_SHUFFLE && (allow & H5_ALLOW_SHUFFLE)) ||
			 (id == H5Z_FILTER_FLETCHER32 && (allow & H5_ALLOW_FLETCHER32));
		if (!ok) {
			rc = -1;
			name[sizeof name - 1] = '\0';
			for (char *c = name; *c; c++)
				if ((unsigned char)*c < 32 || (unsigned char)*c > 126)
					*c = '?';
			snprintf(why, n, "filter %d%s%s%s is not one nash reads: refused", (int)id, name[0] ? " (" : "",
				 name, name[0] ? ")" : "");
		}
	}
	H5Pclose(dcpl);
	return rc;
}

hid_t h5_open_dataset(hid_t loc, const char *name, unsigned allow, char *why, size_t n)
{
	int kind = h5_link_kind(loc, name);
	if (kind != H5_LINK_DATASET) {
		snprintf(why, n, "%s", kind == H5_LINK_ABSENT ? "missing" : kind == H5_LINK_GROUP ? "not a dataset"
							: h5_link_kind_name(kind));
		return -1;
	}
	hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
	if (d < 0) {
		snprintf(why, n, "cannot open the dataset");
		return -1;
	}
	if (h5_check_dataset(d, allow, why, n)) {
		H5Dclose(d);
		return -1;
	}
	return d;
}

static uint64_t load_le(const unsigned char *p, int n)
{
	uint64_t v = 0;
	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* The file's member type for a field of `kind`: exactly what the writer uses, but for a string,
   which may be narrower (a field widened since, in an older file). */
static int field_matches(hid_t mt, int kind)
{
	switch (kind) {
	case F_I32: return H5Tequal(mt, H5T_STD_I32LE) > 0;
	case F_U64: return H5Tequal(mt, H5T_STD_U64LE) > 0;
	case F_F32: return H5Tequal(mt, H5T_IEEE_F32LE) > 0;
	default: return H5Tget_class(mt) == H5T_STRING && H5Tis_variable_str(mt) == 0 && H5Tget_size(mt) >= 1 &&
			H5Tget_size(mt) <= h5_field_str_size(kind);
	}
}

static const char *field_kind_name(int kind)
{
	return kind == F_I32 ? "int32 little-endian" : kind == F_U64 ? "uint64 little-endian" :
	       kind == F_F32 ? "float32 little-endian" : kind == F_STR16 ? "a string of at most 16 bytes" :
	       kind == F_STR64 ? "a string of at most 64 bytes" : "a string of at most 128 bytes";
}

/* The compound type ft against tab: offs[k] and sizes[k] receive field k's offset and bytes in a
   row. 0 or -1. */
static int check_table_type(hid_t ft, const H5Table *tab, size_t rsz, size_t *offs, size_t *sizes, char *why,
			    size_t wn)
{
	int nm = H5Tget_nmembers(ft);
	if (nm < 1 || nm > 256) {
		snprintf(why, wn, "a compound type of %d fields", nm);
		return -1;
	}
	for (int k = 0; k < tab->n_fields; k++)
		offs[k] = SIZE_MAX;
	int rc = 0;
	for (int i = 0; rc == 0 && i < nm; i++) {
		char *name = H5Tget_member_name(ft, (unsigned)i);
		hid_t mt = name ? H5Tget_member_type(ft, (unsigned)i) : -1;
		size_t off = H5Tget_member_offset(ft, (unsigned)i), sz = mt >= 0 ? H5Tget_size(mt) : 0;
		int k = 0;
		while (name && k < tab->n_fields && strcmp(tab->fields[k].name, name) != 0)
			k++;
		if (!name || mt < 0 || sz == 0) {
			rc = -1;
			snprintf(why, wn, "field %d is unreadable", i);
		} else if (off > rsz || sz > rsz - off) {
			rc = -1;
			snprintf(why, wn, "field '%.64s' lies outside the row", name);
		} else if (k < tab->n_fields && offs[k] != SIZE_MAX) {
			rc = -1;
			snprintf(why, wn, "field '%.64s' appears twice", name);
		} else if (k < tab->n_fields && !field_matches(mt, tab->fields[k].kind)) {
			rc = -1;
			snprintf(why, wn, "field '%.64s' has the wrong type (expected %s)", name,
				 field_kind_name(tab->fields[k].kind));
		} else if (k < tab->n_fields) {
			offs[k] = off;
			sizes[k] = sz;
		} else if (!h5_standard_number(mt, H5T_INTEGER) && !h5_standard_number(mt, H5T_FLOAT) &&
			   !(H5Tget_class(mt) == H5T_STRING && H5Tis_variable_str(mt) == 0)) {
			/* a column nash does not know is skipped, but only a plain one: nothing that
			   points elsewhere in the file (variable-length data, references) */
			rc = -1;
			snprintf(why, wn, "field '%.64s' is of a type nash does not read", name);
		}
		if (mt >= 0)
			H5Tclose(mt);
		if (name)
			H5free_memory(name);
	}
	for (int k = 0; rc == 0 && k < tab->n_fields; k++)
		if (offs[k] == SIZE_MAX && !tab->fields[k].optional) {
			rc = -1;
			snprintf(why, wn, "missing field '%s'", tab->fields[k].name);
		}
	return rc;
}

int h5_read_table(hid_t d, const H5Table *tab, long long max_rows, size_t budget, void **rows, int *n,
		  char *why, size_t wn)
{
	*rows = NULL;
	*n = 0;
	hid_t ft = H5Dget_type(d), sp = H5Dget_space(d);
	hsize_t dim = 0;
	size_t rsz = ft >= 0 ? H5Tget_size(ft) : 0, offs[64], sizes[64];
	int rc = -1;
	unsigned char *raw = NULL;
	char *out = NULL;
	if (ft < 0 || sp < 0 || H5Tget_class(ft) != H5T_COMPOUND || rsz == 0 || rsz > 65536)
		snprintf(why, wn, "not a compound dataset");
	else if (H5Sget_simple_extent_type(sp) != H5S_SIMPLE || H5Sget_simple_extent_ndims(sp) != 1 ||
		 H5Sget_simple_extent_dims(sp, &dim, NULL) != 1)
		snprintf(why, wn, "not a 1-D table");
	else if ((long long)dim > max_rows || dim > INT32_MAX)
		snprintf(why, wn, "%llu rows, more than the %lld nash reads and writes", (unsigned long long)dim,
			 max_rows);
	else if (dim > budget / rsz)
		snprintf(why, wn, "%llu rows of %zu bytes, more than the file's %zu bytes", (unsigned long long)dim,
			 rsz, budget);
	else if (tab->n_fields > 64 || check_table_type(ft, tab, rsz, offs, sizes, why, wn) == 0)
		rc = 0;
	if (rc == 0 && dim > 0 && H5Dget_storage_size(d) < dim * rsz) {
		rc = -1;
		snprintf(why, wn, "%llu rows declared but only %llu bytes stored (data never written)",
			 (unsigned long long)dim, (unsigned long long)H5Dget_storage_size(d));
	}
	if (rc == 0 && dim > 0) {
		raw = malloc((size_t)dim * rsz);
		out = calloc((size_t)dim, tab->row_size);
		/* the file's own type in memory too: HDF5 copies the bytes, converts nothing */
		if (!raw || !out) {
			rc = -1;
			snprintf(why, wn, "out of memory");
		} else if (H5Dread(d, ft, H5S_ALL, H5S_ALL, H5P_DEFAULT, raw) < 0) {
			rc = -1;
			snprintf(why, wn, "cannot read");
		}
	}
	for (size_t i = 0; rc == 0 && i < dim; i++)
		for (int k = 0; k < tab->n_fields; k++) {
			if (offs[k] == SIZE_MAX)
				continue; /* an optional field this file lacks: 0 or "" (calloc) */
			const unsigned char *src = raw + i * rsz + offs[k];
			char *dst = out + i * tab->row_size + tab->fields[k].off;
			switch (tab->fields[k].kind) {
			case F_I32: {
				int32_t v = (int32_t)(uint32_t)load_le(src, 4);
				memcpy(dst, &v, 4);
				break;
			}
			case F_U64: {
				uint64_t v = load_le(src, 8);
				memcpy(dst, &v, 8);
				break;
			}
			case F_F32: {
				uint32_t b = (uint32_t)load_le(src, 4);
				float v;
				memcpy(&v, &b, 4);
				memcpy(dst, &v, 4);
				break;
			}
			default: {
				/* (dst is zeroed: a narrower string ends there) */
				size_t cap = h5_field_str_size(tab->fields[k].kind), len = sizes[k] < cap ? sizes[k] : cap;
				memcpy(dst, src, len);
				dst[len == cap ? cap - 1 : len] = '\0';
			}
			}
		}
	free(raw);
	if (ft >= 0)
		H5Tclose(ft);
	if (sp >= 0)
		H5Sclose(sp);
	if (rc) {
		free(out);
		return -1;
	}
	*rows = out;
	*n = (int)dim;
	return 0;
}
