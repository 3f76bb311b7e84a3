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

static size_t upper_size(uint64_t trees, unsigned cores, size_t *tree_off, size_t *local_off)
{
	*tree_off = as_align_up(sizeof(llf_t), AS_CACHELINE);
	*local_off = *tree_off + as_align_up(trees * sizeof(uint16_t), AS_CACHELINE);
	return *local_off + (size_t)cores * sizeof(llf_local_t);
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
	size_t tree_off, local_off, up = upper_size(probe.trees, cores, &tree_off, &local_off);
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

static frame_result_t llf_get(frame_alloc_t *fa, unsigned core, unsigned order)
{
	llf_t *l = llf_of(fa);
	if (AS_UNLIKELY(order > FRAME_MAX_ORDER || core >= l->cores))
		return (frame_result_t){ .frame = 0, .err = FRAME_ERR_ARGUMENT };
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
			int64_t f = order < LLF_CHILD_ORDER ? llf_lower_get_small(l, t, hint, order)
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

static frame_err_t llf_put(frame_alloc_t *fa, unsigned core, uint64_t frame, unsigned order)
{
	llf_t *l = llf_of(fa);
	if (AS_UNLIKELY(order > FRAME_MAX_ORDER || core >= l->cores || frame >= l->frames ||
			(frame & ((1ull << order) - 1))))
		return FRAME_ERR_ARGUMENT;
	frame_err_t e = order < LLF_CHILD_ORDER ? llf_lower_put_small(l, frame, order)
						  : llf_lower_put(l, frame, order);
	if (AS_UNLIKELY(e != FRAME_OK))
		return e;
	unsigned n = 1u << order;
	uint64_t t = frame / LLF_TREE_FRAMES;
	llf_local_give_t g = { .tree = t, .n = n };
	// Local CAS: after the bits and the child counter (counters after
	// bits), add n to the reservation if the core holds this tree.
	if (as_atomic_update64(&l->local[core].word, NULL, llf_local_give, &g))
		return FRAME_OK;
	// Tree CAS: otherwise to the tree entry (free frames not held by a
	// core). Cannot overflow: the frames are free in the lower level.
	bool ok = as_atomic_update16(&l->tree[t], NULL, llf_tree_add, &n);
	(void)ok;
	if (l->free_reserve)
		llf_free_reserve(l, core, t);
	return FRAME_OK;
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
