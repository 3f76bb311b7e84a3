// SPDX-License-Identifier: MIT
// imgload: the load generator of the imgserver workload. Each of --threads
// connections is an HTTP/1.1 keep-alive client on 127.0.0.1 that requests a
// Zipf-distributed mix over images, operations, sizes and formats, for a
// set duration: closed loop (rate=0: send the next request when the answer
// is in) or open loop (rate=R requests/s in total, each connection on a
// fixed schedule; latency counted from the intended send time, so a slow
// server is not hidden by coordinated omission). Every response is checked:
// status 200, Content-Length, content type and the PNG/JPEG magic bytes.
// Reports ops_per_s (good responses per second), latency percentiles over
// every request, bytes_per_s, and fails loudly on any bad response.
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "as/atomic.h"
#include "as/err.h"
#include "as/rng.h"
#include "probe.h"

static const as_param_desc_t params[] = {
	{ "port", "0", "imgserver port on 127.0.0.1 (required)" },
	{ "duration_s", "5", "length of the measured run, seconds" },
	{ "images", "24", "image ids requested: 0..images-1 (as the server's images)" },
	{ "zipf_s", "0.99", "Zipf exponent of the image popularity" },
	{ "rate", "0", "open-loop total requests per second (0 = closed loop)" },
	{ "warmup_s", "0", "unmeasured warm-up before the run, seconds" },
	{ NULL, NULL, NULL },
};
static const as_workload_desc_t workloads[] = {
	{ "imgload", "client", "Zipf request mix against imgserver, closed or open loop", params },
	{ NULL, NULL, NULL, NULL },
};

static const char *const ops[] = { "resize", "thumb", "blur", "sharpen" };
static const double op_weight[] = { 0.5, 0.25, 0.15, 0.10 };
static const unsigned sizes[][2] = { { 320, 240 }, { 640, 480 }, { 160, 120 }, { 1024, 768 } };
static const double size_weight[] = { 0.45, 0.25, 0.2, 0.1 };

typedef struct conf_s {
	unsigned port, images;
	double *zipf_cdf;
	double duration_s, warmup_s, rate;
	unsigned threads;
	uint64_t seed;
} conf_t;

typedef struct counts_s {
	_Alignas(AS_CACHELINE) uint64_t ok; // per thread, own cache line
	uint64_t bytes;
} counts_t;

static conf_t cf;
static counts_t *counts;

static double now_s(void)
{
	return (double)as_now_ns() / 1e9;
}

static unsigned pick_cdf(as_rng_t *r, const double *cdf, unsigned n)
{
	double u = as_rng_double(r);
	unsigned lo = 0, hi = n - 1;
	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;
		if (cdf[mid] < u)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static unsigned pick_weighted(as_rng_t *r, const double *w, unsigned n)
{
	double u = as_rng_double(r);
	for (unsigned i = 0; i < n; i++) {
		if (u < w[i])
			return i;
		u -= w[i];
	}
	return n - 1;
}

static int dial(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)cf.port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK); // loopback only, always
	int one = 1;
	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

typedef struct conn_s {
	int fd;
	char *buf;
	size_t cap, len;
} conn_t;

static bool send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

/// Read more bytes into the connection buffer; false on EOF or error.
static bool fill(conn_t *c)
{
	if (c->len == c->cap) {
		size_t cap = c->cap * 2;
		char *b = realloc(c->buf, cap);
		if (!b)
			as_probe_fail("out of memory in the client");
		c->buf = b;
		c->cap = cap;
	}
	ssize_t n = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
	if (n < 0 && errno == EINTR)
		return fill(c);
	if (n <= 0)
		return false;
	c->len += (size_t)n;
	return true;
}

/// One request/response exchange. Returns the body length, or -1 when the
/// connection broke before any byte of the answer (the caller redials).
/// A malformed or wrong answer fails the run.
static long exchange(conn_t *c, const char *req, const char *fmt)
{
	if (!send_all(c->fd, req, strlen(req)))
		return -1;
	c->len = 0;
	char *end = NULL;
	while (!(end = c->len ? memmem(c->buf, c->len, "\r\n\r\n", 4) : NULL))
		if (!fill(c)) {
			if (c->len == 0)
				return -1;
			as_probe_fail("connection closed inside the response headers of %s", req);
		}
	size_t hlen = (size_t)(end - c->buf) + 4;
	unsigned status = 0;
	if (sscanf(c->buf, "HTTP/1.%*c %u", &status) != 1)
		as_probe_fail("malformed status line answering %s", req);
	long clen = -1;
	for (char *p = c->buf; p < end; p++)
		if ((p == c->buf || p[-1] == '\n') && !strncasecmp(p, "Content-Length:", 15))
			clen = strtol(p + 15, NULL, 10);
	if (clen < 0)
		as_probe_fail("no Content-Length answering %s", req);
	while (c->len < hlen + (size_t)clen)
		if (!fill(c))
			as_probe_fail("connection closed inside the body answering %s", req);
	const uint8_t *body = (const uint8_t *)c->buf + hlen;
	if (status != 200)
		as_probe_fail("status %u answering %.*s: %.*s", status, (int)strcspn(req, "\r"), req,
			      (int)(clen < 120 ? clen : 120), (const char *)body);
	bool png = clen >= 8 && !memcmp(body, "\x89PNG\r\n\x1a\n", 8);
	bool jpeg = clen >= 3 && body[0] == 0xff && body[1] == 0xd8 && body[2] == 0xff;
	if (!strcmp(fmt, "png") ? !png : !jpeg)
		as_probe_fail("answer to %.*s is not a %s image (%ld bytes)",
			      (int)strcspn(req, "\r"), req, fmt, clen);
	return clen;
}

static void client(unsigned tid, void *arg)
{
	(void)arg;
	as_rng_t r;
	as_rng_seed(&r, cf.seed, tid);
	conn_t c = { .fd = -1, .cap = 1 << 16 };
	c.buf = malloc(c.cap);
	if (!c.buf)
		as_probe_fail("out of memory in the client");
	double per_conn = cf.rate > 0 ? cf.rate / cf.threads : 0;
	double interval_ns = per_conn > 0 ? 1e9 / per_conn : 0;
	double start = now_s();
	double measure_from = start + cf.warmup_s;
	double stop = measure_from + cf.duration_s;
	uint64_t t0_ns = as_now_ns();
	uint64_t c0 = as_cycles();
	double cyc_per_ns = as_clock_cycles_per_ns();
	for (uint64_t k = 0;; k++) {
		uint64_t sched_ns = interval_ns > 0 ? t0_ns + (uint64_t)((double)k * interval_ns) : 0;
		if (sched_ns) {
			uint64_t now = as_now_ns();
			if (sched_ns > now) {
				struct timespec ts = { (time_t)((sched_ns - now) / 1000000000u),
						       (long)((sched_ns - now) % 1000000000u) };
				nanosleep(&ts, NULL);
			}
		}
		double t = now_s();
		if (t >= stop)
			break;
		unsigned id = pick_cdf(&r, cf.zipf_cdf, cf.images);
		unsigned op = pick_weighted(&r, op_weight, 4);
		unsigned sz = pick_weighted(&r, size_weight, 4);
		const char *fmt = as_rng_below(&r, 5) == 0 ? "png" : "jpeg";
		char req[256];
		snprintf(req, sizeof(req),
			 "GET /img/%u?w=%u&h=%u&op=%s&fmt=%s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", id,
			 sizes[sz][0], sizes[sz][1], ops[op], fmt);
		uint64_t begin = sched_ns ? c0 + (uint64_t)((double)(sched_ns - t0_ns) * cyc_per_ns)
					  : as_cycles();
		long n;
		for (int attempt = 0;; attempt++) {
			if (c.fd < 0 && (c.fd = dial()) < 0)
				as_probe_fail("cannot connect to 127.0.0.1:%u: %s", cf.port, strerror(errno));
			n = exchange(&c, req, fmt);
			if (n >= 0)
				break;
			close(c.fd); // the server closed an idle keep-alive connection
			c.fd = -1;
			if (attempt == 2)
				as_probe_fail("connection to 127.0.0.1:%u keeps breaking", cf.port);
		}
		uint64_t done = as_cycles();
		if (t >= measure_from) {
			as_lat_record(0, done > begin ? done - begin : 0);
			counts[tid].ok++;
			counts[tid].bytes += (uint64_t)n;
		}
	}
	if (c.fd >= 0)
		close(c.fd);
	free(c.buf);
}

int main(int argc, char **argv)
{
	as_probe_init(argc, argv, workloads);
	cf.port = (unsigned)as_param_u64_range("port", 1, 65535);
	cf.images = (unsigned)as_param_u64_range("images", 1, 1u << 20);
	cf.duration_s = as_param_f64("duration_s");
	cf.warmup_s = as_param_f64("warmup_s");
	cf.rate = as_param_f64("rate");
	double s = as_param_f64("zipf_s");
	if (cf.duration_s <= 0 || cf.duration_s > 86400)
		as_die(2, "parameter duration_s must be in (0, 86400]");
	if (cf.warmup_s < 0 || cf.rate < 0 || s < 0 || s > 10)
		as_die(2, "parameters warmup_s, rate must be >= 0 and zipf_s in [0, 10]");
	cf.threads = as_probe_threads();
	cf.seed = as_probe_seed();
	cf.zipf_cdf = malloc(sizeof(double) * cf.images);
	counts = aligned_alloc(AS_CACHELINE, cf.threads * sizeof(*counts)); // calloc is only 16-aligned
	if (!cf.zipf_cdf || !counts)
		as_die(1, "out of memory");
	memset(counts, 0, cf.threads * sizeof(*counts));
	double sum = 0;
	for (unsigned i = 0; i < cf.images; i++)
		sum += 1.0 / pow(i + 1, s);
	double acc = 0;
	for (unsigned i = 0; i < cf.images; i++) {
		acc += 1.0 / pow(i + 1, s) / sum;
		cf.zipf_cdf[i] = acc;
	}
	cf.zipf_cdf[cf.images - 1] = 1.0;

	uint64_t t0 = as_now_ns();
	as_probe_run_threads(cf.threads, client, NULL);
	double wall = (double)(as_now_ns() - t0) / 1e9;
	uint64_t ok = 0, bytes = 0;
	for (unsigned i = 0; i < cf.threads; i++) {
		ok += counts[i].ok;
		bytes += counts[i].bytes;
	}
	as_probe_metric("requests", (double)ok);
	as_probe_metric("ops_per_s", (double)ok / cf.duration_s);
	as_probe_metric("bytes_per_s", (double)bytes / cf.duration_s);
	as_probe_metric("wall_s", wall);
	as_probe_finish();
	return 0;
}
