// SPDX-License-Identifier: MIT
// conformance: checks the malloc-family contract of whatever allocator serves
// the process and reports every violation as a result (our own workload).
// A violation does not fail the run: status stays ok and the findings are
// metrics (violations_total, violations.<check>) plus one `info violation`
// line per distinct (check, parameter) with a count and a first example.
// Only a crash or a corrupted neighbour of a checked block ends the run.
//
// Every worker thread (--threads) runs every check at the same time:
//   align.<fn>         posix_memalign / aligned_alloc / memalign results are
//                      aligned, for alignments 16 B .. 2 MiB, many calls each
//                      with varied sizes (aligned_alloc: multiples of the
//                      alignment only, as C11 requires); valloc page-aligned;
//                      malloc aligned to min(16, largest power of two <= n)
//   aligned.null       an aligned call failed for a small valid request
//   usable_size        malloc_usable_size(p) >= the request
//   usable_write       writing all usable bytes damaged another live block
//   calloc.zero        calloc memory reads as zero, even when it reuses a
//                      freed block that held other bytes
//   calloc.overflow    calloc(n, m) with n*m overflowing returns NULL ...
//   calloc.overflow_errno  ... and sets errno to ENOMEM
//   huge.<fn>          malloc/aligned_alloc/posix_memalign/realloc of
//                      impossible sizes fail (NULL or ENOMEM) ...
//   huge.<fn>_errno    ... with errno ENOMEM (posix_memalign: returns it);
//                      a failed realloc leaves the old block intact
//   posix_memalign.einval  bad alignments (0, 1, 2, 4, 12, 24, 40, 48, 3)
//                      return EINVAL and leave *memptr untouched
//   realloc.prefix     realloc keeps min(old, new) bytes, growing and
//                      shrinking across size classes and in growth chains
//   realloc.null       realloc(NULL, n) behaves as malloc(n)
//   malloc0.distinct   two live malloc(0) results are distinct (or NULL)
//   free_null          free(NULL) returns (a crash ends the run)
//   coverage           every family function is served by the same library
//                      as malloc (otherwise its checks are skipped: freeing
//                      another allocator's block would crash)
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "as/err.h"
#include "as/meta.h"
#include "as/rng.h"
#include "lib/mw.h"

static const as_param_desc_t params[] = {
	{ "align_calls", "3000", "calls per function and alignment up to 4 KiB (count)" },
	{ "big_align_calls", "48", "calls per function and alignment above 4 KiB (count)" },
	{ "calls", "3000", "calls per check for the size-based checks (count)" },
	{ NULL, NULL, NULL },
};

static const as_workload_desc_t workloads[] = {
	{ "conformance", "micro",
	  "checks the malloc-family contract (alignment, usable size, calloc, ENOMEM/EINVAL, realloc) and reports violations",
	  params },
	{ NULL, NULL, NULL, NULL },
};

enum {
	CK_ALIGN_PM, CK_ALIGN_AA, CK_ALIGN_MA, CK_ALIGN_VA, CK_ALIGN_MALLOC, CK_ALIGNED_NULL,
	CK_USABLE, CK_USABLE_WRITE, CK_CALLOC_ZERO, CK_CALLOC_OVF, CK_CALLOC_OVF_ERRNO,
	CK_HUGE_MALLOC, CK_HUGE_MALLOC_ERRNO, CK_HUGE_AA, CK_HUGE_AA_ERRNO, CK_HUGE_PM,
	CK_HUGE_REALLOC, CK_HUGE_REALLOC_ERRNO, CK_PM_EINVAL, CK_REALLOC_PREFIX, CK_REALLOC_NULL,
	CK_MALLOC0, CK_FREE_NULL, CK_COVERAGE, CK_COUNT
};

static const char *const ck_name[CK_COUNT] = {
	"align.posix_memalign", "align.aligned_alloc", "align.memalign", "align.valloc",
	"align.malloc", "aligned.null", "usable_size", "usable_write", "calloc.zero",
	"calloc.overflow", "calloc.overflow_errno", "huge.malloc", "huge.malloc_errno",
	"huge.aligned_alloc", "huge.aligned_alloc_errno", "huge.posix_memalign", "huge.realloc",
	"huge.realloc_errno", "posix_memalign.einval", "realloc.prefix", "realloc.null",
	"malloc0.distinct", "free_null", "coverage",
};

// The functions under test, called through volatile pointers: compilers
// know the malloc family and would otherwise fold calls whose result they
// can predict (clang turns malloc(SIZE_MAX) into NULL without a call, so
// errno is never set) or flag a valid use of a block kept by a failed realloc.
static struct {
	void *(*volatile malloc)(size_t);
	void *(*volatile calloc)(size_t, size_t);
	void *(*volatile realloc)(void *, size_t);
	void *(*volatile aligned_alloc)(size_t, size_t);
	int (*volatile posix_memalign)(void **, size_t, size_t);
	void *(*volatile memalign)(size_t, size_t);
	void *(*volatile valloc)(size_t);
	void (*volatile free)(void *);
	size_t (*volatile malloc_usable_size)(void *);
} api = { malloc, calloc, realloc, aligned_alloc, posix_memalign, memalign, valloc, free,
	 malloc_usable_size };

// ---------------------------------------------------------------------------
// Findings: per-thread tables keyed by (check, parameter), merged at the end.

#define TABLE_CAP 1024

typedef struct finding_s {
	unsigned check;
	uint64_t param; ///< alignment, size or case index, as the check defines
	bool used;
	uint64_t trials, violations;
	char example[200];
} finding_t;

typedef struct table_s {
	finding_t e[TABLE_CAP];
} table_t;

static __thread table_t *tls_table;

static struct {
	uint64_t align_calls, big_align_calls, calls;
	bool skip_fn[CK_COUNT]; ///< function not served by malloc's library
	pthread_mutex_t lock;
	table_t *merged;
	mw_count_t *trials;
} K = { .lock = PTHREAD_MUTEX_INITIALIZER };

static finding_t *find(table_t *t, unsigned check, uint64_t param)
{
	uint64_t h = (check * 0x9e3779b97f4a7c15ULL) ^ (param * 0xbf58476d1ce4e5b9ULL);
	for (unsigned i = 0; i < TABLE_CAP; i++) {
		finding_t *f = &t->e[(h + i) % TABLE_CAP];
		if (!f->used) {
			*f = (finding_t){ .check = check, .param = param, .used = true };
			return f;
		}
		if (f->check == check && f->param == param)
			return f;
	}
	as_die(1, "conformance: finding table full");
}

/// Count one trial of `check` at `param`; when `ok` is false, count a
/// violation and keep the first example (printf-style).
static bool note(unsigned check, uint64_t param, bool ok, const char *fmt, ...) AS_PRINTF(4, 5);
static bool note(unsigned check, uint64_t param, bool ok, const char *fmt, ...)
{
	finding_t *f = find(tls_table, check, param);
	f->trials++;
	if (AS_LIKELY(ok))
		return true;
	if (f->violations++ == 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(f->example, sizeof(f->example), fmt, ap);
		va_end(ap);
	}
	return false;
}

// ---------------------------------------------------------------------------
// Helpers

static void *timed_malloc(size_t n)
{
	uint64_t t0 = as_lat_begin();
	void *p = api.malloc(n);
	as_lat_end(t0);
	return p;
}

static void timed_free(void *p)
{
	uint64_t t0 = as_lat_begin();
	api.free(p);
	as_lat_end(t0);
}

/// A window of live stamped blocks, so every check runs beside other live
/// blocks and damage to them is noticed.
#define WINDOW 32
typedef struct window_s {
	void *p[WINDOW];
	size_t n[WINDOW];
	unsigned next;
} window_t;

static void window_put(window_t *w, void *p, size_t n)
{
	unsigned i = w->next++ % WINDOW;
	if (w->p[i]) {
		mw_check(w->p[i], w->n[i], "conformance: block held beside the checks");
		timed_free(w->p[i]);
	}
	mw_stamp(p, n);
	w->p[i] = p;
	w->n[i] = n;
}

static bool window_intact(const window_t *w)
{
	for (unsigned i = 0; i < WINDOW; i++)
		if (w->p[i]) {
			uint64_t t = mw_tag(w->p[i], w->n[i]), a = t;
			memcpy(&a, w->p[i], w->n[i] < 8 ? w->n[i] : 8);
			if (a != t)
				return false;
		}
	return true;
}

static void window_clear(window_t *w)
{
	for (unsigned i = 0; i < WINDOW; i++)
		if (w->p[i]) {
			mw_check(w->p[i], w->n[i], "conformance: block held beside the checks");
			timed_free(w->p[i]);
			w->p[i] = NULL;
		}
}

static size_t floor_pow2(size_t n)
{
	return n ? (size_t)1 << (63 - __builtin_clzll(n)) : 1;
}

// ---------------------------------------------------------------------------
// Checks

enum { FN_PM, FN_AA, FN_MA };

static void *aligned_call(int fn, size_t align, size_t size)
{
	void *p = NULL;
	uint64_t t0 = as_lat_begin();
	switch (fn) {
	case FN_PM:
		if (api.posix_memalign(&p, align, size) != 0)
			p = NULL;
		break;
	case FN_AA:
		p = api.aligned_alloc(align, size);
		break;
	default:
		p = api.memalign(align, size);
		break;
	}
	as_lat_end(t0);
	return p;
}

static void check_alignment(as_rng_t *r, window_t *w)
{
	static const char *const fname[] = { "posix_memalign", "aligned_alloc", "memalign" };
	static const unsigned ck[] = { CK_ALIGN_PM, CK_ALIGN_AA, CK_ALIGN_MA };
	for (int fn = 0; fn < 3; fn++) {
		if (K.skip_fn[ck[fn]])
			continue;
		for (size_t align = 16; align <= (2u << 20); align *= 2) {
			uint64_t calls = align <= 4096 ? K.align_calls : K.big_align_calls;
			for (uint64_t c = 0; c < calls; c++) {
				size_t size;
				if (fn == FN_AA)
					size = align * (size_t)as_rng_range(r, 1, align <= 4096 ? 4 : 2);
				else if (as_rng_below(r, 2))
					size = (size_t)as_rng_range(r, 1, 256);
				else
					size = (size_t)as_rng_range(r, 1, 2 * align);
				char *p = aligned_call(fn, align, size);
				if (!note(CK_ALIGNED_NULL, align, p != NULL, "%s(align=%zu, size=%zu) failed",
					  fname[fn], align, size))
					continue;
				uintptr_t off = (uintptr_t)p % align;
				note(ck[fn], align, off == 0,
				     "%s(align=%zu, size=%zu) returned %p, %zu bytes past an aligned address",
				     fname[fn], align, size, (void *)p, (size_t)off);
				if (size <= 65536)
					memset(p, 0x5c, size);
				if (c % 4 == 0 || size > 65536)
					window_put(w, p, size);
				else
					timed_free(p);
			}
			if (align > 4096)
				window_clear(w);
		}
	}
	if (!K.skip_fn[CK_ALIGN_VA]) {
		size_t page = (size_t)sysconf(_SC_PAGESIZE);
		for (uint64_t c = 0; c < K.calls / 10 + 1; c++) {
			size_t size = (size_t)as_rng_range(r, 1, 3 * page);
			void *p = api.valloc(size);
			if (!note(CK_ALIGNED_NULL, page, p != NULL, "valloc(%zu) failed", size))
				continue;
			note(CK_ALIGN_VA, page, (uintptr_t)p % page == 0, "valloc(%zu) returned %p", size, p);
			timed_free(p);
		}
	}
	for (uint64_t c = 0; c < K.calls; c++) {
		size_t size = as_rng_below(r, 4) ? (size_t)as_rng_range(r, 1, 256)
						 : (size_t)as_rng_range(r, 257, 1 << 20);
		size_t want = AS_MIN(16, floor_pow2(size));
		char *p = timed_malloc(size);
		if (!p)
			as_probe_fail("malloc(%zu) returned NULL", size);
		note(CK_ALIGN_MALLOC, want, (uintptr_t)p % want == 0,
		     "malloc(%zu) returned %p, not %zu-byte aligned", size, (void *)p, want);
		window_put(w, p, size);
	}
	window_clear(w);
}

static void check_usable(as_rng_t *r, window_t *w)
{
	if (K.skip_fn[CK_USABLE])
		return;
	for (uint64_t c = 0; c < K.calls; c++) {
		size_t size = as_rng_below(r, 16) ? (size_t)as_rng_range(r, 0, 2048)
						  : (size_t)as_rng_range(r, 2049, 300000);
		char *p = timed_malloc(size);
		if (!p) {
			if (size == 0)
				continue;
			as_probe_fail("malloc(%zu) returned NULL", size);
		}
		size_t u = api.malloc_usable_size(p);
		unsigned bucket = size ? 64 - (unsigned)__builtin_clzll(size) : 0;
#if defined(AS_TSAN)
		// ThreadSanitizer's allocator reports a usable byte for malloc(0)
		// and then flags writing it; the sanitizer build checks the rest.
		if (size == 0)
			u = 0;
#endif
		if (note(CK_USABLE, bucket, u >= size,
			 "malloc(%zu) has malloc_usable_size %zu", size, u)) {
			memset(p, 0xa5, u);
			note(CK_USABLE_WRITE, bucket, window_intact(w),
			     "writing the %zu usable bytes of malloc(%zu) = %p damaged another live block",
			     u, size, (void *)p);
		}
		if (size >= 16)
			window_put(w, p, size);
		else
			timed_free(p);
	}
	window_clear(w);
}

static void check_calloc(as_rng_t *r)
{
	for (uint64_t c = 0; c < K.calls; c++) {
		size_t size = as_rng_below(r, 16) ? (size_t)as_rng_range(r, 1, 4096)
						  : (size_t)as_rng_range(r, 4097, 256 << 10);
		// Dirty a block of the same size first so calloc may reuse it.
		char *d = timed_malloc(size);
		if (!d)
			as_probe_fail("malloc(%zu) returned NULL", size);
		memset(d, 0xee, size);
		timed_free(d);
		size_t nmemb = as_rng_below(r, 2) ? 1 : AS_MAX((size_t)1, size / 8);
		size_t each = (size + nmemb - 1) / nmemb;
		uint64_t t0 = as_lat_begin();
		unsigned char *p = api.calloc(nmemb, each);
		as_lat_end(t0);
		if (!p)
			as_probe_fail("calloc(%zu, %zu) returned NULL", nmemb, each);
		size_t bad = SIZE_MAX;
		for (size_t i = 0; i < nmemb * each; i++)
			if (p[i]) {
				bad = i;
				break;
			}
		unsigned bucket = 64 - (unsigned)__builtin_clzll(size);
		note(CK_CALLOC_ZERO, bucket, bad == SIZE_MAX,
		     "calloc(%zu, %zu) = %p has byte 0x%02x at offset %zu", nmemb, each, (void *)p,
		     bad == SIZE_MAX ? 0 : p[bad], bad);
		timed_free(p);
	}
	static const size_t ovf[][2] = {
		{ SIZE_MAX, 2 },
		{ SIZE_MAX / 2 + 1, 2 },
		{ (size_t)1 << 32, (size_t)1 << 32 },
		{ SIZE_MAX / 16 + 1, 16 },
		{ 3, SIZE_MAX / 2 },
		{ (size_t)1 << 40, (size_t)1 << 30 },
	};
	for (unsigned i = 0; i < AS_ARRAY_LEN(ovf); i++) {
		errno = 0;
		void *p = api.calloc(ovf[i][0], ovf[i][1]);
		int e = errno;
		if (!note(CK_CALLOC_OVF, i, p == NULL, "calloc(%zu, %zu) returned %p instead of NULL",
			  ovf[i][0], ovf[i][1], p)) {
			api.free(p);
			continue;
		}
		note(CK_CALLOC_OVF_ERRNO, i, e == ENOMEM,
		     "calloc(%zu, %zu) returned NULL with errno %d (%s), not ENOMEM", ovf[i][0],
		     ovf[i][1], e, strerror(e));
	}
}


static void check_huge(void)
{
	static const size_t huge[] = {
		SIZE_MAX, SIZE_MAX - 4095, (size_t)PTRDIFF_MAX + 1, (size_t)1 << 62, (size_t)1 << 48,
	};
	for (unsigned i = 0; i < AS_ARRAY_LEN(huge); i++) {
		size_t n = huge[i];
		errno = 0;
		void *p = api.malloc(n);
		int e = errno;
		if (note(CK_HUGE_MALLOC, i, p == NULL, "malloc(%zu) returned %p", n, p))
			note(CK_HUGE_MALLOC_ERRNO, i, e == ENOMEM,
			     "malloc(%zu) returned NULL with errno %d (%s), not ENOMEM", n, e, strerror(e));
		else
			api.free(p);

		if (!K.skip_fn[CK_ALIGN_AA]) {
			errno = 0;
			p = api.aligned_alloc(64, n & ~(size_t)63);
			e = errno;
			if (note(CK_HUGE_AA, i, p == NULL, "aligned_alloc(64, %zu) returned %p", n & ~(size_t)63, p))
				note(CK_HUGE_AA_ERRNO, i, e == ENOMEM,
				     "aligned_alloc(64, %zu) returned NULL with errno %d (%s), not ENOMEM",
				     n & ~(size_t)63, e, strerror(e));
			else
				api.free(p);
		}
		if (!K.skip_fn[CK_ALIGN_PM]) {
			void *m = (void *)(uintptr_t)0x5a5a5a5a;
			int rc = api.posix_memalign(&m, 64, n);
			if (!note(CK_HUGE_PM, i, rc == ENOMEM,
				  "posix_memalign(&p, 64, %zu) returned %d (%s), not ENOMEM", n, rc,
				  rc ? strerror(rc) : "success") &&
			    rc == 0)
				api.free(m);
		}
		if (!K.skip_fn[CK_REALLOC_PREFIX]) {
			char *old = api.malloc(100);
			if (!old)
				as_probe_fail("malloc(100) returned NULL");
			mw_stamp(old, 100);
			errno = 0;
			void *q = api.realloc(old, n);
			e = errno;
			if (note(CK_HUGE_REALLOC, i, q == NULL, "realloc(p, %zu) returned %p", n, q)) {
				note(CK_HUGE_REALLOC_ERRNO, i, e == ENOMEM,
				     "realloc(p, %zu) returned NULL with errno %d (%s), not ENOMEM", n, e,
				     strerror(e));
				mw_check(old, 100, "conformance: block kept by a failed realloc");
				api.free(old);
			} else {
				api.free(q);
			}
		}
	}
}

static void check_einval(void)
{
	if (K.skip_fn[CK_ALIGN_PM])
		return;
	static const size_t bad[] = { 0, 1, 2, 4, 12, 24, 40, 48, 3 };
	for (unsigned i = 0; i < AS_ARRAY_LEN(bad); i++) {
		void *const sentinel = (void *)(uintptr_t)0x5a5a5a5a;
		void *m = sentinel;
		int rc = api.posix_memalign(&m, bad[i], 64);
		note(CK_PM_EINVAL, bad[i], rc == EINVAL && m == sentinel,
		     "posix_memalign(&p, %zu, 64) returned %d (%s)%s", bad[i], rc,
		     rc ? strerror(rc) : "success", m == sentinel ? "" : " and changed *memptr");
		if (rc == 0)
			api.free(m);
	}
}

// Realloc contents: every byte of blocks up to 4 KiB; of larger ones every
// 61st byte and the last 64 bytes (enough to see a lost or partial copy).
// The positions depend only on `written`, the size the pattern was written
// at, so a prefix of any length can be checked against them.
static inline size_t pat_step(size_t written)
{
	return written <= 4096 ? 1 : 61;
}

static void pat_write(unsigned char *p, size_t n, unsigned char seed)
{
	size_t step = pat_step(n);
	for (size_t i = 0; i < n; i += step)
		p[i] = (unsigned char)(seed + i * 7);
	for (size_t i = n > 64 ? n - 64 : 0; i < n; i++)
		p[i] = (unsigned char)(seed + i * 7);
}

static bool prefix_ok(const unsigned char *p, size_t n, size_t written, unsigned char seed)
{
	size_t step = pat_step(written);
	for (size_t i = 0; i < n; i += step)
		if (p[i] != (unsigned char)(seed + i * 7))
			return false;
	for (size_t i = written > 64 ? written - 64 : 0; i < n; i++)
		if (p[i] != (unsigned char)(seed + i * 7))
			return false;
	return true;
}

static void check_realloc(as_rng_t *r)
{
	if (K.skip_fn[CK_REALLOC_PREFIX])
		return;
	static const size_t sz[] = { 1,    8,     15,    16,     24,      100,       512,
				     1000, 4096,  10000, 70000,  200000,  1u << 20, 4u << 20 };
	for (uint64_t c = 0; c < K.calls; c++) {
		size_t a = sz[as_rng_below(r, AS_ARRAY_LEN(sz))] + (size_t)as_rng_below(r, 8);
		size_t b = sz[as_rng_below(r, AS_ARRAY_LEN(sz))] + (size_t)as_rng_below(r, 8);
		unsigned char seed = (unsigned char)c;
		unsigned char *p = timed_malloc(a);
		if (!p)
			as_probe_fail("malloc(%zu) returned NULL", a);
		pat_write(p, a, seed);
		unsigned char *q = api.realloc(p, b);
		if (!q)
			as_probe_fail("realloc(p, %zu) returned NULL", b);
		unsigned bucket = (64 - (unsigned)__builtin_clzll(a)) * 64 + 64 - (unsigned)__builtin_clzll(b);
		note(CK_REALLOC_PREFIX, bucket, prefix_ok(q, AS_MIN(a, b), a, seed),
		     "realloc from %zu to %zu bytes lost the old contents", a, b);
		timed_free(q);
	}
	// Growth chains (vector-style), where in-place expansion paths run.
	for (uint64_t c = 0; c < K.calls / 100 + 1; c++) {
		size_t n = 1;
		unsigned char *p = NULL;
		while (n < (1u << 20)) {
			size_t m = n + 1 + (size_t)as_rng_below(r, n);
			unsigned char *q = api.realloc(p, m);
			if (!q)
				as_probe_fail("realloc(p, %zu) returned NULL", m);
			if (p == NULL)
				note(CK_REALLOC_NULL, 0, true, "-");
			else
				note(CK_REALLOC_PREFIX, 1, prefix_ok(q, n, n, 3),
				     "realloc growth from %zu to %zu bytes lost the old contents", n, m);
			pat_write(q, m, 3);
			p = q;
			n = m;
		}
		api.free(p);
	}
	for (uint64_t c = 0; c < K.calls / 10 + 1; c++) {
		size_t n = (size_t)as_rng_range(r, 1, 5000);
		char *p = api.realloc(NULL, n);
		if (note(CK_REALLOC_NULL, 1, p != NULL, "realloc(NULL, %zu) returned NULL", n)) {
			size_t u = K.skip_fn[CK_USABLE] ? n : api.malloc_usable_size(p);
			note(CK_REALLOC_NULL, 2, u >= n,
			     "realloc(NULL, %zu) has malloc_usable_size %zu", n, u);
			memset(p, 1, n);
			api.free(p);
		}
	}
}

static void check_misc(void)
{
	for (uint64_t c = 0; c < K.calls / 10 + 1; c++) {
		void *a = api.malloc(0), *b = api.malloc(0);
		note(CK_MALLOC0, 0, !a || !b || a != b, "malloc(0) returned %p twice while live", a);
		api.free(a);
		if (b != a)
			api.free(b);
		api.free(NULL);
		note(CK_FREE_NULL, 0, true, "-");
	}
}

// ---------------------------------------------------------------------------
// Coverage and the driver

static void check_coverage(void)
{
	static const struct {
		const char *fn;
		unsigned skip;
	} fam[] = {
		{ "posix_memalign", CK_ALIGN_PM }, { "aligned_alloc", CK_ALIGN_AA },
		{ "memalign", CK_ALIGN_MA },	   { "valloc", CK_ALIGN_VA },
		{ "malloc_usable_size", CK_USABLE }, { "realloc", CK_REALLOC_PREFIX },
		{ "calloc", CK_COUNT },		   { "free", CK_COUNT },
	};
	Dl_info mi;
	void *m = dlsym(RTLD_DEFAULT, "malloc");
	if (!m || !dladdr(m, &mi) || !mi.dli_fname)
		return;
	for (unsigned i = 0; i < AS_ARRAY_LEN(fam); i++) {
		Dl_info fi;
		void *f = dlsym(RTLD_DEFAULT, fam[i].fn);
		bool same = f && dladdr(f, &fi) && fi.dli_fname && strcmp(fi.dli_fname, mi.dli_fname) == 0;
		note(CK_COVERAGE, i, same, "%s is served by %s while malloc is served by %s", fam[i].fn,
		     f && dladdr(f, &fi) && fi.dli_fname ? fi.dli_fname : "nothing", mi.dli_fname);
		if (!same && fam[i].skip < CK_COUNT)
			K.skip_fn[fam[i].skip] = true;
	}
}

static void worker(unsigned tid, void *arg)
{
	(void)arg;
	as_rng_t r;
	as_rng_seed(&r, as_probe_seed(), tid);
	tls_table = as_meta_alloc(sizeof(table_t), AS_CACHELINE);
	window_t *w = as_meta_alloc(sizeof(window_t), AS_CACHELINE);
	if (!tls_table || !w)
		as_die(1, "cannot map the finding table");
	check_alignment(&r, w);
	check_usable(&r, w);
	check_calloc(&r);
	check_huge();
	check_einval();
	check_realloc(&r);
	check_misc();

	pthread_mutex_lock(&K.lock);
	uint64_t trials = 0;
	for (unsigned i = 0; i < TABLE_CAP; i++) {
		finding_t *f = &tls_table->e[i];
		if (!f->used)
			continue;
		trials += f->trials;
		finding_t *g = find(K.merged, f->check, f->param);
		g->trials += f->trials;
		if (f->violations && !g->violations)
			memcpy(g->example, f->example, sizeof(g->example));
		g->violations += f->violations;
	}
	pthread_mutex_unlock(&K.lock);
	K.trials[tid].v = trials;
	as_meta_free(w, sizeof(window_t), AS_CACHELINE);
	as_meta_free(tls_table, sizeof(table_t), AS_CACHELINE);
}

int main(int argc, char **argv)
{
	as_probe_init(argc, argv, workloads);
	unsigned nt = as_probe_threads();
	K.align_calls = as_param_u64_range("align_calls", 1, 1u << 24);
	K.big_align_calls = as_param_u64_range("big_align_calls", 1, 1u << 20);
	K.calls = as_param_u64_range("calls", 1, 1u << 24);
	K.merged = as_meta_alloc(sizeof(table_t), AS_CACHELINE);
	tls_table = as_meta_alloc(sizeof(table_t), AS_CACHELINE);
	if (!K.merged || !tls_table)
		as_die(1, "cannot map the finding tables");
	K.trials = mw_counts(nt);
	check_coverage(); // on the main thread, before the workers
	uint64_t t0 = as_now_ns();
	as_probe_run_threads(nt, worker, NULL);
	uint64_t t1 = as_now_ns();

	// Fold the main thread's coverage findings in, then report by check.
	for (unsigned i = 0; i < TABLE_CAP; i++) {
		finding_t *f = &tls_table->e[i];
		if (!f->used)
			continue;
		finding_t *g = find(K.merged, f->check, f->param);
		g->trials += f->trials;
		if (f->violations && !g->violations)
			memcpy(g->example, f->example, sizeof(g->example));
		g->violations += f->violations;
	}
	uint64_t per_check[CK_COUNT] = { 0 }, trials_check[CK_COUNT] = { 0 }, total = 0;
	for (unsigned i = 0; i < TABLE_CAP; i++) {
		finding_t *f = &K.merged->e[i];
		if (!f->used)
			continue;
		per_check[f->check] += f->violations;
		trials_check[f->check] += f->trials;
		total += f->violations;
	}
	// Distinct violations, sorted by check then parameter for stable output.
	for (unsigned c = 0; c < CK_COUNT; c++) {
		for (;;) {
			finding_t *best = NULL;
			for (unsigned i = 0; i < TABLE_CAP; i++) {
				finding_t *f = &K.merged->e[i];
				if (f->used && f->check == c && f->violations && f->trials &&
				    (!best || f->param < best->param))
					best = f;
			}
			if (!best)
				break;
			as_probe_info("violation", "%s param=%llu: %llu of %llu calls; first: %s", ck_name[c],
				      (unsigned long long)best->param,
				      (unsigned long long)best->violations,
				      (unsigned long long)best->trials, best->example);
			best->trials = 0; // reported
		}
	}
	for (unsigned c = 0; c < CK_COUNT; c++) {
		char name[96];
		snprintf(name, sizeof(name), "violations.%s", ck_name[c]);
		if (trials_check[c])
			as_probe_metric(name, (double)per_check[c]);
		else
			as_probe_metric_null(name, "check skipped: function not served by malloc's library");
	}
	as_probe_metric("violations_total", (double)total);
	uint64_t trials = mw_counts_sum(K.trials, nt);
	as_probe_metric("checks_total", (double)trials);
	as_probe_info("ops_meaning", "checked calls per second");
	mw_report(trials, t1 - t0);
	as_meta_free(tls_table, sizeof(table_t), AS_CACHELINE);
	as_probe_finish();
	return 0;
}
