/* Dataset specs (data.h): what "cifar10:DIR", "h5:FILE" ... name, and for a spec that names
   none, what the path given is and the spec that would take it. */
#include "data/data.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/data_h5.h"

#define SPEC_FORMS                                                                            \
	"fashion-mnist, fashion-mnist:DIR, cifar10:DIR, cifar100:DIR or h5:FILE (a dataset of another " \
	"size in one of the first formats: NAME@TRAIN,TEST:DIR, e.g. cifar10@600,100:DIR)"

/* Whether dir/name exists. */
static int has(const char *dir, const char *name)
{
	char path[4096];
	struct stat st;
	return snprintf(path, sizeof path, "%s/%s", dir, name) < (int)sizeof path && stat(path, &st) == 0;
}

/* Whether path is an HDF5 file: its signature at the start, where nash and h5py put it (HDF5
   also looks at 512, 1024, ... after a user block, which neither writes). */
static int hdf5_file(const char *path)
{
	static const unsigned char sig[8] = { 0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n' };
	unsigned char b[8];
	FILE *f = fopen(path, "rb");
	int yes = f && fread(b, 1, sizeof b, f) == sizeof b && !memcmp(b, sig, sizeof sig);
	if (f)
		fclose(f);
	return yes;
}

int data_path_hint(NashErr *err, int code, const char *path, int as_h5)
{
	struct stat st;
	NashName p = nash_name(path);
	if (stat(path, &st))
		return 1;
	if (S_ISDIR(st.st_mode)) {
		const char *spec = has(path, "data_batch_1.bin") ? "cifar10" :
				   has(path, "train.bin")        ? "cifar100" :
				   has(path, "train-images-idx3-ubyte.gz") || has(path, "train-images-idx3-ubyte") ?
								   "fashion-mnist" : NULL;
		if (spec)
			nash_err(err, code, "%s is a folder of %s files%s: give it as %s:%s", p.s, spec,
				 as_h5 ? ", not a dataset file" : "", spec, p.s);
		else if (as_h5)
			nash_err(err, code,
				 "%s is a folder, not a dataset file: a folder of images is packed first: nash-data pack %s "
				 "-o FILE.h5, then given as h5:FILE.h5", p.s, p.s);
		else
			nash_err(err, code,
				 "%s is a folder of images: pack it first: nash-data pack %s -o FILE.h5, then give the "
				 "data as h5:FILE.h5", p.s, p.s);
		return 0;
	}
	if (as_h5 || !S_ISREG(st.st_mode) || !hdf5_file(path))
		return 1;
	nash_err(err, code, "%s is an HDF5 file: a dataset file is given as h5:%s", p.s, p.s);
	return 0;
}

/* "N,M" with 1 <= N, M <= 100000000 into sizes; -1 when malformed. */
static int parse_sizes(const char *s, size_t len, int sizes[2])
{
	char buf[32];
	if (len == 0 || len >= sizeof buf)
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	const char *p = buf;
	for (int k = 0; k < 2; k++) {
		char *end;
		if (!isdigit((unsigned char)*p))
			return -1;
		errno = 0;
		long v = strtol(p, &end, 10);
		if (errno || v < 1 || v > 100000000 || *end != (k ? '\0' : ','))
			return -1;
		sizes[k] = (int)v;
		p = end + 1;
	}
	return 0;
}

int data_parse_spec(const char *spec, char *name, size_t name_n, char *dir, size_t dir_n, int sizes[2],
		    NashErr *err)
{
	const char *colon = spec ? strchr(spec, ':') : NULL;
	size_t hlen = colon ? (size_t)(colon - spec) : (spec ? strlen(spec) : 0); /* NAME[@N,M] */
	const char *at = spec ? memchr(spec, '@', hlen) : NULL;
	size_t nlen = at ? (size_t)(at - spec) : hlen;
	const char *d = colon ? colon + 1 : NULL;
	int known = spec && ((nlen == 13 && !strncmp(spec, "fashion-mnist", nlen)) ||
			     (nlen == 7 && !strncmp(spec, "cifar10", nlen)) ||
			     (nlen == 8 && !strncmp(spec, "cifar100", nlen)) ||
			     (nlen == 2 && !strncmp(spec, "h5", nlen)));
	int is_h5 = known && nlen == 2; /* an HDF5 file carries its own counts */
	sizes[0] = sizes[1] = 0;
	if (!known || (d && !*d) || (!d && nlen != 13) || (at && is_h5) ||
	    (at && parse_sizes(at + 1, hlen - nlen - 1, sizes))) {
		if (spec && data_path_hint(err, NASH_ERR_USAGE, spec, 0) == 0)
			return -1;
		return nash_err(err, NASH_ERR_USAGE, "bad dataset '%s': expected " SPEC_FORMS,
				nash_name(spec ? spec : "(null)").s);
	}
	if (!d)
		d = NASH_FMNIST_DIR;
	if (nlen >= name_n || strlen(d) >= dir_n)
		return nash_err(err, NASH_ERR_USAGE, "bad dataset '%s': name too long", nash_name(spec).s);
	memcpy(name, spec, nlen);
	name[nlen] = '\0';
	memcpy(dir, d, strlen(d) + 1);
	return 0;
}


const char *data_spec_for_model(const char *given, const char *model_dataset, NashErr *err)
{
	if (given)
		return given;
	if (strcmp(model_dataset, "fashion-mnist") == 0)
		return model_dataset;
	if (dataset_builtin_classes(model_dataset))
		nash_err(err, NASH_ERR_USAGE, "the model is for %s; give its data with --data %s:DIR", model_dataset,
			 model_dataset);
	else
		nash_err(err, NASH_ERR_USAGE, "the model is for the dataset %s; give its file with --data h5:FILE",
			 model_dataset);
	return NULL;
}
