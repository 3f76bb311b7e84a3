// SPDX-License-Identifier: MIT
// fast-path: the cost floor of an allocator, on one thread (our own
// workload; with --threads N every thread runs the same loops on its own, and
// the ns figures are averaged over threads). Part (a) times `pairs` malloc+free pairs of one size in a tight
// loop (pair_ns); part (b) times `batches` rounds of `batch` mallocs of mixed
// sizes in [min_size, max_size] followed by their frees in allocation order
// (batch_ns, per malloc+free). Both are timed as whole loops without
// per-operation sampling, so the probe's timer does not inflate them. Part (c)
// repeats (a) and (b) shorter with sampled per-call timing for the latency
// distribution (lat_*). Every block's ends are stamped and checked.
#include "as/err.h"
#include "as/rng.h"
#include "lib/mw.h"

static const as_param_desc_t params[] = {
	{ "size", "64", "size of the malloc+free pair (bytes)" },
	{ "pairs", "10000000", "malloc+free pairs timed in part (a) (count)" },
	{ "batch", "1000", "mallocs per batch in part (b) (count)" },
	{ "batches", "5000", "batches timed in part (b) (count)" },
	{ "min_size", "16", "smallest batch size (bytes)" },
	{ "max_size", "400", "largest batch size (bytes)" },
	{ "lat_fraction", "8", "part (c) runs 1/lat_fraction of (a) and (b) with sampled latency (count)" },
	{ NULL, NULL, NULL },
};

static const as_workload_desc_t workloads[] = {
	{ "fast-path", "micro",
	  "one thread: malloc+free pairs of one size, and batches of 1000 mixed-size mallocs then frees (ns/op)",
	  params },
	{ NULL, NULL, NULL, NULL },
};

static struct {
	size_t size, batch, min, max;
	uint64_t pairs, batches, frac;
	uint32_t *sizes; ///< pre-drawn batch sizes, so the RNG stays out of the timed loop
	int64_t batch_bytes[8]; ///< bytes of each of the 8 pre-drawn batches
	mw_count_t *pair_t, *batch_t, *lat_t; ///< per-thread loop times (ns)
} F;

static uint64_t run_pairs(uint64_t n, bool sampled)
{
	size_t sz = F.size;
	uint64_t t0 = as_now_ns();
	for (uint64_t i = 0; i < n; i++) {
		void *p;
		if (sampled) {
			p = mw_malloc(sz);
		} else {
			p = malloc(sz);
			if (AS_UNLIKELY(!p))
				as_probe_fail("malloc(%zu) returned NULL", sz);
		}
		mw_stamp(p, sz);
		as_do_not_optimize(p);
		mw_check(p, sz, "fast-path: pair");
		if (sampled)
			mw_free(p, sz);
		else
			free(p);
	}
	return as_now_ns() - t0;
}

static uint64_t run_batches(void **ptr, uint64_t n, bool sampled)
{
	uint64_t t0 = as_now_ns();
	for (uint64_t b = 0; b < n; b++) {
		const uint32_t *sz = F.sizes + (b & 7) * F.batch;
		for (size_t i = 0; i < F.batch; i++) {
			void *p;
			if (sampled) {
				p = mw_malloc(sz[i]);
			} else {
				p = malloc(sz[i]);
				if (AS_UNLIKELY(!p))
					as_probe_fail("malloc(%u) returned NULL", sz[i]);
			}
			mw_stamp(p, sz[i]);
			ptr[i] = p;
		}
		if (!sampled)
			as_probe_live_add(F.batch_bytes[b & 7]); // the whole batch at once
		for (size_t i = 0; i < F.batch; i++) {
			mw_check(ptr[i], sz[i], "fast-path: batch");
			if (sampled)
				mw_free(ptr[i], sz[i]);
			else
				free(ptr[i]);
		}
		if (!sampled)
			as_probe_live_add(-F.batch_bytes[b & 7]);
	}
	return as_now_ns() - t0;
}

static void worker(unsigned tid, void *arg)
{
	(void)arg;
	void **ptr = mw_malloc(sizeof(void *) * F.batch);
	// Warm-up: one tenth of each part, untimed.
	run_pairs(F.pairs / 10 + 1, false);
	run_batches(ptr, F.batches / 10 + 1, false);
	F.pair_t[tid].v = run_pairs(F.pairs, false);
	F.batch_t[tid].v = run_batches(ptr, F.batches, false);
	F.lat_t[tid].v = run_pairs(F.pairs / F.frac + 1, true) +
			 run_batches(ptr, F.batches / F.frac + 1, true);
	mw_free(ptr, sizeof(void *) * F.batch);
}

int main(int argc, char **argv)
{
	as_probe_init(argc, argv, workloads);
	unsigned nt = as_probe_threads();
	F.size = as_param_u64_range("size", 1, 1u << 30);
	F.pairs = as_param_u64_range("pairs", 1, 1ull << 40);
	F.batch = as_param_u64_range("batch", 1, 1u << 24);
	F.batches = as_param_u64_range("batches", 1, 1ull << 32);
	F.min = as_param_u64_range("min_size", 1, 1u << 30);
	F.max = as_param_u64_range("max_size", F.min, 1u << 30);
	F.frac = as_param_u64_range("lat_fraction", 1, 1u << 20);
	F.pair_t = mw_counts(nt);
	F.batch_t = mw_counts(nt);
	F.lat_t = mw_counts(nt);

	// Eight pre-drawn batches of sizes, cycled, shared read-only by all threads.
	F.sizes = mw_malloc(sizeof(uint32_t) * F.batch * 8);
	as_rng_t r;
	as_rng_seed(&r, as_probe_seed(), 0);
	for (size_t i = 0; i < F.batch * 8; i++) {
		F.sizes[i] = (uint32_t)as_rng_range(&r, F.min, F.max);
		F.batch_bytes[i / F.batch] += F.sizes[i];
	}
	uint64_t t0 = as_now_ns();
	as_probe_run_threads(nt, worker, NULL);
	uint64_t t1 = as_now_ns();

	uint64_t batch_ops = F.batches * F.batch;
	double pair_ns = 0, batch_ns = 0;
	for (unsigned t = 0; t < nt; t++) {
		pair_ns += (double)F.pair_t[t].v / (double)F.pairs / nt;
		batch_ns += (double)F.batch_t[t].v / (double)batch_ops / nt;
	}
	as_probe_metric("pair_ns", pair_ns);
	as_probe_metric("batch_ns", batch_ns);
	// Throughput over the un-sampled parts: pairs done / mean time per
	// thread; wall_s is the whole run (warm-up and sampled part included).
	uint64_t mean_t = (mw_counts_sum(F.pair_t, nt) + mw_counts_sum(F.batch_t, nt)) / nt;
	as_probe_info("ops_meaning", "malloc+free pairs per second over parts (a) and (b), un-sampled, "
		      "summed over threads");
	as_probe_metric("ops", (double)((F.pairs + batch_ops) * nt));
	as_probe_metric("ops_per_s", (double)((F.pairs + batch_ops) * nt) / ((double)mean_t / 1e9));
	as_probe_metric("wall_s", (double)(t1 - t0) / 1e9);
	as_probe_metric("sampled_part_s", (double)mw_counts_sum(F.lat_t, nt) / nt / 1e9);
	mw_free(F.sizes, sizeof(uint32_t) * F.batch * 8);
	as_probe_finish();
	return 0;
}
