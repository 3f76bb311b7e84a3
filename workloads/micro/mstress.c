// SPDX-License-Identifier: MIT
// mstress: Leijen's allocator stress test (mimalloc `test/test-stress.c`;
// mimalloc-bench runs `mstress N 50 25`), written from the definition in
// shared/reference/benchmark-suites.md section 3.
//
// Each round starts N fresh threads. Thread t makes 100*scale*(t%8+1) normal
// allocations and half as many retained ones (uneven load). Per step: with
// ~50% chance (or when no retains are left) it allocates a normal object
// (2^k words, k<5), otherwise a retained one (k<7); with 66% chance it frees
// a random live normal object; with 25% chance it swaps one of its pointers
// with one of `transfers` shared slots (atomic exchange), so objects migrate
// between threads and live across rounds. About 1% of objects are x100 larger,
// 0.1% x1000 and 0.01% x10000 (up to a few MiB). Every object is filled with a
// checkable pattern and verified when freed. At the end of a round the
// threads free their own objects and exit; the main thread frees about half
// of the transfer slots. Throughput = allocations per second.
#include "as/err.h"
#include "as/meta.h"
#include "as/rng.h"
#include "lib/mw.h"

static const as_param_desc_t params[] = {
	{ "scale", "50", "allocation count scale: thread t allocates 100*scale*(t%8+1) objects per round (count)" },
	{ "rounds", "100", "rounds; all threads are recreated every round (count; mimalloc-bench 25, test-stress 50)" },
	{ "transfers", "1000", "shared transfer slots (count)" },
	{ NULL, NULL, NULL },
};

static const as_workload_desc_t workloads[] = {
	{ "mstress", "micro",
	  "stress: random alloc/free with migration through shared slots, threads recreated each round",
	  params },
	{ NULL, NULL, NULL, NULL },
};

static struct {
	uint64_t scale;
	unsigned round;
	size_t ntransfer;
	_Atomic(uint64_t *) *transfer;
	mw_count_t *allocs;
} M;

// An object is `words` 8-byte words; word 0 holds the count, the rest a
// pattern derived from the address (so swapped-in objects check themselves).
static uint64_t *alloc_items(size_t words, as_rng_t *r)
{
	uint64_t u = as_rng_below(r, 10000);
	if (u == 0)
		words *= 10000;
	else if (u < 10)
		words *= 1000;
	else if (u < 100)
		words *= 100;
	uint64_t *p = mw_malloc(words * 8);
	p[0] = words;
	mw_fill(p + 1, (words - 1) * 8);
	return p;
}

static void free_items(uint64_t *p, const char *where)
{
	if (!p)
		return;
	size_t words = p[0];
	if (AS_UNLIKELY(words == 0 || words > (1u << 24)))
		mw_corrupt(where, p, 8, 0);
	mw_verify(p + 1, (words - 1) * 8, where);
	mw_free(p, words * 8);
}

static void stress(unsigned tid, void *arg)
{
	(void)arg;
	as_rng_t r;
	as_rng_seed(&r, as_probe_seed(), (uint64_t)M.round << 32 | tid);
	size_t allocs = 100 * M.scale * (tid % 8 + 1);
	size_t retain = allocs / 2;
	size_t cap = allocs, top = 0, rtop = 0;
	uint64_t **data = mw_malloc(sizeof(*data) * cap);
	uint64_t **retained = mw_malloc(sizeof(*retained) * (retain ? retain : 1));
	uint64_t n = 0;
	while (allocs > 0 || retain > 0) {
		if (retain == 0 || (allocs > 0 && as_rng_below(&r, 100) < 50)) {
			allocs--;
			data[top++] = alloc_items(2 + ((size_t)1 << as_rng_below(&r, 5)), &r);
		} else {
			retained[rtop++] = alloc_items(2 + ((size_t)1 << as_rng_below(&r, 7)), &r);
			retain--;
		}
		n++;
		if (top > 0 && as_rng_below(&r, 100) < 66) {
			size_t i = (size_t)as_rng_below(&r, top);
			free_items(data[i], "mstress: free of a live object");
			data[i] = NULL;
		}
		if (top > 0 && as_rng_below(&r, 100) < 25) {
			size_t i = (size_t)as_rng_below(&r, top);
			size_t j = (size_t)as_rng_below(&r, M.ntransfer);
			data[i] = as_atomic_exchange_acq_rel(&M.transfer[j], data[i]);
		}
	}
	if (tid == 0 && M.round == 0)
		as_probe_sample_now(); // a timeline sample at the round's peak
	for (size_t i = 0; i < rtop; i++)
		free_items(retained[i], "mstress: free of a retained object");
	for (size_t i = 0; i < top; i++)
		free_items(data[i], "mstress: end-of-round free");
	mw_free(retained, sizeof(*retained) * (rtop ? rtop : 1));
	mw_free(data, sizeof(*data) * cap);
	M.allocs[tid].v += n;
}

int main(int argc, char **argv)
{
	as_probe_init(argc, argv, workloads);
	unsigned nt = as_probe_threads();
	M.scale = as_param_u64_range("scale", 1, 1u << 20);
	unsigned rounds = (unsigned)as_param_u64_range("rounds", 1, 1u << 20);
	M.ntransfer = as_param_u64_range("transfers", 1, 1u << 24);
	M.transfer = as_meta_alloc(sizeof(*M.transfer) * M.ntransfer, AS_CACHELINE);
	if (!M.transfer)
		as_die(1, "cannot map the transfer slots");
	M.allocs = mw_counts(nt);
	as_rng_t r;
	as_rng_seed(&r, as_probe_seed(), 1u << 31);
	uint64_t t0 = as_now_ns();
	for (M.round = 0; M.round < rounds; M.round++) {
		as_probe_run_threads(nt, stress, NULL);
		for (size_t i = 0; i < M.ntransfer; i++)
			if (as_rng_below(&r, 2))
				free_items(as_atomic_exchange_acq_rel(&M.transfer[i], NULL),
					   "mstress: main frees a transfer slot");
	}
	for (size_t i = 0; i < M.ntransfer; i++)
		free_items(as_atomic_exchange_acq_rel(&M.transfer[i], NULL), "mstress: final free");
	uint64_t t1 = as_now_ns();
	mw_report(mw_counts_sum(M.allocs, nt), t1 - t0);
	as_probe_metric("threads_created", (double)nt * rounds);
	as_probe_finish();
	return 0;
}
