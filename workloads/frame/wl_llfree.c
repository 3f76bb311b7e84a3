// SPDX-License-Identifier: MIT
// The LLFree paper's three throughput workloads (Wrenger et al., ATC'23,
// section 3.2 of shared/reference/llfree.md; llfree-rs bench.rs), over any
// frame allocator. Every thread owns `share` = frames/max_threads/2/2^order
// blocks, so half of memory is in use at the highest thread count.
//   bulk    all threads get their share behind a barrier (timed: alloc_ns),
//           then put it back in reverse order (timed: free_ns); iters cycles.
//   repeat  every thread holds its share, then gets and puts one block
//           share times (timed: pair_ns).
//   rand    every thread gets its share (alloc_ns); thread 0 shuffles all
//           blocks over all threads; every thread puts its now random blocks
//           (timed: free_ns), so most puts are remote.
// Times are ns per operation of each thread, averaged over the threads.
#include <stddef.h>

#include "fb.h"

typedef struct ll_arg_s {
	fb_ctx_t *c;
	unsigned order;
	uint64_t share;  ///< blocks per thread
	uint64_t iters;  ///< bulk cycles
	uint64_t *blocks; ///< threads * share slots, thread t owns [t*share, (t+1)*share)
} ll_arg_t;

/// Get `n` blocks into `out` (failed gets leave FB_NONE); returns ns spent.
static uint64_t get_n(fb_ctx_t *c, unsigned tid, unsigned order, uint64_t *out, uint64_t n)
{
	uint64_t t0 = as_now_ns();
	for (uint64_t i = 0; i < n; i++) {
		uint64_t lat = as_lat_begin();
		uint64_t f;
		out[i] = fb_get(c, tid, order, &f) ? f : FB_NONE;
		fb_lat_end(lat, FB_CH_ALLOC);
	}
	return as_now_ns() - t0;
}

/// Put the blocks of `blk` in reverse order; returns ns spent, *n_out = puts.
static uint64_t put_n_reverse(fb_ctx_t *c, unsigned tid, unsigned order, uint64_t *blk,
			      uint64_t n, uint64_t *n_out)
{
	uint64_t puts = 0;
	uint64_t t0 = as_now_ns();
	for (uint64_t i = n; i-- > 0;) {
		if (blk[i] == FB_NONE)
			continue;
		uint64_t lat = as_lat_begin();
		fb_put(c, tid, blk[i], order);
		fb_lat_end(lat, FB_CH_FREE);
		blk[i] = FB_NONE;
		puts++;
	}
	*n_out = puts;
	return as_now_ns() - t0;
}

static void bulk_thread(unsigned tid, void *p)
{
	ll_arg_t *a = p;
	fb_ctx_t *c = a->c;
	uint64_t *mine = a->blocks + tid * a->share;
	uint64_t t_alloc = 0;
	uint64_t t_free = 0;
	uint64_t n_free = 0;
	for (uint64_t it = 0; it < a->iters; it++) {
		uint64_t puts;
		as_barrier_wait(&c->bar);
		t_alloc += get_n(c, tid, a->order, mine, a->share);
		as_barrier_wait(&c->bar);
		t_free += put_n_reverse(c, tid, a->order, mine, a->share, &puts);
		n_free += puts;
	}
	c->th[tid].alloc_ns = (double)t_alloc / (double)(a->iters * a->share);
	c->th[tid].free_ns = n_free ? (double)t_free / (double)n_free : 0;
}

static void repeat_thread(unsigned tid, void *p)
{
	ll_arg_t *a = p;
	fb_ctx_t *c = a->c;
	uint64_t *mine = a->blocks + tid * a->share;
	uint64_t puts;
	get_n(c, tid, a->order, mine, a->share);
	as_barrier_wait(&c->bar);
	uint64_t t0 = as_now_ns();
	for (uint64_t i = 0; i < a->share; i++) {
		uint64_t f;
		uint64_t lat = as_lat_begin();
		bool ok = fb_get(c, tid, a->order, &f);
		fb_lat_end(lat, FB_CH_ALLOC);
		if (!ok)
			continue;
		lat = as_lat_begin();
		fb_put(c, tid, f, a->order);
		fb_lat_end(lat, FB_CH_FREE);
	}
	uint64_t t1 = as_now_ns();
	c->th[tid].pair_ns = (double)(t1 - t0) / (double)a->share;
	as_barrier_wait(&c->bar);
	put_n_reverse(c, tid, a->order, mine, a->share, &puts);
}

static void rand_thread(unsigned tid, void *p)
{
	ll_arg_t *a = p;
	fb_ctx_t *c = a->c;
	uint64_t *mine = a->blocks + tid * a->share;
	uint64_t puts;
	as_barrier_wait(&c->bar);
	uint64_t t_alloc = get_n(c, tid, a->order, mine, a->share);
	as_barrier_wait(&c->bar);
	if (tid == 0) {
		// Fisher-Yates over every thread's blocks: afterwards each thread
		// frees blocks that other threads (cores) allocated.
		as_rng_t rng;
		as_rng_seed(&rng, c->seed, 0);
		uint64_t n = a->share * c->threads;
		for (uint64_t i = n - 1; i > 0; i--) {
			uint64_t j = as_rng_below(&rng, i + 1);
			uint64_t t = a->blocks[i];
			a->blocks[i] = a->blocks[j];
			a->blocks[j] = t;
		}
	}
	as_barrier_wait(&c->bar);
	uint64_t t_free = put_n_reverse(c, tid, a->order, mine, a->share, &puts);
	c->th[tid].alloc_ns = (double)t_alloc / (double)a->share;
	c->th[tid].free_ns = puts ? (double)t_free / (double)puts : 0;
}

static void run(fb_ctx_t *c, void (*fn)(unsigned, void *), bool is_bulk)
{
	ll_arg_t a = { .c = c };
	a.order = fb_param_order();
	a.share = fb_share(c, a.order);
	a.iters = 1;
	if (is_bulk) {
		a.iters = as_param_u64_range("iters", 0, 1u << 20);
		if (a.iters == 0)
			a.iters = 1ULL << a.order;
	}
	size_t bytes = sizeof(uint64_t) * a.share * c->threads;
	a.blocks = fb_alloc_array(bytes);
	as_probe_info("blocks_per_thread", "%llu", (unsigned long long)a.share);
	fb_lat_channels();
	as_probe_run_threads(c->threads, fn, &a);
	fb_free_array(a.blocks, bytes);
}

void fb_wl_bulk(fb_ctx_t *c)
{
	run(c, bulk_thread, true);
	as_probe_metric("alloc_ns", fb_thread_mean(c, offsetof(fb_thread_t, alloc_ns)));
	as_probe_metric("free_ns", fb_thread_mean(c, offsetof(fb_thread_t, free_ns)));
}

void fb_wl_repeat(fb_ctx_t *c)
{
	run(c, repeat_thread, false);
	as_probe_metric("pair_ns", fb_thread_mean(c, offsetof(fb_thread_t, pair_ns)));
}

void fb_wl_rand(fb_ctx_t *c)
{
	run(c, rand_thread, false);
	as_probe_metric("alloc_ns", fb_thread_mean(c, offsetof(fb_thread_t, alloc_ns)));
	as_probe_metric("free_ns", fb_thread_mean(c, offsetof(fb_thread_t, free_ns)));
}
