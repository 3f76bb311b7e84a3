// SPDX-License-Identifier: MIT
// redis-ops: a deliberate command mix, one command at a time like
// redis-benchmark (SET, GET, INCR, LPUSH, LRANGE_100, LPOP, SADD, HSET,
// ZADD by default), `clients` connections driven by one poll() loop, each
// keeping `pipeline` requests in flight. Keys are random over a keyspace
// (redis-benchmark's __rand_int__), values have several sizes (16 B to
// 4 KiB, weighted toward small). A request's latency runs from the send of
// its batch to its reply, as redis-benchmark measures it. Reports per
// command <CMD>_ops_per_s, <CMD>_lat_p50_ns/_p99_ns/_p999_ns, and the
// totals ops_per_s, lat_* over all commands.
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "as/meta.h"
#include "as/rng.h"
#include "probe.h"
#include "rclient.h"

static const unsigned value_sizes[] = { 16, 64, 256, 1024, 4096 };
static const double value_weights[] = { 0.35, 0.3, 0.2, 0.1, 0.05 };

typedef struct conn_s {
	redisContext *c;
	unsigned inflight;
	uint64_t sent_at; // cycles at the send of the current batch
} conn_t;

typedef struct mix_s {
	unsigned keyspace;
	char *value; // 4 KiB of 'x', sliced for each size
	as_rng_t rng;
} mix_t;

static unsigned pick_size(as_rng_t *r)
{
	double u = as_rng_double(r);
	for (unsigned i = 0; i < 5; i++) {
		if (u < value_weights[i])
			return value_sizes[i];
		u -= value_weights[i];
	}
	return value_sizes[4];
}

/// Append one request of `test` to the connection's output buffer.
static void append(redisContext *c, const char *test, mix_t *m)
{
	unsigned k = (unsigned)as_rng_below(&m->rng, m->keyspace);
	size_t vlen = pick_size(&m->rng);
	int rc;
	if (!strcmp(test, "SET"))
		rc = redisAppendCommand(c, "SET key:%u %b", k, m->value, vlen);
	else if (!strcmp(test, "GET"))
		rc = redisAppendCommand(c, "GET key:%u", k);
	else if (!strcmp(test, "INCR"))
		rc = redisAppendCommand(c, "INCR counter:%u", k);
	else if (!strcmp(test, "LPUSH"))
		rc = redisAppendCommand(c, "LPUSH mylist %b", m->value, vlen);
	else if (!strcmp(test, "LPOP"))
		rc = redisAppendCommand(c, "LPOP mylist");
	else if (!strcmp(test, "SADD"))
		rc = redisAppendCommand(c, "SADD myset element:%u", k);
	else if (!strcmp(test, "HSET"))
		rc = redisAppendCommand(c, "HSET myhash field:%u %b", k, m->value, vlen);
	else if (!strcmp(test, "ZADD"))
		rc = redisAppendCommand(c, "ZADD myzset %u member:%u", k, k);
	else if (!strcmp(test, "LRANGE_100"))
		rc = redisAppendCommand(c, "LRANGE mylist 0 99");
	else
		as_probe_fail("unknown test '%s'", test);
	if (rc != REDIS_OK)
		as_probe_fail("cannot build a %s request", test);
}

static void flush_out(redisContext *c)
{
	int done = 0;
	while (!done)
		if (redisBufferWrite(c, &done) != REDIS_OK)
			as_probe_fail("write to redis failed: %s", c->errstr);
}

static bool known_test(const char *t)
{
	static const char *const all[] = { "SET",  "GET",  "INCR", "LPUSH",     "LPOP",
					   "SADD", "HSET", "ZADD", "LRANGE_100" };
	for (unsigned i = 0; i < 9; i++)
		if (!strcmp(t, all[i]))
			return true;
	return false;
}

static void run_test(const char *test, conn_t *conns, unsigned nconn, unsigned pipeline,
		     uint64_t requests, mix_t *m, as_hist_t *total)
{
	as_hist_t *h = as_meta_alloc(sizeof(*h), 64);
	struct pollfd *pfd = as_meta_alloc(sizeof(*pfd) * nconn, 64);
	if (!h || !pfd)
		as_probe_fail("out of memory");
	as_hist_reset(h);
	uint64_t issued = 0, answered = 0;
	uint64_t t0 = as_now_ns();
	while (answered < requests) {
		for (unsigned i = 0; i < nconn; i++) {
			conn_t *cn = &conns[i];
			if (cn->inflight || issued >= requests)
				continue;
			unsigned n = pipeline;
			if (n > requests - issued)
				n = (unsigned)(requests - issued);
			for (unsigned j = 0; j < n; j++)
				append(cn->c, test, m);
			cn->sent_at = as_cycles();
			flush_out(cn->c);
			cn->inflight = n;
			issued += n;
		}
		unsigned np = 0;
		for (unsigned i = 0; i < nconn; i++)
			if (conns[i].inflight)
				pfd[np++] = (struct pollfd){ .fd = conns[i].c->fd, .events = POLLIN };
		if (poll(pfd, np, 60000) <= 0)
			as_probe_fail("redis did not answer %s within 60 s", test);
		for (unsigned i = 0, p = 0; i < nconn; i++) {
			conn_t *cn = &conns[i];
			if (!cn->inflight)
				continue;
			if (!(pfd[p++].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			if (redisBufferRead(cn->c) != REDIS_OK)
				as_probe_fail("read from redis failed during %s: %s", test, cn->c->errstr);
			void *reply;
			while (cn->inflight) {
				if (redisGetReplyFromReader(cn->c, &reply) != REDIS_OK)
					as_probe_fail("bad reply to %s: %s", test, cn->c->errstr);
				if (!reply)
					break;
				redisReply *r = reply;
				if (r->type == REDIS_REPLY_ERROR)
					as_probe_fail("redis error on %s: %s", test, r->str);
				freeReplyObject(r);
				uint64_t lat = as_cycles() - cn->sent_at;
				as_hist_add(h, lat);
				cn->inflight--;
				answered++;
			}
		}
	}
	double secs = (double)(as_now_ns() - t0) / 1e9;
	char name[64];
	double ns = 1.0 / as_clock_cycles_per_ns();
	snprintf(name, sizeof(name), "%s_ops_per_s", test);
	as_probe_metric(name, (double)requests / secs);
	snprintf(name, sizeof(name), "%s_lat_p50_ns", test);
	as_probe_metric(name, as_hist_quantile(h, 0.5) * ns);
	snprintf(name, sizeof(name), "%s_lat_p99_ns", test);
	as_probe_metric(name, as_hist_quantile(h, 0.99) * ns);
	snprintf(name, sizeof(name), "%s_lat_p999_ns", test);
	as_probe_metric(name, as_hist_quantile(h, 0.999) * ns);
	as_hist_merge(total, h);
	as_meta_free(h, sizeof(*h), 64);
	as_meta_free(pfd, sizeof(*pfd) * nconn, 64);
}

void rc_run_ops(unsigned port)
{
	unsigned nconn = (unsigned)as_param_u64_range("clients", 1, 1000);
	unsigned pipeline = (unsigned)as_param_u64_range("pipeline", 1, 1000);
	uint64_t requests = as_param_u64_range("requests", 1, 1ULL << 32);
	mix_t m = { .keyspace = (unsigned)as_param_u64_range("keyspace", 1, 1u << 30) };
	char *tests = strdup(as_param_str("tests"));
	if (!tests)
		as_probe_fail("out of memory");
	for (char *t = strtok(tests, "+"); t; t = strtok(NULL, "+"))
		if (!known_test(t)) {
			fprintf(stderr, "redis-client: unknown test '%s' in tests= (known, joined by +: SET GET INCR "
					"LPUSH LPOP SADD HSET ZADD LRANGE_100)\n", t);
			exit(2);
		}
	free(tests);
	tests = strdup(as_param_str("tests"));
	m.value = malloc(4096);
	conn_t *conns = calloc(nconn, sizeof(*conns));
	as_hist_t *total = as_meta_alloc(sizeof(*total), 64);
	if (!tests || !m.value || !conns || !total)
		as_probe_fail("out of memory");
	memset(m.value, 'x', 4096);
	as_hist_reset(total);
	as_rng_seed(&m.rng, as_probe_seed(), 0);
	for (unsigned i = 0; i < nconn; i++)
		conns[i].c = rc_connect(port);
	redisReply *r = redisCommand(conns[0].c, "FLUSHALL");
	if (!r || r->type == REDIS_REPLY_ERROR)
		as_probe_fail("FLUSHALL failed");
	freeReplyObject(r);

	uint64_t t0 = as_now_ns();
	uint64_t total_requests = 0;
	for (char *t = strtok(tests, "+"); t; t = strtok(NULL, "+")) {
		run_test(t, conns, nconn, pipeline, requests, &m, total);
		total_requests += requests;
	}
	double secs = (double)(as_now_ns() - t0) / 1e9;
	as_hist_summary_t s;
	as_hist_summarize(total, 1.0 / as_clock_cycles_per_ns(), &s);
	as_probe_metric("ops_per_s", (double)total_requests / secs);
	as_probe_metric("wall_s", secs);
	as_probe_metric("lat_mean_ns", s.mean);
	as_probe_metric("lat_stddev_ns", s.stddev);
	as_probe_metric("lat_p50_ns", s.p50);
	as_probe_metric("lat_p90_ns", s.p90);
	as_probe_metric("lat_p99_ns", s.p99);
	as_probe_metric("lat_p999_ns", s.p999);
	as_probe_metric("lat_max_ns", s.max);
	rc_report_server(conns[0].c);
	for (unsigned i = 0; i < nconn; i++)
		redisFree(conns[i].c);
	free(conns);
	free(m.value);
	free(tests);
}
