/**
 * `npm run bench`: figures, not assertions. Each section measures side by side in one run and prints a
 * table; the run ends with one JSON line holding every figure. `--quick` shortens every section;
 * `--only model,pipeline` picks sections.
 */
import { cpus } from 'node:os';
import { benchModel } from './model';
import { benchPipeline } from './pipeline';
import { benchIngest } from './ingest';
import { benchBranches } from './branches';
import { benchTraining } from './training';
import { benchSoak } from './soak';
import { benchAlerts } from './alerts';
import { benchQuality } from './quality';
import { benchScale } from './scale';
import { benchScaleStore } from './scale-store';
import { benchShadow } from './shadow';

const SECTIONS: Record<string, (quick: boolean) => Promise<Record<string, unknown>>> = {
  model: benchModel,
  pipeline: benchPipeline,
  ingest: benchIngest,
  training: benchTraining,
  branches: benchBranches,
};
/** Long runs only on request: `npm run bench -- --only=soak`, `--only=quality` (threshold policies, calibration, Keras peer), `--only=alerts` (alert rules; both train models), `--only=scale` (1k/10k/100k machines, 1 vs 2 workers; a few minutes), `--only=store` (bounded sample store vs full history: bytes and holdout PR-AUC), `--only=shadow` (champion/challenger: throughput with and without a shadow). */
const OPT_IN: Record<string, (quick: boolean) => Promise<Record<string, unknown>>> = {
  soak: benchSoak,
  alerts: benchAlerts,
  quality: benchQuality,
  scale: benchScale,
  store: benchScaleStore,
  shadow: benchShadow,
};

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const quick = args.includes('--quick');
  const onlyArg = args.find((a) => a.startsWith('--only='))?.slice('--only='.length);
  const only = onlyArg ? onlyArg.split(',') : Object.keys(SECTIONS);
  const results: Record<string, unknown> = {
    at: new Date().toISOString(),
    cpus: cpus().length,
    cpu: cpus()[0]?.model,
    node: process.version,
    quick,
  };
  for (const name of only) {
    const section = SECTIONS[name] ?? OPT_IN[name];
    if (!section)
      throw new Error(
        `unknown section "${name}"; sections: ${[...Object.keys(SECTIONS), ...Object.keys(OPT_IN)].join(', ')}`,
      );
    results[name] = await section(quick);
  }
  console.log(`\nBENCH ${JSON.stringify(results)}`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
