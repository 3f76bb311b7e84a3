// SPDX-License-Identifier: MIT
// Scenario registry and helpers (see scenario.h).
#include "scenario.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define MAX_SCEN 64
static const as_scenario_t *scens[MAX_SCEN];
static size_t nscen;

void as_scenario_register(const as_scenario_t *s)
{
	if (nscen < MAX_SCEN)
		scens[nscen++] = s;
}

size_t as_scenario_count(void)
{
	return nscen;
}

const as_scenario_t *as_scenario_at(size_t i)
{
	return i < nscen ? scens[i] : NULL;
}

const char *as_scen_param(const as_scen_ctx_t *ctx, const char *name)
{
	for (size_t i = 0; i < ctx->nparams; i++)
		if (!strcmp(ctx->param_names[i], name))
			return ctx->param_values[i];
	for (const as_scen_param_t *p = ctx->scen->params; p && p->name; p++)
		if (!strcmp(p->name, name))
			return p->def;
	return NULL;
}

bool as_scen_check_preload(as_scen_ctx_t *ctx, const as_child_t *server)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)server->pid);
	char *maps = as_read_file(path);
	if (!maps) {
		as_rec_fail(ctx->rec, "error", "cannot read %s to verify the allocator", path);
		return false;
	}
	bool ok;
	if (ctx->alloc->lib) {
		char real[4096];
		const char *want = realpath(ctx->alloc->lib, real) ? real : ctx->alloc->lib;
		ok = strstr(maps, want) != NULL;
		as_rec_info(ctx->rec, "malloc_lib", ok ? want : "not mapped");
		if (!ok)
			as_rec_fail(ctx->rec, "error", "preload did not take effect: %s is not mapped in the server",
				    want);
	} else {
		ok = !strstr(maps, "libjemalloc") && !strstr(maps, "libtcmalloc") && !strstr(maps, "libmimalloc") &&
		     !strstr(maps, "liballocscope-");
		as_rec_info(ctx->rec, "malloc_lib", ok ? "libc.so.6" : "another allocator is mapped");
		if (!ok)
			as_rec_fail(ctx->rec, "error", "glibc run, but another malloc library is mapped in the server");
	}
	free(maps);
	return ok;
}
