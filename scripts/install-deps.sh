#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Install every Debian package allocscope uses. Idempotent: when everything is
# present it only checks (dpkg-query) and exits; `apt-get update` runs only when
# something is missing. As non-root it prints the exact command instead.
set -euo pipefail

PKGS=(
  build-essential dpkg-dev clang libclang-rt-14-dev pkg-config git
  hwloc libhwloc-dev numactl libnuma-dev libpfm4-dev linux-perf
  libjemalloc-dev libjemalloc2 libgoogle-perftools-dev libtcmalloc-minimal4 libmimalloc-dev libmimalloc2.0
  redis-server redis-tools libhiredis-dev
  gnuplot-nox
  libjansson-dev libinih-dev
  libmicrohttpd-dev libpng-dev libjpeg62-turbo-dev
  libunwind-dev
  python3 perl sqlite3
)

missing=()
for p in "${PKGS[@]}"; do
  st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$st" = "installed" ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

cmd="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "allocscope: missing packages: ${missing[*]}" >&2
  echo "allocscope: run as root: apt-get update && $cmd" >&2
  exit 1
fi

echo "allocscope: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# redis-server's postinst would start a system daemon on 6379; we start our own
# servers on free loopback ports, so keep the packaged service from starting.
if printf '%s\n' "${missing[@]}" | grep -qx redis-server && [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
