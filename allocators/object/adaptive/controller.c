// SPDX-License-Identifier: MIT
// The online controller. Each thread runs it on its own cache every
// `interval` slow-path events (refills and flushes), so its cost scales with
// the misses it is meant to reduce and the fast paths never see it. Signals
// are counts the allocator keeps anyway, taken as deltas over the interval:
//
//   per class  misses m = underflows + overflows, smoothed by an EWMA
//              (alpha = 2^-ewma_shift) because a single interval is noisy;
//   per thread share of foreign-node objects entering the cache (EWMA), and
//              refills that mapped fresh memory while another node had some;
//   global     page-source maps and watermark reclaims since the last look.
//
// Actions, each applied only after its condition held for `hysteresis`
// consecutive intervals (so a transient spike changes nothing), each
// counted; a change opposite to the previous change of the same parameter
// within 8 intervals is counted as an oscillation:
//
//   batch      x2 while the class takes >= 1/4 of the thread's misses
//              (jemalloc's tcache GC doubles the fill count of bins that
//              were refilled); /2 once the class's items sat idle (jemalloc
//              halves it for bins whose items sat unused: the bin's
//              low-water mark stayed above 0), and 3/4 of those items go back;
//   cap        +batch when one interval saw both an underflow and an
//              overflow (tcmalloc's rule: only then would more room have let
//              the two misses cancel), granted from the shared byte budget;
//              -cap/8 when the bin's items sat unused;
//   watermark  +1 MiB (up to 4x its initial value) when memory was
//              reclaimed and mapped again in the same interval, -1/8 once
//              8 intervals (x hysteresis/2) passed without a change and
//              retained memory is under half of it (AIMD, as Linux PCP
//              high auto-tuning);
//              retained memory above a lowered watermark is returned;
//   numa       +10 points when more than 1/4 of the objects entering the
//              cache came from other nodes; -10 when the thread mapped fresh
//              memory while other nodes held free memory and its foreign
//              share stayed under 1/16.
//
// With ALLOCSCOPE_ADAPTIVE_TRACE=FILE every change is also appended to FILE
// as "ns_since_start thread parameter class new_value" (class -1: the
// thread's or the global parameter), written with write(2), no malloc.
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define CTL_OSC_WINDOW 8
#define WM_STEP ((uint64_t)1 << 20)
#define WM_MIN ((uint64_t)1 << 20)
/// The watermark may grow to this multiple of its initial value (and at
/// most 1 GiB): retained memory is resident memory.
#define WM_GROWTH 4
#define WM_MAX_ABS ((uint64_t)1 << 30)

/// Relaxed load + store: the owner is the only writer of its statistics.
static inline void st_add(_Atomic uint64_t *c, uint64_t v)
{
	as_atomic_store_relaxed(c, as_atomic_load_relaxed(c) + v);
}

static int adp_trace_fd = -1;

void adp_trace_open(void)
{
	const char *path = getenv("ALLOCSCOPE_ADAPTIVE_TRACE");
	if (path && *path)
		adp_trace_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
}

/// One line per change when tracing: "ns thread param class value".
static void trace_change(const adp_tcache_t *tc, unsigned which, int cls, uint64_t value)
{
	static const char *const pname[4] = { "batch", "cap", "watermark", "numa_weight" };
	char line[128];
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t ns = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec - adp_g.ns0;
	int n = snprintf(line, sizeof(line), "%llu %lx %s %d %llu\n", (unsigned long long)ns,
			 (unsigned long)((uintptr_t)tc >> 12), pname[which], cls,
			 (unsigned long long)value);
	if (n > 0 && write(adp_trace_fd, line, (size_t)n) < 0)
		adp_trace_fd = -1;
}

/// Count (and trace) a change of parameter `which` of class cls (-1: of
/// the thread or global) to `value`, in direction dir (+1/-1).
static void note_change(adp_tcache_t *tc, unsigned which, int8_t *last_dir,
			uint8_t *since, int8_t dir, int cls, uint64_t value)
{
	if (AS_UNLIKELY(adp_trace_fd >= 0))
		trace_change(tc, which, cls, value);
	st_add(&tc->st.changes[which], 1);
	if (*last_dir && *last_dir != dir && *since < CTL_OSC_WINDOW)
		st_add(&tc->st.oscillations[which], 1);
	*last_dir = dir;
	*since = 0;
}

static inline void age(uint8_t *since)
{
	if (*since < 255)
		(*since)++;
}

/// Two vote counters with hysteresis: returns +1/-1 once a direction held
/// for `hyst` consecutive calls, else 0.
static int vote(uint16_t *up, uint16_t *down, bool want_up, bool want_down, unsigned hyst)
{
	*up = want_up ? (uint16_t)(*up + 1) : 0;
	*down = want_down ? (uint16_t)(*down + 1) : 0;
	if (*up >= hyst) {
		*up = 0;
		return 1;
	}
	if (*down >= hyst) {
		*down = 0;
		return -1;
	}
	return 0;
}

static void tune_bin(adp_tcache_t *tc, unsigned c, uint32_t interval, unsigned shift,
		     unsigned hyst)
{
	adp_binctl_t *k = &tc->ctl[c];
	adp_bin_t *b = &tc->bins[c];
	uint32_t miss = k->under + k->over;
	int64_t e = (int64_t)k->ewma + (((int64_t)miss * 256 - (int64_t)k->ewma) >> shift);
	k->ewma = (uint32_t)(e < 0 ? 0 : e);
	age(&k->since[0]);
	age(&k->since[1]);
	if (!miss && !b->n) {
		k->under = k->over = 0;
		b->low = 0;
		return; // unused class: nothing to tune
	}
	bool hot = (uint64_t)k->ewma * 4 >= (uint64_t)interval * 256;
	// Items that sat unused for the whole interval (jemalloc's low-water).
	bool cold = b->low > 0 && k->ewma < 64;
	uint32_t low = b->low;
	uint32_t size = adp_cls_size[c];
	uint32_t bmax = AS_MAX((uint32_t)((64u << 10) / size), 2u);
	bmax = AS_MIN(bmax, (uint32_t)adp_params[ADP_P_BATCH].max);
	if (!b->cap) {
		// Unarmed (the thread only frees this class, see adp_bin_t): its
		// misses are hand-back batches; only their size is tuned, and the
		// capacity waiting for the first refill (cap_on) stays >= batch.
		if (vote(&k->up_votes, &k->down_votes, hot && k->batch < bmax, false, hyst) > 0) {
			k->batch = AS_MIN(k->batch * 2, bmax);
			note_change(tc, ADP_C_BATCH, &k->last_dir[0], &k->since[0], 1, (int)c, k->batch);
		}
		if (b->cap_on < k->batch) {
			if (adp_budget_grow(tc, (uint64_t)(k->batch - b->cap_on) * size))
				b->cap_on = k->batch;
			else
				k->batch = b->cap_on;
		}
		k->under = k->over = 0;
		b->low = 0;
		return;
	}
	int d = vote(&k->up_votes, &k->down_votes, hot && k->batch < bmax,
		     cold && (k->batch > 4 || b->n > 0), hyst);
	if (d > 0) {
		k->batch = AS_MIN(k->batch * 2, bmax);
		note_change(tc, ADP_C_BATCH, &k->last_dir[0], &k->since[0], 1, (int)c, k->batch);
	} else if (d < 0) {
		if (k->batch > 4) {
			k->batch = AS_MAX(k->batch / 2, 4u);
			note_change(tc, ADP_C_BATCH, &k->last_dir[0], &k->since[0], -1, (int)c, k->batch);
		}
		// Give back: the bin's items sat unused for the whole period.
		uint32_t newcap = AS_MAX(b->cap - b->cap / 8, k->batch);
		if (newcap < b->cap) {
			adp_budget_shrink(tc, (uint64_t)(b->cap - newcap) * size);
			b->cap = newcap;
			note_change(tc, ADP_C_CAP, &k->last_dir[1], &k->since[1], -1, (int)c, b->cap);
		}
		// At least down to the (possibly shrunk) capacity: a bin over its
		// cap would hold memory the shared budget no longer counts.
		uint32_t give = low - low / 4;
		if (b->n > b->cap && b->n - b->cap > give)
			give = b->n - b->cap;
		if (give)
			adp_bin_flush(tc, c, give);
	}
	if (k->under && k->over) {
		uint32_t grow = k->batch;
		uint32_t cmax = AS_MAX((uint32_t)((1u << 20) / size), 8u);
		if (b->cap + grow <= cmax && adp_budget_grow(tc, (uint64_t)grow * size)) {
			b->cap += grow;
			note_change(tc, ADP_C_CAP, &k->last_dir[1], &k->since[1], 1, (int)c, b->cap);
		}
	}
	if (b->cap < k->batch) {
		uint32_t grow = k->batch - b->cap;
		if (adp_budget_grow(tc, (uint64_t)grow * size))
			b->cap = k->batch;
		else
			k->batch = b->cap;
	}
	k->under = k->over = 0;
	b->low = b->n;
}

static void tune_watermark(adp_tcache_t *tc, unsigned hyst)
{
	// Relaxed: trend counters; a stale value shifts a decision by one interval.
	uint64_t maps = as_atomic_load_relaxed(&adp_g.ps_maps);
	uint64_t recl = as_atomic_load_relaxed(&adp_g.reclaims);
	bool churn = maps != tc->seen_maps && recl != tc->seen_reclaims;
	uint64_t wm_max = AS_MIN(AS_MAX(adp_param(ADP_P_WATERMARK), WM_MIN) * WM_GROWTH, WM_MAX_ABS);
	tc->seen_maps = maps;
	tc->seen_reclaims = recl;
	age(&tc->wm_since);
	uint64_t wm = as_atomic_load_acquire(&adp_g.watermark);
	if (churn && wm + WM_STEP <= wm_max) {
		as_atomic_fetch_add_acq_rel(&adp_g.watermark, WM_STEP);
		note_change(tc, ADP_C_WATERMARK, &tc->wm_last_dir, &tc->wm_since, 1, -1, wm + WM_STEP);
		return;
	}
	if (!churn && wm > WM_MIN && as_atomic_load_acquire(&adp_g.retained) < wm / 2 &&
	    tc->wm_since >= CTL_OSC_WINDOW * hyst / 2) {
		uint64_t nw = AS_MAX(wm - wm / 8, WM_MIN);
		if (as_atomic_cas_strong_acq_rel(&adp_g.watermark, &wm, nw)) {
			note_change(tc, ADP_C_WATERMARK, &tc->wm_last_dir, &tc->wm_since, -1, -1, nw);
			adp_pool_trim();
		}
	}
}

static void tune_numa(adp_tcache_t *tc, unsigned shift, unsigned hyst)
{
	uint64_t total = tc->iv_local + tc->iv_foreign;
	if (total) {
		int64_t share = (int64_t)(tc->iv_foreign * 256 / total);
		int64_t e = (int64_t)tc->foreign_ewma + ((share - (int64_t)tc->foreign_ewma) >> shift);
		tc->foreign_ewma = (uint32_t)(e < 0 ? 0 : e);
	}
	age(&tc->numa_since);
	uint16_t up = (uint16_t)tc->numa_up;
	uint16_t down = (uint16_t)tc->numa_down;
	int d = vote(&up, &down, tc->foreign_ewma > 64 && tc->numa_weight < 100,
		     tc->steal_chances > 0 && tc->foreign_ewma < 16 && tc->numa_weight > 0, hyst);
	tc->numa_up = up;
	tc->numa_down = down;
	if (d > 0) {
		tc->numa_weight = AS_MIN(tc->numa_weight + 10, 100u);
		note_change(tc, ADP_C_NUMA, &tc->numa_last_dir, &tc->numa_since, 1, -1, tc->numa_weight);
	} else if (d < 0) {
		tc->numa_weight = tc->numa_weight >= 10 ? tc->numa_weight - 10 : 0;
		note_change(tc, ADP_C_NUMA, &tc->numa_last_dir, &tc->numa_since, -1, -1, tc->numa_weight);
	}
	tc->iv_local = tc->iv_foreign = 0;
	tc->steal_chances = 0;
}

void adp_ctl_tick(adp_tcache_t *tc)
{
	uint64_t t0 = adp_ticks();
	uint32_t interval = (uint32_t)adp_param(ADP_P_INTERVAL);
	unsigned shift = (unsigned)adp_param(ADP_P_EWMA_SHIFT);
	unsigned hyst = (unsigned)adp_param(ADP_P_HYSTERESIS);
	tc->slow_events = 0;
	for (unsigned c = 0; c < ADP_NCLS; c++)
		tune_bin(tc, c, interval, shift, hyst);
	tune_watermark(tc, hyst);
	tune_numa(tc, shift, hyst);
	st_add(&tc->st.ctl_ticks, 1);
	st_add(&tc->st.ctl_cycles, adp_ticks() - t0);
}
