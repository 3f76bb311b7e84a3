// SPDX-License-Identifier: MIT
// Internals of nbbs, shared by its .c files and its unit tests: the instance
// layout, the node-word bits, and the pure transition functions that every
// CAS/fetch-or on a node word applies. The transitions are pure (old word in,
// new word or "does not apply" out) so they are unit-tested without threads.
//
// Geometry. The frames form a forest of complete binary trees, one per
// order-10 (max-order) block: node (k, i) is the i-th block of order k, i.e.
// frames [i << k, (i + 1) << k). Its children are (k-1, 2i) and (k-1, 2i+1),
// its parent (k+1, i/2): the implicit-heap arithmetic of the paper, with the
// levels above the max order simply not stored. Level k is an array of
// frames >> k node words, at node offset off[k] in one metadata mapping.
//
// Leaves (order 0) have no word of their own: leaf i is allocated exactly
// when the OCC bit of its side (i & 1) is set in its parent (1, i/2). A leaf
// has no descendants, so that bit is its whole state, and one CAS on the
// parent both claims the leaf and does the first step of the climb (README,
// deviation 0). The order-0 array is reserved (tests and validate read it)
// but never written.
#ifndef NBBS_INTERNAL_H
#define NBBS_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "as/atomic.h"
#include "as/compiler.h"
#include "frame.h"

/// Highest order served and stored; the roots of the forest live here.
#define NBBS_MAX_ORDER FRAME_MAX_ORDER
#define NBBS_LEVELS (NBBS_MAX_ORDER + 1)

// Node word bits (5 used, as in the paper). "side" below is 0 for the left
// child (even index) and 1 for the right child (odd index).
#define NBBS_OCC_RIGHT 0x01u  ///< something in the right subtree is allocated
#define NBBS_OCC_LEFT 0x02u   ///< something in the left subtree is allocated
#define NBBS_COAL_RIGHT 0x04u ///< a release is coalescing in the right subtree
#define NBBS_COAL_LEFT 0x08u  ///< a release is coalescing in the left subtree
#define NBBS_OCC 0x10u        ///< this node is allocated as a whole block
/// The word of a node allocated as a whole block.
#define NBBS_BUSY (NBBS_OCC | NBBS_OCC_LEFT | NBBS_OCC_RIGHT)
#define NBBS_ALL_BITS 0x1fu

/// log2 of the node slot size: pad=8 and pad=64.
#define NBBS_SHIFT_8 3u
#define NBBS_SHIFT_64 6u

/// OCC bit of child `side` (0 or 1) in its parent's word (arithmetic, not a
/// branch or a variable shift: it sits in the climb's inner loop).
static inline uint64_t nbbs_occ_bit(unsigned side)
{
	return NBBS_OCC_LEFT - side; // 2 (left) or 1 (right)
}

/// COAL bit of child `side` (0 or 1) in its parent's word.
static inline uint64_t nbbs_coal_bit(unsigned side)
{
	return NBBS_COAL_LEFT - 4u * side; // 8 (left) or 4 (right)
}

/// Allocation climb through a parent, coming from child `side`: the parent
/// must not be allocated as a whole (then returns false: conflict, roll back);
/// otherwise mark our side occupied and clear our side's COAL, which tells a
/// release still coalescing on this side that an allocation now owns the
/// occupancy bit (see nbbs.c, "lost update").
static inline bool nbbs_climb(uint64_t old, uint64_t *new_value, unsigned side)
{
	if (old & NBBS_OCC)
		return false;
	*new_value = (old | nbbs_occ_bit(side)) & ~nbbs_coal_bit(side);
	return true;
}

/// Release phase 1 at a parent, given the word *before* our fetch-or of
/// COAL(side): true when the mark must go on upwards, false when the parent
/// stays partially occupied (buddy side occupied and not itself coalescing),
/// so nothing above it changes.
static inline bool nbbs_mark_goes_up(uint64_t old, unsigned side)
{
	unsigned buddy = side ^ 1u;
	return !((old & nbbs_occ_bit(buddy)) && !(old & nbbs_coal_bit(buddy)));
}

/// Release fast path at the first parent, while our node is still BUSY: when
/// the buddy side is occupied and not coalescing (so the parent stays
/// partially occupied and nothing above it changes) and our side holds
/// exactly what our allocation's climb left (OCC set, COAL clear), clear our
/// OCC in one step. Returns false when the full three-phase release is needed.
static inline bool nbbs_leave_parent(uint64_t old, uint64_t *new_value, unsigned side)
{
	uint64_t occ = nbbs_occ_bit(side), coal = nbbs_coal_bit(side);
	uint64_t bocc = nbbs_occ_bit(side ^ 1u), bcoal = nbbs_coal_bit(side ^ 1u);
	if ((old & (occ | coal | bocc | bcoal)) != (occ | bocc) || (old & NBBS_OCC))
		return false;
	*new_value = old & ~occ;
	return true;
}

/// Release phase 3 at a parent: clear our side's COAL and OCC. Returns false
/// (write nothing, stop) when our COAL is already clear: a concurrent
/// allocation has passed and now owns the occupancy bit of this side.
static inline bool nbbs_unmark(uint64_t old, uint64_t *new_value, unsigned side)
{
	if (!(old & nbbs_coal_bit(side)))
		return false;
	*new_value = old & ~(nbbs_coal_bit(side) | nbbs_occ_bit(side));
	return true;
}

/// Release phase 3: after unmarking, go on to the grandparent only when the
/// parent became wholly free (buddy side not occupied).
static inline bool nbbs_unmark_goes_up(uint64_t new_value, unsigned side)
{
	return !(new_value & nbbs_occ_bit(side ^ 1u));
}

/// Per-core state on its own cache lines: the next node to try per order
/// (the paper's per-thread level hints). Read and written relaxed: any value
/// is a valid hint (get clamps it), so a race only costs a longer scan.
///
/// It also remembers the last word this core wrote into a first parent (the
/// parent of the node allocated or freed), as the expected value of the next
/// CAS on that parent: guessing right saves a load that would wait for the
/// preceding locked instruction; guessing wrong costs one failed CAS, which
/// returns the real word. Pure performance state, read and written relaxed.
typedef struct nbbs_core_s {
	_Alignas(AS_CACHELINE) _Atomic uint64_t hint[NBBS_LEVELS];
	_Atomic uintptr_t last_parent;   ///< address of that parent word
	_Atomic uint64_t last_word;      ///< the word written there
} nbbs_core_t;

struct frame_alloc_s {
	uint64_t frames;
	unsigned cores;
	unsigned shift;               ///< log2 bytes per node slot (3: 8 B, 6: 64 B)
	bool early;                   ///< release clears the first parent first (option early)
	uint64_t count[NBBS_LEVELS];  ///< nodes at order k = frames >> k
	uint64_t off[NBBS_LEVELS];    ///< first node slot of order k
	unsigned char *tree;          ///< node words, slot stride 1 << shift
	unsigned char *level[NBBS_LEVELS]; ///< tree + (off[k] << shift)
	size_t tree_bytes;
	/// Translation table, one byte per frame (leaf): order + 1 at the first
	/// frame of every allocated block, 0 elsewhere. put checks order+1 here
	/// and clears it (a load and a store, README deviation 3), which rejects
	/// double and wrong-order puts with nothing changed.
	_Atomic uint8_t *table;
	nbbs_core_t *core;
	size_t core_bytes;
};

/// The node word of block (k, i).
static inline _Atomic uint64_t *nbbs_node(const struct frame_alloc_s *fa,
					  unsigned k, uint64_t i)
{
	return (_Atomic uint64_t *)(void *)(fa->level[k] + (i << fa->shift));
}

/// Validate; with `strict` also reject any COAL bit (exact at quiescence
/// after single-threaded use; concurrent use may leave stale COAL bits on
/// occupied sides, see README "Deviations from the paper", 6).
bool nbbs_validate_ex(struct frame_alloc_s *fa, bool strict, char *why, size_t whylen);

/// Number of COAL bits set in the whole tree (tests, diagnostics).
uint64_t nbbs_count_coal(const struct frame_alloc_s *fa);

void nbbs_stats(frame_alloc_t *fa, frame_stats_t *out);
void nbbs_free_counts(frame_alloc_t *fa, uint16_t *out);
bool nbbs_validate(frame_alloc_t *fa, char *why, size_t whylen);

#endif
