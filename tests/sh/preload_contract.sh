#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Conformance of the preload layer over the adaptive backend: errno,
# alignments, calloc overflow, realloc, thread exit, fork, the allocscope_*
# hooks (tests/preload/contract.c) for adaptive, adaptive-static and
# adaptive@llfree, and C++ new/delete (tests/preload/cxx.cc, output compared
# with glibc's) also over every other frame allocator of this build.
set -uo pipefail
# Under ASan/TSan the sanitizer's runtime owns malloc and must come first:
# they LD_PRELOAD our libraries into other programs. UBSan builds run them.
if [ -n "${SANITIZE:-}" ] && [ "$SANITIZE" != undefined ]; then
	echo "skip: needs an unsanitized (or UBSan) build, not SANITIZE=$SANITIZE"
	echo "0 passed, 0 failed"
	exit 0
fi
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
LIB=$PWD/$BUILD/lib/liballocscope-adaptive.so
TMP=$BUILD/tmp/preload_contract
mkdir -p "$TMP"
passed=0
failed=0
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL $*"; }

if [ ! -f "$LIB" ]; then
	echo "FAIL $LIB is not built"
	echo "0 passed, 1 failed"
	exit 1
fi
cc -O2 -Wall -Wextra -o "$TMP/contract" tests/preload/contract.c -ldl -pthread || { echo "0 passed, 1 failed"; exit 1; }
have_cxx=0
if command -v c++ >/dev/null && c++ -O2 -std=c++17 -o "$TMP/cxx" tests/preload/cxx.cc -pthread; then
	have_cxx=1
	expect_cxx=$("$TMP/cxx")
fi

variants=("adaptive|" "adaptive-static|ALLOCSCOPE_ADAPTIVE_CONTROLLER=0")
for x in llfree nbbs buddy buddy-nopcp; do
	if ALLOCSCOPE_PAGESOURCE=frame@$x LD_PRELOAD=$LIB /bin/true 2>/dev/null &&
		[ "$(ALLOCSCOPE_PAGESOURCE=frame@$x LD_PRELOAD=$LIB /bin/echo ok 2>/dev/null)" = ok ]; then
		variants+=("adaptive@$x|ALLOCSCOPE_PAGESOURCE=frame@$x")
	else
		echo "skip adaptive@$x: frame allocator $x not built (or its page source fails)"
	fi
done

for v in "${variants[@]}"; do
	name=${v%%|*}
	envs=${v#*|}
	case $name in
	adaptive | adaptive-static | adaptive@llfree)
		out=$(env $envs LD_PRELOAD="$LIB" "$TMP/contract" "$name" 2>&1)
		rc=$?
		if [ $rc -eq 0 ]; then ok; else bad "$name contract: $(echo "$out" | grep FAIL | head -5)"; fi
		echo "$name: $(echo "$out" | tail -n 1)"
		;;
	esac
	if [ $have_cxx = 1 ]; then
		got=$(env $envs LD_PRELOAD="$LIB" "$TMP/cxx" 2>&1)
		if [ "$got" = "$expect_cxx" ]; then ok; else bad "$name c++: got '$got' expected '$expect_cxx'"; fi
	fi
done
# The controller's change trace (ALLOCSCOPE_ADAPTIVE_TRACE): one
# well-formed line per change, none when the controller is off.
rm -f "$TMP/trace.txt" "$TMP/trace-static.txt"
ALLOCSCOPE_ADAPTIVE_TRACE=$TMP/trace.txt LD_PRELOAD="$LIB" "$TMP/contract" --churn
ALLOCSCOPE_ADAPTIVE_CONTROLLER=0 ALLOCSCOPE_ADAPTIVE_TRACE=$TMP/trace-static.txt LD_PRELOAD="$LIB" "$TMP/contract" --churn
lines=$(wc -l <"$TMP/trace.txt" 2>/dev/null || echo 0)
badl=$(grep -cvE '^[0-9]+ [0-9a-f]+ (batch|cap|watermark|numa_weight) -?[0-9]+ [0-9]+$' "$TMP/trace.txt" 2>/dev/null)
if [ "$lines" -gt 0 ] && [ "$badl" = 0 ] && [ ! -e "$TMP/trace-static.txt" ]; then
	ok
	echo "controller trace: $lines changes traced, none with the controller off"
else
	bad "controller trace: $lines lines, $badl malformed, static trace file $([ -e "$TMP/trace-static.txt" ] && echo exists || echo absent)"
fi
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
