// SPDX-License-Identifier: MIT
// Unit tests of the llfree frame allocator through its ops table and its
// internals: every order, huge frames and order-10 pairs, reservations and
// drain, rejected bad puts (state unchanged), exhaustion, options, the
// corruption checks of validate, recovery from an existing lower region, and
// threads sharing core slots.
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../../allocators/frame/llfree/child.h"
#include "../../allocators/frame/llfree/internal.h"
#include "../../allocators/frame/llfree/local.h"
#include "../../allocators/frame/llfree/tree.h"
#include "as/rng.h"
#include "frame.h"
#include "test.h"

extern const struct frame_ops llfree_ops;

/// check_eq on error codes (enums compare as int).
#define check_eq_err(actual, expected) check_eq("%d", (int)(actual), (int)(expected))

static frame_alloc_t *mk(uint64_t frames, unsigned cores, const char *opts)
{
	char err[256];
	frame_config_t cfg = { .frames = frames, .cores = cores, .options = opts };
	frame_alloc_t *fa = llfree_ops.create(&cfg, err, sizeof(err));
	if (!fa)
		fprintf(stderr, "  create: %s\n", err);
	return fa;
}

static bool valid(frame_alloc_t *fa)
{
	char why[256];
	bool ok = llfree_ops.validate(fa, why, sizeof(why));
	if (!ok)
		fprintf(stderr, "  validate: %s\n", why);
	return ok;
}

static uint64_t free_frames(frame_alloc_t *fa)
{
	frame_stats_t st;
	llfree_ops.stats(fa, &st);
	return st.free_frames;
}

TEST(llfree_options)
{
	char err[256];
	frame_config_t cfg = { .frames = 1 << 16, .cores = 2, .options = "bogus=1" };
	check(llfree_ops.create(&cfg, err, sizeof(err)) == NULL);
	check(strstr(err, "bogus") != NULL);
	cfg.options = "free_reserve=x";
	check(llfree_ops.create(&cfg, err, sizeof(err)) == NULL);
	cfg.options = "free_reserve=3";
	frame_alloc_t *fa = llfree_ops.create(&cfg, err, sizeof(err));
	check(fa != NULL);
	check_eq("%u", llf_of(fa)->free_reserve, 3u);
	llfree_ops.destroy(fa);
	cfg.options = NULL;
	cfg.frames = 1000; // not a multiple of 1024
	check(llfree_ops.create(&cfg, err, sizeof(err)) == NULL);
	cfg.frames = 1024;
	cfg.cores = 0;
	check(llfree_ops.create(&cfg, err, sizeof(err)) == NULL);
}

TEST(llfree_every_order)
{
	frame_alloc_t *fa = mk(1 << 16, 2, NULL);
	check(fa);
	uint64_t frames[FRAME_MAX_ORDER + 1];
	for (unsigned o = 0; o <= FRAME_MAX_ORDER; o++) {
		frame_result_t r = llfree_ops.get(fa, o % 2, o);
		check(frame_ok(r));
		check(r.frame % (1ull << o) == 0 && r.frame < (1 << 16));
		frames[o] = r.frame;
		check(valid(fa));
	}
	uint64_t used = (1ull << (FRAME_MAX_ORDER + 1)) - 1;
	check_eq("%llu", (unsigned long long)free_frames(fa),
		 (unsigned long long)((1 << 16) - used));
	for (unsigned o = 0; o <= FRAME_MAX_ORDER; o++) {
		check_eq_err(llfree_ops.put(fa, 0, frames[o], o), FRAME_OK);
		check(valid(fa));
	}
	check_eq("%llu", (unsigned long long)free_frames(fa), 1ull << 16);
	check_eq_err(llfree_ops.get(fa, 0, FRAME_MAX_ORDER + 1).err, FRAME_ERR_ARGUMENT);
	check_eq_err(llfree_ops.get(fa, 2, 0).err, FRAME_ERR_ARGUMENT);
	llfree_ops.destroy(fa);
}

TEST(llfree_huge_and_pairs)
{
	frame_alloc_t *fa = mk(1 << 14, 1, NULL); // 32 children, one tree
	check(fa);
	frame_stats_t st;
	llfree_ops.stats(fa, &st);
	check_eq("%llu", (unsigned long long)st.free_huge, 32ull);
	frame_result_t h = llfree_ops.get(fa, 0, 9);
	check(frame_ok(h) && h.frame % 512 == 0);
	check_eq("%u", as_atomic_load_relaxed(llf_child(llf_of(fa), h.frame / 512)),
		 LLF_CHILD_HUGE);
	frame_result_t p = llfree_ops.get(fa, 0, 10);
	check(frame_ok(p) && p.frame % 1024 == 0);
	llfree_ops.stats(fa, &st);
	check_eq("%llu", (unsigned long long)st.free_huge, 29ull);
	// wrong orders are caught by the markers
	check_eq_err(llfree_ops.put(fa, 0, h.frame, 0), FRAME_ERR_ARGUMENT);
	check_eq_err(llfree_ops.put(fa, 0, p.frame, 9), FRAME_ERR_ARGUMENT);
	check_eq_err(llfree_ops.put(fa, 0, p.frame + 512, 9), FRAME_ERR_ARGUMENT);
	frame_result_t s = llfree_ops.get(fa, 0, 0);
	check(frame_ok(s));
	check_eq_err(llfree_ops.put(fa, 0, s.frame & ~511ull, 9), FRAME_ERR_ARGUMENT);
	check(valid(fa));
	// two order-9 frames in one pair are not an order-10 block
	frame_result_t a = llfree_ops.get(fa, 0, 9), b = llfree_ops.get(fa, 0, 9);
	check(frame_ok(a) && frame_ok(b));
	uint64_t lo = AS_MIN(a.frame, b.frame);
	if (lo % 1024 == 0 && AS_MAX(a.frame, b.frame) == lo + 512)
		check_eq_err(llfree_ops.put(fa, 0, lo, 10), FRAME_ERR_ARGUMENT);
	check_eq_err(llfree_ops.put(fa, 0, a.frame, 9), FRAME_OK);
	check_eq_err(llfree_ops.put(fa, 0, b.frame, 9), FRAME_OK);
	check_eq_err(llfree_ops.put(fa, 0, h.frame, 9), FRAME_OK);
	check_eq_err(llfree_ops.put(fa, 0, h.frame, 9), FRAME_ERR_ARGUMENT);
	check_eq_err(llfree_ops.put(fa, 0, p.frame, 10), FRAME_OK);
	check_eq_err(llfree_ops.put(fa, 0, s.frame, 0), FRAME_OK);
	check(valid(fa));
	// exhaust order 10: exactly 16 pairs
	unsigned n = 0;
	while (frame_ok(llfree_ops.get(fa, 0, 10)))
		n++;
	check_eq("%u", n, 16u);
	check_eq("%llu", (unsigned long long)free_frames(fa), 0ull);
	check(valid(fa));
	llfree_ops.destroy(fa);
}

// A put that must fail leaves every counter, bit and reservation as it was.
TEST(llfree_bad_puts_unchanged)
{
	const uint64_t F = 1 << 15;
	frame_alloc_t *fa = mk(F, 2, NULL);
	check(fa);
	llf_t *l = llf_of(fa);
	frame_result_t r0 = llfree_ops.get(fa, 0, 0), r3 = llfree_ops.get(fa, 1, 3),
		       r7 = llfree_ops.get(fa, 0, 7);
	check(frame_ok(r0) && frame_ok(r3) && frame_ok(r7));
	size_t lb = l->lower_bytes;
	uint8_t *snap = malloc(lb);
	uint16_t trees[64];
	check(l->trees <= 64);
	uint64_t locals[2];
	memcpy(snap, l->lower, lb);
	for (unsigned t = 0; t < l->trees; t++)
		trees[t] = as_atomic_load_relaxed(&l->tree[t]);
	for (unsigned k = 0; k < 2; k++)
		locals[k] = as_atomic_load_relaxed(&l->local[k].word);
	struct { uint64_t frame; unsigned order; } bad[] = {
		{ r0.frame, 11 },              // order > 10
		{ F, 0 },                      // out of range
		{ F + 1024, 10 },              // out of range
		{ r3.frame + 1, 3 },           // misaligned
		{ r3.frame, 4 },               // not allocated with this order
		{ r0.frame ^ 1, 0 },           // a free frame
		{ r7.frame + 128, 7 },         // free run next to an allocated one
		{ r7.frame, 8 },               // half of it is free
		{ (r0.frame + 4096) & ~4095ull, 9 }, // non-huge child
		{ 0x4000, 10 },                // free pair
	};
	for (unsigned i = 0; i < AS_ARRAY_LEN(bad); i++) {
		check_eq_err(llfree_ops.put(fa, i % 2, bad[i].frame, bad[i].order),
			 FRAME_ERR_ARGUMENT);
		check(memcmp(snap, l->lower, lb) == 0);
		for (unsigned t = 0; t < l->trees; t++)
			check_eq("%u", as_atomic_load_relaxed(&l->tree[t]), trees[t]);
		for (unsigned k = 0; k < 2; k++)
			check_eq("%llx", (unsigned long long)as_atomic_load_relaxed(&l->local[k].word),
				 (unsigned long long)locals[k]);
		check(valid(fa));
	}
	free(snap);
	check_eq_err(llfree_ops.put(fa, 1, r0.frame, 0), FRAME_OK);
	check_eq_err(llfree_ops.put(fa, 1, r0.frame, 0), FRAME_ERR_ARGUMENT); // double
	check_eq_err(llfree_ops.put(fa, 0, r3.frame, 3), FRAME_OK);
	check_eq_err(llfree_ops.put(fa, 0, r7.frame, 7), FRAME_OK);
	check(valid(fa));
	check_eq("%llu", (unsigned long long)free_frames(fa), (unsigned long long)F);
	llfree_ops.destroy(fa);
}

TEST(llfree_reserve_drain_sync)
{
	const uint64_t F = 4 * LLF_TREE_FRAMES;
	frame_alloc_t *fa = mk(F, 2, NULL);
	check(fa);
	llf_t *l = llf_of(fa);
	frame_result_t a = llfree_ops.get(fa, 0, 0), b = llfree_ops.get(fa, 1, 0);
	check(frame_ok(a) && frame_ok(b));
	uint64_t ta = a.frame / LLF_TREE_FRAMES, tb = b.frame / LLF_TREE_FRAMES;
	check(ta != tb); // cores start far apart
	uint64_t w = as_atomic_load_relaxed(&l->local[0].word);
	check(llf_local_present(w) && llf_local_tree(w) == ta);
	check_eq("%u", llf_local_free(w), LLF_TREE_FRAMES - 1u);
	check(llf_tree_is_reserved(as_atomic_load_relaxed(&l->tree[ta])));
	check(valid(fa));
	// core 1 frees core 0's frame: goes to the tree entry
	check_eq_err(llfree_ops.put(fa, 1, a.frame, 0), FRAME_OK);
	check_eq("%u", llf_tree_free(as_atomic_load_relaxed(&l->tree[ta])), 1u);
	check(valid(fa));
	// core 0 takes its whole local count, then sync pulls the free in:
	// the tree is then completely used
	unsigned n = llf_local_free(as_atomic_load_relaxed(&l->local[0].word));
	for (unsigned i = 0; i < n; i++)
		check(frame_ok(llfree_ops.get(fa, 0, 0)));
	frame_result_t c = llfree_ops.get(fa, 0, 0);
	// the last free frame of the tree is served from it (first fit in the
	// hint's word may have handed out `a` again earlier)
	check(frame_ok(c) && c.frame / LLF_TREE_FRAMES == ta);
	check(llf_tree_free(as_atomic_load_relaxed(&l->tree[ta])) == 0);
	check(valid(fa));
	llfree_ops.drain(fa, 0);
	w = as_atomic_load_relaxed(&l->local[0].word);
	check(!llf_local_present(w));
	check(!llf_tree_is_reserved(as_atomic_load_relaxed(&l->tree[ta])));
	check(valid(fa));
	llfree_ops.drain(fa, 0); // idempotent
	check(valid(fa));
	// the full tree is not reserved again: the next get goes elsewhere
	frame_result_t d = llfree_ops.get(fa, 0, 0);
	check(frame_ok(d) && d.frame / LLF_TREE_FRAMES != ta);
	check(valid(fa));
	llfree_ops.destroy(fa);
}

TEST(llfree_free_reserve)
{
	const uint64_t F = 4 * LLF_TREE_FRAMES;
	frame_alloc_t *fa = mk(F, 2, "free_reserve=3");
	check(fa);
	llf_t *l = llf_of(fa);
	static uint64_t got[2048];
	for (unsigned i = 0; i < 2048; i++) {
		frame_result_t r = llfree_ops.get(fa, 1, 0);
		check(frame_ok(r));
		got[i] = r.frame;
	}
	llfree_ops.drain(fa, 1);
	uint64_t t = got[0] / LLF_TREE_FRAMES;
	for (unsigned i = 0; i < 1030; i++)
		check_eq_err(llfree_ops.put(fa, 0, got[i], 0), FRAME_OK);
	uint64_t w = as_atomic_load_relaxed(&l->local[0].word);
	check(llf_local_present(w) && llf_local_tree(w) == t);
	check(valid(fa));
	for (unsigned i = 1030; i < 2048; i++)
		check_eq_err(llfree_ops.put(fa, 1, got[i], 0), FRAME_OK);
	check(valid(fa));
	check_eq("%llu", (unsigned long long)free_frames(fa), (unsigned long long)F);
	llfree_ops.destroy(fa);
}

// Fill everything with mixed orders across cores, hit MEMORY (no hang),
// then return everything; a byte map checks that blocks never overlap.
TEST(llfree_exhaustion_random)
{
	const uint64_t F = 3 * LLF_TREE_FRAMES + 2048; // partial last tree
	frame_alloc_t *fa = mk(F, 3, NULL);
	check(fa);
	uint8_t *map = calloc(F, 1);
	uint64_t *fr = malloc(F * sizeof(uint64_t));
	uint8_t *ord = malloc(F);
	unsigned live = 0;
	as_rng_t rng;
	as_rng_seed(&rng, 5, 0);
	uint64_t used = 0;
	for (unsigned step = 0; step < 200000; step++) {
		bool alloc = as_rng_below(&rng, 100) < 70 || live == 0;
		unsigned core = (unsigned)as_rng_below(&rng, 3);
		if (alloc) {
			unsigned o = as_rng_below(&rng, 4) ? 0 : (unsigned)as_rng_below(&rng, 11);
			frame_result_t r = llfree_ops.get(fa, core, o);
			if (!frame_ok(r)) {
				check_eq_err(r.err, FRAME_ERR_MEMORY);
				continue;
			}
			check(r.frame % (1ull << o) == 0 && r.frame + (1ull << o) <= F);
			for (uint64_t i = r.frame; i < r.frame + (1ull << o); i++) {
				check(!map[i]);
				map[i] = 1;
			}
			fr[live] = r.frame;
			ord[live++] = (uint8_t)o;
			used += 1ull << o;
		} else {
			unsigned i = (unsigned)as_rng_below(&rng, live);
			check_eq_err(llfree_ops.put(fa, core, fr[i], ord[i]), FRAME_OK);
			memset(map + fr[i], 0, 1ull << ord[i]);
			used -= 1ull << ord[i];
			fr[i] = fr[--live];
			ord[i] = ord[live];
		}
		if (step % 20000 == 0) {
			check(valid(fa));
			check_eq("%llu", (unsigned long long)free_frames(fa),
				 (unsigned long long)(F - used));
		}
	}
	// order 0 must find every remaining free frame
	frame_result_t r;
	while (frame_ok(r = llfree_ops.get(fa, live % 3, 0))) {
		check(!map[r.frame]);
		map[r.frame] = 1;
		fr[live] = r.frame;
		ord[live++] = 0;
		used++;
	}
	check_eq_err(r.err, FRAME_ERR_MEMORY);
	check_eq("%llu", (unsigned long long)used, (unsigned long long)F);
	check(valid(fa));
	while (live) {
		live--;
		check_eq_err(llfree_ops.put(fa, live % 3, fr[live], ord[live]), FRAME_OK);
	}
	check(valid(fa));
	frame_stats_t st;
	llfree_ops.stats(fa, &st);
	check_eq("%llu", (unsigned long long)st.free_frames, (unsigned long long)F);
	check_eq("%llu", (unsigned long long)st.free_huge, (unsigned long long)(F / 512));
	free(map);
	free(fr);
	free(ord);
	llfree_ops.destroy(fa);
}

TEST(llfree_validate_detects_corruption)
{
	frame_alloc_t *fa = mk(2 * LLF_TREE_FRAMES, 2, NULL);
	check(fa);
	llf_t *l = llf_of(fa);
	frame_result_t r = llfree_ops.get(fa, 0, 0);
	check(frame_ok(r) && valid(fa));
	char why[256];
	uint64_t c = r.frame / 512, t = r.frame / LLF_TREE_FRAMES;
	// child counter off by one
	_Atomic uint16_t *cp = llf_child(l, c);
	uint16_t cv = as_atomic_load_relaxed(cp);
	as_atomic_store_relaxed(cp, (uint16_t)(cv - 1));
	check(!llfree_ops.validate(fa, why, sizeof(why)));
	check(strstr(why, "child") != NULL);
	as_atomic_store_relaxed(cp, cv);
	check(valid(fa));
	// a bit flipped in the bitfield
	_Atomic uint64_t *wp = &llf_field(l, c)[5];
	as_atomic_store_relaxed(wp, as_atomic_load_relaxed(wp) ^ 4);
	check(!llfree_ops.validate(fa, why, sizeof(why)));
	as_atomic_store_relaxed(wp, as_atomic_load_relaxed(wp) ^ 4);
	// tree counter, reserved flag, local counter
	uint16_t tv = as_atomic_load_relaxed(&l->tree[t]);
	as_atomic_store_relaxed(&l->tree[t], (uint16_t)(tv + 1));
	check(!llfree_ops.validate(fa, why, sizeof(why)));
	as_atomic_store_relaxed(&l->tree[t], (uint16_t)(tv & ~LLF_TREE_RESERVED));
	check(!llfree_ops.validate(fa, why, sizeof(why)));
	check(strstr(why, "reserved") != NULL);
	as_atomic_store_relaxed(&l->tree[t], tv);
	uint64_t lw = as_atomic_load_relaxed(&l->local[0].word);
	as_atomic_store_relaxed(&l->local[0].word, lw + 1);
	check(!llfree_ops.validate(fa, why, sizeof(why)));
	as_atomic_store_relaxed(&l->local[0].word, lw);
	// a huge marker over a used bitfield, a lone order-10 half
	as_atomic_store_relaxed(cp, (uint16_t)LLF_CHILD_HUGE);
	check(!llfree_ops.validate(fa, why, sizeof(why)));
	as_atomic_store_relaxed(cp, cv);
	uint64_t fc = (c + 2) ^ 1; // a free child in the same tree
	_Atomic uint16_t *fp = llf_child(l, fc);
	as_atomic_store_relaxed(fp, (uint16_t)LLF_CHILD_HUGE2);
	check(!llfree_ops.validate(fa, why, sizeof(why)));
	as_atomic_store_relaxed(fp, (uint16_t)LLF_CHILD_FRAMES);
	check(valid(fa));
	check_eq_err(llfree_ops.put(fa, 0, r.frame, 0), FRAME_OK);
	check(valid(fa));
	llfree_ops.destroy(fa);
}

// The lower region is position independent: copied elsewhere it is
// re-attached, the upper level rebuilt (shallow and deep), and frames
// allocated before can be freed through the new instance.
TEST(llfree_recovery)
{
	const uint64_t F = 2 * LLF_TREE_FRAMES + 1024;
	frame_alloc_t *fa = mk(F, 2, NULL);
	check(fa);
	llf_t *l = llf_of(fa);
	uint64_t fr[300];
	unsigned ord[300];
	for (unsigned i = 0; i < 300; i++) {
		ord[i] = i % 50 == 0 ? 9 + i % 2 : i % 4;
		frame_result_t r = llfree_ops.get(fa, i % 2, ord[i]);
		check(frame_ok(r));
		fr[i] = r.frame;
	}
	frame_stats_t before;
	llfree_ops.stats(fa, &before);
	size_t lb = l->lower_bytes;
	char err[256];
	// case 0: clean shutdown, shallow; 1: deep asked for, stale counter;
	// 2: shallow asked for but the region is marked crashed, stale counter
	for (int kase = 0; kase <= 2; kase++) {
		bool deep = kase == 1;
		void *copy = aligned_alloc(64, as_align_up(lb, 64));
		memcpy(copy, l->lower, lb);
		((llf_lower_hdr_t *)copy)->crashed = kase == 2;
		if (kase) { // a crash between bits and counter: stale counters
			llf_pair_t *pairs = (llf_pair_t *)((char *)copy +
							   ((llf_lower_hdr_t *)copy)->child_off);
			uint64_t c = fr[1] / 512;
			as_atomic_store_relaxed(&pairs[c / 2].child[c % 2], (uint16_t)7);
		}
		frame_alloc_t *fb = llf_create_from_lower(copy, lb, 3, NULL, deep, err, sizeof(err));
		check(fb != NULL);
		check(valid(fb));
		frame_stats_t after;
		llfree_ops.stats(fb, &after);
		check_eq("%llu", (unsigned long long)after.free_frames,
			 (unsigned long long)before.free_frames);
		check_eq("%llu", (unsigned long long)after.free_huge,
			 (unsigned long long)before.free_huge);
		for (unsigned i = 0; i < 300; i++)
			check_eq_err(llfree_ops.put(fb, i % 3, fr[i], ord[i]), FRAME_OK);
		check(valid(fb));
		check_eq("%llu", (unsigned long long)free_frames(fb), (unsigned long long)F);
		llfree_ops.destroy(fb);
		check_eq("%llu", (unsigned long long)((llf_lower_hdr_t *)copy)->crashed, 0ull);
		free(copy);
	}
	// a region that is not one is refused
	uint64_t junk[64] = { 0 };
	check(llf_create_from_lower(junk, sizeof(junk), 1, NULL, false, err, sizeof(err)) == NULL);
	llfree_ops.destroy(fa);
}

TEST(llfree_metadata)
{
	frame_alloc_t *fa = mk(1ull << 22, 2, NULL); // 16 GiB
	check(fa);
	frame_stats_t st;
	llfree_ops.stats(fa, &st);
	// <= 34 KiB per GiB, all included
	check(st.metadata_bytes <= 16 * 34 * 1024);
	check(st.metadata_bytes >= 16 * 33824);
	check_eq("%llu", (unsigned long long)st.free_huge, 8192ull);
	llfree_ops.destroy(fa);
}

// Threads sharing core slots, racing drains and the free-reserve heuristic
// on a small, nearly full memory: no block is handed out twice, every put
// succeeds, and afterwards everything is free and consistent. (The generic
// stress test in tests/stress covers one thread per core.)
typedef struct llf_mt_s {
	frame_alloc_t *fa;
	uint64_t frames;
	_Atomic uint8_t *own;
	unsigned ops;
	_Atomic unsigned bad;
} llf_mt_t;

static void *llf_mt_thread(void *p)
{
	llf_mt_t *m = p;
	static _Atomic unsigned next_id;
	unsigned id = as_atomic_fetch_add_relaxed(&next_id, 1); // just an id
	as_rng_t rng;
	as_rng_seed(&rng, 99, id);
	uint64_t *fr = malloc(m->frames * sizeof(uint64_t));
	uint8_t *od = malloc(m->frames);
	unsigned live = 0;
	for (unsigned i = 0; i < m->ops; i++) {
		unsigned core = (unsigned)as_rng_below(&rng, 2);
		uint64_t x = as_rng_below(&rng, 1000);
		if (x < 3) {
			llfree_ops.drain(m->fa, core);
		} else if (x < 560 || live == 0) {
			unsigned o = as_rng_below(&rng, 8) ? 0 : (unsigned)as_rng_below(&rng, 11);
			frame_result_t r = llfree_ops.get(m->fa, core, o);
			if (!frame_ok(r)) {
				if (r.err != FRAME_ERR_MEMORY)
					as_atomic_fetch_add_relaxed(&m->bad, 1); // counted only
				continue;
			}
			for (uint64_t f = r.frame; f < r.frame + (1ull << o); f++) {
				uint8_t zero = 0;
				if (!as_atomic_cas_strong_acq_rel(&m->own[f], &zero, 1))
					as_atomic_fetch_add_relaxed(&m->bad, 1); // counted only
			}
			fr[live] = r.frame;
			od[live++] = (uint8_t)o;
		} else {
			unsigned k = (unsigned)as_rng_below(&rng, live);
			for (uint64_t f = fr[k]; f < fr[k] + (1ull << od[k]); f++)
				as_atomic_store_release(&m->own[f], 0);
			if (llfree_ops.put(m->fa, core, fr[k], od[k]) != FRAME_OK)
				as_atomic_fetch_add_relaxed(&m->bad, 1); // counted only
			fr[k] = fr[--live];
			od[k] = od[live];
		}
	}
	while (live--) {
		for (uint64_t f = fr[live]; f < fr[live] + (1ull << od[live]); f++)
			as_atomic_store_release(&m->own[f], 0);
		if (llfree_ops.put(m->fa, id % 2, fr[live], od[live]) != FRAME_OK)
			as_atomic_fetch_add_relaxed(&m->bad, 1); // counted only
	}
	free(fr);
	free(od);
	return NULL;
}

TEST(llfree_mt_shared_slots)
{
	const uint64_t sizes[] = { 4096, 2 * LLF_TREE_FRAMES };
	for (unsigned s = 0; s < AS_ARRAY_LEN(sizes); s++) {
		llf_mt_t m = { .frames = sizes[s], .bad = 0 };
		m.fa = mk(m.frames, 2, "free_reserve=2");
		check(m.fa);
		m.own = calloc(m.frames, 1);
		m.ops = (unsigned)(150000 * as_test_scale());
		pthread_t th[3];
		for (unsigned i = 0; i < 3; i++)
			check(pthread_create(&th[i], NULL, llf_mt_thread, &m) == 0);
		for (unsigned i = 0; i < 3; i++)
			pthread_join(th[i], NULL);
		check_eq("%u", as_atomic_load_relaxed(&m.bad), 0u);
		check(valid(m.fa));
		check_eq("%llu", (unsigned long long)free_frames(m.fa), (unsigned long long)m.frames);
		free((void *)m.own);
		llfree_ops.destroy(m.fa);
	}
}
