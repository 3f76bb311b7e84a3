// SPDX-License-Identifier: MIT
// Helpers shared by the server scenarios (scenario_imgserver.c,
// scenario_redis.c): building argv lists, waiting for a server to publish
// its port, and folding a probe program's output file into the record.
#ifndef AS_SCENARIO_UTIL_H
#define AS_SCENARIO_UTIL_H

#include <stdbool.h>

#include "scenario.h"
#include "util.h"

/// Append "--pin a,b,..." for the scenario's planned CPUs, if any.
void as_scen_push_pins(const as_scen_ctx_t *ctx, as_strv_t *argv);

/// Wait until `path` holds a port number, while `server` lives; false with
/// the reason recorded (server died, or no port within timeout_s).
bool as_scen_wait_port(as_scen_ctx_t *ctx, as_child_t *server, const char *path, double timeout_s,
		       unsigned *port);

typedef enum as_probe_role_e {
	AS_ROLE_SERVER, ///< the process under test: everything is kept
	AS_ROLE_CLIENT, ///< a load generator: its metrics are kept, but its own
			///< rss_* get a "client_" prefix and its info lines are
			///< dropped (the server's identity wins)
} as_probe_role_t;

/// Parse the probe output file at `path` into ctx->rec for `role`. A
/// missing file or a status other than ok fails the run (status error,
/// naming `what`) and returns false.
bool as_scen_take_probe(as_scen_ctx_t *ctx, const char *path, as_probe_role_t role, const char *what);

#endif
