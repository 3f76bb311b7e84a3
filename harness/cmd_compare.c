// SPDX-License-Identifier: MIT
// allocscope compare BASE NEW: the regression check (see compare.h).
// Exit status: 1 when a cell regressed, 0 otherwise, 2 on unusable input.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "command.h"
#include "compare.h"
#include "results.h"
#include "util.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: allocscope compare BASE NEW [--threshold PCT] [--ref a,b] [--metrics m,...]\n"
		"                          [--exact-only] [--tolerance REL] [--verbose]\n"
		"Compare two results (a results.json or a run folder) cell by cell: allocator,\n"
		"workload, params, threads. Timings and memory are judged on repetitions (ratio of\n"
		"medians, 95%% bootstrap interval and Mann-Whitney p < 0.05 must all agree, so 5+\n"
		"repetitions a side); deterministic metrics (metadata bytes, 1-thread frag counts)\n"
		"exactly. Exit 1 on a regression, 0 otherwise, 2 on unusable input.\n"
		"  --threshold PCT   relative change that matters (default 10)\n"
		"  --ref a,b         judge timings as ratios to the first of these allocators\n"
		"                    measured in the same run (a slower machine is then no regression)\n"
		"  --metrics m,...   judge these metrics instead of the default headline set\n"
		"  --exact-only      deterministic metrics only (for CI on noisy machines)\n"
		"  --tolerance REL   relative tolerance of deterministic metrics (default 1e-9)\n"
		"  --verbose         list unchanged rows too\n");
}

static int cmd_compare(int argc, char **argv)
{
	if (as_cmd_wants_help(argc, argv)) {
		usage(stdout);
		return 0;
	}
	as_cmp_opts_t o = { .threshold = 0.10, .exact_tol = 1e-9, .seed = 42 };
	const char *paths[2] = { NULL, NULL };
	unsigned np = 0;
	as_strv_t refs = { 0 }, metrics = { 0 };
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--exact-only")) {
			o.exact_only = true;
		} else if (!strcmp(a, "--verbose")) {
			o.verbose = true;
		} else if (!strcmp(a, "--threshold") || !strcmp(a, "--ref") || !strcmp(a, "--metrics") ||
			   !strcmp(a, "--tolerance")) {
			if (!v) {
				fprintf(stderr, "allocscope compare: %s: needs a value\n", a);
				return 2;
			}
			i++;
			double x;
			if (!strcmp(a, "--ref")) {
				as_strv_split(&refs, v, ',');
			} else if (!strcmp(a, "--metrics")) {
				as_strv_split(&metrics, v, ',');
			} else if (!as_parse_double(v, &x) || x < 0 || (!strcmp(a, "--threshold") && x >= 1000)) {
				fprintf(stderr, "allocscope compare: %s: '%s' is not a non-negative number%s\n", a, v,
					!strcmp(a, "--threshold") ? " below 1000" : "");
				return 2;
			} else if (!strcmp(a, "--threshold")) {
				o.threshold = x / 100;
			} else {
				o.exact_tol = x;
			}
		} else if (a[0] == '-') {
			fprintf(stderr, "allocscope compare: unknown option '%s' (try --help)\n", a);
			return 2;
		} else if (np < 2) {
			paths[np++] = a;
		} else {
			fprintf(stderr, "allocscope compare: unexpected argument '%s': give exactly BASE and NEW\n", a);
			return 2;
		}
	}
	if (np != 2) {
		fprintf(stderr, "allocscope compare: give BASE and NEW results (try --help)\n");
		return 2;
	}
	char err[512];
	json_t *base = as_res_read(paths[0], err, sizeof(err));
	if (!base) {
		fprintf(stderr, "allocscope compare: BASE: %s\n", err);
		return 2;
	}
	json_t *cur = as_res_read(paths[1], err, sizeof(err));
	if (!cur) {
		fprintf(stderr, "allocscope compare: NEW: %s\n", err);
		json_decref(base);
		return 2;
	}
	if (refs.n)
		o.refs = (const char *const *)as_strv_argv(&refs);
	if (metrics.n)
		o.metrics = (const char *const *)as_strv_argv(&metrics);
	printf("base: %s (%s, commit %s)\nnew:  %s (%s, commit %s)\n\n", paths[0],
	       json_string_value(json_object_get(json_object_get(base, "context"), "date")),
	       json_string_value(json_object_get(json_object_get(base, "context"), "commit")), paths[1],
	       json_string_value(json_object_get(json_object_get(cur, "context"), "date")),
	       json_string_value(json_object_get(json_object_get(cur, "context"), "commit")));
	int rc = as_compare(base, cur, &o, stdout, NULL);
	json_decref(base);
	json_decref(cur);
	as_strv_clear(&refs);
	as_strv_clear(&metrics);
	return rc;
}
AS_COMMAND(compare, "compare two results cell by cell; exit 1 on a regression", cmd_compare)
