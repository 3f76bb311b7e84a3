// SPDX-License-Identifier: MIT
// The shared pool of one (node, size class): a bounded stack of batches
// (whole chains moved in O(1), as in tcmalloc's transfer cache) in front of
// the class's slabs. Refills take a batch if one is ready, else carve or
// collect objects from partial slabs; flushes push a batch while the stack
// has room (ADP_CENTRAL_BATCHES chains, ADP_CENTRAL_BYTES bytes), else the
// objects go back to their slabs, and a slab whose last object comes back
// is kept as the class's one spare or returned to the node's pool. One
// spinlock per (node, class): there is no global lock on any path.
#include "internal.h"

static void partial_push(adp_central_t *c, adp_slab_t *s)
{
	s->prev = NULL;
	s->next = c->partial;
	if (c->partial)
		c->partial->prev = s;
	c->partial = s;
	s->in_partial = 1;
}

static void partial_remove(adp_central_t *c, adp_slab_t *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		c->partial = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->next = s->prev = NULL;
	s->in_partial = 0;
}

static bool slab_has(const adp_slab_t *s)
{
	return s->free || s->carved < adp_cls_count[s->cls];
}

static void *slab_take(adp_slab_t *s)
{
	void *p = s->free;
	if (p) {
		s->free = *(void **)p;
	} else {
		p = adp_slab_first(s) + (size_t)s->carved * adp_cls_size[s->cls];
		s->carved++;
	}
	s->used++;
	return p;
}

static bool pop_batch(adp_central_t *c, void **head, uint32_t *got)
{
	if (!c->nbatch)
		return false;
	adp_batch_t *b = &c->batch[--c->nbatch];
	*head = b->head;
	*got = b->n;
	c->nobj -= b->n;
	// Relaxed: a hint for peeking thieves; the lock orders the real data.
	as_atomic_store_relaxed(&c->nbatch_hint, c->nbatch);
	return true;
}

bool adp_central_take_batch(unsigned node, unsigned cls, void **head, uint32_t *got)
{
	adp_central_t *c = adp_central(node, cls);
	// Relaxed peek: a hint; the lock decides.
	if (!as_atomic_load_relaxed(&c->nbatch_hint))
		return false;
	adp_lock(&c->lock);
	bool ok = pop_batch(c, head, got);
	adp_unlock(&c->lock);
	return ok;
}

uint32_t adp_central_take(unsigned node, unsigned cls, uint32_t want, void **head)
{
	adp_central_t *c = adp_central(node, cls);
	uint32_t n = 0;
	void *chain = NULL;
	adp_lock(&c->lock);
	if (want > 1 && pop_batch(c, head, &n)) {
		adp_unlock(&c->lock);
		return n;
	}
	while (n < want) {
		adp_slab_t *s = c->partial;
		if (!s) {
			s = c->spare;
			if (s) {
				c->spare = NULL;
			} else {
				bool fresh;
				adp_unlock(&c->lock);
				s = adp_pool_get(node, &fresh);
				adp_lock(&c->lock);
				if (!s)
					break;
				s->cls = cls;
				s->tag = ADP_TAG_SMALL | node;
			}
			partial_push(c, s);
		}
		while (n < want && slab_has(s)) {
			void *p = slab_take(s);
			*(void **)p = chain;
			chain = p;
			n++;
		}
		if (!slab_has(s))
			partial_remove(c, s);
	}
	adp_unlock(&c->lock);
	*head = chain;
	return n;
}

/// Objects back to their slabs, under c->lock; slabs that become empty are
/// kept as the spare or chained on *empties for the pool.
static void release_locked(adp_central_t *c, void *head, uint32_t n, adp_slab_t **empties)
{
	while (n--) {
		void *p = head;
		head = *(void **)p;
		adp_slab_t *s = adp_slab_of(p);
		*(void **)p = s->free;
		s->free = p;
		if (--s->used == 0) {
			if (s->in_partial)
				partial_remove(c, s);
			if (!c->spare) {
				c->spare = s;
			} else {
				s->next = *empties;
				*empties = s;
			}
		} else if (!s->in_partial) {
			partial_push(c, s);
		}
	}
}

static void empties_to_pool(unsigned node, adp_slab_t *e)
{
	while (e) {
		adp_slab_t *next = e->next;
		adp_pool_put(node, e);
		e = next;
	}
}

void adp_central_release(unsigned node, unsigned cls, void *head, uint32_t n)
{
	adp_central_t *c = adp_central(node, cls);
	adp_slab_t *empties = NULL;
	adp_lock(&c->lock);
	release_locked(c, head, n, &empties);
	adp_unlock(&c->lock);
	empties_to_pool(node, empties);
}

void adp_central_put(unsigned node, unsigned cls, void *head, uint32_t n)
{
	adp_central_t *c = adp_central(node, cls);
	adp_slab_t *empties = NULL;
	adp_lock(&c->lock);
	uint64_t bytes = (uint64_t)(c->nobj + n) * adp_cls_size[cls];
	if (c->nbatch < ADP_CENTRAL_BATCHES && bytes <= ADP_CENTRAL_BYTES) {
		c->batch[c->nbatch++] = (adp_batch_t){ head, n };
		c->nobj += n;
		// Relaxed: a hint for peeking thieves; the lock orders the real data.
		as_atomic_store_relaxed(&c->nbatch_hint, c->nbatch);
		adp_unlock(&c->lock);
		return;
	}
	release_locked(c, head, n, &empties);
	adp_unlock(&c->lock);
	empties_to_pool(node, empties);
}
