// SPDX-License-Identifier: MIT
// The config parser's error-returning entry point (as_opts_parse_config in
// harness/opts.c): messages name NAME:LINE and the reason, a refused config
// leaves the options as they were, the command line wins over [run] keys,
// and the refusals found while making it fuzzable (tests/fuzz/fuzz_config.c).
#include <stdlib.h>
#include <string.h>

#include "opts.h"
#include "test.h"

static bool parse(as_opts_t *o, const char *text, char *err, size_t len)
{
	return as_opts_parse_config(o, "t.ini", text, strlen(text), err, len);
}

TEST(opts_config_accepts_and_merges)
{
	as_opts_t o;
	char err[512];
	memset(&o, 0, sizeof(o));
	o.reps = strdup("7"); // as if given by --reps
	check(parse(&o, "[run]\nreps = 2\nseed = 5\nseed = 6\n[suite.object]\nthreads = 1,2\n", err, sizeof(err)));
	check(!strcmp(o.reps, "7"));
	check(!strcmp(o.seed, "5"));
	check(!strcmp(o.suite[AS_KIND_OBJECT].threads, "1,2"));
	as_opts_clear(&o);
	check(o.seed == NULL && o.reps == NULL);
}

TEST(opts_config_refusals)
{
	static const struct {
		const char *text;
		const char *want;
	} cases[] = {
		{ "[run]\ncolour = blue\n", "t.ini:2: unknown key 'colour' in [run]" },
		{ "[run]\nreps = 2\nno equals\n[run]\nbogus = 1\n", "t.ini:3: syntax error" },
		{ "[run]\nreps = 2\0junk\n", "t.ini:2: NUL byte in the line" },
		{ "[run]\nalloc = ,\n", "t.ini:2: alloc = ,: empty list" },
		{ "[run]\npin = 1,x\n", "t.ini:2: pin = 1,x: '1,x' is not none, compact, scatter or a PU list" },
		{ "[suite.frame]\nthreads. = 1\n", "t.ini:2: threads. = 1: name a workload" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		as_opts_t o;
		char err[512] = "";
		memset(&o, 0, sizeof(o));
		size_t len = strlen(cases[i].text);
		if (strstr(cases[i].want, "NUL"))
			len = sizeof("[run]\nreps = 2\0junk\n") - 1;
		check(!as_opts_parse_config(&o, "t.ini", cases[i].text, len, err, sizeof(err)));
		check(!strncmp(err, cases[i].want, strlen(cases[i].want)));
		as_opts_t zero;
		memset(&zero, 0, sizeof(zero));
		check(!memcmp(&o, &zero, sizeof(o))); // refused: untouched
	}
	char long_line[400];
	memset(long_line, 'x', sizeof(long_line));
	memcpy(long_line, "[run]\n;", 7);
	long_line[sizeof(long_line) - 1] = '\0';
	as_opts_t o;
	char err[512];
	memset(&o, 0, sizeof(o));
	check(!parse(&o, long_line, err, sizeof(err)));
	check(!strncmp(err, "t.ini:2: line longer than", 25));
}
