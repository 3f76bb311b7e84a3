// SPDX-License-Identifier: MIT
// The list of frame allocators in this build, for the benchmarks, the tests
// and the page sources.
#include <string.h>

#include "frame.h"

extern const struct frame_ops buddy_ops;
extern const struct frame_ops buddy_nopcp_ops;
extern const struct frame_ops nbbs_ops;
extern const struct frame_ops llfree_ops;

static const struct frame_ops *const all[] = {
	&buddy_ops,
	&buddy_nopcp_ops,
	&nbbs_ops,
	&llfree_ops,
	NULL,
};

const struct frame_ops *const *const frame_allocators = all;

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
