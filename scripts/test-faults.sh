#!/usr/bin/env bash
# `npm run test:faults`: the fault-injection suite (test/faults, after Kafka's system tests and Jepsen's
# checkers): real `pdm worker` processes under kill -9, a killed broker, a frozen Redis, group churn, poison
# records and model hot-swaps, each checked against alerts computed offline. Provisions and starts the local
# stack like scripts/test.sh (and stops it afterwards if it started it; PDM_KEEP_STACK=1 keeps it). Prints one
# results table at the end; the rows are in .pdm/faults-results.jsonl (rewritten each run), worker logs in
# .pdm/faults/ (both under PDM_STACK_DIR when set). Arguments: test files to run instead of all of test/faults.
# The suite kills the broker and freezes Redis that the stack's pid files name: to leave a shared stack alone,
# run it against a stack of its own, e.g.
#   PDM_STACK_DIR=/tmp/pdm-faults PDM_KAFKA_BROKERS=localhost:19492 PDM_REDIS_URL=redis://127.0.0.1:16379 npm run test:faults
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
state="${PDM_STACK_DIR:-.pdm}"
mkdir -p "$state"
: > "$state/faults-results.jsonl"
mapfile -t files < <(find test/faults test/security -name '*.test.ts' | sort)
if [ "$#" -gt 0 ]; then files=("$@"); fi
echo "== fault-injection suite: ${files[*]}"
status=0
PDM_FAULTS=1 node --import tsx --test --test-concurrency=1 --test-reporter=spec "${files[@]}" || status=$?
node --import tsx test/faults/report.ts || true
exit "$status"
