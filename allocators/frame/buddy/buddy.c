// SPDX-License-Identifier: MIT
// Creation, options and the two ops tables of the buddy frame allocator:
// `buddy` (zone + per-core lists) and `buddy-nopcp` (the zone alone). One
// as_meta_alloc mapping holds the instance, the pcp array and the page
// descriptors; see README.md for the design and the metadata formula.
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "as/err.h"
#include "as/kv.h"
#include "as/meta.h"
#include "internal.h"

_Static_assert(sizeof(buddy_page_t) == 12, "page descriptor is 12 bytes");
_Static_assert(sizeof(buddy_pcp_t) == AS_CACHELINE, "a pcp is one cache line");

#define BUDDY_DEFAULT_BATCH 63
#define BUDDY_DEFAULT_DECAY_OPS 65536
#define BUDDY_HUGE_BYTES ((size_t)2 << 20)

static const char *const buddy_keys[] = { "batch", "high", "autotune", "decay_ops", NULL };
static const char *const nopcp_keys[] = { NULL };

static uint64_t isqrt(uint64_t x)
{
	uint64_t r = 0, bit = UINT64_C(1) << 62;
	while (bit > x)
		bit >>= 2;
	while (bit) {
		if (x >= r + bit) {
			x -= r + bit;
			r = (r >> 1) + bit;
		} else {
			r >>= 1;
		}
		bit >>= 2;
	}
	return r;
}

uint64_t buddy_default_high(uint64_t frames, unsigned cores, uint32_t batch)
{
	// init_per_zone_wmark_min: min_free_kbytes = sqrt(lowmem_kbytes * 16),
	// clamped to [128, 262144]; the simulated zone is all of lowmem.
	uint64_t min_kb = isqrt(frames * (FRAME_SIZE / 1024) * 16);
	min_kb = AS_MIN(AS_MAX(min_kb, UINT64_C(128)), UINT64_C(262144));
	// __setup_per_zone_wmarks: WMARK_MIN = min_free_kbytes in pages (one
	// zone takes all of it); WMARK_LOW = min + max(min/4, managed *
	// watermark_scale_factor(10) / 10000).
	uint64_t wmark_min = min_kb / (FRAME_SIZE / 1024);
	uint64_t wmark_low = wmark_min + AS_MAX(wmark_min / 4, frames * 10 / 10000);
	// zone_highsize (5.14): low watermark split over the zone's CPUs, at
	// least 4 * batch.
	uint64_t high = wmark_low / cores;
	return AS_MAX(high, (uint64_t)batch << 2);
}

static void buddy_destroy(frame_alloc_t *fa)
{
	if (fa)
		as_meta_free(fa, fa->map_bytes, fa->map_align);
}

static frame_alloc_t *create(const frame_config_t *cfg, bool pcp, char *err, size_t errlen)
{
	const char *const name = pcp ? "buddy" : "buddy-nopcp";
	if (!cfg) {
		as_format(err, errlen, "%s: no configuration", name);
		return NULL;
	}
	if (cfg->frames == 0 || cfg->frames % FRAME_ALIGN_FRAMES != 0 ||
	    cfg->frames > BUDDY_MAX_FRAMES) {
		as_format(err, errlen, "%s: frames (%llu) must be a positive multiple of %u, at most %llu",
			  name, (unsigned long long)cfg->frames, FRAME_ALIGN_FRAMES,
			  (unsigned long long)BUDDY_MAX_FRAMES);
		return NULL;
	}
	if (cfg->cores == 0 || cfg->cores > FRAME_MAX_CORES) {
		as_format(err, errlen, "%s: cores (%u) must be in [1, %u]", name, cfg->cores,
			  FRAME_MAX_CORES);
		return NULL;
	}
	char why[200];
	if (as_kv_check(cfg->options, pcp ? buddy_keys : nopcp_keys, why, sizeof(why)) < 0) {
		as_format(err, errlen, "%s: %s", name, why);
		return NULL;
	}
	uint64_t batch = 1, high = 1, autotune = 0, decay = 1;
	if (pcp) {
		if (as_kv_u64(cfg->options, "batch", BUDDY_DEFAULT_BATCH, 1, UINT64_C(1) << 20, &batch,
			      why, sizeof(why)) < 0 ||
		    as_kv_u64(cfg->options, "high",
			      buddy_default_high(cfg->frames, cfg->cores, (uint32_t)batch), 1,
			      UINT32_MAX, &high, why, sizeof(why)) < 0 ||
		    as_kv_u64(cfg->options, "autotune", 0, 0, 1, &autotune, why, sizeof(why)) < 0 ||
		    as_kv_u64(cfg->options, "decay_ops", BUDDY_DEFAULT_DECAY_OPS, 1, UINT32_MAX,
			      &decay, why, sizeof(why)) < 0) {
			as_format(err, errlen, "%s: %s", name, why);
			return NULL;
		}
		if (high < batch) {
			as_format(err, errlen, "%s: high (%llu) must be >= batch (%llu)", name,
				  (unsigned long long)high, (unsigned long long)batch);
			return NULL;
		}
	}

	size_t pcp_off = as_align_up(sizeof(frame_alloc_t), AS_CACHELINE);
	size_t pcp_bytes = pcp ? cfg->cores * sizeof(buddy_pcp_t) : 0;
	size_t pages_off = as_align_up(pcp_off + pcp_bytes, AS_CACHELINE);
	size_t bytes = pages_off + cfg->frames * sizeof(buddy_page_t);
	// The kernel's mem_map lies in the direct map, which uses huge pages;
	// ask for the same (advice only: THP may be off), so that walking
	// descriptors does not cost a TLB miss per frame the kernel would not pay.
	size_t align = bytes >= BUDDY_HUGE_BYTES ? BUDDY_HUGE_BYTES : AS_CACHELINE;
	char *base = as_meta_alloc(bytes, align);
	if (!base) {
		as_format(err, errlen, "%s: cannot map %zu bytes of metadata: %s", name, bytes,
			  strerror(errno));
		return NULL;
	}
	if (align == BUDDY_HUGE_BYTES)
		(void)madvise(base, as_align_up(bytes, FRAME_SIZE), MADV_HUGEPAGE);
	frame_alloc_t *fa = (frame_alloc_t *)base;
	fa->frames = cfg->frames;
	fa->cores = cfg->cores;
	fa->pcp_enabled = pcp;
	fa->autotune = autotune != 0;
	fa->batch = (uint32_t)batch;
	fa->decay_ops = (uint32_t)decay;
	fa->pages = (buddy_page_t *)(base + pages_off);
	fa->pcp = pcp ? (buddy_pcp_t *)(base + pcp_off) : NULL;
	fa->map_bytes = bytes;
	fa->map_align = align;

	// Initialise every descriptor, as memmap_init() does for every struct
	// page at boot: the array is then resident like the kernel's mem_map,
	// and no benchmark pays first-touch page faults inside get or put.
	for (uint64_t pfn = 0; pfn < cfg->frames; pfn++)
		fa->pages[pfn] = (buddy_page_t){ .next = BUDDY_NIL, .prev = BUDDY_NIL };
	for (unsigned o = 0; o < BUDDY_ORDERS; o++)
		buddy_list_init(&fa->area[o]);
	for (uint64_t pfn = 0; pfn < cfg->frames; pfn += FRAME_ALIGN_FRAMES) {
		fa->pages[pfn].order = FRAME_MAX_ORDER;
		buddy_pg_set(&fa->pages[pfn], BUDDY_PG_FREE);
		buddy_list_push_tail(fa->pages, &fa->area[FRAME_MAX_ORDER], (uint32_t)pfn);
	}
	fa->nr_free[FRAME_MAX_ORDER] = cfg->frames / FRAME_ALIGN_FRAMES;
	fa->nonempty = 1u << FRAME_MAX_ORDER;
	fa->free_frames = cfg->frames;

	for (unsigned c = 0; pcp && c < cfg->cores; c++) {
		buddy_pcp_t *p = &fa->pcp[c];
		for (unsigned i = 0; i < BUDDY_PCP_LISTS; i++)
			buddy_list_init(&p->lists[i]);
		p->high = p->high_min = p->high_max = (uint32_t)high;
		if (fa->autotune) // Linux 6.7: high_max = managed / 8 / CPUs
			p->high_max = (uint32_t)AS_MAX(high, cfg->frames / 8 / cfg->cores);
	}
	return fa;
}

static frame_alloc_t *buddy_create(const frame_config_t *cfg, char *err, size_t errlen)
{
	return create(cfg, true, err, errlen);
}

static frame_alloc_t *buddy_nopcp_create(const frame_config_t *cfg, char *err, size_t errlen)
{
	return create(cfg, false, err, errlen);
}

const struct frame_ops buddy_ops = {
	.name = "buddy",
	.desc = "Linux-style buddy, our userspace model: zone spinlock + per-core lists (batch/high)",
	.option_keys = buddy_keys,
	.create = buddy_create,
	.destroy = buddy_destroy,
	.get = buddy_pcp_get,
	.put = buddy_pcp_put,
	.drain = buddy_drain,
	.stats = buddy_stats,
	.free_counts = buddy_free_counts,
	.validate = buddy_validate,
};

const struct frame_ops buddy_nopcp_ops = {
	.name = "buddy-nopcp",
	.desc = "Linux-style buddy, our userspace model, without per-core lists: one zone spinlock",
	.option_keys = nopcp_keys,
	.create = buddy_nopcp_create,
	.destroy = buddy_destroy,
	.get = buddy_nopcp_get,
	.put = buddy_nopcp_put,
	.drain = buddy_drain,
	.stats = buddy_stats,
	.free_counts = buddy_free_counts,
	.validate = buddy_validate,
};
