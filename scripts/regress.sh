#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make regress: run configs/ci.ini afresh and compare it with the committed
# baseline (results/baseline/), judging timings against reference
# allocators of the same run. Exit 1 on a regression.
#   --update   replace results/baseline with the fresh run (deliberately)
#   --exact-only  compare deterministic metrics only (what make test runs)
set -euo pipefail
BUILD=${BUILD:-build}
cd "$(dirname "$0")/.."
update=0
extra=()
for a in "$@"; do
	case "$a" in
	--update) update=1 ;;
	--exact-only) extra+=(--exact-only) ;;
	*) echo "regress.sh: unknown option '$a' (known: --update, --exact-only)" >&2; exit 2 ;;
	esac
done
out=results/regress
mkdir -p "$out"
"$BUILD/bin/allocscope" bench --config configs/ci.ini --out "$out" >"$out/last-run.txt" ||
	{ tail -n 30 "$out/last-run.txt"; echo "regress: the fresh run had failures (see above)" >&2; exit 1; }
fresh=$(readlink -f "$out/latest")
if [ "$update" = 1 ]; then
	rm -rf results/baseline
	mkdir -p results/baseline
	cp "$fresh/results.json" "$fresh/summary.csv" results/baseline/
	echo "regress: results/baseline replaced by $fresh"
	exit 0
fi
if [ ! -f results/baseline/results.json ]; then
	echo "regress: no results/baseline/results.json; make one with make regress-update" >&2
	exit 2
fi
"$BUILD/bin/allocscope" compare results/baseline "$fresh" --ref glibc,buddy-nopcp "${extra[@]}"
