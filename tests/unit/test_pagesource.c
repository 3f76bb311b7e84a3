// SPDX-License-Identifier: MIT
// Unit tests of the page sources: os (mapping, alignment, decommit and the
// kernel's view of backing) and frame@X over the first frame allocator of
// this build (blocks, parked still-backed reuse, decommit bookkeeping, the
// mmap fallback beyond 4 MiB).
#include <string.h>

#include "../../allocators/object/pagesource/pagesource.h"
#include "frame.h"
#include "test.h"

TEST(pagesource_os_map_decommit)
{
	const struct page_source_ops *ps = ps_find("os");
	char err[160];
	check(ps != NULL);
	check(ps->init(NULL, err, sizeof(err)));
	check(ps_find("nonsense") == NULL);
	check(ps_find("frame@no-such-allocator") == NULL);
	bool dirty = true;
	size_t bytes = 1u << 20;
	uint8_t *p = ps->map(bytes, 256u << 10, &dirty);
	check(p != NULL);
	check(!dirty);
	check_eq("%llu", (unsigned long long)((uintptr_t)p % (256u << 10)), 0ULL);
	for (size_t i = 0; i < bytes; i += 4096)
		check(p[i] == 0);
	memset(p, 0xab, bytes);
	check(ps->is_backed(p, bytes));
	ps->decommit(p, bytes);
	check(!ps->is_backed(p, bytes));
	check(p[12345] == 0);
	ps_stats_t st;
	ps->stats(&st);
	check(st.maps >= 1 && st.decommits >= 1);
	ps->unmap(p, bytes);
	// 2 MiB-aligned huge request (MADV_HUGEPAGE applied; must stay usable).
	p = ps->map(4u << 20, PS_HUGE, &dirty);
	check(p != NULL);
	check_eq("%llu", (unsigned long long)((uintptr_t)p % PS_HUGE), 0ULL);
	p[0] = 1;
	p[(4u << 20) - 1] = 2;
	ps->unmap(p, 4u << 20);
}

static const char *first_frame_allocator(void)
{
	static const char *const pref[] = { "llfree", "nbbs", "buddy", "buddy-nopcp" };
	for (unsigned i = 0; i < AS_ARRAY_LEN(pref); i++)
		if (frame_ops_find(pref[i]))
			return pref[i];
	return NULL;
}

TEST(pagesource_frame_reuse)
{
	const char *x = first_frame_allocator();
	if (!x) {
		printf("  (no frame allocator in this build: skipped)\n");
		return;
	}
	char name[64], err[200] = "";
	snprintf(name, sizeof(name), "frame@%s", x);
	const struct page_source_ops *ps = ps_find(name);
	check(ps != NULL);
	if (!ps->init("reserve=256M,keep=8M", err, sizeof(err)))
		check_fail("init %s: %s", name, err);
	ps_stats_t before, after;
	ps->stats(&before);
	bool dirty;
	uint8_t *p = ps->map(64u << 10, 64u << 10, &dirty);
	check(p != NULL);
	check(!dirty);
	check_eq("%llu", (unsigned long long)((uintptr_t)p % (64u << 10)), 0ULL);
	memset(p, 0x5a, 64u << 10);
	check(ps->is_backed(p, 64u << 10));
	ps->unmap(p, 64u << 10);
	uint8_t *q = ps->map(64u << 10, PS_PAGE, &dirty);
	check(q == p); // the parked, still-backed block comes back first
	check(dirty);
	check(q[100] == 0x5a);
	ps->stats(&after);
	check_eq("%llu", (unsigned long long)(after.backed_reuses - before.backed_reuses), 1ULL);
	check_eq("%llu", (unsigned long long)(after.faults_saved - before.faults_saved), 16ULL);
	ps->decommit(q, 64u << 10);
	check(!ps->is_backed(q, 64u << 10));
	check(q[100] == 0);
	ps->unmap(q, 64u << 10); // partly decommitted: not parked
	uint8_t *r = ps->map(64u << 10, PS_PAGE, &dirty);
	check(r != NULL);
	ps->unmap(r, 64u << 10);
	// Beyond the largest frame block: plain mmap fallback.
	uint8_t *big = ps->map(8u << 20, PS_HUGE, &dirty);
	check(big != NULL);
	big[(8u << 20) - 1] = 1;
	ps->unmap(big, 8u << 20);
	// Exhaustion gives NULL, not a crash: 256 MiB reserve, ask for 80 x 4 MiB.
	void *blocks[80];
	unsigned got = 0;
	for (unsigned i = 0; i < 80; i++) {
		blocks[i] = ps->map(4u << 20, PS_PAGE, &dirty);
		if (blocks[i])
			got++;
	}
	check(got >= 32 && got < 80);
	for (unsigned i = 0; i < 80; i++)
		if (blocks[i])
			ps->unmap(blocks[i], 4u << 20);
}
