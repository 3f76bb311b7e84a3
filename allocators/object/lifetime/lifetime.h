// SPDX-License-Identifier: MIT
// lifetime: a LLAMA-style lifetime-aware object allocator (after Maas et al.,
// ASPLOS'20). Each allocation gets a predicted lifetime class from its
// allocation site; objects of one class share 2 MiB regions, so regions
// empty out whole and go back to the kernel. See README.md in this folder.
// The malloc ABI is exported by the preload layer through backend.h; these
// are the allocator's own entry points (also used directly by unit tests).
#ifndef AS_LIFETIME_H
#define AS_LIFETIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/// Set up from the environment (ALLOCSCOPE_LIFETIME_*; see README.md).
/// Idempotent and malloc-free. False if the allocator cannot start (bad
/// parameter, unreadable profile/model, no page source): the reason is
/// then in lt_init_error() and is also written to stderr once.
bool lt_init(void);
/// The reason lt_init() failed ("" when it did not).
const char *lt_init_error(void);

/// Allocate `size` bytes (>= 1), 16-byte aligned, for the caller whose
/// return address is `ret` and stack pointer `sp` (the site key). NULL on
/// exhaustion.
void *lt_malloc(size_t size, const void *ret, const void *sp);
/// Like lt_malloc with a power-of-two alignment in [16, 2 MiB].
void *lt_aligned(size_t align, size_t size, const void *ret, const void *sp);
/// Free a pointer from lt_malloc/lt_aligned, from any thread.
void lt_free(void *p);
/// Bytes usable at p (>= the request).
size_t lt_usable_size(const void *p);
/// The calling thread is exiting: hand its blocks back.
void lt_thread_exit(void);
void lt_fork_prepare(void);
void lt_fork_parent(void);
void lt_fork_child(void);

/// Emit the allocator's metrics (accuracy, cache, regions, huge pages).
void lt_report(void (*metric)(const char *name, double value));

/// Invariant walk over regions, blocks and free lists; returns the number
/// of violations found (0 = consistent) and describes the first in `why`.
/// Call only while no other thread allocates.
unsigned lt_validate(char *why, size_t whylen);

/// Counters for tests and reports.
typedef struct lt_stats_s {
	uint64_t regions_mapped;    ///< regions currently owned (any state)
	uint64_t regions_live;      ///< regions holding at least one used block
	uint64_t regions_free;      ///< empty (decommitted) regions kept for reuse
	uint64_t regions_per_class[8];
	uint64_t live_bytes;        ///< bytes requested by live allocations
	uint64_t large_live;        ///< live large objects (page-source direct)
	uint64_t promotions, demotions, decommits, recycled_blocks;
	uint64_t samples, cache_hits, cache_misses, sites;
} lt_stats_t;
void lt_stats(lt_stats_t *out);

// Hooks for the replay workload (exported with default visibility by
// hooks.c so the workload finds them with dlsym):
//   allocscope_lifetime_hint(ns)   true lifetime of the next allocation on
//                                  this thread (oracle predictor)
//   allocscope_lifetime_site(id, text)  site of the next allocation (the
//                                  trace's run-independent id and frames)
//   allocscope_lifetime_clock(ns)  switch to a virtual clock (trace time)
void lt_hint_lifetime(uint64_t ns);
void lt_hint_site(uint64_t id, const char *text);
void lt_set_clock(uint64_t ns);

#endif
