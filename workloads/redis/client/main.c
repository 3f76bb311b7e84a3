// SPDX-License-Identifier: MIT
// redis-client: the client half of the Redis workloads, a probe program.
// The harness starts redis-server (built with MALLOC=libc, preloaded with
// the allocator under test) on a free loopback port and runs this against
// it. It never starts or stops the server itself.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "as/err.h"
#include "probe.h"
#include "rclient.h"

static const as_param_desc_t ops_params[] = {
	{ "port", "0", "redis-server port on 127.0.0.1 (required)" },
	{ "clients", "50", "concurrent client connections" },
	{ "pipeline", "1", "requests in flight per connection" },
	{ "requests", "50000", "requests per command" },
	{ "keyspace", "100000", "random keys are drawn from key:0..keyspace-1" },
	{ "tests", "SET+GET+INCR+LPUSH+LRANGE_100+LPOP+SADD+HSET+ZADD", "commands, in order, joined by +" },
	{ NULL, NULL, NULL },
};
static const as_param_desc_t frag_params[] = {
	{ "port", "0", "redis-server port on 127.0.0.1 (required)" },
	{ "keys", "200000", "keys written by each fill phase" },
	{ "rounds", "3", "delete + refill rounds after the first fill" },
	{ "del_min_pct", "50", "each delete phase removes a random 50..80% of the keys" },
	{ "del_max_pct", "80", "upper bound of the delete fraction, percent" },
	{ "pipeline", "64", "requests per round trip while filling and deleting" },
	{ NULL, NULL, NULL },
};
static const as_workload_desc_t workloads[] = {
	{ "redis-ops", "client",
	  "Redis command mix (SET/GET/INCR/LPUSH/LPOP/SADD/HSET/ZADD/LRANGE_100), many clients",
	  ops_params },
	{ "redis-frag", "client",
	  "fill, delete 50-80%, refill with other sizes; used_memory and RSS after each phase",
	  frag_params },
	{ NULL, NULL, NULL, NULL },
};

int main(int argc, char **argv)
{
	const as_workload_desc_t *w = as_probe_init(argc, argv, workloads);
	unsigned port = (unsigned)as_param_u64_range("port", 1, 65535);
	if (!strcmp(w->name, "redis-ops"))
		rc_run_ops(port);
	else
		rc_run_frag(port);
	as_probe_finish();
	return 0;
}
