// SPDX-License-Identifier: MIT
// Runner for tests registered with TEST() (test.h). Usage: PROG [FILTER]
// (or T=FILTER in the environment); prints each result and ends with
// "N passed, N failed"; exit status 1 if any failed.
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "test.h"

#define MAX_TESTS 2048

static as_test_t tests[MAX_TESTS];
static unsigned ntests;

void as_test_register(const char *name, const char *file, void (*fn)(bool *failed))
{
	if (ntests == MAX_TESTS) {
		fprintf(stderr, "too many tests\n");
		exit(2);
	}
	tests[ntests++] = (as_test_t){ name, file, fn };
}

double as_test_scale(void)
{
	double s = 1.0;
#ifdef AS_TEST_SCALE_DIV
	s /= AS_TEST_SCALE_DIV;
#endif
	const char *e = getenv("AS_STRESS_SCALE");
	if (e && atof(e) > 0)
		s *= atof(e) / 100.0;
	return s;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	const char *filter = argc > 1 ? argv[1] : getenv("T");
	unsigned passed = 0;
	unsigned failed = 0;
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (unsigned i = 0; i < ntests; i++) {
		as_test_t *t = &tests[i];
		if (filter && *filter && !strstr(t->name, filter) && !strstr(t->file, filter))
			continue;
		bool f = false;
		double t0 = now_s();
		t->fn(&f);
		double dt = now_s() - t0;
		printf("%s %s (%.2fs)\n", f ? "FAIL" : "ok  ", t->name, dt);
		if (f)
			failed++;
		else
			passed++;
	}
	printf("%u passed, %u failed\n", passed, failed);
	return failed ? 1 : 0;
}
