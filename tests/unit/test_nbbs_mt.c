// SPDX-License-Identifier: MIT
// Multithreaded overlap test of nbbs at the settings that broke the authors'
// 4-level code (issue 6): 2-4 threads, 16-32 MiB arenas, 4-64 KiB blocks
// (orders 0-4), near full. Every frame has an owner byte; a get marks its
// block's frames by exchange and any previous owner is an overlap. Small
// enough for the unit suite (about 0.3 s; shrunk under sanitizers); the long
// version of these settings belongs to the generic frame stress test.
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../../allocators/frame/nbbs/internal.h"
#include "../../allocators/frame/nbbs/nbbs.h"
#include "as/rng.h"
#include "test.h"

#define MT_MAX_ORDER 4
#define MT_MAX_HELD 8192

typedef struct mt_shared_s {
	frame_alloc_t *fa;
	_Atomic uint8_t *owner;
	uint64_t frames;
	unsigned threads, cores;
	uint64_t iters;
	_Atomic unsigned ready; ///< start barrier: threads spin until all arrived
	_Atomic unsigned done;  ///< threads that finished the loop (still holding)
	_Atomic unsigned go;    ///< set by main after validating the held state
} mt_shared_t;

typedef struct mt_thread_s {
	mt_shared_t *sh;
	unsigned id;
	uint64_t overlaps, bad_results, failures, ops;
	pthread_t tid;
} mt_thread_t;

static void *mt_run(void *arg)
{
	mt_thread_t *t = arg;
	mt_shared_t *sh = t->sh;
	uint64_t *held_f = malloc(MT_MAX_HELD * sizeof(*held_f));
	unsigned *held_o = malloc(MT_MAX_HELD * sizeof(*held_o));
	unsigned nheld = 0, core = t->id % sh->cores;
	uint8_t me = (uint8_t)(t->id + 1);
	// Each thread aims at ~97% of its share: the arena runs near full.
	uint64_t quota = sh->frames * 97 / 100 / sh->threads, held_frames = 0;
	as_rng_t rng;
	as_rng_seed(&rng, 0x6b6273, t->id);
	as_atomic_fetch_add_acq_rel(&sh->ready, 1);
	while (as_atomic_load_acquire(&sh->ready) < sh->threads)
		as_cpu_relax();
	for (uint64_t it = 0; it < sh->iters; it++) {
		bool do_get = nheld == 0 ||
			      (nheld < MT_MAX_HELD && held_frames < quota &&
			       as_rng_below(&rng, 100) < 60);
		if (do_get) {
			unsigned o = (unsigned)as_rng_below(&rng, MT_MAX_ORDER + 1);
			frame_result_t r = nbbs_ops.get(sh->fa, core, o);
			if (r.err == FRAME_ERR_MEMORY) {
				t->failures++;
				continue;
			}
			if (r.err != FRAME_OK || r.frame % (1u << o) ||
			    r.frame + (1u << o) > sh->frames) {
				t->bad_results++;
				continue;
			}
			for (uint64_t f = r.frame; f < r.frame + (1u << o); f++)
				// acq_rel exchange: the owner map is the checker's
				// own shared state.
				if (as_atomic_exchange_acq_rel(&sh->owner[f], me) != 0)
					t->overlaps++;
			held_f[nheld] = r.frame;
			held_o[nheld++] = o;
			held_frames += 1u << o;
		} else {
			unsigned j = (unsigned)as_rng_below(&rng, nheld);
			uint64_t fr = held_f[j];
			unsigned o = held_o[j];
			for (uint64_t f = fr; f < fr + (1u << o); f++)
				if (as_atomic_exchange_acq_rel(&sh->owner[f], 0) != me)
					t->overlaps++;
			if (nbbs_ops.put(sh->fa, core, fr, o) != FRAME_OK)
				t->bad_results++;
			held_f[j] = held_f[--nheld];
			held_o[j] = held_o[nheld];
			held_frames -= 1u << o;
		}
		t->ops++;
	}
	// Quiescent with blocks held: main validates, then everyone frees.
	as_atomic_fetch_add_acq_rel(&sh->done, 1);
	while (!as_atomic_load_acquire(&sh->go))
		as_cpu_relax();
	while (nheld) {
		nheld--;
		for (uint64_t f = held_f[nheld]; f < held_f[nheld] + (1u << held_o[nheld]); f++)
			if (as_atomic_exchange_acq_rel(&sh->owner[f], 0) != me)
				t->overlaps++;
		if (nbbs_ops.put(sh->fa, core, held_f[nheld], held_o[nheld]) != FRAME_OK)
			t->bad_results++;
	}
	free(held_f);
	free(held_o);
	return NULL;
}

/// One run; returns false (after printing why) on any overlap or error.
static bool mt_case(unsigned threads, unsigned cores, uint64_t frames, const char *opts,
		    uint64_t iters)
{
	frame_config_t cfg = { .frames = frames, .cores = cores, .options = opts };
	char err[200];
	mt_shared_t sh = { .frames = frames, .threads = threads, .cores = cores, .iters = iters };
	sh.fa = nbbs_ops.create(&cfg, err, sizeof(err));
	if (!sh.fa) {
		fprintf(stderr, "  create: %s\n", err);
		return false;
	}
	sh.owner = calloc(frames, 1);
	mt_thread_t t[4];
	for (unsigned i = 0; i < threads; i++) {
		t[i] = (mt_thread_t){ .sh = &sh, .id = i };
		pthread_create(&t[i].tid, NULL, mt_run, &t[i]);
	}
	uint64_t overlaps = 0, bad = 0, failures = 0, ops = 0, coal_held = 0;
	bool held_ok = true;
	while (as_atomic_load_acquire(&sh.done) < threads)
		as_cpu_relax();
	if (!nbbs_validate_ex(sh.fa, false, err, sizeof(err))) {
		fprintf(stderr, "  validate with blocks held: %s\n", err);
		held_ok = false;
	}
	coal_held = nbbs_count_coal(sh.fa);
	as_atomic_store_release(&sh.go, 1);
	for (unsigned i = 0; i < threads; i++) {
		pthread_join(t[i].tid, NULL);
		overlaps += t[i].overlaps;
		bad += t[i].bad_results;
		failures += t[i].failures;
		ops += t[i].ops;
	}
	bool ok = overlaps == 0 && bad == 0 && held_ok;
	if (getenv("NBBS_MT_VERBOSE"))
		fprintf(stderr, "  %u threads %u cores %llu frames: %llu ops, %llu failures, "
			"%llu stale COAL bits while holding\n",
			threads, cores, (unsigned long long)frames, (unsigned long long)ops,
			(unsigned long long)failures, (unsigned long long)coal_held);
	struct frame_alloc_s *fa = sh.fa;
	if (ok && !nbbs_validate_ex(fa, false, err, sizeof(err))) {
		fprintf(stderr, "  validate: %s\n", err);
		ok = false;
	}
	// Everything was put back: every word must be 0 again (a stale COAL can
	// only sit on an occupied side, and nothing is occupied).
	for (unsigned k = 0; ok && k <= NBBS_MAX_ORDER; k++)
		for (uint64_t i = 0; ok && i < fa->count[k]; i++)
			if (as_atomic_load_relaxed(nbbs_node(fa, k, i)) != 0) {
				fprintf(stderr, "  node (%u, %llu) not free after all puts\n", k,
					(unsigned long long)i);
				ok = false;
			}
	if (!ok)
		fprintf(stderr,
			"  %u threads %u cores %llu frames %s: %llu ops, %llu overlaps, "
			"%llu bad results, %llu failures\n",
			threads, cores, (unsigned long long)frames, opts ? opts : "",
			(unsigned long long)ops, (unsigned long long)overlaps,
			(unsigned long long)bad, (unsigned long long)failures);
	free(sh.owner);
	nbbs_ops.destroy(sh.fa);
	return ok;
}

TEST(nbbs_mt_overlap_small_arena)
{
	uint64_t iters = (uint64_t)(150000 * as_test_scale());
	check(mt_case(2, 2, 4096, NULL, iters));          // 16 MiB
	check(mt_case(4, 4, 8192, NULL, iters / 2));      // 32 MiB
	check(mt_case(4, 2, 4096, "pad=64", iters / 2));  // two threads per core
	check(mt_case(3, 3, 4096, NULL, iters / 2));
	check(mt_case(2, 2, 4096, "early=0", iters / 2)); // the paper's release
	check(mt_case(4, 4, 8192, "early=0,pad=64", iters / 4));
}
