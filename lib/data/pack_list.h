/* Internal to the data layer: the listing step of nash-data pack (pack_list.c), which finds the
   classes and their image files and refuses, or notes, what a tree should not hold; the decoding
   step (pack.c) takes its Files. */
#ifndef NASH_PACK_LIST_H
#define NASH_PACK_LIST_H

#include <stddef.h>

#include "base/err.h"

typedef struct Files {
	char **paths; /* [n] */
	int *labels;  /* [n] */
	int n, cap;
} Files;

void files_free(Files *f);

/* The class folders of root, sorted: classes[n][NASH_CLASS_NAME_MAX] (malloc'd) and their
   images appended to f, labelled by class. Refused unless force: class folders named like a
   dataset's sets (train, test, val, validation) and class folders that all hold only folders.
   Files beside the class folders that are notes (README*, *.txt, *.csv) are skipped and named
   in note[note_n] ("" when none); anything else there is an error. */
int pack_list_tree(Files *f, char **classes, int *n_classes, const char *root, int force, char *note,
		   size_t note_n, NashErr *err);

#endif
