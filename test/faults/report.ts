import { existsSync, readFileSync } from 'node:fs';
import { formatTable, RESULTS_FILE } from './harness';
import type { FaultResult } from './harness';

/** Prints the whole run's results (.pdm/faults-results.jsonl) as one table: scripts/test-faults.sh calls it last. */
const rows: FaultResult[] = existsSync(RESULTS_FILE)
  ? readFileSync(RESULTS_FILE, 'utf8')
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l) as FaultResult)
  : [];
console.log(
  rows.length
    ? `\n== fault-injection results (${RESULTS_FILE})\n${formatTable(rows)}\n`
    : `no results in ${RESULTS_FILE}`,
);
