#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Smoke test of `make figures` (plots/figures.sh, plots/report.py): two tiny
# configs (frame: bulk and frag; object: lifetime-mix and phase-change, a few
# fast cells) run through figures.sh into a temporary results root; then
# every figure those workloads feed must be a valid PNG (magic bytes, size)
# with an SVG twin and non-empty plotted data, the data must equal what
# results.json holds, the report must mention every section (figure or skip
# reason, e.g. NBBS, which did not run), report.html must embed the PNGs,
# and bad input must exit 2. Prints "N passed, N failed" last.
set -uo pipefail
# Under ASan/TSan the sanitizer's runtime owns malloc and must come first:
# their object-allocator runs check that malloc resolves to the intended library, and a sanitized workload's malloc is the sanitizer's. UBSan builds run them.
if [ -n "${SANITIZE:-}" ] && [ "$SANITIZE" != undefined ]; then
	echo "skip: needs an unsanitized (or UBSan) build, not SANITIZE=$SANITIZE"
	echo "0 passed, 0 failed"
	exit 0
fi
cd "$(dirname "$0")/../.." || exit 2
BUILD=${BUILD:-build}
AS=$BUILD/bin/allocscope
passed=0
failed=0
ok() { passed=$((passed + 1)); }
fail() {
	echo "FAIL $*"
	failed=$((failed + 1))
}
finish() {
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
	exit $?
}

for tool in gnuplot python3; do
	command -v $tool >/dev/null || { fail "$tool is not installed"; finish; }
done
[ -x "$AS" ] || { fail "$AS not built"; finish; }

tmp=$(mktemp -d /tmp/figures-smoke.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

cat >"$tmp/frame.ini" <<'EOF'
[run]
alloc = llfree,buddy
reps = 2
threads = 1,2
events = none
timeline_ms = 0
[suite.frame]
workloads = bulk,frag
[params]
frames = 16384
[params.frag]
rounds = 12
EOF
cat >"$tmp/object.ini" <<'EOF'
[run]
alloc = glibc,adaptive,adaptive-static,lifetime,lifetime-none
reps = 2
threads = 2
events = none
timeline_ms = 2
[suite.object]
workloads = lifetime-mix,phase-change
[params.lifetime-mix]
requests = 3000
phases = 2
[params.phase-change]
ops = 20000
EOF

log=$tmp/figures.log
if BUILD=$BUILD FIG_CONFIGS="$tmp/frame.ini $tmp/object.ini" FIG_OUT=$tmp/out \
	bash plots/figures.sh >"$log" 2>&1; then
	ok
else
	fail "figures.sh exited $?: $(tail -n 5 "$log")"
	finish
fi
dir=$(cd "$tmp/out/latest" 2>/dev/null && pwd -P)
[ -n "$dir" ] && [ -f "$dir/results.json" ] && ok || { fail "no results folder in $tmp/out/latest"; finish; }
grep -q '^figures: \[1/2\] frame' "$log" && ok || fail "no progress line '[1/2] frame' in the output"

figs="llfree_scaling_o0 llfree_frag llfree_metadata llama_timeline_lifetime_mix llama_frag
      llama_accuracy adaptive_claims adaptive_phases micro_throughput micro_rss"
for f in $figs; do
	png=$dir/figures/$f.png
	if [ ! -f "$png" ]; then
		fail "$f.png was not produced"
		continue
	fi
	magic=$(head -c 8 "$png" | od -An -tx1 | tr -d ' \n')
	[ "$magic" = "89504e470d0a1a0a" ] && ok || fail "$f.png: not a PNG (magic $magic)"
	size=$(stat -c %s "$png")
	[ "$size" -gt 8000 ] && ok || fail "$f.png: only $size bytes"
	grep -q '<svg' "$dir/figures/$f.svg" 2>/dev/null && ok || fail "$f.svg missing or not SVG"
	# Plotted data present: some .dat of the figure has a numeric data line.
	# (grep reads the files itself: `cat | grep -q` would die of SIGPIPE
	# under pipefail when grep stops early on a long file.)
	if grep -Eqh '^("[^"]*" )?[0-9.e+-]+ [0-9.e+-]+' "$dir"/figures/data/"$f".p*.dat 2>/dev/null; then
		ok
	else
		fail "$f: no numeric data in figures/data/$f.p*.dat"
	fi
	grep -q "figures/$f.png" "$dir/report.md" && ok || fail "report.md does not show $f"
done

# The data behind a figure is the measurement: the metadata bar of llfree
# must be the median metadata_bytes_per_gib of llfree's runs.
want=$(python3 - "$dir/results.json" <<'EOF'
import json, statistics, sys
d = json.load(open(sys.argv[1]))
v = [r["metrics"]["metadata_bytes_per_gib"] for r in d["runs"]
     if r["allocator"] == "llfree" and r["status"] == "ok"
     and r["metrics"].get("metadata_bytes_per_gib") is not None]
print("%.10g" % statistics.median(v) if v else "none")
EOF
)
got=$(grep '^"llfree"' "$dir/figures/data/llfree_metadata.p0.dat" | awk '{print $2}')
[ -n "$got" ] && [ "$got" = "$want" ] && ok || fail "llfree metadata bar $got, results.json median $want"

# Every section is in the report, with its figures or a skip reason.
for title in "LLFree: scaling" "LLFree: fragmentation" "Metadata bytes per GiB" "NBBS:" \
	"LLAMA: fragmentation over time" "LLAMA: peak and time-averaged" \
	"LLAMA: lifetime prediction accuracy" "Adaptive per-thread tuning" \
	"Adaptive: behaviour" "Micro benchmarks and Redis"; do
	grep -q "^## $title" "$dir/report.md" && ok || fail "report.md has no section '$title'"
done
awk '/^## NBBS/{s=1} s&&/^\*\*Skipped:\*\* no ok runs/{f=1} /^## LLAMA/{s=0} END{exit !f}' \
	"$dir/report.md" && ok || fail "report.md: the NBBS section (not run) has no skip reason"
grep -q '| L1 | \[V\]' "$dir/report.md" && ok || fail "report.md: no L1 claim row with its [V] tag"
grep -q '| P2 | \[none\]' "$dir/report.md" && ok || fail "report.md: P2 is not labelled [none]"
grep -q 'Machine: .*cores' "$dir/report.md" && ok || fail "report.md names no machine"
n=$(grep -o 'data:image/png;base64,iVBORw0KGgo' "$dir/report.html" | wc -l)
[ "$n" -ge 10 ] && ok || fail "report.html embeds $n PNGs, want >= 10"

# Bad input: exit 2 with a reason.
RESULTS=$tmp/nowhere bash plots/figures.sh >"$tmp/bad.log" 2>&1
rc=$?
[ $rc -eq 2 ] && grep -q 'no results.json' "$tmp/bad.log" && ok || fail "RESULTS=missing: exit $rc"
python3 -B plots/report.py "$tmp" >"$tmp/bad2.log" 2>&1
rc=$?
[ $rc -eq 2 ] && ok || fail "report.py on a folder without results.json: exit $rc"
FIG_CONFIGS=$tmp/none.ini bash plots/figures.sh >"$tmp/bad3.log" 2>&1
rc=$?
[ $rc -eq 2 ] && ok || fail "FIG_CONFIGS=missing file: exit $rc"

# RESULTS=dir re-renders without running anything.
rm -rf "$dir/figures" "$dir/report.md"
if RESULTS=$tmp/out bash plots/figures.sh >"$tmp/rerender.log" 2>&1 &&
	[ -f "$dir/figures/llfree_frag.png" ] && [ -f "$dir/report.md" ]; then
	ok
else
	fail "RESULTS=root did not re-render: $(tail -n 3 "$tmp/rerender.log")"
fi
finish
