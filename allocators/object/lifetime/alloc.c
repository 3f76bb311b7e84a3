// SPDX-License-Identifier: MIT
// lifetime allocation and free paths: per-thread state, the run protocol
// described in internal.h (private free list for the owner, atomic xfree
// stack for everyone else, one state word for ownership/listing/count),
// the partial lists, large objects straight from the page source, and init.
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "../pagesource/pagesource.h"
#include "as/clock.h"
#include "as/meta.h"
#include "internal.h"

static LT_TLS __thread lt_tstate_t *lt_self;
_Atomic(lt_tstate_t *) lt_threads;
static _Atomic uint64_t lt_vclock;
static _Atomic unsigned lt_init_state; // 0 new, 1 running, 2 ok, 3 failed
static char lt_err[256];

uint64_t lt_now(void)
{
	uint64_t v = as_atomic_load_relaxed(&lt_vclock); // set once by replay, before use
	return v ? v : as_now_ns();
}

void lt_set_clock(uint64_t ns)
{
	ns = ns ? ns : 1;
	if (as_atomic_load_relaxed(&lt_vclock) == 0) { // first switch: replay is single-threaded
		// Rebase every stamp taken on the real clock, so decisions after the
		// switch do not depend on how long the process took to get here.
		lt_heap_rebase(ns);
		lt_sample_rebase(ns);
	}
	as_atomic_store_relaxed(&lt_vclock, ns); // replay is single-threaded
}

const char *lt_init_error(void)
{
	return lt_err;
}

bool lt_init(void)
{
	unsigned s = as_atomic_load_acquire(&lt_init_state);
	if (AS_LIKELY(s == 2))
		return true;
	if (s == 3)
		return false;
	unsigned expect = 0;
	if (!as_atomic_cas_strong_acq_rel(&lt_init_state, &expect, 1u)) {
		while ((s = as_atomic_load_acquire(&lt_init_state)) == 1)
			as_cpu_relax();
		return s == 2;
	}
	bool ok = lt_params_load(lt_err, sizeof(lt_err)) && lt_heap_init(lt_err, sizeof(lt_err)) &&
		  lt_sites_init(lt_err, sizeof(lt_err)) && lt_predict_init(lt_err, sizeof(lt_err));
	if (!ok) {
		static const char pfx[] = "liballocscope-lifetime: ";
		ssize_t w = write(2, pfx, sizeof(pfx) - 1);
		w += write(2, lt_err, strlen(lt_err));
		w += write(2, "\n", 1);
		(void)w;
	}
	as_atomic_store_release(&lt_init_state, ok ? 2u : 3u);
	return ok;
}

// ---------------------------------------------------------------------------
// Threads

lt_tstate_t *lt_thread(void)
{
	if (lt_self)
		return lt_self;
	if (!lt_init())
		return NULL;
	lt_tstate_t *t;
	for (t = as_atomic_load_acquire(&lt_threads); t; t = t->next) {
		bool dead = true;
		if (as_atomic_load_relaxed(&t->dead) && // cheap pre-check, CAS decides
		    atomic_compare_exchange_strong_explicit(&t->dead, &dead, false,
							    memory_order_acq_rel,
							    memory_order_acquire))
			break;
	}
	if (!t) {
		t = as_meta_alloc(sizeof(*t), AS_CACHELINE);
		if (!t)
			return NULL;
		lt_tstate_t *head = as_atomic_load_acquire(&lt_threads);
		do {
			t->next = head;
		} while (!as_atomic_cas_weak_acq_rel(&lt_threads, &head, t));
	}
	// Seeded by thread ordinal, not address, so a replay samples the same
	// objects on every run.
	static _Atomic uint64_t ordinal;
	as_rng_seed(&t->rng, 0x6c74u, as_atomic_fetch_add_relaxed(&ordinal, 1u)); // unique only
	t->sample_left = 1 + as_rng_below(&t->rng, 2 * lt_p.sample_every);
	t->verify_left = 1 + as_rng_below(&t->rng, 2 * lt_p.verify_every);
	lt_self = t;
	return t;
}

static inline void ctr_inc(_Atomic uint64_t *c)
{
	as_atomic_store_relaxed(c, as_atomic_load_relaxed(c) + 1); // owner is the only writer
}

static inline void live_add(lt_tstate_t *t, int64_t d)
{
	as_atomic_store_relaxed(&t->live, as_atomic_load_relaxed(&t->live) + d); // owner writes
}

int64_t lt_live_bytes(void)
{
	int64_t s = 0;
	for (lt_tstate_t *t = as_atomic_load_acquire(&lt_threads); t; t = t->next)
		s += as_atomic_load_relaxed(&t->live); // a snapshot is enough
	return s;
}

// ---------------------------------------------------------------------------
// Partial lists

static lt_partial_t *partial_of(const lt_block_t *b)
{
	return &lt_heap.partial[b->lc][b->sc];
}

/// List an unowned run that has fallen to half its capacity.
static void try_list(lt_block_t *b, uint32_t seen)
{
	lt_partial_t *pl = partial_of(b);
	lt_lock(&pl->lock);
	if (as_atomic_cas_strong_acq_rel(&b->state, &seen, seen | LT_LISTED)) {
		b->prev = NULL;
		b->next = pl->head;
		if (pl->head)
			pl->head->prev = b;
		pl->head = b;
	}
	lt_unlock(&pl->lock);
}

static void unlink_partial(lt_partial_t *pl, lt_block_t *b)
{
	if (b->prev)
		b->prev->next = b->next;
	else
		pl->head = b->next;
	if (b->next)
		b->next->prev = b->prev;
	b->prev = b->next = NULL;
}

/// A listed run reached count 0: take it off its list and free it, unless a
/// thread popped it meanwhile.
static void try_reclaim_listed(lt_block_t *b)
{
	lt_partial_t *pl = partial_of(b);
	lt_lock(&pl->lock);
	uint32_t expect = LT_LISTED;
	bool mine = as_atomic_cas_strong_acq_rel(&b->state, &expect, 0u);
	if (mine)
		unlink_partial(pl, b);
	lt_unlock(&pl->lock);
	if (mine)
		lt_run_release(b);
}

/// Free slots an unowned run needs before it is worth listing for reuse.
static inline uint32_t lt_list_slack(uint32_t capacity)
{
	return capacity >= 16 ? capacity / 8 : 1;
}

/// After the state dropped to `now` (not owned by the caller): free, list or
/// leave the run.
static void after_drop(lt_block_t *b, uint32_t now)
{
	if (now == 0)
		lt_run_release(b);
	else if (now == LT_LISTED)
		try_reclaim_listed(b);
	else if (!(now & (LT_OWNED | LT_LISTED)) &&
		 (now & LT_COUNT) + lt_list_slack(b->capacity) <= b->capacity)
		try_list(b, now);
}

static uint32_t list_len(uintptr_t x)
{
	uint32_t n = 0;
	for (; x; x = *(uintptr_t *)x)
		n++;
	return n;
}

/// Give up ownership of t's run b; its private reserve goes back.
static void run_disown(lt_block_t *b)
{
	uint32_t give = b->nfree + (b->capacity - b->bump);
	if (b->free) {
		void *tail = b->free;
		while (*(void **)tail)
			tail = *(void **)tail;
		uintptr_t old = as_atomic_load_relaxed(&b->xfree); // CAS below validates
		do {
			*(uintptr_t *)tail = old;
		} while (!as_atomic_cas_weak_release(&b->xfree, &old, (uintptr_t)b->free));
		b->free = NULL;
		b->nfree = 0;
	}
	as_atomic_store_relaxed(&b->owner, (lt_tstate_t *)NULL); // ordered by the RMW below
	uint32_t old = as_atomic_fetch_sub_acq_rel(&b->state, LT_OWNED + give);
	after_drop(b, old - LT_OWNED - give);
}

/// Pop a reusable run of (lc, sc) and make t its owner, or NULL.
static lt_block_t *partial_pop(lt_tstate_t *t, unsigned lc, unsigned sc)
{
	lt_partial_t *pl = &lt_heap.partial[lc][sc];
	lt_lock(&pl->lock);
	lt_block_t *b = pl->head;
	uint32_t old = 0;
	if (b) {
		unlink_partial(pl, b);
		old = as_atomic_load_acquire(&b->state);
		while (!as_atomic_cas_weak_acq_rel(&b->state, &old, (old & ~LT_LISTED) | LT_OWNED))
			;
	}
	lt_unlock(&pl->lock);
	if (!b)
		return NULL;
	as_atomic_store_relaxed(&b->owner, t); // only t compares against itself
	uintptr_t x = as_atomic_exchange_acquire(&b->xfree, (uintptr_t)0);
	if ((old & LT_COUNT) == 0) {
		b->bump = 0;
		b->free = NULL;
		b->nfree = 0;
		as_atomic_fetch_add_acq_rel(&b->state, b->capacity);
		return b;
	}
	uint32_t n = list_len(x);
	b->free = (void *)x;
	b->nfree = n;
	as_atomic_fetch_add_acq_rel(&b->state, n + (b->capacity - b->bump));
	return b;
}

// Owner lists (avail: private free objects; full: none), doubly linked
// through prev/next, touched only by the owning thread. A cursor walks the
// full list a few runs per refill, looking for objects freed remotely.

static lt_block_t **own_list(lt_tstate_t *t, const lt_block_t *b)
{
	return b->where == LT_W_AVAIL ? &t->avail[b->lc][b->sc] : &t->full[b->lc][b->sc];
}

static void own_push(lt_tstate_t *t, lt_block_t *b, uint8_t where)
{
	b->where = where;
	lt_block_t **head = own_list(t, b);
	b->prev = NULL;
	b->next = *head;
	if (*head)
		(*head)->prev = b;
	*head = b;
}

static void own_del(lt_tstate_t *t, lt_block_t *b)
{
	lt_block_t **head = own_list(t, b);
	if (b->where == LT_W_FULL && t->full_cur[b->lc][b->sc] == b)
		t->full_cur[b->lc][b->sc] = b->next;
	if (b->prev)
		b->prev->next = b->next;
	else
		*head = b->next;
	if (b->next)
		b->next->prev = b->prev;
	b->prev = b->next = NULL;
	b->where = LT_W_CUR;
}

/// Take the objects other threads freed into owned run b; returns how many.
static uint32_t collect_xfree(lt_block_t *b)
{
	uintptr_t x = as_atomic_exchange_acquire(&b->xfree, (uintptr_t)0);
	if (!x)
		return 0;
	uint32_t n = 0;
	uintptr_t tail = x;
	for (;;) {
		n++;
		uintptr_t nx = *(uintptr_t *)tail;
		if (!nx)
			break;
		tail = nx;
	}
	*(void **)tail = b->free;
	b->free = (void *)x;
	b->nfree += n;
	as_atomic_fetch_add_acq_rel(&b->state, n);
	return n;
}

/// True when no object of owned run b is live (all are in its reserve).
static inline bool owned_all_free(lt_block_t *b)
{
	uint32_t count = as_atomic_load_relaxed(&b->state) & LT_COUNT; // remote frees only lower it
	return count == b->nfree + (b->capacity - b->bump);
}

/// Look at up to four full runs (from the cursor on) for objects freed by
/// other threads: a run that emptied goes back to its region, one with
/// objects becomes available again.
static void scan_full(lt_tstate_t *t, unsigned lc, unsigned sc)
{
	lt_block_t *b = t->full_cur[lc][sc] ? t->full_cur[lc][sc] : t->full[lc][sc];
	for (unsigned k = 0; k < 4 && b; k++) {
		lt_block_t *next = b->next;
		if (as_atomic_load_relaxed(&b->xfree) && collect_xfree(b)) { // peek; exchange decides
			own_del(t, b);
			if (owned_all_free(b))
				run_disown(b);
			else
				own_push(t, b, LT_W_AVAIL);
		}
		b = next;
	}
	t->full_cur[lc][sc] = b;
}

static AS_NOINLINE void *refill(lt_tstate_t *t, unsigned lc, unsigned sc)
{
	lt_block_t *b = t->cur[lc][sc];
	if (b) {
		if (collect_xfree(b)) {
			void *p = b->free;
			b->free = *(void **)p;
			b->nfree--;
			return p;
		}
		// Exhausted: keep owning it (its objects' frees stay local).
		t->cur[lc][sc] = NULL;
		own_push(t, b, LT_W_FULL);
	}
	b = t->avail[lc][sc];
	if (!b) {
		scan_full(t, lc, sc);
		b = t->avail[lc][sc];
	}
	// Holes in this thread's runs of longer classes (LLAMA's recycling:
	// shorter objects die before the run's residents).
	for (unsigned c = lc + 1; !b && lt_p.recycle && c < lt_p.nclasses; c++)
		b = t->avail[c][sc];
	// Then holes in its runs of shorter classes, before a new run: a run
	// costs at least a block, a hole nothing (the same trade as the region
	// layer's sharing).
	for (unsigned c = lc; !b && lt_p.share > 1 && c-- > 0;)
		b = t->avail[c][sc];
	if (b) {
		own_del(t, b);
	} else {
		b = partial_pop(t, lc, sc);
		if (!b)
			b = lt_run_acquire(t, lc, sc);
		if (!b)
			return NULL;
	}
	b->where = LT_W_CUR;
	t->cur[lc][sc] = b;
	if (b->free) {
		void *p = b->free;
		b->free = *(void **)p;
		b->nfree--;
		return p;
	}
	if (b->bump < b->capacity)
		return b->start + (size_t)b->bump++ * b->size;
	return refill(t, lc, sc); // an avail run that emptied meanwhile: rare
}

// ---------------------------------------------------------------------------
// Large objects: page source direct, a header just below the pointer.

#define LT_LARGE_MAGIC 0x4c544c4152474531ULL
typedef struct lt_large_s {
	uint64_t magic;
	uint64_t map_bytes;
	char *base;
	uint64_t usable;
} lt_large_t;

static void *large_alloc(lt_tstate_t *t, size_t size, size_t align)
{
	size_t a = align < 64 ? 64 : align;
	if (size > ((size_t)1 << 46))
		return NULL;
	size_t bytes = (size_t)as_align_up(size + a, PS_PAGE);
	bool dirty = false;
	char *base = lt_ps->map(bytes, a > PS_PAGE ? a : PS_PAGE, &dirty);
	if (!base)
		return NULL;
	char *p = base + a;
	lt_large_t *h = (lt_large_t *)(void *)(p - sizeof(lt_large_t));
	h->magic = LT_LARGE_MAGIC;
	h->map_bytes = bytes;
	h->base = base;
	h->usable = bytes - a;
	if (t)
		live_add(t, (int64_t)h->usable);
	return p;
}

static void large_free(lt_tstate_t *t, void *p)
{
	lt_large_t *h = (lt_large_t *)(void *)((char *)p - sizeof(lt_large_t));
	if (h->magic != LT_LARGE_MAGIC)
		return; // not ours: ignore rather than corrupt
	h->magic = 0;
	if (t)
		live_add(t, -(int64_t)h->usable);
	lt_ps->unmap(h->base, h->map_bytes);
}

// ---------------------------------------------------------------------------
// malloc / free

static inline void *small_alloc(lt_tstate_t *t, unsigned sc, const void *ret, const void *sp)
{
	lt_site_t *site = NULL;
	unsigned lc;
	if (lt_p.predictor == LT_PRED_NONE) {
		lc = lt_top_class();
	} else {
		site = lt_site_lookup(t, ret, sp);
		lc = as_atomic_load_relaxed(&site->pred); // a stale class is harmless
		if (t->has_hint) {
			lc = lt_class_of(t->hint_ns);
			t->has_hint = false;
		}
	}
	lt_block_t *b = t->cur[lc][sc];
	void *p;
	if (AS_LIKELY(b && b->free)) {
		p = b->free;
		b->free = *(void **)p;
		b->nfree--;
	} else if (b && b->bump < b->capacity) {
		p = b->start + (size_t)b->bump++ * b->size;
	} else {
		p = refill(t, lc, sc);
		if (!p)
			return NULL;
		b = t->cur[lc][sc];
	}
	live_add(t, (int64_t)b->size);
	ctr_inc(&t->allocs);
	if (AS_UNLIKELY(--t->sample_left == 0)) {
		t->sample_left = 1 + as_rng_below(&t->rng, 2 * lt_p.sample_every);
		lt_sample_alloc(t, p, b->size, site, lc, b);
		// Young sites are checked on their first two samples, then now and then.
		if (site && (as_atomic_load_relaxed(&site->verified) < 2 || // a hint only
			     --t->verify_left == 0)) {
			t->verify_left = 1 + as_rng_below(&t->rng, 2 * lt_p.verify_every);
			lt_site_verify(t, site, ret, sp);
		}
	}
	return p;
}

void *lt_malloc(size_t size, const void *ret, const void *sp)
{
	lt_tstate_t *t = lt_self;
	if (AS_UNLIKELY(!t)) {
		t = lt_thread();
		if (!t)
			return NULL;
	}
	if (AS_UNLIKELY(size > LT_SMALL_MAX))
		return large_alloc(t, size, 16);
	return small_alloc(t, lt_sc_of(size ? size : 1), ret, sp);
}

void *lt_aligned(size_t align, size_t size, const void *ret, const void *sp)
{
	lt_tstate_t *t = lt_self;
	if (!t) {
		t = lt_thread();
		if (!t)
			return NULL;
	}
	if (align <= 16)
		return lt_malloc(size, ret, sp);
	if (align <= LT_BLOCK && size <= LT_SMALL_MAX) {
		for (unsigned sc = lt_sc_of(size > align ? size : align); sc < LT_NSC; sc++)
			if (lt_sc_size(sc) % align == 0)
				return small_alloc(t, sc, ret, sp);
	}
	return large_alloc(t, size, align);
}

/// A local free into an owned run that is not current: a full run becomes
/// available; a run with nothing live left goes back to its region (or is
/// kept as the one spare of its kind).
static AS_NOINLINE void local_free_slow(lt_tstate_t *t, lt_block_t *b)
{
	if (owned_all_free(b)) {
		own_del(t, b);
		// Keep one empty run per (class, size class) while nothing else is
		// available, so a thread that frees everything and allocates again
		// does not return and re-take runs from the region layer each time.
		if (t->avail[b->lc][b->sc])
			run_disown(b);
		else
			own_push(t, b, LT_W_AVAIL);
		return;
	}
	if (b->where == LT_W_FULL) {
		own_del(t, b);
		own_push(t, b, LT_W_AVAIL);
	}
}

void lt_free(void *p)
{
	lt_region_t *r = lt_region_of(p);
	lt_tstate_t *t = lt_self;
	if (!r) {
		large_free(t, p);
		return;
	}
	lt_block_t *b = r->blocks[((uintptr_t)p - (uintptr_t)r->base) / LT_BLOCK].head;
	if (AS_UNLIKELY(!b))
		return; // not a live run: an invalid free, ignored
	if (AS_UNLIKELY(as_atomic_load_relaxed(&b->nsampled))) { // owner-published bits
		uint32_t i = lt_obj_index(b, p);
		uint64_t bit = 1ULL << (i % 64);
		if (as_atomic_load_relaxed(&b->sampled[i / 64]) & bit) { // confirmed by the RMW
			uint64_t old = as_atomic_fetch_and_acq_rel(&b->sampled[i / 64], ~bit);
			if (old & bit) {
				as_atomic_fetch_sub_acq_rel(&b->nsampled, 1u);
				lt_sample_free(p);
			}
		}
	}
	if (t)
		live_add(t, -(int64_t)b->size);
	if (t && as_atomic_load_relaxed(&b->owner) == t) { // only t stores t here
		*(void **)p = b->free;
		b->free = p;
		b->nfree++;
		if (AS_UNLIKELY(b->where != LT_W_CUR))
			local_free_slow(t, b);
		return;
	}
	uintptr_t old = as_atomic_load_relaxed(&b->xfree); // CAS below validates
	do {
		*(uintptr_t *)p = old;
	} while (!as_atomic_cas_weak_release(&b->xfree, &old, (uintptr_t)p));
	uint32_t prev = as_atomic_fetch_sub_acq_rel(&b->state, 1u);
	if (!(prev & LT_OWNED))
		after_drop(b, prev - 1);
}

size_t lt_usable_size(const void *p)
{
	lt_region_t *r = lt_region_of(p);
	if (!r) {
		const lt_large_t *h = (const lt_large_t *)(const void *)((const char *)p -
									 sizeof(lt_large_t));
		return h->magic == LT_LARGE_MAGIC ? h->usable : 0;
	}
	lt_block_t *b = r->blocks[((uintptr_t)p - (uintptr_t)r->base) / LT_BLOCK].head;
	return b ? b->size : 0;
}

void lt_thread_exit(void)
{
	lt_tstate_t *t = lt_self;
	if (!t)
		return;
	for (unsigned c = 0; c < LT_MAX_CLASSES; c++)
		for (unsigned s = 0; s < LT_NSC; s++) {
			lt_block_t *b = t->cur[c][s];
			if (b) {
				t->cur[c][s] = NULL;
				run_disown(b);
			}
			while ((b = t->avail[c][s])) {
				own_del(t, b);
				run_disown(b);
			}
			while ((b = t->full[c][s])) {
				own_del(t, b);
				run_disown(b);
			}
			t->full_cur[c][s] = NULL;
		}
	memset(t->cache, 0, sizeof(t->cache));
	t->has_hint = false;
	t->hint_site = 0;
	lt_self = NULL;
	as_atomic_store_release(&t->dead, true);
}

// ---------------------------------------------------------------------------
// fork: every lock is taken before and released (or reset) after.

void lt_fork_prepare(void)
{
	pthread_mutex_lock(&lt_heap.lock);
	for (unsigned c = 0; c < LT_MAX_CLASSES; c++)
		for (unsigned s = 0; s < LT_NSC; s++)
			lt_lock(&lt_heap.partial[c][s].lock);
	lt_sample_lock_all();
}

void lt_fork_parent(void)
{
	lt_sample_unlock_all();
	for (unsigned c = 0; c < LT_MAX_CLASSES; c++)
		for (unsigned s = 0; s < LT_NSC; s++)
			lt_unlock(&lt_heap.partial[c][s].lock);
	pthread_mutex_unlock(&lt_heap.lock);
}

void lt_fork_child(void)
{
	lt_sample_unlock_all();
	for (unsigned c = 0; c < LT_MAX_CLASSES; c++)
		for (unsigned s = 0; s < LT_NSC; s++)
			lt_unlock(&lt_heap.partial[c][s].lock);
	pthread_mutex_init(&lt_heap.lock, NULL);
	// Threads other than this one are gone: their states become reusable
	// (their runs stay owned and are lost to the child, which usually execs).
	for (lt_tstate_t *t = as_atomic_load_acquire(&lt_threads); t; t = t->next)
		if (t != lt_self)
			as_atomic_store_release(&t->dead, true);
}
