/* Class names (classnames.h): the one rule the dataset and the model files both hold them to. */
#include "base/classnames.h"

#include <stdlib.h>
#include <string.h>

/* UTF-8 without control characters (a class name is printed and becomes a folder name). */
static int utf8_ok(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		int extra = *p < 0x80 ? 0 : (*p & 0xe0) == 0xc0 ? 1 : (*p & 0xf0) == 0xe0 ? 2 : (*p & 0xf8) == 0xf0 ? 3 : -1;
		if (extra < 0 || (extra == 0 && (*p < 0x20 || *p == 0x7f)) || (extra == 1 && *p < 0xc2))
			return 0;
		for (int k = 1; k <= extra; k++)
			if ((p[k] & 0xc0) != 0x80)
				return 0;
		p += 1 + extra;
	}
	return 1;
}

static int same_ignoring_case(const char *a, const char *b)
{
	for (; *a && *b; a++, b++) {
		char x = *a >= 'A' && *a <= 'Z' ? (char)(*a + 32) : *a;
		char y = *b >= 'A' && *b <= 'Z' ? (char)(*b + 32) : *b;
		if (x != y)
			return 0;
	}
	return *a == *b;
}

int class_names_check(const char *names, int n, NashErr *err)
{
	for (int k = 0; k < n; k++) {
		const char *s = names + (size_t)k * NASH_CLASS_NAME_MAX;
		if (!memchr(s, '\0', NASH_CLASS_NAME_MAX))
			return nash_err(err, NASH_ERR_RUNTIME, "class %d's name is longer than %d bytes", k,
					NASH_CLASS_NAME_MAX - 1);
		if (!*s)
			return nash_err(err, NASH_ERR_RUNTIME, "class %d has an empty name", k);
		if (!utf8_ok(s))
			return nash_err(err, NASH_ERR_RUNTIME, "class %d's name is not UTF-8 text without control characters", k);
		for (int j = 0; j < k; j++)
			if (same_ignoring_case(s, names + (size_t)j * NASH_CLASS_NAME_MAX))
				return nash_err(err, NASH_ERR_RUNTIME,
						"classes %d and %d have the same name '%s'%s", j, k, s,
						strcmp(s, names + (size_t)j * NASH_CLASS_NAME_MAX) ? " (ignoring case)" : "");
	}
	return 0;
}

char *class_names_json(const char *names, int n)
{
	/* at worst every byte escaped (2 bytes), two quotes and a comma per name, brackets, NUL */
	char *out = malloc((size_t)n * (2 * NASH_CLASS_NAME_MAX + 3) + 3), *p = out;
	if (!out)
		return NULL;
	*p++ = '[';
	for (int k = 0; k < n; k++) {
		if (k)
			*p++ = ',';
		*p++ = '"';
		for (const char *s = names + (size_t)k * NASH_CLASS_NAME_MAX; *s; s++) {
			if (*s == '"' || *s == '\\')
				*p++ = '\\'; /* no control characters: the names are checked */
			*p++ = *s;
		}
		*p++ = '"';
	}
	*p++ = ']';
	*p = '\0';
	return out;
}
