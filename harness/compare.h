// SPDX-License-Identifier: MIT
// Comparing two results documents cell by cell (allocator, workload,
// params, threads), for regression tracking (`allocscope compare`,
// `make regress`).
//
// Metrics fall into classes (compare.c, metric_class):
//   timing       ns per op, latencies, seconds: lower is better
//   throughput   ops_per_s and friends: higher is better
//   memory       RSS, fragmentation, live bytes: lower is better, noisy
//   exact        deterministic under a fixed seed (metadata bytes; the frag
//                workload's huge-frame and compaction counts at 1 thread;
//                failures): compared to a tight relative tolerance
// Noisy classes are judged on repetitions: the ratio of medians (new/base,
// oriented so > 1 is worse), a 95% bootstrap interval of that ratio
// (seeded, 2000 resamples) and a two-sided Mann-Whitney U test. A change is
// a regression when the ratio passes 1 + threshold AND the interval lies
// above 1 AND the rank test agrees (p < alpha, 0.05 by default); an
// improvement symmetrically. With 3 repetitions a side the rank test can
// never reach 0.05, so nothing is flagged on so little evidence: use 5 or
// more (configs/ci.ini does). Timings are judged as ratios to a
// reference allocator measured in the same run where one is given (--ref),
// pairing repetitions, so a uniformly slower machine is not a regression;
// the reference allocator's own raw timing changes are then listed as
// "reference" (how the machine moved) and never counted as regressions.
// A cell ok in base and failed in new is a regression; a cell only in base
// is "missing", only in new "new".
#ifndef AS_COMPARE_H
#define AS_COMPARE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

typedef struct as_cmp_opts_s {
	double threshold;	  ///< relative change that matters (0.10 = 10%)
	double exact_tol;	  ///< relative tolerance of exact metrics (1e-9)
	double alpha;		  ///< significance of the rank test (0 = 0.05)
	const char *const *refs;  ///< reference allocators, NULL-terminated, or NULL
	const char *const *metrics; ///< only these metrics, or NULL for all known
	bool exact_only;	  ///< compare deterministic metrics only (CI)
	bool verbose;		  ///< list unchanged rows too
	unsigned long long seed;  ///< bootstrap seed
} as_cmp_opts_t;

typedef struct as_cmp_counts_s {
	unsigned improved, unchanged, regressed, missing, added, skipped;
} as_cmp_counts_t;

/// Compare and print the table to `out`. Returns 1 if anything regressed,
/// else 0. Counts go to *counts when non-NULL.
int as_compare(json_t *base, json_t *cur, const as_cmp_opts_t *o, FILE *out, as_cmp_counts_t *counts);

/// Two-sided Mann-Whitney U test p-value (normal approximation with tie
/// correction; exact enumeration when both samples are small).
double as_mann_whitney_p(const double *a, size_t na, const double *b, size_t nb);

#endif
