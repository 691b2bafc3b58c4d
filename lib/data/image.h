/* Image files for datasets: PNG (libpng's simplified API) and JPEG (libjpeg-turbo), decoded to
   8-bit RGBA; bilinear resizing; conversion to the channel planes a dataset holds. */
#ifndef NASH_IMAGE_H
#define NASH_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define NASH_IMAGE_MAX_SIDE 16384
#define NASH_IMAGE_MAX_PIXELS (64u << 20)

typedef struct Image {
	int h, w;
	int gray;      /* the file is grayscale (palette PNGs count as colour) */
	int alpha;     /* the file has transparency */
	uint8_t *rgba; /* [h, w, 4]; gray images replicated to R = G = B, opaque ones A = 255 */
} Image;

/* Decodes a PNG or a JPEG file held in memory (the format from its first bytes). name is for
   messages: "a/b.png: not a PNG or JPEG file", "a/b.jpg: JPEG: Premature end of JPEG file".
   Decoder warnings (corrupt or truncated data) are errors too. */
int image_decode(Image *out, const uint8_t *buf, size_t len, const char *name, NashErr *err);
/* Reads the file and decodes it. */
int image_read(Image *out, const char *path, NashErr *err);
void image_free(Image *im);

/* Channel planes out [c, h, w] from im's pixels: c = 1 the gray value (colour images: luma
   (299 R + 587 G + 114 B) / 1000, Pillow's convert("L")), c = 3 RGB, c = 4 RGBA. Alpha is
   dropped, not composited, for c = 1 and 3, as Pillow's convert does. */
void image_planes(uint8_t *out, const Image *im, int c);

/* Resizes planes in [c, h, w] to out [c, oh, ow] with the bilinear (triangle) filter, widened by
   the scale factor when shrinking so every input pixel counts: Pillow's resize(BILINEAR),
   horizontal pass first, rounded to 8 bits between the passes. */
int image_resize(uint8_t *out, const uint8_t *in, int c, int h, int w, int oh, int ow, NashErr *err);

#endif
