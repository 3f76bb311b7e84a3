// SPDX-License-Identifier: MIT
// The frame-allocator interface. A frame allocator manages `frames` 4 KiB
// frames numbered 0..frames-1 (relative frame numbers) and serves blocks of
// 2^order frames, order 0..FRAME_MAX_ORDER, naturally aligned (a block of
// order k starts at a multiple of 2^k). It touches only its own metadata, never
// frame memory, so a 64 GiB memory is simulated with a few MiB of metadata.
//
// Every frame allocator exports one `const struct frame_ops` (designated
// initializers); the benchmarks, tests and page sources call it through that
// table, so every allocator pays the same indirect call (STYLE rule 1).
//
// Threading contract: get/put/drain may be called concurrently from any
// thread. `core` is the caller's core index in [0, cores) and picks per-core
// state (reservations, per-cpu lists); two threads may pass the same core
// (allocators must stay correct, they may be slower). stats and
// free_counts may run concurrently and are then approximate; validate must
// run while no other call is in flight.
#ifndef AS_FRAME_H
#define AS_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "as/compiler.h"

#define FRAME_SIZE 4096u
#define FRAME_MAX_ORDER 10
/// Order of a 2 MiB huge frame.
#define FRAME_HUGE_ORDER 9
#define FRAME_HUGE_FRAMES (1u << FRAME_HUGE_ORDER)
/// `frames` passed to create must be a multiple of this (so every block of
/// every order, up to max order, lies inside the range).
#define FRAME_ALIGN_FRAMES (1u << FRAME_MAX_ORDER)

typedef enum frame_err_e {
	FRAME_OK = 0,
	FRAME_ERR_MEMORY,   ///< no free block of that order (exhausted/fragmented)
	FRAME_ERR_ARGUMENT, ///< bad order, frame out of range, misaligned, not allocated
	FRAME_ERR_RETRY,    ///< gave up after bounded CAS retries; caller may retry
	FRAME_ERR_INIT,     ///< create failed (bad config or no metadata memory)
} frame_err_t;

/// Result of get: `frame` is valid only when err == FRAME_OK.
typedef struct AS_WARN_UNUSED_TYPE frame_result_s {
	uint64_t frame;
	frame_err_t err;
} frame_result_t;

/// Opaque per-instance handle; each allocator defines its own struct.
typedef struct frame_alloc_s frame_alloc_t;

typedef struct frame_config_s {
	uint64_t frames; ///< multiple of FRAME_ALIGN_FRAMES, > 0
	unsigned cores;  ///< number of core slots, 1..FRAME_MAX_CORES
	/// Allocator-specific "key=value,..." tunables (as/kv.h) or NULL.
	/// Unknown keys make create fail with FRAME_ERR_INIT and a message.
	const char *options;
} frame_config_t;

#define FRAME_MAX_CORES 256

typedef struct frame_stats_s {
	uint64_t frames;         ///< managed frames
	uint64_t free_frames;    ///< free 4 KiB frames (including per-core caches)
	uint64_t free_huge;      ///< fully free, 2 MiB-aligned huge frames
	uint64_t metadata_bytes; ///< every byte of metadata the instance owns
} frame_stats_t;

struct frame_ops {
	const char *name; ///< short name, as used on the command line
	const char *desc; ///< one line for `allocscope list`
	/// NULL-terminated list of option keys create accepts (for --help/list).
	const char *const *option_keys;

	/// Create an instance with every frame free; metadata comes from
	/// as_meta_alloc(). On failure returns NULL and writes the reason
	/// (bad config, unknown option, no memory) into err[errlen].
	frame_alloc_t *(*create)(const frame_config_t *cfg, char *err, size_t errlen);
	void (*destroy)(frame_alloc_t *fa);

	/// Allocate a naturally aligned block of 2^order frames.
	frame_result_t (*get)(frame_alloc_t *fa, unsigned core, unsigned order);
	/// Free a block returned by get with the same order. A frame that is out
	/// of range, misaligned, not allocated, or allocated with another order
	/// where the allocator can tell, gives FRAME_ERR_ARGUMENT and changes
	/// nothing.
	frame_err_t (*put)(frame_alloc_t *fa, unsigned core, uint64_t frame, unsigned order);
	/// Return everything cached or reserved by `core` to the shared pool.
	void (*drain)(frame_alloc_t *fa, unsigned core);

	void (*stats)(frame_alloc_t *fa, frame_stats_t *out);
	/// Free frames in each 2 MiB huge frame: out[i] for frames
	/// [i*512, (i+1)*512), i < frames/512 (caller sizes `out`).
	void (*free_counts)(frame_alloc_t *fa, uint16_t *out);
	/// Full invariant walk (STYLE rule 7). Returns true when consistent;
	/// otherwise false with the first violation in why[whylen].
	bool (*validate)(frame_alloc_t *fa, char *why, size_t whylen);
};

/// Every frame allocator this build knows, NULL-terminated (registry.c).
extern const struct frame_ops *const *const frame_allocators;

/// Look up an allocator by name; NULL if unknown.
const struct frame_ops *frame_ops_find(const char *name);

static inline bool frame_ok(frame_result_t r)
{
	return r.err == FRAME_OK;
}

const char *frame_strerror(frame_err_t err);

#endif
