// SPDX-License-Identifier: MIT
// Child processes (see child.h).
#include "child.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"

extern char **environ;

#define MAX_LIVE 64
static pid_t live[MAX_LIVE];

static void remember(pid_t pid)
{
	for (int i = 0; i < MAX_LIVE; i++)
		if (!live[i]) {
			live[i] = pid;
			return;
		}
}

static void forget(pid_t pid)
{
	for (int i = 0; i < MAX_LIVE; i++)
		if (live[i] == pid)
			live[i] = 0;
}

static void on_signal(int sig)
{
	for (int i = 0; i < MAX_LIVE; i++)
		if (live[i] > 0)
			kill(-live[i], SIGKILL);
	static const char msg[] = "allocscope: interrupted; children killed\n";
	ssize_t w = write(STDERR_FILENO, msg, sizeof(msg) - 1);
	(void)w;
	_exit(128 + sig);
}

void as_child_install_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

static void redirect(const char *path, int fd)
{
	int f = open(path ? path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (f >= 0 && f != fd) {
		dup2(f, fd);
		close(f);
	}
}

int as_child_spawn(as_child_t *c, const as_spawn_t *s, char *err, size_t len)
{
	memset(c, 0, sizeof(*c));
	c->rss_peak = -1;
	c->pidfd = -1;
	int go[2];
	int fail[2];
	if (pipe2(go, O_CLOEXEC) != 0 || pipe2(fail, O_CLOEXEC) != 0) {
		snprintf(err, len, "pipe: %s", strerror(errno));
		return errno;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		snprintf(err, len, "fork: %s", strerror(e));
		close(go[0]);
		close(go[1]);
		close(fail[0]);
		close(fail[1]);
		return e;
	}
	if (pid == 0) {
		setpgid(0, 0);
		close(go[1]);
		close(fail[0]);
		char b;
		// Wait until the parent attached the counters.
		while (read(go[0], &b, 1) < 0 && errno == EINTR)
			;
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		int e = s->mem ? as_mem_apply(s->mem) : 0;
		if (e == 0) {
			int dn = open("/dev/null", O_RDONLY);
			if (dn >= 0)
				dup2(dn, STDIN_FILENO);
			redirect(s->stdout_path, STDOUT_FILENO);
			redirect(s->stderr_path, STDERR_FILENO);
			execve(s->argv[0], s->argv, s->envp ? s->envp : environ);
			e = errno;
		}
		ssize_t w = write(fail[1], &e, sizeof(e));
		(void)w;
		_exit(127);
	}
	setpgid(pid, pid);
	close(go[0]);
	close(fail[1]);
	c->pid = pid;
	remember(pid);
	if (s->perf && as_perf_count()) {
		as_perf_attach(pid, &c->perf);
		c->has_perf = true;
	}
	c->t0 = as_mono_s();
	ssize_t w = write(go[1], "g", 1);
	(void)w;
	close(go[1]);
	int e = 0;
	ssize_t r;
	while ((r = read(fail[0], &e, sizeof(e))) < 0 && errno == EINTR)
		;
	close(fail[0]);
	if (r == (ssize_t)sizeof(e)) {
		int st;
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		forget(pid);
		c->pid = 0;
		if (c->has_perf)
			as_perf_close(&c->perf);
		snprintf(err, len, "cannot start %s: %s", s->argv[0], strerror(e));
		return e ? e : EIO;
	}
	c->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	return 0;
}

int64_t as_proc_rss(pid_t pid)
{
	char path[64];
	char buf[128];
	snprintf(path, sizeof(path), "/proc/%d/statm", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	long long size, res;
	if (sscanf(buf, "%lld %lld", &size, &res) != 2)
		return -1;
	return res * (int64_t)sysconf(_SC_PAGESIZE);
}

static bool reap(as_child_t *c, int flags)
{
	int st;
	pid_t r;
	while ((r = wait4(c->pid, &st, flags, &c->ru)) < 0 && errno == EINTR)
		;
	if (r != c->pid)
		return false;
	c->wall_s = as_mono_s() - c->t0;
	c->wstatus = st;
	c->exited = true;
	kill(-c->pid, SIGKILL); // leftovers in its group
	forget(c->pid);
	if (c->pidfd >= 0)
		close(c->pidfd);
	c->pidfd = -1;
	return true;
}

bool as_child_exited(as_child_t *c)
{
	if (!c->pid || c->exited)
		return true;
	return reap(c, WNOHANG);
}

void as_child_wait(as_child_t *c, const as_watch_t *w)
{
	if (!c->pid || c->exited)
		return;
	unsigned period = w && w->period_ms ? w->period_ms : 10;
	as_child_t *s = w && w->sample ? w->sample : c;
	for (;;) {
		if (reap(c, WNOHANG))
			return;
		double now = as_mono_s();
		if (s->pid && !s->exited) {
			int64_t rss = as_proc_rss(s->pid);
			if (rss > s->rss_peak)
				s->rss_peak = rss;
			if (w && w->timeline && rss >= 0)
				as_rec_timeline(w->timeline, (now - s->t0) * 1e3, (double)rss, -1);
			if (w && w->mem_limit && rss > 0 && (uint64_t)rss > w->mem_limit) {
				s->over_limit = true;
				s->rss_at_kill = rss;
				kill(-s->pid, SIGKILL);
			}
		}
		if (w && w->timeout_s > 0 && now - c->t0 > w->timeout_s && !c->timed_out) {
			c->timed_out = true;
			kill(-c->pid, SIGKILL);
		}
		if (c->pidfd >= 0) {
			struct pollfd p = { .fd = c->pidfd, .events = POLLIN };
			poll(&p, 1, (int)period);
		} else {
			struct timespec ts = { 0, (long)period * 1000000L };
			nanosleep(&ts, NULL);
		}
	}
}

void as_child_stop(as_child_t *c, double grace_s)
{
	if (!c->pid || c->exited)
		return;
	kill(-c->pid, SIGTERM);
	double end = as_mono_s() + grace_s;
	while (as_mono_s() < end) {
		if (reap(c, WNOHANG))
			return;
		struct timespec ts = { 0, 10000000L };
		nanosleep(&ts, NULL);
	}
	kill(-c->pid, SIGKILL);
	reap(c, 0);
}

static char *stderr_tail(const char *path)
{
	char *s = path ? as_read_file(path) : NULL;
	if (!s)
		return as_xstrdup("");
	size_t n = strlen(s);
	while (n && (s[n - 1] == '\n' || s[n - 1] == ' '))
		s[--n] = '\0';
	char *last = strrchr(s, '\n');
	char *t = as_xstrdup(last ? last + 1 : s);
	free(s);
	if (strlen(t) > 300)
		t[300] = '\0';
	return t;
}

bool as_child_status(const as_child_t *c, as_rec_t *r, const char *stderr_path)
{
	if (c->timed_out) {
		as_rec_fail(r, "timeout", "killed after %.1f s (timeout)", c->wall_s);
		return false;
	}
	if (c->over_limit) {
		as_rec_fail(r, "oom", "RSS %lld bytes exceeded the memory limit; killed after %.1f s",
			    (long long)c->rss_at_kill, c->wall_s);
		return false;
	}
	if (WIFSIGNALED(c->wstatus)) {
		int sig = WTERMSIG(c->wstatus);
		if (sig == SIGKILL)
			as_rec_fail(r, "oom", "killed by SIGKILL after %.1f s (not by the runner: the OOM killer?)",
				    c->wall_s);
		else
			as_rec_fail(r, "crash", "signal %d (%s) after %.1f s", sig, strsignal(sig), c->wall_s);
		return false;
	}
	int code = WEXITSTATUS(c->wstatus);
	if (code != 0) {
		char *tail = stderr_tail(stderr_path);
		if (strstr(tail, "out of memory") || strstr(tail, "Cannot allocate memory"))
			as_rec_fail(r, "oom", "exit %d: %s", code, tail);
		else
			as_rec_fail(r, "error", "exit %d%s%s", code, *tail ? ": " : "", tail);
		free(tail);
		return false;
	}
	return true;
}
