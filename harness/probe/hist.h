// SPDX-License-Identifier: MIT
// Log-linear latency histogram: values below 256 are exact; above, each power
// of two is split into 128 linear sub-buckets, so a bucket spans at most 1/128
// (0.8%) of its value and the reported midpoint is within 0.4%. Values are raw
// counter units (cycles or ns); conversion happens when summarising. Exact
// count, sum, sum of squares, min and max are kept beside the buckets, so mean
// and stddev are exact. Single-writer; merge after the writers stopped.
#ifndef AS_HIST_H
#define AS_HIST_H

#include <stdint.h>

#define AS_HIST_SUB_BITS 7
#define AS_HIST_SUB (1u << AS_HIST_SUB_BITS)
/// Buckets: 2*SUB exact values, then SUB per power of two up to 2^63.
#define AS_HIST_BUCKETS (AS_HIST_SUB * (64 - AS_HIST_SUB_BITS + 1))

typedef struct as_hist_s {
	uint64_t count;
	uint64_t min;
	uint64_t max;
	double sum;
	double sumsq;
	uint64_t bucket[AS_HIST_BUCKETS];
} as_hist_t;

typedef struct as_hist_summary_s {
	uint64_t count;
	double mean, stddev, min, max;
	double p50, p90, p99, p999;
} as_hist_summary_t;

void as_hist_reset(as_hist_t *h);

/// Bucket index of a value (exposed for tests).
static inline unsigned as_hist_index(uint64_t v)
{
	if (v < 2 * AS_HIST_SUB)
		return (unsigned)v;
	unsigned msb = 63u - (unsigned)__builtin_clzll(v);
	unsigned shift = msb - AS_HIST_SUB_BITS;
	return AS_HIST_SUB * (shift + 1) + (unsigned)((v >> shift) - AS_HIST_SUB);
}

/// Lowest value that maps to bucket `i`, and the bucket's width.
uint64_t as_hist_bucket_low(unsigned i);
uint64_t as_hist_bucket_width(unsigned i);

static inline void as_hist_add(as_hist_t *h, uint64_t v)
{
	h->bucket[as_hist_index(v)]++;
	h->count++;
	h->sum += (double)v;
	h->sumsq += (double)v * (double)v;
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
}

/// dst += src.
void as_hist_merge(as_hist_t *dst, const as_hist_t *src);

/// Value at quantile q in [0,1] (bucket midpoint, clamped to [min, max]).
double as_hist_quantile(const as_hist_t *h, double q);

/// Summary scaled by `scale` (e.g. ns per cycle); count 0 gives all zeros
/// and count == 0 so callers can report null.
void as_hist_summarize(const as_hist_t *h, double scale, as_hist_summary_t *out);

#endif
