// SPDX-License-Identifier: MIT
// Unit tests of the per-core lists of `buddy`: refill and drain sizes, the
// high watermark, drain(core), stats counting pcp contents, the trylock
// fallback to the zone, autotune growth and decay, and a two-thread smoke
// run with both threads on one core index (the trylock path under fire).
#include <pthread.h>
#include <string.h>

#include "../../allocators/frame/buddy/internal.h"
#include "as/rng.h"
#include "test.h"

#define check_err(expr, code) check_eq("%d", (int)(expr), (int)(code))

extern const struct frame_ops buddy_ops;

static frame_alloc_t *mk(uint64_t frames, unsigned cores, const char *opts)
{
	char err[256] = "";
	frame_config_t cfg = { .frames = frames, .cores = cores, .options = opts };
	frame_alloc_t *fa = buddy_ops.create(&cfg, err, sizeof(err));
	if (!fa)
		fprintf(stderr, "  create failed: %s\n", err);
	return fa;
}

static bool valid(frame_alloc_t *fa)
{
	char why[256] = "";
	bool ok = buddy_ops.validate(fa, why, sizeof(why));
	if (!ok)
		fprintf(stderr, "  validate: %s\n", why);
	return ok;
}

TEST(buddy_pcp_refill)
{
	frame_alloc_t *fa = mk(4096, 2, "batch=8,high=32");
	check(fa);
	buddy_pcp_t *p = &fa->pcp[0];
	// Order 0: one refill of batch blocks, then 7 gets without the zone.
	frame_result_t r = buddy_ops.get(fa, 0, 0);
	check(frame_ok(r));
	check_eq("%llu", (unsigned long long)fa->free_frames, 4096ULL - 8);
	check_eq("%u", p->count, 7u);
	for (unsigned i = 0; i < 7; i++)
		check(frame_ok(buddy_ops.get(fa, 0, 0)));
	check_eq("%llu", (unsigned long long)fa->free_frames, 4096ULL - 8);
	check_eq("%u", p->count, 0u);
	check(frame_ok(buddy_ops.get(fa, 0, 0)));
	check_eq("%llu", (unsigned long long)fa->free_frames, 4096ULL - 16);
	// Order 2: batch >> 2 = 2 blocks. Order 9: max(8 >> 9, 2) = 2 blocks.
	check(frame_ok(buddy_ops.get(fa, 0, 2)));
	check_eq("%llu", (unsigned long long)fa->free_frames, 4096ULL - 24);
	check_eq("%u", p->count, 7u + 4u);
	r = buddy_ops.get(fa, 0, 9);
	check(frame_ok(r) && r.frame % 512 == 0);
	check_eq("%llu", (unsigned long long)fa->free_frames, 4096ULL - 24 - 1024);
	check_eq("%u", p->count, 7u + 4u + 512u);
	// Orders without a pcp list go to the zone: exactly one block.
	check(frame_ok(buddy_ops.get(fa, 0, 5)));
	check_eq("%llu", (unsigned long long)fa->free_frames, 4096ULL - 24 - 1024 - 32);
	check_eq("%u", p->count, 7u + 4u + 512u);
	// Core 1 is untouched.
	check_eq("%u", fa->pcp[1].count, 0u);
	check(valid(fa));
	buddy_ops.destroy(fa);
}

TEST(buddy_pcp_high_and_drain)
{
	frame_alloc_t *fa = mk(4096, 2, "batch=8,high=32");
	check(fa);
	buddy_pcp_t *p = &fa->pcp[0];
	static uint64_t f[256];
	for (unsigned i = 0; i < 256; i++) {
		frame_result_t r = buddy_ops.get(fa, 1, 0); // allocate through core 1
		check(frame_ok(r));
		f[i] = r.frame;
	}
	buddy_ops.drain(fa, 1);
	check_eq("%u", fa->pcp[1].count, 0u);
	check_eq("%llu", (unsigned long long)fa->free_frames, 4096ULL - 256);
	// Free through core 0: the list grows to high, then batch frames leave.
	for (unsigned i = 0; i < 256; i++) {
		uint32_t before = p->count;
		uint64_t zone_before = fa->free_frames;
		check_err(buddy_ops.put(fa, 0, f[i], 0), FRAME_OK);
		if (before + 1 >= 32) {
			check_eq("%u", p->count, before + 1 - 8);
			check_eq("%llu", (unsigned long long)fa->free_frames,
				 (unsigned long long)zone_before + 8);
		} else {
			check_eq("%u", p->count, before + 1);
			check_eq("%llu", (unsigned long long)fa->free_frames,
				 (unsigned long long)zone_before);
		}
		check(p->count < 32);
	}
	// The drained blocks are the oldest ones (list tails): the most
	// recently freed frame is still on the pcp.
	check_eq("%u", p->lists[0].head, (uint32_t)f[255]);
	check(fa->pages[f[0]].flags != BUDDY_PG_PCP);
	check(valid(fa));
	// A high-order put past high drains a whole block.
	frame_result_t big = buddy_ops.get(fa, 1, 9);
	check(frame_ok(big));
	uint32_t before = p->count;
	check_err(buddy_ops.put(fa, 0, big.frame, 9), FRAME_OK);
	check(p->count < before + 512);
	buddy_ops.drain(fa, 0);
	buddy_ops.drain(fa, 1);
	check_eq("%u", p->count, 0u);
	check_eq("%llu", (unsigned long long)fa->nr_free[10], 4ULL);
	check(valid(fa));
	buddy_ops.destroy(fa);
}

TEST(buddy_pcp_stats_count_pcp)
{
	frame_alloc_t *fa = mk(1024, 1, "batch=8,high=64");
	check(fa);
	frame_result_t r = buddy_ops.get(fa, 0, 0);
	check(frame_ok(r) && r.frame == 0);
	frame_stats_t st;
	uint16_t cnt[2];
	buddy_ops.stats(fa, &st);
	check_eq("%llu", (unsigned long long)st.free_frames, 1023ULL);
	check_eq("%llu", (unsigned long long)st.free_huge, 1ULL);
	buddy_ops.free_counts(fa, cnt);
	check_eq("%u", (unsigned)cnt[0], 511u);
	check_eq("%u", (unsigned)cnt[1], 512u);
	// Back on the pcp: huge frame 0 is free though part of it sits on the
	// pcp and the rest in the zone.
	check_err(buddy_ops.put(fa, 0, r.frame, 0), FRAME_OK);
	check_eq("%u", fa->pcp[0].count, 8u);
	check_eq("%llu", (unsigned long long)fa->nr_free[10], 0ULL);
	buddy_ops.stats(fa, &st);
	check_eq("%llu", (unsigned long long)st.free_frames, 1024ULL);
	check_eq("%llu", (unsigned long long)st.free_huge, 2ULL);
	check(st.metadata_bytes >= 1024 * sizeof(buddy_page_t) + sizeof(buddy_pcp_t));
	buddy_ops.free_counts(fa, cnt);
	check_eq("%u", (unsigned)cnt[0], 512u);
	check_eq("%u", (unsigned)cnt[1], 512u);
	buddy_ops.destroy(fa);
}

// A pcp held by another thread sends get and put straight to the zone.
TEST(buddy_pcp_trylock_fallback)
{
	frame_alloc_t *fa = mk(4096, 1, "batch=8,high=32");
	check(fa);
	buddy_pcp_t *p = &fa->pcp[0];
	buddy_lock(&p->lock);
	frame_result_t r = buddy_ops.get(fa, 0, 0);
	check(frame_ok(r));
	check_eq("%llu", (unsigned long long)fa->free_frames, 4095ULL);
	check_eq("%u", p->count, 0u);
	check_err(buddy_ops.put(fa, 0, r.frame, 0), FRAME_OK);
	check_eq("%llu", (unsigned long long)fa->free_frames, 4096ULL);
	check_eq("%u", p->count, 0u);
	buddy_unlock(&p->lock);
	check(valid(fa));
	buddy_ops.destroy(fa);
}

// Frames parked on another core's pcp are found before MEMORY is reported.
TEST(buddy_pcp_exhaustion_drains_all)
{
	frame_alloc_t *fa = mk(2048, 2, "batch=16,high=4096");
	check(fa);
	static uint64_t f[2048];
	unsigned n = 0;
	for (;;) {
		frame_result_t r = buddy_ops.get(fa, 0, 0);
		if (!frame_ok(r)) {
			check_err(r.err, FRAME_ERR_MEMORY);
			break;
		}
		f[n++] = r.frame;
	}
	check_eq("%u", n, 2048u);
	for (unsigned i = 0; i < 1000; i++)
		check_err(buddy_ops.put(fa, 1, f[i], 0), FRAME_OK);
	check_eq("%u", fa->pcp[1].count, 1000u); // high=4096: nothing drained
	unsigned again = 0;
	while (frame_ok(buddy_ops.get(fa, 0, 0)))
		again++;
	check_eq("%u", again, 1000u);
	check(valid(fa));
	buddy_ops.destroy(fa);
}

TEST(buddy_pcp_autotune_grows)
{
	// 65536 frames, 1 core, batch 8: high_min = max(low 640, 32) = 640,
	// high_max = 65536 / 8 = 8192 (see README.md).
	frame_alloc_t *fa = mk(65536, 1, "batch=8,autotune=1,decay_ops=1000000");
	check(fa);
	buddy_pcp_t *p = &fa->pcp[0];
	check_eq("%u", p->high_min, 640u);
	check_eq("%u", p->high_max, 8192u);
	check_eq("%u", p->high, 640u);
	for (unsigned i = 0; i < 100; i++)
		check(frame_ok(buddy_ops.get(fa, 0, 0)));
	// 100 gets, refills of 8: 13 refills, each grows high by batch.
	check_eq("%u", p->high, 640u + 13 * 8);
	for (unsigned i = 0; i < 8000; i++)
		check(frame_ok(buddy_ops.get(fa, 0, 0)));
	check_eq("%u", p->high, 8192u); // capped at high_max
	check(valid(fa));
	buddy_ops.destroy(fa);

	// Without autotune high never moves.
	fa = mk(65536, 1, "batch=8");
	check(fa);
	for (unsigned i = 0; i < 1000; i++)
		check(frame_ok(buddy_ops.get(fa, 0, 0)));
	check_eq("%u", fa->pcp[0].high, 640u);
	buddy_ops.destroy(fa);
}

TEST(buddy_pcp_autotune_decays)
{
	frame_alloc_t *fa = mk(65536, 1, "batch=8,autotune=1,decay_ops=64");
	check(fa);
	buddy_pcp_t *p = &fa->pcp[0];
	static uint64_t f[1000];
	for (unsigned i = 0; i < 1000; i++) {
		frame_result_t r = buddy_ops.get(fa, 0, 0);
		check(frame_ok(r));
		f[i] = r.frame;
	}
	// Force a known state: high at its ceiling, a fresh interval.
	p->high = p->high_max;
	p->ops = 0;
	for (unsigned i = 0; i < 63; i++)
		check_err(buddy_ops.put(fa, 0, f[i], 0), FRAME_OK);
	check_eq("%u", p->high, 8192u);
	check_err(buddy_ops.put(fa, 0, f[63], 0), FRAME_OK); // 64th op: decay
	check_eq("%u", p->high, 8192u - 8192u / 8);
	check_eq("%u", p->ops, 0u);
	// Fill the pcp well above high_min, then let it decay: high falls to
	// high_min and the excess goes back to the zone.
	for (unsigned i = 64; i < 1000; i++)
		check_err(buddy_ops.put(fa, 0, f[i], 0), FRAME_OK);
	uint32_t count = p->count;
	check(count > 900); // high was still thousands: nothing drained yet
	for (unsigned i = 0; i < 64 * 64; i++) {
		frame_result_t r = buddy_ops.get(fa, 0, 0);
		check(frame_ok(r));
		check_err(buddy_ops.put(fa, 0, r.frame, 0), FRAME_OK);
	}
	check_eq("%u", p->high, 640u);
	check(p->count <= 640u);
	check(valid(fa));
	buddy_ops.destroy(fa);
}

typedef struct mt_arg_s {
	frame_alloc_t *fa;
	_Atomic uint8_t *owner;
	unsigned seed;
	unsigned core;
	bool bad;
} mt_arg_t;

static void *mt_worker(void *v)
{
	mt_arg_t *a = v;
	as_rng_t rng;
	as_rng_seed(&rng, 99, a->seed);
	uint64_t held[256];
	uint8_t ord[256];
	unsigned n = 0;
	for (unsigned i = 0; i < 100000 && !a->bad; i++) {
		if (n < 256 && (n == 0 || as_rng_below(&rng, 2))) {
			unsigned order = (unsigned)as_rng_below(&rng, 4);
			if (as_rng_below(&rng, 16) == 0)
				order = 9;
			frame_result_t r = buddy_ops.get(a->fa, a->core, order);
			if (!frame_ok(r))
				continue;
			for (uint64_t f = r.frame; f < r.frame + (1u << order); f++)
				if (as_atomic_exchange_acq_rel(&a->owner[f], 1))
					a->bad = true;
			held[n] = r.frame;
			ord[n++] = (uint8_t)order;
		} else {
			unsigned j = (unsigned)as_rng_below(&rng, n);
			uint64_t fr = held[j];
			unsigned order = ord[j];
			held[j] = held[--n];
			ord[j] = ord[n];
			for (uint64_t f = fr; f < fr + (1u << order); f++)
				as_atomic_store_release(&a->owner[f], 0);
			if (buddy_ops.put(a->fa, a->core, fr, order) != FRAME_OK)
				a->bad = true;
		}
	}
	while (n) {
		n--;
		for (uint64_t f = held[n]; f < held[n] + (1u << ord[n]); f++)
			as_atomic_store_release(&a->owner[f], 0);
		if (buddy_ops.put(a->fa, a->core, held[n], ord[n]) != FRAME_OK)
			a->bad = true;
	}
	return NULL;
}

static void run_two(frame_alloc_t *fa, bool same_core, bool *as_test_failed)
{
	static _Atomic uint8_t owner[8192];
	memset((void *)owner, 0, sizeof(owner));
	pthread_t t[2];
	mt_arg_t arg[2];
	for (unsigned i = 0; i < 2; i++) {
		arg[i] = (mt_arg_t){ .fa = fa, .owner = owner, .seed = i, .core = same_core ? 0 : i };
		check(pthread_create(&t[i], NULL, mt_worker, &arg[i]) == 0);
	}
	for (unsigned i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	check(!arg[0].bad && !arg[1].bad);
	check(valid(fa));
}

TEST(buddy_pcp_two_threads_one_core)
{
	frame_alloc_t *fa = mk(8192, 1, "batch=16,high=128");
	check(fa);
	run_two(fa, true, as_test_failed);
	if (*as_test_failed)
		return;
	buddy_ops.drain(fa, 0);
	frame_stats_t st;
	buddy_ops.stats(fa, &st);
	check_eq("%llu", (unsigned long long)st.free_frames, 8192ULL);
	check_eq("%llu", (unsigned long long)fa->nr_free[10], 8ULL);
	check(valid(fa));
	buddy_ops.destroy(fa);
}

// Autotune under concurrency: both cores grow and decay high (every 50 ops)
// while the other core merges in the zone.
TEST(buddy_pcp_two_threads_autotune)
{
	frame_alloc_t *fa = mk(8192, 2, "batch=8,autotune=1,decay_ops=50");
	check(fa);
	run_two(fa, false, as_test_failed);
	if (*as_test_failed)
		return;
	for (unsigned c = 0; c < 2; c++) {
		check(fa->pcp[c].high >= fa->pcp[c].high_min);
		check(fa->pcp[c].high <= fa->pcp[c].high_max);
		buddy_ops.drain(fa, c);
	}
	frame_stats_t st;
	buddy_ops.stats(fa, &st);
	check_eq("%llu", (unsigned long long)st.free_frames, 8192ULL);
	check_eq("%llu", (unsigned long long)st.free_huge, 16ULL);
	check(valid(fa));
	buddy_ops.destroy(fa);
}
