// SPDX-License-Identifier: MIT
// The child level of llfree: one 16-bit entry per 2 MiB child, holding its
// free-frame count 0..512 or a huge marker. Children sit in aligned pairs
// (llf_pair_t) so order 10 is one 32-bit CAS over both. Pure transitions
// only; lower.c runs them in CAS loops (as_atomic_update16/32).
#ifndef LLF_CHILD_H
#define LLF_CHILD_H

#include <stdbool.h>
#include <stdint.h>

#include "internal.h"

/// Child allocated whole as one order-9 frame (its bits stay all zero).
#define LLF_CHILD_HUGE 0xFFFFu
/// Child allocated as half of an order-10 block (its bits stay zero too);
/// distinct from LLF_CHILD_HUGE so a put with the wrong order is caught.
#define LLF_CHILD_HUGE2 0xFFFEu
#define LLF_PAIR_FREE (LLF_CHILD_FRAMES | (LLF_CHILD_FRAMES << 16))
#define LLF_PAIR_HUGE2 (LLF_CHILD_HUGE2 | (LLF_CHILD_HUGE2 << 16))

static inline bool llf_child_is_huge(uint16_t c)
{
	return c > LLF_CHILD_FRAMES;
}

/// Free frames an entry stands for (a huge child has none).
static inline unsigned llf_child_free(uint16_t c)
{
	return c > LLF_CHILD_FRAMES ? 0 : c;
}

/// Transition: take *(unsigned *)ctx frames; false if fewer are free or the
/// child is huge.
static inline bool llf_child_dec(uint16_t old, uint16_t *new_value, void *ctx)
{
	unsigned n = *(const unsigned *)ctx;
	if (old > LLF_CHILD_FRAMES || old < n)
		return false;
	*new_value = (uint16_t)(old - n);
	return true;
}

/// Transition: return *(unsigned *)ctx frames; false if that would exceed
/// 512 or the child is huge (a corrupt or bogus free).
static inline bool llf_child_inc(uint16_t old, uint16_t *new_value, void *ctx)
{
	unsigned n = *(const unsigned *)ctx;
	if (old > LLF_CHILD_FRAMES || old + n > LLF_CHILD_FRAMES)
		return false;
	*new_value = (uint16_t)(old + n);
	return true;
}

/// Transition: a fully free child becomes one huge (order 9) frame.
static inline bool llf_child_to_huge(uint16_t old, uint16_t *new_value, void *ctx)
{
	(void)ctx;
	if (old != LLF_CHILD_FRAMES)
		return false;
	*new_value = LLF_CHILD_HUGE;
	return true;
}

/// Transition: an order-9 huge child becomes fully free again.
static inline bool llf_child_from_huge(uint16_t old, uint16_t *new_value, void *ctx)
{
	(void)ctx;
	if (old != LLF_CHILD_HUGE)
		return false;
	*new_value = LLF_CHILD_FRAMES;
	return true;
}

/// Transition on a pair: both children fully free -> one order-10 block.
static inline bool llf_pair_to_huge(uint32_t old, uint32_t *new_value, void *ctx)
{
	(void)ctx;
	if (old != LLF_PAIR_FREE)
		return false;
	*new_value = LLF_PAIR_HUGE2;
	return true;
}

/// Transition on a pair: an order-10 block -> both children fully free.
static inline bool llf_pair_from_huge(uint32_t old, uint32_t *new_value, void *ctx)
{
	(void)ctx;
	if (old != LLF_PAIR_HUGE2)
		return false;
	*new_value = LLF_PAIR_FREE;
	return true;
}

#endif
