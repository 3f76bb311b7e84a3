// SPDX-License-Identifier: MIT
// Seeded fast RNG: splitmix64 to expand a seed, xoshiro256** for the stream
// (Blackman & Vigna). Deterministic for a given seed on every platform.
#ifndef AS_RNG_H
#define AS_RNG_H

#include <stdint.h>

typedef struct as_rng_s {
	uint64_t s[4];
} as_rng_t;

/// One splitmix64 step: advances *state and returns a well-mixed value.
static inline uint64_t as_splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/// Seed a generator; distinct (seed, stream) pairs give independent streams
/// (use the thread index as stream).
static inline void as_rng_seed(as_rng_t *r, uint64_t seed, uint64_t stream)
{
	uint64_t st = seed ^ (stream * 0xd1342543de82ef95ULL);
	for (int i = 0; i < 4; i++)
		r->s[i] = as_splitmix64(&st);
}

static inline uint64_t as_rotl64(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/// Next 64 random bits.
static inline uint64_t as_rng_next(as_rng_t *r)
{
	uint64_t *s = r->s;
	uint64_t result = as_rotl64(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = as_rotl64(s[3], 45);
	return result;
}

/// Uniform integer in [0, n) (Lemire's multiply-shift; n > 0).
static inline uint64_t as_rng_below(as_rng_t *r, uint64_t n)
{
	return (uint64_t)(((unsigned __int128)as_rng_next(r) * n) >> 64);
}

/// Uniform integer in [lo, hi] inclusive.
static inline uint64_t as_rng_range(as_rng_t *r, uint64_t lo, uint64_t hi)
{
	return lo + as_rng_below(r, hi - lo + 1);
}

/// Uniform double in [0, 1).
static inline double as_rng_double(as_rng_t *r)
{
	return (double)(as_rng_next(r) >> 11) * 0x1.0p-53;
}

#endif
