// SPDX-License-Identifier: MIT
// libFuzzer target: differential fuzzing of every frame allocator in the
// build against a reference model (a bitmap of allocated frames and the
// list of held blocks). The input decodes to a sequence of operations on a
// small memory (FZ_FRAMES frames, FZ_CORES cores):
//   op 0  get(core, order)      success must be in range, aligned, and free
//                               in the model; errors are allowed (MEMORY,
//                               RETRY) but never a crash or a hang
//   op 1  put of a held block   must succeed
//   op 2  invalid put           a block free in the model, a misaligned
//                               frame, a frame out of range, or order 11:
//                               must be FRAME_ERR_ARGUMENT and change nothing
//                               (stats before == after)
//   op 3  drain(core)
// After every invalid put, and at the end, validate must pass and
// stats.free_frames must equal the model's free frames; at the end every
// held block is put back and the allocator must be entirely free.
// Build: make fuzz (clang -fsanitize=fuzzer,address); see tests/README.md.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"

#define FZ_FRAMES 4096u
#define FZ_CORES 2u
#define FZ_MAX_HELD 4096u

typedef struct fz_block_s {
	uint64_t frame;
	unsigned order;
} fz_block_t;

static uint8_t fz_used[FZ_FRAMES];
static fz_block_t fz_held[FZ_MAX_HELD];
static unsigned fz_nheld;
static uint64_t fz_free;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fz_fail(const char *alloc, const char *what, uint64_t frame, unsigned order)
{
	fprintf(stderr, "fuzz_frame: %s: %s (frame %llu, order %u)\n", alloc, what,
		(unsigned long long)frame, order);
	abort();
}

static void fz_check_state(const struct frame_ops *ops, frame_alloc_t *fa, const char *when)
{
	char why[256];
	frame_stats_t st;
	if (!ops->validate(fa, why, sizeof(why))) {
		fprintf(stderr, "fuzz_frame: %s: validate %s: %s\n", ops->name, when, why);
		abort();
	}
	ops->stats(fa, &st);
	if (st.free_frames != fz_free) {
		fprintf(stderr, "fuzz_frame: %s: %s: stats free %llu, model %llu\n", ops->name, when,
			(unsigned long long)st.free_frames, (unsigned long long)fz_free);
		abort();
	}
}

static bool fz_range_free(uint64_t f, unsigned order)
{
	for (uint64_t x = f; x < f + (1ull << order); x++)
		if (fz_used[x])
			return false;
	return true;
}

static void fz_mark(uint64_t f, unsigned order, uint8_t v)
{
	memset(&fz_used[f], v, (size_t)1 << order);
}

static void fz_run(const struct frame_ops *ops, const uint8_t *d, size_t n)
{
	char err[256];
	frame_config_t cfg = { .frames = FZ_FRAMES, .cores = FZ_CORES, .options = NULL };
	frame_alloc_t *fa = ops->create(&cfg, err, sizeof(err));
	if (!fa)
		fz_fail(ops->name, err, 0, 0);
	memset(fz_used, 0, sizeof(fz_used));
	fz_nheld = 0;
	fz_free = FZ_FRAMES;
	size_t i = 0;
	while (i + 2 < n) {
		uint8_t op = d[i], a = d[i + 1], b = d[i + 2];
		i += 3;
		unsigned core = (op >> 2) % FZ_CORES;
		switch (op & 3) {
		case 0: {
			unsigned order = a % (FRAME_MAX_ORDER + 1);
			frame_result_t r = ops->get(fa, core, order);
			if (r.err != FRAME_OK)
				break;
			if (r.frame + (1ull << order) > FZ_FRAMES || (r.frame & ((1ull << order) - 1)) ||
			    !fz_range_free(r.frame, order))
				fz_fail(ops->name, "get returned a bad or allocated block", r.frame, order);
			if (fz_nheld == FZ_MAX_HELD)
				fz_fail(ops->name, "more blocks than frames", r.frame, order);
			fz_mark(r.frame, order, 1);
			fz_held[fz_nheld++] = (fz_block_t){ r.frame, order };
			fz_free -= 1ull << order;
			break;
		}
		case 1: {
			if (!fz_nheld)
				break;
			unsigned k = (unsigned)(a | b << 8) % fz_nheld;
			fz_block_t blk = fz_held[k];
			fz_held[k] = fz_held[--fz_nheld];
			fz_mark(blk.frame, blk.order, 0);
			if (ops->put(fa, core, blk.frame, blk.order) != FRAME_OK)
				fz_fail(ops->name, "put of a held block failed", blk.frame, blk.order);
			fz_free += 1ull << blk.order;
			break;
		}
		case 2: {
			unsigned kind = a % 4, order = b % (FRAME_MAX_ORDER + 1);
			uint64_t f = ((uint64_t)a << 8 | b) * 2654435761u % FZ_FRAMES;
			if (kind == 0) { // a block entirely free in the model
				f &= ~((1ull << order) - 1);
				if (!fz_range_free(f, order))
					break;
			} else if (kind == 1) { // misaligned
				if (order == 0)
					order = 1;
				f = (f & ~((1ull << order) - 1)) + 1;
			} else if (kind == 2) { // out of range
				f = FZ_FRAMES + f;
			} else { // bad order
				order = FRAME_MAX_ORDER + 1;
				f = 0;
			}
			frame_err_t e = ops->put(fa, core, f, order);
			if (e != FRAME_ERR_ARGUMENT)
				fz_fail(ops->name, "invalid put not rejected", f, order);
			fz_check_state(ops, fa, "after an invalid put");
			break;
		}
		default:
			ops->drain(fa, core);
			break;
		}
	}
	for (unsigned c = 0; c < FZ_CORES; c++)
		ops->drain(fa, c);
	fz_check_state(ops, fa, "at the end");
	while (fz_nheld) {
		fz_block_t blk = fz_held[--fz_nheld];
		if (ops->put(fa, 0, blk.frame, blk.order) != FRAME_OK)
			fz_fail(ops->name, "final put failed", blk.frame, blk.order);
		fz_mark(blk.frame, blk.order, 0);
		fz_free += 1ull << blk.order;
	}
	for (unsigned c = 0; c < FZ_CORES; c++)
		ops->drain(fa, c);
	fz_check_state(ops, fa, "after freeing everything");
	ops->destroy(fa);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	for (const struct frame_ops *const *p = frame_allocators; *p; p++)
		fz_run(*p, data, size);
	return 0;
}
