// SPDX-License-Identifier: MIT
// Aligned, zeroed allocation of allocator metadata straight from the kernel
// (mmap), so metadata never goes through the malloc under test.
#ifndef AS_META_H
#define AS_META_H

#include <stddef.h>

/// Map `bytes` of zeroed memory aligned to `align` (a power of two; 4 KiB or
/// more is rounded to pages). Returns NULL with errno set on failure.
void *as_meta_alloc(size_t bytes, size_t align);

/// Return memory from as_meta_alloc(); `bytes` and `align` as given there.
void as_meta_free(void *p, size_t bytes, size_t align);

#endif
