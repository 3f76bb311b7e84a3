// SPDX-License-Identifier: MIT
// Seeded multithreaded stress of the adaptive core (after mimalloc's
// test-stress / mstress): threads on two simulated NUMA nodes allocate
// objects of mixed sizes (small, aligned, large), fill every byte with a
// pattern derived from the object's identity, verify every byte before
// freeing, and migrate objects between threads through a shared exchange
// array, so most frees are remote. Between phases all threads stop; one
// checks that no two live blocks overlap (by usable size) and runs the
// validate walk. 10^7 operations at full size, scaled by as_test_scale().
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../../allocators/object/adaptive/internal.h"
#include "as/rng.h"
#include "test.h"

#define ST_THREADS 4
#define ST_SLOTS 1024
#define ST_SHARED 4096
#define ST_PHASES 10

typedef struct st_obj_s {
	uint64_t id;   ///< identity: the fill pattern derives from it
	uint32_t size; ///< requested bytes
	uint32_t align;
} st_obj_t;

typedef struct st_ctx_s {
	uint64_t ops_per_phase;
	uint64_t seed;
	_Atomic uintptr_t shared[ST_SHARED];
	void *slots[ST_THREADS][ST_SLOTS];
	pthread_barrier_t bar;
	_Atomic int failed;
	char why[256];
	_Atomic uint64_t ops;
} st_ctx_t;

/// Pattern of 8-byte word w of object id; a tail byte takes its word's low bits.
static uint64_t pat(uint64_t id, size_t w)
{
	return id * 0x9e3779b97f4a7c15ULL + w * 0x2545f4914f6cdd1dULL;
}

static void fill(uint8_t *p, uint64_t id, size_t from, size_t size)
{
	size_t w = from / 8;
	for (; w < size / 8; w++) {
		uint64_t v = pat(id, w);
		memcpy(p + w * 8, &v, 8);
	}
	for (size_t j = w * 8; j < size; j++)
		p[j] = (uint8_t)(pat(id, w) >> (8 * (j % 8)));
}

/// Index of the first byte that differs from the pattern, or size.
static size_t verify(const uint8_t *p, uint64_t id, size_t from, size_t size)
{
	size_t w = from / 8;
	for (; w < size / 8; w++) {
		uint64_t v;
		memcpy(&v, p + w * 8, 8);
		if (v != pat(id, w))
			return w * 8;
	}
	for (size_t j = w * 8; j < size; j++)
		if (p[j] != (uint8_t)(pat(id, w) >> (8 * (j % 8))))
			return j;
	return size;
}

static size_t pick_size(as_rng_t *r, uint32_t *align)
{
	uint64_t x = as_rng_below(r, 1000);
	*align = 0;
	if (x < 600)
		return 16 + as_rng_below(r, 240);
	if (x < 900)
		return 256 + as_rng_below(r, 1800);
	if (x < 960) {
		*align = 32u << as_rng_below(r, 8); // 32 .. 4096
		return 16 + as_rng_below(r, 3000);
	}
	if (x < 997)
		return 2048 + as_rng_below(r, 12000);
	return 32768 + as_rng_below(r, 100000);
}

static void *st_alloc(as_rng_t *r, uint64_t id)
{
	uint32_t align;
	size_t size = pick_size(r, &align);
	uint8_t *p = align ? adp_aligned(align, size) : adp_malloc(size);
	if (!p)
		return NULL;
	st_obj_t *o = (st_obj_t *)p;
	o->id = id;
	o->size = (uint32_t)size;
	o->align = align;
	fill(p, id, sizeof(*o), size);
	return p;
}

static bool st_check(const void *v, char *why, size_t len)
{
	const uint8_t *p = v;
	const st_obj_t *o = v;
	if (o->align && (uintptr_t)p % o->align) {
		snprintf(why, len, "object %p lost its alignment %u", v, o->align);
		return false;
	}
	if (adp_usable_size(p) < o->size) {
		snprintf(why, len, "object %p usable %zu < size %u", v, adp_usable_size(p), o->size);
		return false;
	}
	size_t bad = verify(p, o->id, sizeof(*o), o->size);
	if (bad < o->size) {
		snprintf(why, len, "object %p (id %llu, size %u): bytes from %zu corrupted", v,
			 (unsigned long long)o->id, o->size, bad);
		return false;
	}
	return true;
}

static void st_fail(st_ctx_t *c, const char *why)
{
	int expect = 0;
	if (as_atomic_cas_strong_acq_rel(&c->failed, &expect, 1))
		snprintf(c->why, sizeof(c->why), "%s", why);
}

typedef struct st_span_s {
	uintptr_t lo, hi;
} st_span_t;

static int span_cmp(const void *a, const void *b)
{
	const st_span_t *x = a, *y = b;
	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/// All threads are stopped: no two live blocks may overlap.
static void st_overlap_check(st_ctx_t *c)
{
	static st_span_t spans[ST_THREADS * ST_SLOTS + ST_SHARED];
	size_t n = 0;
	for (unsigned t = 0; t < ST_THREADS; t++)
		for (unsigned i = 0; i < ST_SLOTS; i++)
			if (c->slots[t][i])
				spans[n++] = (st_span_t){ (uintptr_t)c->slots[t][i],
							  (uintptr_t)c->slots[t][i] + adp_usable_size(c->slots[t][i]) };
	for (unsigned i = 0; i < ST_SHARED; i++) {
		uintptr_t v = as_atomic_load_acquire(&c->shared[i]);
		if (v)
			spans[n++] = (st_span_t){ v, v + adp_usable_size((void *)v) };
	}
	qsort(spans, n, sizeof(spans[0]), span_cmp);
	for (size_t i = 1; i < n; i++)
		if (spans[i].lo < spans[i - 1].hi) {
			char why[200];
			snprintf(why, sizeof(why), "live blocks overlap: [%#lx,%#lx) and [%#lx,%#lx)",
				 (unsigned long)spans[i - 1].lo, (unsigned long)spans[i - 1].hi,
				 (unsigned long)spans[i].lo, (unsigned long)spans[i].hi);
			st_fail(c, why);
			return;
		}
}

typedef struct st_thread_s {
	st_ctx_t *c;
	unsigned tid;
} st_thread_t;

static void *st_worker(void *arg)
{
	st_thread_t *a = arg;
	st_ctx_t *c = a->c;
	unsigned tid = a->tid;
	void **slots = c->slots[tid];
	as_rng_t r;
	char why[256];
	as_rng_seed(&r, c->seed, tid);
	adp_set_thread_node((int)(tid % 2));
	uint64_t id = (uint64_t)tid << 48;
	for (unsigned phase = 0; phase < ST_PHASES && !as_atomic_load_acquire(&c->failed); phase++) {
		for (uint64_t op = 0; op < c->ops_per_phase; op++) {
			unsigned i = (unsigned)as_rng_below(&r, ST_SLOTS);
			uint64_t x = as_rng_below(&r, 100);
			if (x < 30) { // migrate through the shared array
				unsigned k = (unsigned)as_rng_below(&r, ST_SHARED);
				slots[i] = (void *)as_atomic_exchange_acq_rel(&c->shared[k], (uintptr_t)slots[i]);
				continue;
			}
			if (slots[i]) {
				if (!st_check(slots[i], why, sizeof(why))) {
					st_fail(c, why);
					break;
				}
				adp_free(slots[i]);
				slots[i] = NULL;
			}
			if (x < 80) {
				slots[i] = st_alloc(&r, ++id);
				if (!slots[i]) {
					st_fail(c, "allocation failed");
					break;
				}
			}
		}
		// Relaxed: a statistics total.
		as_atomic_fetch_add_relaxed(&c->ops, c->ops_per_phase);
		pthread_barrier_wait(&c->bar);
		if (tid == 0 && !as_atomic_load_acquire(&c->failed)) {
			st_overlap_check(c);
			if (!adp_validate(why, sizeof(why)))
				st_fail(c, why);
		}
		pthread_barrier_wait(&c->bar);
	}
	adp_thread_exit();
	return NULL;
}

static bool st_run(uint64_t total_ops, bool controller, uint64_t seed, char *why, size_t len)
{
	static st_ctx_t c;
	memset(&c, 0, sizeof(c));
	c.seed = seed;
	c.ops_per_phase = AS_MAX(total_ops / ST_THREADS / ST_PHASES, 1000);
	bool saved = adp_g.controller;
	adp_g.controller = controller;
	pthread_barrier_init(&c.bar, NULL, ST_THREADS);
	pthread_t th[ST_THREADS];
	st_thread_t args[ST_THREADS];
	for (unsigned t = 0; t < ST_THREADS; t++) {
		args[t] = (st_thread_t){ &c, t };
		pthread_create(&th[t], NULL, st_worker, &args[t]);
	}
	for (unsigned t = 0; t < ST_THREADS; t++)
		pthread_join(th[t], NULL);
	pthread_barrier_destroy(&c.bar);
	bool ok = !as_atomic_load_acquire(&c.failed);
	if (ok) { // everything left is verified and freed
		for (unsigned t = 0; t < ST_THREADS && ok; t++)
			for (unsigned i = 0; i < ST_SLOTS && ok; i++)
				if (c.slots[t][i]) {
					ok = st_check(c.slots[t][i], c.why, sizeof(c.why));
					adp_free(c.slots[t][i]);
				}
		for (unsigned i = 0; i < ST_SHARED && ok; i++) {
			void *v = (void *)as_atomic_load_acquire(&c.shared[i]);
			if (v) {
				ok = st_check(v, c.why, sizeof(c.why));
				adp_free(v);
			}
		}
	}
	adp_g.controller = saved;
	snprintf(why, len, "%s", c.why);
	printf("  %llu operations, controller %s\n", (unsigned long long)as_atomic_load_relaxed(&c.ops),
	       controller ? "on" : "off");
	return ok;
}

TEST(stress_adaptive)
{
	char why[256];
	check(adp_init());
	uint64_t ops = (uint64_t)(1e7 * as_test_scale());
	if (!st_run(ops, true, 42, why, sizeof(why)))
		check_fail("%s", why);
	if (!adp_validate(why, sizeof(why)))
		check_fail("validate: %s", why);
}

TEST(stress_adaptive_static)
{
	char why[256];
	check(adp_init());
	uint64_t ops = (uint64_t)(2.5e6 * as_test_scale());
	if (!st_run(ops, false, 7, why, sizeof(why)))
		check_fail("%s", why);
	if (!adp_validate(why, sizeof(why)))
		check_fail("validate: %s", why);
}
