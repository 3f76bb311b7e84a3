// SPDX-License-Identifier: MIT
// The fault-injecting page source, for reliability tests (issue 13): it
// wraps another page source and makes map fail (NULL, errno ENOMEM) on
// demand, so object allocators can be checked to return NULL with ENOMEM
// and to recover when memory comes back. Selected by name:
//   ALLOCSCOPE_PAGESOURCE=fault:INNER,every=N,after=BYTES,skip=K
//   INNER        the wrapped source: os or frame@X
//   every=N      every Nth map call fails (N >= 1; 0 = off, the default)
//   after=BYTES  a memory limit: a map fails when the bytes currently
//                mapped through this source would exceed BYTES (k/M/G
//                suffixes); unmapping gives the bytes back, so memory
//                "comes back" (0 = no limit, the default)
//   skip=K       the first K map calls never fail (lets an allocator
//                bootstrap), default 0
// ALLOCSCOPE_PAGESOURCE_OPTIONS still goes to INNER's init. The bare name
// "fault" takes the whole spec from the options instead (so
// ALLOCSCOPE_LIFETIME_PAGESOURCE=fault:os,after=64M, which lifetime splits
// at the colon into name and options, works too; INNER is then initialised
// without options). Decommit, is_backed and stats pass through to INNER.
// No malloc; map/unmap are thread-safe, bind/init run once at startup.
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "as/kv.h"
#include "internal.h"

static const struct page_source_ops *fault_inner;
static uint64_t fault_every, fault_after, fault_skip;
static _Atomic uint64_t fault_calls; ///< map calls so far
static _Atomic uint64_t fault_held;  ///< bytes mapped and not unmapped

static bool fault_parse(const char *spec);

static bool fault_init(const char *options, char *err, size_t errlen)
{
	if (!fault_inner) {
		if (!options || !fault_parse(options)) {
			snprintf(err, errlen,
				 "fault page source: '%s' is not INNER,every=N,after=BYTES,skip=K",
				 options ? options : "");
			return false;
		}
		options = NULL;
	}
	return fault_inner->init(options, err, errlen);
}

static void *fault_map(size_t bytes, size_t align, bool *dirty)
{
	// Relaxed: the call count only picks which call fails; its atomicity
	// (each call gets a distinct number) is all that matters.
	uint64_t n = as_atomic_fetch_add_relaxed(&fault_calls, 1) + 1;
	*dirty = false;
	if (n > fault_skip && fault_every && n % fault_every == 0) {
		errno = ENOMEM;
		return NULL;
	}
	if (fault_after) {
		// Reserve first, so concurrent maps cannot overshoot the limit.
		uint64_t held = as_atomic_fetch_add_acq_rel(&fault_held, bytes) + bytes;
		if (n > fault_skip && held > fault_after) {
			as_atomic_fetch_sub_acq_rel(&fault_held, bytes);
			errno = ENOMEM;
			return NULL;
		}
	}
	void *p = fault_inner->map(bytes, align, dirty);
	if (!p && fault_after)
		as_atomic_fetch_sub_acq_rel(&fault_held, bytes);
	return p;
}

static void fault_unmap(void *p, size_t bytes)
{
	fault_inner->unmap(p, bytes);
	if (fault_after)
		as_atomic_fetch_sub_acq_rel(&fault_held, bytes);
}

static void fault_decommit(void *p, size_t bytes)
{
	fault_inner->decommit(p, bytes);
}

static bool fault_is_backed(const void *p, size_t bytes)
{
	return fault_inner->is_backed(p, bytes);
}

static void fault_stats(ps_stats_t *out)
{
	fault_inner->stats(out);
}

const struct page_source_ops ps_fault_ops = {
	.name = "fault",
	.init = fault_init,
	.map = fault_map,
	.unmap = fault_unmap,
	.decommit = fault_decommit,
	.is_backed = fault_is_backed,
	.stats = fault_stats,
};

const struct page_source_ops *ps_fault_bind(const char *spec)
{
	if (!spec) {
		fault_inner = NULL; // bound by init
		return &ps_fault_ops;
	}
	return fault_parse(spec) ? &ps_fault_ops : NULL;
}

// Parse "INNER,key=value,..." and bind INNER; false when malformed.
static bool fault_parse(const char *spec)
{
	static const char *const keys[] = { "every", "after", "skip", NULL };
	static char inner_name[64];
	char err[128];
	const char *comma = strchr(spec, ',');
	size_t len = comma ? (size_t)(comma - spec) : strlen(spec);
	const char *opts = comma ? comma + 1 : "";
	if (len == 0 || len >= sizeof(inner_name))
		return false;
	memcpy(inner_name, spec, len);
	inner_name[len] = '\0';
	if (strncmp(inner_name, "fault", 5) == 0)
		return false; // no nesting
	const struct page_source_ops *in = ps_find(inner_name);
	if (!in || as_kv_check(opts, keys, err, sizeof(err)) < 0 ||
	    as_kv_u64(opts, "every", 0, 0, UINT64_MAX, &fault_every, err, sizeof(err)) < 0 ||
	    as_kv_u64(opts, "after", 0, 0, UINT64_MAX, &fault_after, err, sizeof(err)) < 0 ||
	    as_kv_u64(opts, "skip", 0, 0, UINT64_MAX, &fault_skip, err, sizeof(err)) < 0)
		return false;
	fault_inner = in;
	return true;
}
