// SPDX-License-Identifier: MIT
// Helpers shared by the server scenarios (see scenario_util.h).
#include "scenario_util.h"

#include <string.h>
#include <unistd.h>

#include "record.h"

void as_scen_push_pins(const as_scen_ctx_t *ctx, as_strv_t *argv)
{
	if (!ctx->pin_cpus || !ctx->npins)
		return;
	as_strv_t pins = { 0 };
	for (unsigned i = 0; i < ctx->npins; i++)
		as_strv_pushf(&pins, "%d", ctx->pin_cpus[i]);
	char *list = as_strv_join(&pins, ",");
	as_strv_push(argv, "--pin");
	as_strv_push(argv, list);
	free(list);
	as_strv_clear(&pins);
}

bool as_scen_wait_port(as_scen_ctx_t *ctx, as_child_t *server, const char *path, double timeout_s,
		       unsigned *port)
{
	double t0 = as_mono_s();
	while (as_mono_s() - t0 < timeout_s) {
		char *line = as_read_line(path);
		uint64_t p;
		if (line && as_parse_uint(line, 1, 65535, &p)) {
			free(line);
			*port = (unsigned)p;
			return true;
		}
		free(line);
		if (as_child_exited(server)) {
			as_child_status(server, ctx->rec, NULL);
			as_rec_fail(ctx->rec, "error", "the server exited before it was ready");
			return false;
		}
		usleep(20000);
	}
	as_rec_fail(ctx->rec, "timeout", "the server published no port within %.0f s", timeout_s);
	return false;
}

/// The client process's own memory figures (the probe's rss_*): kept with a
/// "client_" prefix so they are never read as the server's. A client that
/// reports the server's fragmentation (redis-frag, from INFO) keeps frag_*.
static bool is_memory_metric(const char *name)
{
	return !strncmp(name, "rss_", 4);
}

bool as_scen_take_probe(as_scen_ctx_t *ctx, const char *path, as_probe_role_t role, const char *what)
{
	char *text = as_read_file(path);
	if (!text) {
		as_rec_fail(ctx->rec, "error", "%s wrote no results (%s)", what, path);
		return false;
	}
	as_rec_t r;
	as_rec_init(&r);
	as_rec_parse_probe(&r, text);
	free(text);
	if (strcmp(r.status, "ok") != 0) {
		as_rec_fail(ctx->rec, "error", "%s: %s", what, r.error ? r.error : "no status line");
		as_rec_free(&r);
		return false;
	}
	const char *name;
	json_t *v;
	json_object_foreach(r.metrics, name, v) {
		if (role == AS_ROLE_CLIENT && is_memory_metric(name)) {
			char *n = as_xasprintf("client_%s", name);
			json_object_set(ctx->rec->metrics, n, v);
			free(n);
		} else {
			json_object_set(ctx->rec->metrics, name, v);
		}
	}
	json_object_update(ctx->rec->series, r.series);
	if (role == AS_ROLE_SERVER) {
		json_object_update(ctx->rec->info, r.info);
		if (r.t_ms) {
			json_decref(ctx->rec->t_ms);
			json_decref(ctx->rec->rss);
			json_decref(ctx->rec->live);
			ctx->rec->t_ms = json_incref(r.t_ms);
			ctx->rec->rss = json_incref(r.rss);
			ctx->rec->live = json_incref(r.live);
		}
		if (r.placement) {
			json_decref(ctx->rec->placement);
			ctx->rec->placement = json_incref(r.placement);
		}
	}
	as_rec_free(&r);
	return true;
}
