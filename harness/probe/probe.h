// SPDX-License-Identifier: MIT
// The probe: the in-process half of the harness, linked by every workload
// program (never by allocators, never by the runner). It parses the common
// command line, pins threads, samples latencies into per-thread histograms,
// tracks live bytes and RSS over time, checks which malloc is serving the
// process, and writes metrics for the runner.
//
// Command line every workload program accepts (parsed by as_probe_init):
//   --workload NAME   pick one of the program's workloads (programs with one
//                     workload may omit it)
//   --threads N       worker threads (default 1)
//   --seed S          RNG seed (default 42)
//   --param k=v       workload parameter (repeatable; "k=v" alone works too)
//   --pin LIST        real PUs, thread i runs on LIST[i % len] ("" = no pinning)
//   --nodes LIST      NUMA node of each pin slot (virtual under a simulated
//                     topology); passed to the allocator if it exports
//                     allocscope_set_thread_node(int)
//   --sample N        time 1 of every N operations (power of two, default 16)
//   --timeline-ms M   RSS/live sampling period (default 10, 0 = off)
//   --alloc NAME      allocator, for programs that link allocators (framebench)
//   --out FILE        metrics file (default: standard output)
//   --describe        print the workloads and parameters, machine-readable
//   --help
// Bad input exits with status 2 and a message naming the option and reason.
//
// Output (one record per line, read by the runner; see results/SCHEMA.md):
//   info KEY VALUE...          context (workload, malloc_lib, malloc_served, clock)
//   placement PU PU ...        PU each worker thread actually ran on
//   metric NAME VALUE|null     a number (or null: not measurable here)
//   series NAME V V ...        a per-round series (e.g. free_huge_frac)
//   timeline T_MS RSS LIVE     one sample (LIVE is -1 when not tracked)
//   status ok | status error MESSAGE   always the last line
#ifndef AS_PROBE_H
#define AS_PROBE_H

#include <stdbool.h>
#include <stdint.h>

#include "as/atomic.h"
#include "as/clock.h"
#include "as/compiler.h"
#include "hist.h"

typedef struct as_param_desc_s {
	const char *name; ///< NULL ends the list
	const char *def;  ///< default, as text
	const char *help; ///< one line, with the unit
} as_param_desc_t;

typedef struct as_workload_desc_s {
	const char *name;    ///< NULL ends the list
	const char *kind;    ///< "frame" or "micro"
	const char *summary; ///< one line
	const as_param_desc_t *params;
} as_workload_desc_t;

/// Parse the command line against `workloads` (NULL-terminated by name),
/// set up clock, output and sampler; handles --help/--describe (and exits).
/// Returns the selected workload.
const as_workload_desc_t *as_probe_init(int argc, char **argv,
					const as_workload_desc_t *workloads);

unsigned as_probe_threads(void);
uint64_t as_probe_seed(void);
/// Value of --alloc, or NULL.
const char *as_probe_alloc(void);

/// Parameters (defaults from the descriptor). A malformed value exits 2.
uint64_t as_param_u64(const char *name);
double as_param_f64(const char *name);
const char *as_param_str(const char *name);
/// Range check helper: exits 2 with "parameter NAME=V out of range [lo, hi]".
uint64_t as_param_u64_range(const char *name, uint64_t lo, uint64_t hi);

/// Run fn(tid, arg) on `n` threads; each is set up (as_probe_thread_setup)
/// before fn runs. Returns after all joined. Exits 1 if a thread cannot start.
void as_probe_run_threads(unsigned n, void (*fn)(unsigned tid, void *arg), void *arg);

/// For threads the workload creates itself: pin per --pin slot `tid`,
/// register the thread's histograms and live counter, tell the allocator the
/// thread's node. Call first thing in the thread.
void as_probe_thread_setup(unsigned tid);
/// Fold the thread's histogram and live counter into the totals; call before
/// a self-created thread exits (as_probe_run_threads does it for you).
void as_probe_thread_done(void);
/// NUMA node (virtual if simulated) of the calling thread; 0 if not pinned.
int as_probe_thread_node(void);

/// Reusable spinning barrier for `n` threads (cheap enough to sit between
/// phases; the last arriver releases the others).
typedef struct as_barrier_s {
	_Alignas(AS_CACHELINE) _Atomic unsigned count;
	_Atomic unsigned generation;
	unsigned n;
} as_barrier_t;
void as_barrier_init(as_barrier_t *b, unsigned n);
void as_barrier_wait(as_barrier_t *b);

// ---------------------------------------------------------------------------
// Latency sampling. Channel 0 reports lat_*; other channels report
// <name>_lat_* (named with as_probe_lat_channel). The timer's bias inside
// each sample (lat_overhead_ns) and the wall cost of one sample
// (lat_sample_cost_ns) are measured at init and reported beside the results.

#define AS_LAT_CHANNELS 4

typedef struct as_probe_tls_s {
	uint32_t ctr;
	uint32_t mask; ///< sample when (ctr & mask) == 0
	as_hist_t *hist[AS_LAT_CHANNELS];
	_Atomic int64_t *live; ///< this thread's live-bytes slot
} as_probe_tls_t;

extern __thread as_probe_tls_t as_probe_tls;

void as_probe_lat_channel(unsigned ch, const char *name);

/// Start timing one operation; returns 0 when this op is not sampled.
static inline uint64_t as_lat_begin(void)
{
	if ((++as_probe_tls.ctr & as_probe_tls.mask) != 0)
		return 0;
	return as_cycles();
}

/// Finish timing (no-op when t0 == 0).
static inline void as_lat_end_ch(uint64_t t0, unsigned ch)
{
	if (t0) {
		uint64_t t1 = as_cycles();
		as_hist_add(as_probe_tls.hist[ch], t1 - t0);
	}
}

static inline void as_lat_end(uint64_t t0)
{
	as_lat_end_ch(t0, 0);
}

/// Record one latency of `cycles` (an as_cycles() difference) regardless of
/// the sampling rate: for workloads that time every operation themselves,
/// e.g. an open-loop load generator measuring from the intended send time.
static inline void as_lat_record(unsigned ch, uint64_t cycles)
{
	as_hist_add(as_probe_tls.hist[ch], cycles);
}

// ---------------------------------------------------------------------------
// Live bytes: what the workload holds. Per-thread, lock-free, summed by the
// sampler. Relaxed: the owner is the only writer; the sampler's reading is a
// snapshot and may be a few operations old.

static inline void as_probe_live_add(int64_t delta)
{
	if (as_probe_tls.live)
		as_atomic_store_relaxed(as_probe_tls.live,
					as_atomic_load_relaxed(as_probe_tls.live) + delta);
}

/// Take one timeline sample now (also done every --timeline-ms).
void as_probe_sample_now(void);

// ---------------------------------------------------------------------------
// Results.

void as_probe_metric(const char *name, double value);
/// A metric this machine or configuration cannot measure: written as null.
void as_probe_metric_null(const char *name, const char *reason);
void as_probe_series(const char *name, const double *values, unsigned n);
void as_probe_info(const char *key, const char *fmt, ...) AS_PRINTF(2, 3);

/// The workload's own data check failed: write "status error MSG" and exit 1.
AS_NORETURN void as_probe_fail(const char *fmt, ...) AS_PRINTF(1, 2);

/// Stop the sampler, merge histograms, write lat_*, timeline-derived
/// metrics (rss_peak_sampled_bytes; when live bytes were tracked also
/// live_peak_bytes, frag_peak = 1 - live/RSS at the earliest sample with
/// live bytes whose RSS is within 1% of the peak RSS of such samples, frag_mean = the average over samples with live
/// bytes), malloc_lib/served, placement and
/// "status ok". Call once at the end of a successful run.
void as_probe_finish(void);

#endif
