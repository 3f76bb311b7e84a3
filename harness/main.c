// SPDX-License-Identifier: MIT
// allocscope: the runner's entry point. Subcommands register themselves
// (command.h); this file only dispatches and prints the overview.
#include <stdio.h>
#include <string.h>

#include "as/err.h"
#include "command.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: allocscope COMMAND [options]   (allocscope COMMAND --help for each)\n"
		   "Benchmarks memory allocators: places threads, runs workloads as child\n"
		   "processes (LD_PRELOAD for object allocators, verified in every run), measures\n"
		   "latency, RSS and perf counters, and writes results/<run-id>/results.json.\n\n"
		   "commands:\n");
	for (size_t i = 0; i < as_command_count(); i++)
		fprintf(f, "  %-10s %s\n", as_command_at(i)->name, as_command_at(i)->summary);
}

int main(int argc, char **argv)
{
	as_err_set_prog("allocscope");
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	const as_command_t *c = as_command_find(argv[1]);
	if (!c)
		as_die(2, "unknown command '%s' (try allocscope --help)", argv[1]);
	return c->fn(argc - 1, argv + 1);
}
