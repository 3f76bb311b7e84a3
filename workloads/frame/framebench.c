// SPDX-License-Identifier: MIT
// framebench: the frame-allocator workloads in one program. It links every
// frame allocator of the build (allocators/frame/registry.c), picks one with
// --alloc NAME and one workload with --workload NAME, and reports through the
// probe's line protocol (harness/probe/probe.h). Workloads follow the LLFree
// paper (bulk, repeat, rand, frag, filling; Wrenger et al., ATC'23) and the
// NBBS papers (thread-test, linux-scalability, constant-occupancy,
// cached-allocation; Marotta et al., CCGrid'19 / IEEE TC'22); README.md next
// to this file defines each one.
//
//   framebench --list-allocators        one "alloc NAME DESCRIPTION" per line
//   framebench --alloc llfree --workload bulk --threads 2 --param order=9
#include <stdio.h>
#include <string.h>

#include "as/err.h"
#include "fb.h"

#define COMMON_PARAMS                                                                        \
	{ "frames", "4194304",                                                               \
	  "4 KiB frames managed (multiple of 1024; default 4194304 = 16 GiB, simulated)" },  \
	{ "zones", "1",                                                                      \
	  "1 = one allocator instance; node = one per NUMA node of --nodes (allocate from "  \
	  "the own node first, then fall back); N = N simulated zones, thread t in t mod N" }, \
	{ "options", "none",                                                                 \
	  "allocator tunables key=value,... passed to create (none = defaults)" }

#define ORDER_PARAM(def) \
	{ "order", def, "block order 0..10 (block = 4 KiB << order; 9 = 2 MiB)" }

#define MAX_THREADS_PARAM                                                                \
	{ "max_threads", "0",                                                            \
	  "highest thread count of the sweep (threads); each thread allocates "          \
	  "frames/max_threads/2/2^order blocks; 0 = online PUs of this machine" }

static const as_param_desc_t bulk_params[] = {
	COMMON_PARAMS,
	ORDER_PARAM("0"),
	MAX_THREADS_PARAM,
	{ "iters", "0", "alloc-all/free-all cycles (count); 0 = 2^order, as llfree-rs" },
	{ NULL, NULL, NULL },
};

static const as_param_desc_t repeat_params[] = {
	COMMON_PARAMS,
	ORDER_PARAM("0"),
	MAX_THREADS_PARAM,
	{ NULL, NULL, NULL },
};

static const as_param_desc_t filling_params[] = {
	COMMON_PARAMS,
	ORDER_PARAM("0"),
	{ "levels", "0,10,20,30,40,50,60,70,80,90,95,99",
	  "fill levels in percent of memory, ascending, each 0..99" },
	{ "burst", "4096",
	  "blocks each thread allocates then frees per measurement (count; capped to fit)" },
	{ "rounds", "8", "measurements per fill level (count)" },
	{ NULL, NULL, NULL },
};

static const as_param_desc_t frag_params[] = {
	COMMON_PARAMS,
	ORDER_PARAM("0"),
	{ "fill_pct", "90", "initial fill in percent of memory (half is then freed)" },
	{ "churn_pct", "10", "percent of the held blocks freed and reallocated per round" },
	{ "rounds", "100", "churn rounds (count)" },
	{ NULL, NULL, NULL },
};

static const as_param_desc_t tt_params[] = {
	COMMON_PARAMS,
	ORDER_PARAM("0"),
	{ "burst", "50000",
	  "frames (4 KiB) per burst over all threads: each thread allocates burst/threads/2^order "
	  "blocks, then frees them" },
	{ "bursts", "500", "bursts per thread at 4 KiB (count; times 2^order)" },
	{ NULL, NULL, NULL },
};

static const as_param_desc_t ls_params[] = {
	COMMON_PARAMS,
	ORDER_PARAM("0"),
	{ "burst", "87040", "frames (4 KiB) per burst per thread: burst/2^order blocks" },
	{ "bursts", "2", "bursts per thread at 4 KiB (count; times 2^order)" },
	{ NULL, NULL, NULL },
};

static const as_param_desc_t co_params[] = {
	COMMON_PARAMS,
	ORDER_PARAM("0"),
	{ "iters", "50000000", "free+realloc iterations over all threads (count)" },
	{ NULL, NULL, NULL },
};

static const as_param_desc_t ca_params[] = {
	COMMON_PARAMS,
	ORDER_PARAM("0"),
	{ "iters", "5000000", "alloc+free iterations per thread (count)" },
	{ NULL, NULL, NULL },
};

static const as_workload_desc_t workloads[] = {
	{ "bulk", "frame", "LLFree: every thread allocates its share, then frees it (ns/op)",
	  bulk_params },
	{ "repeat", "frame", "LLFree: share held, then get+put of one block repeatedly (ns/pair)",
	  repeat_params },
	{ "rand", "frame", "LLFree: allocate, shuffle all blocks over threads, free (ns/op)",
	  repeat_params },
	{ "frag", "frame",
	  "LLFree: fill 90%, free half, churn 10% per round: free huge frames, compaction moves",
	  frag_params },
	{ "filling", "frame", "LLFree: get/put latency at fill levels 0..99%", filling_params },
	{ "thread-test", "frame", "NBBS: fixed total of allocations in bursts (strong scaling)",
	  tt_params },
	{ "linux-scalability", "frame", "NBBS: fixed bursts per thread (weak scaling)",
	  ls_params },
	{ "constant-occupancy", "frame",
	  "NBBS: hold 1x16s..16xs blocks, free and re-get a random one", co_params },
	{ "cached-allocation", "frame", "NBBS: get and put one block over and over", ca_params },
	{ NULL, NULL, NULL, NULL },
};

static void (*const runners[])(fb_ctx_t *) = {
	fb_wl_bulk,
	fb_wl_repeat,
	fb_wl_rand,
	fb_wl_frag,
	fb_wl_filling,
	fb_wl_thread_test,
	fb_wl_linux_scalability,
	fb_wl_constant_occupancy,
	fb_wl_cached_allocation,
};

_Static_assert(AS_ARRAY_LEN(runners) + 1 == AS_ARRAY_LEN(workloads),
	       "one runner per workload descriptor");

static void known_allocators(char *buf, size_t len)
{
	size_t used = 0;
	buf[0] = '\0';
	for (const struct frame_ops *const *o = frame_allocators; *o && used < len; o++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s", used ? ", " : "",
					 (*o)->name);
	if (!buf[0])
		snprintf(buf, len, "none in this build");
}

int main(int argc, char **argv)
{
	char known[1024];
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--list-allocators")) {
			for (const struct frame_ops *const *o = frame_allocators; *o; o++)
				printf("alloc %s %s\n", (*o)->name, (*o)->desc ? (*o)->desc : "");
			return 0;
		}
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			known_allocators(known, sizeof(known));
			printf("framebench: frame-allocator workloads (workloads/frame/README.md).\n"
			       "--alloc NAME picks the allocator (%s);\n"
			       "framebench --list-allocators lists them with a description.\n\n",
			       known);
		}
	}
	const as_workload_desc_t *wl = as_probe_init(argc, argv, workloads);
	const char *name = as_probe_alloc();
	known_allocators(known, sizeof(known));
	if (!name)
		as_die(2, "--alloc NAME is required (known: %s)", known);
	const struct frame_ops *ops = frame_ops_find(name);
	if (!ops)
		as_die(2, "--alloc: unknown frame allocator '%s' (known: %s)", name, known);
	as_probe_info("alloc", "%s", ops->name);

	fb_ctx_t *c = fb_alloc_array(sizeof(*c));
	fb_setup(c, ops);
	runners[wl - workloads](c);
	fb_finish(c);
	fb_free_array(c, sizeof(*c));
	as_probe_finish();
	return 0;
}
