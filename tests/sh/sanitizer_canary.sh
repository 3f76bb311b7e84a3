#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Sanitizer canary: under `make asan|ubsan|tsan` ($SANITIZE set), prove the
# sanitizer is live, so a clean run means something: (1) the test binaries
# carry the sanitizer's instrumentation, and (2) a tiny program with a known
# bug (heap overflow / signed overflow / data race), compiled with exactly the
# compiler and flags of this build ($BUILD/.flags), is caught with the
# sanitizer's report and a non-zero exit. Without $SANITIZE there is nothing
# to check and the script says so.
set -uo pipefail
BUILD=${BUILD:-build}
SANITIZE=${SANITIZE:-}
if [ -z "$SANITIZE" ]; then
	echo "skip: sanitizer_canary runs only under make asan, ubsan or tsan"
	echo "0 passed, 0 failed"
	exit 0
fi
passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok   $*"; }
bad() { failed=$((failed + 1)); echo "FAIL $*"; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

case "$SANITIZE" in
address) sym=__asan_ want="AddressSanitizer: heap-buffer-overflow" ;;
undefined) sym=__ubsan_handle_ want="runtime error: signed integer overflow" ;;
thread) sym=__tsan_ want="ThreadSanitizer: data race" ;;
*)
	echo "skip: no canary for SANITIZE=$SANITIZE"
	echo "0 passed, 0 failed"
	exit 0
	;;
esac

for b in test-unit test-stress llfree-crash-test; do
	f="$BUILD/bin/$b"
	if [ ! -x "$f" ]; then
		bad "$f is missing"
	elif nm "$f" >"$tmp/nm" 2>/dev/null; grep -q "$sym" "$tmp/nm"; then
		ok "$b is instrumented ($sym*)"
	else
		bad "$b has no $sym* symbols: not built with -fsanitize=$SANITIZE"
	fi
done

cat >"$tmp/canary.c" <<'PROG'
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
int canary_shared;
static void *racer(void *arg)
{
	(void)arg;
	for (int i = 0; i < 100000; i++)
		canary_shared++;
	return NULL;
}
int main(int argc, char **argv)
{
	(void)argv;
	volatile int i = argc + 15; /* 16 */
	char *p = malloc(16);
	if (!p)
		return 1;
	p[0] = 1;
	volatile int big = 2147483647;
	int s = big + argc; /* signed overflow (UBSan) */
	int r = p[i];       /* heap overflow by one (ASan) */
	pthread_t a, b;     /* unsynchronised increments (TSan) */
	pthread_create(&a, NULL, racer, NULL);
	pthread_create(&b, NULL, racer, NULL);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	free(p);
	printf("%d %d %d\n", s, r, canary_shared);
	return 0;
}
PROG
read -r -a flags <"$BUILD/.flags"
# The build's own flags minus -Werror: the canary is meant to be wrong.
cflags=()
for f in "${flags[@]}"; do [ "$f" = -Werror ] || cflags+=("$f"); done
if "${cflags[@]}" -w "$tmp/canary.c" -o "$tmp/canary" 2>"$tmp/cc.err"; then
	out=$("$tmp/canary" 2>&1)
	rc=$?
	if [ "$rc" -ne 0 ] && [[ "$out" == *"$want"* ]]; then
		ok "canary caught: $want (exit $rc)"
	else
		bad "canary not caught (exit $rc): $(echo "$out" | head -3)"
	fi
else
	bad "cannot compile the canary with the build flags: $(head -3 "$tmp/cc.err")"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
