// SPDX-License-Identifier: MIT
// Unit tests of the lifetime allocator core (linked directly, not through
// the preload): size classes, malloc/free/usable size/alignment, runs going
// back to their regions, cross-thread frees, the validate walk, and the
// lifetime file formats (profile and model) with their error messages.
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../allocators/object/lifetime/internal.h"
#include "test.h"

#define RET ((const void *)0x1234)

static void *la(size_t n)
{
	return lt_malloc(n, RET, __builtin_frame_address(0));
}

TEST(lifetime_size_classes)
{
	check(lt_init());
	unsigned prev = 0;
	for (size_t n = 1; n <= LT_SMALL_MAX; n++) {
		unsigned sc = lt_sc_of(n);
		uint32_t sz = lt_sc_size(sc);
		if (sc >= LT_NSC || sz < n || sz % 16 != 0)
			check_fail("size %zu -> class %u of %u bytes", n, sc, sz);
		if (sc < prev)
			check_fail("classes not monotonic at %zu", n);
		if (sc && lt_sc_size(sc - 1) >= n)
			check_fail("size %zu fits the smaller class %u", n, sc - 1);
		if ((double)sz > (double)n * 1.125 + 16)
			check_fail("size %zu wastes too much in class of %u", n, sz);
		prev = sc;
	}
	check_eq("%u", lt_sc_of(LT_SMALL_MAX), LT_NSC - 1);
	// The multiply-shift object index is exact over every run.
	for (unsigned sc = 0; sc < LT_NSC; sc++) {
		lt_block_t b;
		memset(&b, 0, sizeof(b));
		b.start = (char *)0x100000;
		b.size = lt_sc_size(sc);
		b.inv = ((uint64_t)1 << 40) / b.size + 1;
		size_t run = (size_t)lt_sc_blocks(sc) * LT_BLOCK;
		for (size_t off = 0; off < run; off += 8)
			if (lt_obj_index(&b, b.start + off) != off / b.size)
				check_fail("index of offset %zu in class %u", off, sc);
	}
	for (unsigned sc = 0; sc < LT_NSC; sc++) {
		unsigned nb = lt_sc_blocks(sc);
		check(nb >= 1 && nb <= LT_MAX_RUN);
		check((size_t)nb * LT_BLOCK / lt_sc_size(sc) >= 1);
		check((size_t)nb * LT_BLOCK / lt_sc_size(sc) <= LT_MAX_OBJS);
	}
}

TEST(lifetime_malloc_free_validate)
{
	check(lt_init());
	enum { N = 20000 };
	static void *p[N];
	static size_t sz[N];
	uint64_t x = 88172645463325252ULL;
	for (int i = 0; i < N; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		sz[i] = 1 + x % (i % 50 == 0 ? 200000 : 2000);
		p[i] = la(sz[i]);
		check(p[i] != NULL);
		check(((uintptr_t)p[i] & 15) == 0);
		check(lt_usable_size(p[i]) >= sz[i]);
		memset(p[i], i & 0xff, sz[i]);
	}
	char why[200];
	unsigned bad = lt_validate(why, sizeof(why));
	if (bad)
		check_fail("validate after fill: %u errors: %s", bad, why);
	for (int i = 0; i < N; i += 2) {
		unsigned char *c = p[i];
		if (c[0] != (i & 0xff) || c[sz[i] - 1] != (i & 0xff))
			check_fail("object %d overwritten", i);
		lt_free(p[i]);
	}
	bad = lt_validate(why, sizeof(why));
	if (bad)
		check_fail("validate after half free: %u errors: %s", bad, why);
	for (int i = 1; i < N; i += 2)
		lt_free(p[i]);
	bad = lt_validate(why, sizeof(why));
	if (bad)
		check_fail("validate after free: %u errors: %s", bad, why);
}

TEST(lifetime_aligned)
{
	check(lt_init());
	for (size_t a = 32; a <= (2u << 20); a <<= 1) {
		for (size_t n = 1; n < 70000; n = n * 3 + 5) {
			void *p = lt_aligned(a, n, RET, __builtin_frame_address(0));
			check(p != NULL);
			if ((uintptr_t)p % a)
				check_fail("align %zu size %zu -> %p", a, n, p);
			check(lt_usable_size(p) >= n);
			memset(p, 0x5a, n);
			lt_free(p);
		}
	}
}

TEST(lifetime_large_objects)
{
	check(lt_init());
	lt_stats_t before, after;
	lt_stats(&before);
	void *p = la(5u << 20);
	check(p != NULL);
	check(lt_region_of(p) == NULL);
	check(lt_usable_size(p) >= (5u << 20));
	memset(p, 1, 5u << 20);
	lt_free(p);
	lt_stats(&after);
	check_eq("%llu", (unsigned long long)after.regions_mapped,
		 (unsigned long long)before.regions_mapped);
}

TEST(lifetime_run_returns_to_region)
{
	check(lt_init());
	// A size class nothing else in this process uses much: fill whole runs,
	// free them all and check the region's used-block count comes back.
	enum { N = 4000 };
	static void *p[N];
	for (int i = 0; i < N; i++)
		p[i] = la(5000);
	lt_region_t *r = lt_region_of(p[N / 2]);
	check(r != NULL);
	pthread_mutex_lock(&lt_heap.lock);
	unsigned used_full = r->used;
	pthread_mutex_unlock(&lt_heap.lock);
	for (int i = 0; i < N; i++)
		lt_free(p[i]);
	lt_thread_exit(); // disown the current run so it can go back too
	// The region may have been unmapped meanwhile: look it up again.
	pthread_mutex_lock(&lt_heap.lock);
	lt_region_t *again = lt_region_of(p[N / 2]);
	unsigned used_after = !again || again->state == LT_R_FREE ? 0 : again->used;
	pthread_mutex_unlock(&lt_heap.lock);
	if (used_after >= used_full)
		check_fail("region kept %u of %u blocks after every object died", used_after,
			   used_full);
	char why[200];
	unsigned bad = lt_validate(why, sizeof(why));
	if (bad)
		check_fail("validate: %s", why);
}

typedef struct xfer_s {
	void **slots;
	size_t n;
} xfer_t;

static void *freer(void *arg)
{
	xfer_t *x = arg;
	for (size_t i = 0; i < x->n; i++) {
		unsigned char *c = x->slots[i];
		if (c[0] != (unsigned char)i)
			return (void *)1;
		lt_free(c);
	}
	lt_thread_exit();
	return NULL;
}

TEST(lifetime_cross_thread_free)
{
	check(lt_init());
	enum { N = 30000 };
	static void *slots[N];
	for (size_t i = 0; i < N; i++) {
		slots[i] = la(16 + i % 700);
		memset(slots[i], (int)(unsigned char)i, 16);
	}
	xfer_t x = { slots, N };
	pthread_t th;
	check(pthread_create(&th, NULL, freer, &x) == 0);
	void *rc;
	pthread_join(th, &rc);
	check(rc == NULL);
	char why[200];
	unsigned bad = lt_validate(why, sizeof(why));
	if (bad)
		check_fail("validate after remote frees: %s", why);
	// Memory freed remotely is reusable by the allocating thread.
	for (size_t i = 0; i < N; i++) {
		void *p = la(16 + i % 700);
		check(p != NULL);
		lt_free(p);
	}
}

// ---------------------------------------------------------------------------
// File formats

static size_t make_profile(unsigned char *buf, unsigned nsites)
{
	lt_fmt_header_t h;
	memset(&h, 0, sizeof(h));
	memcpy(h.magic, "ASLTPRF", 8);
	h.version = 1;
	h.nclasses = 3;
	h.bound_ns[0] = 10;
	h.bound_ns[1] = 100;
	h.count = nsites;
	memcpy(buf, &h, sizeof(h));
	size_t off = sizeof(h);
	for (unsigned i = 0; i < nsites; i++) {
		uint64_t id = 100 + i;
		uint32_t c[3] = { 10 * i, 1, 0 };
		uint16_t tl = 5;
		memset(buf + off, 0, lt_fmt_site_bytes(3, tl));
		memcpy(buf + off, &id, 8);
		memcpy(buf + off + 8, c, 12);
		memcpy(buf + off + 20, &tl, 2);
		memcpy(buf + off + 22, "a:foo", 5);
		off += lt_fmt_site_bytes(3, tl);
	}
	return off;
}

static unsigned walked;
static void count_site(const lt_fmt_site_t *s, void *ctx)
{
	(void)ctx;
	(void)s;
	walked++;
}

TEST(lifetime_profile_format)
{
	unsigned char buf[4096];
	char err[200];
	lt_fmt_header_t h;
	size_t len = make_profile(buf, 4);
	walked = 0;
	check(lt_fmt_profile_walk(buf, len, &h, count_site, NULL, err, sizeof(err)));
	check_eq("%u", walked, 4u);
	// Truncations anywhere are refused with the offset.
	for (size_t cut = 0; cut < len; cut += 7) {
		if (lt_fmt_profile_walk(buf, cut, &h, NULL, NULL, err, sizeof(err)))
			check_fail("truncated profile (%zu of %zu bytes) accepted", cut, len);
		if (!strstr(err, "offset"))
			check_fail("error without an offset: %s", err);
	}
	unsigned char bad[4096];
	memcpy(bad, buf, len);
	bad[0] = 'X';
	check(!lt_fmt_profile_walk(bad, len, &h, NULL, NULL, err, sizeof(err)));
	check(strstr(err, "magic") != NULL);
	memcpy(bad, buf, len);
	bad[8] = 9;
	check(!lt_fmt_profile_walk(bad, len, &h, NULL, NULL, err, sizeof(err)));
	check(strstr(err, "version") != NULL);
	memcpy(bad, buf, len);
	memcpy(bad + 24, "\x05\0\0\0\0\0\0\0", 8); // second bound below the first
	check(!lt_fmt_profile_walk(bad, len, &h, NULL, NULL, err, sizeof(err)));
	check(strstr(err, "bounds") != NULL);
	// Trailing garbage is refused too.
	memcpy(bad, buf, len);
	check(!lt_fmt_profile_walk(bad, len + 8, &h, NULL, NULL, err, sizeof(err)));
	// The class rule: the quantile of the histogram.
	double hist[3] = { 89, 10, 1 };
	check_eq("%d", lt_fmt_class_of_hist(hist, 3, 0.9), 1);
	check_eq("%d", lt_fmt_class_of_hist(hist, 3, 0.5), 0);
	check_eq("%d", lt_fmt_class_of_hist(hist, 3, 1.0), 2);
	double none[3] = { 0, 0, 0 };
	check_eq("%d", lt_fmt_class_of_hist(none, 3, 0.9), -1);
	uint64_t b[2] = { 10, 100 };
	check_eq("%u", lt_fmt_class_of(10, b, 3), 0u);
	check_eq("%u", lt_fmt_class_of(11, b, 3), 1u);
	check_eq("%u", lt_fmt_class_of(UINT64_MAX, b, 3), 2u);
}

static uint32_t toks[32];
static unsigned ntoks;
static void add_tok(uint32_t h, void *ctx)
{
	(void)ctx;
	if (ntoks < 32)
		toks[ntoks++] = h;
}

TEST(lifetime_tokenizer)
{
	const char *t = "exe:site_session_open;libc.so.6:mainLoop;?:?";
	ntoks = 0;
	unsigned n = lt_fmt_tokenize(t, strlen(t), add_tok, NULL);
	// site, session, open (frame 0), main, loop (frame 1), each plain and
	// frame-tagged; module names are skipped.
	check_eq("%u", n, 10u);
	check(toks[0] == lt_fmt_token_hash("site", 4, 0));
	check(toks[1] == lt_fmt_token_hash("site", 4, 1));
	check(toks[1] != toks[0]);
	check(toks[6] == lt_fmt_token_hash("main", 4, 0));
	check(toks[7] == lt_fmt_token_hash("main", 4, 2));
	check(toks[8] == lt_fmt_token_hash("Loop", 4, 0));
}

TEST(lifetime_model_format)
{
	unsigned char buf[LT_FMT_MODEL_TOKENS_AT + 2 * LT_FMT_MODEL_REC];
	memset(buf, 0, sizeof(buf));
	lt_fmt_header_t h;
	memset(&h, 0, sizeof(h));
	memcpy(h.magic, "ASLTMDL", 8);
	h.version = 1;
	h.nclasses = 2;
	h.bound_ns[0] = 1000;
	h.count = 2;
	memcpy(buf, &h, sizeof(h));
	char err[200];
	lt_fmt_header_t out;
	check(lt_fmt_model_check(buf, sizeof(buf), &out, err, sizeof(err)));
	check(!lt_fmt_model_check(buf, sizeof(buf) - 1, &out, err, sizeof(err)));
	check(strstr(err, "truncated") != NULL);
	check(!lt_fmt_profile_walk(buf, sizeof(buf), &out, NULL, NULL, err, sizeof(err)));
}

TEST(lifetime_validate_detects_corruption)
{
	check(lt_init());
	void *p = la(48);
	check(p != NULL);
	lt_region_t *r = lt_region_of(p);
	lt_block_t *b = r->blocks[((uintptr_t)p - (uintptr_t)r->base) / LT_BLOCK].head;
	char why[200];
	check_eq("%u", lt_validate(why, sizeof(why)), 0u);
	b->nfree++; // the private list no longer matches its count
	unsigned bad = lt_validate(why, sizeof(why));
	b->nfree--;
	check(bad > 0);
	check(strstr(why, "counters") != NULL);
	check_eq("%u", lt_validate(why, sizeof(why)), 0u);
	lt_free(p);
}
