#!/usr/bin/env bash
# Installs Debian's redis-server when absent (the binary only; `pdm stack up` starts it on loopback).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
if command -v redis-server >/dev/null 2>&1; then say "redis: $(redis-server --version | cut -d' ' -f3) present"; exit 0; fi
hint="or set PDM_REDIS_URL to an existing Redis to skip the local one"
need apt-get "install redis-server 7 yourself $hint"
[ "$(id -u)" = 0 ] || die "installing redis-server needs root (apt-get); run: sudo apt-get install redis-server, $hint"
say "redis: installing redis-server with apt-get (once)"
if [ -z "$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v lock)" ]; then
  apt-get update -qq >"$cache/apt.log" 2>&1 || die "apt-get update failed (see $cache/apt.log) $hint"
fi
mkdir -p "$cache"
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server >>"$cache/apt.log" 2>&1 \
  || { apt-get update -qq >>"$cache/apt.log" 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server >>"$cache/apt.log" 2>&1; } \
  || die "apt-get install redis-server failed (see $cache/apt.log) $hint"
# Debian starts a system service on install; we run our own on loopback, so stop theirs to free the port.
(service redis-server stop || true) >/dev/null 2>&1
say "redis: $(redis-server --version | cut -d' ' -f3) installed"
