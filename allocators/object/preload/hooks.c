// SPDX-License-Identifier: MIT
// Start-up, thread exit, fork and the allocscope_* hooks of the preload
// layer. Start-up is lazy (first malloc) and also runs from a constructor;
// it calls backend_init (which may not allocate), then registers a pthread
// key whose destructor returns the exiting thread's cache, and the atfork
// handlers. Both registrations may call malloc themselves: by then the
// state is 1 and those nested calls are served normally. Nothing here uses
// dlsym or stdio.
#include <pthread.h>
#include <string.h>

#include "internal.h"

_Atomic int pl_state;
__thread _Atomic uint64_t *pl_slot __attribute__((tls_model("initial-exec")));

#define PL_SLOTS 256
typedef struct pl_counter_s {
	_Alignas(AS_CACHELINE) _Atomic uint64_t n;
} pl_counter_t;

static pl_counter_t pl_slots[PL_SLOTS];
static _Atomic unsigned pl_next_slot;
/// Operations of threads seen while the hooks were still being registered.
static _Atomic uint64_t pl_early;
static pthread_key_t pl_key;
static bool pl_key_ok;
static _Atomic int pl_init_lock;

static void pl_thread_dtor(void *arg)
{
	(void)arg;
	backend_thread_exit();
}

static void pl_fork_prepare(void)
{
	backend_fork_prepare();
}

static void pl_fork_parent(void)
{
	backend_fork_parent();
}

static void pl_fork_child(void)
{
	backend_fork_child();
}

bool pl_init_slow(void)
{
	int st = as_atomic_load_acquire(&pl_state);
	if (st == 1 || st == 2)
		return true;
	if (st == 3)
		return false;
	while (as_atomic_exchange_acquire(&pl_init_lock, 1))
		as_cpu_relax();
	if (as_atomic_load_acquire(&pl_state) == 0) {
		if (!backend_init()) {
			as_atomic_store_release(&pl_state, 3);
		} else {
			as_atomic_store_release(&pl_state, 1);
			pl_key_ok = pthread_key_create(&pl_key, pl_thread_dtor) == 0;
			pthread_atfork(pl_fork_prepare, pl_fork_parent, pl_fork_child);
			as_atomic_store_release(&pl_state, 2);
		}
	}
	as_atomic_store_release(&pl_init_lock, 0);
	return as_atomic_load_acquire(&pl_state) != 3;
}

__attribute__((constructor)) static void pl_ctor(void)
{
	pl_init_slow();
}

void pl_thread_first(void)
{
	if (as_atomic_load_acquire(&pl_state) != 2) {
		// Relaxed: a statistics counter.
		as_atomic_fetch_add_relaxed(&pl_early, 1);
		return;
	}
	// Relaxed: only distinctness matters, not order.
	unsigned i = as_atomic_fetch_add_relaxed(&pl_next_slot, 1) % PL_SLOTS;
	pl_slot = &pl_slots[i].n;
	// Set before the registration, which may allocate (and so come back here).
	if (pl_key_ok)
		pthread_setspecific(pl_key, (void *)1);
}

PL_EXPORT uint64_t allocscope_malloc_served(void);
PL_EXPORT void allocscope_set_thread_node(int node);
PL_EXPORT void allocscope_report(void (*metric)(const char *name, double value));
PL_EXPORT const char *allocscope_allocator_name(void);

uint64_t allocscope_malloc_served(void)
{
	// Relaxed: a sum of per-thread counters, a snapshot.
	uint64_t sum = as_atomic_load_relaxed(&pl_early);
	for (unsigned i = 0; i < PL_SLOTS; i++)
		sum += as_atomic_load_relaxed(&pl_slots[i].n);
	return sum;
}

void allocscope_set_thread_node(int node)
{
	if (pl_ready())
		backend_set_thread_node(node);
}

void allocscope_report(void (*metric)(const char *name, double value))
{
	if (!metric || !pl_ready())
		return;
	metric("preload_ops", (double)allocscope_malloc_served());
	backend_report(metric);
}

const char *allocscope_allocator_name(void)
{
#ifdef BACKEND_HAS_NAME
	if (pl_ready())
		return backend_name();
#endif
	return AS_BACKEND_NAME;
}
