// SPDX-License-Identifier: MIT
// llfree: an LLFree-style lock-free, log-free page-frame allocator after
// Wrenger et al., "LLFree: Scalable and Optionally-Persistent Page-Frame
// Allocation", USENIX ATC 2023 (independent implementation; README.md).
// This file holds the ops table, create/destroy with option parsing, and
// the get/put fast paths; the levels live in bitfield.c, lower.c and
// reserve.c, statistics and validation in check.c.
#include <stdio.h>
#include <string.h>

#include "as/kv.h"
#include "as/meta.h"
#include "local.h"
#include "lower.h"
#include "tree.h"

static const char *const llf_option_keys[] = { "free_reserve", NULL };

/// Default of the free-reserve heuristic (frees in a row into one foreign
/// tree before the core reserves it; 0 = off). See README.md.
#define LLF_FREE_RESERVE_DEFAULT 0u

static size_t upper_size(uint64_t trees, unsigned cores, size_t *tree_off, size_t *local_off,
			 size_t *pending_off)
{
	size_t row = as_align_up(trees * sizeof(uint16_t), AS_CACHELINE);
	*tree_off = as_align_up(sizeof(llf_t), AS_CACHELINE);
	*local_off = *tree_off + row;
	*pending_off = *local_off + (size_t)cores * sizeof(llf_local_t);
	return *pending_off + (cores <= LLF_PENDING_CORES ? (size_t)cores * row : 0);
}

// Parse options; 0 or -1 with the reason in err.
static int parse_options(const char *opts, unsigned *free_reserve, char *err, size_t errlen)
{
	uint64_t v;
	if (as_kv_check(opts, llf_option_keys, err, errlen) < 0)
		return -1;
	if (as_kv_u64(opts, "free_reserve", LLF_FREE_RESERVE_DEFAULT, 0, 1000, &v, err,
		      errlen) < 0)
		return -1;
	*free_reserve = (unsigned)v;
	return 0;
}

// Allocate the volatile upper part over an attached-to-be lower region.
static llf_t *create_upper(void *region, size_t bytes, unsigned cores, const char *options,
			   char *err, size_t errlen)
{
	unsigned free_reserve;
	if (cores == 0 || cores > FRAME_MAX_CORES) {
		snprintf(err, errlen, "llfree: cores must be in 1..%u", FRAME_MAX_CORES);
		return NULL;
	}
	if (parse_options(options, &free_reserve, err, errlen) < 0)
		return NULL;
	llf_t probe;
	memset(&probe, 0, sizeof(probe));
	if (!llf_lower_attach(&probe, region, bytes)) {
		snprintf(err, errlen, "llfree: lower region is not a valid llfree region");
		return NULL;
	}
	size_t tree_off, local_off, pending_off;
	size_t up = upper_size(probe.trees, cores, &tree_off, &local_off, &pending_off);
	char *mem = as_meta_alloc(up, AS_CACHELINE);
	if (!mem) {
		snprintf(err, errlen, "llfree: no memory for %zu bytes of metadata", up);
		return NULL;
	}
	llf_t *l = (llf_t *)(void *)mem;
	*l = probe;
	l->cores = cores;
	l->free_reserve = free_reserve;
	l->tree = (_Atomic uint16_t *)(void *)(mem + tree_off);
	l->local = (llf_local_t *)(void *)(mem + local_off);
	l->pending = cores <= LLF_PENDING_CORES ? (_Atomic uint16_t *)(void *)(mem + pending_off)
						 : NULL;
	l->pending_row = as_align_up(probe.trees * sizeof(uint16_t), AS_CACHELINE) /
			 sizeof(uint16_t);
	l->upper_bytes = up;
	((llf_lower_hdr_t *)region)->crashed = 1;
	return l;
}

static frame_alloc_t *llf_create(const frame_config_t *cfg, char *err, size_t errlen)
{
	if (cfg->frames == 0 || cfg->frames % FRAME_ALIGN_FRAMES ||
	    cfg->frames > (1ull << 40)) {
		snprintf(err, errlen, "llfree: frames must be a positive multiple of %u, at most 2^40",
			 FRAME_ALIGN_FRAMES);
		return NULL;
	}
	size_t bytes = llf_lower_size(cfg->frames);
	void *region = as_meta_alloc(bytes, AS_CACHELINE);
	if (!region) {
		snprintf(err, errlen, "llfree: no memory for %zu bytes of metadata", bytes);
		return NULL;
	}
	llf_lower_init(region, cfg->frames);
	llf_t *l = create_upper(region, bytes, cfg->cores, cfg->options, err, errlen);
	if (!l) {
		as_meta_free(region, bytes, AS_CACHELINE);
		return NULL;
	}
	l->lower_owned = true;
	llf_recover(l, false); // tree counters from the fresh children
	return (frame_alloc_t *)(void *)l;
}

frame_alloc_t *llf_create_from_lower(void *region, size_t bytes, unsigned cores,
				     const char *options, bool deep, char *err, size_t errlen)
{
	// A region still marked in use was not shut down cleanly: recount
	// from the bitfields even if the caller did not ask for it.
	bool crashed = bytes >= sizeof(llf_lower_hdr_t) &&
		       ((const llf_lower_hdr_t *)region)->magic == LLF_LOWER_MAGIC &&
		       ((const llf_lower_hdr_t *)region)->crashed;
	llf_t *l = create_upper(region, bytes, cores, options, err, errlen);
	if (!l)
		return NULL;
	l->lower_owned = false;
	llf_recover(l, deep || crashed);
	return (frame_alloc_t *)(void *)l;
}

static void llf_destroy(frame_alloc_t *fa)
{
	llf_t *l = llf_of(fa);
	if (!l)
		return;
	if (l->lower_owned)
		as_meta_free(l->lower, l->lower_bytes, AS_CACHELINE);
	else
		((llf_lower_hdr_t *)l->lower)->crashed = 0; // clean shutdown
	as_meta_free(l, l->upper_bytes, AS_CACHELINE);
}

// The get path for one order. Always inlined into get0 (order constant 0:
// the compiler drops every branch on the order) and get_any (the others);
// llf_get only checks and tail-calls one of them, so neither pays for the
// other's registers.
AS_INLINE frame_result_t get_order(llf_t *l, unsigned core, unsigned order)
{
	llf_local_t *lc = &l->local[core];
	unsigned n = 1u << order;
	for (unsigned attempt = 0; attempt < 2; attempt++) {
		uint64_t old;
		// Local CAS: take n frames from the core's reservation before
		// the lower level claims any (counters before bits), so the
		// local count never exceeds what the tree has free.
		if (AS_LIKELY(as_atomic_update64(&lc->word, &old, llf_local_take, &n))) {
			uint64_t t = llf_local_tree(old);
			// Relaxed: the hint only picks where the search starts;
			// any value gives a correct result.
			uint64_t hint = as_atomic_load_relaxed(&lc->hint);
			int64_t f = order == 0		      ? llf_lower_get0(l, t, hint)
				    : order < LLF_CHILD_ORDER ? llf_lower_get_small(l, t, hint, order)
							      : llf_lower_get(l, t, hint, order);
			if (AS_LIKELY(f >= 0)) {
				// Relaxed: as above (next fit).
				as_atomic_store_relaxed(&lc->hint, (uint64_t)f + n);
				return (frame_result_t){ .frame = (uint64_t)f, .err = FRAME_OK };
			}
			// The tree is too fragmented for this order.
			llf_give_back(l, core, t, n);
			break;
		}
		if (!llf_sync(l, core, n))
			break;
	}
	int64_t f = llf_reserve_get(l, core, order);
	if (f < 0)
		return (frame_result_t){ .frame = 0, .err = FRAME_ERR_MEMORY };
	return (frame_result_t){ .frame = (uint64_t)f, .err = FRAME_OK };
}

static AS_NOINLINE frame_result_t get0(llf_t *l, unsigned core)
{
	return get_order(l, core, 0);
}

static AS_NOINLINE frame_result_t get_any(llf_t *l, unsigned core, unsigned order)
{
	return get_order(l, core, order);
}

static frame_result_t llf_get(frame_alloc_t *fa, unsigned core, unsigned order)
{
	llf_t *l = llf_of(fa);
	if (AS_UNLIKELY(order > FRAME_MAX_ORDER || core >= l->cores))
		return (frame_result_t){ .frame = 0, .err = FRAME_ERR_ARGUMENT };
	if (AS_LIKELY(order == 0))
		return get0(l, core);
	return get_any(l, core, order);
}

// A free into tree t, which core `core` does not hold: the count goes to
// the tree entry. The entries are packed 32 to a line, and with random
// frees from several cores every entry update would move that line between
// them. So frees into an *unreserved* tree (most remote frees: a core holds
// one tree at a time) are first counted in the core's own pending row and
// added to the entry LLF_PENDING_MAX at a time. Pending frames are free in
// the lower level but in no upper counter: conservative, like a get in
// flight; llf_flush_pending returns them (drain, and the drain-and-steal
// step of the search, so they are never lost to an out-of-memory), and
// validate counts them. A reserved tree's entry is updated at once (its
// holder syncs from it).
AS_INLINE void llf_put_foreign(llf_t *l, unsigned core, uint64_t t, unsigned n)
{
	// Relaxed: only picks the path; a tree reserved right after the load
	// merely gets these frames later, with the next flush.
	if (n < LLF_PENDING_MAX && l->pending &&
	    !llf_tree_is_reserved(as_atomic_load_relaxed(&l->tree[t]))) {
		_Atomic uint16_t *pp = llf_pending(l, core, t);
		// fetch_add on the core's own pending counter (its own line).
		// Below LLF_PENDING_MAX + 1024, no overflow of 16 bits.
		uint16_t old = as_atomic_fetch_add_acq_rel(pp, (uint16_t)n);
		if (old + n < LLF_PENDING_MAX)
			return;
		// Exchange takes exactly what was pending (a racing flush or
		// a thread sharing this core slot gets the rest), then the
		// entry gets it: each pending frame reaches the entry once.
		uint16_t all = as_atomic_exchange_acq_rel(pp, (uint16_t)0);
		if (all)
			llf_tree_put_add(l, t, all);
		return;
	}
	llf_tree_put_add(l, t, n);
}

// The put path for one order (range and alignment checked), inlined into
// put0 and put_any like get_order.
AS_INLINE frame_err_t put_order(llf_t *l, unsigned core, uint64_t frame, unsigned order)
{
	frame_err_t e = order == 0		? llf_lower_put0(l, frame)
			: order < LLF_CHILD_ORDER ? llf_lower_put_small(l, frame, order)
						  : llf_lower_put(l, frame, order);
	if (AS_UNLIKELY(e != FRAME_OK))
		return e;
	unsigned n = 1u << order;
	uint64_t t = frame / LLF_TREE_FRAMES;
	llf_local_give_t g = { .tree = t, .n = n };
	// Local CAS: after the bits and the child counter (counters after
	// bits), add n to the reservation if the core holds this tree. The
	// transition fails at once (no write) for any other tree, so a remote
	// free only reads this core's own line.
	if (as_atomic_update64(&l->local[core].word, NULL, llf_local_give, &g))
		return FRAME_OK;
	llf_put_foreign(l, core, t, n);
	if (l->free_reserve)
		llf_free_reserve(l, core, t);
	return FRAME_OK;
}

static AS_NOINLINE frame_err_t put0(llf_t *l, unsigned core, uint64_t frame)
{
	return put_order(l, core, frame, 0);
}

static AS_NOINLINE frame_err_t put_any(llf_t *l, unsigned core, uint64_t frame, unsigned order)
{
	return put_order(l, core, frame, order);
}

static frame_err_t llf_put(frame_alloc_t *fa, unsigned core, uint64_t frame, unsigned order)
{
	llf_t *l = llf_of(fa);
	if (AS_UNLIKELY(order > FRAME_MAX_ORDER || core >= l->cores || frame >= l->frames ||
			(frame & ((1ull << order) - 1))))
		return FRAME_ERR_ARGUMENT;
	if (AS_LIKELY(order == 0))
		return put0(l, core, frame);
	return put_any(l, core, frame, order);
}

static void llf_drain_op(frame_alloc_t *fa, unsigned core)
{
	llf_t *l = llf_of(fa);
	if (core < l->cores)
		llf_drain(l, core);
}

const struct frame_ops llfree_ops = {
	.name = "llfree",
	.desc = "LLFree-style lock-free frame allocator (Wrenger et al. ATC'23): "
		"bitfields, child/tree counters, per-core tree reservations",
	.option_keys = llf_option_keys,
	.create = llf_create,
	.destroy = llf_destroy,
	.get = llf_get,
	.put = llf_put,
	.drain = llf_drain_op,
	.stats = llf_stats,
	.free_counts = llf_free_counts,
	.validate = llf_validate,
};
