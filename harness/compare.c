// SPDX-License-Identifier: MIT
// Cell-by-cell comparison of two results documents (see compare.h).
#include "compare.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "as/rng.h"
#include "results.h"
#include "util.h"

typedef enum mclass_e { MC_NONE, MC_TIMING, MC_THROUGHPUT, MC_MEMORY, MC_EXACT } mclass_t;

/// Metrics compared by default (the rest only with --metrics): the headline
/// of each workload kind, not every percentile, so a table of dozens of
/// correlated rows does not manufacture false alarms.
static const char *const default_metrics[] = {
	"ops_per_s", "alloc_ns", "free_ns", "pair_ns", "lat_p99_ns", "rss_peak_bytes", "frag_peak",
	"metadata_bytes", "free_huge_frac", "compaction_moves", "compaction_moves_r10",
	"free_huge_frac_r10", "failures", "violations_total", "tests_failed",
	"redis_rss_after_delete_bytes", NULL,
};

/// Deterministic under a fixed seed when the workload runs one thread.
static const char *const exact_single_thread[] = {
	"free_huge_frac", "free_huge_frac_r10", "compaction_moves", "compaction_moves_r10",
	"compaction_moves_r0", "free_huge_norm", NULL,
};
/// Deterministic whatever the threads.
static const char *const exact_always[] = { "metadata_bytes", "metadata_bytes_per_gib", NULL };

static bool in_list(const char *const *l, const char *s)
{
	for (; l && *l; l++)
		if (!strcmp(*l, s))
			return true;
	return false;
}

static bool ends_with(const char *s, const char *suf)
{
	size_t n = strlen(s), m = strlen(suf);
	return n >= m && !strcmp(s + n - m, suf);
}

static mclass_t metric_class(const char *m, long threads)
{
	if (in_list(exact_always, m) || (threads == 1 && in_list(exact_single_thread, m)))
		return MC_EXACT;
	if (!strcmp(m, "failures") || !strcmp(m, "violations_total") || !strcmp(m, "tests_failed"))
		return MC_EXACT;
	if (ends_with(m, "ops_per_s") || ends_with(m, "bytes_per_s"))
		return MC_THROUGHPUT;
	if (ends_with(m, "_ns") && strcmp(m, "lat_overhead_ns") != 0 && strcmp(m, "lat_sample_cost_ns") != 0)
		return MC_TIMING;
	if (!strncmp(m, "rss_", 4) || !strncmp(m, "frag_", 5) || !strncmp(m, "redis_rss", 9))
		return MC_MEMORY;
	if (!strcmp(m, "free_huge_frac") || !strncmp(m, "compaction_moves", 16))
		return MC_MEMORY; // multithreaded frag: noisy
	return MC_NONE;
}

/// +1: higher is better, -1: lower is better.
static int direction(const char *m, mclass_t c)
{
	if (c == MC_THROUGHPUT || !strncmp(m, "free_huge_frac", 14) || !strcmp(m, "free_huge_norm"))
		return 1;
	return -1;
}

// ---------------------------------------------------------------------------
// Cells

typedef struct cell_s {
	char *key;   // allocator|group
	char *group; // workload|params|threads
	const char *alloc, *workload;
	long threads;
	json_t *runs; // array of run objects (borrowed)
	unsigned ok;
	bool seen; // matched in the other document
} cell_t;

typedef struct cells_s {
	cell_t *v;
	size_t n;
} cells_t;

static char *group_of(json_t *r)
{
	char *ps = json_dumps(json_object_get(r, "params"), JSON_SORT_KEYS | JSON_COMPACT);
	char *g = as_xasprintf("%s|%s|%lld", json_string_value(json_object_get(r, "workload")), ps ? ps : "{}",
			       (long long)json_integer_value(json_object_get(r, "threads")));
	free(ps);
	return g;
}

static cell_t *find_cell(cells_t *cs, const char *key)
{
	for (size_t i = 0; i < cs->n; i++)
		if (!strcmp(cs->v[i].key, key))
			return &cs->v[i];
	return NULL;
}

static void collect_cells(json_t *doc, cells_t *cs)
{
	size_t i;
	json_t *r;
	memset(cs, 0, sizeof(*cs));
	json_array_foreach(json_object_get(doc, "runs"), i, r)
	{
		char *g = group_of(r);
		const char *a = json_string_value(json_object_get(r, "allocator"));
		char *key = as_xasprintf("%s|%s", a, g);
		cell_t *c = find_cell(cs, key);
		if (!c) {
			cs->v = as_xrealloc(cs->v, sizeof(*cs->v) * (cs->n + 1));
			c = &cs->v[cs->n++];
			*c = (cell_t){ .key = key, .group = g, .alloc = a,
				       .workload = json_string_value(json_object_get(r, "workload")),
				       .threads = (long)json_integer_value(json_object_get(r, "threads")),
				       .runs = json_array() };
		} else {
			free(key);
			free(g);
		}
		json_array_append(c->runs, r);
		if (!strcmp(json_string_value(json_object_get(r, "status")), "ok"))
			c->ok++;
	}
}

static void free_cells(cells_t *cs)
{
	for (size_t i = 0; i < cs->n; i++) {
		free(cs->v[i].key);
		free(cs->v[i].group);
		json_decref(cs->v[i].runs);
	}
	free(cs->v);
}

/// Value of metric m in the ok run of cell c with repetition `rep`.
static bool value_at(const cell_t *c, const char *m, long long rep, double *out)
{
	size_t i;
	json_t *r;
	json_array_foreach(c->runs, i, r)
	{
		if (json_integer_value(json_object_get(r, "rep")) != rep ||
		    strcmp(json_string_value(json_object_get(r, "status")), "ok") != 0)
			continue;
		json_t *v = json_object_get(json_object_get(r, "metrics"), m);
		if (!json_is_number(v))
			return false;
		*out = json_number_value(v);
		return true;
	}
	return false;
}

/// Samples of metric m in cell c, divided by the reference cell's value of
/// the same repetition when ref is given. Returns the count.
static size_t samples(const cell_t *c, const cell_t *ref, const char *m, double *out)
{
	size_t n = 0, i;
	json_t *r;
	json_array_foreach(c->runs, i, r)
	{
		if (strcmp(json_string_value(json_object_get(r, "status")), "ok") != 0)
			continue;
		json_t *v = json_object_get(json_object_get(r, "metrics"), m);
		if (!json_is_number(v))
			continue;
		double x = json_number_value(v);
		if (ref) {
			double y;
			if (!value_at(ref, m, json_integer_value(json_object_get(r, "rep")), &y) || y == 0)
				continue;
			x /= y;
		}
		out[n++] = x;
	}
	return n;
}

// ---------------------------------------------------------------------------
// Statistics

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median_of(const double *v, size_t n, double *tmp)
{
	memcpy(tmp, v, n * sizeof(double));
	qsort(tmp, n, sizeof(double), cmp_double);
	return n % 2 ? tmp[n / 2] : (tmp[n / 2 - 1] + tmp[n / 2]) / 2;
}

double as_mann_whitney_p(const double *a, size_t na, const double *b, size_t nb)
{
	if (!na || !nb)
		return 1.0;
	// U from pairwise counts (ties count half); fine for repetition counts.
	double u = 0;
	for (size_t i = 0; i < na; i++)
		for (size_t j = 0; j < nb; j++)
			u += a[i] > b[j] ? 1.0 : a[i] == b[j] ? 0.5 : 0.0;
	double n1 = (double)na, n2 = (double)nb, n = n1 + n2;
	double mu = n1 * n2 / 2;
	// Tie correction of the variance.
	size_t m = na + nb;
	double *all = as_xmalloc(m * sizeof(double));
	memcpy(all, a, na * sizeof(double));
	memcpy(all + na, b, nb * sizeof(double));
	qsort(all, m, sizeof(double), cmp_double);
	double ties = 0;
	for (size_t i = 0; i < m;) {
		size_t j = i;
		while (j < m && all[j] == all[i])
			j++;
		double t = (double)(j - i);
		ties += t * t * t - t;
		i = j;
	}
	free(all);
	double var = n1 * n2 / 12.0 * ((n + 1) - ties / (n * (n - 1)));
	if (var <= 0)
		return 1.0;
	double z = (fabs(u - mu) - 0.5) / sqrt(var);
	if (z < 0)
		z = 0;
	return erfc(z / sqrt(2.0));
}

/// 95% percentile-bootstrap interval of the oriented ratio of medians.
static void bootstrap(const double *b, size_t nb, const double *c, size_t nc, int dir, as_rng_t *rng,
		      double *lo, double *hi)
{
	enum { B = 2000 };
	double *ratios = as_xmalloc(B * sizeof(double));
	double *rb = as_xmalloc(nb * sizeof(double)), *rc = as_xmalloc(nc * sizeof(double));
	double *tmp = as_xmalloc((nb > nc ? nb : nc) * sizeof(double));
	for (int k = 0; k < B; k++) {
		for (size_t i = 0; i < nb; i++)
			rb[i] = b[as_rng_below(rng, nb)];
		for (size_t i = 0; i < nc; i++)
			rc[i] = c[as_rng_below(rng, nc)];
		double mb = median_of(rb, nb, tmp), mc = median_of(rc, nc, tmp);
		ratios[k] = dir < 0 ? mc / mb : mb / mc;
	}
	qsort(ratios, B, sizeof(double), cmp_double);
	*lo = ratios[(int)(0.025 * B)];
	*hi = ratios[(int)(0.975 * B) - 1];
	free(ratios);
	free(rb);
	free(rc);
	free(tmp);
}

// ---------------------------------------------------------------------------

static const cell_t *pick_ref(cells_t *cs, const cell_t *c, const char *const *refs, const char *m)
{
	for (const char *const *r = refs; r && *r; r++) {
		if (!strcmp(*r, c->alloc))
			continue;
		char *key = as_xasprintf("%s|%s", *r, c->group);
		cell_t *rc = find_cell(cs, key);
		free(key);
		if (!rc || !rc->ok)
			continue;
		// samples writes one value per run: room for all of them.
		double *x = as_xcalloc(json_array_size(rc->runs) + 1, sizeof(double));
		size_t n = samples(rc, NULL, m, x);
		free(x);
		if (n > 0)
			return rc;
	}
	return NULL;
}

static void print_row(FILE *out, const char *verdict, const cell_t *c, const char *m, const char *norm,
		      double mb, double mc, double change, const char *conf)
{
	char *ps = NULL;
	size_t i;
	json_t *r;
	json_array_foreach(c->runs, i, r)
	{
		ps = json_dumps(json_object_get(r, "params"), JSON_SORT_KEYS | JSON_COMPACT);
		break;
	}
	fprintf(out, "%-10s %-14s %-18s t=%-2ld %-22s %-10s %12.5g %12.5g %+8.1f%%  %s  %s\n", verdict, c->alloc,
		c->workload, c->threads, m, norm, mb, mc, change * 100, conf, ps ? ps : "");
	free(ps);
}

int as_compare(json_t *base, json_t *cur, const as_cmp_opts_t *o, FILE *out, as_cmp_counts_t *counts)
{
	cells_t B, C;
	as_cmp_counts_t k = { 0 };
	as_rng_t rng;
	as_rng_seed(&rng, o->seed ? o->seed : 42, 0);
	collect_cells(base, &B);
	collect_cells(cur, &C);
	fprintf(out, "%-10s %-14s %-18s %-4s %-22s %-10s %12s %12s %9s  %s\n", "verdict", "allocator", "workload",
		"thr", "metric", "judged", "base", "new", "change", "confidence");
	for (size_t i = 0; i < B.n; i++) {
		cell_t *b = &B.v[i];
		cell_t *c = find_cell(&C, b->key);
		if (!c) {
			k.missing++;
			fprintf(out, "%-10s %-14s %-18s t=%-2ld (cell absent from the new results)\n", "missing",
				b->alloc, b->workload, b->threads);
			continue;
		}
		c->seen = true;
		if (b->ok && !c->ok) {
			k.regressed++;
			const char *st = json_string_value(json_object_get(json_array_get(c->runs, 0), "status"));
			fprintf(out, "%-10s %-14s %-18s t=%-2ld status ok -> %s: %s\n", "REGRESSED", b->alloc,
				b->workload, b->threads, st,
				json_string_value(json_object_get(json_array_get(c->runs, 0), "error")));
			continue;
		}
		if (!b->ok || !c->ok)
			continue;
		// Every metric the base cell reports that we judge.
		json_t *bm = json_object_get(json_array_get(b->runs, 0), "metrics");
		size_t nruns = json_array_size(b->runs) + json_array_size(c->runs);
		double *vb = as_xmalloc(nruns * sizeof(double)), *vc = as_xmalloc(nruns * sizeof(double));
		double *tmp = as_xmalloc(nruns * sizeof(double));
		const char *m;
		json_t *unused;
		json_object_foreach(bm, m, unused)
		{
			if (o->metrics ? !in_list(o->metrics, m) : !in_list(default_metrics, m))
				continue;
			mclass_t cls = metric_class(m, b->threads);
			if (cls == MC_NONE || (o->exact_only && cls != MC_EXACT))
				continue;
			int dir = direction(m, cls);
			const cell_t *rb = NULL, *rc = NULL;
			if (cls == MC_TIMING || cls == MC_THROUGHPUT) {
				rb = pick_ref(&B, b, o->refs, m);
				rc = rb ? find_cell(&C, rb->key) : NULL;
				if (!rc)
					rb = NULL;
			}
			size_t nb = samples(b, rb, m, vb), nc = samples(c, rc, m, vc);
			if (!nb || !nc) {
				k.skipped++;
				continue;
			}
			double mb = median_of(vb, nb, tmp), mc = median_of(vc, nc, tmp);
			double worse = dir < 0 ? (mb != 0 ? mc / mb : (mc == 0 ? 1 : INFINITY))
					       : (mc != 0 ? mb / mc : (mb == 0 ? 1 : INFINITY));
			double change = mb != 0 ? (mc - mb) / fabs(mb) : 0;
			char norm[64];
			if (rb)
				snprintf(norm, sizeof(norm), "/%s", rb->alloc);
			else
				snprintf(norm, sizeof(norm), "%s", cls == MC_EXACT ? "exact" : "raw");
			const char *verdict = "unchanged";
			char conf[96];
			if (cls == MC_EXACT) {
				bool same = fabs(mc - mb) <= o->exact_tol * fmax(fabs(mb), 1e-300);
				verdict = same ? "unchanged" : worse > 1 ? "REGRESSED" : "improved";
				snprintf(conf, sizeof(conf), "deterministic");
			} else if (nb < 2 || nc < 2) {
				snprintf(conf, sizeof(conf), "n=%zu/%zu: too few reps to judge", nb, nc);
			} else {
				double lo, hi;
				bootstrap(vb, nb, vc, nc, dir, &rng, &lo, &hi);
				double p = as_mann_whitney_p(vb, nb, vc, nc);
				snprintf(conf, sizeof(conf), "CI95 [%.3f, %.3f] p=%.3f n=%zu/%zu", lo, hi, p, nb, nc);
				double alpha = o->alpha > 0 ? o->alpha : 0.05;
				if (worse > 1 + o->threshold && lo > 1 && p < alpha)
					verdict = "REGRESSED";
				else if (worse < 1 / (1 + o->threshold) && hi < 1 && p < alpha)
					verdict = "improved";
			}
			// The reference's own timings are the yardstick: their raw
			// change says how the machine moved, and is never a verdict.
			bool is_ref = (cls == MC_TIMING || cls == MC_THROUGHPUT) && in_list(o->refs, b->alloc);
			if (is_ref && strcmp(verdict, "unchanged") != 0) {
				verdict = "reference";
				k.skipped++;
				print_row(out, verdict, b, m, norm, mb, mc, change, conf);
				continue;
			}
			if (!strcmp(verdict, "REGRESSED"))
				k.regressed++;
			else if (!strcmp(verdict, "improved"))
				k.improved++;
			else
				k.unchanged++;
			if (strcmp(verdict, "unchanged") != 0 || o->verbose)
				print_row(out, verdict, b, m, norm, mb, mc, change, conf);
		}
		free(vb);
		free(vc);
		free(tmp);
	}
	for (size_t i = 0; i < C.n; i++)
		if (!C.v[i].seen) {
			k.added++;
			fprintf(out, "%-10s %-14s %-18s t=%-2ld (cell only in the new results)\n", "new", C.v[i].alloc,
				C.v[i].workload, C.v[i].threads);
		}
	fprintf(out, "\n%u improved, %u unchanged, %u regressed, %u missing, %u new (threshold %.0f%%)\n",
		k.improved, k.unchanged, k.regressed, k.missing, k.added, o->threshold * 100);
	free_cells(&B);
	free_cells(&C);
	if (counts)
		*counts = k;
	return k.regressed ? 1 : 0;
}
