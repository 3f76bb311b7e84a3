// SPDX-License-Identifier: MIT
// Error reporting. Allocators never exit: they return error values. Programs
// (harness, workloads, tests) use as_die()/as_warn(), which prefix the program
// name and write with write(2), without allocating.
#ifndef AS_ERR_H
#define AS_ERR_H

#include <stddef.h>

#include "as/compiler.h"

/// Set the name printed before every message (default "allocscope").
void as_err_set_prog(const char *name);

/// Print "prog: message\n" to stderr.
void as_warn(const char *fmt, ...) AS_PRINTF(1, 2);

/// Print "prog: message\n" and exit with `code` (2 = bad input, 1 = failure).
AS_NORETURN void as_die(int code, const char *fmt, ...) AS_PRINTF(2, 3);

/// Format into a caller buffer without allocating (vsnprintf on a stack
/// buffer is fine; this is a convenience that always NUL-terminates).
void as_format(char *buf, size_t len, const char *fmt, ...) AS_PRINTF(3, 4);

#endif
