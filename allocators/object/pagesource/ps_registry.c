// SPDX-License-Identifier: MIT
// Page-source lookup by name, and the environment selection every in-tree
// object allocator uses (ALLOCSCOPE_PAGESOURCE, ALLOCSCOPE_PAGESOURCE_OPTIONS).
// Safe before main: getenv and string compares only, no malloc, no stdio.
#include <stdlib.h>
#include <string.h>

#include "as/err.h"
#include "internal.h"

const struct page_source_ops *ps_find(const char *name)
{
	if (!name || strcmp(name, "os") == 0)
		return &ps_os_ops;
	if (strncmp(name, "frame@", 6) == 0)
		return ps_frame_bind(name + 6) ? &ps_frame_ops : NULL;
	if (strncmp(name, "fault", 5) == 0 && (name[5] == ':' || name[5] == '\0'))
		return ps_fault_bind(name[5] ? name + 6 : NULL);
	return NULL;
}

const struct page_source_ops *ps_from_env(char *err, size_t errlen)
{
	const char *name = getenv("ALLOCSCOPE_PAGESOURCE");
	if (name && !*name)
		name = NULL;
	const struct page_source_ops *ps = ps_find(name);
	if (!ps) {
		as_format(err, errlen, "ALLOCSCOPE_PAGESOURCE=%s: unknown page source "
			  "(os, or frame@X with X a frame allocator of this build)", name);
		return NULL;
	}
	if (!ps->init(getenv("ALLOCSCOPE_PAGESOURCE_OPTIONS"), err, errlen))
		return NULL;
	return ps;
}
