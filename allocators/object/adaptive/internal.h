// SPDX-License-Identifier: MIT
// Internals shared by the files of adaptive/: the memory layout, the
// structures, and the inline fast paths (included by backend.h so the
// preload layer's malloc/free inline them).
//
// Layout. Small objects (<= ADP_SMALL_MAX) live in slabs of ADP_SLAB bytes,
// aligned to ADP_SLAB, each holding one size class; the slab header sits in
// the slab's first 64 bytes, so the header of any object p is found at
// (p - 1) & ~(ADP_SLAB - 1). Large objects get their own page-source mapping
// whose header sits at the same place relative to the object, so free() tells
// small from large with one load.
//
//   thread cache (bins: singly linked free lists, no locks)
//     | refill/flush `batch` objects            <- controller tunes batch, cap
//   central[node][class]: a stack of batches + partial slabs, one spinlock
//     | empty slab / new slab
//   pool[node]: free slabs; retained bytes above the watermark go back
//     | map/unmap
//   page source (os, frame@X)
#ifndef ADP_INTERNAL_H
#define ADP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "adaptive.h"
#include "as/atomic.h"
#include "as/compiler.h"
#include "../pagesource/pagesource.h"

#define ADP_SLAB_SHIFT 18
#define ADP_SLAB ((size_t)1 << ADP_SLAB_SHIFT)
#define ADP_SMALL_MAX 32768u
#define ADP_HDR 64u
#define ADP_MAX_NODES 4
/// Size classes: 16..128 by 16, then 8 per doubling up to 32 KiB, so the
/// internal fragmentation of a small request is below 1/9.
#define ADP_NCLS 72
#define ADP_LUT_MAX 1024u
#define ADP_CENTRAL_BATCHES 32
/// Bytes a central stack of batches may hold before flushes go to slabs.
#define ADP_CENTRAL_BYTES (256u << 10)
/// Exited threads' caches that keep up to cap/2 objects per class for the
/// next thread that reuses them (thread churn); others are emptied.
#define ADP_WARM_MAX 8

#define ADP_TAG_SMALL 0x5a00u
#define ADP_TAG_LARGE 0x1a7eu
#define ADP_TAG_FREE 0xf4eeu

// ---------------------------------------------------------------------------
// Size classes (sizeclass.c)

extern uint32_t adp_cls_size[ADP_NCLS];
/// Largest offset of a slab's first object over all colours: the objects
/// per slab (adp_cls_count) are counted from it, so every colour holds them.
extern uint32_t adp_cls_off[ADP_NCLS];
extern uint32_t adp_cls_align[ADP_NCLS]; ///< object alignment in a slab (>= 16)
extern uint32_t adp_cls_count[ADP_NCLS]; ///< objects per slab
extern uint8_t adp_cls_lut[ADP_LUT_MAX / 16 + 1];

void adp_sizeclass_init(void);
/// Class of 1 <= size <= ADP_SMALL_MAX (no table needed).
unsigned adp_class_slow(size_t size);
/// Smallest class >= size whose objects are aligned to align; ADP_NCLS if
/// none (then the request goes to the large path).
unsigned adp_class_aligned(size_t size, size_t align);

// ---------------------------------------------------------------------------
// Spinlock with yield (2-core VMs preempt lock holders).

typedef struct adp_lock_s {
	_Atomic int v;
} adp_lock_t;

void adp_lock_slow(adp_lock_t *l);
static inline void adp_lock(adp_lock_t *l)
{
	int expect = 0;
	if (AS_LIKELY(as_atomic_cas_weak_acquire(&l->v, &expect, 1)))
		return;
	adp_lock_slow(l);
}
static inline void adp_unlock(adp_lock_t *l)
{
	as_atomic_store_release(&l->v, 0);
}

// ---------------------------------------------------------------------------
// Slabs and large headers (64 bytes at the start of the slab / below a large
// object).

typedef struct adp_slab_s adp_slab_t;
struct adp_slab_s {
	uint32_t tag;  ///< ADP_TAG_SMALL | node, ADP_TAG_LARGE, ADP_TAG_FREE
	uint32_t cls;  ///< size class (small)
	adp_slab_t *next, *prev; ///< central partial list / pool free list
	void *free;    ///< objects returned to this slab (central lock)
	uint32_t used; ///< objects handed out of the slab (caches, batches, users)
	uint32_t carved;
	uint32_t in_partial;
	uint32_t node;
	void *map_base;  ///< large: the page-source mapping
	size_t map_bytes;
};
_Static_assert(sizeof(adp_slab_t) <= ADP_HDR, "slab header fits 64 bytes");

/// Header colouring. The header of the slab (or large block) whose
/// ADP_SLAB-aligned base is B sits at B + adp_color_off(B): one of
/// ADP_COLORS cache lines in the first ADP_COLOR_SPAN bytes, picked by the
/// base's address bits, so consecutive slabs put their headers (read by
/// every free) and their first objects in different cache sets. With every
/// header at offset 0, a thread using ~20 classes had all their headers in
/// one 12-way L1 set, and free()'s tag load missed about every other time.
#define ADP_COLORS 64u
#define ADP_COLOR_SPAN (ADP_COLORS * ADP_HDR)

static inline uintptr_t adp_color_off(uintptr_t base)
{
	return ((base >> ADP_SLAB_SHIFT) & (ADP_COLORS - 1)) * ADP_HDR;
}

/// The header of the slab or large block based at `base` (ADP_SLAB-aligned).
static inline adp_slab_t *adp_hdr_at(uintptr_t base)
{
	return (adp_slab_t *)(base + adp_color_off(base));
}

/// The ADP_SLAB-aligned base of the slab or block whose header is s.
static inline uintptr_t adp_base_of(const adp_slab_t *s)
{
	return (uintptr_t)s & ~(uintptr_t)(ADP_SLAB - 1);
}

static inline adp_slab_t *adp_slab_of(const void *p)
{
	return adp_hdr_at(((uintptr_t)p - 1) & ~(uintptr_t)(ADP_SLAB - 1));
}

/// Address of the first object of small slab s: right after its header,
/// rounded up to the class's alignment (power-of-two classes of 128 B and
/// more are naturally aligned), so the objects are coloured as well.
static inline uint8_t *adp_slab_first(const adp_slab_t *s)
{
	uintptr_t a = adp_cls_align[s->cls];
	return (uint8_t *)(((uintptr_t)s + ADP_HDR + a - 1) & ~(a - 1));
}

// ---------------------------------------------------------------------------
// Shared state (central.c, pool.c)

typedef struct adp_batch_s {
	void *head;
	uint32_t n;
} adp_batch_t;

typedef struct adp_central_s {
	_Alignas(AS_CACHELINE) adp_lock_t lock;
	uint32_t nbatch;
	uint32_t nobj; ///< objects in the batch stack
	/// nbatch for lock-free peeks by stealing threads (a hint).
	_Atomic uint32_t nbatch_hint;
	adp_slab_t *partial; ///< slabs with free or uncarved objects
	adp_slab_t *spare;   ///< one empty slab kept against thrash
	adp_batch_t batch[ADP_CENTRAL_BATCHES];
} adp_central_t;

typedef struct adp_pool_s {
	_Alignas(AS_CACHELINE) adp_lock_t lock;
	adp_slab_t *free;          ///< committed free slabs
	_Atomic uint64_t nfree;    ///< hint for peeks
} adp_pool_t;

typedef struct adp_global_s {
	const struct page_source_ops *ps;
	adp_central_t *central; ///< [ADP_MAX_NODES][ADP_NCLS]
	adp_pool_t pool[ADP_MAX_NODES];
	_Alignas(AS_CACHELINE) _Atomic uint64_t retained; ///< free bytes kept (pools, large cache)
	_Atomic uint64_t watermark;
	_Atomic uint64_t budget_used; ///< bytes of cache capacity granted
	_Atomic uint64_t ps_maps;     ///< page-source maps (slabs and large)
	_Atomic uint64_t reclaims;    ///< unmaps because retained > watermark
	_Atomic uint64_t reclaimed_bytes;
	_Atomic uint64_t large_allocs, large_cache_hits;
	_Alignas(AS_CACHELINE) adp_lock_t reg_lock;
	struct adp_tcache_s *all;     ///< every cache ever made (reg_lock)
	struct adp_tcache_s *retired; ///< caches of exited threads, for reuse
	uint32_t nwarm;               ///< retired caches still holding objects
	bool controller;
	uint64_t tsc0, ns0;           ///< for cycles -> ns in the report
	char name[48];
} adp_global_t;

extern adp_global_t adp_g;

static inline adp_central_t *adp_central(unsigned node, unsigned cls)
{
	return &adp_g.central[node * ADP_NCLS + cls];
}

/// Take up to `want` objects of class cls from node's central (batches
/// first, then slabs); returns the count and the chain in *head (0 when out
/// of memory).
uint32_t adp_central_take(unsigned node, unsigned cls, uint32_t want, void **head);
/// True (and the count in *got) if node's central had a ready batch.
bool adp_central_take_batch(unsigned node, unsigned cls, void **head, uint32_t *got);
/// Give back a chain of n objects, all of node's central.
void adp_central_put(unsigned node, unsigned cls, void *head, uint32_t n);
/// Give back n objects straight to their slabs (no batch).
void adp_central_release(unsigned node, unsigned cls, void *head, uint32_t n);

/// A free slab of node's pool, or a new one from the page source (NULL on
/// exhaustion). *fresh tells the caller it came from the page source.
adp_slab_t *adp_pool_get(unsigned node, bool *fresh);
/// An empty slab goes back: kept (committed) while retained memory is under
/// the watermark, else unmapped.
void adp_pool_put(unsigned node, adp_slab_t *s);
/// Unmap pooled slabs until retained <= watermark.
void adp_pool_trim(void);

// ---------------------------------------------------------------------------
// Large objects (large.c)

void *adp_large_alloc(size_t size, size_t align);
void adp_large_free(adp_slab_t *h, void *p);
size_t adp_large_usable(const adp_slab_t *h, const void *p);
void adp_large_trim(void);
uint64_t adp_large_cached_bytes(void);

// ---------------------------------------------------------------------------
// Thread caches (tcache.c) and the controller (controller.c)

/// One size class of a thread cache. A bin is "unarmed" (cap == 0) until
/// the thread's first refill of the class: a thread that never allocated
/// from a class cannot own any of its objects, so every object of the class
/// it frees was allocated by another thread, and it is handed back to the
/// shared pool (through the class's foreign list) instead of being reused
/// here, next to the allocating thread's live data (passive false sharing,
/// Hoard's cache-scratch). The fast path needs no extra test for this: a
/// free into an unarmed bin overflows its capacity of 0.
typedef struct adp_bin_s {
	void *head;
	uint32_t n;
	uint32_t cap;    ///< 0 while unarmed
	uint32_t low;    ///< low-water mark of n since the last controller tick
	uint32_t cap_on; ///< the capacity taken when an unarmed bin is armed
} adp_bin_t;

/// Controller state of one bin (owner only).
typedef struct adp_binctl_s {
	uint32_t batch;
	uint32_t under, over; ///< misses in this interval
	uint32_t ewma;        ///< smoothed misses per interval, x256
	uint16_t up_votes, down_votes;
	int8_t last_dir[2];   ///< last change of batch, cap (+1/-1/0)
	uint8_t since[2];     ///< ticks since that change (saturating)
} adp_binctl_t;

typedef struct adp_list_s {
	void *head;
	uint32_t n;
	uint32_t other; ///< how many of the n belong to another node than ours
} adp_list_t;

enum { ADP_C_BATCH, ADP_C_CAP, ADP_C_WATERMARK, ADP_C_NUMA };

/// Per-thread statistics: written only by the owner (relaxed load + store),
/// read by adp_report/adp_totals from any thread.
typedef struct adp_tstats_s {
	_Alignas(AS_CACHELINE) _Atomic uint64_t refills, flushes;
	_Atomic uint64_t local_in, foreign_in, remote_frees, routed_home;
	_Atomic uint64_t handed_back; ///< frees into unarmed bins, handed back
	_Atomic uint64_t ctl_ticks, ctl_cycles, budget_denials;
	_Atomic uint64_t changes[4], oscillations[4];
} adp_tstats_t;

typedef struct adp_tcache_s adp_tcache_t;
struct adp_tcache_s {
	adp_bin_t bins[ADP_NCLS];
	uint32_t tag;          ///< ADP_TAG_SMALL | node: frees of this node are local
	uint32_t node;
	uint32_t numa_weight;  ///< 0..100
	uint32_t numa_acc;
	uint32_t slow_events;  ///< since the last controller tick
	uint32_t numa_up, numa_down;
	int8_t numa_last_dir;
	uint8_t numa_since;
	int8_t wm_last_dir;
	uint8_t wm_since;
	uint64_t cap_bytes;    ///< capacity granted against the shared budget
	uint64_t seen_maps, seen_reclaims; ///< global counters at the last tick
	uint32_t foreign_ewma; ///< share of foreign objects entering, x256
	uint32_t steal_chances; ///< refills that mapped fresh while other nodes had memory
	uint64_t iv_local, iv_foreign; ///< objects entering this interval
	adp_binctl_t ctl[ADP_NCLS];
	adp_list_t foreign[ADP_NCLS]; ///< objects to route to their home node
	adp_tcache_t *next_all, *next_retired;
	bool warm; ///< retired with objects kept for the next thread
	/// The bins may hold objects of other nodes (stolen batches, remote
	/// frees kept); while false, a flush skips sorting objects by node.
	bool mixed;
	adp_tstats_t st;
};

extern __thread adp_tcache_t *adp_tc __attribute__((tls_model("initial-exec")));

void *adp_malloc_slow(size_t size);
void adp_free_slow(void *p, adp_slab_t *s);
/// Return objects of bin cls to the shared pools: count == 0 is an overflow
/// (a batch, or down to cap; counted as a miss), else exactly `count`.
void adp_bin_flush(adp_tcache_t *tc, unsigned cls, uint32_t count);
/// A free pushed bin cls over its capacity: flush a batch, or, for an
/// unarmed bin (capacity 0), hand the object back (see adp_bin_t).
void adp_bin_overflow(adp_tcache_t *tc, unsigned cls);
void adp_ctl_tick(adp_tcache_t *tc);
/// Open $ALLOCSCOPE_ADAPTIVE_TRACE for the change trace (adp_init).
void adp_trace_open(void);
/// Ask the shared budget for `bytes` more capacity; false if denied.
bool adp_budget_grow(adp_tcache_t *tc, uint64_t bytes);
void adp_budget_shrink(adp_tcache_t *tc, uint64_t bytes);
/// Route the foreign list of cls to the home nodes.
void adp_foreign_flush(adp_tcache_t *tc, unsigned cls);

static inline uint64_t adp_ticks(void)
{
#if defined(__x86_64__)
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
#else
	return 0;
#endif
}

// ---------------------------------------------------------------------------
// Fast paths (inlined into the preload layer).

/// Class of 1024 < size <= ADP_SMALL_MAX (adp_class_slow without branches
/// for the small range).
static inline unsigned adp_class_mid(size_t size)
{
	unsigned k = 63u - (unsigned)__builtin_clzll((unsigned long long)(size - 1));
	size_t step = (size_t)1 << (k - 3);
	size_t sub = (size - ((size_t)1 << k) + step - 1) >> (k - 3);
	return 8 + (k - 7) * 8 + (unsigned)sub - 1;
}

static inline void *adp_malloc_fast(size_t size)
{
	adp_tcache_t *tc = adp_tc;
	if (AS_LIKELY(size <= ADP_SMALL_MAX && tc != NULL)) {
		unsigned cls = AS_LIKELY(size <= ADP_LUT_MAX) ? adp_cls_lut[(size + 15) >> 4]
							       : adp_class_mid(size);
		adp_bin_t *b = &tc->bins[cls];
		void *p = b->head;
		if (AS_LIKELY(p != NULL)) {
			b->head = *(void **)p;
			if (AS_UNLIKELY(--b->n < b->low))
				b->low = b->n;
			return p;
		}
	}
	return adp_malloc_slow(size);
}

static inline void adp_free_fast(void *p)
{
	adp_slab_t *s = adp_slab_of(p);
	adp_tcache_t *tc = adp_tc;
	if (AS_LIKELY(tc != NULL && s->tag == tc->tag)) {
		adp_bin_t *b = &tc->bins[s->cls];
		*(void **)p = b->head;
		b->head = p;
		if (AS_LIKELY(++b->n <= b->cap))
			return;
		adp_bin_overflow(tc, s->cls);
		return;
	}
	adp_free_slow(p, s);
}

#endif
