#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Real programs under LD_PRELOAD=liballocscope-lifetime.so give the same
# output as under glibc: python3, perl, gcc compiling a C file (identical
# object file), git log on this repo, sort of a generated 5 MB file and
# sqlite3 running a scripted workload, for the online predictor; python3,
# perl and sqlite3 also for the `none` ablation and lifetime@llfree
# (ALLOCSCOPE_PAGESOURCE=frame@llfree; skipped with a message when the
# library cannot start on it). Also proves that the
# preload served the allocations and that a bad profile is refused.
set -uo pipefail
cd "$(dirname "$0")/../.."
# A sanitizer build brings its own malloc, which must come first in the
# process: preloading an allocator or the recorder under it cannot work.
if [ -n "${SANITIZE:-}" ]; then
	echo "skip: LD_PRELOAD tests need an unsanitized build (SANITIZE=$SANITIZE)"
	echo "0 passed, 0 failed"
	exit 0
fi
BUILD=${BUILD:-build}
LIB=$PWD/$BUILD/lib/liballocscope-lifetime.so
TMP=$BUILD/tmp/lifetime_real
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

if [ ! -s "$TMP/big.txt" ] || [ "$(wc -l <"$TMP/big.txt")" -ne 150000 ]; then
	awk 'BEGIN { srand(7); for (i = 0; i < 150000; i++)
		printf "%08x %s %d\n", int(rand() * 4294967295), substr("abcdefghijklmnopqrstuvwxyz", int(rand() * 20) + 1, 6), int(rand() * 1000000) }' \
		>"$TMP/big.txt"
fi
cat >"$TMP/prog.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
struct node { struct node *next; char name[32]; };
static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }
int main(void)
{
	char *v[64];
	for (int i = 0; i < 64; i++) { v[i] = malloc(16); snprintf(v[i], 16, "n%d", (i * 37) % 64); }
	qsort(v, 64, sizeof(v[0]), cmp);
	puts(v[0]);
	return 0;
}
C
cat >"$TMP/work.sql" <<'SQL'
CREATE TABLE t(id INTEGER PRIMARY KEY, k TEXT, v BLOB);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 20000)
INSERT INTO t(k, v) SELECT printf('key%06d', (x * 7919) % 20000), replace(hex(zeroblob(x % 300)), '00', 'ab') FROM c;
CREATE INDEX tk ON t(k);
DELETE FROM t WHERE id % 3 = 0;
SELECT count(*), sum(length(v)), min(k), max(k) FROM t;
SELECT k, length(v) FROM t ORDER BY k DESC LIMIT 5;
SQL
head_commit=$(git rev-parse HEAD 2>/dev/null)

programs=(
	"python3|'$PY' -c 'import json, collections; d = collections.defaultdict(list)
for i in range(60000): d[i % 1013].append(str(i) * (i % 7))
s = json.dumps({str(k): len(v) for k, v in d.items()}, sort_keys=True)
print(len(s), sum(len(x) for v in d.values() for x in v))'"
	"perl|perl -e 'my %h; for my \$i (1..150000) { \$h{\$i % 997} .= \"y\" x (\$i % 11) } my \$s = 0; \$s += length(\$h{\$_}) for keys %h; print scalar(keys %h), \" \$s\\n\"'"
	"gcc|gcc -O2 -c '$TMP/prog.c' -o '$TMP/gcc.o' && md5sum <'$TMP/gcc.o'"
	"git-log|git log --stat -n 100 $head_commit | md5sum"
	"sort|sort -S 64M '$TMP/big.txt' | md5sum"
	"sqlite3|sqlite3 :memory: <'$TMP/work.sql'"
)

run() { env $1 bash -c "$2" 2>&1; }

expect=()
for p in "${programs[@]}"; do
	expect+=("$(run "" "${p#*|}")")
done

variants=("lifetime|LD_PRELOAD=$LIB" "lifetime-none|LD_PRELOAD=$LIB ALLOCSCOPE_LIFETIME_PREDICTOR=none")
if [ "$(ALLOCSCOPE_PAGESOURCE=frame@llfree LD_PRELOAD=$LIB /bin/echo ok 2>/dev/null)" = ok ]; then
	variants+=("lifetime@llfree|LD_PRELOAD=$LIB ALLOCSCOPE_PAGESOURCE=frame@llfree")
else
	echo "skip lifetime@llfree: the library does not start on frame@llfree"
fi

for v in "${variants[@]}"; do
	vname=${v%%|*}
	envs=${v#*|}
	served=$(env $envs "$PY" -c 'import ctypes; f = ctypes.CDLL(None).allocscope_malloc_served; f.restype = ctypes.c_uint64; print(f() > 1000)' 2>&1)
	if [ "$served" = True ]; then ok; else bad "$vname: preload not serving ($served)"; fi
	i=0
	for p in "${programs[@]}"; do
		pname=${p%%|*}
		# The variants run a subset, to keep the test short.
		if [ "$vname" != lifetime ] && { [ "$pname" = gcc ] || [ "$pname" = git-log ] || [ "$pname" = sort ]; }; then
			i=$((i + 1))
			continue
		fi
		got=$(run "$envs" "${p#*|}")
		if [ "$got" = "${expect[$i]}" ]; then
			ok
			echo "$vname $pname: same output"
		else
			bad "$vname $pname: output differs from glibc: $(echo "$got" | head -c 300)"
		fi
		i=$((i + 1))
	done
done

# A bad profile is refused: the library says why and serves nothing.
printf 'not a profile' >"$TMP/bad.prof"
msg=$(ALLOCSCOPE_LIFETIME_PREDICTOR=profile ALLOCSCOPE_LIFETIME_PROFILE="$TMP/bad.prof" LD_PRELOAD=$LIB /bin/true 2>&1)
if echo "$msg" | grep -q "bad.prof: offset"; then ok; else bad "bad profile not refused with an offset: $msg"; fi
msg=$(ALLOCSCOPE_LIFETIME_PREDICTOR=bogus LD_PRELOAD=$LIB /bin/true 2>&1)
if echo "$msg" | grep -q "ALLOCSCOPE_LIFETIME_PREDICTOR=bogus"; then ok; else bad "bad predictor not refused: $msg"; fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
