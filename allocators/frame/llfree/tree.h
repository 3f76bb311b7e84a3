// SPDX-License-Identifier: MIT
// The tree level of llfree: one 16-bit entry per tree of LLF_TREE_CHILDREN
// children: bit 15 = reserved by some core, bits 0-14 = free frames not held
// by that core (all free frames when unreserved). Reserving moves the whole
// count into the core's local word; while reserved the entry collects frees
// from other cores. Pure transitions only (run by as_atomic_update16).
#ifndef LLF_TREE_H
#define LLF_TREE_H

#include <stdbool.h>
#include <stdint.h>

#include "internal.h"

#define LLF_TREE_RESERVED 0x8000u
#define LLF_TREE_FREE_MASK 0x7fffu
_Static_assert(LLF_TREE_FRAMES <= LLF_TREE_FREE_MASK, "tree counter holds a full tree");

static inline unsigned llf_tree_free(uint16_t t)
{
	return t & LLF_TREE_FREE_MASK;
}

static inline bool llf_tree_is_reserved(uint16_t t)
{
	return (t & LLF_TREE_RESERVED) != 0;
}

typedef struct llf_tree_take_s {
	unsigned lo; ///< in: accept only lo <= free ...
	unsigned hi; ///< in: ... and free < hi
	unsigned got; ///< out: the free count moved out of the entry
} llf_tree_take_t;

/// Transition: reserve an unreserved tree whose free count is in [lo, hi):
/// set the flag and move the whole count out (to ctx->got).
static inline bool llf_tree_reserve(uint16_t old, uint16_t *new_value, void *ctx)
{
	llf_tree_take_t *t = ctx;
	unsigned f = llf_tree_free(old);
	if (llf_tree_is_reserved(old) || f < t->lo || f >= t->hi)
		return false;
	t->got = f;
	*new_value = LLF_TREE_RESERVED;
	return true;
}

/// Transition: steal the frees other cores gave a reserved tree (sync):
/// only while still reserved and holding at least lo (>= 1) frames.
static inline bool llf_tree_steal(uint16_t old, uint16_t *new_value, void *ctx)
{
	llf_tree_take_t *t = ctx;
	unsigned f = llf_tree_free(old);
	if (!llf_tree_is_reserved(old) || f == 0 || f < t->lo)
		return false;
	t->got = f;
	*new_value = LLF_TREE_RESERVED;
	return true;
}

/// Transition: end a reservation, adding back the *(unsigned *)ctx frames
/// the core still held.
static inline bool llf_tree_unreserve(uint16_t old, uint16_t *new_value, void *ctx)
{
	unsigned f = llf_tree_free(old) + *(const unsigned *)ctx;
	if (!llf_tree_is_reserved(old) || f > LLF_TREE_FRAMES)
		return false;
	*new_value = (uint16_t)f;
	return true;
}

/// Transition: add *(unsigned *)ctx free frames, keeping the flag.
static inline bool llf_tree_add(uint16_t old, uint16_t *new_value, void *ctx)
{
	unsigned f = llf_tree_free(old) + *(const unsigned *)ctx;
	if (f > LLF_TREE_FRAMES)
		return false;
	*new_value = (uint16_t)((old & LLF_TREE_RESERVED) | f);
	return true;
}

/// Add n free frames to tree t's entry (a free into a tree the core does
/// not hold, or frames given back). One fetch_add instead of a CAS loop:
/// the entry's count plus the holding core's local count never exceeds the
/// tree's free frames in the lower level, which already include these n, so
/// the count stays <= LLF_TREE_FRAMES < 2^15 and cannot carry into the
/// reserved flag (bit 15), which the add leaves as it is. Unlike a CAS loop
/// it never retries when another core changes the line meanwhile.
static inline void llf_tree_put_add(llf_t *l, uint64_t t, unsigned n)
{
	// acq_rel: release orders the lower-level updates (bits, child
	// counter) before the frames become reservable through the entry.
	as_atomic_fetch_add_acq_rel(&l->tree[t], (uint16_t)n);
}

#endif
