// SPDX-License-Identifier: MIT
// The regression comparison on synthetic results: a 30% slowdown is
// flagged, a 2% wobble within noise is not, a slowdown of the whole
// machine is not a regression when judged against a reference allocator,
// a changed deterministic metric is, a missing cell is reported, and a
// crash where there was a result is a regression.
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "as/rng.h"
#include "compare.h"
#include "test.h"

/// A document with one frame cell per allocator: `reps` repetitions of
/// alloc_ns around `mean` * factor[alloc] with +-noise relative spread.
static json_t *doc_with(const char *const *allocs, const double *means, unsigned reps, double noise,
			double metadata, uint64_t seed)
{
	as_rng_t r;
	as_rng_seed(&r, seed, 0);
	json_t *runs = json_array();
	for (unsigned rep = 0; rep < reps; rep++)
		for (unsigned a = 0; allocs[a]; a++) {
			json_t *m = json_object();
			double x = means[a] * (1 + noise * (2 * as_rng_double(&r) - 1));
			json_object_set_new(m, "alloc_ns", json_real(x));
			json_object_set_new(m, "metadata_bytes", json_real(metadata));
			json_t *run = json_pack("{s:s, s:s, s:{s:i}, s:i, s:i, s:s}", "allocator", allocs[a],
						"workload", "bulk", "params", "order", 0, "threads", 2, "rep", rep,
						"status", "ok");
			json_object_set_new(run, "metrics", m);
			json_array_append_new(runs, run);
		}
	return json_pack("{s:i, s:{s:s, s:s}, s:o}", "schema_version", 1, "context", "date", "d", "commit", "c",
			 "runs", runs);
}

static int run_cmp(json_t *b, json_t *n, const char *const *refs, as_cmp_counts_t *k)
{
	as_cmp_opts_t o = { .threshold = 0.10, .exact_tol = 1e-9, .refs = refs, .seed = 7 };
	FILE *devnull = fopen("/dev/null", "w");
	int rc = as_compare(b, n, &o, devnull, k);
	fclose(devnull);
	json_decref(b);
	json_decref(n);
	return rc;
}

static const char *const one[] = { "llfree", NULL };
static const char *const two[] = { "llfree", "buddy", NULL };

TEST(compare_flags_30pct_slowdown)
{
	as_cmp_counts_t k;
	double b[] = { 100 }, n[] = { 130 };
	int rc = run_cmp(doc_with(one, b, 5, 0.02, 1000, 1), doc_with(one, n, 5, 0.02, 1000, 2), NULL, &k);
	check_eq("%d", rc, 1);
	check_eq("%u", k.regressed, 1u);
}

TEST(compare_ignores_2pct_wobble)
{
	as_cmp_counts_t k;
	double b[] = { 100 }, n[] = { 102 };
	int rc = run_cmp(doc_with(one, b, 5, 0.03, 1000, 3), doc_with(one, n, 5, 0.03, 1000, 4), NULL, &k);
	check_eq("%d", rc, 0);
	check_eq("%u", k.regressed, 0u);
	check_eq("%u", k.unchanged, 2u); // alloc_ns and metadata_bytes
}

TEST(compare_reports_improvement)
{
	as_cmp_counts_t k;
	double b[] = { 100 }, n[] = { 60 };
	int rc = run_cmp(doc_with(one, b, 5, 0.02, 1000, 5), doc_with(one, n, 5, 0.02, 1000, 6), NULL, &k);
	check_eq("%d", rc, 0);
	check_eq("%u", k.improved, 1u);
}

TEST(compare_slower_machine_is_not_a_regression_with_ref)
{
	// Both allocators 30% slower in the new run: raw, llfree regresses;
	// judged against buddy from the same run, nothing does.
	as_cmp_counts_t k;
	double b[] = { 100, 200 }, n[] = { 130, 260 };
	const char *const refs[] = { "buddy", NULL };
	int rc = run_cmp(doc_with(two, b, 5, 0.01, 1000, 7), doc_with(two, n, 5, 0.01, 1000, 8), refs, &k);
	check_eq("%d", rc, 0);
	check_eq("%u", k.regressed, 0u);
	rc = run_cmp(doc_with(two, b, 5, 0.01, 1000, 7), doc_with(two, n, 5, 0.01, 1000, 8), NULL, &k);
	check_eq("%d", rc, 1);
	// ...but an llfree-only slowdown is still caught against the reference.
	double n2[] = { 130, 200 };
	rc = run_cmp(doc_with(two, b, 5, 0.01, 1000, 7), doc_with(two, n2, 5, 0.01, 1000, 8), refs, &k);
	check_eq("%d", rc, 1);
	check_eq("%u", k.regressed, 1u);
}

TEST(compare_too_few_reps_not_judged_on_noise)
{
	as_cmp_counts_t k;
	double b[] = { 100 }, n[] = { 150 };
	int rc = run_cmp(doc_with(one, b, 1, 0, 1000, 9), doc_with(one, n, 1, 0, 1000, 10), NULL, &k);
	check_eq("%d", rc, 0);
}

TEST(compare_exact_metric_change)
{
	as_cmp_counts_t k;
	double b[] = { 100 }, n[] = { 100 };
	int rc = run_cmp(doc_with(one, b, 3, 0, 1000, 11), doc_with(one, n, 3, 0, 1001, 12), NULL, &k);
	check_eq("%d", rc, 1); // metadata grew by one byte: deterministic, so flagged
	rc = run_cmp(doc_with(one, b, 1, 0, 1000, 11), doc_with(one, n, 1, 0, 999, 12), NULL, &k);
	check_eq("%d", rc, 0);
	check_eq("%u", k.improved, 1u);
}

TEST(compare_missing_new_and_crashed_cells)
{
	as_cmp_counts_t k;
	double b2[] = { 100, 200 }, n1[] = { 100 };
	int rc = run_cmp(doc_with(two, b2, 3, 0.01, 1000, 13), doc_with(one, n1, 3, 0.01, 1000, 14), NULL, &k);
	check_eq("%d", rc, 0);
	check_eq("%u", k.missing, 1u);
	rc = run_cmp(doc_with(one, n1, 3, 0.01, 1000, 14), doc_with(two, b2, 3, 0.01, 1000, 13), NULL, &k);
	check_eq("%u", k.added, 1u);
	json_t *crashed = doc_with(one, n1, 3, 0.01, 1000, 15);
	size_t i;
	json_t *r;
	json_array_foreach(json_object_get(crashed, "runs"), i, r)
	{
		json_object_set_new(r, "status", json_string("crash"));
		json_object_set_new(r, "error", json_string("signal 11"));
	}
	rc = run_cmp(doc_with(one, n1, 3, 0.01, 1000, 16), crashed, NULL, &k);
	check_eq("%d", rc, 1);
	check_eq("%u", k.regressed, 1u);
}

TEST(compare_mann_whitney)
{
	double a[] = { 1, 2, 3, 4, 5, 6, 7, 8 }, b[] = { 11, 12, 13, 14, 15, 16, 17, 18 };
	check(as_mann_whitney_p(a, 8, b, 8) < 0.01);
	check(as_mann_whitney_p(a, 8, a, 8) > 0.9);
	double c[] = { 1, 3, 5, 7 }, d[] = { 2, 4, 6, 8 };
	check(as_mann_whitney_p(c, 4, d, 4) > 0.3);
}
