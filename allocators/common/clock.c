// SPDX-License-Identifier: MIT
// Cycle-counter calibration for as/clock.h.
#include "as/clock.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

bool as_clock_uses_tsc;
static double cycles_per_ns = 1.0;
static char source[64] = "clock_gettime";
static pthread_once_t once = PTHREAD_ONCE_INIT;

/// Invariant TSC: the kernel lists both constant_tsc and nonstop_tsc.
static bool has_invariant_tsc(void)
{
#if defined(__x86_64__)
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[4096];
	bool constant = false;
	bool nonstop = false;
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "flags", 5) != 0)
			continue;
		constant = strstr(line, " constant_tsc") != NULL;
		nonstop = strstr(line, " nonstop_tsc") != NULL;
		break;
	}
	fclose(f);
	return constant && nonstop;
#else
	return false;
#endif
}

static void calibrate(void)
{
	if (!has_invariant_tsc())
		return;
	as_clock_uses_tsc = true;
	// Five 10 ms windows; the median ratio, so one window stretched by a
	// preemption between the paired reads does not skew the result.
	double r[5];
	for (int w = 0; w < 5; w++) {
		uint64_t t0 = as_now_ns();
		uint64_t c0 = as_cycles();
		uint64_t t1;
		do {
			t1 = as_now_ns();
		} while (t1 - t0 < 10000000ULL);
		uint64_t c1 = as_cycles();
		r[w] = (double)(c1 - c0) / (double)(t1 - t0);
	}
	for (int i = 1; i < 5; i++) // insertion sort of five
		for (int j = i; j > 0 && r[j] < r[j - 1]; j--) {
			double t = r[j];
			r[j] = r[j - 1];
			r[j - 1] = t;
		}
	cycles_per_ns = r[2];
	if (cycles_per_ns < 0.05) { // nonsense: fall back rather than lie
		as_clock_uses_tsc = false;
		cycles_per_ns = 1.0;
		return;
	}
	snprintf(source, sizeof(source), "tsc %.3f GHz", cycles_per_ns);
}

double as_clock_init(void)
{
	pthread_once(&once, calibrate);
	return cycles_per_ns;
}

double as_clock_cycles_per_ns(void)
{
	return cycles_per_ns;
}

double as_cycles_to_ns(uint64_t cycles)
{
	return (double)cycles / cycles_per_ns;
}

const char *as_clock_source(void)
{
	return source;
}
