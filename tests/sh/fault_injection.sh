#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Fault injection: the in-tree object allocators (adaptive, lifetime) run a
# small C program under LD_PRELOAD with the fault page source
# (ALLOCSCOPE_PAGESOURCE=fault:os,...; allocators/object/pagesource/ps_fault.c):
#   after=BYTES  large (1 MiB) and small (64 B) allocations until malloc
#                returns NULL: errno must be ENOMEM; after freeing
#                everything, allocation must succeed again (recovery)
#   every=N      every Nth page-source map fails: some mallocs of fresh
#                large blocks return NULL with ENOMEM, later ones succeed
# Also checks that a malformed fault spec is refused (no silent fallback).
# Skipped under ASan/TSan (LD_PRELOAD of our .so into a program cannot put
# the sanitizer runtime first).
set -uo pipefail
BUILD=${BUILD:-build}
if [ -n "${SANITIZE:-}" ] && [ "$SANITIZE" != undefined ]; then
	echo "skip: fault_injection preloads our .so into a program (not possible under SANITIZE=$SANITIZE)"
	echo "0 passed, 0 failed"
	exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0

cat >"$tmp/oom.c" <<'PROG'
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
/* mode "limit": fill until NULL (1 MiB, then 64 B), check ENOMEM, free all,
   allocate again. mode "every": fresh 1 MiB blocks, count NULLs (ENOMEM)
   and successes after the first NULL. */
#define MAXP 400000
static void *p[MAXP];
int main(int argc, char **argv)
{
	int every = argc > 1 && strcmp(argv[1], "every") == 0;
	int n = 0, nulls = 0, after = 0;
	size_t sz = 1u << 20;
	if (every) {
		for (n = 0; n < 200; n++) {
			errno = 0;
			p[n] = malloc(sz);
			if (!p[n]) {
				if (errno != ENOMEM) { printf("FAIL errno %d\n", errno); return 1; }
				nulls++;
			} else {
				memset(p[n], 1, 4096);
				if (nulls) after++;
			}
		}
		for (int i = 0; i < n; i++) free(p[i]);
		printf("every: %d NULL (ENOMEM), %d successes after the first NULL\n", nulls, after);
		return nulls > 0 && after > 0 ? 0 : 1;
	}
	for (int round = 0; round < 2; round++) {
		int big = 0, small = 0;
		errno = 0;
		while (n < MAXP && (p[n] = malloc(sz))) { memset(p[n], 1, sz); n++; big++; }
		if (n == MAXP || errno != ENOMEM) { printf("FAIL big: n=%d errno=%d\n", n, errno); return 1; }
		errno = 0;
		while (n < MAXP && (p[n] = malloc(64))) { memset(p[n], 2, 64); n++; small++; }
		if (n == MAXP || errno != ENOMEM) { printf("FAIL small: n=%d errno=%d\n", n, errno); return 1; }
		printf("round %d: %d x 1 MiB, then %d x 64 B before ENOMEM\n", round, big, small);
		if (big < 8) { printf("FAIL: too few blocks before the limit\n"); return 1; }
		for (int i = 0; i < n; i++) free(p[i]);
		n = 0;
	}
	return 0;
}
PROG
if ! cc -O1 -o "$tmp/oom" "$tmp/oom.c" 2>"$tmp/cc.err"; then
	cat "$tmp/cc.err"
	echo "0 passed, 1 failed"
	exit 1
fi

check() { # check NAME expected-rc cmd...
	local name=$1 want=$2
	shift 2
	local out rc
	out=$(timeout 60 "$@" 2>&1)
	rc=$?
	echo "$name: $out" | head -n 4
	if [ "$rc" -eq "$want" ]; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		echo "FAIL: $name exited $rc (wanted $want)"
	fi
}

for a in adaptive lifetime; do
	lib="$BUILD/lib/liballocscope-$a.so"
	if [ ! -f "$lib" ]; then
		failed=$((failed + 1))
		echo "FAIL: $lib is missing"
		continue
	fi
	check "$a limit" 0 env LD_PRELOAD="$lib" ALLOCSCOPE_PAGESOURCE="fault:os,after=64M" "$tmp/oom" limit
	check "$a every" 0 env LD_PRELOAD="$lib" ALLOCSCOPE_PAGESOURCE="fault:os,every=7,skip=64" "$tmp/oom" every
	check "$a bad spec" 1 env LD_PRELOAD="$lib" ALLOCSCOPE_PAGESOURCE="fault:os,often=3" "$tmp/oom" every
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
