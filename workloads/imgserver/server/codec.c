// SPDX-License-Identifier: MIT
// In-memory PNG (libpng) and JPEG (libjpeg-turbo) decoding and encoding.
// Errors from the libraries are caught with setjmp/longjmp and returned as
// messages; a corrupt source never takes the server down.
#include <setjmp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
// jpeglib.h needs size_t and FILE declared before it.
#include <jpeglib.h>
#include <png.h>

#include "imgserver.h"

// ---------------------------------------------------------------------------
// PNG

typedef struct png_cursor_s {
	const uint8_t *data;
	size_t len, pos;
} png_cursor_t;

static void png_read_mem(png_structp png, png_bytep out, png_size_t n)
{
	png_cursor_t *c = png_get_io_ptr(png);
	if (n > c->len - c->pos)
		png_error(png, "truncated PNG");
	memcpy(out, c->data + c->pos, n);
	c->pos += n;
}

typedef struct png_sink_s {
	uint8_t *data;
	size_t len, cap;
	bool oom;
} png_sink_t;

/// Append to a growing buffer: realloc doubling, as real encoders do.
static void png_write_mem(png_structp png, png_bytep in, png_size_t n)
{
	png_sink_t *s = png_get_io_ptr(png);
	if (s->len + n > s->cap) {
		size_t cap = s->cap ? s->cap : 16384;
		while (cap < s->len + n)
			cap *= 2;
		uint8_t *d = realloc(s->data, cap);
		if (!d) {
			s->oom = true;
			png_error(png, "out of memory");
		}
		s->data = d;
		s->cap = cap;
	}
	memcpy(s->data + s->len, in, n);
	s->len += n;
}

static void png_flush_mem(png_structp png)
{
	(void)png;
}

static void png_on_error(png_structp png, png_const_charp msg)
{
	char *err = png_get_error_ptr(png);
	snprintf(err, 128, "png: %s", msg);
	png_longjmp(png, 1);
}

static void png_on_warning(png_structp png, png_const_charp msg)
{
	(void)png;
	(void)msg;
}

static bool png_decode(const img_blob_t *in, img_t *out, char *err, size_t errlen)
{
	char perr[128] = "png: error";
	png_cursor_t cur = { in->data, in->len, 0 };
	png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, perr, png_on_error,
						 png_on_warning);
	png_infop info = png ? png_create_info_struct(png) : NULL;
	png_bytep *volatile rows = NULL; // survives longjmp
	*out = (img_t){ 0 };
	if (!png || !info) {
		snprintf(err, errlen, "png: out of memory");
		png_destroy_read_struct(&png, &info, NULL);
		return false;
	}
	if (setjmp(png_jmpbuf(png))) {
		snprintf(err, errlen, "%s", perr);
		free(rows);
		img_free(out);
		png_destroy_read_struct(&png, &info, NULL);
		return false;
	}
	png_set_read_fn(png, &cur, png_read_mem);
	png_read_info(png, info);
	png_set_expand(png);
	png_set_strip_16(png);
	png_set_strip_alpha(png);
	png_set_gray_to_rgb(png);
	png_read_update_info(png, info);
	unsigned w = png_get_image_width(png, info);
	unsigned h = png_get_image_height(png, info);
	if (png_get_rowbytes(png, info) != (size_t)w * 3)
		png_error(png, "unexpected row layout");
	if (!img_alloc(out, w, h))
		png_error(png, "out of memory");
	rows = malloc(sizeof(*rows) * h);
	if (!rows)
		png_error(png, "out of memory");
	for (unsigned y = 0; y < h; y++)
		rows[y] = out->px + (size_t)y * w * 3;
	png_read_image(png, rows);
	png_read_end(png, NULL);
	free(rows);
	png_destroy_read_struct(&png, &info, NULL);
	return true;
}

static bool png_encode(const img_t *in, img_blob_t *out, char *err, size_t errlen)
{
	char perr[128] = "png: error";
	png_sink_t sink = { 0 };
	png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, perr, png_on_error,
						  png_on_warning);
	png_infop info = png ? png_create_info_struct(png) : NULL;
	if (!png || !info) {
		snprintf(err, errlen, "png: out of memory");
		png_destroy_write_struct(&png, &info);
		return false;
	}
	if (setjmp(png_jmpbuf(png))) {
		snprintf(err, errlen, "%s", perr);
		free(sink.data);
		png_destroy_write_struct(&png, &info);
		return false;
	}
	png_set_write_fn(png, &sink, png_write_mem, png_flush_mem);
	png_set_compression_level(png, 3);
	png_set_IHDR(png, info, in->w, in->h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
		     PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	png_write_info(png, info);
	for (unsigned y = 0; y < in->h; y++)
		png_write_row(png, in->px + (size_t)y * in->w * 3);
	png_write_end(png, info);
	png_destroy_write_struct(&png, &info);
	*out = (img_blob_t){ sink.data, sink.len, IMG_PNG };
	return true;
}

// ---------------------------------------------------------------------------
// JPEG

typedef struct jpeg_err_s {
	struct jpeg_error_mgr mgr;
	jmp_buf jmp;
	char msg[JMSG_LENGTH_MAX];
} jpeg_err_t;

static void jpeg_on_error(j_common_ptr cinfo)
{
	jpeg_err_t *e = (jpeg_err_t *)cinfo->err;
	(*cinfo->err->format_message)(cinfo, e->msg);
	longjmp(e->jmp, 1);
}

static bool jpeg_decode(const img_blob_t *in, img_t *out, char *err, size_t errlen)
{
	struct jpeg_decompress_struct d;
	jpeg_err_t je;
	*out = (img_t){ 0 };
	d.err = jpeg_std_error(&je.mgr);
	je.mgr.error_exit = jpeg_on_error;
	if (setjmp(je.jmp)) {
		snprintf(err, errlen, "jpeg: %s", je.msg);
		jpeg_destroy_decompress(&d);
		img_free(out);
		return false;
	}
	jpeg_create_decompress(&d);
	jpeg_mem_src(&d, in->data, (unsigned long)in->len);
	jpeg_read_header(&d, TRUE);
	d.out_color_space = JCS_RGB;
	jpeg_start_decompress(&d);
	if (d.output_components != 3) {
		snprintf(je.msg, sizeof(je.msg), "unexpected component count");
		longjmp(je.jmp, 1);
	}
	if (!img_alloc(out, d.output_width, d.output_height)) {
		snprintf(je.msg, sizeof(je.msg), "out of memory");
		longjmp(je.jmp, 1);
	}
	while (d.output_scanline < d.output_height) {
		JSAMPROW row = out->px + (size_t)d.output_scanline * out->w * 3;
		jpeg_read_scanlines(&d, &row, 1);
	}
	jpeg_finish_decompress(&d);
	jpeg_destroy_decompress(&d);
	return true;
}

static bool jpeg_encode(const img_t *in, int quality, img_blob_t *out, char *err, size_t errlen)
{
	struct jpeg_compress_struct c;
	jpeg_err_t je;
	unsigned char *buf = NULL;
	unsigned long len = 0;
	c.err = jpeg_std_error(&je.mgr);
	je.mgr.error_exit = jpeg_on_error;
	if (setjmp(je.jmp)) {
		snprintf(err, errlen, "jpeg: %s", je.msg);
		jpeg_destroy_compress(&c);
		free(buf);
		return false;
	}
	jpeg_create_compress(&c);
	jpeg_mem_dest(&c, &buf, &len); // libjpeg mallocs and grows this buffer
	c.image_width = in->w;
	c.image_height = in->h;
	c.input_components = 3;
	c.in_color_space = JCS_RGB;
	jpeg_set_defaults(&c);
	jpeg_set_quality(&c, quality, TRUE);
	jpeg_start_compress(&c, TRUE);
	while (c.next_scanline < c.image_height) {
		JSAMPROW row = in->px + (size_t)c.next_scanline * in->w * 3;
		jpeg_write_scanlines(&c, &row, 1);
	}
	jpeg_finish_compress(&c);
	jpeg_destroy_compress(&c);
	*out = (img_blob_t){ buf, len, IMG_JPEG };
	return true;
}

// ---------------------------------------------------------------------------

bool img_decode(const img_blob_t *in, img_t *out, char *err, size_t errlen)
{
	bool ok = in->fmt == IMG_PNG ? png_decode(in, out, err, errlen)
				     : jpeg_decode(in, out, err, errlen);
	return ok;
}

bool img_encode(const img_t *in, img_fmt_t fmt, int quality, img_blob_t *out, char *err,
		size_t errlen)
{
	bool ok = fmt == IMG_PNG ? png_encode(in, out, err, errlen)
				 : jpeg_encode(in, quality, out, err, errlen);
	if (ok)
		img_live_add((int64_t)out->len);
	return ok;
}
