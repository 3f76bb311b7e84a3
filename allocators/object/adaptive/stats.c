// SPDX-License-Identifier: MIT
// Statistics of adaptive: per-thread counters summed on read, the
// controller's activity and own cost, placement by node, retained memory,
// page-source counters and the parameter table, emitted as metrics.
#include <stdio.h>
#include <time.h>

#include "internal.h"

void adp_totals(adp_totals_t *o)
{
	*o = (adp_totals_t){ 0 };
	adp_lock(&adp_g.reg_lock);
	for (adp_tcache_t *tc = adp_g.all; tc; tc = tc->next_all) {
		adp_tstats_t *s = &tc->st;
		// Relaxed: per-thread counters, a snapshot.
		o->refills += as_atomic_load_relaxed(&s->refills);
		o->flushes += as_atomic_load_relaxed(&s->flushes);
		o->ctl_ticks += as_atomic_load_relaxed(&s->ctl_ticks);
		o->ctl_cycles += as_atomic_load_relaxed(&s->ctl_cycles);
		o->local_in += as_atomic_load_relaxed(&s->local_in);
		o->foreign_in += as_atomic_load_relaxed(&s->foreign_in);
		o->remote_frees += as_atomic_load_relaxed(&s->remote_frees);
		o->routed_home += as_atomic_load_relaxed(&s->routed_home);
		o->budget_denials += as_atomic_load_relaxed(&s->budget_denials);
		o->handed_back += as_atomic_load_relaxed(&s->handed_back);
		for (unsigned i = 0; i < 4; i++) {
			o->changes[i] += as_atomic_load_relaxed(&s->changes[i]);
			o->oscillations[i] += as_atomic_load_relaxed(&s->oscillations[i]);
		}
	}
	adp_unlock(&adp_g.reg_lock);
}

/// Cycle-counter rate measured between init and now (no calibration pause).
static double cycles_per_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t ns = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
	uint64_t tsc = adp_ticks();
	if (ns <= adp_g.ns0 || tsc <= adp_g.tsc0)
		return 0;
	return (double)(tsc - adp_g.tsc0) / (double)(ns - adp_g.ns0);
}

void adp_report(void (*metric)(const char *name, double value))
{
	static const char *const pname[4] = { "batch", "cap", "watermark", "numa" };
	char name[80];
	adp_totals_t t;
	adp_totals(&t);
	uint64_t changes = 0, osc = 0;
	for (unsigned i = 0; i < 4; i++) {
		changes += t.changes[i];
		osc += t.oscillations[i];
		snprintf(name, sizeof(name), "controller_changes_%s", pname[i]);
		metric(name, (double)t.changes[i]);
		snprintf(name, sizeof(name), "controller_oscillations_%s", pname[i]);
		metric(name, (double)t.oscillations[i]);
	}
	metric("controller_on", adp_g.controller ? 1 : 0);
	metric("controller_changes", (double)changes);
	metric("controller_oscillations", (double)osc);
	metric("controller_ticks", (double)t.ctl_ticks);
	metric("controller_cycles", (double)t.ctl_cycles);
	struct timespec cpu;
	double cpn = cycles_per_ns();
	if (cpn > 0 && clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu) == 0) {
		double cpu_cycles = ((double)cpu.tv_sec * 1e9 + (double)cpu.tv_nsec) * cpn;
		if (cpu_cycles > 0)
			metric("controller_cpu_frac", (double)t.ctl_cycles / cpu_cycles);
	}
	metric("cache_refills", (double)t.refills);
	metric("cache_flushes", (double)t.flushes);
	metric("cache_budget_denials", (double)t.budget_denials);
	metric("remote_frees", (double)t.remote_frees);
	metric("cache_handed_back", (double)t.handed_back);
	metric("remote_routed_home", (double)t.routed_home);
	if (t.local_in + t.foreign_in)
		metric("remote_node_frac", (double)t.foreign_in / (double)(t.local_in + t.foreign_in));
	// Relaxed: global counters, a snapshot.
	metric("watermark_bytes", (double)as_atomic_load_acquire(&adp_g.watermark));
	metric("retained_bytes", (double)as_atomic_load_acquire(&adp_g.retained));
	metric("reclaimed_bytes", (double)as_atomic_load_relaxed(&adp_g.reclaimed_bytes));
	metric("reclaims", (double)as_atomic_load_relaxed(&adp_g.reclaims));
	metric("pagesource_maps", (double)as_atomic_load_relaxed(&adp_g.ps_maps));
	metric("large_allocs", (double)as_atomic_load_relaxed(&adp_g.large_allocs));
	metric("large_cache_hits", (double)as_atomic_load_relaxed(&adp_g.large_cache_hits));
	if (adp_g.ps) {
		ps_stats_t ps;
		adp_g.ps->stats(&ps);
		metric("pagesource_mapped_bytes", (double)ps.mapped_bytes);
		metric("pagesource_decommitted_bytes", (double)ps.decommitted_bytes);
		metric("pagesource_backed_reuses", (double)ps.backed_reuses);
		metric("pagesource_faults_saved", (double)ps.faults_saved);
	}
	for (unsigned i = 0; i < ADP_P_COUNT; i++) {
		snprintf(name, sizeof(name), "adaptive_param_%s", adp_params[i].name);
		metric(name, (double)adp_param((adp_param_id_t)i));
	}
}
