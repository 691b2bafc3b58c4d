/* Bytes handed from an isolated child to its parent (isolate.h): what the child read from an
   untrusted file, in a form of nash's own that the parent decodes without HDF5. The parent
   trusts nothing in them (the child may have been subverted by the file): every read is checked
   against the end, a read that fails leaves zeros and fails every later one, and a length is a
   length, never an address. Values are in the machine's byte order: both ends are one program. */
#ifndef NASH_WIRE_H
#define NASH_WIRE_H

#include <stddef.h>
#include <stdint.h>

/* The writing end: a growing buffer. A failed allocation is remembered (oom) and later puts do
   nothing, so a writer checks once at the end. */
typedef struct WireOut {
	unsigned char *p;
	size_t n, cap;
	int oom;
} WireOut;

void wire_out_init(WireOut *w);
void wire_out_free(WireOut *w);
/* Room for n more bytes without moving the buffer again (a writer that knows about how much it
   will put: a hand-over is about as large as its file). */
void wire_reserve(WireOut *w, size_t n);
void wire_put(WireOut *w, const void *src, size_t n);
void wire_put_i32(WireOut *w, int32_t v);
void wire_put_u64(WireOut *w, uint64_t v);
void wire_put_f32(WireOut *w, float v);
/* A string: its length, then its bytes (no NUL). */
void wire_put_str(WireOut *w, const char *s);

/* The reading end, over bytes it does not own. */
typedef struct WireIn {
	const unsigned char *p;
	size_t n, at;
	int bad; /* a read went past the end or found what it may not hold */
} WireIn;

void wire_in_init(WireIn *r, const void *p, size_t n);
/* n bytes into dst: 0, or -1 (dst zeroed, r->bad set) when fewer are left or r is bad. */
int wire_get(WireIn *r, void *dst, size_t n);
int32_t wire_get_i32(WireIn *r);
uint64_t wire_get_u64(WireIn *r);
float wire_get_f32(WireIn *r);
/* A string of fewer than cap bytes, none of them NUL, into buf[cap]: 0, or -1 ("" in buf, r->bad
   set). */
int wire_get_str(WireIn *r, char *buf, size_t cap);
/* Bytes not yet read (0 once bad). */
size_t wire_left(const WireIn *r);

#endif
