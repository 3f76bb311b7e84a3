// SPDX-License-Identifier: MIT
// nbbs core: create/destroy, get (allocation: level scan, CAS, climb with
// rollback) and put (release: the paper's three phases, or by default the
// first-parent fast paths argued at nbbs_release). Statistics and the
// invariant walk are in nbbs_check.c.
//
// The protocol (1-level NBBS, after Marotta et al., CCGrid'19 / IEEE TC'22).
// Every node of the forest has one word (internal.h): OCC = allocated as a
// whole; OCC_LEFT/RIGHT = something in that child's subtree is allocated;
// COAL_LEFT/RIGHT = a release is coalescing in that child's subtree. Free is
// exactly 0; an allocated node holds BUSY = OCC|OCC_LEFT|OCC_RIGHT, so a scan
// that tests "word == 0" also refuses a node above an allocated one. Nothing
// above order 10 exists, so the trees are independent and there is no root.
//
// Allocation of order k: scan level k from a per-core hint. At node n:
// CAS 0 -> BUSY (the CAS is the linearisation point of the allocation: it
// fails if anything in n's subtree is occupied or n was taken); a leaf is a
// bit in its parent's word (internal.h), claimed by the CAS that sets it,
// which is also the climb's first step. Then climb to
// order 10; at each ancestor, if OCC is set the ancestor was taken as a whole
// after our CAS (first writer wins): roll back with a release bounded to the
// levels below it, and skip the scan past that ancestor's subtree. Otherwise
// set our side's OCC and clear our side's COAL by CAS (no write when the word
// already says so). The climb always goes to order 10.
//
// Release of n: phase 1 walks up fetch-or'ing our side's COAL into each
// ancestor, stopping above the first one whose other side is occupied and not
// coalescing (it stays partially occupied, so nothing above changes). Phase 2
// stores 0 into n (release: the block's previous owner's accesses happen
// before its next owner's CAS reads the 0). Phase 3 walks up again: at each
// ancestor CAS away our side's COAL and OCC, but stop if our COAL is already
// clear; go on only while the ancestor became wholly free.
//
// Why COAL prevents the lost update. Phase 3 decides "my side of P is now
// free" from the child's word, then clears OCC(side) in P later. Between the
// two, an allocation A may enter the same subtree and climb through P; its
// OCC(side) is already set (ours), so without COAL A would write nothing and
// our late clear would erase the only record of A in P: P would look free on
// that side, P or an ancestor could be handed out whole, and A's block would
// overlap it. With COAL, A's climb finds COAL(side) set, so it must write
// (clearing COAL); our phase-3 CAS clears OCC only if COAL is still set, so
// either it comes first (and A's CAS then sets OCC again) or it sees COAL
// gone and stops, leaving A's bit. The CAS makes "COAL still set" and
// "clear OCC" one atomic step.
#include "nbbs.h"

#include <string.h>

#include "as/err.h"
#include "as/kv.h"
#include "as/meta.h"
#include "internal.h"

/// Full scans tried before get reports FRAME_ERR_MEMORY when a scan lost a
/// CAS race (a free node may have been missed); a quiet scan fails at once.
#define NBBS_SCAN_PASSES 3

// ---------------------------------------------------------------------------
// Expected values for CASes on first parents (nbbs_core_t)

/// The expected word of parent `p`: what this core last wrote there, else
/// `dflt`. Relaxed: a guess only.
static inline uint64_t nbbs_guess(nbbs_core_t *c, _Atomic uint64_t *p, uint64_t dflt)
{
	if (as_atomic_load_relaxed(&c->last_parent) == (uintptr_t)p)
		return as_atomic_load_relaxed(&c->last_word);
	return dflt;
}

/// Remember that this core wrote `w` into parent `p`. Relaxed: a guess only.
static inline void nbbs_remember(nbbs_core_t *c, _Atomic uint64_t *p, uint64_t w)
{
	as_atomic_store_relaxed(&c->last_parent, (uintptr_t)p);
	as_atomic_store_relaxed(&c->last_word, w);
}

// ---------------------------------------------------------------------------
// Release (also the rollback of a conflicted allocation)

/// Phase 1 from order `from` up to `top`: fetch-or the COAL bit of the side
/// of child `ci` (at order from-1) into each ancestor, stopping above the
/// first one whose other side is occupied and not coalescing.
static void nbbs_mark_up(struct frame_alloc_s *fa, unsigned from, uint64_t ci, unsigned top)
{
	for (unsigned j = from; j <= top; j++) {
		unsigned side = (unsigned)(ci & 1);
		ci >>= 1;
		// fetch-or (acq_rel): sets COAL(side) whatever else changes in the
		// word; the old value tells whether the buddy keeps it occupied.
		uint64_t old = as_atomic_fetch_or_acq_rel(nbbs_node(fa, j, ci),
							  nbbs_coal_bit(side));
		if (!nbbs_mark_goes_up(old, side))
			return;
	}
}

/// Phase 3 from order `from` up to `top`, child `ci` at order from-1 being
/// wholly free: clear its side's OCC and COAL while subtrees become free.
static void nbbs_unmark_up(struct frame_alloc_s *fa, unsigned from, uint64_t ci, unsigned top)
{
	for (unsigned j = from; j <= top; j++) {
		unsigned side = (unsigned)(ci & 1);
		ci >>= 1;
		_Atomic uint64_t *p = nbbs_node(fa, j, ci);
		uint64_t old = as_atomic_load_acquire(p), new_value;
		do {
			if (!nbbs_unmark(old, &new_value, side))
				return; // an allocation passed: it owns OCC(side)
			// CAS: clear OCC(side) only while COAL(side) is still set
			// (no allocation has climbed through since phase 1).
		} while (!as_atomic_cas_weak_acq_rel(p, &old, new_value));
		if (!nbbs_unmark_goes_up(new_value, side))
			return;
	}
}

/// Free node (k, i) >= order 1 (phase 2): a release store, so whoever CASes
/// this node next (acquire) sees everything its previous owner did. A leaf
/// has no word of its own (it is its side's OCC bit in its parent, see
/// internal.h): it is freed by the CAS that clears that bit.
static inline void nbbs_free_node(struct frame_alloc_s *fa, unsigned k, uint64_t i)
{
	if (k > 0)
		as_atomic_store_release(nbbs_node(fa, k, i), 0);
}

/// The paper's release of node (k, i), which is allocated: mark up, free the
/// node, unmark up, touching ancestors up to order `top` only. For a leaf,
/// phase 2 and phase 3 at its parent are one CAS (nbbs_unmark clears the
/// leaf's OCC bit together with its COAL), as the leaf lives in that word.
static void nbbs_release_paper(struct frame_alloc_s *fa, unsigned k, uint64_t i, unsigned top)
{
	nbbs_mark_up(fa, k + 1, i, top);
	nbbs_free_node(fa, k, i);
	nbbs_unmark_up(fa, k + 1, i, top);
}

/// Release node (k, i), which holds BUSY, touching ancestors up to order
/// `top` only (NBBS_MAX_ORDER for put; below the conflicting ancestor for a
/// rollback, whose climb marked nothing higher).
///
/// With fa->early (default; a deviation, README "Deviations") the parent P
/// is updated *before* the node n is freed. While n is BUSY no other
/// operation passes through n: allocations below it conflict at n and roll
/// back without reaching P, and no release can start below it. So n's side
/// bits in P belong to us alone (our climb left OCC set, COAL clear), and
/// the lost update that COAL guards against (a clear of P's bit made after
/// n is free, racing an allocation that enters n) cannot happen at P: the
/// clear comes first. Three cases, on P's word:
///  - buddy occupied, not coalescing: P stays occupied, nothing above
///    changes: clear our OCC in P, free n. One CAS.
///  - buddy wholly free (P holds only our OCC): merge by taking P whole
///    (CAS -> BUSY; allocations entering P's other half now conflict at P
///    and roll back, as with any whole block), free n, and release P the
///    same way one level up. One CAS per level instead of the paper's two.
///  - buddy coalescing (a concurrent release): mark COAL from P's parent
///    up, then clear our OCC in P, free n, and unmark upwards if P became
///    free; if not, the buddy's release finds P free and our marks above.
/// Anything else (a stale COAL on our side) takes the paper's path.
///
/// `guess`: start the first parent's CAS from a guessed word (false after a
/// merge done by the caller: the grandparent's word is then unknown).
static void nbbs_release_from(struct frame_alloc_s *fa, nbbs_core_t *c, unsigned k, uint64_t i,
			      unsigned top, bool guess)
{
	if (!fa->early) {
		nbbs_release_paper(fa, k, i, top);
		return;
	}
	for (bool first = guess; k < top; k++, i >>= 1, first = false) {
		_Atomic uint64_t *p = nbbs_node(fa, k + 1, i >> 1);
		unsigned side = (unsigned)(i & 1);
		uint64_t occ = nbbs_occ_bit(side);
		// At the first parent start from a guess (nbbs_core_t; by
		// default the buddy occupied); after a merge, read. Only a CAS
		// may act on a guessed word; every other decision is taken on a
		// word read from P.
		uint64_t old = first ? nbbs_guess(c, p, occ | nbbs_occ_bit(side ^ 1u))
				     : as_atomic_load_acquire(p);
		uint64_t new_value;
		bool guessed = first, merged = false;
		for (;;) {
			if (nbbs_leave_parent(old, &new_value, side)) {
				// CAS: the buddy's bits may change under us.
				if (as_atomic_cas_weak_acq_rel(p, &old, new_value)) {
					nbbs_remember(c, p, new_value);
					nbbs_free_node(fa, k, i);
					return;
				}
				guessed = false; // a failed CAS returned the real word
				continue;
			}
			if (guessed) {
				old = as_atomic_load_acquire(p);
				guessed = false;
				continue;
			}
			if (old == occ) {
				// CAS: take P whole only while its other half is
				// empty and nobody coalesces there.
				if (as_atomic_cas_weak_acq_rel(p, &old, NBBS_BUSY)) {
					merged = true;
					break;
				}
				continue;
			}
			if ((old & (occ | nbbs_coal_bit(side) | NBBS_OCC)) != occ) {
				// Not the state our climb left: the paper's path.
				nbbs_release_paper(fa, k, i, top);
				return;
			}
			break; // buddy coalescing
		}
		if (merged) {
			// n lies inside the BUSY P now: free it, release P.
			nbbs_free_node(fa, k, i);
			continue;
		}
		// Buddy coalescing: P may become wholly free, and then P's bit
		// in its parent must be cleared. Guard it with COAL from there
		// up *before* P can look free (the buddy's release, which
		// stopped at P, relies on these marks when its phase 3 finds P
		// free).
		nbbs_mark_up(fa, k + 2, i >> 1, top);
		// CAS: only the buddy's bits can change meanwhile; ours are ours.
		do
			new_value = old & ~occ;
		while (!as_atomic_cas_weak_acq_rel(p, &old, new_value));
		nbbs_remember(c, p, new_value);
		nbbs_free_node(fa, k, i);
		if (nbbs_unmark_goes_up(new_value, side))
			nbbs_unmark_up(fa, k + 2, i >> 1, top);
		return;
	}
	// k == top: nothing above to update. (Never a leaf: a leaf's rollback
	// has top >= 1, because the CAS that takes a leaf also marks order 1.)
	nbbs_free_node(fa, k, i);
}

static void nbbs_release(struct frame_alloc_s *fa, nbbs_core_t *c, unsigned k, uint64_t i,
			 unsigned top)
{
	nbbs_release_from(fa, c, k, i, top, true);
}

// ---------------------------------------------------------------------------
// Allocation

/// The climb above the first parent, as in the paper: from order `j` (the
/// grandparent of node (k, i); child index `ci` at order j-1) up to order
/// 10, set our side's OCC and clear our side's COAL in every ancestor. Every
/// allocation checks for itself that no ancestor was taken whole, so the
/// climb never stops early: an ancestor bit already set may belong to an
/// allocation that has not yet reached the levels above. Returns
/// NBBS_LEVELS on success; on a conflict (an ancestor allocated whole after
/// our CAS: first writer wins) it rolls node (k, i) back and returns that
/// ancestor's order, for subtree skipping.
static inline __attribute__((always_inline)) unsigned
nbbs_climb_rest(struct frame_alloc_s *fa, nbbs_core_t *c, unsigned k, uint64_t i, unsigned j,
		uint64_t ci, const unsigned shift)
{
	// Unrolled: at most 9 levels, a few instructions each.
#pragma GCC unroll 9
	for (; j <= NBBS_MAX_ORDER; j++) {
		uint64_t occ = nbbs_occ_bit((unsigned)(ci & 1));
		ci >>= 1;
		_Atomic uint64_t *p = (_Atomic uint64_t *)(void *)(fa->level[j] + (ci << shift));
		uint64_t old = as_atomic_load_acquire(p);
		// Common case: our side already marked, no COAL on it, not
		// allocated whole: nothing to write. occ * 5 = OCC(side) |
		// COAL(side) (COAL is OCC shifted left by 2): one lea.
		if (AS_LIKELY((old & (NBBS_OCC + occ * 5)) == occ))
			continue;
		uint64_t coal = occ << 2; // nbbs_coal_bit of the same side
		for (;;) {
			if (old & NBBS_OCC) {
				// Undo the marks below the ancestor taken whole.
				nbbs_release(fa, c, k, i, j - 1);
				return j;
			}
			uint64_t new_value = (old | occ) & ~coal;
			// CAS: publish our side's occupancy and withdraw COAL(side),
			// which tells a release coalescing on our side that we now own
			// the bit; atomically with the check that the ancestor is not
			// allocated whole.
			if (new_value == old || as_atomic_cas_weak_acq_rel(p, &old, new_value))
				break;
		}
	}
	return NBBS_LEVELS;
}

/// Take node (k, i), 1 <= k < 10, by CAS 0 -> BUSY, then climb. The first
/// parent is not read: our bit there usually flips, so its CAS starts from a
/// guess (nbbs_core_t; by default a parent with nothing allocated) instead
/// of a load that would wait for the CAS on the node. Only a CAS may act on
/// the guess: "nothing to write" and "conflict" are decided on a word read.
static inline __attribute__((always_inline)) unsigned
nbbs_take_node(struct frame_alloc_s *fa, nbbs_core_t *c, unsigned k, uint64_t i, const unsigned shift)
{
	uint64_t expect = 0;
	// CAS 0 -> BUSY: the allocation's linearisation point. It protects the
	// whole subtree: it fails if any descendant marked n or n was taken.
	if (!as_atomic_cas_strong_acq_rel(nbbs_node(fa, k, i), &expect, NBBS_BUSY))
		return k;
	uint64_t occ = nbbs_occ_bit((unsigned)(i & 1));
	uint64_t coal = nbbs_coal_bit((unsigned)(i & 1));
	uint64_t ci = i >> 1;
	_Atomic uint64_t *p = (_Atomic uint64_t *)(void *)(fa->level[k + 1] + (ci << shift));
	uint64_t old = nbbs_guess(c, p, 0);
	bool guessed = true;
	for (;;) {
		uint64_t new_value = (old | occ) & ~coal;
		if (!(old & NBBS_OCC) && new_value != old) {
			// CAS: as in nbbs_climb_rest, on the first parent.
			if (as_atomic_cas_weak_acq_rel(p, &old, new_value)) {
				nbbs_remember(c, p, new_value);
				break;
			}
			guessed = false; // a failed CAS returned the real word
			continue;
		}
		if (guessed) {
			old = as_atomic_load_acquire(p);
			guessed = false;
			continue;
		}
		if (old & NBBS_OCC) {
			nbbs_free_node(fa, k, i); // nothing marked above: undo
			return k + 1;
		}
		break; // our side already marked, COAL clear: nothing to write
	}
	return nbbs_climb_rest(fa, c, k, i, k + 2, ci, shift);
}

/// Take leaf i (order 0). A leaf has no word: its state is its side's OCC
/// bit in its parent P (internal.h), so one CAS on P both takes the leaf
/// (the linearisation point: it fails if the leaf or P as a whole is taken)
/// and does the first step of the climb. The CAS starts from a guess, as in
/// nbbs_take_node.
static inline __attribute__((always_inline)) unsigned
nbbs_take_leaf(struct frame_alloc_s *fa, nbbs_core_t *c, uint64_t i, const unsigned shift)
{
	uint64_t occ = nbbs_occ_bit((unsigned)(i & 1));
	uint64_t coal = nbbs_coal_bit((unsigned)(i & 1));
	uint64_t ci = i >> 1;
	_Atomic uint64_t *p = (_Atomic uint64_t *)(void *)(fa->level[1] + (ci << shift));
	uint64_t old = nbbs_guess(c, p, 0);
	bool guessed = true;
	for (;;) {
		if (!(old & (NBBS_OCC | occ))) {
			// CAS: take the leaf (set its OCC bit, clear its COAL)
			// while neither it nor P as a whole is taken.
			uint64_t new_value = (old | occ) & ~coal;
			if (as_atomic_cas_weak_acq_rel(p, &old, new_value)) {
				nbbs_remember(c, p, new_value);
				break;
			}
			guessed = false; // a failed CAS returned the real word
			continue;
		}
		if (guessed) {
			old = as_atomic_load_acquire(p);
			guessed = false;
			continue;
		}
		return (old & NBBS_OCC) ? 1 : 0;
	}
	return nbbs_climb_rest(fa, c, 0, i, 2, ci, shift);
}

static inline __attribute__((always_inline)) unsigned
nbbs_take_shift(struct frame_alloc_s *fa, nbbs_core_t *c, unsigned k, uint64_t i, const unsigned shift)
{
	if (k == 0)
		return nbbs_take_leaf(fa, c, i, shift);
	if (k == NBBS_MAX_ORDER) {
		uint64_t expect = 0;
		// CAS 0 -> BUSY: the linearisation point; a root has no parent.
		return as_atomic_cas_strong_acq_rel(nbbs_node(fa, k, i), &expect, NBBS_BUSY)
			       ? NBBS_LEVELS : k;
	}
	return nbbs_take_node(fa, c, k, i, shift);
}

/// Take node (k, i) and climb. Returns NBBS_LEVELS on success, otherwise
/// the order where it failed (k when the node itself was taken, higher when
/// an ancestor was allocated whole). Two copies, each with the slot size as
/// a constant.
static inline __attribute__((always_inline)) unsigned
nbbs_take_inline(struct frame_alloc_s *fa, nbbs_core_t *c, unsigned k, uint64_t i)
{
	if (fa->shift == NBBS_SHIFT_8)
		return nbbs_take_shift(fa, c, k, i, NBBS_SHIFT_8);
	return nbbs_take_shift(fa, c, k, i, NBBS_SHIFT_64);
}

/// nbbs_take_inline, out of line, for the scan.
static unsigned nbbs_take(struct frame_alloc_s *fa, nbbs_core_t *c, unsigned k, uint64_t i)
{
	return nbbs_take_inline(fa, c, k, i);
}

/// Read-only filter before trying node (k, i) in the scan: the order at
/// which the attempt would fail, or NBBS_LEVELS when it is worth a CAS.
/// A node inside a block allocated whole reads 0 (descendants are not
/// marked), and claiming it would cost a CAS, a climb and a rollback just to
/// learn what a few loads tell, so probe up to the first non-zero ancestor.
/// Relaxed: a filter only; the CAS and the climb decide.
static unsigned nbbs_probe(const struct frame_alloc_s *fa, unsigned k, uint64_t i)
{
	uint64_t ci = i;
	unsigned j = k + 1;
	if (k == 0) {
		// The leaf is its bit in P.
		ci >>= 1;
		uint64_t w = as_atomic_load_relaxed(nbbs_node(fa, 1, ci));
		if (w & NBBS_OCC)
			return 1;
		if (w & nbbs_occ_bit((unsigned)(i & 1)))
			return 0;
		if (w)
			return NBBS_LEVELS;
		j = 2;
	} else if (as_atomic_load_relaxed(nbbs_node(fa, k, i)) != 0) {
		return k;
	}
	for (; j <= NBBS_MAX_ORDER; j++) {
		ci >>= 1;
		uint64_t w = as_atomic_load_relaxed(nbbs_node(fa, j, ci));
		if (w & NBBS_OCC)
			return j;
		if (w)
			break;
	}
	return NBBS_LEVELS;
}

/// True when the 8 nodes (k, i..i+7) all read taken (one cache line at
/// pad=8; for leaves, the 4 parents' words): the scan passes them with 8
/// independent loads instead of 8 trips through nbbs_probe. Relaxed: a filter
/// only, like nbbs_probe.
static inline bool nbbs_run_taken(const struct frame_alloc_s *fa, unsigned k, uint64_t i)
{
	bool all = true;
	if (k == 0) {
		for (unsigned j = 0; j < 4; j++) {
			uint64_t w = as_atomic_load_relaxed(nbbs_node(fa, 1, (i >> 1) + j));
			all &= (w & NBBS_OCC) || (w & (NBBS_OCC_LEFT | NBBS_OCC_RIGHT)) ==
						    (NBBS_OCC_LEFT | NBBS_OCC_RIGHT);
		}
		return all;
	}
	for (unsigned j = 0; j < 8; j++)
		all &= as_atomic_load_relaxed(nbbs_node(fa, k, i + j)) != 0;
	return all;
}

/// Success of get at node (order, pos): publish the table entry, move the
/// hint past the node.
static inline frame_result_t nbbs_got(struct frame_alloc_s *fa, nbbs_core_t *c, unsigned order,
				      uint64_t pos)
{
	uint64_t frame = pos << order;
	// Release: a put on another core that reads this entry (acquire) sees
	// the node already BUSY.
	as_atomic_store_release(&fa->table[frame], (uint8_t)(order + 1));
	// Relaxed: advisory hint.
	as_atomic_store_relaxed(&c->hint[order], pos + 1 < fa->count[order] ? pos + 1 : 0);
	frame_result_t r = { frame, FRAME_OK };
	return r;
}

/// The scan of level `order` after the hinted node `pos` failed at order
/// `at`: skip the failing node's whole subtree, try the next candidates,
/// wrap around once; up to NBBS_SCAN_PASSES circles when a CAS on a node
/// that read 0 was lost (a free node may have been missed).
static AS_NOINLINE frame_result_t nbbs_scan(struct frame_alloc_s *fa, nbbs_core_t *c,
					     unsigned order, uint64_t pos, unsigned at)
{
	uint64_t n = fa->count[order];
	uint64_t scanned = 0;
	for (unsigned pass = 0; pass < NBBS_SCAN_PASSES; pass++) {
		bool lost = false;
		while (scanned < n) {
			if (at != NBBS_LEVELS) {
				// Skip the failing node's whole subtree: the next
				// order-k node after it. Subtrees are aligned and n is
				// a multiple of 2^(10-k), so the jump never passes n.
				unsigned d = at - order;
				uint64_t next = ((pos >> d) + 1) << d;
				scanned += next - pos;
				pos = next < n ? next : 0;
				at = NBBS_LEVELS;
				continue;
			}
			if (!(pos & 7) && pos + 8 <= n && nbbs_run_taken(fa, order, pos)) {
				scanned += 8;
				pos = pos + 8 < n ? pos + 8 : 0;
				continue;
			}
			at = nbbs_probe(fa, order, pos);
			if (at != NBBS_LEVELS)
				continue;
			at = nbbs_take(fa, c, order, pos);
			if (AS_LIKELY(at == NBBS_LEVELS))
				return nbbs_got(fa, c, order, pos);
			lost |= at == order; // read 0, then lost the CAS
		}
		if (!lost)
			break;
		scanned = 0;
	}
	frame_result_t r = { 0, FRAME_ERR_MEMORY };
	return r;
}

static frame_result_t nbbs_get(frame_alloc_t *fa, unsigned core, unsigned order)
{
	if (AS_UNLIKELY(order > NBBS_MAX_ORDER || core >= fa->cores)) {
		frame_result_t r = { 0, FRAME_ERR_ARGUMENT };
		return r;
	}
	nbbs_core_t *c = &fa->core[core];
	// Relaxed: the hint is advisory (see nbbs_core_t).
	uint64_t pos = as_atomic_load_relaxed(&c->hint[order]);
	if (AS_UNLIKELY(pos >= fa->count[order]))
		pos = 0;
	// Fast path: the hinted node (usually free: just freed, or next to the
	// last allocation) is CASed without reading it first.
	unsigned at = nbbs_take_inline(fa, c, order, pos);
	if (AS_LIKELY(at == NBBS_LEVELS))
		return nbbs_got(fa, c, order, pos);
	return nbbs_scan(fa, c, order, pos, at);
}

/// The two common cases of nbbs_release, inlined into put, on a guessed
/// word of the first parent P (by default: both sides occupied): the buddy
/// stays occupied (one CAS clears our OCC in P, the node is freed), or the
/// buddy is wholly free (merge). The CAS acts only if P holds the guessed
/// word. Returns false, having changed nothing, in every other case (then
/// nbbs_release reads P and decides).
static inline __attribute__((always_inline)) bool
nbbs_release_fast(struct frame_alloc_s *fa, nbbs_core_t *c, unsigned k, uint64_t i)
{
	if (!fa->early || k == NBBS_MAX_ORDER)
		return false;
	unsigned side = (unsigned)(i & 1);
	_Atomic uint64_t *p = nbbs_node(fa, k + 1, i >> 1);
	uint64_t old = nbbs_guess(c, p, nbbs_occ_bit(side) | nbbs_occ_bit(side ^ 1u));
	uint64_t new_value;
	if (nbbs_leave_parent(old, &new_value, side)) {
		// CAS: clear our OCC in P only while P still holds the guessed
		// word (buddy occupied, not coalescing; our side as our climb
		// left it).
		if (!as_atomic_cas_strong_acq_rel(p, &old, new_value))
			return false;
		nbbs_remember(c, p, new_value);
		nbbs_free_node(fa, k, i);
		return true;
	}
	if (old == nbbs_occ_bit(side)) {
		// CAS: merge (nbbs_release, second case): take P whole only while
		// it holds nothing but our OCC (buddy wholly free, nobody
		// coalescing there). Then free the node and release P, which we
		// now hold, the same way one level up.
		if (!as_atomic_cas_strong_acq_rel(p, &old, NBBS_BUSY))
			return false;
		nbbs_free_node(fa, k, i);
		nbbs_release_from(fa, c, k + 1, i >> 1, NBBS_MAX_ORDER, false);
		return true;
	}
	return false;
}

static frame_err_t nbbs_put(frame_alloc_t *fa, unsigned core, uint64_t frame, unsigned order)
{
	if (AS_UNLIKELY(order > NBBS_MAX_ORDER || core >= fa->cores ||
			frame >= fa->frames || (frame & ((1ull << order) - 1))))
		return FRAME_ERR_ARGUMENT;
	// Acquire: pairs with get's release store of the entry. Wrong order,
	// interior frames, free blocks and a repeated put fail here with nothing
	// changed. Two threads racing to put the same block is a caller bug that
	// a load/store cannot catch (a CAS here would, for one more locked
	// instruction per put; README "Deviations").
	if (AS_UNLIKELY(as_atomic_load_acquire(&fa->table[frame]) != order + 1))
		return FRAME_ERR_ARGUMENT;
	// Relaxed: the release of the node words below publishes it; the entry
	// must be gone before the block can be handed out again (nbbs_release
	// frees the node last).
	as_atomic_store_relaxed(&fa->table[frame], 0);
	uint64_t i = frame >> order;
	nbbs_core_t *c = &fa->core[core];
	if (!nbbs_release_fast(fa, c, order, i))
		nbbs_release(fa, c, order, i, NBBS_MAX_ORDER);
	// Relaxed: advisory hint. The next get of this order on this core
	// tries the freed, cache-hot node first (the paper's release hint).
	as_atomic_store_relaxed(&c->hint[order], i);
	return FRAME_OK;
}

/// nbbs caches nothing per core: a freed block is back in the shared tree
/// when put returns, and hints are only positions. So drain has nothing to do.
static void nbbs_drain(frame_alloc_t *fa, unsigned core)
{
	(void)fa;
	(void)core;
}

// ---------------------------------------------------------------------------
// Create / destroy

static const char *const nbbs_option_keys[] = { "pad", "early", NULL };

static frame_alloc_t *nbbs_create(const frame_config_t *cfg, char *err, size_t errlen)
{
	if (!cfg || cfg->frames == 0 || cfg->frames % FRAME_ALIGN_FRAMES) {
		as_format(err, errlen, "nbbs: frames must be a positive multiple of %u",
			  FRAME_ALIGN_FRAMES);
		return NULL;
	}
	if (cfg->cores == 0 || cfg->cores > FRAME_MAX_CORES) {
		as_format(err, errlen, "nbbs: cores must be in 1..%u", FRAME_MAX_CORES);
		return NULL;
	}
	if (as_kv_check(cfg->options, nbbs_option_keys, err, errlen) != 0)
		return NULL;
	uint64_t pad;
	if (as_kv_u64(cfg->options, "pad", 8, 8, 64, &pad, err, errlen) < 0)
		return NULL;
	uint64_t early;
	if (as_kv_u64(cfg->options, "early", 1, 0, 1, &early, err, errlen) < 0)
		return NULL;
	if (pad != 8 && pad != 64) {
		as_format(err, errlen, "nbbs: option 'pad' must be 8 or 64, not %llu",
			  (unsigned long long)pad);
		return NULL;
	}

	struct frame_alloc_s *fa = as_meta_alloc(sizeof(*fa), AS_CACHELINE);
	if (!fa) {
		as_format(err, errlen, "nbbs: no memory for the instance");
		return NULL;
	}
	fa->frames = cfg->frames;
	fa->cores = cfg->cores;
	fa->shift = pad == 8 ? NBBS_SHIFT_8 : NBBS_SHIFT_64;
	fa->early = early != 0;
	// Levels are laid out from order 10 down. Each starts on a new 4 KiB
	// page plus k + 1 cache lines: the ancestors of one node sit at equal
	// small offsets into their levels, and with every level page-aligned
	// they would all fall in one L1 set (4 KiB aliasing) and evict each
	// other on every climb.
	uint64_t slots = 0, page_slots = 4096u >> fa->shift, line_slots = 64u >> fa->shift;
	for (int k = NBBS_MAX_ORDER; k >= 0; k--) {
		slots = as_align_up(slots, page_slots) + (uint64_t)(k + 1) * line_slots;
		fa->count[k] = cfg->frames >> k;
		fa->off[k] = slots;
		slots += fa->count[k];
	}
	fa->tree_bytes = (size_t)(slots << fa->shift);
	fa->core_bytes = sizeof(nbbs_core_t) * cfg->cores;
	fa->tree = as_meta_alloc(fa->tree_bytes, AS_CACHELINE);
	fa->table = as_meta_alloc((size_t)cfg->frames, AS_CACHELINE);
	fa->core = as_meta_alloc(fa->core_bytes, AS_CACHELINE);
	if (!fa->tree || !fa->table || !fa->core) {
		as_format(err, errlen, "nbbs: no memory for %zu bytes of metadata",
			  fa->tree_bytes + (size_t)cfg->frames + fa->core_bytes);
		nbbs_ops.destroy(fa);
		return NULL;
	}
	for (unsigned k = 0; k <= NBBS_MAX_ORDER; k++)
		fa->level[k] = fa->tree + (fa->off[k] << fa->shift);
	// Spread the cores' start positions over each level (the paper's
	// first + tid * nodes / threads), so cores begin in different trees.
	for (unsigned c = 0; c < cfg->cores; c++)
		for (unsigned k = 0; k <= NBBS_MAX_ORDER; k++)
			// Relaxed: no other thread can see the instance yet.
			as_atomic_store_relaxed(&fa->core[c].hint[k],
						fa->count[k] / cfg->cores * c);
	return fa;
}

static void nbbs_destroy(frame_alloc_t *fa)
{
	if (!fa)
		return;
	if (fa->tree)
		as_meta_free(fa->tree, fa->tree_bytes, AS_CACHELINE);
	if (fa->table)
		as_meta_free((void *)fa->table, (size_t)fa->frames, AS_CACHELINE);
	if (fa->core)
		as_meta_free(fa->core, fa->core_bytes, AS_CACHELINE);
	as_meta_free(fa, sizeof(*fa), AS_CACHELINE);
}

const struct frame_ops nbbs_ops = {
	.name = "nbbs",
	.desc = "non-blocking buddy system (Marotta et al.), 1-level, CAS on node words",
	.option_keys = nbbs_option_keys,
	.create = nbbs_create,
	.destroy = nbbs_destroy,
	.get = nbbs_get,
	.put = nbbs_put,
	.drain = nbbs_drain,
	.stats = nbbs_stats,
	.free_counts = nbbs_free_counts,
	.validate = nbbs_validate,
};
