// SPDX-License-Identifier: MIT
// adaptive behind the preload layer (allocators/object/preload/
// backend_contract.h): direct calls, with malloc and free fast paths inlined.
#ifndef ADP_BACKEND_H
#define ADP_BACKEND_H

#include "internal.h"

static inline bool backend_init(void) { return adp_init(); }
static inline void *backend_malloc(size_t size) { return adp_malloc_fast(size); }
static inline void backend_free(void *p) { adp_free_fast(p); }
static inline void *backend_aligned(size_t align, size_t size) { return adp_aligned(align, size); }
static inline size_t backend_usable_size(const void *p) { return adp_usable_size(p); }
static inline void backend_thread_exit(void) { adp_thread_exit(); }
static inline void backend_fork_prepare(void) { adp_fork_prepare(); }
static inline void backend_fork_parent(void) { adp_fork_parent(); }
static inline void backend_fork_child(void) { adp_fork_child(); }
static inline void backend_set_thread_node(int node) { adp_set_thread_node(node); }
static inline void backend_report(void (*metric)(const char *, double)) { adp_report(metric); }
#define BACKEND_HAS_NAME 1
static inline const char *backend_name(void) { return adp_name(); }
static inline const char *backend_init_error(void) { return adp_init_error(); }

#endif
