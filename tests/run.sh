#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Run every test: unit tests, then stress tests, then the shell tests in
# tests/sh/ (real programs under LD_PRELOAD, harness smoke runs, CLI errors).
# T=filter selects by name. Ends with the single line "N passed, N failed".
set -uo pipefail
BUILD=${BUILD:-build}
T=${T:-}
export BUILD SANITIZE=${SANITIZE:-}
cd "$(dirname "$0")/.."

passed=0
failed=0
failed_names=()

# Add the counts from a step's "N passed, N failed" line, or count the step
# as one test by its exit status when it prints no such line.
tally() {
	local name=$1 rc=$2 log=$3
	local line
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
	if [ -n "$line" ]; then
		local p f
		p=$(echo "$line" | awk '{print $1}')
		f=$(echo "$line" | awk '{print $3}')
		passed=$((passed + p))
		failed=$((failed + f))
		if [ "$f" -gt 0 ] || { [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; }; then
			[ "$f" -eq 0 ] && failed=$((failed + 1))
			failed_names+=("$name")
		fi
	elif [ "$rc" -eq 0 ]; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		failed_names+=("$name")
	fi
}

run_step() {
	local name=$1
	shift
	local log
	log=$(mktemp)
	echo "== $name"
	"$@" 2>&1 | tee "$log"
	local rc=${PIPESTATUS[0]}
	tally "$name" "$rc" "$log"
	rm -f "$log"
}

run_step unit "$BUILD/bin/test-unit" "$T"
run_step stress "$BUILD/bin/test-stress" "$T"
for t in tests/sh/*.sh; do
	[ -e "$t" ] || continue
	name=$(basename "$t" .sh)
	if [ -n "$T" ] && [[ "$name" != *"$T"* ]]; then
		continue
	fi
	run_step "$name" bash "$t"
done

if [ ${#failed_names[@]} -gt 0 ]; then
	echo "failed steps: ${failed_names[*]}"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
