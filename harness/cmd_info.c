// SPDX-License-Identifier: MIT
// Subcommands list and topo: what this build can run, and where.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "as/err.h"
#include "catalog.h"
#include "command.h"
#include "topo.h"

static int cmd_list(int argc, char **argv)
{
	if (as_cmd_wants_help(argc, argv)) {
		printf("usage: allocscope list [allocators|workloads]\n"
		       "Allocators (frame and object, in-tree and baselines) with their library, the\n"
		       "environment of variants and the version, or \"missing\" with the reason; and the\n"
		       "workloads found next to this program (bin/framebench, bin/micro-*, scenarios)\n"
		       "with their parameters and defaults.\n");
		return 0;
	}
	bool allocs = true;
	bool wls = true;
	if (argc > 2)
		as_die(2, "'%s': unexpected argument (try allocscope list --help)", argv[2]);
	if (argc == 2) {
		if (!strcmp(argv[1], "allocators"))
			wls = false;
		else if (!strcmp(argv[1], "workloads"))
			allocs = false;
		else
			as_die(2, "'%s': not allocators or workloads (try allocscope list --help)", argv[1]);
	}
	if (allocs) {
		printf("allocators:\n");
		for (size_t i = 0; i < as_alloc_count(); i++) {
			as_alloc_t *a = as_alloc_at(i);
			char *env = as_strv_join(&a->env, " ");
			printf("  %-24s %-6s %-9s %s\n", a->name, a->kind == AS_KIND_FRAME ? "frame" : "object",
			       a->available ? "available" : "missing", a->desc);
			if (!a->available)
				printf("  %-24s        %s\n", "", a->missing);
			else if (a->lib || *env || a->version)
				printf("  %-24s        %s%s%s%s%s\n", "", a->lib ? a->lib : "", *env ? " + " : "", env,
				       a->version ? "  version " : "", a->version ? a->version : "");
			free(env);
		}
	}
	if (wls) {
		printf("workloads:\n");
		if (!as_wl_count())
			printf("  (none found next to %s)\n", as_bin_dir());
		for (size_t i = 0; i < as_wl_count(); i++) {
			as_wl_t *w = as_wl_at(i);
			printf("  %-24s %-6s %s\n", w->name, w->kind, w->summary);
			for (size_t k = 0; k < w->nparams; k++)
				printf("      %-20s default %-10s %s\n", w->params[k].name, w->params[k].def,
				       w->params[k].help);
		}
	}
	return 0;
}

static int cmd_topo(int argc, char **argv)
{
	if (as_cmd_wants_help(argc, argv)) {
		printf("usage: allocscope topo [--topology SPEC]\n"
		       "The topology as hwloc sees it (packages, NUMA nodes, cores, PUs, caches) and the\n"
		       "PU orders the compact and scatter pin policies use. SPEC is\n"
		       "synthetic:\"package:2 numa:1 core:8 pu:1\" or an hwloc XML file (simulated).\n");
		return 0;
	}
	const char *spec = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--topology") && i + 1 < argc)
			spec = argv[++i];
		else if (!strncmp(argv[i], "--topology=", 11))
			spec = argv[i] + 11;
		else if (!strcmp(argv[i], "--topology"))
			as_die(2, "--topology: needs a value");
		else
			as_die(2, "unknown option '%s' (try allocscope topo --help)", argv[i]);
	}
	as_topo_t t;
	char err[512];
	if (as_topo_load(&t, spec, err, sizeof(err)) != 0)
		as_die(2, "%s", err);
	printf("%s\n", t.desc);
	return 0;
}

AS_COMMAND(list, "allocators and workloads of this build, with parameters", cmd_list)
AS_COMMAND(topo, "the machine (or a simulated) topology and pin orders", cmd_topo)
