// SPDX-License-Identifier: MIT
// adp_validate: the invariant walk (STYLE rule 7) over the central pools,
// their slabs, the slab pools and the calling thread's cache.
#include "as/err.h"
#include "internal.h"

#define FAIL(...)                                     \
	do {                                          \
		as_format(why, whylen, __VA_ARGS__);  \
		return false;                         \
	} while (0)

/// p is an object boundary of a live small slab of class cls.
static bool obj_ok(const void *p, unsigned cls)
{
	const adp_slab_t *s = adp_slab_of(p);
	if ((s->tag & 0xff00u) != ADP_TAG_SMALL || s->cls != cls)
		return false;
	const uint8_t *first = adp_slab_first(s);
	if ((const uint8_t *)p < first)
		return false;
	uintptr_t off = (uintptr_t)((const uint8_t *)p - first);
	return off % adp_cls_size[cls] == 0 && off / adp_cls_size[cls] < s->carved;
}

static bool check_slab(const adp_slab_t *s, unsigned node, unsigned cls, char *why, size_t whylen)
{
	if (s->tag != (ADP_TAG_SMALL | node) || s->cls != cls)
		FAIL("slab %p: tag %#x cls %u, expected node %u cls %u", (const void *)s, s->tag, s->cls, node, cls);
	if (s->carved > adp_cls_count[cls])
		FAIL("slab %p: carved %u > capacity %u", (const void *)s, s->carved, adp_cls_count[cls]);
	uint32_t nfree = 0;
	for (void *p = s->free; p; p = *(void **)p) {
		if (adp_slab_of(p) != s || !obj_ok(p, cls))
			FAIL("slab %p: free object %p out of place", (const void *)s, p);
		if (++nfree > s->carved)
			FAIL("slab %p: free list longer than carved (cycle?)", (const void *)s);
	}
	if (nfree + s->used != s->carved)
		FAIL("slab %p: free %u + used %u != carved %u", (const void *)s, nfree, s->used, s->carved);
	return true;
}

static bool check_central(unsigned node, unsigned cls, char *why, size_t whylen)
{
	adp_central_t *c = adp_central(node, cls);
	uint32_t objs = 0;
	for (uint32_t i = 0; i < c->nbatch; i++) {
		uint32_t n = 0;
		for (void *p = c->batch[i].head; p; p = *(void **)p) {
			if (!obj_ok(p, cls) || adp_slab_of(p)->node != node)
				FAIL("central %u/%u batch %u: bad object %p", node, cls, i, p);
			if (++n > c->batch[i].n)
				break;
		}
		if (n != c->batch[i].n)
			FAIL("central %u/%u batch %u: %u objects, header says %u", node, cls, i, n, c->batch[i].n);
		objs += n;
	}
	if (objs != c->nobj)
		FAIL("central %u/%u: %u batched objects, counter says %u", node, cls, objs, c->nobj);
	const adp_slab_t *prev = NULL;
	for (const adp_slab_t *s = c->partial; s; prev = s, s = s->next) {
		if (s->prev != prev || !s->in_partial)
			FAIL("central %u/%u: partial list links broken at %p", node, cls, (const void *)s);
		if (!check_slab(s, node, cls, why, whylen))
			return false;
		if (!s->free && s->carved == adp_cls_count[cls])
			FAIL("central %u/%u: full slab %p on the partial list", node, cls, (const void *)s);
	}
	if (c->spare) {
		if (!check_slab(c->spare, node, cls, why, whylen))
			return false;
		if (c->spare->used != 0 || c->spare->in_partial)
			FAIL("central %u/%u: spare slab in use", node, cls);
	}
	return true;
}

bool adp_validate(char *why, size_t whylen)
{
	if (!adp_g.central)
		FAIL("not initialised");
	for (unsigned node = 0; node < ADP_MAX_NODES; node++) {
		for (unsigned cls = 0; cls < ADP_NCLS; cls++) {
			adp_central_t *c = adp_central(node, cls);
			adp_lock(&c->lock);
			bool ok = check_central(node, cls, why, whylen);
			adp_unlock(&c->lock);
			if (!ok)
				return false;
		}
		adp_pool_t *pl = &adp_g.pool[node];
		uint64_t n = 0;
		adp_lock(&pl->lock);
		for (adp_slab_t *s = pl->free; s; s = s->next) {
			if (s->tag != ADP_TAG_FREE) {
				adp_unlock(&pl->lock);
				FAIL("pool %u: slab %p not marked free", node, (void *)s);
			}
			n++;
		}
		// Relaxed: the walk holds the lock that orders nfree's writers.
		bool count_ok = n == as_atomic_load_relaxed(&pl->nfree);
		adp_unlock(&pl->lock);
		if (!count_ok)
			FAIL("pool %u: %llu free slabs, counter says %llu", node, (unsigned long long)n,
			     (unsigned long long)as_atomic_load_relaxed(&pl->nfree));
	}
	adp_tcache_t *tc = adp_tc;
	if (tc) {
		for (unsigned cls = 0; cls < ADP_NCLS; cls++) {
			adp_bin_t *b = &tc->bins[cls];
			uint32_t n = 0;
			for (void *p = b->head; p && n <= b->n; p = *(void **)p, n++)
				if (!obj_ok(p, cls))
					FAIL("cache bin %u: bad object %p", cls, p);
			if (n != b->n)
				FAIL("cache bin %u: %u objects, counter says %u", cls, n, b->n);
			if (b->n > b->cap)
				FAIL("cache bin %u: %u objects over capacity %u", cls, b->n, b->cap);
			uint32_t cap = b->cap ? b->cap : b->cap_on; // unarmed: cap 0, empty
			if (tc->ctl[cls].batch == 0 || cap < tc->ctl[cls].batch)
				FAIL("cache bin %u: batch %u, cap %u", cls, tc->ctl[cls].batch, cap);
			n = 0;
			for (void *p = tc->foreign[cls].head; p && n <= tc->foreign[cls].n; p = *(void **)p, n++)
				if (!obj_ok(p, cls))
					FAIL("foreign list %u: bad object %p", cls, p);
			if (n != tc->foreign[cls].n)
				FAIL("foreign list %u: %u objects, counter says %u", cls, n, tc->foreign[cls].n);
		}
	}
	return true;
}
