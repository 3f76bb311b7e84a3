// SPDX-License-Identifier: MIT
// Options, config files and the run matrix (see opts.h).
#include "opts.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "as/err.h"
#include "as/kv.h"
#include "as/rng.h"
#include "perf.h"

// ---------------------------------------------------------------------------
// Value checks shared by the command line ("--opt: why") and config files
// ("file:line: key: why"). Each returns NULL or a static reason.

static char why[512];

static const char *check_uint_list(const char *v, uint64_t lo, uint64_t hi)
{
	as_strv_t l = { 0 };
	as_strv_split(&l, v, ',');
	const char *r = l.n ? NULL : "empty list";
	for (size_t i = 0; !r && i < l.n; i++) {
		uint64_t x;
		if (!as_parse_uint(l.v[i], lo, hi, &x)) {
			snprintf(why, sizeof(why), "'%s' is not an integer in [%llu, %llu]", l.v[i],
				 (unsigned long long)lo, (unsigned long long)hi);
			r = why;
		}
	}
	as_strv_clear(&l);
	return r;
}

static const char *check_uint(const char *v, uint64_t lo, uint64_t hi)
{
	uint64_t x;
	if (as_parse_uint(v, lo, hi, &x))
		return NULL;
	snprintf(why, sizeof(why), "'%s' is not an integer in [%llu, %llu]", v, (unsigned long long)lo,
		 (unsigned long long)hi);
	return why;
}

static const char *check_value(const char *key, const char *v)
{
	if (!strcmp(key, "threads"))
		return check_uint_list(v, 1, 4096);
	if (!strcmp(key, "reps"))
		return check_uint(v, 1, 100000);
	if (!strcmp(key, "seed"))
		return check_uint(v, 0, UINT64_MAX);
	if (!strcmp(key, "timeline_ms") || !strcmp(key, "timeline-ms"))
		return check_uint(v, 0, 60000);
	if (!strcmp(key, "sample")) {
		uint64_t x;
		if (!as_parse_uint(v, 1, 1u << 30, &x) || (x & (x - 1))) {
			snprintf(why, sizeof(why), "'%s' is not a power of two in [1, 2^30]", v);
			return why;
		}
		return NULL;
	}
	if (!strcmp(key, "timeout")) {
		double d;
		if (!as_parse_double(v, &d) || d <= 0 || d > 7 * 86400.0) {
			snprintf(why, sizeof(why), "'%s' is not a number of seconds in (0, 604800]", v);
			return why;
		}
		return NULL;
	}
	if (!strcmp(key, "mem_limit") || !strcmp(key, "mem-limit")) {
		uint64_t x;
		if (!as_parse_u64(v, &x)) {
			snprintf(why, sizeof(why), "'%s' is not a size in bytes (suffixes k, M, G allowed)", v);
			return why;
		}
		return NULL;
	}
	if (!strcmp(key, "pin")) {
		as_pin_t p;
		static char err[256];
		int rc = as_pin_parse(&p, v, err, sizeof(err));
		free(p.list); // as_pin_parse may leave it allocated on failure
		return rc != 0 ? strchr(err, ' ') + 1 : NULL;
	}
	if (!strcmp(key, "membind")) {
		if (!strcmp(v, "local") || !strcmp(v, "interleave") || !strcmp(v, "default"))
			return NULL;
		uint64_t x;
		if (!strncmp(v, "node=", 5) && as_parse_uint(v + 5, 0, 1u << 16, &x))
			return NULL;
		snprintf(why, sizeof(why), "'%s' is not local, interleave or node=N", v);
		return why;
	}
	if (!strcmp(key, "shard")) {
		unsigned i, n;
		char c;
		if (sscanf(v, "%u/%u%c", &i, &n, &c) != 2 || n == 0 || i >= n) {
			snprintf(why, sizeof(why), "'%s' is not i/n with 0 <= i < n", v);
			return why;
		}
		return NULL;
	}
	if (!strcmp(key, "alloc")) {
		as_strv_t l = { 0 };
		as_strv_split(&l, v, ',');
		const char *r = l.n ? NULL : "empty list";
		for (size_t i = 0; !r && i < l.n; i++) {
			as_alloc_t *a = as_alloc_find(l.v[i]);
			if (!a) {
				snprintf(why, sizeof(why), "unknown allocator '%s' (see allocscope list)", l.v[i]);
				r = why;
			} else if (!a->available) {
				snprintf(why, sizeof(why), "allocator '%s' is missing: %s", l.v[i], a->missing);
				r = why;
			}
			for (size_t j = 0; !r && j < i; j++)
				if (!strcmp(l.v[i], l.v[j])) {
					snprintf(why, sizeof(why), "allocator '%s' is named twice", l.v[i]);
					r = why;
				}
		}
		as_strv_clear(&l);
		return r;
	}
	if (!strcmp(key, "workload")) {
		as_strv_t l = { 0 };
		as_strv_split(&l, v, ',');
		const char *r = l.n ? NULL : "empty list";
		for (size_t i = 0; !r && i < l.n; i++)
			if (!as_wl_find(l.v[i])) {
				snprintf(why, sizeof(why), "unknown workload '%s' (see allocscope list)", l.v[i]);
				r = why;
			}
		as_strv_clear(&l);
		return r;
	}
	return NULL;
}

// ---------------------------------------------------------------------------
// Config files
//
// inih reads the text line by line through cfg_read (an fgets over the
// buffer), so the parser works the same on a file and on a fuzzer's bytes,
// and knows the line number for every handler call. The handler writes only
// into a scratch as_opts_t (c->n); it is merged into the caller's options
// when the whole text is good, and freed otherwise, so a rejected config
// leaves the caller's options as they were.

typedef struct cfg_s {
	const as_opts_t *o; ///< the caller's options: [run] keys only fill unset ones
	as_opts_t n;	    ///< what this config sets
	const char *text;
	size_t len;
	size_t pos;
	int line;      ///< line most recently handed to inih (1-based)
	int fail_line; ///< line of err, 0 = none
	char err[600];
} cfg_t;

static int cfg_fail(cfg_t *c, const char *fmt, ...) AS_PRINTF(2, 3);
static int cfg_fail(cfg_t *c, const char *fmt, ...)
{
	if (!c->fail_line) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(c->err, sizeof(c->err), fmt, ap);
		va_end(ap);
		c->fail_line = c->line;
	}
	return 0;
}

// inih's reader: the next line (with its '\n') into line[0..num-1), like
// fgets. A line that does not fit would be split by inih into several
// "lines" (wrong line numbers, a bogus reason), and a NUL byte would end the
// line early; both stop the parse with a reason instead.
static char *cfg_read(char *line, int num, void *stream)
{
	cfg_t *c = stream;
	if (c->pos >= c->len || c->fail_line || num < 2)
		return NULL;
	const char *s = c->text + c->pos;
	size_t rest = c->len - c->pos;
	const char *nl = memchr(s, '\n', rest);
	size_t n = nl ? (size_t)(nl - s) + 1 : rest;
	c->line++;
	if (memchr(s, '\0', n)) {
		cfg_fail(c, "NUL byte in the line (not a text file?)");
		return NULL;
	}
	// Room for the text, its '\n' and the NUL, whether or not it has a '\n'.
	if (n - (nl != NULL) > (size_t)num - 2) {
		cfg_fail(c, "line longer than %d characters", num - 2);
		return NULL;
	}
	memcpy(line, s, n);
	line[n] = '\0';
	c->pos += n;
	return line;
}

// A [run] key sets the scratch value unless the caller or an earlier line
// of this config already set it (the command line wins; first line wins).
static void set_if_unset(const char *old, char **field, const char *v)
{
	if (!old && !*field)
		*field = as_xstrdup(v);
}

// An allocator name a config may use: listed, or "preload:PATH". Checked
// without as_alloc_find, which would add a table entry for every preload
// name (the plan adds it when the config is used).
static bool cfg_known_alloc(const char *name)
{
	if (!strncmp(name, "preload:", 8))
		return name[8] != '\0';
	return as_alloc_find(name) != NULL;
}

static int cfg_handler(void *user, const char *section, const char *name, const char *value)
{
	cfg_t *c = user;
	const as_opts_t *o = c->o;
	as_opts_t *n = &c->n;
	if (!strcmp(section, "run")) {
		static const struct {
			const char *key;
			size_t off;
		} keys[] = {
#define K(f) { #f, offsetof(as_opts_t, f) }
			K(alloc),   K(workload), K(threads),	 K(reps),   K(pin),
			K(membind), K(topology), K(events),	 K(seed),   K(timeout),
			K(mem_limit), K(sample), K(timeline_ms),
#undef K
		};
		if (!strcmp(name, "alloc")) {
			// Names must exist; availability is checked when the plan is
			// built (bench skips missing ones).
			as_strv_t l = { 0 };
			as_strv_split(&l, value, ',');
			if (!l.n)
				cfg_fail(c, "alloc = %s: empty list", value);
			for (size_t i = 0; i < l.n; i++)
				if (!cfg_known_alloc(l.v[i])) {
					cfg_fail(c, "alloc = %s: unknown allocator '%s' (see allocscope list)", value, l.v[i]);
					break;
				}
			as_strv_clear(&l);
			if (c->fail_line == c->line)
				return 0;
			set_if_unset(o->alloc, &n->alloc, value);
			return 1;
		}
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			if (!strcmp(name, keys[i].key)) {
				const char *r = check_value(name, value);
				if (r)
					return cfg_fail(c, "%s = %s: %s", name, value, r);
				set_if_unset(*(char *const *)((const char *)o + keys[i].off),
					     (char **)((char *)n + keys[i].off), value);
				return 1;
			}
		return cfg_fail(c, "unknown key '%s' in [run]", name);
	}
	if (!strcmp(section, "params")) {
		bool known = false;
		for (size_t i = 0; i < as_wl_count(); i++)
			if (as_wl_param(as_wl_at(i), name))
				known = true;
		if (!known)
			return cfg_fail(c, "no workload has a parameter '%s'", name);
		as_strv_pushf(&n->cparams, "%s=%s", name, value);
		return 1;
	}
	if (!strncmp(section, "params.", 7)) {
		const as_wl_t *w = as_wl_find(section + 7);
		if (!w)
			return 1; // not built here; the suite notes it
		if (!as_wl_param(w, name))
			return cfg_fail(c, "workload '%s' has no parameter '%s'", w->name, name);
		as_strv_pushf(&n->wparams, "%s:%s=%s", w->name, name, value);
		return 1;
	}
	if (!strcmp(section, "suite.frame") || !strcmp(section, "suite.object")) {
		as_suite_t *s = &n->suite[section[6] == 'f' ? AS_KIND_FRAME : AS_KIND_OBJECT];
		if (!strcmp(name, "workloads")) {
			as_strv_split(&s->workloads, value, ',');
			return 1;
		}
		if (!strcmp(name, "threads") || !strncmp(name, "threads.", 8)) {
			const char *r = check_value("threads", value);
			if (r)
				return cfg_fail(c, "%s = %s: %s", name, value, r);
			if (name[7] == '.') {
				if (!name[8])
					return cfg_fail(c, "threads. = %s: name a workload (threads.NAME)", value);
				as_strv_pushf(&s->wthreads, "%s=%s", name + 8, value);
				return 1;
			}
			free(s->threads);
			s->threads = as_xstrdup(value);
			return 1;
		}
		return cfg_fail(c, "unknown key '%s' in [%s] (workloads, threads, threads.NAME)", name, section);
	}
	return cfg_fail(c, "unknown section [%s] (run, params, params.NAME, suite.frame, suite.object)", section);
}

// Move the items of `from` to the end of `to` (from ends empty).
static void strv_move(as_strv_t *to, as_strv_t *from)
{
	for (size_t i = 0; i < from->n; i++)
		as_strv_push(to, from->v[i]);
	as_strv_clear(from);
}

// Merge a good config's scratch options into the caller's (see cfg_t).
static void cfg_merge(as_opts_t *o, as_opts_t *n)
{
	char **of[] = { &o->alloc, &o->workload, &o->threads, &o->reps, &o->pin, &o->membind, &o->topology,
			&o->events, &o->seed, &o->timeout, &o->mem_limit, &o->sample, &o->timeline_ms };
	char **nf[] = { &n->alloc, &n->workload, &n->threads, &n->reps, &n->pin, &n->membind, &n->topology,
			&n->events, &n->seed, &n->timeout, &n->mem_limit, &n->sample, &n->timeline_ms };
	for (size_t i = 0; i < sizeof(of) / sizeof(of[0]); i++)
		if (*nf[i]) {
			*of[i] = *nf[i]; // unset in o, or set_if_unset would not have set it
			*nf[i] = NULL;
		}
	strv_move(&o->cparams, &n->cparams);
	strv_move(&o->wparams, &n->wparams);
	for (int k = 0; k < 2; k++) {
		strv_move(&o->suite[k].workloads, &n->suite[k].workloads);
		strv_move(&o->suite[k].wthreads, &n->suite[k].wthreads);
		if (n->suite[k].threads) {
			free(o->suite[k].threads);
			o->suite[k].threads = n->suite[k].threads;
			n->suite[k].threads = NULL;
		}
	}
}

void as_opts_clear(as_opts_t *o)
{
	char *fields[] = { o->alloc,  o->workload,  o->threads, o->reps,   o->pin,	      o->membind,
			   o->topology, o->events,  o->seed,	o->timeout, o->mem_limit, o->sample,
			   o->timeline_ms, o->out,  o->config,	o->shard };
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		free(fields[i]);
	as_strv_clear(&o->params);
	as_strv_clear(&o->cparams);
	as_strv_clear(&o->wparams);
	for (int k = 0; k < 2; k++) {
		as_strv_clear(&o->suite[k].workloads);
		free(o->suite[k].threads);
		as_strv_clear(&o->suite[k].wthreads);
	}
	memset(o, 0, sizeof(*o));
}

bool as_opts_parse_config(as_opts_t *o, const char *name, const char *text, size_t len, char *err,
			  size_t errlen)
{
	as_wl_load();
	as_alloc_load();
	cfg_t *c = as_xcalloc(1, sizeof(*c));
	c->o = o;
	c->text = text;
	c->len = len;
	int r = ini_parse_stream(cfg_read, c, cfg_handler, c);
	// inih returns the first line it found wrong (a syntax error or a
	// handler refusal); cfg_read's refusals end the stream and are later.
	bool ok = r == 0 && !c->fail_line;
	if (r < 0)
		snprintf(err, errlen, "%s: out of memory while parsing", name);
	else if (r > 0 && r != c->fail_line)
		snprintf(err, errlen, "%s:%d: syntax error (expected [section], key = value or ; comment)", name, r);
	else if (!ok)
		snprintf(err, errlen, "%s:%d: %s", name, c->fail_line, c->err);
	if (ok)
		cfg_merge(o, &c->n);
	as_opts_clear(&c->n);
	free(c);
	return ok;
}

void as_opts_load_config(as_opts_t *o, const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		as_die(2, "--config: cannot open '%s': %s", path, strerror(errno));
	size_t len = 0;
	size_t cap = 4096;
	char *text = as_xmalloc(cap);
	for (size_t got; (got = fread(text + len, 1, cap - len, f)) > 0;) {
		len += got;
		if (len == cap)
			text = as_xrealloc(text, cap *= 2);
	}
	if (ferror(f))
		as_die(2, "--config: cannot read '%s': %s", path, strerror(errno));
	fclose(f);
	char err[1024];
	if (!as_opts_parse_config(o, path, text, len, err, sizeof(err)))
		as_die(2, "%s", err);
	free(text);
}

char *as_find_config(const char *name)
{
	char *p = as_xasprintf("configs/%s", name);
	if (access(p, R_OK) == 0)
		return p;
	free(p);
	// The build folder is BUILD=<root>/build[/sub]: look up to three levels up.
	const char *b = as_build_dir();
	for (int up = 1; up <= 3; up++) {
		char rel[32] = "";
		for (int i = 0; i < up; i++)
			strcat(rel, "/..");
		p = as_xasprintf("%s%s/configs/%s", b, rel, name);
		if (access(p, R_OK) == 0)
			return p;
		free(p);
	}
	return NULL;
}

// ---------------------------------------------------------------------------
// The matrix

static void opt_check(const char *opt, const char *key, const char *v)
{
	const char *r = v ? check_value(key, v) : NULL;
	if (r)
		as_die(2, "%s: %s", opt, r);
}

static unsigned u(const char *v, unsigned def)
{
	uint64_t x;
	return v && as_parse_uint(v, 0, UINT32_MAX, &x) ? (unsigned)x : def;
}

typedef struct kv_s {
	as_strv_t names;
	as_strv_t vals; ///< comma lists (sweeps)
} kv_t;

static void kv_set(kv_t *k, const char *name, const char *val)
{
	for (size_t i = 0; i < k->names.n; i++)
		if (!strcmp(k->names.v[i], name)) {
			free(k->vals.v[i]);
			k->vals.v[i] = as_xstrdup(val);
			return;
		}
	as_strv_push(&k->names, name);
	as_strv_push(&k->vals, val);
}

// Given parameters for workload w: [params], then [params.W], then --param.
static void params_for(const as_opts_t *o, const as_wl_t *w, kv_t *k)
{
	const as_strv_t *lists[2] = { &o->cparams, &o->params };
	for (int pass = 0; pass < 3; pass++) {
		const as_strv_t *l = pass == 0 ? lists[0] : pass == 1 ? &o->wparams : lists[1];
		for (size_t i = 0; i < l->n; i++) {
			const char *s = l->v[i];
			if (pass == 1) {
				size_t n = strlen(w->name);
				if (strncmp(s, w->name, n) != 0 || s[n] != ':')
					continue;
				s += n + 1;
			}
			const char *eq = strchr(s, '=');
			char *name = strndup(s, (size_t)(eq - s));
			if (as_wl_param(w, name))
				kv_set(k, name, eq + 1);
			free(name);
		}
	}
}

static void push_cell(as_plan_t *p, as_alloc_t *a, as_wl_t *w, unsigned t, unsigned rep, const kv_t *k,
		      const size_t *pick)
{
	size_t cap = p->ncells + 1;
	p->cells = as_xrealloc(p->cells, cap * sizeof(*p->cells));
	as_cell_t *c = &p->cells[p->ncells++];
	memset(c, 0, sizeof(*c));
	c->alloc = a;
	c->wl = w;
	c->threads = t;
	c->rep = rep;
	c->index = p->ncells - 1;
	for (size_t i = 0; i < k->names.n; i++) {
		as_strv_t vals = { 0 };
		as_strv_split(&vals, k->vals.v[i], ',');
		as_strv_push(&c->pnames, k->names.v[i]);
		as_strv_push(&c->pvals, vals.n ? vals.v[pick[i] % vals.n] : "");
		as_strv_clear(&vals);
	}
}

void as_plan_build(as_plan_t *p, as_opts_t *o)
{
	char err[512];
	memset(p, 0, sizeof(*p));
	as_alloc_load();
	as_wl_load();
	opt_check("--threads", "threads", o->threads);
	opt_check("--reps", "reps", o->reps);
	opt_check("--seed", "seed", o->seed);
	opt_check("--timeout", "timeout", o->timeout);
	opt_check("--mem-limit", "mem_limit", o->mem_limit);
	opt_check("--sample", "sample", o->sample);
	opt_check("--timeline-ms", "timeline_ms", o->timeline_ms);
	opt_check("--pin", "pin", o->pin);
	opt_check("--membind", "membind", o->membind);
	opt_check("--shard", "shard", o->shard);
	if (o->alloc_cli)
		opt_check("--alloc", "alloc", o->alloc);
	opt_check("--workload", "workload", o->workload);

	if (as_topo_load(&p->topo, o->topology, err, sizeof(err)) != 0)
		as_die(2, "%s", err);
	if (as_pin_parse(&p->pin, o->pin ? o->pin : (p->topo.simulated ? "compact" : "none"), err,
			 sizeof(err)) != 0 ||
	    as_pin_check(&p->pin, &p->topo, err, sizeof(err)) != 0)
		as_die(2, "%s", err);
	if (as_mem_parse(&p->mem, o->membind ? o->membind : "default", &p->topo, err, sizeof(err)) != 0)
		as_die(2, "%s", err);
	const char *ev = o->events ? o->events : AS_PERF_DEFAULT;
	if (as_perf_setup(!strcmp(ev, "none") ? "" : ev, err, sizeof(err)) != 0)
		as_die(2, "%s", err);

	p->reps = u(o->reps, o->bench ? 3 : 1);
	p->seed = 42;
	if (o->seed)
		as_parse_uint(o->seed, 0, UINT64_MAX, &p->seed);
	p->timeout_s = o->timeout ? strtod(o->timeout, NULL) : 300;
	p->mem_limit = 0;
	if (o->mem_limit)
		as_parse_u64(o->mem_limit, &p->mem_limit);
	else {
		long pages = sysconf(_SC_PHYS_PAGES);
		p->mem_limit = pages > 0 ? (uint64_t)pages * (uint64_t)sysconf(_SC_PAGESIZE) / 10 * 8 : 0;
	}
	p->sample = u(o->sample, 16);
	p->timeline_ms = u(o->timeline_ms, 10);
	p->shard_n = 1;
	if (o->shard)
		sscanf(o->shard, "%u/%u", &p->shard_i, &p->shard_n);

	// Allocators
	if (o->alloc && o->alloc_cli)
		as_strv_split(&p->allocs, o->alloc, ',');
	else if (o->alloc) {
		as_strv_t l = { 0 };
		as_strv_split(&l, o->alloc, ',');
		for (size_t i = 0; i < l.n; i++) {
			as_alloc_t *a = as_alloc_find(l.v[i]);
			if (a->available && !as_strv_has(&p->allocs, l.v[i]))
				as_strv_push(&p->allocs, l.v[i]);
			else if (!a->available && !o->bench)
				as_die(2, "--config: allocator '%s' is missing: %s", a->name, a->missing);
			else if (!a->available && !o->quiet)
				as_warn("note: allocator '%s' is missing (%s); skipped", a->name, a->missing);
		}
		as_strv_clear(&l);
		if (!p->allocs.n)
			as_die(2, "--config: none of the allocators named in [run] alloc is available");
	} else if (o->bench) {
		for (size_t i = 0; i < as_alloc_count(); i++)
			if (as_alloc_at(i)->available)
				as_strv_push(&p->allocs, as_alloc_at(i)->name);
	} else
		as_die(2, "--alloc is required (see allocscope list)");

	// Workloads per allocator kind
	as_strv_t named = { 0 };
	if (o->workload)
		as_strv_split(&named, o->workload, ',');
	bool named_any = named.n > 0;
	for (size_t i = 0; i < named.n; i++) {
		as_wl_t *w = as_wl_find(named.v[i]);
		bool fits = false;
		for (size_t j = 0; j < p->allocs.n; j++)
			fits |= as_wl_fits(w, as_alloc_find(p->allocs.v[j]));
		if (!fits)
			as_die(2, "--workload: '%s' is a %s workload and no selected allocator runs it (%s)", w->name,
			       w->kind,
			       !strcmp(w->kind, "frame") ? "frame workloads need a frame allocator"
							 : "it needs an object allocator");
	}
	as_strv_t per_kind[2] = { { 0 }, { 0 } };
	const char *kind_threads[2] = { NULL, NULL };
	for (int k = 0; k < 2; k++) {
		if (named.n) {
			for (size_t i = 0; i < named.n; i++)
				if ((!strcmp(as_wl_find(named.v[i])->kind, "frame")) == (k == AS_KIND_FRAME))
					as_strv_push(&per_kind[k], named.v[i]);
		} else {
			as_suite_t *s = &o->suite[k];
			for (size_t i = 0; i < s->workloads.n; i++) {
				as_wl_t *w = as_wl_find(s->workloads.v[i]);
				if (!w) {
					if (!o->quiet)
						as_warn("note: suite workload '%s' is not built here; skipped",
							s->workloads.v[i]);
				} else if ((!strcmp(w->kind, "frame")) != (k == AS_KIND_FRAME)) {
					as_die(2, "--config: [suite.%s] lists '%s', a %s workload",
					       k == AS_KIND_FRAME ? "frame" : "object", w->name, w->kind);
				} else
					as_strv_push(&per_kind[k], w->name);
			}
			kind_threads[k] = s->threads;
		}
	}
	as_strv_clear(&named);

	// --param keys must belong to some selected workload.
	for (size_t i = 0; i < o->params.n; i++) {
		const char *eq = strchr(o->params.v[i], '=');
		char *name = strndup(o->params.v[i], (size_t)(eq - o->params.v[i]));
		bool found = false;
		for (int k = 0; k < 2; k++)
			for (size_t j = 0; j < per_kind[k].n; j++)
				found |= as_wl_param(as_wl_find(per_kind[k].v[j]), name) != NULL;
		if (!found)
			as_die(2, "--param: no selected workload has a parameter '%s'", name);
		free(name);
	}

	// Cells: rep > workload > params > threads > allocator (innermost, so
	// allocators interleave; their order is shuffled per rep with the seed).
	as_rng_t rng;
	as_rng_seed(&rng, p->seed, 0x5eed);
	size_t na = p->allocs.n;
	size_t *order = as_xcalloc(na, sizeof(size_t));
	for (unsigned rep = 0; rep < p->reps; rep++) {
		for (size_t i = 0; i < na; i++)
			order[i] = i;
		for (size_t i = na; rep > 0 && i > 1; i--) {
			size_t j = (size_t)as_rng_below(&rng, i);
			size_t t = order[i - 1];
			order[i - 1] = order[j];
			order[j] = t;
		}
		for (int k = 0; k < 2; k++) {
			for (size_t wi = 0; wi < per_kind[k].n; wi++) {
				as_wl_t *w = as_wl_find(per_kind[k].v[wi]);
				const char *ts = o->threads_cli ? o->threads : kind_threads[k] ? kind_threads[k]
									       : o->threads ? o->threads : "1";
				size_t wn = strlen(w->name);
				for (size_t i = 0; !o->threads_cli && !named_any && i < o->suite[k].wthreads.n; i++)
					if (!strncmp(o->suite[k].wthreads.v[i], w->name, wn) &&
					    o->suite[k].wthreads.v[i][wn] == '=')
						ts = o->suite[k].wthreads.v[i] + wn + 1;
				as_strv_t tl = { 0 };
				as_strv_split(&tl, ts, ',');
				kv_t kv = { { 0 }, { 0 } };
				params_for(o, w, &kv);
				size_t combos = 1;
				size_t *radix = as_xcalloc(kv.names.n + 1, sizeof(size_t));
				for (size_t i = 0; i < kv.names.n; i++) {
					as_strv_t vals = { 0 };
					as_strv_split(&vals, kv.vals.v[i], ',');
					radix[i] = vals.n ? vals.n : 1;
					combos *= radix[i];
					as_strv_clear(&vals);
				}
				size_t *pick = as_xcalloc(kv.names.n + 1, sizeof(size_t));
				for (size_t ci = 0; ci < combos; ci++) {
					size_t x = ci;
					for (size_t i = kv.names.n; i-- > 0;) {
						pick[i] = x % radix[i];
						x /= radix[i];
					}
					for (size_t ti = 0; ti < tl.n; ti++)
						for (size_t ai = 0; ai < na; ai++) {
							as_alloc_t *a = as_alloc_find(p->allocs.v[order[ai]]);
							if (as_wl_fits(w, a))
								push_cell(p, a, w, u(tl.v[ti], 1), rep, &kv, pick);
						}
				}
				free(radix);
				free(pick);
				as_strv_clear(&kv.names);
				as_strv_clear(&kv.vals);
				as_strv_clear(&tl);
			}
		}
	}
	free(order);
	for (int k = 0; k < 2; k++)
		as_strv_clear(&per_kind[k]);
	if (!p->ncells)
		as_die(2, "%s: nothing to run (no workload fits the selected allocators%s)",
		       o->workload ? "--workload" : "--config",
		       o->workload ? "" : "; name one with --workload or a [suite.KIND] in the config");
	// Shard: every n-th cell.
	p->total = p->ncells;
	if (p->shard_n > 1) {
		size_t n = 0;
		for (size_t i = 0; i < p->ncells; i++)
			if (i % p->shard_n == p->shard_i)
				p->cells[n++] = p->cells[i];
		p->ncells = n;
	}
}

char *as_cell_desc(const as_cell_t *c)
{
	as_strv_t l = { 0 };
	for (size_t i = 0; i < c->pnames.n; i++)
		as_strv_pushf(&l, "%s=%s", c->pnames.v[i], c->pvals.v[i]);
	char *ps = as_strv_join(&l, ",");
	char *s = as_xasprintf("%s %s threads=%u rep=%u%s%s", c->alloc->name, c->wl->name, c->threads, c->rep,
			       *ps ? " " : "", ps);
	free(ps);
	as_strv_clear(&l);
	return s;
}
