// SPDX-License-Identifier: MIT
// Metadata mappings for as/meta.h: over-map by the alignment and trim.
#include "as/meta.h"

#include <errno.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "as/compiler.h"

static size_t page_size(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

void *as_meta_alloc(size_t bytes, size_t align)
{
	size_t ps = page_size();
	if (bytes == 0 || !as_is_pow2(align)) {
		errno = EINVAL;
		return NULL;
	}
	if (align < ps)
		align = ps;
	bytes = as_align_up(bytes, ps);
	size_t span = bytes + align - ps;
	if (span < bytes) {
		errno = ENOMEM;
		return NULL;
	}
	uint8_t *raw = mmap(NULL, span, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (raw == MAP_FAILED)
		return NULL;
	uintptr_t start = as_align_up((uintptr_t)raw, align);
	size_t head = start - (uintptr_t)raw;
	size_t tail = span - head - bytes;
	if (head)
		munmap(raw, head);
	if (tail)
		munmap((uint8_t *)start + bytes, tail);
	return (void *)start;
}

void as_meta_free(void *p, size_t bytes, size_t align)
{
	(void)align;
	if (p)
		munmap(p, as_align_up(bytes, page_size()));
}
