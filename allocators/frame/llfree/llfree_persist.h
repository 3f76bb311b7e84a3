// SPDX-License-Identifier: MIT
// Optional persistence for llfree: the lower level (bitfields and child
// counters) lives in a file mapped MAP_SHARED, a stand-in for persistent
// memory; the upper level (trees, per-core reservations) is volatile and
// rebuilt at every open (reference section 1.7). Open after a clean close
// sums the tree counters from the child counters; open of a file whose
// `crashed` flag is still set (the process died without closing) first
// recomputes every child counter from its bitfield (deep recovery).
//
// Durability model: every state change of the lower level is a single CAS
// on the mapped file, so a killed process (SIGKILL, crash) loses nothing:
// the page cache holds every store. A power loss is a different model: it
// would need each CAS flushed (clwb + sfence, or libpmem's pmem_persist) in
// order; here only the two ordering points are synced with msync(MS_SYNC):
// the `crashed` flag is made durable at open before any allocation, and the
// whole region (with the flag cleared last) at close.
#ifndef LLF_PERSIST_H
#define LLF_PERSIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "frame.h"

/// What llf_persist_open found and did.
typedef struct llf_persist_info_s {
	bool created;        ///< the file was new (or empty) and was laid out free
	bool was_crashed;    ///< the file's crashed flag was set: deep recovery ran
	uint64_t frames;     ///< frames managed (from the file when it existed)
	uint64_t file_bytes; ///< size of the mapping
	uint64_t recover_ns; ///< time to rebuild the upper level (and recount)
} llf_persist_info_t;

/// Open (or create) the llfree lower region in file `path` and return a
/// frame allocator over it (call it through llfree_ops). A missing or empty
/// file is created for `frames` frames (a multiple of FRAME_ALIGN_FRAMES);
/// an existing file keeps its own geometry, and `frames` must be 0 or equal
/// to it. `deep` forces a recount from the bitfields even after a clean
/// close. NULL with the reason in err[errlen] on error. Close with
/// llf_persist_close, never with llfree_ops.destroy.
frame_alloc_t *llf_persist_open(const char *path, uint64_t frames, unsigned cores,
				const char *options, bool deep, llf_persist_info_t *info,
				char *err, size_t errlen);

/// Clean shutdown: drop the volatile part, clear the crashed flag, msync
/// the region and unmap it. No other call may be in flight.
void llf_persist_close(frame_alloc_t *fa);

/// True when `frame` is allocated according to the lower level alone (its
/// bit is set, or its child holds a huge marker). For checkers after a
/// recovery; no other call may be in flight.
bool llf_persist_frame_allocated(frame_alloc_t *fa, uint64_t frame);

#endif
