// SPDX-License-Identifier: MIT
// The NBBS papers' four benchmarks (Marotta et al., CCGrid'19 / IEEE TC'22;
// HPDCS/NBBS benchmarks/TB_*; shared/reference/nbbs-and-linux-buddy.md
// section 2), over any frame allocator, with sizes as orders (s = 4 KiB <<
// order; the paper's 4 KiB, 32 KiB, 256 KiB and 2 MiB are orders 0, 3, 6, 9):
//   thread-test         strong scaling: each of T threads does
//                       bursts*2^order bursts of burst/T/2^order gets, then
//                       puts them in the same order (25 M gets in total at the
//                       defaults, at every size).
//   linux-scalability   weak scaling: each thread does bursts*2^order bursts
//                       of burst/2^order gets, then puts (174,080 gets per
//                       thread at the defaults).
//   constant-occupancy  each thread holds 1x16s, 2x8s, 4x4s, 8x2s and 16xs
//                       blocks (31 blocks, 80 s), then iters/T times puts a
//                       random one and gets the same size again. A 2^k s block
//                       above order 10 is held as 2^(order+k-10) blocks of
//                       order 10 (same bytes held).
//   cached-allocation   each thread gets and puts one block iters times.
// Reported, as the NBBS driver times it (release of all threads until the
// last one finishes), per operation rather than in total clocks:
//   pair_ns    wall ns / (get+put pairs of all threads); for
//              constant-occupancy one pair = one iteration
//   ops_per_s  pairs per second; wall_s
//   alloc_ns / free_ns (thread-test, linux-scalability): each thread's mean
//              ns per get in its get bursts and per put in its put bursts,
//              averaged over threads
//   failures (gets that failed; the op is skipped), alloc_lat_* / free_lat_*.
#include <stddef.h>

#include "as/err.h"
#include "fb.h"

typedef struct nb_arg_s {
	fb_ctx_t *c;
	unsigned order;
	uint64_t per_burst; ///< blocks per burst per thread
	uint64_t bursts;    ///< bursts per thread
	uint64_t iters;     ///< iterations per thread
	uint64_t *bufs;     ///< per-thread block buffers, stride `stride`
	uint64_t stride;
	uint64_t pairs;     ///< pairs per thread, for pair_ns
} nb_arg_t;

static void burst_thread(unsigned tid, void *p)
{
	nb_arg_t *a = p;
	fb_ctx_t *c = a->c;
	uint64_t *buf = a->bufs + tid * a->stride;
	uint64_t t_alloc = 0;
	uint64_t t_free = 0;
	uint64_t n_free = 0;
	as_barrier_wait(&c->bar);
	c->th[tid].t_start = as_now_ns();
	for (uint64_t b = 0; b < a->bursts; b++) {
		uint64_t t0 = as_now_ns();
		for (uint64_t i = 0; i < a->per_burst; i++) {
			uint64_t f;
			uint64_t lat = as_lat_begin();
			buf[i] = fb_get(c, tid, a->order, &f) ? f : FB_NONE;
			fb_lat_end(lat, FB_CH_ALLOC);
		}
		uint64_t t1 = as_now_ns();
		for (uint64_t i = 0; i < a->per_burst; i++) {
			if (buf[i] == FB_NONE)
				continue;
			uint64_t lat = as_lat_begin();
			fb_put(c, tid, buf[i], a->order);
			fb_lat_end(lat, FB_CH_FREE);
			n_free++;
		}
		uint64_t t2 = as_now_ns();
		t_alloc += t1 - t0;
		t_free += t2 - t1;
	}
	c->th[tid].t_end = as_now_ns();
	c->th[tid].alloc_ns = (double)t_alloc / (double)(a->bursts * a->per_burst);
	c->th[tid].free_ns = n_free ? (double)t_free / (double)n_free : 0;
}

/// Blocks a constant-occupancy thread holds: out[i] = order of block i.
static unsigned co_orders(unsigned order, unsigned *out, unsigned cap)
{
	unsigned n = 0;
	for (unsigned k = 0; k <= 4; k++) {
		unsigned count = 1u << (4 - k); // 2^(4-k) blocks of 2^k s
		unsigned o = order + k;
		if (o > FRAME_MAX_ORDER) {
			count <<= o - FRAME_MAX_ORDER;
			o = FRAME_MAX_ORDER;
		}
		for (unsigned i = 0; i < count && n < cap; i++)
			out[n++] = o;
	}
	return n;
}

#define CO_MAX_BLOCKS 4096

static void co_thread(unsigned tid, void *p)
{
	nb_arg_t *a = p;
	fb_ctx_t *c = a->c;
	uint64_t *blk = a->bufs + tid * a->stride;
	unsigned orders[CO_MAX_BLOCKS];
	unsigned n = co_orders(a->order, orders, CO_MAX_BLOCKS);
	as_rng_t rng;
	as_rng_seed(&rng, c->seed, tid);
	for (unsigned i = 0; i < n; i++) {
		uint64_t f;
		blk[i] = fb_get(c, tid, orders[i], &f) ? f : FB_NONE;
	}
	as_barrier_wait(&c->bar);
	c->th[tid].t_start = as_now_ns();
	for (uint64_t it = 0; it < a->iters; it++) {
		unsigned i = (unsigned)as_rng_below(&rng, n);
		uint64_t f;
		if (blk[i] != FB_NONE) {
			uint64_t lat = as_lat_begin();
			fb_put(c, tid, blk[i], orders[i]);
			fb_lat_end(lat, FB_CH_FREE);
		}
		uint64_t lat = as_lat_begin();
		blk[i] = fb_get(c, tid, orders[i], &f) ? f : FB_NONE;
		fb_lat_end(lat, FB_CH_ALLOC);
	}
	c->th[tid].t_end = as_now_ns();
	for (unsigned i = 0; i < n; i++)
		if (blk[i] != FB_NONE)
			fb_put(c, tid, blk[i], orders[i]);
}

static void ca_thread(unsigned tid, void *p)
{
	nb_arg_t *a = p;
	fb_ctx_t *c = a->c;
	as_barrier_wait(&c->bar);
	c->th[tid].t_start = as_now_ns();
	for (uint64_t it = 0; it < a->iters; it++) {
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
	c->th[tid].t_end = as_now_ns();
}

static void run(fb_ctx_t *c, nb_arg_t *a, void (*fn)(unsigned, void *), bool bursty)
{
	size_t bytes = sizeof(uint64_t) * a->stride * c->threads;
	a->bufs = fb_alloc_array(bytes);
	fb_lat_channels();
	as_probe_run_threads(c->threads, fn, a);
	fb_free_array(a->bufs, bytes);
	uint64_t t0 = UINT64_MAX;
	uint64_t t1 = 0;
	for (unsigned t = 0; t < c->threads; t++) {
		t0 = AS_MIN(t0, c->th[t].t_start);
		t1 = AS_MAX(t1, c->th[t].t_end);
	}
	double wall = (double)(t1 - t0);
	double pairs = (double)a->pairs * c->threads;
	as_probe_metric("pair_ns", wall / pairs);
	as_probe_metric("ops_per_s", pairs / (wall / 1e9));
	as_probe_metric("wall_s", wall / 1e9);
	if (bursty) {
		as_probe_metric("alloc_ns", fb_thread_mean(c, offsetof(fb_thread_t, alloc_ns)));
		as_probe_metric("free_ns", fb_thread_mean(c, offsetof(fb_thread_t, free_ns)));
	}
}

static void check_fits(fb_ctx_t *c, uint64_t frames_needed, const char *what)
{
	if (frames_needed > c->frames)
		as_die(2, "%s needs %llu frames, more than frames=%llu", what,
		       (unsigned long long)frames_needed, (unsigned long long)c->frames);
}

void fb_wl_thread_test(fb_ctx_t *c)
{
	nb_arg_t a = { .c = c };
	a.order = fb_param_order();
	uint64_t burst = as_param_u64_range("burst", 1, 1ULL << 36);
	uint64_t bursts = as_param_u64_range("bursts", 1, 1ULL << 32);
	a.per_burst = burst / c->threads >> a.order;
	a.bursts = bursts << a.order;
	if (a.per_burst == 0)
		as_die(2, "thread-test: burst=%llu gives 0 blocks per thread at order %u and %u "
			  "threads",
		       (unsigned long long)burst, a.order, c->threads);
	check_fits(c, (a.per_burst << a.order) * c->threads, "thread-test");
	a.stride = a.per_burst;
	a.pairs = a.per_burst * a.bursts;
	as_probe_info("blocks_per_burst", "%llu", (unsigned long long)a.per_burst);
	run(c, &a, burst_thread, true);
}

void fb_wl_linux_scalability(fb_ctx_t *c)
{
	nb_arg_t a = { .c = c };
	a.order = fb_param_order();
	uint64_t burst = as_param_u64_range("burst", 1, 1ULL << 36);
	uint64_t bursts = as_param_u64_range("bursts", 1, 1ULL << 32);
	a.per_burst = burst >> a.order;
	a.bursts = bursts << a.order;
	if (a.per_burst == 0)
		as_die(2, "linux-scalability: burst=%llu gives 0 blocks at order %u",
		       (unsigned long long)burst, a.order);
	check_fits(c, (a.per_burst << a.order) * c->threads, "linux-scalability");
	a.stride = a.per_burst;
	a.pairs = a.per_burst * a.bursts;
	as_probe_info("blocks_per_burst", "%llu", (unsigned long long)a.per_burst);
	run(c, &a, burst_thread, true);
}

void fb_wl_constant_occupancy(fb_ctx_t *c)
{
	nb_arg_t a = { .c = c };
	unsigned orders[CO_MAX_BLOCKS];
	a.order = fb_param_order();
	uint64_t iters = as_param_u64_range("iters", 1, 1ULL << 40);
	a.iters = iters / c->threads;
	if (a.iters == 0)
		as_die(2, "constant-occupancy: iters=%llu is fewer than the %u threads",
		       (unsigned long long)iters, c->threads);
	unsigned n = co_orders(a.order, orders, CO_MAX_BLOCKS);
	check_fits(c, (80ULL << a.order) * c->threads, "constant-occupancy");
	a.stride = n;
	a.pairs = a.iters;
	as_probe_info("blocks_per_thread", "%u", n);
	run(c, &a, co_thread, false);
}

void fb_wl_cached_allocation(fb_ctx_t *c)
{
	nb_arg_t a = { .c = c };
	a.order = fb_param_order();
	a.iters = as_param_u64_range("iters", 1, 1ULL << 40);
	a.stride = 1;
	a.pairs = a.iters;
	run(c, &a, ca_thread, false);
}
