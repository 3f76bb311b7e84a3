// SPDX-License-Identifier: MIT
// Message output for as/err.h, through write(2) so it never allocates.
#include "as/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *prog = "allocscope";

void as_err_set_prog(const char *name)
{
	prog = name;
}

static void vmessage(const char *fmt, va_list ap)
{
	char buf[2048];
	int n = snprintf(buf, sizeof(buf), "%s: ", prog);
	if (n < 0)
		return;
	if ((size_t)n < sizeof(buf)) {
		int m = vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
		if (m > 0)
			n += m;
	}
	if ((size_t)n >= sizeof(buf) - 1)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	ssize_t w = write(STDERR_FILENO, buf, (size_t)n);
	(void)w;
}

void as_warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmessage(fmt, ap);
	va_end(ap);
}

void as_die(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmessage(fmt, ap);
	va_end(ap);
	exit(code);
}

void as_format(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	if (len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}
