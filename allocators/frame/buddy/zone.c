// SPDX-License-Identifier: MIT
// The buddy core of our Linux page-allocator model: the zone's per-order
// free lists, splitting on allocation and merging on free, under the zone
// spinlock; and the get/put of `buddy-nopcp`, which go straight here.
//
// The buddy system, after the comment above __free_one_page() in the
// kernel's mm/page_alloc.c:
//
// Memory is handed out in blocks of 2^order frames, order 0..10, each
// naturally aligned. Two blocks of order k are *buddies* when they are the
// two halves of one aligned block of order k+1; the buddy of the block at
// frame pfn is at pfn ^ (1 << k). The zone keeps one free list per order
// (free_area[k]); each free block sits on exactly one list, and its first
// page descriptor (the head) records that it is free and its order.
//
// Allocating order k takes the first block from the lowest non-empty list
// of order j >= k and, while j > k, splits it: the upper half goes onto
// free_area[j-1] and the lower half is split further (expand()).
//
// Freeing a block of order k looks at its buddy's descriptor: if the buddy
// is a free block of the same order, it is unlinked and the two merge into
// one block of order k+1 at pfn & ~(1 << k); this repeats up to the maximum
// order. So no two free buddies stay apart, and fragmentation is undone as
// soon as both halves come back. A buddy that is allocated, split, or parked
// on a per-core list (pcp) is not free in this sense and stops the merge.
//
// All of it runs under one spinlock, zone->lock. Nothing else happens under
// it: the free-list work (find, unlink, split or merge, link) and the
// counters the kernel also keeps (nr_free per order, free pages).
#include "internal.h"

// Unlink block `i` of `order` from the zone's free lists.
static inline void area_del(frame_alloc_t *fa, unsigned order, uint32_t i)
{
	buddy_list_del(fa->pages, &fa->area[order], i);
	if (fa->area[order].head == BUDDY_NIL)
		fa->nonempty &= ~(1u << order);
	fa->nr_free[order]--;
}

uint32_t buddy_rmqueue_locked(frame_alloc_t *fa, unsigned order, uint8_t as)
{
	uint32_t avail = fa->nonempty >> order;
	if (!avail)
		return BUDDY_NIL;
	unsigned cur = order + (unsigned)__builtin_ctz(avail);
	buddy_page_t *pg = fa->pages;
	uint32_t pfn = buddy_list_pop_head(pg, &fa->area[cur]);
	if (fa->area[cur].head == BUDDY_NIL)
		fa->nonempty &= ~(1u << cur);
	fa->nr_free[cur]--;
	// expand(): give back the upper halves, largest first.
	while (cur > order) {
		cur--;
		uint32_t half = pfn + (1u << cur);
		pg[half].order = (uint8_t)cur;
		buddy_pg_set(&pg[half], BUDDY_PG_FREE);
		buddy_list_push_head(pg, &fa->area[cur], half);
		fa->nonempty |= 1u << cur;
		fa->nr_free[cur]++;
	}
	pg[pfn].order = (uint8_t)order;
	buddy_pg_set(&pg[pfn], as);
	fa->free_frames -= UINT64_C(1) << order;
	return pfn;
}

void buddy_free_one_locked(frame_alloc_t *fa, uint32_t pfn, unsigned order)
{
	buddy_page_t *pg = fa->pages;
	fa->free_frames += UINT64_C(1) << order;
	buddy_pg_set(&pg[pfn], BUDDY_PG_NONE);
	while (order < FRAME_MAX_ORDER) {
		uint32_t b = pfn ^ (1u << order);
		if (buddy_pg_flags(&pg[b]) != BUDDY_PG_FREE || pg[b].order != order)
			break;
		area_del(fa, order, b);
		buddy_pg_set(&pg[b], BUDDY_PG_NONE);
		pfn &= ~(1u << order);
		order++;
	}
	pg[pfn].order = (uint8_t)order;
	buddy_pg_set(&pg[pfn], BUDDY_PG_FREE);
	// Linux's buddy_merge_likely() (since 2.6.35): if the buddy of the block
	// one order up is free, our own buddy is probably about to come back and
	// merge twice; queue at the tail so this block is not handed out first.
	bool tail = false;
	if (order < FRAME_MAX_ORDER - 1) {
		uint32_t higher = pfn & ~(1u << order);
		uint32_t hb = higher ^ (1u << (order + 1));
		tail = buddy_pg_flags(&pg[hb]) == BUDDY_PG_FREE && pg[hb].order == order + 1;
	}
	if (tail)
		buddy_list_push_tail(pg, &fa->area[order], pfn);
	else
		buddy_list_push_head(pg, &fa->area[order], pfn);
	fa->nonempty |= 1u << order;
	fa->nr_free[order]++;
}

static inline uint32_t zone_take(frame_alloc_t *fa, unsigned order)
{
	buddy_lock(&fa->lock);
	uint32_t pfn = buddy_rmqueue_locked(fa, order, BUDDY_PG_ALLOC);
	buddy_unlock(&fa->lock);
	return pfn;
}

frame_result_t buddy_zone_get(frame_alloc_t *fa, unsigned order)
{
	uint32_t pfn = zone_take(fa, order);
	if (AS_UNLIKELY(pfn == BUDDY_NIL) && fa->pcp_enabled) {
		// The allocation slow path drains every pcp before giving up
		// (drain_all_pages in __alloc_pages_direct_reclaim).
		buddy_drain_all(fa);
		pfn = zone_take(fa, order);
	}
	if (AS_UNLIKELY(pfn == BUDDY_NIL))
		return (frame_result_t){ .frame = 0, .err = FRAME_ERR_MEMORY };
	return (frame_result_t){ .frame = pfn, .err = FRAME_OK };
}

frame_err_t buddy_zone_put(frame_alloc_t *fa, uint64_t frame, unsigned order)
{
	buddy_page_t *p = &fa->pages[frame];
	buddy_lock(&fa->lock);
	if (AS_UNLIKELY(buddy_pg_flags(p) != BUDDY_PG_ALLOC || p->order != order)) {
		buddy_unlock(&fa->lock);
		return FRAME_ERR_ARGUMENT;
	}
	buddy_free_one_locked(fa, (uint32_t)frame, order);
	buddy_unlock(&fa->lock);
	return FRAME_OK;
}

frame_result_t buddy_nopcp_get(frame_alloc_t *fa, unsigned core, unsigned order)
{
	if (AS_UNLIKELY(order > FRAME_MAX_ORDER || core >= fa->cores))
		return (frame_result_t){ .frame = 0, .err = FRAME_ERR_ARGUMENT };
	uint32_t pfn = zone_take(fa, order);
	if (AS_UNLIKELY(pfn == BUDDY_NIL))
		return (frame_result_t){ .frame = 0, .err = FRAME_ERR_MEMORY };
	return (frame_result_t){ .frame = pfn, .err = FRAME_OK };
}

frame_err_t buddy_nopcp_put(frame_alloc_t *fa, unsigned core, uint64_t frame, unsigned order)
{
	if (AS_UNLIKELY(buddy_bad_put(fa, core, frame, order)))
		return FRAME_ERR_ARGUMENT;
	return buddy_zone_put(fa, frame, order);
}
