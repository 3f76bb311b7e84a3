// SPDX-License-Identifier: MIT
// Seeded multithreaded stress of the lifetime core: threads allocate objects
// of mixed sizes (small, aligned, large) from several call sites (so several
// sites and lifetime classes are in play), write every byte with a pattern
// derived from the object's identity, verify every byte before freeing, and
// hand objects to other threads through a shared exchange array, so many
// frees are remote. Between phases all threads stop; one checks that no two
// live objects overlap (by usable size) and runs the validate walk.
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../../allocators/object/lifetime/internal.h"
#include "as/rng.h"
#include "test.h"

#define SL_THREADS 4
#define SL_SLOTS 2048
#define SL_SHARED 4096
#define SL_PHASES 8

typedef struct sl_ctx_s {
	uint64_t ops_per_phase;
	_Atomic uintptr_t shared[SL_SHARED];
	void *slots[SL_THREADS][SL_SLOTS];
	pthread_barrier_t bar;
	_Atomic int failed;
	char why[256];
	_Atomic uint64_t next_id;
} sl_ctx_t;

/// Objects carry (id, size) in their first 16 bytes; the rest is a pattern.
static void sl_fill(unsigned char *p, uint64_t id, uint64_t size)
{
	memcpy(p, &id, 8);
	memcpy(p + 8, &size, 8);
	for (uint64_t i = 16; i < size; i++)
		p[i] = (unsigned char)(id * 31 + i);
}

static bool sl_verify(const unsigned char *p, uint64_t *size_out)
{
	uint64_t id, size;
	memcpy(&id, p, 8);
	memcpy(&size, p + 8, 8);
	if (size < 16 || size > (4u << 20))
		return false;
	for (uint64_t i = 16; i < size; i++)
		if (p[i] != (unsigned char)(id * 31 + i))
			return false;
	*size_out = size;
	return true;
}

static AS_NOINLINE void *sl_site_short(size_t n)
{
	return lt_malloc(n, __builtin_return_address(0), __builtin_frame_address(0));
}

static AS_NOINLINE void *sl_site_long(size_t n)
{
	return lt_malloc(n, __builtin_return_address(0), __builtin_frame_address(0));
}

static AS_NOINLINE void *sl_site_aligned(size_t a, size_t n)
{
	return lt_aligned(a, n, __builtin_return_address(0), __builtin_frame_address(0));
}

static void sl_fail(sl_ctx_t *c, const char *why)
{
	int z = 0;
	if (atomic_compare_exchange_strong(&c->failed, &z, 1))
		snprintf(c->why, sizeof(c->why), "%s", why);
}

static void sl_release(sl_ctx_t *c, void *p)
{
	uint64_t size;
	if (!sl_verify(p, &size)) {
		sl_fail(c, "object content corrupted before free");
		return;
	}
	lt_free(p);
}

typedef struct sl_arg_s {
	sl_ctx_t *c;
	unsigned tid;
} sl_arg_t;

static int cmp_ptr(const void *a, const void *b)
{
	uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
	return x < y ? -1 : x > y;
}

static void sl_check_phase(sl_ctx_t *c)
{
	static uintptr_t live[SL_THREADS * SL_SLOTS + SL_SHARED];
	size_t n = 0;
	for (unsigned t = 0; t < SL_THREADS; t++)
		for (unsigned s = 0; s < SL_SLOTS; s++)
			if (c->slots[t][s])
				live[n++] = (uintptr_t)c->slots[t][s];
	for (unsigned s = 0; s < SL_SHARED; s++) {
		uintptr_t p = atomic_load(&c->shared[s]);
		if (p)
			live[n++] = p;
	}
	qsort(live, n, sizeof(live[0]), cmp_ptr);
	for (size_t i = 1; i < n; i++)
		if (live[i - 1] + lt_usable_size((void *)live[i - 1]) > live[i])
			sl_fail(c, "two live objects overlap");
	char why[200];
	if (lt_validate(why, sizeof(why)))
		sl_fail(c, why);
}

static void *sl_worker(void *arg)
{
	sl_arg_t *a = arg;
	sl_ctx_t *c = a->c;
	as_rng_t r;
	as_rng_seed(&r, 4242, a->tid);
	void **slots = c->slots[a->tid];
	for (unsigned ph = 0; ph < SL_PHASES; ph++) {
		for (uint64_t op = 0; op < c->ops_per_phase && !atomic_load(&c->failed); op++) {
			unsigned s = (unsigned)as_rng_below(&r, SL_SLOTS);
			if (slots[s]) {
				uint64_t u = as_rng_below(&r, 4);
				if (u == 0) { // hand it over; free whatever was there
					uintptr_t old = atomic_exchange(
						&c->shared[as_rng_below(&r, SL_SHARED)],
						(uintptr_t)slots[s]);
					if (old)
						sl_release(c, (void *)old);
				} else {
					sl_release(c, slots[s]);
				}
				slots[s] = NULL;
				continue;
			}
			uint64_t k = as_rng_below(&r, 1000);
			size_t n;
			void *p;
			if (k < 5) {
				n = (size_t)as_rng_range(&r, 70000, 600000);
				p = sl_site_long(n);
			} else if (k < 60) {
				n = (size_t)as_rng_range(&r, 16, 3000);
				p = sl_site_aligned((size_t)1 << as_rng_range(&r, 5, 12), n);
			} else if (k < 500) {
				n = (size_t)as_rng_range(&r, 16, 8000);
				p = sl_site_long(n);
			} else {
				n = (size_t)as_rng_range(&r, 16, 512);
				p = sl_site_short(n);
			}
			if (!p) {
				sl_fail(c, "allocation failed");
				break;
			}
			sl_fill(p, atomic_fetch_add(&c->next_id, 1), n);
			slots[s] = p;
		}
		pthread_barrier_wait(&c->bar);
		if (a->tid == 0)
			sl_check_phase(c);
		pthread_barrier_wait(&c->bar);
	}
	for (unsigned s = 0; s < SL_SLOTS; s++)
		if (slots[s]) {
			sl_release(c, slots[s]);
			slots[s] = NULL;
		}
	lt_thread_exit();
	return NULL;
}

static void sl_run(bool *as_test_failed, uint64_t total_ops)
{
	static sl_ctx_t c;
	memset(&c, 0, sizeof(c));
	c.ops_per_phase = total_ops / SL_PHASES / SL_THREADS + 1;
	pthread_barrier_init(&c.bar, NULL, SL_THREADS);
	pthread_t th[SL_THREADS];
	sl_arg_t args[SL_THREADS];
	for (unsigned t = 0; t < SL_THREADS; t++) {
		args[t] = (sl_arg_t){ &c, t };
		check(pthread_create(&th[t], NULL, sl_worker, &args[t]) == 0);
	}
	for (unsigned t = 0; t < SL_THREADS; t++)
		pthread_join(th[t], NULL);
	pthread_barrier_destroy(&c.bar);
	for (unsigned s = 0; s < SL_SHARED; s++) {
		uintptr_t p = atomic_load(&c.shared[s]);
		if (p)
			sl_release(&c, (void *)p);
	}
	if (atomic_load(&c.failed))
		check_fail("%s", c.why);
	char why[200];
	unsigned bad = lt_validate(why, sizeof(why));
	if (bad)
		check_fail("final validate: %u errors: %s", bad, why);
}

TEST(stress_lifetime)
{
	check(lt_init());
	sl_run(as_test_failed, (uint64_t)(1.5e6 * as_test_scale()));
}
