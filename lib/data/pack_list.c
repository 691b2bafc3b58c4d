/* Listing the tree of nash-data pack (pack_list.h): classes and files, in byte order, every odd
   thing an error, and the usual mistakes (a tree of sets given for a tree of classes, a tree one
   level too high) refused with the command that packs it right. */
#include "data/pack_list.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/data.h"

#define MAX_DEPTH 16 /* folders inside a class folder; deeper is most likely a symlink loop */
#define NOTE_NAMES 3 /* skipped files named in the note; the rest are counted */

void files_free(Files *f)
{
	for (int i = 0; i < f->n; i++)
		free(f->paths[i]);
	free(f->paths);
	free(f->labels);
	memset(f, 0, sizeof *f);
}

static int files_add(Files *f, const char *path, int label, NashErr *err)
{
	if (f->n == INT_MAX)
		return nash_err(err, NASH_ERR_RUNTIME, "%s: too many images", nash_name(path).s);
	if (f->n == f->cap) {
		int cap = f->cap ? (f->cap > INT_MAX / 2 ? INT_MAX : f->cap * 2) : 1024;
		char **p = realloc(f->paths, (size_t)cap * sizeof *p);
		if (p)
			f->paths = p;
		int *l = p ? realloc(f->labels, (size_t)cap * sizeof *l) : NULL;
		if (!l)
			return nash_err(err, NASH_ERR_OOM, "%s: out of memory", nash_name(path).s);
		f->labels = l;
		f->cap = cap;
	}
	if (!(f->paths[f->n] = strdup(path)))
		return nash_err(err, NASH_ERR_OOM, "%s: out of memory", nash_name(path).s);
	f->labels[f->n++] = label;
	return 0;
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The entries of dir except . and .. and hidden ones, sorted by byte order (malloc'd). */
static int list_dir(const char *dir, char ***names, int *n, NashErr *err)
{
	*names = NULL;
	*n = 0;
	DIR *dp = opendir(dir);
	if (!dp)
		return nash_err(err, NASH_ERR_RUNTIME, "%s: %s", nash_name(dir).s, strerror(errno));
	int cap = 0, rc = 0;
	struct dirent *e;
	errno = 0;
	while (rc == 0 && (e = readdir(dp))) {
		if (e->d_name[0] == '.')
			continue; /* ., .. and hidden files (.DS_Store, editor droppings) */
		if (*n == cap) {
			cap = cap ? 2 * cap : 64;
			char **p = realloc(*names, (size_t)cap * sizeof *p);
			if (!p) {
				rc = nash_err(err, NASH_ERR_OOM, "%s: out of memory", nash_name(dir).s);
				break;
			}
			*names = p;
		}
		if (!((*names)[*n] = strdup(e->d_name)))
			rc = nash_err(err, NASH_ERR_OOM, "%s: out of memory", nash_name(dir).s);
		else
			(*n)++;
		errno = 0;
	}
	if (rc == 0 && errno)
		rc = nash_err(err, NASH_ERR_RUNTIME, "%s: %s", nash_name(dir).s, strerror(errno));
	closedir(dp);
	if (rc == 0 && *n)
		qsort(*names, (size_t)*n, sizeof **names, by_name);
	return rc;
}

static void names_free(char **names, int n)
{
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static int join(char *out, size_t n, const char *dir, const char *name, NashErr *err)
{
	if (snprintf(out, n, "%s/%s", dir, name) >= (int)n)
		return nash_err(err, NASH_ERR_RUNTIME, "%s/%s: path too long", nash_name(dir).s, nash_name(name).s);
	return 0;
}

static int lower(int ch) { return ch >= 'A' && ch <= 'Z' ? ch + 32 : ch; }

/* a equals b, ASCII case ignored */
static int same_ci(const char *a, const char *b)
{
	while (*a && lower(*a) == lower(*b))
		a++, b++;
	return !*a && !*b;
}

static int image_name(const char *name)
{
	const char *dot = strrchr(name, '.');
	return dot && (same_ci(dot, ".png") || same_ci(dot, ".jpg") || same_ci(dot, ".jpeg"));
}

/* A file that describes a dataset rather than belonging to it: README, README.md, labels.csv,
   notes.txt. Beside the class folders it is skipped (and named), not an error. */
static int note_name(const char *name)
{
	const char *dot = strrchr(name, '.');
	size_t i = 0;
	while (i < 6 && lower(name[i]) == "readme"[i])
		i++;
	return (i == 6 && (!name[6] || name[6] == '.')) || (dot && (same_ci(dot, ".txt") || same_ci(dot, ".csv")));
}

/* The image files under dir (recursively, sorted) into f with `label`. At depth 0, *direct counts
   the images in dir itself and sub[sub_n] gets its first folder ("" when none). */
static int list_images(Files *f, const char *dir, int label, int depth, int *direct, char *sub, size_t sub_n,
		       NashErr *err)
{
	if (depth > MAX_DEPTH)
		return nash_err(err, NASH_ERR_RUNTIME, "%s: folders nested more than %d deep (a symbolic link loop?)",
				nash_name(dir).s, MAX_DEPTH);
	char **names;
	int n, rc = 0;
	if (list_dir(dir, &names, &n, err))
		return -1;
	for (int i = 0; i < n && rc == 0; i++) {
		char path[4096];
		struct stat st;
		if (join(path, sizeof path, dir, names[i], err))
			rc = -1;
		else if (stat(path, &st))
			rc = nash_err(err, NASH_ERR_RUNTIME, "%s: %s", nash_name(path).s, strerror(errno));
		else if (S_ISDIR(st.st_mode)) {
			if (depth == 0 && !*sub)
				snprintf(sub, sub_n, "%s", names[i]);
			rc = list_images(f, path, label, depth + 1, direct, sub, sub_n, err);
		} else if (!S_ISREG(st.st_mode) || !image_name(names[i]))
			rc = nash_err(err, NASH_ERR_RUNTIME, "%s: not an image file (expected .png, .jpg or .jpeg)",
				      nash_name(path).s);
		else if ((rc = files_add(f, path, label, err)) == 0 && depth == 0)
			(*direct)++;
	}
	names_free(names, n);
	return rc;
}

/* The names a dataset's sets go by; as class folders they are a tree of sets given as a tree of
   classes (DIR/train/cat where DIR/cat was meant). */
static const char *const set_names[] = { "train", "test", "val", "validation" };
enum { SET_TRAIN, SET_TEST, SET_VAL, SET_VALIDATION, N_SETS };

static int set_kind(const char *name)
{
	for (int k = 0; k < N_SETS; k++)
		if (same_ci(name, set_names[k]))
			return k;
	return -1;
}

/* Whether root/name is a folder that holds a folder (a set's class folders, not a class's
   images); 0 when it cannot be read (the listing that follows says why). */
static int holds_folder(const char *root, const char *name)
{
	char path[PATH_MAX], sub[PATH_MAX];
	if ((size_t)snprintf(path, sizeof path, "%s/%s", root, name) >= sizeof path)
		return 0;
	DIR *dir = opendir(path);
	if (!dir)
		return 0;
	int found = 0;
	struct dirent *e;
	struct stat st;
	while (!found && (e = readdir(dir)))
		if (e->d_name[0] != '.' && (size_t)snprintf(sub, sizeof sub, "%s/%s", path, e->d_name) < sizeof sub &&
		    stat(sub, &st) == 0 && S_ISDIR(st.st_mode))
			found = 1;
	closedir(dir);
	return found;
}

/* A class folder named like a set that holds folders: a set of classes (CIFAR-100 has a class
   "train", a folder of images, which is no set). */
static int set_of_classes(const char *root, const char *name)
{
	return set_kind(name) >= 0 && holds_folder(root, name);
}

/* Refuses class folders that are sets (set_of_classes), with the command that packs the sets
   as sets. */
static int check_sets(const char *root, char **names, int n, NashErr *err)
{
	int at[N_SETS] = { -1, -1, -1, -1 }, found = 0;
	char list[512] = "";
	for (int i = 0; i < n; i++) {
		int k = set_of_classes(root, names[i]) ? set_kind(names[i]) : -1;
		if (k >= 0 && at[k] < 0)
			at[k] = i, found++;
	}
	for (int i = 0, listed = 0; i < n && found; i++)
		if (set_of_classes(root, names[i])) {
			size_t l = strlen(list);
			listed++;
			snprintf(list + l, sizeof list - l, "%s'%s'", listed == 1 ? "" : listed == found ? " and " : ", ",
				 nash_name(names[i]).s);
		}
	if (!found)
		return 0;
	int test = at[SET_TEST] >= 0 ? at[SET_TEST] : at[SET_VAL] >= 0 ? at[SET_VAL] : at[SET_VALIDATION];
	int train = at[SET_TRAIN] >= 0 ? at[SET_TRAIN] : test; /* one of the two is found */
	NashName r = nash_name(root);
	char cmd[4 * NASH_NAME_SHOWN + 64];
	if (test >= 0 && train != test)
		snprintf(cmd, sizeof cmd, "nash-data pack %s/%s --test %s/%s -o FILE.h5", r.s, nash_name(names[train]).s,
			 r.s, nash_name(names[test]).s);
	else
		snprintf(cmd, sizeof cmd, "nash-data pack %s/%s -o FILE.h5", r.s, nash_name(names[train]).s);
	return nash_err(err, NASH_ERR_RUNTIME,
			"%s: class folders named %s: those are a dataset's sets, not classes; pack the sets as such: %s "
			"(or give --force to take them as classes)", r.s, list, cmd);
}

/* Appends name to the note on skipped files (the first NOTE_NAMES by name, then a count). */
static void note_add(char *note, size_t note_n, const char *root, const char *name, int *noted)
{
	size_t l = strlen(note);
	if (*noted == 0)
		snprintf(note, note_n, "%s: skipped %s", nash_name(root).s, nash_name(name).s);
	else if (*noted < NOTE_NAMES)
		snprintf(note + l, note_n - l, ", %s", nash_name(name).s);
	(*noted)++;
}

static void note_end(char *note, size_t note_n, int noted)
{
	size_t l = strlen(note);
	if (noted > NOTE_NAMES)
		snprintf(note + l, note_n - l, " and %d more", noted - NOTE_NAMES);
	l = strlen(note);
	if (noted)
		snprintf(note + l, note_n - l, " beside the class folders (notes, not images)");
}

/* Splits the entries of root into class folders (kept in names, *n of them) and notes (named
   in note, freed); the first other entry is in *bad (its stat error in *bad_errno). */
static int sort_entries(const char *root, char **names, int *n, char *note, size_t note_n, char *bad,
			size_t bad_n, int *bad_errno, NashErr *err)
{
	int kept = 0, noted = 0;
	*bad = '\0';
	for (int i = 0; i < *n; i++) {
		char path[4096];
		struct stat st;
		if (join(path, sizeof path, root, names[i], err))
			return -1;
		int ok = stat(path, &st) == 0;
		if (ok && S_ISDIR(st.st_mode)) {
			names[kept++] = names[i];
			continue;
		}
		if (ok && S_ISREG(st.st_mode) && note_name(names[i]))
			note_add(note, note_n, root, names[i], &noted);
		else if (!*bad) {
			snprintf(bad, bad_n, "%s", path);
			*bad_errno = ok ? 0 : errno;
		}
		free(names[i]);
	}
	note_end(note, note_n, noted);
	*n = kept;
	return 0;
}

/* The class folders' names: text, length, no two the same but for case. */
static int check_class_names(const char *root, char **names, int n, NashErr *err)
{
	for (int i = 0; i < n; i++) {
		char path[4096];
		if (join(path, sizeof path, root, names[i], err))
			return -1;
		if (!nash_text_ok(names[i]))
			return nash_err(err, NASH_ERR_RUNTIME,
					"%s: a class folder's name must be UTF-8 text without control characters (it "
					"becomes the class's name); rename the folder", nash_name(path).s);
		if (strlen(names[i]) >= NASH_CLASS_NAME_MAX)
			return nash_err(err, NASH_ERR_RUNTIME, "%s: class name longer than %d bytes", nash_name(path).s,
					NASH_CLASS_NAME_MAX - 1);
		for (int j = 0; j < i; j++)
			if (same_ci(names[j], names[i])) {
				NashName r = nash_name(root);
				return nash_err(err, NASH_ERR_RUNTIME,
						"%s/%s and %s/%s: class names that differ only in case (they would be one "
						"folder on a case-insensitive disk)", r.s, nash_name(names[j]).s, r.s,
						nash_name(names[i]).s);
			}
	}
	if (n < 2)
		return nash_err(err, NASH_ERR_RUNTIME, "%s: %s%s%s; a classifier needs at least two classes",
				nash_name(root).s, n ? "only one class folder, '" : "no class folders",
				n ? nash_name(names[0]).s : "", n ? "'" : "");
	if (n > NASH_MAX_CLASSES)
		return nash_err(err, NASH_ERR_RUNTIME, "%s: %d class folders, more than %d", nash_name(root).s, n,
				NASH_MAX_CLASSES);
	return 0;
}

/* Each class folder's images into f; refused unless force when no class folder holds an image
   of its own, only folders: the classes are most likely a level down. */
static int list_classes(Files *f, char *classes, const char *root, char **names, int n, int force, NashErr *err)
{
	int direct = 0;
	char first_sub[256] = "";
	for (int i = 0; i < n; i++) {
		char path[4096], sub[256] = "";
		int before = f->n;
		memcpy(classes + (size_t)i * NASH_CLASS_NAME_MAX, names[i], strlen(names[i]) + 1);
		if (join(path, sizeof path, root, names[i], err) ||
		    list_images(f, path, i, 0, &direct, sub, sizeof sub, err))
			return -1;
		if (f->n == before)
			return nash_err(err, NASH_ERR_RUNTIME, "%s: no images in the class folder", nash_name(path).s);
		if (i == 0)
			memcpy(first_sub, sub, sizeof sub);
	}
	if (direct == 0 && !force) {
		NashName r = nash_name(root), c = nash_name(names[0]);
		return nash_err(err, NASH_ERR_RUNTIME,
				"%s: the class folders hold only folders, no images of their own (%s/%s holds %s/): if "
				"the classes are a level down, pack that level: nash-data pack %s/%s -o FILE.h5 (or give "
				"--force to take each folder with its sub-folders as one class)",
				r.s, r.s, c.s, nash_name(first_sub).s, r.s, c.s);
	}
	return 0;
}

int pack_list_tree(Files *f, char **classes, int *n_classes, const char *root, int force, char *note,
		   size_t note_n, NashErr *err)
{
	char **names, bad[4096];
	int n, bad_errno = 0, rc = 0;
	*classes = NULL;
	*note = '\0';
	if (list_dir(root, &names, &n, err))
		return -1;
	if (sort_entries(root, names, &n, note, note_n, bad, sizeof bad, &bad_errno, err) ||
	    (!force && check_sets(root, names, n, err)))
		rc = -1;
	else if (*bad && bad_errno)
		rc = nash_err(err, NASH_ERR_RUNTIME, "%s: %s", nash_name(bad).s, strerror(bad_errno));
	else if (*bad)
		rc = nash_err(err, NASH_ERR_RUNTIME,
			      "%s: not a folder (%s must hold one folder of images per class, nothing else)",
			      nash_name(bad).s, nash_name(root).s);
	else if (check_class_names(root, names, n, err))
		rc = -1;
	else if (!(*classes = calloc((size_t)n, NASH_CLASS_NAME_MAX)))
		rc = nash_err(err, NASH_ERR_OOM, "%s: out of memory", nash_name(root).s);
	else if (list_classes(f, *classes, root, names, n, force, err))
		rc = -1;
	else if (class_names_check(*classes, n, err))
		rc = nash_err_prefix(err, root);
	if (rc == 0)
		*n_classes = n;
	names_free(names, n);
	if (rc) {
		free(*classes);
		*classes = NULL;
	}
	return rc;
}
