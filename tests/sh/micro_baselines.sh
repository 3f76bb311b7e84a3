#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Every malloc microbenchmark (workloads/micro/, build/bin/micro-*) runs
# briefly under every baseline allocator, loaded by LD_PRELOAD exactly as the
# runner does: glibc (no preload), jemalloc, tcmalloc (minimal), mimalloc.
# Each run must end in "status ok", name the intended library in
# "info malloc_lib", and print the workload's expected metrics. Then checks
# that the checkers can fail: conformance must report the violations of a
# deliberately broken calloc shim, every workload's data check must catch a
# malloc that hands one block to two owners, and a bad parameter must exit 2.
# A missing baseline library is a failure (scripts/install-deps.sh installs
# them).
set -uo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
BIN=$BUILD/bin
TMP=$BUILD/tmp/micro_baselines
mkdir -p "$TMP"
passed=0
failed=0
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL $*"; }

D=/usr/lib/x86_64-linux-gnu
declare -A LIBS=(
	[glibc]=""
	[jemalloc]=$D/libjemalloc.so.2
	[tcmalloc]=$D/libtcmalloc_minimal.so.4
	[mimalloc]=$D/libmimalloc.so.2
)
ALLOCS=(glibc jemalloc tcmalloc mimalloc)
# A sanitizer build brings its own malloc, which must come first: preloading
# another allocator (or a shim) under it cannot work. Then only the plain
# runs are checked, without the malloc_lib check.
SAN=${SANITIZE:-}
if [ -n "$SAN" ]; then
	echo "note: SANITIZE=$SAN build: the LD_PRELOAD baselines and shims are skipped"
	ALLOCS=(glibc)
	export ASAN_OPTIONS=${ASAN_OPTIONS:-allocator_may_return_null=1}
	export TSAN_OPTIONS=${TSAN_OPTIONS:-allocator_may_return_null=1}
fi

# workload | threads | small parameters | metrics that must be present
COMMON="ops_per_s wall_s lat_p99_ns lat_stddev_ns rss_peak_bytes"
RUNS=(
	"larson|2|seconds=0.1 chunks=500 rounds=10|$COMMON frag_peak threads_created"
	"xmalloc-test|1|seconds=0.1 batch=256|$COMMON frag_peak"
	"cache-scratch|2|iterations=100 repetitions=2000|$COMMON writes_per_s"
	"cache-thrash|2|iterations=100 repetitions=2000|$COMMON writes_per_s"
	"threadtest|2|iterations=200 objects=2000|$COMMON frag_peak"
	"mstress|2|scale=20 rounds=4|$COMMON frag_peak"
	"glibc-thread|2|seconds=0.1|$COMMON frag_peak"
	"fast-path|1|pairs=200000 batches=50|$COMMON pair_ns batch_ns"
	"lifetime-mix|2|requests=4000 phases=4 sessions_high=500 cache_high=500|$COMMON frag_peak"
	"phase-change|2|ops=20000|$COMMON phase.shared.ops_per_s"
	"thread-churn|2|spawns=40 allocs=50|$COMMON threads_per_s"
	"conformance|2|align_calls=100 big_align_calls=4 calls=200|$COMMON violations_total checks_total"
)

missing=0
for a in "${ALLOCS[@]}"; do
	lib=${LIBS[$a]}
	if [ -n "$lib" ] && [ ! -e "$lib" ]; then
		bad "$a: $lib is missing (run scripts/install-deps.sh)"
		missing=1
	fi
done

for r in "${RUNS[@]}"; do
	IFS='|' read -r wl threads params metrics <<<"$r"
	prog=$BIN/micro-$wl
	if [ ! -x "$prog" ]; then
		bad "$wl: $prog is not built"
		continue
	fi
	args=(--threads "$threads" --timeline-ms 5)
	for p in $params; do args+=(--param "$p"); done
	for a in "${ALLOCS[@]}"; do
		lib=${LIBS[$a]}
		[ -n "$lib" ] && [ ! -e "$lib" ] && continue
		out=$TMP/$wl.$a.out
		LD_PRELOAD=$lib timeout 60 "$prog" "${args[@]}" >"$out" 2>"$TMP/$wl.$a.err"
		rc=$?
		why=""
		[ $rc -eq 0 ] || why="exit status $rc"
		tail -n 1 "$out" | grep -qx "status ok" || why="$why; last line '$(tail -n 1 "$out")'"
		served=$(sed -n 's/^info malloc_lib //p' "$out")
		want=${lib:-libc.so.6}
		if [ -z "$SAN" ]; then
			case $served in
			*"$(basename "$want")") ;;
			*) why="$why; malloc served by '$served', expected $want" ;;
			esac
		fi
		for m in $metrics; do
			grep -Eq "^metric $m [0-9.e+-]+$" "$out" || why="$why; no numeric metric $m"
		done
		if [ -z "$why" ]; then
			ok
		else
			bad "$wl under $a:${why#;} (output in $out)"
		fi
	done
done

if [ -n "$SAN" ]; then
	echo "$passed passed, $failed failed"
	[ $failed -eq 0 ]
	exit
fi

# Conformance must see a broken allocator: a calloc that neither zeroes nor
# checks for overflow (malloc and free stay glibc's, so the run is safe).
shim=$TMP/badcalloc.so
cat >"$TMP/badcalloc.c" <<'EOF'
#include <stdlib.h>
#include <string.h>
extern void *__libc_malloc(size_t);
void *calloc(size_t n, size_t m)
{
	void *p = __libc_malloc(n * m);
	if (p && n * m > 0)
		memset(p, 0x77, 1); /* not zeroed */
	return p;
}
EOF
if cc -shared -fPIC -O1 -o "$shim" "$TMP/badcalloc.c" 2>"$TMP/badcalloc.err"; then
	out=$(LD_PRELOAD=$shim "$BIN/micro-conformance" --param align_calls=10 --param big_align_calls=1 \
		--param calls=50 2>&1)
	zero=$(echo "$out" | sed -n 's/^metric violations.calloc.zero //p')
	ovf=$(echo "$out" | sed -n 's/^metric violations.calloc.overflow //p')
	if echo "$out" | grep -qx "status ok" && [ "${zero:-0}" != 0 ] && [ "${ovf:-0}" != 0 ] &&
		echo "$out" | grep -q "^info violation calloc.zero"; then
		ok
	else
		bad "conformance did not report the broken calloc (calloc.zero=${zero:-none}, calloc.overflow=${ovf:-none})"
	fi
else
	bad "cannot compile the calloc shim: $(head -3 "$TMP/badcalloc.err")"
fi

# A broken allocator must fail loudly: this one hands every 5000th malloc the
# block of the previous call (two live owners of one block) and never frees.
cat >"$TMP/dupmalloc.c" <<'EOF'
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
static char *base;
static size_t off;
static void *last;
static unsigned long calls;
void *malloc(size_t n)
{
	if (!base)
		base = mmap(0, (size_t)8 << 30, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	char *p = base + __atomic_fetch_add(&off, (n + 31) & ~(size_t)15, __ATOMIC_RELAXED) + 16;
	*(size_t *)(p - 16) = n;
	if (__atomic_add_fetch(&calls, 1, __ATOMIC_RELAXED) % 5000 == 0 && last)
		return last;
	last = p;
	return p;
}
void free(void *p) { (void)p; }
void *calloc(size_t a, size_t b) { void *p = malloc(a * b); if (p) memset(p, 0, a * b); return p; }
void *realloc(void *p, size_t n)
{
	void *q = malloc(n);
	if (p && q) {
		size_t o = *(size_t *)((char *)p - 16);
		memcpy(q, p, o < n ? o : n);
	}
	return q;
}
EOF
if cc -shared -fPIC -O1 -o "$TMP/dupmalloc.so" "$TMP/dupmalloc.c" 2>"$TMP/dupmalloc.err"; then
	for r in "larson|seconds=0.2" "xmalloc-test|seconds=0.2" "threadtest|iterations=20" \
		"mstress|rounds=3" "glibc-thread|seconds=0.2" "fast-path|pairs=100000" \
		"lifetime-mix|requests=5000" "phase-change|ops=50000" "thread-churn|spawns=300"; do
		wl=${r%%|*}
		[ -x "$BIN/micro-$wl" ] || continue
		LD_PRELOAD=$TMP/dupmalloc.so "$BIN/micro-$wl" --threads 2 --param "${r#*|}" \
			>"$TMP/$wl.dup.out" 2>/dev/null
		rc=$?
		if [ $rc -eq 1 ] && tail -n 1 "$TMP/$wl.dup.out" | grep -q "^status error .*corrupted"; then
			ok
		else
			bad "$wl did not detect blocks handed out twice (exit $rc, last line '$(tail -n 1 "$TMP/$wl.dup.out")')"
		fi
	done
else
	bad "cannot compile the duplicating malloc shim: $(head -3 "$TMP/dupmalloc.err")"
fi

# Bad input: exit status 2 with the reason.
if [ -x "$BIN/micro-larson" ]; then
	err=$("$BIN/micro-larson" --param max_size=4 --param min_size=8 2>&1 >/dev/null)
	rc=$?
	if [ $rc -eq 2 ] && echo "$err" | grep -q "max_size"; then ok; else bad "larson bad max_size: rc=$rc '$err'"; fi
fi

echo "$passed passed, $failed failed"
[ $failed -eq 0 ] && [ $missing -eq 0 ]
