// SPDX-License-Identifier: MIT
// Shared helpers of the malloc microbenchmarks (workloads/micro/, prefix mw_):
// timed malloc/free that sample latency and count live bytes through the
// probe, block stamps and full patterns that detect corrupted or overlapping
// blocks, and the common throughput report. Every helper calls plain
// malloc/free, so the allocator under test is whatever serves the process.
#ifndef MW_H
#define MW_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "probe.h"

/// Tag of a block: a hash of its address and size. Two live blocks that
/// overlap overwrite each other's tag, so the check before free fails.
static inline uint64_t mw_tag(const void *p, size_t n)
{
	uint64_t x = (uint64_t)(uintptr_t)p ^ ((uint64_t)n << 48) ^ 0x6a09e667f3bcc908ULL;
	x = (x ^ (x >> 31)) * 0x9e3779b97f4a7c15ULL;
	return x ^ (x >> 29);
}

/// Write the tag into the first min(n, 8) bytes of the block and, for blocks
/// of 16 bytes or more, into the last 8 as well.
static inline void mw_stamp(void *p, size_t n)
{
	uint64_t t = mw_tag(p, n);
	memcpy(p, &t, n < 8 ? n : 8);
	if (n >= 16)
		memcpy((char *)p + n - 8, &t, 8);
}

/// Report a corrupted block through the probe and exit (status error).
AS_NORETURN void mw_corrupt(const char *where, const void *p, size_t n, size_t off);

/// Verify what mw_stamp wrote, just before the block is freed, then poison
/// the head stamp: a block handed to two owners at once fails the check of
/// whichever owner frees it second. `where` names the workload step.
static inline void mw_check(void *p, size_t n, const char *where)
{
	uint64_t t = mw_tag(p, n), a = t, b = t;
	memcpy(&a, p, n < 8 ? n : 8);
	if (n >= 16)
		memcpy(&b, (const char *)p + n - 8, 8);
	if (AS_UNLIKELY(a != t))
		mw_corrupt(where, p, n, 0);
	if (AS_UNLIKELY(b != t))
		mw_corrupt(where, p, n, n - 8);
	t = ~t;
	memcpy(p, &t, n < 8 ? n : 8);
}

/// Fill every byte of the block with a pattern derived from its tag.
void mw_fill(void *p, size_t n);
/// Verify a full mw_fill pattern before the block is freed (exits through
/// the probe on mismatch), then poison its first bytes as mw_check does.
void mw_verify(void *p, size_t n, const char *where);

/// malloc(n) with sampled latency and live-bytes accounting; a NULL result
/// fails the run (the workloads ask for modest sizes only).
static inline void *mw_malloc(size_t n)
{
	uint64_t t0 = as_lat_begin();
	void *p = malloc(n);
	as_lat_end(t0);
	if (AS_UNLIKELY(!p))
		as_probe_fail("malloc(%zu) returned NULL", n);
	as_probe_live_add((int64_t)n);
	return p;
}

/// free(p) of a block of n requested bytes, timed and accounted.
static inline void mw_free(void *p, size_t n)
{
	uint64_t t0 = as_lat_begin();
	free(p);
	as_lat_end(t0);
	as_probe_live_add(-(int64_t)n);
}

/// Resident set size now, from /proc/self/statm (bytes; -1 if unreadable).
int64_t mw_rss_bytes(void);

/// Standard throughput metrics: ops (count), wall_s and ops_per_s.
void mw_report(uint64_t ops, uint64_t wall_ns);

/// Per-thread counter padded to its own cache line (summed after join).
typedef struct mw_count_s {
	_Alignas(AS_CACHELINE) uint64_t v;
} mw_count_t;

/// Array of `n` zeroed per-thread counters (process lifetime, never freed).
mw_count_t *mw_counts(unsigned n);
uint64_t mw_counts_sum(const mw_count_t *c, unsigned n);

#endif
