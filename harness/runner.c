// SPDX-License-Identifier: MIT
// Cell execution and verification (see runner.h).
#include "runner.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "as/err.h"
#include "child.h"
#include "results.h"
#include "scenario.h"

extern char **environ;

static json_t *value_json(const char *v)
{
	double d;
	if (as_parse_double(v, &d) && strchr("0123456789-.", v[0])) {
		if (d == (double)(long long)d && !strpbrk(v, ".eE"))
			return json_integer((json_int_t)d);
		return json_real(d);
	}
	return json_string(v);
}

// Environment for the child: ours without LD_PRELOAD, plus the allocator's.
static void build_env(as_strv_t *env, const as_alloc_t *a, bool preload)
{
	for (char **e = environ; *e; e++) {
		if (!strncmp(*e, "LD_PRELOAD=", 11))
			continue;
		bool overridden = false;
		for (size_t i = 0; i < a->env.n; i++) {
			size_t k = strcspn(a->env.v[i], "=");
			if (!strncmp(*e, a->env.v[i], k + 1))
				overridden = true;
		}
		if (!overridden)
			as_strv_push(env, *e);
	}
	if (preload) {
		for (size_t i = 0; i < a->env.n; i++)
			as_strv_push(env, a->env.v[i]);
		if (a->lib)
			as_strv_pushf(env, "LD_PRELOAD=%s", a->lib);
	}
}

void as_run_verify(const as_alloc_t *a, as_rec_t *r)
{
	if (strcmp(r->status, "ok") != 0)
		return;
	if (a->kind == AS_KIND_FRAME) {
		const char *got = as_rec_info_get(r, "alloc");
		if (got && strcmp(got, a->name) != 0)
			as_rec_fail(r, "error", "framebench ran allocator '%s', not '%s'", got, a->name);
		return;
	}
	const char *lib = as_rec_info_get(r, "malloc_lib");
	if (!lib || !*lib || !strcmp(lib, "unknown")) {
		as_rec_fail(r, "error", "cannot verify the allocator: the workload did not report malloc_lib");
		return;
	}
	const char *base = strrchr(lib, '/') ? strrchr(lib, '/') + 1 : lib;
	if (!a->lib) {
		if (strcmp(base, a->expect_lib) != 0)
			as_rec_fail(r, "error", "malloc resolves to %s, not %s", lib, a->expect_lib);
		return;
	}
	char want[PATH_MAX];
	char got[PATH_MAX];
	bool want_ok = realpath(a->lib, want) != NULL;
	bool got_ok = realpath(lib, got) != NULL;
	if (!want_ok || !got_ok || strcmp(want, got) != 0) {
		as_rec_fail(r, "error", "preload did not take effect: malloc resolves to %s, not %s%s", lib, a->lib,
			    want_ok ? "" : " (which cannot be opened)");
		return;
	}
	if (a->in_tree) {
		const char *served = as_rec_info_get(r, "malloc_served");
		if (!served || strtoull(served, NULL, 10) == 0)
			as_rec_fail(r, "error", "%s is loaded but served no malloc (malloc_served %s)", a->lib,
				    served ? served : "not reported");
	}
}

static json_t *int_array(const int *v, unsigned n)
{
	json_t *a = json_array();
	for (unsigned i = 0; i < n; i++)
		json_array_append_new(a, json_integer(v[i]));
	return a;
}

static bool all_null(json_t *a)
{
	size_t i;
	json_t *v;
	json_array_foreach(a, i, v)
	{
		if (!json_is_null(v))
			return false;
	}
	return true;
}

static void run_scenario(const as_plan_t *p, const as_cell_t *c, const char *logbase, as_rec_t *r,
			 const int *rcpu, unsigned npins)
{
	char why[512] = "";
	const as_scenario_t *s = c->wl->scen;
	if (s->available && s->available(why, sizeof(why)) != 0) {
		as_rec_fail(r, "unsupported", "%s", *why ? why : "scenario not available here");
		return;
	}
	as_strv_t env = { 0 };
	as_strv_t base = { 0 };
	build_env(&env, c->alloc, true);
	build_env(&base, c->alloc, false);
	char *workdir = as_xasprintf("%s.d", logbase);
	mkdir(workdir, 0755);
	as_scen_ctx_t ctx = {
		.alloc = c->alloc,
		.env = as_strv_argv(&env),
		.base_env = as_strv_argv(&base),
		.threads = c->threads,
		.seed = p->seed,
		.timeout_s = p->timeout_s,
		.mem_limit = p->mem_limit,
		.pin_cpus = npins ? rcpu : NULL,
		.npins = npins,
		.workdir = workdir,
		.mem = &p->mem,
		.rec = r,
		.scen = s,
		.param_names = (const char *const *)c->pnames.v,
		.param_values = (const char *const *)c->pvals.v,
		.nparams = c->pnames.n,
	};
	s->run(&ctx);
	if (!r->status[0]) {
		snprintf(r->status, sizeof(r->status), "ok");
		if (c->alloc->kind == AS_KIND_OBJECT && !as_rec_info_get(r, "malloc_lib"))
			as_rec_fail(r, "error", "the scenario did not verify the allocator (as_scen_check_preload)");
	}
	free(workdir);
	as_strv_clear(&env);
	as_strv_clear(&base);
}

static void run_program(const as_plan_t *p, const as_cell_t *c, const char *logbase, as_rec_t *r,
			const int *rcpu, const int *node, unsigned npins, json_t *metrics, json_t *unsup)
{
	as_strv_t argv = { 0 };
	as_strv_push(&argv, c->wl->prog);
	as_strv_push(&argv, "--workload");
	as_strv_push(&argv, c->wl->name);
	as_strv_push(&argv, "--threads");
	as_strv_pushf(&argv, "%u", c->threads);
	as_strv_push(&argv, "--seed");
	as_strv_pushf(&argv, "%llu", (unsigned long long)p->seed);
	for (size_t i = 0; i < c->pnames.n; i++) {
		as_strv_push(&argv, "--param");
		as_strv_pushf(&argv, "%s=%s", c->pnames.v[i], c->pvals.v[i]);
	}
	if (npins) {
		as_strv_t pins = { 0 };
		as_strv_t nodes = { 0 };
		for (unsigned i = 0; i < npins; i++) {
			as_strv_pushf(&pins, "%d", rcpu[i]);
			as_strv_pushf(&nodes, "%d", node[i]);
		}
		char *pj = as_strv_join(&pins, ",");
		char *nj = as_strv_join(&nodes, ",");
		as_strv_push(&argv, "--pin");
		as_strv_push(&argv, pj);
		as_strv_push(&argv, "--nodes");
		as_strv_push(&argv, nj);
		free(pj);
		free(nj);
		as_strv_clear(&pins);
		as_strv_clear(&nodes);
	}
	as_strv_push(&argv, "--sample");
	as_strv_pushf(&argv, "%u", p->sample);
	as_strv_push(&argv, "--timeline-ms");
	as_strv_pushf(&argv, "%u", p->timeline_ms);
	if (c->alloc->kind == AS_KIND_FRAME) {
		as_strv_push(&argv, "--alloc");
		as_strv_push(&argv, c->alloc->name);
	}
	char *outp = as_xasprintf("%s.out", logbase);
	char *errp = as_xasprintf("%s.err", logbase);
	as_strv_push(&argv, "--out");
	as_strv_push(&argv, outp);

	as_strv_t env = { 0 };
	build_env(&env, c->alloc, c->alloc->kind == AS_KIND_OBJECT);
	as_spawn_t sp = { .argv = as_strv_argv(&argv),
			  .envp = as_strv_argv(&env),
			  .stdout_path = NULL,
			  .stderr_path = errp,
			  .mem = &p->mem,
			  .perf = true };
	as_child_t ch;
	char err[512];
	unlink(outp);
	if (as_child_spawn(&ch, &sp, err, sizeof(err)) != 0) {
		as_rec_fail(r, "error", "%s", err);
		goto out;
	}
	as_rec_t rtl; // the runner's own RSS samples, used if the probe kept none
	as_rec_init(&rtl);
	as_watch_t w = { .timeout_s = p->timeout_s,
			 .mem_limit = p->mem_limit,
			 .period_ms = p->timeline_ms ? p->timeline_ms : 10,
			 .timeline = &rtl };
	as_child_wait(&ch, &w);
	if (ch.has_perf)
		as_perf_collect(&ch.perf, metrics, unsup);
	bool killed = ch.timed_out || ch.over_limit || WIFSIGNALED(ch.wstatus);
	if (killed)
		as_child_status(&ch, r, errp);
	char *text = as_read_file(outp);
	if (text) {
		as_rec_parse_probe(r, text);
		free(text);
	}
	if (!killed)
		as_child_status(&ch, r, errp);
	if (!r->status[0])
		as_rec_fail(r, "error", "the workload exited without a status line");
	if (!r->t_ms && rtl.t_ms) {
		r->t_ms = json_incref(rtl.t_ms);
		r->rss = json_incref(rtl.rss);
		r->live = json_incref(rtl.live);
	}
	as_rec_free(&rtl);
	json_object_set_new(metrics, "proc_wall_s", json_real(ch.wall_s));
	json_object_set_new(metrics, "user_s",
			    json_real((double)ch.ru.ru_utime.tv_sec + (double)ch.ru.ru_utime.tv_usec * 1e-6));
	json_object_set_new(metrics, "sys_s",
			    json_real((double)ch.ru.ru_stime.tv_sec + (double)ch.ru.ru_stime.tv_usec * 1e-6));
	json_object_set_new(metrics, "minflt", json_integer(ch.ru.ru_minflt));
	json_object_set_new(metrics, "majflt", json_integer(ch.ru.ru_majflt));
	if (!json_object_get(r->metrics, "rss_peak_bytes"))
		json_object_set_new(metrics, "rss_peak_bytes", json_integer((json_int_t)ch.ru.ru_maxrss * 1024));
	if (!json_object_get(r->metrics, "rss_peak_sampled_bytes") && ch.rss_peak > 0)
		json_object_set_new(metrics, "rss_peak_sampled_bytes", json_integer(ch.rss_peak));
out:
	free(outp);
	free(errp);
	as_strv_clear(&argv);
	as_strv_clear(&env);
}

json_t *as_run_cell(const as_plan_t *p, const as_cell_t *c, const char *logbase)
{
	as_rec_t r;
	as_rec_init(&r);
	json_t *metrics = json_object();
	json_t *unsup = json_object();
	unsigned n = c->threads;
	int *vpu = as_xcalloc(n, sizeof(int));
	int *rcpu = as_xcalloc(n, sizeof(int));
	int *node = as_xcalloc(n, sizeof(int));
	unsigned npins = as_topo_place(&p->topo, &p->pin, n, vpu, rcpu, node) ? n : 0;

	if (c->wl->scen)
		run_scenario(p, c, logbase, &r, rcpu, npins);
	else
		run_program(p, c, logbase, &r, rcpu, node, npins, metrics, unsup);
	as_run_verify(c->alloc, &r);

	json_t *params = json_object();
	for (size_t i = 0; i < c->wl->nparams; i++)
		json_object_set_new(params, c->wl->params[i].name, value_json(c->wl->params[i].def));
	for (size_t i = 0; i < c->pnames.n; i++)
		json_object_set_new(params, c->pnames.v[i], value_json(c->pvals.v[i]));
	// The workload's metrics win over the runner's of the same name.
	json_object_update(metrics, r.metrics);

	json_t *run = json_object();
	json_object_set_new(run, "allocator", json_string(c->alloc->name));
	json_object_set_new(run, "workload", json_string(c->wl->name));
	json_object_set_new(run, "params", params);
	json_object_set_new(run, "threads", json_integer(c->threads));
	json_object_set_new(run, "rep", json_integer(c->rep));
	json_object_set_new(run, "status", json_string(r.status));
	if (strcmp(r.status, "ok") != 0)
		json_object_set_new(run, "error", json_string(r.error ? r.error : r.status));
	if (r.placement)
		json_object_set(run, "placement", r.placement);
	else if (npins)
		json_object_set_new(run, "placement", int_array(rcpu, npins));
	else
		json_object_set_new(run, "placement", json_null());
	if (npins) {
		json_object_set_new(run, "nodes", int_array(node, npins));
		if (p->topo.simulated)
			json_object_set_new(run, "placement_virtual", int_array(vpu, npins));
	}
	json_object_set_new(run, "metrics", metrics);
	if (json_object_size(unsup))
		json_object_set_new(run, "perf_unsupported", unsup);
	else
		json_decref(unsup);
	if (r.t_ms && json_array_size(r.t_ms)) {
		json_t *tl = json_object();
		json_object_set(tl, "t_ms", r.t_ms);
		json_object_set(tl, "rss_bytes", r.rss);
		if (!all_null(r.live))
			json_object_set(tl, "live_bytes", r.live);
		json_object_set_new(run, "timeline", tl);
	}
	if (json_object_size(r.series))
		json_object_set(run, "series", r.series);
	if (json_object_size(r.info))
		json_object_set(run, "info", r.info);
	free(vpu);
	free(rcpu);
	free(node);
	as_rec_free(&r);
	return run;
}

static void hms(char *buf, size_t len, double s)
{
	long t = (long)(s + 0.5);
	if (t >= 3600)
		snprintf(buf, len, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
	else
		snprintf(buf, len, "%02ld:%02ld", t / 60, t % 60);
}

int as_run_plan(as_plan_t *p, const char *root, const char *command, bool summary)
{
	char suffix[64] = "";
	if (p->shard_n > 1)
		snprintf(suffix, sizeof(suffix), "shard%u-of-%u", p->shard_i, p->shard_n);
	char *dir = as_res_mkdir(root, suffix);
	char *logs = as_xasprintf("%s/logs", dir);
	mkdir(logs, 0755);
	json_t *doc = json_object();
	json_object_set_new(doc, "schema_version", json_integer(AS_SCHEMA_VERSION));
	json_object_set_new(doc, "context", as_res_context(p, command));
	json_t *runs = json_array();
	json_object_set(doc, "runs", runs);
	as_child_install_signals();
	double t0 = as_mono_s();
	int rc = 0;
	fprintf(stderr, "allocscope: %zu runs%s -> %s\n", p->ncells,
		p->shard_n > 1 ? " (this shard)" : "", dir);
	for (size_t i = 0; i < p->ncells; i++) {
		const as_cell_t *c = &p->cells[i];
		char *desc = as_cell_desc(c);
		double el = as_mono_s() - t0;
		char elb[32];
		char etab[32];
		hms(elb, sizeof(elb), el);
		if (i)
			hms(etab, sizeof(etab), el / (double)i * (double)(p->ncells - i));
		else
			snprintf(etab, sizeof(etab), "?");
		fprintf(stderr, "[%zu/%zu] %s  elapsed %s ETA %s\n", i + 1, p->ncells, desc, elb, etab);
		char *logbase = as_xasprintf("%s/%04zu-%s-%s-t%u-r%u", logs, i, c->alloc->name, c->wl->name,
					     c->threads, c->rep);
		for (char *s = logbase + strlen(logs) + 1; *s; s++)
			if (*s == '/' || *s == ':')
				*s = '_';
		json_t *run = as_run_cell(p, c, logbase);
		const char *st = json_string_value(json_object_get(run, "status"));
		if (strcmp(st, "ok") != 0) {
			if (strcmp(st, "unsupported") != 0)
				rc = 1;
			fprintf(stderr, "    -> %s: %s\n", st, json_string_value(json_object_get(run, "error")));
		}
		json_array_append_new(runs, run);
		as_res_write_json(dir, doc);
		free(logbase);
		free(desc);
	}
	char tb[32];
	hms(tb, sizeof(tb), as_mono_s() - t0);
	fprintf(stderr, "allocscope: done in %s; results in %s\n", tb, dir);
	if (as_res_write_json(dir, doc) != 0 || as_res_write_csv(dir, doc, &p->allocs) != 0)
		rc = 1;
	as_res_link_latest(root, dir);
	if (summary)
		as_res_print_summary(stdout, doc, &p->allocs);
	json_decref(runs);
	json_decref(doc);
	free(logs);
	free(dir);
	return rc;
}
