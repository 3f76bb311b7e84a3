// SPDX-License-Identifier: MIT
// trace: a recording preload. Serves every allocation from glibc and writes
// an allocation trace (trace_format.h) to $ALLOCSCOPE_TRACE. These are its
// entry points behind backend.h; see README.md for the format and tools.
#ifndef AS_TRACE_H
#define AS_TRACE_H

#include <stdbool.h>
#include <stddef.h>

/// Open the trace file named by $ALLOCSCOPE_TRACE (not recording when unset
/// or unopenable). Idempotent, malloc-free; always true (glibc serves).
bool tr_init(void);
/// Allocate from glibc and record (align 0..16 = plain malloc).
void *tr_malloc(size_t size, size_t align, const void *ret, const void *sp);
void tr_free(void *p);
size_t tr_usable_size(const void *p);
/// Write every thread's buffered records.
void tr_flush_all(void);
void tr_thread_exit(void);
void tr_fork_prepare(void);
void tr_fork_parent(void);
void tr_fork_child(void);

#endif
