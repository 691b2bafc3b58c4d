/* PNG and JPEG decoding from a file, resizing and channel conversion (image.h). */
#include "data/image.h"

#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <png.h>

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

struct ImageFile {
	FILE *f;
	NashName name; /* the path as messages show it */
	int jpeg;      /* else PNG */
	png_image png; /* PNG: after png_image_begin_read_from_stdio */
	struct jpeg_decompress_struct cinfo; /* JPEG: after jpeg_read_header */
	JpegErr je;
};

static int size_ok(long h, long w)
{
	return h >= 1 && w >= 1 && h <= NASH_IMAGE_MAX_SIDE && w <= NASH_IMAGE_MAX_SIDE &&
	       (unsigned long)h * (unsigned long)w <= NASH_IMAGE_MAX_PIXELS;
}

static int too_large(const ImageFile *f, const char *kind, unsigned long h, unsigned long w, NashErr *err)
{
	return nash_err(err, NASH_ERR_RUNTIME, "%s: %s of %lux%lu pixels: too large (at most %d a side, %u in all)",
			f->name.s, kind, h, w, NASH_IMAGE_MAX_SIDE, NASH_IMAGE_MAX_PIXELS);
}

/* ---- PNG ---- */

static int png_open(ImageFile *f, int *h, int *w, NashErr *err)
{
	f->png.version = PNG_IMAGE_VERSION;
	if (!png_image_begin_read_from_stdio(&f->png, f->f))
		return nash_err(err, NASH_ERR_RUNTIME, "%s: PNG: %s", f->name.s, f->png.message);
	if (!size_ok((long)f->png.height, (long)f->png.width))
		return too_large(f, "PNG", f->png.height, f->png.width, err);
	*h = (int)f->png.height, *w = (int)f->png.width;
	return 0;
}

static int png_decode(Image *out, ImageFile *f, NashErr *err)
{
	png_image *img = &f->png;
	out->h = (int)img->height, out->w = (int)img->width;
	out->gray = !(img->format & PNG_FORMAT_FLAG_COLOR);
	out->alpha = (img->format & PNG_FORMAT_FLAG_ALPHA) != 0;
	/* RGBA keeps every file's data as it is: no background to composite onto. A 16-bit file
	   (flagged linear) is read as 16-bit: libpng's 8-bit output would gamma-encode it. */
	int wide = (img->format & PNG_FORMAT_FLAG_LINEAR) != 0;
	size_t n = (size_t)out->h * out->w * 4;
	img->format = wide ? PNG_FORMAT_LINEAR_RGB_ALPHA : PNG_FORMAT_RGBA;
	out->rgba = malloc(n);
	uint16_t *w16 = wide ? malloc(n * sizeof *w16) : NULL; /* [h, w, 4] */
	if (!out->rgba || (wide && !w16)) {
		free(w16);
		return nash_err(err, NASH_ERR_OOM, "%s: out of memory", f->name.s);
	}
	if (!png_image_finish_read(img, NULL, wide ? (void *)w16 : (void *)out->rgba, 0, NULL)) {
		free(w16);
		return nash_err(err, NASH_ERR_RUNTIME, "%s: PNG: %s", f->name.s, img->message);
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

/* ---- JPEG ---- */

/* Each function that calls into libjpeg sets f->je.back first: error_exit jumps back there. */
static int jpeg_open(ImageFile *f, int *h, int *w, NashErr *err)
{
	struct jpeg_decompress_struct *cinfo = &f->cinfo;
	cinfo->err = jpeg_std_error(&f->je.mgr);
	f->je.mgr.error_exit = jpeg_fail;
	f->je.mgr.emit_message = jpeg_message;
	f->je.mgr.output_message = jpeg_quiet;
	if (setjmp(f->je.back))
		return nash_err(err, NASH_ERR_RUNTIME, "%s: JPEG: %s", f->name.s, f->je.msg);
	jpeg_create_decompress(cinfo);
	jpeg_stdio_src(cinfo, f->f);
	jpeg_read_header(cinfo, TRUE);
	if (cinfo->jpeg_color_space == JCS_CMYK || cinfo->jpeg_color_space == JCS_YCCK)
		return nash_err(err, NASH_ERR_RUNTIME, "%s: JPEG: CMYK images are not supported; convert it to RGB",
				f->name.s);
	if (!size_ok((long)cinfo->image_height, (long)cinfo->image_width))
		return too_large(f, "JPEG", cinfo->image_height, cinfo->image_width, err);
	*h = (int)cinfo->image_height, *w = (int)cinfo->image_width;
	return 0;
}

static int jpeg_decode(Image *out, ImageFile *f, int min_h, int min_w, NashErr *err)
{
	struct jpeg_decompress_struct *cinfo = &f->cinfo;
	uint8_t *volatile pix = NULL; /* [h, w, 4]; volatile: survives the longjmp */
	if (setjmp(f->je.back)) {
		free(pix);
		return nash_err(err, NASH_ERR_RUNTIME, "%s: JPEG: %s", f->name.s, f->je.msg);
	}
	out->gray = cinfo->jpeg_color_space == JCS_GRAYSCALE;
	out->alpha = 0;
	cinfo->out_color_space = JCS_EXT_RGBA; /* libjpeg-turbo: gray and YCbCr to RGBA */
	/* Pillow's draft: 1/8, 1/4 or 1/2, the smallest scale that leaves at least the wanted size */
	unsigned scale = min_h > 0 && min_w > 0 ? 8 : 1;
	while (scale > 1 &&
	       (cinfo->image_height < scale * (unsigned)min_h || cinfo->image_width < scale * (unsigned)min_w))
		scale /= 2;
	cinfo->scale_num = 1;
	cinfo->scale_denom = scale;
	jpeg_start_decompress(cinfo);
	out->h = (int)cinfo->output_height, out->w = (int)cinfo->output_width;
	pix = malloc((size_t)out->h * out->w * 4);
	if (!pix)
		return nash_err(err, NASH_ERR_OOM, "%s: out of memory", f->name.s);
	while (cinfo->output_scanline < cinfo->output_height) {
		JSAMPROW row = pix + (size_t)cinfo->output_scanline * out->w * 4;
		jpeg_read_scanlines(cinfo, &row, 1);
	}
	jpeg_finish_decompress(cinfo);
	out->rgba = pix;
	return 0;
}

/* ---- files ---- */

int image_open(ImageFile **out, int *h, int *w, const char *path, NashErr *err)
{
	static const uint8_t png_sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
	*out = NULL;
	*h = *w = 0;
	ImageFile *f = calloc(1, sizeof *f);
	if (!f)
		return nash_err(err, NASH_ERR_OOM, "%s: out of memory", nash_name(path).s);
	f->name = nash_name(path);
	if (!(f->f = fopen(path, "rb"))) {
		nash_err(err, NASH_ERR_RUNTIME, "%s: %s", f->name.s, strerror(errno));
		free(f);
		return -1;
	}
	/* the kind from the first bytes, before a decoder reads any further */
	uint8_t head[8];
	errno = 0;
	size_t len = fread(head, 1, sizeof head, f->f);
	int rc;
	if (ferror(f->f))
		rc = nash_err(err, NASH_ERR_RUNTIME, "%s: %s", f->name.s, strerror(errno ? errno : EIO));
	else if (fseek(f->f, 0, SEEK_SET))
		rc = nash_err(err, NASH_ERR_RUNTIME, "%s: %s", f->name.s, strerror(errno));
	else if (len == sizeof png_sig && !memcmp(head, png_sig, sizeof png_sig))
		rc = png_open(f, h, w, err);
	else if (len >= 3 && head[0] == 0xff && head[1] == 0xd8 && head[2] == 0xff)
		f->jpeg = 1, rc = jpeg_open(f, h, w, err);
	else
		rc = nash_err(err, NASH_ERR_RUNTIME, "%s: not a PNG or JPEG file%s", f->name.s, len ? "" : " (empty)");
	if (rc) {
		*h = *w = 0;
		image_close(f);
		return -1;
	}
	*out = f;
	return 0;
}

int image_decode(Image *out, ImageFile *f, int min_h, int min_w, NashErr *err)
{
	memset(out, 0, sizeof *out);
	int rc = f->jpeg ? jpeg_decode(out, f, min_h, min_w, err) : png_decode(out, f, err);
	if (rc)
		image_free(out);
	return rc;
}

void image_close(ImageFile *f)
{
	if (!f)
		return;
	if (f->jpeg)
		jpeg_destroy_decompress(&f->cinfo);
	png_image_free(&f->png); /* nothing when never begun or already finished */
	if (f->f)
		fclose(f->f);
	free(f);
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
