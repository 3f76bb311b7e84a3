// SPDX-License-Identifier: MIT
// replay: re-runs an allocation trace (liballocscope-trace.so, format in
// allocators/object/trace/trace_format.h) against whatever malloc this
// process has, in-process and single-threaded, in the trace's time order, so
// the fragmentation of different allocators is compared on exactly the same
// request stream. Every object is written in full (so RSS is real) and its
// ends are checked before it is freed.
//
// Besides the probe's time-sampled metrics it reports deterministic ones,
// sampled every `every` events rather than by wall clock: replay_rss_peak
// (RSS above the level before the first event), replay_live_peak and
// replay_frag_peak / replay_frag_mean (1 - live / RSS above that level).
// With the same trace and allocator these are identical run to run.
//
// When the lifetime allocator is loaded (its hooks are found by dlsym) the
// replay drives its clock with trace time, names each allocation's site by
// the trace's site id and frames, and, for the oracle predictor, passes each
// object's true lifetime.
#include <dlfcn.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../allocators/object/trace/trace_format.h"
#include "as/err.h"
#include "as/meta.h"
#include "probe.h"

static const as_param_desc_t params[] = {
	{ "trace", "", "allocation trace to replay (path, required)" },
	{ "every", "256", "events between deterministic RSS samples (count)" },
	{ "touch", "1", "write every allocated byte (0/1)" },
	{ NULL, NULL, NULL },
};

static const as_workload_desc_t workloads[] = {
	{ "replay", "micro", "replay an allocation trace in-process, deterministically", params },
	{ NULL, NULL, NULL, NULL },
};

typedef struct ev_s {
	uint64_t t;
	uint64_t seq;  ///< file order: ties keep it
	uint32_t obj;  ///< index into objs
	uint8_t is_free;
} ev_t;

typedef struct obj_s {
	uint64_t size;
	uint64_t t_alloc, t_free; ///< t_free = UINT64_MAX: never freed
	uint32_t site;            ///< index into sites, UINT32_MAX = unknown
	uint8_t align_log2;
	bool allocated, freed;
	void *p;
} obj_t;

typedef struct site_s {
	uint32_t trace_site;
	uint64_t id;
	char *text;
} site_t;

static struct {
	ev_t *ev;
	uint64_t nev, cap_ev;
	obj_t *obj;
	uint64_t nobj, cap_obj;
	uint64_t id_base;
	site_t *site;
	uint32_t nsite, cap_site;
	uint64_t unmatched_frees;
} R;

static void *grow(void *p, uint64_t *cap, uint64_t need, size_t elem)
{
	if (need <= *cap)
		return p;
	uint64_t n = *cap ? *cap : 1024;
	while (n < need)
		n *= 2;
	void *q = as_meta_alloc(n * elem, 4096);
	if (!q)
		as_die(1, "replay: out of memory for %llu trace entries", (unsigned long long)n);
	if (p) {
		memcpy(q, p, *cap * elem);
		as_meta_free(p, *cap * elem, 4096);
	}
	*cap = n;
	return q;
}

// Trace ids are dense (one global counter): objects are indexed by id - 1.
static obj_t *obj_of(uint64_t id)
{
	if (id == 0 || id > (1ULL << 36))
		return NULL;
	uint64_t i = id - 1;
	if (i >= R.nobj) {
		R.obj = grow(R.obj, &R.cap_obj, i + 1, sizeof(obj_t));
		for (uint64_t k = R.nobj; k <= i; k++)
			R.obj[k].t_free = UINT64_MAX;
		R.nobj = i + 1;
	}
	return &R.obj[i];
}

static void push_ev(uint64_t t, uint64_t obj, bool is_free)
{
	R.ev = grow(R.ev, &R.cap_ev, R.nev + 1, sizeof(ev_t));
	R.ev[R.nev] = (ev_t){ t, R.nev, (uint32_t)obj, is_free };
	R.nev++;
}

static void on_site(const tr_site_t *s, const char *text, void *ctx)
{
	(void)ctx;
	uint64_t cap = R.cap_site;
	R.site = grow(R.site, &cap, (uint64_t)R.nsite + 1, sizeof(site_t));
	R.cap_site = (uint32_t)cap;
	char *t = as_meta_alloc((size_t)s->textlen + 1, 16);
	if (!t)
		as_die(1, "replay: out of memory");
	memcpy(t, text, s->textlen);
	R.site[R.nsite++] = (site_t){ s->site, s->site_id, t };
}

static uint32_t site_index(uint32_t trace_site)
{
	for (uint32_t i = 0; i < R.nsite; i++) // sites are few; load time only
		if (R.site[i].trace_site == trace_site)
			return i;
	return UINT32_MAX;
}

static void on_alloc(const tr_alloc_t *a, void *ctx)
{
	(void)ctx;
	obj_t *o = obj_of(a->id);
	if (!o || o->allocated)
		as_die(2, "replay: trace has a duplicate or invalid object id %llu",
		       (unsigned long long)a->id);
	o->allocated = true;
	o->size = a->size;
	o->t_alloc = a->time_ns;
	o->align_log2 = a->align_log2;
	o->site = site_index(a->site);
	push_ev(a->time_ns, a->id - 1, false);
}

static void on_free(const tr_free_t *f, void *ctx)
{
	(void)ctx;
	obj_t *o = obj_of(f->id);
	if (!o || !o->allocated || o->freed) {
		R.unmatched_frees++;
		return;
	}
	o->freed = true;
	o->t_free = f->time_ns;
	push_ev(f->time_ns, f->id - 1, true);
}

static bool ev_less(const ev_t *a, const ev_t *b)
{
	if (a->t != b->t)
		return a->t < b->t;
	return a->seq < b->seq;
}

/// In-place heapsort (no malloc: the allocator under test stays untouched).
static void sort_events(ev_t *v, uint64_t n)
{
	for (uint64_t k = n / 2; k-- > 0;) {
		for (uint64_t i = k;;) {
			uint64_t c = 2 * i + 1;
			if (c >= n)
				break;
			if (c + 1 < n && ev_less(&v[c], &v[c + 1]))
				c++;
			if (!ev_less(&v[i], &v[c]))
				break;
			ev_t t = v[i];
			v[i] = v[c];
			v[c] = t;
			i = c;
		}
	}
	for (uint64_t end = n; end-- > 1;) {
		ev_t t = v[0];
		v[0] = v[end];
		v[end] = t;
		for (uint64_t i = 0;;) {
			uint64_t c = 2 * i + 1;
			if (c >= end)
				break;
			if (c + 1 < end && ev_less(&v[c], &v[c + 1]))
				c++;
			if (!ev_less(&v[i], &v[c]))
				break;
			ev_t x = v[i];
			v[i] = v[c];
			v[c] = x;
			i = c;
		}
	}
}

static void load(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		as_die(2, "replay: trace=%s: cannot open", path);
	struct stat sb;
	if (fstat(fd, &sb) != 0)
		as_die(2, "replay: trace=%s: cannot stat", path);
	size_t len = (size_t)sb.st_size;
	const unsigned char *buf = len ? mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0) : NULL;
	close(fd);
	if (len && buf == MAP_FAILED)
		as_die(2, "replay: trace=%s: cannot map", path);
	tr_header_t h;
	char err[200];
	// Sites first (a thread's chunk may name a site another chunk defined).
	tr_visitor_t vs = { .site = on_site };
	if (!tr_walk(buf ? buf : (const unsigned char *)"", len, &h, &vs, err, sizeof(err)))
		as_die(2, "replay: trace=%s: %s", path, err);
	tr_visitor_t va = { .alloc = on_alloc };
	tr_walk(buf, len, &h, &va, err, sizeof(err));
	tr_visitor_t vf = { .free = on_free };
	tr_walk(buf, len, &h, &vf, err, sizeof(err));
	munmap((void *)(uintptr_t)buf, len);
	sort_events(R.ev, R.nev);
}

/// Anonymous resident bytes (statm resident minus shared). File-backed pages
/// are left out on purpose: the kernel maps them with fault-around only when
/// they are already in the page cache, so they differ between a cold and a
/// warm run of one binary and would break the replay's repeatability.
static int64_t rss_now(int fd)
{
	char b[128];
	ssize_t n = pread(fd, b, sizeof(b) - 1, 0);
	if (n <= 0)
		return -1;
	b[n] = '\0';
	long long size, resident, shared;
	if (sscanf(b, "%lld %lld %lld", &size, &resident, &shared) != 3)
		return -1;
	return (resident - shared) * (int64_t)sysconf(_SC_PAGESIZE);
}

static inline void fill(void *p, uint64_t size, uint64_t tag, bool touch)
{
	unsigned char *c = p;
	if (touch && size > 16)
		memset(c + 8, (int)(tag & 0xff), size - 16);
	if (size >= 16) {
		memcpy(c, &tag, 8);
		memcpy(c + size - 8, &tag, 8);
	} else {
		memset(c, (int)(tag & 0xff), size);
	}
}

static inline bool check(const void *p, uint64_t size, uint64_t tag)
{
	const unsigned char *c = p;
	uint64_t a, b;
	if (size < 16) {
		for (uint64_t i = 0; i < size; i++)
			if (c[i] != (unsigned char)(tag & 0xff))
				return false;
		return true;
	}
	memcpy(&a, c, 8);
	memcpy(&b, c + size - 8, 8);
	return a == tag && b == tag;
}

int main(int argc, char **argv)
{
	as_err_set_prog("micro-replay");
	as_probe_init(argc, argv, workloads);
	if (as_probe_threads() != 1)
		as_die(2, "replay: --threads must be 1 (the replay is single-threaded)");
	const char *path = as_param_str("trace");
	if (!path || !*path)
		as_die(2, "replay: parameter trace=PATH is required");
	uint64_t every = as_param_u64_range("every", 1, 1u << 30);
	bool touch = as_param_u64_range("touch", 0, 1) != 0;
	load(path);

	void (*hint)(uint64_t) = (void (*)(uint64_t))dlsym(RTLD_DEFAULT, "allocscope_lifetime_hint");
	void (*site)(uint64_t, const char *) =
		(void (*)(uint64_t, const char *))dlsym(RTLD_DEFAULT, "allocscope_lifetime_site");
	void (*clk)(uint64_t) = (void (*)(uint64_t))dlsym(RTLD_DEFAULT, "allocscope_lifetime_clock");
	as_probe_info("replay_trace", "%s", path);
	as_probe_info("replay_hooks", "%s", clk ? "lifetime" : "none");

	as_probe_thread_setup(0);
	int statm = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
	int64_t rss_base = rss_now(statm);
	int64_t live = 0, live_peak = 0, rss_peak = 0, live_at_peak = 0;
	double frag_sum = 0;
	uint64_t frag_n = 0, ops = 0;
	uint64_t t0 = as_now_ns();
	for (uint64_t i = 0; i < R.nev; i++) {
		ev_t *e = &R.ev[i];
		obj_t *o = &R.obj[e->obj];
		if (clk)
			clk(e->t + 1);
		if (!e->is_free) {
			if (site && o->site != UINT32_MAX)
				site(R.site[o->site].id, R.site[o->site].text);
			if (hint)
				hint(o->t_free == UINT64_MAX ? UINT64_MAX : o->t_free - o->t_alloc);
			uint64_t t = as_lat_begin();
			void *p = o->align_log2 ? aligned_alloc((size_t)1 << o->align_log2,
								as_align_up(o->size, (uint64_t)1 << o->align_log2))
						: malloc(o->size);
			as_lat_end(t);
			if (!p)
				as_probe_fail("malloc(%llu) returned NULL at event %llu",
					      (unsigned long long)o->size, (unsigned long long)i);
			fill(p, o->size, e->obj + 1, touch);
			o->p = p;
			live += (int64_t)o->size;
			as_probe_live_add((int64_t)o->size);
		} else {
			if (!check(o->p, o->size, e->obj + 1))
				as_probe_fail("object %u (%llu bytes) corrupted before its free", e->obj,
					      (unsigned long long)o->size);
			uint64_t t = as_lat_begin();
			free(o->p);
			as_lat_end(t);
			o->p = NULL;
			live -= (int64_t)o->size;
			as_probe_live_add(-(int64_t)o->size);
		}
		ops++;
		if (live > live_peak)
			live_peak = live;
		if (i % every == 0 || i + 1 == R.nev) {
			int64_t r = rss_now(statm) - rss_base;
			if (r > rss_peak) {
				rss_peak = r;
				live_at_peak = live;
			}
			if (r > 0 && live > 0) {
				frag_sum += 1.0 - (double)live / (double)r;
				frag_n++;
			}
		}
	}
	uint64_t t1 = as_now_ns();
	double secs = (double)(t1 - t0) / 1e9;
	as_probe_metric("events", (double)R.nev);
	as_probe_metric("objects", (double)R.nobj);
	as_probe_metric("replay_unmatched_frees", (double)R.unmatched_frees);
	as_probe_metric("wall_s", secs);
	as_probe_metric("ops_per_s", secs > 0 ? (double)ops / secs : 0);
	as_probe_metric("replay_rss_peak_bytes", (double)rss_peak);
	as_probe_metric("replay_live_peak_bytes", (double)live_peak);
	if (rss_peak > 0)
		as_probe_metric("replay_frag_peak", 1.0 - (double)live_at_peak / (double)rss_peak);
	else
		as_probe_metric_null("replay_frag_peak", "RSS did not grow");
	if (frag_n)
		as_probe_metric("replay_frag_mean", frag_sum / (double)frag_n);
	as_probe_finish();
	// Objects the trace never freed stay live through the measurement; give
	// them back now so leak checkers see a clean exit.
	for (uint64_t i = 0; i < R.nobj; i++)
		free(R.obj[i].p);
	return 0;
}
