// SPDX-License-Identifier: MIT
// Workload discovery (see catalog.h): `--describe` of bin/framebench and
// bin/micro-*, plus the registered scenarios.
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalog.h"
#include "scenario.h"
#include "util.h"

static as_wl_t *wls;
static size_t nwls;
static size_t cap;
static bool loaded;

static as_wl_t *add(void)
{
	if (nwls == cap) {
		cap = cap ? cap * 2 : 32;
		wls = as_xrealloc(wls, cap * sizeof(*wls));
	}
	as_wl_t *w = &wls[nwls++];
	memset(w, 0, sizeof(*w));
	return w;
}

static void add_param(as_wl_t *w, const char *name, const char *def, const char *help)
{
	w->params = as_xrealloc(w->params, (w->nparams + 1) * sizeof(*w->params));
	w->params[w->nparams++] = (as_param_t){ as_xstrdup(name), as_xstrdup(def), as_xstrdup(help) };
}

// "workload NAME KIND SUMMARY" then "param NAME DEFAULT HELP" lines.
static void describe(const char *prog)
{
	char *argv[] = { (char *)prog, (char *)"--describe", NULL };
	char *out;
	if (as_capture(argv, &out, 1 << 20) != 0) {
		free(out);
		return;
	}
	as_wl_t *cur = NULL;
	char *save = NULL;
	for (char *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		// Fields are single-space separated; a default may be empty
		// ("param trace  help...").
		char *f1 = strchr(l, ' ');
		char *f2 = f1 ? strchr(f1 + 1, ' ') : NULL;
		char *f3 = f2 ? strchr(f2 + 1, ' ') : NULL;
		if (!f1 || !f2)
			continue;
		*f1 = *f2 = '\0';
		if (f3)
			*f3 = '\0';
		const char *a = f1 + 1;
		const char *b = f2 + 1;
		const char *rest = f3 ? f3 + 1 : "";
		if (!strcmp(l, "workload") && *a && *b) {
			if (as_wl_find(a)) { // first program to claim a name wins
				cur = NULL;
				continue;
			}
			cur = add();
			cur->name = as_xstrdup(a);
			cur->kind = as_xstrdup(b);
			cur->summary = as_xstrdup(rest);
			cur->prog = as_xstrdup(prog);
		} else if (cur && !strcmp(l, "param") && *a) {
			add_param(cur, a, b, rest);
		}
	}
	free(out);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void as_wl_load(void)
{
	if (loaded)
		return;
	loaded = true;
	const char *fb = as_framebench_path();
	if (fb)
		describe(fb);
	DIR *d = opendir(as_bin_dir());
	as_strv_t progs = { 0 };
	for (struct dirent *e; d && (e = readdir(d));)
		if (!strncmp(e->d_name, "micro-", 6))
			as_strv_pushf(&progs, "%s/%s", as_bin_dir(), e->d_name);
	if (d)
		closedir(d);
	if (progs.n)
		qsort(progs.v, progs.n, sizeof(char *), cmp_str);
	for (size_t i = 0; i < progs.n; i++)
		if (access(progs.v[i], X_OK) == 0)
			describe(progs.v[i]);
	as_strv_clear(&progs);
	for (size_t i = 0; i < as_scenario_count(); i++) {
		const as_scenario_t *s = as_scenario_at(i);
		if (as_wl_find(s->name))
			continue;
		as_wl_t *w = add();
		w->name = as_xstrdup(s->name);
		w->kind = as_xstrdup(s->kind ? s->kind : "server");
		w->summary = as_xstrdup(s->summary ? s->summary : "");
		w->scen = s;
		for (const as_scen_param_t *p = s->params; p && p->name; p++)
			add_param(w, p->name, p->def, p->help ? p->help : "");
	}
}

size_t as_wl_count(void)
{
	as_wl_load();
	return nwls;
}

as_wl_t *as_wl_at(size_t i)
{
	as_wl_load();
	return i < nwls ? &wls[i] : NULL;
}

as_wl_t *as_wl_find(const char *name)
{
	for (size_t i = 0; i < nwls; i++)
		if (!strcmp(wls[i].name, name))
			return &wls[i];
	return NULL;
}

const as_param_t *as_wl_param(const as_wl_t *w, const char *name)
{
	for (size_t i = 0; i < w->nparams; i++)
		if (!strcmp(w->params[i].name, name))
			return &w->params[i];
	return NULL;
}

bool as_wl_fits(const as_wl_t *w, const as_alloc_t *a)
{
	bool frame_wl = !strcmp(w->kind, "frame");
	return frame_wl == (a->kind == AS_KIND_FRAME);
}
