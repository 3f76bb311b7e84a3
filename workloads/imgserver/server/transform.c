// SPDX-License-Identifier: MIT
// Image transforms: separable resampling with a Catmull-Rom (bicubic) kernel
// widened by the scale factor when shrinking (so downscaling averages rather
// than aliases), Gaussian blur, and unsharp-mask sharpening. Each allocates
// its intermediate buffers with malloc, as a real image pipeline does.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "imgserver.h"

/// Catmull-Rom cubic (a = -0.5), support [-2, 2].
static double cubic(double x)
{
	x = fabs(x);
	if (x < 1)
		return 1.5 * x * x * x - 2.5 * x * x + 1;
	if (x < 2)
		return -0.5 * x * x * x + 2.5 * x * x - 4 * x + 2;
	return 0;
}

/// Contributions of source pixels to each of `dst` output positions along
/// one axis: first index, count, and normalised weights.
typedef struct contrib_s {
	int *first;
	int *count;
	float *weight; // dst * max_taps
	int max_taps;
} contrib_t;

static void contrib_free(contrib_t *c)
{
	free(c->first);
	free(c->count);
	free(c->weight);
}

static bool contrib_make(unsigned src, unsigned dst, contrib_t *c)
{
	double scale = (double)dst / (double)src;
	double support = scale < 1 ? 2.0 / scale : 2.0;
	double fscale = scale < 1 ? scale : 1.0;
	c->max_taps = (int)ceil(support) * 2 + 1;
	c->first = malloc(sizeof(int) * dst);
	c->count = malloc(sizeof(int) * dst);
	c->weight = malloc(sizeof(float) * dst * (size_t)c->max_taps);
	if (!c->first || !c->count || !c->weight) {
		contrib_free(c);
		return false;
	}
	for (unsigned i = 0; i < dst; i++) {
		double center = ((double)i + 0.5) / scale - 0.5;
		int lo = (int)floor(center - support) + 1;
		int hi = (int)floor(center + support);
		if (lo < 0)
			lo = 0;
		if (hi > (int)src - 1)
			hi = (int)src - 1;
		if (hi - lo + 1 > c->max_taps)
			hi = lo + c->max_taps - 1;
		double sum = 0;
		float *w = c->weight + (size_t)i * (size_t)c->max_taps;
		for (int j = lo; j <= hi; j++) {
			double v = cubic(((double)j - center) * fscale);
			w[j - lo] = (float)v;
			sum += v;
		}
		if (sum == 0) { // degenerate: nearest pixel
			lo = hi = (int)fmin(fmax(round(center), 0), (double)src - 1);
			w[0] = 1;
			sum = 1;
		}
		for (int j = 0; j <= hi - lo; j++)
			w[j] = (float)(w[j] / sum);
		c->first[i] = lo;
		c->count[i] = hi - lo + 1;
	}
	return true;
}

static uint8_t clamp8(float v)
{
	return v <= 0 ? 0 : v >= 255 ? 255 : (uint8_t)(v + 0.5f);
}

bool img_resize(const img_t *in, unsigned w, unsigned h, img_t *out)
{
	contrib_t cx = { 0 }, cy = { 0 };
	float *tmp = NULL;
	bool ok = false;
	*out = (img_t){ 0 };
	if (!contrib_make(in->w, w, &cx) || !contrib_make(in->h, h, &cy))
		goto out_free;
	// Horizontal pass into a float buffer of w x in->h, then vertical.
	tmp = malloc(sizeof(float) * 3 * w * in->h);
	if (!tmp || !img_alloc(out, w, h))
		goto out_free;
	for (unsigned y = 0; y < in->h; y++) {
		const uint8_t *row = in->px + (size_t)y * in->w * 3;
		float *trow = tmp + (size_t)y * w * 3;
		for (unsigned x = 0; x < w; x++) {
			const float *wt = cx.weight + (size_t)x * (size_t)cx.max_taps;
			float r = 0, g = 0, b = 0;
			for (int k = 0; k < cx.count[x]; k++) {
				const uint8_t *p = row + (size_t)(cx.first[x] + k) * 3;
				r += wt[k] * p[0];
				g += wt[k] * p[1];
				b += wt[k] * p[2];
			}
			trow[3 * x] = r;
			trow[3 * x + 1] = g;
			trow[3 * x + 2] = b;
		}
	}
	for (unsigned y = 0; y < h; y++) {
		const float *wt = cy.weight + (size_t)y * (size_t)cy.max_taps;
		uint8_t *orow = out->px + (size_t)y * w * 3;
		for (unsigned x = 0; x < 3 * w; x++) {
			float v = 0;
			for (int k = 0; k < cy.count[y]; k++)
				v += wt[k] * tmp[(size_t)(cy.first[y] + k) * w * 3 + x];
			orow[x] = clamp8(v);
		}
	}
	ok = true;
out_free:
	if (!ok)
		img_free(out);
	free(tmp);
	contrib_free(&cx);
	contrib_free(&cy);
	return ok;
}

/// Separable Gaussian of `sigma` (radius 3 sigma), edges clamped.
bool img_blur(const img_t *in, double sigma, img_t *out)
{
	int r = (int)ceil(3 * sigma);
	int taps = 2 * r + 1;
	float *k = malloc(sizeof(float) * (size_t)taps);
	float *tmp = malloc(sizeof(float) * 3 * in->w * in->h);
	bool ok = false;
	*out = (img_t){ 0 };
	if (!k || !tmp || !img_alloc(out, in->w, in->h))
		goto out_free;
	double sum = 0;
	for (int i = -r; i <= r; i++) {
		k[i + r] = (float)exp(-(double)(i * i) / (2 * sigma * sigma));
		sum += k[i + r];
	}
	for (int i = 0; i < taps; i++)
		k[i] = (float)(k[i] / sum);
	int W = (int)in->w, H = (int)in->h;
	for (int y = 0; y < H; y++)
		for (int x = 0; x < W; x++)
			for (int c = 0; c < 3; c++) {
				float v = 0;
				for (int i = -r; i <= r; i++) {
					int xx = x + i < 0 ? 0 : x + i >= W ? W - 1 : x + i;
					v += k[i + r] * in->px[((size_t)y * (size_t)W + (size_t)xx) * 3 + (size_t)c];
				}
				tmp[((size_t)y * (size_t)W + (size_t)x) * 3 + (size_t)c] = v;
			}
	for (int y = 0; y < H; y++)
		for (int x = 0; x < W; x++)
			for (int c = 0; c < 3; c++) {
				float v = 0;
				for (int i = -r; i <= r; i++) {
					int yy = y + i < 0 ? 0 : y + i >= H ? H - 1 : y + i;
					v += k[i + r] * tmp[((size_t)yy * (size_t)W + (size_t)x) * 3 + (size_t)c];
				}
				out->px[((size_t)y * (size_t)W + (size_t)x) * 3 + (size_t)c] = clamp8(v);
			}
	ok = true;
out_free:
	if (!ok)
		img_free(out);
	free(k);
	free(tmp);
	return ok;
}

/// Unsharp mask: out = in + amount * (in - blur(in, 1.0)).
bool img_sharpen(const img_t *in, double amount, img_t *out)
{
	img_t blurred;
	*out = (img_t){ 0 };
	if (!img_blur(in, 1.0, &blurred))
		return false;
	if (!img_alloc(out, in->w, in->h)) {
		img_free(&blurred);
		return false;
	}
	size_t n = (size_t)in->w * in->h * 3;
	for (size_t i = 0; i < n; i++) {
		float v = (float)in->px[i] + (float)amount * ((float)in->px[i] - (float)blurred.px[i]);
		out->px[i] = clamp8(v);
	}
	img_free(&blurred);
	return true;
}

void img_fit(unsigned sw, unsigned sh, unsigned w, unsigned h, unsigned *ow, unsigned *oh)
{
	double s = fmin((double)w / sw, (double)h / sh);
	unsigned fw = (unsigned)fmax(1, floor(sw * s + 0.5));
	unsigned fh = (unsigned)fmax(1, floor(sh * s + 0.5));
	*ow = fw > w ? w : fw;
	*oh = fh > h ? h : fh;
}
