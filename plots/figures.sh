#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make figures: reproduce the papers' figures and claim tables. Runs the paper
# configs with allocscope (one results folder each), merges them into one
# results/<run-id>-merged/ folder, then plots/report.py renders PNG and SVG
# into <folder>/figures/ and writes <folder>/report.md and report.html.
#
# Environment (all optional; `make figures VAR=...` passes them through):
#   BUILD=dir        build folder holding bin/allocscope (default build)
#   RESULTS=dir      skip the runs: render from this results folder (one with
#                    results.json, or a results root whose latest/ is used)
#   FIG_CONFIGS="a.ini b.ini"  configs to run (default: the four paper configs)
#   FIG_ARGS="..."   extra allocscope run options for every config, e.g.
#                    "--threads 1,2,4,8 --reps 5 --param frames=33554432"
#   FIG_OUT=dir      results root for the new folder (default results)
#   FIG_REF=name     reference allocator of the normalised figures (glibc)
# Exit status: 0 when the report was written, 2 on bad input, 1 otherwise.
set -u -o pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BUILD=${BUILD:-build}
AS=$BUILD/bin/allocscope
ROOT=${FIG_OUT:-results}
CONFIGS=${FIG_CONFIGS:-configs/llfree-paper.ini configs/nbbs-paper.ini configs/llama-paper.ini configs/adaptive-claims.ini}
FIG_ARGS=${FIG_ARGS:-}

say() { echo "figures: $*" >&2; }
die() { echo "figures: $2" >&2; exit "$1"; }

command -v gnuplot >/dev/null || die 2 "gnuplot is not installed (apt-get install gnuplot-nox)"
command -v python3 >/dev/null || die 2 "python3 is not installed"

render() {
	local dir=$1
	say "rendering figures and the report for $dir"
	python3 -B "$here/report.py" "$@" || return $?
	say "report: $dir/report.md and $dir/report.html; figures in $dir/figures/"
}

if [ -n "${RESULTS:-}" ]; then
	dir=$RESULTS
	[ -f "$dir/results.json" ] || { [ -f "$dir/latest/results.json" ] && dir=$dir/latest; }
	[ -f "$dir/results.json" ] || die 2 "RESULTS=$RESULTS: no results.json there (nor in latest/)"
	dir=$(cd "$dir" && pwd -P)
	# A folder whose parts allocscope merge refused keeps them in parts/:
	# their runs belong to the report too.
	extra=()
	if ! grep -q '"merged_from"' "$dir/results.json"; then
		for p in "$dir"/parts/*/; do
			[ -f "$p/results.json" ] && extra+=("${p%/}")
		done
	fi
	render "$dir" "${extra[@]}"
	exit $?
fi

[ -x "$AS" ] || die 2 "$AS is missing: build it first (make BUILD=$BUILD all)"
for cfg in $CONFIGS; do
	[ -f "$cfg" ] || die 2 "config $cfg does not exist"
done

mkdir -p "$ROOT" || die 1 "cannot create $ROOT"
parts_root=$ROOT/.figures-parts-$$
mkdir -p "$parts_root" || die 1 "cannot create $parts_root"
# Until the folders are moved next to the report, keep them (and say where)
# if anything fails: minutes of runs are not thrown away.
trap '[ -d "$parts_root" ] && say "results so far are kept in $parts_root"' EXIT
parts=()
n=$(echo $CONFIGS | wc -w)
i=0
failed_runs=0
start=$(date +%s)
load_start=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)
for cfg in $CONFIGS; do
	i=$((i + 1))
	name=$(basename "$cfg" .ini)
	say "[$i/$n] $name: allocscope run --config $cfg $FIG_ARGS (elapsed $(( $(date +%s) - start )) s)"
	# shellcheck disable=SC2086  # FIG_ARGS is a list of options on purpose
	"$AS" run --config "$cfg" --out "$parts_root/$name" $FIG_ARGS
	rc=$?
	if [ $rc -eq 2 ]; then
		die 2 "$cfg: allocscope refused the configuration (see above)"
	elif [ $rc -ne 0 ]; then
		say "[$i/$n] $name: some runs did not finish ok; the report lists them"
		failed_runs=1
	fi
	if [ -L "$parts_root/$name/latest" ]; then
		parts+=("$(cd "$parts_root/$name/latest" && pwd -P)")
	else
		say "[$i/$n] $name: produced no results folder"
	fi
done
[ ${#parts[@]} -gt 0 ] || die 1 "no config produced results"

say "merging ${#parts[@]} result folder(s) into $ROOT/"
extra=()
if "$AS" merge "${parts[@]}" --out "$ROOT"; then
	dir=$(cd "$ROOT/latest" && pwd -P)
else
	# merge refuses folders whose contexts differ (e.g. a commit landed
	# between two configs): report from the first, add the others' runs.
	say "allocscope merge refused; the report reads the folders side by side"
	dir=$ROOT/$(basename "${parts[0]}")
	mv "${parts[0]}" "$dir" || die 1 "cannot move ${parts[0]} to $dir"
	ln -sfn "$(basename "$dir")" "$ROOT/latest"
	dir=$(cd "$dir" && pwd -P)
	parts=("${parts[@]:1}")
fi
# Keep each config's own folder (its summary.csv and logs) beside the report.
mkdir -p "$dir/parts"
for p in "${parts[@]}"; do
	dest=$dir/parts/$(basename "$(dirname "$p")")-$(basename "$p")
	mv "$p" "$dest" && extra+=("$dest")
done
rm -rf "$parts_root"
say "runs took $(( $(date +%s) - start )) s"
# The report prints the machine's load around the runs: on a shared box it
# explains noisy timings.
printf 'start %s\nend %s\nseconds %s\n' "$load_start" "$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)" \
	"$(( $(date +%s) - start ))" >"$dir/figures-load.txt"
if [ ${#extra[@]} -eq 0 ] || grep -q "\"merged_from\"" "$dir/results.json"; then
	render "$dir" || exit 1
else
	render "$dir" "${extra[@]}" || exit 1
fi
[ $failed_runs -eq 0 ] || say "note: some runs failed; see 'Runs that did not finish ok' in the report"
exit 0
