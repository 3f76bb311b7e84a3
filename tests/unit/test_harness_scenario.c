// SPDX-License-Identifier: MIT
// The scenario interface end to end: a registered scenario whose "server"
// is /bin/sleep under the allocator's preload and whose client is another
// sleep; the runner samples the server's RSS, the scenario verifies the
// preload, and a preload that does not take effect is an error.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opts.h"
#include "runner.h"
#include "scenario.h"
#include "test.h"

static const as_scen_param_t sleep_params[] = {
	{ "client_s", "0.15", "seconds the client runs" },
	{ NULL, NULL, NULL },
};

static void sleep_run(as_scen_ctx_t *ctx)
{
	char err[256];
	char *server_argv[] = { (char *)"/bin/sleep", (char *)"30", NULL };
	char *client_argv[] = { (char *)"/bin/sleep", (char *)as_scen_param(ctx, "client_s"), NULL };
	as_child_t server, client;
	if (as_child_spawn(&server, &(as_spawn_t){ .argv = server_argv, .envp = ctx->env }, err, sizeof(err))) {
		as_rec_fail(ctx->rec, "error", "%s", err);
		return;
	}
	if (as_child_spawn(&client, &(as_spawn_t){ .argv = client_argv, .envp = ctx->base_env }, err,
			   sizeof(err))) {
		as_rec_fail(ctx->rec, "error", "%s", err);
		goto out_stop;
	}
	as_child_wait(&client, &(as_watch_t){ .sample = &server, .timeline = ctx->rec, .timeout_s = ctx->timeout_s,
					     .period_ms = 10 });
	as_scen_check_preload(ctx, &server);
	if (as_child_status(&client, ctx->rec, NULL))
		as_rec_metric(ctx->rec, "client_wall_s", client.wall_s);
	as_rec_metric(ctx->rec, "rss_peak_bytes", (double)server.rss_peak);
out_stop:
	as_child_stop(&server, 1.0);
}

static const as_scenario_t sleep_scen = {
	.name = "test-sleep-server",
	.kind = "test",
	.summary = "harness test: a sleeping server and a sleeping client",
	.params = sleep_params,
	.run = sleep_run,
};
AS_SCENARIO_REGISTER(sleep_scen)

static json_t *run_one(const char *alloc)
{
	as_opts_t o;
	memset(&o, 0, sizeof(o));
	o.alloc = strdup(alloc);
	o.workload = strdup("test-sleep-server");
	o.events = strdup("none");
	o.quiet = true;
	as_plan_t p;
	as_plan_build(&p, &o);
	if (p.ncells != 1)
		return NULL;
	char logbase[] = "/tmp/as-test-scen-XXXXXX";
	int fd = mkstemp(logbase);
	if (fd < 0)
		return NULL;
	json_t *run = as_run_cell(&p, &p.cells[0], logbase);
	char *cmd = NULL;
	if (asprintf(&cmd, "rm -rf '%s' '%s.d'", logbase, logbase) > 0 && system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", logbase);
	free(cmd);
	return run;
}

TEST(harness_scenario_server_sampled_and_verified)
{
	json_t *r = run_one("jemalloc");
	check(r);
	const char *st = json_string_value(json_object_get(r, "status"));
	if (strcmp(st, "ok") != 0)
		check_fail("status %s: %s", st, json_string_value(json_object_get(r, "error")));
	check(strstr(json_string_value(json_object_get(json_object_get(r, "info"), "malloc_lib")), "libjemalloc"));
	json_t *tl = json_object_get(r, "timeline");
	check(json_array_size(json_object_get(tl, "t_ms")) >= 3);
	check(json_number_value(json_object_get(json_object_get(r, "metrics"), "rss_peak_bytes")) > 0);
	json_decref(r);

	r = run_one("preload:/nonexistent/libnothing.so");
	check(r);
	check(!strcmp(json_string_value(json_object_get(r, "status")), "error"));
	check(strstr(json_string_value(json_object_get(r, "error")), "preload did not take effect"));
	json_decref(r);
}
