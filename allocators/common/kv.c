// SPDX-License-Identifier: MIT
// "key=value,..." option strings for as/kv.h.
#include "as/kv.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "as/err.h"

bool as_parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	const char *p = s;
	if (!s || !isdigit((unsigned char)*p))
		return false;
	for (; isdigit((unsigned char)*p); p++) {
		uint64_t d = (uint64_t)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	unsigned shift = 0;
	switch (*p) {
	case 'k': case 'K': shift = 10; p++; break;
	case 'm': case 'M': shift = 20; p++; break;
	case 'g': case 'G': shift = 30; p++; break;
	default: break;
	}
	if (*p != '\0')
		return false;
	if (shift && v > (UINT64_MAX >> shift))
		return false;
	*out = v << shift;
	return true;
}

/// Find `key` in opts; on success point *val at its value and *vlen at its
/// length. Keys are separated by ',' and values follow '='.
static bool find_key(const char *opts, const char *key, const char **val,
		     size_t *vlen)
{
	size_t klen = strlen(key);
	const char *p = opts;
	while (p && *p) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		const char *eq = memchr(p, '=', len);
		size_t nlen = eq ? (size_t)(eq - p) : len;
		if (nlen == klen && strncmp(p, key, klen) == 0) {
			*val = eq ? eq + 1 : p + len;
			*vlen = eq ? len - nlen - 1 : 0;
			return true;
		}
		p = end ? end + 1 : NULL;
	}
	return false;
}

int as_kv_u64(const char *opts, const char *key, uint64_t def, uint64_t min,
	      uint64_t max, uint64_t *out, char *err, size_t errlen)
{
	const char *val;
	size_t vlen;
	char tmp[64];
	if (!opts || !find_key(opts, key, &val, &vlen)) {
		*out = def;
		return 1;
	}
	if (vlen == 0 || vlen >= sizeof(tmp)) {
		as_format(err, errlen, "option '%s' needs a value", key);
		return -1;
	}
	memcpy(tmp, val, vlen);
	tmp[vlen] = '\0';
	uint64_t v;
	if (!as_parse_u64(tmp, &v)) {
		as_format(err, errlen, "option '%s': '%s' is not an unsigned integer", key, tmp);
		return -1;
	}
	if (v < min || v > max) {
		as_format(err, errlen, "option '%s': %s is out of range [%llu, %llu]", key, tmp,
			  (unsigned long long)min, (unsigned long long)max);
		return -1;
	}
	*out = v;
	return 0;
}

int as_kv_check(const char *opts, const char *const *known, char *err,
		size_t errlen)
{
	const char *p = opts;
	while (p && *p) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		const char *eq = memchr(p, '=', len);
		size_t nlen = eq ? (size_t)(eq - p) : len;
		bool ok = false;
		for (const char *const *k = known; *k; k++)
			if (strlen(*k) == nlen && strncmp(*k, p, nlen) == 0)
				ok = true;
		if (!ok) {
			char list[256] = "";
			size_t used = 0;
			for (const char *const *k = known; *k; k++) {
				int n = snprintf(list + used, sizeof(list) - used, "%s%s",
						 k == known ? "" : ", ", *k);
				if (n < 0 || (size_t)n >= sizeof(list) - used)
					break;
				used += (size_t)n;
			}
			as_format(err, errlen, "unknown option '%.*s' (known: %s)", (int)nlen, p,
				  list[0] ? list : "none");
			return -1;
		}
		p = end ? end + 1 : NULL;
	}
	return 0;
}
