// SPDX-License-Identifier: MIT
// The upper allocator of llfree: per-core tree reservations. A core reserves
// a tree with one CAS on the tree entry that sets the reserved flag and moves
// the entry's whole free count into the core's local word; afterwards its
// gets touch only the local word and the lower level. Frees by other cores
// land in the tree entry and are pulled in by sync.
//
// The counter rule that makes every step safe: frames are taken from the
// upper counters (local or tree) before the child counter and the bits, and
// given back after them, so local + tree never exceeds the free frames of
// the lower level. Each move of a count between the local word and the tree
// entry is done by whoever won the CAS that took it, so nothing is counted
// twice, and a count that cannot go home (the reservation moved on) goes to
// the tree entry, which always accepts frees.
//
// Search for a new tree (after the reference): the vicinity of the current
// tree (+1, -1, +2, -2, ...), then partially used trees, then (almost) free
// trees, then any tree with room, and when even that fails every core's
// reservation is drained and the scan repeats (stealing), a bounded number
// of times.
#include "local.h"
#include "tree.h"

/// Search the vicinity of the current tree first (1; 0 = global best fit only).
#ifndef LLF_VICINITY
#define LLF_VICINITY 1
#endif

// Return a count the core no longer holds to its tree entry, ending the
// reservation.
static void unreserve(llf_t *l, uint64_t tree, unsigned f)
{
	// Tree CAS: add the count and clear the flag. The caller already
	// switched the local word away (that CAS/exchange captured f), so no
	// one can spend f any more, and only that caller unreserves: the
	// frames reappear exactly once. Cannot fail while the flag is ours.
	bool ok = as_atomic_update16(&l->tree[tree], NULL, llf_tree_unreserve, &f);
	(void)ok;
}

void llf_give_back(llf_t *l, unsigned core, uint64_t tree, unsigned n)
{
	llf_local_give_t g = { .tree = tree, .n = n };
	// Local CAS: return n frames to the reservation if the core still
	// holds `tree` (the transition checks tree and present together).
	if (as_atomic_update64(&l->local[core].word, NULL, llf_local_give, &g))
		return;
	// Otherwise to the entry, which counts every free frame not held by a
	// core, reserved or not (fetch_add; see llf_tree_put_add).
	llf_tree_put_add(l, tree, n);
}

void llf_flush_pending(llf_t *l, unsigned k)
{
	if (!l->pending)
		return;
	for (uint64_t t = 0; t < l->trees; t++) {
		_Atomic uint16_t *pp = llf_pending(l, k, t);
		// Relaxed: a filter; the exchange below takes the real value.
		if (!as_atomic_load_relaxed(pp))
			continue;
		// Exchange to 0 takes exactly the frames pending (a racing put
		// by core k adds after it and flushes itself later), so each
		// reaches the entry once.
		uint16_t n = as_atomic_exchange_acq_rel(pp, (uint16_t)0);
		if (n)
			llf_tree_put_add(l, t, n);
	}
}

void llf_drain(llf_t *l, unsigned core)
{
	llf_flush_pending(l, core);
	uint64_t old;
	// Local CAS present -> absent: captures the exact count still held
	// (racing takes on the same slot either happened before or fail).
	if (as_atomic_update64(&l->local[core].word, &old, llf_local_drain, NULL))
		unreserve(l, llf_local_tree(old), llf_local_free(old));
}

bool llf_sync(llf_t *l, unsigned core, unsigned n)
{
	uint64_t w = as_atomic_load_acquire(&l->local[core].word);
	if (!llf_local_present(w))
		return false;
	uint64_t t = llf_local_tree(w);
	unsigned have = llf_local_free(w);
	llf_tree_take_t take = { .lo = n > have ? n - have : 1, .hi = 0, .got = 0 };
	// Tree CAS: take the frees other cores left in our reserved tree's
	// entry (flag set -> stays set, count -> 0). Only while reserved: an
	// unreserved entry belongs to nobody. If the reservation moved on
	// meanwhile, give_back sends the count straight back to the entry.
	if (!as_atomic_update16(&l->tree[t], NULL, llf_tree_steal, &take))
		return false;
	llf_give_back(l, core, t, take.got);
	return true;
}

// Reserve tree t if its free count is in [lo, hi) and make it the core's
// reservation, taking `n` frames at once. Returns false if not reserved.
static bool reserve_tree(llf_t *l, unsigned core, uint64_t t, unsigned lo,
			 unsigned hi, unsigned n)
{
	llf_tree_take_t take = { .lo = AS_MAX(lo, AS_MAX(n, 1u)), .hi = hi, .got = 0 };
	// Tree CAS: set the reserved flag and move the whole count out. The
	// count is in nobody's hands between this CAS and the exchange below,
	// which only delays frees being spendable (conservative).
	if (!as_atomic_update16(&l->tree[t], NULL, llf_tree_reserve, &take))
		return false;
	// Exchange on the local word (one atomic RMW): install the new
	// reservation minus our n. The old one (if any, also when a thread
	// sharing this core slot installed it concurrently) is ended with
	// exactly the count the exchange took out of the word.
	uint64_t old = as_atomic_exchange_acq_rel(&l->local[core].word,
						  llf_local_make(true, t, take.got - n));
	if (llf_local_present(old))
		unreserve(l, llf_local_tree(old), llf_local_free(old));
	return true;
}

// Reserve t and allocate from it; -1 (t stays reserved, n given back) when
// the lower level has no aligned run.
static int64_t try_tree(llf_t *l, unsigned core, uint64_t t, unsigned order,
			unsigned lo, unsigned hi)
{
	unsigned n = 1u << order;
	if (!reserve_tree(l, core, t, lo, hi, n))
		return -1;
	int64_t f = llf_lower_get(l, t, t * LLF_TREE_FRAMES, order);
	if (f >= 0) {
		// Relaxed: the hint only picks where the next search starts.
		as_atomic_store_relaxed(&l->local[core].hint, (uint64_t)f + n);
		return f;
	}
	llf_give_back(l, core, t, n);
	return -1;
}

// Scan every tree from `cur` for a free count in [lo, hi).
static int64_t scan(llf_t *l, unsigned core, uint64_t cur, unsigned order,
		    unsigned lo, unsigned hi)
{
	for (uint64_t i = 0; i < l->trees; i++) {
		uint64_t t = (cur + i) % l->trees;
		// Acquire load: a cheap filter before the reserving CAS.
		unsigned f = as_atomic_load_acquire(&l->tree[t]);
		if (f & LLF_TREE_RESERVED || (f & LLF_TREE_FREE_MASK) < lo ||
		    (f & LLF_TREE_FREE_MASK) >= hi)
			continue;
		int64_t r = try_tree(l, core, t, order, lo, hi);
		if (r >= 0)
			return r;
	}
	return -1;
}

// The unreserved tree with the fewest free frames in [lo, hi) (best fit),
// or T when there is none.
static uint64_t best_fit(llf_t *l, uint64_t cur, unsigned lo, unsigned hi)
{
	uint64_t best = l->trees;
	unsigned best_free = hi;
	for (uint64_t i = 0; i < l->trees; i++) {
		uint64_t t = (cur + i) % l->trees;
		// Acquire load: a filter; the reserving CAS re-checks.
		unsigned f = as_atomic_load_acquire(&l->tree[t]);
		if (f & LLF_TREE_RESERVED)
			continue;
		f &= LLF_TREE_FREE_MASK;
		if (f >= lo && f < best_free) {
			best = t;
			best_free = f;
		}
	}
	return best;
}

int64_t llf_reserve_get(llf_t *l, unsigned core, unsigned order)
{
	const uint64_t T = l->trees;
	const unsigned n = 1u << order, all = LLF_TREE_FRAMES + 1;
	const unsigned near_min = AS_MAX(LLF_RESERVE_MIN, n);
	const unsigned half = LLF_TREE_FRAMES / 2;
	const unsigned almost = LLF_TREE_FRAMES - LLF_RESERVE_MIN;
	uint64_t cur = llf_local_tree(as_atomic_load_acquire(&l->local[core].word)) % T;
	int64_t r;

	if (order < LLF_CHILD_ORDER && LLF_VICINITY) {
		// 1. Vicinity: +0, +1, -1, +2, -2 ... within an eighth of this
		//    core's share, trees at least half used (room >= 1024).
		uint64_t radius = AS_MIN(AS_MAX(T / l->cores / 8, 1), T / 2);
		if ((r = try_tree(l, core, cur, order, near_min, half)) >= 0)
			return r;
		for (uint64_t d = 1; d <= radius; d++) {
			if ((r = try_tree(l, core, (cur + d) % T, order, near_min, half)) >= 0)
				return r;
			if ((r = try_tree(l, core, (cur + T - d) % T, order, near_min, half)) >= 0)
				return r;
		}
	}
	if (order < LLF_CHILD_ORDER) {
		// 2. Partially used trees anywhere, fullest first (best fit), so
		//    emptier trees drain into free huge frames.
		for (unsigned k = 0; k < LLF_RETRIES; k++) {
			uint64_t t = best_fit(l, cur, near_min, almost);
			if (t >= T)
				break;
			if ((r = try_tree(l, core, t, order, near_min, almost)) >= 0)
				return r;
		}
	} else {
		// Huge orders: any roomy tree nearby, else free trees.
		if ((r = try_tree(l, core, (cur + 1) % T, order, near_min, all)) >= 0)
			return r;
	}
	// 3. (Almost) free trees, nearest first; 4. any tree with room.
	if ((r = scan(l, core, cur, order, AS_MAX(almost, n), all)) >= 0)
		return r;
	if ((r = scan(l, core, cur, order, n, all)) >= 0)
		return r;
	// 5. Out of memory in the entries: drain every reservation (their
	//    counts go home to the entries) and steal, a bounded number of
	//    times (other cores may re-reserve in between).
	for (unsigned k = 0; k < LLF_RETRIES; k++) {
		for (unsigned c = 0; c < l->cores; c++)
			llf_drain(l, c);
		if ((r = scan(l, core, cur, order, n, all)) >= 0)
			return r;
		bool room = false;
		for (uint64_t t = 0; t < T && !room; t++)
			room = (as_atomic_load_acquire(&l->tree[t]) & LLF_TREE_FREE_MASK) >= n;
		if (!room)
			break;
	}
	return -1;
}

void llf_free_reserve(llf_t *l, unsigned core, uint64_t tree)
{
	llf_local_t *lc = &l->local[core];
	// Relaxed: a per-core heuristic record; a lost update between two
	// threads sharing a core slot only delays or skips a reservation.
	uint64_t rec = as_atomic_load_relaxed(&lc->last_free);
	uint64_t cnt = (rec >> 16) == tree ? (rec & 0xffff) + 1 : 1;
	if (cnt < l->free_reserve) {
		as_atomic_store_relaxed(&lc->last_free, (tree << 16) | cnt);
		return;
	}
	as_atomic_store_relaxed(&lc->last_free, tree << 16);
	reserve_tree(l, core, tree, LLF_RESERVE_MIN + 1, LLF_TREE_FRAMES + 1, 0);
}
