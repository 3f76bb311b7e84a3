#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# End-to-end runs of `allocscope run` with the selftest workload (and a frame
# workload when framebench is built): results.json against the schema, every
# status (ok, crash, timeout, error, oom), a preload that fails to take
# effect, a synthetic two-node topology, perf nulls, plan/shard/merge.
set -uo pipefail
# Under ASan/TSan the sanitizer's runtime owns malloc and must come first:
# their object-allocator runs check that malloc resolves to the intended library, and a sanitized workload's malloc is the sanitizer's. UBSan builds run them.
if [ -n "${SANITIZE:-}" ] && [ "$SANITIZE" != undefined ]; then
	echo "skip: needs an unsanitized (or UBSan) build, not SANITIZE=$SANITIZE"
	echo "0 passed, 0 failed"
	exit 0
fi
BUILD=${BUILD:-build}
A="$BUILD/bin/allocscope"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0
ok() { passed=$((passed + 1)); }
bad() {
	failed=$((failed + 1))
	echo "FAIL: $*"
}

# pycheck DIR 'python expression over d (the document) and runs' MESSAGE
pycheck() {
	if python3 - "$1/latest/results.json" "$2" <<'PY'; then ok; else bad "$3"; fi
import json, sys
d = json.load(open(sys.argv[1]))
runs = d["runs"]
ok = eval("(" + sys.argv[2] + ")")
if not ok:
    print(json.dumps(runs, indent=1)[:3000])
sys.exit(0 if ok else 1)
PY
}

Q=(--events cycles,page-faults --timeline-ms 5)

# 1. Smoke: one micro workload under glibc; schema fields; summary.csv; latest.
if "$A" run --alloc glibc --workload selftest --param ops=20000 --threads 1,2 --out "$tmp/smoke" "${Q[@]}" \
	>"$tmp/smoke.out" 2>"$tmp/smoke.err"; then ok; else bad "smoke run exit $?: $(tail -3 "$tmp/smoke.err")"; fi
[ -L "$tmp/smoke/latest" ] && ok || bad "results/latest is not a link"
head -1 "$tmp/smoke/latest/summary.csv" | grep -q '^# allocscope run --alloc glibc' && ok || bad "summary.csv has no # command line"
grep -q 'ops_per_s' "$tmp/smoke.out" && ok || bad "no summary table on stdout"
grep -q '\[2/2\] glibc selftest threads=2' "$tmp/smoke.err" && ok || bad "no progress lines on stderr"
pycheck "$tmp/smoke" 'd["schema_version"] == 1 and d["context"]["simulated"] is False and d["context"]["seed"] == 42
 and "glibc" in d["context"]["versions"] and d["context"]["command"].startswith("allocscope run")
 and len(runs) == 2 and all(r["status"] == "ok" for r in runs) and [r["threads"] for r in runs] == [1, 2]
 and all(r["metrics"]["ops_per_s"] > 0 and r["metrics"]["lat_p50_ns"] > 0 for r in runs)
 and all(r["info"]["malloc_lib"].endswith("libc.so.6") for r in runs)
 and all(r["params"]["ops"] == 20000 for r in runs)
 and all(r["metrics"]["perf.page-faults"] > 0 for r in runs)
 and all((r["metrics"]["perf.cycles"] is None) == ("cycles" in r.get("perf_unsupported", {})) for r in runs)
 and all(len(r["timeline"]["t_ms"]) == len(r["timeline"]["rss_bytes"]) > 0 for r in runs)' \
	"smoke results.json fields"

# 2. Every status, and a preload that does not take effect.
"$A" run --alloc glibc,preload:/nonexistent/libnone.so,preload:/lib/x86_64-linux-gnu/libm.so.6 \
	--workload selftest --param mode=ok,crash,hang,fail,grow --param ops=1000 --timeout 1 --mem-limit 64M \
	--out "$tmp/st" "${Q[@]}" >/dev/null 2>"$tmp/st.err"
[ $? -eq 1 ] && ok || bad "a run with failures must exit 1"
pycheck "$tmp/st" '{(r["allocator"], r["params"]["mode"]): r["status"] for r in runs} == {
 **{(a, m): s for a in ["glibc", "preload:/nonexistent/libnone.so", "preload:/lib/x86_64-linux-gnu/libm.so.6"]
    for m, s in [("crash", "crash"), ("hang", "timeout"), ("fail", "error"), ("grow", "oom")]},
 ("glibc", "ok"): "ok", ("preload:/nonexistent/libnone.so", "ok"): "error",
 ("preload:/lib/x86_64-linux-gnu/libm.so.6", "ok"): "error"}
 and all("preload did not take effect" in r["error"] for r in runs if r["params"]["mode"] == "ok" and r["allocator"] != "glibc")
 and all(r["error"] for r in runs if r["status"] != "ok")' "statuses and preload verification"

# 3. Synthetic two-node topology: placement, nodes, simulated flag.
"$A" run --alloc glibc --workload selftest --param ops=2000 --threads 4 --pin scatter --membind node=1 \
	--topology 'synthetic:"package:2 numa:1 core:8 pu:1"' --out "$tmp/topo" --events none >/dev/null 2>&1 &&
	ok || bad "synthetic topology run failed"
pycheck "$tmp/topo" 'd["context"]["simulated"] is True and d["context"]["topology"]["numa_nodes"] == 2
 and runs[0]["status"] == "ok" and runs[0]["nodes"] == [0, 1, 0, 1]
 and runs[0]["placement_virtual"] == [0, 8, 1, 9] and len(runs[0]["placement"]) == 4
 and d["context"]["runner"]["membind"] == "node"' "synthetic topology placement"

# 4. plan + shard + merge reproduce the whole matrix.
"$A" plan --alloc glibc,jemalloc --workload selftest --threads 1,2 --reps 2 >"$tmp/plan" 2>/dev/null
[ "$(wc -l <"$tmp/plan")" -eq 8 ] && ok || bad "plan should list 8 cells"
for i in 0 1; do
	"$A" run --alloc glibc,jemalloc --workload selftest --param ops=2000 --threads 1,2 --reps 2 --shard $i/2 \
		--out "$tmp/sh" --events none >/dev/null 2>&1 || bad "shard $i failed"
done
"$A" merge "$tmp"/sh/*shard0-of-2* "$tmp"/sh/*shard1-of-2* --out "$tmp/merged" 2>/dev/null && ok || bad "merge failed"
pycheck "$tmp/merged" 'len(runs) == 8 and len(d["context"]["merged_from"]) == 2
 and sorted((r["allocator"], r["threads"], r["rep"]) for r in runs) == sorted((a, t, r) for a in ["glibc", "jemalloc"] for t in [1, 2] for r in [0, 1])' \
	"merged shards"
"$A" merge "$tmp"/sh/*shard0-of-2* "$tmp"/sh/*shard0-of-2* --out "$tmp/merged2" 2>"$tmp/dup.err"
[ $? -eq 2 ] && grep -q "is already in" "$tmp/dup.err" && ok || bad "merging a folder twice must be refused"

# 5. A frame workload, when framebench is built.
if [ -x "$BUILD/bin/framebench" ]; then
	"$A" run --alloc llfree,buddy --workload bulk --param frames=65536 --threads 1 --out "$tmp/frame" \
		--events none >/dev/null 2>"$tmp/frame.err" && ok || bad "frame run failed: $(tail -3 "$tmp/frame.err")"
	pycheck "$tmp/frame" 'all(r["status"] == "ok" and r["metrics"]["alloc_ns"] > 0 for r in runs)
	 and [r["allocator"] for r in runs] == ["llfree", "buddy"]' "frame workload results"
else
	echo "skip: $BUILD/bin/framebench is not built; frame workload smoke run skipped"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
