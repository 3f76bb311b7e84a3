// SPDX-License-Identifier: MIT
// Unit tests of the allocation trace: the recorder (trace.c, linked
// directly) writes a file that the shared reader (trace_format.h) walks
// back with the right records and sites; bad and truncated images are
// refused with the offset and the reason.
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../allocators/object/trace/trace.h"
#include "../../allocators/object/trace/trace_format.h"
#include "as/compiler.h"
#include "test.h"

typedef struct counts_s {
	unsigned allocs, frees, sites, aligned, named;
	uint64_t last_id;
	uint64_t bytes;
} counts_t;

static void c_alloc(const tr_alloc_t *a, void *ctx)
{
	counts_t *c = ctx;
	c->allocs++;
	c->bytes += a->size;
	c->aligned += a->align_log2 != 0;
	c->last_id = a->id;
}

static void c_free(const tr_free_t *f, void *ctx)
{
	counts_t *c = ctx;
	(void)f;
	c->frees++;
}

static void c_site(const tr_site_t *s, const char *text, void *ctx)
{
	counts_t *c = ctx;
	c->sites++;
	if (s->textlen && memmem(text, s->textlen, "test_trace_record_and_read", 26))
		c->named++;
}

static AS_NOINLINE void *trace_site_a(size_t n)
{
	void *p = tr_malloc(n, 0, __builtin_return_address(0), __builtin_frame_address(0));
	as_do_not_optimize(p);
	return p;
}

static AS_NOINLINE void *trace_site_b(size_t n)
{
	void *p = tr_malloc(n, 256, __builtin_return_address(0), __builtin_frame_address(0));
	as_do_not_optimize(p);
	return p;
}

TEST(trace_record_and_read)
{
	char path[] = "/tmp/allocscope-test-trace-XXXXXX";
	int fd = mkstemp(path);
	check(fd >= 0);
	close(fd);
	setenv("ALLOCSCOPE_TRACE", path, 1);
	check(tr_init());
	void *p[100];
	for (int i = 0; i < 100; i++) {
		p[i] = (i % 2) ? trace_site_a(10 + (size_t)i) : trace_site_b(10 + (size_t)i);
		check(p[i] != NULL);
		check(tr_usable_size(p[i]) == 10 + (size_t)i);
		if (i % 2 == 0 && ((uintptr_t)p[i] & 255))
			check_fail("aligned allocation %p not 256-aligned", p[i]);
		memset(p[i], 1, 10 + (size_t)i);
	}
	for (int i = 0; i < 100; i += 2)
		tr_free(p[i]);
	tr_flush_all();
	unsetenv("ALLOCSCOPE_TRACE");
	fd = open(path, O_RDONLY);
	struct stat sb;
	check(fd >= 0 && fstat(fd, &sb) == 0);
	size_t len = (size_t)sb.st_size;
	unsigned char *buf = malloc(len + 64);
	check(buf && read(fd, buf, len) == (ssize_t)len);
	close(fd);
	unlink(path);
	counts_t c = { 0 };
	tr_visitor_t v = { c_alloc, c_free, c_site, &c };
	tr_header_t h;
	char err[200];
	if (!tr_walk(buf, len, &h, &v, err, sizeof(err)))
		check_fail("walk: %s", err);
	check_eq("%u", c.allocs, 100u);
	check_eq("%u", c.frees, 50u);
	check_eq("%u", c.aligned, 50u);
	check(c.sites >= 2);
	check(c.named >= 2); // the frames were symbolized
	// Every truncation is refused with its offset.
	for (size_t cut = 1; cut < len; cut += 5) {
		if (cut >= TR_HEADER && ((cut - TR_HEADER) % 8 == 0)) {
			// may land on a record boundary: then the prefix is valid
			continue;
		}
		if (tr_walk(buf, cut, &h, NULL, err, sizeof(err)))
			check_fail("truncated trace (%zu of %zu bytes) accepted", cut, len);
		if (!strstr(err, "offset"))
			check_fail("error without an offset: %s", err);
	}
	buf[0] = 'Z';
	check(!tr_walk(buf, len, &h, NULL, err, sizeof(err)));
	check(strstr(err, "magic") != NULL);
	buf[0] = 'A';
	buf[TR_HEADER] = 77; // unknown record type
	check(!tr_walk(buf, len, &h, NULL, err, sizeof(err)));
	check(strstr(err, "unknown record type 77") != NULL);
	free(buf);
	for (int i = 1; i < 100; i += 2)
		tr_free(p[i]);
}
