// SPDX-License-Identifier: MIT
// perf counters through libpfm4 (see perf.h). Only
// <perfmon/pfmlib_perf_event.h> is included: it carries the perf ABI, and
// <linux/perf_event.h> beside it would redeclare it.
#include "perf.h"

#include <errno.h>
#include <perfmon/pfmlib_perf_event.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util.h"

typedef struct ev_s {
	char *name;
	struct perf_event_attr attr;
	int err; ///< 0 = supported; else errno of the probe
} ev_t;

static ev_t evs[AS_PERF_MAX];
static size_t nev;

const char *as_errno_name(int e)
{
	static const struct {
		int e;
		const char *n;
	} t[] = { { ENOENT, "ENOENT" }, { EOPNOTSUPP, "EOPNOTSUPP" }, { EACCES, "EACCES" }, { EPERM, "EPERM" },
		  { EINVAL, "EINVAL" }, { ENODEV, "ENODEV" }, { ENOSYS, "ENOSYS" }, { EBUSY, "EBUSY" },
		  { EMFILE, "EMFILE" }, { ESRCH, "ESRCH" }, { E2BIG, "E2BIG" } };
	static char buf[16];
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (t[i].e == e)
			return t[i].n;
	snprintf(buf, sizeof(buf), "E%d", e);
	return buf;
}

static int open_ev(struct perf_event_attr *a, pid_t pid)
{
	int fd = (int)syscall(SYS_perf_event_open, a, pid, -1, -1, PERF_FLAG_FD_CLOEXEC);
	if (fd < 0 && (errno == EACCES || errno == EPERM) && !a->exclude_kernel) {
		// Unprivileged under perf_event_paranoid >= 2: user space only.
		a->exclude_kernel = 1;
		a->exclude_hv = 1;
		fd = (int)syscall(SYS_perf_event_open, a, pid, -1, -1, PERF_FLAG_FD_CLOEXEC);
	}
	return fd;
}

int as_perf_setup(const char *names, char *err, size_t len)
{
	static bool pfm_ready;
	for (size_t i = 0; i < nev; i++)
		free(evs[i].name);
	nev = 0;
	as_strv_t l = { 0 };
	as_strv_split(&l, names ? names : "", ',');
	if (l.n && !pfm_ready) {
		int r = pfm_initialize();
		if (r != PFM_SUCCESS) {
			snprintf(err, len, "--events: libpfm4 cannot initialise: %s", pfm_strerror(r));
			as_strv_clear(&l);
			return -1;
		}
		pfm_ready = true;
	}
	for (size_t i = 0; i < l.n; i++) {
		if (nev == AS_PERF_MAX) {
			snprintf(err, len, "--events: more than %d events", AS_PERF_MAX);
			goto out_fail;
		}
		for (size_t j = 0; j < nev; j++)
			if (!strcmp(evs[j].name, l.v[i])) {
				snprintf(err, len, "--events: '%s' is named twice", l.v[i]);
				goto out_fail;
			}
		ev_t *e = &evs[nev];
		memset(e, 0, sizeof(*e));
		pfm_perf_encode_arg_t arg;
		memset(&arg, 0, sizeof(arg));
		arg.attr = &e->attr;
		arg.size = sizeof(arg);
		int r = pfm_get_os_event_encoding(l.v[i], PFM_PLM0 | PFM_PLM3, PFM_OS_PERF_EVENT_EXT, &arg);
		if (r != PFM_SUCCESS) {
			snprintf(err, len, "--events: unknown event '%s' (libpfm4: %s)", l.v[i], pfm_strerror(r));
			goto out_fail;
		}
		e->name = as_xstrdup(l.v[i]);
		e->attr.size = sizeof(e->attr);
		e->attr.read_format = PERF_FORMAT_TOTAL_TIME_ENABLED | PERF_FORMAT_TOTAL_TIME_RUNNING;
		// Probe once, on ourselves: what fails here fails for every run.
		struct perf_event_attr probe = e->attr;
		int fd = open_ev(&probe, 0);
		if (fd < 0)
			e->err = errno;
		else {
			close(fd);
			e->attr.exclude_kernel = probe.exclude_kernel;
			e->attr.exclude_hv = probe.exclude_hv;
		}
		nev++;
	}
	as_strv_clear(&l);
	return 0;

out_fail:
	as_strv_clear(&l);
	return -1;
}

size_t as_perf_count(void)
{
	return nev;
}

void as_perf_attach(pid_t pid, as_perf_fds_t *fds)
{
	for (size_t i = 0; i < AS_PERF_MAX; i++)
		fds->fd[i] = -1;
	for (size_t i = 0; i < nev; i++) {
		if (evs[i].err)
			continue;
		struct perf_event_attr a = evs[i].attr;
		a.disabled = 1;
		a.enable_on_exec = 1;
		a.inherit = 1;
		int fd = open_ev(&a, pid);
		fds->fd[i] = fd < 0 ? -errno : fd;
	}
}

void as_perf_collect(as_perf_fds_t *fds, json_t *metrics, json_t *unsupported)
{
	for (size_t i = 0; i < nev; i++) {
		char key[160];
		snprintf(key, sizeof(key), "perf.%s", evs[i].name);
		int err = evs[i].err;
		int fd = fds->fd[i];
		if (!err && fd < 0)
			err = -fd;
		if (err) {
			json_object_set_new(metrics, key, json_null());
			json_object_set_new(unsupported, evs[i].name, json_string(as_errno_name(err)));
			continue;
		}
		uint64_t v[3];
		ssize_t r = read(fd, v, sizeof(v));
		close(fd);
		fds->fd[i] = -1;
		if (r != (ssize_t)sizeof(v) || v[2] == 0) {
			// Never scheduled on a counter: not measured, so null.
			json_object_set_new(metrics, key, json_null());
			json_object_set_new(unsupported, evs[i].name,
					    json_string(r < 0 ? as_errno_name(errno) : "not-counted"));
			continue;
		}
		double scaled = (double)v[0];
		if (v[2] < v[1]) // multiplexed: scale by enabled/running time
			scaled = scaled * (double)v[1] / (double)v[2];
		json_object_set_new(metrics, key, json_integer((json_int_t)scaled));
	}
}

void as_perf_close(as_perf_fds_t *fds)
{
	for (size_t i = 0; i < AS_PERF_MAX; i++)
		if (fds->fd[i] >= 0) {
			close(fds->fd[i]);
			fds->fd[i] = -1;
		}
}
