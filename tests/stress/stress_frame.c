// SPDX-License-Identifier: MIT
// Multithreaded overlap stress test of every frame allocator in the build
// (frame_allocators), issues 5 and 6. 2-4 threads get and put blocks at
// random; every block a get returns is claimed, frame by frame, in a shared
// ownership map with an atomic test-and-set, so two live blocks that share a
// frame are caught at once (the failure names allocator, frame and orders).
// Blocks are released in the map before they are put. A share of the puts are
// cross-thread: a thread hands a block to a neighbour's mailbox and the
// neighbour puts it from its own core. Between phases the threads join and
// the main thread checks stats.free_frames against what the threads hold and
// runs validate; at the end everything is put back, every core drained, and
// the allocator must report all frames (and all huge frames) free.
//
// Configurations: the NBBS small-arena settings that broke the authors'
// 4-level code (16 and 32 MiB arenas, 4-64 KiB blocks = orders 0-4, held near
// full), and a large memory (1 GiB) with every order 0-10. The map has one
// bit per frame; a claim is an atomic fetch-or per 64-frame word that fails
// if any of its bits was already set.
//
// Size: AS_FRAME_STRESS_OPS operations per allocator (default 4,000,000, so
// `make test` stays within its time budget), times as_test_scale(). The full
// sizes of the issues: AS_FRAME_STRESS_OPS=10000000 (issue 5), 100000000 for
// nbbs (issue 6). AS_FRAME_STRESS_ALLOC=NAME runs one allocator only (it
// says so), AS_FRAME_STRESS_CONFIG=SUBSTRING only the matching
// configurations, AS_FRAME_STRESS_VERBOSE=1 prints each configuration's counts and
// time. A self-test first runs the checker against a deliberately
// broken allocator and requires it to report an overlap.
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "as/atomic.h"
#include "as/meta.h"
#include "as/rng.h"
#include "frame.h"
#include "test.h"

// ---------------------------------------------------------------------------
// A tiny locked reference allocator, only for the checker's self-test: one
// mutex, one byte per frame (0 free, order+1 at a block's head, 0xff inside),
// first-fit over aligned positions. With `broken`, every 997th get hands out
// a block that is already allocated, which the checker must catch.

typedef struct sref_s {
	pthread_mutex_t lock;
	uint64_t frames;
	uint64_t free;
	uint64_t gets;
	bool broken;
	uint8_t *st;
} sref_t;

static frame_alloc_t *sref_create_impl(const frame_config_t *cfg, bool broken)
{
	sref_t *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	pthread_mutex_init(&r->lock, NULL);
	r->frames = cfg->frames;
	r->free = cfg->frames;
	r->broken = broken;
	r->st = calloc(cfg->frames, 1);
	return (frame_alloc_t *)r;
}

static frame_alloc_t *sref_create_broken(const frame_config_t *cfg, char *err, size_t len)
{
	(void)err;
	(void)len;
	return sref_create_impl(cfg, true);
}

static void sref_destroy(frame_alloc_t *fa)
{
	sref_t *r = (sref_t *)fa;
	free(r->st);
	free(r);
}

static bool sref_range_free(sref_t *r, uint64_t f, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		if (r->st[f + i])
			return false;
	return true;
}

static frame_result_t sref_get(frame_alloc_t *fa, unsigned core, unsigned order)
{
	sref_t *r = (sref_t *)fa;
	(void)core;
	frame_result_t res = { .frame = 0, .err = FRAME_ERR_MEMORY };
	if (order > FRAME_MAX_ORDER) {
		res.err = FRAME_ERR_ARGUMENT;
		return res;
	}
	uint64_t n = 1ULL << order;
	pthread_mutex_lock(&r->lock);
	bool lie = r->broken && ++r->gets % 997 == 0;
	for (uint64_t f = 0; f + n <= r->frames; f += n) {
		if (lie && r->st[f] == order + 1) {
			res = (frame_result_t){ .frame = f, .err = FRAME_OK };
			break;
		}
		if (!lie && sref_range_free(r, f, n)) {
			r->st[f] = (uint8_t)(order + 1);
			memset(r->st + f + 1, 0xff, n - 1);
			r->free -= n;
			res = (frame_result_t){ .frame = f, .err = FRAME_OK };
			break;
		}
	}
	pthread_mutex_unlock(&r->lock);
	return res;
}

static frame_err_t sref_put(frame_alloc_t *fa, unsigned core, uint64_t frame, unsigned order)
{
	sref_t *r = (sref_t *)fa;
	(void)core;
	frame_err_t e = FRAME_ERR_ARGUMENT;
	pthread_mutex_lock(&r->lock);
	if (order <= FRAME_MAX_ORDER && frame < r->frames && !(frame & ((1ULL << order) - 1)) &&
	    r->st[frame] == order + 1) {
		memset(r->st + frame, 0, 1ULL << order);
		r->free += 1ULL << order;
		e = FRAME_OK;
	}
	pthread_mutex_unlock(&r->lock);
	return e;
}

static void sref_drain(frame_alloc_t *fa, unsigned core)
{
	(void)fa;
	(void)core;
}

static void sref_stats(frame_alloc_t *fa, frame_stats_t *out)
{
	sref_t *r = (sref_t *)fa;
	pthread_mutex_lock(&r->lock);
	out->frames = r->frames;
	out->free_frames = r->free;
	out->free_huge = 0;
	for (uint64_t h = 0; h < r->frames; h += FRAME_HUGE_FRAMES)
		out->free_huge += sref_range_free(r, h, FRAME_HUGE_FRAMES);
	out->metadata_bytes = r->frames;
	pthread_mutex_unlock(&r->lock);
}

static void sref_free_counts(frame_alloc_t *fa, uint16_t *out)
{
	sref_t *r = (sref_t *)fa;
	pthread_mutex_lock(&r->lock);
	for (uint64_t h = 0; h < r->frames / FRAME_HUGE_FRAMES; h++) {
		uint16_t n = 0;
		for (uint64_t i = 0; i < FRAME_HUGE_FRAMES; i++)
			n += r->st[h * FRAME_HUGE_FRAMES + i] == 0;
		out[h] = n;
	}
	pthread_mutex_unlock(&r->lock);
}

static bool sref_validate(frame_alloc_t *fa, char *why, size_t len)
{
	(void)fa;
	(void)why;
	(void)len;
	return true;
}

static const struct frame_ops sref_broken_ops = {
	.name = "selftest-broken",
	.desc = "locked first-fit that hands out an allocated block every 997th get",
	.create = sref_create_broken,
	.destroy = sref_destroy,
	.get = sref_get,
	.put = sref_put,
	.drain = sref_drain,
	.stats = sref_stats,
	.free_counts = sref_free_counts,
	.validate = sref_validate,
};

// ---------------------------------------------------------------------------
// The stress driver

#define ST_MAX_THREADS 4
#define ST_MAILBOX 256

typedef struct st_block_s {
	uint64_t frame;
	unsigned order;
} st_block_t;

typedef struct st_mailbox_s {
	pthread_mutex_t lock;
	st_block_t slot[ST_MAILBOX];
	unsigned n;
} st_mailbox_t;

typedef struct st_cfg_s {
	const char *name;
	uint64_t frames;
	unsigned min_order, max_order;
	unsigned threads;
	unsigned occupancy_pct; ///< held frames aimed at, percent of memory
	/// Burst mode (the NBBS thread-test pattern) when > 0: get this many
	/// blocks, then put them all, and again; occupancy_pct is unused.
	uint64_t burst;
} st_cfg_t;

typedef struct st_thread_s {
	_Alignas(64) st_block_t *held;
	uint64_t nheld;
	uint64_t held_frames;
	uint64_t cap;
	as_rng_t rng;
	uint64_t gets, fails, puts, remote_puts;
	uint64_t head; ///< next block st_unhold_ordered takes: held[head..nheld)
} st_thread_t;

typedef struct st_run_s {
	const struct frame_ops *ops;
	frame_alloc_t *fa;
	const st_cfg_t *cfg;
	_Atomic uint64_t *own; ///< one bit per frame: 1 = claimed by a live block
	st_thread_t th[ST_MAX_THREADS];
	st_mailbox_t box[ST_MAX_THREADS];
	uint64_t ops_per_thread; ///< in the current phase
	pthread_barrier_t bar;   ///< burst mode: all threads between bursts
	_Atomic bool overlap;
	_Atomic bool bad;        ///< put error, out-of-range or misaligned block
	char msg[512];           ///< first failure, written once under msg_lock
	pthread_mutex_t msg_lock;
} st_run_t;

typedef struct st_targ_s {
	st_run_t *run;
	unsigned tid;
} st_targ_t;

static void st_report(st_run_t *r, _Atomic bool *flag, const char *fmt, ...) AS_PRINTF(3, 4);
static void st_report(st_run_t *r, _Atomic bool *flag, const char *fmt, ...)
{
	pthread_mutex_lock(&r->msg_lock);
	if (!as_atomic_load_acquire(&r->overlap) && !as_atomic_load_acquire(&r->bad)) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(r->msg, sizeof(r->msg), fmt, ap);
		va_end(ap);
	}
	as_atomic_store_release(flag, true);
	pthread_mutex_unlock(&r->msg_lock);
}

/// Bits that block [f, f+n) covers in each ownership word it touches (n a
/// power of two and f aligned to n: a block of 64 frames or more covers whole
/// words, a smaller one sits inside one word).
static uint64_t st_mask(uint64_t f, uint64_t n)
{
	if (n >= 64)
		return ~0ULL;
	return ((1ULL << n) - 1) << (f & 63);
}

/// Claim the frames of a block just returned by get, one bit per frame
/// set with an atomic fetch-or (a test-and-set of up to 64 frames at once);
/// false on overlap.
static bool st_claim(st_run_t *r, unsigned tid, uint64_t f, unsigned order)
{
	uint64_t n = 1ULL << order;
	if (f >= r->cfg->frames || f + n > r->cfg->frames || (f & (n - 1))) {
		st_report(r, &r->bad, "%s: get(order %u) returned frame %llu: out of range or "
				      "misaligned",
			  r->ops->name, order, (unsigned long long)f);
		return false;
	}
	uint64_t w0 = f / 64;
	uint64_t w1 = (f + n - 1) / 64;
	for (uint64_t w = w0; w <= w1; w++) {
		uint64_t m = st_mask(f, n);
		uint64_t old = as_atomic_fetch_or_acq_rel(&r->own[w], m);
		if (old & m) {
			uint64_t clash = w * 64 + (uint64_t)__builtin_ctzll(old & m);
			st_report(r, &r->overlap,
				  "%s: OVERLAP: thread %u got frame %llu (order %u) whose frame %llu "
				  "is in another live block",
				  r->ops->name, tid, (unsigned long long)f, order,
				  (unsigned long long)clash);
			// Undo only the bits this block set, not the other block's.
			as_atomic_fetch_and_acq_rel(&r->own[w], ~(m & ~old));
			for (uint64_t k = w0; k < w; k++)
				as_atomic_fetch_and_acq_rel(&r->own[k], ~st_mask(f, n));
			return false;
		}
	}
	return true;
}

/// Release a block in the map, then put it.
static void st_release_put(st_run_t *r, unsigned tid, st_block_t b)
{
	uint64_t n = 1ULL << b.order;
	for (uint64_t w = b.frame / 64; w <= (b.frame + n - 1) / 64; w++) {
		uint64_t m = st_mask(b.frame, n);
		if ((as_atomic_fetch_and_acq_rel(&r->own[w], ~m) & m) != m)
			st_report(r, &r->bad, "%s: ownership map lost frames near %llu (test bug)",
				  r->ops->name, (unsigned long long)(w * 64));
	}
	frame_err_t e = r->ops->put(r->fa, tid, b.frame, b.order);
	if (e != FRAME_OK)
		st_report(r, &r->bad, "%s: put(core %u, frame %llu, order %u) of a live block: %s",
			  r->ops->name, tid, (unsigned long long)b.frame, b.order,
			  frame_strerror(e));
}

static void st_hold(st_thread_t *t, st_block_t b)
{
	t->held[t->nheld++] = b;
	t->held_frames += 1ULL << b.order;
}

static st_block_t st_unhold(st_thread_t *t, uint64_t i)
{
	st_block_t b = t->held[i];
	t->held[i] = t->held[--t->nheld];
	t->held_frames -= 1ULL << b.order;
	return b;
}

/// Take the oldest held block (a FIFO over the held array, for bursts and
/// the final cleanup).
static st_block_t st_unhold_ordered(st_thread_t *t)
{
	st_block_t b = t->held[t->head++];
	t->held_frames -= 1ULL << b.order;
	if (t->head == t->nheld)
		t->head = t->nheld = 0;
	return b;
}

/// Put the blocks other threads handed to this one.
static void st_drain_mailbox(st_run_t *r, unsigned tid)
{
	st_mailbox_t *m = &r->box[tid];
	st_block_t local[ST_MAILBOX];
	unsigned n;
	pthread_mutex_lock(&m->lock);
	n = m->n;
	memcpy(local, m->slot, sizeof(st_block_t) * n);
	m->n = 0;
	pthread_mutex_unlock(&m->lock);
	for (unsigned i = 0; i < n; i++)
		st_release_put(r, tid, local[i]);
	r->th[tid].remote_puts += n;
}

/// Hand a block to the next thread; false if its mailbox is full.
static bool st_send(st_run_t *r, unsigned to, st_block_t b)
{
	st_mailbox_t *m = &r->box[to];
	bool ok = false;
	pthread_mutex_lock(&m->lock);
	if (m->n < ST_MAILBOX) {
		m->slot[m->n++] = b;
		ok = true;
	}
	pthread_mutex_unlock(&m->lock);
	return ok;
}

static void *st_thread_main(void *p)
{
	st_targ_t *ta = p;
	st_run_t *r = ta->run;
	unsigned tid = ta->tid;
	st_thread_t *t = &r->th[tid];
	const st_cfg_t *cfg = r->cfg;
	uint64_t target = cfg->frames * cfg->occupancy_pct / 100 / cfg->threads;
	unsigned span = cfg->max_order - cfg->min_order + 1;
	for (uint64_t op = 0; op < r->ops_per_thread; op++) {
		if (as_atomic_load_relaxed(&r->overlap) || as_atomic_load_relaxed(&r->bad))
			break; // relaxed: only a stop hint, the flag's writer reports
		if ((op & 63) == 0)
			st_drain_mailbox(r, tid);
		uint64_t x = as_rng_next(&t->rng);
		// Below the target, get 3 times in 4; above, put 3 times in 4.
		// Holding nothing, get (so every iteration is one operation).
		bool want_get = t->held_frames < target ? (x & 3) != 0 : (x & 3) == 0;
		if ((want_get || !t->nheld) && t->nheld < t->cap) {
			unsigned order = cfg->min_order + (unsigned)((x >> 8) % span);
			// Small orders more often: halve the order half the time.
			if ((x >> 16) & 1)
				order = cfg->min_order + (order - cfg->min_order) / 2;
			frame_result_t res = r->ops->get(r->fa, tid, order);
			t->gets++;
			if (res.err != FRAME_OK) {
				if (res.err != FRAME_ERR_MEMORY && res.err != FRAME_ERR_RETRY)
					st_report(r, &r->bad, "%s: get(order %u) failed with %s",
						  r->ops->name, order, frame_strerror(res.err));
				t->fails++;
				continue;
			}
			if (!st_claim(r, tid, res.frame, order))
				break;
			st_hold(t, (st_block_t){ res.frame, order });
		} else if (t->nheld) {
			st_block_t b = st_unhold(t, (x >> 24) % t->nheld);
			// One put in 8 goes to the neighbour, who puts it later.
			if (cfg->threads > 1 && ((x >> 40) & 7) == 0 &&
			    st_send(r, (tid + 1) % cfg->threads, b))
				continue;
			st_release_put(r, tid, b);
			t->puts++;
		}
	}
	return NULL;
}

/// Burst mode (the NBBS thread-test pattern): every thread gets cfg->burst
/// blocks, then puts them in get order (odd threads in two half bursts, so
/// gets and puts of different threads overlap); after each burst all threads wait
/// while thread 0 runs validate, so a stale mark left by a racing put is
/// seen before a later burst can repair it.
static void *st_burst_thread(void *p)
{
	st_targ_t *ta = p;
	st_run_t *r = ta->run;
	unsigned tid = ta->tid;
	st_thread_t *t = &r->th[tid];
	const st_cfg_t *cfg = r->cfg;
	uint64_t bursts = r->ops_per_thread / (2 * cfg->burst) + 1;
	// Odd threads split each period into two half bursts, so their puts
	// run while the even threads get, and the other way round.
	unsigned subs = 1 + tid % 2;
	for (uint64_t k = 0; k < bursts; k++) {
		for (unsigned sub = 0; sub < subs; sub++) {
			for (uint64_t i = 0; i < cfg->burst / subs; i++) {
				frame_result_t res = r->ops->get(r->fa, tid, cfg->min_order);
				t->gets++;
				if (res.err != FRAME_OK) {
					t->fails++;
					continue;
				}
				if (!st_claim(r, tid, res.frame, cfg->min_order))
					break;
				st_hold(t, (st_block_t){ res.frame, cfg->min_order });
			}
			while (t->nheld) {
				st_release_put(r, tid, st_unhold_ordered(t));
				t->puts++;
			}
		}
		pthread_barrier_wait(&r->bar);
		if (tid == 0) {
			char why[256] = "";
			if (!r->ops->validate(r->fa, why, sizeof(why)))
				st_report(r, &r->bad, "%s: validate after burst %llu: %s",
					  r->ops->name, (unsigned long long)k + 1, why);
		}
		pthread_barrier_wait(&r->bar);
		if (as_atomic_load_relaxed(&r->overlap) || as_atomic_load_relaxed(&r->bad))
			break; // relaxed: read after the barrier, which ordered the write
	}
	return NULL;
}

/// Run one phase on all threads and join them.
static void st_phase(st_run_t *r, uint64_t ops_per_thread)
{
	pthread_t th[ST_MAX_THREADS];
	st_targ_t ta[ST_MAX_THREADS];
	r->ops_per_thread = ops_per_thread;
	for (unsigned i = 0; i < r->cfg->threads; i++) {
		ta[i] = (st_targ_t){ r, i };
		pthread_create(&th[i], NULL, r->cfg->burst ? st_burst_thread : st_thread_main,
			       &ta[i]);
	}
	for (unsigned i = 0; i < r->cfg->threads; i++)
		pthread_join(th[i], NULL);
	for (unsigned i = 0; i < r->cfg->threads; i++)
		st_drain_mailbox(r, i);
}

/// Check stats and validate between phases; returns false with r->msg set.
static bool st_check(st_run_t *r, const char *when)
{
	frame_stats_t s;
	char why[256] = "";
	uint64_t held = 0;
	for (unsigned i = 0; i < r->cfg->threads; i++)
		held += r->th[i].held_frames;
	memset(&s, 0, sizeof(s));
	r->ops->stats(r->fa, &s);
	if (s.free_frames != r->cfg->frames - held) {
		snprintf(r->msg, sizeof(r->msg), "%s %s: stats.free_frames %llu, expected %llu",
			 r->ops->name, when, (unsigned long long)s.free_frames,
			 (unsigned long long)(r->cfg->frames - held));
		return false;
	}
	if (!r->ops->validate(r->fa, why, sizeof(why))) {
		snprintf(r->msg, sizeof(r->msg), "%s %s: validate: %s", r->ops->name, when, why);
		return false;
	}
	return true;
}

typedef struct st_result_s {
	bool ok;
	bool overlap;
	uint64_t ops;
	uint64_t fails;
	char msg[512];
} st_result_t;

static void st_run(const struct frame_ops *ops, const st_cfg_t *cfg, uint64_t total_ops,
		   uint64_t seed, st_result_t *res)
{
	const unsigned phases = 4;
	char err[256] = "";
	memset(res, 0, sizeof(*res));
	frame_config_t fc = { .frames = cfg->frames, .cores = cfg->threads, .options = NULL };
	st_run_t *r = as_meta_alloc(sizeof(*r), 64);
	if (!r) {
		snprintf(res->msg, sizeof(res->msg), "no memory for the run state");
		return;
	}
	r->ops = ops;
	r->cfg = cfg;
	pthread_mutex_init(&r->msg_lock, NULL);
	pthread_barrier_init(&r->bar, NULL, cfg->threads);
	r->fa = ops->create(&fc, err, sizeof(err));
	if (!r->fa) {
		snprintf(res->msg, sizeof(res->msg), "%s: create(%llu frames) failed: %s", ops->name,
			 (unsigned long long)cfg->frames, err);
		goto out_state;
	}
	r->own = as_meta_alloc(cfg->frames / 8, 64);
	uint64_t cap = cfg->frames / cfg->threads + 1;
	for (unsigned i = 0; i < cfg->threads; i++) {
		pthread_mutex_init(&r->box[i].lock, NULL);
		r->th[i].cap = cap;
		r->th[i].held = as_meta_alloc(sizeof(st_block_t) * cap, 64);
		as_rng_seed(&r->th[i].rng, seed, i);
	}
	res->ok = true;
	for (unsigned ph = 0; ph < phases && res->ok; ph++) {
		st_phase(r, total_ops / phases / cfg->threads);
		char when[64];
		snprintf(when, sizeof(when), "after phase %u", ph + 1);
		if (as_atomic_load_acquire(&r->overlap) || as_atomic_load_acquire(&r->bad) ||
		    !st_check(r, when))
			res->ok = false;
	}
	res->overlap = as_atomic_load_acquire(&r->overlap);
	for (unsigned i = 0; i < cfg->threads; i++) {
		st_thread_t *t = &r->th[i];
		res->ops += t->gets + t->puts + t->remote_puts;
		res->fails += t->fails;
		while (t->nheld)
			st_release_put(r, i, st_unhold_ordered(t));
	}
	if (res->ok) {
		for (unsigned i = 0; i < cfg->threads; i++)
			ops->drain(r->fa, i);
		frame_stats_t s;
		memset(&s, 0, sizeof(s));
		ops->stats(r->fa, &s);
		if (as_atomic_load_acquire(&r->bad))
			res->ok = false;
		else if (s.free_frames != cfg->frames || s.free_huge != cfg->frames / FRAME_HUGE_FRAMES) {
			snprintf(r->msg, sizeof(r->msg),
				 "%s at the end: %llu/%llu frames and %llu/%llu huge frames free",
				 ops->name, (unsigned long long)s.free_frames,
				 (unsigned long long)cfg->frames, (unsigned long long)s.free_huge,
				 (unsigned long long)(cfg->frames / FRAME_HUGE_FRAMES));
			res->ok = false;
		} else if (!st_check(r, "at the end")) {
			res->ok = false;
		}
	}
	memcpy(res->msg, r->msg, sizeof(res->msg));
	for (unsigned i = 0; i < cfg->threads; i++)
		as_meta_free(r->th[i].held, sizeof(st_block_t) * cap, 64);
	as_meta_free((void *)r->own, cfg->frames / 8, 64);
	ops->destroy(r->fa);
out_state:
	pthread_barrier_destroy(&r->bar);
	as_meta_free(r, sizeof(*r), 64);
}

static const st_cfg_t st_configs[] = {
	// The NBBS small-arena settings: 16/32 MiB, 4-64 KiB blocks, near full.
	{ "16MiB-o0-4-2t-95%", 4096, 0, 4, 2, 95, 0 },
	{ "16MiB-o0-4-4t-90%", 4096, 0, 4, 4, 90, 0 },
	{ "32MiB-o0-4-3t-95%", 8192, 0, 4, 3, 95, 0 },
	{ "32MiB-o0-0-2t-99%", 8192, 0, 0, 2, 99, 0 },
	// Large memory, every order.
	{ "1GiB-o0-10-2t-70%", 262144, 0, 10, 2, 70, 0 },
	{ "1GiB-o9-10-4t-90%", 262144, 9, 10, 4, 90, 0 },
	// The NBBS thread-test pattern: bursts of order-0 gets, then puts.
	{ "256MiB-o0-2t-bursts", 65536, 0, 0, 2, 0, 12500 },
	{ "256MiB-o0-3t-bursts", 65536, 0, 0, 3, 0, 8000 },
};

static uint64_t st_total_ops(void)
{
	uint64_t ops = 4000000;
	const char *e = getenv("AS_FRAME_STRESS_OPS");
	if (e && strtoull(e, NULL, 10) > 0)
		ops = strtoull(e, NULL, 10);
	ops = (uint64_t)((double)ops * as_test_scale());
	return ops < 20000 ? 20000 : ops;
}

TEST(frame_stress_selftest_detects_overlap)
{
	st_cfg_t cfg = { "selftest", 4096, 0, 2, 2, 60, 0 };
	st_result_t res;
	st_run(&sref_broken_ops, &cfg, 50000, 1, &res);
	if (!res.overlap)
		check_fail("the checker missed the broken allocator's overlaps (%s)", res.msg);
	printf("  selftest: caught: %s\n", res.msg);
}

TEST(frame_stress_all)
{
	uint64_t total = st_total_ops();
	unsigned n = 0;
	char names[512] = "";
	const char *only = getenv("AS_FRAME_STRESS_ALLOC");
	const char *cfg_only = getenv("AS_FRAME_STRESS_CONFIG");
	for (const struct frame_ops *const *o = frame_allocators; *o; o++) {
		const struct frame_ops *ops = *o;
		uint64_t done = 0;
		if (only && *only && strcmp(only, ops->name)) {
			printf("  %s: skipped (AS_FRAME_STRESS_ALLOC=%s)\n", ops->name, only);
			continue;
		}
		uint64_t fails = 0;
		// Spread the per-allocator budget over the configurations.
		for (unsigned i = 0; i < AS_ARRAY_LEN(st_configs); i++) {
			st_result_t res;
			if (cfg_only && *cfg_only && !strstr(st_configs[i].name, cfg_only))
				continue;
			struct timespec t0, t1;
			clock_gettime(CLOCK_MONOTONIC, &t0);
			st_run(ops, &st_configs[i], total / AS_ARRAY_LEN(st_configs), 42 + i, &res);
			clock_gettime(CLOCK_MONOTONIC, &t1);
			if (getenv("AS_FRAME_STRESS_VERBOSE"))
				printf("    %s %s: %llu ops, %llu failed gets, %.2f s\n", ops->name,
				       st_configs[i].name, (unsigned long long)res.ops,
				       (unsigned long long)res.fails,
				       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
			if (!res.ok)
				check_fail("%s config %s: %s", ops->name, st_configs[i].name,
					   res.msg[0] ? res.msg : "failed");
			done += res.ops;
			fails += res.fails;
		}
		printf("  %s: %llu ops, %llu failed gets (expected near full), no overlap\n",
		       ops->name, (unsigned long long)done, (unsigned long long)fails);
		snprintf(names + strlen(names), sizeof(names) - strlen(names), " %s", ops->name);
		n++;
	}
	printf("  stress ran on %u frame allocators:%s\n", n, n ? names : " (none in this build)");
}
