// SPDX-License-Identifier: MIT
// lt-train: train the lifetime allocator's model predictor, a multinomial
// naive-Bayes classifier over frame-symbol tokens (lt_format.h tokenizer),
// from one or more profiles (lt-profile or ALLOCSCOPE_LIFETIME_PROFILE_OUT).
// Each site is one example: its label is the class at the 0.9 quantile of
// its lifetime histogram, its tokens come from its frames. Sites are split
// by a hash of their id into training and held-out sets; the held-out
// accuracy (by sites and weighted by allocations) is printed beside the
// majority-class baseline, so the value of the model is visible. The model
// written is trained on the training sites only (--all: on every site).
// This is our small, non-LSTM stand-in for LLAMA's model: it generalises
// to stacks never seen through the function names they share.
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../allocators/object/lifetime/lt_format.h"
#include "as/rng.h"
#include "lib/tool_util.h"

#define MAXC LT_FMT_MAX_CLASSES

typedef struct ex_s {
	uint64_t id;
	int label;
	double weight; ///< allocations
	uint32_t *tok;
	unsigned ntok;
	bool held;
} ex_t;

typedef struct tok_s {
	uint32_t hash;
	double count[MAXC];
} tok_t;

static ex_t *ex;
static size_t nex, capex;
static tok_t *toks;
static size_t ntoks, captoks;
static lt_fmt_header_t hdr;
static bool have_hdr;
static double quantile = 0.9;
static unsigned holdout_pct = 20;

static uint32_t *cur_tok;
static unsigned cur_n, cur_cap;
static void collect(uint32_t h, void *ctx)
{
	(void)ctx;
	if (cur_n == cur_cap) {
		cur_cap = cur_cap ? 2 * cur_cap : 32;
		cur_tok = tool_xrealloc(cur_tok, cur_cap * sizeof(*cur_tok));
	}
	cur_tok[cur_n++] = h;
}

static void on_site(const lt_fmt_site_t *s, void *ctx)
{
	(void)ctx;
	double c[MAXC] = { 0 };
	double w = 0;
	for (unsigned i = 0; i < hdr.nclasses; i++) {
		c[i] = s->count[i];
		w += c[i];
	}
	int label = lt_fmt_class_of_hist(c, hdr.nclasses, quantile);
	if (label < 0)
		return;
	cur_tok = NULL;
	cur_n = cur_cap = 0;
	lt_fmt_tokenize(s->text, s->textlen, collect, NULL);
	if (cur_n == 0) {
		free(cur_tok);
		return;
	}
	if (nex == capex) {
		capex = capex ? 2 * capex : 256;
		ex = tool_xrealloc(ex, capex * sizeof(*ex));
	}
	uint64_t st = s->id;
	ex[nex++] = (ex_t){ s->id, label, w, cur_tok, cur_n, as_splitmix64(&st) % 100 < holdout_pct };
}

static tok_t *tok_get(uint32_t h)
{
	for (size_t i = 0; i < ntoks; i++) // token vocabularies are small
		if (toks[i].hash == h)
			return &toks[i];
	if (ntoks == captoks) {
		captoks = captoks ? 2 * captoks : 256;
		toks = tool_xrealloc(toks, captoks * sizeof(*toks));
	}
	memset(&toks[ntoks], 0, sizeof(toks[0]));
	toks[ntoks].hash = h;
	return &toks[ntoks++];
}

static const tok_t *tok_find(uint32_t h)
{
	for (size_t i = 0; i < ntoks; i++)
		if (toks[i].hash == h)
			return &toks[i];
	return NULL;
}

static float logprior[MAXC], logunk[MAXC];
static double total[MAXC];
static const double alpha = 0.1;

static void train(bool all)
{
	double prior[MAXC] = { 0 }, n = 0;
	for (size_t i = 0; i < nex; i++) {
		if (ex[i].held && !all)
			continue;
		// A site counts by the log of its allocations: busy sites matter
		// more, without one hot site drowning the rest.
		double w = 1 + log2(1 + ex[i].weight);
		prior[ex[i].label] += w;
		n += w;
		for (unsigned k = 0; k < ex[i].ntok; k++) {
			tok_get(ex[i].tok[k])->count[ex[i].label] += w;
			total[ex[i].label] += w;
		}
	}
	for (unsigned c = 0; c < hdr.nclasses; c++) {
		logprior[c] = (float)log((prior[c] + 1) / (n + hdr.nclasses));
		// Tokens never seen in training say nothing about the class.
		logunk[c] = 0;
	}
}

static float loglik(const tok_t *t, unsigned c)
{
	return (float)log((t->count[c] + alpha) / (total[c] + alpha * (double)(ntoks + 1)));
}

static int predict(const ex_t *e)
{
	double score[MAXC];
	for (unsigned c = 0; c < hdr.nclasses; c++)
		score[c] = logprior[c];
	for (unsigned k = 0; k < e->ntok; k++) {
		const tok_t *t = tok_find(e->tok[k]);
		for (unsigned c = 0; c < hdr.nclasses; c++)
			score[c] += t ? loglik(t, c) : logunk[c];
	}
	int best = 0;
	for (unsigned c = 1; c < hdr.nclasses; c++)
		if (score[c] > score[best])
			best = (int)c;
	return best;
}

static int usage(int code)
{
	printf("usage: lt-train [--holdout PCT] [--all] MODEL_OUT PROFILE...\n"
	       "Train the model predictor from lifetime profiles; report held-out accuracy\n"
	       "(default 20%% of sites held out, chosen by a hash of the site id).\n");
	return code;
}

int main(int argc, char **argv)
{
	tool_set_prog("lt-train");
	bool all = false;
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return usage(0);
		if (!strcmp(argv[i], "--all")) {
			all = true;
		} else if (!strcmp(argv[i], "--holdout") && i + 1 < argc) {
			holdout_pct = (unsigned)atoi(argv[++i]);
			if (holdout_pct > 90) {
				fprintf(stderr, "lt-train: --holdout %u: want 0..90\n", holdout_pct);
				return 2;
			}
		} else {
			fprintf(stderr, "lt-train: unknown option %s\n", argv[i]);
			return usage(2);
		}
	}
	if (argc - i < 2)
		return usage(2);
	const char *out = argv[i++];
	for (; i < argc; i++) {
		int fd = open(argv[i], O_RDONLY);
		struct stat sb;
		if (fd < 0 || fstat(fd, &sb) != 0) {
			fprintf(stderr, "lt-train: %s: cannot open\n", argv[i]);
			return 2;
		}
		size_t len = (size_t)sb.st_size;
		const unsigned char *b = len ? mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0)
					     : (const unsigned char *)"";
		close(fd);
		lt_fmt_header_t h;
		char err[200];
		if (b == MAP_FAILED || !lt_fmt_profile_walk(b, len, &h, NULL, NULL, err, sizeof(err))) {
			fprintf(stderr, "lt-train: %s: %s\n", argv[i], b == MAP_FAILED ? "cannot map" : err);
			return 2;
		}
		if (have_hdr && (h.nclasses != hdr.nclasses ||
				 memcmp(h.bound_ns, hdr.bound_ns, sizeof(h.bound_ns)))) {
			fprintf(stderr, "lt-train: %s: offset 12: classes differ from the first profile\n",
				argv[i]);
			return 2;
		}
		hdr = h;
		have_hdr = true;
		lt_fmt_profile_walk(b, len, &h, on_site, NULL, err, sizeof(err));
	}
	if (nex == 0) {
		fprintf(stderr, "lt-train: no sites with lifetimes and frame symbols\n");
		return 2;
	}
	train(all);
	// Held-out evaluation (or training-set fit with --holdout 0).
	double w_ok = 0, w_all = 0, maj_ok = 0;
	unsigned s_ok = 0, s_all = 0;
	double class_w[MAXC] = { 0 };
	for (size_t k = 0; k < nex; k++)
		if (!ex[k].held)
			class_w[ex[k].label] += 1;
	int majority = 0;
	for (unsigned c = 1; c < hdr.nclasses; c++)
		if (class_w[c] > class_w[majority])
			majority = (int)c;
	for (size_t k = 0; k < nex; k++) {
		if (holdout_pct && !ex[k].held)
			continue;
		int p = predict(&ex[k]);
		s_all++;
		w_all += ex[k].weight;
		if (p == ex[k].label) {
			s_ok++;
			w_ok += ex[k].weight;
		}
		if (majority == ex[k].label)
			maj_ok += ex[k].weight;
	}
	printf("lt-train: %zu sites (%u %s), %zu tokens, %u classes\n", nex, s_all,
	       holdout_pct ? "held out" : "evaluated on the training set", ntoks, hdr.nclasses);
	if (s_all)
		printf("held_out_sites %u\nheld_out_accuracy_sites %.4f\nheld_out_accuracy_allocs %.4f\n"
		       "majority_baseline_allocs %.4f\n",
		       s_all, (double)s_ok / s_all, w_all > 0 ? w_ok / w_all : 0.0,
		       w_all > 0 ? maj_ok / w_all : 0.0);
	FILE *f = fopen(out, "wb");
	if (!f) {
		fprintf(stderr, "lt-train: %s: cannot create\n", out);
		return 1;
	}
	lt_fmt_header_t h = hdr;
	memcpy(h.magic, "ASLTMDL", 8);
	h.count = (uint32_t)ntoks;
	h.reserved = 0;
	float pri[MAXC] = { 0 }, unk[MAXC] = { 0 };
	for (unsigned c = 0; c < hdr.nclasses; c++) {
		pri[c] = logprior[c];
		unk[c] = logunk[c];
	}
	fwrite(&h, sizeof(h), 1, f);
	fwrite(pri, sizeof(pri), 1, f);
	fwrite(unk, sizeof(unk), 1, f);
	for (size_t k = 0; k < ntoks; k++) {
		float ll[MAXC] = { 0 };
		for (unsigned c = 0; c < hdr.nclasses; c++)
			ll[c] = loglik(&toks[k], c);
		fwrite(&toks[k].hash, 4, 1, f);
		fwrite(ll, sizeof(ll), 1, f);
	}
	if (fclose(f) != 0) {
		fprintf(stderr, "lt-train: %s: write failed\n", out);
		return 1;
	}
	return 0;
}
