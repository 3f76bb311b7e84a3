// SPDX-License-Identifier: MIT
// Bad calls and exhaustion, for every frame allocator in the build
// (frame_allocators), issue 5 "Correctness": put of a frame that is free,
// double put, a frame misaligned for the order, order > 10, a frame out of
// range, and get when memory is exhausted must each return an error (not
// crash, not hang) and leave the allocator unchanged: validate passes and
// stats and free_counts are the same before and after the call.
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "as/meta.h"
#include "frame.h"
#include "test.h"

#define TB_FRAMES 4096 // 16 MiB
#define TB_CORES 2

typedef struct tb_snap_s {
	frame_stats_t s;
	uint16_t counts[TB_FRAMES / FRAME_HUGE_FRAMES];
} tb_snap_t;

static void tb_snap(const struct frame_ops *ops, frame_alloc_t *fa, tb_snap_t *out)
{
	memset(out, 0, sizeof(*out));
	ops->stats(fa, &out->s);
	ops->free_counts(fa, out->counts);
}

/// Same state as `before` and validate passes; else a message in why.
static bool tb_unchanged(const struct frame_ops *ops, frame_alloc_t *fa, const tb_snap_t *before,
			 char *why, size_t len)
{
	tb_snap_t now;
	tb_snap(ops, fa, &now);
	if (now.s.free_frames != before->s.free_frames || now.s.free_huge != before->s.free_huge ||
	    now.s.frames != before->s.frames) {
		snprintf(why, len, "stats changed: free %llu -> %llu, huge %llu -> %llu",
			 (unsigned long long)before->s.free_frames,
			 (unsigned long long)now.s.free_frames,
			 (unsigned long long)before->s.free_huge,
			 (unsigned long long)now.s.free_huge);
		return false;
	}
	if (memcmp(now.counts, before->counts, sizeof(now.counts))) {
		snprintf(why, len, "free_counts changed");
		return false;
	}
	char v[256] = "";
	if (!ops->validate(fa, v, sizeof(v))) {
		snprintf(why, len, "validate: %s", v);
		return false;
	}
	return true;
}

static void tb_alarm(int sig)
{
	(void)sig;
	static const char msg[] = "test_frame_bad: a call hung for 60 s\n";
	if (write(2, msg, sizeof(msg) - 1) < 0) {
		// nothing more we can do from a signal handler
	}
	_exit(1);
}

// One bad put per case: (frame, order) must give an error, change nothing.
typedef struct tb_case_s {
	const char *what;
	uint64_t frame;
	unsigned order;
} tb_case_t;

static bool tb_bad_put(const struct frame_ops *ops, frame_alloc_t *fa, const tb_case_t *c,
		       char *why, size_t len)
{
	tb_snap_t before;
	char inner[256];
	tb_snap(ops, fa, &before);
	for (unsigned core = 0; core < TB_CORES; core++) {
		frame_err_t e = ops->put(fa, core, c->frame, c->order);
		if (e == FRAME_OK) {
			snprintf(why, len, "%s: put(core %u, frame %llu, order %u) returned ok",
				 c->what, core, (unsigned long long)c->frame, c->order);
			return false;
		}
		if (!tb_unchanged(ops, fa, &before, inner, sizeof(inner))) {
			snprintf(why, len, "%s: put(frame %llu, order %u) erred but %s", c->what,
				 (unsigned long long)c->frame, c->order, inner);
			return false;
		}
	}
	return true;
}

static bool tb_get_ok(const struct frame_ops *ops, frame_alloc_t *fa, unsigned core,
		      unsigned order, uint64_t *out, char *why, size_t len)
{
	frame_result_t r = ops->get(fa, core, order);
	if (r.err != FRAME_OK) {
		snprintf(why, len, "get(order %u) on a nearly empty memory: %s", order,
			 frame_strerror(r.err));
		return false;
	}
	*out = r.frame;
	return true;
}

/// Bad puts and bad gets on a memory with a few blocks live.
static bool tb_bad_calls(const struct frame_ops *ops, char *why, size_t len)
{
	char err[256] = "";
	frame_config_t cfg = { .frames = TB_FRAMES, .cores = TB_CORES, .options = NULL };
	frame_alloc_t *fa = ops->create(&cfg, err, sizeof(err));
	if (!fa) {
		snprintf(why, len, "create: %s", err);
		return false;
	}
	bool ok = false;
	uint64_t a, b, h, d;
	if (!tb_get_ok(ops, fa, 0, 0, &a, why, len) || !tb_get_ok(ops, fa, 1, 3, &b, why, len) ||
	    !tb_get_ok(ops, fa, 0, 9, &h, why, len) || !tb_get_ok(ops, fa, 1, 0, &d, why, len))
		goto out;
	// d is put once (fine), then again (double put). Its frame may now sit
	// in core 1's per-core cache: the allocator must still refuse it.
	if (ops->put(fa, 1, d, 0) != FRAME_OK) {
		snprintf(why, len, "first put of a live order-0 block failed");
		goto out;
	}
	// A frame that was never handed out: the last frame of the memory
	// unless a live block covers it.
	uint64_t never = TB_FRAMES - 1;
	if ((never >= h && never < h + 512) || (never >= b && never < b + 8) || never == a)
		never = TB_FRAMES / 2 + 1;
	const tb_case_t cases[] = {
		{ "double put", d, 0 },
		{ "put of a free frame", never, 0 },
		{ "misaligned for the order", b + 1, 3 },
		{ "misaligned huge frame", h + 8, 9 },
		{ "order > 10", h, 11 },
		{ "order 255", a, 255 },
		{ "frame out of range", TB_FRAMES, 0 },
		{ "frame far out of range", TB_FRAMES + 4096, 3 },
		{ "frame near UINT64_MAX", UINT64_MAX - 7, 3 },
	};
	for (unsigned i = 0; i < AS_ARRAY_LEN(cases); i++)
		if (!tb_bad_put(ops, fa, &cases[i], why, len))
			goto out;
	tb_snap_t before;
	char inner[256];
	tb_snap(ops, fa, &before);
	frame_result_t r = ops->get(fa, 0, FRAME_MAX_ORDER + 1);
	if (r.err == FRAME_OK || !tb_unchanged(ops, fa, &before, inner, sizeof(inner))) {
		snprintf(why, len, "get(order 11): %s",
			 r.err == FRAME_OK ? "returned ok" : inner);
		goto out;
	}
	// The live blocks still go back normally.
	if (ops->put(fa, 0, a, 0) || ops->put(fa, 0, b, 3) || ops->put(fa, 1, h, 9)) {
		snprintf(why, len, "put of a live block failed after the bad calls");
		goto out;
	}
	for (unsigned c = 0; c < TB_CORES; c++)
		ops->drain(fa, c);
	tb_snap(ops, fa, &before);
	if (before.s.free_frames != TB_FRAMES || before.s.free_huge != TB_FRAMES / 512) {
		snprintf(why, len, "at the end %llu frames, %llu huge frames free",
			 (unsigned long long)before.s.free_frames,
			 (unsigned long long)before.s.free_huge);
		goto out;
	}
	ok = tb_unchanged(ops, fa, &before, why, len);
out:
	ops->destroy(fa);
	return ok;
}

/// Exhaust memory from one core at `order`: every frame must come out, then
/// gets fail (promptly) with FRAME_ERR_MEMORY and change nothing.
static bool tb_exhaust(const struct frame_ops *ops, unsigned order, char *why, size_t len)
{
	char err[256] = "";
	frame_config_t cfg = { .frames = TB_FRAMES, .cores = TB_CORES, .options = NULL };
	frame_alloc_t *fa = ops->create(&cfg, err, sizeof(err));
	if (!fa) {
		snprintf(why, len, "create: %s", err);
		return false;
	}
	bool ok = false;
	uint64_t n = TB_FRAMES >> order;
	uint64_t *got = as_meta_alloc(sizeof(uint64_t) * n, 64);
	uint8_t *seen = as_meta_alloc(TB_FRAMES, 64);
	uint64_t k = 0;
	frame_result_t r = { 0, FRAME_OK };
	for (; k <= n; k++) {
		r = ops->get(fa, 0, order);
		for (unsigned tries = 0; r.err == FRAME_ERR_RETRY && tries < 100; tries++)
			r = ops->get(fa, 0, order);
		if (r.err != FRAME_OK)
			break;
		if (k == n || r.frame + (1ULL << order) > TB_FRAMES ||
		    (r.frame & ((1ULL << order) - 1)) || seen[r.frame]) {
			snprintf(why, len, "order %u: get %llu returned frame %llu: %s", order,
				 (unsigned long long)k, (unsigned long long)r.frame,
				 k == n ? "more blocks than memory holds" :
					  "out of range, misaligned or twice");
			goto out;
		}
		seen[r.frame] = 1;
		got[k] = r.frame;
	}
	if (k != n || r.err != FRAME_ERR_MEMORY) {
		snprintf(why, len, "order %u from one core: %llu of %llu blocks before %s", order,
			 (unsigned long long)k, (unsigned long long)n, frame_strerror(r.err));
		goto out;
	}
	tb_snap_t before;
	char inner[256];
	tb_snap(ops, fa, &before);
	if (before.s.free_frames != 0) {
		snprintf(why, len, "order %u: exhausted but stats.free_frames = %llu", order,
			 (unsigned long long)before.s.free_frames);
		goto out;
	}
	for (unsigned o = 0; o <= FRAME_MAX_ORDER; o++)
		for (unsigned core = 0; core < TB_CORES; core++) {
			r = ops->get(fa, core, o);
			if (r.err == FRAME_OK || !tb_unchanged(ops, fa, &before, inner, sizeof(inner))) {
				snprintf(why, len, "order %u exhausted, then get(core %u, order %u): %s",
					 order, core, o, r.err == FRAME_OK ? "returned ok" : inner);
				goto out;
			}
		}
	for (uint64_t i = 0; i < n; i++)
		if (ops->put(fa, (unsigned)(i % TB_CORES), got[i], order) != FRAME_OK) {
			snprintf(why, len, "order %u: put back of block %llu failed", order,
				 (unsigned long long)i);
			goto out;
		}
	for (unsigned c = 0; c < TB_CORES; c++)
		ops->drain(fa, c);
	tb_snap(ops, fa, &before);
	ok = before.s.free_frames == TB_FRAMES && before.s.free_huge == TB_FRAMES / 512 &&
	     tb_unchanged(ops, fa, &before, why, len);
	if (!ok && !why[0])
		snprintf(why, len, "order %u: after putting all back %llu frames free", order,
			 (unsigned long long)before.s.free_frames);
out:
	as_meta_free(got, sizeof(uint64_t) * n, 64);
	as_meta_free(seen, TB_FRAMES, 64);
	ops->destroy(fa);
	return ok;
}

TEST(frame_bad_calls_all)
{
	char why[512];
	unsigned n = 0;
	signal(SIGALRM, tb_alarm);
	alarm(60);
	for (const struct frame_ops *const *o = frame_allocators; *o; o++, n++) {
		why[0] = '\0';
		if (!tb_bad_calls(*o, why, sizeof(why)))
			check_fail("%s: %s", (*o)->name, why);
		printf("  bad calls: %s refused all and stayed unchanged\n", (*o)->name);
	}
	alarm(0);
	printf("  bad-call test ran on %u frame allocators\n", n);
}

TEST(frame_exhaustion_all)
{
	static const unsigned orders[] = { 0, 3, 9, 10 };
	char why[512];
	unsigned n = 0;
	signal(SIGALRM, tb_alarm);
	alarm(60);
	for (const struct frame_ops *const *o = frame_allocators; *o; o++, n++) {
		for (unsigned i = 0; i < AS_ARRAY_LEN(orders); i++) {
			why[0] = '\0';
			if (!tb_exhaust(*o, orders[i], why, sizeof(why)))
				check_fail("%s: %s", (*o)->name, why);
		}
		printf("  exhaustion: %s gave out all memory at orders 0, 3, 9, 10, then refused\n",
		       (*o)->name);
	}
	alarm(0);
	printf("  exhaustion test ran on %u frame allocators\n", n);
}
