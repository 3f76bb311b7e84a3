// SPDX-License-Identifier: MIT
// Unit tests of nbbs (single-threaded): the pure node-word transitions, get
// and put at every order, coalescing back to an all-zero tree, the rollback
// path, bad puts rejected with the metadata unchanged, exhaustion, the
// statistics, both node paddings, and that validate catches corruption.
#include <stdlib.h>
#include <string.h>

#include "../../allocators/frame/nbbs/internal.h"
#include "../../allocators/frame/nbbs/nbbs.h"
#include "as/rng.h"
#include "test.h"

#define NB_FRAMES 4096u

#define check_err(a, e) check_eq("%d", (int)(a), (int)(e))

static frame_alloc_t *nb_new(uint64_t frames, unsigned cores, const char *opts)
{
	frame_config_t cfg = { .frames = frames, .cores = cores, .options = opts };
	char err[160];
	frame_alloc_t *fa = nbbs_ops.create(&cfg, err, sizeof(err));
	if (!fa)
		fprintf(stderr, "  create: %s\n", err);
	return fa;
}

/// True when every node word is 0 and every table entry is 0.
static bool nb_all_zero(const struct frame_alloc_s *fa)
{
	for (unsigned k = 0; k <= NBBS_MAX_ORDER; k++)
		for (uint64_t i = 0; i < fa->count[k]; i++)
			if (as_atomic_load_relaxed(nbbs_node(fa, k, i)) != 0)
				return false;
	for (uint64_t f = 0; f < fa->frames; f++)
		if (as_atomic_load_relaxed(&fa->table[f]) != 0)
			return false;
	return true;
}

static bool nb_valid(frame_alloc_t *fa, bool strict)
{
	char why[200];
	bool ok = nbbs_validate_ex(fa, strict, why, sizeof(why));
	if (!ok)
		fprintf(stderr, "  validate: %s\n", why);
	return ok;
}

TEST(nbbs_transitions)
{
	uint64_t nw = 0;
	// Climb from the left (side 0) into a free parent.
	check(nbbs_climb(0, &nw, 0));
	check_eq("%#llx", (unsigned long long)nw, (unsigned long long)NBBS_OCC_LEFT);
	// Climb from the right clears COAL_RIGHT, keeps the left side's bits.
	check(nbbs_climb(NBBS_OCC_LEFT | NBBS_OCC_RIGHT | NBBS_COAL_RIGHT | NBBS_COAL_LEFT, &nw, 1));
	check_eq("%#llx", (unsigned long long)nw,
		 (unsigned long long)(NBBS_OCC_LEFT | NBBS_OCC_RIGHT | NBBS_COAL_LEFT));
	// Already occupied on our side, no COAL: no change (no write needed).
	check(nbbs_climb(NBBS_OCC_RIGHT, &nw, 1));
	check_eq("%#llx", (unsigned long long)nw, (unsigned long long)NBBS_OCC_RIGHT);
	// Parent allocated whole: conflict.
	check(!nbbs_climb(NBBS_BUSY, &nw, 0));
	check(!nbbs_climb(NBBS_OCC, &nw, 1));

	// Phase 1: stop only when the buddy is occupied and not coalescing.
	check(nbbs_mark_goes_up(0, 0));
	check(nbbs_mark_goes_up(NBBS_OCC_LEFT, 0));
	check(!nbbs_mark_goes_up(NBBS_OCC_RIGHT | NBBS_OCC_LEFT, 0));
	check(nbbs_mark_goes_up(NBBS_OCC_RIGHT | NBBS_COAL_RIGHT | NBBS_OCC_LEFT, 0));
	check(!nbbs_mark_goes_up(NBBS_OCC_LEFT, 1));
	check(nbbs_mark_goes_up(NBBS_OCC_LEFT | NBBS_COAL_LEFT, 1));

	// Phase 3: clear our COAL and OCC only while our COAL is set.
	check(!nbbs_unmark(NBBS_OCC_LEFT, &nw, 0));
	check(nbbs_unmark(NBBS_OCC_LEFT | NBBS_COAL_LEFT | NBBS_OCC_RIGHT, &nw, 0));
	check_eq("%#llx", (unsigned long long)nw, (unsigned long long)NBBS_OCC_RIGHT);
	check(!nbbs_unmark_goes_up(nw, 0));
	check(nbbs_unmark(NBBS_OCC_RIGHT | NBBS_COAL_RIGHT | NBBS_COAL_LEFT, &nw, 1));
	check_eq("%#llx", (unsigned long long)nw, (unsigned long long)NBBS_COAL_LEFT);
	check(nbbs_unmark_goes_up(nw, 1));
	check(nbbs_unmark_goes_up(0, 0));

	// Release fast path: only ours OCC (no COAL) and the buddy occupied,
	// not coalescing, parent not allocated whole.
	check(nbbs_leave_parent(NBBS_OCC_LEFT | NBBS_OCC_RIGHT, &nw, 0));
	check_eq("%#llx", (unsigned long long)nw, (unsigned long long)NBBS_OCC_RIGHT);
	check(!nbbs_leave_parent(NBBS_OCC_LEFT | NBBS_OCC_RIGHT | NBBS_COAL_LEFT, &nw, 0));
	check(!nbbs_leave_parent(NBBS_OCC_LEFT | NBBS_OCC_RIGHT | NBBS_COAL_RIGHT, &nw, 0));
	check(!nbbs_leave_parent(NBBS_OCC_RIGHT, &nw, 1));  // buddy free
	check(!nbbs_leave_parent(NBBS_OCC_LEFT, &nw, 1));   // our bit missing
	check(!nbbs_leave_parent(NBBS_BUSY, &nw, 1));       // parent allocated whole
	check(!nbbs_leave_parent(NBBS_OCC_LEFT | NBBS_OCC_RIGHT | NBBS_COAL_LEFT, &nw, 1));
	check(nbbs_leave_parent(NBBS_OCC_LEFT | NBBS_OCC_RIGHT, &nw, 1));
	check_eq("%#llx", (unsigned long long)nw, (unsigned long long)NBBS_OCC_LEFT);
}

/// Fill with one order, check the blocks are disjoint, aligned and all there,
/// then free them all and check the tree is back to all zero.
static bool nb_fill_order(frame_alloc_t *fa, unsigned order, bool *as_test_failed)
{
	uint64_t frames = fa->frames, n = frames >> order;
	uint64_t *got = calloc(n, sizeof(*got));
	uint8_t *seen = calloc(frames, 1);
	uint64_t cnt = 0;
	for (;;) {
		frame_result_t r = nbbs_ops.get(fa, 0, order);
		if (r.err == FRAME_ERR_MEMORY)
			break;
		if (r.err != FRAME_OK || cnt >= n || r.frame % (1u << order) ||
		    r.frame + (1u << order) > frames)
			goto fail;
		for (uint64_t f = r.frame; f < r.frame + (1u << order); f++)
			if (seen[f]++)
				goto fail;
		got[cnt++] = r.frame;
	}
	if (cnt != n || !nb_valid(fa, true))
		goto fail;
	frame_stats_t st;
	nbbs_ops.stats(fa, &st);
	if (st.free_frames != 0 || st.free_huge != 0)
		goto fail;
	// Free in an order that is neither LIFO nor FIFO.
	for (uint64_t s = 0; s < 2; s++)
		for (uint64_t j = s; j < cnt; j += 2)
			if (nbbs_ops.put(fa, 0, got[j], order) != FRAME_OK)
				goto fail;
	nbbs_ops.stats(fa, &st);
	if (st.free_frames != frames || st.free_huge != frames / FRAME_HUGE_FRAMES ||
	    !nb_all_zero(fa) || !nb_valid(fa, true))
		goto fail;
	free(got);
	free(seen);
	return true;
fail:
	fprintf(stderr, "  order %u: %llu blocks\n", order, (unsigned long long)cnt);
	free(got);
	free(seen);
	*as_test_failed = true;
	return false;
}

TEST(nbbs_every_order)
{
	frame_alloc_t *fa = nb_new(NB_FRAMES, 2, NULL);
	check(fa);
	check(nb_all_zero(fa) && nb_valid(fa, true));
	for (unsigned order = 0; order <= NBBS_MAX_ORDER; order++)
		if (!nb_fill_order(fa, order, as_test_failed))
			break;
	nbbs_ops.destroy(fa);
	fa = nb_new(NB_FRAMES, 1, "early=0");
	check(fa);
	for (unsigned order = 0; order <= NBBS_MAX_ORDER; order++)
		if (!nb_fill_order(fa, order, as_test_failed))
			break;
	nbbs_ops.destroy(fa);
}

TEST(nbbs_padding)
{
	frame_alloc_t *a = nb_new(NB_FRAMES, 1, "pad=8");
	frame_alloc_t *b = nb_new(NB_FRAMES, 1, "pad=64");
	check(a && b);
	frame_stats_t sa, sb;
	nbbs_ops.stats(a, &sa);
	nbbs_ops.stats(b, &sb);
	// Tree: sum over orders 0..10 of frames >> k node slots.
	uint64_t slots = 0;
	for (unsigned k = 0; k <= NBBS_MAX_ORDER; k++)
		slots += NB_FRAMES >> k;
	// Plus per level at most a page and 11 lines of alignment, plus the
	// instance and the per-core state.
	uint64_t slack = NBBS_LEVELS * (4096 + 12 * 64) + 4096;
	check(sa.metadata_bytes >= slots * 8 + NB_FRAMES);
	check(sa.metadata_bytes <= slots * 8 + NB_FRAMES + slack);
	check(sb.metadata_bytes >= slots * 64 + NB_FRAMES);
	check(sb.metadata_bytes <= slots * 64 + NB_FRAMES + slack);
	for (unsigned order = 0; order <= NBBS_MAX_ORDER; order += 3)
		if (!nb_fill_order(b, order, as_test_failed))
			break;
	nbbs_ops.destroy(a);
	nbbs_ops.destroy(b);

	frame_config_t cfg = { .frames = NB_FRAMES, .cores = 1, .options = "pad=16" };
	char err[160] = "";
	check(nbbs_ops.create(&cfg, err, sizeof(err)) == NULL);
	check(strstr(err, "pad") != NULL);
	cfg.options = "bogus=1";
	check(nbbs_ops.create(&cfg, err, sizeof(err)) == NULL);
	cfg.options = NULL;
	cfg.frames = 1000;
	check(nbbs_ops.create(&cfg, err, sizeof(err)) == NULL);
	cfg.frames = NB_FRAMES;
	cfg.cores = 0;
	check(nbbs_ops.create(&cfg, err, sizeof(err)) == NULL);
}

TEST(nbbs_random_vs_model)
{
	static const char *const opts[] = { NULL, "pad=64", "early=0" };
	for (int pad = 0; pad < 3; pad++) {
		frame_alloc_t *fa = nb_new(NB_FRAMES, 3, opts[pad]);
		check(fa);
		uint8_t *owner = calloc(NB_FRAMES, 1);
		uint64_t held_f[NB_FRAMES];
		unsigned held_o[NB_FRAMES], nheld = 0;
		as_rng_t rng;
		as_rng_seed(&rng, 1234, (uint64_t)pad);
		for (int it = 0; it < 20000; it++) {
			unsigned core = (unsigned)as_rng_below(&rng, 3);
			if (nheld && (as_rng_below(&rng, 100) < 45 || nheld == NB_FRAMES)) {
				unsigned j = (unsigned)as_rng_below(&rng, nheld);
				uint64_t f = held_f[j];
				unsigned o = held_o[j];
				check_err(nbbs_ops.put(fa, core, f, o), FRAME_OK);
				memset(owner + f, 0, 1u << o);
				held_f[j] = held_f[--nheld];
				held_o[j] = held_o[nheld];
			} else {
				// Mostly small orders, sometimes large ones.
				unsigned o = (unsigned)as_rng_below(&rng, 4);
				if (as_rng_below(&rng, 10) == 0)
					o = (unsigned)as_rng_below(&rng, NBBS_LEVELS);
				frame_result_t r = nbbs_ops.get(fa, core, o);
				if (r.err == FRAME_ERR_MEMORY)
					continue;
				check_err(r.err, FRAME_OK);
				check(r.frame % (1u << o) == 0 && r.frame + (1u << o) <= NB_FRAMES);
				for (uint64_t f = r.frame; f < r.frame + (1u << o); f++) {
					check(owner[f] == 0);
					owner[f] = 1;
				}
				held_f[nheld] = r.frame;
				held_o[nheld++] = o;
			}
			if (it % 2000 == 0) {
				check(nb_valid(fa, true));
				frame_stats_t st;
				nbbs_ops.stats(fa, &st);
				uint64_t used = 0;
				for (unsigned j = 0; j < nheld; j++)
					used += 1u << held_o[j];
				check_eq("%llu", (unsigned long long)st.free_frames,
					 (unsigned long long)(NB_FRAMES - used));
			}
		}
		// A failure must be real: after a get of order o failed, no
		// aligned order-o range may be wholly free in the model.
		for (unsigned o = 0; o <= NBBS_MAX_ORDER; o++) {
			frame_result_t r = nbbs_ops.get(fa, 0, o);
			if (r.err == FRAME_OK) {
				check(nbbs_ops.put(fa, 0, r.frame, o) == FRAME_OK);
				continue;
			}
			for (uint64_t f = 0; f < NB_FRAMES; f += 1u << o) {
				bool all_free = true;
				for (uint64_t g = f; g < f + (1u << o) && all_free; g++)
					all_free = owner[g] == 0;
				check(!all_free);
			}
		}
		while (nheld) {
			nheld--;
			check_err(nbbs_ops.put(fa, 0, held_f[nheld], held_o[nheld]), FRAME_OK);
		}
		check(nb_all_zero(fa) && nb_valid(fa, true));
		free(owner);
		nbbs_ops.destroy(fa);
	}
}

/// Snapshot of all metadata that put may touch (tree and table).
static unsigned char *nb_snapshot(const struct frame_alloc_s *fa)
{
	unsigned char *s = malloc(fa->tree_bytes + fa->frames);
	memcpy(s, fa->tree, fa->tree_bytes);
	memcpy(s + fa->tree_bytes, (const void *)fa->table, fa->frames);
	return s;
}

static bool nb_same(const struct frame_alloc_s *fa, const unsigned char *s)
{
	return memcmp(s, fa->tree, fa->tree_bytes) == 0 &&
	       memcmp(s + fa->tree_bytes, (const void *)fa->table, fa->frames) == 0;
}

TEST(nbbs_bad_put)
{
	frame_alloc_t *fa = nb_new(NB_FRAMES, 2, NULL);
	check(fa);
	frame_result_t a = nbbs_ops.get(fa, 0, 3);
	frame_result_t b = nbbs_ops.get(fa, 1, 0);
	frame_result_t c = nbbs_ops.get(fa, 0, 10);
	check(frame_ok(a) && frame_ok(b) && frame_ok(c));
	unsigned char *snap = nb_snapshot(fa);
	struct { uint64_t f; unsigned o; unsigned core; } bad[] = {
		{ a.frame, 11, 0 },               // order too large
		{ NB_FRAMES, 0, 0 },              // out of range
		{ NB_FRAMES + 8, 3, 0 },          // out of range, aligned
		{ a.frame + 1, 0, 0 },            // interior frame of a block
		{ a.frame + 4, 2, 0 },            // aligned interior, other order
		{ a.frame, 2, 0 },                // wrong order (smaller)
		{ a.frame, 4, 0 },                // wrong order (larger), maybe misaligned
		{ b.frame, 1, 0 },                // wrong order
		{ c.frame + 512, 9, 0 },          // half of an order-10 block
		{ c.frame, 9, 0 },                // order-10 block freed as order 9
		{ a.frame + 1, 3, 0 },            // misaligned
		{ a.frame, 3, 2 },                // core out of range
	};
	for (unsigned j = 0; j < AS_ARRAY_LEN(bad); j++) {
		frame_err_t e = nbbs_ops.put(fa, bad[j].core, bad[j].f, bad[j].o);
		if (e != FRAME_ERR_ARGUMENT || !nb_same(fa, snap))
			check_fail("bad put %u (frame %llu order %u) gave %d or changed state", j,
				   (unsigned long long)bad[j].f, bad[j].o, e);
	}
	// A never-allocated free frame.
	uint64_t free_f = 0;
	while ((free_f >= a.frame && free_f < a.frame + 8) || free_f == b.frame ||
	       (free_f >= c.frame && free_f < c.frame + 1024))
		free_f++;
	check_err(nbbs_ops.put(fa, 0, free_f, 0), FRAME_ERR_ARGUMENT);
	check(nb_same(fa, snap));
	// Double put: the first succeeds, the second changes nothing.
	check_err(nbbs_ops.put(fa, 0, a.frame, 3), FRAME_OK);
	free(snap);
	snap = nb_snapshot(fa);
	check_err(nbbs_ops.put(fa, 0, a.frame, 3), FRAME_ERR_ARGUMENT);
	check(nb_same(fa, snap));
	check(nb_valid(fa, true));
	// Bad gets.
	check_err(nbbs_ops.get(fa, 0, 11).err, FRAME_ERR_ARGUMENT);
	check_err(nbbs_ops.get(fa, 2, 0).err, FRAME_ERR_ARGUMENT);
	free(snap);
	check_err(nbbs_ops.put(fa, 1, b.frame, 0), FRAME_OK);
	check_err(nbbs_ops.put(fa, 0, c.frame, 10), FRAME_OK);
	check(nb_all_zero(fa));
	nbbs_ops.destroy(fa);
}

TEST(nbbs_exhaustion_and_stats)
{
	frame_alloc_t *fa = nb_new(2048, 1, NULL);
	check(fa);
	// One order-10 block and one order-0 frame in the other tree: no
	// order-10 block is left; order 9 still fits once.
	frame_result_t big = nbbs_ops.get(fa, 0, 10);
	frame_result_t one = nbbs_ops.get(fa, 0, 0);
	check(frame_ok(big) && frame_ok(one));
	check(one.frame / 1024 != big.frame / 1024);
	check_err(nbbs_ops.get(fa, 0, 10).err, FRAME_ERR_MEMORY);
	frame_stats_t st;
	nbbs_ops.stats(fa, &st);
	check_eq("%llu", (unsigned long long)st.free_frames, 2048ull - 1025);
	check_eq("%llu", (unsigned long long)st.free_huge, 1ull);
	uint16_t fc[4];
	nbbs_ops.free_counts(fa, fc);
	unsigned h1 = (unsigned)(one.frame / 512);
	for (unsigned h = 0; h < 4; h++) {
		unsigned want = h / 2 == big.frame / 1024 ? 0 : h == h1 ? 511 : 512;
		check_eq("%u", (unsigned)fc[h], want);
	}
	frame_result_t nine = nbbs_ops.get(fa, 0, 9);
	check(frame_ok(nine));
	check_err(nbbs_ops.get(fa, 0, 9).err, FRAME_ERR_MEMORY);
	check_err(nbbs_ops.get(fa, 0, 1).err, FRAME_OK);
	check(nb_valid(fa, true));
	// Drain is a no-op: nothing is cached per core.
	unsigned char *snap = nb_snapshot(fa);
	nbbs_ops.drain(fa, 0);
	check(nb_same(fa, snap));
	free(snap);
	nbbs_ops.destroy(fa);
}

TEST(nbbs_rollback_and_skip)
{
	// Core 0 starts every level at index 0. Take tree 0 whole; an order-0
	// get from frame 0 CASes leaf 0 (descendants of a whole block are not
	// marked), climbs, meets OCC at order 10, rolls back and skips tree 0.
	frame_alloc_t *fa = nb_new(2048, 1, NULL);
	check(fa);
	frame_result_t big = nbbs_ops.get(fa, 0, 10);
	check(frame_ok(big));
	check_eq("%llu", (unsigned long long)big.frame, 0ull);
	frame_result_t r = nbbs_ops.get(fa, 0, 0);
	check(frame_ok(r));
	check_eq("%llu", (unsigned long long)r.frame, 1024ull);
	check(nb_valid(fa, true)); // rollback left no mark and no COAL in tree 0
	check_eq("%llu", (unsigned long long)nbbs_count_coal(fa), 0ull);
	// Release hint: the next same-order get on that core reuses the block.
	check_err(nbbs_ops.put(fa, 0, r.frame, 0), FRAME_OK);
	frame_result_t again = nbbs_ops.get(fa, 0, 0);
	check(frame_ok(again));
	check_eq("%llu", (unsigned long long)again.frame, (unsigned long long)r.frame);
	check_err(nbbs_ops.put(fa, 0, again.frame, 0), FRAME_OK);
	check_err(nbbs_ops.put(fa, 0, big.frame, 10), FRAME_OK);
	check(nb_all_zero(fa));
	nbbs_ops.destroy(fa);
}

TEST(nbbs_validate_catches_corruption)
{
	frame_alloc_t *fa = nb_new(2048, 1, NULL);
	check(fa);
	frame_result_t a = nbbs_ops.get(fa, 0, 2); // frame 0: left spine
	check(frame_ok(a) && a.frame == 0);
	check(nb_valid(fa, true));
	struct { unsigned k; uint64_t i; uint64_t xor_bits; } bad[] = {
		{ 10, 1, NBBS_OCC_LEFT },   // occupied bit over a free subtree
		{ 10, 0, NBBS_OCC_LEFT },   // occupancy bit missing
		{ 5, 0, NBBS_COAL_RIGHT },  // COAL on a free side
		{ 2, 0, NBBS_OCC_LEFT },    // allocated node without OCC_LEFT
		{ 1, 0, NBBS_OCC_RIGHT },   // marks inside an allocated block
		{ 0, 7, NBBS_OCC },         // stray leaf allocation
		{ 3, 0, 0x100 },            // bits outside the word
	};
	char why[200];
	for (unsigned j = 0; j < AS_ARRAY_LEN(bad); j++) {
		_Atomic uint64_t *w = nbbs_node(fa, bad[j].k, bad[j].i);
		uint64_t old = as_atomic_load_relaxed(w);
		as_atomic_store_relaxed(w, old ^ bad[j].xor_bits);
		bool ok = nbbs_ops.validate(fa, why, sizeof(why));
		as_atomic_store_relaxed(w, old);
		if (ok)
			check_fail("corruption %u not detected", j);
		check(why[0] != '\0');
		check(nb_valid(fa, true));
	}
	// A stale COAL on an occupied side passes the normal walk, not the
	// strict one.
	_Atomic uint64_t *w3 = nbbs_node(fa, 3, 0);
	uint64_t old = as_atomic_load_relaxed(w3);
	as_atomic_store_relaxed(w3, old | NBBS_COAL_LEFT);
	check(nbbs_ops.validate(fa, why, sizeof(why)));
	check(!nbbs_validate_ex(fa, true, why, sizeof(why)));
	as_atomic_store_relaxed(w3, old);
	// Translation table: lost entry, extra entry, wrong order.
	as_atomic_store_relaxed(&fa->table[0], 0);
	check(!nbbs_ops.validate(fa, why, sizeof(why)));
	as_atomic_store_relaxed(&fa->table[0], 2);
	check(!nbbs_ops.validate(fa, why, sizeof(why)));
	as_atomic_store_relaxed(&fa->table[0], 3);
	as_atomic_store_relaxed(&fa->table[100], 1);
	check(!nbbs_ops.validate(fa, why, sizeof(why)));
	as_atomic_store_relaxed(&fa->table[100], 0);
	check(nb_valid(fa, true));
	nbbs_ops.destroy(fa);
}

TEST(nbbs_release_meets_coalescing_buddy)
{
	// Buddies a (frame 0) and b (frame 1). b's release is frozen after its
	// phase 1 (COAL_RIGHT in their parent P, stopped there because a was
	// occupied). put(a) must then clear its side of P, leave COAL marks
	// above P for b's phase 3, and not go up itself; finishing b's release
	// by hand (phase 2 and 3 with the pure transitions) must leave every
	// word 0.
	frame_alloc_t *fa = nb_new(1024, 1, NULL);
	check(fa);
	frame_result_t a = nbbs_ops.get(fa, 0, 0), b = nbbs_ops.get(fa, 0, 0);
	check(frame_ok(a) && frame_ok(b) && a.frame == 0 && b.frame == 1);
	_Atomic uint64_t *p = nbbs_node(fa, 1, 0);
	uint64_t old = as_atomic_fetch_or_acq_rel(p, NBBS_COAL_RIGHT);
	check(!nbbs_mark_goes_up(old, 1)); // b's phase 1 stops at P
	as_atomic_store_relaxed(&fa->table[1], 0); // b's put claimed its entry

	check_err(nbbs_ops.put(fa, 0, a.frame, 0), FRAME_OK);
	check_eq("%#llx", (unsigned long long)as_atomic_load_relaxed(p),
		 (unsigned long long)(NBBS_OCC_RIGHT | NBBS_COAL_RIGHT));
	for (unsigned k = 2; k <= NBBS_MAX_ORDER; k++)
		check_eq("%#llx", (unsigned long long)as_atomic_load_relaxed(nbbs_node(fa, k, 0)),
			 (unsigned long long)(NBBS_OCC_LEFT | NBBS_COAL_LEFT));

	// b's phase 2 and 3.
	as_atomic_store_relaxed(nbbs_node(fa, 0, 1), 0);
	uint64_t ci = 1, nw;
	for (unsigned k = 1; k <= NBBS_MAX_ORDER; k++) {
		unsigned side = (unsigned)(ci & 1);
		ci >>= 1;
		_Atomic uint64_t *w = nbbs_node(fa, k, ci);
		check(nbbs_unmark(as_atomic_load_relaxed(w), &nw, side));
		as_atomic_store_relaxed(w, nw);
		if (!nbbs_unmark_goes_up(nw, side))
			break;
	}
	check(nb_all_zero(fa));
	check(nb_valid(fa, true));
	nbbs_ops.destroy(fa);
}
