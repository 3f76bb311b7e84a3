// SPDX-License-Identifier: MIT
// The runner's pieces: probe-protocol parsing, statistics, the results
// writer against the schema, perf events (unsupported ones null), a
// synthetic two-node topology, and the child-process statuses.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "child.h"
#include "perf.h"
#include "record.h"
#include "results.h"
#include "runner.h"
#include "test.h"
#include "topo.h"

#define check_str(a, b)                                                          \
	do {                                                                     \
		const char *as_s_ = (a);                                         \
		if (!as_s_ || strcmp(as_s_, (b)) != 0)                           \
			check_fail("%s is '%s', expected '%s'", #a, as_s_ ? as_s_ : "(null)", (b)); \
	} while (0)

#define S(x) ((char *)(x))

static char *tmpdir(void)
{
	char tmpl[] = "/tmp/as-test-harness-XXXXXX";
	char *d = mkdtemp(tmpl);
	return d ? strdup(d) : NULL;
}

TEST(harness_probe_protocol_parse)
{
	as_rec_t r;
	as_rec_init(&r);
	as_rec_parse_probe(&r, "info workload x\ninfo malloc_lib /lib/libc.so.6\nmetric ops_per_s 1.5e6\n"
			       "metric perf_thing null\nseries free_huge_frac 0.5 0.25\nseries free_huge_frac 0.125\n"
			       "timeline 0.0 4096 -1\ntimeline 10.0 8192 100\nplacement 1 0\nstatus ok\n");
	check_str(r.status, "ok");
	check_str(as_rec_info_get(&r, "malloc_lib"), "/lib/libc.so.6");
	check(json_number_value(json_object_get(r.metrics, "ops_per_s")) == 1.5e6);
	check(json_is_null(json_object_get(r.metrics, "perf_thing")));
	check_eq("%zu", json_array_size(json_object_get(r.series, "free_huge_frac")), (size_t)3);
	check_eq("%zu", json_array_size(r.t_ms), (size_t)2);
	check(json_is_null(json_array_get(r.live, 0)));
	check(json_number_value(json_array_get(r.rss, 1)) == 8192);
	check_eq("%lld", (long long)json_integer_value(json_array_get(r.placement, 0)), 1LL);
	as_rec_free(&r);

	// An error status wins over a later "status ok"; junk lines are errors.
	as_rec_init(&r);
	as_rec_parse_probe(&r, "metric a 1\nstatus error out of memory after 3 MiB\n");
	check_str(r.status, "oom");
	as_rec_free(&r);
	as_rec_init(&r);
	as_rec_parse_probe(&r, "metric a notanumber\nstatus ok\n");
	check_str(r.status, "error");
	check(strstr(r.error, "line 1") != NULL);
	as_rec_free(&r);
}

TEST(harness_stats_known_values)
{
	double v[] = { 5, 1, 3, 2, 4 };
	as_stats_t s;
	as_stats(v, 5, &s);
	check(s.median == 3 && s.min == 1 && s.max == 5 && s.mean == 3);
	check(fabs(s.stddev - sqrt(2.5)) < 1e-12);
	check(fabs(s.cv - sqrt(2.5) / 3) < 1e-12);
	double w[] = { 4, 1, 3, 2 };
	as_stats(w, 4, &s);
	check(s.median == 2.5);
}

static json_t *sample_doc(void)
{
	as_plan_t p;
	memset(&p, 0, sizeof(p));
	char err[256];
	if (as_topo_load(&p.topo, NULL, err, sizeof(err)) != 0)
		return NULL;
	p.seed = 7;
	p.reps = 1;
	json_t *doc = json_object();
	json_object_set_new(doc, "schema_version", json_integer(AS_SCHEMA_VERSION));
	json_object_set_new(doc, "context", as_res_context(&p, "allocscope run --test"));
	json_t *run = json_pack("{s:s, s:s, s:{s:i}, s:i, s:i, s:s, s:[i], s:{s:f, s:n, s:i}, s:{s:s}}",
				"allocator", "glibc", "workload", "selftest", "params", "ops", 10, "threads", 1,
				"rep", 0, "status", "ok", "placement", 0, "metrics", "ops_per_s", 1234.5,
				"perf.cycles", "perf.page-faults", 12, "perf_unsupported", "cycles", "ENOENT");
	json_t *bad = json_pack("{s:s, s:s, s:{}, s:i, s:i, s:s, s:s, s:{}}", "allocator", "jemalloc", "workload",
				"selftest", "params", "threads", 2, "rep", 0, "status", "crash", "error",
				"signal 11", "metrics");
	json_object_set_new(doc, "runs", json_pack("[o, o]", run, bad));
	return doc;
}

TEST(harness_results_roundtrip_schema)
{
	char *dir = tmpdir();
	check(dir);
	json_t *doc = sample_doc();
	check(doc);
	char err[512];
	check_eq("%d", as_res_check(doc, err, sizeof(err)), 0);
	check_eq("%d", as_res_write_json(dir, doc), 0);
	as_strv_t order = { 0 };
	as_strv_push(&order, "glibc");
	check_eq("%d", as_res_write_csv(dir, doc, &order), 0);
	json_t *back = as_res_read(dir, err, sizeof(err));
	if (!back)
		check_fail("read back: %s", err);
	check_eq("%lld", (long long)json_integer_value(json_object_get(back, "schema_version")), 1LL);
	json_t *ctx = json_object_get(back, "context");
	check(json_is_false(json_object_get(ctx, "simulated")));
	check_eq("%lld", (long long)json_integer_value(json_object_get(ctx, "seed")), 7LL);
	check(json_is_string(json_object_get(ctx, "kernel")));
	check(json_is_object(json_object_get(ctx, "versions")));
	check_str(json_string_value(json_object_get(ctx, "command")), "allocscope run --test");
	json_t *r0 = json_array_get(json_object_get(back, "runs"), 0);
	json_t *m = json_object_get(r0, "metrics");
	check(json_number_value(json_object_get(m, "ops_per_s")) == 1234.5);
	check(json_is_null(json_object_get(m, "perf.cycles")));
	check_str(json_string_value(json_object_get(json_object_get(r0, "perf_unsupported"), "cycles")), "ENOENT");
	json_t *r1 = json_array_get(json_object_get(back, "runs"), 1);
	check_str(json_string_value(json_object_get(r1, "status")), "crash");
	// summary.csv starts with the command.
	char *csvp = NULL;
	check(asprintf(&csvp, "%s/summary.csv", dir) > 0);
	FILE *f = fopen(csvp, "r");
	check(f);
	char line[256];
	check(fgets(line, sizeof(line), f) != NULL);
	fclose(f);
	check_str(line, "# allocscope run --test\n");

	// The checker refuses what the schema forbids.
	json_object_set_new(r1, "status", json_string("weird"));
	check(as_res_check(back, err, sizeof(err)) != 0 && strstr(err, "weird"));
	json_object_set_new(r1, "status", json_string("crash"));
	json_object_del(r1, "error");
	check(as_res_check(back, err, sizeof(err)) != 0 && strstr(err, "error string"));
	json_object_set_new(r1, "error", json_string("x"));
	json_object_set_new(m, "perf.cycles", json_integer(0));
	check(as_res_check(back, err, sizeof(err)) != 0 && strstr(err, "unsupported"));
	json_object_set_new(m, "perf.cycles", json_string("0"));
	check(as_res_check(back, err, sizeof(err)) != 0);
	json_object_set_new(m, "perf.cycles", json_null());
	json_object_del(ctx, "commit");
	check(as_res_check(back, err, sizeof(err)) != 0 && strstr(err, "commit"));
	json_decref(back);
	json_decref(doc);
	as_strv_clear(&order);
	char *cmd = NULL;
	check(asprintf(&cmd, "rm -rf '%s'", dir) > 0);
	check(system(cmd) == 0);
	free(cmd);
	free(csvp);
	free(dir);
}

// Hardware events fail on VMs without a PMU and work elsewhere: either way
// the metric must be a count or a null listed in perf_unsupported. The
// software page-faults event works everywhere and must be a count.
TEST(harness_perf_unsupported_null)
{
	char err[256];
	check(as_perf_setup("cycles,instructions,page-faults,task-clock", err, sizeof(err)) == 0);
	char *argv[] = { S("/bin/sh"), S("-c"), S("i=0; while [ $i -lt 2000 ]; do i=$((i+1)); done"), NULL };
	as_spawn_t s = { .argv = argv, .perf = true };
	as_child_t c;
	check(as_child_spawn(&c, &s, err, sizeof(err)) == 0);
	as_child_wait(&c, NULL);
	json_t *m = json_object();
	json_t *u = json_object();
	as_perf_collect(&c.perf, m, u);
	check(json_integer_value(json_object_get(m, "perf.page-faults")) > 0);
	check(json_integer_value(json_object_get(m, "perf.task-clock")) > 0);
	const char *hw[] = { S("cycles"), S("instructions") };
	for (int i = 0; i < 2; i++) {
		char key[64];
		snprintf(key, sizeof(key), "perf.%s", hw[i]);
		json_t *v = json_object_get(m, key);
		check(v != NULL);
		if (json_is_null(v))
			check(json_is_string(json_object_get(u, hw[i])));
		else
			check(json_integer_value(v) > 0 && !json_object_get(u, hw[i]));
	}
	check(!json_object_get(u, "page-faults"));
	json_decref(m);
	json_decref(u);
	check(as_perf_setup("no-such-event-xyz", err, sizeof(err)) != 0);
	check(strstr(err, "--events: unknown event 'no-such-event-xyz'") != NULL);
	check(as_perf_setup("", err, sizeof(err)) == 0);
}

TEST(harness_topology_synthetic_two_nodes)
{
	as_topo_t t;
	char err[256];
	check(as_topo_load(&t, "synthetic:\"package:2 numa:1 core:8 pu:1\"", err, sizeof(err)) == 0);
	check(t.simulated);
	check_eq("%u", t.nodes, 2u);
	check_eq("%u", t.pus, 16u);
	as_pin_t p;
	check(as_pin_parse(&p, "scatter", err, sizeof(err)) == 0);
	int vpu[4], rcpu[4], node[4];
	check(as_topo_place(&t, &p, 4, vpu, rcpu, node));
	for (int i = 0; i < 4; i++) {
		check_eq("%d", node[i], i % 2);
		check(rcpu[i] == t.real_pu_os[(unsigned)vpu[i] % t.real_pus]);
	}
	check(as_pin_parse(&p, "compact", err, sizeof(err)) == 0);
	check(as_topo_place(&t, &p, 4, vpu, rcpu, node));
	check(node[3] == 0 && vpu[3] == 3);
	check(as_pin_parse(&p, "15,3", err, sizeof(err)) == 0 && as_pin_check(&p, &t, err, sizeof(err)) == 0);
	check(as_topo_place(&t, &p, 3, vpu, rcpu, node));
	check(node[0] == 1 && node[1] == 0 && vpu[2] == 15);
	check(as_pin_parse(&p, "16", err, sizeof(err)) == 0 && as_pin_check(&p, &t, err, sizeof(err)) != 0);
	check(strstr(err, "PU 16 does not exist"));
	as_mem_t m;
	check(as_mem_parse(&m, "node=1", &t, err, sizeof(err)) == 0);
	check(m.real_node == (int)(1 % t.real_nodes));
	check(as_mem_parse(&m, "node=2", &t, err, sizeof(err)) != 0);
	check(as_pin_parse(&p, "1,x", err, sizeof(err)) != 0);
	check(as_topo_load(&t, "synthetic:\"bogus:3\"", err, sizeof(err)) != 0);
}

TEST(harness_child_statuses)
{
	char err[256];
	as_child_t c;
	as_rec_t r;
	char *crash[] = { S("/bin/sh"), S("-c"), S("kill -SEGV $$"), NULL };
	check(as_child_spawn(&c, &(as_spawn_t){ .argv = crash }, err, sizeof(err)) == 0);
	as_child_wait(&c, NULL);
	as_rec_init(&r);
	check(!as_child_status(&c, &r, NULL));
	check_str(r.status, "crash");
	as_rec_free(&r);

	char *hang[] = { S("/bin/sleep"), S("30"), NULL };
	check(as_child_spawn(&c, &(as_spawn_t){ .argv = hang }, err, sizeof(err)) == 0);
	as_child_wait(&c, &(as_watch_t){ .timeout_s = 0.2 });
	as_rec_init(&r);
	check(!as_child_status(&c, &r, NULL));
	check_str(r.status, "timeout");
	check(c.wall_s < 5);
	as_rec_free(&r);

	char *fail[] = { S("/bin/sh"), S("-c"), S("exit 3"), NULL };
	check(as_child_spawn(&c, &(as_spawn_t){ .argv = fail }, err, sizeof(err)) == 0);
	as_child_wait(&c, NULL);
	as_rec_init(&r);
	check(!as_child_status(&c, &r, NULL));
	check_str(r.status, "error");
	check(strstr(r.error, "exit 3"));
	as_rec_free(&r);

	char *missing[] = { S("/nonexistent/prog"), NULL };
	check(as_child_spawn(&c, &(as_spawn_t){ .argv = missing }, err, sizeof(err)) != 0);
	check(strstr(err, "cannot start /nonexistent/prog"));

	// A stopped "server" is sampled while another child runs.
	char *server[] = { S("/bin/sleep"), S("30"), NULL };
	char *client[] = { S("/bin/sleep"), S("0.2"), NULL };
	as_child_t sv, cl;
	check(as_child_spawn(&sv, &(as_spawn_t){ .argv = server }, err, sizeof(err)) == 0);
	check(as_child_spawn(&cl, &(as_spawn_t){ .argv = client }, err, sizeof(err)) == 0);
	as_rec_init(&r);
	as_child_wait(&cl, &(as_watch_t){ .sample = &sv, .timeline = &r, .period_ms = 20 });
	as_child_stop(&sv, 1.0);
	check(sv.exited && cl.exited);
	check(json_array_size(r.t_ms) >= 3);
	check(sv.rss_peak > 0);
	as_rec_free(&r);
}

// The allocator check on synthetic probe records (the end-to-end version
// with real preloads is tests/sh/harness_run.sh).
TEST(harness_verify_allocator)
{
	as_alloc_t glibc = { .name = "glibc", .kind = AS_KIND_OBJECT, .expect_lib = "libc.so.6" };
	as_alloc_t je = { .name = "jemalloc", .kind = AS_KIND_OBJECT,
			  .lib = S("/usr/lib/x86_64-linux-gnu/libjemalloc.so.2") };
	as_alloc_t intree = { .name = "mine", .kind = AS_KIND_OBJECT, .lib = S("/bin/sh"), .in_tree = true };
	as_alloc_t frame = { .name = "llfree", .kind = AS_KIND_FRAME };
	struct {
		as_alloc_t *a;
		const char *text;
		const char *status;
		const char *why;
	} cases[] = {
		{ &glibc, "info malloc_lib /lib/x86_64-linux-gnu/libc.so.6\nstatus ok\n", "ok", NULL },
		{ &glibc, "info malloc_lib /usr/lib/x86_64-linux-gnu/libjemalloc.so.2\nstatus ok\n", "error",
		  "not libc.so.6" },
		{ &glibc, "status ok\n", "error", "did not report malloc_lib" },
		{ &je, "info malloc_lib /lib/x86_64-linux-gnu/libc.so.6\nstatus ok\n", "error",
		  "preload did not take effect" },
		{ &intree, "info malloc_lib /bin/sh\ninfo malloc_served 0\nstatus ok\n", "error", "served no malloc" },
		{ &intree, "info malloc_lib /bin/sh\nstatus ok\n", "error", "served no malloc" },
		{ &intree, "info malloc_lib /bin/sh\ninfo malloc_served 12\nstatus ok\n", "ok", NULL },
		{ &frame, "info alloc buddy\nstatus ok\n", "error", "not 'llfree'" },
		{ &frame, "info alloc llfree\nstatus ok\n", "ok", NULL },
		{ &je, "status error boom\n", "error", "boom" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		as_rec_t r;
		as_rec_init(&r);
		as_rec_parse_probe(&r, cases[i].text);
		as_run_verify(cases[i].a, &r);
		if (strcmp(r.status, cases[i].status) != 0 || (cases[i].why && !strstr(r.error, cases[i].why)))
			check_fail("case %zu: status %s (%s), wanted %s (%s)", i, r.status, r.error ? r.error : "",
				   cases[i].status, cases[i].why ? cases[i].why : "");
		as_rec_free(&r);
	}
}
