// SPDX-License-Identifier: MIT
// The `frame@X` page source: one reserved virtual range (default 16 GiB,
// MAP_NORESERVE, aligned to 4 MiB) whose 4 KiB frames are managed by frame
// allocator X. A map of `bytes` takes one block of order
// ceil(log2(bytes / 4 KiB)) (at least the alignment's order); requests
// beyond the largest order (4 MiB) fall back to a plain mmap.
//
// Backed-frame preference (the VLLFree / HyperAlloc idea): unmapped blocks
// are parked, still backed, in a small per-order "hot" list (lock-free slots)
// as long as the parked bytes stay under `keep` (default 64 MiB); a map of
// that order takes a parked block first, which saves one page fault per page
// (counted as faults_saved). Blocks beyond `keep` are decommitted
// (MADV_DONTNEED) before they go back to the frame allocator. A bitmap with
// one bit per frame records which frames may still be backed (set on map,
// cleared on decommit); it answers is_backed and tells map whether a block
// from the frame allocator is dirty.
#include <errno.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "as/compiler.h"
#include "as/err.h"
#include "as/kv.h"
#include "as/meta.h"
#include "frame.h"
#include "internal.h"

#define FR_HOT_SLOTS 64
#define FR_BLOCK_MAX ((size_t)FRAME_SIZE << FRAME_MAX_ORDER)

static const struct frame_ops *fr_ops;
static frame_alloc_t *fr_fa;
static uint8_t *fr_base;
static size_t fr_bytes;
static unsigned fr_cores;
static uint64_t fr_keep;
/// Bit i set: frame i may be backed (mapped and not decommitted since).
static _Atomic uint64_t *fr_backed;
/// Parked still-backed blocks per order (0 = empty slot).
static _Atomic uintptr_t fr_hot[FRAME_MAX_ORDER + 1][FR_HOT_SLOTS];
static _Atomic uint64_t fr_hot_bytes;
static _Atomic int fr_state; // 0 = not set up, 1 = in progress, 2 = ready, 3 = failed
static ps_counters_t fr_ctr;

// The registry fills its list from a constructor, which may not have run
// yet when malloc starts (constructors of one library run in no fixed
// order), so frame@X also looks at the allocators' tables directly.
extern const struct frame_ops buddy_ops __attribute__((weak));
extern const struct frame_ops buddy_nopcp_ops __attribute__((weak));
extern const struct frame_ops nbbs_ops __attribute__((weak));
extern const struct frame_ops llfree_ops __attribute__((weak));

bool ps_frame_bind(const char *frame_name)
{
	const struct frame_ops *const direct[] = { &buddy_ops, &buddy_nopcp_ops, &nbbs_ops, &llfree_ops };
	const struct frame_ops *o = frame_ops_find(frame_name);
	for (unsigned i = 0; !o && i < AS_ARRAY_LEN(direct); i++)
		if (direct[i] && strcmp(direct[i]->name, frame_name) == 0)
			o = direct[i];
	if (!o)
		return false;
	fr_ops = o;
	return true;
}

static unsigned fr_core(void)
{
	int c = sched_getcpu();
	return c < 0 ? 0 : (unsigned)c % fr_cores;
}

static bool fr_init(const char *options, char *err, size_t errlen)
{
	static const char *const keys[] = { "reserve", "keep", NULL };
	int expect = 0;
	if (!as_atomic_cas_strong_acq_rel(&fr_state, &expect, 1)) {
		while ((expect = as_atomic_load_acquire(&fr_state)) == 1)
			as_cpu_relax();
		if (expect == 3)
			as_format(err, errlen, "frame page source failed to start earlier");
		return expect == 2;
	}
	uint64_t reserve;
	if (!fr_ops) {
		as_format(err, errlen, "frame page source: no frame allocator chosen");
		goto out_fail;
	}
	if (as_kv_check(options, keys, err, errlen) < 0 ||
	    as_kv_u64(options, "reserve", 16ULL << 30, 64ULL << 20, 1ULL << 40, &reserve, err, errlen) < 0 ||
	    as_kv_u64(options, "keep", 64ULL << 20, 0, 1ULL << 40, &fr_keep, err, errlen) < 0)
		goto out_fail;
	reserve = as_align_up(reserve, FR_BLOCK_MAX);
	fr_base = ps_mmap_aligned(reserve, FR_BLOCK_MAX);
	if (!fr_base) {
		as_format(err, errlen, "frame page source: cannot reserve %llu bytes: %s",
			  (unsigned long long)reserve, strerror(errno));
		goto out_fail;
	}
	fr_bytes = reserve;
	uint64_t frames = reserve / FRAME_SIZE;
	fr_backed = as_meta_alloc(frames / 8, 64);
	if (!fr_backed) {
		as_format(err, errlen, "frame page source: no memory for the frame bitmap");
		goto out_unmap;
	}
	long n = sysconf(_SC_NPROCESSORS_CONF);
	fr_cores = n < 1 ? 1 : n > FRAME_MAX_CORES ? FRAME_MAX_CORES : (unsigned)n;
	frame_config_t cfg = { .frames = frames, .cores = fr_cores, .options = NULL };
	fr_fa = fr_ops->create(&cfg, err, errlen);
	if (!fr_fa)
		goto out_bitmap;
	as_atomic_store_release(&fr_state, 2);
	return true;

out_bitmap:
	as_meta_free(fr_backed, frames / 8, 64);
out_unmap:
	munmap(fr_base, fr_bytes);
out_fail:
	as_atomic_store_release(&fr_state, 3);
	return false;
}

static unsigned fr_order(size_t bytes, size_t align)
{
	size_t need = AS_MAX(bytes, align);
	unsigned order = 0;
	while (((size_t)FRAME_SIZE << order) < need)
		order++;
	return order;
}

static bool fr_in_range(const void *p)
{
	return (const uint8_t *)p >= fr_base && (const uint8_t *)p < fr_base + fr_bytes;
}

/// Set (backed) or clear the bits of frames [first, first+n); returns true
/// if any of them was set before.
static bool fr_mark(uint64_t first, uint64_t n, bool backed)
{
	bool any = false;
	for (uint64_t f = first; f < first + n;) {
		unsigned bit = (unsigned)(f % 64);
		uint64_t take = AS_MIN(64 - bit, first + n - f);
		uint64_t mask = (take == 64 ? ~0ULL : ((1ULL << take) - 1)) << bit;
		uint64_t old = backed ? as_atomic_fetch_or_acq_rel(&fr_backed[f / 64], mask)
				      : as_atomic_fetch_and_acq_rel(&fr_backed[f / 64], ~mask);
		any |= (old & mask) != 0;
		f += take;
	}
	return any;
}

static bool fr_all_set(uint64_t first, uint64_t n)
{
	for (uint64_t f = first; f < first + n; f++)
		if (!(as_atomic_load_acquire(&fr_backed[f / 64]) & (1ULL << (f % 64))))
			return false;
	return true;
}

static void *fr_hot_pop(unsigned order)
{
	for (unsigned i = 0; i < FR_HOT_SLOTS; i++) {
		// Relaxed peek: a hint; the exchange below decides.
		if (!as_atomic_load_relaxed(&fr_hot[order][i]))
			continue;
		uintptr_t v = as_atomic_exchange_acq_rel(&fr_hot[order][i], 0);
		if (v) {
			as_atomic_fetch_sub_acq_rel(&fr_hot_bytes, (uint64_t)FRAME_SIZE << order);
			return (void *)v;
		}
	}
	return NULL;
}

static bool fr_hot_push(void *p, unsigned order)
{
	uint64_t bytes = (uint64_t)FRAME_SIZE << order;
	if (as_atomic_fetch_add_acq_rel(&fr_hot_bytes, bytes) + bytes > fr_keep)
		goto out_full;
	for (unsigned i = 0; i < FR_HOT_SLOTS; i++) {
		uintptr_t expect = 0;
		if (as_atomic_cas_strong_acq_rel(&fr_hot[order][i], &expect, (uintptr_t)p))
			return true;
	}
out_full:
	as_atomic_fetch_sub_acq_rel(&fr_hot_bytes, bytes);
	return false;
}

/// Decommit and return every parked block (when the frame allocator runs out).
static void fr_hot_drain(void)
{
	for (unsigned o = 0; o <= FRAME_MAX_ORDER; o++) {
		void *p;
		while ((p = fr_hot_pop(o))) {
			uint64_t frame = (uint64_t)((uint8_t *)p - fr_base) / FRAME_SIZE;
			madvise(p, (size_t)FRAME_SIZE << o, MADV_DONTNEED);
			fr_mark(frame, 1ULL << o, false);
			(void)fr_ops->put(fr_fa, fr_core(), frame, o);
		}
	}
}

static void *fr_map(size_t bytes, size_t align, bool *dirty)
{
	*dirty = false;
	if (as_atomic_load_acquire(&fr_state) != 2)
		return NULL;
	unsigned order = fr_order(bytes, align);
	if (order > FRAME_MAX_ORDER)
		return ps_os_ops.map(bytes, align, dirty);
	void *p = fr_hot_pop(order);
	if (p) {
		*dirty = true;
		// Relaxed: statistics only.
		as_atomic_fetch_add_relaxed(&fr_ctr.backed_reuses, 1);
		as_atomic_fetch_add_relaxed(&fr_ctr.faults_saved, 1ULL << order);
	} else {
		frame_result_t r = { 0, FRAME_ERR_RETRY };
		for (int tries = 0; tries < 64 && r.err == FRAME_ERR_RETRY; tries++)
			r = fr_ops->get(fr_fa, fr_core(), order);
		if (r.err == FRAME_ERR_MEMORY) {
			fr_hot_drain();
			r = fr_ops->get(fr_fa, fr_core(), order);
		}
		if (!frame_ok(r))
			return NULL;
		p = fr_base + r.frame * FRAME_SIZE;
		*dirty = fr_mark(r.frame, 1ULL << order, true);
	}
	// Relaxed: statistics only.
	as_atomic_fetch_add_relaxed(&fr_ctr.maps, 1);
	as_atomic_fetch_add_relaxed(&fr_ctr.mapped_bytes, (uint64_t)FRAME_SIZE << order);
	return p;
}

static void fr_unmap(void *p, size_t bytes)
{
	if (!fr_in_range(p)) {
		ps_os_ops.unmap(p, bytes);
		return;
	}
	unsigned order = fr_order(bytes, PS_PAGE);
	uint64_t frame = (uint64_t)((uint8_t *)p - fr_base) / FRAME_SIZE;
	// Relaxed: statistics only.
	as_atomic_fetch_add_relaxed(&fr_ctr.unmaps, 1);
	as_atomic_fetch_sub_relaxed(&fr_ctr.mapped_bytes, (uint64_t)FRAME_SIZE << order);
	if (fr_all_set(frame, 1ULL << order) && fr_hot_push(p, order))
		return;
	madvise(p, (size_t)FRAME_SIZE << order, MADV_DONTNEED);
	fr_mark(frame, 1ULL << order, false);
	(void)fr_ops->put(fr_fa, fr_core(), frame, order);
}

static void fr_decommit(void *p, size_t bytes)
{
	if (!fr_in_range(p)) {
		ps_os_ops.decommit(p, bytes);
		return;
	}
	madvise(p, bytes, MADV_DONTNEED);
	fr_mark((uint64_t)((uint8_t *)p - fr_base) / FRAME_SIZE, bytes / FRAME_SIZE, false);
	// Relaxed: statistics only.
	as_atomic_fetch_add_relaxed(&fr_ctr.decommits, 1);
	as_atomic_fetch_add_relaxed(&fr_ctr.decommitted_bytes, bytes);
}

static bool fr_is_backed(const void *p, size_t bytes)
{
	if (!fr_in_range(p))
		return ps_os_ops.is_backed(p, bytes);
	return fr_all_set((uint64_t)((const uint8_t *)p - fr_base) / FRAME_SIZE,
			  (bytes + FRAME_SIZE - 1) / FRAME_SIZE);
}

static void fr_stats(ps_stats_t *out)
{
	ps_counters_read(&fr_ctr, out);
}

const struct page_source_ops ps_frame_ops = {
	.name = "frame",
	.init = fr_init,
	.map = fr_map,
	.unmap = fr_unmap,
	.decommit = fr_decommit,
	.is_backed = fr_is_backed,
	.stats = fr_stats,
};
