// SPDX-License-Identifier: MIT
// llfree-crash-test: crash recovery of file-backed llfree (llfree_persist.h)
// under SIGKILL. Each round forks a child that opens the region file and
// runs a multithreaded allocation storm; every thread records the blocks it
// owns in a journal that is itself a MAP_SHARED file (one aligned 64-bit
// slot store each: recorded after get succeeded, cleared before put, so a
// kill leaves it consistent and at most one block per thread unrecorded).
// The parent SIGKILLs the child at a random time, reopens the region (deep
// recovery, timed) and checks: validate passes (child and tree counters
// agree with the bits), every journaled block is allocated in the bits, no
// frame is owned twice, every journaled block can be freed, and the frames
// leaked by in-flight operations stay within one block per thread. Exit 0
// on success, 1 on a failed check, 2 on bad usage.
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../allocators/frame/llfree/llfree_persist.h"
#include "as/atomic.h"
#include "as/clock.h"
#include "as/rng.h"

extern const struct frame_ops llfree_ops;

#define CT_SLOTS 1024u      /* journal slots per thread */
#define CT_MAX_THREADS 64u
#define CT_JOURNAL_MAGIC 0x4c4c434a524e4c31ull /* "LLCJRNL1" */

/// The journal file: a header line, then CT_SLOTS slots per thread. A slot
/// is 0 (empty) or (frame << 5 | order << 1 | 1).
typedef struct ct_journal_s {
	uint64_t magic;
	_Atomic uint64_t started;       ///< threads that entered the storm
	_Atomic uint64_t ops[CT_MAX_THREADS]; ///< operations done per thread
	_Alignas(64) _Atomic uint64_t slot[];
} ct_journal_t;

typedef struct ct_opts_s {
	unsigned kills;
	unsigned threads;
	double gib;
	uint64_t seed;
	unsigned max_ms;
	const char *dir;
	bool keep;
} ct_opts_t;

static ct_opts_t opt = { .kills = 200, .threads = 4, .gib = 1.0, .seed = 1, .max_ms = 40 };
static frame_alloc_t *child_fa;
static ct_journal_t *jr;

static void usage(FILE *f)
{
	fprintf(f,
		"usage: llfree-crash-test [options]\n"
		"  Crash test of file-backed llfree: fork an allocation storm, SIGKILL it at a\n"
		"  random time, recover, verify; repeat.\n"
		"  --kills N     rounds (random kills), default 200\n"
		"  --threads N   storm threads (1..%u), default 4\n"
		"  --gib G       managed memory in GiB (fractions allowed), default 1\n"
		"  --seed S      random seed, default 1\n"
		"  --max-ms M    kill after a random 0..M ms of storm, default 40\n"
		"  --dir D       directory for the region and journal files (default: a new\n"
		"                temporary directory, removed at the end)\n"
		"  --keep        keep the files\n"
		"  --help        this text\n"
		"Prints one summary line with the recovery time per GiB; exit 0 ok, 1 a\n"
		"check failed, 2 bad usage.\n",
		CT_MAX_THREADS);
}

static uint64_t parse_u(const char *name, const char *s, uint64_t lo, uint64_t hi)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi) {
		fprintf(stderr, "llfree-crash-test: %s: '%s' is not an integer in %llu..%llu\n",
			name, s, (unsigned long long)lo, (unsigned long long)hi);
		exit(2);
	}
	return v;
}

static unsigned pick_order(as_rng_t *r)
{
	uint64_t p = as_rng_below(r, 100);
	if (p < 70)
		return 0;
	if (p < 90)
		return (unsigned)as_rng_range(r, 1, 8);
	if (p < 98)
		return 9;
	return 10;
}

// The storm: runs until the process is killed.
static void *storm(void *arg)
{
	unsigned tid = (unsigned)(uintptr_t)arg;
	_Atomic uint64_t *mine = &jr->slot[(size_t)tid * CT_SLOTS];
	as_rng_t r;
	as_rng_seed(&r, opt.seed ^ (uint64_t)getpid(), tid);
	as_atomic_fetch_add_acq_rel(&jr->started, 1);
	for (;;) {
		unsigned i = (unsigned)as_rng_below(&r, CT_SLOTS);
		uint64_t s = as_atomic_load_acquire(&mine[i]);
		if (s == 0) {
			unsigned order = pick_order(&r);
			frame_result_t res = llfree_ops.get(child_fa, tid, order);
			if (res.err == FRAME_OK)
				as_atomic_store_release(&mine[i], res.frame << 5 | order << 1 | 1);
		} else {
			as_atomic_store_release(&mine[i], 0);
			if (llfree_ops.put(child_fa, tid, s >> 5, (unsigned)(s >> 1) & 15) != FRAME_OK)
				_exit(3); // a block we own was rejected: corruption
		}
		// Relaxed: a progress count only the parent reads for its report.
		as_atomic_fetch_add_relaxed(&jr->ops[tid], 1);
	}
	return NULL;
}

static void child_main(const char *region_path)
{
	char err[256];
	llf_persist_info_t info;
	child_fa = llf_persist_open(region_path, 0, opt.threads, NULL, false, &info, err,
				    sizeof(err));
	if (!child_fa) {
		fprintf(stderr, "child: %s\n", err);
		_exit(4);
	}
	if (info.was_crashed || info.created) // the parent closed it cleanly
		_exit(6);
	pthread_t th[CT_MAX_THREADS];
	for (unsigned t = 0; t < opt.threads; t++)
		if (pthread_create(&th[t], NULL, storm, (void *)(uintptr_t)t))
			_exit(5);
	for (;;)
		pause();
}

static int check_fail(unsigned round, const char *fmt, const char *detail)
{
	fprintf(stderr, "llfree-crash-test: round %u: ", round);
	fprintf(stderr, fmt, detail);
	fputc('\n', stderr);
	return 1;
}

// Verify the recovered region against the journal, then free every
// journaled block and empty the journal. Returns 0 or 1.
static int verify(unsigned round, frame_alloc_t *fa, uint64_t frames, uint8_t *owned,
		  uint64_t *journaled_frames)
{
	char why[256];
	if (!llfree_ops.validate(fa, why, sizeof(why)))
		return check_fail(round, "validate after recovery: %s", why);
	memset(owned, 0, (frames + 7) / 8);
	uint64_t n = 0;
	size_t slots = (size_t)opt.threads * CT_SLOTS;
	for (size_t i = 0; i < slots; i++) {
		uint64_t s = as_atomic_load_acquire(&jr->slot[i]);
		if (!s)
			continue;
		uint64_t f = s >> 5;
		unsigned order = (unsigned)(s >> 1) & 15;
		if (order > FRAME_MAX_ORDER || f + (1ull << order) > frames) {
			snprintf(why, sizeof(why), "slot %zu: bad entry %#llx", i,
				 (unsigned long long)s);
			return check_fail(round, "journal: %s", why);
		}
		for (uint64_t x = f; x < f + (1ull << order); x++) {
			if (!llf_persist_frame_allocated(fa, x)) {
				snprintf(why, sizeof(why), "frame %llu (block %llu order %u)",
					 (unsigned long long)x, (unsigned long long)f, order);
				return check_fail(round, "journaled but free: %s", why);
			}
			if (owned[x / 8] & (1u << (x % 8))) {
				snprintf(why, sizeof(why), "frame %llu", (unsigned long long)x);
				return check_fail(round, "owned twice: %s", why);
			}
			owned[x / 8] |= (uint8_t)(1u << (x % 8));
		}
		n += 1ull << order;
	}
	*journaled_frames = n;
	for (size_t i = 0; i < slots; i++) {
		uint64_t s = as_atomic_load_acquire(&jr->slot[i]);
		if (!s)
			continue;
		frame_err_t e = llfree_ops.put(fa, 0, s >> 5, (unsigned)(s >> 1) & 15);
		if (e != FRAME_OK) {
			snprintf(why, sizeof(why), "block %llu order %u: %s",
				 (unsigned long long)(s >> 5), (unsigned)(s >> 1) & 15,
				 frame_strerror(e));
			return check_fail(round, "put of a journaled block failed: %s", why);
		}
		as_atomic_store_release(&jr->slot[i], 0);
	}
	if (!llfree_ops.validate(fa, why, sizeof(why)))
		return check_fail(round, "validate after freeing the journal: %s", why);
	return 0;
}

static void sleep_ms(double ms)
{
	struct timespec ts = { .tv_sec = (time_t)(ms / 1000),
			       .tv_nsec = (long)((ms - (double)(time_t)(ms / 1000) * 1000) * 1e6) };
	nanosleep(&ts, NULL);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "kills", required_argument, NULL, 'k' },   { "threads", required_argument, NULL, 't' },
		{ "gib", required_argument, NULL, 'g' },     { "seed", required_argument, NULL, 's' },
		{ "max-ms", required_argument, NULL, 'm' },  { "dir", required_argument, NULL, 'd' },
		{ "keep", no_argument, NULL, 'K' },          { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'k': opt.kills = (unsigned)parse_u("--kills", optarg, 1, 1000000); break;
		case 't': opt.threads = (unsigned)parse_u("--threads", optarg, 1, CT_MAX_THREADS); break;
		case 's': opt.seed = parse_u("--seed", optarg, 0, UINT64_MAX); break;
		case 'm': opt.max_ms = (unsigned)parse_u("--max-ms", optarg, 0, 60000); break;
		case 'd': opt.dir = optarg; break;
		case 'K': opt.keep = true; break;
		case 'h': usage(stdout); return 0;
		case 'g': {
			char *end;
			opt.gib = strtod(optarg, &end);
			if (end == optarg || *end || !(opt.gib > 0) || opt.gib > 1024) {
				fprintf(stderr, "llfree-crash-test: --gib: '%s' is not a size in (0, 1024]\n",
					optarg);
				return 2;
			}
			break;
		}
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "llfree-crash-test: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	uint64_t frames = (uint64_t)(opt.gib * (1u << 30) / FRAME_SIZE);
	frames = frames / FRAME_ALIGN_FRAMES * FRAME_ALIGN_FRAMES;
	if (frames == 0) {
		fprintf(stderr, "llfree-crash-test: --gib: at least 4 MiB\n");
		return 2;
	}
	char tmpl[] = "/tmp/llfree-crash-XXXXXX", dir[4096], region[4200], jpath[4200];
	if (opt.dir) {
		snprintf(dir, sizeof(dir), "%s", opt.dir);
	} else {
		if (!mkdtemp(tmpl)) {
			perror("llfree-crash-test: mkdtemp");
			return 1;
		}
		snprintf(dir, sizeof(dir), "%s", tmpl);
	}
	snprintf(region, sizeof(region), "%s/llfree.region", dir);
	snprintf(jpath, sizeof(jpath), "%s/llfree.journal", dir);
	unlink(region);
	size_t jbytes = sizeof(ct_journal_t) + (size_t)opt.threads * CT_SLOTS * sizeof(uint64_t);
	int jfd = open(jpath, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (jfd < 0 || ftruncate(jfd, (off_t)jbytes) < 0) {
		fprintf(stderr, "llfree-crash-test: journal %s: %s\n", jpath, strerror(errno));
		return 1;
	}
	jr = mmap(NULL, jbytes, PROT_READ | PROT_WRITE, MAP_SHARED, jfd, 0);
	close(jfd);
	if (jr == MAP_FAILED) {
		perror("llfree-crash-test: mmap journal");
		return 1;
	}
	jr->magic = CT_JOURNAL_MAGIC;
	uint8_t *owned = calloc((frames + 7) / 8, 1);
	if (!owned)
		return 1;
	as_rng_t rng;
	as_rng_seed(&rng, opt.seed, 0);
	char err[256];
	int rc = 0;
	unsigned crashed_opens = 0, resets = 0;
	uint64_t rec_ns_sum = 0, rec_ns_max = 0, ops_total = 0, journaled_max = 0;
	uint64_t leak_prev = 0, leak_round_max = 0;
	for (unsigned round = 0; round <= opt.kills && rc == 0; round++) {
		llf_persist_info_t info;
		// Round 0 creates the file; later rounds recover it after the kill.
		frame_alloc_t *fa = llf_persist_open(region, frames, opt.threads, NULL, false, &info,
						     err, sizeof(err));
		if (!fa) {
			fprintf(stderr, "llfree-crash-test: open: %s\n", err);
			rc = 1;
			break;
		}
		if (round > 0) {
			if (!info.was_crashed) {
				rc = check_fail(round, "%s", "region not marked crashed after a kill");
				llf_persist_close(fa);
				break;
			}
			crashed_opens++;
			rec_ns_sum += info.recover_ns;
			if (info.recover_ns > rec_ns_max)
				rec_ns_max = info.recover_ns;
		}
		uint64_t jf = 0;
		if ((rc = verify(round, fa, frames, owned, &jf)) != 0) {
			llf_persist_close(fa);
			break;
		}
		if (jf > journaled_max)
			journaled_max = jf;
		frame_stats_t st;
		llfree_ops.stats(fa, &st);
		uint64_t leak = frames - st.free_frames;
		// Frames allocated but unjournaled: only in-flight operations
		// (at most one block, <= 1024 frames, per thread) leak per kill.
		if (leak > leak_prev && leak - leak_prev > (uint64_t)opt.threads * 1024) {
			char d[96];
			snprintf(d, sizeof(d), "%llu frames (bound %u)",
				 (unsigned long long)(leak - leak_prev), opt.threads * 1024);
			rc = check_fail(round, "leaked by one kill: %s", d);
			llf_persist_close(fa);
			break;
		}
		if (leak > leak_prev && leak - leak_prev > leak_round_max)
			leak_round_max = leak - leak_prev;
		leak_prev = leak;
		llf_persist_close(fa);
		if (leak > frames / 8) { // start over on a fresh file
			unlink(region);
			leak_prev = 0;
			resets++;
			fa = llf_persist_open(region, frames, opt.threads, NULL, false, &info, err,
					      sizeof(err));
			if (!fa) {
				fprintf(stderr, "llfree-crash-test: recreate: %s\n", err);
				rc = 1;
				break;
			}
			llf_persist_close(fa);
		}
		if (round == opt.kills)
			break;
		as_atomic_store_release(&jr->started, 0);
		for (unsigned t = 0; t < opt.threads; t++)
			as_atomic_store_release(&jr->ops[t], 0);
		pid_t pid = fork();
		if (pid < 0) {
			perror("llfree-crash-test: fork");
			rc = 1;
			break;
		}
		if (pid == 0)
			child_main(region);
		// Wait until every thread storms (at most 10 s), then a random time.
		for (int w = 0; w < 10000 && as_atomic_load_acquire(&jr->started) < opt.threads; w++)
			sleep_ms(1);
		sleep_ms(opt.max_ms ? (double)as_rng_below(&rng, (uint64_t)opt.max_ms * 1000) / 1000.0
				    : 0.0);
		kill(pid, SIGKILL);
		int ws;
		while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
			;
		if (!WIFSIGNALED(ws) || WTERMSIG(ws) != SIGKILL) {
			char d[64];
			snprintf(d, sizeof(d), "%d", WIFEXITED(ws) ? WEXITSTATUS(ws) : -1);
			rc = check_fail(round, "storm child ended by itself, exit status %s", d);
			break;
		}
		for (unsigned t = 0; t < opt.threads; t++)
			ops_total += as_atomic_load_acquire(&jr->ops[t]);
	}
	double gib = (double)frames * FRAME_SIZE / (double)(1u << 30);
	if (rc == 0)
		printf("llfree-crash-test: %u kills survived, %u threads, %.3f GiB (%llu frames), "
		       "%llu storm ops, max journaled %llu frames, max leak per kill %llu frames, "
		       "%u resets; deep recovery mean %.1f us, max %.1f us, %.1f us per GiB\n",
		       crashed_opens, opt.threads, gib, (unsigned long long)frames,
		       (unsigned long long)ops_total, (unsigned long long)journaled_max,
		       (unsigned long long)leak_round_max, resets,
		       crashed_opens ? (double)rec_ns_sum / crashed_opens / 1e3 : 0.0,
		       (double)rec_ns_max / 1e3,
		       crashed_opens ? (double)rec_ns_sum / crashed_opens / 1e3 / gib : 0.0);
	free(owned);
	munmap(jr, jbytes);
	if (!opt.keep) {
		unlink(region);
		unlink(jpath);
		if (!opt.dir)
			rmdir(dir);
	}
	return rc;
}
