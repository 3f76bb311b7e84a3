// SPDX-License-Identifier: MIT
// Redis scenarios: a real redis-server (built from Debian's source package
// with MALLOC=libc by scripts/build-redis.sh, so every allocation goes
// through the preloaded allocator) on a free loopback port, pinned per the
// placement (taskset), driven from another process without the preload:
//   redis-ops         bin/redis-client --workload redis-ops (command mix)
//   redis-frag        bin/redis-client --workload redis-frag (fill/delete/refill)
//   redis-test-suite  Redis's own test suite (tclsh runtest) with the preload
// The server is always stopped (SHUTDOWN NOSAVE, then SIGTERM/SIGKILL).
// In-tree allocators write their counters at exit to ALLOCSCOPE_REPORT_FILE
// (the preload layer), which proves they served the server's mallocs.
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "record.h"
#include "scenario_util.h"

static char *redis_dir(void)
{
	const char *env = getenv("ALLOCSCOPE_REDIS_DIR");
	return env ? as_xstrdup(env) : as_xasprintf("%s/redis", as_build_dir());
}

static int redis_available(char *why, size_t len)
{
	char *dir = redis_dir();
	char *s = as_xasprintf("%s/redis-server", dir);
	int ok = access(s, X_OK) == 0;
	if (!ok)
		snprintf(why, len, "%s is missing: run `make redis` (builds Redis from Debian's source)", s);
	free(s);
	free(dir);
	return ok ? 0 : -1;
}

static int client_available(char *why, size_t len)
{
	if (redis_available(why, len) != 0)
		return -1;
	char *c = as_xasprintf("%s/redis-client", as_bin_dir());
	int ok = access(c, X_OK) == 0;
	if (!ok)
		snprintf(why, len, "%s is not built", c);
	free(c);
	return ok ? 0 : -1;
}

/// A free loopback port: bind port 0, read it back, release it. Another
/// process could take it before Redis does; the start is retried then.
static unsigned free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	unsigned port = 0;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

static bool port_answers(unsigned port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

typedef struct redis_srv_s {
	as_child_t child;
	unsigned port;
	char *dir;
	char *report; ///< ALLOCSCOPE_REPORT_FILE of the server
	char *err;
} redis_srv_t;

/// Environment for the server: the allocator's, plus the report file.
static char **server_env(as_scen_ctx_t *ctx, as_strv_t *env, const char *report)
{
	for (char *const *e = ctx->env; *e; e++)
		as_strv_push(env, *e);
	as_strv_pushf(env, "ALLOCSCOPE_REPORT_FILE=%s", report);
	return as_strv_argv(env);
}

/// The run's workdir as an absolute path (fresh string): Redis chdirs to
/// --dir, and the test suite runs from its own folder, so every path handed
/// to them (log, report files) must not be relative.
static char *abs_workdir(const as_scen_ctx_t *ctx)
{
	char buf[4096];
	return as_xstrdup(realpath(ctx->workdir, buf) ? buf : ctx->workdir);
}

static bool redis_start(as_scen_ctx_t *ctx, redis_srv_t *s)
{
	char err[512];
	char *workdir = abs_workdir(ctx);
	s->dir = redis_dir();
	s->report = as_xasprintf("%s/allocator.report", workdir);
	s->err = as_xasprintf("%s/redis.err", workdir);
	for (int attempt = 0; attempt < 5; attempt++) {
		as_strv_t argv = { 0 }, env = { 0 };
		s->port = free_port();
		if (ctx->pin_cpus && ctx->npins && access("/usr/bin/taskset", X_OK) == 0) {
			as_strv_t pins = { 0 };
			for (unsigned i = 0; i < ctx->npins; i++)
				as_strv_pushf(&pins, "%d", ctx->pin_cpus[i]);
			char *list = as_strv_join(&pins, ",");
			as_strv_push(&argv, "/usr/bin/taskset");
			as_strv_push(&argv, "-c");
			as_strv_push(&argv, list);
			free(list);
			as_strv_clear(&pins);
		}
		as_strv_pushf(&argv, "%s/redis-server", s->dir);
		as_strv_push(&argv, "--bind");
		as_strv_push(&argv, "127.0.0.1");
		as_strv_push(&argv, "--port");
		as_strv_pushf(&argv, "%u", s->port);
		as_strv_push(&argv, "--save");
		as_strv_push(&argv, "");
		as_strv_push(&argv, "--appendonly");
		as_strv_push(&argv, "no");
		as_strv_push(&argv, "--dir");
		as_strv_push(&argv, workdir);
		as_strv_push(&argv, "--logfile");
		as_strv_pushf(&argv, "%s/redis.log", workdir);
		unlink(s->report);
		int rc = as_child_spawn(&s->child,
					&(as_spawn_t){ .argv = as_strv_argv(&argv),
						       .envp = server_env(ctx, &env, s->report),
						       .stderr_path = s->err, .mem = ctx->mem },
					err, sizeof(err));
		as_strv_clear(&argv);
		as_strv_clear(&env);
		if (rc != 0) {
			as_rec_fail(ctx->rec, "error", "cannot start redis-server: %s", err);
			free(workdir);
			return false;
		}
		double t0 = as_mono_s();
		while (as_mono_s() - t0 < 30) {
			if (port_answers(s->port)) {
				free(workdir);
				return as_scen_check_preload(ctx, &s->child);
			}
			if (as_child_exited(&s->child))
				break; // exited: port taken, or a crash under the allocator
			usleep(20000);
		}
		as_child_stop(&s->child, 2.0);
		if (WIFSIGNALED(s->child.wstatus) && WTERMSIG(s->child.wstatus) != SIGTERM &&
		    WTERMSIG(s->child.wstatus) != SIGKILL) {
			as_child_status(&s->child, ctx->rec, s->err);
			free(workdir);
			return false;
		}
	}
	free(workdir);
	as_rec_fail(ctx->rec, "error", "redis-server did not answer on a loopback port (5 attempts; see %s)",
		    s->err);
	return false;
}

/// SHUTDOWN NOSAVE through redis-cli, then make sure the process is gone;
/// then fold the allocator's exit report (in-tree allocators) into the run.
static void redis_stop(as_scen_ctx_t *ctx, redis_srv_t *s)
{
	if (s->child.pid && !s->child.exited) {
		char *cli = as_xasprintf("%s/redis-cli", s->dir);
		char *port = as_xasprintf("%u", s->port);
		char *argv[] = { cli, (char *)"-p", port, (char *)"SHUTDOWN", (char *)"NOSAVE", NULL };
		char *out = NULL;
		as_capture(argv, &out, 4096);
		free(out);
		free(cli);
		free(port);
		as_child_stop(&s->child, 10.0);
		if (WIFSIGNALED(s->child.wstatus) && WTERMSIG(s->child.wstatus) != SIGTERM)
			as_child_status(&s->child, ctx->rec, s->err);
	}
	char *text = as_read_file(s->report);
	if (text) {
		as_rec_t r;
		as_rec_init(&r);
		as_rec_parse_probe(&r, text);
		const char *served = as_rec_info_get(&r, "malloc_served");
		if (served)
			as_rec_info(ctx->rec, "malloc_served", served);
		const char *name;
		json_t *v;
		json_object_foreach(r.metrics, name, v)
			json_object_set(ctx->rec->metrics, name, v);
		as_rec_free(&r);
		free(text);
	}
	free(s->dir);
	free(s->report);
	free(s->err);
}

/// Run bin/redis-client --workload W against the server, sampling the
/// server's RSS into the timeline meanwhile.
static void run_client(as_scen_ctx_t *ctx, redis_srv_t *s, const char *workload, const char *const *keys)
{
	char err[512];
	char *out = as_xasprintf("%s/client.out", ctx->workdir);
	char *cerr = as_xasprintf("%s/client.err", ctx->workdir);
	as_strv_t argv = { 0 };
	as_child_t client = { 0 };
	as_strv_pushf(&argv, "%s/redis-client", as_bin_dir());
	as_strv_pushf(&argv, "--workload=%s", workload);
	as_strv_pushf(&argv, "--seed=%llu", (unsigned long long)ctx->seed);
	as_strv_pushf(&argv, "port=%u", s->port);
	for (const char *const *k = keys; *k; k++)
		as_strv_pushf(&argv, "%s=%s", *k, as_scen_param(ctx, *k));
	as_strv_push(&argv, "--timeline-ms=0");
	as_strv_push(&argv, "--out");
	as_strv_push(&argv, out);
	if (as_child_spawn(&client,
			   &(as_spawn_t){ .argv = as_strv_argv(&argv), .envp = ctx->base_env, .stderr_path = cerr },
			   err, sizeof(err)) != 0) {
		as_rec_fail(ctx->rec, "error", "cannot start redis-client: %s", err);
		goto out;
	}
	as_child_wait(&client, &(as_watch_t){ .sample = &s->child, .timeline = ctx->rec,
					     .timeout_s = ctx->timeout_s > 0 ? ctx->timeout_s : 1800,
					     .mem_limit = ctx->mem_limit });
	if (s->child.over_limit)
		as_rec_fail(ctx->rec, "oom", "redis-server passed the memory limit");
	else if (as_child_status(&client, ctx->rec, cerr))
		as_scen_take_probe(ctx, out, AS_ROLE_CLIENT, "redis-client");
	if (s->child.rss_peak > 0)
		as_rec_metric(ctx->rec, "rss_peak_sampled_bytes", (double)s->child.rss_peak);
out:
	as_strv_clear(&argv);
	free(out);
	free(cerr);
}

// ---------------------------------------------------------------------------

static const as_scen_param_t ops_params[] = {
	{ "clients", "50", "client connections" },
	{ "pipeline", "1", "requests in flight per connection (the suite runs 1 and 16)" },
	{ "requests", "50000", "requests per command" },
	{ "keyspace", "100000", "random keys over key:0..keyspace-1" },
	{ "tests", "SET+GET+INCR+LPUSH+LRANGE_100+LPOP+SADD+HSET+ZADD", "commands, in order, joined by +" },
	{ NULL, NULL, NULL },
};

static void ops_run(as_scen_ctx_t *ctx)
{
	static const char *const keys[] = { "clients", "pipeline", "requests", "keyspace", "tests", NULL };
	redis_srv_t s = { 0 };
	if (redis_start(ctx, &s))
		run_client(ctx, &s, "redis-ops", keys);
	redis_stop(ctx, &s);
}

static const as_scen_param_t frag_params[] = {
	{ "keys", "200000", "keys written by each fill phase" },
	{ "rounds", "3", "delete + refill rounds" },
	{ "del_min_pct", "50", "each delete phase removes a random del_min..del_max percent" },
	{ "del_max_pct", "80", "upper bound, percent" },
	{ NULL, NULL, NULL },
};

static void frag_run(as_scen_ctx_t *ctx)
{
	static const char *const keys[] = { "keys", "rounds", "del_min_pct", "del_max_pct", NULL };
	redis_srv_t s = { 0 };
	if (redis_start(ctx, &s))
		run_client(ctx, &s, "redis-frag", keys);
	redis_stop(ctx, &s);
}

static const as_scenario_t ops_scen = {
	.name = "redis-ops",
	.kind = "server",
	.summary = "real Redis under the allocator: command mix, 50 clients, pipelining",
	.params = ops_params,
	.available = client_available,
	.run = ops_run,
};
AS_SCENARIO_REGISTER(ops_scen)

static const as_scenario_t frag_scen = {
	.name = "redis-frag",
	.kind = "server",
	.summary = "real Redis under the allocator: fill, delete 50-80%, refill other sizes",
	.params = frag_params,
	.available = client_available,
	.run = frag_run,
};
AS_SCENARIO_REGISTER(frag_scen)

// ---------------------------------------------------------------------------
// redis-test-suite: Redis's own tests (tclsh runtest) with the allocator
// preloaded into every process the suite starts (the environment is
// inherited by tclsh and the servers it spawns). Pass and fail counts are
// the result; a real program's own tests are the strongest correctness
// check an allocator can get. glibc's counts, run the same way, go beside.

static const as_scen_param_t suite_params[] = {
	{ "units", "unit/type/string+unit/type/incr+unit/type/list+unit/type/hash+unit/type/set+"
		   "unit/type/zset+unit/expire+unit/keyspace",
	  "test units joined by +, or all" },
	{ "clients", "2", "parallel test clients of runtest" },
	{ NULL, NULL, NULL },
};

static int suite_available(char *why, size_t len)
{
	if (redis_available(why, len) != 0)
		return -1;
	char *dir = redis_dir();
	char *rt = as_xasprintf("%s/suite/runtest", dir);
	int ok = access(rt, R_OK) == 0 && access("/usr/bin/tclsh", X_OK) == 0;
	if (!ok)
		snprintf(why, len, "%s or /usr/bin/tclsh is missing", rt);
	free(rt);
	free(dir);
	return ok ? 0 : -1;
}

/// Remove ANSI colour sequences (ESC [ ... m) in place: the suite colours
/// its [ok]/[err] tags when TERM looks like a terminal.
static void strip_ansi(char *s)
{
	char *w = s;
	for (char *r = s; *r;) {
		if (r[0] == '\x1b' && r[1] == '[') {
			r += 2;
			while (*r && *r != 'm')
				r++;
			if (*r)
				r++;
			continue;
		}
		*w++ = *r++;
	}
	*w = '\0';
}

/// Sum malloc_served over the per-process report files in `dir`.
static uint64_t sum_reports(const char *dir, unsigned *files)
{
	uint64_t total = 0;
	*files = 0;
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	for (struct dirent *e; (e = readdir(d));) {
		if (strncmp(e->d_name, "report.", 7) != 0)
			continue;
		char *path = as_xasprintf("%s/%s", dir, e->d_name);
		char *text = as_read_file(path);
		free(path);
		if (!text)
			continue;
		as_rec_t r;
		as_rec_init(&r);
		as_rec_parse_probe(&r, text);
		const char *served = as_rec_info_get(&r, "malloc_served");
		if (served) {
			total += strtoull(served, NULL, 10);
			(*files)++;
		}
		as_rec_free(&r);
		free(text);
	}
	closedir(d);
	return total;
}

static void suite_run(as_scen_ctx_t *ctx)
{
	char err[512];
	char *dir = redis_dir();
	char *suite = as_xasprintf("%s/suite", dir);
	char *workdir = abs_workdir(ctx);
	char *log = as_xasprintf("%s/suite.log", workdir);
	char *reports = as_xasprintf("%s/reports", workdir);
	free(workdir);
	as_strv_t argv = { 0 }, env = { 0 }, units = { 0 };
	as_child_t tcl = { 0 };
	mkdir(reports, 0755);
	// The suite must run from its own folder (env --chdir), where it keeps
	// its temporary files (tests/tmp) and cleans them up.
	as_strv_push(&argv, "/usr/bin/env");
	as_strv_pushf(&argv, "--chdir=%s", suite);
	as_strv_push(&argv, "/usr/bin/tclsh"); // what runtest (a sh wrapper) runs
	as_strv_push(&argv, "tests/test_helper.tcl");
	as_strv_push(&argv, "--clients");
	as_strv_push(&argv, as_scen_param(ctx, "clients"));
	as_strv_push(&argv, "--no-latency");
	// The suite's servers take ports from --baseport up and also use
	// port+10000 (cluster bus), so stay in 21111..37111; spread concurrent
	// runs by pid (the suite skips busy ports itself).
	as_strv_push(&argv, "--baseport");
	as_strv_pushf(&argv, "%u", 21111u + (unsigned)(getpid() % 500) * 32u);
	if (strcmp(as_scen_param(ctx, "units"), "all") != 0) {
		as_strv_split(&units, as_scen_param(ctx, "units"), '+');
		for (size_t i = 0; i < units.n; i++) {
			as_strv_push(&argv, "--single");
			as_strv_push(&argv, units.v[i]);
		}
	}
	for (char *const *e = ctx->env; *e; e++)
		as_strv_push(&env, *e);
	as_strv_pushf(&env, "ALLOCSCOPE_REPORT_FILE=%s/report.%%p", reports);
	if (as_child_spawn(&tcl,
			   &(as_spawn_t){ .argv = as_strv_argv(&argv), .envp = as_strv_argv(&env),
					  .stdout_path = log, .stderr_path = log },
			   err, sizeof(err)) != 0) {
		as_rec_fail(ctx->rec, "error", "cannot start the Redis test suite: %s", err);
		goto out;
	}
	usleep(200000);
	as_scen_check_preload(ctx, &tcl); // tclsh carries the preload to every server
	as_child_wait(&tcl, &(as_watch_t){ .timeout_s = ctx->timeout_s > 0 ? ctx->timeout_s : 3600 });
	if (tcl.timed_out) {
		as_child_status(&tcl, ctx->rec, log);
		goto out;
	}
	char *text = as_read_file(log);
	unsigned ok = 0, bad = 0, exc = 0;
	if (text)
		strip_ansi(text);
	for (char *p = text; p && (p = strchr(p, '[')); p++) {
		if (!strncmp(p, "[ok]:", 5))
			ok++;
		else if (!strncmp(p, "[err]:", 6))
			bad++;
		else if (!strncmp(p, "[exception]:", 12))
			exc++;
	}
	free(text);
	as_rec_metric(ctx->rec, "tests_passed", ok);
	as_rec_metric(ctx->rec, "tests_failed", bad + exc);
	as_rec_metric(ctx->rec, "suite_wall_s", tcl.wall_s);
	unsigned files;
	uint64_t served = sum_reports(reports, &files);
	if (files) {
		char buf[32];
		snprintf(buf, sizeof(buf), "%llu", (unsigned long long)served);
		as_rec_info(ctx->rec, "malloc_served", buf);
		as_rec_metric(ctx->rec, "processes_reporting", files);
	}
	if (ok == 0)
		as_rec_fail(ctx->rec, "error", "the Redis test suite ran no test (log: %s)", log);
	// A failing test is a result (the allocator broke Redis), not a harness
	// error: the counts are the measurement.
out:
	as_child_stop(&tcl, 5.0);
	as_strv_clear(&argv);
	as_strv_clear(&env);
	as_strv_clear(&units);
	free(dir);
	free(suite);
	free(log);
	free(reports);
}

static const as_scenario_t suite_scen = {
	.name = "redis-test-suite",
	.kind = "server",
	.summary = "Redis's own test suite with the allocator preloaded: pass/fail counts",
	.params = suite_params,
	.available = suite_available,
	.run = suite_run,
};
AS_SCENARIO_REGISTER(suite_scen)
