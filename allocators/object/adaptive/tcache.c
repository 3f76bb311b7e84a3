// SPDX-License-Identifier: MIT
// Thread caches: one free list ("bin") per size class, no locks. A miss
// (empty bin) refills `batch` objects from the thread's node's central pool;
// an overflow (more than `cap` objects) flushes a batch back. A free of an
// object whose slab belongs to another node is "remote": depending on the
// thread's NUMA binding weight it is either kept (reused locally) or routed
// home through a per-class foreign list that is flushed in batches to the
// home node's central pool, so remote frees never wait for the owner. A
// refill whose own node has nothing ready may take a ready batch of another
// node, the less likely the stronger the binding weight.
//
// Caches are allocated with as_meta_alloc, registered in one list for the
// report, and recycled when threads exit; up to ADP_WARM_MAX exited caches
// keep cap/2 objects per class (and, with the controller on, its tuning)
// for the next thread of their node. After adp_thread_exit (the thread is in
// its TLS destructors) the thread works without a cache, straight on the
// central pools.
#include <string.h>

#include "as/meta.h"
#include "internal.h"

__thread adp_tcache_t *adp_tc __attribute__((tls_model("initial-exec")));
/// 0 = no cache yet, 1 = has one, 2 = exited (no cache any more).
static __thread int adp_tc_state __attribute__((tls_model("initial-exec")));
static __thread unsigned adp_tc_node __attribute__((tls_model("initial-exec")));

static void put_by_node(unsigned cls, void *p);
static void *chain_cut(void *head, uint32_t n);

/// Relaxed load + store: the owner is the only writer of its statistics.
static inline void st_add(_Atomic uint64_t *c, uint64_t v)
{
	as_atomic_store_relaxed(c, as_atomic_load_relaxed(c) + v);
}

static uint32_t cls_batch_limit(unsigned cls)
{
	uint32_t lim = (uint32_t)((64u << 10) / adp_cls_size[cls]);
	return AS_MAX(lim, 2u);
}

static uint32_t cls_cap_limit(unsigned cls)
{
	uint32_t lim = (uint32_t)((128u << 10) / adp_cls_size[cls]);
	return AS_MAX(lim, 4u);
}

static void tc_reset_params(adp_tcache_t *tc)
{
	uint32_t batch = (uint32_t)adp_param(ADP_P_BATCH);
	uint32_t cap = (uint32_t)adp_param(ADP_P_CAP);
	tc->cap_bytes = 0;
	for (unsigned c = 0; c < ADP_NCLS; c++) {
		adp_binctl_t *k = &tc->ctl[c];
		memset(k, 0, sizeof(*k));
		k->batch = AS_MIN(batch, cls_batch_limit(c));
		uint32_t cc = AS_MAX(AS_MIN(cap, cls_cap_limit(c)), k->batch);
		// A bin that holds no objects starts unarmed (see adp_bin_t).
		tc->bins[c].cap = tc->bins[c].n ? cc : 0;
		tc->bins[c].cap_on = cc;
		tc->cap_bytes += (uint64_t)cc * adp_cls_size[c];
	}
	as_atomic_fetch_add_acq_rel(&adp_g.budget_used, tc->cap_bytes);
	tc->numa_weight = (uint32_t)adp_param(ADP_P_NUMA_WEIGHT);
	tc->numa_acc = 0;
	tc->numa_up = tc->numa_down = 0;
	tc->numa_last_dir = tc->wm_last_dir = 0;
	tc->numa_since = tc->wm_since = 0;
	tc->slow_events = 0;
	tc->foreign_ewma = 0;
	tc->steal_chances = 0;
	tc->iv_local = tc->iv_foreign = 0;
	// Relaxed: trend counters, read only by this thread's controller.
	tc->seen_maps = as_atomic_load_relaxed(&adp_g.ps_maps);
	tc->seen_reclaims = as_atomic_load_relaxed(&adp_g.reclaims);
}

/// A recycled cache keeps what its controller learned (batch, cap, EWMAs,
/// binding weight, the interval's event count), so short-lived threads
/// build on their predecessors instead of starting over; its capacity is
/// granted against the budget again.
static void tc_keep_params(adp_tcache_t *tc)
{
	for (unsigned c = 0; c < ADP_NCLS; c++) {
		tc->ctl[c].under = tc->ctl[c].over = 0;
		tc->ctl[c].up_votes = tc->ctl[c].down_votes = 0;
	}
	as_atomic_fetch_add_acq_rel(&adp_g.budget_used, tc->cap_bytes);
	tc->numa_acc = 0;
	tc->iv_local = tc->iv_foreign = 0;
	tc->steal_chances = 0;
	// Relaxed: trend counters, read only by this thread's controller.
	tc->seen_maps = as_atomic_load_relaxed(&adp_g.ps_maps);
	tc->seen_reclaims = as_atomic_load_relaxed(&adp_g.reclaims);
}

static adp_tcache_t *tc_create(void)
{
	adp_tcache_t *tc;
	bool reused;
	adp_lock(&adp_g.reg_lock);
	tc = adp_g.retired;
	if (tc) {
		adp_g.retired = tc->next_retired;
		if (tc->warm)
			adp_g.nwarm--;
	}
	adp_unlock(&adp_g.reg_lock);
	reused = tc != NULL;
	if (!tc) {
		tc = as_meta_alloc(sizeof(*tc), AS_CACHELINE);
		if (!tc)
			return NULL;
		adp_lock(&adp_g.reg_lock);
		tc->next_all = adp_g.all;
		adp_g.all = tc;
		adp_unlock(&adp_g.reg_lock);
	}
	bool same_node = reused && tc->node == adp_tc_node;
	for (unsigned c = 0; c < ADP_NCLS; c++) {
		// A warm cache's objects stay for the next thread of its node.
		if (reused && tc->warm && same_node)
			continue;
		if (reused && tc->warm)
			put_by_node(c, tc->bins[c].head);
		tc->bins[c].head = NULL;
		tc->bins[c].n = 0;
		tc->bins[c].low = 0;
		tc->foreign[c].head = NULL;
		tc->foreign[c].n = 0;
		tc->foreign[c].other = 0;
	}
	if (!(reused && tc->warm && same_node))
		tc->mixed = false; // the bins were emptied above
	tc->warm = false;
	tc->node = adp_tc_node;
	tc->tag = ADP_TAG_SMALL | tc->node;
	if (reused && adp_g.controller && same_node)
		tc_keep_params(tc);
	else
		tc_reset_params(tc);
	for (unsigned c = 0; c < ADP_NCLS; c++) {
		adp_bin_t *b = &tc->bins[c];
		if (b->n > b->cap) { // kept objects beyond a reset capacity go back
			put_by_node(c, chain_cut(b->head, b->cap));
			b->n = b->cap;
		}
	}
	adp_tc = tc;
	adp_tc_state = 1;
	return tc;
}

/// The calling thread's cache, made on first use; NULL after thread exit.
static adp_tcache_t *tc_get(void)
{
	adp_tcache_t *tc = adp_tc;
	if (AS_LIKELY(tc != NULL))
		return tc;
	if (adp_tc_state == 2)
		return NULL;
	return tc_create();
}

/// Cut the first n objects off a list; returns the rest.
static void *chain_cut(void *head, uint32_t n)
{
	void *last = head;
	for (uint32_t i = 1; i < n; i++)
		last = *(void **)last;
	void *rest = *(void **)last;
	*(void **)last = NULL;
	return rest;
}

static bool node_has_memory(unsigned node, unsigned cls)
{
	// Relaxed peeks: hints for a heuristic.
	return as_atomic_load_relaxed(&adp_central(node, cls)->nbatch_hint) != 0 ||
	       as_atomic_load_relaxed(&adp_g.pool[node].nfree) != 0;
}

/// Take a ready batch of another node, if the binding weight lets us.
static uint32_t try_steal(adp_tcache_t *tc, unsigned cls, void **head)
{
	tc->numa_acc += 100 - tc->numa_weight;
	if (tc->numa_acc < 100)
		return 0;
	tc->numa_acc -= 100;
	for (unsigned d = 1; d < ADP_MAX_NODES; d++) {
		unsigned m = (tc->node + d) % ADP_MAX_NODES;
		uint32_t got;
		if (adp_central_take_batch(m, cls, head, &got))
			return got;
	}
	return 0;
}

static void *refill(adp_tcache_t *tc, unsigned cls)
{
	adp_binctl_t *k = &tc->ctl[cls];
	adp_bin_t *b = &tc->bins[cls];
	void *head = NULL;
	uint32_t n = 0;
	bool foreign = false;
	adp_central_t *own = adp_central(tc->node, cls);
	// Relaxed peek: a hint; the take below decides.
	if (!as_atomic_load_relaxed(&own->nbatch_hint) && tc->numa_weight < 100) {
		n = try_steal(tc, cls, &head);
		foreign = n != 0;
	}
	if (!n) {
		if (tc->numa_weight > 0 && !node_has_memory(tc->node, cls))
			for (unsigned m = 0; m < ADP_MAX_NODES; m++)
				if (m != tc->node && node_has_memory(m, cls)) {
					tc->steal_chances++;
					break;
				}
		n = adp_central_take(tc->node, cls, k->batch, &head);
	}
	if (!n)
		return NULL;
	if (AS_UNLIKELY(!b->cap))
		b->cap = b->cap_on; // the first refill arms the bin
	void *p = head;
	b->head = *(void **)p;
	b->n = n - 1;
	b->low = 0;
	k->under++;
	st_add(&tc->st.refills, 1);
	if (foreign) {
		tc->mixed = true;
		st_add(&tc->st.foreign_in, n);
		tc->iv_foreign += n;
	} else {
		st_add(&tc->st.local_in, n);
		tc->iv_local += n;
	}
	if (adp_g.controller && ++tc->slow_events >= adp_param(ADP_P_INTERVAL))
		adp_ctl_tick(tc);
	return p;
}

void *adp_malloc_slow(size_t size)
{
	if (size > ADP_SMALL_MAX)
		return adp_large_alloc(size, 16);
	unsigned cls = adp_class_slow(size);
	adp_tcache_t *tc = tc_get();
	if (!tc) {
		void *p;
		unsigned node = adp_tc_node;
		return adp_central_take(node, cls, 1, &p) ? p : NULL;
	}
	adp_bin_t *b = &tc->bins[cls];
	void *p = b->head;
	if (p) {
		b->head = *(void **)p;
		if (--b->n < b->low)
			b->low = b->n;
		return p;
	}
	return refill(tc, cls);
}

/// Give a chain back to the central pools of the slabs' nodes (a cache may
/// hold objects of other nodes: stolen batches, remote frees kept).
static void put_by_node(unsigned cls, void *p)
{
	void *heads[ADP_MAX_NODES] = { 0 };
	uint32_t counts[ADP_MAX_NODES] = { 0 };
	while (p) {
		void *next = *(void **)p;
		unsigned node = adp_slab_of(p)->node;
		*(void **)p = heads[node];
		heads[node] = p;
		counts[node]++;
		p = next;
	}
	for (unsigned m = 0; m < ADP_MAX_NODES; m++)
		if (counts[m])
			adp_central_put(m, cls, heads[m], counts[m]);
}

/// A hand-back batch is full: it goes to the central pools, and counts as
/// an overflow of the class, so the controller sizes the batches of a
/// thread that only frees a class (a consumer) as it would size its flushes.
static AS_NOINLINE void hand_back_flush(adp_tcache_t *tc, unsigned cls)
{
	adp_foreign_flush(tc, cls);
	tc->ctl[cls].over++;
	st_add(&tc->st.flushes, 1);
	if (adp_g.controller && ++tc->slow_events >= adp_param(ADP_P_INTERVAL))
		adp_ctl_tick(tc);
}

void adp_bin_overflow(adp_tcache_t *tc, unsigned cls)
{
	adp_bin_t *b = &tc->bins[cls];
	if (AS_LIKELY(b->cap != 0)) {
		adp_bin_flush(tc, cls, 0);
		return;
	}
	// Unarmed: the object just freed (the bin's only one, of our node: it
	// came through the fast path) was allocated by another thread; it joins
	// the foreign list, which goes to the central pools in batches, rather
	// than being reused here. A leaf, so a consumer's frees stay cheap.
	adp_list_t *f = &tc->foreign[cls];
	void *p = b->head;
	b->head = NULL;
	b->n = 0;
	*(void **)p = f->head;
	f->head = p;
	st_add(&tc->st.handed_back, 1);
	if (++f->n >= tc->ctl[cls].batch)
		hand_back_flush(tc, cls);
}

void adp_bin_flush(adp_tcache_t *tc, unsigned cls, uint32_t count)
{
	adp_bin_t *b = &tc->bins[cls];
	adp_binctl_t *k = &tc->ctl[cls];
	if (AS_UNLIKELY(!b->cap))
		return; // unarmed bins hold nothing (adp_bin_overflow)
	bool overflow = count == 0;
	uint32_t n = overflow ? AS_MAX(k->batch, b->n > b->cap ? b->n - b->cap : 0) : count;
	n = AS_MIN(n, b->n);
	if (!n)
		return;
	void *head = b->head;
	b->head = chain_cut(head, n);
	b->n -= n;
	if (b->low > b->n)
		b->low = b->n;
	if (tc->mixed)
		put_by_node(cls, head);
	else
		adp_central_put(tc->node, cls, head, n); // all of our node: no walk
	if (!overflow)
		return;
	k->over++;
	st_add(&tc->st.flushes, 1);
	if (adp_g.controller && ++tc->slow_events >= adp_param(ADP_P_INTERVAL))
		adp_ctl_tick(tc);
}

void adp_foreign_flush(adp_tcache_t *tc, unsigned cls)
{
	adp_list_t *f = &tc->foreign[cls];
	void *p = f->head;
	uint32_t n = f->n;
	bool other = f->other != 0;
	f->head = NULL;
	f->n = f->other = 0;
	if (other)
		put_by_node(cls, p);
	else if (n)
		adp_central_put(tc->node, cls, p, n); // all of our node: no walk
}

void adp_free_slow(void *p, adp_slab_t *s)
{
	if (s->tag == ADP_TAG_LARGE) {
		adp_large_free(s, p);
		return;
	}
	unsigned cls = s->cls;
	adp_tcache_t *tc = tc_get();
	if (!tc) {
		adp_central_release(s->node, cls, p, 1);
		return;
	}
	adp_bin_t *b = &tc->bins[cls];
	if (s->tag != tc->tag) {
		// A remote free: the slab's node differs from ours.
		st_add(&tc->st.remote_frees, 1);
		tc->numa_acc += tc->numa_weight;
		if (tc->numa_acc >= 100) {
			tc->numa_acc -= 100;
			adp_list_t *f = &tc->foreign[cls];
			*(void **)p = f->head;
			f->head = p;
			f->other++;
			st_add(&tc->st.routed_home, 1);
			if (++f->n >= tc->ctl[cls].batch) {
				adp_foreign_flush(tc, cls);
				if (adp_g.controller && ++tc->slow_events >= adp_param(ADP_P_INTERVAL))
					adp_ctl_tick(tc);
			}
			return;
		}
		if (!b->cap) { // unarmed: hand it back (see adp_bin_overflow)
			adp_list_t *f = &tc->foreign[cls];
			*(void **)p = f->head;
			f->head = p;
			f->other++;
			st_add(&tc->st.handed_back, 1);
			if (++f->n >= tc->ctl[cls].batch)
				adp_foreign_flush(tc, cls);
			return;
		}
		st_add(&tc->st.foreign_in, 1);
		tc->iv_foreign++;
		tc->mixed = true;
	}
	*(void **)p = b->head;
	b->head = p;
	if (++b->n > b->cap)
		adp_bin_overflow(tc, cls);
}

bool adp_budget_grow(adp_tcache_t *tc, uint64_t bytes)
{
	uint64_t used = as_atomic_fetch_add_acq_rel(&adp_g.budget_used, bytes) + bytes;
	if (used > adp_param(ADP_P_BUDGET)) {
		as_atomic_fetch_sub_acq_rel(&adp_g.budget_used, bytes);
		st_add(&tc->st.budget_denials, 1);
		return false;
	}
	tc->cap_bytes += bytes;
	return true;
}

void adp_budget_shrink(adp_tcache_t *tc, uint64_t bytes)
{
	as_atomic_fetch_sub_acq_rel(&adp_g.budget_used, bytes);
	tc->cap_bytes -= bytes;
}

void adp_thread_exit(void)
{
	adp_tcache_t *tc = adp_tc;
	adp_tc_state = 2;
	if (!tc)
		return;
	adp_tc = NULL;
	adp_lock(&adp_g.reg_lock);
	tc->warm = adp_g.nwarm < ADP_WARM_MAX;
	if (tc->warm)
		adp_g.nwarm++;
	adp_unlock(&adp_g.reg_lock);
	for (unsigned c = 0; c < ADP_NCLS; c++) {
		adp_bin_t *b = &tc->bins[c];
		uint32_t keep = tc->warm ? b->cap / 2 : 0;
		if (b->n > keep) {
			void *rest = b->head;
			if (keep)
				rest = chain_cut(b->head, keep); // the first `keep` stay
			else
				b->head = NULL;
			put_by_node(c, rest);
			b->n = keep;
		}
		b->low = 0;
		adp_foreign_flush(tc, c);
	}
	adp_budget_shrink(tc, tc->cap_bytes);
	adp_lock(&adp_g.reg_lock);
	tc->next_retired = adp_g.retired;
	adp_g.retired = tc;
	adp_unlock(&adp_g.reg_lock);
}

void adp_set_thread_node(int node)
{
	unsigned n = node < 0 ? 0 : (unsigned)node % ADP_MAX_NODES;
	adp_tc_node = n;
	adp_tcache_t *tc = adp_tc;
	if (!tc || tc->node == n)
		return;
	// Objects cached for the old node go back to it first.
	for (unsigned c = 0; c < ADP_NCLS; c++) {
		adp_bin_t *b = &tc->bins[c];
		put_by_node(c, b->head);
		b->head = NULL;
		b->n = 0;
		adp_foreign_flush(tc, c);
	}
	tc->node = n;
	tc->tag = ADP_TAG_SMALL | n;
	tc->mixed = false;
}

bool adp_thread_tuning(unsigned cls, adp_tuning_t *out)
{
	adp_tcache_t *tc = adp_tc;
	if (!tc || cls >= ADP_NCLS)
		return false;
	out->batch = tc->ctl[cls].batch;
	out->cap = tc->bins[cls].cap ? tc->bins[cls].cap : tc->bins[cls].cap_on;
	out->numa_weight = tc->numa_weight;
	out->watermark = as_atomic_load_acquire(&adp_g.watermark);
	return true;
}
