// SPDX-License-Identifier: MIT
// redis-frag: who gives memory back? Fill `keys` keys with values of one
// size distribution, then `rounds` times: delete a random 50-80% of the
// live keys, and refill as many new keys with the next distribution
// (sizes 64-256 B, then 512-2048 B, then 16-128 B, cycling), so freed
// space must be reused for objects of other sizes. After every phase it
// reads INFO: used_memory (what Redis holds, through malloc_usable_size of
// the preloaded allocator) and used_memory_rss, and reports them as series
// (redis_used_series, redis_rss_series, redis_frag_series with frag =
// 1 - used/rss), plus scalars after the first delete phase and at the end.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "as/rng.h"
#include "probe.h"
#include "rclient.h"

static const unsigned dist_lo[] = { 64, 512, 16 };
static const unsigned dist_hi[] = { 256, 2048, 128 };

typedef struct frag_s {
	redisContext *c;
	unsigned pipeline;
	as_rng_t rng;
	char *value;
	// Live key names: "g<generation>:<index>", kept as (generation, index).
	uint32_t *gen, *idx;
	uint64_t live, cap;
	double used[64], rss[64];
	unsigned phases;
} frag_t;

static void drain_replies(frag_t *f, unsigned n, const char *what)
{
	for (unsigned i = 0; i < n; i++) {
		void *reply;
		if (redisGetReply(f->c, &reply) != REDIS_OK || !reply)
			as_probe_fail("%s: no reply: %s", what, f->c->errstr);
		redisReply *r = reply;
		if (r->type == REDIS_REPLY_ERROR)
			as_probe_fail("%s: redis error: %s", what, r->str);
		freeReplyObject(r);
	}
}

static void fill(frag_t *f, uint64_t count, uint32_t gen, unsigned dist)
{
	unsigned pending = 0;
	for (uint64_t i = 0; i < count; i++) {
		unsigned len = (unsigned)as_rng_range(&f->rng, dist_lo[dist], dist_hi[dist]);
		if (redisAppendCommand(f->c, "SET g%u:%llu %b", gen, (unsigned long long)i, f->value,
				       (size_t)len) != REDIS_OK)
			as_probe_fail("cannot build SET");
		f->gen[f->live] = gen;
		f->idx[f->live] = (uint32_t)i;
		f->live++;
		if (++pending == f->pipeline) {
			drain_replies(f, pending, "fill");
			pending = 0;
		}
	}
	drain_replies(f, pending, "fill");
}

static void delete_some(frag_t *f, unsigned pct)
{
	uint64_t n = f->live * pct / 100;
	unsigned pending = 0;
	// Partial Fisher-Yates: move n random live keys to the tail, delete them.
	for (uint64_t i = 0; i < n; i++) {
		uint64_t last = f->live - 1 - i;
		uint64_t j = as_rng_below(&f->rng, last + 1);
		uint32_t g = f->gen[j], x = f->idx[j];
		f->gen[j] = f->gen[last];
		f->idx[j] = f->idx[last];
		f->gen[last] = g;
		f->idx[last] = x;
		if (redisAppendCommand(f->c, "DEL g%u:%u", g, x) != REDIS_OK)
			as_probe_fail("cannot build DEL");
		if (++pending == f->pipeline) {
			drain_replies(f, pending, "delete");
			pending = 0;
		}
	}
	drain_replies(f, pending, "delete");
	f->live -= n;
}

static void snapshot(frag_t *f)
{
	if (f->phases == 64)
		return;
	f->used[f->phases] = rc_info_num(f->c, "used_memory");
	f->rss[f->phases] = rc_info_num(f->c, "used_memory_rss");
	f->phases++;
}

void rc_run_frag(unsigned port)
{
	frag_t f = { .pipeline = (unsigned)as_param_u64_range("pipeline", 1, 10000) };
	uint64_t keys = as_param_u64_range("keys", 1, 100000000);
	unsigned rounds = (unsigned)as_param_u64_range("rounds", 1, 30);
	unsigned dmin = (unsigned)as_param_u64_range("del_min_pct", 1, 99);
	unsigned dmax = (unsigned)as_param_u64_range("del_max_pct", dmin, 99);
	f.cap = keys * 2;
	f.gen = malloc(sizeof(*f.gen) * f.cap);
	f.idx = malloc(sizeof(*f.idx) * f.cap);
	f.value = malloc(4096);
	if (!f.gen || !f.idx || !f.value)
		as_probe_fail("out of memory");
	memset(f.value, 'v', 4096);
	as_rng_seed(&f.rng, as_probe_seed(), 0);
	f.c = rc_connect(port);
	redisReply *r = redisCommand(f.c, "FLUSHALL");
	if (!r || r->type == REDIS_REPLY_ERROR)
		as_probe_fail("FLUSHALL failed");
	freeReplyObject(r);

	uint64_t t0 = as_now_ns();
	snapshot(&f); // empty server
	fill(&f, keys, 0, 0);
	snapshot(&f);
	for (unsigned round = 1; round <= rounds; round++) {
		uint64_t before = f.live;
		delete_some(&f, (unsigned)as_rng_range(&f.rng, dmin, dmax));
		snapshot(&f);
		fill(&f, before - f.live, round, round % 3);
		snapshot(&f);
	}
	double secs = (double)(as_now_ns() - t0) / 1e9;
	double frag[64];
	double fsum = 0, rss_peak = 0;
	unsigned peak = 0;
	for (unsigned i = 0; i < f.phases; i++) {
		frag[i] = f.rss[i] > 0 ? 1.0 - f.used[i] / f.rss[i] : 0;
		if (i > 0)
			fsum += frag[i];
		if (f.rss[i] > rss_peak) {
			rss_peak = f.rss[i];
			peak = i;
		}
	}
	as_probe_series("redis_used_series", f.used, f.phases);
	as_probe_series("redis_rss_series", f.rss, f.phases);
	as_probe_series("redis_frag_series", frag, f.phases);
	// Phase 0 is the empty server, 1 the first fill, 2 the first delete.
	as_probe_metric("redis_used_after_delete_bytes", f.used[2]);
	as_probe_metric("redis_rss_after_delete_bytes", f.rss[2]);
	as_probe_metric("redis_frag_after_delete", frag[2]);
	as_probe_metric("redis_rss_final_bytes", f.rss[f.phases - 1]);
	as_probe_metric("redis_rss_peak_bytes", rss_peak);
	as_probe_metric("frag_peak", frag[peak]);
	as_probe_metric("frag_mean", fsum / (f.phases - 1));
	as_probe_metric("wall_s", secs);
	rc_report_server(f.c);
	redisFree(f.c);
	free(f.gen);
	free(f.idx);
	free(f.value);
}
