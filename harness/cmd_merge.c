// SPDX-License-Identifier: MIT
// Subcommand merge: results of several runs (shards, machines) into one,
// after checking that their contexts are compatible.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "as/err.h"
#include "command.h"
#include "results.h"
#include "util.h"

// Context keys that must agree for runs to be compared in one document.
static const char *const must_match[] = { "commit", "dirty", "compiler", "cflags", "seed", "simulated", NULL };

static int cmd_merge(int argc, char **argv)
{
	if (as_cmd_wants_help(argc, argv)) {
		printf("usage: allocscope merge DIR... [--out ROOT]\n"
		       "Merge results.json of several run folders (shards of one sweep, or machines)\n"
		       "into ROOT/<run-id>-merged/ (default ROOT: results) and point ROOT/latest at it.\n"
		       "Contexts must agree on commit, dirty, compiler, cflags, seed and simulated (and\n"
		       "the topology when simulated); a cell present twice is refused.\n");
		return 0;
	}
	const char *out = "results";
	as_strv_t dirs = { 0 };
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--out")) {
			if (i + 1 >= argc)
				as_die(2, "--out: needs a value");
			out = argv[++i];
		} else if (!strncmp(argv[i], "--out=", 6))
			out = argv[i] + 6;
		else if (argv[i][0] == '-')
			as_die(2, "unknown option '%s' (try allocscope merge --help)", argv[i]);
		else
			as_strv_push(&dirs, argv[i]);
	}
	if (dirs.n < 1)
		as_die(2, "merge: name at least one results folder (try allocscope merge --help)");
	json_t *merged = NULL;
	json_t *from = json_array();
	json_t *seen = json_object();
	for (size_t d = 0; d < dirs.n; d++) {
		char err[600];
		json_t *doc = as_res_read(dirs.v[d], err, sizeof(err));
		if (!doc)
			as_die(2, "%s", err);
		json_t *ctx = json_object_get(doc, "context");
		if (!merged) {
			merged = json_deep_copy(doc);
			json_array_clear(json_object_get(merged, "runs"));
		} else {
			json_t *c0 = json_object_get(merged, "context");
			for (size_t k = 0; must_match[k]; k++)
				if (!json_equal(json_object_get(c0, must_match[k]), json_object_get(ctx, must_match[k]))) {
					char *a = json_dumps(json_object_get(c0, must_match[k]), JSON_ENCODE_ANY);
					char *b = json_dumps(json_object_get(ctx, must_match[k]), JSON_ENCODE_ANY);
					as_die(2, "%s: context.%s differs from %s (%s vs %s)", dirs.v[d], must_match[k],
					       dirs.v[0], b, a);
				}
			if (json_is_true(json_object_get(c0, "simulated")) &&
			    !json_equal(json_object_get(c0, "topology"), json_object_get(ctx, "topology")))
				as_die(2, "%s: context.topology differs from %s (simulated runs)", dirs.v[d], dirs.v[0]);
		}
		json_array_append_new(from, json_pack("{s:s, s:O, s:O, s:O?}", "dir", dirs.v[d], "host",
						      json_object_get(ctx, "host"), "date", json_object_get(ctx, "date"),
						      "runner", json_object_get(ctx, "runner")));
		size_t i;
		json_t *r;
		json_array_foreach(json_object_get(doc, "runs"), i, r)
		{
			char *ps = json_dumps(json_object_get(r, "params"), JSON_SORT_KEYS | JSON_COMPACT);
			char *key = as_xasprintf("%s|%s|%s|%lld|%lld", json_string_value(json_object_get(r, "allocator")),
						 json_string_value(json_object_get(r, "workload")), ps,
						 (long long)json_integer_value(json_object_get(r, "threads")),
						 (long long)json_integer_value(json_object_get(r, "rep")));
			if (json_object_get(seen, key))
				as_die(2, "%s: run %s is already in %s", dirs.v[d], key,
				       json_string_value(json_object_get(seen, key)));
			json_object_set_new(seen, key, json_string(dirs.v[d]));
			json_array_append(json_object_get(merged, "runs"), r);
			free(ps);
			free(key);
		}
		json_decref(doc);
	}
	json_t *ctx = json_object_get(merged, "context");
	json_object_set_new(ctx, "merged_from", from);
	char *cmd = as_cmd_line(argc, argv);
	json_object_set_new(ctx, "merge_command", json_string(cmd));
	free(cmd);
	char *dir = as_res_mkdir(out, "merged");
	int rc = as_res_write_json(dir, merged) || as_res_write_csv(dir, merged, NULL) ? 1 : 0;
	as_res_link_latest(out, dir);
	fprintf(stderr, "allocscope: merged %zu folders (%zu runs) into %s\n", dirs.n,
		json_array_size(json_object_get(merged, "runs")), dir);
	json_decref(merged);
	json_decref(seen);
	free(dir);
	as_strv_clear(&dirs);
	return rc;
}

AS_COMMAND(merge, "merge result folders (shards, machines) into one", cmd_merge)
