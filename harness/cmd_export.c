// SPDX-License-Identifier: MIT
// allocscope export --format gbench RESULTS: Google Benchmark's JSON format
// (docs/json_format.md of google/benchmark), so existing trackers
// (github-action-benchmark's "googlecpp" tool, Bencher, conbench) ingest
// allocscope results unchanged. One benchmark per cell and repetition
// ("iteration" runs) plus mean/median/stddev/cv aggregates per cell. The
// time is the cell's headline cost in ns: alloc_ns, pair_ns, or 1e9 /
// ops_per_s; every other numeric metric becomes a user counter.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "command.h"
#include "results.h"
#include "util.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: allocscope export --format gbench RESULTS [--out FILE]\n"
		   "Write RESULTS (a results.json or run folder) as Google Benchmark JSON to FILE or\n"
		   "standard output. Benchmark names are workload/allocator/params.../threads:N.\n");
}

/// Headline time of a run in ns; false when the run has none.
static bool headline_ns(json_t *m, double *ns)
{
	static const char *const direct[] = { "alloc_ns", "pair_ns", "batch_ns", NULL };
	for (const char *const *d = direct; *d; d++) {
		json_t *v = json_object_get(m, *d);
		if (json_is_number(v)) {
			*ns = json_number_value(v);
			return true;
		}
	}
	json_t *ops = json_object_get(m, "ops_per_s");
	if (json_is_number(ops) && json_number_value(ops) > 0) {
		*ns = 1e9 / json_number_value(ops);
		return true;
	}
	json_t *w = json_object_get(m, "wall_s");
	if (json_is_number(w)) {
		*ns = json_number_value(w) * 1e9;
		return true;
	}
	return false;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *bench_name(json_t *r)
{
	as_strv_t parts = { 0 };
	as_strv_push(&parts, json_string_value(json_object_get(r, "workload")));
	as_strv_push(&parts, json_string_value(json_object_get(r, "allocator")));
	const char *k;
	json_t *v;
	// Sorted parameter names, for stable names across runs.
	as_strv_t keys = { 0 };
	json_object_foreach(json_object_get(r, "params"), k, v)
		as_strv_push(&keys, k);
	qsort(keys.v, keys.n, sizeof(char *), cmp_str);
	for (size_t i = 0; i < keys.n; i++) {
		json_t *pv = json_object_get(json_object_get(r, "params"), keys.v[i]);
		if (json_is_string(pv))
			as_strv_pushf(&parts, "%s:%s", keys.v[i], json_string_value(pv));
		else if (json_is_integer(pv))
			as_strv_pushf(&parts, "%s:%lld", keys.v[i], (long long)json_integer_value(pv));
		else
			as_strv_pushf(&parts, "%s:%g", keys.v[i], json_number_value(pv));
	}
	as_strv_pushf(&parts, "threads:%lld", (long long)json_integer_value(json_object_get(r, "threads")));
	char *name = as_strv_join(&parts, "/");
	as_strv_clear(&parts);
	as_strv_clear(&keys);
	return name;
}

static json_t *bench_entry(const char *name, size_t family, const char *run_type, const char *agg,
			   size_t reps, long long rep, long long threads, double ns)
{
	json_t *b = json_object();
	char *full = agg ? as_xasprintf("%s_%s", name, agg) : as_xstrdup(name);
	json_object_set_new(b, "name", json_string(full));
	free(full);
	json_object_set_new(b, "family_index", json_integer((json_int_t)family));
	json_object_set_new(b, "per_family_instance_index", json_integer(0));
	json_object_set_new(b, "run_name", json_string(name));
	json_object_set_new(b, "run_type", json_string(run_type));
	json_object_set_new(b, "repetitions", json_integer((json_int_t)reps));
	if (rep >= 0)
		json_object_set_new(b, "repetition_index", json_integer(rep));
	if (agg) {
		json_object_set_new(b, "aggregate_name", json_string(agg));
		json_object_set_new(b, "aggregate_unit", json_string(strcmp(agg, "cv") ? "time" : "percentage"));
	}
	json_object_set_new(b, "threads", json_integer(threads));
	json_object_set_new(b, "iterations", json_integer(1));
	json_object_set_new(b, "real_time", json_real(ns));
	json_object_set_new(b, "cpu_time", json_real(ns));
	json_object_set_new(b, "time_unit", json_string("ns"));
	return b;
}

static int cmd_export(int argc, char **argv)
{
	if (as_cmd_wants_help(argc, argv)) {
		usage(stdout);
		return 0;
	}
	const char *format = NULL, *path = NULL, *outp = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--format") || !strcmp(a, "--out")) {
			if (i + 1 >= argc) {
				fprintf(stderr, "allocscope export: %s: needs a value\n", a);
				return 2;
			}
			*(!strcmp(a, "--format") ? &format : &outp) = argv[++i];
		} else if (a[0] == '-') {
			fprintf(stderr, "allocscope export: unknown option '%s' (try --help)\n", a);
			return 2;
		} else if (!path) {
			path = a;
		} else {
			fprintf(stderr, "allocscope export: unexpected argument '%s'\n", a);
			return 2;
		}
	}
	if (!format || strcmp(format, "gbench") != 0) {
		fprintf(stderr, "allocscope export: --format: %s (supported: gbench)\n",
			format ? "unknown format" : "required");
		return 2;
	}
	if (!path) {
		fprintf(stderr, "allocscope export: give a results.json or run folder (try --help)\n");
		return 2;
	}
	char err[512];
	json_t *doc = as_res_read(path, err, sizeof(err));
	if (!doc) {
		fprintf(stderr, "allocscope export: %s\n", err);
		return 2;
	}
	json_t *ctx = json_object_get(doc, "context");
	json_t *gctx = json_object();
	json_object_set(gctx, "date", json_object_get(ctx, "date"));
	json_object_set(gctx, "host_name", json_object_get(ctx, "host"));
	json_object_set_new(gctx, "executable", json_string("allocscope"));
	json_object_set(gctx, "num_cpus", json_object_get(ctx, "cores"));
	json_object_set_new(gctx, "mhz_per_cpu", json_integer(0)); // not measured: unknown
	json_object_set_new(gctx, "cpu_scaling_enabled", json_false());
	json_object_set_new(gctx, "caches", json_array());
	json_object_set_new(gctx, "load_avg", json_array());
	json_object_set_new(gctx, "library_build_type", json_string("release"));
	json_object_set_new(gctx, "json_schema_version", json_integer(1));
	json_object_set(gctx, "allocscope_commit", json_object_get(ctx, "commit"));
	json_object_set(gctx, "allocscope_command", json_object_get(ctx, "command"));

	json_t *benches = json_array();
	json_t *families = json_object(); // name -> array of ns, in rep order
	as_strv_t order = { 0 };
	size_t i;
	json_t *r;
	json_array_foreach(json_object_get(doc, "runs"), i, r)
	{
		double ns;
		json_t *m = json_object_get(r, "metrics");
		if (strcmp(json_string_value(json_object_get(r, "status")), "ok") != 0 || !headline_ns(m, &ns))
			continue;
		char *name = bench_name(r);
		if (!json_object_get(families, name)) {
			json_object_set_new(families, name, json_array());
			as_strv_push(&order, name);
		}
		json_t *arr = json_object_get(families, name);
		json_array_append_new(arr, json_real(ns));
		size_t fam = 0;
		while (strcmp(order.v[fam], name))
			fam++;
		json_t *b = bench_entry(name, fam, "iteration", NULL, 0,
					json_integer_value(json_object_get(r, "rep")),
					json_integer_value(json_object_get(r, "threads")), ns);
		const char *k;
		json_t *v;
		json_object_foreach(m, k, v)
			if (json_is_number(v) && !json_object_get(b, k))
				json_object_set(b, k, v); // user counters
		json_array_append_new(benches, b);
		free(name);
	}
	// Repetition counts, then the aggregates of each family.
	json_array_foreach(benches, i, r)
		json_object_set_new(r, "repetitions",
				    json_integer((json_int_t)json_array_size(json_object_get(
					    families, json_string_value(json_object_get(r, "run_name"))))));
	for (size_t f = 0; f < order.n; f++) {
		json_t *arr = json_object_get(families, order.v[f]);
		size_t n = json_array_size(arr);
		double *v = as_xmalloc(n * sizeof(double));
		for (size_t k = 0; k < n; k++)
			v[k] = json_number_value(json_array_get(arr, k));
		as_stats_t st;
		as_stats(v, n, &st);
		free(v);
		long long threads = 1;
		json_array_foreach(benches, i, r)
			if (!strcmp(json_string_value(json_object_get(r, "run_name")), order.v[f]))
				threads = json_integer_value(json_object_get(r, "threads"));
		const char *aggs[] = { "mean", "median", "stddev", "cv" };
		double vals[] = { st.mean, st.median, st.stddev, st.cv };
		for (int a = 0; a < 4; a++)
			json_array_append_new(benches, bench_entry(order.v[f], f, "aggregate", aggs[a], n, -1,
								   threads, vals[a]));
	}
	json_t *out = json_object();
	json_object_set_new(out, "context", gctx);
	json_object_set_new(out, "benchmarks", benches);
	int rc = outp ? json_dump_file(out, outp, JSON_INDENT(1)) : json_dumpf(out, stdout, JSON_INDENT(1));
	if (!outp)
		printf("\n");
	if (rc != 0) {
		fprintf(stderr, "allocscope export: cannot write %s\n", outp ? outp : "standard output");
		rc = 1;
	}
	json_decref(out);
	json_decref(families);
	json_decref(doc);
	as_strv_clear(&order);
	return rc;
}
AS_COMMAND(export, "write results as Google Benchmark JSON (for existing trackers)", cmd_export)
