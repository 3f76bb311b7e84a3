// SPDX-License-Identifier: MIT
// lifetime-mix: a server-like mix of lifetimes (our own workload), the case
// where size-class allocators strand memory and lifetime-aware ones (LLAMA,
// Maas et al., ASPLOS'20) claim their gains.
//
// Each thread serves requests. A request mallocs a request buffer and a few
// header objects (short-lived: freed when the request completes, `inflight`
// requests later), and now and then opens a session or inserts a cache entry
// (long-lived: kept until closed or evicted, many phases later). Each kind
// comes from its own non-inlined call site with its own code, so an
// allocator that hashes call stacks can tell the sites apart. The run goes
// through `phases` phases that alternately grow the long-lived set towards
// its high mark and shrink it to its low mark; short-lived objects keep
// flowing throughout and end up interleaved with the long-lived ones, so a
// shrink leaves pages that hold a few survivors. RSS against live bytes
// (frag_*) shows what the allocator strands; series phase_live_bytes and
// phase_rss_bytes give both at the end of every phase.
#include "as/err.h"
#include "as/meta.h"
#include "as/rng.h"
#include "lib/mw.h"

static const as_param_desc_t params[] = {
	{ "requests", "80000", "requests per thread per phase (count)" },
	{ "phases", "6", "phases, alternately growing and shrinking the long-lived set (count)" },
	{ "inflight", "64", "requests in flight per thread: short-lived objects live this many requests (count)" },
	{ "headers", "3", "header objects per request, 32-256 B each (count)" },
	{ "sessions_high", "10000", "sessions per thread at the end of a growing phase (count)" },
	{ "cache_high", "10000", "cache entries per thread at the end of a growing phase (count)" },
	{ "low_pct", "10", "a shrinking phase cuts the long-lived set to this share of its high mark (%)" },
	{ NULL, NULL, NULL },
};

static const as_workload_desc_t workloads[] = {
	{ "lifetime-mix", "micro",
	  "server mix: short-lived request buffers among long-lived sessions/cache entries, live set grows and shrinks",
	  params },
	{ NULL, NULL, NULL, NULL },
};

#define MAX_HEADERS 16

typedef struct obj_s {
	void *p;
	uint32_t size;
} obj_t;

typedef struct request_s {
	obj_t buf;
	obj_t hdr[MAX_HEADERS];
} request_t;

static struct {
	uint64_t requests;
	unsigned phases, headers;
	size_t inflight, sess_high, cache_high, low_pct;
	as_barrier_t barrier;
	double *phase_live, *phase_rss;
	mw_count_t *allocs;
	mw_count_t *held; ///< bytes each thread holds at a phase end
} X;

// Distinct allocation sites. Each differs in code (the tag it stamps), so an
// identical-code-folding pass cannot merge them.

static AS_NOINLINE void *site_request_buffer(size_t n)
{
	char *p = mw_malloc(n);
	mw_stamp(p, n);
	if (n > 64)
		p[16] = 'R';
	return p;
}

static AS_NOINLINE void *site_header(size_t n)
{
	char *p = mw_malloc(n);
	mw_stamp(p, n);
	if (n > 32)
		p[8] = 'H';
	return p;
}

static AS_NOINLINE void *site_session_open(size_t n)
{
	char *p = mw_malloc(n);
	mw_fill(p, n);
	return p;
}

static AS_NOINLINE void *site_cache_insert(size_t n)
{
	char *p = mw_malloc(n);
	mw_fill(p, n);
	as_do_not_optimize(p);
	return p;
}

static void release_stamped(obj_t *o, const char *where)
{
	if (!o->p)
		return;
	mw_check(o->p, o->size, where);
	mw_free(o->p, o->size);
	o->p = NULL;
}

static void release_filled(obj_t *o, const char *where)
{
	mw_verify(o->p, o->size, where);
	mw_free(o->p, o->size);
	o->p = NULL;
}

// A pool of long-lived objects: swap-remove at a random index.
typedef struct pool_s {
	obj_t *o;
	size_t n, cap;
} pool_t;

static void pool_drop_random(pool_t *pl, as_rng_t *r, const char *where)
{
	size_t i = (size_t)as_rng_below(r, pl->n);
	release_filled(&pl->o[i], where);
	pl->o[i] = pl->o[--pl->n];
}

// One step towards `target`: above it close two, below it open one, at it
// turn one over. Sizes are uniform in [lo, hi]; with `big_one_in` > 0, one in
// that many is 2-16 KiB instead. Returns the number of mallocs done.
static unsigned steer(pool_t *pl, size_t target, as_rng_t *r, void *(*site)(size_t),
		      uint64_t lo, uint64_t hi, uint64_t big_one_in, const char *where)
{
	if (pl->n > target) {
		for (int k = 0; k < 2 && pl->n > target; k++)
			pool_drop_random(pl, r, where);
		return 0;
	}
	if (pl->n == target && pl->n > 0)
		pool_drop_random(pl, r, where);
	if (pl->n >= pl->cap)
		return 0;
	obj_t *o = &pl->o[pl->n++];
	bool big = big_one_in && as_rng_below(r, big_one_in) == 0;
	o->size = (uint32_t)(big ? as_rng_range(r, 2048, 16384) : as_rng_range(r, lo, hi));
	o->p = site(o->size);
	return 1;
}

static uint64_t held_bytes(const request_t *ring, const pool_t *sess, const pool_t *cache)
{
	uint64_t b = 0;
	for (size_t i = 0; i < X.inflight; i++) {
		b += ring[i].buf.p ? ring[i].buf.size : 0;
		for (unsigned h = 0; h < X.headers; h++)
			b += ring[i].hdr[h].p ? ring[i].hdr[h].size : 0;
	}
	for (size_t i = 0; i < sess->n; i++)
		b += sess->o[i].size;
	for (size_t i = 0; i < cache->n; i++)
		b += cache->o[i].size;
	return b;
}

static void worker(unsigned tid, void *arg)
{
	(void)arg;
	as_rng_t r;
	as_rng_seed(&r, as_probe_seed(), tid);
	request_t *ring = as_meta_alloc(sizeof(*ring) * X.inflight, AS_CACHELINE);
	pool_t sess = { as_meta_alloc(sizeof(obj_t) * X.sess_high, 8), 0, X.sess_high };
	pool_t cache = { as_meta_alloc(sizeof(obj_t) * X.cache_high, 8), 0, X.cache_high };
	if (!ring || !sess.o || !cache.o)
		as_die(1, "cannot map the lifetime-mix tables");
	size_t sess_low = X.sess_high * X.low_pct / 100, cache_low = X.cache_high * X.low_pct / 100;
	uint64_t n = 0;

	for (unsigned ph = 0; ph < X.phases; ph++) {
		bool grow = (ph % 2) == 0;
		size_t sess_target = grow ? X.sess_high : sess_low;
		size_t cache_target = grow ? X.cache_high : cache_low;
		for (uint64_t q = 0; q < X.requests; q++) {
			request_t *rq = &ring[(ph * X.requests + q) % X.inflight];
			release_stamped(&rq->buf, "lifetime-mix: request buffer");
			for (unsigned h = 0; h < X.headers; h++)
				release_stamped(&rq->hdr[h], "lifetime-mix: header");
			rq->buf.size = (uint32_t)as_rng_range(&r, 256, 4096);
			rq->buf.p = site_request_buffer(rq->buf.size);
			for (unsigned h = 0; h < X.headers; h++) {
				rq->hdr[h].size = (uint32_t)as_rng_range(&r, 32, 256);
				rq->hdr[h].p = site_header(rq->hdr[h].size);
			}
			n += 1 + X.headers;
			// Long-lived churn: each pool is steered towards its target.
			uint64_t u = as_rng_below(&r, 100);
			if (u < 15)
				n += steer(&sess, sess_target, &r, site_session_open, 512, 2048, 0,
					   "lifetime-mix: session close");
			else if (u < 30)
				n += steer(&cache, cache_target, &r, site_cache_insert, 64, 512, 16,
					   "lifetime-mix: cache evict");
		}
		// Everyone reaches the phase end; thread 0 records live and RSS.
		as_barrier_wait(&X.barrier);
		X.held[tid].v = held_bytes(ring, &sess, &cache);
		as_barrier_wait(&X.barrier);
		if (tid == 0) {
			as_probe_sample_now();
			X.phase_rss[ph] = (double)mw_rss_bytes();
			X.phase_live[ph] = (double)mw_counts_sum(X.held, as_probe_threads());
		}
		as_barrier_wait(&X.barrier);
	}
	for (size_t i = 0; i < X.inflight; i++) {
		release_stamped(&ring[i].buf, "lifetime-mix: final request buffer");
		for (unsigned h = 0; h < X.headers; h++)
			release_stamped(&ring[i].hdr[h], "lifetime-mix: final header");
	}
	while (sess.n)
		release_filled(&sess.o[--sess.n], "lifetime-mix: final session close");
	while (cache.n)
		release_filled(&cache.o[--cache.n], "lifetime-mix: final cache evict");
	X.allocs[tid].v = n;
}

int main(int argc, char **argv)
{
	as_probe_init(argc, argv, workloads);
	unsigned nt = as_probe_threads();
	X.requests = as_param_u64_range("requests", 1, 1ull << 40);
	X.phases = (unsigned)as_param_u64_range("phases", 1, 10000);
	X.inflight = as_param_u64_range("inflight", 1, 1u << 20);
	X.headers = (unsigned)as_param_u64_range("headers", 0, MAX_HEADERS);
	X.sess_high = as_param_u64_range("sessions_high", 1, 1u << 26);
	X.cache_high = as_param_u64_range("cache_high", 1, 1u << 26);
	X.low_pct = as_param_u64_range("low_pct", 0, 100);
	X.phase_rss = as_meta_alloc(sizeof(double) * X.phases, 8);
	X.phase_live = as_meta_alloc(sizeof(double) * X.phases, 8);
	if (!X.phase_rss || !X.phase_live)
		as_die(1, "cannot map the phase series");
	X.allocs = mw_counts(nt);
	X.held = mw_counts(nt);
	as_barrier_init(&X.barrier, nt);
	uint64_t t0 = as_now_ns();
	as_probe_run_threads(nt, worker, NULL);
	uint64_t t1 = as_now_ns();
	mw_report(mw_counts_sum(X.allocs, nt), t1 - t0);
	as_probe_series("phase_live_bytes", X.phase_live, X.phases);
	as_probe_series("phase_rss_bytes", X.phase_rss, X.phases);
	as_probe_finish();
	return 0;
}
