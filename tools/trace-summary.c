// SPDX-License-Identifier: MIT
// trace-summary: summarise an allocation trace (liballocscope-trace.so):
// totals, then per site (most allocations first) the count, bytes, size
// range, the lifetime histogram over decade classes and how many objects
// were never freed, with the site's frames. Bad or truncated traces are
// refused with the offset and the reason (exit 2).
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../allocators/object/trace/trace_format.h"
#include "lib/tool_util.h"

#define NCLS 6
static const uint64_t bounds[NCLS - 1] = { 1000000ULL, 10000000ULL, 100000000ULL, 1000000000ULL,
					   10000000000ULL };
static const char *const cls_names[NCLS] = { "<=1ms", "<=10ms", "<=100ms", "<=1s", "<=10s",
					     ">10s" };

typedef struct site_s {
	uint32_t trace_site;
	uint64_t id;
	char text[400];
	uint64_t allocs, bytes, min, max, never;
	uint64_t cls[NCLS];
} site_t;

typedef struct obj_s {
	uint64_t t, size;
	uint32_t site;
	bool live;
} obj_t;

static site_t *sites;
static size_t nsites, capsites;
static tool_idtab_t objs = { .size = sizeof(obj_t) };
static uint64_t nfree, unmatched;

static site_t *site_get(uint32_t s)
{
	for (size_t i = 0; i < nsites; i++)
		if (sites[i].trace_site == s)
			return &sites[i];
	if (nsites == capsites) {
		capsites = capsites ? 2 * capsites : 256;
		sites = tool_xrealloc(sites, capsites * sizeof(*sites));
	}
	site_t *x = &sites[nsites++];
	memset(x, 0, sizeof(*x));
	x->trace_site = s;
	x->min = UINT64_MAX;
	return x;
}

static void on_site(const tr_site_t *s, const char *text, void *ctx)
{
	(void)ctx;
	site_t *x = site_get(s->site);
	x->id = s->site_id;
	snprintf(x->text, sizeof(x->text), "%.*s", (int)s->textlen, text);
}

static obj_t *obj_at(uint64_t id)
{
	return tool_idtab_at(&objs, id);
}

static void on_alloc(const tr_alloc_t *a, void *ctx)
{
	(void)ctx;
	obj_t *o = obj_at(a->id);
	if (!o)
		return;
	o->t = a->time_ns;
	o->size = a->size;
	o->site = a->site;
	o->live = true;
	site_t *x = site_get(a->site);
	x->allocs++;
	x->bytes += a->size;
	if (a->size < x->min)
		x->min = a->size;
	if (a->size > x->max)
		x->max = a->size;
}

static void on_free(const tr_free_t *f, void *ctx)
{
	(void)ctx;
	obj_t *o = obj_at(f->id);
	if (!o || !o->live) {
		unmatched++;
		return;
	}
	o->live = false;
	nfree++;
	uint64_t life = f->time_ns > o->t ? f->time_ns - o->t : 0;
	unsigned c = 0;
	while (c + 1 < NCLS && life > bounds[c])
		c++;
	site_get(o->site)->cls[c]++;
}

static int by_allocs(const void *a, const void *b)
{
	const site_t *x = a, *y = b;
	return x->allocs < y->allocs ? 1 : x->allocs > y->allocs ? -1 : 0;
}

int main(int argc, char **argv)
{
	tool_set_prog("trace-summary");
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		printf("usage: trace-summary TRACE [TOP]\n"
		       "Summarise an allocscope allocation trace: totals, then the TOP sites\n"
		       "(default 20) by allocations with sizes, lifetime histogram and frames.\n");
		return argc < 2 ? 2 : 0;
	}
	int top = argc > 2 ? atoi(argv[2]) : 20;
	int fd = open(argv[1], O_RDONLY);
	struct stat sb;
	if (fd < 0 || fstat(fd, &sb) != 0) {
		fprintf(stderr, "trace-summary: %s: cannot open\n", argv[1]);
		return 2;
	}
	size_t len = (size_t)sb.st_size;
	const unsigned char *buf =
		len ? mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0) : (const unsigned char *)"";
	close(fd);
	if (buf == MAP_FAILED) {
		fprintf(stderr, "trace-summary: %s: cannot map\n", argv[1]);
		return 2;
	}
	tr_header_t h;
	char err[200];
	tr_visitor_t v1 = { .site = on_site };
	if (!tr_walk(buf, len, &h, &v1, err, sizeof(err))) {
		fprintf(stderr, "trace-summary: %s: %s\n", argv[1], err);
		return 2;
	}
	tr_visitor_t v2 = { .alloc = on_alloc };
	tr_walk(buf, len, &h, &v2, err, sizeof(err));
	tr_visitor_t v3 = { .free = on_free };
	tr_walk(buf, len, &h, &v3, err, sizeof(err));
	uint64_t allocs = 0, bytes = 0;
	for (size_t i = 0; i < nsites; i++) {
		allocs += sites[i].allocs;
		bytes += sites[i].bytes;
	}
	for (size_t k = 0; k < objs.n; k++) {
		obj_t *o = tool_idtab_get(&objs, k);
		if (o->live)
			site_get(o->site)->never++;
	}
	qsort(sites, nsites, sizeof(*sites), by_allocs);
	printf("trace %s: %zu bytes, %zu sites, %llu allocations (%llu bytes), %llu frees, "
	       "%llu unmatched frees\n",
	       argv[1], len, nsites, (unsigned long long)allocs, (unsigned long long)bytes,
	       (unsigned long long)nfree, (unsigned long long)unmatched);
	printf("%-6s %10s %12s %8s %8s", "site", "allocs", "bytes", "min", "max");
	for (unsigned c = 0; c < NCLS; c++)
		printf(" %8s", cls_names[c]);
	printf(" %8s  frames\n", "live");
	for (size_t i = 0; i < nsites && (int)i < top; i++) {
		site_t *x = &sites[i];
		if (!x->allocs)
			continue;
		printf("%-6u %10llu %12llu %8llu %8llu", x->trace_site, (unsigned long long)x->allocs,
		       (unsigned long long)x->bytes, (unsigned long long)x->min,
		       (unsigned long long)x->max);
		for (unsigned c = 0; c < NCLS; c++)
			printf(" %8llu", (unsigned long long)x->cls[c]);
		printf(" %8llu  %.120s\n", (unsigned long long)x->never, x->text);
	}
	return 0;
}
