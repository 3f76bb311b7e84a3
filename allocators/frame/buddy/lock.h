// SPDX-License-Identifier: MIT
// The spinlock of the buddy model: test-and-test-and-set with bounded
// exponential backoff (as_cpu_relax), used for the zone lock and for each
// per-core list lock.
//
// Why TTAS and not a ticket lock: Linux's zone->lock is a queued spinlock
// (qspinlock), whose uncontended path is one atomic RMW like ours and whose
// contended path hands the lock over in FIFO order. A FIFO handoff is
// fair but, in userspace, collapses when the next waiter's thread is
// preempted (every later waiter waits for it), which happens on a 2-vCPU VM
// and whenever threads outnumber cores; the kernel avoids it by disabling
// preemption, we cannot. TTAS lets whoever runs take the lock; waiters spin
// on a plain load (the line stays shared, no RMW traffic) and back off
// exponentially, so a release is not answered by a storm of exchanges. After
// many backoff rounds a waiter yields the CPU, for the holder that was
// preempted (a userspace concession, never reached when threads <= cores
// and the holder runs).
#ifndef BUDDY_LOCK_H
#define BUDDY_LOCK_H

#include <sched.h>
#include <stdbool.h>
#include <stdint.h>

#include "as/atomic.h"
#include "as/compiler.h"

#define BUDDY_BACKOFF_MAX 64u      // as_cpu_relax per probe, at most
#define BUDDY_YIELD_ROUNDS 4096u   // probes at the max backoff before sched_yield

typedef struct buddy_lock_s {
	_Atomic uint32_t v; ///< 0 free, 1 held
} buddy_lock_t;

static inline bool buddy_trylock(buddy_lock_t *l)
{
	return as_atomic_exchange_acquire(&l->v, 1u) == 0;
}

static __attribute__((noinline, unused)) void buddy_lock_slow(buddy_lock_t *l)
{
	unsigned backoff = 1, rounds = 0;
	for (;;) {
		// relaxed: only a hint that the lock looks free; the acquiring
		// exchange below is what orders the critical section.
		while (as_atomic_load_relaxed(&l->v)) {
			for (unsigned i = 0; i < backoff; i++)
				as_cpu_relax();
			if (backoff < BUDDY_BACKOFF_MAX) {
				backoff <<= 1;
			} else if (++rounds >= BUDDY_YIELD_ROUNDS) {
				sched_yield();
				rounds = 0;
			}
		}
		if (buddy_trylock(l))
			return;
	}
}

static inline void buddy_lock(buddy_lock_t *l)
{
	if (AS_LIKELY(buddy_trylock(l)))
		return;
	buddy_lock_slow(l);
}

static inline void buddy_unlock(buddy_lock_t *l)
{
	as_atomic_store_release(&l->v, 0u);
}

#endif
