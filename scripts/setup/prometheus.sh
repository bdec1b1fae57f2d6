#!/usr/bin/env bash
# Installs Debian's prometheus (the server and promtool) when absent. The deploy tests run `promtool check`
# on deploy/prometheus; integration tests start the server on loopback with deploy/prometheus/prometheus-local.yml.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
if command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1; then
  say "prometheus: $(prometheus --version 2>&1 | head -1 | cut -d' ' -f3) present"; exit 0
fi
hint="or install Prometheus 2.x yourself so that \`prometheus\` and \`promtool\` are on PATH"
need apt-get "install prometheus yourself $hint"
[ "$(id -u)" = 0 ] || die "installing prometheus needs root (apt-get); run: sudo apt-get install prometheus, $hint"
mkdir -p "$cache"
say "prometheus: installing prometheus (server + promtool) with apt-get (once)"
if [ -z "$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v lock)" ]; then
  apt-get update -qq >"$cache/apt.log" 2>&1 || die "apt-get update failed (see $cache/apt.log) $hint"
fi
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >>"$cache/apt.log" 2>&1 \
  || { apt-get update -qq >>"$cache/apt.log" 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >>"$cache/apt.log" 2>&1; } \
  || die "apt-get install prometheus failed (see $cache/apt.log) $hint"
# Debian starts a system service on install (scraping :9090 with its own config); we run our own, so stop theirs.
(service prometheus stop || true) >/dev/null 2>&1
say "prometheus: $(prometheus --version 2>&1 | head -1 | cut -d' ' -f3) installed"
