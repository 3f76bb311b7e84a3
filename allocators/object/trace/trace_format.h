// SPDX-License-Identifier: MIT
// The allocation-trace file format, written by liballocscope-trace.so and
// read (header-only, so every reader agrees) by the replay workload, the
// offline tools and the tests. Little-endian; every record starts at an
// 8-byte boundary.
//
//   header (32 B)  char magic[8] "ASTRACE"; u32 version (1);
//                  u32 clock_unit_ns (1: times are ns); u64 t0_ns
//                  (CLOCK_MONOTONIC at start); u64 reserved (0)
//   ALLOC  (32 B)  u8 type 1; u8 align_log2 (0 = malloc); u16 thread;
//                  u32 site; u64 id; u64 size; u64 time_ns (since t0)
//   FREE   (24 B)  u8 type 2; u8 0; u16 thread; u32 0; u64 id; u64 time_ns
//   SITE   (16 B + text, padded to 8)
//                  u8 type 3; u8 nframes; u16 textlen; u32 site;
//                  u64 site_id (run-independent hash of the stack);
//                  char text[textlen] ("module:function;..." innermost first)
// Records from different threads arrive in per-thread chunks, so the file
// is not in global time order: readers sort by time. A SITE record always
// precedes the first ALLOC that names it in the same thread's chunk.
#ifndef AS_TRACE_FORMAT_H
#define AS_TRACE_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define TR_VERSION 1
#define TR_HEADER 32
#define TR_ALLOC 1
#define TR_FREE 2
#define TR_SITE 3
#define TR_ALLOC_BYTES 32
#define TR_FREE_BYTES 24
#define TR_SITE_FIXED 16

typedef struct tr_header_s {
	char magic[8];
	uint32_t version;
	uint32_t clock_unit_ns;
	uint64_t t0_ns;
	uint64_t reserved;
} tr_header_t;

typedef struct tr_alloc_s {
	uint8_t type;
	uint8_t align_log2;
	uint16_t thread;
	uint32_t site;
	uint64_t id;
	uint64_t size;
	uint64_t time_ns;
} tr_alloc_t;

typedef struct tr_free_s {
	uint8_t type;
	uint8_t pad;
	uint16_t thread;
	uint32_t pad2;
	uint64_t id;
	uint64_t time_ns;
} tr_free_t;

typedef struct tr_site_s {
	uint8_t type;
	uint8_t nframes;
	uint16_t textlen;
	uint32_t site;
	uint64_t site_id;
} tr_site_t;

_Static_assert(sizeof(tr_header_t) == TR_HEADER, "trace header layout");
_Static_assert(sizeof(tr_alloc_t) == TR_ALLOC_BYTES, "trace alloc layout");
_Static_assert(sizeof(tr_free_t) == TR_FREE_BYTES, "trace free layout");
_Static_assert(sizeof(tr_site_t) == TR_SITE_FIXED, "trace site layout");

static inline size_t tr_site_bytes(uint16_t textlen)
{
	return (TR_SITE_FIXED + (size_t)textlen + 7) & ~(size_t)7;
}

/// Callbacks of tr_walk (any may be NULL). `text` points into the image.
typedef struct tr_visitor_s {
	void (*alloc)(const tr_alloc_t *a, void *ctx);
	void (*free)(const tr_free_t *f, void *ctx);
	void (*site)(const tr_site_t *s, const char *text, void *ctx);
	void *ctx;
} tr_visitor_t;

/// Validate and walk a trace image. False with "offset N: reason" in err
/// when the header is wrong or a record is unknown or truncated, or a field
/// the writer always zeroes (header reserved, free padding, the padding
/// after a site's text) is not zero; the callbacks have then seen the
/// records before offset N. A site's `text` holds textlen bytes inside the
/// image and is not NUL-terminated.
static inline bool tr_walk(const unsigned char *buf, size_t len, tr_header_t *h,
			   const tr_visitor_t *v, char *err, size_t errlen)
{
	if (len < TR_HEADER) {
		snprintf(err, errlen, "offset %zu: truncated header (%zu of %d bytes)", len, len,
			 TR_HEADER);
		return false;
	}
	memcpy(h, buf, sizeof(*h));
	if (memcmp(h->magic, "ASTRACE", 8) != 0) {
		snprintf(err, errlen, "offset 0: bad magic (not an allocscope trace)");
		return false;
	}
	if (h->version != TR_VERSION) {
		snprintf(err, errlen, "offset 8: unsupported version %u (want %d)", h->version,
			 TR_VERSION);
		return false;
	}
	if (h->clock_unit_ns != 1) {
		snprintf(err, errlen, "offset 12: unsupported clock unit %u ns", h->clock_unit_ns);
		return false;
	}
	if (h->reserved != 0) {
		snprintf(err, errlen, "offset 24: reserved field not zero");
		return false;
	}
	size_t off = TR_HEADER;
	while (off < len) {
		uint8_t type = buf[off];
		if (type == TR_ALLOC) {
			if (off + TR_ALLOC_BYTES > len)
				goto truncated;
			tr_alloc_t a;
			memcpy(&a, buf + off, sizeof(a));
			if (a.size == 0 || a.align_log2 > 30) {
				snprintf(err, errlen, "offset %zu: alloc record with %s", off,
					 a.size ? "alignment beyond 2^30" : "size 0");
				return false;
			}
			if (v && v->alloc)
				v->alloc(&a, v->ctx);
			off += TR_ALLOC_BYTES;
		} else if (type == TR_FREE) {
			if (off + TR_FREE_BYTES > len)
				goto truncated;
			tr_free_t f;
			memcpy(&f, buf + off, sizeof(f));
			if (f.pad || f.pad2) {
				snprintf(err, errlen, "offset %zu: free record with nonzero padding", off);
				return false;
			}
			if (v && v->free)
				v->free(&f, v->ctx);
			off += TR_FREE_BYTES;
		} else if (type == TR_SITE) {
			if (off + TR_SITE_FIXED > len)
				goto truncated;
			tr_site_t s;
			memcpy(&s, buf + off, sizeof(s));
			size_t rec = tr_site_bytes(s.textlen);
			if (off + rec > len)
				goto truncated;
			for (size_t i = TR_SITE_FIXED + s.textlen; i < rec; i++)
				if (buf[off + i]) {
					snprintf(err, errlen, "offset %zu: site record with nonzero padding", off);
					return false;
				}
			if (v && v->site)
				v->site(&s, (const char *)buf + off + TR_SITE_FIXED, v->ctx);
			off += rec;
		} else {
			snprintf(err, errlen, "offset %zu: unknown record type %u", off, type);
			return false;
		}
	}
	return true;
truncated:
	snprintf(err, errlen, "offset %zu: truncated record (file ends at %zu)", off, len);
	return false;
}

#endif
