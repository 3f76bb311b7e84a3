// SPDX-License-Identifier: MIT
// Search and claim of aligned runs in one child's 512-bit field, and their
// release. Orders 0-5 live inside one word and take one CAS; order 6 is one
// whole word (CAS 0 -> ~0); orders 7-8 are 2 or 4 consecutive words claimed
// one CAS at a time and undone when a later word is lost (not atomic as a
// group, but the child counter was decremented first, so no other get is
// entitled to these frames and the undo restores exactly what we set).
#include "bitfield.h"

bool llf_bf_claim_run(_Atomic uint64_t *field, unsigned w0, unsigned nw)
{
	unsigned j;
	for (j = 0; j < nw; j++) {
		uint64_t zero = 0;
		// CAS 0 -> ~0 on one word of the run: claims 64 frames the
		// child counter already accounts as used.
		if (!as_atomic_cas_strong_acq_rel(&field[w0 + j], &zero, ~0ull))
			break;
	}
	if (j == nw)
		return true;
	// Lost word j to a racing get: undo words 0..j-1. Each still holds
	// our ~0 (no valid free can target frames that were never handed
	// out), so the clearing CAS succeeds.
	while (j-- > 0) {
		uint64_t all = ~0ull;
		bool undone = as_atomic_update64(&field[w0 + j], NULL, llf_bf_clear, &all);
		(void)undone;
	}
	return false;
}

int llf_bf_get(_Atomic uint64_t *field, unsigned start, unsigned order)
{
	start %= LLF_WORDS;
	if (order <= 5)
		return llf_bf_get_small(field, start, order);
	unsigned nw = 1u << (order - 6);
	start &= ~(nw - 1);
	for (unsigned i = 0; i < LLF_WORDS; i += nw) {
		unsigned w0 = (start + i) % LLF_WORDS;
		bool empty = true;
		for (unsigned j = 0; j < nw; j++)
			empty = empty && as_atomic_load_acquire(&field[w0 + j]) == 0;
		if (!empty)
			continue;
		if (llf_bf_claim_run(field, w0, nw))
			return (int)(w0 * 64);
	}
	return -1;
}

bool llf_bf_put(_Atomic uint64_t *field, unsigned bit, unsigned order)
{
	if (order <= 6)
		return llf_bf_put_word(field, bit, order);
	unsigned nw = 1u << (order - 6), w0 = bit / 64;
	for (unsigned j = 0; j < nw; j++)
		if (as_atomic_load_acquire(&field[w0 + j]) != ~0ull)
			return false;
	for (unsigned j = 0; j < nw; j++) {
		uint64_t all = ~0ull;
		// CAS ~0 -> 0 per word, as above. A failure after the check
		// means a racing bogus free of the same frames (a caller
		// bug): restore the words already cleared, best effort, and
		// reject. Valid calls never reach this.
		if (!as_atomic_update64(&field[w0 + j], NULL, llf_bf_clear, &all)) {
			while (j-- > 0) {
				uint64_t m = ~0ull;
				bool redone = as_atomic_update64(&field[w0 + j], NULL, llf_bf_set, &m);
				(void)redone;
			}
			return false;
		}
	}
	return true;
}

unsigned llf_bf_count_free(_Atomic uint64_t *field)
{
	unsigned used = 0;
	for (unsigned w = 0; w < LLF_WORDS; w++)
		used += llf_popcount64(as_atomic_load_acquire(&field[w]));
	return LLF_CHILD_FRAMES - used;
}
