// SPDX-License-Identifier: MIT
// Unit tests of the buddy core (allocators/frame/buddy/): splitting and
// merging, exhaustion, every rejected put leaving the state unchanged, the
// invariant walk catching deliberately corrupted structures, option parsing
// and the default-high formula. The per-core lists are in test_buddy_pcp.c.
#include <string.h>

#include "../../allocators/frame/buddy/internal.h"
#include "as/meta.h"
#include "as/rng.h"
#include "test.h"

#define check_err(expr, code) check_eq("%d", (int)(expr), (int)(code))

extern const struct frame_ops buddy_ops;
extern const struct frame_ops buddy_nopcp_ops;

static frame_alloc_t *mk(const struct frame_ops *ops, uint64_t frames, unsigned cores,
			 const char *opts)
{
	char err[256] = "";
	frame_config_t cfg = { .frames = frames, .cores = cores, .options = opts };
	frame_alloc_t *fa = ops->create(&cfg, err, sizeof(err));
	if (!fa)
		fprintf(stderr, "  create %s failed: %s\n", ops->name, err);
	return fa;
}

static bool valid(const struct frame_ops *ops, frame_alloc_t *fa)
{
	char why[256] = "";
	bool ok = ops->validate(fa, why, sizeof(why));
	if (!ok)
		fprintf(stderr, "  validate: %s\n", why);
	return ok;
}

TEST(buddy_split_merge)
{
	const struct frame_ops *ops = &buddy_nopcp_ops;
	frame_alloc_t *fa = mk(ops, 1024, 1, NULL);
	check(fa);
	check_eq("%llu", (unsigned long long)fa->nr_free[10], 1ULL);

	// One order-0 get splits the order-10 block: one free block per order 0..9.
	frame_result_t a = ops->get(fa, 0, 0);
	check(frame_ok(a));
	check_eq("%llu", (unsigned long long)a.frame, 0ULL);
	for (unsigned o = 0; o < 10; o++) {
		check_eq("%llu", (unsigned long long)fa->nr_free[o], 1ULL);
		check_eq("%u", fa->area[o].head, 1u << o);
		check_eq("%u", (unsigned)fa->pages[1u << o].order, o);
	}
	check_eq("%llu", (unsigned long long)fa->nr_free[10], 0ULL);
	check(valid(ops, fa));

	// The next order-0 get is the buddy; freeing both merges back to order 10.
	frame_result_t b = ops->get(fa, 0, 0);
	check(frame_ok(b));
	check_eq("%llu", (unsigned long long)b.frame, 1ULL);
	check_eq("%llu", (unsigned long long)fa->nr_free[0], 0ULL);
	check_err(ops->put(fa, 0, a.frame, 0), FRAME_OK);
	check_eq("%llu", (unsigned long long)fa->nr_free[0], 1ULL);
	check_err(ops->put(fa, 0, b.frame, 0), FRAME_OK);
	check_eq("%llu", (unsigned long long)fa->nr_free[10], 1ULL);
	for (unsigned o = 0; o < 10; o++)
		check_eq("%llu", (unsigned long long)fa->nr_free[o], 0ULL);
	check(valid(ops, fa));

	// Order 3 from a whole block: halves of orders 9..3 are left free.
	frame_result_t c = ops->get(fa, 0, 3);
	check(frame_ok(c) && c.frame == 0);
	check_eq("%u", (unsigned)fa->pages[0].order, 3u);
	check_eq("%u", (unsigned)fa->pages[0].flags, (unsigned)BUDDY_PG_ALLOC);
	for (unsigned o = 3; o < 10; o++)
		check_eq("%llu", (unsigned long long)fa->nr_free[o], 1ULL);
	check_err(ops->put(fa, 0, c.frame, 3), FRAME_OK);
	check(valid(ops, fa));
	ops->destroy(fa);
}

TEST(buddy_fill_and_return_random)
{
	for (int v = 0; v < 2; v++) {
		const struct frame_ops *ops = v ? &buddy_ops : &buddy_nopcp_ops;
		frame_alloc_t *fa = mk(ops, 4096, 2, NULL);
		check(fa);
		as_rng_t rng;
		as_rng_seed(&rng, 11, (uint64_t)v);
		static uint64_t got[4096];
		static uint8_t ord[4096];
		static uint8_t used[4096];
		memset(used, 0, sizeof(used));
		unsigned n = 0;
		uint64_t taken = 0;
		// Mixed orders until memory is exhausted for order 0.
		for (;;) {
			unsigned order = (unsigned)as_rng_below(&rng, 4);
			frame_result_t r = ops->get(fa, (unsigned)(n & 1), order);
			if (!frame_ok(r)) {
				check_err(r.err, FRAME_ERR_MEMORY);
				r = ops->get(fa, 0, 0);
				if (!frame_ok(r)) {
					check_err(r.err, FRAME_ERR_MEMORY);
					break;
				}
				order = 0;
			}
			check(r.frame < 4096 && (r.frame & ((1u << order) - 1)) == 0);
			for (uint64_t f = r.frame; f < r.frame + (1u << order); f++) {
				check(!used[f]);
				used[f] = 1;
			}
			got[n] = r.frame;
			ord[n++] = (uint8_t)order;
			taken += 1u << order;
		}
		check_eq("%llu", (unsigned long long)taken, 4096ULL);
		frame_stats_t st;
		ops->stats(fa, &st);
		check_eq("%llu", (unsigned long long)st.free_frames, 0ULL);
		check_eq("%llu", (unsigned long long)st.free_huge, 0ULL);
		check(valid(ops, fa));
		// Return in random order; everything merges back.
		for (unsigned i = n; i > 1; i--) {
			unsigned j = (unsigned)as_rng_below(&rng, i);
			uint64_t t = got[i - 1];
			got[i - 1] = got[j];
			got[j] = t;
			uint8_t o = ord[i - 1];
			ord[i - 1] = ord[j];
			ord[j] = o;
		}
		for (unsigned i = 0; i < n; i++) {
			check_err(ops->put(fa, i & 1, got[i], ord[i]), FRAME_OK);
			if (i % 97 == 0)
				check(valid(ops, fa));
		}
		ops->drain(fa, 0);
		ops->drain(fa, 1);
		check_eq("%llu", (unsigned long long)fa->nr_free[10], 4ULL);
		ops->stats(fa, &st);
		check_eq("%llu", (unsigned long long)st.free_frames, 4096ULL);
		check_eq("%llu", (unsigned long long)st.free_huge, 8ULL);
		check(valid(ops, fa));
		ops->destroy(fa);
	}
}

TEST(buddy_exhaustion_returns_memory)
{
	for (int v = 0; v < 2; v++) {
		const struct frame_ops *ops = v ? &buddy_ops : &buddy_nopcp_ops;
		frame_alloc_t *fa = mk(ops, 2048, 2, NULL);
		check(fa);
		frame_result_t r;
		for (unsigned i = 0; i < 2; i++) {
			r = ops->get(fa, 0, 10);
			check(frame_ok(r));
		}
		for (unsigned o = 0; o <= FRAME_MAX_ORDER; o++) {
			r = ops->get(fa, o & 1, o);
			check_err(r.err, FRAME_ERR_MEMORY);
		}
		// Free one order-10 block, fragment it with order-0 holes: order 9
		// fails, order 0 still works.
		check_err(ops->put(fa, 0, 0, 10), FRAME_OK);
		static uint64_t f[1024];
		for (unsigned i = 0; i < 1024; i++) {
			r = ops->get(fa, 0, 0);
			check(frame_ok(r));
			f[i] = r.frame;
		}
		for (unsigned i = 0; i < 1024; i++)
			if (f[i] % 2 == 0)
				check_err(ops->put(fa, 1, f[i], 0), FRAME_OK);
		r = ops->get(fa, 0, 9);
		check_err(r.err, FRAME_ERR_MEMORY);
		r = ops->get(fa, 0, 1);
		check_err(r.err, FRAME_ERR_MEMORY);
		frame_stats_t st;
		ops->stats(fa, &st);
		check_eq("%llu", (unsigned long long)st.free_frames, 512ULL);
		check_eq("%llu", (unsigned long long)st.free_huge, 0ULL);
		check(valid(ops, fa));
		ops->destroy(fa);
	}
}

// Every bad put returns FRAME_ERR_ARGUMENT and changes nothing.
TEST(buddy_bad_put_rejected)
{
	for (int v = 0; v < 2; v++) {
		const struct frame_ops *ops = v ? &buddy_ops : &buddy_nopcp_ops;
		frame_alloc_t *fa = mk(ops, 2048, 2, NULL);
		check(fa);
		frame_result_t a = ops->get(fa, 0, 2);
		frame_result_t b = ops->get(fa, 0, 0);
		frame_result_t c = ops->get(fa, 1, 5);
		frame_result_t d = ops->get(fa, 1, 9);
		check(frame_ok(a) && frame_ok(b) && frame_ok(c) && frame_ok(d));
		check_err(ops->put(fa, 0, b.frame, 0), FRAME_OK);
		frame_alloc_t *snap = as_meta_alloc(fa->map_bytes, AS_CACHELINE);
		check(snap);
		memcpy(snap, fa, fa->map_bytes);
		frame_stats_t before, after;
		ops->stats(fa, &before);
		uint16_t cnt_before[4], cnt_after[4];
		ops->free_counts(fa, cnt_before);

		struct {
			uint64_t frame;
			unsigned order, core;
			const char *what;
		} bad[] = {
			{ a.frame, 11, 0, "order > 10" },
			{ a.frame, 200, 0, "order 200" },
			{ 2048, 0, 0, "frame == frames" },
			{ UINT64_C(1) << 40, 0, 0, "frame far out of range" },
			{ a.frame + 1, 2, 0, "misaligned for its order" },
			{ c.frame + 4, 2, 1, "inside an allocated block" },
			{ b.frame, 0, 0, "double put" },
			{ b.frame, 0, 1, "double put from another core" },
			{ 1024, 10, 0, "put of a free block" },
			{ 1030, 1, 0, "put of a frame inside a free block" },
			{ a.frame, 1, 0, "order smaller than allocated" },
			{ a.frame, 3, 0, "order larger than allocated" },
			{ c.frame, 4, 1, "order 4 for an order 5 block" },
			{ d.frame, 10, 1, "order 10 for an order 9 block" },
			{ a.frame, 2, 2, "core out of range" },
		};
		for (unsigned i = 0; i < AS_ARRAY_LEN(bad); i++) {
			frame_err_t e = ops->put(fa, bad[i].core, bad[i].frame, bad[i].order);
			if (e != FRAME_ERR_ARGUMENT)
				check_fail("%s: put(%llu, order %u) gave %d", bad[i].what,
					   (unsigned long long)bad[i].frame, bad[i].order, e);
			ops->stats(fa, &after);
			check(memcmp(&before, &after, sizeof(before)) == 0);
			ops->free_counts(fa, cnt_after);
			check(memcmp(cnt_before, cnt_after, sizeof(cnt_before)) == 0);
			check(valid(ops, fa));
			if (memcmp(snap, fa, fa->map_bytes) != 0)
				check_fail("%s: metadata changed", bad[i].what);
		}
		// Bad gets are refused too.
		check_err(ops->get(fa, 0, 11).err, FRAME_ERR_ARGUMENT);
		check_err(ops->get(fa, 2, 0).err, FRAME_ERR_ARGUMENT);
		check(memcmp(snap, fa, fa->map_bytes) == 0);
		as_meta_free(snap, fa->map_bytes, AS_CACHELINE);
		check_err(ops->put(fa, 0, a.frame, 2), FRAME_OK);
		check_err(ops->put(fa, 1, c.frame, 5), FRAME_OK);
		check_err(ops->put(fa, 1, d.frame, 9), FRAME_OK);
		ops->drain(fa, 0);
		ops->drain(fa, 1);
		check_eq("%llu", (unsigned long long)fa->nr_free[10], 2ULL);
		check(valid(ops, fa));
		ops->destroy(fa);
	}
}

// Corrupt the structure in each way validate must notice; restore after each.
TEST(buddy_validate_detects_corruption)
{
	const struct frame_ops *ops = &buddy_ops;
	frame_alloc_t *fa = mk(ops, 4096, 1, "batch=4,high=64");
	check(fa);
	frame_result_t a = ops->get(fa, 0, 0); // refills the pcp: 3 order-0 blocks left
	frame_result_t b = ops->get(fa, 0, 4);
	check(frame_ok(a) && frame_ok(b));
	check(valid(ops, fa));
	char why[256];
	buddy_page_t *pg = fa->pages;
	uint32_t h8 = fa->area[8].head;
	check(h8 != BUDDY_NIL);

#define EXPECT(substr)                                                           \
	do {                                                                     \
		why[0] = '\0';                                                   \
		check(!ops->validate(fa, why, sizeof(why)));                     \
		if (!strstr(why, substr))                                        \
			check_fail("expected '%s' in '%s'", substr, why);        \
	} while (0)

	// A state inside a block: overlapping blocks.
	buddy_pg_set(&pg[h8 + 3], BUDDY_PG_ALLOC);
	EXPECT("overlap");
	buddy_pg_set(&pg[h8 + 3], BUDDY_PG_NONE);
	check(valid(ops, fa));

	// A broken back link.
	uint32_t h10 = fa->area[10].head, n10 = pg[h10].next;
	check(n10 != BUDDY_NIL);
	pg[n10].prev = 7;
	EXPECT("prev");
	pg[n10].prev = h10;

	// A cycle.
	uint32_t t10 = fa->area[10].tail;
	pg[t10].next = h10;
	EXPECT("free_area[10]");
	pg[t10].next = BUDDY_NIL;
	check(valid(ops, fa));

	// nr_free disagreeing with the list.
	fa->nr_free[8]++;
	EXPECT("nr_free");
	fa->nr_free[8]--;

	// The non-empty mask.
	fa->nonempty &= ~(1u << 8);
	EXPECT("mask");
	fa->nonempty |= 1u << 8;

	// Zone free-frame count.
	fa->free_frames--;
	EXPECT("free frames");
	fa->free_frames++;
	check(valid(ops, fa));

	// Two free buddies left unmerged: split the last order-10 block by hand.
	uint32_t last = fa->area[10].tail;
	buddy_list_del(pg, &fa->area[10], last);
	fa->nr_free[10]--;
	pg[last].order = 9;
	pg[last + 512].order = 9;
	buddy_pg_set(&pg[last + 512], BUDDY_PG_FREE);
	buddy_list_push_head(pg, &fa->area[9], last);
	buddy_list_push_head(pg, &fa->area[9], last + 512);
	fa->nr_free[9] += 2;
	fa->nonempty |= 1u << 9;
	EXPECT("not merged");
	buddy_list_del(pg, &fa->area[9], last);
	buddy_list_del(pg, &fa->area[9], last + 512);
	fa->nr_free[9] -= 2;
	if (fa->area[9].head == BUDDY_NIL)
		fa->nonempty &= ~(1u << 9);
	buddy_pg_set(&pg[last + 512], BUDDY_PG_NONE);
	pg[last].order = 10;
	buddy_list_push_tail(pg, &fa->area[10], last);
	fa->nr_free[10]++;
	check(valid(ops, fa));

	// A block whose recorded order does not match its list.
	pg[h8].order = 7; // the walk steps into the block's second half
	EXPECT("expected a block head");
	pg[h8].order = 8;

	// A free block on the list but marked allocated (a lost head).
	buddy_pg_set(&pg[h8], BUDDY_PG_ALLOC);
	EXPECT("state");
	buddy_pg_set(&pg[h8], BUDDY_PG_FREE);

	// A pcp count that lies.
	fa->pcp[0].count += 1;
	EXPECT("count");
	fa->pcp[0].count -= 1;

	// A pcp block in the wrong state.
	uint32_t p0 = fa->pcp[0].lists[0].head;
	check(p0 != BUDDY_NIL);
	buddy_pg_set(&pg[p0], BUDDY_PG_FREE);
	EXPECT("free heads");
	buddy_pg_set(&pg[p0], BUDDY_PG_PCP);

	// A lock left held.
	buddy_lock(&fa->lock);
	EXPECT("lock");
	buddy_unlock(&fa->lock);
	check(valid(ops, fa));
#undef EXPECT
	check_err(ops->put(fa, 0, a.frame, 0), FRAME_OK);
	check_err(ops->put(fa, 0, b.frame, 4), FRAME_OK);
	check(valid(ops, fa));
	ops->destroy(fa);
}

TEST(buddy_options)
{
	char err[256];
	struct {
		const struct frame_ops *ops;
		uint64_t frames;
		unsigned cores;
		const char *opts, *msg;
	} bad[] = {
		{ &buddy_ops, 4096, 1, "batch=63,hgih=5", "unknown option 'hgih'" },
		{ &buddy_ops, 4096, 1, "batch=0", "out of range" },
		{ &buddy_ops, 4096, 1, "batch=x", "not an unsigned integer" },
		{ &buddy_ops, 4096, 1, "batch=64,high=32", "must be >= batch" },
		{ &buddy_ops, 4096, 1, "autotune=2", "out of range" },
		{ &buddy_ops, 4096, 1, "decay_ops=0", "out of range" },
		{ &buddy_ops, 4096, 1, "high=", "needs a value" },
		{ &buddy_nopcp_ops, 4096, 1, "batch=63", "unknown option 'batch'" },
		{ &buddy_ops, 1000, 1, NULL, "multiple of 1024" },
		{ &buddy_ops, 0, 1, NULL, "multiple of 1024" },
		{ &buddy_nopcp_ops, UINT64_C(1) << 32, 1, NULL, "at most" },
		{ &buddy_ops, 4096, 0, NULL, "cores" },
		{ &buddy_ops, 4096, FRAME_MAX_CORES + 1, NULL, "cores" },
	};
	for (unsigned i = 0; i < AS_ARRAY_LEN(bad); i++) {
		frame_config_t cfg = { .frames = bad[i].frames, .cores = bad[i].cores,
				       .options = bad[i].opts };
		err[0] = '\0';
		frame_alloc_t *fa = bad[i].ops->create(&cfg, err, sizeof(err));
		if (fa)
			check_fail("create %s with '%s' succeeded", bad[i].ops->name, bad[i].opts);
		if (!strstr(err, bad[i].msg))
			check_fail("'%s': expected '%s' in '%s'", bad[i].opts, bad[i].msg, err);
	}
	frame_alloc_t *fa = mk(&buddy_ops, 8192, 2, "batch=31,high=500,autotune=1,decay_ops=100");
	check(fa);
	check_eq("%u", fa->batch, 31u);
	check(fa->autotune);
	check_eq("%u", fa->decay_ops, 100u);
	check_eq("%u", fa->pcp[1].high, 500u);
	check_eq("%u", fa->pcp[1].high_min, 500u);
	check_eq("%u", fa->pcp[1].high_max, 8192u / 8 / 2);
	buddy_ops.destroy(fa);
	fa = mk(&buddy_ops, 8192, 2, "");
	check(fa);
	check_eq("%u", fa->batch, 63u);
	check(!fa->autotune);
	check_eq("%u", fa->pcp[0].high, fa->pcp[0].high_max);
	buddy_ops.destroy(fa);
}

// zone_highsize (5.14) on a simulated zone; the numbers are worked out in
// README.md.
TEST(buddy_default_high_formula)
{
	// 16 GiB, 2 cores: min_free_kbytes 16384 -> min 4096, low 4096 + 4194.
	check_eq("%llu", (unsigned long long)buddy_default_high(UINT64_C(4) << 20, 2, 63), 4145ULL);
	check_eq("%llu", (unsigned long long)buddy_default_high(UINT64_C(4) << 20, 1, 63), 8290ULL);
	// 4 MiB: low 80 pages, so 4 * batch wins.
	check_eq("%llu", (unsigned long long)buddy_default_high(1024, 1, 63), 252ULL);
	// 4 TiB: min_free_kbytes clamps at 256 MiB: min 65536, low 65536 + 1073741.
	check_eq("%llu", (unsigned long long)buddy_default_high(UINT64_C(1) << 30, 4, 63),
		 (65536ULL + 1073741ULL) / 4);
}

// 64 GiB of frames (16 Mi descriptors): create, use every order, validate.
// One variant only: create, the zone and validate are shared code.
TEST(buddy_large_memory)
{
	for (int v = 1; v < 2; v++) {
		const struct frame_ops *ops = &buddy_ops;
		uint64_t frames = UINT64_C(16) << 20;
		frame_alloc_t *fa = mk(ops, frames, 2, NULL);
		check(fa);
		frame_stats_t st;
		ops->stats(fa, &st);
		check_eq("%llu", (unsigned long long)st.free_frames, (unsigned long long)frames);
		check_eq("%llu", (unsigned long long)st.free_huge, (unsigned long long)(frames / 512));
		check(st.metadata_bytes >= frames * sizeof(buddy_page_t));
		frame_result_t r[FRAME_MAX_ORDER + 1];
		for (unsigned o = 0; o <= FRAME_MAX_ORDER; o++) {
			r[o] = ops->get(fa, o & 1, o);
			check(frame_ok(r[o]) && r[o].frame < frames);
		}
		for (unsigned o = 0; o <= FRAME_MAX_ORDER; o++)
			check_err(ops->put(fa, o & 1, r[o].frame, o), FRAME_OK);
		ops->stats(fa, &st);
		check_eq("%llu", (unsigned long long)st.free_frames, (unsigned long long)frames);
		check(valid(ops, fa));
		ops->destroy(fa);
	}
}
