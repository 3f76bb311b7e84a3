// SPDX-License-Identifier: MIT
// Cross-file internals of the page sources: the two implementations and the
// shared statistics block.
#ifndef AS_PS_INTERNAL_H
#define AS_PS_INTERNAL_H

#include "pagesource.h"

#include "as/atomic.h"

extern const struct page_source_ops ps_os_ops;
extern const struct page_source_ops ps_frame_ops;

/// Choose frame allocator X for the frame@X source; false if not built.
bool ps_frame_bind(const char *frame_name);
/// The fault-injecting source over "INNER,every=N,after=BYTES,skip=K"
/// (ps_fault.c); NULL when the spec is malformed or INNER unknown. A NULL
/// spec defers it to init's options ("fault" + options "os,every=N").
const struct page_source_ops *ps_fault_bind(const char *spec);

/// Counters shared by both sources (each source owns one block).
typedef struct ps_counters_s {
	_Atomic uint64_t mapped_bytes, decommitted_bytes;
	_Atomic uint64_t maps, unmaps, decommits, backed_reuses, faults_saved;
} ps_counters_t;

void ps_counters_read(ps_counters_t *c, ps_stats_t *out);

/// Plain mmap of `bytes` aligned to `align` (over-map and trim); NULL on
/// failure. Shared by os and by frame@X for requests beyond a frame block.
void *ps_mmap_aligned(size_t bytes, size_t align);

#endif
