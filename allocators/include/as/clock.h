// SPDX-License-Identifier: MIT
// Calibrated cycle-counter clock. On x86-64 with an invariant TSC (constant_tsc
// and nonstop_tsc in /proc/cpuinfo) as_cycles() reads rdtsc; otherwise it falls
// back to CLOCK_MONOTONIC in ns (and the "cycle" is a nanosecond). Call
// as_clock_init() once before converting cycles to ns.
#ifndef AS_CLOCK_H
#define AS_CLOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

/// Monotonic wall clock in nanoseconds.
static inline uint64_t as_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/// True once as_clock_init() found an invariant TSC and chose to use it.
extern bool as_clock_uses_tsc;

/// Cycle counter read. Plain rdtsc, not serialised: on this class of VM a
/// read costs ~22 ns and an lfence adds ~7 ns more to every sample, while the
/// reordering it prevents is a few cycles around operations of tens of ns.
static inline uint64_t as_cycles(void)
{
#if defined(__x86_64__)
	if (as_clock_uses_tsc) {
		uint32_t lo, hi;
		__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi) : : "memory");
		return ((uint64_t)hi << 32) | lo;
	}
#endif
	return as_now_ns();
}

/// Calibrate the cycle counter against CLOCK_MONOTONIC (about 50 ms, once;
/// thread-safe and idempotent). Returns the measured cycles per ns.
double as_clock_init(void);

/// Cycles per nanosecond found by as_clock_init() (1.0 on the fallback).
double as_clock_cycles_per_ns(void);

/// Convert a cycle count to nanoseconds.
double as_cycles_to_ns(uint64_t cycles);

/// Short description of the clock source ("tsc 2.994 GHz" / "clock_gettime").
const char *as_clock_source(void);

#endif
