// SPDX-License-Identifier: MIT
// lifetime metrics (backend_report), statistics, the validate walk, the
// profile written at exit by a profiling run, and the hooks the replay
// workload finds with dlsym.
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#define LT_EXPORT __attribute__((visibility("default")))

// ---------------------------------------------------------------------------
// Replay hooks

void lt_hint_lifetime(uint64_t ns)
{
	lt_tstate_t *t = lt_thread();
	if (t) {
		t->hint_ns = ns;
		t->has_hint = lt_p.predictor == LT_PRED_ORACLE;
	}
}

void lt_hint_site(uint64_t id, const char *text)
{
	lt_tstate_t *t = lt_thread();
	if (t) {
		t->hint_site = id ? id : 1;
		t->hint_text = text;
	}
}

LT_EXPORT void allocscope_lifetime_hint(uint64_t ns);
LT_EXPORT void allocscope_lifetime_site(uint64_t id, const char *text);
LT_EXPORT void allocscope_lifetime_clock(uint64_t ns);

LT_EXPORT void allocscope_lifetime_hint(uint64_t ns)
{
	lt_hint_lifetime(ns);
}

LT_EXPORT void allocscope_lifetime_site(uint64_t id, const char *text)
{
	lt_hint_site(id, text);
}

LT_EXPORT void allocscope_lifetime_clock(uint64_t ns)
{
	lt_set_clock(ns);
}

// ---------------------------------------------------------------------------
// Statistics

void lt_stats(lt_stats_t *out)
{
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&lt_heap.lock);
	out->regions_mapped = lt_heap.nmapped;
	out->regions_free = lt_heap.nfree;
	for (unsigned c = 0; c < LT_MAX_CLASSES; c++)
		for (lt_region_t *r = lt_heap.lists[c]; r; r = r->next) {
			out->regions_per_class[c]++;
			if (r->used)
				out->regions_live++;
		}
	out->promotions = lt_heap.promotions;
	out->demotions = lt_heap.demotions;
	out->decommits = lt_heap.decommits;
	out->recycled_blocks = lt_heap.recycled;
	pthread_mutex_unlock(&lt_heap.lock);
	int64_t live = lt_live_bytes();
	out->live_bytes = live > 0 ? (uint64_t)live : 0;
	for (lt_tstate_t *t = as_atomic_load_acquire(&lt_threads); t; t = t->next) {
		out->samples += as_atomic_load_relaxed(&t->samples); // snapshot
		// t->hits counts lookups; each miss is one of them.
		uint64_t look = as_atomic_load_relaxed(&t->hits); // snapshot
		uint64_t miss = as_atomic_load_relaxed(&t->misses); // snapshot
		out->cache_hits += look > miss ? look - miss : 0;
		out->cache_misses += miss;
	}
	out->sites = lt_sites_count();
}

/// AnonHugePages and Anonymous from /proc/self/smaps_rollup (bytes), read
/// with a stack buffer; false when the file is missing.
static bool read_smaps(uint64_t *anon_huge, uint64_t *anon)
{
	int fd = open("/proc/self/smaps_rollup", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	char buf[4096];
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	const char *h = strstr(buf, "\nAnonHugePages:");
	const char *a = strstr(buf, "\nAnonymous:");
	if (!h || !a)
		return false;
	unsigned long long hv = 0, av = 0;
	if (sscanf(h + 15, "%llu", &hv) != 1 || sscanf(a + 11, "%llu", &av) != 1)
		return false;
	*anon_huge = hv * 1024;
	*anon = av * 1024;
	return true;
}

static const char *const lt_pred_names[] = { "none", "online", "profile", "model", "oracle" };

void lt_report(void (*metric)(const char *name, double value))
{
	if (!lt_init())
		return;
	lt_stats_t st;
	lt_stats(&st);
	lt_acc_t acc;
	uint64_t live_samples = 0;
	lt_acc_snapshot(&acc, &live_samples);
	uint64_t n = as_atomic_load_relaxed(&acc.n); // private copy
	uint64_t bytes = as_atomic_load_relaxed(&acc.bytes); // private copy
	char name[64];
	metric("lt_predictor", (double)lt_p.predictor);
	(void)lt_pred_names;
	metric("lt_classes", (double)lt_p.nclasses);
	metric("pred_samples", (double)n);
	metric("pred_live_samples", (double)live_samples);
	if (n) {
		metric("pred_accuracy", (double)as_atomic_load_relaxed(&acc.ok) / (double)n); // copy
		metric("pred_under_rate", (double)as_atomic_load_relaxed(&acc.under) / (double)n); // copy
		metric("pred_over_rate", (double)as_atomic_load_relaxed(&acc.over) / (double)n); // copy
	}
	if (bytes)
		metric("pred_accuracy_bytes",
		       (double)as_atomic_load_relaxed(&acc.bytes_ok) / (double)bytes); // copy
	uint64_t look = st.cache_hits + st.cache_misses;
	if (look)
		metric("lt_cache_hit_rate", (double)st.cache_hits / (double)look);
	metric("lt_sites", (double)st.sites);
	uint64_t key_ns = 0, key_n = 0, walk_ns = 0, walk_n = 0;
	for (lt_tstate_t *t = as_atomic_load_acquire(&lt_threads); t; t = t->next) {
		key_ns += as_atomic_load_relaxed(&t->key_ns); // snapshot
		key_n += as_atomic_load_relaxed(&t->key_n); // snapshot
		walk_ns += as_atomic_load_relaxed(&t->walk_ns); // snapshot
		walk_n += as_atomic_load_relaxed(&t->walk_n); // snapshot
	}
	if (key_n)
		metric("lt_site_key_ns", (double)key_ns / (double)key_n);
	if (walk_n) {
		metric("lt_stack_walk_ns", (double)walk_ns / (double)walk_n);
		metric("lt_stack_walks", (double)walk_n);
	}
	uint64_t conflicts = 0;
	for (unsigned i = 0; i < lt_sites_count(); i++) {
		lt_site_t *s = lt_site_at(i);
		if (s)
			conflicts += as_atomic_load_relaxed(&s->conflicts); // snapshot
	}
	metric("lt_site_conflicts", (double)conflicts);
	for (unsigned c = 0; c < lt_p.nclasses; c++) {
		snprintf(name, sizeof(name), "lt_regions_class%u", c);
		metric(name, (double)st.regions_per_class[c]);
	}
	metric("lt_regions_live", (double)st.regions_live);
	metric("lt_regions_free", (double)st.regions_free);
	uint64_t lower = (st.live_bytes + LT_REGION - 1) / LT_REGION;
	metric("lt_regions_lower_bound", (double)lower);
	if (st.regions_live)
		metric("lt_hugepage_occupancy", (double)lower / (double)st.regions_live);
	metric("lt_promotions", (double)st.promotions);
	metric("lt_demotions", (double)st.demotions);
	metric("lt_decommits", (double)st.decommits);
	metric("lt_recycled_runs", (double)st.recycled_blocks);
	metric("lt_live_bytes", (double)st.live_bytes);
	pthread_mutex_lock(&lt_heap.lock);
	double purged = (double)lt_heap.purged_blocks * LT_BLOCK;
	double collapses = (double)lt_heap.collapses;
	double collapse_failures = (double)lt_heap.collapse_failures;
	double frag_pk = lt_heap.frag_at_peak;
	uint64_t committed_pk = lt_heap.committed_peak;
	uint64_t committed = lt_heap_committed();
	pthread_mutex_unlock(&lt_heap.lock);
	metric("lt_purged_bytes", purged);
	metric("lt_collapses", collapses);
	metric("lt_collapse_failures", collapse_failures);
	metric("lt_committed_peak_bytes", (double)committed_pk);
	if (committed_pk)
		metric("lt_frag_peak", frag_pk);
	if (committed)
		metric("lt_frag_now", 1.0 - (double)st.live_bytes / (double)committed);
	uint64_t huge, anon;
	if (read_smaps(&huge, &anon)) {
		metric("anon_huge_bytes", (double)huge);
		if (anon)
			metric("lt_hugepage_coverage", (double)huge / (double)anon);
	}
}

// ---------------------------------------------------------------------------
// Validate

static unsigned bad(char *why, size_t len, unsigned errors, const char *msg, const void *where)
{
	if (errors == 0 && why)
		snprintf(why, len, "%s (at %p)", msg, where);
	return errors + 1;
}

static uint32_t chain_len(uintptr_t x, const lt_block_t *b, bool *ok)
{
	uint32_t n = 0;
	char *lo = b->start, *hi = b->start + (size_t)b->capacity * b->size;
	for (; x; x = *(uintptr_t *)x) {
		if ((char *)x < lo || (char *)x >= hi || ((char *)x - lo) % b->size) {
			*ok = false;
			return n;
		}
		if (++n > b->capacity) {
			*ok = false;
			return n;
		}
	}
	return n;
}

unsigned lt_validate(char *why, size_t whylen)
{
	unsigned e = 0;
	if (why && whylen)
		why[0] = '\0';
	pthread_mutex_lock(&lt_heap.lock);
	for (unsigned c = 0; c < LT_MAX_CLASSES; c++) {
		for (lt_region_t *r = lt_heap.lists[c]; r; r = r->next) {
			if (r->lc != c || r->state == LT_R_FREE || !r->committed)
				e = bad(why, whylen, e, "region on the wrong class list", r->base);
			if (lt_region_of(r->base) != r)
				e = bad(why, whylen, e, "radix does not map the region", r->base);
			unsigned used = 0, residents = 0;
			for (unsigned i = 0; i < LT_BLOCKS; i++) {
				bool set = (r->bitmap[i / 64] >> (i % 64)) & 1;
				lt_block_t *blk = &r->blocks[i];
				used += set;
				if (set != (blk->head != NULL))
					e = bad(why, whylen, e, "block bitmap and run heads disagree",
						r->base + (size_t)i * LT_BLOCK);
				if (blk->head != blk || !blk->nblocks)
					continue;
				if (blk->lc >= r->base_lc)
					residents += blk->nblocks;
				for (unsigned k = 1; k < blk->nblocks; k++)
					if (i + k >= LT_BLOCKS || r->blocks[i + k].head != blk)
						e = bad(why, whylen, e, "run tail not linked to its head",
							blk->start);
				uint32_t st = as_atomic_load_acquire(&blk->state);
				uint32_t count = st & LT_COUNT;
				bool ok = true;
				uint32_t nx = chain_len(as_atomic_load_acquire(&blk->xfree), blk, &ok);
				uint32_t np = chain_len((uintptr_t)blk->free, blk, &ok);
				if (!ok)
					e = bad(why, whylen, e, "free list leaves its run", blk->start);
				if (blk->bump > blk->capacity || np != blk->nfree)
					e = bad(why, whylen, e, "run counters out of range", blk->start);
				if (st & LT_OWNED) {
					if (count + nx != blk->capacity)
						e = bad(why, whylen, e, "owned run: count + xfree != capacity",
							blk->start);
				} else {
					if (np || count + nx + (blk->capacity - blk->bump) != blk->capacity)
						e = bad(why, whylen, e,
							"unowned run: live + free + uncarved != capacity",
							blk->start);
				}
			}
			if (used != r->used || residents != r->residents)
				e = bad(why, whylen, e, "region block counts wrong", r->base);
		}
	}
	for (lt_region_t *r = lt_heap.free_list; r; r = r->next)
		if (r->used || r->state != LT_R_FREE)
			e = bad(why, whylen, e, "free region still in use", r->base);
	pthread_mutex_unlock(&lt_heap.lock);
	for (unsigned c = 0; c < LT_MAX_CLASSES; c++)
		for (unsigned s = 0; s < LT_NSC; s++) {
			lt_partial_t *pl = &lt_heap.partial[c][s];
			lt_lock(&pl->lock);
			for (lt_block_t *b = pl->head; b; b = b->next) {
				uint32_t st = as_atomic_load_acquire(&b->state);
				if (!(st & LT_LISTED) || (st & LT_OWNED) || b->lc != c || b->sc != s)
					e = bad(why, whylen, e, "partial list holds a foreign run",
						b->start);
			}
			lt_unlock(&pl->lock);
		}
	return e;
}

// ---------------------------------------------------------------------------
// Profile output of a profiling run (ALLOCSCOPE_LIFETIME_PROFILE_OUT)

static bool wr(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n) {
		ssize_t w = write(fd, c, n);
		if (w <= 0)
			return false;
		c += w;
		n -= (size_t)w;
	}
	return true;
}

bool lt_profile_write(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return false;
	lt_fmt_header_t h;
	memset(&h, 0, sizeof(h));
	memcpy(h.magic, "ASLTPRF", 8);
	h.version = LT_FMT_VERSION;
	h.nclasses = lt_p.nclasses;
	for (unsigned c = 0; c + 1 < lt_p.nclasses; c++)
		h.bound_ns[c] = lt_p.bound_ns[c];
	bool ok = wr(fd, &h, sizeof(h));
	for (unsigned i = 0; ok && i < lt_sites_count(); i++) {
		lt_site_t *s = lt_site_at(i);
		if (!s || s->id <= 1)
			continue;
		unsigned char rec[8 + 4 * LT_MAX_CLASSES + 2 + LT_TEXT_MAX + 8];
		uint64_t tot = 0;
		memset(rec, 0, sizeof(rec));
		memcpy(rec, &s->id, 8);
		for (unsigned c = 0; c < lt_p.nclasses; c++) {
			uint32_t v = as_atomic_load_relaxed(&s->done[c]) + // snapshot
				     as_atomic_load_relaxed(&s->cens[c]);
			tot += v;
			memcpy(rec + 8 + 4 * c, &v, 4);
		}
		if (!tot)
			continue;
		uint16_t tl = (uint16_t)strnlen(s->text, sizeof(s->text));
		memcpy(rec + 8 + 4 * lt_p.nclasses, &tl, 2);
		memcpy(rec + 8 + 4 * lt_p.nclasses + 2, s->text, tl);
		ok = wr(fd, rec, lt_fmt_site_bytes(lt_p.nclasses, tl));
		h.count++;
	}
	// The header goes last, with the number of sites actually written.
	ok = ok && pwrite(fd, &h, sizeof(h), 0) == (ssize_t)sizeof(h);
	close(fd);
	return ok;
}

__attribute__((destructor)) static void lt_at_exit(void)
{
	if (lt_p.profile_out[0] && lt_init())
		lt_profile_write(lt_p.profile_out);
}
