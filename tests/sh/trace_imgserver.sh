#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A recorded trace of the image server replays on every allocator: run
# imgserver under liballocscope-trace.so with a brief imgload, stop it, then
# replay the trace on glibc, lifetime (online, none, oracle), adaptive when
# built, and tcmalloc, jemalloc and mimalloc when installed; each replay
# must end "status ok".
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
TMP=$B/tmp/trace_imgserver
mkdir -p "$TMP"
rm -f "$TMP"/*
passed=0
failed=0
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL $*"; }
for f in "$B/lib/liballocscope-trace.so" "$B/lib/liballocscope-lifetime.so" "$B/bin/imgserver" "$B/bin/imgload" "$B/bin/micro-replay"; do
	if [ ! -e "$f" ]; then
		echo "FAIL $f is not built"
		echo "0 passed, 1 failed"
		exit 1
	fi
done
T=$TMP/img.trace
ALLOCSCOPE_TRACE=$T LD_PRELOAD=$B/lib/liballocscope-trace.so "$B/bin/imgserver" --threads 2 --timeline-ms 0 \
	--param images=4 --param port_file="$TMP/port" --out "$TMP/server.out" 2>"$TMP/server.err" &
pid=$!
for _ in $(seq 400); do [ -s "$TMP/port" ] && break; sleep 0.05; done
if [ ! -s "$TMP/port" ]; then
	kill "$pid" 2>/dev/null
	echo "FAIL imgserver did not start: $(tail -3 "$TMP/server.err")"
	echo "0 passed, 1 failed"
	exit 1
fi
"$B/bin/imgload" --threads 2 --timeline-ms 0 --param port="$(cat "$TMP/port")" --param images=4 \
	--param duration_s=1 --out "$TMP/load.out" 2>"$TMP/load.err"
kill -TERM "$pid"
wait "$pid"
if grep -q "^status ok" "$TMP/server.out" && [ -s "$T" ]; then ok; else bad "traced imgserver: $(tail -2 "$TMP/server.out")"; fi

L=$B/lib/liballocscope-lifetime.so
runs=("glibc|" "lifetime|LD_PRELOAD=$L" "lifetime-none|LD_PRELOAD=$L ALLOCSCOPE_LIFETIME_PREDICTOR=none"
	"lifetime-oracle|LD_PRELOAD=$L ALLOCSCOPE_LIFETIME_PREDICTOR=oracle")
[ -f "$B/lib/liballocscope-adaptive.so" ] && runs+=("adaptive|LD_PRELOAD=$B/lib/liballocscope-adaptive.so")
for lib in libtcmalloc_minimal.so.4 libjemalloc.so.2 libmimalloc.so.2; do
	p=/usr/lib/x86_64-linux-gnu/$lib
	[ -f "$p" ] && runs+=("${lib%%.so*}|LD_PRELOAD=$p")
done
for r in "${runs[@]}"; do
	name=${r%%|*}
	out=$(env ${r#*|} "$B/bin/micro-replay" --timeline-ms 0 --param trace="$T" 2>&1)
	if echo "$out" | grep -q "^status ok"; then
		ok
		echo "$name: $(echo "$out" | awk '$2 == "replay_frag_peak" || $2 == "replay_rss_peak_bytes" { printf "%s=%s ", $2, $3 }')"
	else
		bad "$name replay: $(echo "$out" | tail -2)"
	fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
