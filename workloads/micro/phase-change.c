// SPDX-License-Identifier: MIT
// phase-change: an allocation pattern that changes mid-run (our own
// workload), the case an adaptive allocator must follow. Every thread goes
// through four phases, separated by barriers:
//   0 small:  16-128 B blocks in `slots` thread-private slots, random
//             free+malloc at full rate;
//   1 large:  1-64 KiB blocks in slots/16 private slots, `work` busy-loop steps
//             between operations (a low allocation rate), ops/8 operations;
//   2 shared: 64-1024 B blocks handed to the next thread through a bounded
//             queue and freed there (with one thread: freed later by itself),
//             ops/2 operations;
//   3 small:  phase 0 again, to see whether the allocator returns to its
//             first behaviour and releases what phase 1 held.
// At the end of a phase each thread frees what it still holds. Series
// phase_ops_per_s and phase_rss_bytes give each phase's throughput and the
// RSS at its end. Throughput = mallocs per second over the whole run.
#include <sched.h>
#include <stdio.h>

#include "as/err.h"
#include "as/meta.h"
#include "as/rng.h"
#include "lib/mw.h"

static const as_param_desc_t params[] = {
	{ "ops", "1000000", "mallocs per thread in a small phase; large does ops/8, shared ops/2 (count)" },
	{ "slots", "4096", "private slots in a small phase; large uses slots/16 (count)" },
	{ "work", "200", "busy-loop steps between operations in the large phase (count)" },
	{ "queue", "1024", "capacity of each thread-to-thread queue in the shared phase (count)" },
	{ NULL, NULL, NULL },
};

static const as_workload_desc_t workloads[] = {
	{ "phase-change", "micro",
	  "four phases per thread: small private, large slow, shared cross-thread, small again",
	  params },
	{ NULL, NULL, NULL, NULL },
};

#define NPHASES 4

typedef struct slot_s {
	void *p;
	uint32_t size;
} slot_t;

// Single-producer single-consumer ring from thread t to thread (t+1) % N.
typedef struct ring_s {
	_Alignas(AS_CACHELINE) _Atomic uint64_t head; ///< next to pop (consumer)
	_Alignas(AS_CACHELINE) _Atomic uint64_t tail; ///< next to push (producer)
	_Alignas(AS_CACHELINE) slot_t *slot;
} ring_t;

static struct {
	uint64_t ops, work;
	size_t slots, qcap;
	unsigned nt;
	ring_t *ring;
	as_barrier_t barrier;
	uint64_t phase_t0[NPHASES + 1];
	double phase_rss[NPHASES];
	mw_count_t *allocs;
} C;

static const char *const phase_name[NPHASES] = { "small", "large", "shared", "small-again" };

static void spin(uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		as_clobber_memory();
}

static void private_phase(as_rng_t *r, size_t nslots, uint64_t ops, size_t lo, size_t hi,
			  uint64_t work, const char *where)
{
	slot_t *s = as_meta_alloc(sizeof(*s) * nslots, AS_CACHELINE);
	if (!s)
		as_die(1, "cannot map %zu slots", nslots);
	for (uint64_t i = 0; i < ops; i++) {
		size_t v = (size_t)as_rng_below(r, nslots);
		if (s[v].p) {
			mw_check(s[v].p, s[v].size, where);
			mw_free(s[v].p, s[v].size);
		}
		s[v].size = (uint32_t)as_rng_range(r, lo, hi);
		s[v].p = mw_malloc(s[v].size);
		mw_stamp(s[v].p, s[v].size);
		spin(work);
	}
	for (size_t v = 0; v < nslots; v++)
		if (s[v].p) {
			mw_check(s[v].p, s[v].size, where);
			mw_free(s[v].p, s[v].size);
		}
	as_meta_free(s, sizeof(*s) * nslots, AS_CACHELINE);
}

static bool ring_pop_free(ring_t *q)
{
	uint64_t h = as_atomic_load_relaxed(&q->head); // only this thread writes head
	if (h == as_atomic_load_acquire(&q->tail))
		return false;
	slot_t s = q->slot[h % C.qcap];
	as_atomic_store_release(&q->head, h + 1);
	mw_check(s.p, s.size, "phase-change: shared block freed by the next thread");
	mw_free(s.p, s.size);
	return true;
}

static void shared_phase(unsigned tid, as_rng_t *r, uint64_t ops)
{
	ring_t *out = &C.ring[tid];
	ring_t *in = &C.ring[(tid + C.nt - 1) % C.nt];
	uint64_t sent = 0, got = 0;
	unsigned idle = 0;
	while (sent < ops || got < ops) {
		bool progress = false;
		if (sent < ops) {
			uint64_t t = as_atomic_load_relaxed(&out->tail); // only this thread writes tail
			if (t - as_atomic_load_acquire(&out->head) < C.qcap) {
				slot_t s;
				s.size = (uint32_t)as_rng_range(r, 64, 1024);
				s.p = mw_malloc(s.size);
				mw_stamp(s.p, s.size);
				out->slot[t % C.qcap] = s;
				as_atomic_store_release(&out->tail, t + 1);
				sent++;
				progress = true;
			}
		}
		if (got < ops && ring_pop_free(in)) {
			got++;
			progress = true;
		}
		// Yield when stuck: on an oversubscribed machine the peer may not
		// be running, and spinning would only delay it.
		if (progress)
			idle = 0;
		else if (++idle < 64)
			as_cpu_relax();
		else
			sched_yield();
	}
}

static void worker(unsigned tid, void *arg)
{
	(void)arg;
	as_rng_t r;
	as_rng_seed(&r, as_probe_seed(), tid);
	uint64_t n = 0;
	for (unsigned ph = 0; ph < NPHASES; ph++) {
		as_barrier_wait(&C.barrier);
		if (tid == 0)
			C.phase_t0[ph] = as_now_ns();
		switch (ph) {
		case 1:
			private_phase(&r, C.slots / 16 ? C.slots / 16 : 1, C.ops / 8, 1024, 65536,
				      C.work, "phase-change: large phase");
			n += C.ops / 8;
			break;
		case 2:
			shared_phase(tid, &r, C.ops / 2);
			n += C.ops / 2;
			break;
		default:
			private_phase(&r, C.slots, C.ops, 16, 128, 0, "phase-change: small phase");
			n += C.ops;
			break;
		}
		as_barrier_wait(&C.barrier);
		if (tid == 0) {
			C.phase_t0[ph + 1] = as_now_ns();
			C.phase_rss[ph] = (double)mw_rss_bytes();
			as_probe_sample_now();
		}
	}
	C.allocs[tid].v = n;
}

int main(int argc, char **argv)
{
	as_probe_init(argc, argv, workloads);
	C.nt = as_probe_threads();
	C.ops = as_param_u64_range("ops", 16, 1ull << 40);
	C.slots = as_param_u64_range("slots", 1, 1u << 24);
	C.work = as_param_u64_range("work", 0, 1u << 30);
	C.qcap = as_param_u64_range("queue", 1, 1u << 24);
	C.ring = as_meta_alloc(sizeof(ring_t) * C.nt, AS_CACHELINE);
	if (!C.ring)
		as_die(1, "cannot map the queues");
	for (unsigned t = 0; t < C.nt; t++) {
		C.ring[t].slot = as_meta_alloc(sizeof(slot_t) * C.qcap, AS_CACHELINE);
		if (!C.ring[t].slot)
			as_die(1, "cannot map a queue");
	}
	C.allocs = mw_counts(C.nt);
	as_barrier_init(&C.barrier, C.nt);
	as_probe_run_threads(C.nt, worker, NULL);
	uint64_t total = mw_counts_sum(C.allocs, C.nt);
	double per_phase[NPHASES];
	uint64_t phase_ops[NPHASES] = { C.ops, C.ops / 8, C.ops / 2, C.ops };
	for (unsigned ph = 0; ph < NPHASES; ph++) {
		double s = (double)(C.phase_t0[ph + 1] - C.phase_t0[ph]) / 1e9;
		per_phase[ph] = (double)(phase_ops[ph] * C.nt) / s;
		char name[64];
		snprintf(name, sizeof(name), "phase.%s.ops_per_s", phase_name[ph]);
		as_probe_metric(name, per_phase[ph]);
	}
	mw_report(total, C.phase_t0[NPHASES] - C.phase_t0[0]);
	as_probe_series("phase_ops_per_s", per_phase, NPHASES);
	as_probe_series("phase_rss_bytes", C.phase_rss, NPHASES);
	as_probe_finish();
	return 0;
}
