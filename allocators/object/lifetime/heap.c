// SPDX-License-Identifier: MIT
// The lifetime heap: 2 MiB regions of one lifetime class, cut into runs of
// 8 KiB blocks, plus the size classes and the address -> region radix.
//
// Block placement (LLAMA's policy, as far as the public record shows it):
// a thread that needs a run for lifetime class c first looks for free
// blocks in ACTIVE regions of longer classes, longest first (recycling: the
// short-lived objects die before the region's residents, so the region's
// lifetime is not extended); then in the OPEN region of class c; then (our
// addition, lt_p.share) in ACTIVE regions of shorter classes; then it opens
// a free region (or maps a new one) for c. Free blocks of live regions are
// decommitted once each has been free for purge_ns. Each region has a deadline
// of deadline_mult x the bound of its class after its last resident run was
// placed: past it with residents still live, the region was under-predicted
// and moves to the next longer class; when its residents all die before
// the bound of the next shorter class while recycled runs remain, it was
// over-predicted and moves one class down. An empty region is decommitted
// (page source decommit) and kept for reuse, up to keep_free; beyond that
// it is unmapped.
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "../pagesource/pagesource.h"
#include "as/meta.h"
#include "internal.h"

lt_heap_t lt_heap = { .lock = PTHREAD_MUTEX_INITIALIZER };
const struct page_source_ops *lt_ps;

// The page sources are linked in the preload library; until they exist the
// allocator falls back to its own mmap source (same behaviour as "os").
extern const struct page_source_ops *ps_find(const char *name) __attribute__((weak));

// ---------------------------------------------------------------------------
// Size classes: 16 B steps to 128 B, then eight per power of two to 64 KiB
// (internal fragmentation at most 12.5%, about 6% on average).

unsigned lt_sc_of(size_t size)
{
	if (size <= 128)
		return size <= 16 ? 0 : (unsigned)((size - 1) >> 4);
	unsigned b = 63u - (unsigned)__builtin_clzll((unsigned long long)(size - 1));
	unsigned sub = (unsigned)((size - 1) >> (b - 3)) & 7u;
	return 8 + (b - 7) * 8 + sub;
}

uint32_t lt_sc_size(unsigned sc)
{
	if (sc < 8)
		return 16u * (sc + 1);
	unsigned k = sc - 8;
	unsigned b = 7 + k / 8;
	return (1u << b) + (k % 8 + 1) * (1u << (b - 3));
}

unsigned lt_sc_blocks(unsigned sc)
{
	uint32_t s = lt_sc_size(sc);
	if (s <= 1024)
		return 1;
	// Runs of about four objects: small runs keep the per-(class, size
	// class) partial runs cheap when many lifetime classes are in use.
	unsigned n = (unsigned)(((uint64_t)s * 4 + LT_BLOCK - 1) / LT_BLOCK);
	return n > LT_MAX_RUN ? LT_MAX_RUN : n;
}

// ---------------------------------------------------------------------------
// Radix: 2 MiB chunk index (bits 21..46) -> region; two levels of 8192.

#define LT_RADIX_BITS 13u
#define LT_RADIX_N (1u << LT_RADIX_BITS)
static _Atomic(_Atomic(lt_region_t *) *) lt_radix[LT_RADIX_N];

lt_region_t *lt_region_of(const void *p)
{
	uintptr_t c = (uintptr_t)p >> 21;
	uintptr_t hi = (c >> LT_RADIX_BITS) & (LT_RADIX_N - 1);
	if (AS_UNLIKELY(((uintptr_t)p >> 47) != 0))
		return NULL;
	_Atomic(lt_region_t *) *leaf = as_atomic_load_acquire(&lt_radix[hi]);
	if (!leaf)
		return NULL;
	return as_atomic_load_acquire(&leaf[c & (LT_RADIX_N - 1)]);
}

static bool radix_set(const void *p, lt_region_t *r)
{
	uintptr_t c = (uintptr_t)p >> 21;
	uintptr_t hi = (c >> LT_RADIX_BITS) & (LT_RADIX_N - 1);
	if (((uintptr_t)p >> 47) != 0)
		return false;
	_Atomic(lt_region_t *) *leaf = as_atomic_load_acquire(&lt_radix[hi]);
	if (!leaf) {
		_Atomic(lt_region_t *) *fresh = as_meta_alloc(sizeof(*fresh) * LT_RADIX_N, 4096);
		if (!fresh)
			return false;
		memset((void *)fresh, 0, sizeof(*fresh) * LT_RADIX_N); // touch it all now
		_Atomic(lt_region_t *) *expect = NULL;
		if (as_atomic_cas_strong_acq_rel(&lt_radix[hi], &expect, fresh)) {
			leaf = fresh;
		} else {
			as_meta_free(fresh, sizeof(*fresh) * LT_RADIX_N, 4096);
			leaf = expect;
		}
	}
	as_atomic_store_release(&leaf[c & (LT_RADIX_N - 1)], r);
	return true;
}

// ---------------------------------------------------------------------------
// Fallback page source (mmap), used only when no page source is linked.

static bool fb_init(const char *o, char *e, size_t n)
{
	(void)o;
	(void)e;
	(void)n;
	return true;
}

static void *fb_map(size_t bytes, size_t align, bool *dirty)
{
	size_t len = bytes + (align > 4096 ? align : 0);
	char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	char *p = (char *)as_align_up((uintptr_t)m, align < 4096 ? 4096 : align);
	if (p > m)
		munmap(m, (size_t)(p - m));
	if (len - (size_t)(p - m) > bytes)
		munmap(p + bytes, len - (size_t)(p - m) - bytes);
	if (align >= LT_REGION && bytes % LT_REGION == 0)
		madvise(p, bytes, MADV_HUGEPAGE);
	if (dirty)
		*dirty = false;
	return p;
}

static void fb_unmap(void *p, size_t bytes)
{
	munmap(p, bytes);
}

static void fb_decommit(void *p, size_t bytes)
{
	madvise(p, bytes, MADV_DONTNEED);
}

static bool fb_is_backed(const void *p, size_t bytes)
{
	(void)p;
	(void)bytes;
	return false;
}

static void fb_stats(ps_stats_t *out)
{
	memset(out, 0, sizeof(*out));
}

static const struct page_source_ops lt_fallback_ps = {
	.name = "lt-mmap",
	.init = fb_init,
	.map = fb_map,
	.unmap = fb_unmap,
	.decommit = fb_decommit,
	.is_backed = fb_is_backed,
	.stats = fb_stats,
};

bool lt_heap_init(char *err, size_t errlen)
{
	const struct page_source_ops *ps = NULL;
	const char *name = lt_p.pagesource;
	char opts[64] = "";
	const char *colon = strchr(name, ':');
	char base[64];
	snprintf(base, sizeof(base), "%.*s", colon ? (int)(colon - name) : 63, name);
	if (colon)
		snprintf(opts, sizeof(opts), "%s", colon + 1);
	if (ps_find) {
		ps = ps_find(base);
		if (!ps) {
			snprintf(err, errlen, "ALLOCSCOPE_LIFETIME_PAGESOURCE=%s: unknown page source",
				 name);
			return false;
		}
	} else if (!strcmp(base, "os")) {
		ps = &lt_fallback_ps;
	} else {
		snprintf(err, errlen, "page source %s: no page sources linked", name);
		return false;
	}
	if (!ps->init(opts[0] ? opts : NULL, err, errlen))
		return false;
	lt_ps = ps;
	return true;
}

// ---------------------------------------------------------------------------
// Regions

static void heap_tick_locked(uint64_t now);

static void list_push(lt_region_t **head, lt_region_t *r)
{
	r->prev = NULL;
	r->next = *head;
	if (*head)
		(*head)->prev = r;
	*head = r;
}

static void list_del(lt_region_t **head, lt_region_t *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else
		*head = r->next;
	if (r->next)
		r->next->prev = r->prev;
	r->prev = r->next = NULL;
}

uint64_t lt_heap_committed(void)
{
	return (lt_heap.nmapped - lt_heap.nfree) * (uint64_t)LT_REGION;
}

// ---------------------------------------------------------------------------
// Huge pages (lt_p.huge). On the os page source a region mapped with
// MADV_HUGEPAGE becomes one 2 MiB page at its first touch, so every region
// opened costs 2 MiB of RSS however little it holds. Under the default
// `dense` policy a region stays on 4 KiB pages (MADV_NOHUGEPAGE) until every
// block of it has been handed out, and is then collapsed in place
// (MADV_COLLAPSE, Linux 6.1+, synchronous) - promotion by utilisation, as
// Ingens (OSDI'16) does for whole processes. Purging a free block of a
// collapsed region splits the huge page again; that is the kernel's job.

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif

/// True when lt_ps maps plain anonymous memory whose THP state madvise sets
/// (frame@X page sources hand out order-9 frames and decide themselves).
static bool heap_thp_managed(void)
{
	return lt_p.huge != LT_HUGE_EAGER &&
	       (!strcmp(lt_ps->name, "os") || !strcmp(lt_ps->name, "lt-mmap"));
}

/// Keep a fresh or reused region on small pages (dense and off policies).
static void region_small_pages(lt_region_t *r)
{
	if (heap_thp_managed())
		madvise(r->base, LT_REGION, MADV_NOHUGEPAGE);
	r->huge = false;
}

/// Called when every block of r is in use: collapse it into a huge page.
static void region_maybe_collapse(lt_region_t *r)
{
	if (r->huge || lt_p.huge != LT_HUGE_DENSE || !heap_thp_managed())
		return;
	r->huge = true; // one attempt per commit: a failed collapse is not retried
	if (madvise(r->base, LT_REGION, MADV_HUGEPAGE) == 0 &&
	    madvise(r->base, LT_REGION, MADV_COLLAPSE) == 0)
		lt_heap.collapses++;
	else
		lt_heap.collapse_failures++;
}

static lt_region_t *region_new(unsigned lc, uint64_t now)
{
	lt_region_t *r = lt_heap.free_list;
	if (r) {
		list_del(&lt_heap.free_list, r);
		lt_heap.nfree--;
		if (r->huge)
			region_small_pages(r);
	} else {
		bool dirty = false;
		char *base = lt_ps->map(LT_REGION, LT_REGION, &dirty);
		if (!base)
			return NULL;
		r = as_meta_alloc(sizeof(*r), 4096);
		if (!r) {
			lt_ps->unmap(base, LT_REGION);
			return NULL;
		}
		r->base = base;
		for (unsigned i = 0; i < LT_BLOCKS; i++)
			r->blocks[i].region = r;
		if (!radix_set(base, r)) {
			lt_ps->unmap(base, LT_REGION);
			as_meta_free(r, sizeof(*r), 4096);
			return NULL;
		}
		lt_heap.nmapped++;
		region_small_pages(r);
	}
	r->committed = true;
	r->lc = r->base_lc = (uint8_t)lc;
	r->state = LT_R_OPEN;
	r->opened_ns = r->filled_ns = now;
	r->used = r->residents = 0;
	memset(r->bitmap, 0, sizeof(r->bitmap));
	memset(r->dirty, 0, sizeof(r->dirty));
	list_push(&lt_heap.lists[lc], r);
	lt_heap.open[lc] = r;
	lt_heap.region_opens++;
	// Realized fragmentation of the heap at its committed peak.
	uint64_t c = lt_heap_committed();
	if (c > lt_heap.committed_peak) {
		lt_heap.committed_peak = c;
		int64_t live = lt_live_bytes();
		lt_heap.frag_at_peak = 1.0 - (double)(live > 0 ? live : 0) / (double)c;
	}
	return r;
}

static void region_free(lt_region_t *r)
{
	list_del(&lt_heap.lists[r->lc], r);
	if (lt_heap.open[r->lc] == r)
		lt_heap.open[r->lc] = NULL;
	r->state = LT_R_FREE;
	lt_ps->decommit(r->base, LT_REGION);
	r->committed = false;
	lt_heap.decommits++;
	if (lt_heap.nfree < lt_p.keep_free) {
		list_push(&lt_heap.free_list, r);
		lt_heap.nfree++;
		return;
	}
	// Unmapping: the radix slot goes NULL first, so a stale pointer fails the
	// lookup instead of reaching a dead descriptor.
	radix_set(r->base, NULL);
	lt_ps->unmap(r->base, LT_REGION);
	lt_heap.nmapped--;
	as_meta_free(r, sizeof(*r), 4096);
}

static void region_reclass(lt_region_t *r, unsigned lc)
{
	list_del(&lt_heap.lists[r->lc], r);
	if (lt_heap.open[r->lc] == r)
		lt_heap.open[r->lc] = NULL;
	if (r->state == LT_R_OPEN)
		r->state = LT_R_ACTIVE;
	r->lc = (uint8_t)lc;
	list_push(&lt_heap.lists[lc], r);
}

/// First run of n free blocks in r (index), or -1.
static int region_find(const lt_region_t *r, unsigned n)
{
	if (LT_BLOCKS - r->used < n)
		return -1;
	if (n == 1) {
		// A free block that is still backed first: no page faults, and the
		// decommitted ones stay out of the RSS.
		for (unsigned w = 0; w < LT_BLOCKS / 64; w++)
			if (~r->bitmap[w] & r->dirty[w])
				return (int)(w * 64 + (unsigned)__builtin_ctzll(~r->bitmap[w] & r->dirty[w]));
		for (unsigned w = 0; w < LT_BLOCKS / 64; w++)
			if (~r->bitmap[w])
				return (int)(w * 64 + (unsigned)__builtin_ctzll(~r->bitmap[w]));
		return -1;
	}
	unsigned run = 0;
	for (unsigned i = 0; i < LT_BLOCKS; i++) {
		if ((r->bitmap[i / 64] >> (i % 64)) & 1) {
			run = 0;
			continue;
		}
		if (++run == n)
			return (int)(i + 1 - n);
	}
	return -1;
}

static void region_take(lt_region_t *r, unsigned idx, unsigned n, unsigned lc)
{
	for (unsigned i = idx; i < idx + n; i++) {
		r->bitmap[i / 64] |= 1ULL << (i % 64);
		r->dirty[i / 64] &= ~(1ULL << (i % 64));
	}
	r->used = (uint16_t)(r->used + n);
	if (lc >= r->base_lc)
		r->residents = (uint16_t)(r->residents + n);
	if (r->used == LT_BLOCKS)
		region_maybe_collapse(r);
	if (r->state == LT_R_OPEN && r->used == LT_BLOCKS) {
		r->state = LT_R_ACTIVE;
		if (lt_heap.open[r->lc] == r)
			lt_heap.open[r->lc] = NULL;
	}
}

lt_block_t *lt_run_acquire(lt_tstate_t *t, unsigned lc, unsigned sc)
{
	unsigned n = lt_sc_blocks(sc);
	uint64_t now = lt_now();
	lt_region_t *r = NULL;
	int idx = -1;
	bool recycled = false;
	pthread_mutex_lock(&lt_heap.lock);
	// Holes in ACTIVE regions first: of longer classes, longest first
	// (recycling), then of the same class (packing); then the OPEN region.
	int lowest = (int)lc;
	int highest = lt_p.recycle ? (int)lt_top_class() : (int)lc;
	for (int c = highest; c >= lowest && idx < 0; c--) {
		for (lt_region_t *x = lt_heap.lists[c]; x; x = x->next) {
			if (x->state != LT_R_ACTIVE)
				continue;
			idx = region_find(x, n);
			if (idx >= 0) {
				r = x;
				recycled = c > (int)lc;
				break;
			}
		}
	}
	if (idx < 0 && lt_heap.open[lc]) {
		r = lt_heap.open[lc];
		idx = region_find(r, n);
		if (idx < 0) {
			r->state = LT_R_ACTIVE;
			lt_heap.open[lc] = NULL;
		}
	}
	// Before a new region: holes in ACTIVE regions of shorter classes. Such a
	// region then holds longer-lived data than its class says; its deadline
	// promotes it if that data outlives it. Opening a region costs 2 MiB of
	// RSS at once, a hole costs nothing, and most regions never empty anyway
	// when long-lived objects die at random.
	for (int c = (int)lc - 1; lt_p.share && c >= 0 && idx < 0; c--) {
		for (lt_region_t *x = lt_heap.lists[c]; x; x = x->next) {
			if (x->state != LT_R_ACTIVE)
				continue;
			idx = region_find(x, n);
			if (idx >= 0) {
				r = x;
				break;
			}
		}
	}
	if (idx < 0) {
		r = region_new(lc, now);
		if (!r) {
			pthread_mutex_unlock(&lt_heap.lock);
			return NULL;
		}
		idx = 0;
	}
	region_take(r, (unsigned)idx, n, lc);
	if (recycled)
		lt_heap.recycled++;
	if (lc >= r->base_lc)
		r->filled_ns = now;
	bool tick = now - lt_heap.last_tick >= lt_p.tick_ns;
	if (tick)
		lt_heap.last_tick = now;
	pthread_mutex_unlock(&lt_heap.lock);

	lt_block_t *b = &r->blocks[idx];
	for (unsigned i = 0; i < n; i++) {
		r->blocks[idx + (int)i].head = b;
		r->blocks[idx + (int)i].nblocks = 0;
	}
	b->start = r->base + (size_t)idx * LT_BLOCK;
	b->sc = (uint16_t)sc;
	b->size = lt_sc_size(sc);
	b->inv = ((uint64_t)1 << 40) / b->size + 1;
	b->capacity = (uint32_t)((size_t)n * LT_BLOCK / b->size);
	b->lc = (uint8_t)lc;
	b->nblocks = (uint8_t)n;
	b->bump = 0;
	b->free = NULL;
	b->nfree = 0;
	b->born_ns = now;
	b->prev = b->next = NULL;
	as_atomic_store_relaxed(&b->xfree, (uintptr_t)0); // published by the state store
	as_atomic_store_relaxed(&b->nsampled, 0u); // published by the state store
	as_atomic_store_relaxed(&b->owner, t); // published by the state store
	as_atomic_store_release(&b->state, LT_OWNED | b->capacity);
	if (tick)
		lt_heap_tick(now);
	return b;
}

void lt_run_release(lt_block_t *b)
{
	lt_region_t *r = b->region;
	unsigned idx = (unsigned)(b - r->blocks);
	unsigned n = b->nblocks;
	uint64_t now = lt_now();
	pthread_mutex_lock(&lt_heap.lock);
	for (unsigned i = idx; i < idx + n; i++) {
		r->bitmap[i / 64] &= ~(1ULL << (i % 64));
		r->dirty[i / 64] |= 1ULL << (i % 64);
		r->freed_ns[i] = now;
		r->blocks[i].head = NULL;
	}
	r->released_ns = now;
	b->nblocks = 0;
	r->used = (uint16_t)(r->used - n);
	if (b->lc >= r->base_lc)
		r->residents = (uint16_t)(r->residents - n);
	if (r->used == 0) {
		region_free(r);
	} else if (r->residents == 0 && r->lc > 0 && lt_p.predictor != LT_PRED_NONE &&
		   now - r->opened_ns < lt_p.bound_ns[r->lc - 1]) {
		// Over-predicted: the residents died within the next shorter bound.
		region_reclass(r, r->lc - 1u);
		lt_heap.demotions++;
	}
	bool tick = now - lt_heap.last_tick >= lt_p.tick_ns;
	if (tick) {
		lt_heap.last_tick = now;
		heap_tick_locked(now);
	}
	pthread_mutex_unlock(&lt_heap.lock);
	if (tick)
		lt_sample_sweep(now);
}

/// Decommit the free blocks of r that stayed free for purge_ns (each block
/// by its own release time, so churn elsewhere in the region does not keep
/// idle blocks backed); neighbours are decommitted together.
static void region_purge(lt_region_t *r, uint64_t now)
{
	if (!lt_p.purge_ns)
		return;
	unsigned i = 0;
	while (i < LT_BLOCKS) {
		uint64_t w = r->dirty[i / 64] >> (i % 64);
		if (!w) {
			i = (i / 64 + 1) * 64;
			continue;
		}
		i += (unsigned)__builtin_ctzll(w);
		if (now - r->freed_ns[i] < lt_p.purge_ns) {
			i++;
			continue;
		}
		unsigned j = i;
		while (j < LT_BLOCKS && ((r->dirty[j / 64] >> (j % 64)) & 1) &&
		       now - r->freed_ns[j] >= lt_p.purge_ns) {
			r->dirty[j / 64] &= ~(1ULL << (j % 64));
			j++;
		}
		lt_ps->decommit(r->base + (size_t)i * LT_BLOCK, (size_t)(j - i) * LT_BLOCK);
		lt_heap.purged_blocks += j - i;
		i = j;
	}
}

static void heap_tick_locked(uint64_t now)
{
	for (int c = (int)lt_top_class(); c >= 0; c--) {
		lt_region_t *x = lt_heap.lists[c];
		while (x) {
			lt_region_t *next = x->next;
			uint64_t dl = x->filled_ns + lt_p.deadline_mult * lt_p.bound_ns[c];
			if (c < (int)lt_top_class() && x->residents > 0 && now > dl) {
				region_reclass(x, (unsigned)c + 1u);
				x->filled_ns = now;
				lt_heap.promotions++;
			}
			region_purge(x, now);
			x = next;
		}
	}
}

void lt_heap_tick(uint64_t now)
{
	pthread_mutex_lock(&lt_heap.lock);
	heap_tick_locked(now);
	pthread_mutex_unlock(&lt_heap.lock);
	lt_sample_sweep(now);
}

void lt_heap_rebase(uint64_t now)
{
	pthread_mutex_lock(&lt_heap.lock);
	lt_heap.last_tick = now;
	for (unsigned c = 0; c < LT_MAX_CLASSES; c++)
		for (lt_region_t *r = lt_heap.lists[c]; r; r = r->next) {
			r->opened_ns = r->filled_ns = r->released_ns = now;
			for (unsigned i = 0; i < LT_BLOCKS; i++) {
				r->blocks[i].born_ns = now;
				r->freed_ns[i] = now;
			}
		}
	pthread_mutex_unlock(&lt_heap.lock);
}
