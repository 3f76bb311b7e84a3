// SPDX-License-Identifier: MIT
// filling: get/put cost as memory fills up (the LLFree paper's "filling"
// benchmark, shared/reference/llfree.md 3.2/3.4), over any frame allocator.
// For each fill level L of `levels` (ascending percentages of memory):
//   1. the threads top up what they hold (untimed, kept) until L% of all
//      frames is held, split evenly over the threads;
//   2. `rounds` times: behind a barrier every thread gets `burst` blocks
//      (timed) and then puts them back in reverse order (timed).
// burst is capped per level so the bursts of all threads fit into half of
// the memory still free. Reported per level (series, one value per level):
//   fill_pct, fill_alloc_ns, fill_free_ns (ns per op, mean over threads),
//   fill_alloc_p99_ns, fill_free_p99_ns (from the sampled latencies),
//   fill_burst (blocks per thread actually used).
// Scalars: alloc_ns, free_ns = mean over the levels; *_max_fill = the
// highest level.
#include <stdlib.h>
#include <string.h>

#include "as/err.h"
#include "as/meta.h"
#include "fb.h"

#define FILL_MAX_LEVELS 100

typedef struct fill_arg_s {
	fb_ctx_t *c;
	unsigned order;
	unsigned nlevels;
	unsigned levels[FILL_MAX_LEVELS];
	uint64_t burst_param;
	unsigned rounds;
	uint64_t cap;        ///< held blocks per thread at most
	uint64_t *held;      ///< threads * cap
	uint64_t *burst_buf; ///< threads * burst_param
	uint64_t bursts[FILL_MAX_LEVELS];
	double *alloc_ns;    ///< [tid * nlevels + level]
	double *free_ns;
	as_hist_t **hist;    ///< [(tid * nlevels + level) * 2 + (0 alloc, 1 free)]
} fill_arg_t;

static void fill_thread(unsigned tid, void *p)
{
	fill_arg_t *a = p;
	fb_ctx_t *c = a->c;
	uint64_t *held = a->held + tid * a->cap;
	uint64_t *buf = a->burst_buf + tid * a->burst_param;
	uint64_t nheld = 0;
	uint64_t blocks = c->frames >> a->order;
	for (unsigned l = 0; l < a->nlevels; l++) {
		uint64_t target = blocks * a->levels[l] / 100 / c->threads;
		while (nheld < target && nheld < a->cap) {
			uint64_t f;
			if (!fb_get(c, tid, a->order, &f))
				break;
			held[nheld++] = f;
		}
		uint64_t b = a->bursts[l];
		as_hist_t *ha = a->hist[(tid * a->nlevels + l) * 2];
		as_hist_t *hf = a->hist[(tid * a->nlevels + l) * 2 + 1];
		uint64_t t_alloc = 0;
		uint64_t t_free = 0;
		uint64_t n_alloc = 0;
		uint64_t n_free = 0;
		for (unsigned r = 0; r < a->rounds && b; r++) {
			as_barrier_wait(&c->bar);
			uint64_t t0 = as_now_ns();
			for (uint64_t i = 0; i < b; i++) {
				uint64_t f;
				uint64_t lat = as_lat_begin();
				buf[i] = fb_get(c, tid, a->order, &f) ? f : FB_NONE;
				if (lat) {
					uint64_t d = as_cycles() - lat;
					as_hist_add(ha, d);
					as_hist_add(as_probe_tls.hist[0], d);
					as_hist_add(as_probe_tls.hist[FB_CH_ALLOC], d);
				}
			}
			uint64_t t1 = as_now_ns();
			for (uint64_t i = b; i-- > 0;) {
				if (buf[i] == FB_NONE)
					continue;
				uint64_t lat = as_lat_begin();
				fb_put(c, tid, buf[i], a->order);
				if (lat) {
					uint64_t d = as_cycles() - lat;
					as_hist_add(hf, d);
					as_hist_add(as_probe_tls.hist[0], d);
					as_hist_add(as_probe_tls.hist[FB_CH_FREE], d);
				}
				n_free++;
			}
			t_free += as_now_ns() - t1;
			t_alloc += t1 - t0;
			n_alloc += b;
		}
		a->alloc_ns[tid * a->nlevels + l] = n_alloc ? (double)t_alloc / (double)n_alloc : 0;
		a->free_ns[tid * a->nlevels + l] = n_free ? (double)t_free / (double)n_free : 0;
		as_barrier_wait(&c->bar);
	}
	for (uint64_t i = nheld; i-- > 0;)
		fb_put(c, tid, held[i], a->order);
}

static void parse_levels(fill_arg_t *a)
{
	const char *s = as_param_str("levels");
	const char *p = s;
	a->nlevels = 0;
	while (*p) {
		char *end;
		long v = strtol(p, &end, 10);
		if (end == p || v < 0 || v > 99 || (*end && *end != ','))
			as_die(2, "parameter levels='%s': expected ascending percentages 0..99, "
				  "comma-separated",
			       s);
		if (a->nlevels == FILL_MAX_LEVELS ||
		    (a->nlevels && (unsigned)v <= a->levels[a->nlevels - 1]))
			as_die(2, "parameter levels='%s': at most %d strictly ascending levels", s,
			       FILL_MAX_LEVELS);
		a->levels[a->nlevels++] = (unsigned)v;
		p = *end ? end + 1 : end;
	}
	if (a->nlevels == 0)
		as_die(2, "parameter levels is empty");
}

static double hist_p99(as_hist_t **hs, unsigned n)
{
	as_hist_t *m = as_meta_alloc(sizeof(*m), 64);
	if (!m)
		as_probe_fail("cannot map a histogram");
	as_hist_reset(m);
	for (unsigned i = 0; i < n; i++)
		as_hist_merge(m, hs[i]);
	double v = m->count ? as_hist_quantile(m, 0.99) / as_clock_cycles_per_ns() : 0;
	as_meta_free(m, sizeof(*m), 64);
	return v;
}

void fb_wl_filling(fb_ctx_t *c)
{
	fill_arg_t *a = fb_alloc_array(sizeof(*a));
	a->c = c;
	a->order = fb_param_order();
	parse_levels(a);
	a->burst_param = as_param_u64_range("burst", 1, 1u << 24);
	a->rounds = (unsigned)as_param_u64_range("rounds", 1, 1u << 20);
	uint64_t blocks = c->frames >> a->order;
	a->cap = blocks * a->levels[a->nlevels - 1] / 100 / c->threads;
	for (unsigned l = 0; l < a->nlevels; l++) {
		uint64_t held = blocks * a->levels[l] / 100 / c->threads * c->threads;
		uint64_t free_blocks = blocks - held;
		a->bursts[l] = AS_MIN(a->burst_param, free_blocks / 2 / c->threads);
	}
	unsigned T = c->threads;
	unsigned L = a->nlevels;
	size_t hbytes = sizeof(uint64_t) * (a->cap ? a->cap : 1) * T;
	size_t bbytes = sizeof(uint64_t) * a->burst_param * T;
	size_t rbytes = sizeof(double) * T * L;
	size_t pbytes = sizeof(as_hist_t *) * T * L * 2;
	a->held = fb_alloc_array(hbytes);
	a->burst_buf = fb_alloc_array(bbytes);
	a->alloc_ns = fb_alloc_array(rbytes);
	a->free_ns = fb_alloc_array(rbytes);
	a->hist = fb_alloc_array(pbytes);
	for (unsigned i = 0; i < T * L * 2; i++) {
		a->hist[i] = fb_alloc_array(sizeof(as_hist_t));
		as_hist_reset(a->hist[i]);
	}
	fb_lat_channels();
	as_probe_run_threads(T, fill_thread, a);

	double pct[FILL_MAX_LEVELS], an[FILL_MAX_LEVELS], fn[FILL_MAX_LEVELS];
	double ap[FILL_MAX_LEVELS], fp[FILL_MAX_LEVELS], bu[FILL_MAX_LEVELS];
	as_hist_t *tmp[2 * FRAME_MAX_CORES];
	double asum = 0;
	double fsum = 0;
	for (unsigned l = 0; l < L; l++) {
		pct[l] = a->levels[l];
		bu[l] = (double)a->bursts[l];
		an[l] = fn[l] = 0;
		for (unsigned t = 0; t < T; t++) {
			an[l] += a->alloc_ns[t * L + l] / T;
			fn[l] += a->free_ns[t * L + l] / T;
		}
		for (unsigned t = 0; t < T; t++)
			tmp[t] = a->hist[(t * L + l) * 2];
		ap[l] = hist_p99(tmp, T);
		for (unsigned t = 0; t < T; t++)
			tmp[t] = a->hist[(t * L + l) * 2 + 1];
		fp[l] = hist_p99(tmp, T);
		asum += an[l];
		fsum += fn[l];
	}
	as_probe_series("fill_pct", pct, L);
	as_probe_series("fill_burst", bu, L);
	as_probe_series("fill_alloc_ns", an, L);
	as_probe_series("fill_free_ns", fn, L);
	as_probe_series("fill_alloc_p99_ns", ap, L);
	as_probe_series("fill_free_p99_ns", fp, L);
	as_probe_metric("alloc_ns", asum / L);
	as_probe_metric("free_ns", fsum / L);
	as_probe_metric("alloc_ns_max_fill", an[L - 1]);
	as_probe_metric("free_ns_max_fill", fn[L - 1]);
	for (unsigned i = 0; i < T * L * 2; i++)
		fb_free_array(a->hist[i], sizeof(as_hist_t));
	fb_free_array(a->hist, pbytes);
	fb_free_array(a->held, hbytes);
	fb_free_array(a->burst_buf, bbytes);
	fb_free_array(a->alloc_ns, rbytes);
	fb_free_array(a->free_ns, rbytes);
	fb_free_array(a, sizeof(*a));
}
