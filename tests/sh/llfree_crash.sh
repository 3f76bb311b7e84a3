#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# LLFree crash recovery, short version: 20 random SIGKILLs of a 4-thread
# allocation storm on a file-backed llfree region (tests/crash/), each
# followed by deep recovery and the full check (validate, journal vs bits,
# no double ownership, bounded leak). Also checks that the crash test
# rejects bad usage. The full run is `make crash-test` (200 kills).
set -uo pipefail
BUILD=${BUILD:-build}
T="$BUILD/bin/llfree-crash-test"
passed=0
failed=0
if [ ! -x "$T" ]; then
	echo "FAIL: $T is missing (make BUILD=$BUILD $T)"
	echo "0 passed, 1 failed"
	exit 1
fi
out=$("$T" --kills 20 --gib 0.5 --threads 4 --seed 7 --max-ms 30 2>&1)
rc=$?
echo "$out"
if [ "$rc" -eq 0 ] && [[ "$out" == *"20 kills survived"* ]]; then
	passed=$((passed + 1))
else
	failed=$((failed + 1))
	echo "FAIL: crash test exited $rc"
fi
for bad in "--kills 0" "--threads 0" "--gib -1" "--bogus" "extra"; do
	# shellcheck disable=SC2086
	"$T" $bad >/dev/null 2>&1
	rc=$?
	if [ "$rc" -eq 2 ]; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		echo "FAIL: llfree-crash-test $bad exited $rc (wanted 2)"
	fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
