// SPDX-License-Identifier: MIT
// The malloc family exported by every liballocscope-NAME.so, on top of one
// backend (backend_contract.h). This layer owns the C and POSIX semantics:
// errno (ENOMEM on exhaustion, EINVAL on bad alignments), zero sizes (a
// unique pointer), calloc overflow and zeroing, realloc (NULL, size 0 frees
// and returns NULL as glibc does, in-place when the usable size still fits
// and is not more than twice the request), alignment checks, and counting
// every served operation. Exports have default visibility; everything else
// in the library is hidden.
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#define PL_PAGE 4096u

PL_EXPORT void *malloc(size_t size);
PL_EXPORT void free(void *p);
PL_EXPORT void cfree(void *p);
PL_EXPORT void *calloc(size_t n, size_t size);
PL_EXPORT void *realloc(void *p, size_t size);
PL_EXPORT void *reallocarray(void *p, size_t n, size_t size);
PL_EXPORT void *aligned_alloc(size_t align, size_t size);
PL_EXPORT int posix_memalign(void **out, size_t align, size_t size);
PL_EXPORT void *memalign(size_t align, size_t size);
PL_EXPORT void *valloc(size_t size);
PL_EXPORT void *pvalloc(size_t size);
PL_EXPORT size_t malloc_usable_size(void *p);

AS_INLINE void *pl_malloc(size_t size)
{
	if (AS_UNLIKELY(!pl_ready())) {
		errno = ENOMEM;
		return NULL;
	}
	pl_count();
	void *p = backend_malloc(size ? size : 1);
	if (AS_UNLIKELY(!p))
		errno = ENOMEM;
	return p;
}

/// align: a power of two; values up to 16 are plain malloc.
static void *pl_aligned(size_t align, size_t size)
{
	if (align <= 16)
		return pl_malloc(size);
	if (!pl_ready()) {
		errno = ENOMEM;
		return NULL;
	}
	pl_count();
	void *p = backend_aligned(align, size ? size : 1);
	if (!p)
		errno = ENOMEM;
	return p;
}

void *malloc(size_t size)
{
	return pl_malloc(size);
}

void free(void *p)
{
	if (AS_UNLIKELY(p == NULL))
		return;
	pl_count();
	backend_free(p);
}

void cfree(void *p)
{
	free(p);
}

void *calloc(size_t n, size_t size)
{
	size_t total;
	if (AS_UNLIKELY(__builtin_mul_overflow(n, size, &total))) {
		errno = ENOMEM;
		return NULL;
	}
	void *p = pl_malloc(total);
	if (p)
		memset(p, 0, total);
	return p;
}

void *realloc(void *p, size_t size)
{
	if (!p)
		return pl_malloc(size);
	if (size == 0) {
		free(p);
		return NULL;
	}
	size_t usable = backend_usable_size(p);
	if (size <= usable && size >= usable / 2) {
		pl_count();
		return p;
	}
	void *q = pl_malloc(size);
	if (!q)
		return NULL; // errno set; p untouched
	memcpy(q, p, usable < size ? usable : size);
	free(p);
	return q;
}

void *reallocarray(void *p, size_t n, size_t size)
{
	size_t total;
	if (__builtin_mul_overflow(n, size, &total)) {
		errno = ENOMEM;
		return NULL;
	}
	return realloc(p, total);
}

void *aligned_alloc(size_t align, size_t size)
{
	if (align == 0 || !as_is_pow2(align)) {
		errno = EINVAL;
		return NULL;
	}
	return pl_aligned(align, size);
}

int posix_memalign(void **out, size_t align, size_t size)
{
	if (align < sizeof(void *) || !as_is_pow2(align))
		return EINVAL;
	int saved = errno;
	void *p = pl_aligned(align, size);
	if (!p) {
		errno = saved;
		return ENOMEM;
	}
	*out = p;
	return 0;
}

void *memalign(size_t align, size_t size)
{
	// glibc: a non-power-of-two alignment is rounded up to one.
	if (!as_is_pow2(align)) {
		if (align > ((size_t)1 << (sizeof(size_t) * 8 - 2))) {
			errno = EINVAL;
			return NULL;
		}
		size_t a = 16;
		while (a < align)
			a <<= 1;
		align = a;
	}
	return pl_aligned(align, size);
}

void *valloc(size_t size)
{
	return pl_aligned(PL_PAGE, size);
}

void *pvalloc(size_t size)
{
	if (size > SIZE_MAX - PL_PAGE) {
		errno = ENOMEM;
		return NULL;
	}
	size_t rounded = size ? as_align_up(size, PL_PAGE) : PL_PAGE;
	return pl_aligned(PL_PAGE, rounded);
}

size_t malloc_usable_size(void *p)
{
	return p ? backend_usable_size(p) : 0;
}
