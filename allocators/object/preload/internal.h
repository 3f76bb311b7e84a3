// SPDX-License-Identifier: MIT
// Internals of the preload layer shared by preload.c (the malloc family)
// and hooks.c (start-up, per-thread counters, thread exit, fork, the
// allocscope_* hooks). Compiled once per backend (see the Makefile).
#ifndef PL_INTERNAL_H
#define PL_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "as/atomic.h"
#include "as/compiler.h"
#include "backend.h"

#define PL_EXPORT __attribute__((visibility("default")))

/// 0 = not started, 1 = backend ready (hooks being registered: nested calls
/// from pthread_key_create/pthread_atfork proceed), 2 = ready, 3 = failed.
extern _Atomic int pl_state;
/// This thread's operation counter slot (NULL until its first operation).
extern __thread _Atomic uint64_t *pl_slot __attribute__((tls_model("initial-exec")));

/// Start the backend and register the hooks; false if the backend failed.
bool pl_init_slow(void);
/// First operation of a thread: give it a counter slot and register it for
/// the thread-exit destructor.
void pl_thread_first(void);

/// True once the backend can serve (starting it if needed).
static inline bool pl_ready(void)
{
	int st = as_atomic_load_acquire(&pl_state);
	if (AS_LIKELY(st == 2 || st == 1))
		return true;
	return pl_init_slow();
}

/// Count one served operation of this thread. Relaxed load + store: each
/// slot has one writer unless more threads than slots live at once, and then
/// a lost count only weakens a proof that is already overwhelming.
static inline void pl_count(void)
{
	_Atomic uint64_t *s = pl_slot;
	if (AS_UNLIKELY(s == NULL)) {
		pl_thread_first();
		s = pl_slot;
		if (!s)
			return;
	}
	as_atomic_store_relaxed(s, as_atomic_load_relaxed(s) + 1);
}

#endif
