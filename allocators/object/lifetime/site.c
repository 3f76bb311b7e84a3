// SPDX-License-Identifier: MIT
// Allocation sites: the cheap key (return address + stack depth) in front of
// a per-thread direct-mapped prediction cache, then a global lock-free site
// table keyed by the cheap key. A miss on both captures the full stack once
// (trace/stack.h), derives the run-independent site id and, when a model or
// a profile output needs it, the frame symbols; then asks the predictor for
// the site's first class. Each path's cost is measured (site_key_ns,
// stack_walk_ns). Sampled allocations occasionally re-walk the stack to
// count cheap keys that stand for more than one full stack (conflicts).
#include <string.h>

#include "../trace/stack.h"
#include "as/clock.h"
#include "as/meta.h"
#include "internal.h"

#define LT_SITES (1u << 14)

// Sites live in a pool filled in creation order, found through an index of
// pointers hashed by key: the pages touched depend on how many sites there
// are, not on their (address-derived) keys, so replays touch the same memory.
static lt_site_t *lt_sites;
static _Atomic(lt_site_t *) *lt_site_index;
static lt_site_t lt_site_fallback;
static _Atomic uint32_t lt_nsites;

bool lt_sites_init(char *err, size_t errlen)
{
	lt_sites = as_meta_alloc(sizeof(lt_site_t) * LT_SITES, 4096);
	lt_site_index = as_meta_alloc(sizeof(*lt_site_index) * LT_SITES, 4096);
	if (!lt_sites || !lt_site_index) {
		snprintf(err, errlen, "cannot map the site table (%zu bytes)",
			 sizeof(lt_site_t) * LT_SITES);
		return false;
	}
	memset((void *)lt_site_index, 0, sizeof(*lt_site_index) * LT_SITES); // touch it all now
	as_atomic_store_relaxed(&lt_site_fallback.pred, lt_top_class()); // before threads
	lt_site_fallback.id = 1;
	as_atomic_store_release(&lt_site_fallback.ready, 1u);
	return true;
}

lt_site_t *lt_site_default(void)
{
	return &lt_site_fallback;
}

unsigned lt_sites_count(void)
{
	uint32_t n = as_atomic_load_acquire(&lt_nsites);
	return n < LT_SITES ? n : LT_SITES;
}

lt_site_t *lt_site_at(unsigned i)
{
	if (i >= lt_sites_count())
		return NULL;
	lt_site_t *s = &lt_sites[i];
	if (!as_atomic_load_acquire(&s->ready))
		return NULL;
	return s;
}

static bool want_text(void)
{
	return lt_p.predictor == LT_PRED_MODEL || lt_p.profile_out[0];
}

static void site_fill(lt_tstate_t *t, lt_site_t *s, const void *ret, const void *sp)
{
	s->slot = -1;
	if (t->hint_site) {
		s->id = t->hint_site;
		s->hinted = 1;
		if (t->hint_text)
			snprintf(s->text, sizeof(s->text), "%s", t->hint_text);
		return;
	}
	void *frames[ST_MAX_FRAMES];
	uint64_t t0 = as_now_ns();
	int n = st_capture(frames, ST_MAX_FRAMES, lt_p.unwind, ret, (void *)sp, 3);
	uint64_t t1 = as_now_ns();
	s->id = st_describe(frames, n, want_text() ? s->text : NULL, sizeof(s->text));
	if (n >= 2)
		s->slot = st_slot_find(sp, frames[1]);
	as_atomic_store_relaxed(&t->walk_ns, as_atomic_load_relaxed(&t->walk_ns) + (t1 - t0)); // owner
	as_atomic_store_relaxed(&t->walk_n, as_atomic_load_relaxed(&t->walk_n) + 1); // owner
}

lt_site_t *lt_site_get(lt_tstate_t *t, uint64_t key, const void *ret, const void *sp,
			bool level2)
{
	uint64_t h = st_mix64(key);
	lt_site_t *mine = NULL;
	for (unsigned i = 0; i < 64; i++) {
		_Atomic(lt_site_t *) *slot = &lt_site_index[(h + i) & (LT_SITES - 1)];
		lt_site_t *s = as_atomic_load_acquire(slot);
		if (s) {
			if (as_atomic_load_relaxed(&s->key) == key) // immutable once published
				return as_atomic_load_acquire(&s->ready) ? s : &lt_site_fallback;
			continue;
		}
		if (!mine) {
			uint32_t n = as_atomic_fetch_add_acq_rel(&lt_nsites, 1u);
			if (n >= LT_SITES)
				return &lt_site_fallback;
			mine = &lt_sites[n];
			as_atomic_store_relaxed(&mine->key, key); // published by the CAS below
		}
		lt_site_t *expect = NULL;
		if (!as_atomic_cas_strong_acq_rel(slot, &expect, mine)) {
			if (as_atomic_load_relaxed(&expect->key) == key) // lost the race
				return as_atomic_load_acquire(&expect->ready) ? expect
									     : &lt_site_fallback;
			continue;
		}
		site_fill(t, mine, ret, sp);
		mine->level2 = level2;
		lt_predict_new_site(mine);
		as_atomic_store_release(&mine->ready, 1u);
		return mine;
	}
	return &lt_site_fallback;
}

static inline unsigned lt_cache_index(uint64_t key)
{
	return (unsigned)((key ^ (key >> 21) ^ (key >> 48)) & (LT_CACHE - 1));
}

static inline lt_site_t *cache_lookup(lt_tstate_t *t, uint64_t key, const void *ret,
				       const void *sp, bool level2)
{
	lt_cache_entry_t *e = &t->cache[lt_cache_index(key)];
	if (AS_LIKELY(e->key == key))
		return e->site; // hits = lookups - misses, counted at report
	lt_site_t *s = lt_site_get(t, key, ret, sp, level2);
	as_atomic_store_relaxed(&t->misses, as_atomic_load_relaxed(&t->misses) + 1); // owner
	if (s != &lt_site_fallback) {
		e->key = key;
		e->site = s;
	}
	return s;
}

lt_site_t *lt_site_lookup(lt_tstate_t *t, const void *ret, const void *sp)
{
	uint64_t key = t->hint_site ? t->hint_site : st_cheap_key(ret, sp);
	lt_site_t *s = cache_lookup(t, key, ret, sp, false);
	// A cheap key found to stand for several stacks: extend it by the next
	// return address, read from the stack slot learned for this key.
	if (AS_UNLIKELY(as_atomic_load_relaxed(&s->ambiguous))) // set once, never cleared
		s = cache_lookup(t, st_key_extend(key, sp, s->slot), ret, sp, true);
	as_atomic_store_relaxed(&t->hits, as_atomic_load_relaxed(&t->hits) + 1); // owner: lookups
	if (AS_UNLIKELY(t->hint_site)) {
		t->hint_site = 0;
		t->hint_text = NULL;
	}
	return s;
}

void lt_site_verify(lt_tstate_t *t, lt_site_t *s, const void *ret, const void *sp)
{
	if (s == &lt_site_fallback || s->hinted)
		return;
	// Cost of the fast path: 16 key computations and cache probes.
	uint64_t t0 = as_now_ns();
	uint64_t acc = 0;
	for (unsigned i = 0; i < 16; i++) {
		uint64_t k = st_cheap_key((const char *)ret + (i & 1), sp);
		acc += t->cache[lt_cache_index(k)].key == k;
	}
	as_do_not_optimize(&acc);
	uint64_t t1 = as_now_ns();
	as_atomic_store_relaxed(&t->key_ns, as_atomic_load_relaxed(&t->key_ns) + (t1 - t0)); // owner
	as_atomic_store_relaxed(&t->key_n, as_atomic_load_relaxed(&t->key_n) + 16); // owner
	void *frames[ST_MAX_FRAMES];
	t0 = as_now_ns();
	int n = st_capture(frames, ST_MAX_FRAMES, lt_p.unwind, ret, (void *)sp, 3);
	t1 = as_now_ns();
	as_atomic_store_relaxed(&t->walk_ns, as_atomic_load_relaxed(&t->walk_ns) + (t1 - t0)); // owner
	as_atomic_store_relaxed(&t->walk_n, as_atomic_load_relaxed(&t->walk_n) + 1); // owner
	as_atomic_fetch_add_relaxed(&s->verified, 1u); // a schedule hint only
	if (n > 0 && st_describe(frames, n, NULL, 0) != s->id) {
		as_atomic_fetch_add_relaxed(&s->conflicts, 1u); // statistic only
		if (!s->level2 && s->slot >= 0)
			as_atomic_store_relaxed(&s->ambiguous, 1u); // readers re-check per call
	}
}
