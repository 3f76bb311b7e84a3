// SPDX-License-Identifier: MIT
// Results: context, writing, reading, checking (see results.h; the schema
// itself is results/SCHEMA.md).
#include "results.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "as/err.h"
#include "perf.h"
#include "util.h"

// ---------------------------------------------------------------------------
// Context

static json_t *str_or_null(char *s)
{
	json_t *j = s ? json_string(s) : json_null();
	free(s);
	return j;
}

static char *cpu_model(void)
{
	char *s = as_read_file("/proc/cpuinfo");
	if (!s)
		return NULL;
	char *m = strstr(s, "model name");
	char *r = NULL;
	if (m && (m = strchr(m, ':'))) {
		m += 2;
		m[strcspn(m, "\n")] = '\0';
		r = as_xstrdup(m);
	}
	free(s);
	return r;
}

static char *thp_mode(void)
{
	char *s = as_read_line("/sys/kernel/mm/transparent_hugepage/enabled");
	if (!s)
		return NULL;
	char *a = strchr(s, '[');
	char *b = a ? strchr(a, ']') : NULL;
	char *r = a && b ? strndup(a + 1, (size_t)(b - a - 1)) : as_xstrdup(s);
	free(s);
	return r;
}

// The source tree: the first folder with a .git, walking up from the working
// directory, then from the build folder.
static char *repo_root(void)
{
	char cwd[PATH_MAX];
	const char *starts[2] = { getcwd(cwd, sizeof(cwd)) ? cwd : ".", as_build_dir() };
	for (int s = 0; s < 2; s++) {
		char *d = realpath(starts[s], NULL);
		while (d && *d) {
			char *g = as_xasprintf("%s/.git", d);
			bool found = access(g, F_OK) == 0;
			free(g);
			if (found)
				return d;
			char *slash = strrchr(d, '/');
			if (!slash || slash == d)
				break;
			*slash = '\0';
		}
		free(d);
	}
	return NULL;
}

static char *git(const char *arg1, const char *arg2, const char *arg3)
{
	static char *root;
	if (!root)
		root = repo_root();
	if (!root)
		return NULL;
	char *argv[] = { (char *)"git", (char *)"-C", root, (char *)arg1, (char *)arg2, (char *)arg3, NULL };
	char *out;
	if (as_capture(argv, &out, 1 << 16) != 0) {
		free(out);
		return NULL;
	}
	return out;
}

json_t *as_res_context(const as_plan_t *p, const char *command)
{
	json_t *c = json_object();
	char buf[256];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	json_object_set_new(c, "date", json_string(buf));
	gethostname(buf, sizeof(buf));
	buf[sizeof(buf) - 1] = '\0';
	json_object_set_new(c, "host", json_string(buf));
	char *commit = git("rev-parse", "--short=12", "HEAD");
	if (commit)
		commit[strcspn(commit, "\n")] = '\0';
	json_object_set_new(c, "commit", str_or_null(commit));
	char *st = git("status", "--porcelain", "--untracked-files=no");
	json_object_set_new(c, "dirty", st ? json_boolean(*st != '\0') : json_null());
	free(st);
#if defined(__clang__)
	json_object_set_new(c, "compiler", json_string("clang " __clang_version__));
#else
	json_object_set_new(c, "compiler", json_string("gcc " __VERSION__));
#endif
	char *fp = as_xasprintf("%s/.flags", as_build_dir());
	json_object_set_new(c, "cflags", str_or_null(as_read_line(fp)));
	free(fp);
	struct utsname u;
	uname(&u);
	json_object_set_new(c, "kernel", json_string(u.release));
	json_object_set_new(c, "cpu", str_or_null(cpu_model()));
	json_object_set_new(c, "cores", json_integer(sysconf(_SC_NPROCESSORS_ONLN)));
	json_object_set_new(c, "numa_nodes", json_integer(p->topo.real_nodes));
	json_object_set_new(c, "thp", str_or_null(thp_mode()));
	json_object_set_new(c, "governor",
			    str_or_null(as_read_line("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor")));
	json_object_set_new(c, "aslr", str_or_null(as_read_line("/proc/sys/kernel/randomize_va_space")));
	json_object_set_new(c, "simulated", json_boolean(p->topo.simulated));
	json_object_set_new(c, "topology", as_topo_json(&p->topo));
	json_t *v = json_object();
	static const char *const pk[][2] = { { "hwloc", "libhwloc15" },	      { "libpfm4", "libpfm4" },
					     { "jemalloc", "libjemalloc2" },	      { "tcmalloc", "libtcmalloc-minimal4" },
					     { "mimalloc", "libmimalloc2.0" },	      { "glibc", "libc6" },
					     { "jansson", "libjansson4" },	      { "libnuma", "libnuma1" } };
	for (size_t i = 0; i < sizeof(pk) / sizeof(pk[0]); i++)
		json_object_set_new(v, pk[i][0], str_or_null(as_pkg_version(pk[i][1])));
	json_object_set_new(c, "versions", v);
	json_t *al = json_object();
	for (size_t i = 0; i < p->allocs.n; i++) {
		as_alloc_t *a = as_alloc_find(p->allocs.v[i]);
		char *env = as_strv_join(&a->env, " ");
		json_object_set_new(al, a->name,
				    json_pack("{s:s, s:s?, s:s, s:s?}", "kind", a->kind == AS_KIND_FRAME ? "frame" : "object",
					      "lib", a->lib, "env", env, "version", a->version));
		free(env);
	}
	json_object_set_new(c, "allocators", al);
	json_object_set_new(c, "command", json_string(command));
	json_object_set_new(c, "seed", json_integer((json_int_t)p->seed));
	json_t *r = json_object();
	json_object_set_new(r, "reps", json_integer(p->reps));
	json_object_set_new(r, "timeout_s", json_real(p->timeout_s));
	json_object_set_new(r, "mem_limit_bytes", json_integer((json_int_t)p->mem_limit));
	json_object_set_new(r, "sample", json_integer(p->sample));
	json_object_set_new(r, "timeline_ms", json_integer(p->timeline_ms));
	static const char *const pins[] = { "none", "compact", "scatter", "list" };
	json_object_set_new(r, "pin", json_string(pins[p->pin.kind]));
	static const char *const mems[] = { "default", "local", "interleave", "node" };
	json_object_set_new(r, "membind", json_string(mems[p->mem.kind]));
	if (p->mem.kind == AS_MEM_NODE)
		json_object_set_new(r, "membind_node", json_integer(p->mem.node));
	json_object_set_new(r, "shard", json_pack("[i, i]", p->shard_i, p->shard_n));
	json_object_set_new(r, "cells_total", json_integer((json_int_t)p->total));
	json_object_set_new(c, "runner", r);
	return c;
}

// ---------------------------------------------------------------------------
// Files

char *as_res_mkdir(const char *root, const char *suffix)
{
	if (mkdir(root, 0755) != 0 && errno != EEXIST)
		as_die(1, "cannot create '%s': %s", root, strerror(errno));
	char host[64];
	gethostname(host, sizeof(host));
	host[sizeof(host) - 1] = '\0';
	host[strcspn(host, ".")] = '\0';
	char ts[32];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y%m%d-%H%M%S", &tm);
	for (int n = 0; n < 1000; n++) {
		char *d = as_xasprintf("%s/%s-%s%s%s%s", root, ts, host, *suffix ? "-" : "", suffix,
				       n ? (n < 10 ? "-0" : "-") : "");
		if (n) {
			char *d2 = as_xasprintf("%s%d", d, n);
			free(d);
			d = d2;
		}
		if (mkdir(d, 0755) == 0)
			return d;
		if (errno != EEXIST)
			as_die(1, "cannot create '%s': %s", d, strerror(errno));
		free(d);
	}
	as_die(1, "cannot find a free run folder under '%s'", root);
}

int as_res_write_json(const char *dir, json_t *doc)
{
	char *tmp = as_xasprintf("%s/.results.json.tmp", dir);
	char *dst = as_xasprintf("%s/results.json", dir);
	int rc = json_dump_file(doc, tmp, JSON_INDENT(1) | JSON_REAL_PRECISION(10));
	if (rc == 0 && rename(tmp, dst) != 0)
		rc = -1;
	if (rc != 0)
		as_warn("cannot write %s: %s", dst, strerror(errno));
	free(tmp);
	free(dst);
	return rc;
}

void as_res_link_latest(const char *root, const char *dir)
{
	char *link = as_xasprintf("%s/latest", root);
	char *tmp = as_xasprintf("%s/.latest.tmp", root);
	const char *base = strrchr(dir, '/') ? strrchr(dir, '/') + 1 : dir;
	unlink(tmp);
	if (symlink(base, tmp) != 0 || rename(tmp, link) != 0)
		as_warn("cannot point %s at %s: %s", link, base, strerror(errno));
	free(link);
	free(tmp);
}

json_t *as_res_read(const char *path, char *err, size_t len)
{
	struct stat st;
	char *file = (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) ? as_xasprintf("%s/results.json", path)
								    : as_xstrdup(path);
	json_error_t je;
	json_t *doc = json_load_file(file, 0, &je);
	if (!doc) {
		snprintf(err, len, "%s:%d: %s", file, je.line, je.text);
		free(file);
		return NULL;
	}
	char why[400];
	if (as_res_check(doc, why, sizeof(why)) != 0) {
		snprintf(err, len, "%s: %s", file, why);
		json_decref(doc);
		free(file);
		return NULL;
	}
	free(file);
	return doc;
}

// ---------------------------------------------------------------------------
// Schema check

static bool is_num_or_null(json_t *v)
{
	return json_is_number(v) || json_is_null(v);
}

int as_res_check(json_t *doc, char *err, size_t len)
{
#define FAIL(...)                                \
	do {                                     \
		snprintf(err, len, __VA_ARGS__); \
		return -1;                       \
	} while (0)
	if (!json_is_object(doc))
		FAIL("not a JSON object");
	json_t *sv = json_object_get(doc, "schema_version");
	if (!json_is_integer(sv) || json_integer_value(sv) != AS_SCHEMA_VERSION)
		FAIL("schema_version is not %d", AS_SCHEMA_VERSION);
	json_t *c = json_object_get(doc, "context");
	if (!json_is_object(c))
		FAIL("context is missing");
	static const char *const ckeys[] = { "date",	 "host",   "commit",	"dirty",      "compiler",
					     "cflags",	 "kernel", "cpu",	"cores",      "numa_nodes",
					     "thp",	 "simulated", "topology", "versions", "command",
					     "seed",	 NULL };
	for (size_t i = 0; ckeys[i]; i++)
		if (!json_object_get(c, ckeys[i]))
			FAIL("context.%s is missing", ckeys[i]);
	if (!json_is_boolean(json_object_get(c, "simulated")))
		FAIL("context.simulated is not a boolean");
	if (!json_is_object(json_object_get(c, "topology")) || !json_is_object(json_object_get(c, "versions")))
		FAIL("context.topology and context.versions must be objects");
	json_t *runs = json_object_get(doc, "runs");
	if (!json_is_array(runs))
		FAIL("runs is not an array");
	size_t i;
	json_t *r;
	json_array_foreach(runs, i, r)
	{
		if (!json_is_string(json_object_get(r, "allocator")) || !json_is_string(json_object_get(r, "workload")))
			FAIL("runs[%zu]: allocator and workload must be strings", i);
		if (!json_is_object(json_object_get(r, "params")))
			FAIL("runs[%zu]: params is not an object", i);
		json_t *t = json_object_get(r, "threads");
		json_t *rep = json_object_get(r, "rep");
		if (!json_is_integer(t) || json_integer_value(t) < 1 || !json_is_integer(rep) ||
		    json_integer_value(rep) < 0)
			FAIL("runs[%zu]: threads (>= 1) and rep (>= 0) must be integers", i);
		const char *st = json_string_value(json_object_get(r, "status"));
		static const char *const sts[] = { "ok", "crash", "timeout", "oom", "unsupported", "error", NULL };
		bool known = false;
		for (size_t k = 0; st && sts[k]; k++)
			known |= !strcmp(st, sts[k]);
		if (!known)
			FAIL("runs[%zu]: status '%s' is not one of ok, crash, timeout, oom, unsupported, error", i,
			     st ? st : "(missing)");
		if (strcmp(st, "ok") != 0 && !json_is_string(json_object_get(r, "error")))
			FAIL("runs[%zu]: status %s without an error string", i, st);
		json_t *m = json_object_get(r, "metrics");
		if (!json_is_object(m))
			FAIL("runs[%zu]: metrics is not an object", i);
		const char *k;
		json_t *v;
		json_object_foreach(m, k, v)
		{
			if (!is_num_or_null(v))
				FAIL("runs[%zu]: metric %s is neither a number nor null", i, k);
		}
		json_t *pl = json_object_get(r, "placement");
		if (pl && !json_is_array(pl) && !json_is_null(pl))
			FAIL("runs[%zu]: placement is neither an array nor null", i);
		json_t *pu = json_object_get(r, "perf_unsupported");
		if (pu) {
			if (!json_is_object(pu))
				FAIL("runs[%zu]: perf_unsupported is not an object", i);
			json_object_foreach(pu, k, v)
			{
				char key[200];
				snprintf(key, sizeof(key), "perf.%s", k);
				if (!json_is_string(v))
					FAIL("runs[%zu]: perf_unsupported.%s is not an errno name", i, k);
				if (!json_is_null(json_object_get(m, key)))
					FAIL("runs[%zu]: %s is unsupported but its metric is not null", i, key);
			}
		}
		json_t *tl = json_object_get(r, "timeline");
		if (tl) {
			json_t *tm = json_object_get(tl, "t_ms");
			json_t *rs = json_object_get(tl, "rss_bytes");
			json_t *lv = json_object_get(tl, "live_bytes");
			if (!json_is_array(tm) || !json_is_array(rs) || json_array_size(tm) != json_array_size(rs) ||
			    (lv && (!json_is_array(lv) || json_array_size(lv) != json_array_size(tm))))
				FAIL("runs[%zu]: timeline needs t_ms and rss_bytes (and live_bytes) of equal length", i);
		}
		json_t *se = json_object_get(r, "series");
		if (se) {
			if (!json_is_object(se))
				FAIL("runs[%zu]: series is not an object", i);
			json_object_foreach(se, k, v)
			{
				if (!json_is_array(v))
					FAIL("runs[%zu]: series.%s is not an array", i, k);
			}
		}
	}
	return 0;
#undef FAIL
}

// ---------------------------------------------------------------------------
// Statistics and summary

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a;
	double y = *(const double *)b;
	return (x > y) - (x < y);
}

void as_stats(double *v, size_t n, as_stats_t *s)
{
	memset(s, 0, sizeof(*s));
	s->n = n;
	if (!n)
		return;
	qsort(v, n, sizeof(double), cmp_d);
	s->min = v[0];
	s->max = v[n - 1];
	s->median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	double sum = 0;
	for (size_t i = 0; i < n; i++)
		sum += v[i];
	s->mean = sum / (double)n;
	double ss = 0;
	for (size_t i = 0; i < n; i++)
		ss += (v[i] - s->mean) * (v[i] - s->mean);
	s->stddev = n > 1 ? sqrt(ss / (double)(n - 1)) : 0;
	s->cv = s->mean != 0 ? s->stddev / fabs(s->mean) : 0;
}

// Group key of a run: workload, params, threads (allocators are compared
// within a group).
static char *group_key(json_t *r)
{
	char *ps = json_dumps(json_object_get(r, "params"), JSON_SORT_KEYS | JSON_COMPACT);
	char *k = as_xasprintf("%s|%s|%lld", json_string_value(json_object_get(r, "workload")), ps ? ps : "{}",
			       (long long)json_integer_value(json_object_get(r, "threads")));
	free(ps);
	return k;
}

static char *params_text(json_t *r)
{
	as_strv_t l = { 0 };
	const char *k;
	json_t *v;
	json_object_foreach(json_object_get(r, "params"), k, v)
	{
		if (json_is_string(v))
			as_strv_pushf(&l, "%s=%s", k, json_string_value(v));
		else
			as_strv_pushf(&l, "%s=%.10g", k, json_number_value(v));
	}
	char *s = as_strv_join(&l, ";");
	as_strv_clear(&l);
	return s;
}

typedef struct grp_s {
	char *key;
	json_t *first;	    ///< a run of the group, for workload/params/threads
	as_strv_t allocs;   ///< in order of alloc_order, then appearance
} grp_t;

static size_t groups(json_t *doc, const as_strv_t *order, grp_t **out)
{
	json_t *runs = json_object_get(doc, "runs");
	grp_t *g = NULL;
	size_t ng = 0;
	size_t i;
	json_t *r;
	json_array_foreach(runs, i, r)
	{
		char *k = group_key(r);
		size_t j;
		for (j = 0; j < ng; j++)
			if (!strcmp(g[j].key, k))
				break;
		if (j == ng) {
			g = as_xrealloc(g, (ng + 1) * sizeof(*g));
			g[ng] = (grp_t){ .key = k, .first = r };
			ng++;
		} else
			free(k);
		const char *a = json_string_value(json_object_get(r, "allocator"));
		if (!as_strv_has(&g[j].allocs, a))
			as_strv_push(&g[j].allocs, a);
	}
	// Order each group's allocators as named on the command line.
	for (size_t j = 0; j < ng && order; j++) {
		as_strv_t sorted = { 0 };
		for (size_t k = 0; k < order->n; k++)
			if (as_strv_has(&g[j].allocs, order->v[k]))
				as_strv_push(&sorted, order->v[k]);
		for (size_t k = 0; k < g[j].allocs.n; k++)
			if (!as_strv_has(&sorted, g[j].allocs.v[k]))
				as_strv_push(&sorted, g[j].allocs.v[k]);
		as_strv_clear(&g[j].allocs);
		g[j].allocs = sorted;
	}
	*out = g;
	return ng;
}

// Values of one metric over the ok runs of (group, allocator).
static size_t collect(json_t *doc, const char *key, const char *alloc, const char *metric, double *v,
		      size_t *nruns, size_t *nok)
{
	size_t n = 0;
	size_t i;
	json_t *r;
	*nruns = *nok = 0;
	json_array_foreach(json_object_get(doc, "runs"), i, r)
	{
		if (strcmp(json_string_value(json_object_get(r, "allocator")), alloc) != 0)
			continue;
		char *k = group_key(r);
		bool same = !strcmp(k, key);
		free(k);
		if (!same)
			continue;
		(*nruns)++;
		if (strcmp(json_string_value(json_object_get(r, "status")), "ok") != 0)
			continue;
		(*nok)++;
		json_t *m = json_object_get(json_object_get(r, "metrics"), metric);
		if (v && json_is_number(m))
			v[n++] = json_number_value(m);
		else if (!v && json_is_number(m))
			n++;
	}
	return n;
}

static void metric_names(json_t *doc, const char *key, as_strv_t *names)
{
	size_t i;
	json_t *r;
	json_array_foreach(json_object_get(doc, "runs"), i, r)
	{
		char *k = group_key(r);
		bool same = !strcmp(k, key);
		free(k);
		if (!same)
			continue;
		const char *name;
		json_t *v;
		json_object_foreach(json_object_get(r, "metrics"), name, v)
		{
			if (json_is_number(v) && !as_strv_has(names, name))
				as_strv_push(names, name);
		}
	}
}

int as_res_write_csv(const char *dir, json_t *doc, const as_strv_t *order)
{
	char *path = as_xasprintf("%s/summary.csv", dir);
	FILE *f = fopen(path, "we");
	if (!f) {
		as_warn("cannot write %s: %s", path, strerror(errno));
		free(path);
		return -1;
	}
	fprintf(f, "# %s\n", json_string_value(json_object_get(json_object_get(doc, "context"), "command")));
	fprintf(f, "allocator,workload,params,threads,runs,ok,metric,n,median,mean,stddev,cv,min,max,ratio\n");
	grp_t *g;
	size_t ng = groups(doc, order, &g);
	size_t nr = json_array_size(json_object_get(doc, "runs"));
	double *v = as_xcalloc(nr + 1, sizeof(double));
	for (size_t j = 0; j < ng; j++) {
		as_strv_t names = { 0 };
		metric_names(doc, g[j].key, &names);
		char *ps = params_text(g[j].first);
		for (size_t a = 0; a < g[j].allocs.n; a++)
			for (size_t m = 0; m < names.n; m++) {
				size_t runs, ok;
				size_t r0, ok0;
				size_t n0 = collect(doc, g[j].key, g[j].allocs.v[0], names.v[m], v, &r0, &ok0);
				as_stats_t s0;
				as_stats(v, n0, &s0);
				size_t n = collect(doc, g[j].key, g[j].allocs.v[a], names.v[m], v, &runs, &ok);
				as_stats_t s;
				as_stats(v, n, &s);
				fprintf(f, "%s,%s,\"%s\",%lld,%zu,%zu,%s,%zu", g[j].allocs.v[a],
					json_string_value(json_object_get(g[j].first, "workload")), ps,
					(long long)json_integer_value(json_object_get(g[j].first, "threads")), runs,
					ok, names.v[m], n);
				if (n)
					fprintf(f, ",%.6g,%.6g,%.6g,%.4f,%.6g,%.6g", s.median, s.mean, s.stddev, s.cv,
						s.min, s.max);
				else
					fprintf(f, ",,,,,,");
				if (n && n0 && s0.median != 0)
					fprintf(f, ",%.4f\n", s.median / s0.median);
				else
					fprintf(f, ",\n");
			}
		free(ps);
		as_strv_clear(&names);
	}
	free(v);
	for (size_t j = 0; j < ng; j++) {
		free(g[j].key);
		as_strv_clear(&g[j].allocs);
	}
	free(g);
	fclose(f);
	free(path);
	return 0;
}

// ns per operation first where a workload reports it (the frame papers' unit).
static const char *const primary[] = { "pair_ns", "alloc_ns", "ops_per_s", "wall_s", "proc_wall_s", NULL };
// Shown after the primary metric when present, in this order, up to
// MAX_COLS columns in all.
static const char *const secondary[] = { "free_ns",
					 "lat_p99_ns",
					 "lat_stddev_ns",
					 "rss_peak_bytes",
					 "frag_peak",
					 "free_huge_frac",
					 "compaction_moves",
					 "metadata_bytes",
					 "redis_rss_after_delete_bytes",
					 "redis_rss_final_bytes",
					 "pred_accuracy",
					 "tests_passed",
					 "tests_failed",
					 "violations_total",
					 NULL };
#define MAX_COLS 6

static void fmt_num(char *b, size_t len, double x)
{
	double a = fabs(x);
	if (a >= 1e9)
		snprintf(b, len, "%.3gG", x / 1e9);
	else if (a >= 1e6)
		snprintf(b, len, "%.3gM", x / 1e6);
	else if (a >= 1e4)
		snprintf(b, len, "%.3gk", x / 1e3);
	else
		snprintf(b, len, "%.3g", x);
}

void as_res_print_summary(FILE *f, json_t *doc, const as_strv_t *order)
{
	grp_t *g;
	size_t ng = groups(doc, order, &g);
	size_t nr = json_array_size(json_object_get(doc, "runs"));
	double *v = as_xcalloc(nr + 1, sizeof(double));
	fprintf(f, "\nSummary: median over ok repetitions ±cv%%, then the ratio to the first allocator\n");
	for (size_t j = 0; j < ng; j++) {
		as_strv_t names = { 0 };
		metric_names(doc, g[j].key, &names);
		const char *cols[MAX_COLS] = { NULL };
		for (size_t i = 0; primary[i] && !cols[0]; i++)
			if (as_strv_has(&names, primary[i]))
				cols[0] = primary[i];
		size_t nc = cols[0] ? 1 : 0;
		for (size_t i = 0; secondary[i] && nc < MAX_COLS; i++)
			if (as_strv_has(&names, secondary[i]) && (strcmp(secondary[i], "free_ns") != 0 ||
								   (cols[0] && !strcmp(cols[0], "alloc_ns"))))
				cols[nc++] = secondary[i];
		char *ps = params_text(g[j].first);
		fprintf(f, "\n%s  threads=%lld  %s\n", json_string_value(json_object_get(g[j].first, "workload")),
			(long long)json_integer_value(json_object_get(g[j].first, "threads")), ps);
		free(ps);
		fprintf(f, "  %-22s %-6s", "allocator", "ok");
		for (size_t c = 0; c < nc; c++)
			fprintf(f, " %22.22s", cols[c]);
		fprintf(f, "\n");
		for (size_t a = 0; a < g[j].allocs.n; a++) {
			size_t runs, ok;
			collect(doc, g[j].key, g[j].allocs.v[a], "", NULL, &runs, &ok);
			char okb[32];
			snprintf(okb, sizeof(okb), "%zu/%zu", ok, runs);
			fprintf(f, "  %-22s %-6s", g[j].allocs.v[a], okb);
			for (size_t c = 0; c < nc; c++) {
				size_t n = collect(doc, g[j].key, g[j].allocs.v[a], cols[c], v, &runs, &ok);
				as_stats_t s;
				as_stats(v, n, &s);
				size_t n0 = collect(doc, g[j].key, g[j].allocs.v[0], cols[c], v, &runs, &ok);
				as_stats_t s0;
				as_stats(v, n0, &s0);
				char cell[96];
				char num[32];
				if (!n) {
					snprintf(cell, sizeof(cell), "-");
				} else {
					fmt_num(num, sizeof(num), s.median);
					if (a > 0 && n0 && s0.median != 0)
						snprintf(cell, sizeof(cell), "%s±%.0f%% %.2fx", num, s.cv * 100,
							 s.median / s0.median);
					else
						snprintf(cell, sizeof(cell), "%s±%.0f%%", num, s.cv * 100);
				}
				fprintf(f, " %*s", (int)(22 + (strstr(cell, "±") ? 1 : 0)), cell);
			}
			fprintf(f, "\n");
		}
		as_strv_clear(&names);
	}
	// Failures, so no failed run goes unnoticed in a table of medians.
	size_t i;
	json_t *r;
	json_array_foreach(json_object_get(doc, "runs"), i, r)
	{
		const char *st = json_string_value(json_object_get(r, "status"));
		if (strcmp(st, "ok") != 0)
			fprintf(f, "! %s %s threads=%lld rep=%lld: %s: %s\n",
				json_string_value(json_object_get(r, "allocator")),
				json_string_value(json_object_get(r, "workload")),
				(long long)json_integer_value(json_object_get(r, "threads")),
				(long long)json_integer_value(json_object_get(r, "rep")), st,
				json_string_value(json_object_get(r, "error")));
	}
	free(v);
	for (size_t j = 0; j < ng; j++) {
		free(g[j].key);
		as_strv_clear(&g[j].allocs);
	}
	free(g);
}
