// SPDX-License-Identifier: MIT
// Unit tests of llfree's pure word transitions (bitfield, child, tree,
// local) and of the bitfield claim/release procedures for every order 0-8,
// including the undo path of orders 7-8.
#include <string.h>

#include "../../allocators/frame/llfree/bitfield.h"
#include "../../allocators/frame/llfree/child.h"
#include "../../allocators/frame/llfree/local.h"
#include "../../allocators/frame/llfree/tree.h"
#include "test.h"

// Reference: lowest aligned zero run of 2^order bits, by brute force.
static unsigned ref_first_free(uint64_t w, unsigned order)
{
	unsigned n = 1u << order;
	for (unsigned b = 0; b + n <= 64; b += n) {
		uint64_t m = (n == 64 ? ~0ull : ((1ull << n) - 1)) << b;
		if ((w & m) == 0)
			return b;
	}
	return 64;
}

TEST(llfree_bf_first_free)
{
	uint64_t x = 0x9e3779b97f4a7c15ull;
	for (int i = 0; i < 20000; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		uint64_t w = x & (x >> (i % 5)) & (i & 1 ? x >> 3 : ~0ull);
		if (i % 7 == 0)
			w = 0;
		if (i % 11 == 0)
			w = ~0ull;
		for (unsigned o = 0; o <= 6; o++)
			check_eq("%u", llf_bf_first_free(w, o), ref_first_free(w, o));
	}
}

TEST(llfree_bf_transitions)
{
	llf_bf_claim_t c = { .order = 2, .bit = 99 };
	uint64_t nw;
	check(llf_bf_claim(0x1ull, &nw, &c));
	check_eq("%u", c.bit, 4u);
	check_eq("%llx", (unsigned long long)nw, 0xf1ull);
	c.order = 0;
	check(!llf_bf_claim(~0ull, &nw, &c));
	uint64_t m = 0xf0;
	check(llf_bf_clear(0xf1, &nw, &m));
	check_eq("%llx", (unsigned long long)nw, 0x1ull);
	check(!llf_bf_clear(0x71, &nw, &m)); // one bit already free: double free
	check(llf_bf_set(0x1, &nw, &m));
	check_eq("%llx", (unsigned long long)nw, 0xf1ull);
	check(!llf_bf_set(0x11, &nw, &m));
}

// Claim every order 0..8 in a fresh field until full; the claimed runs are
// aligned, disjoint and cover the field; then release them all.
TEST(llfree_bf_get_put_all_orders)
{
	_Alignas(64) _Atomic uint64_t f[LLF_WORDS];
	for (unsigned o = 0; o <= 8; o++) {
		memset((void *)f, 0, sizeof(f));
		unsigned n = 1u << o, got = 0;
		int bits[512];
		for (;;) {
			int b = llf_bf_get(f, (unsigned)got % LLF_WORDS, o);
			if (b < 0)
				break;
			check(b % (int)n == 0 && b < 512);
			bits[got++] = b;
		}
		check_eq("%u", got, 512u / n);
		check_eq("%u", llf_bf_count_free(f), 0u);
		for (unsigned i = 0; i < got; i++)
			check(llf_bf_put(f, (unsigned)bits[i], o));
		check_eq("%u", llf_bf_count_free(f), 512u);
		// a second put of the same run is rejected
		check(!llf_bf_put(f, (unsigned)bits[0], o));
	}
}

// Orders 6-8 skip runs with any word in use; orders 7-8 undo the words
// already claimed when a later word of the run is taken.
TEST(llfree_bf_large_orders_fragmented)
{
	_Alignas(64) _Atomic uint64_t f[LLF_WORDS];
	memset((void *)f, 0, sizeof(f));
	as_atomic_store_relaxed(&f[1], 1ull);       // word 1 partly used
	as_atomic_store_relaxed(&f[6], 1ull << 63); // word 6 partly used
	check_eq("%d", llf_bf_get(f, 0, 8), -1);     // no 4-word run is empty
	check_eq("%d", llf_bf_get(f, 0, 7), 2 * 64); // words 2-3
	check_eq("%d", llf_bf_get(f, 0, 7), 4 * 64); // words 4-5
	check_eq("%d", llf_bf_get(f, 0, 7), -1);
	check_eq("%d", llf_bf_get(f, 0, 6), 0);      // word 0
	check_eq("%d", llf_bf_get(f, 0, 6), 7 * 64); // word 7
	check_eq("%d", llf_bf_get(f, 0, 6), -1);
}

// The undo path: the run's first words are claimed, a later one is found
// in use (as after losing a race), and the claimed words are restored.
TEST(llfree_bf_claim_run_undo)
{
	_Alignas(64) _Atomic uint64_t f[LLF_WORDS];
	memset((void *)f, 0, sizeof(f));
	as_atomic_store_relaxed(&f[3], 0x10ull);
	check(!llf_bf_claim_run(f, 0, 4));
	for (unsigned i = 0; i < LLF_WORDS; i++)
		check_eq("%llx", (unsigned long long)as_atomic_load_relaxed(&f[i]),
			 i == 3 ? 0x10ull : 0ull);
	check(!llf_bf_claim_run(f, 2, 2));
	check_eq("%llx", (unsigned long long)as_atomic_load_relaxed(&f[2]), 0ull);
	check(llf_bf_claim_run(f, 4, 4));
	check_eq("%u", llf_bf_count_free(f), 512u - 256u - 1u);
}

TEST(llfree_bf_put_partial_rejected)
{
	_Alignas(64) _Atomic uint64_t f[LLF_WORDS];
	memset((void *)f, 0, sizeof(f));
	check_eq("%d", llf_bf_get(f, 0, 8), 0);
	// free 64 frames of the order-8 block as order 6: allowed by the
	// bitfield (it cannot tell); then an order-8 put must fail, unchanged
	check(llf_bf_put(f, 128, 6));
	uint64_t before[LLF_WORDS];
	for (unsigned i = 0; i < LLF_WORDS; i++)
		before[i] = as_atomic_load_relaxed(&f[i]);
	check(!llf_bf_put(f, 0, 8));
	for (unsigned i = 0; i < LLF_WORDS; i++)
		check_eq("%llx", (unsigned long long)as_atomic_load_relaxed(&f[i]),
			 (unsigned long long)before[i]);
	// and an order-7 put at 0 works, the word at 128 is free again
	check(llf_bf_put(f, 0, 7));
	check(llf_bf_put(f, 192, 6));
	check_eq("%u", llf_bf_count_free(f), 512u);
}

TEST(llfree_child_transitions)
{
	uint16_t nv;
	unsigned n = 8;
	check(llf_child_dec(512, &nv, &n));
	check_eq("%u", nv, 504u);
	check(!llf_child_dec(7, &nv, &n));
	check(!llf_child_dec(LLF_CHILD_HUGE, &nv, &n));
	check(!llf_child_dec(LLF_CHILD_HUGE2, &nv, &n));
	check(llf_child_inc(504, &nv, &n));
	check_eq("%u", nv, 512u);
	check(!llf_child_inc(505, &nv, &n));
	check(!llf_child_inc(LLF_CHILD_HUGE, &nv, &n));
	check(llf_child_to_huge(512, &nv, NULL));
	check_eq("%u", nv, LLF_CHILD_HUGE);
	check(!llf_child_to_huge(511, &nv, NULL));
	check(!llf_child_to_huge(LLF_CHILD_HUGE, &nv, NULL));
	check(llf_child_from_huge(LLF_CHILD_HUGE, &nv, NULL));
	check_eq("%u", nv, 512u);
	check(!llf_child_from_huge(512, &nv, NULL));
	check(!llf_child_from_huge(LLF_CHILD_HUGE2, &nv, NULL));
	check_eq("%u", llf_child_free(LLF_CHILD_HUGE), 0u);
	uint32_t pv;
	check(llf_pair_to_huge(LLF_PAIR_FREE, &pv, NULL));
	check_eq("%x", pv, (uint32_t)LLF_PAIR_HUGE2);
	check(!llf_pair_to_huge(512u | (511u << 16), &pv, NULL));
	check(!llf_pair_to_huge(512u | (LLF_CHILD_HUGE << 16), &pv, NULL));
	check(llf_pair_from_huge(LLF_PAIR_HUGE2, &pv, NULL));
	check_eq("%x", pv, (uint32_t)LLF_PAIR_FREE);
	check(!llf_pair_from_huge(LLF_CHILD_HUGE | (LLF_CHILD_HUGE << 16), &pv, NULL));
}

TEST(llfree_tree_transitions)
{
	uint16_t nv;
	llf_tree_take_t t = { .lo = 1024, .hi = 16000, .got = 0 };
	check(llf_tree_reserve(5000, &nv, &t));
	check_eq("%u", t.got, 5000u);
	check_eq("%x", nv, LLF_TREE_RESERVED);
	check(!llf_tree_reserve(LLF_TREE_RESERVED | 5000, &nv, &t));
	check(!llf_tree_reserve(1000, &nv, &t));
	check(!llf_tree_reserve(16000, &nv, &t));
	t.lo = 1;
	check(llf_tree_steal(LLF_TREE_RESERVED | 30, &nv, &t));
	check_eq("%u", t.got, 30u);
	check_eq("%x", nv, LLF_TREE_RESERVED);
	check(!llf_tree_steal(30, &nv, &t));                   // not reserved
	check(!llf_tree_steal(LLF_TREE_RESERVED, &nv, &t));    // nothing to take
	unsigned f = 100;
	check(llf_tree_unreserve(LLF_TREE_RESERVED | 7, &nv, &f));
	check_eq("%u", nv, 107u);
	check(!llf_tree_unreserve(7, &nv, &f));
	check(llf_tree_add(LLF_TREE_RESERVED | 7, &nv, &f));
	check_eq("%x", nv, LLF_TREE_RESERVED | 107u);
	f = LLF_TREE_FRAMES;
	check(!llf_tree_add(1, &nv, &f));
}

TEST(llfree_local_transitions)
{
	uint64_t nv, w = llf_local_make(true, 77, 300);
	check(llf_local_present(w));
	check_eq("%llu", (unsigned long long)llf_local_tree(w), 77ull);
	check_eq("%u", llf_local_free(w), 300u);
	unsigned n = 64;
	check(llf_local_take(w, &nv, &n));
	check_eq("%u", llf_local_free(nv), 236u);
	check_eq("%llu", (unsigned long long)llf_local_tree(nv), 77ull);
	n = 301;
	check(!llf_local_take(w, &nv, &n));
	check(!llf_local_take(llf_local_make(false, 77, 0), &nv, &n));
	llf_local_give_t g = { .tree = 77, .n = 12 };
	check(llf_local_give(w, &nv, &g));
	check_eq("%u", llf_local_free(nv), 312u);
	g.tree = 78;
	check(!llf_local_give(w, &nv, &g));
	g.tree = 77;
	check(!llf_local_give(llf_local_make(false, 77, 0), &nv, &g));
	check(llf_local_drain(w, &nv, NULL));
	check(!llf_local_present(nv));
	check_eq("%llu", (unsigned long long)llf_local_tree(nv), 77ull);
	check_eq("%u", llf_local_free(nv), 0u);
	check(!llf_local_drain(nv, &nv, NULL));
}
