// SPDX-License-Identifier: MIT
// Shared helpers of the malloc microbenchmarks (see mw.h): full-block
// patterns, corruption reports, RSS reads and the throughput report.
#include "mw.h"

#include <fcntl.h>
#include <unistd.h>

#include "as/err.h"
#include "as/meta.h"

void mw_corrupt(const char *where, const void *p, size_t n, size_t off)
{
	unsigned char got = ((const unsigned char *)p)[off];
	as_probe_fail("%s: block %p of %zu bytes corrupted at offset %zu (byte 0x%02x): "
		      "the allocator handed out overlapping or damaged memory",
		      where, p, n, off, got);
}

static inline uint64_t word_at(uint64_t tag, size_t i)
{
	return tag + (uint64_t)i * 0x9e3779b97f4a7c15ULL;
}

void mw_fill(void *p, size_t n)
{
	uint64_t tag = mw_tag(p, n);
	size_t words = n / 8;
	uint64_t *w = p;
	for (size_t i = 0; i < words; i++)
		w[i] = word_at(tag, i);
	for (size_t i = words * 8; i < n; i++)
		((unsigned char *)p)[i] = (unsigned char)(tag >> (8 * (i & 7)));
}

void mw_verify(void *p, size_t n, const char *where)
{
	uint64_t tag = mw_tag(p, n);
	size_t words = n / 8;
	const uint64_t *w = p;
	for (size_t i = 0; i < words; i++)
		if (AS_UNLIKELY(w[i] != word_at(tag, i)))
			mw_corrupt(where, p, n, i * 8);
	for (size_t i = words * 8; i < n; i++)
		if (((const unsigned char *)p)[i] != (unsigned char)(tag >> (8 * (i & 7))))
			mw_corrupt(where, p, n, i);
	if (n)
		((unsigned char *)p)[0] ^= 0xff;
}

int64_t mw_rss_bytes(void)
{
	char buf[128];
	int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	char *sp = strchr(buf, ' ');
	if (!sp)
		return -1;
	return strtoll(sp + 1, NULL, 10) * (int64_t)sysconf(_SC_PAGESIZE);
}

void mw_report(uint64_t ops, uint64_t wall_ns)
{
	double s = (double)wall_ns / 1e9;
	as_probe_metric("ops", (double)ops);
	as_probe_metric("wall_s", s);
	if (s > 0)
		as_probe_metric("ops_per_s", (double)ops / s);
	else
		as_probe_metric_null("ops_per_s", "run too short to time");
}

mw_count_t *mw_counts(unsigned n)
{
	// Harness-side bookkeeping stays out of the allocator under test.
	mw_count_t *c = as_meta_alloc(sizeof(*c) * n, AS_CACHELINE);
	if (!c)
		as_die(1, "cannot map %u counters", n);
	memset(c, 0, sizeof(*c) * n);
	return c;
}

uint64_t mw_counts_sum(const mw_count_t *c, unsigned n)
{
	uint64_t s = 0;
	for (unsigned i = 0; i < n; i++)
		s += c[i].v;
	return s;
}
