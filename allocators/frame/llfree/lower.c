// SPDX-License-Identifier: MIT
// The lower allocator: the persistent part of llfree (bitfields + child
// counters) in one position-independent region, and allocation/free inside
// one tree on it. Orders 0-8 take frames from a child counter first and then
// claim bits (inline in lower.h, bitfield.c); order 9 turns a fully free child into the huge
// marker; order 10 does the same for an aligned child pair with one 32-bit
// CAS. The bitfield of a huge child stays all zero.
#include <string.h>

#include "lower.h"

#define LLF_HDR_BYTES 64u
_Static_assert(sizeof(llf_lower_hdr_t) <= LLF_HDR_BYTES, "lower header fits one line");

static uint64_t trees_for(uint64_t frames)
{
	return (frames + LLF_TREE_FRAMES - 1) / LLF_TREE_FRAMES;
}

size_t llf_lower_size(uint64_t frames)
{
	uint64_t slots = trees_for(frames) * LLF_TREE_CHILDREN;
	uint64_t bf = slots * LLF_WORDS * sizeof(uint64_t);
	uint64_t ch = as_align_up(slots * sizeof(uint16_t), AS_CACHELINE);
	return (size_t)(LLF_HDR_BYTES + bf + ch);
}

void llf_lower_init(void *region, uint64_t frames)
{
	llf_lower_hdr_t *h = region;
	uint64_t trees = trees_for(frames), slots = trees * LLF_TREE_CHILDREN;
	h->magic = LLF_LOWER_MAGIC;
	h->frames = frames;
	h->trees = trees;
	h->tree_children = LLF_TREE_CHILDREN;
	h->bf_off = LLF_HDR_BYTES;
	h->child_off = LLF_HDR_BYTES + slots * LLF_WORDS * sizeof(uint64_t);
	h->bytes = llf_lower_size(frames);
	h->crashed = 0;
	_Atomic uint64_t *bf = (_Atomic uint64_t *)((char *)region + h->bf_off);
	llf_pair_t *pairs = (llf_pair_t *)((char *)region + h->child_off);
	uint64_t real = frames / LLF_CHILD_FRAMES;
	for (uint64_t c = 0; c < slots; c++) {
		bool is_real = c < real;
		// Initialisation, before the region is shared: relaxed.
		as_atomic_store_relaxed(&pairs[c >> 1].child[c & 1],
					(uint16_t)(is_real ? LLF_CHILD_FRAMES : 0));
		if (!is_real) // padding child: permanently allocated
			for (unsigned w = 0; w < LLF_WORDS; w++)
				as_atomic_store_relaxed(&bf[c * LLF_WORDS + w], ~0ull);
	}
	as_atomic_fence_release();
}

bool llf_lower_attach(llf_t *l, void *region, size_t bytes)
{
	const llf_lower_hdr_t *h = region;
	if (bytes < LLF_HDR_BYTES || h->magic != LLF_LOWER_MAGIC ||
	    h->tree_children != LLF_TREE_CHILDREN || h->bytes > bytes ||
	    h->frames == 0 || h->frames % FRAME_ALIGN_FRAMES ||
	    h->bytes != llf_lower_size(h->frames) || h->trees != trees_for(h->frames))
		return false;
	l->frames = h->frames;
	l->trees = h->trees;
	l->children = h->frames / LLF_CHILD_FRAMES;
	l->lower = region;
	l->lower_bytes = (size_t)h->bytes;
	l->bf = (_Atomic uint64_t *)((char *)region + h->bf_off);
	l->pairs = (llf_pair_t *)((char *)region + h->child_off);
	return true;
}

int64_t llf_lower_get0_slow(llf_t *l, uint64_t tree, uint64_t hint, bool taken)
{
	const unsigned C = LLF_TREE_CHILDREN;
	uint64_t base = tree * C;
	unsigned start = (unsigned)(hint >> LLF_CHILD_ORDER) & (C - 1);
	unsigned word = (unsigned)(hint >> 6) & (LLF_WORDS - 1);
	unsigned one = 1;
	if (taken) {
		uint64_t c = base + start;
		// The counter guarantees a zero bit somewhere in this child.
		int bit = llf_bf_get0(llf_field(l, c), word);
		if (bit >= 0)
			return (int64_t)(c * LLF_CHILD_FRAMES + (unsigned)bit);
		// Only after LLF_BF_PASSES lost races: give the frame back.
		// fetch_add cannot pass 512: our frame is still missing from
		// the counter, and the counter never exceeds the zero bits.
		as_atomic_fetch_add_acq_rel(llf_child(l, c), (uint16_t)1);
	}
	for (unsigned i = 0; i < C; i++) {
		uint64_t c = base + ((start + i) & (C - 1));
		_Atomic uint16_t *cp = llf_child(l, c);
		// Child-counter CAS -1 before the bits (counter before bits);
		// fails on a huge or full child.
		if (!as_atomic_update16(cp, NULL, llf_child_dec, &one))
			continue;
		int bit = llf_bf_get0(llf_field(l, c), i == 0 ? word : 0);
		if (bit >= 0)
			return (int64_t)(c * LLF_CHILD_FRAMES + (unsigned)bit);
		// As above: give the frame back.
		as_atomic_fetch_add_acq_rel(cp, (uint16_t)1);
	}
	return -1;
}

int64_t llf_lower_get(llf_t *l, uint64_t tree, uint64_t hint, unsigned order)
{
	const unsigned C = LLF_TREE_CHILDREN;
	uint64_t base = tree * C;
	unsigned start = (unsigned)(hint >> LLF_CHILD_ORDER) & (C - 1);

	if (order < LLF_CHILD_ORDER)
		return llf_lower_get_small(l, tree, hint, order);
	if (order == LLF_CHILD_ORDER) {
		for (unsigned i = 0; i < C; i++) {
			uint64_t c = base + ((start + i) & (C - 1));
			// Child CAS 512 -> huge marker: the counter alone
			// stands for the whole 2 MiB; bits are not touched.
			if (as_atomic_update16(llf_child(l, c), NULL, llf_child_to_huge, NULL))
				return (int64_t)(c * LLF_CHILD_FRAMES);
		}
		return -1;
	}
	uint64_t pbase = base / 2;
	unsigned pstart = start / 2;
	for (unsigned i = 0; i < C / 2; i++) {
		uint64_t p = pbase + ((pstart + i) & (C / 2 - 1));
		// One 32-bit CAS over an aligned pair: both children go from
		// 512 free to the order-10 marker together, or neither does.
		if (as_atomic_update32(&l->pairs[p].pair, NULL, llf_pair_to_huge, NULL))
			return (int64_t)(p * 2 * LLF_CHILD_FRAMES);
	}
	return -1;
}

frame_err_t llf_lower_put(llf_t *l, uint64_t frame, unsigned order)
{
	uint64_t c = frame >> LLF_CHILD_ORDER;
	if (order < LLF_CHILD_ORDER)
		return llf_lower_put_small(l, frame, order);
	if (order == LLF_CHILD_ORDER) {
		// Child CAS huge marker -> 512; any other value (a pair half,
		// a partly used child) means this is no order-9 block.
		return as_atomic_update16(llf_child(l, c), NULL, llf_child_from_huge, NULL)
			       ? FRAME_OK
			       : FRAME_ERR_ARGUMENT;
	}
	// Pair CAS (order-10 marker, order-10 marker) -> (512, 512).
	return as_atomic_update32(&l->pairs[c >> 1].pair, NULL, llf_pair_from_huge, NULL)
		       ? FRAME_OK
		       : FRAME_ERR_ARGUMENT;
}
