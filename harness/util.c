// SPDX-License-Identifier: MIT
// Runner utilities (see util.h).
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "as/err.h"

void *as_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		as_die(1, "out of memory (%zu bytes)", n);
	return p;
}

void *as_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		as_die(1, "out of memory (%zu x %zu bytes)", n, size);
	return p;
}

void *as_xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		as_die(1, "out of memory (%zu bytes)", n);
	return p;
}

char *as_xstrdup(const char *s)
{
	char *d = strdup(s ? s : "");
	if (!d)
		as_die(1, "out of memory");
	return d;
}

static char *vasprintf_x(const char *fmt, va_list ap)
{
	char *s = NULL;
	if (vasprintf(&s, fmt, ap) < 0)
		as_die(1, "out of memory");
	return s;
}

char *as_xasprintf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = vasprintf_x(fmt, ap);
	va_end(ap);
	return s;
}

void as_strv_push(as_strv_t *l, const char *s)
{
	if (l->n + 2 > l->cap) {
		l->cap = l->cap ? l->cap * 2 : 8;
		l->v = as_xrealloc(l->v, l->cap * sizeof(*l->v));
	}
	l->v[l->n++] = as_xstrdup(s);
	l->v[l->n] = NULL;
}

void as_strv_pushf(as_strv_t *l, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = vasprintf_x(fmt, ap);
	va_end(ap);
	as_strv_push(l, s);
	free(s);
}

void as_strv_split(as_strv_t *l, const char *s, char sep)
{
	const char *p = s;
	while (p && *p) {
		const char *e = strchr(p, sep);
		size_t len = e ? (size_t)(e - p) : strlen(p);
		// Trim blanks around items ("a, b" from a config file).
		while (len && (*p == ' ' || *p == '\t')) {
			p++;
			len--;
		}
		while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (len) {
			char *item = strndup(p, len);
			if (!item)
				as_die(1, "out of memory");
			as_strv_push(l, item);
			free(item);
		}
		p = e ? e + 1 : NULL;
	}
}

bool as_strv_has(const as_strv_t *l, const char *s)
{
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->v[i], s))
			return true;
	return false;
}

char *as_strv_join(const as_strv_t *l, const char *sep)
{
	size_t len = 1;
	for (size_t i = 0; i < l->n; i++)
		len += strlen(l->v[i]) + strlen(sep);
	char *s = as_xmalloc(len);
	s[0] = '\0';
	for (size_t i = 0; i < l->n; i++) {
		if (i)
			strcat(s, sep);
		strcat(s, l->v[i]);
	}
	return s;
}

void as_strv_clear(as_strv_t *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	*l = (as_strv_t){ 0 };
}

char **as_strv_argv(as_strv_t *l)
{
	static char *empty[1] = { NULL };
	return l->v ? l->v : empty;
}

static char bin_dir[PATH_MAX];
static char lib_dir[PATH_MAX];
static char build_dir[PATH_MAX];

static void find_dirs(void)
{
	if (bin_dir[0])
		return;
	const char *eb = getenv("ALLOCSCOPE_BIN_DIR");
	if (eb && *eb) {
		snprintf(bin_dir, sizeof(bin_dir), "%s", eb);
	} else {
		ssize_t n = readlink("/proc/self/exe", bin_dir, sizeof(bin_dir) - 1);
		if (n <= 0)
			as_die(1, "cannot read /proc/self/exe: %s", strerror(errno));
		bin_dir[n] = '\0';
		char *slash = strrchr(bin_dir, '/');
		if (slash)
			*slash = '\0';
	}
	snprintf(build_dir, sizeof(build_dir), "%s", bin_dir);
	char *slash = strrchr(build_dir, '/');
	if (slash && slash != build_dir)
		*slash = '\0';
	else
		snprintf(build_dir, sizeof(build_dir), "%.*s/..", (int)sizeof(build_dir) - 8, bin_dir);
	const char *el = getenv("ALLOCSCOPE_LIB_DIR");
	if (el && *el)
		snprintf(lib_dir, sizeof(lib_dir), "%s", el);
	else
		snprintf(lib_dir, sizeof(lib_dir), "%.*s/lib", (int)sizeof(lib_dir) - 8, build_dir);
}

const char *as_bin_dir(void)
{
	find_dirs();
	return bin_dir;
}

const char *as_lib_dir(void)
{
	find_dirs();
	return lib_dir;
}

const char *as_build_dir(void)
{
	find_dirs();
	return build_dir;
}

int as_capture(char *const argv[], char **out, size_t cap)
{
	int fds[2];
	*out = NULL;
	if (pipe2(fds, O_CLOEXEC) != 0)
		return -1;
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		dup2(fds[1], STDOUT_FILENO);
		int dn = open("/dev/null", O_WRONLY);
		if (dn >= 0)
			dup2(dn, STDERR_FILENO);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(fds[1]);
	char *buf = as_xmalloc(cap + 1);
	size_t len = 0;
	for (;;) {
		char tmp[4096];
		ssize_t r = read(fds[0], tmp, sizeof(tmp));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		size_t take = AS_MIN((size_t)r, cap - len);
		memcpy(buf + len, tmp, take);
		len += take;
	}
	close(fds[0]);
	buf[len] = '\0';
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	*out = buf;
	if (!WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

char *as_read_file(const char *path)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return NULL;
	size_t cap = 4096;
	size_t len = 0;
	char *buf = as_xmalloc(cap);
	size_t r;
	while ((r = fread(buf + len, 1, cap - len - 1, f)) > 0) {
		len += r;
		if (cap - len < 2) {
			cap *= 2;
			buf = as_xrealloc(buf, cap);
		}
	}
	fclose(f);
	buf[len] = '\0';
	return buf;
}

char *as_read_line(const char *path)
{
	char *s = as_read_file(path);
	if (!s)
		return NULL;
	s[strcspn(s, "\n")] = '\0';
	return s;
}

bool as_parse_uint(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
		return false;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

bool as_parse_double(const char *s, double *out)
{
	if (!s || !*s || *s == ' ')
		return false;
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || *end || !isfinite(v))
		return false;
	*out = v;
	return true;
}

double as_mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
