// SPDX-License-Identifier: MIT
// libFuzzer target: the lifetime profile reader lt_fmt_profile_walk
// (allocators/object/lifetime/lt_format.h), which the lifetime allocator
// runs in its start-up path (ALLOCSCOPE_LIFETIME_PROFILE) and lt-train runs
// over profiles, on arbitrary bytes. The model check lt_fmt_model_check
// shares the header check and runs on the same input. Checked:
//   - no crash and no read outside the input (ASan; the buffer is exactly
//     `size` bytes); each accepted site's text is also tokenized as
//     lt-train and the model predictor do, within its textlen;
//   - a rejection says "offset N: reason" with N <= size and a reason; a
//     site error names the offset of the first site not delivered (80 plus
//     the bytes of the sites the callback saw);
//   - an accepted profile is exactly what the writers (lt-profile, the
//     allocator's own profile dump) would produce: rebuilding the image from
//     the header and the callback's sites (zero padding, zero unused class
//     bounds) gives back the input byte for byte, with h->count sites, ids
//     not 0, 1..8 classes and increasing bounds;
//   - an accepted model is exactly its header plus h->count token records.
// Build: make fuzz (clang -fsanitize=fuzzer,address); see tests/README.md.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../allocators/object/lifetime/lt_format.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct fp_ctx_s {
	const uint8_t *in;
	size_t len;
	uint32_t nclasses;
	unsigned char *out; ///< the image rebuilt from the callbacks
	size_t pos;
	uint32_t sites;
} fp_ctx_t;

static void fp_fail(const char *what, size_t a, size_t b)
{
	fprintf(stderr, "fuzz_profile: %s (%zu, %zu)\n", what, a, b);
	abort();
}

static void fp_token(uint32_t hash, void *ctx)
{
	(void)ctx;
	if (hash == 0)
		fp_fail("token hash 0 (reserved for empty slots)", 0, 0);
}

static void fp_site(const lt_fmt_site_t *s, void *ctx)
{
	fp_ctx_t *c = ctx;
	size_t fixed = 8 + 4 * (size_t)c->nclasses + 2;
	size_t rec = lt_fmt_site_bytes(c->nclasses, s->textlen);
	if (s->id == 0)
		fp_fail("site id 0 passed to the callback", c->pos, 0);
	if ((const uint8_t *)s->text != c->in + c->pos + fixed)
		fp_fail("site text is not right after its counts", (size_t)((const uint8_t *)s->text - c->in),
			c->pos);
	if (c->pos + rec > c->len)
		fp_fail("callback saw more bytes than the input holds", c->pos + rec, c->len);
	for (uint32_t k = c->nclasses; k < LT_FMT_MAX_CLASSES; k++)
		if (s->count[k])
			fp_fail("count of a class beyond nclasses", k, s->count[k]);
	unsigned char *p = c->out + c->pos;
	memset(p, 0, rec);
	memcpy(p, &s->id, 8);
	memcpy(p + 8, s->count, 4 * (size_t)c->nclasses);
	memcpy(p + fixed - 2, &s->textlen, 2);
	memcpy(p + fixed, s->text, s->textlen); // in bounds, or ASan says so
	lt_fmt_tokenize(s->text, s->textlen, fp_token, NULL);
	c->pos += rec;
	c->sites++;
}

static void fp_check_reject(const char *err, size_t size, const char *what)
{
	size_t off = 0;
	int n = 0;
	if (sscanf(err, "offset %zu: %n", &off, &n) != 1 || n == 0 || !err[n])
		fp_fail(what, strlen(err), 0);
	if (off > size)
		fp_fail("rejection offset beyond the input", off, size);
}

// The header a writer produces for these values.
static void fp_header(unsigned char *out, const char *magic, const lt_fmt_header_t *h)
{
	lt_fmt_header_t w;
	memset(&w, 0, sizeof(w));
	memcpy(w.magic, magic, 8);
	w.version = LT_FMT_VERSION;
	w.nclasses = h->nclasses;
	for (uint32_t i = 0; i + 1 < h->nclasses; i++) {
		if (h->bound_ns[i] == 0 || (i && h->bound_ns[i] <= h->bound_ns[i - 1]))
			fp_fail("accepted class bounds that do not increase", i, (size_t)h->bound_ns[i]);
		w.bound_ns[i] = h->bound_ns[i];
	}
	w.count = h->count;
	memcpy(out, &w, sizeof(w));
}

static void fp_model(const uint8_t *data, size_t size)
{
	lt_fmt_header_t h;
	char err[256] = "";
	if (!lt_fmt_model_check(data, size, &h, err, sizeof(err))) {
		fp_check_reject(err, size, "model rejection is not 'offset N: reason'");
		return;
	}
	if (size != LT_FMT_MODEL_TOKENS_AT + (size_t)h.count * LT_FMT_MODEL_REC)
		fp_fail("accepted model of the wrong size", size, h.count);
	unsigned char hdr[LT_FMT_HEADER];
	fp_header(hdr, "ASLTMDL", &h);
	if (memcmp(hdr, data, LT_FMT_HEADER))
		fp_fail("accepted model header differs from the one a writer makes", 0, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fp_model(data, size);
	lt_fmt_header_t h;
	memset(&h, 0, sizeof(h));
	char err[256] = "";
	// nclasses is read from the input before the walk so the callback
	// knows the record layout; a bad one makes the walk refuse anyway.
	uint32_t ncls = 0;
	if (size >= 16)
		memcpy(&ncls, data + 12, 4);
	fp_ctx_t c = { .in = data, .len = size, .nclasses = ncls, .out = calloc(size ? size : 1, 1),
		       .pos = LT_FMT_HEADER };
	bool ok = lt_fmt_profile_walk(data, size, &h, fp_site, &c, err, sizeof(err));
	if (!ok) {
		fp_check_reject(err, size, "profile rejection is not 'offset N: reason'");
		size_t off = strtoull(err + 7, NULL, 10);
		if (off >= LT_FMT_HEADER ? off != c.pos : c.sites != 0)
			fp_fail("rejection offset is not where the sites stopped", off, c.pos);
		free(c.out);
		return 0;
	}
	if (size < LT_FMT_HEADER || h.nclasses < 1 || h.nclasses > LT_FMT_MAX_CLASSES || h.nclasses != ncls)
		fp_fail("accepted a bad header", size, h.nclasses);
	if (c.sites != h.count)
		fp_fail("accepted profile: site count differs from the header", c.sites, h.count);
	if (c.pos != size)
		fp_fail("accepted profile: sites do not end at the end of the input", c.pos, size);
	fp_header(c.out, "ASLTPRF", &h);
	for (size_t i = 0; i < size; i++)
		if (c.out[i] != data[i])
			fp_fail("accepted profile differs from the image rebuilt from its sites at byte", i, size);
	free(c.out);
	return 0;
}
