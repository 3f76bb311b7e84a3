// SPDX-License-Identifier: MIT
// Helpers shared by the offline tools (trace-summary, lt-profile, lt-train):
// allocation that exits on failure, and a table of per-object records
// indexed by trace object id.
#ifndef TOOL_UTIL_H
#define TOOL_UTIL_H

#include <stddef.h>
#include <stdint.h>

/// realloc, or "PROG: out of memory" on stderr and exit 1 (tools only).
void *tool_xrealloc(void *p, size_t n);
/// Name printed before tool_xrealloc's message (default "allocscope-tool").
void tool_set_prog(const char *name);

/// Records of `size` bytes for trace object ids 1, 2, ... (0 is never an
/// id), grown by doubling and zero-filled on first use.
typedef struct tool_idtab_s {
	unsigned char *v;
	size_t n;    ///< records allocated (ids 1..n valid)
	size_t size; ///< bytes per record
} tool_idtab_t;

/// The record of `id`, or NULL for id 0 and ids above 2^34 (a corrupt
/// trace must not make the tool allocate terabytes).
void *tool_idtab_at(tool_idtab_t *t, uint64_t id);

/// Record number k (0-based, k < t->n) for a walk over all of them.
static inline void *tool_idtab_get(const tool_idtab_t *t, size_t k)
{
	return t->v + k * t->size;
}

#endif
