// SPDX-License-Identifier: MIT
// The catalog: which allocators and workloads exist for this build.
//
// Allocators come from one table (allocators.c): the object-allocator
// baselines (glibc, jemalloc, tcmalloc, mimalloc by LD_PRELOAD), the in-tree
// object allocators and their variants (library + environment), and the
// frame allocators that `framebench --list-allocators` names. An entry whose
// library is not there is listed with available=false and the reason.
// `preload:PATH` names an ad-hoc object allocator (any .so), which is how the
// tests check that a preload that does not take effect is caught.
//
// Workloads are found by running the workload programs next to the runner
// (bin/framebench and bin/micro-*) with --describe, plus the registered
// scenarios (scenario.h). Nothing here links workload code.
#ifndef AS_CATALOG_H
#define AS_CATALOG_H

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

typedef enum as_kind_e {
	AS_KIND_FRAME,  ///< frame allocator, runs frame workloads in framebench
	AS_KIND_OBJECT, ///< malloc replacement, runs everything else by LD_PRELOAD
} as_kind_t;

typedef struct as_alloc_s {
	const char *name;
	as_kind_t kind;
	const char *desc;
	char *lib;	 ///< LD_PRELOAD path; NULL = none (glibc, frame)
	as_strv_t env;	 ///< extra KEY=VALUE for the child
	bool in_tree;	 ///< our own library: must report malloc_served > 0
	bool available;
	char *missing;	 ///< why not available
	char *version;	 ///< package version or "in-tree"
	const char *expect_lib; ///< basename malloc must resolve to, for glibc
} as_alloc_t;

/// Load the allocator table (idempotent).
void as_alloc_load(void);
size_t as_alloc_count(void);
as_alloc_t *as_alloc_at(size_t i);
/// Look up by name ("preload:PATH" creates an entry). NULL if unknown.
as_alloc_t *as_alloc_find(const char *name);
/// Version of a Debian package via dpkg-query, or NULL.
char *as_pkg_version(const char *pkg);

typedef struct as_param_s {
	char *name;
	char *def;
	char *help;
} as_param_t;

struct as_scenario_s;

typedef struct as_wl_s {
	char *name;
	char *kind;    ///< "frame", "micro", "test", or a scenario's kind
	char *summary;
	char *prog;    ///< program path (NULL for scenarios)
	as_param_t *params;
	size_t nparams;
	const struct as_scenario_s *scen; ///< set for runner-driven scenarios
} as_wl_t;

/// Discover the workloads (idempotent).
void as_wl_load(void);
size_t as_wl_count(void);
as_wl_t *as_wl_at(size_t i);
as_wl_t *as_wl_find(const char *name);
const as_param_t *as_wl_param(const as_wl_t *w, const char *name);
/// Whether allocator `a` can run workload `w` (frame <-> frame only).
bool as_wl_fits(const as_wl_t *w, const as_alloc_t *a);
/// Path of framebench, or NULL when it is not built.
const char *as_framebench_path(void);

#endif
