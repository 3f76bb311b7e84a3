// SPDX-License-Identifier: MIT
// Helpers shared by the offline tools (see tool_util.h).
#include "tool_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *prog = "allocscope-tool";

void tool_set_prog(const char *name)
{
	prog = name;
}

void *tool_xrealloc(void *p, size_t n)
{
	p = realloc(p, n);
	if (!p) {
		fprintf(stderr, "%s: out of memory\n", prog);
		exit(1);
	}
	return p;
}

void *tool_idtab_at(tool_idtab_t *t, uint64_t id)
{
	if (id == 0 || id > (1ULL << 34))
		return NULL;
	if (id > t->n) {
		size_t n = t->n ? t->n : 1024;
		while (n < id)
			n *= 2;
		t->v = tool_xrealloc(t->v, n * t->size);
		memset(t->v + t->n * t->size, 0, (n - t->n) * t->size);
		t->n = n;
	}
	return t->v + (id - 1) * t->size;
}
