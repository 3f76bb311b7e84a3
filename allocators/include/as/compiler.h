// SPDX-License-Identifier: MIT
// Compiler helpers shared by every part of allocscope: branch hints, cache-line
// size, optimisation barriers and attributes. Header-only.
#ifndef AS_COMPILER_H
#define AS_COMPILER_H

#include <stdint.h>

/// Cache-line size assumed for padding shared data (x86-64 and most arm64).
#define AS_CACHELINE 64

#define AS_LIKELY(x) __builtin_expect(!!(x), 1)
#define AS_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define AS_NOINLINE __attribute__((noinline))
#define AS_INLINE static inline __attribute__((always_inline))
#define AS_UNUSED __attribute__((unused))
#define AS_WARN_UNUSED __attribute__((warn_unused_result))
/// On a struct type: clang warns when a returned value of it is dropped.
#if defined(__clang__)
#define AS_WARN_UNUSED_TYPE __attribute__((warn_unused_result))
#else
#define AS_WARN_UNUSED_TYPE
#endif
#define AS_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#define AS_NORETURN __attribute__((noreturn))
#define AS_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define AS_MIN(a, b) ((a) < (b) ? (a) : (b))
#define AS_MAX(a, b) ((a) > (b) ? (a) : (b))

/// Keep the compiler from deleting the computation of `p` (google/benchmark
/// DoNotOptimize): an empty asm that claims to read the value and memory.
static inline void as_do_not_optimize(const void *p)
{
	__asm__ volatile("" : : "r"(p) : "memory");
}

/// Compiler-only barrier: the compiler may not move memory accesses across it.
static inline void as_clobber_memory(void)
{
	__asm__ volatile("" : : : "memory");
}

/// Hint to the CPU inside a spin loop.
static inline void as_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ volatile("yield");
#endif
}

static inline int as_is_pow2(uint64_t x)
{
	return x && !(x & (x - 1));
}

static inline uint64_t as_align_up(uint64_t x, uint64_t a)
{
	return (x + a - 1) & ~(a - 1);
}

#endif
