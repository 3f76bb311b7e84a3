// SPDX-License-Identifier: MIT
// nbbs statistics and invariant walk. Free-frame counts come from the
// translation table (every allocated block is one entry, order + 1 at its
// first frame), which is exact at quiescence and approximate (each entry read
// relaxed) while get/put run. validate walks every tree and checks the node
// words against their children and against the table.
#include <stdio.h>
#include <string.h>

#include "as/err.h"
#include "internal.h"

/// Add the frames of every allocated block to used[] per 2 MiB huge frame
/// (when used != NULL); return the total allocated frames.
static uint64_t nbbs_count_used(struct frame_alloc_s *fa, uint16_t *used)
{
	uint64_t total = 0;
	for (uint64_t f = 0; f < fa->frames;) {
		// Relaxed: statistics may be approximate while others run.
		unsigned e = as_atomic_load_relaxed(&fa->table[f]);
		if (e == 0 || e > NBBS_LEVELS || (f & ((1ull << (e - 1)) - 1))) {
			f++;
			continue;
		}
		uint64_t size = 1ull << (e - 1);
		if (f + size > fa->frames)
			size = fa->frames - f;
		total += size;
		if (used) {
			for (uint64_t h = f / FRAME_HUGE_FRAMES;
			     h * FRAME_HUGE_FRAMES < f + size; h++)
				used[h] = (uint16_t)(used[h] +
						     AS_MIN(size, FRAME_HUGE_FRAMES));
		}
		f += size;
	}
	return total;
}

void nbbs_free_counts(frame_alloc_t *fa, uint16_t *out)
{
	uint64_t huge = fa->frames / FRAME_HUGE_FRAMES;
	memset(out, 0, huge * sizeof(*out));
	nbbs_count_used(fa, out);
	for (uint64_t h = 0; h < huge; h++)
		out[h] = (uint16_t)(FRAME_HUGE_FRAMES - AS_MIN(out[h], FRAME_HUGE_FRAMES));
}

void nbbs_stats(frame_alloc_t *fa, frame_stats_t *out)
{
	uint64_t huge = fa->frames / FRAME_HUGE_FRAMES;
	out->frames = fa->frames;
	out->free_frames = fa->frames - nbbs_count_used(fa, NULL);
	// A fully free huge frame is an order-9 node with no allocation in or
	// above it; count from the table: regions with no allocated frame.
	uint64_t free_huge = 0;
	uint16_t buf[256];
	for (uint64_t h0 = 0; h0 < huge; h0 += AS_ARRAY_LEN(buf)) {
		uint64_t cnt = AS_MIN((uint64_t)AS_ARRAY_LEN(buf), huge - h0);
		memset(buf, 0, sizeof(buf));
		// Count the slice [h0, h0 + cnt) of huge frames.
		for (uint64_t f = h0 * FRAME_HUGE_FRAMES;
		     f < (h0 + cnt) * FRAME_HUGE_FRAMES;) {
			// Relaxed: statistics may be approximate while others run.
			unsigned e = as_atomic_load_relaxed(&fa->table[f]);
			if (e == 0 || e > NBBS_LEVELS || (f & ((1ull << (e - 1)) - 1))) {
				f++;
				continue;
			}
			uint64_t size = 1ull << (e - 1);
			for (uint64_t h = f / FRAME_HUGE_FRAMES;
			     h * FRAME_HUGE_FRAMES < f + size && h < h0 + cnt; h++)
				buf[h - h0] = 1;
			f += size;
		}
		for (uint64_t h = 0; h < cnt; h++)
			free_huge += buf[h] == 0;
	}
	out->free_huge = free_huge;
	out->metadata_bytes = sizeof(*fa) + fa->tree_bytes + fa->frames + fa->core_bytes;
}

// ---------------------------------------------------------------------------
// Invariant walk

typedef struct nbbs_walk_s {
	struct frame_alloc_s *fa;
	bool strict;
	bool bad;
	uint64_t blocks; ///< allocated blocks found (OCC nodes and leaf bits)
	char *why;
	size_t whylen;
} nbbs_walk_t;

static void nbbs_bad(nbbs_walk_t *v, unsigned k, uint64_t i, uint64_t w, const char *what)
{
	if (v->bad)
		return;
	v->bad = true;
	as_format(v->why, v->whylen, "nbbs: node order %u index %llu word 0x%llx: %s", k,
		  (unsigned long long)i, (unsigned long long)w, what);
}

/// Check leaf i, whose state `taken` is its OCC bit in its parent; `covered`
/// = an ancestor is allocated whole. Its own slot is never written.
static bool nbbs_leaf(nbbs_walk_t *v, uint64_t i, bool taken, bool covered)
{
	struct frame_alloc_s *fa = v->fa;
	// Relaxed: validate runs at quiescence (frame.h contract).
	uint64_t w = as_atomic_load_relaxed(nbbs_node(fa, 0, i));
	unsigned e = as_atomic_load_relaxed(&fa->table[i]);
	if (w != 0) {
		nbbs_bad(v, 0, i, w, "leaf slot written (leaves live in their parent's word)");
		return false;
	}
	if (taken && !covered) {
		if (e != 1) {
			nbbs_bad(v, 0, i, w, "allocated leaf without its translation-table entry");
			return false;
		}
		v->blocks++;
		return true;
	}
	if (e == 1) {
		nbbs_bad(v, 0, i, w, "translation table names a leaf that is not allocated");
		return false;
	}
	return false;
}

/// Check the subtree of (k, i), k >= 1; `covered` = an ancestor is allocated
/// whole. Returns whether anything in the subtree is allocated.
static bool nbbs_walk(nbbs_walk_t *v, unsigned k, uint64_t i, bool covered)
{
	if (v->bad)
		return false;
	struct frame_alloc_s *fa = v->fa;
	// Relaxed: validate runs at quiescence (frame.h contract).
	uint64_t w = as_atomic_load_relaxed(nbbs_node(fa, k, i));
	unsigned e = as_atomic_load_relaxed(&fa->table[i << k]);
	if (w & ~(uint64_t)NBBS_ALL_BITS) {
		nbbs_bad(v, k, i, w, "bits outside the node word");
		return false;
	}
	if (covered && w != 0) {
		nbbs_bad(v, k, i, w, "non-zero inside a block allocated whole");
		return false;
	}
	if (w & NBBS_OCC) {
		if (w != NBBS_BUSY) {
			nbbs_bad(v, k, i, w, "allocated node with COAL or missing OCC_LEFT/RIGHT");
			return false;
		}
		if (e != k + 1) {
			nbbs_bad(v, k, i, w, "allocated node without its translation-table entry");
			return false;
		}
		v->blocks++;
		if (k > 1) {
			nbbs_walk(v, k - 1, 2 * i, true);
			nbbs_walk(v, k - 1, 2 * i + 1, true);
		} else {
			nbbs_leaf(v, 2 * i, false, true);
			nbbs_leaf(v, 2 * i + 1, false, true);
		}
		return true;
	}
	if (e == k + 1) {
		nbbs_bad(v, k, i, w, "translation table names a node that is not allocated");
		return false;
	}
	bool left, right;
	if (k == 1) {
		// The children are leaves, which live in this word: a leaf is
		// allocated exactly when its OCC bit is set (internal.h).
		left = nbbs_leaf(v, 2 * i, (w & NBBS_OCC_LEFT) != 0, covered);
		right = nbbs_leaf(v, 2 * i + 1, (w & NBBS_OCC_RIGHT) != 0, covered);
	} else {
		left = nbbs_walk(v, k - 1, 2 * i, covered);
		right = nbbs_walk(v, k - 1, 2 * i + 1, covered);
	}
	if (v->bad)
		return false;
	if (!!(w & NBBS_OCC_LEFT) != left) {
		nbbs_bad(v, k, i, w, left ? "OCC_LEFT clear but left subtree allocated"
					  : "OCC_LEFT set but left subtree free");
		return false;
	}
	if (!!(w & NBBS_OCC_RIGHT) != right) {
		nbbs_bad(v, k, i, w, right ? "OCC_RIGHT clear but right subtree allocated"
					   : "OCC_RIGHT set but right subtree free");
		return false;
	}
	if (v->strict && (w & (NBBS_COAL_LEFT | NBBS_COAL_RIGHT))) {
		nbbs_bad(v, k, i, w, "COAL bit left at quiescence");
		return false;
	}
	// A stale COAL is only tolerable on an occupied side (README).
	if (((w & NBBS_COAL_LEFT) && !left) || ((w & NBBS_COAL_RIGHT) && !right)) {
		nbbs_bad(v, k, i, w, "COAL bit on a free side at quiescence");
		return false;
	}
	return left || right;
}

bool nbbs_validate_ex(struct frame_alloc_s *fa, bool strict, char *why, size_t whylen)
{
	nbbs_walk_t v = { .fa = fa, .strict = strict, .why = why, .whylen = whylen };
	if (whylen)
		why[0] = '\0';
	for (uint64_t r = 0; r < fa->count[NBBS_MAX_ORDER] && !v.bad; r++)
		nbbs_walk(&v, NBBS_MAX_ORDER, r, false);
	if (v.bad)
		return false;
	// Every table entry must name an allocated node (the walk checked the
	// converse, so the two are in bijection when the counts agree).
	uint64_t entries = 0;
	for (uint64_t f = 0; f < fa->frames; f++) {
		// Relaxed: quiescent.
		unsigned e = as_atomic_load_relaxed(&fa->table[f]);
		if (e == 0)
			continue;
		entries++;
		unsigned k = e - 1;
		// Relaxed: quiescent. A leaf is its OCC bit in its parent.
		bool held = k == 0 ? (as_atomic_load_relaxed(nbbs_node(fa, 1, f >> 1)) &
				      (NBBS_OCC | nbbs_occ_bit((unsigned)(f & 1)))) ==
					     nbbs_occ_bit((unsigned)(f & 1))
				   : e <= NBBS_LEVELS && !(f & ((1ull << k) - 1)) &&
					     as_atomic_load_relaxed(nbbs_node(fa, k, f >> k)) ==
						     NBBS_BUSY;
		if (!held) {
			as_format(why, whylen,
				  "nbbs: translation table entry %u at frame %llu names no allocated block",
				  e, (unsigned long long)f);
			return false;
		}
	}
	if (entries != v.blocks) {
		as_format(why, whylen, "nbbs: %llu table entries but %llu allocated nodes",
			  (unsigned long long)entries, (unsigned long long)v.blocks);
		return false;
	}
	return true;
}

bool nbbs_validate(frame_alloc_t *fa, char *why, size_t whylen)
{
	return nbbs_validate_ex(fa, false, why, whylen);
}

uint64_t nbbs_count_coal(const struct frame_alloc_s *fa)
{
	uint64_t n = 0;
	for (unsigned k = 1; k <= NBBS_MAX_ORDER; k++)
		for (uint64_t i = 0; i < fa->count[k]; i++) {
			// Relaxed: diagnostics at quiescence.
			uint64_t w = as_atomic_load_relaxed(nbbs_node(fa, k, i));
			n += !!(w & NBBS_COAL_LEFT) + !!(w & NBBS_COAL_RIGHT);
		}
	return n;
}
