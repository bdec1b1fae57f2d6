#!/usr/bin/env bash
# `npm test`: provisions what the tests need (scripts/setup.sh), starts Kafka + Redis when they are not
# already reachable, then type-check, lint and the tests (node's runner through tsx). Stops the local
# stack afterwards if it started it (PDM_KEEP_STACK=1 keeps it running).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
bash scripts/setup.sh
started=0
if ! node bin/pdm.js stack status >/dev/null 2>&1; then started=1; fi
node bin/pdm.js stack up
cleanup() { if [ "$started" = 1 ] && [ "${PDM_KEEP_STACK:-0}" != 1 ]; then node bin/pdm.js stack down || true; fi; }
trap cleanup EXIT
echo "== type-check"; npx --no-install tsc -p .
echo "== lint"; npx --no-install eslint --max-warnings 0 . && npx --no-install prettier --check --log-level warn src test bench bin
echo "== tests"
# test/faults (fault injection) and test/security (its own SASL_SSL broker and TLS Redis) belong to
# npm run test:faults: long-running, not part of npm test.
# Three test files at a time (each its own process): most tests wait on the broker or Redis, so on 2 cores
# this cut the test phase from about 290 s to about 140 s. PDM_TEST_CONCURRENCY=1 runs them one by one.
mapfile -t files < <(find test -name '*.test.ts' -not -path 'test/faults/*' -not -path 'test/security/*' | sort)
if [ "$#" -gt 0 ]; then files=("$@"); fi
node --import tsx --test --test-concurrency="${PDM_TEST_CONCURRENCY:-3}" --test-reporter=spec "${files[@]}"
