#!/usr/bin/env bash
# One idempotent setup for a fresh clone: node modules, the native TensorFlow backend, the compiled build
# (src/ → dist/, what bin/pdm.js runs), Kafka jars, Redis.
# A second run costs seconds. Kafka/Redis provisioning is skipped when PDM_SKIP_LOCAL_STACK=1
# (you point PDM_KAFKA_BROKERS / PDM_REDIS_URL at existing services).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup/lib.sh"
need node "install Node.js 20 (https://nodejs.org or apt-get install nodejs)"
major="$(node -p 'process.versions.node.split(".")[0]')"
[ "$major" -ge 20 ] || die "Node.js $major found; Node.js 20 or newer is required"
need npm "install npm (apt-get install npm)"
stamp="$root/node_modules/.pdm-lock-sha"
want="$(sha256sum "$root/package-lock.json" | cut -d' ' -f1)"
if [ -L "$root/node_modules" ]; then
  # A worktree borrowing another checkout's modules: reinstalling would rewrite that checkout's too.
  say "npm: node_modules links to $(readlink "$root/node_modules"); not reinstalling it here"
elif [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  say "npm: installing node modules (scripts off: tfjs-node's download is replaced by scripts/setup/tensorflow.sh)"
  (cd "$root" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) || die "npm ci failed (is the npm registry reachable?)"
  echo "$want" >"$stamp"
else
  say "npm: node modules up to date (cached)"
fi
bash "$root/scripts/setup/tensorflow.sh"
# bin/pdm.js runs dist/ only when dist/.built is newer than every file in src/ (else the sources, via tsx).
if [ -f "$root/dist/.built" ] && [ -z "$(find "$root/src" "$root"/tsconfig*.json -newer "$root/dist/.built" | head -1)" ]; then
  say "build: dist/ up to date (cached)"
else
  say "build: compiling src/ to dist/ (npm run build)"
  (cd "$root" && npm run --silent build) || die "npm run build failed: tsc errors above"
fi
if [ "${PDM_SKIP_LOCAL_STACK:-0}" != 1 ]; then
  bash "$root/scripts/setup/kafka.sh"
  bash "$root/scripts/setup/redis.sh"
fi
# promtool/prometheus and docker-compose validate deploy/ in the tests (skip with PDM_SKIP_DEPLOY_TOOLS=1).
if [ "${PDM_SKIP_DEPLOY_TOOLS:-0}" != 1 ]; then
  bash "$root/scripts/setup/prometheus.sh"
  bash "$root/scripts/setup/compose.sh"
fi
