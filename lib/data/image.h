/* Image files for datasets: PNG (libpng's simplified API) and JPEG (libjpeg-turbo), read from
   the file as they are decoded, to 8-bit RGBA; bilinear resizing; conversion to the channel
   planes a dataset holds. */
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

/* An image file open for decoding, its header read (image_open): what it declares is known
   before any pixel is decoded, and the file is read as it is decoded, never whole. */
typedef struct ImageFile ImageFile;

/* Opens path, tells PNG from JPEG by its first bytes and reads the header: the size it declares
   in *h x *w. Refuses anything else ("a/b.png: not a PNG or JPEG file"), CMYK JPEGs and sizes
   over NASH_IMAGE_MAX_SIDE a side or NASH_IMAGE_MAX_PIXELS in all. Messages name path as
   nash_name shows it. */
int image_open(ImageFile **out, int *h, int *w, const char *path, NashErr *err);
/* Decodes the open file to 8-bit RGBA ("a/b.jpg: JPEG: Premature end of JPEG file"; decoder
   warnings, corrupt or truncated data, are errors too). min_h, min_w > 0: a JPEG is decoded at
   1/2, 1/4 or 1/8 scale, the smallest whose size is still at least min_h x min_w (libjpeg's
   scaled decoding, the choice of Pillow's Image.draft), so that an image bound for a smaller
   size is never held at full size; PNGs always at full size. */
int image_decode(Image *out, ImageFile *f, int min_h, int min_w, NashErr *err);
void image_close(ImageFile *f);
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
