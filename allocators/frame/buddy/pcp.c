// SPDX-License-Identifier: MIT
// Per-core page lists of `buddy` (Linux `struct per_cpu_pages`): each core
// keeps free blocks of orders 0..3 and 9 on lists of its own, so most gets
// and puts never touch the zone lock.
//
// A get pops the head of its order's list (the most recently freed block,
// cache-hot in the kernel). An empty list is refilled from the zone with
// max(batch >> order, 2) blocks under one zone-lock acquisition
// (rmqueue_bulk). A put pushes onto the head; when the lists then hold
// `high` frames or more, `batch` frames' worth of the coldest blocks (list
// tails, the freed list first, then round robin) go back to the zone under
// one zone-lock acquisition, where they merge (free_pcppages_bulk). So the
// zone lock is paid about once per batch operations.
//
// Each pcp has its own lock, taken with trylock as Linux does since 6.0
// (pcp_spin_trylock): two threads that pass the same core index, the
// userspace analogue of an interrupt or a migrated task, never wait on each
// other's list; the one that loses goes straight to the zone.
//
// With autotune=1, high moves as in Linux 6.7: it starts at high_min, grows
// by batch at every refill (the list ran empty, so the core allocates faster
// than it frees) up to high_max, and every `decay_ops` get+put on the pcp it
// decays to max(count - (batch << 5), high - high/8, high_min), draining
// what then exceeds it (decay_pcp_high, run per vmstat interval there).
#include "internal.h"

#define BUDDY_PCP_BATCH_SCALE_MAX 5 // CONFIG_PCP_BATCH_SCALE_MAX

// The pcp-list unlink happens inside the zone lock, as in free_pcppages_bulk:
// it is the same pass that feeds free_one (a detach beforehand would need a
// second walk over the same descriptors), and the pcp is private (its lock
// is held), so it adds two stores per block to the hold time.
uint32_t buddy_pcp_free_bulk(frame_alloc_t *fa, buddy_pcp_t *p, uint32_t nr, unsigned first)
{
	buddy_page_t *pg = fa->pages;
	uint32_t freed = 0;
	unsigned idx = first;
	if (nr == 0 || p->count == 0)
		return 0;
	buddy_lock(&fa->lock);
	while (freed < nr && p->count > freed) {
		while (p->lists[idx].head == BUDDY_NIL)
			idx = (idx + 1) % BUDDY_PCP_LISTS;
		buddy_list_t *l = &p->lists[idx];
		unsigned order = buddy_pcp_order(idx);
		do {
			uint32_t pfn = l->tail;
			buddy_list_del(pg, l, pfn);
			buddy_free_one_locked(fa, pfn, order);
			freed += 1u << order;
		} while (freed < nr && l->head != BUDDY_NIL);
		idx = (idx + 1) % BUDDY_PCP_LISTS;
	}
	buddy_unlock(&fa->lock);
	p->count -= freed;
	return freed;
}

// Fill the empty list `idx` from the zone; returns the blocks added. The
// blocks are linked onto the (empty, private) pcp list as the zone hands
// them out, in that order, as rmqueue_bulk does: the descriptors are hot
// from rmqueue, and a second pass after the unlock would touch them again.
static AS_NOINLINE uint32_t pcp_refill(frame_alloc_t *fa, buddy_pcp_t *p, unsigned idx,
				       unsigned order)
{
	buddy_page_t *pg = fa->pages;
	buddy_list_t *l = &p->lists[idx];
	uint32_t want = fa->batch > 1 ? AS_MAX(fa->batch >> order, 2u) : 1u;
	uint32_t got = 0;
	if (fa->autotune)
		p->high = (uint32_t)AS_MIN((uint64_t)p->high + fa->batch, p->high_max);
	buddy_lock(&fa->lock);
	while (got < want) {
		uint32_t pfn = buddy_rmqueue_locked(fa, order, BUDDY_PG_PCP);
		if (pfn == BUDDY_NIL)
			break;
		buddy_list_push_tail(pg, l, pfn);
		got++;
	}
	buddy_unlock(&fa->lock);
	p->count += got << order;
	return got;
}

static AS_NOINLINE void pcp_decay(frame_alloc_t *fa, buddy_pcp_t *p)
{
	p->ops = 0;
	if (p->high > p->high_min) {
		uint64_t keep = (uint64_t)fa->batch << BUDDY_PCP_BATCH_SCALE_MAX;
		uint64_t a = p->count > keep ? p->count - keep : 0;
		uint64_t b = p->high - p->high / 8;
		p->high = (uint32_t)AS_MAX(AS_MAX(a, b), (uint64_t)p->high_min);
	}
	if (p->count > p->high)
		buddy_pcp_free_bulk(fa, p, p->count - p->high, 0);
}

static inline void pcp_tick(frame_alloc_t *fa, buddy_pcp_t *p)
{
	if (fa->autotune && AS_UNLIKELY(++p->ops >= fa->decay_ops))
		pcp_decay(fa, p);
}

frame_result_t buddy_pcp_get(frame_alloc_t *fa, unsigned core, unsigned order)
{
	if (AS_UNLIKELY(order > FRAME_MAX_ORDER || core >= fa->cores))
		return (frame_result_t){ .frame = 0, .err = FRAME_ERR_ARGUMENT };
	unsigned idx = buddy_pcp_index(order);
	if (idx == BUDDY_PCP_NONE)
		return buddy_zone_get(fa, order);
	buddy_pcp_t *p = &fa->pcp[core];
	if (AS_UNLIKELY(!buddy_trylock(&p->lock)))
		return buddy_zone_get(fa, order);
	buddy_list_t *l = &p->lists[idx];
	if (AS_UNLIKELY(l->head == BUDDY_NIL) && !pcp_refill(fa, p, idx, order)) {
		buddy_unlock(&p->lock);
		return buddy_zone_get(fa, order); // drains every pcp, retries once
	}
	buddy_page_t *pg = fa->pages;
	uint32_t pfn = buddy_list_pop_head(pg, l);
	buddy_pg_set(&pg[pfn], BUDDY_PG_ALLOC);
	p->count -= 1u << order;
	pcp_tick(fa, p);
	buddy_unlock(&p->lock);
	return (frame_result_t){ .frame = pfn, .err = FRAME_OK };
}

frame_err_t buddy_pcp_put(frame_alloc_t *fa, unsigned core, uint64_t frame, unsigned order)
{
	if (AS_UNLIKELY(buddy_bad_put(fa, core, frame, order)))
		return FRAME_ERR_ARGUMENT;
	unsigned idx = buddy_pcp_index(order);
	if (idx == BUDDY_PCP_NONE)
		return buddy_zone_put(fa, frame, order);
	buddy_pcp_t *p = &fa->pcp[core];
	if (AS_UNLIKELY(!buddy_trylock(&p->lock)))
		return buddy_zone_put(fa, frame, order);
	buddy_page_t *pg = fa->pages;
	uint32_t pfn = (uint32_t)frame;
	if (AS_UNLIKELY(buddy_pg_flags(&pg[pfn]) != BUDDY_PG_ALLOC || pg[pfn].order != order)) {
		buddy_unlock(&p->lock);
		return FRAME_ERR_ARGUMENT;
	}
	buddy_pg_set(&pg[pfn], BUDDY_PG_PCP);
	buddy_list_push_head(pg, &p->lists[idx], pfn);
	p->count += 1u << order;
	if (AS_UNLIKELY(p->count >= p->high))
		buddy_pcp_free_bulk(fa, p, fa->batch, idx);
	pcp_tick(fa, p);
	buddy_unlock(&p->lock);
	return FRAME_OK;
}

void buddy_drain(frame_alloc_t *fa, unsigned core)
{
	if (!fa->pcp_enabled || core >= fa->cores)
		return;
	buddy_pcp_t *p = &fa->pcp[core];
	buddy_lock(&p->lock);
	buddy_pcp_free_bulk(fa, p, p->count, 0);
	buddy_unlock(&p->lock);
}

void buddy_drain_all(frame_alloc_t *fa)
{
	for (unsigned c = 0; c < fa->cores; c++)
		buddy_drain(fa, c);
}
