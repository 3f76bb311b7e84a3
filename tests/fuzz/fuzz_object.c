// SPDX-License-Identifier: MIT
// libFuzzer target: an object allocator's backend (compiled against
// allocators/object/NAME/backend.h, the contract of
// allocators/object/preload/backend_contract.h) driven by a byte string
// decoded as malloc / free / aligned / realloc-by-copy sequences. Every
// block is filled with a pattern unique to its slot and checked before it is
// freed or copied, so overlapping blocks, blocks handed out twice and
// corrupted metadata show up as content mismatches; usable_size must cover
// the request, aligned blocks must be aligned. Ops per 4 bytes:
//   0 malloc(size)  1 free(slot)  2 aligned(1 << (4..16), size)
//   3 realloc(slot, size): new block, copy min(old, new), free old
// Sizes come from 2 bytes, scaled to 0..64 KiB with a bias to small ones.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"

#define FO_SLOTS 64u

typedef struct fo_slot_s {
	unsigned char *p;
	size_t size;
	unsigned char tag;
} fo_slot_t;

static fo_slot_t fo_slot[FO_SLOTS];
static unsigned char fo_next_tag = 1;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fo_die(const char *what, size_t a, size_t b)
{
	fprintf(stderr, "fuzz_object: %s (%zu, %zu)\n", what, a, b);
	abort();
}

static size_t fo_size(uint8_t a, uint8_t b)
{
	unsigned v = (unsigned)a << 8 | b;
	switch (v >> 14) {
	case 0: return v & 63;           // tiny, including 0
	case 1: return v & 1023;         // small
	case 2: return v & 16383;        // medium
	default: return (size_t)(v & 16383) * 4; // up to 64 KiB
	}
}

static void fo_fill(fo_slot_t *s)
{
	s->tag = fo_next_tag++;
	if (!s->tag)
		s->tag = fo_next_tag++;
	for (size_t i = 0; i < s->size; i++)
		s->p[i] = (unsigned char)(s->tag + i * 7);
}

static void fo_check(const fo_slot_t *s)
{
	for (size_t i = 0; i < s->size; i++)
		if (s->p[i] != (unsigned char)(s->tag + i * 7))
			fo_die("block content changed while owned (overlap or metadata write)", s->size, i);
}

static void fo_got(fo_slot_t *s, void *p, size_t size, size_t align)
{
	if (!p)
		fo_die("allocation failed", size, align);
	if (align && ((uintptr_t)p & (align - 1)))
		fo_die("misaligned block", (size_t)p, align);
	if (backend_usable_size(p) < size)
		fo_die("usable_size below the request", backend_usable_size(p), size);
	s->p = p;
	s->size = size;
	fo_fill(s);
}

static void fo_release(fo_slot_t *s)
{
	if (!s->p)
		return;
	fo_check(s);
	backend_free(s->p);
	s->p = NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int inited;
	if (!inited) {
		if (!backend_init())
			fo_die("backend_init failed", 0, 0);
		inited = 1;
	}
	for (size_t i = 0; i + 3 < size; i += 4) {
		uint8_t op = data[i] & 3;
		fo_slot_t *s = &fo_slot[(data[i] >> 2) % FO_SLOTS];
		size_t n = fo_size(data[i + 2], data[i + 3]);
		switch (op) {
		case 0:
			fo_release(s);
			fo_got(s, backend_malloc(n), n, 0);
			break;
		case 1:
			fo_release(s);
			break;
		case 2: {
			size_t align = (size_t)1 << (4 + data[i + 1] % 13);
			fo_release(s);
			fo_got(s, backend_aligned(align, n), n, align);
			break;
		}
		default: {
			fo_slot_t old = *s;
			if (old.p)
				fo_check(&old);
			unsigned char *p = backend_malloc(n);
			if (!p)
				fo_die("allocation failed", n, 0);
			size_t keep = old.p && old.size < n ? old.size : (old.p ? n : 0);
			if (keep)
				memcpy(p, old.p, keep);
			if (old.p)
				backend_free(old.p);
			for (size_t k = 0; k < keep; k++)
				if (p[k] != (unsigned char)(old.tag + k * 7))
					fo_die("copied content changed", k, keep);
			fo_got(s, p, n, 0);
			break;
		}
		}
	}
	for (unsigned k = 0; k < FO_SLOTS; k++)
		fo_release(&fo_slot[k]);
	return 0;
}
