// SPDX-License-Identifier: MIT
// imgserver internals: RGB images, codecs, transforms, the source store and
// the LRU result cache. Every buffer is an ordinary malloc allocation: the
// point of this server is to give the allocator under test a real mix of
// short-lived decode/transform buffers and long-lived cached results.
#ifndef IMG_SERVER_H
#define IMG_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/// An 8-bit RGB image, rows packed (stride = 3*w).
typedef struct img_s {
	unsigned w, h;
	uint8_t *px;
} img_t;

typedef enum img_fmt_e { IMG_PNG, IMG_JPEG } img_fmt_t;

/// An encoded image (PNG or JPEG bytes).
typedef struct img_blob_s {
	uint8_t *data;
	size_t len;
	img_fmt_t fmt;
} img_blob_t;

// Allocation helpers that also account the bytes as "live" for the probe.
bool img_alloc(img_t *im, unsigned w, unsigned h);
void img_free(img_t *im);
void blob_free(img_blob_t *b);
/// Account `delta` bytes of deliberate holdings (cache, store, in flight).
void img_live_add(int64_t delta);

// codec.c: false with a reason in err on failure (never aborts).
bool img_decode(const img_blob_t *in, img_t *out, char *err, size_t errlen);
bool img_encode(const img_t *in, img_fmt_t fmt, int quality, img_blob_t *out, char *err,
		size_t errlen);

// transform.c: all return false only when out of memory.
bool img_resize(const img_t *in, unsigned w, unsigned h, img_t *out);
bool img_blur(const img_t *in, double sigma, img_t *out);
bool img_sharpen(const img_t *in, double amount, img_t *out);
/// Largest size that fits in w x h keeping the aspect ratio (at least 1x1).
void img_fit(unsigned sw, unsigned sh, unsigned w, unsigned h, unsigned *ow, unsigned *oh);

// store.c: deterministic, seeded source images of several sizes.
bool store_init(unsigned count, uint64_t seed, char *err, size_t errlen);
const img_blob_t *store_get(unsigned id);
unsigned store_count(void);
size_t store_bytes(void);
/// Smallest and largest encoded source image, bytes.
void store_range(size_t *min, size_t *max);
void store_free(void);

// cache.c: bounded LRU of encoded results, thread-safe.
void cache_init(size_t max_bytes);
/// Call fn(data, len, arg) under the cache lock if `key` is cached.
bool cache_with(const char *key, void (*fn)(const uint8_t *data, size_t len, void *arg),
		void *arg);
/// Insert (takes ownership of blob->data); evicts least recently used
/// entries to stay within the bound. A blob larger than the bound is freed.
void cache_put(const char *key, img_blob_t *blob);
void cache_stats(uint64_t *hits, uint64_t *misses, uint64_t *evictions, size_t *bytes,
		 size_t *entries);
void cache_free(void);

#endif
