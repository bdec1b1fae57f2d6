#!/usr/bin/env bash
# Installs Debian's docker-compose (v1) when no compose is present. The deploy tests only need it to parse and
# validate docker-compose.yml (`docker-compose config -q`); no Docker engine is required for that.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
if command -v docker-compose >/dev/null 2>&1; then say "compose: $(docker-compose version --short 2>/dev/null || echo docker-compose) present"; exit 0; fi
hint="or install Docker Compose yourself (https://docs.docker.com/compose/install/) so that \`docker-compose\` is on PATH"
need apt-get "install docker-compose yourself $hint"
[ "$(id -u)" = 0 ] || die "installing docker-compose needs root (apt-get); run: sudo apt-get install docker-compose, $hint"
mkdir -p "$cache"
say "compose: installing docker-compose with apt-get (once)"
if [ -z "$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v lock)" ]; then
  apt-get update -qq >"$cache/apt.log" 2>&1 || die "apt-get update failed (see $cache/apt.log) $hint"
fi
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-compose >>"$cache/apt.log" 2>&1 \
  || { apt-get update -qq >>"$cache/apt.log" 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-compose >>"$cache/apt.log" 2>&1; } \
  || die "apt-get install docker-compose failed (see $cache/apt.log) $hint"
say "compose: $(docker-compose version --short 2>/dev/null || echo docker-compose) installed"
