// SPDX-License-Identifier: MIT
// redis-client internals: the two scenarios driven from C through hiredis
// (redis-ops: a command mix with pipelining and many clients; redis-frag:
// fill/delete/refill phases with INFO after each), and INFO helpers.
#ifndef RCLIENT_H
#define RCLIENT_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stdint.h>

/// Connect to 127.0.0.1:port (loopback only); fails the run on error.
redisContext *rc_connect(unsigned port);
/// A numeric field of INFO (e.g. "used_memory"); -1 if absent.
double rc_info_num(redisContext *c, const char *field);
/// A text field of INFO into buf; false if absent.
bool rc_info_str(redisContext *c, const char *field, char *buf, size_t len);
/// Record the server's identity and memory counters as info/metrics.
void rc_report_server(redisContext *c);

void rc_run_ops(unsigned port);
void rc_run_frag(unsigned port);

#endif
