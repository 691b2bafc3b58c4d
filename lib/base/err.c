#include "base/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int nash_err(NashErr *e, int code, const char *fmt, ...)
{
	if (!e)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
	e->code = code;
	return -1;
}

int nash_err_prefix(NashErr *e, const char *prefix)
{
	if (!e)
		return -1;
	char tmp[2 * sizeof e->msg];
	snprintf(tmp, sizeof tmp, "%s: %s", prefix, e->msg);
	/* the string only: tmp's bytes past its end were never written, and a NashErr goes whole
	   through a pipe (base/isolate.c), where they would be uninitialised bytes written out */
	size_t n = strnlen(tmp, sizeof e->msg - 1);
	memcpy(e->msg, tmp, n);
	e->msg[n] = '\0';
	return -1;
}

void nash_err_clear(NashErr *e)
{
	if (e) {
		e->code = NASH_OK;
		e->msg[0] = '\0';
	}
}
