// SPDX-License-Identifier: MIT
// File formats shared by the lifetime allocator (reader, in the malloc path:
// no allocation) and the offline tools (writers: lt-profile, lt-train), plus
// the frame-symbol tokenizer of the model predictor and the rule that turns
// a lifetime histogram into a class. Header-only so the allocator, tools and
// tests agree without sharing objects.
//
// Profile file (little-endian, all offsets 8-byte aligned):
//   0   char magic[8] "ASLTPRF"      8  u32 version (1)   12 u32 nclasses
//   16  u64 bound_ns[7] (class i holds lifetimes <= bound_ns[i]; the last
//       class is unbounded; unused slots 0)
//   72  u32 nsites   76 u32 reserved (0)
//   80  nsites records: u64 site_id, u32 count[nclasses], u16 textlen,
//       char text[textlen] (frame symbols), zero padding to 8 bytes
// Model file (a naive-Bayes classifier over frame-symbol tokens):
//   0   char magic[8] "ASLTMDL"      8  u32 version (1)   12 u32 nclasses
//   16  u64 bound_ns[7]   72 u32 ntokens   76 u32 reserved (0)
//   80  float logprior[8]   112 float logunknown[8]
//   144 ntokens records: u32 token_hash, float loglik[8]  (36 bytes each)
#ifndef AS_LT_FORMAT_H
#define AS_LT_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define LT_FMT_MAX_CLASSES 8
#define LT_FMT_VERSION 1
#define LT_FMT_HEADER 80
#define LT_FMT_MODEL_TOKENS_AT 144
#define LT_FMT_MODEL_REC 36

typedef struct lt_fmt_header_s {
	char magic[8];
	uint32_t version;
	uint32_t nclasses;
	uint64_t bound_ns[LT_FMT_MAX_CLASSES - 1];
	uint32_t count; ///< sites or tokens
	uint32_t reserved;
} lt_fmt_header_t;

_Static_assert(sizeof(lt_fmt_header_t) == LT_FMT_HEADER, "profile header layout");

/// One parsed profile site (text points into the file image).
typedef struct lt_fmt_site_s {
	uint64_t id;
	uint32_t count[LT_FMT_MAX_CLASSES];
	const char *text;
	uint16_t textlen;
} lt_fmt_site_t;

static inline uint64_t lt_fmt_rd64(const unsigned char *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

static inline uint32_t lt_fmt_rd32(const unsigned char *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

/// Check a header of `kind` ("ASLTPRF" or "ASLTMDL"); on error write
/// "offset N: reason" into err and return false.
static inline bool lt_fmt_check_header(const unsigned char *buf, size_t len, const char *kind,
				       lt_fmt_header_t *h, char *err, size_t errlen)
{
	if (len < LT_FMT_HEADER) {
		snprintf(err, errlen, "offset %zu: truncated header (%zu of %d bytes)", len, len,
			 LT_FMT_HEADER);
		return false;
	}
	memcpy(h, buf, sizeof(*h));
	if (memcmp(h->magic, kind, strlen(kind) + 1) != 0) {
		snprintf(err, errlen, "offset 0: bad magic (not a %s file)", kind);
		return false;
	}
	if (h->version != LT_FMT_VERSION) {
		snprintf(err, errlen, "offset 8: unsupported version %u (want %d)", h->version,
			 LT_FMT_VERSION);
		return false;
	}
	if (h->nclasses < 1 || h->nclasses > LT_FMT_MAX_CLASSES) {
		snprintf(err, errlen, "offset 12: class count %u out of range [1, %d]", h->nclasses,
			 LT_FMT_MAX_CLASSES);
		return false;
	}
	for (uint32_t i = 0; i + 1 < h->nclasses; i++) {
		if (h->bound_ns[i] == 0 || (i && h->bound_ns[i] <= h->bound_ns[i - 1])) {
			snprintf(err, errlen, "offset %u: class bounds not increasing",
				 16 + 8 * i);
			return false;
		}
	}
	for (uint32_t i = h->nclasses - 1; i < LT_FMT_MAX_CLASSES - 1; i++) {
		if (h->bound_ns[i] != 0) {
			snprintf(err, errlen, "offset %u: unused class bound not zero", 16 + 8 * i);
			return false;
		}
	}
	if (h->reserved != 0) {
		snprintf(err, errlen, "offset 76: reserved field not zero");
		return false;
	}
	return true;
}

static inline size_t lt_fmt_site_bytes(uint32_t nclasses, uint16_t textlen)
{
	size_t b = 8 + 4 * (size_t)nclasses + 2 + textlen;
	return (b + 7) & ~(size_t)7;
}

/// Walk a profile image: calls fn(site, ctx) for each site; false (with
/// "offset N: reason" in err) when the image is malformed or truncated, or
/// the zero padding after a site's text is not zero; fn has then seen the
/// sites before offset N. A site's text holds textlen bytes inside the
/// image and is not NUL-terminated.
static inline bool lt_fmt_profile_walk(const unsigned char *buf, size_t len, lt_fmt_header_t *h,
				       void (*fn)(const lt_fmt_site_t *, void *), void *ctx,
				       char *err, size_t errlen)
{
	if (!lt_fmt_check_header(buf, len, "ASLTPRF", h, err, errlen))
		return false;
	size_t off = LT_FMT_HEADER;
	for (uint32_t i = 0; i < h->count; i++) {
		size_t fixed = 8 + 4 * (size_t)h->nclasses + 2;
		if (off + fixed > len) {
			snprintf(err, errlen, "offset %zu: truncated site record %u of %u", off, i,
				 h->count);
			return false;
		}
		lt_fmt_site_t s;
		memset(&s, 0, sizeof(s));
		s.id = lt_fmt_rd64(buf + off);
		for (uint32_t c = 0; c < h->nclasses; c++)
			s.count[c] = lt_fmt_rd32(buf + off + 8 + 4 * c);
		memcpy(&s.textlen, buf + off + fixed - 2, 2);
		size_t rec = lt_fmt_site_bytes(h->nclasses, s.textlen);
		if (off + rec > len) {
			snprintf(err, errlen, "offset %zu: truncated site record %u of %u", off, i,
				 h->count);
			return false;
		}
		if (s.id == 0) {
			snprintf(err, errlen, "offset %zu: site id 0 is reserved", off);
			return false;
		}
		for (size_t b = fixed + s.textlen; b < rec; b++) {
			if (buf[off + b]) {
				snprintf(err, errlen, "offset %zu: site record with nonzero padding", off);
				return false;
			}
		}
		s.text = (const char *)buf + off + fixed;
		if (fn)
			fn(&s, ctx);
		off += rec;
	}
	if (off != len) {
		snprintf(err, errlen, "offset %zu: %zu trailing bytes after %u sites", off, len - off,
			 h->count);
		return false;
	}
	return true;
}

/// Check a model image; on success the token table is at
/// buf + LT_FMT_MODEL_TOKENS_AT with h->count records.
static inline bool lt_fmt_model_check(const unsigned char *buf, size_t len, lt_fmt_header_t *h,
				      char *err, size_t errlen)
{
	if (!lt_fmt_check_header(buf, len, "ASLTMDL", h, err, errlen))
		return false;
	size_t need = LT_FMT_MODEL_TOKENS_AT + (size_t)h->count * LT_FMT_MODEL_REC;
	if (len < need) {
		snprintf(err, errlen, "offset %zu: truncated token table (%u tokens need %zu bytes)",
			 len, h->count, need);
		return false;
	}
	if (len != need) {
		snprintf(err, errlen, "offset %zu: %zu trailing bytes", need, len - need);
		return false;
	}
	return true;
}

/// Lifetime class of a histogram: the smallest class whose cumulative count
/// reaches quantile q of the total (q in (0, 1]); -1 for an empty histogram.
static inline int lt_fmt_class_of_hist(const double *count, unsigned n, double q)
{
	double total = 0;
	for (unsigned c = 0; c < n; c++)
		total += count[c];
	if (total <= 0)
		return -1;
	double acc = 0;
	for (unsigned c = 0; c < n; c++) {
		acc += count[c];
		if (acc >= q * total - 1e-9)
			return (int)c;
	}
	return (int)n - 1;
}

/// Class of a lifetime under `bounds` (n classes, n - 1 bounds).
static inline unsigned lt_fmt_class_of(uint64_t lifetime_ns, const uint64_t *bounds, unsigned n)
{
	for (unsigned c = 0; c + 1 < n; c++)
		if (lifetime_ns <= bounds[c])
			return c;
	return n - 1;
}

// ---------------------------------------------------------------------------
// Tokenizer: frame text "module:function;module:function" (innermost first)
// becomes lower-case word tokens, split at non-alphanumerics, underscores,
// digits and lower-to-upper case changes. Each token is emitted plain and,
// for the two innermost frames, once more tagged with its frame (hash seed
// frame + 1), so the model can weigh the immediate callers more. fn(hash,
// ctx) per token; returns the count.

static inline uint32_t lt_fmt_token_hash(const char *t, size_t n, unsigned frame0)
{
	uint32_t h = 0x811c9dc5u ^ (frame0 * 0x5bd1e995u);
	for (size_t i = 0; i < n; i++) {
		char c = t[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		h ^= (unsigned char)c;
		h *= 16777619u;
	}
	return h ? h : 1;
}

static inline unsigned lt_fmt_tokenize(const char *text, size_t len,
				       void (*fn)(uint32_t hash, void *ctx), void *ctx)
{
	unsigned count = 0;
	unsigned frame = 0;
	size_t i = 0;
	bool in_module = true;
	while (i < len && text[i]) {
		char c = text[i];
		if (c == ';') {
			frame++;
			in_module = true;
			i++;
			continue;
		}
		if (c == ':') {
			in_module = false;
			i++;
			continue;
		}
		bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
		if (!alpha || in_module) {
			i++;
			continue;
		}
		size_t s = i++;
		while (i < len && text[i]) {
			char d = text[i];
			bool lower = d >= 'a' && d <= 'z';
			bool upper = d >= 'A' && d <= 'Z';
			char prev = text[i - 1];
			if (!lower && !upper)
				break;
			if (upper && prev >= 'a' && prev <= 'z')
				break;
			i++;
		}
		if (i - s >= 2) {
			// Every token counts once plain; the two innermost frames'
			// tokens also count tagged with their frame.
			fn(lt_fmt_token_hash(text + s, i - s, 0), ctx);
			count++;
			if (frame < 2) {
				fn(lt_fmt_token_hash(text + s, i - s, frame + 1), ctx);
				count++;
			}
		}
	}
	return count;
}

#endif
