#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# allocscope refuses bad input: each case must exit 2 and print the expected
# message (naming the option or file:line and the reason). Also checks that
# --help works for every subcommand.
set -uo pipefail
BUILD=${BUILD:-build}
A="$BUILD/bin/allocscope"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0

# expect_bad "expected message fragment" args...
expect_bad() {
	local want=$1
	shift
	local out rc
	out=$("$A" "$@" 2>&1 >/dev/null)
	rc=$?
	if [ "$rc" -eq 2 ] && [[ "$out" == *"$want"* ]]; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		echo "FAIL: allocscope $* -> exit $rc, stderr: $out (wanted: $want)"
	fi
}

cfg() { # cfg NAME CONTENT: write a config file, print its path
	printf '%s\n' "$2" >"$tmp/$1"
	echo "$tmp/$1"
}

W=(--workload selftest --out "$tmp/res")
expect_bad "unknown command 'frobnicate'" frobnicate
expect_bad "unknown option '--bogus'" run --alloc glibc "${W[@]}" --bogus 1
expect_bad "--alloc: needs a value" run --alloc
expect_bad "--alloc: unknown allocator 'nosuchalloc'" run --alloc nosuchalloc "${W[@]}"
expect_bad "--alloc: allocator 'glibc' is named twice" run --alloc glibc,glibc "${W[@]}"
expect_bad "--alloc is required" run --workload selftest
expect_bad "--workload: unknown workload 'nosuchwl'" run --alloc glibc --workload nosuchwl
expect_bad "--threads: '0' is not an integer in [1, 4096]" run --alloc glibc "${W[@]}" --threads 0
expect_bad "--threads: 'x' is not an integer" run --alloc glibc "${W[@]}" --threads 1,x
expect_bad "--reps: '0' is not an integer in [1, 100000]" run --alloc glibc "${W[@]}" --reps 0
expect_bad "--pin: 'sideways' is not none, compact, scatter or a PU list" run --alloc glibc "${W[@]}" --pin sideways
expect_bad "--pin: PU 99 does not exist" run --alloc glibc "${W[@]}" --pin 0,99
expect_bad "--membind: 'far' is not local, interleave or node=N" run --alloc glibc "${W[@]}" --membind far
expect_bad "--membind: node 7 does not exist on this machine" run --alloc glibc "${W[@]}" --membind node=7
expect_bad "--membind: node 2 does not exist (the simulated topology has 2 nodes)" run --alloc glibc "${W[@]}" \
	--topology 'synthetic:"package:2 numa:1 core:2 pu:1"' --membind node=2
expect_bad "--topology: hwloc cannot parse synthetic description" run --alloc glibc "${W[@]}" --topology 'synthetic:"blah:3"'
expect_bad "--topology: '/nonexistent.xml' is neither" run --alloc glibc "${W[@]}" --topology /nonexistent.xml
expect_bad "--events: unknown event 'not-an-event'" run --alloc glibc "${W[@]}" --events page-faults,not-an-event
expect_bad "--param: 'novalue' is not key=value" run --alloc glibc "${W[@]}" --param novalue
expect_bad "--param: no selected workload has a parameter 'nosuchparam'" run --alloc glibc "${W[@]}" --param nosuchparam=1
expect_bad "--sample: '3' is not a power of two" run --alloc glibc "${W[@]}" --sample 3
expect_bad "--timeout: '-1' is not a number of seconds" run --alloc glibc "${W[@]}" --timeout -1
expect_bad "--shard: '3/3' is not i/n with 0 <= i < n" run --alloc glibc "${W[@]}" --shard 3/3
expect_bad "--mem-limit: 'lots' is not a size in bytes" run --alloc glibc "${W[@]}" --mem-limit lots
expect_bad "--threads: given twice" run --alloc glibc "${W[@]}" --threads 1 --threads 2
expect_bad "'stray': unexpected argument" run stray
expect_bad "--config: cannot open '$tmp/none.ini'" run --alloc glibc "${W[@]}" --config "$tmp/none.ini"
expect_bad "bad1.ini:3: unknown key 'colour' in [run]" run --alloc glibc "${W[@]}" \
	--config "$(cfg bad1.ini $'; comment\n[run]\ncolour = blue')"
# inih reports a bad section at its first key line.
expect_bad "bad2.ini:3: unknown section [nonsense]" run --alloc glibc "${W[@]}" \
	--config "$(cfg bad2.ini $'\n[nonsense]\nx = 1')"
expect_bad "bad3.ini:2: threads = 0,1: '0' is not an integer in [1, 4096]" run --alloc glibc "${W[@]}" \
	--config "$(cfg bad3.ini $'[run]\nthreads = 0,1')"
expect_bad "bad4.ini:3: syntax error" run --alloc glibc "${W[@]}" \
	--config "$(cfg bad4.ini $'[run]\nreps = 2\nthis line has no equals sign')"
expect_bad "bad5.ini:2: workload 'selftest' has no parameter 'colour'" run --alloc glibc "${W[@]}" \
	--config "$(cfg bad5.ini $'[params.selftest]\ncolour = red')"
expect_bad "bad6.ini:4: alloc = nosuch: unknown allocator 'nosuch'" run --workload selftest \
	--config "$(cfg bad6.ini $'[run]\n\nreps = 1\nalloc = nosuch')"
expect_bad "not allocators or workloads" list everything
expect_bad "unknown option '--fast'" topo --fast
expect_bad "merge: name at least one results folder" merge
expect_bad "unknown option '--bogus'" merge --bogus
mkdir -p "$tmp/notresults"
echo '{"schema_version": 9}' >"$tmp/notresults/results.json"
expect_bad "schema_version is not 1" merge "$tmp/notresults"

for cmd in list topo run plan bench merge; do
	if "$A" "$cmd" --help | grep -q "^usage: allocscope $cmd"; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		echo "FAIL: allocscope $cmd --help"
	fi
done
"$A" --help | grep -q "^usage: allocscope COMMAND" && passed=$((passed + 1)) || {
	failed=$((failed + 1))
	echo "FAIL: allocscope --help"
}
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
