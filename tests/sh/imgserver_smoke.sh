#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# imgserver smoke test: start the server on a free loopback port, send good
# and bad requests (raw HTTP over bash's /dev/tcp, no curl needed), run
# imgload briefly, stop the server with SIGTERM and check both outputs.
set -uo pipefail
BUILD=${BUILD:-build}
BIN=$BUILD/bin
tmp=$(mktemp -d)
server_pid=
cleanup() {
	[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; }

for b in imgserver imgload; do
	[ -x "$BIN/$b" ] || { echo "missing $BIN/$b (run make)"; echo "0 passed, 1 failed"; exit 1; }
done

"$BIN/imgserver" --threads 2 --param images=8 --param port_file="$tmp/port" --out "$tmp/server.out" \
	2>"$tmp/server.err" &
server_pid=$!
for _ in $(seq 200); do [ -s "$tmp/port" ] && break; sleep 0.05; done
[ -s "$tmp/port" ] || { cat "$tmp/server.err"; echo "0 passed, 1 failed"; exit 1; }
port=$(cat "$tmp/port")

# request PATH [METHOD] -> prints "STATUS BODY-FIRST-LINE"
request() {
	local path=$1 method=${2:-GET}
	exec 3<>"/dev/tcp/127.0.0.1/$port" || return 1
	printf '%s %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$method" "$path" >&3
	local resp
	resp=$(tr -d '\r' <&3 | head -c 4000 | tr -d '\0')
	exec 3<&-
	local status body
	status=$(echo "$resp" | head -n 1 | awk '{print $2}')
	body=$(echo "$resp" | sed -n '/^$/,$p' | sed -n 2p)
	echo "$status $body"
}

# Each bad request: expected status and a word of the expected reason.
while IFS='|' read -r path method want reason; do
	got=$(request "$path" "$method")
	if [[ "$got" == "$want"* && "$got" == *"$reason"* ]]; then
		ok "$method $path -> $got"
	else
		bad "$method $path: want '$want ... $reason', got '$got'"
	fi
done <<'EOF2'
/img/999|GET|404|no such image
/img/abc|GET|400|decimal number
/img/-1|GET|400|decimal number
/img/1?w=0|GET|400|w must be an integer
/img/1?h=100000|GET|400|h must be an integer
/img/1?w=12x|GET|400|w must be an integer
/img/1?op=rotate|GET|400|op must be
/img/1?fmt=gif|GET|400|fmt must be png or jpeg
/img/1?evil=1|GET|400|unknown parameter
/secret|GET|404|unknown path
/img/1|POST|405|only GET
/health|GET|200|ok
EOF2

png=$(request "/img/1?w=64&h=48&op=thumb&fmt=png")
[[ "$png" == 200* ]] && ok "thumb png 200" || bad "thumb png: $png"

"$BIN/imgload" --threads 2 --param port="$port" --param images=8 --param duration_s=1 \
	--out "$tmp/load.out" 2>"$tmp/load.err"
if grep -q '^status ok' "$tmp/load.out" && grep -q '^metric ops_per_s' "$tmp/load.out" &&
	grep -q '^metric lat_p99_ns' "$tmp/load.out"; then
	ok "imgload closed loop: $(grep '^metric ops_per_s' "$tmp/load.out")"
else
	bad "imgload: $(tail -n 2 "$tmp/load.out" "$tmp/load.err")"
fi

"$BIN/imgload" --param port=1 --param duration_s=1 --out "$tmp/refused.out" 2>/dev/null
grep -q '^status error cannot connect' "$tmp/refused.out" && ok "imgload reports a refused connection" ||
	bad "imgload against a closed port: $(cat "$tmp/refused.out")"
"$BIN/imgload" --param port=0 >/dev/null 2>&1
[ $? -eq 2 ] && ok "imgload port=0 is bad input (exit 2)" || bad "imgload port=0 not refused"

kill -TERM "$server_pid"
wait "$server_pid"
rc=$?
server_pid=
if [ $rc -eq 0 ] && grep -q '^status ok' "$tmp/server.out" && grep -q '^metric frag_peak' "$tmp/server.out" &&
	grep -q '^info malloc_lib' "$tmp/server.out" && grep -q '^timeline ' "$tmp/server.out"; then
	ok "server stopped cleanly with metrics and timeline"
else
	bad "server output: rc=$rc $(grep -v timeline "$tmp/server.out" | tail -n 3)"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
