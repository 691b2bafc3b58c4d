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
	snprintf(tmp, sizeof tmp, "%s: %s", nash_name(prefix).s, e->msg);
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

/* ---- names in messages ---- */

/* The length of the UTF-8 sequence at s (RFC 3629: no overlong forms, no surrogates, nothing
   past U+10FFFF), 0 when s does not start one. */
static int utf8_len(const unsigned char *s)
{
	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		return (s[1] & 0xc0) == 0x80 ? 2 : 0;
	int lo = 0x80, hi = 0xbf, n;
	if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		lo = s[0] == 0xe0 ? 0xa0 : lo;
		hi = s[0] == 0xed ? 0x9f : hi;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		lo = s[0] == 0xf0 ? 0x90 : lo;
		hi = s[0] == 0xf4 ? 0x8f : hi;
	} else {
		return 0;
	}
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (int k = 2; k < n; k++)
		if ((s[k] & 0xc0) != 0x80)
			return 0; /* a NUL ends the sequence here too */
	return n;
}

/* The next unit of s as shown: a character of UTF-8 text as it is, or an escape. Writes it to
   u[8] (NUL-terminated, unit_len its length) and returns how many bytes of s it takes. */
static size_t unit(char u[8], size_t *unit_len, const unsigned char *s)
{
	int n = utf8_len(s);
	if (n == 1 && s[0] >= 0x20 && s[0] != 0x7f) {
		u[0] = (char)s[0], u[1] = '\0';
	} else if (n == 2 && s[0] == 0xc2 && s[1] < 0xa0) {
		snprintf(u, 8, "\\u%04x", s[1]); /* U+0080..U+009F: C1 controls (0x9b opens a terminal sequence) */
	} else if (n > 1) {
		memcpy(u, s, (size_t)n);
		u[n] = '\0';
	} else {
		n = 1;
		if (s[0] == '\n' || s[0] == '\r' || s[0] == '\t')
			snprintf(u, 8, "\\%c", s[0] == '\n' ? 'n' : s[0] == '\r' ? 'r' : 't');
		else
			snprintf(u, 8, "\\x%02x", s[0]);
	}
	*unit_len = strlen(u);
	return (size_t)n;
}

int nash_text_ok(const char *s)
{
	char u[8];
	size_t len;
	for (const unsigned char *p = (const unsigned char *)s; *p;) {
		size_t took = unit(u, &len, p);
		if (len != took || memcmp(u, p, took))
			return 0;
		p += took;
	}
	return 1;
}

char *nash_escape(char *out, size_t n, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	char u[8];
	size_t len, total = 0, used = 0;
	if (n == 0)
		return out;
	for (const unsigned char *q = p; *q;) {
		q += unit(u, &len, q);
		total += len;
	}
	/* all of it, or a head and a tail around "..." (whole units, so no escape or character is cut) */
	size_t head = total < n ? total : (n - 1 > 3 ? (n - 1 - 3) / 2 : 0);
	size_t tail = total < n ? 0 : (n - 1 > 3 ? n - 1 - 3 - head : 0);
	size_t seen = 0; /* shown length of the units before p */
	while (*p) {
		size_t took = unit(u, &len, p);
		if (used + len > head)
			break;
		memcpy(out + used, u, len);
		used += len, seen += len, p += took;
	}
	if (*p) {
		if (n - 1 >= 3) {
			memcpy(out + used, "...", 3);
			used += 3;
		}
		while (*p && total - seen > tail) {
			p += unit(u, &len, p);
			seen += len;
		}
		while (*p) {
			p += unit(u, &len, p);
			memcpy(out + used, u, len);
			used += len;
		}
	}
	out[used] = '\0';
	return out;
}

NashName nash_name(const char *s)
{
	NashName r;
	nash_escape(r.s, sizeof r.s, s);
	return r;
}
