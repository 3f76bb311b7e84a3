// SPDX-License-Identifier: MIT
// lifetime allocator internals shared by its .c files: parameters, the heap
// (regions -> blocks -> objects), per-thread state, allocation sites and
// predictors, sampled objects. Layout of the heap:
//
//   region (2 MiB, 2 MiB-aligned, one lifetime class, FREE/OPEN/ACTIVE)
//     +-- 256 blocks of 8 KiB; a run of 1..32 blocks holds objects of one
//         size class and one lifetime class (a recycled run in a region of
//         a longer class carries its own, shorter class)
//           +-- 128 B lines: the unit of the per-run occupancy map used by
//               the validate walk and the residual statistics
//
// A run is owned by at most one thread, which allocates from a private free
// list without atomics; the thread keeps the runs it filled (on its own
// avail/full lists), so its frees into them stay local too. Frees from other threads push onto the run's
// atomic `xfree` stack. `state` = OWNED | LISTED | count, where count is the
// number of objects not sitting in xfree (live objects plus, while owned,
// the owner's private reserve). The thread that brings an unowned, unlisted
// run's count to 0 returns the run to its region; an unowned run that has
// fallen to half its capacity goes on the partial list of its (class, size
// class) for reuse.
#ifndef AS_LT_INTERNAL_H
#define AS_LT_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "as/atomic.h"
#include "as/compiler.h"
#include "as/rng.h"
#include "lifetime.h"
#include "lt_format.h"

#define LT_TLS __attribute__((tls_model("initial-exec")))

#define LT_REGION (2u << 20)
#define LT_BLOCK 8192u
#define LT_BLOCKS (LT_REGION / LT_BLOCK)
#define LT_LINE 128u
#define LT_MAX_RUN 32u
#define LT_NSC 80u
#define LT_SMALL_MAX 65536u
#define LT_MAX_CLASSES LT_FMT_MAX_CLASSES
#define LT_MAX_OBJS (LT_BLOCK / 16)
#define LT_TEXT_MAX 384u

#define LT_OWNED 0x80000000u
#define LT_LISTED 0x40000000u
#define LT_COUNT 0x00ffffffu

enum { LT_PRED_NONE, LT_PRED_ONLINE, LT_PRED_PROFILE, LT_PRED_MODEL, LT_PRED_ORACLE };
enum { LT_R_FREE, LT_R_OPEN, LT_R_ACTIVE };
enum { LT_W_CUR, LT_W_AVAIL, LT_W_FULL };

// ---------------------------------------------------------------------------
// Parameters (params.c): one table, environment overrides.

/// Huge-page policy for regions on the os page source (ALLOCSCOPE_LIFETIME_HUGE).
enum {
	LT_HUGE_DENSE, ///< 4 KiB pages until every block was handed out, then MADV_COLLAPSE
	LT_HUGE_EAGER, ///< MADV_HUGEPAGE at map: the first touch faults the whole 2 MiB
	LT_HUGE_OFF,   ///< never
};

typedef struct lt_params_s {
	unsigned predictor;
	unsigned nclasses;                      ///< >= 1; the last is unbounded
	uint64_t bound_ns[LT_MAX_CLASSES];      ///< bound_ns[nclasses-1] = UINT64_MAX
	uint64_t sample_every;                  ///< mean allocations between samples
	uint64_t verify_every;                  ///< mean samples between key checks
	double quantile;                        ///< class = this quantile of a site
	uint64_t min_samples;                   ///< before an online prediction
	uint64_t decay_at;                      ///< halve a site's counts beyond this
	uint64_t deadline_mult;                 ///< region deadline = mult x bound
	uint64_t keep_free;                     ///< empty regions kept mapped
	uint64_t tick_ns;                       ///< sweep period (deadlines, censoring)
	uint64_t purge_ns;                      ///< free blocks idle this long are decommitted (0 = never)
	bool recycle;                           ///< blocks of long regions for shorter classes
	unsigned share;                         ///< holes of shorter classes before new space: 1 regions, 2 also runs
	int unwind;                             ///< ST_UNWIND_*
	unsigned huge;                          ///< LT_HUGE_*: when a region becomes a huge page
	char pagesource[64];
	char profile[512], model[512], profile_out[512];
} lt_params_t;

extern lt_params_t lt_p;
bool lt_params_load(char *err, size_t errlen);

// ---------------------------------------------------------------------------
// Heap

typedef struct lt_tstate_s lt_tstate_t;
typedef struct lt_region_s lt_region_t;

typedef struct lt_block_s {
	// First cache line: everything malloc and a local free touch.
	_Alignas(AS_CACHELINE) struct lt_block_s *head; ///< run head (itself on the head block); NULL = free
	_Atomic(lt_tstate_t *) owner;
	void *free;            ///< owner's private list
	char *start;
	_Atomic uint32_t state;
	_Atomic uint32_t nsampled;
	uint32_t nfree;        ///< objects on the private list
	uint32_t bump;         ///< objects carved so far
	uint32_t capacity;
	uint32_t size;
	uint16_t sc;
	uint8_t lc;
	uint8_t nblocks;       ///< run length on the head block, 0 on free blocks
	uint8_t where;         ///< owner's list: LT_W_CUR, LT_W_AVAIL or LT_W_FULL
	// Remote frees, lists, sampling.
	_Atomic uintptr_t xfree;
	lt_region_t *region;
	struct lt_block_s *prev, *next; ///< partial list, or the owner's avail/full list
	uint64_t born_ns;
	uint64_t inv;          ///< floor(2^40 / size) + 1: offset -> index by multiply
	_Atomic uint64_t sampled[LT_MAX_OBJS / 64];
} lt_block_t;

struct lt_region_s {
	char *base;
	uint8_t lc;            ///< current class (after promotions/demotions)
	uint8_t base_lc;       ///< class it was opened for: blocks >= it are residents
	uint8_t state;
	bool committed;
	bool huge;             ///< collapsed into a huge page since it was last committed
	uint16_t used;         ///< blocks in use
	uint16_t residents;    ///< used blocks of class >= base_lc
	uint64_t opened_ns, filled_ns;
	uint64_t bitmap[LT_BLOCKS / 64];
	uint64_t dirty[LT_BLOCKS / 64]; ///< free blocks still backed (purge candidates)
	uint64_t released_ns;          ///< last time a run went back to this region
	uint64_t freed_ns[LT_BLOCKS];  ///< when each free block was last released
	lt_region_t *prev, *next;
	lt_block_t blocks[LT_BLOCKS];
};

typedef struct lt_lock_s {
	_Atomic uint32_t v;
} lt_lock_t;

static inline void lt_lock(lt_lock_t *l)
{
	while (as_atomic_exchange_acquire(&l->v, 1u))
		while (as_atomic_load_relaxed(&l->v)) // spin on a read, then retry
			as_cpu_relax();
}

static inline void lt_unlock(lt_lock_t *l)
{
	as_atomic_store_release(&l->v, 0u);
}

typedef struct lt_partial_s {
	lt_lock_t lock;
	lt_block_t *head;
} lt_partial_t;

typedef struct lt_heap_s {
	pthread_mutex_t lock; ///< region level: block runs, region states
	lt_region_t *lists[LT_MAX_CLASSES]; ///< OPEN and ACTIVE regions per class
	lt_region_t *open[LT_MAX_CLASSES];
	lt_region_t *free_list;
	uint64_t nfree, nmapped;
	uint64_t last_tick;
	_Alignas(AS_CACHELINE) lt_partial_t partial[LT_MAX_CLASSES][LT_NSC];
	// statistics (under lock)
	uint64_t promotions, demotions, decommits, recycled, region_opens, purged_blocks;
	uint64_t collapses, collapse_failures;
	uint64_t committed_peak;
	double frag_at_peak;
} lt_heap_t;

extern lt_heap_t lt_heap;
extern const struct page_source_ops *lt_ps;

bool lt_heap_init(char *err, size_t errlen);
lt_region_t *lt_region_of(const void *p);
/// A new run for (lc, sc) owned by t, its objects all in the reserve.
lt_block_t *lt_run_acquire(lt_tstate_t *t, unsigned lc, unsigned sc);
/// Return an empty, unowned, unlisted run to its region.
void lt_run_release(lt_block_t *b);

/// Index of the object at p in run b (exact for runs up to 256 KiB).
static inline uint32_t lt_obj_index(const lt_block_t *b, const void *p)
{
	return (uint32_t)(((uint64_t)((const char *)p - b->start) * b->inv) >> 40);
}
/// Periodic work: region deadlines (promotion) and censoring.
void lt_heap_tick(uint64_t now);
uint64_t lt_heap_committed(void);
/// Re-stamp region times to `now` (switch to a virtual clock).
void lt_heap_rebase(uint64_t now);

unsigned lt_sc_of(size_t size);
uint32_t lt_sc_size(unsigned sc);
unsigned lt_sc_blocks(unsigned sc);

// ---------------------------------------------------------------------------
// Threads (alloc.c)

#define LT_CACHE 256u

typedef struct lt_site_s lt_site_t;

typedef struct lt_cache_entry_s {
	uint64_t key;
	lt_site_t *site;
} lt_cache_entry_t;

struct lt_tstate_s {
	lt_block_t *cur[LT_MAX_CLASSES][LT_NSC];
	// Runs the thread still owns besides the current one: with private free
	// objects (avail) or without (full). Local frees always stay local.
	lt_block_t *avail[LT_MAX_CLASSES][LT_NSC];
	lt_block_t *full[LT_MAX_CLASSES][LT_NSC];
	lt_block_t *full_cur[LT_MAX_CLASSES][LT_NSC]; ///< where the next scan starts
	lt_cache_entry_t cache[LT_CACHE];
	uint64_t sample_left;
	uint64_t verify_left;
	as_rng_t rng;
	_Atomic int64_t live;      ///< this thread's net live bytes (owner writes)
	_Atomic uint64_t allocs, samples, key_ns, key_n, walk_ns, walk_n;
	_Atomic uint64_t hits;   ///< site lookups (cache hits = hits - misses)
	_Atomic uint64_t misses; ///< lookups that missed the cache (an extended key counts twice)
	uint64_t hint_ns;          ///< oracle hint, valid when has_hint
	bool has_hint;
	uint64_t hint_site;        ///< 0 = none
	const char *hint_text;
	lt_tstate_t *next;
	_Atomic bool dead;
};

lt_tstate_t *lt_thread(void);
uint64_t lt_now(void);
int64_t lt_live_bytes(void);
extern _Atomic(lt_tstate_t *) lt_threads;

// ---------------------------------------------------------------------------
// Sites and predictors (site.c, predict.c)

struct lt_site_s {
	_Atomic uint64_t key;       ///< cheap key or hinted id; 0 = empty slot
	_Atomic uint32_t ready;
	uint64_t id;                ///< run-independent id
	_Atomic uint32_t done[LT_MAX_CLASSES]; ///< completed sampled lifetimes
	_Atomic uint32_t cens[LT_MAX_CLASSES]; ///< live samples at least this old
	_Atomic uint32_t pred;
	uint32_t fixed;             ///< prediction from a profile/model, not online
	uint32_t hinted;            ///< created from a replay hint (id from the trace)
	uint32_t level2;            ///< keyed by cheap key + the next return address
	int32_t slot;               ///< stack slot of the next return address (-1 unknown)
	_Atomic uint32_t ambiguous; ///< its cheap key stands for several stacks
	_Atomic uint32_t verified;  ///< stack checks done so far
	_Atomic uint64_t allocs;
	_Atomic uint64_t conflicts; ///< sampled stacks that differed from `id`
	char text[LT_TEXT_MAX];  ///< frame symbols (model predictor, profile output)
};

lt_site_t *lt_site_get(lt_tstate_t *t, uint64_t key, const void *ret, const void *sp,
			bool level2);
void lt_site_verify(lt_tstate_t *t, lt_site_t *s, const void *ret, const void *sp);
lt_site_t *lt_site_default(void);
/// The site of this allocation (prediction cache, then the site table).
lt_site_t *lt_site_lookup(lt_tstate_t *t, const void *ret, const void *sp);
bool lt_sites_init(char *err, size_t errlen);
unsigned lt_sites_count(void);
lt_site_t *lt_site_at(unsigned i);

bool lt_predict_init(char *err, size_t errlen);
/// Initial prediction for a new site (profile, model or default).
void lt_predict_new_site(lt_site_t *s);
/// Recompute an online prediction from the site's histogram.
void lt_predict_update(lt_site_t *s);
unsigned lt_top_class(void);
unsigned lt_class_of(uint64_t ns);

/// Sampled objects: record one, account its free, sweep for censoring.
void lt_sample_alloc(lt_tstate_t *t, void *p, size_t size, lt_site_t *s, unsigned lc,
		     lt_block_t *b);
void lt_sample_free(void *p);
void lt_sample_sweep(uint64_t now);
/// Re-stamp live samples to `now` (switch to a virtual clock).
void lt_sample_rebase(uint64_t now);
void lt_sample_lock_all(void);
void lt_sample_unlock_all(void);

/// Accuracy counters (predict.c).
typedef struct lt_acc_s {
	_Atomic uint64_t n, ok, under, over;
	_Atomic uint64_t bytes, bytes_ok;
	_Atomic uint64_t hist[LT_MAX_CLASSES]; ///< true classes seen
} lt_acc_t;
extern lt_acc_t lt_acc;
void lt_acc_add(unsigned pred, unsigned truth, size_t size);
/// Copy of the counters with still-live samples scored where decided.
void lt_acc_snapshot(lt_acc_t *out, uint64_t *live_samples);

bool lt_profile_write(const char *path);

#endif
