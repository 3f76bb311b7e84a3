#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Real programs under LD_PRELOAD=liballocscope-adaptive.so give the same
# output as under glibc: python3 running tests/preload/workload.py, perl,
# gcc compiling a C file (identical object file), git log on this repo,
# sort of a generated 100 MB file (20 MB for the variants), and sqlite3
# running tests/preload/workload.sql; for adaptive, adaptive-static
# (ALLOCSCOPE_ADAPTIVE_CONTROLLER=0) and adaptive@llfree
# (ALLOCSCOPE_PAGESOURCE=frame@llfree; skipped with a message if llfree is
# not built). Also proves the preload served the allocations.
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
TMP=$BUILD/tmp/preload_real
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
PY=$(python3 -c 'import sys; print(sys.executable)')

# Deterministic inputs.
if [ ! -s "$TMP/big.txt" ]; then
	awk 'BEGIN { srand(42); for (i = 0; i < 2600000; i++)
		printf "%08x %s %d\n", int(rand() * 4294967295), substr("abcdefghijklmnopqrstuvwxyz", int(rand() * 20) + 1, 6), int(rand() * 1000000) }' \
		>"$TMP/big.txt"
fi
head -c 20000000 "$TMP/big.txt" | sed '$d' >"$TMP/mid.txt"
head_commit=$(git rev-parse HEAD 2>/dev/null)

# name|command (run by bash -c; $TMP and friends expanded at call time)
programs=(
	"python3|'$PY' tests/preload/workload.py"
	"perl|perl -e 'my %h; for my \$i (1..100000) { \$h{join(\"-\", \$i % 977, reverse split //, \$i)} .= \"x\" x (\$i % 13) } my \$s = 0; for my \$k (sort keys %h) { \$s = (\$s * 31 + length(\$h{\$k}) + length(\$k)) % 1000000007 } print scalar(keys %h), \" \$s\\n\"'"
	"gcc|gcc -O2 -c tests/preload/contract.c -o '$TMP/gcc.o' && md5sum <'$TMP/gcc.o'"
	"git-log|git log --stat -n 200 $head_commit | md5sum"
	"sqlite3|sqlite3 :memory: <tests/preload/workload.sql"
)

run() { # envs command -> output
	local envs=$1 cmd=$2
	env $envs bash -c "$cmd" 2>&1
}

expect=()
for p in "${programs[@]}"; do
	expect+=("$(run "" "${p#*|}")")
done
exp_sort_big=$(sort -S 256M "$TMP/big.txt" | md5sum)
exp_sort_mid=$(sort -S 64M "$TMP/mid.txt" | md5sum)

variants=("adaptive|LD_PRELOAD=$LIB" "adaptive-static|LD_PRELOAD=$LIB ALLOCSCOPE_ADAPTIVE_CONTROLLER=0")
if [ "$(ALLOCSCOPE_PAGESOURCE=frame@llfree LD_PRELOAD=$LIB /bin/echo ok 2>/dev/null)" = ok ]; then
	variants+=("adaptive@llfree|LD_PRELOAD=$LIB ALLOCSCOPE_PAGESOURCE=frame@llfree")
else
	echo "skip adaptive@llfree: llfree is not built into this library yet"
fi

for v in "${variants[@]}"; do
	vname=${v%%|*}
	envs=${v#*|}
	# The preload must really serve this process's allocations.
	served=$(env $envs "$PY" -c 'import ctypes; f = ctypes.CDLL(None).allocscope_malloc_served; f.restype = ctypes.c_uint64; print(f() > 1000)' 2>&1)
	if [ "$served" = True ]; then ok; else bad "$vname: preload not serving ($served)"; fi
	i=0
	for p in "${programs[@]}"; do
		pname=${p%%|*}
		t0=$(date +%s.%N)
		got=$(run "$envs" "${p#*|}")
		t1=$(date +%s.%N)
		if [ "$got" = "${expect[$i]}" ]; then
			ok
			printf '%s %s: same output (%ss)\n' "$vname" "$pname" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')"
		else
			bad "$vname $pname: output differs from glibc: $(echo "$got" | head -c 300)"
		fi
		i=$((i + 1))
	done
	if [ "$vname" = adaptive ]; then
		got=$(env $envs sort -S 256M "$TMP/big.txt" | md5sum)
		want=$exp_sort_big
		what="sort 100 MB"
	else
		got=$(env $envs sort -S 64M "$TMP/mid.txt" | md5sum)
		want=$exp_sort_mid
		what="sort 20 MB"
	fi
	if [ "$got" = "$want" ]; then ok; echo "$vname $what: same output"; else bad "$vname $what differs"; fi
done
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
