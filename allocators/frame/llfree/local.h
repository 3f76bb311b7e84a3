// SPDX-License-Identifier: MIT
// The per-core reservation word of llfree (llf_local_t.word, 64 bit):
//   bits  0-15  free frames of the reserved tree held by this core
//   bit   16    present: the core holds a reservation
//   bits 32-63  tree index (kept when not present: where to search next)
// A core allocates by taking frames from this word, then from the lower
// level inside the tree; it never touches the tree entry on that path.
// Pure transitions only (run by as_atomic_update64).
#ifndef LLF_LOCAL_H
#define LLF_LOCAL_H

#include <stdbool.h>
#include <stdint.h>

#include "internal.h"

#define LLF_LOCAL_FREE_MASK 0xffffull
#define LLF_LOCAL_PRESENT (1ull << 16)
#define LLF_LOCAL_TREE_SHIFT 32

static inline uint64_t llf_local_make(bool present, uint64_t tree, unsigned free)
{
	return (tree << LLF_LOCAL_TREE_SHIFT) | (present ? LLF_LOCAL_PRESENT : 0) |
	       (free & LLF_LOCAL_FREE_MASK);
}

static inline bool llf_local_present(uint64_t w)
{
	return (w & LLF_LOCAL_PRESENT) != 0;
}

static inline uint64_t llf_local_tree(uint64_t w)
{
	return w >> LLF_LOCAL_TREE_SHIFT;
}

static inline unsigned llf_local_free(uint64_t w)
{
	return (unsigned)(w & LLF_LOCAL_FREE_MASK);
}

/// Transition: take *(unsigned *)ctx frames from a present reservation.
static inline bool llf_local_take(uint64_t old, uint64_t *new_value, void *ctx)
{
	unsigned n = *(const unsigned *)ctx;
	if (!llf_local_present(old) || llf_local_free(old) < n)
		return false;
	*new_value = old - n;
	return true;
}

typedef struct llf_local_give_s {
	uint64_t tree; ///< the tree the frames belong to
	unsigned n;    ///< frames to add
} llf_local_give_t;

/// Transition: add frames of `tree`, only while that tree is reserved here.
static inline bool llf_local_give(uint64_t old, uint64_t *new_value, void *ctx)
{
	const llf_local_give_t *g = ctx;
	if (!llf_local_present(old) || llf_local_tree(old) != g->tree ||
	    llf_local_free(old) + g->n > LLF_TREE_FRAMES)
		return false;
	*new_value = old + g->n;
	return true;
}

/// Transition: drop the reservation (the caller returns the old count to
/// the tree entry); the tree index stays as the next search start.
static inline bool llf_local_drain(uint64_t old, uint64_t *new_value, void *ctx)
{
	(void)ctx;
	if (!llf_local_present(old))
		return false;
	*new_value = llf_local_make(false, llf_local_tree(old), 0);
	return true;
}

#endif
