// SPDX-License-Identifier: MIT
// larson: server simulation with cross-thread frees (Larson & Krishnan,
// "Memory allocation for long-running server applications", ISMM'98; run by
// mimalloc-bench as `larson 5 8 1000 5000 100 4141 N`). Written from the
// definition in shared/reference/benchmark-suites.md section 3.
//
// The main thread fills threads x chunks slots with blocks of uniform random
// size in [min_size, max_size), shuffles them and churns them 4 x chunks
// times. Worker i owns slice i. It repeatedly frees a random slot of its slice
// and mallocs a new block of random size into it, writing its ends. After
// rounds x chunks such steps it starts a *new* thread on the same slice and
// exits, so every block is freed by a thread other than the one that
// allocated it (the first generation frees the main thread's blocks). The
// main thread sleeps `seconds`, raises the stop flag and waits for every
// chain to end. Throughput = mallocs / elapsed seconds.
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "as/err.h"
#include "as/meta.h"
#include "as/rng.h"
#include "lib/mw.h"

static const as_param_desc_t params[] = {
	{ "seconds", "1", "run time in seconds (s; mimalloc-bench uses 5)" },
	{ "min_size", "8", "smallest block (bytes)" },
	{ "max_size", "1000", "blocks are in [min_size, max_size) (bytes)" },
	{ "chunks", "5000", "blocks owned per thread (count)" },
	{ "rounds", "100", "a thread does rounds x chunks steps, then hands over to a new thread (count)" },
	{ NULL, NULL, NULL },
};

static const as_workload_desc_t workloads[] = {
	{ "larson", "micro", "server simulation: random free+malloc, thread chains, cross-thread frees",
	  params },
	{ NULL, NULL, NULL, NULL },
};

typedef struct slice_s {
	_Alignas(AS_CACHELINE) void **ptr;
	uint32_t *size;
	size_t n;
	unsigned tid;
	uint64_t gen; ///< generation of the thread now running this slice
	as_rng_t rng;
	uint64_t allocs;
} slice_t;

static struct {
	size_t min, range;
	uint64_t steps;
	_Atomic bool stop;
	_Atomic unsigned chains_done;
	_Atomic uint64_t threads_started;
} L;

static inline size_t pick_size(as_rng_t *r)
{
	return L.min + (size_t)as_rng_below(r, L.range);
}

static void *chain_main(void *arg);

static void start_thread(slice_t *s)
{
	pthread_t th;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	int e = pthread_create(&th, &attr, chain_main, s);
	pthread_attr_destroy(&attr);
	if (e)
		as_probe_fail("cannot start a larson thread: %s", strerror(e));
	as_atomic_fetch_add_relaxed(&L.threads_started, 1); // a count, read after all chains end
}

static void *chain_main(void *arg)
{
	slice_t *s = arg;
	as_probe_thread_setup(s->tid);
	for (uint64_t i = 0; i < L.steps; i++) {
		size_t v = (size_t)as_rng_below(&s->rng, s->n);
		mw_check(s->ptr[v], s->size[v], "larson: before free");
		mw_free(s->ptr[v], s->size[v]);
		size_t sz = pick_size(&s->rng);
		void *p = mw_malloc(sz);
		mw_stamp(p, sz);
		s->ptr[v] = p;
		s->size[v] = (uint32_t)sz;
		s->allocs++;
		// The flag is a hint polled now and then; staleness only delays stop.
		if ((i & 255) == 0 && as_atomic_load_relaxed(&L.stop))
			break;
	}
	as_probe_thread_done();
	if (as_atomic_load_acquire(&L.stop)) {
		as_atomic_fetch_add_release(&L.chains_done, 1);
		return NULL;
	}
	s->gen++;
	start_thread(s);
	return NULL;
}

int main(int argc, char **argv)
{
	as_probe_init(argc, argv, workloads);
	unsigned nt = as_probe_threads();
	double seconds = as_param_f64("seconds");
	if (seconds <= 0 || seconds > 3600)
		as_die(2, "parameter seconds=%g is out of range (0, 3600]", seconds);
	L.min = as_param_u64_range("min_size", 1, 1u << 30);
	size_t max = as_param_u64_range("max_size", L.min + 1, 1u << 30);
	L.range = max - L.min;
	size_t chunks = as_param_u64_range("chunks", 1, 1u << 24);
	L.steps = as_param_u64_range("rounds", 1, 1u << 20) * chunks;

	slice_t *sl = as_meta_alloc(sizeof(*sl) * nt, AS_CACHELINE);
	size_t total = chunks * nt;
	void **ptr = as_meta_alloc(sizeof(*ptr) * total, AS_CACHELINE);
	uint32_t *size = as_meta_alloc(sizeof(*size) * total, AS_CACHELINE);
	if (!sl || !ptr || !size)
		as_die(1, "cannot map the slot tables");

	// Warm-up on the main thread: fill, shuffle, churn 4 x chunks times.
	as_rng_t r;
	as_rng_seed(&r, as_probe_seed(), 1000000);
	for (size_t i = 0; i < total; i++) {
		size[i] = (uint32_t)pick_size(&r);
		ptr[i] = mw_malloc(size[i]);
		mw_stamp(ptr[i], size[i]);
	}
	for (size_t i = total - 1; i > 0; i--) {
		size_t j = (size_t)as_rng_below(&r, i + 1);
		void *tp = ptr[i];
		uint32_t ts = size[i];
		ptr[i] = ptr[j];
		size[i] = size[j];
		ptr[j] = tp;
		size[j] = ts;
	}
	for (size_t i = 0; i < 4 * chunks; i++) {
		size_t v = (size_t)as_rng_below(&r, total);
		mw_check(ptr[v], size[v], "larson warm-up: before free");
		mw_free(ptr[v], size[v]);
		size[v] = (uint32_t)pick_size(&r);
		ptr[v] = mw_malloc(size[v]);
		mw_stamp(ptr[v], size[v]);
	}

	as_probe_sample_now(); // one timeline sample with the full warm-up set held

	uint64_t t0 = as_now_ns();
	for (unsigned t = 0; t < nt; t++) {
		sl[t] = (slice_t){ .ptr = ptr + t * chunks, .size = size + t * chunks,
				   .n = chunks, .tid = t };
		as_rng_seed(&sl[t].rng, as_probe_seed(), t);
		start_thread(&sl[t]);
	}
	struct timespec ts = { (time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9) };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
	as_atomic_store_release(&L.stop, true);
	while (as_atomic_load_acquire(&L.chains_done) < nt) {
		struct timespec w = { 0, 1000000 };
		nanosleep(&w, NULL);
	}
	uint64_t t1 = as_now_ns();

	uint64_t allocs = 0;
	for (unsigned t = 0; t < nt; t++)
		allocs += sl[t].allocs;
	for (size_t i = 0; i < total; i++) {
		mw_check(ptr[i], size[i], "larson: final free");
		mw_free(ptr[i], size[i]);
	}
	mw_report(allocs, t1 - t0);
	as_probe_metric("threads_created", (double)as_atomic_load_relaxed(&L.threads_started)); // all ended
	as_probe_finish();
	return 0;
}
