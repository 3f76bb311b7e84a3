// SPDX-License-Identifier: MIT
// "key=value,key=value" option strings, as passed to frame allocators and
// page sources (e.g. "batch=63,high=378,autotune=1"). Parsing never
// allocates; errors come back as a message naming the key and the reason.
#ifndef AS_KV_H
#define AS_KV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/// Look up `key` in `opts` (may be NULL or empty). Returns 0 and sets *out
/// when present and a valid unsigned integer in [min, max] (suffixes k, M, G
/// = 2^10, 2^20, 2^30 allowed); returns 1 and sets *out = def when absent;
/// returns -1 with a message in err[errlen] when malformed or out of range.
int as_kv_u64(const char *opts, const char *key, uint64_t def, uint64_t min,
	      uint64_t max, uint64_t *out, char *err, size_t errlen);

/// Check that every key in `opts` is one of the NULL-terminated `known`;
/// returns 0, or -1 with "unknown option 'x' (known: a, b)" in err.
int as_kv_check(const char *opts, const char *const *known, char *err,
		size_t errlen);

/// Parse one unsigned integer with optional k/M/G suffix; false if malformed.
bool as_parse_u64(const char *s, uint64_t *out);

#endif
