// SPDX-License-Identifier: MIT
// lt-profile: build a lifetime profile (allocators/object/lifetime/
// lt_format.h) from an allocation trace: per site (run-independent id and
// frames) the count of objects in each lifetime class; objects never freed
// count in the longest class. The lifetime allocator loads it with
// ALLOCSCOPE_LIFETIME_PREDICTOR=profile ALLOCSCOPE_LIFETIME_PROFILE=path.
// Also checks a profile or model file (--check FILE): exit 0 when valid,
// 2 with the offset and reason when not.
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../allocators/object/lifetime/lt_format.h"
#include "../allocators/object/trace/trace_format.h"
#include "lib/tool_util.h"

typedef struct site_s {
	uint32_t trace_site;
	uint64_t id;
	char text[400];
	uint16_t textlen;
	uint32_t count[LT_FMT_MAX_CLASSES];
} site_t;

typedef struct obj_s {
	uint64_t t;
	uint32_t site;
	bool live;
} obj_t;

static site_t *sites;
static size_t nsites, capsites;
static tool_idtab_t objs = { .size = sizeof(obj_t) };
static uint64_t bounds[LT_FMT_MAX_CLASSES];
static unsigned ncls;

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
	return x;
}

static void on_site(const tr_site_t *s, const char *text, void *ctx)
{
	(void)ctx;
	site_t *x = site_get(s->site);
	x->id = s->site_id;
	x->textlen = (uint16_t)(s->textlen < sizeof(x->text) ? s->textlen : sizeof(x->text) - 1);
	memcpy(x->text, text, x->textlen);
}

static obj_t *obj_at(uint64_t id)
{
	return tool_idtab_at(&objs, id);
}

static void on_alloc(const tr_alloc_t *a, void *ctx)
{
	(void)ctx;
	obj_t *o = obj_at(a->id);
	if (o)
		*o = (obj_t){ a->time_ns, a->site, true };
}

static void on_free(const tr_free_t *f, void *ctx)
{
	(void)ctx;
	obj_t *o = obj_at(f->id);
	if (!o || !o->live)
		return;
	o->live = false;
	uint64_t life = f->time_ns > o->t ? f->time_ns - o->t : 0;
	site_get(o->site)->count[lt_fmt_class_of(life, bounds, ncls)]++;
}

static bool parse_classes(const char *v)
{
	ncls = 0;
	while (*v && ncls + 1 < LT_FMT_MAX_CLASSES) {
		char *end;
		unsigned long long x = strtoull(v, &end, 10);
		uint64_t mult = 1;
		if (!strncmp(end, "ms", 2)) {
			mult = 1000000;
			end += 2;
		} else if (!strncmp(end, "us", 2)) {
			mult = 1000;
			end += 2;
		} else if (!strncmp(end, "ns", 2)) {
			end += 2;
		} else if (*end == 's') {
			mult = 1000000000ULL;
			end++;
		}
		if (end == v || x == 0 || (*end && *end != ','))
			return false;
		bounds[ncls] = x * mult;
		if (ncls && bounds[ncls] <= bounds[ncls - 1])
			return false;
		ncls++;
		v = *end ? end + 1 : end;
	}
	if (*v)
		return false;
	bounds[ncls] = UINT64_MAX;
	ncls++;
	return true;
}

static const unsigned char *map(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY);
	struct stat sb;
	if (fd < 0 || fstat(fd, &sb) != 0) {
		fprintf(stderr, "lt-profile: %s: cannot open\n", path);
		exit(2);
	}
	*len = (size_t)sb.st_size;
	const unsigned char *b = *len ? mmap(NULL, *len, PROT_READ, MAP_PRIVATE, fd, 0)
				      : (const unsigned char *)"";
	close(fd);
	if (b == MAP_FAILED) {
		fprintf(stderr, "lt-profile: %s: cannot map\n", path);
		exit(2);
	}
	return b;
}

static int usage(int code)
{
	printf("usage: lt-profile TRACE OUT [CLASSES]   build a profile (CLASSES default\n"
	       "                                          10ms,100ms,1s,10s,100s)\n"
	       "       lt-profile --check FILE          validate a profile or model file\n");
	return code;
}

int main(int argc, char **argv)
{
	tool_set_prog("lt-profile");
	char err[200];
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")))
		return usage(0);
	if (argc == 3 && !strcmp(argv[1], "--check")) {
		size_t len;
		const unsigned char *b = map(argv[2], &len);
		lt_fmt_header_t h;
		bool ok = len >= 8 && !memcmp(b, "ASLTMDL", 8)
				  ? lt_fmt_model_check(b, len, &h, err, sizeof(err))
				  : lt_fmt_profile_walk(b, len, &h, NULL, NULL, err, sizeof(err));
		if (!ok) {
			fprintf(stderr, "lt-profile: %s: %s\n", argv[2], err);
			return 2;
		}
		printf("%s: valid, %u classes, %u entries\n", argv[2], h.nclasses, h.count);
		return 0;
	}
	if (argc < 3 || argc > 4)
		return usage(2);
	if (!parse_classes(argc == 4 ? argv[3] : "10ms,100ms,1s,10s,100s")) {
		fprintf(stderr, "lt-profile: classes %s: want increasing durations like 10ms,1s\n",
			argv[3]);
		return 2;
	}
	size_t len;
	const unsigned char *buf = map(argv[1], &len);
	tr_header_t th;
	tr_visitor_t v1 = { .site = on_site };
	if (!tr_walk(buf, len, &th, &v1, err, sizeof(err))) {
		fprintf(stderr, "lt-profile: %s: %s\n", argv[1], err);
		return 2;
	}
	tr_visitor_t v2 = { .alloc = on_alloc };
	tr_walk(buf, len, &th, &v2, err, sizeof(err));
	tr_visitor_t v3 = { .free = on_free };
	tr_walk(buf, len, &th, &v3, err, sizeof(err));
	for (size_t k = 0; k < objs.n; k++) {
		obj_t *o = tool_idtab_get(&objs, k);
		if (o->live)
			site_get(o->site)->count[ncls - 1]++;
	}
	FILE *f = fopen(argv[2], "wb");
	if (!f) {
		fprintf(stderr, "lt-profile: %s: cannot create\n", argv[2]);
		return 1;
	}
	lt_fmt_header_t h;
	memset(&h, 0, sizeof(h));
	memcpy(h.magic, "ASLTPRF", 8);
	h.version = LT_FMT_VERSION;
	h.nclasses = ncls;
	for (unsigned c = 0; c + 1 < ncls; c++)
		h.bound_ns[c] = bounds[c];
	// Trace sites with the same run-independent id (one stack reached from
	// several threads' keys) merge into one profile site.
	for (size_t i = 0; i < nsites; i++) {
		for (size_t j = 0; sites[i].id && j < i; j++) {
			if (sites[j].id != sites[i].id)
				continue;
			for (unsigned c = 0; c < ncls; c++)
				sites[j].count[c] += sites[i].count[c];
			sites[i].id = 0;
		}
	}
	for (size_t i = 0; i < nsites; i++)
		if (sites[i].id)
			h.count++;
	fwrite(&h, sizeof(h), 1, f);
	for (size_t i = 0; i < nsites; i++) {
		site_t *x = &sites[i];
		if (!x->id)
			continue;
		unsigned char rec[8 + 4 * LT_FMT_MAX_CLASSES + 2 + 400 + 8];
		memset(rec, 0, sizeof(rec));
		memcpy(rec, &x->id, 8);
		memcpy(rec + 8, x->count, 4 * ncls);
		memcpy(rec + 8 + 4 * ncls, &x->textlen, 2);
		memcpy(rec + 8 + 4 * ncls + 2, x->text, x->textlen);
		fwrite(rec, lt_fmt_site_bytes(ncls, x->textlen), 1, f);
	}
	if (fclose(f) != 0) {
		fprintf(stderr, "lt-profile: %s: write failed\n", argv[2]);
		return 1;
	}
	printf("lt-profile: %u sites, %u classes -> %s\n", h.count, ncls, argv[2]);
	return 0;
}
