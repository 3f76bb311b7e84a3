// SPDX-License-Identifier: MIT
// The one parameter table of adaptive (STYLE rule 14): name, default, range
// and environment override. Values are read once at init with getenv (no
// malloc); an override outside the range is clamped to it, a malformed one
// is ignored (the default stays). Every value is echoed by adp_report as
// adaptive_param_<name>.
#include <stdlib.h>

#include "as/kv.h"
#include "internal.h"

const adp_param_t adp_params[ADP_P_COUNT] = {
	[ADP_P_CONTROLLER] = { "controller", "ALLOCSCOPE_ADAPTIVE_CONTROLLER", 1, 0, 1,
			       "1 = online controller on (adaptive), 0 = fixed defaults (adaptive-static)" },
	[ADP_P_BATCH] = { "batch", "ALLOCSCOPE_ADAPTIVE_BATCH", 32, 4, 256,
			  "initial refill/flush batch per class, objects (capped at 64 KiB of objects)" },
	[ADP_P_CAP] = { "cap", "ALLOCSCOPE_ADAPTIVE_CAP", 64, 8, 4096,
			"initial per-thread cache capacity per class, objects (capped at 128 KiB)" },
	[ADP_P_BUDGET] = { "budget", "ALLOCSCOPE_ADAPTIVE_BUDGET", 64ULL << 20, 1ULL << 20, 1ULL << 34,
			   "bytes of cache capacity all threads together may grow to" },
	[ADP_P_WATERMARK] = { "watermark", "ALLOCSCOPE_ADAPTIVE_WATERMARK", 4ULL << 20, 0, 1ULL << 34,
			      "initial reclamation watermark: free bytes kept above it go back, bytes" },
	[ADP_P_NUMA_WEIGHT] = { "numa_weight", "ALLOCSCOPE_ADAPTIVE_NUMA_WEIGHT", 50, 0, 100,
				"initial NUMA binding weight, percent of remote frees routed home" },
	[ADP_P_INTERVAL] = { "interval", "ALLOCSCOPE_ADAPTIVE_INTERVAL", 64, 4, 65536,
			     "controller period, in slow-path events of the thread" },
	[ADP_P_EWMA_SHIFT] = { "ewma_shift", "ALLOCSCOPE_ADAPTIVE_EWMA_SHIFT", 2, 1, 6,
			       "EWMA smoothing, alpha = 2^-shift" },
	[ADP_P_HYSTERESIS] = { "hysteresis", "ALLOCSCOPE_ADAPTIVE_HYSTERESIS", 2, 1, 8,
			       "consecutive intervals a signal must persist before a change" },
};

static uint64_t adp_param_val[ADP_P_COUNT];
static bool adp_params_read;

static void adp_params_load(void)
{
	for (unsigned i = 0; i < ADP_P_COUNT; i++) {
		const adp_param_t *d = &adp_params[i];
		uint64_t v = d->def;
		const char *e = getenv(d->env);
		uint64_t x;
		if (e && as_parse_u64(e, &x))
			v = x < d->min ? d->min : x > d->max ? d->max : x;
		adp_param_val[i] = v;
	}
	adp_params_read = true;
}

uint64_t adp_param(adp_param_id_t id)
{
	// Loaded during adp_init (single-threaded then, under the init lock);
	// later readers only read.
	if (!adp_params_read)
		adp_params_load();
	return adp_param_val[id];
}
