// SPDX-License-Identifier: MIT
// thread-churn: many short-lived threads, each allocating a little (our own
// workload; serverless style, after mimalloc-bench's mleak and snmalloc's
// lotsofthreads). --threads driver threads each start `spawns` short-lived
// threads one after another (so up to N are alive at once). A short-lived
// thread mallocs `allocs` blocks of 16-1024 B, frees half of them itself,
// and leaves the other half in a shared handover pool, from which the next
// short-lived thread (of any driver) frees them first. Per-thread caches that
// are torn down and rebuilt each time pay here, and memory stranded in dead
// threads' caches shows as RSS against live bytes. Throughput = mallocs per
// second (threads_per_s gives the thread rate).
#include <pthread.h>
#include <string.h>

#include "as/err.h"
#include "as/meta.h"
#include "as/rng.h"
#include "lib/mw.h"

static const as_param_desc_t params[] = {
	{ "spawns", "2000", "short-lived threads started by each driver thread (count)" },
	{ "allocs", "200", "blocks each short-lived thread mallocs (count)" },
	{ "min_size", "16", "smallest block (bytes)" },
	{ "max_size", "1024", "largest block (bytes)" },
	{ NULL, NULL, NULL },
};

static const as_workload_desc_t workloads[] = {
	{ "thread-churn", "micro",
	  "many short-lived threads each malloc a little, free half, hand half to the next thread",
	  params },
	{ NULL, NULL, NULL, NULL },
};

typedef struct block_s {
	void *p;
	uint32_t size;
} block_t;

static struct {
	uint64_t spawns;
	size_t allocs, min, max;
	pthread_mutex_t lock; ///< guards the handover pool
	block_t *pool;
	size_t pool_n, pool_cap;
	mw_count_t *mallocs;
} W = { .lock = PTHREAD_MUTEX_INITIALIZER };

typedef struct job_s {
	unsigned driver;
	uint64_t seq;
	uint64_t mallocs;
} job_t;

static void pool_release_all(block_t *b, size_t n, const char *where)
{
	for (size_t i = 0; i < n; i++) {
		mw_check(b[i].p, b[i].size, where);
		mw_free(b[i].p, b[i].size);
	}
}

static void *short_main(void *arg)
{
	job_t *j = arg;
	as_probe_thread_setup(j->driver);
	as_rng_t r;
	as_rng_seed(&r, as_probe_seed(), (uint64_t)j->driver << 40 | j->seq);
	size_t half = W.allocs / 2;
	block_t *mine = mw_malloc(sizeof(block_t) * (W.allocs ? W.allocs : 1));

	// Take over what an earlier thread left and free it (cross-thread frees).
	block_t taken[1024];
	size_t nt = 0;
	pthread_mutex_lock(&W.lock);
	while (W.pool_n && nt < AS_ARRAY_LEN(taken))
		taken[nt++] = W.pool[--W.pool_n];
	pthread_mutex_unlock(&W.lock);
	pool_release_all(taken, nt, "thread-churn: block left by an earlier thread");

	for (size_t i = 0; i < W.allocs; i++) {
		mine[i].size = (uint32_t)as_rng_range(&r, W.min, W.max);
		mine[i].p = mw_malloc(mine[i].size);
		mw_stamp(mine[i].p, mine[i].size);
	}
	pool_release_all(mine + half, W.allocs - half, "thread-churn: own block");
	pthread_mutex_lock(&W.lock);
	for (size_t i = 0; i < half; i++) {
		if (W.pool_n == W.pool_cap) {
			pthread_mutex_unlock(&W.lock);
			pool_release_all(mine + i, half - i, "thread-churn: own block (pool full)");
			pthread_mutex_lock(&W.lock);
			break;
		}
		W.pool[W.pool_n++] = mine[i];
	}
	pthread_mutex_unlock(&W.lock);
	mw_free(mine, sizeof(block_t) * (W.allocs ? W.allocs : 1));
	j->mallocs = W.allocs + 1;
	as_probe_thread_done();
	return NULL;
}

static void driver(unsigned tid, void *arg)
{
	(void)arg;
	uint64_t n = 0;
	for (uint64_t s = 0; s < W.spawns; s++) {
		job_t j = { .driver = tid, .seq = s };
		pthread_t th;
		int e = pthread_create(&th, NULL, short_main, &j);
		if (e)
			as_probe_fail("thread-churn: cannot start thread %llu: %s",
				      (unsigned long long)s, strerror(e));
		pthread_join(th, NULL);
		n += j.mallocs;
	}
	W.mallocs[tid].v = n;
}

int main(int argc, char **argv)
{
	as_probe_init(argc, argv, workloads);
	unsigned nt = as_probe_threads();
	W.spawns = as_param_u64_range("spawns", 1, 1u << 20);
	// Every short-lived thread takes a probe slot (the probe has 65536).
	if (W.spawns * nt > 60000)
		as_die(2, "spawns x threads = %llu exceeds 60000 short-lived threads",
		       (unsigned long long)(W.spawns * nt));
	W.allocs = as_param_u64_range("allocs", 0, 1u << 20);
	W.min = as_param_u64_range("min_size", 1, 1u << 30);
	W.max = as_param_u64_range("max_size", W.min, 1u << 30);
	W.pool_cap = 1024 * (size_t)nt;
	W.pool = as_meta_alloc(sizeof(block_t) * W.pool_cap, AS_CACHELINE);
	if (!W.pool)
		as_die(1, "cannot map the handover pool");
	W.mallocs = mw_counts(nt);
	uint64_t t0 = as_now_ns();
	as_probe_run_threads(nt, driver, NULL);
	uint64_t t1 = as_now_ns();
	pool_release_all(W.pool, W.pool_n, "thread-churn: final free");
	W.pool_n = 0;
	mw_report(mw_counts_sum(W.mallocs, nt), t1 - t0);
	as_probe_metric("threads_per_s", (double)(W.spawns * nt) / ((double)(t1 - t0) / 1e9));
	as_probe_metric("threads_created", (double)(W.spawns * nt));
	as_probe_finish();
	return 0;
}
