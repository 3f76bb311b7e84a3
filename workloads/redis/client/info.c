// SPDX-License-Identifier: MIT
// Connecting and reading INFO fields.
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "probe.h"
#include "rclient.h"

redisContext *rc_connect(unsigned port)
{
	struct timeval tv = { 5, 0 };
	redisContext *c = redisConnectWithTimeout("127.0.0.1", (int)port, tv);
	if (!c)
		as_probe_fail("cannot allocate a hiredis context");
	if (c->err)
		as_probe_fail("cannot connect to redis at 127.0.0.1:%u: %s", port, c->errstr);
	tv.tv_sec = 60; // a reply slower than this is a hung server
	redisSetTimeout(c, tv);
	return c;
}

static char *info_text(redisContext *c)
{
	redisReply *r = redisCommand(c, "INFO");
	if (!r || r->type != REDIS_REPLY_STRING)
		as_probe_fail("INFO failed: %s", r ? r->str : c->errstr);
	char *s = strdup(r->str);
	freeReplyObject(r);
	if (!s)
		as_probe_fail("out of memory");
	return s;
}

bool rc_info_str(redisContext *c, const char *field, char *buf, size_t len)
{
	char *s = info_text(c);
	size_t flen = strlen(field);
	bool found = false;
	for (char *line = s; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		if (!strncmp(line, field, flen) && line[flen] == ':') {
			size_t n = strcspn(line + flen + 1, "\r\n");
			if (n >= len)
				n = len - 1;
			memcpy(buf, line + flen + 1, n);
			buf[n] = '\0';
			found = true;
			break;
		}
	}
	free(s);
	return found;
}

double rc_info_num(redisContext *c, const char *field)
{
	char buf[64];
	if (!rc_info_str(c, field, buf, sizeof(buf)))
		return -1;
	return strtod(buf, NULL);
}

void rc_report_server(redisContext *c)
{
	char buf[128];
	if (rc_info_str(c, "redis_version", buf, sizeof(buf)))
		as_probe_info("redis_version", "%s", buf);
	if (rc_info_str(c, "mem_allocator", buf, sizeof(buf)))
		as_probe_info("redis_mem_allocator", "%s", buf);
	if (rc_info_str(c, "process_id", buf, sizeof(buf)))
		as_probe_info("redis_pid", "%s", buf);
	as_probe_metric("redis_used_memory_bytes", rc_info_num(c, "used_memory"));
	as_probe_metric("redis_used_memory_rss_bytes", rc_info_num(c, "used_memory_rss"));
	as_probe_metric("redis_used_memory_peak_bytes", rc_info_num(c, "used_memory_peak"));
}
