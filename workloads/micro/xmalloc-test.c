// SPDX-License-Identifier: MIT
// xmalloc-test: producer/consumer object migration (after Lever & Boreham's
// xmalloc-test, run by mimalloc-bench as `xmalloc-test -w N -t 5 -s 64`).
// Written from the definition in shared/reference/benchmark-suites.md
// section 3.
//
// --threads W starts W producers and W consumers (2W threads). A producer
// mallocs batches of `batch` objects, writes the first min(size, 128) bytes
// of each and pushes the batch onto one mutex/condvar stack that holds at most
// `max_batches` batches (a full stack blocks producers). A consumer pops a
// batch and frees every object in it, so every object is freed by a thread
// other than its allocator. After `seconds` the producers stop and the
// consumers drain the stack. Throughput = frees per second summed over the
// consumers (mimalloc-bench prints 100 / (Mfrees/s)).
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "as/err.h"
#include "as/rng.h"
#include "lib/mw.h"

static const as_param_desc_t params[] = {
	{ "seconds", "1", "producer run time in seconds (s; mimalloc-bench uses 5)" },
	{ "size", "64", "object size in bytes, 0 = cycle through the 17 sizes 8..2048 of the original's -s -1 (bytes)" },
	{ "batch", "4096", "objects per batch (count)" },
	{ "max_batches", "100", "stack capacity in batches; producers wait when full (count)" },
	{ NULL, NULL, NULL },
};

static const as_workload_desc_t workloads[] = {
	{ "xmalloc-test", "micro", "producer/consumer: W threads malloc batches, W other threads free them",
	  params },
	{ NULL, NULL, NULL, NULL },
};

static const uint32_t mixed_sizes[] = { 8,   12,  16,  24,  32,  48,   64,   96,  128,
					192, 256, 384, 512, 768, 1024, 1536, 2048 };

typedef struct batch_s {
	struct batch_s *next;
	uint32_t n;
	void **obj;     ///< n objects (malloc'ed with the batch, as in the original)
	uint32_t *size; ///< their sizes
} batch_t;

static struct {
	pthread_mutex_t lock;
	pthread_cond_t not_full, not_empty;
	batch_t *top;
	unsigned depth, max_depth;
	unsigned producers_left;
	unsigned w;
	size_t size;
	uint32_t batch;
	uint64_t t_end_ns;
	mw_count_t *frees;
} X = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.not_full = PTHREAD_COND_INITIALIZER,
	.not_empty = PTHREAD_COND_INITIALIZER,
};

static batch_t *make_batch(as_rng_t *r)
{
	size_t bytes = sizeof(batch_t) + X.batch * (sizeof(void *) + sizeof(uint32_t));
	batch_t *b = mw_malloc(bytes);
	b->obj = (void **)(b + 1);
	b->size = (uint32_t *)(b->obj + X.batch);
	b->n = X.batch;
	b->next = NULL;
	for (uint32_t i = 0; i < X.batch; i++) {
		size_t sz = X.size ? X.size
				   : mixed_sizes[as_rng_below(r, AS_ARRAY_LEN(mixed_sizes))];
		char *p = mw_malloc(sz);
		memset(p, (int)(i & 0xff), sz < 128 ? sz : 128);
		mw_stamp(p, sz);
		b->obj[i] = p;
		b->size[i] = (uint32_t)sz;
	}
	return b;
}

static void free_batch(batch_t *b, unsigned tid)
{
	for (uint32_t i = 0; i < b->n; i++) {
		mw_check(b->obj[i], b->size[i], "xmalloc-test: consumer before free");
		mw_free(b->obj[i], b->size[i]);
	}
	X.frees[tid].v += b->n;
	mw_free(b, sizeof(batch_t) + X.batch * (sizeof(void *) + sizeof(uint32_t)));
}

static void producer(unsigned tid)
{
	as_rng_t r;
	as_rng_seed(&r, as_probe_seed(), tid);
	bool sampled = false;
	while (as_now_ns() < X.t_end_ns) {
		batch_t *b = make_batch(&r);
		if (tid == 0 && !sampled) {
			as_probe_sample_now(); // a timeline sample while a batch is held
			sampled = true;
		}
		pthread_mutex_lock(&X.lock);
		while (X.depth >= X.max_depth)
			pthread_cond_wait(&X.not_full, &X.lock);
		b->next = X.top;
		X.top = b;
		X.depth++;
		pthread_cond_signal(&X.not_empty);
		pthread_mutex_unlock(&X.lock);
	}
	pthread_mutex_lock(&X.lock);
	if (--X.producers_left == 0)
		pthread_cond_broadcast(&X.not_empty);
	pthread_mutex_unlock(&X.lock);
}

static void consumer(unsigned tid)
{
	for (;;) {
		pthread_mutex_lock(&X.lock);
		while (!X.top && X.producers_left > 0)
			pthread_cond_wait(&X.not_empty, &X.lock);
		batch_t *b = X.top;
		if (!b) {
			pthread_mutex_unlock(&X.lock);
			return;
		}
		X.top = b->next;
		X.depth--;
		pthread_cond_signal(&X.not_full);
		pthread_mutex_unlock(&X.lock);
		free_batch(b, tid);
	}
}

static void worker(unsigned tid, void *arg)
{
	(void)arg;
	if (tid < X.w)
		producer(tid);
	else
		consumer(tid);
}

int main(int argc, char **argv)
{
	as_probe_init(argc, argv, workloads);
	X.w = as_probe_threads();
	double seconds = as_param_f64("seconds");
	if (seconds <= 0 || seconds > 3600)
		as_die(2, "parameter seconds=%g is out of range (0, 3600]", seconds);
	X.size = as_param_u64_range("size", 0, 1u << 24);
	X.batch = (uint32_t)as_param_u64_range("batch", 1, 1u << 20);
	X.max_depth = (unsigned)as_param_u64_range("max_batches", 1, 1u << 20);
	X.producers_left = X.w;
	X.frees = mw_counts(2 * X.w);

	uint64_t t0 = as_now_ns();
	X.t_end_ns = t0 + (uint64_t)(seconds * 1e9);
	as_probe_run_threads(2 * X.w, worker, NULL);
	uint64_t t1 = as_now_ns();
	if (X.top)
		as_probe_fail("xmalloc-test: %u batches left after the consumers ended", X.depth);
	mw_report(mw_counts_sum(X.frees, 2 * X.w), t1 - t0);
	as_probe_info("ops_meaning", "frees per second summed over the %u consumer threads", X.w);
	as_probe_finish();
	return 0;
}
