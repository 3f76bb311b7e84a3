// SPDX-License-Identifier: MIT
// Run records (see record.h): the probe protocol parser.
#include "record.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

void as_rec_init(as_rec_t *r)
{
	memset(r, 0, sizeof(*r));
	r->metrics = json_object();
	r->info = json_object();
	r->series = json_object();
}

void as_rec_free(as_rec_t *r)
{
	json_decref(r->metrics);
	json_decref(r->info);
	json_decref(r->series);
	json_decref(r->t_ms);
	json_decref(r->rss);
	json_decref(r->live);
	json_decref(r->placement);
	free(r->error);
	memset(r, 0, sizeof(*r));
}

void as_rec_fail(as_rec_t *r, const char *status, const char *fmt, ...)
{
	if (r->status[0] && strcmp(r->status, "ok") != 0)
		return;
	snprintf(r->status, sizeof(r->status), "%s", status);
	va_list ap;
	va_start(ap, fmt);
	free(r->error);
	if (vasprintf(&r->error, fmt, ap) < 0)
		r->error = NULL;
	va_end(ap);
}

void as_rec_metric(as_rec_t *r, const char *name, double v)
{
	json_object_set_new(r->metrics, name, json_real(v));
}

void as_rec_metric_null(as_rec_t *r, const char *name)
{
	json_object_set_new(r->metrics, name, json_null());
}

void as_rec_info(as_rec_t *r, const char *key, const char *value)
{
	json_object_set_new(r->info, key, json_string(value));
}

const char *as_rec_info_get(const as_rec_t *r, const char *key)
{
	return json_string_value(json_object_get(r->info, key));
}

void as_rec_timeline(as_rec_t *r, double t_ms, double rss, double live)
{
	if (!r->t_ms) {
		r->t_ms = json_array();
		r->rss = json_array();
		r->live = json_array();
	}
	json_array_append_new(r->t_ms, json_real(t_ms));
	json_array_append_new(r->rss, rss < 0 ? json_null() : json_real(rss));
	json_array_append_new(r->live, live < 0 ? json_null() : json_real(live));
}

// Numbers are kept as JSON integers when they are integral, so counts read
// back exactly.
static json_t *number(double v)
{
	if (v == (double)(long long)v && v > -9e15 && v < 9e15)
		return json_integer((json_int_t)v);
	return json_real(v);
}

static bool num(const char *s, double *v)
{
	return as_parse_double(s, v);
}

void as_rec_parse_probe(as_rec_t *r, const char *text)
{
	char *copy = as_xstrdup(text);
	char *save = NULL;
	unsigned lineno = 0;
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		lineno++;
		char *sp = strchr(line, ' ');
		char *rest = sp ? sp + 1 : line + strlen(line);
		if (sp)
			*sp = '\0';
		if (!strcmp(line, "metric") || !strcmp(line, "series")) {
			char *name = rest;
			char *vals = strchr(rest, ' ');
			if (vals)
				*vals++ = '\0';
			if (!*name) {
				as_rec_fail(r, "error", "probe output line %u: %s without a name", lineno, line);
				continue;
			}
			if (!strcmp(line, "metric")) {
				double v;
				if (vals && !strcmp(vals, "null"))
					json_object_set_new(r->metrics, name, json_null());
				else if (vals && num(vals, &v))
					json_object_set_new(r->metrics, name, number(v));
				else
					as_rec_fail(r, "error", "probe output line %u: bad value for metric %s", lineno, name);
				continue;
			}
			json_t *arr = json_object_get(r->series, name);
			if (!arr) {
				arr = json_array();
				json_object_set_new(r->series, name, arr);
			}
			char *s2 = NULL;
			for (char *t = vals ? strtok_r(vals, " ", &s2) : NULL; t; t = strtok_r(NULL, " ", &s2)) {
				double v;
				json_array_append_new(arr, num(t, &v) ? number(v) : json_null());
			}
		} else if (!strcmp(line, "info")) {
			char *key = rest;
			char *val = strchr(rest, ' ');
			if (val)
				*val++ = '\0';
			if (*key)
				as_rec_info(r, key, val ? val : "");
		} else if (!strcmp(line, "timeline")) {
			double t, rss, live;
			if (sscanf(rest, "%lf %lf %lf", &t, &rss, &live) != 3) {
				as_rec_fail(r, "error", "probe output line %u: bad timeline sample", lineno);
				continue;
			}
			as_rec_timeline(r, t, rss, live);
		} else if (!strcmp(line, "placement")) {
			json_decref(r->placement);
			r->placement = json_array();
			char *s2 = NULL;
			for (char *t = strtok_r(rest, " ", &s2); t; t = strtok_r(NULL, " ", &s2))
				json_array_append_new(r->placement, json_integer(atoi(t)));
		} else if (!strcmp(line, "status")) {
			if (!strncmp(rest, "ok", 2) && (rest[2] == '\0' || rest[2] == ' ')) {
				if (!r->status[0])
					snprintf(r->status, sizeof(r->status), "ok");
			} else if (!strncmp(rest, "unsupported", 11)) {
				as_rec_fail(r, "unsupported", "%s", rest[11] ? rest + 12 : "unsupported");
			} else {
				const char *msg = !strncmp(rest, "error", 5) ? (rest[5] ? rest + 6 : "") : rest;
				as_rec_fail(r, strstr(msg, "out of memory") ? "oom" : "error", "%s",
					    *msg ? msg : "workload reported an error");
			}
		} else if (*line) {
			as_rec_fail(r, "error", "probe output line %u: unknown record '%s'", lineno, line);
		}
	}
	free(copy);
}
