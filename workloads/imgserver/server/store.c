// SPDX-License-Identifier: MIT
// The source-image store: `count` deterministic, seeded images made at
// startup (never downloaded), photo-like: smooth gradients, soft shapes and
// sensor noise, at sizes from 256x192 to 2560x1920, kept encoded (PNG for
// the small half, JPEG for the large) so that their encoded sizes span about
// 64 KB to 4 MB. Requests decode them on every cache miss.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "as/rng.h"
#include "imgserver.h"

static const struct {
	unsigned w, h;
	img_fmt_t fmt;
} sizes[] = {
	{ 200, 150, IMG_PNG },	  { 256, 192, IMG_PNG },   { 400, 300, IMG_PNG },
	{ 640, 480, IMG_JPEG },	  { 1024, 768, IMG_JPEG }, { 1600, 1200, IMG_JPEG },
	{ 2560, 1920, IMG_JPEG }, { 1580, 1185, IMG_PNG },
};
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))

static img_blob_t *store;
static unsigned nstore;
static size_t nbytes;

/// Paint a photo-like image. Every term is separable in x and y (gradients,
/// products of sines, Gaussian discs), so per-column and per-row factors are
/// computed once and each pixel costs a few multiplies plus noise.
static bool paint(img_t *im, as_rng_t *r)
{
	enum { NDISC = 6 };
	double fx[3], fy[3], ph[3], base[3], slope[3], amp[NDISC];
	for (int c = 0; c < 3; c++) {
		fx[c] = 1 + as_rng_double(r) * 6;
		fy[c] = 1 + as_rng_double(r) * 6;
		ph[c] = as_rng_double(r) * 6.28;
		base[c] = 60 + as_rng_double(r) * 120;
		slope[c] = (as_rng_double(r) - 0.5) * 120;
	}
	double cx[NDISC], cy[NDISC], rad[NDISC];
	for (int i = 0; i < NDISC; i++) {
		cx[i] = as_rng_double(r);
		cy[i] = as_rng_double(r);
		rad[i] = 0.05 + as_rng_double(r) * 0.2;
		amp[i] = (as_rng_double(r) - 0.5) * 160;
	}
	// colf[x] = {sin terms (3), disc x-factors (NDISC)}; rowf[y] likewise.
	const unsigned nf = 3 + NDISC;
	float *colf = malloc(sizeof(float) * nf * im->w);
	float *rowf = malloc(sizeof(float) * nf * im->h);
	if (!colf || !rowf) {
		free(colf);
		free(rowf);
		return false;
	}
	for (unsigned x = 0; x < im->w; x++) {
		double u = (double)x / im->w;
		for (int c = 0; c < 3; c++)
			colf[x * nf + (unsigned)c] = (float)sin(fx[c] * u * 6.28 + ph[c]);
		for (int i = 0; i < NDISC; i++)
			colf[x * nf + 3 + (unsigned)i] =
				(float)exp(-(u - cx[i]) * (u - cx[i]) / (rad[i] * rad[i]));
	}
	for (unsigned y = 0; y < im->h; y++) {
		double v = (double)y / im->h;
		for (int c = 0; c < 3; c++)
			rowf[y * nf + (unsigned)c] = (float)cos(fy[c] * v * 6.28);
		for (int i = 0; i < NDISC; i++)
			rowf[y * nf + 3 + (unsigned)i] =
				(float)exp(-(v - cy[i]) * (v - cy[i]) / (rad[i] * rad[i]));
	}
	for (unsigned y = 0; y < im->h; y++) {
		const float *rf = rowf + y * nf;
		double v = (double)y / im->h;
		uint8_t *row = im->px + (size_t)y * im->w * 3;
		for (unsigned x = 0; x < im->w; x++) {
			const float *cf = colf + x * nf;
			double u = (double)x / im->w;
			float shape = 0;
			for (int i = 0; i < NDISC; i++)
				shape += (float)amp[i] * cf[3 + i] * rf[3 + i];
			uint64_t noise = as_rng_next(r);
			for (int c = 0; c < 3; c++) {
				double val = base[c] + slope[c] * (u - v) + 30 * cf[c] * rf[c] + shape +
					     (double)((noise >> (16 * c)) % 25) - 12;
				row[3 * x + (unsigned)c] = (uint8_t)(val < 0 ? 0 : val > 255 ? 255 : val);
			}
		}
	}
	free(colf);
	free(rowf);
	return true;
}

bool store_init(unsigned count, uint64_t seed, char *err, size_t errlen)
{
	store = calloc(count, sizeof(*store));
	if (!store) {
		snprintf(err, errlen, "out of memory for the image store");
		return false;
	}
	for (unsigned i = 0; i < count; i++) {
		img_t im;
		as_rng_t r;
		unsigned s = i % NSIZES;
		as_rng_seed(&r, seed, i);
		if (!img_alloc(&im, sizes[s].w, sizes[s].h)) {
			snprintf(err, errlen, "out of memory generating image %u", i);
			return false;
		}
		if (!paint(&im, &r)) {
			img_free(&im);
			snprintf(err, errlen, "out of memory generating image %u", i);
			return false;
		}
		bool ok = img_encode(&im, sizes[s].fmt, 92, &store[i], err, errlen);
		img_free(&im);
		if (!ok)
			return false;
		nbytes += store[i].len;
		nstore = i + 1;
	}
	return true;
}

const img_blob_t *store_get(unsigned id)
{
	return id < nstore ? &store[id] : NULL;
}

unsigned store_count(void)
{
	return nstore;
}

size_t store_bytes(void)
{
	return nbytes;
}

void store_range(size_t *min, size_t *max)
{
	*min = *max = nstore ? store[0].len : 0;
	for (unsigned i = 1; i < nstore; i++) {
		if (store[i].len < *min)
			*min = store[i].len;
		if (store[i].len > *max)
			*max = store[i].len;
	}
}

void store_free(void)
{
	for (unsigned i = 0; i < nstore; i++)
		blob_free(&store[i]);
	free(store);
	store = NULL;
	nstore = 0;
	nbytes = 0;
}
