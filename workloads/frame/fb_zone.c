// SPDX-License-Identifier: MIT
// framebench setup and teardown: the common parameters, the zone layer
// (zones=1: one allocator instance; zones=node: one instance per NUMA node of
// the threads' --nodes slots; zones=N: N simulated zones, thread t homed in
// zone t mod N), the slow paths of fb_get/fb_put, and the end-of-run check
// that every frame came back (stats and validate, before and after drain).
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "as/err.h"
#include "as/kv.h"
#include "as/meta.h"
#include "fb.h"

// ---------------------------------------------------------------------------
// Arrays

void *fb_alloc_array(size_t bytes)
{
	void *p = as_meta_alloc(bytes ? bytes : 1, 64);
	if (!p)
		as_probe_fail("cannot map %zu bytes for the workload's arrays", bytes);
	// Fault the pages in now, so no timed phase pays for first touches.
	memset(p, 0, bytes);
	return p;
}

void fb_free_array(void *p, size_t bytes)
{
	as_meta_free(p, bytes ? bytes : 1, 64);
}

// ---------------------------------------------------------------------------
// Params

unsigned fb_param_order(void)
{
	return (unsigned)as_param_u64_range("order", 0, FRAME_MAX_ORDER);
}

uint64_t fb_share(const fb_ctx_t *c, unsigned order)
{
	uint64_t mt = as_param_u64_range("max_threads", 0, FRAME_MAX_CORES);
	if (mt == 0) {
		long pus = sysconf(_SC_NPROCESSORS_ONLN);
		mt = pus > 0 ? (uint64_t)pus : 1;
	}
	if (mt < c->threads) {
		as_probe_info("max_threads_raised", "max_threads %llu < threads %u: using %u",
			      (unsigned long long)mt, c->threads, c->threads);
		mt = c->threads;
	}
	as_probe_info("max_threads", "%llu", (unsigned long long)mt);
	uint64_t share = c->frames / mt / 2 >> order;
	if (share == 0)
		as_die(2, "parameter frames=%llu is too small for order %u at max_threads %llu "
			  "(each thread would allocate 0 blocks)",
		       (unsigned long long)c->frames, order, (unsigned long long)mt);
	return share;
}

double fb_thread_mean(const fb_ctx_t *c, size_t off)
{
	double s = 0;
	for (unsigned i = 0; i < c->threads; i++)
		s += *(const double *)(const void *)((const char *)&c->th[i] + off);
	return s / c->threads;
}

// ---------------------------------------------------------------------------
// Zones

static void record_node(unsigned tid, void *arg)
{
	fb_ctx_t *c = arg;
	c->th[tid].node = as_probe_thread_node();
}

/// zones=node: one zone per distinct node of the threads, in node order.
static unsigned zones_by_node(fb_ctx_t *c)
{
	as_probe_run_threads(c->threads, record_node, c);
	unsigned nz = 0;
	for (;;) {
		int next = -1;
		int last = nz ? c->zones[nz - 1].node : -1;
		for (unsigned t = 0; t < c->threads; t++)
			if (c->th[t].node > last && (next < 0 || c->th[t].node < next))
				next = c->th[t].node;
		if (next < 0)
			break;
		if (nz == FB_MAX_ZONES)
			as_die(2, "zones=node: more than %d distinct nodes", FB_MAX_ZONES);
		c->zones[nz++].node = next;
	}
	for (unsigned t = 0; t < c->threads; t++)
		for (unsigned z = 0; z < nz; z++)
			if (c->zones[z].node == c->th[t].node)
				c->th[t].home = z;
	if (nz == 1)
		as_probe_info("zones_note", "zones=node: all threads are on node %d (pass --pin and "
					    "--nodes for several zones)", c->zones[0].node);
	return nz;
}

void fb_setup(fb_ctx_t *c, const struct frame_ops *ops)
{
	char err[512];
	c->ops = ops;
	c->threads = as_probe_threads();
	c->seed = as_probe_seed();
	if (c->threads > FRAME_MAX_CORES)
		as_die(2, "--threads %u: frame allocators take at most %d cores", c->threads,
		       FRAME_MAX_CORES);
	c->frames = as_param_u64_range("frames", FRAME_ALIGN_FRAMES, 1ULL << 36);
	if (c->frames % FRAME_ALIGN_FRAMES)
		as_die(2, "parameter frames=%llu is not a multiple of %u",
		       (unsigned long long)c->frames, FRAME_ALIGN_FRAMES);
	c->th = fb_alloc_array(sizeof(*c->th) * c->threads);

	const char *zp = as_param_str("zones");
	unsigned nz;
	if (!strcmp(zp, "node")) {
		nz = zones_by_node(c);
	} else {
		uint64_t n;
		if (!as_parse_u64(zp, &n) || n < 1 || n > FB_MAX_ZONES)
			as_die(2, "parameter zones='%s': expected 1, node, or a count 1..%d", zp,
			       FB_MAX_ZONES);
		nz = (unsigned)n;
		for (unsigned t = 0; t < c->threads; t++)
			c->th[t].home = t % nz;
		for (unsigned z = 0; z < nz; z++)
			c->zones[z].node = nz == 1 ? -1 : (int)z;
	}
	uint64_t zf = c->frames / nz / FRAME_ALIGN_FRAMES * FRAME_ALIGN_FRAMES;
	if (zf == 0)
		as_die(2, "parameter frames=%llu is too small for %u zones of at least %u frames",
		       (unsigned long long)c->frames, nz, FRAME_ALIGN_FRAMES);
	c->nzones = nz;
	c->zone_frames = zf;

	const char *opts = as_param_str("options");
	if (!strcmp(opts, "none") || !*opts)
		opts = NULL;
	for (unsigned z = 0; z < nz; z++) {
		fb_zone_t *zone = &c->zones[z];
		zone->base = z * zf;
		zone->frames = z + 1 < nz ? zf : c->frames - z * zf;
		frame_config_t cfg = { .frames = zone->frames, .cores = c->threads, .options = opts };
		err[0] = '\0';
		zone->fa = ops->create(&cfg, err, sizeof(err));
		if (!zone->fa)
			as_die(2, "allocator %s: cannot create %llu frames for %u cores%s%s: %s",
			       ops->name, (unsigned long long)zone->frames, c->threads,
			       opts ? " with options " : "", opts ? opts : "",
			       err[0] ? err : "no reason given");
	}
	as_probe_info("zones", "%u", nz);
	as_probe_info("frames", "%llu", (unsigned long long)c->frames);
	as_barrier_init(&c->bar, c->threads);
}

void fb_lat_channels(void)
{
	as_probe_lat_channel(FB_CH_ALLOC, "alloc");
	as_probe_lat_channel(FB_CH_FREE, "free");
}

// ---------------------------------------------------------------------------
// Slow paths

static frame_result_t get_retry(fb_ctx_t *c, fb_thread_t *t, unsigned z, unsigned tid,
				unsigned order, frame_result_t r)
{
	for (unsigned i = 0; r.err == FRAME_ERR_RETRY && i < FB_RETRIES; i++) {
		t->retries++;
		r = c->ops->get(c->zones[z].fa, tid, order);
	}
	return r;
}

bool fb_get_slow(fb_ctx_t *c, unsigned tid, unsigned order, frame_result_t r, uint64_t *out)
{
	fb_thread_t *t = &c->th[tid];
	if (c->nzones == 1) {
		r = get_retry(c, t, 0, tid, order, r);
		if (r.err == FRAME_OK) {
			*out = r.frame;
			return true;
		}
	} else {
		// Home zone first, then the others in ring order (a simple
		// stand-in for the kernel's zonelist fallback).
		for (unsigned k = 0; k < c->nzones; k++) {
			unsigned z = (t->home + k) % c->nzones;
			r = c->ops->get(c->zones[z].fa, tid, order);
			r = get_retry(c, t, z, tid, order, r);
			if (r.err == FRAME_OK) {
				*out = c->zones[z].base + r.frame;
				t->gets++;
				t->remote += k != 0;
				return true;
			}
		}
	}
	t->failures++;
	return false;
}

frame_err_t fb_put_zone(fb_ctx_t *c, unsigned tid, uint64_t frame, unsigned order)
{
	uint64_t z = frame / c->zone_frames;
	if (z >= c->nzones)
		z = c->nzones - 1;
	fb_zone_t *zone = &c->zones[z];
	if (frame < zone->base || frame - zone->base >= zone->frames)
		return FRAME_ERR_ARGUMENT;
	return c->ops->put(zone->fa, tid, frame - zone->base, order);
}

void fb_put_failed(fb_ctx_t *c, uint64_t frame, unsigned order, frame_err_t err)
{
	as_probe_fail("allocator %s: put of frame %llu (order %u), which it handed out, "
		      "failed: %s",
		      c->ops->name, (unsigned long long)frame, order, frame_strerror(err));
}

// ---------------------------------------------------------------------------
// Stats

void fb_stats(fb_ctx_t *c, frame_stats_t *out)
{
	memset(out, 0, sizeof(*out));
	for (unsigned z = 0; z < c->nzones; z++) {
		frame_stats_t s;
		memset(&s, 0, sizeof(s));
		c->ops->stats(c->zones[z].fa, &s);
		out->frames += s.frames;
		out->free_frames += s.free_frames;
		out->free_huge += s.free_huge;
		out->metadata_bytes += s.metadata_bytes;
	}
}

void fb_free_counts(fb_ctx_t *c, uint16_t *out)
{
	for (unsigned z = 0; z < c->nzones; z++)
		c->ops->free_counts(c->zones[z].fa, out + c->zones[z].base / FRAME_HUGE_FRAMES);
}

// ---------------------------------------------------------------------------
// End of run

static void check_zone(fb_ctx_t *c, unsigned z, const char *when, bool drained)
{
	fb_zone_t *zone = &c->zones[z];
	char why[512];
	frame_stats_t s;
	memset(&s, 0, sizeof(s));
	c->ops->stats(zone->fa, &s);
	if (s.frames != zone->frames)
		as_probe_fail("allocator %s zone %u %s: stats.frames %llu, created with %llu",
			      c->ops->name, z, when, (unsigned long long)s.frames,
			      (unsigned long long)zone->frames);
	if (s.free_frames != zone->frames)
		as_probe_fail("allocator %s zone %u %s: %llu of %llu frames free after every block "
			      "was returned",
			      c->ops->name, z, when, (unsigned long long)s.free_frames,
			      (unsigned long long)zone->frames);
	if (drained && s.free_huge != zone->frames / FRAME_HUGE_FRAMES)
		as_probe_fail("allocator %s zone %u %s: %llu of %llu huge frames free with all "
			      "memory free",
			      c->ops->name, z, when, (unsigned long long)s.free_huge,
			      (unsigned long long)(zone->frames / FRAME_HUGE_FRAMES));
	why[0] = '\0';
	if (!c->ops->validate(zone->fa, why, sizeof(why)))
		as_probe_fail("allocator %s zone %u %s: validate failed: %s", c->ops->name, z,
			      when, why[0] ? why : "no reason given");
}

void fb_finish(fb_ctx_t *c)
{
	frame_stats_t s;
	uint64_t failures = 0;
	uint64_t retries = 0;
	uint64_t gets = 0;
	uint64_t remote = 0;
	fb_stats(c, &s);
	for (unsigned t = 0; t < c->threads; t++) {
		failures += c->th[t].failures;
		retries += c->th[t].retries;
		gets += c->th[t].gets;
		remote += c->th[t].remote;
	}
	as_probe_metric("metadata_bytes", (double)s.metadata_bytes);
	as_probe_metric("metadata_bytes_per_gib",
			(double)s.metadata_bytes / ((double)c->frames * FRAME_SIZE / (1u << 30)));
	as_probe_metric("failures", (double)failures);
	as_probe_metric("retries", (double)retries);
	if (c->nzones > 1) {
		if (gets)
			as_probe_metric("remote_frac", (double)remote / (double)gets);
		else
			as_probe_metric_null("remote_frac", "no get succeeded");
	}
	for (unsigned z = 0; z < c->nzones; z++)
		check_zone(c, z, "at the end", false);
	for (unsigned z = 0; z < c->nzones; z++) {
		for (unsigned core = 0; core < c->threads; core++)
			c->ops->drain(c->zones[z].fa, core);
		check_zone(c, z, "after drain", true);
	}
	for (unsigned z = 0; z < c->nzones; z++)
		c->ops->destroy(c->zones[z].fa);
	fb_free_array(c->th, sizeof(*c->th) * c->threads);
}
