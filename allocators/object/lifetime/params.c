// SPDX-License-Identifier: MIT
// lifetime parameters: one table of name, default and range, each
// overridable by an environment variable ALLOCSCOPE_LIFETIME_<NAME>. Parsed
// once at init, without allocating; a bad value makes init fail with the
// variable and the reason.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "as/kv.h"
#include "internal.h"

lt_params_t lt_p;

/// Parse a duration "10ms", "1s", "500us", "100ns" (no unit = ns).
static bool parse_duration(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	size_t i = 0;
	if (n == 0)
		return false;
	while (i < n && s[i] >= '0' && s[i] <= '9') {
		v = v * 10 + (uint64_t)(s[i] - '0');
		if (v > (1ULL << 40))
			return false;
		i++;
	}
	if (i == 0)
		return false;
	uint64_t mult;
	size_t rest = n - i;
	if (rest == 0 || (rest == 2 && !strncmp(s + i, "ns", 2)))
		mult = 1;
	else if (rest == 2 && !strncmp(s + i, "us", 2))
		mult = 1000;
	else if (rest == 2 && !strncmp(s + i, "ms", 2))
		mult = 1000000;
	else if (rest == 1 && s[i] == 's')
		mult = 1000000000ULL;
	else
		return false;
	*out = v * mult;
	return *out > 0;
}

/// Parse "0.9" style fractions in (0, 1].
static bool parse_fraction(const char *s, double *out)
{
	double v = 0, scale = 1;
	bool dot = false, digit = false;
	for (; *s; s++) {
		if (*s == '.' && !dot) {
			dot = true;
			continue;
		}
		if (*s < '0' || *s > '9')
			return false;
		digit = true;
		if (dot) {
			scale /= 10;
			v += (*s - '0') * scale;
		} else {
			v = v * 10 + (*s - '0');
		}
	}
	if (!digit || v <= 0 || v > 1)
		return false;
	*out = v;
	return true;
}

static bool env_u64(const char *name, uint64_t def, uint64_t lo, uint64_t hi, uint64_t *out,
		    char *err, size_t errlen)
{
	const char *v = getenv(name);
	*out = def;
	if (!v || !*v)
		return true;
	uint64_t x;
	if (!as_parse_u64(v, &x) || x < lo || x > hi) {
		snprintf(err, errlen, "%s=%s: want an integer in [%llu, %llu]", name, v,
			 (unsigned long long)lo, (unsigned long long)hi);
		return false;
	}
	*out = x;
	return true;
}

static bool env_str(const char *name, const char *def, char *out, size_t cap, char *err,
		    size_t errlen)
{
	const char *v = getenv(name);
	if (!v)
		v = def;
	if (strlen(v) >= cap) {
		snprintf(err, errlen, "%s: longer than %zu bytes", name, cap - 1);
		return false;
	}
	strcpy(out, v);
	return true;
}

static bool parse_classes(const char *v, char *err, size_t errlen)
{
	unsigned n = 0;
	const char *s = v;
	while (*s) {
		const char *e = strchr(s, ',');
		size_t len = e ? (size_t)(e - s) : strlen(s);
		uint64_t ns;
		if (n + 1 >= LT_MAX_CLASSES) {
			snprintf(err, errlen, "ALLOCSCOPE_LIFETIME_CLASSES=%s: at most %u bounds", v,
				 LT_MAX_CLASSES - 1);
			return false;
		}
		if (!parse_duration(s, len, &ns) || (n && ns <= lt_p.bound_ns[n - 1])) {
			snprintf(err, errlen,
				 "ALLOCSCOPE_LIFETIME_CLASSES=%s: want increasing durations like "
				 "10ms,100ms,1s",
				 v);
			return false;
		}
		lt_p.bound_ns[n++] = ns;
		if (!e)
			break;
		s = e + 1;
	}
	lt_p.bound_ns[n] = UINT64_MAX;
	lt_p.nclasses = n + 1;
	return true;
}

bool lt_params_load(char *err, size_t errlen)
{
	memset(&lt_p, 0, sizeof(lt_p));
	const char *pred = getenv("ALLOCSCOPE_LIFETIME_PREDICTOR");
	if (!pred || !*pred || !strcmp(pred, "online"))
		lt_p.predictor = LT_PRED_ONLINE;
	else if (!strcmp(pred, "none"))
		lt_p.predictor = LT_PRED_NONE;
	else if (!strcmp(pred, "profile"))
		lt_p.predictor = LT_PRED_PROFILE;
	else if (!strcmp(pred, "model"))
		lt_p.predictor = LT_PRED_MODEL;
	else if (!strcmp(pred, "oracle"))
		lt_p.predictor = LT_PRED_ORACLE;
	else {
		snprintf(err, errlen,
			 "ALLOCSCOPE_LIFETIME_PREDICTOR=%s: want online, profile, model, oracle or "
			 "none",
			 pred);
		return false;
	}
	const char *cl = getenv("ALLOCSCOPE_LIFETIME_CLASSES");
	if (!parse_classes(cl && *cl ? cl : "10ms,100ms,1s,10s,100s", err, errlen))
		return false;
	uint64_t q = 0;
	const char *qs = getenv("ALLOCSCOPE_LIFETIME_QUANTILE");
	lt_p.quantile = 0.9;
	if (qs && *qs && !parse_fraction(qs, &lt_p.quantile)) {
		snprintf(err, errlen, "ALLOCSCOPE_LIFETIME_QUANTILE=%s: want a fraction in (0, 1]",
			 qs);
		return false;
	}
	uint64_t recycle, share, tick, purge;
	if (!env_u64("ALLOCSCOPE_LIFETIME_SAMPLE", 256, 1, 1u << 30, &lt_p.sample_every, err, errlen) ||
	    !env_u64("ALLOCSCOPE_LIFETIME_VERIFY", 1024, 1, 1u << 30, &lt_p.verify_every, err, errlen) ||
	    !env_u64("ALLOCSCOPE_LIFETIME_MIN_SAMPLES", 4, 1, 1u << 20, &lt_p.min_samples, err, errlen) ||
	    !env_u64("ALLOCSCOPE_LIFETIME_DECAY", 4096, 16, 1u << 30, &lt_p.decay_at, err, errlen) ||
	    !env_u64("ALLOCSCOPE_LIFETIME_DEADLINE", 4, 1, 1000, &lt_p.deadline_mult, err, errlen) ||
	    !env_u64("ALLOCSCOPE_LIFETIME_KEEP_FREE", 8, 0, 1u << 16, &lt_p.keep_free, err, errlen) ||
	    !env_u64("ALLOCSCOPE_LIFETIME_RECYCLE", 1, 0, 1, &recycle, err, errlen) ||
	    !env_u64("ALLOCSCOPE_LIFETIME_SHARE", 2, 0, 2, &share, err, errlen) ||
	    !env_u64("ALLOCSCOPE_LIFETIME_TICK_US", 1000, 10, 10000000, &tick, err, errlen) ||
	    !env_u64("ALLOCSCOPE_LIFETIME_PURGE_MS", 20, 0, 1000000, &purge, err, errlen) ||
	    !env_str("ALLOCSCOPE_LIFETIME_PAGESOURCE",
		     getenv("ALLOCSCOPE_PAGESOURCE") ? getenv("ALLOCSCOPE_PAGESOURCE") : "os",
		     lt_p.pagesource,
		     sizeof(lt_p.pagesource), err, errlen) ||
	    !env_str("ALLOCSCOPE_LIFETIME_PROFILE", "", lt_p.profile, sizeof(lt_p.profile), err,
		     errlen) ||
	    !env_str("ALLOCSCOPE_LIFETIME_MODEL", "", lt_p.model, sizeof(lt_p.model), err,
		     errlen) ||
	    !env_str("ALLOCSCOPE_LIFETIME_PROFILE_OUT", "", lt_p.profile_out,
		     sizeof(lt_p.profile_out), err, errlen))
		return false;
	(void)q;
	lt_p.recycle = recycle != 0;
	lt_p.share = (unsigned)share;
	lt_p.tick_ns = tick * 1000;
	lt_p.purge_ns = purge * 1000000;
	const char *hg = getenv("ALLOCSCOPE_LIFETIME_HUGE");
	if (!hg || !*hg || !strcmp(hg, "dense"))
		lt_p.huge = LT_HUGE_DENSE;
	else if (!strcmp(hg, "eager"))
		lt_p.huge = LT_HUGE_EAGER;
	else if (!strcmp(hg, "off"))
		lt_p.huge = LT_HUGE_OFF;
	else {
		snprintf(err, errlen, "ALLOCSCOPE_LIFETIME_HUGE=%s: want dense, eager or off", hg);
		return false;
	}
	const char *uw = getenv("ALLOCSCOPE_LIFETIME_UNWIND");
	if (!uw || !*uw || !strcmp(uw, "backtrace"))
		lt_p.unwind = 0;
	else if (!strcmp(uw, "fp"))
		lt_p.unwind = 1;
	else {
		snprintf(err, errlen, "ALLOCSCOPE_LIFETIME_UNWIND=%s: want backtrace or fp", uw);
		return false;
	}
	if (lt_p.predictor == LT_PRED_PROFILE && !lt_p.profile[0]) {
		snprintf(err, errlen,
			 "ALLOCSCOPE_LIFETIME_PREDICTOR=profile needs ALLOCSCOPE_LIFETIME_PROFILE=path");
		return false;
	}
	if (lt_p.predictor == LT_PRED_MODEL && !lt_p.model[0]) {
		snprintf(err, errlen,
			 "ALLOCSCOPE_LIFETIME_PREDICTOR=model needs ALLOCSCOPE_LIFETIME_MODEL=path");
		return false;
	}
	return true;
}
