/* wire.h. */
#include "base/wire.h"

#include <stdlib.h>
#include <string.h>

void wire_out_init(WireOut *w) { memset(w, 0, sizeof *w); }

void wire_out_free(WireOut *w)
{
	free(w->p);
	wire_out_init(w);
}

/* Makes room for n more bytes: 0, or -1 with oom set. */
static int room(WireOut *w, size_t n, int exact)
{
	if (w->oom)
		return -1;
	if (n <= w->cap - w->n)
		return 0;
	size_t cap = exact ? w->n + n : w->cap ? w->cap : 4096;
	while (cap - w->n < n && cap <= SIZE_MAX / 2)
		cap *= 2;
	unsigned char *p = cap >= w->n && cap - w->n >= n ? realloc(w->p, cap) : NULL;
	if (!p) {
		w->oom = 1;
		return -1;
	}
	w->p = p;
	w->cap = cap;
	return 0;
}

void wire_reserve(WireOut *w, size_t n) { room(w, n, 1); }

void wire_put(WireOut *w, const void *src, size_t n)
{
	if (n == 0 || room(w, n, 0))
		return;
	memcpy(w->p + w->n, src, n);
	w->n += n;
}

void wire_put_i32(WireOut *w, int32_t v) { wire_put(w, &v, sizeof v); }
void wire_put_u64(WireOut *w, uint64_t v) { wire_put(w, &v, sizeof v); }
void wire_put_f32(WireOut *w, float v) { wire_put(w, &v, sizeof v); }

void wire_put_str(WireOut *w, const char *s)
{
	size_t n = strlen(s);
	wire_put_u64(w, n);
	wire_put(w, s, n);
}

void wire_in_init(WireIn *r, const void *p, size_t n)
{
	r->p = p;
	r->n = n;
	r->at = 0;
	r->bad = 0;
}

int wire_get(WireIn *r, void *dst, size_t n)
{
	if (r->bad || n > r->n - r->at) {
		r->bad = 1;
		memset(dst, 0, n);
		return -1;
	}
	memcpy(dst, r->p + r->at, n);
	r->at += n;
	return 0;
}

int32_t wire_get_i32(WireIn *r)
{
	int32_t v;
	wire_get(r, &v, sizeof v);
	return v;
}

uint64_t wire_get_u64(WireIn *r)
{
	uint64_t v;
	wire_get(r, &v, sizeof v);
	return v;
}

float wire_get_f32(WireIn *r)
{
	float v;
	wire_get(r, &v, sizeof v);
	return v;
}

int wire_get_str(WireIn *r, char *buf, size_t cap)
{
	uint64_t n = wire_get_u64(r);
	buf[0] = '\0';
	if (r->bad || n >= cap || wire_get(r, buf, (size_t)n) || memchr(buf, '\0', (size_t)n)) {
		r->bad = 1;
		buf[0] = '\0';
		return -1;
	}
	buf[n] = '\0';
	return 0;
}

size_t wire_left(const WireIn *r) { return r->bad ? 0 : r->n - r->at; }
