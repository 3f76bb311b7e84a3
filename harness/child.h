// SPDX-License-Identifier: MIT
// Child processes: start a program in its own process group (environment,
// memory policy, stdout/stderr files, perf counters attached before exec),
// watch it (RSS of any child sampled from /proc/PID/statm into a timeline,
// a memory limit, a timeout), and stop it. Used for workload runs and by
// scenarios (scenario.h) for servers and their clients.
//
// Every started child is remembered until reaped, so an interrupted runner
// (SIGINT/SIGTERM) kills their process groups before it exits.
#ifndef AS_CHILD_H
#define AS_CHILD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "perf.h"
#include "record.h"
#include "topo.h"

typedef struct as_spawn_s {
	char *const *argv;	  ///< argv[0] is a path
	char *const *envp;	  ///< full environment; NULL = the runner's
	const char *stdout_path;  ///< NULL = /dev/null
	const char *stderr_path;  ///< NULL = /dev/null
	const as_mem_t *mem;	  ///< NULL = default policy
	bool perf;		  ///< attach the configured perf events
} as_spawn_t;

typedef struct as_child_s {
	pid_t pid;		///< 0 once reaped
	double t0;		///< as_mono_s() at start
	double wall_s;		///< start to exit
	struct rusage ru;	///< from wait4
	int wstatus;
	bool exited;
	bool timed_out;		///< killed by the runner at the timeout
	bool over_limit;	///< killed by the runner at the memory limit
	int64_t rss_peak;	///< highest sampled RSS (bytes), -1 if none
	int64_t rss_at_kill;
	as_perf_fds_t perf;
	bool has_perf;
	int pidfd;
} as_child_t;

/// Start a child; 0, or an errno value (the reason in err) when it could not
/// be started or exec failed.
int as_child_spawn(as_child_t *c, const as_spawn_t *s, char *err, size_t errlen);

typedef struct as_watch_s {
	double timeout_s;	 ///< 0 = none
	uint64_t mem_limit;	 ///< bytes of RSS of `sample`; 0 = none
	unsigned period_ms;	 ///< sampling period (default 10)
	as_child_t *sample;	 ///< whose RSS to sample (NULL = the waited child)
	as_rec_t *timeline;	 ///< where samples go (NULL = not kept)
} as_watch_t;

/// Wait for `c` to exit, sampling as told. On timeout or memory limit the
/// child's process group is killed (SIGKILL) and flagged. Afterwards the
/// group is killed anyway, so no grandchild outlives its run.
void as_child_wait(as_child_t *c, const as_watch_t *w);

/// Has the child exited? Reaps it if so (non-blocking); then c->wstatus
/// and c->wall_s are valid. A zombie counts as exited.
bool as_child_exited(as_child_t *c);

/// Stop a child (e.g. a server): SIGTERM to its group, SIGKILL after
/// `grace_s`, then reap. Safe on a child that already exited.
void as_child_stop(as_child_t *c, double grace_s);

/// RSS of a live process in bytes from /proc/PID/statm, or -1.
int64_t as_proc_rss(pid_t pid);

/// Classify an exited child into `r` (crash, oom, timeout, error), unless
/// the run already failed: returns true when it exited 0 and was not killed.
bool as_child_status(const as_child_t *c, as_rec_t *r, const char *stderr_path);

/// Install SIGINT/SIGTERM handlers that kill every live child's group.
void as_child_install_signals(void);

#endif
