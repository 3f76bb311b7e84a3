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

/// Free a block of order 0..8 (range and alignment checked by the caller).
/// FRAME_ERR_ARGUMENT and no change if its bits are not all set.
static inline frame_err_t llf_lower_put_small(llf_t *l, uint64_t frame, unsigned order)
{
	uint64_t c = frame >> LLF_CHILD_ORDER;
	unsigned n = 1u << order, bit = (unsigned)(frame & (LLF_CHILD_FRAMES - 1));
	_Atomic uint64_t *field = llf_field(l, c);
	if (!(order <= 6 ? llf_bf_put_word(field, bit, order) : llf_bf_put(field, bit, order)))
		return FRAME_ERR_ARGUMENT;
	// Child-counter CAS +n after the bits are clear (counter after bits
	// on put). It fails only if the counter is corrupt (would pass 512):
	// then restore the bits and reject.
	if (AS_UNLIKELY(!as_atomic_update16(llf_child(l, c), NULL, llf_child_inc, &n))) {
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
