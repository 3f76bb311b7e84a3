// SPDX-License-Identifier: MIT
// The bitfield level of llfree: one bit per 4 KiB frame (1 = allocated),
// 512 bits per child in 8 u64 words on one cache line. This header holds the
// pure word transitions (unit-tested directly); bitfield.c runs them in CAS
// loops over a child's words.
#ifndef LLF_BITFIELD_H
#define LLF_BITFIELD_H

#include <stdbool.h>
#include <stdint.h>

#include "internal.h"

/// Bits of one block of `order` (0..6) at bit 0 of a word.
static inline uint64_t llf_bf_mask(unsigned order)
{
	return order >= 6 ? ~0ull : (1ull << (1u << order)) - 1;
}

/// First bit of the lowest naturally aligned run of 2^order zero bits in
/// `w` (order 0..6), or 64 when there is none. For order k the word is
/// folded k times (v |= v >> 2^i), so bit b of v is the OR of bits
/// b..b+2^k-1 of w; aligned fields are free where v has a 0 at their base.
static inline unsigned llf_bf_first_free(uint64_t w, unsigned order)
{
	static const uint64_t base[6] = {
		~0ull,
		0x5555555555555555ull,
		0x1111111111111111ull,
		0x0101010101010101ull,
		0x0001000100010001ull,
		0x0000000100000001ull,
	};
	if (order >= 6)
		return w == 0 ? 0 : 64;
	uint64_t v = w;
	for (unsigned s = 1; s < (1u << order); s <<= 1)
		v |= v >> s;
	uint64_t free = ~v & base[order];
	return free ? (unsigned)__builtin_ctzll(free) : 64;
}

typedef struct llf_bf_claim_s {
	unsigned order; ///< in: 0..6
	unsigned bit;   ///< out: first bit claimed
} llf_bf_claim_t;

/// Transition: set the lowest free aligned run of 2^order bits; false when
/// the word has none.
static inline bool llf_bf_claim(uint64_t old, uint64_t *new_value, void *ctx)
{
	llf_bf_claim_t *c = ctx;
	unsigned bit = llf_bf_first_free(old, c->order);
	if (bit >= 64)
		return false;
	c->bit = bit;
	*new_value = old | (llf_bf_mask(c->order) << bit);
	return true;
}

/// Transition: set exactly the bits of *(uint64_t *)ctx, all of which must
/// be clear (claim of a given run, undo of a failed free).
static inline bool llf_bf_set(uint64_t old, uint64_t *new_value, void *ctx)
{
	uint64_t mask = *(const uint64_t *)ctx;
	if (old & mask)
		return false;
	*new_value = old | mask;
	return true;
}

/// Transition: clear exactly the bits of *(uint64_t *)ctx, all of which must
/// be set: the "expected value" check that rejects double frees.
static inline bool llf_bf_clear(uint64_t old, uint64_t *new_value, void *ctx)
{
	uint64_t mask = *(const uint64_t *)ctx;
	if ((old & mask) != mask)
		return false;
	*new_value = old & ~mask;
	return true;
}

/// Claim an aligned run of 2^order bits, order 0..5 (inside one word),
/// trying word `start` first. Returns the first bit (0..511) or -1. Inline:
/// it is the allocation fast path.
static inline int llf_bf_get_small(_Atomic uint64_t *field, unsigned start, unsigned order)
{
	llf_bf_claim_t c = { .order = order, .bit = 0 };
	// For order 0 the child counter guarantees a free bit, so a miss can
	// only come from racing CASes moving the free bits: scan again.
	unsigned passes = order == 0 ? LLF_BF_PASSES : 1;
	for (unsigned p = 0; p < passes; p++) {
		for (unsigned i = 0; i < LLF_WORDS; i++) {
			unsigned w = (start + i) % LLF_WORDS;
			// CAS on a bitfield word: sets the bits of one free
			// aligned run. The caller took 2^order from the child
			// counter first, so the frames are already accounted
			// as used; the transition re-checks the run is zero.
			if (as_atomic_update64(&field[w], NULL, llf_bf_claim, &c))
				return (int)(w * 64 + c.bit);
		}
	}
	return -1;
}

/// Claim one free bit (order 0) of a child's field, trying word `start`
/// first. Returns the bit (0..511) or -1. The caller took one frame from the
/// child counter first, so a zero bit is reserved for it; a miss can only
/// come from racing gets moving the free bits, hence LLF_BF_PASSES scans.
/// Inline: it is the order-0 allocation fast path.
AS_INLINE int llf_bf_get0(_Atomic uint64_t *field, unsigned start)
{
	for (unsigned p = 0; p < LLF_BF_PASSES; p++) {
		for (unsigned i = 0; i < LLF_WORDS; i++) {
			unsigned w = (start + i) & (LLF_WORDS - 1);
			uint64_t v = as_atomic_load_acquire(&field[w]);
			while (~v) {
				unsigned b = (unsigned)__builtin_ctzll(~v);
				uint64_t m = 1ull << b;
				// fetch_or of one bit on a bitfield word: claims a
				// frame the child counter already gave us. If the bit
				// was set meanwhile (a racing get won it), OR-ing it
				// again changes nothing: reload and search on; that
				// get made progress. Only the old bit is used, so it
				// compiles to one `lock bts` on x86 (no CAS loop).
				// acq_rel: acquire pairs with the put that cleared it.
				if (!(as_atomic_fetch_or_acq_rel(&field[w], m) & m))
					return (int)(w * 64 + b);
				v = as_atomic_load_acquire(&field[w]);
			}
		}
	}
	return -1;
}

/// Clear the one bit of `frame` (order 0). False, with nothing changed, if
/// it was not set: clearing a clear bit is a no-op, so the old word returned
/// by the single fetch_and decides validity without a compare-and-swap.
static inline bool llf_bf_put0(_Atomic uint64_t *field, unsigned bit)
{
	uint64_t m = 1ull << (bit & 63);
	// fetch_and on one word clears exactly this frame's bit (bits before
	// counters on put); acq_rel: release publishes the frame's freeing to
	// the next get that claims the bit.
	return (as_atomic_fetch_and_acq_rel(&field[bit >> 6], ~m) & m) != 0;
}

/// Clear the run at `bit` of 2^order bits, order 0..6 (inside one word).
/// False, with the word unchanged, if any of those bits is not set.
static inline bool llf_bf_put_word(_Atomic uint64_t *field, unsigned bit, unsigned order)
{
	uint64_t mask = llf_bf_mask(order) << (bit % 64);
	// CAS on one word: clears the block's bits only if all are set (the
	// expected-value check against double and bogus frees). Bits are
	// cleared before any counter is raised, so counters never report
	// frames whose bits are still set.
	return as_atomic_update64(&field[bit / 64], NULL, llf_bf_clear, &mask);
}

/// Claim an aligned run of 2^order bits (order 0..8) in one child's field,
/// trying word `start` first. Returns the first bit (0..511) or -1.
int llf_bf_get(_Atomic uint64_t *field, unsigned start, unsigned order);
/// Claim words w0..w0+nw-1 (each 0 -> ~0, one CAS per word), undoing the
/// words already claimed when a later one is not zero. True if all claimed.
bool llf_bf_claim_run(_Atomic uint64_t *field, unsigned w0, unsigned nw);
/// Clear the run at `bit` of 2^order bits (order 0..8). False, with the
/// field unchanged, if any of those bits is not set.
bool llf_bf_put(_Atomic uint64_t *field, unsigned bit, unsigned order);
/// Set bits of a word, without a libgcc call: the build has no -mpopcnt,
/// so __builtin_popcountll would call __popcountdi2 (SWAR, 12 ALU ops).
static inline unsigned llf_popcount64(uint64_t x)
{
	x = x - ((x >> 1) & 0x5555555555555555ull);
	x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
	x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
	return (unsigned)((x * 0x0101010101010101ull) >> 56);
}

/// Number of zero bits (free frames) in a field.
unsigned llf_bf_count_free(_Atomic uint64_t *field);

#endif
