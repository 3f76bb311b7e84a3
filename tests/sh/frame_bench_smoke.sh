#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Smoke test of framebench: every workload, very briefly (64 MiB simulated,
# 2 threads), for every allocator that `framebench --list-allocators` lists;
# each run must end with "status ok" and carry its expected metric lines.
# Then bad input must exit 2: unknown allocator, unknown workload, missing
# --alloc, bad or unknown parameters, unknown allocator options.
# Prints "N passed, N failed" last.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2
BUILD=${BUILD:-build}
FB=$BUILD/bin/framebench
passed=0
failed=0

fail() {
	echo "FAIL $*"
	failed=$((failed + 1))
}

if [ ! -x "$FB" ]; then
	echo "FAIL $FB not built"
	echo "0 passed, 1 failed"
	exit 1
fi

allocs=$("$FB" --list-allocators | awk '$1 == "alloc" { print $2 }')
if [ -z "$allocs" ]; then
	fail "--list-allocators lists no allocator"
fi
echo "allocators: $(echo "$allocs" | tr "\n" " ")"

small="--param frames=16384"
# workload | extra params | metric lines the output must contain
cases=(
	"bulk|order=0|alloc_ns free_ns alloc_lat_p50_ns free_lat_p99_ns"
	"bulk|order=9 zones=2|alloc_ns free_ns remote_frac"
	"repeat|order=0|pair_ns"
	"repeat|order=9|pair_ns"
	"rand|order=0|alloc_ns free_ns"
	"rand|order=9|free_ns"
	"frag|rounds=12|free_huge_frac compaction_moves free_huge_frac_r10 compaction_moves_r10 series:free_huge_frac series:compaction_moves"
	"filling|burst=64 rounds=2 levels=0,50,90,99|alloc_ns free_ns series:fill_alloc_ns series:fill_free_ns"
	"thread-test|burst=2000 bursts=4|pair_ns alloc_ns free_ns ops_per_s"
	"thread-test|order=3 burst=2000 bursts=2|pair_ns"
	"linux-scalability|burst=2000 bursts=2|pair_ns ops_per_s"
	"constant-occupancy|iters=20000|pair_ns ops_per_s"
	"constant-occupancy|order=7 iters=2000 frames=32768|pair_ns"
	"cached-allocation|iters=20000|pair_ns ops_per_s"
)

for a in $allocs; do
	for c in "${cases[@]}"; do
		IFS='|' read -r wl extra want <<<"$c"
		params=""
		for p in $extra; do params="$params --param $p"; done
		# shellcheck disable=SC2086
		out=$(timeout 120 "$FB" --alloc "$a" --workload "$wl" --threads 2 --timeline-ms 0 \
			$small $params 2>&1)
		rc=$?
		what="$a $wl $extra"
		if [ $rc -ne 0 ] || [ "$(echo "$out" | tail -n 1)" != "status ok" ]; then
			fail "$what: exit $rc, last line: $(echo "$out" | tail -n 1)"
			continue
		fi
		missing=""
		for m in $want metadata_bytes failures; do
			case $m in
			series:*) grep -q "^series ${m#series:} " <<<"$out" || missing="$missing $m" ;;
			*) grep -qE "^metric $m [0-9.e+-]+$" <<<"$out" ||
				missing="$missing $m ($(echo "$out" | grep "^metric $m " || echo absent))" ;;
			esac
		done
		if [ -n "$missing" ]; then
			fail "$what: missing metrics:$missing"
			continue
		fi
		if ! grep -q '^metric failures 0$' <<<"$out"; then
			echo "note: $what: $(echo "$out" | grep '^metric failures')"
		fi
		passed=$((passed + 1))
	done
	echo "ok   $a: ${#cases[@]} workload runs"
done

# Bad input exits 2 (checked with the first allocator, or a placeholder).
first=$(echo "$allocs" | head -n 1)
first=${first:-none}
bad=(
	"--alloc no-such-allocator --workload bulk"
	"--workload bulk"
	"--alloc $first --workload no-such-workload"
	"--alloc $first --workload bulk --param order=11"
	"--alloc $first --workload bulk --param frames=1000"
	"--alloc $first --workload bulk --param frames=abc"
	"--alloc $first --workload bulk --param zones=banana"
	"--alloc $first --workload bulk --param no_such_param=1"
	"--alloc $first --workload bulk --param frames=16384 --param options=no_such_option=1"
	"--alloc $first --workload filling --param levels=50,10"
	"--alloc $first --workload bulk --threads 0"
)
for b in "${bad[@]}"; do
	# shellcheck disable=SC2086
	timeout 60 "$FB" $b >/dev/null 2>&1
	rc=$?
	if [ $rc -eq 2 ]; then
		passed=$((passed + 1))
	else
		fail "framebench $b: exit $rc, expected 2"
	fi
done
err=$("$FB" --alloc no-such-allocator --workload bulk 2>&1 >/dev/null)
for a in $allocs; do
	grep -q "$a" <<<"$err" || fail "unknown-allocator message does not list $a: $err"
done
help=$("$FB" --help 2>&1)
if grep -q -- '--list-allocators' <<<"$help"; then
	passed=$((passed + 1))
else
	fail "--help does not mention --list-allocators"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
