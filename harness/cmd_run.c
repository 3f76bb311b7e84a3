// SPDX-License-Identifier: MIT
// Subcommands run, plan and bench: parse options (opts.h), build the matrix,
// run it or print it.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "as/err.h"
#include "command.h"
#include "opts.h"
#include "perf.h"
#include "results.h"
#include "runner.h"

static const char options_help[] =
	"  --alloc a,b,...        allocators (allocscope list); bench: default every available one\n"
	"  --workload w,...       workloads; default: the config's [suite.frame]/[suite.object]\n"
	"  --threads 1,2,4        thread counts (default 1, or the suite's)\n"
	"  --reps N               repetitions (run: 1, bench: 3); allocators interleave within each\n"
	"  --param k=v            workload parameter, repeatable; k=a,b sweeps over values\n"
	"  --pin P                none | compact | scatter | PU list like 0,2,4 (default none;\n"
	"                         compact under a simulated topology)\n"
	"  --membind M            local | interleave | node=N (libnuma, set before exec)\n"
	"  --topology SPEC        synthetic:\"package:2 numa:1 core:8 pu:1\" or an XML file\n"
	"  --events e1,e2         perf events by libpfm4 name, or none (default: " AS_PERF_DEFAULT ")\n"
	"  --seed S               seed passed to every workload (default 42)\n"
	"  --timeout S            seconds per run before it is killed (default 300)\n"
	"  --mem-limit BYTES      RSS per run before it is killed as oom (k/M/G; default 80% of RAM)\n"
	"  --sample N             time 1 of N operations, a power of two (default 16)\n"
	"  --timeline-ms M        RSS/live sampling period (default 10; 0 = off)\n"
	"  --config FILE          defaults from an ini file (format: configs/default.ini); bench: configs/default.ini\n"
	"  --shard i/n            only cells with index % n == i (0 <= i < n)\n"
	"  --out DIR              results root (default results): DIR/<run-id>/, DIR/latest\n"
	"  --quiet                fewer notes\n";

static void usage(const char *cmd)
{
	if (!strcmp(cmd, "plan"))
		printf("usage: allocscope plan [options]\n"
		       "Print the cells of the run matrix, one per line (index, allocator, workload,\n"
		       "threads, rep, parameters), as `allocscope run` with the same options would run\n"
		       "them (after --shard). Options as for run:\n");
	else if (!strcmp(cmd, "bench"))
		printf("usage: allocscope bench [options]\n"
		       "The default suite (make bench): configs/default.ini unless --config, every\n"
		       "available allocator unless --alloc, 3 repetitions; frame allocators run the\n"
		       "[suite.frame] workloads, object allocators the [suite.object] ones. Prints a\n"
		       "summary table (median, spread, ratio to the first allocator) and writes results.\n"
		       "Options as for run:\n");
	else
		printf("usage: allocscope run --alloc a,b --workload w,... [options]\n"
		       "Run the cross product allocators x workloads x params x threads x reps, one\n"
		       "child process per cell, and write results/<run-id>/results.json, summary.csv\n"
		       "and results/latest. Exit 0 when every run is ok (or unsupported), 1 when any\n"
		       "crashed, timed out, ran out of memory or failed verification, 2 on bad input.\n"
		       "Options:\n");
	fputs(options_help, stdout);
}

static void parse(as_opts_t *o, int argc, char **argv)
{
	static const struct {
		const char *name;
		size_t off;
	} opts[] = {
#define O(n, f) { n, offsetof(as_opts_t, f) }
		O("--alloc", alloc),	   O("--workload", workload), O("--threads", threads),
		O("--reps", reps),	   O("--pin", pin),	      O("--membind", membind),
		O("--topology", topology), O("--events", events),     O("--seed", seed),
		O("--timeout", timeout),   O("--mem-limit", mem_limit), O("--sample", sample),
		O("--timeline-ms", timeline_ms), O("--out", out),     O("--config", config),
		O("--shard", shard),
#undef O
	};
	for (int i = 1; i < argc; i++) {
		char *a = argv[i];
		if (!strcmp(a, "--quiet")) {
			o->quiet = true;
			continue;
		}
		if (a[0] != '-' || a[1] != '-')
			as_die(2, "'%s': unexpected argument (try allocscope %s --help)", a, argv[0]);
		char *eq = strchr(a, '=');
		size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
		const char *val = NULL;
		bool known = false;
		for (size_t k = 0; k < sizeof(opts) / sizeof(opts[0]) && !known; k++)
			known = strlen(opts[k].name) == nlen && !strncmp(opts[k].name, a, nlen);
		known |= nlen == 7 && !strncmp(a, "--param", 7);
		if (!known)
			as_die(2, "unknown option '%.*s' (try allocscope %s --help)", (int)nlen, a, argv[0]);
		if (eq)
			val = eq + 1;
		else if (i + 1 < argc)
			val = argv[++i];
		else
			as_die(2, "%s: needs a value", a);
		if (nlen == 7 && !strncmp(a, "--param", 7)) {
			const char *e = strchr(val, '=');
			if (!e || e == val)
				as_die(2, "--param: '%s' is not key=value", val);
			as_strv_push(&o->params, val);
			continue;
		}
		for (size_t k = 0; k < sizeof(opts) / sizeof(opts[0]); k++)
			if (strlen(opts[k].name) == nlen && !strncmp(opts[k].name, a, nlen)) {
				char **field = (char **)((char *)o + opts[k].off);
				if (*field)
					as_die(2, "%.*s: given twice", (int)nlen, a);
				if (!*val)
					as_die(2, "%.*s: empty value", (int)nlen, a);
				*field = as_xstrdup(val);
			}
	}
	o->threads_cli = o->threads != NULL;
	o->alloc_cli = o->alloc != NULL;
	if (o->config)
		as_opts_load_config(o, o->config);
	else if (o->bench) {
		char *def = as_find_config("default.ini");
		if (!def)
			as_die(2, "--config: configs/default.ini not found (run from the source tree or pass --config)");
		as_opts_load_config(o, def);
		o->config = def;
	}
}

static int cmd_common(int argc, char **argv, bool bench, bool plan_only)
{
	if (as_cmd_wants_help(argc, argv)) {
		usage(argv[0]);
		return 0;
	}
	as_opts_t o;
	memset(&o, 0, sizeof(o));
	o.bench = bench;
	parse(&o, argc, argv);
	as_plan_t p;
	as_plan_build(&p, &o);
	if (plan_only) {
		for (size_t i = 0; i < p.ncells; i++) {
			char *d = as_cell_desc(&p.cells[i]);
			printf("%zu\t%s\n", p.cells[i].index, d);
			free(d);
		}
		fprintf(stderr, "allocscope: %zu cells%s (of %zu)\n", p.ncells, p.shard_n > 1 ? " in this shard" : "",
			p.total);
		return 0;
	}
	char *cmd = as_cmd_line(argc, argv);
	int rc = as_run_plan(&p, o.out ? o.out : "results", cmd, true);
	free(cmd);
	return rc;
}

static int cmd_run(int argc, char **argv)
{
	return cmd_common(argc, argv, false, false);
}

static int cmd_plan(int argc, char **argv)
{
	return cmd_common(argc, argv, false, true);
}

static int cmd_bench(int argc, char **argv)
{
	return cmd_common(argc, argv, true, false);
}

AS_COMMAND(run, "run allocators x workloads x threads x reps; write results/", cmd_run)
AS_COMMAND(plan, "print the cells a run would execute (for sharding a sweep)", cmd_plan)
AS_COMMAND(bench, "the default suite (make bench): summary table and results/", cmd_bench)
