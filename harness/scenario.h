// SPDX-License-Identifier: MIT
// Scenarios: workloads the runner drives itself instead of a probe program,
// for real servers (Redis, the image server). A scenario typically starts a
// server under the allocator (LD_PRELOAD in ctx->env), samples the server's
// RSS while a client program runs, stops the server (always, also on
// failure) and reports metrics. It lives in its own file, e.g.
// harness/scenario_redis.c, and registers itself by constructor, so adding
// one needs no edit elsewhere:
//
//     static const as_scen_param_t redis_params[] = {
//         { "requests", "100000", "requests per client run" }, { NULL } };
//     static void redis_run(as_scen_ctx_t *ctx) { ... }
//     static const as_scenario_t redis = {
//         .name = "redis-lpush", .kind = "server", .summary = "...",
//         .params = redis_params, .available = redis_available, .run = redis_run };
//     AS_SCENARIO_REGISTER(redis);
//
// Contract for run():
//   - Start processes with as_child_spawn (child.h), passing ctx->env as envp
//     for the process under test (clients usually get ctx->base_env, without
//     the preload). Pin the server with ctx->pin_cpus if set.
//   - Sample the server: as_child_wait(client, &(as_watch_t){ .sample = server,
//     .timeline = ctx->rec, .timeout_s = ctx->timeout_s, .mem_limit =
//     ctx->mem_limit }) records the server's RSS timeline while waiting for
//     the client; rss peak is in server->rss_peak.
//   - Verify the allocator with as_scen_check_preload(ctx, server) while the
//     server runs (it reads /proc/PID/maps; a mismatch makes the run error).
//   - Report with as_rec_metric/as_rec_metric_null/as_rec_info on ctx->rec,
//     and failures with as_rec_fail(ctx->rec, "error"|"timeout"|..., why).
//     Leave the status empty on success: the runner sets "ok".
//   - Always as_child_stop() every process started, on every path.
// Parameters are read with as_scen_param (defaults from .params); the
// runner validates names before the run. ctx->workdir is a private scratch
// directory for the run (config files, sockets, dumps).
#ifndef AS_SCENARIO_H
#define AS_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "catalog.h"
#include "child.h"
#include "record.h"

typedef struct as_scen_param_s {
	const char *name; ///< NULL ends the list
	const char *def;
	const char *help;
} as_scen_param_t;

typedef struct as_scen_ctx_s {
	const as_alloc_t *alloc;  ///< allocator under test
	char *const *env;	  ///< environment with the allocator's preload
	char *const *base_env;	  ///< the same without it (for clients)
	unsigned threads;
	uint64_t seed;
	double timeout_s;	  ///< budget for the whole scenario (0 = none)
	uint64_t mem_limit;	  ///< RSS limit for the server (0 = none)
	const int *pin_cpus;	  ///< real CPUs planned for the threads, or NULL
	unsigned npins;
	const char *workdir;
	const as_mem_t *mem;	  ///< memory policy for the server
	as_rec_t *rec;		  ///< results sink
	const struct as_scenario_s *scen;
	const char *const *param_names; ///< effective parameters (name, value)
	const char *const *param_values;
	size_t nparams;
} as_scen_ctx_t;

typedef struct as_scenario_s {
	const char *name;
	const char *kind;    ///< e.g. "server"; runs with object allocators
	const char *summary;
	const as_scen_param_t *params;
	/// NULL or: 0 if runnable here, else -1 with the reason (e.g. a missing
	/// redis-server binary) in why; the run is then status "unsupported".
	int (*available)(char *why, size_t len);
	void (*run)(as_scen_ctx_t *ctx);
} as_scenario_t;

void as_scenario_register(const as_scenario_t *s);
size_t as_scenario_count(void);
const as_scenario_t *as_scenario_at(size_t i);

#define AS_SCENARIO_REGISTER(var)                                              \
	__attribute__((constructor)) static void as_scen_register_##var(void) \
	{                                                                      \
		as_scenario_register(&var);                                    \
	}

/// Effective value of a parameter (given or default); NULL if unknown.
const char *as_scen_param(const as_scen_ctx_t *ctx, const char *name);

/// Check that the allocator's library is mapped in the live process (for
/// glibc: that no other malloc library is preloaded). Records malloc_lib in
/// info; on mismatch sets status error and returns false.
bool as_scen_check_preload(as_scen_ctx_t *ctx, const as_child_t *server);

#endif
