#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Regression tracking in CI, without crying wolf on a noisy machine:
#  1. a fresh run of the deterministic part of configs/ci.ini (the frag
#     workload at one thread, metadata bytes) compared with results/baseline
#     on deterministic metrics only;
#  2. an injected regression (a doctored result: llfree's bulk alloc_ns made
#     40% slower) must fail compare with exit 1 and a REGRESSED row, also
#     when judged against buddy-nopcp of the same run;
#  3. compare of the baseline with itself passes;
#  4. export --format gbench has Google Benchmark's JSON shape;
#  5. bad input to compare/history/export exits 2.
set -uo pipefail
BUILD=${BUILD:-build}
A=$BUILD/bin/allocscope
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; }
base=results/baseline
if [ ! -f "$base/results.json" ]; then
	echo "FAIL no $base/results.json (make regress-update creates it)"
	echo "0 passed, 1 failed"
	exit 1
fi

"$A" run --config configs/ci.ini --alloc llfree,nbbs,buddy,buddy-nopcp --workload frag,bulk --threads 1 \
	--reps 1 --out "$tmp/fresh" >"$tmp/run.txt" 2>&1
[ $? -eq 0 ] && ok "deterministic CI run" || { bad "deterministic CI run"; tail -n 20 "$tmp/run.txt"; }
"$A" compare "$base" "$tmp/fresh/latest" --exact-only >"$tmp/cmp.txt" 2>&1
rc=$?
if [ $rc -eq 0 ] && grep -q ' 0 regressed' "$tmp/cmp.txt" && ! grep -q ' 0 unchanged' "$tmp/cmp.txt"; then
	ok "deterministic metrics match the baseline ($(tail -n 1 "$tmp/cmp.txt"))"
else
	bad "deterministic metrics differ from the baseline (exit $rc)"
	cat "$tmp/cmp.txt"
fi

# Both sides doctored from the baseline: llfree's bulk alloc_ns made steady
# (33.0-34.0 ns) in a base copy, and 40% slower in the new copy, so the
# check does not depend on how noisy the machine was when the baseline ran.
python3 - "$base/results.json" "$tmp/base.json" "$tmp/doctored.json" <<'PY'
import json, sys
steady = [33.0, 33.5, 34.0, 33.2, 33.8]
for out, factor in ((sys.argv[2], 1.0), (sys.argv[3], 1.4)):
    d = json.load(open(sys.argv[1]))
    n = 0
    for r in d["runs"]:
        if r["allocator"] == "llfree" and r["workload"] == "bulk" and r["status"] == "ok" \
                and "alloc_ns" in r["metrics"]:
            r["metrics"]["alloc_ns"] = steady[r["rep"] % 5] * factor
            n += 1
    assert n, "baseline has no llfree bulk alloc_ns"
    json.dump(d, open(out, "w"))
PY
"$A" compare "$tmp/base.json" "$tmp/doctored.json" >"$tmp/inj.txt" 2>&1
rc=$?
[ $rc -eq 1 ] && grep -q '^REGRESSED  llfree .*bulk .*alloc_ns' "$tmp/inj.txt" &&
	ok "injected 40% slowdown of llfree bulk alloc_ns is flagged (exit 1)" ||
	{ bad "injected regression not flagged (exit $rc)"; cat "$tmp/inj.txt"; }
grep '^REGRESSED' "$tmp/inj.txt" | head -n 4
"$A" compare "$tmp/base.json" "$tmp/doctored.json" --ref buddy-nopcp >"$tmp/inj2.txt" 2>&1
[ $? -eq 1 ] && grep -q '/buddy-nopcp' "$tmp/inj2.txt" && ok "flagged when judged against buddy-nopcp of the same run" ||
	{ bad "not flagged with --ref"; cat "$tmp/inj2.txt"; }
"$A" compare "$base" "$base" >"$tmp/self.txt" 2>&1
[ $? -eq 0 ] && ok "baseline vs itself: no regression" || bad "baseline vs itself"

"$A" export --format gbench "$base" --out "$tmp/gb.json"
python3 - "$tmp/gb.json" <<'PY' && ok "export has the Google Benchmark JSON shape" || bad "export shape"
import json, sys
d = json.load(open(sys.argv[1]))
ctx = d["context"]
for k in ("date", "host_name", "executable", "num_cpus", "library_build_type"):
    assert k in ctx, k
assert d["benchmarks"], "no benchmarks"
names = set()
for b in d["benchmarks"]:
    for k in ("name", "run_name", "run_type", "iterations", "real_time", "cpu_time", "time_unit",
              "threads", "repetitions", "family_index"):
        assert k in b, (k, b.get("name"))
    assert b["run_type"] in ("iteration", "aggregate")
    assert b["time_unit"] in ("ns", "us", "ms", "s")
    assert isinstance(b["real_time"], (int, float)) and b["real_time"] >= 0
    if b["run_type"] == "aggregate":
        assert b["aggregate_name"] in ("mean", "median", "stddev", "cv")
    names.add(b["run_name"])
assert any(b["run_type"] == "aggregate" for b in d["benchmarks"])
print(f"# {len(d['benchmarks'])} entries, {len(names)} families")
PY

for args in "compare $base" "compare $base $base extra" "compare $base /nonexistent" \
	"compare $base $base --threshold abc" "compare $base $base --bogus" "export --format csv $base" \
	"export $base" "history $base" "history /nonexistent --metric x" "export --format gbench /etc/passwd"; do
	# shellcheck disable=SC2086
	"$A" $args >/dev/null 2>"$tmp/err"
	rc=$?
	[ $rc -eq 2 ] && [ -s "$tmp/err" ] && ok "exit 2: $args ($(head -c 80 "$tmp/err"))" || bad "'$args' exit $rc"
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
