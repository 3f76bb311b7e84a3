// SPDX-License-Identifier: MIT
// frag: the LLFree paper's fragmentation workload (Wrenger et al., ATC'23;
// shared/reference/llfree.md 3.2 and 3.5), over any frame allocator.
//   1. The threads get fill_pct (90) % of memory in blocks of `order` (0).
//   2. Thread 0 shuffles all blocks over all threads; each thread puts the
//      second half of its now random blocks (cross-core frees).
//   3. `rounds` (100) rounds: each thread puts a random churn_pct (10) % of
//      the blocks it holds and gets the same count again.
// After step 2 (round 0) and after every round, with all threads parked at a
// barrier, thread 0 reads the allocator's per-2-MiB free counts and records:
//   free_huge_frac   2 MiB frames whose 512 frames are all free (as counted
//                    by free_counts, so frames in per-core caches count as
//                    free, as the paper counts buddy plus pcp lists), divided
//                    by all 2 MiB frames. Held memory bounds it: after step 2
//                    about 45% is held, so at most about 55% can be free.
//   free_huge_norm   the same divided by floor(free frames / 512), the most
//                    that the free memory could form (1.0 = perfect).
//   free_huge_avail_frac  stats.free_huge / all 2 MiB frames: huge frames the
//                    allocator itself reports as free (may be lower for
//                    allocators that keep frames in per-core caches).
//   compaction_moves the greedy compaction cost, fb_compaction_moves below.
// Series hold rounds+1 values (round 0..rounds); scalars *_r10 are after
// round 10 (the paper's "64% fewer moves" point) and the plain names after
// the last round.
#include <string.h>

#include "as/err.h"
#include "fb.h"

// Compaction cost: the number of 4 KiB frame moves a greedy compactor needs
// until every 2 MiB frame but at most one is either completely used or
// completely free, i.e. until the free frames form whole huge frames. With
// used u_i = 512 - free_i per 2 MiB frame, sorted ascending: repeatedly take
// the emptiest frame that still holds something (source) and move as many
// frames as fit into the fullest frame that is not full (destination);
// count every frame moved; stop when source and destination meet. This is
// the greedy of llfree-bench's frag.ipynb (move pages from the emptiest into
// the fullest).
uint64_t fb_compaction_moves(const uint16_t *free_counts, uint64_t n)
{
	uint64_t hist[FRAME_HUGE_FRAMES + 1];
	memset(hist, 0, sizeof(hist));
	for (uint64_t i = 0; i < n; i++) {
		unsigned f = free_counts[i] > FRAME_HUGE_FRAMES ? FRAME_HUGE_FRAMES : free_counts[i];
		hist[FRAME_HUGE_FRAMES - f]++;
	}
	// Two cursors over the used values in ascending order, walked through
	// the histogram: lo = emptiest non-empty frame, hi = fullest non-full.
	// lo_used/hi_used are the current (partly moved) values of the frames
	// under the cursors; lo_left/hi_left count the frames still in those
	// buckets, and lo_rank/hi_rank are their positions in sorted order.
	uint64_t moves = 0;
	unsigned lo_b = 1;
	unsigned hi_b = FRAME_HUGE_FRAMES - 1;
	while (lo_b < FRAME_HUGE_FRAMES && hist[lo_b] == 0)
		lo_b++;
	while (hi_b > 0 && hist[hi_b] == 0)
		hi_b--;
	if (lo_b >= FRAME_HUGE_FRAMES || hi_b == 0)
		return 0;
	// Sorted ranks: frames with used 0 come first.
	uint64_t below[FRAME_HUGE_FRAMES + 1];
	uint64_t acc = 0;
	for (unsigned b = 0; b <= FRAME_HUGE_FRAMES; b++) {
		below[b] = acc;
		acc += hist[b];
	}
	uint64_t lo_rank = below[lo_b];
	uint64_t hi_rank = below[hi_b] + hist[hi_b] - 1;
	uint64_t lo_used = lo_b;
	uint64_t hi_used = hi_b;
	while (lo_rank < hi_rank) {
		uint64_t m = AS_MIN(lo_used, FRAME_HUGE_FRAMES - hi_used);
		moves += m;
		lo_used -= m;
		hi_used += m;
		if (lo_used == 0) {
			// Next source: the next frame in sorted order (its original
			// used value; frames between the cursors are untouched).
			lo_rank++;
			if (lo_rank >= hi_rank)
				break;
			while (below[lo_b] + hist[lo_b] <= lo_rank)
				lo_b++;
			lo_used = lo_b;
		}
		if (hi_used == FRAME_HUGE_FRAMES) {
			hi_rank--;
			if (lo_rank >= hi_rank)
				break;
			while (below[hi_b] > hi_rank)
				hi_b--;
			hi_used = hi_b;
		}
	}
	return moves;
}

typedef struct frag_arg_s {
	fb_ctx_t *c;
	unsigned order;
	unsigned rounds;
	unsigned churn_pct;
	uint64_t share;   ///< blocks per thread in step 1
	uint64_t *blocks; ///< threads * share
	uint16_t *counts; ///< frames / 512
	uint64_t nhuge;
	double *huge_frac, *huge_norm, *huge_avail, *moves; ///< rounds + 1 each
	uint64_t *churn_ns; ///< per thread: ns in churn puts+gets
	uint64_t *churn_ops;
} frag_arg_t;

static void measure(frag_arg_t *a, unsigned round)
{
	frame_stats_t s;
	fb_free_counts(a->c, a->counts);
	fb_stats(a->c, &s);
	uint64_t whole = 0;
	uint64_t free_frames = 0;
	for (uint64_t i = 0; i < a->nhuge; i++) {
		whole += a->counts[i] == FRAME_HUGE_FRAMES;
		free_frames += a->counts[i];
	}
	uint64_t possible = free_frames / FRAME_HUGE_FRAMES;
	a->huge_frac[round] = (double)whole / (double)a->nhuge;
	a->huge_norm[round] = possible ? (double)whole / (double)possible : 1.0;
	a->huge_avail[round] = (double)s.free_huge / (double)a->nhuge;
	a->moves[round] = (double)fb_compaction_moves(a->counts, a->nhuge);
	if (free_frames != s.free_frames)
		as_probe_fail("allocator %s: free_counts sum to %llu free frames, stats say %llu",
			      a->c->ops->name, (unsigned long long)free_frames,
			      (unsigned long long)s.free_frames);
}

static void frag_thread(unsigned tid, void *p)
{
	frag_arg_t *a = p;
	fb_ctx_t *c = a->c;
	uint64_t *mine = a->blocks + tid * a->share;
	as_rng_t rng;
	as_rng_seed(&rng, c->seed, tid + 1);
	for (uint64_t i = 0; i < a->share; i++) {
		uint64_t f;
		mine[i] = fb_get(c, tid, a->order, &f) ? f : FB_NONE;
	}
	as_barrier_wait(&c->bar);
	if (tid == 0) {
		as_rng_t shuf;
		as_rng_seed(&shuf, c->seed, 0);
		uint64_t n = a->share * c->threads;
		for (uint64_t i = n - 1; i > 0; i--) {
			uint64_t j = as_rng_below(&shuf, i + 1);
			uint64_t t = a->blocks[i];
			a->blocks[i] = a->blocks[j];
			a->blocks[j] = t;
		}
	}
	as_barrier_wait(&c->bar);
	uint64_t held = a->share / 2;
	for (uint64_t i = held; i < a->share; i++)
		if (mine[i] != FB_NONE)
			fb_put(c, tid, mine[i], a->order);
	as_barrier_wait(&c->bar);
	if (tid == 0)
		measure(a, 0);
	as_barrier_wait(&c->bar);

	uint64_t k = held * a->churn_pct / 100;
	uint64_t ns = 0;
	uint64_t ops = 0;
	for (unsigned r = 1; r <= a->rounds; r++) {
		// Pick k random held blocks (partial Fisher-Yates into the front),
		// put them, then get k new blocks into the same slots.
		for (uint64_t i = 0; i < k; i++) {
			uint64_t j = i + as_rng_below(&rng, held - i);
			uint64_t t = mine[i];
			mine[i] = mine[j];
			mine[j] = t;
		}
		uint64_t t0 = as_now_ns();
		for (uint64_t i = 0; i < k; i++) {
			if (mine[i] == FB_NONE)
				continue;
			uint64_t lat = as_lat_begin();
			fb_put(c, tid, mine[i], a->order);
			fb_lat_end(lat, FB_CH_FREE);
			ops++;
		}
		for (uint64_t i = 0; i < k; i++) {
			uint64_t f;
			uint64_t lat = as_lat_begin();
			mine[i] = fb_get(c, tid, a->order, &f) ? f : FB_NONE;
			fb_lat_end(lat, FB_CH_ALLOC);
			ops++;
		}
		ns += as_now_ns() - t0;
		as_barrier_wait(&c->bar);
		if (tid == 0)
			measure(a, r);
		as_barrier_wait(&c->bar);
	}
	a->churn_ns[tid] = ns;
	a->churn_ops[tid] = ops;
	for (uint64_t i = 0; i < held; i++)
		if (mine[i] != FB_NONE)
			fb_put(c, tid, mine[i], a->order);
}

void fb_wl_frag(fb_ctx_t *c)
{
	frag_arg_t a = { .c = c };
	a.order = fb_param_order();
	unsigned fill = (unsigned)as_param_u64_range("fill_pct", 1, 100);
	a.churn_pct = (unsigned)as_param_u64_range("churn_pct", 0, 100);
	a.rounds = (unsigned)as_param_u64_range("rounds", 0, 100000);
	a.share = (c->frames * fill / 100 >> a.order) / c->threads;
	if (a.share < 2)
		as_die(2, "frag: frames=%llu too small for order %u and %u threads",
		       (unsigned long long)c->frames, a.order, c->threads);
	a.nhuge = c->frames / FRAME_HUGE_FRAMES;
	size_t bbytes = sizeof(uint64_t) * a.share * c->threads;
	size_t cbytes = sizeof(uint16_t) * a.nhuge;
	size_t sbytes = sizeof(double) * (a.rounds + 1);
	size_t tbytes = sizeof(uint64_t) * c->threads;
	a.blocks = fb_alloc_array(bbytes);
	a.counts = fb_alloc_array(cbytes);
	a.huge_frac = fb_alloc_array(sbytes);
	a.huge_norm = fb_alloc_array(sbytes);
	a.huge_avail = fb_alloc_array(sbytes);
	a.moves = fb_alloc_array(sbytes);
	a.churn_ns = fb_alloc_array(tbytes);
	a.churn_ops = fb_alloc_array(tbytes);
	fb_lat_channels();
	as_probe_run_threads(c->threads, frag_thread, &a);

	unsigned n = a.rounds + 1;
	as_probe_series("free_huge_frac", a.huge_frac, n);
	as_probe_series("free_huge_norm", a.huge_norm, n);
	as_probe_series("free_huge_avail_frac", a.huge_avail, n);
	as_probe_series("compaction_moves", a.moves, n);
	if (a.rounds >= 10) {
		as_probe_metric("free_huge_frac_r10", a.huge_frac[10]);
		as_probe_metric("compaction_moves_r10", a.moves[10]);
	} else {
		as_probe_metric_null("free_huge_frac_r10", "fewer than 10 rounds");
		as_probe_metric_null("compaction_moves_r10", "fewer than 10 rounds");
	}
	as_probe_metric("free_huge_frac", a.huge_frac[a.rounds]);
	as_probe_metric("free_huge_norm", a.huge_norm[a.rounds]);
	as_probe_metric("free_huge_avail_frac", a.huge_avail[a.rounds]);
	as_probe_metric("compaction_moves", a.moves[a.rounds]);
	as_probe_metric("compaction_moves_r0", a.moves[0]);
	double ns = 0;
	for (unsigned t = 0; t < c->threads; t++)
		ns += a.churn_ops[t] ? (double)a.churn_ns[t] / (double)a.churn_ops[t] : 0;
	if (a.rounds && a.churn_pct)
		as_probe_metric("churn_op_ns", ns / c->threads);
	fb_free_array(a.blocks, bbytes);
	fb_free_array(a.counts, cbytes);
	fb_free_array(a.huge_frac, sbytes);
	fb_free_array(a.huge_norm, sbytes);
	fb_free_array(a.huge_avail, sbytes);
	fb_free_array(a.moves, sbytes);
	fb_free_array(a.churn_ns, tbytes);
	fb_free_array(a.churn_ops, tbytes);
}
