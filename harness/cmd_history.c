// SPDX-License-Identifier: MIT
// allocscope history DIR...: one metric across many runs, so a slow drift
// shows. Each DIR is a run folder or a folder of run folders (results/).
// Writes CSV (stdout or --csv FILE) and optionally a gnuplot trend figure.
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "command.h"
#include "results.h"
#include "util.h"

typedef struct hrun_s {
	char *dir;
	json_t *doc;
	const char *date;
} hrun_t;

static void usage(FILE *f)
{
	fprintf(f, "usage: allocscope history DIR... --metric M [--alloc A] [--workload W] [--threads N]\n"
		   "                          [--csv FILE] [--plot FILE.png]\n"
		   "List metric M (median over ok repetitions) for every matching cell of every run\n"
		   "found in the DIRs (run folders, or folders of run folders such as results/),\n"
		   "oldest first, as CSV; --plot draws one trend line per cell with gnuplot.\n");
}

static bool has_results(const char *dir)
{
	char *p = as_xasprintf("%s/results.json", dir);
	bool ok = access(p, R_OK) == 0;
	free(p);
	return ok;
}

static void add_run(hrun_t **runs, size_t *n, const char *dir)
{
	char err[512];
	json_t *doc = as_res_read(dir, err, sizeof(err));
	if (!doc) {
		fprintf(stderr, "allocscope history: skipping %s: %s\n", dir, err);
		return;
	}
	*runs = as_xrealloc(*runs, sizeof(**runs) * (*n + 1));
	(*runs)[(*n)++] = (hrun_t){ as_xstrdup(dir), doc,
				    json_string_value(json_object_get(json_object_get(doc, "context"), "date")) };
}

static int by_date(const void *a, const void *b)
{
	const hrun_t *x = a, *y = b;
	return strcmp(x->date ? x->date : "", y->date ? y->date : "");
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int cmd_history(int argc, char **argv)
{
	if (as_cmd_wants_help(argc, argv)) {
		usage(stdout);
		return 0;
	}
	const char *metric = NULL, *alloc = NULL, *workload = NULL, *csv = NULL, *plot = NULL;
	long threads = 0;
	hrun_t *runs = NULL;
	size_t nruns = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (a[0] == '-') {
			const char *v = i + 1 < argc ? argv[i + 1] : NULL;
			if (!v) {
				fprintf(stderr, "allocscope history: %s: needs a value\n", a);
				return 2;
			}
			i++;
			uint64_t t;
			if (!strcmp(a, "--metric"))
				metric = v;
			else if (!strcmp(a, "--alloc"))
				alloc = v;
			else if (!strcmp(a, "--workload"))
				workload = v;
			else if (!strcmp(a, "--csv"))
				csv = v;
			else if (!strcmp(a, "--plot"))
				plot = v;
			else if (!strcmp(a, "--threads") && as_parse_uint(v, 1, 4096, &t))
				threads = (long)t;
			else {
				fprintf(stderr, "allocscope history: %s: %s\n", a,
					!strcmp(a, "--threads") ? "not an integer in 1..4096" : "unknown option");
				return 2;
			}
			continue;
		}
		struct stat st;
		if (stat(a, &st) != 0 || !S_ISDIR(st.st_mode)) {
			fprintf(stderr, "allocscope history: %s: not a folder\n", a);
			return 2;
		}
		if (has_results(a)) {
			add_run(&runs, &nruns, a);
			continue;
		}
		DIR *d = opendir(a);
		for (struct dirent *e; d && (e = readdir(d));) {
			if (e->d_name[0] == '.' || !strcmp(e->d_name, "latest"))
				continue;
			char *sub = as_xasprintf("%s/%s", a, e->d_name);
			if (has_results(sub))
				add_run(&runs, &nruns, sub);
			free(sub);
		}
		if (d)
			closedir(d);
	}
	if (!metric) {
		fprintf(stderr, "allocscope history: --metric is required (try --help)\n");
		return 2;
	}
	if (!nruns) {
		fprintf(stderr, "allocscope history: no results found\n");
		return 2;
	}
	qsort(runs, nruns, sizeof(*runs), by_date);
	FILE *out = csv ? fopen(csv, "w") : stdout;
	if (!out) {
		fprintf(stderr, "allocscope history: --csv: cannot write %s\n", csv);
		return 2;
	}
	fprintf(out, "date,commit,run,allocator,workload,threads,params,metric,median,n\n");
	as_strv_t series = { 0 }; // distinct cell labels, for the plot
	char *dat = plot ? as_xasprintf("%s.dat", plot) : NULL;
	FILE *df = dat ? fopen(dat, "w") : NULL;
	for (size_t k = 0; k < nruns; k++) {
		json_t *doc = runs[k].doc;
		const char *commit = json_string_value(json_object_get(json_object_get(doc, "context"), "commit"));
		json_t *rs = json_object_get(doc, "runs");
		size_t i, j;
		json_t *r, *q;
		json_t *done = json_object();
		json_array_foreach(rs, i, r)
		{
			const char *a = json_string_value(json_object_get(r, "allocator"));
			const char *w = json_string_value(json_object_get(r, "workload"));
			long t = (long)json_integer_value(json_object_get(r, "threads"));
			if ((alloc && strcmp(a, alloc)) || (workload && strcmp(w, workload)) || (threads && t != threads))
				continue;
			char *ps = json_dumps(json_object_get(r, "params"), JSON_SORT_KEYS | JSON_COMPACT);
			char *label = as_xasprintf("%s %s t=%ld %s", a, w, t, ps ? ps : "{}");
			if (json_object_get(done, label)) {
				free(ps);
				free(label);
				continue;
			}
			json_object_set_new(done, label, json_true());
			double v[1024];
			size_t n = 0;
			json_array_foreach(rs, j, q)
			{
				char *qps = json_dumps(json_object_get(q, "params"), JSON_SORT_KEYS | JSON_COMPACT);
				json_t *mv = json_object_get(json_object_get(q, "metrics"), metric);
				if (!strcmp(json_string_value(json_object_get(q, "allocator")), a) &&
				    !strcmp(json_string_value(json_object_get(q, "workload")), w) &&
				    json_integer_value(json_object_get(q, "threads")) == t && qps && ps &&
				    !strcmp(qps, ps) && !strcmp(json_string_value(json_object_get(q, "status")), "ok") &&
				    json_is_number(mv) && n < 1024)
					v[n++] = json_number_value(mv);
				free(qps);
			}
			if (n) {
				qsort(v, n, sizeof(double), cmp_d);
				double med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
				// CSV: params may hold commas, so quote them (doubling quotes).
				fprintf(out, "%s,%s,%s,%s,%s,%ld,\"", runs[k].date ? runs[k].date : "",
					commit ? commit : "", runs[k].dir, a, w, t);
				for (const char *c = ps ? ps : "{}"; *c; c++)
					fputs(*c == '"' ? "\"\"" : (char[]){ *c, 0 }, out);
				fprintf(out, "\",%s,%.9g,%zu\n", metric, med, n);
				if (!as_strv_has(&series, label))
					as_strv_push(&series, label);
				if (df) {
					size_t idx = 0;
					while (strcmp(series.v[idx], label))
						idx++;
					fprintf(df, "%zu %zu %.9g\n", idx, k, med);
				}
			}
			free(ps);
			free(label);
		}
		json_decref(done);
	}
	if (csv)
		fclose(out);
	int rc = 0;
	if (df) {
		fclose(df);
		char *gp = as_xasprintf("%s.gp", plot);
		FILE *g = fopen(gp, "w");
		if (!g) {
			fprintf(stderr, "allocscope history: --plot: cannot write %s\n", gp);
			rc = 2;
		} else {
			fprintf(g, "set terminal pngcairo size 1000,600\nset output '%s'\n", plot);
			fprintf(g, "set title 'allocscope history: %s'\nset xlabel 'run (oldest first)'\n", metric);
			fprintf(g, "set ylabel '%s'\nset key outside bottom\nset grid\n", metric);
			fprintf(g, "plot ");
			for (size_t s = 0; s < series.n; s++)
				fprintf(g, "%s'%s' using ($1==%zu?$2:1/0):3 with linespoints title '%s'",
					s ? ", " : "", dat, s, series.v[s]);
			if (!series.n)
				fprintf(g, "0 title 'no data'");
			fprintf(g, "\n");
			fclose(g);
			char *argvg[] = { (char *)"gnuplot", gp, NULL };
			char *o2 = NULL;
			if (as_capture(argvg, &o2, 4096) != 0) {
				fprintf(stderr, "allocscope history: gnuplot failed on %s\n", gp);
				rc = 1;
			} else {
				fprintf(stderr, "allocscope history: wrote %s\n", plot);
			}
			free(o2);
		}
		free(gp);
	}
	free(dat);
	for (size_t k = 0; k < nruns; k++) {
		free(runs[k].dir);
		json_decref(runs[k].doc);
	}
	free(runs);
	as_strv_clear(&series);
	return rc;
}
AS_COMMAND(history, "one metric across many runs (CSV, gnuplot trend)", cmd_history)
