// SPDX-License-Identifier: MIT
// libFuzzer target: the harness config-file parser (harness/opts.c,
// as_opts_parse_config, the code behind `allocscope run --config FILE`)
// over arbitrary bytes. The catalog is the build's own: the allocator table
// and the workloads that $(BUILD)/bin/framebench and micro-* describe (the
// fuzzer lives in $(BUILD)/fuzz; without those programs only the scenarios
// are known). Checked for every input:
//   - no crash, no leak (ASan/LSan), no exit: bad input is a return value;
//   - a rejection has a message "fuzz.ini:LINE: reason" with a non-empty
//     reason and 1 <= LINE <= the number of lines of the input, and leaves
//     the options exactly as they were (the fuzzer presets seed, as the
//     command line would; an accepted config must not replace it either);
//   - an accepted config holds only values in their documented ranges
//     (checked here independently of the parser: [run] values, parameter
//     names that some workload has, suite thread lists), and parsing the
//     same text again gives the same options (no hidden state).
// Build: make fuzz (clang -fsanitize=fuzzer,address); see tests/README.md.
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "as/kv.h"
#include "catalog.h"
#include "opts.h"
#include "util.h"

#define FC_NAME "fuzz.ini"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fc_fail(const char *what, const char *detail, const uint8_t *data, size_t size)
{
	fprintf(stderr, "fuzz_config: %s: %s\ninput (%zu bytes):\n%.*s\n", what, detail ? detail : "(null)",
		size, (int)size, (const char *)data);
	abort();
}

// The workloads live next to the runner: $(BUILD)/bin beside $(BUILD)/fuzz.
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0 && !getenv("ALLOCSCOPE_BIN_DIR")) {
		exe[n] = '\0';
		char *slash = strrchr(exe, '/');
		if (slash) {
			snprintf(slash, sizeof(exe) - (size_t)(slash - exe), "/../bin");
			setenv("ALLOCSCOPE_BIN_DIR", exe, 1);
		}
	}
	as_wl_load();
	as_alloc_load();
	fprintf(stderr, "fuzz_config: catalog of %zu allocators, %zu workloads (bin dir %s)\n", as_alloc_count(),
		as_wl_count(), as_bin_dir());
	return 0;
}

static bool fc_uint(const char *v, uint64_t lo, uint64_t hi)
{
	uint64_t x;
	return as_parse_uint(v, lo, hi, &x);
}

// A non-empty comma list whose items all pass `ok`.
static bool fc_list(const char *v, bool (*ok)(const char *))
{
	as_strv_t l = { 0 };
	as_strv_split(&l, v, ',');
	bool good = l.n > 0;
	for (size_t i = 0; good && i < l.n; i++)
		good = ok(l.v[i]);
	as_strv_clear(&l);
	return good;
}

static bool fc_thread(const char *v)
{
	return fc_uint(v, 1, 4096);
}

static bool fc_alloc(const char *v)
{
	return (!strncmp(v, "preload:", 8) && v[8]) || as_alloc_find(v);
}

static bool fc_workload(const char *v)
{
	return as_wl_find(v) != NULL;
}

static bool fc_pu(const char *v)
{
	return fc_uint(v, 0, 1u << 20);
}

static bool fc_any_param(const char *k)
{
	for (size_t i = 0; i < as_wl_count(); i++)
		if (as_wl_param(as_wl_at(i), k))
			return true;
	return false;
}

// "k=v" (cparams) or "W:k=v" (wparams): k is a parameter (of W).
static bool fc_param(const char *s, bool with_wl)
{
	const char *eq = strchr(s, '=');
	if (!eq)
		return false;
	char *key = strndup(s, (size_t)(eq - s));
	bool ok;
	if (with_wl) {
		char *colon = strchr(key, ':');
		if (colon)
			*colon = '\0';
		const as_wl_t *w = colon ? as_wl_find(key) : NULL;
		ok = w && as_wl_param(w, colon + 1);
	} else {
		ok = fc_any_param(key);
	}
	free(key);
	return ok;
}

// Independent range checks of an accepted config; the reason or NULL.
static const char *fc_check_ranges(const as_opts_t *o)
{
	double d;
	uint64_t x;
	if (o->threads && !fc_list(o->threads, fc_thread))
		return "threads outside [1, 4096]";
	if (o->reps && !fc_uint(o->reps, 1, 100000))
		return "reps outside [1, 100000]";
	if (o->seed && !fc_uint(o->seed, 0, UINT64_MAX))
		return "seed not a u64";
	if (o->timeline_ms && !fc_uint(o->timeline_ms, 0, 60000))
		return "timeline_ms outside [0, 60000]";
	if (o->sample && (!as_parse_uint(o->sample, 1, 1u << 30, &x) || (x & (x - 1))))
		return "sample not a power of two in [1, 2^30]";
	if (o->timeout && (!as_parse_double(o->timeout, &d) || !(d > 0 && d <= 604800.0)))
		return "timeout outside (0, 604800]";
	if (o->mem_limit && !as_parse_u64(o->mem_limit, &x))
		return "mem_limit not a size";
	if (o->pin && strcmp(o->pin, "none") && strcmp(o->pin, "compact") && strcmp(o->pin, "scatter") &&
	    !fc_list(o->pin, fc_pu))
		return "pin not none, compact, scatter or a PU list";
	if (o->membind && strcmp(o->membind, "local") && strcmp(o->membind, "interleave") &&
	    strcmp(o->membind, "default") &&
	    (strncmp(o->membind, "node=", 5) || !fc_uint(o->membind + 5, 0, 1u << 16)))
		return "membind not local, interleave, default or node=N";
	if (o->alloc && !fc_list(o->alloc, fc_alloc))
		return "alloc not a list of known allocators";
	if (o->workload && !fc_list(o->workload, fc_workload))
		return "workload not a list of known workloads";
	for (size_t i = 0; i < o->cparams.n; i++)
		if (!fc_param(o->cparams.v[i], false))
			return "[params] key that no workload has";
	for (size_t i = 0; i < o->wparams.n; i++)
		if (!fc_param(o->wparams.v[i], true))
			return "[params.NAME] key that workload NAME does not have";
	for (int k = 0; k < 2; k++) {
		const as_suite_t *s = &o->suite[k];
		if (s->threads && !fc_list(s->threads, fc_thread))
			return "suite threads outside [1, 4096]";
		for (size_t i = 0; i < s->workloads.n; i++)
			if (!s->workloads.v[i][0] || strchr(s->workloads.v[i], ','))
				return "empty or unsplit suite workload";
		for (size_t i = 0; i < s->wthreads.n; i++) {
			const char *eq = strchr(s->wthreads.v[i], '=');
			if (!eq || eq == s->wthreads.v[i] || !fc_list(eq + 1, fc_thread))
				return "suite threads.NAME not NAME=list in [1, 4096]";
		}
	}
	if (o->out || o->config || o->shard || o->params.n || o->bench || o->quiet || o->alloc_cli ||
	    o->threads_cli)
		return "a config set a command-line-only field";
	return NULL;
}

// Every field of the options as one string, to compare two parses.
static char *fc_dump(const as_opts_t *o)
{
	as_strv_t l = { 0 };
	const char *f[] = { o->alloc,	 o->workload, o->threads, o->reps,	o->pin,	   o->membind, o->topology,
			    o->events,	 o->seed,     o->timeout, o->mem_limit, o->sample, o->timeline_ms };
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		as_strv_pushf(&l, "%zu=%s", i, f[i] ? f[i] : "(unset)");
	const as_strv_t *lists[] = { &o->cparams,	     &o->wparams,	     &o->suite[0].workloads,
				     &o->suite[0].wthreads, &o->suite[1].workloads, &o->suite[1].wthreads };
	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
		for (size_t j = 0; j < lists[i]->n; j++)
			as_strv_pushf(&l, "list%zu=%s", i, lists[i]->v[j]);
	for (int k = 0; k < 2; k++)
		as_strv_pushf(&l, "suite%d=%s", k, o->suite[k].threads ? o->suite[k].threads : "(unset)");
	char *s = as_strv_join(&l, "\n");
	as_strv_clear(&l);
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	char err[1024];
	as_opts_t o;
	memset(&o, 0, sizeof(o));
	o.seed = as_xstrdup("7"); // as if given by --seed
	as_opts_t before = o;
	err[0] = '\0';
	if (!as_opts_parse_config(&o, FC_NAME, text, size, err, sizeof(err))) {
		if (memcmp(&o, &before, sizeof(o)))
			fc_fail("a rejected config changed the options", err, data, size);
		int line = 0;
		int off = 0;
		if (sscanf(err, FC_NAME ":%d: %n", &line, &off) != 1 || off == 0 || !err[off])
			fc_fail("rejection message is not 'fuzz.ini:LINE: reason'", err, data, size);
		size_t lines = 1;
		for (size_t i = 0; i < size; i++)
			lines += data[i] == '\n';
		if (line < 1 || (size_t)line > lines)
			fc_fail("rejection names a line outside the input", err, data, size);
		as_opts_clear(&o);
		return 0;
	}
	if (o.seed != before.seed || strcmp(o.seed, "7"))
		fc_fail("an accepted config replaced an option already set", o.seed, data, size);
	const char *why = fc_check_ranges(&o);
	if (why)
		fc_fail("accepted config out of range", why, data, size);
	as_opts_t again;
	memset(&again, 0, sizeof(again));
	again.seed = as_xstrdup("7");
	if (!as_opts_parse_config(&again, FC_NAME, text, size, err, sizeof(err)))
		fc_fail("the same text was refused on a second parse", err, data, size);
	char *a = fc_dump(&o);
	char *b = fc_dump(&again);
	if (strcmp(a, b))
		fc_fail("two parses of the same text differ", a, data, size);
	free(a);
	free(b);
	as_opts_clear(&o);
	as_opts_clear(&again);
	return 0;
}
