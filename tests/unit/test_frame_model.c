// SPDX-License-Identifier: MIT
// Differential test of every frame allocator in the build (frame_allocators)
// against a reference bitmap model, single-threaded. Seeded random sequences
// of get/put/drain over small memories (4, 16 and 64 MiB), every order 0-10,
// from 3 core slots (so per-core caches and cross-core puts are exercised),
// in three phases (grow to near full, churn, shrink).
//   After every get:  the block is in range, aligned to its order, and every
//                     frame of it is free in the model.
//   Every 64 ops:     stats.frames and stats.free_frames equal the model
//                     (the interface counts frames in per-core caches as
//                     free); free_counts equal the model's per-2-MiB free
//                     counts; stats.free_huge is at most the model's count of
//                     wholly free 2 MiB frames (an allocator may hold part of
//                     one in a per-core cache, so it may report fewer).
//   Every 512 ops and after every phase: every core is drained, then
//                     free_huge must equal the model exactly too, and
//                     validate must pass.
// A get that fails although the model has a free aligned block is allowed
// (per-core caches, reservations, bounded retries) and only counted; the
// exhaustion test in test_frame_bad.c checks that everything can be got.
#include <string.h>

#include "as/meta.h"
#include "as/rng.h"
#include "frame.h"
#include "test.h"

#define TM_CORES 3

typedef struct tm_block_s {
	uint64_t frame;
	unsigned order;
} tm_block_t;

typedef struct tm_model_s {
	uint64_t frames;
	uint64_t free;
	uint8_t *used; ///< one byte per frame
	tm_block_t *live;
	uint64_t nlive;
} tm_model_t;

static bool tm_range_free(const tm_model_t *m, uint64_t f, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		if (m->used[f + i])
			return false;
	return true;
}

/// Does the model hold a free naturally aligned block of this order?
static bool tm_has_block(const tm_model_t *m, unsigned order)
{
	uint64_t n = 1ULL << order;
	for (uint64_t f = 0; f + n <= m->frames; f += n)
		if (tm_range_free(m, f, n))
			return true;
	return false;
}

typedef struct tm_run_s {
	const struct frame_ops *ops;
	frame_alloc_t *fa;
	tm_model_t m;
	as_rng_t rng;
	uint16_t *counts;
	uint64_t ops_done;
	uint64_t spurious; ///< gets that failed while the model had a block
	char msg[512];
} tm_run_t;

/// Compare counts with the model; drained = every core was drained before.
static bool tm_compare(tm_run_t *r, bool drained)
{
	frame_stats_t s;
	uint64_t nh = r->m.frames / FRAME_HUGE_FRAMES;
	uint64_t whole = 0;
	memset(&s, 0, sizeof(s));
	r->ops->stats(r->fa, &s);
	if (s.frames != r->m.frames || s.free_frames != r->m.free) {
		snprintf(r->msg, sizeof(r->msg),
			 "op %llu%s: stats frames %llu free %llu, model frames %llu free %llu",
			 (unsigned long long)r->ops_done, drained ? " (drained)" : "",
			 (unsigned long long)s.frames, (unsigned long long)s.free_frames,
			 (unsigned long long)r->m.frames, (unsigned long long)r->m.free);
		return false;
	}
	r->ops->free_counts(r->fa, r->counts);
	for (uint64_t h = 0; h < nh; h++) {
		uint64_t mf = 0;
		for (uint64_t i = 0; i < FRAME_HUGE_FRAMES; i++)
			mf += !r->m.used[h * FRAME_HUGE_FRAMES + i];
		whole += mf == FRAME_HUGE_FRAMES;
		if (r->counts[h] != mf) {
			snprintf(r->msg, sizeof(r->msg),
				 "op %llu%s: free_counts[%llu] = %u, model %llu",
				 (unsigned long long)r->ops_done, drained ? " (drained)" : "",
				 (unsigned long long)h, r->counts[h], (unsigned long long)mf);
			return false;
		}
	}
	if (drained ? s.free_huge != whole : s.free_huge > whole) {
		snprintf(r->msg, sizeof(r->msg), "op %llu%s: stats.free_huge %llu, model %llu",
			 (unsigned long long)r->ops_done, drained ? " (drained)" : "",
			 (unsigned long long)s.free_huge, (unsigned long long)whole);
		return false;
	}
	return true;
}

static bool tm_drain_validate(tm_run_t *r)
{
	char why[256] = "";
	for (unsigned c = 0; c < TM_CORES; c++)
		r->ops->drain(r->fa, c);
	if (!tm_compare(r, true))
		return false;
	if (!r->ops->validate(r->fa, why, sizeof(why))) {
		snprintf(r->msg, sizeof(r->msg), "op %llu: validate: %s",
			 (unsigned long long)r->ops_done, why);
		return false;
	}
	return true;
}

static unsigned tm_pick_order(as_rng_t *rng)
{
	uint64_t x = as_rng_below(rng, 100);
	if (x < 60)
		return (unsigned)as_rng_below(rng, 4); // 0-3
	if (x < 85)
		return 4 + (unsigned)as_rng_below(rng, 5); // 4-8
	return 9 + (unsigned)as_rng_below(rng, 2); // 9-10
}

static bool tm_get(tm_run_t *r)
{
	unsigned core = (unsigned)as_rng_below(&r->rng, TM_CORES);
	unsigned order = tm_pick_order(&r->rng);
	frame_result_t res = r->ops->get(r->fa, core, order);
	if (res.err != FRAME_OK) {
		if (res.err != FRAME_ERR_MEMORY && res.err != FRAME_ERR_RETRY) {
			snprintf(r->msg, sizeof(r->msg), "op %llu: get(core %u, order %u): %s",
				 (unsigned long long)r->ops_done, core, order,
				 frame_strerror(res.err));
			return false;
		}
		r->spurious += tm_has_block(&r->m, order);
		return true;
	}
	uint64_t n = 1ULL << order;
	uint64_t f = res.frame;
	if (f >= r->m.frames || f + n > r->m.frames || (f & (n - 1)) || !tm_range_free(&r->m, f, n)) {
		snprintf(r->msg, sizeof(r->msg),
			 "op %llu: get(core %u, order %u) = frame %llu: %s",
			 (unsigned long long)r->ops_done, core, order, (unsigned long long)f,
			 f + n > r->m.frames ? "out of range" :
			 (f & (n - 1))        ? "misaligned" :
						"overlaps an allocated block");
		return false;
	}
	memset(r->m.used + f, 1, n);
	r->m.free -= n;
	r->m.live[r->m.nlive++] = (tm_block_t){ f, order };
	return true;
}

static bool tm_put(tm_run_t *r)
{
	if (!r->m.nlive)
		return true;
	unsigned core = (unsigned)as_rng_below(&r->rng, TM_CORES);
	uint64_t i = as_rng_below(&r->rng, r->m.nlive);
	tm_block_t b = r->m.live[i];
	frame_err_t e = r->ops->put(r->fa, core, b.frame, b.order);
	if (e != FRAME_OK) {
		snprintf(r->msg, sizeof(r->msg), "op %llu: put(core %u, frame %llu, order %u): %s",
			 (unsigned long long)r->ops_done, core, (unsigned long long)b.frame,
			 b.order, frame_strerror(e));
		return false;
	}
	memset(r->m.used + b.frame, 0, 1ULL << b.order);
	r->m.free += 1ULL << b.order;
	r->m.live[i] = r->m.live[--r->m.nlive];
	return true;
}

/// One phase: `ops` random operations, get with probability get_pct.
static bool tm_phase(tm_run_t *r, uint64_t ops, unsigned get_pct)
{
	for (uint64_t k = 0; k < ops; k++, r->ops_done++) {
		uint64_t x = as_rng_below(&r->rng, 100);
		bool ok;
		if (x < get_pct)
			ok = tm_get(r);
		else if (x < 97)
			ok = tm_put(r);
		else {
			r->ops->drain(r->fa, (unsigned)as_rng_below(&r->rng, TM_CORES));
			ok = true;
		}
		if (!ok)
			return false;
		if ((k & 63) == 63 && !tm_compare(r, false))
			return false;
		if ((k & 511) == 511 && !tm_drain_validate(r))
			return false;
	}
	return tm_drain_validate(r);
}

/// Whole run over `frames`; false with r->msg on the first disagreement.
static bool tm_run(const struct frame_ops *ops, uint64_t frames, uint64_t seed, uint64_t ops_n,
		   tm_run_t *r)
{
	char err[256] = "";
	bool ok = false;
	memset(r, 0, sizeof(*r));
	r->ops = ops;
	r->m.frames = frames;
	r->m.free = frames;
	as_rng_seed(&r->rng, seed, 0);
	frame_config_t cfg = { .frames = frames, .cores = TM_CORES, .options = NULL };
	r->fa = ops->create(&cfg, err, sizeof(err));
	if (!r->fa) {
		snprintf(r->msg, sizeof(r->msg), "create(%llu frames): %s",
			 (unsigned long long)frames, err);
		return false;
	}
	r->m.used = as_meta_alloc(frames, 64);
	r->m.live = as_meta_alloc(sizeof(tm_block_t) * frames, 64);
	r->counts = as_meta_alloc(sizeof(uint16_t) * (frames / FRAME_HUGE_FRAMES), 64);
	if (!r->m.used || !r->m.live || !r->counts) {
		snprintf(r->msg, sizeof(r->msg), "no memory for the model");
		goto out;
	}
	if (!tm_drain_validate(r))
		goto out;
	ok = tm_phase(r, ops_n, 85) && tm_phase(r, ops_n, 52) && tm_phase(r, ops_n, 15);
	// Put everything back: all frames and huge frames free again.
	while (ok && r->m.nlive)
		ok = tm_put(r);
	ok = ok && tm_drain_validate(r);
out:
	as_meta_free(r->m.used, frames, 64);
	as_meta_free(r->m.live, sizeof(tm_block_t) * frames, 64);
	as_meta_free(r->counts, sizeof(uint16_t) * (frames / FRAME_HUGE_FRAMES), 64);
	ops->destroy(r->fa);
	return ok;
}

TEST(frame_model_all)
{
	static const uint64_t sizes[] = { 1024, 4096, 16384 }; // 4, 16, 64 MiB
	uint64_t ops_n = (uint64_t)(6000 * as_test_scale());
	unsigned n = 0;
	tm_run_t *r = as_meta_alloc(sizeof(*r), 64);
	check(r != NULL);
	if (ops_n < 600)
		ops_n = 600;
	for (const struct frame_ops *const *o = frame_allocators; *o; o++, n++) {
		uint64_t spurious = 0;
		uint64_t done = 0;
		for (unsigned s = 0; s < AS_ARRAY_LEN(sizes); s++) {
			for (uint64_t seed = 1; seed <= 2; seed++) {
				if (!tm_run(*o, sizes[s], seed * 1000 + s, ops_n, r))
					check_fail("%s, %llu frames, seed %llu: %s", (*o)->name,
						   (unsigned long long)sizes[s],
						   (unsigned long long)(seed * 1000 + s), r->msg);
				spurious += r->spurious;
				done += r->ops_done;
			}
		}
		printf("  model: %s agreed over %llu ops (%llu gets failed while the model had a "
		       "free block)\n",
		       (*o)->name, (unsigned long long)done, (unsigned long long)spurious);
	}
	printf("  model test ran on %u frame allocators\n", n);
	as_meta_free(r, sizeof(*r), 64);
}

// ---------------------------------------------------------------------------
// Self-test: the differential test must catch broken allocators. Each mutant
// wraps the first allocator of the build and breaks one promise; tm_run must
// report a disagreement for every one of them.

enum tm_mutant_e {
	TM_MUT_MISALIGN, ///< every 97th get of order >= 1 returns frame + 1
	TM_MUT_REUSE,    ///< every 97th get returns the previous block again
	TM_MUT_LEAK,     ///< every 97th put says ok but frees nothing
	TM_MUT_COUNTS,   ///< free_counts off by one in the first 2 MiB frame
	TM_MUT_N,
};

static const struct frame_ops *tm_inner;
static enum tm_mutant_e tm_mode;
static uint64_t tm_calls;
static frame_result_t tm_last;

static frame_alloc_t *tm_mut_create(const frame_config_t *cfg, char *err, size_t len)
{
	tm_calls = 0;
	tm_last = (frame_result_t){ 0, FRAME_ERR_MEMORY };
	return tm_inner->create(cfg, err, len);
}

static frame_result_t tm_mut_get(frame_alloc_t *fa, unsigned core, unsigned order)
{
	bool hit = ++tm_calls % 97 == 0;
	if (hit && tm_mode == TM_MUT_REUSE && tm_last.err == FRAME_OK)
		return tm_last;
	frame_result_t r = tm_inner->get(fa, core, order);
	if (r.err == FRAME_OK)
		tm_last = r;
	if (hit && tm_mode == TM_MUT_MISALIGN && order >= 1 && r.err == FRAME_OK)
		r.frame++;
	return r;
}

static frame_err_t tm_mut_put(frame_alloc_t *fa, unsigned core, uint64_t frame, unsigned order)
{
	if (tm_mode == TM_MUT_LEAK && ++tm_calls % 97 == 0)
		return FRAME_OK;
	return tm_inner->put(fa, core, frame, order);
}

static void tm_mut_counts(frame_alloc_t *fa, uint16_t *out)
{
	tm_inner->free_counts(fa, out);
	if (tm_mode == TM_MUT_COUNTS && ++tm_calls > 5)
		out[0] ^= 1;
}

static void tm_mut_drain(frame_alloc_t *fa, unsigned core) { tm_inner->drain(fa, core); }
static void tm_mut_destroy(frame_alloc_t *fa) { tm_inner->destroy(fa); }
static void tm_mut_stats(frame_alloc_t *fa, frame_stats_t *s) { tm_inner->stats(fa, s); }
static bool tm_mut_validate(frame_alloc_t *fa, char *why, size_t len)
{
	return tm_inner->validate(fa, why, len);
}

static const struct frame_ops tm_mut_ops = {
	.name = "mutant",
	.desc = "a real allocator with one promise broken (self-test)",
	.create = tm_mut_create,
	.destroy = tm_mut_destroy,
	.get = tm_mut_get,
	.put = tm_mut_put,
	.drain = tm_mut_drain,
	.stats = tm_mut_stats,
	.free_counts = tm_mut_counts,
	.validate = tm_mut_validate,
};

TEST(frame_model_selftest_catches_mutants)
{
	static const char *const names[] = { "misaligned get", "block handed out twice",
					     "put that frees nothing", "wrong free_counts" };
	tm_run_t *r = as_meta_alloc(sizeof(*r), 64);
	check(r != NULL);
	tm_inner = frame_allocators[0];
	if (!tm_inner) {
		printf("  no frame allocator in this build: mutants skipped\n");
		as_meta_free(r, sizeof(*r), 64);
		return;
	}
	for (unsigned m = 0; m < TM_MUT_N; m++) {
		tm_mode = (enum tm_mutant_e)m;
		if (tm_run(&tm_mut_ops, 4096, 7, 3000, r))
			check_fail("the model test missed a mutant of %s: %s", tm_inner->name,
				   names[m]);
		printf("  mutant of %s (%s) caught: %s\n", tm_inner->name, names[m], r->msg);
	}
	as_meta_free(r, sizeof(*r), 64);
}
