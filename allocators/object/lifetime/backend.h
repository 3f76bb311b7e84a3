// SPDX-License-Identifier: MIT
// The lifetime allocator behind the preload layer (see
// ../preload/backend_contract.h). The wrappers are always inlined into the
// preload's malloc entry points, so __builtin_return_address(0) is the
// application's call site: the cheap half of the site key.
#ifndef AS_LT_BACKEND_H
#define AS_LT_BACKEND_H

#include "as/compiler.h"
#include "lifetime.h"

AS_INLINE bool backend_init(void)
{
	return lt_init();
}

AS_INLINE void *backend_malloc(size_t size)
{
	return lt_malloc(size, __builtin_return_address(0), __builtin_frame_address(0));
}

AS_INLINE void backend_free(void *p)
{
	lt_free(p);
}

AS_INLINE void *backend_aligned(size_t align, size_t size)
{
	return lt_aligned(align, size, __builtin_return_address(0), __builtin_frame_address(0));
}

AS_INLINE size_t backend_usable_size(const void *p)
{
	return lt_usable_size(p);
}

AS_INLINE void backend_thread_exit(void)
{
	lt_thread_exit();
}

AS_INLINE void backend_fork_prepare(void)
{
	lt_fork_prepare();
}

AS_INLINE void backend_fork_parent(void)
{
	lt_fork_parent();
}

AS_INLINE void backend_fork_child(void)
{
	lt_fork_child();
}

AS_INLINE void backend_set_thread_node(int node)
{
	(void)node; // lifetime classes, not NUMA nodes, decide placement
}

AS_INLINE void backend_report(void (*metric)(const char *name, double value))
{
	lt_report(metric);
}

#endif
