// SPDX-License-Identifier: MIT
// Results (schema in results/SCHEMA.md): the context block, results.json,
// summary.csv, the results/latest link, reading results back (merge,
// tests) and the summary statistics and table.
#ifndef AS_RESULTS_H
#define AS_RESULTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "opts.h"

#define AS_SCHEMA_VERSION 1

/// The context block: host, machine, build, versions, command, seed.
json_t *as_res_context(const as_plan_t *p, const char *command);

/// Create <root>/<run-id>/ (run-id from the date, host and shard); returns
/// the folder path (fresh string). Exits 1 if it cannot.
char *as_res_mkdir(const char *root, const char *suffix);

/// Write results.json atomically (tmp + rename). 0 or -1 (message printed).
int as_res_write_json(const char *dir, json_t *doc);
/// Write summary.csv ("# command" first) from the document.
int as_res_write_csv(const char *dir, json_t *doc, const as_strv_t *alloc_order);
/// Point <root>/latest at dir (relative link).
void as_res_link_latest(const char *root, const char *dir);

/// Read and check a results.json (a file or a run folder). NULL with a
/// reason in err when unreadable or not schema-conformant.
json_t *as_res_read(const char *path, char *err, size_t errlen);
/// Check a document against the schema; 0 or -1 with the reason.
int as_res_check(json_t *doc, char *err, size_t errlen);

/// Print the summary table (median, spread, ratio vs. the first allocator
/// in alloc_order) for the runs in doc.
void as_res_print_summary(FILE *f, json_t *doc, const as_strv_t *alloc_order);

/// Statistics over a sample (used by the summary; exposed for tests).
typedef struct as_stats_s {
	size_t n;
	double median;
	double mean;
	double stddev;
	double cv; ///< stddev / mean (0 when mean is 0)
	double min;
	double max;
} as_stats_t;
void as_stats(double *v, size_t n, as_stats_t *s);

#endif
