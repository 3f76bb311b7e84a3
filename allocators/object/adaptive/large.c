// SPDX-License-Identifier: MIT
// Large objects (> 32 KiB, or alignments no size class serves): one
// page-source mapping each. The 64-byte header sits where a slab's would
// (adp_slab_of: (p - 1) rounded down to ADP_SLAB, plus that base's colour),
// so free() finds it the same way:
//   align <= ADP_SLAB: header at the mapping's start plus its colour, object
//                      at the first aligned address after the header (the
//                      mapping has room for the last colour);
//   larger alignments: object at the first aligned address at least ADP_SLAB
//                      into the mapping, header at the colour of the base
//                      ADP_SLAB below it.
// Mappings of up to 64 MiB are rounded up to 4 sizes per doubling and freed
// mappings are kept in a small lock-free cache per size (exchange on slots),
// counted as retained memory and so bounded by the reclamation watermark.
#include "internal.h"

#define LARGE_BUCKETS 52
#define LARGE_SLOTS 16
#define LARGE_CACHE_MAX ((size_t)64 << 20)
#define LARGE_NONE 0xffffffffu

static _Atomic uintptr_t lcache[LARGE_BUCKETS][LARGE_SLOTS];
static _Atomic uint64_t lcache_bytes;

/// Round a mapping of `bytes` (page multiple, <= LARGE_CACHE_MAX) up to its
/// bucket's size: exact up to 4 pages, then 4 sizes per doubling.
static size_t bucket_round(size_t bytes, unsigned *idx)
{
	size_t pages = bytes / PS_PAGE;
	if (pages <= 4) {
		*idx = (unsigned)pages - 1;
		return bytes;
	}
	unsigned k = 63u - (unsigned)__builtin_clzll((unsigned long long)(pages - 1));
	size_t step = (size_t)1 << (k - 2);
	size_t r = (pages + step - 1) / step * step; // in (2^k, 2^(k+1)]
	*idx = 4 + 4 * (k - 2) + (unsigned)(r / step) - 5;
	return r * PS_PAGE;
}

static adp_slab_t *cache_pop(unsigned idx)
{
	for (unsigned i = 0; i < LARGE_SLOTS; i++) {
		// Relaxed peek: a hint; the exchange decides.
		if (!as_atomic_load_relaxed(&lcache[idx][i]))
			continue;
		uintptr_t v = as_atomic_exchange_acq_rel(&lcache[idx][i], 0);
		if (v) {
			adp_slab_t *h = (adp_slab_t *)v;
			as_atomic_fetch_sub_acq_rel(&adp_g.retained, h->map_bytes);
			as_atomic_fetch_sub_acq_rel(&lcache_bytes, h->map_bytes);
			return h;
		}
	}
	return NULL;
}

static bool cache_push(adp_slab_t *h, unsigned idx)
{
	uint64_t bytes = h->map_bytes;
	uint64_t r = as_atomic_fetch_add_acq_rel(&adp_g.retained, bytes) + bytes;
	if (r <= as_atomic_load_acquire(&adp_g.watermark)) {
		as_atomic_fetch_add_acq_rel(&lcache_bytes, bytes);
		for (unsigned i = 0; i < LARGE_SLOTS; i++) {
			uintptr_t expect = 0;
			if (as_atomic_cas_strong_acq_rel(&lcache[idx][i], &expect, (uintptr_t)h))
				return true;
		}
		as_atomic_fetch_sub_acq_rel(&lcache_bytes, bytes);
	}
	as_atomic_fetch_sub_acq_rel(&adp_g.retained, bytes);
	return false;
}

/// The object of a block mapped at a ADP_SLAB-aligned base with header h
/// (align <= ADP_SLAB): the first aligned address after the header.
static uint8_t *first_at(adp_slab_t *h, size_t align)
{
	return (uint8_t *)as_align_up((uintptr_t)h + ADP_HDR, align);
}

void *adp_large_alloc(size_t size, size_t align)
{
	if (align < 16)
		align = 16;
	if (size > ((size_t)1 << 46) || align > ((size_t)1 << 40))
		return NULL;
	// Small alignments: room for the header at any colour, then the object.
	size_t room = align <= ADP_SLAB ? as_align_up(ADP_COLOR_SPAN, align) : 0;
	size_t bytes;
	unsigned idx = LARGE_NONE;
	adp_slab_t *h;
	uint8_t *p;
	// Relaxed: statistics only.
	as_atomic_fetch_add_relaxed(&adp_g.large_allocs, 1);
	if (room) {
		bytes = as_align_up(room + size, PS_PAGE);
		if (bytes <= LARGE_CACHE_MAX) {
			bytes = bucket_round(bytes, &idx);
			h = cache_pop(idx);
			if (h) {
				// Relaxed: statistics only.
				as_atomic_fetch_add_relaxed(&adp_g.large_cache_hits, 1);
				return first_at(h, align);
			}
		}
		bool dirty;
		size_t malign = align >= PS_HUGE ? PS_HUGE : ADP_SLAB;
		uint8_t *m = adp_g.ps->map(bytes, malign, &dirty);
		if (!m)
			return NULL;
		h = adp_hdr_at((uintptr_t)m);
		h->map_base = m;
		p = first_at(h, align);
	} else {
		bytes = as_align_up(size, PS_PAGE) + align + ADP_SLAB;
		bool dirty;
		uint8_t *m = adp_g.ps->map(bytes, AS_MIN(align, (size_t)PS_HUGE), &dirty);
		if (!m)
			return NULL;
		p = (uint8_t *)as_align_up((uintptr_t)m + ADP_SLAB, align);
		h = adp_hdr_at((uintptr_t)(p - ADP_SLAB));
		h->map_base = m;
	}
	// Relaxed: a counter the controller reads as a trend.
	as_atomic_fetch_add_relaxed(&adp_g.ps_maps, 1);
	h->tag = ADP_TAG_LARGE;
	h->cls = idx;
	h->map_bytes = bytes;
	return p;
}

void adp_large_free(adp_slab_t *h, void *p)
{
	(void)p;
	if (h->cls != LARGE_NONE && cache_push(h, h->cls))
		return;
	if (h->cls != LARGE_NONE) {
		// Relaxed: counters for the controller and the report.
		as_atomic_fetch_add_relaxed(&adp_g.reclaims, 1);
		as_atomic_fetch_add_relaxed(&adp_g.reclaimed_bytes, h->map_bytes);
	}
	adp_g.ps->unmap(h->map_base, h->map_bytes);
}

size_t adp_large_usable(const adp_slab_t *h, const void *p)
{
	return (size_t)((const uint8_t *)h->map_base + h->map_bytes - (const uint8_t *)p);
}

void adp_large_trim(void)
{
	for (unsigned idx = LARGE_BUCKETS; idx-- > 0;) {
		while (as_atomic_load_acquire(&adp_g.retained) > as_atomic_load_acquire(&adp_g.watermark)) {
			adp_slab_t *h = cache_pop(idx);
			if (!h)
				break;
			// Relaxed: counters for the controller and the report.
			as_atomic_fetch_add_relaxed(&adp_g.reclaims, 1);
			as_atomic_fetch_add_relaxed(&adp_g.reclaimed_bytes, h->map_bytes);
			adp_g.ps->unmap(h->map_base, h->map_bytes);
		}
	}
}

uint64_t adp_large_cached_bytes(void)
{
	return as_atomic_load_acquire(&lcache_bytes);
}
