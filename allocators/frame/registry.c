// SPDX-License-Identifier: MIT
// The list of frame allocators in this build, for the benchmarks, the tests
// and the page sources.
#include <string.h>

#include "frame.h"

// Weak while the allocators are being written in parallel; an allocator
// whose object is missing is left out of the list (TODO: make strong once all
// four exist).
extern const struct frame_ops buddy_ops __attribute__((weak));
extern const struct frame_ops buddy_nopcp_ops __attribute__((weak));
extern const struct frame_ops nbbs_ops __attribute__((weak));
extern const struct frame_ops llfree_ops __attribute__((weak));

static const struct frame_ops *const all[] = {
	&buddy_ops,
	&buddy_nopcp_ops,
	&nbbs_ops,
	&llfree_ops,
};
static const struct frame_ops *present[AS_ARRAY_LEN(all) + 1];

__attribute__((constructor)) static void registry_init(void)
{
	unsigned n = 0;
	for (unsigned i = 0; i < AS_ARRAY_LEN(all); i++)
		if (all[i])
			present[n++] = all[i];
}

const struct frame_ops *const *const frame_allocators = present;

const struct frame_ops *frame_ops_find(const char *name)
{
	for (const struct frame_ops *const *o = frame_allocators; *o; o++)
		if (strcmp((*o)->name, name) == 0)
			return *o;
	return NULL;
}

const char *frame_strerror(frame_err_t err)
{
	switch (err) {
	case FRAME_OK: return "ok";
	case FRAME_ERR_MEMORY: return "out of memory";
	case FRAME_ERR_ARGUMENT: return "invalid argument";
	case FRAME_ERR_RETRY: return "retries exhausted";
	case FRAME_ERR_INIT: return "initialisation failed";
	}
	return "unknown error";
}
