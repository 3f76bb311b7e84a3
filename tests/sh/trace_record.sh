#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# liballocscope-trace.so records without changing what programs do: python3,
# perl, sort and git log give the same output as without it, and every trace
# they leave is valid (trace-summary reads it). With "%p" in the path each
# process of a pipeline (fork + exec) writes its own valid trace. Without
# ALLOCSCOPE_TRACE the library only forwards to glibc.
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
TR=$B/lib/liballocscope-trace.so
TMP=$B/tmp/trace_record
mkdir -p "$TMP"
rm -f "$TMP"/*.trace
passed=0
failed=0
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL $*"; }
if [ ! -f "$TR" ] || [ ! -x "$B/bin/trace-summary" ]; then
	echo "FAIL trace library or trace-summary not built"
	echo "0 passed, 1 failed"
	exit 1
fi
PY=$(python3 -c 'import sys; print(sys.executable)')
seq 1 200000 | awk '{ print ($1 * 7919) % 100003, $1 }' >"$TMP/in.txt"
programs=(
	"python3|'$PY' -c 'd = {i: str(i) * (i % 5) for i in range(50000)}; print(sum(map(len, d.values())))'"
	"perl|perl -e 'my @a = map { \"x\" x (\$_ % 17) } 1..50000; print scalar(@a), \"\\n\"'"
	"sort|sort -n '$TMP/in.txt' | md5sum"
	"git-log|git log -n 50 --stat | md5sum"
)
i=0
for p in "${programs[@]}"; do
	name=${p%%|*}
	cmd=${p#*|}
	want=$(bash -c "$cmd" 2>&1)
	got=$(ALLOCSCOPE_TRACE="$TMP/$name.%p.trace" LD_PRELOAD=$TR bash -c "$cmd" 2>&1)
	if [ "$got" = "$want" ]; then ok; else bad "$name: output differs under the trace preload"; fi
	n=0
	for f in "$TMP/$name".*.trace; do
		[ -e "$f" ] || continue
		if "$B/bin/trace-summary" "$f" 3 >/dev/null 2>"$TMP/err"; then
			n=$((n + 1))
		else
			bad "$name: invalid trace $f: $(cat "$TMP/err")"
		fi
	done
	# A pipeline forks: each of its processes leaves a trace of its own.
	need=1
	case $cmd in *"|"*) need=2 ;; esac
	if [ "$n" -ge "$need" ]; then ok; echo "$name: same output, $n valid traces"; else bad "$name: $n traces, want $need"; fi
	i=$((i + 1))
done
s=$("$B/bin/trace-summary" "$(ls -S "$TMP"/python3.*.trace | head -1)" 5)
if echo "$s" | grep -q "allocations" && echo "$s" | grep -q "libpython"; then ok; else bad "python3 trace lacks its sites: $(echo "$s" | head -3)"; fi
out=$(LD_PRELOAD=$TR "$PY" -c 'print(len([str(i) for i in range(10000)]))' 2>&1)
if [ "$out" = 10000 ]; then ok; else bad "not recording: $out"; fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
