// SPDX-License-Identifier: MIT
// Lifetime predictors and the sampled-object table behind them.
//   online   per-site histograms of sampled lifetimes (completed ones in
//            `done`, still-live ones right-censored into `cens` at the
//            class their age has reached); the class is the configured
//            quantile of done + cens once min_samples are in, else the
//            longest class (conservative: under-prediction is what strands
//            memory); counts are halved past decay_at so phases show
//   profile  per-site classes loaded from a profile file (lt-profile or a
//            profiling run with ALLOCSCOPE_LIFETIME_PROFILE_OUT); sites not
//            in the profile fall back to online
//   model    a naive-Bayes classifier over frame-symbol tokens (lt-train):
//            predicts for stacks it never saw
//   oracle   the replay workload passes each object's true lifetime
//   none     every object in the longest class (the ablation)
// Accuracy is scored on sampled objects (1 in sample_every allocations):
// exact class, under- and over-prediction, weighted by allocations and bytes.
#include <fcntl.h>
#include <math.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "as/meta.h"
#include "internal.h"

lt_acc_t lt_acc;

unsigned lt_top_class(void)
{
	return lt_p.nclasses - 1;
}

unsigned lt_class_of(uint64_t ns)
{
	return lt_fmt_class_of(ns, lt_p.bound_ns, lt_p.nclasses);
}

// ---------------------------------------------------------------------------
// Loaded files: profile (site id -> class) and model (token -> log-likelihoods)

typedef struct lt_kv_s {
	uint64_t key;
	uint32_t val;
} lt_kv_t;

static lt_kv_t *lt_prof;
static uint64_t lt_prof_mask;
static const unsigned char *lt_model;
static lt_kv_t *lt_tok;
static uint64_t lt_tok_mask;
static float lt_logprior[LT_FMT_MAX_CLASSES], lt_logunk[LT_FMT_MAX_CLASSES];
static unsigned lt_model_classes;

static const unsigned char *map_file(const char *path, size_t *len, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: cannot open", path);
		return NULL;
	}
	struct stat sb;
	if (fstat(fd, &sb) != 0 || sb.st_size <= 0) {
		close(fd);
		snprintf(err, errlen, "%s: offset 0: empty file", path);
		return NULL;
	}
	void *m = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (m == MAP_FAILED) {
		snprintf(err, errlen, "%s: cannot map", path);
		return NULL;
	}
	*len = (size_t)sb.st_size;
	return m;
}

static bool kv_put(lt_kv_t *t, uint64_t mask, uint64_t key, uint32_t val)
{
	for (uint64_t i = 0; i <= mask; i++) {
		lt_kv_t *e = &t[(key * 0x9e3779b97f4a7c15ULL + i) & mask];
		if (e->key == 0 || e->key == key) {
			e->key = key;
			e->val = val;
			return true;
		}
	}
	return false;
}

static const lt_kv_t *kv_get(const lt_kv_t *t, uint64_t mask, uint64_t key)
{
	if (!t)
		return NULL;
	for (uint64_t i = 0; i <= mask; i++) {
		const lt_kv_t *e = &t[(key * 0x9e3779b97f4a7c15ULL + i) & mask];
		if (e->key == key)
			return e;
		if (e->key == 0)
			return NULL;
	}
	return NULL;
}

static bool same_bounds(const lt_fmt_header_t *h, char *err, size_t errlen, const char *path)
{
	bool ok = h->nclasses == lt_p.nclasses;
	for (unsigned c = 0; ok && c + 1 < h->nclasses; c++)
		ok = h->bound_ns[c] == lt_p.bound_ns[c];
	if (!ok)
		snprintf(err, errlen,
			 "%s: offset 12: its lifetime classes differ from "
			 "ALLOCSCOPE_LIFETIME_CLASSES",
			 path);
	return ok;
}

static void prof_site(const lt_fmt_site_t *s, void *ctx)
{
	(void)ctx;
	double c[LT_FMT_MAX_CLASSES];
	for (unsigned i = 0; i < lt_p.nclasses; i++)
		c[i] = s->count[i];
	int k = lt_fmt_class_of_hist(c, lt_p.nclasses, lt_p.quantile);
	if (k >= 0)
		kv_put(lt_prof, lt_prof_mask, s->id, (uint32_t)k);
}

static bool load_profile(char *err, size_t errlen)
{
	size_t len;
	const unsigned char *buf = map_file(lt_p.profile, &len, err, errlen);
	if (!buf)
		return false;
	lt_fmt_header_t h;
	char why[200];
	if (!lt_fmt_profile_walk(buf, len, &h, NULL, NULL, why, sizeof(why))) {
		snprintf(err, errlen, "%s: %s", lt_p.profile, why);
		return false;
	}
	if (!same_bounds(&h, err, errlen, lt_p.profile))
		return false;
	uint64_t n = 64;
	while (n < 2ULL * h.count)
		n <<= 1;
	lt_prof = as_meta_alloc(sizeof(lt_kv_t) * n, 4096);
	if (!lt_prof) {
		snprintf(err, errlen, "%s: no memory for %u sites", lt_p.profile, h.count);
		return false;
	}
	lt_prof_mask = n - 1;
	lt_fmt_profile_walk(buf, len, &h, prof_site, NULL, why, sizeof(why));
	munmap((void *)(uintptr_t)buf, len);
	return true;
}

static bool load_model(char *err, size_t errlen)
{
	size_t len;
	const unsigned char *buf = map_file(lt_p.model, &len, err, errlen);
	if (!buf)
		return false;
	lt_fmt_header_t h;
	char why[200];
	if (!lt_fmt_model_check(buf, len, &h, why, sizeof(why))) {
		snprintf(err, errlen, "%s: %s", lt_p.model, why);
		return false;
	}
	if (!same_bounds(&h, err, errlen, lt_p.model))
		return false;
	lt_model_classes = h.nclasses;
	memcpy(lt_logprior, buf + 80, sizeof(lt_logprior));
	memcpy(lt_logunk, buf + 112, sizeof(lt_logunk));
	uint64_t n = 64;
	while (n < 2ULL * h.count)
		n <<= 1;
	lt_tok = as_meta_alloc(sizeof(lt_kv_t) * n, 4096);
	if (!lt_tok) {
		snprintf(err, errlen, "%s: no memory for %u tokens", lt_p.model, h.count);
		return false;
	}
	lt_tok_mask = n - 1;
	for (uint32_t i = 0; i < h.count; i++) {
		uint32_t th = lt_fmt_rd32(buf + LT_FMT_MODEL_TOKENS_AT + (size_t)i * LT_FMT_MODEL_REC);
		kv_put(lt_tok, lt_tok_mask, th, i);
	}
	lt_model = buf;
	return true;
}

bool lt_predict_init(char *err, size_t errlen)
{
	if (lt_p.predictor == LT_PRED_PROFILE && !load_profile(err, errlen))
		return false;
	if (lt_p.predictor == LT_PRED_MODEL && !load_model(err, errlen))
		return false;
	return true;
}

typedef struct model_ctx_s {
	double score[LT_FMT_MAX_CLASSES];
	unsigned n;
} model_ctx_t;

static void model_token(uint32_t hash, void *ctx)
{
	model_ctx_t *m = ctx;
	const lt_kv_t *e = kv_get(lt_tok, lt_tok_mask, hash);
	m->n++;
	for (unsigned c = 0; c < lt_model_classes; c++) {
		float v = lt_logunk[c];
		if (e)
			memcpy(&v, lt_model + LT_FMT_MODEL_TOKENS_AT + (size_t)e->val * LT_FMT_MODEL_REC +
					    4 + 4 * c,
			       4);
		m->score[c] += v;
	}
}

void lt_predict_new_site(lt_site_t *s)
{
	unsigned pred = lt_top_class();
	s->fixed = 0;
	if (lt_p.predictor == LT_PRED_PROFILE) {
		const lt_kv_t *e = kv_get(lt_prof, lt_prof_mask, s->id);
		if (e) {
			pred = e->val;
			s->fixed = 1;
		}
	} else if (lt_p.predictor == LT_PRED_MODEL && s->text[0]) {
		model_ctx_t m;
		memset(&m, 0, sizeof(m));
		for (unsigned c = 0; c < lt_model_classes; c++)
			m.score[c] = lt_logprior[c];
		lt_fmt_tokenize(s->text, sizeof(s->text), model_token, &m);
		if (m.n) {
			unsigned best = 0;
			for (unsigned c = 1; c < lt_model_classes; c++)
				if (m.score[c] > m.score[best])
					best = c;
			pred = best;
			s->fixed = 1;
		}
	}
	as_atomic_store_relaxed(&s->pred, pred); // published by the site's ready flag
}

void lt_predict_update(lt_site_t *s)
{
	if (s->fixed || lt_p.predictor == LT_PRED_NONE)
		return;
	double c[LT_FMT_MAX_CLASSES];
	double total = 0;
	for (unsigned i = 0; i < lt_p.nclasses; i++) {
		c[i] = (double)as_atomic_load_relaxed(&s->done[i]) + // statistics
		       (double)as_atomic_load_relaxed(&s->cens[i]);
		total += c[i];
	}
	if (total < (double)lt_p.min_samples)
		return;
	int k = lt_fmt_class_of_hist(c, lt_p.nclasses, lt_p.quantile);
	if (k >= 0)
		as_atomic_store_relaxed(&s->pred, (uint32_t)k); // readers tolerate staleness
}

void lt_acc_add(unsigned pred, unsigned truth, size_t size)
{
	as_atomic_fetch_add_relaxed(&lt_acc.n, 1u); // statistics, summed at report
	as_atomic_fetch_add_relaxed(&lt_acc.bytes, size); // statistics
	as_atomic_fetch_add_relaxed(&lt_acc.hist[truth], 1u); // statistics
	if (pred == truth) {
		as_atomic_fetch_add_relaxed(&lt_acc.ok, 1u); // statistics
		as_atomic_fetch_add_relaxed(&lt_acc.bytes_ok, size); // statistics
	} else if (pred < truth) {
		as_atomic_fetch_add_relaxed(&lt_acc.under, 1u); // statistics
	} else {
		as_atomic_fetch_add_relaxed(&lt_acc.over, 1u); // statistics
	}
}

// ---------------------------------------------------------------------------
// Sampled objects: a chained hash table under one lock (sampled operations
// are 1 in sample_every), entries from a fixed pool.

#define LT_SAMPLES (1u << 18)
#define LT_SBUCKETS (1u << 13)

typedef struct lt_sample_s {
	void *p;
	uint64_t t0;
	uint32_t size;
	uint8_t pred;
	int8_t credited; ///< class this live sample is censored at, -1 = none
	lt_site_t *site;
	struct lt_sample_s *next;
} lt_sample_t;

static lt_lock_t lt_slock;
static lt_sample_t *lt_spool;
static lt_sample_t **lt_sbucket;
static lt_sample_t *lt_sfree;
static uint32_t lt_shigh;

static uint32_t sbucket(const void *p)
{
	return (uint32_t)(((uintptr_t)p * 0x9e3779b97f4a7c15ULL) >> 48) & (LT_SBUCKETS - 1);
}

void lt_sample_lock_all(void)
{
	lt_lock(&lt_slock);
}

void lt_sample_unlock_all(void)
{
	lt_unlock(&lt_slock);
}

static void site_decay(lt_site_t *s)
{
	uint64_t total = 0;
	for (unsigned i = 0; i < lt_p.nclasses; i++)
		total += as_atomic_load_relaxed(&s->done[i]); // statistics
	if (total <= lt_p.decay_at)
		return;
	for (unsigned i = 0; i < lt_p.nclasses; i++)
		as_atomic_store_relaxed(&s->done[i], as_atomic_load_relaxed(&s->done[i]) / 2); // stats
}

void lt_sample_alloc(lt_tstate_t *t, void *p, size_t size, lt_site_t *s, unsigned lc,
		     lt_block_t *b)
{
	lt_lock(&lt_slock);
	if (!lt_spool) {
		lt_spool = as_meta_alloc(sizeof(lt_sample_t) * LT_SAMPLES, 4096);
		lt_sbucket = as_meta_alloc(sizeof(lt_sample_t *) * LT_SBUCKETS, 4096);
		if (!lt_spool || !lt_sbucket) {
			lt_unlock(&lt_slock);
			return;
		}
		memset(lt_sbucket, 0, sizeof(lt_sample_t *) * LT_SBUCKETS); // touch it all now
	}
	lt_sample_t *e = lt_sfree;
	if (e)
		lt_sfree = e->next;
	else if (lt_shigh < LT_SAMPLES)
		e = &lt_spool[lt_shigh++];
	if (!e) {
		lt_unlock(&lt_slock);
		return;
	}
	e->p = p;
	e->t0 = lt_now();
	e->size = (uint32_t)size;
	e->pred = (uint8_t)lc;
	e->credited = -1;
	e->site = s;
	uint32_t bk = sbucket(p);
	e->next = lt_sbucket[bk];
	lt_sbucket[bk] = e;
	lt_unlock(&lt_slock);
	uint32_t i = lt_obj_index(b, p);
	as_atomic_fetch_or_acq_rel(&b->sampled[i / 64], 1ULL << (i % 64));
	as_atomic_fetch_add_acq_rel(&b->nsampled, 1u);
	as_atomic_store_relaxed(&t->samples, as_atomic_load_relaxed(&t->samples) + 1); // owner
}

void lt_sample_free(void *p)
{
	lt_lock(&lt_slock);
	lt_sample_t **pp = &lt_sbucket[sbucket(p)];
	lt_sample_t *e = NULL;
	for (; *pp; pp = &(*pp)->next) {
		if ((*pp)->p == p) {
			e = *pp;
			*pp = e->next;
			break;
		}
	}
	if (!e) {
		lt_unlock(&lt_slock);
		return;
	}
	lt_sample_t copy = *e;
	e->p = NULL;
	e->next = lt_sfree;
	lt_sfree = e;
	lt_unlock(&lt_slock);
	uint64_t now = lt_now();
	unsigned truth = lt_class_of(now > copy.t0 ? now - copy.t0 : 0);
	lt_acc_add(copy.pred, truth, copy.size);
	lt_site_t *s = copy.site;
	if (!s)
		return;
	if (copy.credited >= 0)
		as_atomic_fetch_sub_relaxed(&s->cens[copy.credited], 1u); // statistics
	as_atomic_fetch_add_relaxed(&s->done[truth], 1u); // statistics
	site_decay(s);
	lt_predict_update(s);
}

void lt_sample_sweep(uint64_t now)
{
	lt_lock(&lt_slock);
	if (!lt_spool) { // created under the lock by the first sample
		lt_unlock(&lt_slock);
		return;
	}
	for (uint32_t i = 0; i < lt_shigh; i++) {
		lt_sample_t *e = &lt_spool[i];
		if (!e->p || !e->site)
			continue;
		unsigned a = lt_class_of(now > e->t0 ? now - e->t0 : 0);
		if (a == 0 || (int)a <= e->credited)
			continue;
		if (e->credited >= 0)
			as_atomic_fetch_sub_relaxed(&e->site->cens[e->credited], 1u); // statistics
		as_atomic_fetch_add_relaxed(&e->site->cens[a], 1u); // statistics
		e->credited = (int8_t)a;
		lt_predict_update(e->site);
	}
	lt_unlock(&lt_slock);
}

void lt_sample_rebase(uint64_t now)
{
	lt_lock(&lt_slock);
	for (uint32_t i = 0; i < lt_shigh; i++)
		if (lt_spool[i].p)
			lt_spool[i].t0 = now;
	lt_unlock(&lt_slock);
}

// Samples still live at report time: older than the predicted class = an
// under-prediction; predicted longest and still live = correct; anything
// else is not decided yet and left out.

void lt_acc_snapshot(lt_acc_t *out, uint64_t *live_samples)
{
	uint64_t n = as_atomic_load_relaxed(&lt_acc.n), ok = as_atomic_load_relaxed(&lt_acc.ok);
	uint64_t under = as_atomic_load_relaxed(&lt_acc.under);
	uint64_t over = as_atomic_load_relaxed(&lt_acc.over);
	uint64_t bytes = as_atomic_load_relaxed(&lt_acc.bytes);
	uint64_t bytes_ok = as_atomic_load_relaxed(&lt_acc.bytes_ok); // all: report-time snapshot
	uint64_t live = 0;
	uint64_t now = lt_now();
	lt_lock(&lt_slock); // lt_spool is created under it
	if (lt_spool) {
		for (uint32_t i = 0; i < lt_shigh; i++) {
			lt_sample_t *e = &lt_spool[i];
			if (!e->p)
				continue;
			live++;
			unsigned a = lt_class_of(now > e->t0 ? now - e->t0 : 0);
			if (e->pred < a) {
				n++;
				under++;
				bytes += e->size;
			} else if (e->pred == lt_top_class()) {
				n++;
				ok++;
				bytes += e->size;
				bytes_ok += e->size;
			}
		}
	}
	lt_unlock(&lt_slock);
	memset(out, 0, sizeof(*out));
	as_atomic_store_relaxed(&out->n, n); // private copy
	as_atomic_store_relaxed(&out->ok, ok); // private copy
	as_atomic_store_relaxed(&out->under, under); // private copy
	as_atomic_store_relaxed(&out->over, over); // private copy
	as_atomic_store_relaxed(&out->bytes, bytes); // private copy
	as_atomic_store_relaxed(&out->bytes_ok, bytes_ok); // private copy
	*live_samples = live;
}
