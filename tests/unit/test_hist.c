// SPDX-License-Identifier: MIT
// The latency histogram against known distributions.
#include <math.h>
#include <stdlib.h>

#include "as/meta.h"
#include "as/rng.h"
#include "hist.h"
#include "test.h"

static as_hist_t *new_hist(void)
{
	as_hist_t *h = as_meta_alloc(sizeof(*h), 64);
	as_hist_reset(h);
	return h;
}

TEST(hist_index_monotonic_and_precise)
{
	unsigned prev = 0;
	for (uint64_t v = 0; v < (1u << 20); v++) {
		unsigned i = as_hist_index(v);
		check(i >= prev);
		check(i < AS_HIST_BUCKETS);
		check(as_hist_bucket_low(i) <= v);
		check(v < as_hist_bucket_low(i) + as_hist_bucket_width(i));
		// bucket width is at most 1/128 of the value
		check(as_hist_bucket_width(i) == 1 || as_hist_bucket_width(i) * 128 <= v);
		prev = i;
	}
	check(as_hist_index(UINT64_MAX) < AS_HIST_BUCKETS);
}

TEST(hist_uniform_quantiles)
{
	as_hist_t *h = new_hist();
	for (uint64_t v = 1; v <= 100000; v++)
		as_hist_add(h, v);
	double p50 = as_hist_quantile(h, 0.5);
	double p99 = as_hist_quantile(h, 0.99);
	check(fabs(p50 - 50000) / 50000 < 0.01);
	check(fabs(p99 - 99000) / 99000 < 0.01);
	as_hist_summary_t s;
	as_hist_summarize(h, 1.0, &s);
	check(fabs(s.mean - 50000.5) < 1e-6);
	// stddev of a discrete uniform 1..n = sqrt((n^2-1)/12)
	check(fabs(s.stddev - sqrt((1e10 - 1) / 12)) / s.stddev < 1e-6);
	check(s.min == 1 && s.max == 100000);
}

TEST(hist_exponential_tail)
{
	as_hist_t *h = new_hist();
	as_rng_t r;
	as_rng_seed(&r, 1, 0);
	const double mean = 1000;
	for (int i = 0; i < 1000000; i++) {
		double u = as_rng_double(&r);
		as_hist_add(h, (uint64_t)(-mean * log(1 - u)));
	}
	// exponential: p99 = mean * ln(100) = 4605; p99.9 = mean * ln(1000) = 6908
	check(fabs(as_hist_quantile(h, 0.99) - 4605) / 4605 < 0.03);
	check(fabs(as_hist_quantile(h, 0.999) - 6908) / 6908 < 0.05);
	as_hist_summary_t s;
	as_hist_summarize(h, 1.0, &s);
	check(fabs(s.stddev - mean) / mean < 0.02);
}

TEST(hist_merge_and_scale)
{
	as_hist_t *a = new_hist();
	as_hist_t *b = new_hist();
	for (int i = 0; i < 1000; i++)
		as_hist_add(a, 100);
	for (int i = 0; i < 1000; i++)
		as_hist_add(b, 300);
	as_hist_merge(a, b);
	as_hist_summary_t s;
	as_hist_summarize(a, 0.5, &s);
	check_eq("%llu", (unsigned long long)s.count, 2000ULL);
	check(fabs(s.mean - 100) < 1e-9); // (100+300)/2 * 0.5
	check(fabs(s.stddev - 50) < 1e-6);
	check(fabs(s.p90 - 150) / 150 < 0.01);
	as_hist_t *e = new_hist();
	as_hist_summarize(e, 1.0, &s);
	check_eq("%llu", (unsigned long long)s.count, 0ULL);
}
