// SPDX-License-Identifier: MIT
// framebench internals: the run context shared by every frame workload, the
// zone layer (one allocator instance, or one per NUMA node with fallback),
// the get/put wrappers every workload calls, and the per-thread counters.
// Workloads call allocators only through fb_get/fb_put, which go through the
// allocator's ops table, so every allocator pays the same indirect call.
//
// Frame numbers seen by workloads are global: zone z owns the frames
// [zones[z].base, zones[z].base + zones[z].frames); fb_put maps a frame back
// to its zone.
#ifndef FB_H
#define FB_H

#include <stdbool.h>
#include <stdint.h>

#include "as/compiler.h"
#include "as/rng.h"
#include "frame.h"
#include "probe.h"

#define FB_MAX_ZONES 64
/// Latency channels: 0 (lat_*) gets every timed op, these get one kind each.
#define FB_CH_ALLOC 1
#define FB_CH_FREE 2
/// Marks an empty slot in a workload's array of held blocks.
#define FB_NONE UINT64_MAX
/// How often a get that reported FRAME_ERR_RETRY is repeated before it
/// counts as a failure.
#define FB_RETRIES 64

typedef struct fb_zone_s {
	frame_alloc_t *fa;
	uint64_t base;   ///< first global frame of the zone
	uint64_t frames; ///< frames in the zone
	int node;        ///< NUMA node the zone stands for (-1: not node-bound)
} fb_zone_t;

/// Per-thread counters and results; one cache line apart (STYLE rule 5).
typedef struct fb_thread_s {
	_Alignas(AS_CACHELINE) uint64_t gets; ///< gets served (multi-zone only)
	uint64_t remote;   ///< gets served by a zone other than the home zone
	uint64_t failures; ///< gets that failed although they should not have
	uint64_t retries;  ///< FRAME_ERR_RETRY answers that were retried
	unsigned home;     ///< home zone index
	int node;          ///< NUMA node from the probe (--nodes), 0 if none
	double alloc_ns;   ///< this thread's mean ns per get in the timed phase
	double free_ns;    ///< ... per put
	double pair_ns;    ///< ... per get+put pair
	uint64_t t_start;  ///< as_now_ns() when the timed phase began
	uint64_t t_end;    ///< ... and ended (NBBS workloads: wall = span)
} fb_thread_t;

typedef struct fb_ctx_s {
	const struct frame_ops *ops;
	fb_zone_t zones[FB_MAX_ZONES];
	unsigned nzones;
	uint64_t zone_frames; ///< frames of every zone but the last (for lookup)
	uint64_t frames;      ///< all frames, the sum over zones
	unsigned threads;
	uint64_t seed;
	fb_thread_t *th;   ///< threads entries
	as_barrier_t bar;  ///< for the workers of one as_probe_run_threads call
} fb_ctx_t;

bool fb_get_slow(fb_ctx_t *c, unsigned tid, unsigned order, frame_result_t r, uint64_t *out);
AS_NORETURN void fb_put_failed(fb_ctx_t *c, uint64_t frame, unsigned order, frame_err_t err);
frame_err_t fb_put_zone(fb_ctx_t *c, unsigned tid, uint64_t frame, unsigned order);

/// Allocate a block of 2^order frames for thread `tid` (core index = tid).
/// On failure returns false and counts it in th[tid].failures;
/// FRAME_ERR_RETRY is retried up to FB_RETRIES times.
static inline bool fb_get(fb_ctx_t *c, unsigned tid, unsigned order, uint64_t *out)
{
	if (AS_LIKELY(c->nzones == 1)) {
		frame_result_t r = c->ops->get(c->zones[0].fa, tid, order);
		if (AS_LIKELY(r.err == FRAME_OK)) {
			*out = r.frame;
			return true;
		}
		return fb_get_slow(c, tid, order, r, out);
	}
	frame_result_t none = { .frame = 0, .err = FRAME_ERR_RETRY };
	return fb_get_slow(c, tid, order, none, out);
}

/// Free a block this run got from fb_get. A put error means the allocator
/// (or the workload) is broken: the run fails with status error.
static inline void fb_put(fb_ctx_t *c, unsigned tid, uint64_t frame, unsigned order)
{
	frame_err_t e;
	if (AS_LIKELY(c->nzones == 1))
		e = c->ops->put(c->zones[0].fa, tid, frame, order);
	else
		e = fb_put_zone(c, tid, frame, order);
	if (AS_UNLIKELY(e != FRAME_OK))
		fb_put_failed(c, frame, order, e);
}

/// End a latency sample in channel 0 and in `ch`.
static inline void fb_lat_end(uint64_t t0, unsigned ch)
{
	if (t0) {
		uint64_t d = as_cycles() - t0;
		as_hist_add(as_probe_tls.hist[0], d);
		as_hist_add(as_probe_tls.hist[ch], d);
	}
}

// ---------------------------------------------------------------------------
// Setup and teardown (fb_zone.c)

/// Read the common params (frames, zones, options), create the zones and
/// the per-thread table. Exits 2 on bad input.
void fb_setup(fb_ctx_t *c, const struct frame_ops *ops);
/// Name the alloc/free latency channels (before any worker starts).
void fb_lat_channels(void);
/// Report metadata_bytes, failures, remote_frac; check through stats and
/// validate that every frame came back (fails the run otherwise); destroy
/// the zones. Call once, after the last worker joined.
void fb_finish(fb_ctx_t *c);
/// Sum of the per-thread results field `off` (offsetof into fb_thread_t) / n.
double fb_thread_mean(const fb_ctx_t *c, size_t off);
/// Blocks each thread allocates in bulk/repeat/rand/filling/frag shares:
/// frames / max_threads / 2 / 2^order (param max_threads, 0 = online PUs).
uint64_t fb_share(const fb_ctx_t *c, unsigned order);
/// Parse the "order" param (0..FRAME_MAX_ORDER, exits 2 otherwise).
unsigned fb_param_order(void);
/// Zeroed memory for workload arrays (exits 1 when unavailable).
void *fb_alloc_array(size_t bytes);
void fb_free_array(void *p, size_t bytes);
/// Sum of free counts per 2 MiB frame over all zones, into out[frames/512].
void fb_free_counts(fb_ctx_t *c, uint16_t *out);
void fb_stats(fb_ctx_t *c, frame_stats_t *out);

// ---------------------------------------------------------------------------
// Workloads (each runs its threads, reports its metrics; fb_finish after).

void fb_wl_bulk(fb_ctx_t *c);
void fb_wl_repeat(fb_ctx_t *c);
void fb_wl_rand(fb_ctx_t *c);
void fb_wl_filling(fb_ctx_t *c);
void fb_wl_frag(fb_ctx_t *c);
void fb_wl_thread_test(fb_ctx_t *c);
void fb_wl_linux_scalability(fb_ctx_t *c);
void fb_wl_constant_occupancy(fb_ctx_t *c);
void fb_wl_cached_allocation(fb_ctx_t *c);

/// Greedy compaction cost of a free-count vector (wl_frag.c): see there.
uint64_t fb_compaction_moves(const uint16_t *free_counts, uint64_t n);

#endif
