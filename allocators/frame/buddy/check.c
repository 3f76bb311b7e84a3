// SPDX-License-Identifier: MIT
// Statistics and the invariant walk of the buddy frame allocator. Both read
// the page descriptors block by block: the heads partition the range, so one
// pass finds every free block, on the zone lists or on a pcp. stats and
// free_counts take every lock (pcp locks in core order, then the zone lock,
// the same order the get/put paths use), so they are exact even while other
// threads run; validate expects no call in flight, as frame.h says.
#include <stdarg.h>
#include <stdio.h>

#include "as/err.h"
#include "internal.h"

static void lock_all(frame_alloc_t *fa)
{
	for (unsigned c = 0; fa->pcp_enabled && c < fa->cores; c++)
		buddy_lock(&fa->pcp[c].lock);
	buddy_lock(&fa->lock);
}

static void unlock_all(frame_alloc_t *fa)
{
	buddy_unlock(&fa->lock);
	for (unsigned c = 0; fa->pcp_enabled && c < fa->cores; c++)
		buddy_unlock(&fa->pcp[c].lock);
}

static bool is_free(uint8_t flags)
{
	return flags == BUDDY_PG_FREE || flags == BUDDY_PG_PCP;
}

// Free frames per 2 MiB into out[] (if not NULL); returns the number of
// fully free huge frames. Assumes a consistent structure, but never reads
// outside the descriptor array or out[] even if it is not.
static uint64_t walk_huge(frame_alloc_t *fa, uint16_t *out)
{
	buddy_page_t *pg = fa->pages;
	uint64_t huge = 0, pfn = 0;
	while (pfn < fa->frames) {
		unsigned order = AS_MIN(pg[pfn].order, FRAME_MAX_ORDER);
		if (order >= FRAME_HUGE_ORDER) {
			bool free = is_free(buddy_pg_flags(&pg[pfn]));
			uint64_t n = AS_MIN(UINT64_C(1) << (order - FRAME_HUGE_ORDER),
					    (fa->frames - pfn) >> FRAME_HUGE_ORDER);
			for (uint64_t k = 0; out && k < n; k++)
				out[(pfn >> FRAME_HUGE_ORDER) + k] = free ? FRAME_HUGE_FRAMES : 0;
			huge += free ? n : 0;
			pfn += UINT64_C(1) << order;
			continue;
		}
		uint64_t h = pfn >> FRAME_HUGE_ORDER, end = (h + 1) << FRAME_HUGE_ORDER;
		unsigned acc = 0;
		while (pfn < end) {
			order = AS_MIN(pg[pfn].order, FRAME_HUGE_ORDER - 1);
			if (is_free(buddy_pg_flags(&pg[pfn])))
				acc += 1u << order;
			pfn += UINT64_C(1) << order;
		}
		acc = AS_MIN(acc, FRAME_HUGE_FRAMES);
		if (out)
			out[h] = (uint16_t)acc;
		huge += acc == FRAME_HUGE_FRAMES;
	}
	return huge;
}

void buddy_stats(frame_alloc_t *fa, frame_stats_t *out)
{
	lock_all(fa);
	uint64_t free = fa->free_frames;
	for (unsigned c = 0; fa->pcp_enabled && c < fa->cores; c++)
		free += fa->pcp[c].count;
	out->frames = fa->frames;
	out->free_frames = free;
	out->free_huge = walk_huge(fa, NULL);
	unlock_all(fa);
	// The whole mapping: instance + pcp array + descriptors, page-rounded
	// as as_meta_alloc maps it.
	out->metadata_bytes = as_align_up(fa->map_bytes, FRAME_SIZE);
}

void buddy_free_counts(frame_alloc_t *fa, uint16_t *out)
{
	lock_all(fa);
	walk_huge(fa, out);
	unlock_all(fa);
}

// ---------------------------------------------------------------------------
// validate

#define FAIL(...)                                    \
	do {                                         \
		as_format(why, whylen, __VA_ARGS__); \
		return false;                        \
	} while (0)

// Walk one list: every block must be a head in state `flags` with `order`,
// links consistent both ways, no longer than the range allows. Adds the
// blocks to *blocks; `what` names the list in messages.
static bool check_list(frame_alloc_t *fa, const buddy_list_t *l, uint8_t flags, unsigned order,
		       uint64_t *blocks, const char *what, char *why, size_t whylen)
{
	buddy_page_t *pg = fa->pages;
	uint64_t n = 0, limit = (fa->frames >> order) + 1;
	uint32_t prev = BUDDY_NIL;
	for (uint32_t i = l->head; i != BUDDY_NIL; prev = i, i = pg[i].next) {
		if (i >= fa->frames)
			FAIL("%s: link to frame %u, out of range", what, i);
		if (++n > limit)
			FAIL("%s: longer than %llu blocks (a cycle?)", what, (unsigned long long)limit);
		if (pg[i].prev != prev)
			FAIL("%s: frame %u has prev %u, expected %u", what, i, pg[i].prev, prev);
		if (buddy_pg_flags(&pg[i]) != flags)
			FAIL("%s: frame %u has state %u, expected %u", what, i,
			     buddy_pg_flags(&pg[i]), flags);
		if (pg[i].order != order)
			FAIL("%s: frame %u has order %u, expected %u", what, i, pg[i].order, order);
		if (i & ((1u << order) - 1))
			FAIL("%s: frame %u misaligned for order %u", what, i, order);
	}
	if (l->tail != prev)
		FAIL("%s: tail is %u, last block is %u", what, l->tail, prev);
	*blocks += n;
	return true;
}

bool buddy_validate(frame_alloc_t *fa, char *why, size_t whylen)
{
	buddy_page_t *pg = fa->pages;
	char what[64];
	if (as_atomic_load_acquire(&fa->lock.v))
		FAIL("zone lock held");

	// 1. The heads partition the range; interiors are BUDDY_PG_NONE (so
	//    no two blocks overlap); free buddies are merged.
	uint64_t heads[4] = { 0 }, frames_in[4] = { 0 };
	for (uint64_t pfn = 0; pfn < fa->frames;) {
		uint8_t f = buddy_pg_flags(&pg[pfn]);
		unsigned order = pg[pfn].order;
		if (f == BUDDY_PG_NONE || f > BUDDY_PG_ALLOC)
			FAIL("frame %llu: expected a block head, state %u", (unsigned long long)pfn, f);
		if (order > FRAME_MAX_ORDER)
			FAIL("frame %llu: order %u > %u", (unsigned long long)pfn, order, FRAME_MAX_ORDER);
		uint64_t size = UINT64_C(1) << order;
		if (pfn & (size - 1))
			FAIL("frame %llu: misaligned for order %u", (unsigned long long)pfn, order);
		if (pfn + size > fa->frames)
			FAIL("frame %llu: order %u block ends past the range", (unsigned long long)pfn,
			     order);
		for (uint64_t j = pfn + 1; j < pfn + size; j++)
			if (buddy_pg_flags(&pg[j]) != BUDDY_PG_NONE)
				FAIL("frame %llu: state %u inside the order-%u block at %llu (overlap)",
				     (unsigned long long)j, buddy_pg_flags(&pg[j]), order,
				     (unsigned long long)pfn);
		if (f == BUDDY_PG_FREE && order < FRAME_MAX_ORDER) {
			uint64_t b = pfn ^ size;
			if (buddy_pg_flags(&pg[b]) == BUDDY_PG_FREE && pg[b].order == order)
				FAIL("free buddies %llu and %llu of order %u not merged",
				     (unsigned long long)AS_MIN(pfn, b), (unsigned long long)AS_MAX(pfn, b),
				     order);
		}
		heads[f]++;
		frames_in[f] += size;
		pfn += size;
	}

	// 2. Zone free lists: contents, counts, the non-empty mask.
	uint64_t listed = 0, listed_frames = 0;
	for (unsigned o = 0; o < BUDDY_ORDERS; o++) {
		uint64_t n = 0;
		snprintf(what, sizeof(what), "free_area[%u]", o);
		if (!check_list(fa, &fa->area[o], BUDDY_PG_FREE, o, &n, what, why, whylen))
			return false;
		if (n != fa->nr_free[o])
			FAIL("free_area[%u]: %llu blocks, nr_free says %llu", o, (unsigned long long)n,
			     (unsigned long long)fa->nr_free[o]);
		if (((fa->nonempty >> o) & 1) != (n != 0))
			FAIL("free_area[%u]: non-empty mask bit %u with %llu blocks", o,
			     (fa->nonempty >> o) & 1, (unsigned long long)n);
		listed += n;
		listed_frames += n << o;
	}
	if (fa->nonempty >> BUDDY_ORDERS)
		FAIL("non-empty mask 0x%x has bits above order %u", fa->nonempty, FRAME_MAX_ORDER);
	if (listed != heads[BUDDY_PG_FREE])
		FAIL("%llu free blocks on the lists, %llu free heads in the range",
		     (unsigned long long)listed, (unsigned long long)heads[BUDDY_PG_FREE]);
	if (listed_frames != fa->free_frames || frames_in[BUDDY_PG_FREE] != fa->free_frames)
		FAIL("zone free frames %llu, lists hold %llu, heads cover %llu",
		     (unsigned long long)fa->free_frames, (unsigned long long)listed_frames,
		     (unsigned long long)frames_in[BUDDY_PG_FREE]);

	// 3. Per-core lists.
	uint64_t pcp_blocks = 0, pcp_frames = 0;
	for (unsigned c = 0; fa->pcp_enabled && c < fa->cores; c++) {
		buddy_pcp_t *p = &fa->pcp[c];
		if (as_atomic_load_acquire(&p->lock.v))
			FAIL("pcp[%u]: lock held", c);
		uint64_t frames = 0;
		for (unsigned i = 0; i < BUDDY_PCP_LISTS; i++) {
			uint64_t n = 0;
			unsigned o = buddy_pcp_order(i);
			snprintf(what, sizeof(what), "pcp[%u] order %u", c, o);
			if (!check_list(fa, &p->lists[i], BUDDY_PG_PCP, o, &n, what, why, whylen))
				return false;
			pcp_blocks += n;
			frames += n << o;
		}
		if (frames != p->count)
			FAIL("pcp[%u]: lists hold %llu frames, count says %u", c,
			     (unsigned long long)frames, p->count);
		if (p->high < p->high_min || p->high > p->high_max)
			FAIL("pcp[%u]: high %u outside [%u, %u]", c, p->high, p->high_min, p->high_max);
		pcp_frames += frames;
	}
	if (pcp_blocks != heads[BUDDY_PG_PCP] || pcp_frames != frames_in[BUDDY_PG_PCP])
		FAIL("%llu blocks (%llu frames) on pcp lists, %llu pcp heads (%llu frames) in the range",
		     (unsigned long long)pcp_blocks, (unsigned long long)pcp_frames,
		     (unsigned long long)heads[BUDDY_PG_PCP],
		     (unsigned long long)frames_in[BUDDY_PG_PCP]);
	return true;
}
