// SPDX-License-Identifier: MIT
// llfree statistics, the full invariant walk and recovery. Statistics read
// the child counters (the lower level): exact when no call is in flight,
// approximate under concurrency. validate recounts everything from the
// bitfields and compares child, tree and local counters and reservation
// flags. Recovery rebuilds the volatile upper part from the lower region.
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "bitfield.h"
#include "child.h"
#include "local.h"
#include "tree.h"

static uint64_t page_round(uint64_t bytes)
{
	return as_align_up(bytes, (uint64_t)sysconf(_SC_PAGESIZE));
}

void llf_stats(frame_alloc_t *fa, frame_stats_t *out)
{
	llf_t *l = llf_of(fa);
	uint64_t free = 0, huge = 0;
	for (uint64_t c = 0; c < l->children; c++) {
		uint16_t v = as_atomic_load_acquire(llf_child(l, c));
		free += llf_child_free(v);
		huge += v == LLF_CHILD_FRAMES;
	}
	out->frames = l->frames;
	out->free_frames = free;
	out->free_huge = huge;
	out->metadata_bytes = page_round(l->lower_bytes) + page_round(l->upper_bytes);
}

void llf_free_counts(frame_alloc_t *fa, uint16_t *out)
{
	llf_t *l = llf_of(fa);
	for (uint64_t c = 0; c < l->children; c++)
		out[c] = (uint16_t)llf_child_free(as_atomic_load_acquire(llf_child(l, c)));
}

AS_PRINTF(3, 4) static bool fail(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (why && len)
		vsnprintf(why, len, fmt, ap);
	va_end(ap);
	return false;
}

bool llf_validate(frame_alloc_t *fa, char *why, size_t len)
{
	llf_t *l = llf_of(fa);
	const llf_lower_hdr_t *h = l->lower;
	if (h->magic != LLF_LOWER_MAGIC || h->frames != l->frames)
		return fail(why, len, "lower header corrupt");
	for (unsigned k = 0; k < l->cores; k++) {
		uint64_t w = as_atomic_load_acquire(&l->local[k].word);
		if (llf_local_present(w) && llf_local_tree(w) >= l->trees)
			return fail(why, len, "core %u reserves tree %llu of %llu", k,
				    (unsigned long long)llf_local_tree(w),
				    (unsigned long long)l->trees);
		if (!llf_local_present(w) && llf_local_free(w))
			return fail(why, len, "core %u holds %u frames without a reservation", k,
				    llf_local_free(w));
	}
	for (uint64_t t = 0; t < l->trees; t++) {
		unsigned sum = 0;
		for (uint64_t c = t * LLF_TREE_CHILDREN; c < (t + 1) * LLF_TREE_CHILDREN; c++) {
			uint16_t v = as_atomic_load_acquire(llf_child(l, c));
			unsigned zeros = llf_bf_count_free(llf_field(l, c));
			if (c >= l->children) {
				if (v != 0 || zeros != 0)
					return fail(why, len, "padding child %llu not allocated",
						    (unsigned long long)c);
				continue;
			}
			if (v == LLF_CHILD_HUGE2) {
				uint16_t mate = as_atomic_load_acquire(llf_child(l, c ^ 1));
				if (mate != LLF_CHILD_HUGE2)
					return fail(why, len, "child %llu: order-10 half without its mate",
						    (unsigned long long)c);
			}
			if (llf_child_is_huge(v) && v != LLF_CHILD_HUGE && v != LLF_CHILD_HUGE2)
				return fail(why, len, "child %llu: bad value %u",
					    (unsigned long long)c, v);
			if (llf_child_is_huge(v) && zeros != LLF_CHILD_FRAMES)
				return fail(why, len, "child %llu: huge but %u bits set",
					    (unsigned long long)c, LLF_CHILD_FRAMES - zeros);
			if (!llf_child_is_huge(v) && v != zeros)
				return fail(why, len, "child %llu: counter %u, bitfield %u free",
					    (unsigned long long)c, v, zeros);
			sum += llf_child_free(v);
		}
		uint16_t tw = as_atomic_load_acquire(&l->tree[t]);
		unsigned held = 0, holders = 0;
		for (unsigned k = 0; k < l->cores; k++) {
			uint64_t w = as_atomic_load_acquire(&l->local[k].word);
			if (llf_local_present(w) && llf_local_tree(w) == t) {
				holders++;
				held += llf_local_free(w);
			}
		}
		if (holders != (llf_tree_is_reserved(tw) ? 1u : 0u))
			return fail(why, len, "tree %llu: reserved flag %d but %u cores hold it",
				    (unsigned long long)t, llf_tree_is_reserved(tw), holders);
		unsigned pend = 0;
		for (unsigned k = 0; l->pending && k < l->cores; k++)
			pend += as_atomic_load_acquire(llf_pending(l, k, t));
		if (llf_tree_free(tw) + held + pend != sum)
			return fail(why, len,
				    "tree %llu: counter %u + local %u + pending %u, children %u free",
				    (unsigned long long)t, llf_tree_free(tw), held, pend, sum);
	}
	return true;
}

void llf_recover(llf_t *l, bool deep)
{
	// Recovery runs alone (no call in flight, nothing shared yet): every
	// access below is relaxed; the release fence at the end publishes.
	for (unsigned k = 0; k < l->cores; k++) {
		as_atomic_store_relaxed(&l->local[k].word,
					llf_local_make(false, (uint64_t)k * l->trees / l->cores, 0));
		as_atomic_store_relaxed(&l->local[k].hint, 0);
		as_atomic_store_relaxed(&l->local[k].last_free, 0);
		for (uint64_t t = 0; l->pending && t < l->trees; t++)
			as_atomic_store_relaxed(llf_pending(l, k, t), 0);
	}
	for (uint64_t t = 0; t < l->trees; t++) {
		unsigned sum = 0;
		for (uint64_t c = t * LLF_TREE_CHILDREN; c < (t + 1) * LLF_TREE_CHILDREN; c++) {
			_Atomic uint16_t *cp = llf_child(l, c);
			if (deep && c >= l->children) {
				for (unsigned w = 0; w < LLF_WORDS; w++)
					as_atomic_store_relaxed(&llf_field(l, c)[w], ~0ull);
				as_atomic_store_relaxed(cp, 0);
			} else if (deep) {
				// A huge marker is one CAS, so it is never torn;
				// it is kept if its bits are clear (as allocated)
				// and an order-10 half needs its mate.
				uint16_t v = as_atomic_load_relaxed(cp);
				unsigned zeros = llf_bf_count_free(llf_field(l, c));
				bool keep = (v == LLF_CHILD_HUGE ||
					     (v == LLF_CHILD_HUGE2 &&
					      as_atomic_load_relaxed(llf_child(l, c ^ 1)) ==
						      LLF_CHILD_HUGE2)) &&
					    zeros == LLF_CHILD_FRAMES;
				if (!keep)
					as_atomic_store_relaxed(cp, (uint16_t)zeros);
			}
			sum += llf_child_free(as_atomic_load_relaxed(cp));
		}
		as_atomic_store_relaxed(&l->tree[t], (uint16_t)sum);
	}
	as_atomic_fence_release();
}
