// SPDX-License-Identifier: MIT
// The probe (see probe.h): command line, threads and pinning, latency
// histograms, live-bytes and RSS timeline, result output.
#include "probe.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "as/atomic.h"
#include "as/err.h"
#include "as/kv.h"
#include "as/meta.h"

#define MAX_PARAMS 64
#define MAX_PINS 1024
#define MAX_SLOTS 65536
#define TIMELINE_CAP (1u << 18)

__thread as_probe_tls_t as_probe_tls;

typedef struct param_s {
	const char *name;
	const char *value;
} param_t;

typedef struct sample_s {
	uint64_t t_ns;
	int64_t rss;
	int64_t live;
} sample_t;

static struct {
	const as_workload_desc_t *wl;
	param_t params[MAX_PARAMS];
	unsigned nparams;
	unsigned threads;
	uint64_t seed;
	int pins[MAX_PINS];
	int nodes[MAX_PINS];
	unsigned npins;
	unsigned nnodes;
	uint32_t sample_mask;
	unsigned timeline_ms;
	const char *alloc;
	int out_fd;
	uint64_t t0_ns;
	const char *lat_names[AS_LAT_CHANNELS];
	unsigned lat_channels;
	void (*set_node)(int);

	pthread_mutex_t lock; // guards merged[], placement[] and slot allocation
	as_hist_t *merged[AS_LAT_CHANNELS];
	int placement[MAX_PINS];
	unsigned placed;
	_Atomic int64_t *live_slots; // MAX_SLOTS, one cache line apart would be
				     // 4 MiB; 8 B apart is fine: owners write
				     // rarely relative to work, and sums are relaxed
	_Atomic unsigned nslots;
	_Atomic bool live_used;

	sample_t *timeline;
	unsigned nsamples;
	unsigned timeline_stride; // keep every stride-th tick after compaction
	unsigned tick;
	pthread_t sampler;
	bool sampler_running;
	_Atomic bool sampler_stop;
	int statm_fd;
	double lat_overhead_ns;
	double lat_sample_cost_ns;

	char obuf[65536];
	size_t olen;
} P = {
	.threads = 1,
	.seed = 42,
	.sample_mask = 15,
	.timeline_ms = 10,
	.out_fd = STDOUT_FILENO,
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.statm_fd = -1,
	.timeline_stride = 1,
};

static __thread int thread_node;

// ---------------------------------------------------------------------------
// Output

static void out_flush(void)
{
	size_t off = 0;
	while (off < P.olen) {
		ssize_t w = write(P.out_fd, P.obuf + off, P.olen - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	P.olen = 0;
}

static void out_line(const char *fmt, ...) AS_PRINTF(1, 2);
static void out_line(const char *fmt, ...)
{
	char line[4096];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	if (P.olen + (size_t)n > sizeof(P.obuf))
		out_flush();
	memcpy(P.obuf + P.olen, line, (size_t)n);
	P.olen += (size_t)n;
}

void as_probe_metric(const char *name, double value)
{
	if (!isfinite(value))
		out_line("metric %s null", name);
	else
		out_line("metric %s %.17g", name, value);
}

void as_probe_metric_null(const char *name, const char *reason)
{
	out_line("metric %s null", name);
	out_line("info unsupported.%s %s", name, reason);
}

void as_probe_series(const char *name, const double *values, unsigned n)
{
	char line[4000];
	size_t used = 0;
	// Long series are split over several lines; the runner concatenates.
	for (unsigned i = 0; i < n; i++) {
		if (used > sizeof(line) - 64) {
			out_line("series %s%s", name, line);
			used = 0;
		}
		int w = snprintf(line + used, sizeof(line) - used, " %.9g", values[i]);
		used += (size_t)w;
	}
	if (used || n == 0)
		out_line("series %s%s", name, used ? line : "");
}

void as_probe_info(const char *key, const char *fmt, ...)
{
	char val[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(val, sizeof(val), fmt, ap);
	va_end(ap);
	for (char *c = val; *c; c++)
		if (*c == '\n')
			*c = ' ';
	out_line("info %s %s", key, val);
}

void as_probe_fail(const char *fmt, ...)
{
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	for (char *c = msg; *c; c++)
		if (*c == '\n')
			*c = ' ';
	out_line("status error %s", msg);
	out_flush();
	as_warn("%s", msg);
	_exit(1);
}

// ---------------------------------------------------------------------------
// Command line

static void usage(FILE *f, const char *prog, const as_workload_desc_t *wls)
{
	fprintf(f,
		"usage: %s [--workload NAME] [--threads N] [--seed S] [--param k=v]... [k=v]...\n"
		"          [--pin PU,PU,...] [--nodes N,N,...] [--sample N] [--timeline-ms M]\n"
		"          [--alloc NAME] [--out FILE] [--describe] [--help]\n"
		"An allocscope workload: run by `allocscope run`, or by hand. Writes metric\n"
		"lines (see harness/probe/probe.h) to --out or standard output.\n\nWorkloads:\n",
		prog);
	for (const as_workload_desc_t *w = wls; w->name; w++) {
		fprintf(f, "  %-20s %s\n", w->name, w->summary);
		for (const as_param_desc_t *p = w->params; p && p->name; p++)
			fprintf(f, "      %-16s default %-10s %s\n", p->name, p->def, p->help);
	}
}

static void describe(const as_workload_desc_t *wls)
{
	for (const as_workload_desc_t *w = wls; w->name; w++) {
		printf("workload %s %s %s\n", w->name, w->kind, w->summary);
		for (const as_param_desc_t *p = w->params; p && p->name; p++)
			printf("param %s %s %s\n", p->name, p->def, p->help);
	}
}

static unsigned parse_list(const char *opt, const char *s, int *out, unsigned cap)
{
	unsigned n = 0;
	const char *p = s;
	while (*p) {
		char *end;
		errno = 0;
		long v = strtol(p, &end, 10);
		if (end == p || errno || v < 0 || v > 1000000 || (*end && *end != ','))
			as_die(2, "%s: '%s' is not a comma-separated list of non-negative integers", opt, s);
		if (n == cap)
			as_die(2, "%s: more than %u entries", opt, cap);
		out[n++] = (int)v;
		p = *end ? end + 1 : end;
	}
	return n;
}

static const as_param_desc_t *param_desc(const char *name)
{
	for (const as_param_desc_t *p = P.wl->params; p && p->name; p++)
		if (strcmp(p->name, name) == 0)
			return p;
	return NULL;
}

static void add_param(const char *kv)
{
	const char *eq = strchr(kv, '=');
	if (!eq || eq == kv)
		as_die(2, "--param: '%s' is not of the form key=value", kv);
	if (P.nparams == MAX_PARAMS)
		as_die(2, "--param: more than %d parameters", MAX_PARAMS);
	size_t klen = (size_t)(eq - kv);
	char *key = strndup(kv, klen);
	if (!key)
		as_die(1, "out of memory");
	// A later value for the same key overrides an earlier one.
	for (unsigned i = 0; i < P.nparams; i++)
		if (strcmp(P.params[i].name, key) == 0) {
			P.params[i].value = eq + 1;
			free(key);
			return;
		}
	P.params[P.nparams].name = key;
	P.params[P.nparams].value = eq + 1;
	P.nparams++;
}

static uint64_t parse_count(const char *opt, const char *v, uint64_t lo, uint64_t hi)
{
	uint64_t x;
	if (!as_parse_u64(v, &x))
		as_die(2, "%s: '%s' is not an unsigned integer", opt, v);
	if (x < lo || x > hi)
		as_die(2, "%s: %s is out of range [%llu, %llu]", opt, v, (unsigned long long)lo,
		       (unsigned long long)hi);
	return x;
}

static void measure_overhead(void);
static void start_sampler(void);

const as_workload_desc_t *as_probe_init(int argc, char **argv,
					const as_workload_desc_t *workloads)
{
	const char *prog = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
	const char *wl_name = NULL;
	const char *out = NULL;
	const char *pending[MAX_PARAMS];
	unsigned npending = 0;
	as_err_set_prog(prog);

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = (i + 1 < argc) ? argv[i + 1] : NULL;
		char optbuf[64];
		const char *eqv = a[0] == '-' && a[1] == '-' ? strchr(a, '=') : NULL;
		if (eqv) { // --option=value
			size_t n = (size_t)(eqv - a);
			if (n >= sizeof(optbuf))
				as_die(2, "%s: unknown option (try --help)", a);
			memcpy(optbuf, a, n);
			optbuf[n] = '\0';
			a = optbuf;
			v = eqv + 1;
			i--; // the value is inside this argument, not the next
		}
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout, prog, workloads);
			exit(0);
		} else if (!strcmp(a, "--describe")) {
			describe(workloads);
			exit(0);
		} else if (a[0] != '-' && strchr(a, '=')) {
			if (npending == MAX_PARAMS)
				as_die(2, "more than %d parameters", MAX_PARAMS);
			pending[npending++] = a;
			continue;
		} else if (a[0] != '-' || !v) {
			as_die(2, "%s: %s (try --help)", a,
			       a[0] == '-' ? "option needs a value" : "unexpected argument");
		}
		i++;
		if (!strcmp(a, "--workload"))
			wl_name = v;
		else if (!strcmp(a, "--threads"))
			P.threads = (unsigned)parse_count(a, v, 1, 4096);
		else if (!strcmp(a, "--seed"))
			P.seed = parse_count(a, v, 0, UINT64_MAX);
		else if (!strcmp(a, "--param")) {
			if (npending == MAX_PARAMS)
				as_die(2, "more than %d parameters", MAX_PARAMS);
			pending[npending++] = v;
		} else if (!strcmp(a, "--pin"))
			P.npins = parse_list(a, v, P.pins, MAX_PINS);
		else if (!strcmp(a, "--nodes"))
			P.nnodes = parse_list(a, v, P.nodes, MAX_PINS);
		else if (!strcmp(a, "--sample")) {
			uint64_t n = parse_count(a, v, 1, 1u << 30);
			if (!as_is_pow2(n))
				as_die(2, "--sample: %s is not a power of two", v);
			P.sample_mask = (uint32_t)(n - 1);
		} else if (!strcmp(a, "--timeline-ms"))
			P.timeline_ms = (unsigned)parse_count(a, v, 0, 60000);
		else if (!strcmp(a, "--alloc"))
			P.alloc = v;
		else if (!strcmp(a, "--out"))
			out = v;
		else
			as_die(2, "unknown option '%s' (try --help)", a);
	}

	if (!wl_name) {
		if (workloads[0].name && !workloads[1].name)
			P.wl = &workloads[0];
		else
			as_die(2, "--workload is required (try --describe)");
	} else {
		for (const as_workload_desc_t *w = workloads; w->name; w++)
			if (!strcmp(w->name, wl_name))
				P.wl = w;
		if (!P.wl)
			as_die(2, "--workload: unknown workload '%s' (try --describe)", wl_name);
	}
	for (unsigned i = 0; i < npending; i++)
		add_param(pending[i]);
	for (unsigned i = 0; i < P.nparams; i++)
		if (!param_desc(P.params[i].name))
			as_die(2, "unknown parameter '%s' for workload '%s' (try --describe)",
			       P.params[i].name, P.wl->name);
	if (P.nnodes && P.nnodes != P.npins)
		as_die(2, "--nodes has %u entries but --pin has %u", P.nnodes, P.npins);

	if (out) {
		P.out_fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (P.out_fd < 0)
			as_die(2, "--out: cannot open '%s': %s", out, strerror(errno));
	}

	as_clock_init();
	P.t0_ns = as_now_ns();
	P.set_node = (void (*)(int))dlsym(RTLD_DEFAULT, "allocscope_set_thread_node");
	P.live_slots = as_meta_alloc(sizeof(*P.live_slots) * MAX_SLOTS, 64);
	if (!P.live_slots)
		as_die(1, "cannot map the live-bytes table: %s", strerror(errno));
	P.lat_names[0] = "lat";
	P.lat_channels = 1;
	out_line("info workload %s", P.wl->name);
	out_line("info clock %s", as_clock_source());
	measure_overhead();
	start_sampler();
	as_probe_thread_setup(0);
	return P.wl;
}

unsigned as_probe_threads(void) { return P.threads; }
uint64_t as_probe_seed(void) { return P.seed; }
const char *as_probe_alloc(void) { return P.alloc; }

const char *as_param_str(const char *name)
{
	for (unsigned i = 0; i < P.nparams; i++)
		if (!strcmp(P.params[i].name, name))
			return P.params[i].value;
	const as_param_desc_t *d = param_desc(name);
	if (!d)
		as_die(2, "workload '%s' has no parameter '%s' (a bug in the workload)",
		       P.wl->name, name);
	return d->def;
}

uint64_t as_param_u64(const char *name)
{
	const char *v = as_param_str(name);
	uint64_t x;
	if (!as_parse_u64(v, &x))
		as_die(2, "parameter %s: '%s' is not an unsigned integer", name, v);
	return x;
}

uint64_t as_param_u64_range(const char *name, uint64_t lo, uint64_t hi)
{
	uint64_t x = as_param_u64(name);
	if (x < lo || x > hi)
		as_die(2, "parameter %s=%llu is out of range [%llu, %llu]", name,
		       (unsigned long long)x, (unsigned long long)lo, (unsigned long long)hi);
	return x;
}

double as_param_f64(const char *name)
{
	const char *v = as_param_str(name);
	char *end;
	errno = 0;
	double x = strtod(v, &end);
	if (end == v || *end || errno || !isfinite(x))
		as_die(2, "parameter %s: '%s' is not a number", name, v);
	return x;
}

// ---------------------------------------------------------------------------
// Threads

void as_probe_lat_channel(unsigned ch, const char *name)
{
	if (ch == 0 || ch >= AS_LAT_CHANNELS)
		as_die(1, "latency channel %u out of range 1..%d", ch, AS_LAT_CHANNELS - 1);
	P.lat_names[ch] = name;
	if (ch + 1 > P.lat_channels)
		P.lat_channels = ch + 1;
	// The calling (main) thread was set up before channels were named.
	if (!as_probe_tls.hist[ch]) {
		as_probe_tls.hist[ch] = as_meta_alloc(sizeof(as_hist_t), 64);
		if (!as_probe_tls.hist[ch])
			as_die(1, "cannot map a histogram");
		as_hist_reset(as_probe_tls.hist[ch]);
	}
}

void as_probe_thread_setup(unsigned tid)
{
	thread_node = 0;
	if (P.npins) {
		unsigned slot = tid % P.npins;
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET((size_t)P.pins[slot], &set);
		if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set) != 0)
			as_die(1, "cannot pin thread %u to PU %d: %s", tid, P.pins[slot],
			       strerror(errno));
		if (P.nnodes)
			thread_node = P.nodes[slot];
	}
	if (P.set_node)
		P.set_node(thread_node);
	for (unsigned c = 0; c < P.lat_channels; c++) {
		if (as_probe_tls.hist[c])
			continue;
		as_probe_tls.hist[c] = as_meta_alloc(sizeof(as_hist_t), 64);
		if (!as_probe_tls.hist[c])
			as_die(1, "cannot map a histogram: %s", strerror(errno));
		as_hist_reset(as_probe_tls.hist[c]);
	}
	as_probe_tls.mask = P.sample_mask;
	as_probe_tls.ctr = 0;
	if (!as_probe_tls.live) {
		unsigned s = as_atomic_fetch_add_relaxed(&P.nslots, 1); // only an index
		if (s >= MAX_SLOTS)
			as_die(1, "more than %d threads registered with the probe", MAX_SLOTS);
		as_probe_tls.live = &P.live_slots[s];
	}
	pthread_mutex_lock(&P.lock);
	if (tid < MAX_PINS) {
		P.placement[tid] = sched_getcpu();
		if (tid + 1 > P.placed)
			P.placed = tid + 1;
	}
	pthread_mutex_unlock(&P.lock);
}

int as_probe_thread_node(void)
{
	return thread_node;
}

void as_probe_thread_done(void)
{
	pthread_mutex_lock(&P.lock);
	for (unsigned c = 0; c < AS_LAT_CHANNELS; c++) {
		as_hist_t *h = as_probe_tls.hist[c];
		if (!h)
			continue;
		if (!P.merged[c]) {
			P.merged[c] = as_meta_alloc(sizeof(as_hist_t), 64);
			if (!P.merged[c])
				as_die(1, "cannot map a histogram");
			as_hist_reset(P.merged[c]);
		}
		as_hist_merge(P.merged[c], h);
		as_meta_free(h, sizeof(*h), 64);
		as_probe_tls.hist[c] = NULL;
	}
	pthread_mutex_unlock(&P.lock);
	// The live slot stays: what this thread holds may be freed by others,
	// and the sum over all slots stays right.
}

typedef struct thread_arg_s {
	unsigned tid;
	void (*fn)(unsigned, void *);
	void *arg;
} thread_arg_t;

static void *thread_main(void *p)
{
	thread_arg_t *ta = p;
	as_probe_thread_setup(ta->tid);
	ta->fn(ta->tid, ta->arg);
	as_probe_thread_done();
	return NULL;
}

void as_probe_run_threads(unsigned n, void (*fn)(unsigned tid, void *arg), void *arg)
{
	pthread_t *th = as_meta_alloc(sizeof(*th) * n, 64);
	thread_arg_t *ta = as_meta_alloc(sizeof(*ta) * n, 64);
	if (!th || !ta)
		as_die(1, "cannot map thread tables");
	for (unsigned i = 0; i < n; i++) {
		ta[i] = (thread_arg_t){ .tid = i, .fn = fn, .arg = arg };
		int e = pthread_create(&th[i], NULL, thread_main, &ta[i]);
		if (e)
			as_die(1, "cannot start thread %u: %s", i, strerror(e));
	}
	for (unsigned i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	as_meta_free(th, sizeof(*th) * n, 64);
	as_meta_free(ta, sizeof(*ta) * n, 64);
}

void as_barrier_init(as_barrier_t *b, unsigned n)
{
	as_atomic_store_relaxed(&b->count, 0); // init before any waiter exists
	as_atomic_store_relaxed(&b->generation, 0);
	b->n = n;
}

void as_barrier_wait(as_barrier_t *b)
{
	unsigned gen = as_atomic_load_acquire(&b->generation);
	if (as_atomic_fetch_add_acq_rel(&b->count, 1) + 1 == b->n) {
		as_atomic_store_relaxed(&b->count, 0); // ordered by the release below
		as_atomic_store_release(&b->generation, gen + 1);
		return;
	}
	unsigned spins = 0;
	while (as_atomic_load_acquire(&b->generation) == gen) {
		if (++spins < 1000)
			as_cpu_relax();
		else
			sched_yield();
	}
}

// ---------------------------------------------------------------------------
// Latency overhead, measured once at start and reported beside every
// latency result:
//   lat_overhead_ns     bias inside each sample: the median value an empty
//                       begin/end interval reads (what every sample includes)
//   lat_sample_cost_ns  wall time one sampled begin/end + histogram insert
//                       adds to the run (divide by --sample for the per-op
//                       cost at that rate)

static void measure_overhead(void)
{
	as_hist_t *h = as_meta_alloc(sizeof(*h), 64);
	if (!h)
		return;
	as_hist_reset(h);
	enum { N = 20000 };
	uint64_t t0 = as_now_ns();
	for (int i = 0; i < N; i++) {
		uint64_t c = as_cycles();
		as_hist_add(h, as_cycles() - c);
	}
	uint64_t t1 = as_now_ns();
	P.lat_sample_cost_ns = (double)(t1 - t0) / N;
	P.lat_overhead_ns = as_hist_quantile(h, 0.5) / as_clock_cycles_per_ns();
	as_meta_free(h, sizeof(*h), 64);
}

// ---------------------------------------------------------------------------
// Timeline sampler: reads RSS from /proc/self/statm and sums live slots,
// without allocating. When the buffer fills, every other sample is dropped
// and the period doubles, so a long run keeps an even, bounded timeline.

static int64_t read_rss(void)
{
	char buf[128];
	if (P.statm_fd < 0)
		return -1;
	ssize_t n = pread(P.statm_fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	char *sp = strchr(buf, ' ');
	if (!sp)
		return -1;
	long long pages = strtoll(sp + 1, NULL, 10);
	return pages * (int64_t)sysconf(_SC_PAGESIZE);
}

static int64_t live_sum(void)
{
	unsigned n = as_atomic_load_acquire(&P.nslots);
	int64_t s = 0;
	for (unsigned i = 0; i < n && i < MAX_SLOTS; i++)
		s += as_atomic_load_relaxed(&P.live_slots[i]); // snapshot
	return s;
}

void as_probe_sample_now(void)
{
	if (!P.timeline)
		return;
	pthread_mutex_lock(&P.lock);
	if (P.nsamples == TIMELINE_CAP) {
		for (unsigned i = 0; i < TIMELINE_CAP / 2; i++)
			P.timeline[i] = P.timeline[2 * i];
		P.nsamples = TIMELINE_CAP / 2;
		P.timeline_stride *= 2;
	}
	int64_t live = live_sum();
	if (live != 0)
		as_atomic_store_relaxed(&P.live_used, true); // read after join
	P.timeline[P.nsamples++] = (sample_t){ as_now_ns(), read_rss(), live };
	pthread_mutex_unlock(&P.lock);
}

static void *sampler_main(void *arg)
{
	(void)arg;
	struct timespec next;
	clock_gettime(CLOCK_MONOTONIC, &next);
	while (!as_atomic_load_acquire(&P.sampler_stop)) {
		next.tv_nsec += (long)P.timeline_ms * 1000000L;
		while (next.tv_nsec >= 1000000000L) {
			next.tv_nsec -= 1000000000L;
			next.tv_sec++;
		}
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
		if (++P.tick % P.timeline_stride == 0)
			as_probe_sample_now();
	}
	return NULL;
}

static void start_sampler(void)
{
	if (P.timeline_ms == 0)
		return;
	P.statm_fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
	P.timeline = as_meta_alloc(sizeof(sample_t) * TIMELINE_CAP, 64);
	if (!P.timeline)
		as_die(1, "cannot map the timeline buffer");
	as_probe_sample_now();
	if (pthread_create(&P.sampler, NULL, sampler_main, NULL) != 0)
		as_die(1, "cannot start the sampler thread");
	P.sampler_running = true;
}

// ---------------------------------------------------------------------------
// Finish

static void emit_hist(unsigned ch)
{
	as_hist_t *h = P.merged[ch];
	as_hist_summary_t s;
	char pfx[64];
	if (!h || h->count == 0)
		return;
	as_hist_summarize(h, 1.0 / as_clock_cycles_per_ns(), &s);
	if (ch == 0)
		snprintf(pfx, sizeof(pfx), "lat");
	else
		snprintf(pfx, sizeof(pfx), "%s_lat", P.lat_names[ch] ? P.lat_names[ch] : "ch");
	char name[96];
#define EMIT(suffix, v)                                            \
	do {                                                       \
		snprintf(name, sizeof(name), "%s_%s", pfx, suffix); \
		as_probe_metric(name, v);                          \
	} while (0)
	EMIT("mean_ns", s.mean);
	EMIT("stddev_ns", s.stddev);
	EMIT("p50_ns", s.p50);
	EMIT("p90_ns", s.p90);
	EMIT("p99_ns", s.p99);
	EMIT("p999_ns", s.p999);
	EMIT("max_ns", s.max);
	EMIT("samples", (double)s.count);
#undef EMIT
}

static void emit_timeline(void)
{
	if (!P.timeline || P.nsamples == 0)
		return;
	bool live = as_atomic_load_relaxed(&P.live_used); // sampler joined
	int64_t rss_peak = -1;
	int64_t live_peak = 0;
	unsigned peak_i = 0;
	double frag_sum = 0;
	unsigned frag_n = 0;
	for (unsigned i = 0; i < P.nsamples; i++) {
		sample_t *s = &P.timeline[i];
		out_line("timeline %.3f %lld %lld", (double)(s->t_ns - P.t0_ns) / 1e6,
			 (long long)s->rss, live ? (long long)s->live : -1LL);
		if (s->rss > rss_peak)
			rss_peak = s->rss;
		if (s->live > live_peak)
			live_peak = s->live;
		if (live && s->live > 0 && s->rss > 0) {
			frag_sum += 1.0 - (double)s->live / (double)s->rss;
			frag_n++;
		}
	}
	if (rss_peak > 0)
		as_probe_metric("rss_peak_sampled_bytes", (double)rss_peak);
	if (!live)
		return;
	// frag_peak is read at the RSS peak while the workload held memory: the
	// earliest sample with live bytes whose RSS is within 1% of the highest
	// such RSS. Without that, an allocator that keeps its pages scores ~1.0
	// from a teardown sample (live nearly 0, RSS a page above the plateau).
	int64_t live_rss_peak = 0;
	for (unsigned i = 0; i < P.nsamples; i++)
		if (P.timeline[i].live > 0 && P.timeline[i].rss > live_rss_peak)
			live_rss_peak = P.timeline[i].rss;
	for (unsigned i = 0; i < P.nsamples; i++)
		if (P.timeline[i].live > 0 && P.timeline[i].rss >= live_rss_peak - live_rss_peak / 100) {
			peak_i = i;
			break;
		}
	as_probe_metric("live_peak_bytes", (double)live_peak);
	sample_t *pk = &P.timeline[peak_i];
	if (pk->rss > 0)
		as_probe_metric("frag_peak", 1.0 - (double)pk->live / (double)pk->rss);
	if (frag_n)
		as_probe_metric("frag_mean", frag_sum / frag_n);
}

static void emit_malloc_identity(void)
{
	Dl_info info;
	void *m = dlsym(RTLD_DEFAULT, "malloc");
	if (m && dladdr(m, &info) && info.dli_fname)
		out_line("info malloc_lib %s", info.dli_fname);
	else
		out_line("info malloc_lib unknown");
	uint64_t (*served)(void) = (uint64_t(*)(void))dlsym(RTLD_DEFAULT, "allocscope_malloc_served");
	if (served)
		out_line("info malloc_served %llu", (unsigned long long)served());
	// In-tree allocators add their own metrics (controller, predictor, ...).
	void (*report)(void (*)(const char *, double)) =
		(void (*)(void (*)(const char *, double)))dlsym(RTLD_DEFAULT, "allocscope_report");
	if (report)
		report(as_probe_metric);
}

void as_probe_finish(void)
{
	if (P.sampler_running) {
		as_atomic_store_release(&P.sampler_stop, true);
		pthread_join(P.sampler, NULL);
		P.sampler_running = false;
	}
	as_probe_sample_now();
	as_probe_thread_done(); // the main thread's own samples
	for (unsigned c = 0; c < P.lat_channels; c++)
		emit_hist(c);
	if (P.merged[0] && P.merged[0]->count) {
		as_probe_metric("lat_overhead_ns", P.lat_overhead_ns);
		as_probe_metric("lat_sample_cost_ns", P.lat_sample_cost_ns);
	}
	emit_timeline();
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) == 0)
		as_probe_metric("rss_peak_bytes", (double)ru.ru_maxrss * 1024.0);
	emit_malloc_identity();
	if (P.placed) {
		char line[4000];
		size_t used = 0;
		for (unsigned i = 0; i < P.placed && used < sizeof(line) - 16; i++)
			used += (size_t)snprintf(line + used, sizeof(line) - used, " %d", P.placement[i]);
		out_line("placement%s", line);
	}
	out_line("status ok");
	out_flush();
}
