// SPDX-License-Identifier: MIT
// A tiny test framework (after llfree-c tests/test.h and mimalloc's
// testhelper.h). TEST(name) registers a test by constructor; the runner in
// test_main.c runs those whose name contains the filter (argv[1] or $T) and
// ends with "N passed, N failed". check_eq prints both values on failure.
#ifndef AS_TEST_H
#define AS_TEST_H

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct as_test_s {
	const char *name;
	const char *file;
	void (*fn)(bool *failed);
} as_test_t;

void as_test_register(const char *name, const char *file, void (*fn)(bool *failed));

/// Scale factor for stress sizes: 1 normally, smaller under sanitizers
/// (AS_TEST_SCALE_DIV set by the Makefile) or $AS_STRESS_SCALE (percent).
double as_test_scale(void);

#define TEST(name)                                                           \
	static void test_##name(bool *as_test_failed);                      \
	__attribute__((constructor)) static void test_register_##name(void) \
	{                                                                   \
		as_test_register(#name, __FILE__, test_##name);             \
	}                                                                   \
	static void test_##name(bool *as_test_failed)

#define check(cond)                                                              \
	do {                                                                     \
		if (!(cond)) {                                                   \
			fprintf(stderr, "  %s:%d: check failed: %s\n", __FILE__, \
				__LINE__, #cond);                                \
			*as_test_failed = true;                                  \
			return;                                                  \
		}                                                                \
	} while (0)

/// check_eq("%llu", (unsigned long long)a, (unsigned long long)b)
#define check_eq(fmt, actual, expected)                                            \
	do {                                                                       \
		__typeof__(actual) as_a_ = (actual);                               \
		__typeof__(expected) as_e_ = (expected);                           \
		if (as_a_ != as_e_) {                                              \
			fprintf(stderr, "  %s:%d: %s == %s failed: got " fmt       \
					", expected " fmt "\n",                    \
				__FILE__, __LINE__, #actual, #expected, as_a_, as_e_); \
			*as_test_failed = true;                                    \
			return;                                                    \
		}                                                                  \
	} while (0)

/// Fail with a formatted message.
#define check_fail(...)                                                  \
	do {                                                             \
		fprintf(stderr, "  %s:%d: ", __FILE__, __LINE__);         \
		fprintf(stderr, __VA_ARGS__);                            \
		fputc('\n', stderr);                                     \
		*as_test_failed = true;                                  \
		return;                                                  \
	} while (0)

#endif
