/**
 * Variables that start with PDM_ but are read by the tooling around the service (the stack scripts, the
 * compose file, the test runner), not by the service's configuration. They are never reported as unknown.
 */
const TOOLING_VARIABLES = new Set([
  'PDM_RESOLVED_CONFIG', // a parent pdm's resolved config, handed to its children
  'PDM_KEEP_STACK',
  'PDM_STACK_DIR',
  'PDM_CACHE_DIR',
  'PDM_KAFKA_VERSION',
  'PDM_PROMETHEUS_BIN',
  'PDM_SKIP_LOCAL_STACK',
  'PDM_SKIP_DEPLOY_TOOLS',
  'PDM_TF_WHEEL_VERSION',
  'PDM_TF_WHEEL_SHA',
  'PDM_BIND_ADDRESS',
  'PDM_GRAFANA_PASSWORD',
  'PDM_GRAFANA_ANONYMOUS',
  'PDM_IMAGE',
  'PDM_PARTITIONS',
  'PDM_FAULTS',
  'PDM_TEST_CONCURRENCY',
  'PDM_SOAK_MINUTES',
  'PDM_SOAK_RATE',
  'PDM_SOAK_SAMPLE_SECONDS',
]);

export interface UnknownVariable {
  readonly name: string;
  /** The known variable it most likely meant, when one is close (a typo). */
  readonly suggestion: string | undefined;
}

/**
 * The PDM_* variables of `env` that no setting reads: a misspelt variable otherwise has no effect and no
 * trace. Commands warn about them at start; they do not stop, since a newer deployment may carry variables
 * that an older binary does not know.
 */
export function unknownVariables(
  env: Readonly<Record<string, string | undefined>>,
  known: readonly string[],
): UnknownVariable[] {
  const knownSet = new Set(known);
  return Object.keys(env)
    .filter((name) => name.startsWith('PDM_') && !knownSet.has(name) && !TOOLING_VARIABLES.has(name))
    .sort()
    .map((name) => ({ name, suggestion: closest(name, known) }));
}

function closest(name: string, known: readonly string[]): string | undefined {
  let best: { key: string; distance: number } | undefined;
  for (const key of known) {
    const distance = editDistance(name, key);
    if (!best || distance < best.distance) best = { key, distance };
  }
  // Up to three edits, and never more than a third of the name: beyond that it is a different word.
  return best && best.distance <= Math.min(3, Math.floor(name.length / 3)) ? best.key : undefined;
}

/** Levenshtein distance, two rows. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(
        previous[j]! + 1,
        current[j - 1]! + 1,
        previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    previous = current;
  }
  return previous[b.length]!;
}
