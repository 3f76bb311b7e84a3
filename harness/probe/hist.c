// SPDX-License-Identifier: MIT
// Log-linear histogram (see hist.h).
#include "hist.h"

#include <math.h>
#include <string.h>

void as_hist_reset(as_hist_t *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

uint64_t as_hist_bucket_low(unsigned i)
{
	if (i < 2 * AS_HIST_SUB)
		return i;
	unsigned shift = i / AS_HIST_SUB - 1;
	uint64_t mant = AS_HIST_SUB + i % AS_HIST_SUB;
	return mant << shift;
}

uint64_t as_hist_bucket_width(unsigned i)
{
	if (i < 2 * AS_HIST_SUB)
		return 1;
	return 1ULL << (i / AS_HIST_SUB - 1);
}

void as_hist_merge(as_hist_t *dst, const as_hist_t *src)
{
	if (src->count == 0)
		return;
	for (unsigned i = 0; i < AS_HIST_BUCKETS; i++)
		dst->bucket[i] += src->bucket[i];
	dst->count += src->count;
	dst->sum += src->sum;
	dst->sumsq += src->sumsq;
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
}

double as_hist_quantile(const as_hist_t *h, double q)
{
	if (h->count == 0)
		return 0.0;
	if (q <= 0.0)
		return (double)h->min;
	if (q >= 1.0)
		return (double)h->max;
	// Rank of the sample that holds the quantile (nearest-rank, 1-based).
	uint64_t rank = (uint64_t)ceil(q * (double)h->count);
	if (rank < 1)
		rank = 1;
	uint64_t seen = 0;
	for (unsigned i = 0; i < AS_HIST_BUCKETS; i++) {
		seen += h->bucket[i];
		if (seen >= rank) {
			double low = (double)as_hist_bucket_low(i);
			double mid = low + ((double)as_hist_bucket_width(i) - 1.0) / 2.0;
			if (mid < (double)h->min)
				mid = (double)h->min;
			if (mid > (double)h->max)
				mid = (double)h->max;
			return mid;
		}
	}
	return (double)h->max;
}

void as_hist_summarize(const as_hist_t *h, double scale, as_hist_summary_t *out)
{
	memset(out, 0, sizeof(*out));
	if (h->count == 0)
		return;
	double n = (double)h->count;
	double mean = h->sum / n;
	double var = h->sumsq / n - mean * mean;
	out->count = h->count;
	out->mean = mean * scale;
	out->stddev = (var > 0 ? sqrt(var) : 0.0) * scale;
	out->min = (double)h->min * scale;
	out->max = (double)h->max * scale;
	out->p50 = as_hist_quantile(h, 0.50) * scale;
	out->p90 = as_hist_quantile(h, 0.90) * scale;
	out->p99 = as_hist_quantile(h, 0.99) * scale;
	out->p999 = as_hist_quantile(h, 0.999) * scale;
}
