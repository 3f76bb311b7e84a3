// SPDX-License-Identifier: MIT
// The allocator table (see catalog.h): the one place that says how each
// allocator name becomes a child process environment.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalog.h"
#include "util.h"

#define BASELINE_DIR "/usr/lib/x86_64-linux-gnu/"

// lib: an absolute path (baseline), "@NAME" (build/lib/liballocscope-NAME.so)
// or NULL (glibc). env: KEY=VALUE entries separated by ';'.
static const struct {
	const char *name;
	const char *lib;
	const char *env;
	const char *pkg;
	const char *desc;
} object_table[] = {
	{ "glibc", NULL, NULL, "libc6", "glibc ptmalloc2, no preload (malloc must resolve to libc.so.6)" },
	{ "jemalloc", BASELINE_DIR "libjemalloc.so.2", NULL, "libjemalloc2", "jemalloc (Debian package)" },
	{ "tcmalloc", BASELINE_DIR "libtcmalloc_minimal.so.4", NULL, "libtcmalloc-minimal4",
	  "tcmalloc minimal, gperftools (Debian package)" },
	{ "mimalloc", BASELINE_DIR "libmimalloc.so.2", NULL, "libmimalloc2.0", "mimalloc (Debian package)" },
	{ "adaptive", "@adaptive", NULL, NULL, "in-tree: per-thread caches tuned online by a controller" },
	{ "adaptive-static", "@adaptive", "ALLOCSCOPE_ADAPTIVE_CONTROLLER=0", NULL,
	  "in-tree: adaptive with the controller off (ablation)" },
	{ "lifetime", "@lifetime", NULL, NULL, "in-tree: LLAMA-style lifetime-class huge-page regions" },
	{ "lifetime-none", "@lifetime", "ALLOCSCOPE_LIFETIME_PREDICTOR=none", NULL, "in-tree: lifetime, no predictor" },
	{ "lifetime-profile", "@lifetime", "ALLOCSCOPE_LIFETIME_PREDICTOR=profile", NULL,
	  "in-tree: lifetime, profile-guided predictor" },
	{ "lifetime-oracle", "@lifetime", "ALLOCSCOPE_LIFETIME_PREDICTOR=oracle", NULL,
	  "in-tree: lifetime, oracle predictor" },
	{ "lifetime-model", "@lifetime", "ALLOCSCOPE_LIFETIME_PREDICTOR=model", NULL,
	  "in-tree: lifetime, learned model predictor" },
};

// In-tree object allocators that take a frame page source (NAME@FRAME).
static const char *const pagesource_users[] = { "adaptive", "lifetime" };
// Frame allocators assumed when framebench cannot be asked.
static const char *const frame_fallback[] = { "buddy", "buddy-nopcp", "nbbs", "llfree" };

static as_alloc_t *allocs;
static size_t nallocs;
static size_t cap;
static bool loaded;

static as_alloc_t *add(const char *name, as_kind_t kind, const char *desc)
{
	if (nallocs == cap) {
		cap = cap ? cap * 2 : 32;
		allocs = as_xrealloc(allocs, cap * sizeof(*allocs));
	}
	as_alloc_t *a = &allocs[nallocs++];
	memset(a, 0, sizeof(*a));
	a->name = as_xstrdup(name);
	a->kind = kind;
	a->desc = as_xstrdup(desc);
	a->available = true;
	return a;
}

char *as_pkg_version(const char *pkg)
{
	char *argv[] = { (char *)"dpkg-query", (char *)"-W", (char *)"-f=${Version}", (char *)pkg, NULL };
	char *out;
	int rc = as_capture(argv, &out, 256);
	if (rc != 0 || !out || !*out) {
		free(out);
		return NULL;
	}
	out[strcspn(out, "\n")] = '\0';
	return out;
}

static void set_lib(as_alloc_t *a, const char *spec)
{
	if (spec[0] == '@') {
		a->lib = as_xasprintf("%s/liballocscope-%s.so", as_lib_dir(), spec + 1);
		a->in_tree = true;
		a->version = as_xstrdup("in-tree");
	} else {
		a->lib = as_xstrdup(spec);
	}
	if (access(a->lib, R_OK) != 0) {
		a->available = false;
		a->missing = as_xasprintf("%s not found", a->lib);
	}
}

const char *as_framebench_path(void)
{
	static char *path;
	if (!path)
		path = as_xasprintf("%s/framebench", as_bin_dir());
	return access(path, X_OK) == 0 ? path : NULL;
}

void as_alloc_load(void)
{
	if (loaded)
		return;
	loaded = true;
	for (size_t i = 0; i < sizeof(object_table) / sizeof(object_table[0]); i++) {
		as_alloc_t *a = add(object_table[i].name, AS_KIND_OBJECT, object_table[i].desc);
		if (object_table[i].lib)
			set_lib(a, object_table[i].lib);
		else
			a->expect_lib = "libc.so.6";
		if (object_table[i].env)
			as_strv_split(&a->env, object_table[i].env, ';');
		if (object_table[i].pkg && a->available)
			a->version = as_pkg_version(object_table[i].pkg);
		// The profile and model predictors need their input file, passed
		// through the runner's environment; without it the library would
		// refuse to start, so say so here instead of failing every run.
		const char *need = !strcmp(a->name, "lifetime-profile") ? "ALLOCSCOPE_LIFETIME_PROFILE"
				   : !strcmp(a->name, "lifetime-model")	  ? "ALLOCSCOPE_LIFETIME_MODEL"
									  : NULL;
		if (need && a->available && !getenv(need)) {
			a->available = false;
			a->missing = as_xasprintf("set %s=path (tools/lt-profile or lt-train make one; "
						  "see allocators/object/lifetime/README.md)",
						  need);
		}
	}
	// Frame allocators, as framebench names them ("alloc NAME DESCRIPTION").
	as_strv_t frames = { 0 };
	const char *fb = as_framebench_path();
	if (fb) {
		char *argv[] = { (char *)fb, (char *)"--list-allocators", NULL };
		char *out;
		if (as_capture(argv, &out, 1 << 16) == 0) {
			char *save = NULL;
			for (char *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
				char name[128];
				int off = 0;
				if (sscanf(l, "alloc %127s %n", name, &off) < 1)
					continue;
				as_alloc_t *a = add(name, AS_KIND_FRAME, off ? l + off : "");
				a->version = as_xstrdup("in-tree");
				as_strv_push(&frames, name);
			}
		}
		free(out);
	}
	if (!frames.n) {
		for (size_t i = 0; i < sizeof(frame_fallback) / sizeof(frame_fallback[0]); i++) {
			as_alloc_t *a = add(frame_fallback[i], AS_KIND_FRAME, "frame allocator");
			a->available = false;
			a->missing = as_xasprintf(fb ? "%s does not list it" : "%s/framebench is not built",
						  fb ? fb : as_bin_dir());
			as_strv_push(&frames, frame_fallback[i]);
		}
	}
	for (size_t u = 0; u < sizeof(pagesource_users) / sizeof(pagesource_users[0]); u++)
		for (size_t f = 0; f < frames.n; f++) {
			char name[256];
			char desc[256];
			snprintf(name, sizeof(name), "%s@%s", pagesource_users[u], frames.v[f]);
			snprintf(desc, sizeof(desc), "in-tree: %s over a %s frame page source", pagesource_users[u],
				 frames.v[f]);
			as_alloc_t *a = add(name, AS_KIND_OBJECT, desc);
			char lib[128];
			snprintf(lib, sizeof(lib), "@%s", pagesource_users[u]);
			set_lib(a, lib);
			as_strv_pushf(&a->env, "ALLOCSCOPE_PAGESOURCE=frame@%s", frames.v[f]);
		}
	as_strv_clear(&frames);
}

size_t as_alloc_count(void)
{
	as_alloc_load();
	return nallocs;
}

as_alloc_t *as_alloc_at(size_t i)
{
	as_alloc_load();
	return i < nallocs ? &allocs[i] : NULL;
}

as_alloc_t *as_alloc_find(const char *name)
{
	as_alloc_load();
	for (size_t i = 0; i < nallocs; i++)
		if (!strcmp(allocs[i].name, name))
			return &allocs[i];
	if (!strncmp(name, "preload:", 8) && name[8]) {
		as_alloc_t *a = add(name, AS_KIND_OBJECT, "ad-hoc preload library");
		a->lib = as_xstrdup(name + 8);
		a->version = as_xstrdup("unknown");
		// A missing file stays "available": the run itself must catch that
		// the preload did not take effect.
		return a;
	}
	return NULL;
}
