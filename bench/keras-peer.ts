import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../src/stack/process';

/**
 * The Keras peer (scripts/keras/bench_peer.py) in the venv scripts/keras/setup-venv.sh creates. The bench
 * never creates the venv itself (a 200 MB install): when it is missing, `kerasPeer` returns undefined with
 * one message and the tables show "n/a" in the Keras column only.
 */
const python = join(process.env.PDM_CACHE_DIR ?? join(projectRoot, '.cache'), 'keras-venv', 'bin', 'python');
let warned = false;

export function kerasPeer<T>(request: Record<string, unknown>): T | undefined {
  if (!existsSync(python)) {
    if (!warned)
      console.log(
        `\n(Keras peer skipped: no venv at ${python}; create it with: bash scripts/keras/setup-venv.sh)`,
      );
    warned = true;
    return undefined;
  }
  const run = spawnSync(python, [join(projectRoot, 'scripts', 'keras', 'bench_peer.py')], {
    input: JSON.stringify(request),
    encoding: 'utf8',
    maxBuffer: 1 << 24,
    timeout: 30 * 60_000,
  });
  if (run.status !== 0) {
    console.log(
      `\n(Keras peer failed, exit ${run.status}: ${(run.stderr ?? '').trim().split('\n').slice(-3).join(' | ')})`,
    );
    return undefined;
  }
  return JSON.parse(run.stdout) as T;
}
