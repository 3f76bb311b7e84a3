// SPDX-License-Identifier: MIT
// Page sources: where in-tree object allocators get memory (STYLE rule 1).
//   os           mmap/munmap/madvise (MADV_DONTNEED, or MADV_FREE with the
//                option free=1, on decommit; MADV_HUGEPAGE on mappings of at
//                least 2 MiB requested with 2 MiB alignment)
//   frame@X      a reserved virtual range whose 4 KiB .. 4 MiB blocks are
//                handed out by frame allocator X (llfree, nbbs, buddy,
//                buddy-nopcp); it remembers which frames it decommitted and
//                prefers blocks still backed, counting page faults saved
// All functions are thread-safe and never call malloc. Sizes are multiples
// of PS_PAGE. One frame@X source exists per process (the last ps_find of a
// frame@ name picks X; ps_from_env does it once).
#ifndef AS_PAGESOURCE_H
#define AS_PAGESOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PS_PAGE 4096u
#define PS_HUGE (2u << 20)

typedef struct ps_stats_s {
	uint64_t mapped_bytes;      ///< currently handed out
	uint64_t decommitted_bytes; ///< returned to the kernel, total
	uint64_t maps, unmaps, decommits;
	uint64_t backed_reuses;     ///< frame@X: maps served by still-backed frames
	uint64_t faults_saved;      ///< frame@X: pages handed out still backed
} ps_stats_t;

struct page_source_ops {
	const char *name;
	/// Set up (idempotent, no malloc). `options` may be NULL. False with a
	/// reason in err on failure (unknown frame allocator, no address space).
	bool (*init)(const char *options, char *err, size_t errlen);
	/// Memory of `bytes`, aligned to `align` (PS_PAGE..PS_HUGE, power of
	/// two); readable and writable; zero-filled unless *dirty is set true
	/// (when the source reuses still-backed pages). NULL on exhaustion.
	void *(*map)(size_t bytes, size_t align, bool *dirty);
	/// Give the range back entirely (it may be handed out again). `p` and
	/// `bytes` exactly as returned by / passed to map.
	void (*unmap)(void *p, size_t bytes);
	/// Keep the range owned by the caller but return its physical pages to
	/// the kernel; contents become zero on next touch (with MADV_FREE: zero
	/// or the old contents).
	void (*decommit)(void *p, size_t bytes);
	/// True if every page of the range is still backed (not decommitted).
	bool (*is_backed)(const void *p, size_t bytes);
	void (*stats)(ps_stats_t *out);
};

/// Find a page source by name ("os", "frame@llfree", ...); NULL if unknown
/// (for frame@X: also when frame allocator X is not in this build).
const struct page_source_ops *ps_find(const char *name);

/// The page source named by $ALLOCSCOPE_PAGESOURCE (default "os"), set up
/// with $ALLOCSCOPE_PAGESOURCE_OPTIONS. Never allocates. NULL with a reason
/// in err when the name is unknown or init fails.
const struct page_source_ops *ps_from_env(char *err, size_t errlen);

#endif
