// SPDX-License-Identifier: MIT
// adaptive: a size-class allocator with per-thread caches, per-(node, class)
// shared pools, large objects straight from a page source, and an online
// controller that tunes per thread the refill/flush batch, the cache
// capacity, the reclamation watermark and the NUMA-node binding weight.
// This is the public API of the core; the LD_PRELOAD layer reaches it through
// backend.h, the unit and stress tests link it directly.
#ifndef ADP_ADAPTIVE_H
#define ADP_ADAPTIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/// Set up from the environment (parameters, page source). Idempotent; no
/// malloc. False if the page source cannot start.
bool adp_init(void);
/// Reason of the last failed adp_init ("" if none).
const char *adp_init_error(void);

/// size >= 1; 16-byte aligned; NULL on exhaustion.
void *adp_malloc(size_t size);
/// p from this allocator (any thread); p != NULL.
void adp_free(void *p);
/// align a power of two (any up to 2 MiB and beyond); NULL on exhaustion.
void *adp_aligned(size_t align, size_t size);
/// Exact usable bytes of p (>= the request).
size_t adp_usable_size(const void *p);

/// The calling thread returns its cache; later calls from it still work
/// (through the shared pools, without a cache).
void adp_thread_exit(void);
/// Node (virtual under a simulated topology) of the calling thread.
void adp_set_thread_node(int node);

void adp_fork_prepare(void);
void adp_fork_parent(void);
void adp_fork_child(void);

/// Emit allocator metrics (controller changes, oscillations, cost, remote
/// fractions, parameter values, page-source counters).
void adp_report(void (*metric)(const char *name, double value));
/// Full invariant walk of the shared state and the caller's cache. Must run
/// while no other thread allocates. True when consistent, else false with the
/// first violation in why.
bool adp_validate(char *why, size_t whylen);
/// "adaptive", "adaptive-static", "adaptive@llfree", ...
const char *adp_name(void);

/// Parameters (one table, params.c).
typedef enum adp_param_id_e {
	ADP_P_CONTROLLER,
	ADP_P_BATCH,
	ADP_P_CAP,
	ADP_P_BUDGET,
	ADP_P_WATERMARK,
	ADP_P_NUMA_WEIGHT,
	ADP_P_INTERVAL,
	ADP_P_EWMA_SHIFT,
	ADP_P_HYSTERESIS,
	ADP_P_COUNT
} adp_param_id_t;

typedef struct adp_param_s {
	const char *name; ///< snake_case, reported as adaptive_param_<name>
	const char *env;  ///< environment override
	uint64_t def, min, max;
	const char *help; ///< one line with the unit
} adp_param_t;

extern const adp_param_t adp_params[ADP_P_COUNT];
/// Current value (default, or the environment override clamped to range).
uint64_t adp_param(adp_param_id_t id);

/// Snapshot of one thread's tuned parameters for class `cls` (tests).
typedef struct adp_tuning_s {
	uint32_t batch, cap, numa_weight;
	uint64_t watermark;
} adp_tuning_t;
bool adp_thread_tuning(unsigned cls, adp_tuning_t *out);
/// Size class of a request (tests); ADP_NCLS_PUBLIC for large.
unsigned adp_class_index(size_t size);
size_t adp_class_bytes(unsigned cls);

/// Counters summed over all threads (tests and report).
typedef struct adp_totals_s {
	uint64_t refills, flushes, ctl_ticks, ctl_cycles;
	uint64_t changes[4], oscillations[4]; ///< batch, cap, watermark, numa
	uint64_t local_in, foreign_in;        ///< objects entering caches, by node
	uint64_t remote_frees, routed_home, budget_denials;
	uint64_t handed_back; ///< frees of classes the thread never allocated
} adp_totals_t;
void adp_totals(adp_totals_t *out);

#endif
