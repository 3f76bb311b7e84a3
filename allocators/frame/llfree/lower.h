// SPDX-License-Identifier: MIT
// The lower allocator's fast paths for orders 0-8 (inside one child), inline
// so that get/put in llfree.c pay no calls for the common case; lower.c has
// the region layout and orders 9-10. Counter before bits on get, bits before
// counter on put (see README.md, "The counter rule").
#ifndef LLF_LOWER_H
#define LLF_LOWER_H

#include "bitfield.h"
#include "child.h"

/// Allocate 2^order frames (order 0..8) inside `tree` from frame `hint`'s
/// position: children round-robin from the hint's child, then its bitfield
/// from the hint's word. Returns the frame or -1.
static inline int64_t llf_lower_get_small(llf_t *l, uint64_t tree, uint64_t hint,
					  unsigned order)
{
	const unsigned C = LLF_TREE_CHILDREN;
	uint64_t base = tree * C;
	unsigned start = (unsigned)(hint >> LLF_CHILD_ORDER) & (C - 1);
	unsigned n = 1u << order;
	unsigned word = (unsigned)(hint >> 6) % LLF_WORDS;
	for (unsigned i = 0; i < C; i++) {
		uint64_t c = base + ((start + i) & (C - 1));
		_Atomic uint16_t *cp = llf_child(l, c);
		// Child-counter CAS: take n frames of this child before touching
		// its bits (counter before bits), so the counter never
		// over-reports free frames; fails on a huge child or too few.
		if (!as_atomic_update16(cp, NULL, llf_child_dec, &n))
			continue;
		_Atomic uint64_t *field = llf_field(l, c);
		unsigned w = i == 0 ? word : 0;
		int bit = order <= 5 ? llf_bf_get_small(field, w, order) : llf_bf_get(field, w, order);
		if (AS_LIKELY(bit >= 0))
			return (int64_t)(c * LLF_CHILD_FRAMES + (unsigned)bit);
		// Enough frames but no aligned run (fragmentation): CAS the n
		// frames back. Cannot fail: our n are still missing from the
		// counter, so it stays <= 512 - n.
		bool back = as_atomic_update16(cp, NULL, llf_child_inc, &n);
		(void)back;
	}
	return -1;
}

/// Allocate one frame (order 0) inside `tree` from frame `hint`'s position:
/// the order-0 specialisation of llf_lower_get_small. The common case (the
/// hint's child has a frame and the hint's word a zero bit, as in next-fit
/// allocation) is straight-line code: one CAS on the child counter, one
/// fetch_or on the word. Anything else goes to llf_lower_get0_slow, out of
/// line (lower.c) so the fast path keeps its registers. Returns the frame
/// or -1.
AS_INLINE int64_t llf_lower_get0(llf_t *l, uint64_t tree, uint64_t hint)
{
	uint64_t c = tree * LLF_TREE_CHILDREN +
		     ((hint >> LLF_CHILD_ORDER) & (LLF_TREE_CHILDREN - 1));
	_Atomic uint16_t *cp = llf_child(l, c);
	unsigned one = 1;
	// Child-counter CAS -1 before the bits (counter before bits).
	if (AS_LIKELY(as_atomic_update16(cp, NULL, llf_child_dec, &one))) {
		unsigned w = (unsigned)(hint >> 6) & (LLF_WORDS - 1);
		_Atomic uint64_t *wp = &llf_field(l, c)[w];
		uint64_t v = as_atomic_load_acquire(wp);
		if (AS_LIKELY(~v != 0)) {
			unsigned b = (unsigned)__builtin_ctzll(~v);
			uint64_t m = 1ull << b;
			// fetch_or of one bit claims the frame the counter gave
			// us (see llf_bf_get0: a lost race changes nothing).
			if (AS_LIKELY(!(as_atomic_fetch_or_acq_rel(wp, m) & m)))
				return (int64_t)(c * LLF_CHILD_FRAMES + w * 64 + b);
		}
		// The hint's word is full or was taken meanwhile.
		return llf_lower_get0_slow(l, tree, hint, true);
	}
	return llf_lower_get0_slow(l, tree, hint, false);
}

/// Add n frames to the child counter after their bits were cleared. One
/// fetch_add instead of a CAS loop: the counter never exceeds the zero bits
/// of its child (it is decremented before bits are set and incremented after
/// they are cleared), and the caller just cleared n set bits, so the counter
/// is at most 512 - n before the add and cannot be a huge marker (a huge
/// child has no set bits) nor carry past 512. False only with corrupted
/// metadata (old value > 512 - n): the add is then undone and the caller
/// restores the bits (best effort; no valid call sequence gets there).
static inline bool llf_child_put_add(_Atomic uint16_t *cp, unsigned n)
{
	// acq_rel: release makes the cleared bits visible before the frames
	// become takeable through this counter.
	uint16_t old = as_atomic_fetch_add_acq_rel(cp, (uint16_t)n);
	if (AS_LIKELY(old <= LLF_CHILD_FRAMES - n))
		return true;
	as_atomic_fetch_sub_acq_rel(cp, (uint16_t)n);
	return false;
}

/// Free one frame (order 0; range checked by the caller): one fetch_and on
/// the bit, one fetch_add on the child counter. FRAME_ERR_ARGUMENT and no
/// change if the frame is not allocated.
AS_INLINE frame_err_t llf_lower_put0(llf_t *l, uint64_t frame)
{
	uint64_t c = frame >> LLF_CHILD_ORDER;
	unsigned bit = (unsigned)(frame & (LLF_CHILD_FRAMES - 1));
	_Atomic uint64_t *field = llf_field(l, c);
	if (AS_UNLIKELY(!llf_bf_put0(field, bit)))
		return FRAME_ERR_ARGUMENT;
	if (AS_UNLIKELY(!llf_child_put_add(llf_child(l, c), 1))) {
		// Corrupt counter: set the bit again (fetch_or), best effort as
		// in llf_lower_put_small; no valid call sequence gets here.
		as_atomic_fetch_or_acq_rel(&field[bit >> 6], 1ull << (bit & 63));
		return FRAME_ERR_ARGUMENT;
	}
	return FRAME_OK;
}

/// Free a block of order 0..8 (range and alignment checked by the caller).
/// FRAME_ERR_ARGUMENT and no change if its bits are not all set.
static inline frame_err_t llf_lower_put_small(llf_t *l, uint64_t frame, unsigned order)
{
	uint64_t c = frame >> LLF_CHILD_ORDER;
	unsigned n = 1u << order, bit = (unsigned)(frame & (LLF_CHILD_FRAMES - 1));
	_Atomic uint64_t *field = llf_field(l, c);
	if (!(order <= 6 ? llf_bf_put_word(field, bit, order) : llf_bf_put(field, bit, order)))
		return FRAME_ERR_ARGUMENT;
	// Child counter +n after the bits are clear (counter after bits on
	// put). It fails only if the counter is corrupt (would pass 512):
	// then restore the bits and reject.
	if (AS_UNLIKELY(!llf_child_put_add(llf_child(l, c), n))) {
		unsigned nw = order <= 6 ? 1 : 1u << (order - 6);
		for (unsigned j = 0; j < nw; j++) {
			uint64_t m = llf_bf_mask(order) << (bit % 64);
			bool redone = as_atomic_update64(&field[bit / 64 + j], NULL, llf_bf_set, &m);
			(void)redone;
		}
		return FRAME_ERR_ARGUMENT;
	}
	return FRAME_OK;
}

#endif
