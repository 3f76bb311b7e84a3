// SPDX-License-Identifier: MIT
// C11 atomics with the memory order in the name (after mimalloc's atomic.h), so
// the orders in use are visible and greppable. Every relaxed use at a call site
// carries a one-line reason. Bare atomic_* names stay reserved to <stdatomic.h>.
#ifndef AS_ATOMIC_H
#define AS_ATOMIC_H

#include <stdatomic.h>
#include <stdbool.h>

#define as_atomic_load_relaxed(p) atomic_load_explicit((p), memory_order_relaxed)
#define as_atomic_load_acquire(p) atomic_load_explicit((p), memory_order_acquire)
#define as_atomic_load_seq_cst(p) atomic_load_explicit((p), memory_order_seq_cst)

#define as_atomic_store_relaxed(p, v) atomic_store_explicit((p), (v), memory_order_relaxed)
#define as_atomic_store_release(p, v) atomic_store_explicit((p), (v), memory_order_release)
#define as_atomic_store_seq_cst(p, v) atomic_store_explicit((p), (v), memory_order_seq_cst)

#define as_atomic_exchange_acq_rel(p, v) \
	atomic_exchange_explicit((p), (v), memory_order_acq_rel)
#define as_atomic_exchange_acquire(p, v) \
	atomic_exchange_explicit((p), (v), memory_order_acquire)
#define as_atomic_exchange_release(p, v) \
	atomic_exchange_explicit((p), (v), memory_order_release)

/// CAS: on failure *expected is updated with the current value.
#define as_atomic_cas_weak_acq_rel(p, expected, desired)                   \
	atomic_compare_exchange_weak_explicit((p), (expected), (desired), \
					      memory_order_acq_rel,       \
					      memory_order_acquire)
#define as_atomic_cas_strong_acq_rel(p, expected, desired)                   \
	atomic_compare_exchange_strong_explicit((p), (expected), (desired), \
						memory_order_acq_rel,       \
						memory_order_acquire)
#define as_atomic_cas_weak_release(p, expected, desired)                   \
	atomic_compare_exchange_weak_explicit((p), (expected), (desired), \
					      memory_order_release,       \
					      memory_order_relaxed)
#define as_atomic_cas_weak_acquire(p, expected, desired)                   \
	atomic_compare_exchange_weak_explicit((p), (expected), (desired), \
					      memory_order_acquire,       \
					      memory_order_acquire)
#define as_atomic_cas_strong_acquire(p, expected, desired)                   \
	atomic_compare_exchange_strong_explicit((p), (expected), (desired), \
						memory_order_acquire,       \
						memory_order_acquire)
#define as_atomic_cas_weak_relaxed(p, expected, desired)                   \
	atomic_compare_exchange_weak_explicit((p), (expected), (desired), \
					      memory_order_relaxed,       \
					      memory_order_relaxed)

#define as_atomic_fetch_add_relaxed(p, v) atomic_fetch_add_explicit((p), (v), memory_order_relaxed)
#define as_atomic_fetch_add_acq_rel(p, v) atomic_fetch_add_explicit((p), (v), memory_order_acq_rel)
#define as_atomic_fetch_add_release(p, v) atomic_fetch_add_explicit((p), (v), memory_order_release)
#define as_atomic_fetch_sub_relaxed(p, v) atomic_fetch_sub_explicit((p), (v), memory_order_relaxed)
#define as_atomic_fetch_sub_acq_rel(p, v) atomic_fetch_sub_explicit((p), (v), memory_order_acq_rel)
#define as_atomic_fetch_sub_release(p, v) atomic_fetch_sub_explicit((p), (v), memory_order_release)
#define as_atomic_fetch_or_acq_rel(p, v) atomic_fetch_or_explicit((p), (v), memory_order_acq_rel)
#define as_atomic_fetch_and_acq_rel(p, v) atomic_fetch_and_explicit((p), (v), memory_order_acq_rel)

#define as_atomic_fence_acquire() atomic_thread_fence(memory_order_acquire)
#define as_atomic_fence_release() atomic_thread_fence(memory_order_release)
#define as_atomic_fence_seq_cst() atomic_thread_fence(memory_order_seq_cst)

#include <stdint.h>

/// atom_update-style CAS loops (after llfree-c): `fn(old, &new, ctx)` is a pure
/// transition, unit-testable alone, that returns false when the update does
/// not apply (then nothing is written). On success the old value goes to
/// *old_out. The loop repeats only while other threads change the word.
typedef bool (*as_update64_fn)(uint64_t old, uint64_t *new_value, void *ctx);
typedef bool (*as_update32_fn)(uint32_t old, uint32_t *new_value, void *ctx);
typedef bool (*as_update16_fn)(uint16_t old, uint16_t *new_value, void *ctx);

/// CAS loop around a pure transition on a 64-bit word (acq_rel on success).
static inline bool as_atomic_update64(_Atomic uint64_t *p, uint64_t *old_out,
				      as_update64_fn fn, void *ctx)
{
	uint64_t old = as_atomic_load_acquire(p);
	uint64_t new_value;
	do {
		if (!fn(old, &new_value, ctx))
			return false;
	} while (!as_atomic_cas_weak_acq_rel(p, &old, new_value));
	if (old_out)
		*old_out = old;
	return true;
}

static inline bool as_atomic_update32(_Atomic uint32_t *p, uint32_t *old_out,
				      as_update32_fn fn, void *ctx)
{
	uint32_t old = as_atomic_load_acquire(p);
	uint32_t new_value;
	do {
		if (!fn(old, &new_value, ctx))
			return false;
	} while (!as_atomic_cas_weak_acq_rel(p, &old, new_value));
	if (old_out)
		*old_out = old;
	return true;
}

static inline bool as_atomic_update16(_Atomic uint16_t *p, uint16_t *old_out,
				      as_update16_fn fn, void *ctx)
{
	uint16_t old = as_atomic_load_acquire(p);
	uint16_t new_value;
	do {
		if (!fn(old, &new_value, ctx))
			return false;
	} while (!as_atomic_cas_weak_acq_rel(p, &old, new_value));
	if (old_out)
		*old_out = old;
	return true;
}

#endif
