// SPDX-License-Identifier: MIT
// Runner utilities: allocation that dies on failure (the runner is a program,
// not an allocator), growable string lists, paths relative to the runner's
// own executable, and running a helper command to capture its output.
#ifndef AS_UTIL_H
#define AS_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "as/compiler.h"

void *as_xmalloc(size_t n);
void *as_xcalloc(size_t n, size_t size);
void *as_xrealloc(void *p, size_t n);
char *as_xstrdup(const char *s);
/// Formatted string in a fresh buffer (free it).
char *as_xasprintf(const char *fmt, ...) AS_PRINTF(1, 2);

/// A growable list of owned strings.
typedef struct as_strv_s {
	char **v;
	size_t n;
	size_t cap;
} as_strv_t;

void as_strv_push(as_strv_t *l, const char *s);
void as_strv_pushf(as_strv_t *l, const char *fmt, ...) AS_PRINTF(2, 3);
/// Append the comma-separated items of `s` (empty items are skipped).
void as_strv_split(as_strv_t *l, const char *s, char sep);
bool as_strv_has(const as_strv_t *l, const char *s);
/// Items joined by `sep` (fresh string).
char *as_strv_join(const as_strv_t *l, const char *sep);
void as_strv_clear(as_strv_t *l);
/// NULL-terminated argv/envp view (valid until the list changes).
char **as_strv_argv(as_strv_t *l);

/// Directory holding the running executable ("…/bin"), and its sibling
/// "…/lib": workloads and preload libraries are found there, so that any
/// BUILD=dir works. $ALLOCSCOPE_BIN_DIR / $ALLOCSCOPE_LIB_DIR override.
const char *as_bin_dir(void);
const char *as_lib_dir(void);
/// The build folder (parent of bin/), which holds .flags.
const char *as_build_dir(void);

/// Run argv (no shell), capture up to `cap` bytes of stdout into a fresh
/// NUL-terminated string (*out), stderr to /dev/null. Returns the exit
/// status (0..255), or -1 if it could not run or was killed.
int as_capture(char *const argv[], char **out, size_t cap);

/// Whole file as a fresh string, or NULL (errno set).
char *as_read_file(const char *path);
/// First line of a file without the newline, or NULL.
char *as_read_line(const char *path);

/// Strict parsers: whole string, no junk.
bool as_parse_uint(const char *s, uint64_t lo, uint64_t hi, uint64_t *out);
bool as_parse_double(const char *s, double *out);

/// Seconds since an arbitrary start, monotonic.
double as_mono_s(void);

#endif
