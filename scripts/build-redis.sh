#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Build Redis from Debian's source package with MALLOC=libc, once, into
# $BUILD/redis/. Debian's redis-server links jemalloc and reads jemalloc's
# statistics even when malloc is preloaded; this build calls plain
# malloc/free, so every allocation goes through the LD_PRELOADed allocator.
# Debian's patches (security fixes included) are applied; the one that adds
# USE_SYSTEM_JEMALLOC is inert because we do not set it.
# Needs deb-src entries: added here (as root) when missing.
set -euo pipefail
BUILD=${BUILD:-build}
out="$BUILD/redis"
top=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)

if [ -x "$out/redis-server" ] && [ -f "$out/VERSION" ]; then
	exit 0
fi
# Another build folder (build/ vs build/asan, ...) may have it already: the
# Redis binary does not depend on our flags, so reuse it.
for other in "$top/build/redis" "$top"/build/*/redis; do
	if [ -x "$other/redis-server" ] && [ -f "$other/VERSION" ] && [ "$other" != "$out" ]; then
		cp -r "$other/redis-server" "$other/redis-cli" "$other/redis-benchmark" "$other/VERSION" \
			"$other/suite" "$out/"
		exit 0
	fi
done

src_list=/etc/apt/sources.list.d/allocscope-src.sources
if ! apt-get source --print-uris redis >/dev/null 2>&1; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "allocscope: Redis needs Debian deb-src entries; as root run: bash $top/scripts/build-redis.sh" >&2
		exit 1
	fi
	cat > "$src_list" <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
	apt-get update -qq
fi

work="$out/src"
rm -rf "$work"
mkdir -p "$work"
( cd "$work" && apt-get source --download-only redis >/dev/null 2>&1 ) || {
	echo "allocscope: 'apt-get source redis' failed" >&2
	exit 1
}
dsc=$(ls "$work"/redis_*.dsc | head -n 1)
( cd "$work" && dpkg-source -x "$dsc" tree >/dev/null )
echo "allocscope: building Redis $(basename "$dsc" .dsc) with MALLOC=libc (about a minute)" >&2
make -C "$work/tree" -j"$(nproc)" MALLOC=libc BUILD_TLS=no USE_SYSTEMD=no >"$out/build.log" 2>&1 || {
	tail -n 30 "$out/build.log" >&2
	echo "allocscope: Redis build failed (log: $out/build.log)" >&2
	exit 1
}
cp "$work/tree/src/redis-server" "$work/tree/src/redis-cli" "$work/tree/src/redis-benchmark" "$out/"
# Keep the test suite (tests/, runtest and the helpers it needs) for redis-test-suite.
rm -rf "$out/suite"
mkdir -p "$out/suite"
cp -r "$work/tree/tests" "$work/tree/runtest" "$out/suite/"
mkdir -p "$out/suite/src"
cp "$work/tree/src/redis-server" "$work/tree/src/redis-cli" "$work/tree/src/redis-benchmark" \
	"$work/tree/src/redis-check-aof" "$work/tree/src/redis-check-rdb" "$out/suite/src/" 2>/dev/null || true
basename "$dsc" .dsc | sed 's/^redis_//' > "$out/VERSION"
"$out/redis-server" --version >&2
