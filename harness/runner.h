// SPDX-License-Identifier: MIT
// The runner: executes the cells of a plan, one child process per cell
// (or a scenario), and turns each outcome into a results.json run record.
#ifndef AS_RUNNER_H
#define AS_RUNNER_H

#include <jansson.h>
#include <stdbool.h>

#include "opts.h"

#include "catalog.h"
#include "record.h"

/// Did the intended allocator serve malloc? For an ok record: glibc runs
/// must resolve malloc to libc.so.6, preloads to the preloaded file itself,
/// in-tree libraries must also report malloc_served > 0, and framebench must
/// have run the named frame allocator. Otherwise the status becomes error
/// with the reason.
void as_run_verify(const as_alloc_t *a, as_rec_t *r);

/// Run one cell; returns the run record. `logbase` is a path prefix for the
/// child's .out/.err files.
json_t *as_run_cell(const as_plan_t *p, const as_cell_t *c, const char *logbase);

/// Run the whole plan into <root>/<run-id>/, rewriting results.json after
/// every cell, then summary.csv and <root>/latest; prints progress on
/// stderr and (summary) the table on stdout. Returns the exit status:
/// 0 when every run is ok or unsupported, 1 when any failed.
int as_run_plan(as_plan_t *p, const char *root, const char *command, bool summary);

#endif
