// SPDX-License-Identifier: MIT
// One run's raw outcome, before it becomes a results.json record: what the
// workload reported (parsed from the probe's line protocol, probe.h) or what
// a scenario reported through scenario.h, plus the runner's own status.
#ifndef AS_RECORD_H
#define AS_RECORD_H

#include <jansson.h>
#include <stdbool.h>

typedef struct as_rec_s {
	json_t *metrics;   ///< object: NAME -> number or null
	json_t *info;	   ///< object: KEY -> string
	json_t *series;	   ///< object: NAME -> array of numbers
	json_t *t_ms;	   ///< timeline arrays (NULL until a sample arrives)
	json_t *rss;
	json_t *live;
	json_t *placement; ///< array of real PUs, or NULL
	char status[16];   ///< "" until known; then ok|crash|timeout|oom|unsupported|error
	char *error;	   ///< reason when status != ok
} as_rec_t;

void as_rec_init(as_rec_t *r);
void as_rec_free(as_rec_t *r);
/// Set status and reason (printf-style); the first non-ok status wins.
void as_rec_fail(as_rec_t *r, const char *status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void as_rec_metric(as_rec_t *r, const char *name, double v);
void as_rec_metric_null(as_rec_t *r, const char *name);
void as_rec_info(as_rec_t *r, const char *key, const char *value);
const char *as_rec_info_get(const as_rec_t *r, const char *key);
void as_rec_timeline(as_rec_t *r, double t_ms, double rss, double live);

/// Parse the probe's output text into `r`. A malformed line sets status
/// error naming the line; "status ok" sets ok (unless already failed).
void as_rec_parse_probe(as_rec_t *r, const char *text);

#endif
