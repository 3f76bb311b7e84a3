#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Trace -> profile -> replay, end to end: record a small lifetime-mix run
# with liballocscope-trace.so, summarise it, replay it twice on the lifetime
# allocator (every deterministic metric identical), replay it on glibc, build
# a profile from it and check the profile and oracle predictors' accuracy on
# the replay, and check that truncated traces and bad profiles are refused
# with the offset and the reason.
set -uo pipefail
cd "$(dirname "$0")/../.."
# A sanitizer build brings its own malloc, which must come first in the
# process: preloading an allocator or the recorder under it cannot work.
if [ -n "${SANITIZE:-}" ]; then
	echo "skip: LD_PRELOAD tests need an unsanitized build (SANITIZE=$SANITIZE)"
	echo "0 passed, 0 failed"
	exit 0
fi
BUILD=${BUILD:-build}
B=$PWD/$BUILD
LT=$B/lib/liballocscope-lifetime.so
TR=$B/lib/liballocscope-trace.so
TMP=$B/tmp/lifetime_replay
mkdir -p "$TMP"
passed=0
failed=0
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL $*"; }
for f in "$LT" "$TR" "$B/bin/micro-replay" "$B/bin/micro-lifetime-mix" "$B/bin/trace-summary" "$B/bin/lt-profile"; do
	if [ ! -e "$f" ]; then
		echo "FAIL $f is not built"
		echo "0 passed, 1 failed"
		exit 1
	fi
done

T=$TMP/mix.trace
rm -f "$T"
out=$(ALLOCSCOPE_TRACE=$T LD_PRELOAD=$TR "$B/bin/micro-lifetime-mix" --timeline-ms 0 \
	--param requests=8000 --param phases=4 --param sessions_high=2000 --param cache_high=2000 2>&1)
if echo "$out" | grep -q "^status ok" && [ -s "$T" ]; then ok; else bad "recording failed: $out"; fi

sum=$("$B/bin/trace-summary" "$T" 50 2>&1)
if echo "$sum" | grep -q site_session_open && echo "$sum" | grep -q site_cache_insert; then
	ok
else
	bad "trace-summary lacks the workload's sites: $(echo "$sum" | head -5)"
fi

det='^metric (replay_|pred_|lt_regions|lt_promotions|lt_demotions|lt_purged|lt_committed|lt_sites|events)'
r1=$(LD_PRELOAD=$LT "$B/bin/micro-replay" --timeline-ms 0 --param trace="$T" 2>&1)
r2=$(LD_PRELOAD=$LT "$B/bin/micro-replay" --timeline-ms 0 --param trace="$T" 2>&1)
m1=$(echo "$r1" | grep -E "$det")
m2=$(echo "$r2" | grep -E "$det")
if echo "$r1" | grep -q "^status ok" && [ -n "$m1" ] && [ "$m1" = "$m2" ]; then
	ok
	echo "replay on lifetime: $(echo "$m1" | wc -l) deterministic metrics identical on two runs"
else
	bad "replays differ: $(diff <(echo "$m1") <(echo "$m2") | head -6)"
fi

g=$("$B/bin/micro-replay" --timeline-ms 0 --param trace="$T" 2>&1)
if echo "$g" | grep -q "^status ok" && echo "$g" | grep -q "replay_hooks none"; then ok; else bad "glibc replay: $g"; fi

P=$TMP/mix.prof
if "$B/bin/lt-profile" "$T" "$P" >/dev/null && "$B/bin/lt-profile" --check "$P" >/dev/null; then ok; else bad "lt-profile failed"; fi
acc() { echo "$1" | awk '$1 == "metric" && $2 == "pred_accuracy" { print $3 }'; }
rp=$(ALLOCSCOPE_LIFETIME_PREDICTOR=profile ALLOCSCOPE_LIFETIME_PROFILE=$P LD_PRELOAD=$LT \
	"$B/bin/micro-replay" --timeline-ms 0 --param trace="$T" 2>&1)
a=$(acc "$rp")
if [ -n "$a" ] && awk -v a="$a" 'BEGIN { exit !(a >= 0.85) }'; then
	ok
	echo "profile predictor on the replay: accuracy $a"
else
	bad "profile predictor accuracy '$a' below 0.85: $(echo "$rp" | tail -2)"
fi
ro=$(ALLOCSCOPE_LIFETIME_PREDICTOR=oracle LD_PRELOAD=$LT "$B/bin/micro-replay" --timeline-ms 0 --param trace="$T" 2>&1)
a=$(acc "$ro")
if [ "$a" = 1 ]; then ok; else bad "oracle accuracy '$a' is not 1"; fi

# Truncated and foreign traces are refused with the offset and the reason.
head -c 1001 "$T" >"$TMP/cut.trace" # mid-record: records are multiples of 8
msg=$("$B/bin/micro-replay" --timeline-ms 0 --param trace="$TMP/cut.trace" 2>&1)
rc=$?
if [ $rc -eq 2 ] && echo "$msg" | grep -q "offset [0-9]*: truncated"; then ok; else bad "truncated trace: rc=$rc $msg"; fi
msg=$("$B/bin/trace-summary" "$P" 2>&1)
rc=$?
if [ $rc -eq 2 ] && echo "$msg" | grep -q "offset 0: bad magic"; then ok; else bad "profile read as trace: rc=$rc $msg"; fi
head -c 100 "$P" >"$TMP/cut.prof"
msg=$("$B/bin/lt-profile" --check "$TMP/cut.prof" 2>&1)
rc=$?
if [ $rc -eq 2 ] && echo "$msg" | grep -q "offset 80: truncated"; then ok; else bad "truncated profile: rc=$rc $msg"; fi
msg=$(ALLOCSCOPE_LIFETIME_PREDICTOR=profile ALLOCSCOPE_LIFETIME_PROFILE=$TMP/cut.prof LD_PRELOAD=$LT /bin/true 2>&1)
if echo "$msg" | grep -q "cut.prof: offset 80: truncated"; then ok; else bad "allocator took a truncated profile: $msg"; fi
msg=$(ALLOCSCOPE_LIFETIME_PREDICTOR=profile ALLOCSCOPE_LIFETIME_PROFILE=$P ALLOCSCOPE_LIFETIME_CLASSES=1ms,1s \
	LD_PRELOAD=$LT /bin/true 2>&1)
if echo "$msg" | grep -q "classes differ"; then ok; else bad "allocator took a profile with other classes: $msg"; fi

msg=$(ALLOCSCOPE_LIFETIME_HUGE=bogus LD_PRELOAD=$LT /bin/true 2>&1)
if echo "$msg" | grep -q "ALLOCSCOPE_LIFETIME_HUGE=bogus: want dense, eager or off"; then ok; else bad "bad HUGE accepted: $msg"; fi

# Huge-page policy: under `dense` every region that fills is collapsed (or
# the attempt is counted as failed); under `eager` nothing is collapsed.
coll() { echo "$1" | awk '$1 == "metric" && ($2 == "lt_collapses" || $2 == "lt_collapse_failures") { s += $3 } END { print s + 0 }'; }
d=$(LD_PRELOAD=$LT "$B/bin/micro-replay" --timeline-ms 0 --param trace="$T" 2>&1)
e=$(ALLOCSCOPE_LIFETIME_HUGE=eager LD_PRELOAD=$LT "$B/bin/micro-replay" --timeline-ms 0 --param trace="$T" 2>&1)
if [ "$(coll "$d")" -gt 0 ] && [ "$(coll "$e")" -eq 0 ]; then
	ok
	echo "huge pages: dense collapsed $(coll "$d") filled regions, eager none"
else
	bad "collapse counts: dense $(coll "$d"), eager $(coll "$e")"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
