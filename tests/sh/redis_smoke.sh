#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Redis smoke test: each Redis scenario, briefly, under glibc and jemalloc,
# through the harness; checks status ok, the allocator identity, the key
# metrics, and that no redis-server is left behind.
set -uo pipefail
BUILD=${BUILD:-build}
BIN=$BUILD/bin
# A relative results folder on purpose: Redis changes directory, so every
# path the harness hands it must be made absolute (this once broke).
tmp=$BUILD/tmp/redis-smoke.$$
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; }

if [ ! -x "$BUILD/redis/redis-server" ]; then
	echo "FAIL $BUILD/redis/redis-server missing (make builds it)"
	echo "0 passed, 1 failed"
	exit 1
fi
before=$(pgrep -c -f "$BUILD/redis/redis-server" || true)

"$BIN/allocscope" run --alloc glibc,jemalloc --workload redis-ops,redis-frag,redis-test-suite \
	--param requests=2000 --param tests=SET+GET+LPUSH+LRANGE_100 --param keys=20000 --param rounds=1 \
	--param units=unit/type/incr --reps 1 --out "$tmp" >"$tmp/out" 2>&1
rc=$?
[ $rc -eq 0 ] && ok "allocscope run exits 0" || { bad "allocscope run exit $rc"; tail -n 20 "$tmp/out"; }

python3 - "$tmp/latest/results.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
want = {
    "redis-ops": ["ops_per_s", "SET_lat_p999_ns", "LRANGE_100_ops_per_s", "redis_used_memory_bytes"],
    "redis-frag": ["redis_rss_after_delete_bytes", "frag_peak"],
    "redis-test-suite": ["tests_passed", "tests_failed"],
}
bad = 0
for r in d["runs"]:
    name = f'{r["allocator"]} {r["workload"]}'
    problems = []
    if r["status"] != "ok":
        problems.append(f'status {r["status"]}: {r.get("error")}')
    for m in want[r["workload"]]:
        if r["metrics"].get(m) is None:
            problems.append(f"no {m}")
    lib = r.get("info", {}).get("malloc_lib", "")
    if r["allocator"] == "jemalloc" and "jemalloc" not in lib:
        problems.append(f"malloc_lib {lib!r}")
    if r["workload"] == "redis-test-suite" and r["metrics"].get("tests_failed"):
        problems.append(f'{r["metrics"]["tests_failed"]} Redis tests failed')
    print(("FAIL " if problems else "ok   ") + name + (": " + "; ".join(problems) if problems else ""))
    bad += bool(problems)
print(f"# {len(d['runs']) - bad} runs ok, {bad} bad")
sys.exit(1 if bad else 0)
PY
[ $? -eq 0 ] && ok "every Redis run ok with its metrics" || bad "Redis runs (see above)"

after=$(pgrep -c -f "$BUILD/redis/redis-server" || true)
[ "$after" -le "$before" ] && ok "no redis-server left behind" || bad "redis-server processes left: $after"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
