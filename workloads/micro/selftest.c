// SPDX-License-Identifier: MIT
// selftest: a harness self-test workload (kind "test", never in a default
// suite). mode=ok does `ops` malloc/free pairs per thread with latency
// sampling and live-bytes accounting; the other modes misbehave on purpose
// so the runner's statuses can be tested honestly: crash (SIGSEGV), hang
// (sleeps past any timeout), fail (reports an error), grow (allocates and
// touches memory without limit, until the runner's memory limit or malloc
// failure).
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "as/err.h"
#include "probe.h"

static const as_param_desc_t params[] = {
	{ "mode", "ok", "ok | crash | hang | fail | grow" },
	{ "ops", "200000", "malloc/free pairs per thread (mode=ok)" },
	{ "size", "64", "bytes per allocation (mode=ok)" },
	{ NULL, NULL, NULL },
};

static const as_workload_desc_t workloads[] = {
	{ "selftest", "test", "harness self-test: behaves, crashes, hangs, fails or grows on request", params },
	{ NULL, NULL, NULL, NULL },
};

// Grown blocks are chained from here, so the compiler cannot drop them.
static void *volatile grown;

typedef struct arg_s {
	uint64_t ops;
	size_t size;
} arg_t;

static void worker(unsigned tid, void *p)
{
	(void)tid;
	const arg_t *a = p;
	void *keep[64] = { 0 };
	for (uint64_t i = 0; i < a->ops; i++) {
		unsigned slot = (unsigned)(i % 64);
		uint64_t t0 = as_lat_begin();
		if (keep[slot]) {
			free(keep[slot]);
			as_probe_live_add(-(int64_t)a->size);
		}
		keep[slot] = malloc(a->size);
		as_lat_end(t0);
		if (!keep[slot])
			as_probe_fail("out of memory after %llu operations", (unsigned long long)i);
		memset(keep[slot], (int)i, a->size);
		as_probe_live_add((int64_t)a->size);
	}
	for (unsigned s = 0; s < 64; s++)
		if (keep[s]) {
			free(keep[s]);
			as_probe_live_add(-(int64_t)a->size);
		}
}

int main(int argc, char **argv)
{
	as_probe_init(argc, argv, workloads);
	const char *mode = as_param_str("mode");
	if (!strcmp(mode, "crash")) {
		raise(SIGSEGV);
	} else if (!strcmp(mode, "hang")) {
		for (;;)
			sleep(3600);
	} else if (!strcmp(mode, "fail")) {
		as_probe_fail("selftest asked to fail");
	} else if (!strcmp(mode, "grow")) {
		for (size_t n = 0;; n++) {
			char *p = malloc(1u << 20);
			if (!p)
				as_probe_fail("out of memory after %zu MiB", n);
			memset(p, 1, 1u << 20);
			*(void **)p = grown;
			grown = p;
			as_probe_live_add(1 << 20);
		}
	} else if (strcmp(mode, "ok") != 0) {
		as_die(2, "parameter mode: '%s' is not ok, crash, hang, fail or grow", mode);
	}
	arg_t a = { .ops = as_param_u64_range("ops", 1, 1ull << 40),
		    .size = (size_t)as_param_u64_range("size", 1, 1u << 30) };
	unsigned n = as_probe_threads();
	uint64_t t0 = as_now_ns();
	as_probe_run_threads(n, worker, &a);
	double wall = (double)(as_now_ns() - t0) * 1e-9;
	as_probe_metric("wall_s", wall);
	as_probe_metric("ops_per_s", (double)a.ops * n / wall);
	as_probe_finish();
	return 0;
}
