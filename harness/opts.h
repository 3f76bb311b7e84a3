// SPDX-License-Identifier: MIT
// Options of run/plan/bench (command line and configs/*.ini) and the run
// matrix built from them.
//
// A config file (inih) sets defaults that the command line overrides:
//   [run]          alloc, workload, threads, reps, pin, membind, topology,
//                  events, seed, timeout, mem_limit, sample, timeline_ms
//   [params]       k = v  for every selected workload that has parameter k
//   [params.NAME]  k = v  for workload NAME only
//   [suite.KIND]   workloads = a,b,...; threads = 1,2; threads.NAME = 1 —
//                  what runs for an allocator of KIND (frame or object) when
//                  no workload is named; workloads that are not built are
//                  skipped with a note; --threads overrides all of these
// A value "a,b" of a parameter is a sweep: one cell per value. Every bad
// line is refused with "file:line: reason" (exit 2).
#ifndef AS_OPTS_H
#define AS_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "catalog.h"
#include "topo.h"
#include "util.h"

typedef struct as_suite_s {
	as_strv_t workloads;
	char *threads; ///< NULL = the run's threads
	as_strv_t wthreads; ///< "NAME=list": thread counts for one workload
} as_suite_t;

typedef struct as_opts_s {
	char *alloc;	 ///< comma list as given
	char *workload;
	char *threads;
	char *reps;
	char *pin;
	char *membind;
	char *topology;
	char *events;
	char *seed;
	char *timeout;
	char *mem_limit;
	char *sample;
	char *timeline_ms;
	char *out;
	char *config;
	char *shard;
	as_strv_t params;    ///< "k=v" from --param (a selected workload must have k)
	as_strv_t cparams;   ///< "k=v" from [params] (where the workload has k)
	as_strv_t wparams;   ///< "NAME:k=v" from [params.NAME]
	bool threads_cli;    ///< --threads given (overrides suites)
	bool alloc_cli;	     ///< --alloc given (else from the config: missing ones
			     ///< are skipped with a note by bench)
	as_suite_t suite[2]; ///< indexed by as_kind_t
	bool bench;	     ///< allocscope bench: defaults differ
	bool quiet;
} as_opts_t;

/// Load a config file into unset options; on a bad line prints
/// "file:line: reason" and exits 2 (as_opts_parse_config does the work).
void as_opts_load_config(as_opts_t *o, const char *path);

/// Parse config text (`len` bytes, need not end in NUL) into `o`: [run] keys
/// fill only options still NULL, the other sections append. Returns true on
/// success. On bad input returns false, leaves `o` as it was, and writes
/// "NAME:LINE: reason" (never empty) into err; NAME is `name`, LINE counts
/// from 1. Refused besides bad keys and values: syntax errors, NUL bytes,
/// and lines longer than inih's line buffer. Never exits on bad input.
bool as_opts_parse_config(as_opts_t *o, const char *name, const char *text, size_t len, char *err,
			  size_t errlen);

/// Free every string and list `o` holds and zero all of it.
void as_opts_clear(as_opts_t *o);

/// Locate configs/NAME next to the working directory or the build folder.
char *as_find_config(const char *name);

typedef struct as_cell_s {
	as_alloc_t *alloc;
	as_wl_t *wl;
	unsigned threads;
	unsigned rep;
	size_t index;	  ///< position in the whole matrix (before --shard)
	as_strv_t pnames; ///< parameters given for this cell (not defaults)
	as_strv_t pvals;
} as_cell_t;

typedef struct as_plan_s {
	as_cell_t *cells;
	size_t ncells;
	size_t total;	     ///< cells before sharding
	as_strv_t allocs;    ///< allocator names in the order given
	unsigned reps;
	uint64_t seed;
	double timeout_s;
	uint64_t mem_limit;
	unsigned sample;
	unsigned timeline_ms;
	unsigned shard_i;
	unsigned shard_n;
	as_topo_t topo;
	as_pin_t pin;
	as_mem_t mem;
} as_plan_t;

/// Validate the options and build the matrix; bad input exits 2 naming the
/// option and the reason.
void as_plan_build(as_plan_t *p, as_opts_t *o);

/// One line describing a cell (for plan and progress).
char *as_cell_desc(const as_cell_t *c);

#endif
