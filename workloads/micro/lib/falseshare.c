// SPDX-License-Identifier: MIT
// Hoard's false-sharing tests (cache-scratch: passive, cache-thrash: active),
// written from shared/reference/benchmark-suites.md section 3. Each of N
// threads `iterations` times mallocs obj_size bytes, writes and re-reads every
// byte repetitions/N times, and frees the block. The total work is constant,
// so the ideal N-thread time is 1/N of the 1-thread time; an allocator that
// places blocks of different threads in one cache line makes the threads
// fight over it (active), and one that lets a thread reuse a block freed from
// another thread's line (the handed-over object of cache-scratch) does so
// passively.
#include "falseshare.h"

#include "as/err.h"
#include "mw.h"

const as_param_desc_t mw_falseshare_params[] = {
	{ "iterations", "1000", "malloc/write/free rounds per thread (count)" },
	{ "obj_size", "8", "object size (bytes; the published runs use 1)" },
	{ "repetitions", "100000", "writes of every byte per object, divided among the threads (count; published: 2000000 with obj_size 1)" },
	{ NULL, NULL, NULL },
};

static struct {
	bool passive;
	uint64_t iterations, reps_per_thread;
	size_t size;
	void **handed; ///< cache-scratch: the object main allocated for thread i
	mw_count_t *sink;
} F;

static void worker(unsigned tid, void *arg)
{
	(void)arg;
	if (F.passive) {
		mw_check(F.handed[tid], F.size, "cache-scratch: handed-over object");
		mw_free(F.handed[tid], F.size);
	}
	double acc = 1.0;
	for (uint64_t i = 0; i < F.iterations; i++) {
		volatile unsigned char *a = mw_malloc(F.size);
		for (uint64_t j = 0; j < F.reps_per_thread; j++) {
			unsigned char c = 0;
			for (size_t k = 0; k < F.size; k++) {
				a[k] = (unsigned char)(k + j);
				c = (unsigned char)(c + a[k]);
			}
			if (!F.passive)
				acc = acc * 0.999999 + (double)c;
		}
		uint64_t last = F.reps_per_thread ? F.reps_per_thread - 1 : 0;
		for (size_t k = 0; F.reps_per_thread && k < F.size; k++)
			if (a[k] != (unsigned char)(k + last))
				mw_corrupt(F.passive ? "cache-scratch: object" : "cache-thrash: object",
					   (const void *)a, F.size, k);
		mw_free((void *)a, F.size);
	}
	F.sink[tid].v = (uint64_t)acc;
}

void mw_falseshare_run(bool passive)
{
	unsigned nt = as_probe_threads();
	F.passive = passive;
	F.iterations = as_param_u64_range("iterations", 1, 1ull << 32);
	F.size = as_param_u64_range("obj_size", 1, 1u << 20);
	uint64_t reps = as_param_u64_range("repetitions", 1, 1ull << 40);
	F.reps_per_thread = reps / nt;
	F.sink = mw_counts(nt);
	if (passive) {
		F.handed = mw_malloc(sizeof(void *) * nt);
		for (unsigned t = 0; t < nt; t++) {
			F.handed[t] = mw_malloc(F.size);
			mw_stamp(F.handed[t], F.size);
		}
	}
	uint64_t t0 = as_now_ns();
	as_probe_run_threads(nt, worker, NULL);
	uint64_t t1 = as_now_ns();
	if (passive)
		mw_free(F.handed, sizeof(void *) * nt);
	as_do_not_optimize(F.sink);
	mw_report(F.iterations * nt, t1 - t0);
	as_probe_info("ops_meaning", "objects (malloc+write+free) per second; total work is constant, "
		      "so wall_s is the classic metric");
	as_probe_metric("writes_per_s",
			(double)(F.iterations * F.reps_per_thread * F.size * nt) /
				((double)(t1 - t0) / 1e9));
}
