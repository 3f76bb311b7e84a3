// SPDX-License-Identifier: MIT
// threadtest: Hoard's threadtest (Berger et al., ASPLOS 2000; suggested
// arguments `P 1000 10000 0 8`), written from the definition in
// shared/reference/benchmark-suites.md section 3.
//
// Each of N threads runs `iterations` rounds; a round mallocs objects/N
// objects of obj_size 8-byte elements, initialises every element (as the
// original's constructors do), optionally spins `work` loop steps between
// operations, then frees them all in allocation order. All memory stays
// thread-local, so this measures the allocator's thread-local paths and how
// they scale. Throughput = mallocs per second.
#include "as/err.h"
#include "lib/mw.h"

static const as_param_desc_t params[] = {
	{ "iterations", "1000", "rounds per thread (count)" },
	{ "objects", "10000", "objects per round, divided among the threads (count)" },
	{ "work", "0", "busy-loop steps between operations (count)" },
	{ "obj_size", "8", "elements per object; an element is 8 bytes (count)" },
	{ NULL, NULL, NULL },
};

static const as_workload_desc_t workloads[] = {
	{ "threadtest", "micro", "each thread mallocs a batch of small objects, then frees them all, repeatedly",
	  params },
	{ NULL, NULL, NULL, NULL },
};

static struct {
	uint64_t iterations, per_thread, work;
	size_t bytes;
	mw_count_t *ops;
} T;

static void spin(uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		as_clobber_memory();
}

static void worker(unsigned tid, void *arg)
{
	(void)arg;
	uint64_t **obj = mw_malloc(sizeof(*obj) * T.per_thread);
	size_t elems = T.bytes / 8;
	for (uint64_t it = 0; it < T.iterations; it++) {
		for (uint64_t i = 0; i < T.per_thread; i++) {
			uint64_t *p = mw_malloc(T.bytes);
			for (size_t e = 0; e < elems; e++)
				p[e] = (uint64_t)(uintptr_t)p + e;
			obj[i] = p;
			spin(T.work);
		}
		if (tid == 0 && it == 0)
			as_probe_sample_now(); // a timeline sample at the round's peak
		for (uint64_t i = 0; i < T.per_thread; i++) {
			uint64_t *p = obj[i];
			for (size_t e = 0; e < elems; e++)
				if (AS_UNLIKELY(p[e] != (uint64_t)(uintptr_t)p + e))
					mw_corrupt("threadtest: before free", p, T.bytes, e * 8);
			p[0] = ~p[0]; // poisoned: a second owner of this block would fail
			mw_free(p, T.bytes);
			spin(T.work);
		}
	}
	mw_free(obj, sizeof(*obj) * T.per_thread);
	T.ops[tid].v = T.iterations * T.per_thread;
}

int main(int argc, char **argv)
{
	as_probe_init(argc, argv, workloads);
	unsigned nt = as_probe_threads();
	T.iterations = as_param_u64_range("iterations", 1, 1ull << 32);
	uint64_t objects = as_param_u64_range("objects", 1, 1ull << 32);
	T.work = as_param_u64_range("work", 0, 1ull << 32);
	T.bytes = 8 * as_param_u64_range("obj_size", 1, 1u << 20);
	T.per_thread = objects / nt ? objects / nt : 1;
	T.ops = mw_counts(nt);
	uint64_t t0 = as_now_ns();
	as_probe_run_threads(nt, worker, NULL);
	uint64_t t1 = as_now_ns();
	mw_report(mw_counts_sum(T.ops, nt), t1 - t0);
	as_probe_finish();
	return 0;
}
