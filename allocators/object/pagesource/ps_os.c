// SPDX-License-Identifier: MIT
// The `os` page source: every map is a fresh anonymous mmap (over-mapped and
// trimmed to the requested alignment), unmap is munmap, decommit is
// MADV_DONTNEED (or MADV_FREE with option free=1), and mappings of at least
// 2 MiB asked for with 2 MiB alignment get MADV_HUGEPAGE (THP "madvise"
// mode; option huge=0 turns that off). is_backed asks the kernel (mincore).
#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include "as/compiler.h"
#include "as/kv.h"
#include "internal.h"

static ps_counters_t os_ctr;
static int os_decommit_advice = MADV_DONTNEED;
static bool os_huge = true;

void ps_counters_read(ps_counters_t *c, ps_stats_t *out)
{
	// Relaxed: statistics, a snapshot that may be a few operations old.
	out->mapped_bytes = as_atomic_load_relaxed(&c->mapped_bytes);
	out->decommitted_bytes = as_atomic_load_relaxed(&c->decommitted_bytes);
	out->maps = as_atomic_load_relaxed(&c->maps);
	out->unmaps = as_atomic_load_relaxed(&c->unmaps);
	out->decommits = as_atomic_load_relaxed(&c->decommits);
	out->backed_reuses = as_atomic_load_relaxed(&c->backed_reuses);
	out->faults_saved = as_atomic_load_relaxed(&c->faults_saved);
}

void *ps_mmap_aligned(size_t bytes, size_t align)
{
	if (align < PS_PAGE)
		align = PS_PAGE;
	size_t span = bytes + align - PS_PAGE;
	if (span < bytes)
		return NULL;
	uint8_t *raw = mmap(NULL, span, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (raw == MAP_FAILED)
		return NULL;
	uintptr_t start = as_align_up((uintptr_t)raw, align);
	size_t head = start - (uintptr_t)raw;
	size_t tail = span - head - bytes;
	if (head)
		munmap(raw, head);
	if (tail)
		munmap((uint8_t *)start + bytes, tail);
	return (void *)start;
}

static bool os_init(const char *options, char *err, size_t errlen)
{
	static const char *const keys[] = { "free", "huge", NULL };
	uint64_t v;
	if (as_kv_check(options, keys, err, errlen) < 0)
		return false;
	if (as_kv_u64(options, "free", 0, 0, 1, &v, err, errlen) < 0)
		return false;
	os_decommit_advice = v ? MADV_FREE : MADV_DONTNEED;
	if (as_kv_u64(options, "huge", 1, 0, 1, &v, err, errlen) < 0)
		return false;
	os_huge = v != 0;
	return true;
}

static void *os_map(size_t bytes, size_t align, bool *dirty)
{
	void *p = ps_mmap_aligned(bytes, align);
	*dirty = false;
	if (!p)
		return NULL;
	if (os_huge && align >= PS_HUGE && bytes >= PS_HUGE)
		madvise(p, bytes, MADV_HUGEPAGE);
	// Relaxed: statistics only.
	as_atomic_fetch_add_relaxed(&os_ctr.maps, 1);
	as_atomic_fetch_add_relaxed(&os_ctr.mapped_bytes, bytes);
	return p;
}

static void os_unmap(void *p, size_t bytes)
{
	munmap(p, bytes);
	// Relaxed: statistics only.
	as_atomic_fetch_add_relaxed(&os_ctr.unmaps, 1);
	as_atomic_fetch_sub_relaxed(&os_ctr.mapped_bytes, bytes);
}

static void os_decommit(void *p, size_t bytes)
{
	if (madvise(p, bytes, os_decommit_advice) != 0 && os_decommit_advice == MADV_FREE)
		madvise(p, bytes, MADV_DONTNEED); // kernel without MADV_FREE
	// Relaxed: statistics only.
	as_atomic_fetch_add_relaxed(&os_ctr.decommits, 1);
	as_atomic_fetch_add_relaxed(&os_ctr.decommitted_bytes, bytes);
}

static bool os_is_backed(const void *p, size_t bytes)
{
	unsigned char vec[256];
	uintptr_t a = (uintptr_t)p & ~(uintptr_t)(PS_PAGE - 1);
	uintptr_t end = (uintptr_t)p + bytes;
	while (a < end) {
		size_t pages = (end - a + PS_PAGE - 1) / PS_PAGE;
		if (pages > sizeof(vec))
			pages = sizeof(vec);
		if (mincore((void *)a, pages * PS_PAGE, vec) != 0)
			return false;
		for (size_t i = 0; i < pages; i++)
			if (!(vec[i] & 1))
				return false;
		a += pages * PS_PAGE;
	}
	return true;
}

static void os_stats(ps_stats_t *out)
{
	ps_counters_read(&os_ctr, out);
}

const struct page_source_ops ps_os_ops = {
	.name = "os",
	.init = os_init,
	.map = os_map,
	.unmap = os_unmap,
	.decommit = os_decommit,
	.is_backed = os_is_backed,
	.stats = os_stats,
};
