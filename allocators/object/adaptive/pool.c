// SPDX-License-Identifier: MIT
// Slab pools, one per node: free slabs kept committed for reuse, and the
// reclamation watermark. A slab that becomes empty is kept while the bytes
// retained by the allocator (free slabs here plus cached large mappings)
// stay under the watermark, and is unmapped otherwise; adp_pool_trim
// enforces a lowered watermark. Every map from the page source is counted
// (ps_maps) so the controller can see memory being reclaimed and then
// mapped again (the signal that the watermark is too low).
#include <sched.h>

#include "internal.h"

void adp_lock_slow(adp_lock_t *l)
{
	for (unsigned spins = 0;; spins++) {
		int expect = 0;
		// Relaxed peek: only a hint before the acquiring CAS.
		if (as_atomic_load_relaxed(&l->v) == 0 &&
		    as_atomic_cas_weak_acquire(&l->v, &expect, 1))
			return;
		if (spins < 64)
			as_cpu_relax();
		else
			sched_yield();
	}
}

static void adp_slab_init(adp_slab_t *s, unsigned node)
{
	s->tag = ADP_TAG_FREE;
	s->node = node;
	s->next = s->prev = NULL;
	s->free = NULL;
	s->used = s->carved = s->in_partial = 0;
}

adp_slab_t *adp_pool_get(unsigned node, bool *fresh)
{
	adp_pool_t *pl = &adp_g.pool[node];
	*fresh = false;
	// Relaxed peek: a hint; the lock decides.
	if (as_atomic_load_relaxed(&pl->nfree)) {
		adp_lock(&pl->lock);
		adp_slab_t *s = pl->free;
		if (s) {
			pl->free = s->next;
			as_atomic_store_relaxed(&pl->nfree, as_atomic_load_relaxed(&pl->nfree) - 1);
			as_atomic_fetch_sub_acq_rel(&adp_g.retained, ADP_SLAB);
		}
		adp_unlock(&pl->lock);
		if (s) {
			adp_slab_init(s, node);
			return s;
		}
	}
	bool dirty;
	void *base = adp_g.ps->map(ADP_SLAB, ADP_SLAB, &dirty);
	if (!base)
		return NULL;
	adp_slab_t *s = adp_hdr_at((uintptr_t)base);
	// Relaxed: a counter the controller reads as a trend.
	as_atomic_fetch_add_relaxed(&adp_g.ps_maps, 1);
	*fresh = true;
	adp_slab_init(s, node);
	return s;
}

void adp_pool_put(unsigned node, adp_slab_t *s)
{
	adp_pool_t *pl = &adp_g.pool[node];
	s->tag = ADP_TAG_FREE;
	uint64_t r = as_atomic_fetch_add_acq_rel(&adp_g.retained, ADP_SLAB) + ADP_SLAB;
	if (r > as_atomic_load_acquire(&adp_g.watermark)) {
		as_atomic_fetch_sub_acq_rel(&adp_g.retained, ADP_SLAB);
		// Relaxed: counters for the controller and the report.
		as_atomic_fetch_add_relaxed(&adp_g.reclaims, 1);
		as_atomic_fetch_add_relaxed(&adp_g.reclaimed_bytes, ADP_SLAB);
		adp_g.ps->unmap((void *)adp_base_of(s), ADP_SLAB);
		return;
	}
	adp_lock(&pl->lock);
	s->next = pl->free;
	pl->free = s;
	as_atomic_store_relaxed(&pl->nfree, as_atomic_load_relaxed(&pl->nfree) + 1);
	adp_unlock(&pl->lock);
}

void adp_pool_trim(void)
{
	for (unsigned node = 0; node < ADP_MAX_NODES; node++) {
		adp_pool_t *pl = &adp_g.pool[node];
		while (as_atomic_load_acquire(&adp_g.retained) > as_atomic_load_acquire(&adp_g.watermark) &&
		       as_atomic_load_relaxed(&pl->nfree)) { // relaxed: hint, the lock decides
			adp_lock(&pl->lock);
			adp_slab_t *s = pl->free;
			if (s) {
				pl->free = s->next;
				as_atomic_store_relaxed(&pl->nfree, as_atomic_load_relaxed(&pl->nfree) - 1);
				as_atomic_fetch_sub_acq_rel(&adp_g.retained, ADP_SLAB);
			}
			adp_unlock(&pl->lock);
			if (!s)
				break;
			// Relaxed: counters for the controller and the report.
			as_atomic_fetch_add_relaxed(&adp_g.reclaims, 1);
			as_atomic_fetch_add_relaxed(&adp_g.reclaimed_bytes, ADP_SLAB);
			adp_g.ps->unmap((void *)adp_base_of(s), ADP_SLAB);
		}
	}
	adp_large_trim();
}
