// SPDX-License-Identifier: MIT
// The trace recorder behind the preload layer (see
// ../preload/backend_contract.h): glibc serves, every operation is recorded.
// Inlined into the preload's entry points so __builtin_return_address(0) is
// the application's call site.
#ifndef AS_TR_BACKEND_H
#define AS_TR_BACKEND_H

#include "as/compiler.h"
#include "trace.h"

AS_INLINE bool backend_init(void)
{
	return tr_init();
}

AS_INLINE void *backend_malloc(size_t size)
{
	return tr_malloc(size, 0, __builtin_return_address(0), __builtin_frame_address(0));
}

AS_INLINE void backend_free(void *p)
{
	tr_free(p);
}

AS_INLINE void *backend_aligned(size_t align, size_t size)
{
	if (align > (1u << 21))
		return NULL;
	return tr_malloc(size, align, __builtin_return_address(0), __builtin_frame_address(0));
}

AS_INLINE size_t backend_usable_size(const void *p)
{
	return tr_usable_size(p);
}

AS_INLINE void backend_thread_exit(void)
{
	tr_thread_exit();
}

AS_INLINE void backend_fork_prepare(void)
{
	tr_fork_prepare();
}

AS_INLINE void backend_fork_parent(void)
{
	tr_fork_parent();
}

AS_INLINE void backend_fork_child(void)
{
	tr_fork_child();
}

AS_INLINE void backend_set_thread_node(int node)
{
	(void)node;
}

AS_INLINE void backend_report(void (*metric)(const char *name, double value))
{
	tr_flush_all();
	(void)metric;
}

#endif
