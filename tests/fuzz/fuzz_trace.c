// SPDX-License-Identifier: MIT
// libFuzzer target: the allocation-trace reader tr_walk
// (allocators/object/trace/trace_format.h), which the replay workload,
// trace-summary and lt-profile run over trace files, on arbitrary bytes.
// Checked for every input:
//   - no crash and no read outside the input (ASan; libFuzzer hands over a
//     buffer of exactly `size` bytes);
//   - a rejection says "offset N: reason" with N <= size and a reason, and
//     N is where the walk stopped: a record error names 32 plus the bytes
//     of the records the callbacks already saw; a header error (N < 32)
//     comes before any callback;
//   - an accepted trace is exactly what the writer (liballocscope-trace.so)
//     would produce for the records the callbacks saw: rebuilding the image
//     from the header and the callbacks' records (zero padding, zero
//     reserved fields) gives back the input byte for byte. So every record
//     is in bounds, has its own type, an alloc has size > 0 and alignment
//     <= 2^30, and a site's text pointer is its text in the image.
// Build: make fuzz (clang -fsanitize=fuzzer,address); see tests/README.md.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../allocators/object/trace/trace_format.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct ft_ctx_s {
	const uint8_t *in;
	size_t len;
	unsigned char *out; ///< the image rebuilt from the callbacks
	size_t pos;	    ///< bytes rebuilt so far
} ft_ctx_t;

static void ft_fail(const char *what, size_t a, size_t b)
{
	fprintf(stderr, "fuzz_trace: %s (%zu, %zu)\n", what, a, b);
	abort();
}

// Room for one more record of `n` bytes in the rebuilt image.
static unsigned char *ft_room(ft_ctx_t *c, size_t n)
{
	if (c->pos + n > c->len)
		ft_fail("callbacks saw more bytes than the input holds", c->pos + n, c->len);
	unsigned char *p = c->out + c->pos;
	memset(p, 0, n);
	c->pos += n;
	return p;
}

static void ft_alloc(const tr_alloc_t *a, void *ctx)
{
	if (a->type != TR_ALLOC || a->size == 0 || a->align_log2 > 30)
		ft_fail("bad alloc record passed to the callback", a->type, (size_t)a->size);
	tr_alloc_t r = *a;
	memcpy(ft_room(ctx, TR_ALLOC_BYTES), &r, sizeof(r));
}

static void ft_free(const tr_free_t *f, void *ctx)
{
	if (f->type != TR_FREE)
		ft_fail("bad free record passed to the callback", f->type, 0);
	tr_free_t r;
	memset(&r, 0, sizeof(r));
	r.type = TR_FREE;
	r.thread = f->thread;
	r.id = f->id;
	r.time_ns = f->time_ns;
	memcpy(ft_room(ctx, TR_FREE_BYTES), &r, sizeof(r));
}

static void ft_site(const tr_site_t *s, const char *text, void *ctx)
{
	ft_ctx_t *c = ctx;
	if (s->type != TR_SITE)
		ft_fail("bad site record passed to the callback", s->type, 0);
	size_t at = c->pos;
	if ((const uint8_t *)text != c->in + at + TR_SITE_FIXED)
		ft_fail("site text is not right after its record", (size_t)((const uint8_t *)text - c->in), at);
	unsigned char *p = ft_room(c, tr_site_bytes(s->textlen));
	tr_site_t r = *s;
	memcpy(p, &r, sizeof(r));
	memcpy(p + TR_SITE_FIXED, text, s->textlen); // in bounds, or ASan says so
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ft_ctx_t c = { .in = data, .len = size, .out = malloc(size ? size : 1), .pos = TR_HEADER };
	tr_visitor_t v = { .alloc = ft_alloc, .free = ft_free, .site = ft_site, .ctx = &c };
	tr_header_t h;
	char err[256] = "";
	bool ok = tr_walk(data, size, &h, &v, err, sizeof(err));
	if (!ok) {
		size_t off = 0;
		int n = 0;
		if (sscanf(err, "offset %zu: %n", &off, &n) != 1 || n == 0 || !err[n])
			ft_fail("rejection is not 'offset N: reason'", strlen(err), 0);
		if (off > size)
			ft_fail("rejection offset beyond the input", off, size);
		// Header errors point into the header (or at a short file's
		// end) before any record; record errors at the failing record.
		if (off >= TR_HEADER ? off != c.pos : c.pos != TR_HEADER)
			ft_fail("rejection offset is not where the records stopped", off, c.pos);
		free(c.out);
		return 0;
	}
	if (size < TR_HEADER)
		ft_fail("accepted a trace shorter than its header", size, TR_HEADER);
	if (c.pos != size)
		ft_fail("accepted trace: callbacks saw fewer bytes than the input", c.pos, size);
	tr_header_t hh;
	memset(&hh, 0, sizeof(hh));
	memcpy(hh.magic, "ASTRACE", 8);
	hh.version = TR_VERSION;
	hh.clock_unit_ns = 1;
	hh.t0_ns = h.t0_ns;
	memcpy(c.out, &hh, sizeof(hh));
	for (size_t i = 0; i < size; i++)
		if (c.out[i] != data[i])
			ft_fail("accepted trace differs from the image rebuilt from its records at byte", i, size);
	free(c.out);
	return 0;
}
