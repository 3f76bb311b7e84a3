// SPDX-License-Identifier: MIT
// Exit report for processes the harness cannot ask (Redis, the Redis test
// suite, any server): when ALLOCSCOPE_REPORT_FILE is set, the preload writes
// the allocator's counters at exit, in the probe's line format:
//   info allocator NAME
//   info malloc_served N
//   metric NAME VALUE        (everything allocscope_report gives)
// A "%p" in the path is replaced by the process id, so several processes
// sharing the environment (a test suite starting servers) do not overwrite
// each other. Written with open/write and stack buffers: no malloc at exit.
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

uint64_t allocscope_malloc_served(void);
void allocscope_report(void (*metric)(const char *name, double value));
const char *allocscope_allocator_name(void);

static int report_fd = -1;

static void put(const char *line, int n)
{
	if (n > 0 && report_fd >= 0) {
		ssize_t w = write(report_fd, line, (size_t)n);
		(void)w;
	}
}

static void metric_line(const char *name, double value)
{
	char line[256];
	put(line, snprintf(line, sizeof(line), "metric %s %.17g\n", name, value));
}

__attribute__((destructor)) static void report_at_exit(void)
{
	const char *tmpl = getenv("ALLOCSCOPE_REPORT_FILE");
	char path[4096];
	size_t o = 0;
	if (!tmpl || !*tmpl)
		return;
	for (const char *c = tmpl; *c && o < sizeof(path) - 24; c++) {
		if (c[0] == '%' && c[1] == 'p') {
			o += (size_t)snprintf(path + o, sizeof(path) - o, "%d", (int)getpid());
			c++;
		} else {
			path[o++] = *c;
		}
	}
	path[o] = '\0';
	report_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (report_fd < 0)
		return;
	char line[256];
	put(line, snprintf(line, sizeof(line), "info allocator %s\n", allocscope_allocator_name()));
	put(line, snprintf(line, sizeof(line), "info malloc_served %llu\n",
			   (unsigned long long)allocscope_malloc_served()));
	allocscope_report(metric_line);
	close(report_fd);
	report_fd = -1;
}
