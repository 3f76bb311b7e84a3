// SPDX-License-Identifier: MIT
// glibc-thread: glibc's benchtests/bench-malloc-thread (run by
// mimalloc-bench with a 2 s limit), written from the definition in
// shared/reference/benchmark-suites.md section 3.
//
// Each thread owns `slots` slots. In a loop it frees a random slot and mallocs
// into it a size drawn from an inverse-square distribution between min_size
// and max_size (a pre-tabulated table of 8000 sizes, as upstream), writing
// every byte, until `seconds` have passed. Blocks never leave their thread.
// Throughput = iterations (free+malloc) per second; mimalloc-bench prints
// 1e9 / iterations.
#include <math.h>

#include "as/err.h"
#include "as/rng.h"
#include "lib/mw.h"

static const as_param_desc_t params[] = {
	{ "seconds", "1", "run time in seconds (s; mimalloc-bench uses 2, upstream 10)" },
	{ "slots", "1024", "blocks held per thread (count)" },
	{ "min_size", "4", "smallest size (bytes)" },
	{ "max_size", "32768", "largest size (bytes)" },
	{ NULL, NULL, NULL },
};

static const as_workload_desc_t workloads[] = {
	{ "glibc-thread", "micro",
	  "random-slot free+malloc per thread, inverse-square sizes 4 B..32 KiB, every byte written",
	  params },
	{ NULL, NULL, NULL, NULL },
};

#define NSIZES 8000

static struct {
	uint32_t sizes[NSIZES];
	size_t slots;
	uint64_t t_end_ns;
	mw_count_t *iters;
} G;

// Inverse CDF of p(s) ~ 1/s^2 on [lo, hi] at evenly spaced quantiles.
static void build_sizes(double lo, double hi)
{
	for (unsigned i = 0; i < NSIZES; i++) {
		double u = (i + 0.5) / NSIZES;
		double s = 1.0 / (1.0 / lo - u * (1.0 / lo - 1.0 / hi));
		G.sizes[i] = (uint32_t)fmin(hi, fmax(lo, floor(s)));
	}
}

static void worker(unsigned tid, void *arg)
{
	(void)arg;
	as_rng_t r;
	as_rng_seed(&r, as_probe_seed(), tid);
	void **ptr = mw_malloc(sizeof(void *) * G.slots);
	uint32_t *size = mw_malloc(sizeof(uint32_t) * G.slots);
	for (size_t i = 0; i < G.slots; i++) {
		ptr[i] = NULL;
		size[i] = 0;
	}
	uint64_t n = 0;
	for (;;) {
		// Check the clock every 1024 iterations (about 20-100 us of work).
		if ((n & 1023) == 0 && as_now_ns() >= G.t_end_ns)
			break;
		size_t v = (size_t)as_rng_below(&r, G.slots);
		if (ptr[v]) {
			mw_check(ptr[v], size[v], "glibc-thread: before free");
			mw_free(ptr[v], size[v]);
		}
		size_t sz = G.sizes[as_rng_below(&r, NSIZES)];
		char *p = mw_malloc(sz);
		memset(p, (int)(n & 0xff), sz);
		mw_stamp(p, sz);
		ptr[v] = p;
		size[v] = (uint32_t)sz;
		if (++n == 4 * G.slots && tid == 0)
			as_probe_sample_now(); // a timeline sample with the slots filled
	}
	for (size_t i = 0; i < G.slots; i++)
		if (ptr[i]) {
			mw_check(ptr[i], size[i], "glibc-thread: final free");
			mw_free(ptr[i], size[i]);
		}
	mw_free(size, sizeof(uint32_t) * G.slots);
	mw_free(ptr, sizeof(void *) * G.slots);
	G.iters[tid].v = n;
}

int main(int argc, char **argv)
{
	as_probe_init(argc, argv, workloads);
	unsigned nt = as_probe_threads();
	double seconds = as_param_f64("seconds");
	if (seconds <= 0 || seconds > 3600)
		as_die(2, "parameter seconds=%g is out of range (0, 3600]", seconds);
	G.slots = as_param_u64_range("slots", 1, 1u << 24);
	uint64_t lo = as_param_u64_range("min_size", 1, 1u << 30);
	uint64_t hi = as_param_u64_range("max_size", lo, 1u << 30);
	build_sizes((double)lo, (double)hi);
	G.iters = mw_counts(nt);
	uint64_t t0 = as_now_ns();
	G.t_end_ns = t0 + (uint64_t)(seconds * 1e9);
	as_probe_run_threads(nt, worker, NULL);
	uint64_t t1 = as_now_ns();
	mw_report(mw_counts_sum(G.iters, nt), t1 - t0);
	as_probe_finish();
	return 0;
}
