// SPDX-License-Identifier: MIT
// Internals of the buddy frame allocator (`buddy`, `buddy-nopcp`), our own
// userspace model of the Linux page allocator (mm/page_alloc.c): the page
// descriptor array, the zone with its per-order free lists and spinlock, the
// per-core page lists (pcp). Shared by zone.c (the buddy core), pcp.c (the
// per-core lists), buddy.c (create, options, ops tables), check.c (stats,
// validate) and the unit tests, which read and corrupt these structures on
// purpose. Nothing here is part of the public interface (frame.h is).
#ifndef BUDDY_INTERNAL_H
#define BUDDY_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "as/atomic.h"
#include "as/compiler.h"
#include "frame.h"
#include "lock.h"

/// "No frame": the end of a list. Frame indices are 32-bit, so an instance
/// manages at most BUDDY_MAX_FRAMES frames (16 TiB of 4 KiB frames).
#define BUDDY_NIL UINT32_MAX
#define BUDDY_MAX_FRAMES ((UINT64_C(1) << 32) - FRAME_ALIGN_FRAMES)
#define BUDDY_ORDERS (FRAME_MAX_ORDER + 1)

/// Descriptor states (buddy_page_t.flags). Only the first frame of a block
/// (its head) has a non-zero state; every other descriptor is 0. So the heads
/// partition the frame range into blocks, free or allocated.
enum {
	BUDDY_PG_NONE = 0,  ///< not a block head (inside a block)
	BUDDY_PG_FREE = 1,  ///< head of a free block on the zone's free_area[order] ("PageBuddy")
	BUDDY_PG_PCP = 2,   ///< head of a free block on a per-core list
	BUDDY_PG_ALLOC = 3, ///< head of an allocated block (order = the order it was got with)
};

/// The page descriptor, our `struct page`: one per frame, 12 bytes.
/// `next`/`prev` link free blocks (zone free lists or pcp lists); `order` is
/// the block's order when this is a head.
///
/// `flags` is atomic because one transition happens outside the zone lock: a
/// per-core list moves blocks between PCP and ALLOC under its own pcp lock
/// while the zone, merging on another core, may read the same descriptor to
/// ask "is my buddy free?". FREE is only ever set or cleared under the zone
/// lock, so the zone's relaxed reads see the truth about FREE; the other
/// fields of a descriptor are only touched by whoever owns the block.
typedef struct buddy_page_s {
	uint32_t next;
	uint32_t prev;
	_Atomic uint8_t flags;
	uint8_t order;
} buddy_page_t;

typedef struct buddy_list_s {
	uint32_t head;
	uint32_t tail;
} buddy_list_t;

/// Orders kept on per-core lists: 0..3 (PAGE_ALLOC_COSTLY_ORDER) and 9 (the
/// THP order, since Linux 5.13). Index = order for 0..3, 4 for order 9.
#define BUDDY_PCP_LISTS 5
#define BUDDY_PCP_NONE 0xff

/// One core's page lists (Linux `struct per_cpu_pages`), one cache line.
/// Every field but `lock` is protected by `lock`. `count`, `high` and the
/// thresholds are in frames, as Linux counts pages.
typedef struct buddy_pcp_s {
	_Alignas(AS_CACHELINE) buddy_lock_t lock;
	uint32_t count;    ///< frames on the lists
	uint32_t high;     ///< drain to the zone when count >= high
	uint32_t high_min; ///< autotune floor (the 5.14 formula)
	uint32_t high_max; ///< autotune ceiling (frames/8/cores)
	uint32_t ops;      ///< get+put since the last decay (autotune)
	buddy_list_t lists[BUDDY_PCP_LISTS];
} buddy_pcp_t;

/// The instance: one zone plus its pcps and descriptors.
struct frame_alloc_s {
	// Read-mostly configuration, on its own cache lines.
	uint64_t frames;
	unsigned cores;
	bool pcp_enabled;
	bool autotune;
	uint32_t batch;     ///< frames per refill/drain (Linux pcp->batch)
	uint32_t decay_ops; ///< autotune: operations per decay interval
	buddy_page_t *pages;
	buddy_pcp_t *pcp;   ///< cores entries, NULL in buddy-nopcp
	size_t map_bytes;   ///< the one as_meta_alloc mapping (this struct first)
	size_t map_align;   ///< its alignment (2 MiB when large enough for THP)

	// The zone: everything below is protected by `lock` (zone->lock).
	_Alignas(AS_CACHELINE) buddy_lock_t lock;
	uint32_t nonempty;  ///< bit o set iff area[o] is not empty
	uint64_t free_frames; ///< frames on the zone free lists (not pcp)
	buddy_list_t area[BUDDY_ORDERS];
	uint64_t nr_free[BUDDY_ORDERS]; ///< blocks on area[o]
};

// ---------------------------------------------------------------------------
// Intrusive doubly linked lists through the descriptors.

static inline void buddy_list_init(buddy_list_t *l)
{
	l->head = l->tail = BUDDY_NIL;
}

static inline void buddy_list_push_head(buddy_page_t *pg, buddy_list_t *l, uint32_t i)
{
	pg[i].prev = BUDDY_NIL;
	pg[i].next = l->head;
	if (l->head != BUDDY_NIL)
		pg[l->head].prev = i;
	else
		l->tail = i;
	l->head = i;
}

static inline void buddy_list_push_tail(buddy_page_t *pg, buddy_list_t *l, uint32_t i)
{
	pg[i].next = BUDDY_NIL;
	pg[i].prev = l->tail;
	if (l->tail != BUDDY_NIL)
		pg[l->tail].next = i;
	else
		l->head = i;
	l->tail = i;
}

static inline void buddy_list_del(buddy_page_t *pg, buddy_list_t *l, uint32_t i)
{
	uint32_t p = pg[i].prev, n = pg[i].next;
	if (p != BUDDY_NIL)
		pg[p].next = n;
	else
		l->head = n;
	if (n != BUDDY_NIL)
		pg[n].prev = p;
	else
		l->tail = p;
}

static inline uint32_t buddy_list_pop_head(buddy_page_t *pg, buddy_list_t *l)
{
	uint32_t i = l->head, n = pg[i].next;
	l->head = n;
	if (n != BUDDY_NIL)
		pg[n].prev = BUDDY_NIL;
	else
		l->tail = BUDDY_NIL;
	return i;
}

// Descriptor state. Relaxed throughout: FREE changes only under the zone lock
// (which orders it), and PCP<->ALLOC changes are made by the block's owner
// under its pcp lock; concurrent readers only need "FREE or not".
static inline uint8_t buddy_pg_flags(buddy_page_t *p)
{
	return as_atomic_load_relaxed(&p->flags);
}

static inline void buddy_pg_set(buddy_page_t *p, uint8_t flags)
{
	as_atomic_store_relaxed(&p->flags, flags);
}

/// Put arguments that no descriptor needs to be read to reject.
static inline bool buddy_bad_put(const frame_alloc_t *fa, unsigned core, uint64_t frame,
				 unsigned order)
{
	return order > FRAME_MAX_ORDER || core >= fa->cores || frame >= fa->frames ||
	       (frame & ((UINT64_C(1) << order) - 1)) != 0;
}

static inline unsigned buddy_pcp_index(unsigned order)
{
	return order <= 3 ? order : order == FRAME_HUGE_ORDER ? 4 : BUDDY_PCP_NONE;
}

static inline unsigned buddy_pcp_order(unsigned idx)
{
	return idx < 4 ? idx : FRAME_HUGE_ORDER;
}

// ---------------------------------------------------------------------------
// zone.c: the buddy core. Functions named *_locked need the zone lock held.

/// Take one block of `order` off the free lists, splitting a larger one if
/// needed (__rmqueue_smallest + expand); its head gets state `as`. BUDDY_NIL
/// if no block of order >= `order` is free.
uint32_t buddy_rmqueue_locked(frame_alloc_t *fa, unsigned order, uint8_t as);
/// Return the block at `pfn` of `order` (not on any list) to the free lists,
/// merging with free buddies (__free_one_page).
void buddy_free_one_locked(frame_alloc_t *fa, uint32_t pfn, unsigned order);

/// Get/put straight from/to the zone under its lock (buddy-nopcp, and the
/// orders and fallbacks of buddy that bypass the pcp). With pcps, a get that
/// finds the zone empty drains every pcp and retries once before reporting
/// FRAME_ERR_MEMORY; the caller must hold no lock.
frame_result_t buddy_zone_get(frame_alloc_t *fa, unsigned order);
frame_err_t buddy_zone_put(frame_alloc_t *fa, uint64_t frame, unsigned order);

frame_result_t buddy_nopcp_get(frame_alloc_t *fa, unsigned core, unsigned order);
frame_err_t buddy_nopcp_put(frame_alloc_t *fa, unsigned core, uint64_t frame, unsigned order);

// ---------------------------------------------------------------------------
// pcp.c: the per-core lists.

frame_result_t buddy_pcp_get(frame_alloc_t *fa, unsigned core, unsigned order);
frame_err_t buddy_pcp_put(frame_alloc_t *fa, unsigned core, uint64_t frame, unsigned order);
void buddy_drain(frame_alloc_t *fa, unsigned core);
/// Return every pcp to the zone (Linux drain_all_pages); takes each pcp lock
/// in turn, so the caller must hold none.
void buddy_drain_all(frame_alloc_t *fa);
/// Move up to `nr` frames' worth of blocks from `p`'s lists to the zone
/// (free_pcppages_bulk), starting with list `first`; pcp lock held, takes
/// the zone lock once. Returns frames moved.
uint32_t buddy_pcp_free_bulk(frame_alloc_t *fa, buddy_pcp_t *p, uint32_t nr, unsigned first);

// ---------------------------------------------------------------------------
// check.c and buddy.c.

void buddy_stats(frame_alloc_t *fa, frame_stats_t *out);
void buddy_free_counts(frame_alloc_t *fa, uint16_t *out);
bool buddy_validate(frame_alloc_t *fa, char *why, size_t whylen);

/// The Linux 5.14 default pcp->high for a zone of `frames` frames split over
/// `cores` CPUs with this `batch` (zone_highsize); see README.md.
uint64_t buddy_default_high(uint64_t frames, unsigned cores, uint32_t batch);

#endif
