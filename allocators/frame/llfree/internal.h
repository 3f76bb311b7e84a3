// SPDX-License-Identifier: MIT
// llfree internals shared by the files of this folder and by the unit tests:
// the instance struct, the position-independent lower region (bitfields and
// child counters), index helpers and the cross-file functions. The pure
// word transitions live in bitfield.h, child.h, tree.h and local.h.
//
// Levels (see README.md for the diagram):
//   bitfield  512 bits per child (2 MiB), 8 x u64, one cache line each
//   child     u16: free count 0..512, or a huge marker (order 9 / order 10)
//   tree      u16: reserved flag + 15-bit free count, LLF_TREE_CHILDREN children
//   local     one cache line per core: reservation word + next-fit hint
#ifndef LLF_INTERNAL_H
#define LLF_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "as/atomic.h"
#include "as/compiler.h"
#include "frame.h"

/// Children per tree (compile-time knob; 32 = the ATC'23 "C32" layout, 8 =
/// current llfree-c). Power of two in 8..32: the 15-bit tree counter holds
/// at most 32 * 512 = 16384, and below 8 children (4096 frames) a tree is
/// too small for the 1024-frame reservation thresholds of the search.
#ifndef LLF_TREE_CHILDREN
#define LLF_TREE_CHILDREN 32
#endif
_Static_assert(LLF_TREE_CHILDREN >= 8 && LLF_TREE_CHILDREN <= 32 &&
		       (LLF_TREE_CHILDREN & (LLF_TREE_CHILDREN - 1)) == 0,
	       "LLF_TREE_CHILDREN must be a power of two in 8..32");

#define LLF_CHILD_ORDER 9u
#define LLF_CHILD_FRAMES 512u
#define LLF_WORDS 8u /* u64 words per bitfield */
#define LLF_TREE_FRAMES (LLF_TREE_CHILDREN * LLF_CHILD_FRAMES)
/// A tree with at least this many free frames is worth reserving (ref. 1.3).
#define LLF_RESERVE_MIN 1024u
/// Lower-level passes over a child's bitfield for orders 0-5 before the
/// child is given up (CAS races may move the free bits under a scan).
#define LLF_BF_PASSES 2u
/// Bounded whole-operation retries (reference CAS_RETRIES).
#define LLF_RETRIES 4u

/// Frees into an unreserved tree a core batches in its pending row before
/// it adds them to the tree entry (one shared-line RMW per batch).
#define LLF_PENDING_MAX 32u
/// Pending rows exist only up to this many core slots: each costs 2 B per
/// tree (32 B per GiB), so at most 512 B per GiB; with more slots remote
/// frees go straight to the tree entries.
#define LLF_PENDING_CORES 16u

#define LLF_LOWER_MAGIC 0x4c4c46524545312eull /* "LLFREE1." */

/// Aligned pair of children: one 32-bit word for order 10, two 16-bit
/// entries otherwise (single-word CAS on either width).
typedef union llf_pair_u {
	_Atomic uint32_t pair;
	_Atomic uint16_t child[2];
} llf_pair_t;

/// Header at offset 0 of the lower region. The region holds no pointers,
/// only offsets from its own start, so it may be mapped anywhere (a later
/// file-backed mapping for persistence).
typedef struct llf_lower_hdr_s {
	uint64_t magic;
	uint64_t frames;        ///< managed frames
	uint64_t trees;         ///< number of trees (last may be partial)
	uint64_t tree_children; ///< LLF_TREE_CHILDREN at creation
	uint64_t bf_off;        ///< byte offset of the bitfields (64-aligned)
	uint64_t child_off;     ///< byte offset of the child pairs (64-aligned)
	uint64_t bytes;         ///< total region size
	uint64_t crashed;       ///< set while in use; clean shutdown clears it
} llf_lower_hdr_t;

/// Per-core state, one cache line. `word` is the reservation (local.h);
/// `hint` the next-fit start frame; `last_free` the free-reserve record.
typedef struct llf_local_s {
	_Alignas(AS_CACHELINE) _Atomic uint64_t word;
	_Atomic uint64_t hint;
	_Atomic uint64_t last_free;
} llf_local_t;

typedef struct llf_s {
	uint64_t frames;
	uint64_t trees;
	uint64_t children; ///< real children (frames / 512)
	unsigned cores;
	unsigned free_reserve; ///< option: reserve after N frees to one tree (0 off)
	void *lower;           ///< the lower region (llf_lower_hdr_t at offset 0)
	size_t lower_bytes;
	bool lower_owned;      ///< allocated by create (freed by destroy)
	_Atomic uint64_t *bf;  ///< lower + bf_off
	llf_pair_t *pairs;     ///< lower + child_off
	_Atomic uint16_t *tree; ///< tree entries
	llf_local_t *local;    ///< per-core state
	/// Per-core rows of pending remote frees (see llf_put_foreign): row k
	/// holds, per tree, frames core k freed into that unreserved tree and
	/// has not yet added to its entry. Each row starts on its own line.
	/// NULL with more than LLF_PENDING_CORES cores.
	_Atomic uint16_t *pending;
	uint64_t pending_row;  ///< u16 entries per row (trees, rounded to a line)
	size_t upper_bytes;    ///< mapping holding this struct, trees and locals
} llf_t;

static inline llf_t *llf_of(frame_alloc_t *fa)
{
	return (llf_t *)(void *)fa;
}

static inline _Atomic uint16_t *llf_child(llf_t *l, uint64_t c)
{
	return &l->pairs[c >> 1].child[c & 1];
}

/// Core k's pending-free counter for tree t.
static inline _Atomic uint16_t *llf_pending(llf_t *l, unsigned k, uint64_t t)
{
	return &l->pending[k * l->pending_row + t];
}

static inline _Atomic uint64_t *llf_field(llf_t *l, uint64_t c)
{
	return &l->bf[c * LLF_WORDS];
}

// lower.c: allocation inside one tree, and frees, on bitfields + children.
/// Allocate 2^order frames inside `tree`, searching from frame `hint`
/// (only its position inside the tree matters). Returns the frame, or -1
/// when no aligned run is free there. Counters of the tree/local level are
/// the caller's business.
int64_t llf_lower_get(llf_t *l, uint64_t tree, uint64_t hint, unsigned order);
/// Order 0 beyond the fast path of llf_lower_get0 (lower.h): with `taken`,
/// one frame of the hint's child is already taken from its counter and is
/// searched for in that child first (given back if races keep it from a
/// bit); then every child of the tree round-robin. Returns the frame or -1.
int64_t llf_lower_get0_slow(llf_t *l, uint64_t tree, uint64_t hint, bool taken);
/// Free a block (range and alignment already checked). FRAME_ERR_ARGUMENT
/// and no change when the block is not allocated with this order.
frame_err_t llf_lower_put(llf_t *l, uint64_t frame, unsigned order);
/// Size of the lower region for `frames` frames.
size_t llf_lower_size(uint64_t frames);
/// Lay out a zeroed region of llf_lower_size() bytes with every frame free.
void llf_lower_init(void *region, uint64_t frames);
/// Point `l` at an existing region; false if its header does not fit.
bool llf_lower_attach(llf_t *l, void *region, size_t bytes);

// reserve.c: the reservation protocol and the tree search.
/// Return `n` frames taken from `tree`'s counters but not used: to the
/// local counter when `core` still holds the tree, else to the tree entry.
void llf_give_back(llf_t *l, unsigned core, uint64_t tree, unsigned n);
/// Move global frees of the core's reserved tree into its local counter
/// when together they cover `n`. True if the local now may serve `n`.
bool llf_sync(llf_t *l, unsigned core, unsigned n);
/// Slow path of get: reserve another tree (vicinity, partial, free, any,
/// then drain everything and steal). -1 when memory is exhausted.
int64_t llf_reserve_get(llf_t *l, unsigned core, unsigned order);
/// Release the core's reservation and flush its pending frees (drain).
void llf_drain(llf_t *l, unsigned core);
/// Add all of core k's pending frees to their tree entries.
void llf_flush_pending(llf_t *l, unsigned k);
/// Free-reserve heuristic after a free into a tree the core does not hold.
void llf_free_reserve(llf_t *l, unsigned core, uint64_t tree);

// check.c: statistics, validation, recovery.
void llf_stats(frame_alloc_t *fa, frame_stats_t *out);
void llf_free_counts(frame_alloc_t *fa, uint16_t *out);
bool llf_validate(frame_alloc_t *fa, char *why, size_t whylen);
/// Recompute child counters from the bitfields (deep) when `deep`, then
/// every tree counter from the children; all reservations are dropped.
/// Must run with no other call in flight.
void llf_recover(llf_t *l, bool deep);

// llfree.c
/// Create over an existing lower region (e.g. a file mapping) after a
/// restart; `deep` recounts children from the bitfields (after a crash;
/// also done when the region's `crashed` flag is still set). The region
/// stays owned by the caller; destroy marks it clean. NULL with a reason
/// on error.
frame_alloc_t *llf_create_from_lower(void *region, size_t bytes, unsigned cores,
				     const char *options, bool deep, char *err,
				     size_t errlen);

#endif
