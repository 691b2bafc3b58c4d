/* PNG and JPEG decoding, resizing and channel conversion (image.h). */
#include "data/image.h"

#include <math.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <png.h>

#include "base/atomic.h"

static int size_ok(long h, long w)
{
	return h >= 1 && w >= 1 && h <= NASH_IMAGE_MAX_SIDE && w <= NASH_IMAGE_MAX_SIDE &&
	       (unsigned long)h * (unsigned long)w <= NASH_IMAGE_MAX_PIXELS;
}

static int decode_png(Image *out, const uint8_t *buf, size_t len, const char *name, NashErr *err)
{
	png_image img;
	memset(&img, 0, sizeof img);
	img.version = PNG_IMAGE_VERSION;
	if (!png_image_begin_read_from_memory(&img, buf, len))
		return nash_err(err, NASH_ERR_RUNTIME, "%s: PNG: %s", name, img.message);
	if (!size_ok((long)img.height, (long)img.width)) {
		png_image_free(&img);
		return nash_err(err, NASH_ERR_RUNTIME, "%s: PNG of %ux%u pixels: too large (at most %d a side, %u in all)",
				name, img.height, img.width, NASH_IMAGE_MAX_SIDE, NASH_IMAGE_MAX_PIXELS);
	}
	out->h = (int)img.height, out->w = (int)img.width;
	out->gray = !(img.format & PNG_FORMAT_FLAG_COLOR);
	out->alpha = (img.format & PNG_FORMAT_FLAG_ALPHA) != 0;
	/* RGBA keeps every file's data as it is: no background to composite onto. A 16-bit file
	   (flagged linear) is read as 16-bit: libpng's 8-bit output would gamma-encode it. */
	int wide = (img.format & PNG_FORMAT_FLAG_LINEAR) != 0;
	size_t n = (size_t)out->h * out->w * 4;
	img.format = wide ? PNG_FORMAT_LINEAR_RGB_ALPHA : PNG_FORMAT_RGBA;
	out->rgba = malloc(n);
	uint16_t *w16 = wide ? malloc(n * sizeof *w16) : NULL; /* [h, w, 4] */
	if (!out->rgba || (wide && !w16)) {
		free(out->rgba);
		out->rgba = NULL;
		free(w16);
		png_image_free(&img);
		return nash_err(err, NASH_ERR_OOM, "%s: out of memory", name);
	}
	if (!png_image_finish_read(&img, NULL, wide ? (void *)w16 : (void *)out->rgba, 0, NULL)) {
		free(out->rgba);
		out->rgba = NULL;
		free(w16);
		return nash_err(err, NASH_ERR_RUNTIME, "%s: PNG: %s", name, img.message);
	}
	for (size_t i = 0; wide && i < n; i += 4) {
		/* linear output comes premultiplied by alpha: undo it, then round to 8 bits */
		uint32_t a = w16[i + 3];
		for (int ch = 0; ch < 4; ch++) {
			uint32_t v = w16[i + ch];
			if (ch < 3 && a < 65535)
				v = a ? (v * 65535u + a / 2) / a : 0;
			v = v > 65535 ? 65535 : v;
			out->rgba[i + ch] = (uint8_t)((v * 255u + 32767u) / 65535u);
		}
	}
	free(w16);
	return 0;
}

/* libjpeg reports errors by calling error_exit, which must not return: jump back. */
typedef struct JpegErr {
	struct jpeg_error_mgr mgr;
	jmp_buf back;
	char msg[JMSG_LENGTH_MAX];
} JpegErr;

static void jpeg_fail(j_common_ptr cinfo)
{
	JpegErr *je = (JpegErr *)cinfo->err;
	je->mgr.format_message(cinfo, je->msg);
	longjmp(je->back, 1);
}

/* Warnings (level -1: corrupt data, a truncated file) fail the image; traces are dropped. */
static void jpeg_message(j_common_ptr cinfo, int level)
{
	if (level < 0)
		jpeg_fail(cinfo);
}

static void jpeg_quiet(j_common_ptr cinfo) { (void)cinfo; }

static int decode_jpeg(Image *out, const uint8_t *buf, size_t len, const char *name, NashErr *err)
{
	struct jpeg_decompress_struct cinfo;
	JpegErr je;
	uint8_t *volatile pix = NULL; /* [h, w, 4]; volatile: survives the longjmp */
	memset(&cinfo, 0, sizeof cinfo);
	cinfo.err = jpeg_std_error(&je.mgr);
	je.mgr.error_exit = jpeg_fail;
	je.mgr.emit_message = jpeg_message;
	je.mgr.output_message = jpeg_quiet;
	if (setjmp(je.back)) {
		jpeg_destroy_decompress(&cinfo);
		free(pix);
		return nash_err(err, NASH_ERR_RUNTIME, "%s: JPEG: %s", name, je.msg);
	}
	jpeg_create_decompress(&cinfo);
	jpeg_mem_src(&cinfo, buf, (unsigned long)len);
	jpeg_read_header(&cinfo, TRUE);
	if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
		jpeg_destroy_decompress(&cinfo);
		return nash_err(err, NASH_ERR_RUNTIME, "%s: JPEG: CMYK images are not supported; convert it to RGB", name);
	}
	if (!size_ok((long)cinfo.image_height, (long)cinfo.image_width)) {
		jpeg_destroy_decompress(&cinfo);
		return nash_err(err, NASH_ERR_RUNTIME, "%s: JPEG of %ux%u pixels: too large (at most %d a side, %u in all)",
				name, cinfo.image_height, cinfo.image_width, NASH_IMAGE_MAX_SIDE, NASH_IMAGE_MAX_PIXELS);
	}
	out->gray = cinfo.jpeg_color_space == JCS_GRAYSCALE;
	out->alpha = 0;
	cinfo.out_color_space = JCS_EXT_RGBA; /* libjpeg-turbo: gray and YCbCr to RGBA */
	jpeg_start_decompress(&cinfo);
	out->h = (int)cinfo.output_height, out->w = (int)cinfo.output_width;
	pix = malloc((size_t)out->h * out->w * 4);
	if (!pix) {
		jpeg_destroy_decompress(&cinfo);
		return nash_err(err, NASH_ERR_OOM, "%s: out of memory", name);
	}
	while (cinfo.output_scanline < cinfo.output_height) {
		JSAMPROW row = pix + (size_t)cinfo.output_scanline * out->w * 4;
		jpeg_read_scanlines(&cinfo, &row, 1);
	}
	jpeg_finish_decompress(&cinfo);
	jpeg_destroy_decompress(&cinfo);
	out->rgba = pix;
	return 0;
}

int image_decode(Image *out, const uint8_t *buf, size_t len, const char *name, NashErr *err)
{
	static const uint8_t png_sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
	memset(out, 0, sizeof *out);
	if (len >= 8 && !memcmp(buf, png_sig, 8))
		return decode_png(out, buf, len, name, err);
	if (len >= 3 && buf[0] == 0xff && buf[1] == 0xd8 && buf[2] == 0xff)
		return decode_jpeg(out, buf, len, name, err);
	return nash_err(err, NASH_ERR_RUNTIME, "%s: not a PNG or JPEG file%s", name, len ? "" : " (empty)");
}

int image_read(Image *out, const char *path, NashErr *err)
{
	void *buf;
	size_t len;
	memset(out, 0, sizeof *out);
	if (read_all(path, &buf, &len, err))
		return -1;
	int rc = image_decode(out, buf, len, path, err);
	free(buf);
	return rc;
}

void image_free(Image *im)
{
	if (!im)
		return;
	free(im->rgba);
	memset(im, 0, sizeof *im);
}

void image_planes(uint8_t *out, const Image *im, int c)
{
	size_t hw = (size_t)im->h * im->w;
	const uint8_t *p = im->rgba;
	if (c == 1) {
		for (size_t i = 0; i < hw; i++, p += 4)
			/* Pillow's fixed-point luma; R = G = B (gray files) gives back the gray value */
			out[i] = (uint8_t)((p[0] * 19595u + p[1] * 38470u + p[2] * 7471u + 0x8000u) >> 16);
		return;
	}
	for (size_t i = 0; i < hw; i++, p += 4)
		for (int ch = 0; ch < c; ch++)
			out[(size_t)ch * hw + i] = p[ch];
}

/* ---- resizing ---- */

/* One axis' filter: for each output index o, taps [first[o], first[o] + count[o]) with weights
   wt[o * ksize + k] summing to 1 (Pillow's precompute_coeffs with the triangle filter). */
typedef struct Taps {
	int ksize;
	int *first, *count; /* [out] */
	double *wt;         /* [out, ksize] */
} Taps;

static void taps_free(Taps *t)
{
	free(t->first);
	free(t->count);
	free(t->wt);
}

static int taps_make(Taps *t, int in, int out)
{
	double scale = (double)in / out, filterscale = scale < 1 ? 1 : scale;
	double support = 1.0 * filterscale; /* the triangle filter's support is 1 */
	t->ksize = (int)ceil(support) * 2 + 1;
	t->first = malloc((size_t)out * sizeof *t->first);
	t->count = malloc((size_t)out * sizeof *t->count);
	t->wt = calloc((size_t)out * t->ksize, sizeof *t->wt);
	if (!t->first || !t->count || !t->wt) {
		taps_free(t);
		return -1;
	}
	for (int o = 0; o < out; o++) {
		double center = (o + 0.5) * scale, sum = 0;
		int lo = (int)(center - support + 0.5), hi = (int)(center + support + 0.5);
		lo = lo < 0 ? 0 : lo;
		hi = hi > in ? in : hi;
		double *k = t->wt + (size_t)o * t->ksize;
		for (int x = lo; x < hi; x++) {
			double d = fabs((x - center + 0.5) / filterscale);
			k[x - lo] = d < 1 ? 1 - d : 0;
			sum += k[x - lo];
		}
		for (int x = 0; x < hi - lo && sum > 0; x++)
			k[x] /= sum;
		t->first[o] = lo;
		t->count[o] = hi - lo;
	}
	return 0;
}

static uint8_t clip8(double v)
{
	return v <= 0 ? 0 : v >= 255 ? 255 : (uint8_t)(v + 0.5);
}

int image_resize(uint8_t *out, const uint8_t *in, int c, int h, int w, int oh, int ow, NashErr *err)
{
	Taps tx = { 0 }, ty = { 0 };
	uint8_t *mid = malloc((size_t)h * ow); /* [h, ow] one channel after the horizontal pass */
	if (!mid || taps_make(&tx, w, ow) || taps_make(&ty, h, oh)) {
		free(mid);
		taps_free(&tx);
		taps_free(&ty);
		return nash_err(err, NASH_ERR_OOM, "out of memory resizing an image");
	}
	for (int ch = 0; ch < c; ch++) {
		const uint8_t *src = in + (size_t)ch * h * w;
		uint8_t *dst = out + (size_t)ch * oh * ow;
		for (int y = 0; y < h; y++)
			for (int o = 0; o < ow; o++) {
				const double *k = tx.wt + (size_t)o * tx.ksize;
				const uint8_t *row = src + (size_t)y * w + tx.first[o];
				double s = 0;
				for (int j = 0; j < tx.count[o]; j++)
					s += k[j] * row[j];
				mid[(size_t)y * ow + o] = w == ow ? row[0] : clip8(s);
			}
		for (int o = 0; o < oh; o++)
			for (int x = 0; x < ow; x++) {
				const double *k = ty.wt + (size_t)o * ty.ksize;
				double s = 0;
				for (int j = 0; j < ty.count[o]; j++)
					s += k[j] * mid[(size_t)(ty.first[o] + j) * ow + x];
				dst[(size_t)o * ow + x] = h == oh ? mid[(size_t)o * ow + x] : clip8(s);
			}
	}
	free(mid);
	taps_free(&tx);
	taps_free(&ty);
	return 0;
}
