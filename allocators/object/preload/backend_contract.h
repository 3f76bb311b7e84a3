// SPDX-License-Identifier: MIT
// The contract between the preload layer (allocators/object/preload/, which
// exports malloc, free, calloc, realloc, ... and the allocscope_* hooks) and
// one in-tree object allocator. Each allocator folder NAME with a backend.h
// becomes build/lib/liballocscope-NAME.so (see the Makefile); preload/*.c is
// compiled once per allocator with -Iallocators/object/NAME and includes
// "backend.h", which must define (as static inline wrappers around the
// allocator's prefixed functions, so calls are direct):
//
//   bool   backend_init(void);
//       Idempotent, cheap after the first call, safe before main and during
//       dynamic loading (no malloc, no dlsym). False if the allocator cannot
//       start (then malloc returns NULL with ENOMEM).
//   void  *backend_malloc(size_t size);
//       size >= 1. 16-byte aligned. NULL on exhaustion (preload sets errno).
//   void   backend_free(void *p);
//       p != NULL and was returned by this backend, from any thread.
//   void  *backend_aligned(size_t align, size_t size);
//       align a power of two in [32, 2 MiB]... up to any power of two the
//       allocator supports; NULL on exhaustion or unsupported alignment.
//   size_t backend_usable_size(const void *p);
//       Exact bytes the caller may use (>= the request); p != NULL.
//   void   backend_thread_exit(void);
//       The calling thread is exiting: return its caches.
//   void   backend_fork_prepare(void), backend_fork_parent(void),
//          backend_fork_child(void);
//       pthread_atfork handlers: take/release every lock; the child must be
//       able to allocate afterwards.
//   void   backend_set_thread_node(int node);
//       NUMA node (virtual under a simulated topology) of the calling thread.
//   void   backend_report(void (*metric)(const char *name, double value));
//       Allocator-specific metrics (controller changes, prediction accuracy,
//       regions, ...); names are plain snake_case, emitted into results.
//
// Optional: a backend that defines BACKEND_HAS_NAME also defines
//   const char *backend_name(void);
//       The variant actually running ("adaptive-static", "adaptive@llfree",
//       ...), returned by allocscope_allocator_name() instead of
//       AS_BACKEND_NAME.
//
// The preload layer owns: errno, zero sizes, calloc overflow and zeroing,
// realloc semantics, alignment argument checks, the operation counters that
// prove the preload took effect (allocscope_malloc_served), thread-exit
// detection (a pthread key destructor) and the atfork registration.
//
// Notes for backends (learned from adaptive):
//   - thread-local state must use tls_model("initial-exec") (no
//     __tls_get_addr, which may call malloc);
//   - backend_thread_exit runs inside the thread's TLS destructors; later
//     destructors may still call malloc/free on that thread, so the backend
//     must keep serving it (without a cache);
//   - constructors of one library run in no fixed order: backend_init may run
//     before the frame registry's constructor (the frame@X page source copes).
//
// Exported hooks (default visibility, found by the probe with dlsym):
//   uint64_t allocscope_malloc_served(void);
//   void     allocscope_set_thread_node(int node);
//   void     allocscope_report(void (*metric)(const char *name, double value));
//   const char *allocscope_allocator_name(void);   // AS_BACKEND_NAME
#ifndef AS_BACKEND_CONTRACT_H
#define AS_BACKEND_CONTRACT_H
#endif
