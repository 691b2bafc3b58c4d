/* Class names, as dataset files (docs/DATASETS.md) and model files (docs/FORMAT.md) hold them:
   names[n][NASH_CLASS_NAME_MAX], the name of label k at k. */
#ifndef NASH_CLASSNAMES_H
#define NASH_CLASSNAMES_H

#include <stddef.h>

#include "base/err.h"
#include "base/limits.h"

/* Each non-empty UTF-8 text without control characters (a name is printed and becomes a folder
   name), shorter than NASH_CLASS_NAME_MAX, and no two equal ignoring ASCII case (as folders on a
   case-insensitive disk they would be one). The error names the class by label. */
int class_names_check(const char *names, int n, NashErr *err);

/* The names as a JSON array of strings, ["cat","dog, \"big\""], UTF-8 as it is: a program reads
   it with any JSON parser, commas and quotes in names included. malloc'd; NULL when out of
   memory. */
char *class_names_json(const char *names, int n);

#endif
