// SPDX-License-Identifier: MIT
// perf counters for a child process. Event names are resolved by libpfm4
// (pfm_get_os_event_encoding), each event is probed once (opened on the
// runner itself) when the set is configured, and only the events that opened
// are attached to children: perf_event_open(pid, inherit, enable_on_exec), so
// the counts cover the workload program and all its threads from exec on.
// An event the machine cannot count is reported as null in metrics
// ("perf.<name>") and listed in perf_unsupported with the errno name, never 0.
#ifndef AS_PERF_H
#define AS_PERF_H

#include <jansson.h>
#include <stddef.h>
#include <sys/types.h>

#define AS_PERF_MAX 32
#define AS_PERF_DEFAULT "cycles,instructions,cache-misses,dTLB-load-misses,page-faults,context-switches,task-clock"

/// Configure the event set from a comma list ("" = no counters). Unknown
/// names exit-worthy: returns -1 with "--events: ..." in err.
int as_perf_setup(const char *names, char *err, size_t errlen);
/// Number of configured events (supported or not).
size_t as_perf_count(void);

typedef struct as_perf_fds_s {
	int fd[AS_PERF_MAX];
} as_perf_fds_t;

/// Open the supported events on `pid` (stopped before exec). Events that
/// fail here are recorded unsupported for this run only.
void as_perf_attach(pid_t pid, as_perf_fds_t *fds);
/// Read and close: sets "perf.<name>" in metrics (number or null) and fills
/// `unsupported` (object name -> errno name).
void as_perf_collect(as_perf_fds_t *fds, json_t *metrics, json_t *unsupported);
/// Close without reading (the run failed before exec).
void as_perf_close(as_perf_fds_t *fds);
/// Name of an errno value ("ENOENT"), or "E<number>".
const char *as_errno_name(int e);

#endif
