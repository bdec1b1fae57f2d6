import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Tensor } from '@tensorflow/tfjs-node';
import { DEFAULT_THRESHOLD_POLICY, loadConfig } from '../src/config';
import type { Config } from '../src/config';
import { channelCount, formatExtraFeatures } from '../src/features';
import { createLogger } from '../src/log';
import { disposeModel } from '../src/model/tf';
import { createFleet, SENSORS } from '../src/simulate';
import type { FailureMode, FleetOptions } from '../src/simulate';
import { projectRoot } from '../src/stack/process';
import { leadTimes, operatingPoint, parseThresholdPolicy, prAuc } from '../src/train';
import type { ThresholdPolicy } from '../src/train';
import { fitModel, toTensors } from '../src/train/fit';
import { labelsOf, prepareTraining, scoreWith } from '../src/train/once';
import type { PreparedTraining } from '../src/train/once';
import type { TopicSnapshot } from '../src/train/source';
import { median, table } from './stats';

/**
 * Model quality on the simulator (`npm run bench -- --only=quality`): fleets with several failure modes,
 * extra measurement noise and slow healthy sensor drift, trained as `pdm train --once` trains (its
 * defaults, or the PDM_* training variables set in the environment), then every threshold policy applied
 * to the same model's validation and holdout scores. Where the Keras venv exists (scripts/keras/
 * setup-venv.sh), the same model is trained in Keras on exactly the same windows and goes through the
 * same calibration and policies. Figures are medians with [min–max] over fleets × seeds: one run says little.
 */
const POLICIES = [
  'max-f1',
  'cost:3/1',
  'cost:5/1',
  'cost:10/1',
  'recall:0.8',
  'recall:0.9',
  'recall:0.95',
  'precision:0.9',
];

const CALIBRATIONS = ['platt', 'isotonic'] as const;

interface Scenario {
  readonly name: string;
  readonly fleet: Omit<FleetOptions, 'seed'>;
  /** Healthy sensor drift: one sensor per machine walks linearly by up to this many baseline sds over the history. */
  readonly driftSd: number;
  /** Extra Gaussian measurement noise, in baseline sds. */
  readonly noiseSd: number;
}

const DAY = 86_400_000;
const scenarios = (quick: boolean): Scenario[] => {
  const size = quick ? { machines: 10 } : { machines: 16 };
  const all: Scenario[] = [
    { name: 'all modes', fleet: { ...size }, driftSd: 0, noiseSd: 0 },
    {
      name: 'drift+noise modes, sensor drift, noisy',
      fleet: { ...size, failureModes: ['drift', 'noise'] as FailureMode[] },
      driftSd: 2,
      noiseSd: 0.5,
    },
    {
      name: 'spikes+regime, sensor-heavy',
      fleet: {
        ...size,
        failureModes: ['spikes', 'regime'] as FailureMode[],
        signatureMix: { sensor: 0.6, log: 0.1, both: 0.3 },
      },
      driftSd: 1,
      noiseSd: 0.3,
    },
  ];
  return quick ? all.slice(0, 2) : all;
};

/** mulberry32, for the bench's own noise and drift. */
function prng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const BASE_SD: Record<string, number> = { volt: 5, rotate: 15, pressure: 4, vibration: 1.5 };

function simulate(s: Scenario, seed: number, days: number): TopicSnapshot {
  const fleet = createFleet({ ...s.fleet, seed, start: '2026-01-01T00:00:00Z' });
  const rand = prng(seed * 7919);
  const gauss = () => Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());
  const drift = new Map(
    fleet.machineIds.map((id) => [
      id,
      { sensor: SENSORS[Math.floor(rand() * SENSORS.length)]!, slope: (rand() * 2 - 1) * s.driftSd },
    ]),
  );
  const out: TopicSnapshot = { readings: [], logs: [], failures: [], invalid: {} };
  const steps = Math.round((days * DAY) / fleet.stepMs);
  for (let i = 0; i < steps; i++) {
    const t = fleet.tick();
    const progress = i / steps;
    for (const r of t.readings) {
      const d = drift.get(r.machineId)!;
      const values: Record<string, number> = {};
      for (const [k, v] of Object.entries(r.values)) {
        const sd = BASE_SD[k] ?? 1;
        values[k] = v + (k === d.sensor ? d.slope * sd * progress : 0) + s.noiseSd * sd * gauss();
      }
      out.readings.push({ machineId: r.machineId, ts: Date.parse(r.ts), values });
    }
    for (const l of t.logs) out.logs.push({ machineId: l.machineId, ts: Date.parse(l.ts), text: l.text });
    for (const f of t.failures)
      out.failures.push({ machineId: f.machineId, ts: Date.parse(f.ts), component: f.component });
  }
  return out;
}

interface PolicyFigures {
  precision: number;
  recall: number;
  f1: number;
  leadHours: number | null;
  eventRecall: number | null;
  warning: boolean;
}
interface RawScores {
  readonly valRaw: Float32Array;
  readonly holdoutRaw: Float32Array;
  readonly seconds: number;
}

interface RunFigures {
  prAuc: number | null;
  brierRaw: number | null;
  brierServed: number | null;
  /** The default policy under each calibration method, on the same raw scores (no retraining). */
  byCalibration: Record<(typeof CALIBRATIONS)[number], { brier: number | null; f1: number }>;
  policies: Record<string, PolicyFigures>;
  seconds: number;
}

function evaluate(
  prepared: PreparedTraining,
  snapshot: TopicSnapshot,
  config: Config,
  valRaw: ArrayLike<number>,
  holdoutRaw: ArrayLike<number>,
  seconds: number,
): RunFigures {
  const val = { labels: labelsOf(prepared.split.validation), raw: valRaw };
  const holdout = { labels: labelsOf(prepared.split.holdout), raw: holdoutRaw };
  const policies: Record<string, PolicyFigures> = {};
  let brier = { raw: null as number | null, served: null as number | null };
  for (const text of POLICIES) {
    const op = operatingPoint(policyOf(text), config.training.calibration, val, holdout);
    brier = op.brier;
    const lead = leadTimes(
      prepared.split.holdout,
      op.holdoutScores,
      snapshot.failures,
      op.threshold,
      config.horizonMs,
    );
    policies[text] = {
      ...op.holdout,
      leadHours: lead.medianHours,
      eventRecall: lead.failures ? lead.detected / lead.failures : null,
      warning: op.warning !== undefined,
    };
  }
  const byDefault = (method: (typeof CALIBRATIONS)[number]) => {
    const op = operatingPoint(policyOf(DEFAULT_THRESHOLD_POLICY), method, val, holdout);
    return { brier: op.brier.served, f1: op.holdout.f1 };
  };
  return {
    prAuc: prAuc(holdout.labels, holdout.raw),
    brierRaw: brier.raw,
    brierServed: brier.served,
    byCalibration: { platt: byDefault('platt'), isotonic: byDefault('isotonic') },
    policies,
    seconds,
  };
}

function policyOf(text: string): ThresholdPolicy {
  const parsed = parseThresholdPolicy(text);
  if ('error' in parsed) throw new Error(parsed.error);
  return parsed;
}

/** Trains our model as `pdm train --once` does; returns its raw validation and holdout scores. */
async function trainOurs(prepared: PreparedTraining, config: Config): Promise<RawScores> {
  const started = performance.now();
  const { model } = await fitModel(
    prepared.train,
    prepared.split.validation,
    {
      shape: config.model,
      sensors: prepared.sensors,
      scaler: prepared.scaler,
      tokenizer: prepared.tokenizer,
      extraFeatures: prepared.extraFeatures,
      epochs: config.training.epochs,
      batchSize: config.training.batchSize,
      patience: config.training.patience,
      seed: config.training.seed,
      branches: 'both',
    },
    createLogger('warn'),
  );
  try {
    const seconds = (performance.now() - started) / 1000;
    return {
      valRaw: scoreWith(model, prepared.featureSpec, prepared.split.validation),
      holdoutRaw: scoreWith(model, prepared.featureSpec, prepared.split.holdout),
      seconds,
    };
  } finally {
    disposeModel(model);
  }
}

/** `--save-scores=DIR`: every run's labels and raw scores, to study other policies without retraining. */
function saveScores(
  dir: string,
  name: string,
  prepared: PreparedTraining,
  snapshot: TopicSnapshot,
  config: Config,
  models: Record<string, RawScores | undefined>,
): void {
  const scores = Object.fromEntries(
    Object.entries(models).flatMap(([k, r]) =>
      r ? [[k, { val: Array.from(r.valRaw), holdout: Array.from(r.holdoutRaw) }]] : [],
    ),
  );
  const body = {
    horizonMs: config.horizonMs,
    valLabels: Array.from(labelsOf(prepared.split.validation)),
    holdoutLabels: Array.from(labelsOf(prepared.split.holdout)),
    holdoutWindows: prepared.split.holdout.map((w) => ({ machineId: w.machineId, endTs: w.endTs })),
    failures: snapshot.failures.map((f) => ({ machineId: f.machineId, ts: f.ts })),
    scores,
  };
  writeFileSync(join(dir, `${name.replace(/[^a-z0-9-]+/gi, '_')}.json`), JSON.stringify(body));
}

const kerasPython = () => {
  const py = join(process.env.PDM_CACHE_DIR ?? join(projectRoot, '.cache'), 'keras-venv', 'bin', 'python');
  return existsSync(py) ? py : undefined;
};

function writeF32(path: string, t: Tensor): void {
  const data = t.dataSync() as Float32Array;
  writeFileSync(path, Buffer.from(data.buffer, data.byteOffset, data.byteLength));
}

/** Trains the same model in Keras on the same featurised windows; returns its raw scores. */
function kerasPeer(py: string, prepared: PreparedTraining, config: Config): RawScores {
  const dir = mkdtempSync(join(tmpdir(), 'pdm-quality-'));
  try {
    const sets = { train: prepared.train, val: prepared.split.validation, hold: prepared.split.holdout };
    for (const [name, windows] of Object.entries(sets)) {
      const t = toTensors(windows, prepared.featureSpec);
      try {
        writeF32(join(dir, `${name}_x.f32`), t.numeric);
        writeF32(join(dir, `${name}_t.f32`), t.tokens);
        writeF32(join(dir, `${name}_y.f32`), t.labels);
      } finally {
        t.dispose();
      }
    }
    const spec = {
      shape: config.model,
      features: channelCount(prepared.sensors.length, prepared.extraFeatures),
      epochs: config.training.epochs,
      batchSize: config.training.batchSize,
      patience: config.training.patience,
      seed: config.training.seed,
      counts: { train: sets.train.length, val: sets.val.length, hold: sets.hold.length },
    };
    writeFileSync(join(dir, 'spec.json'), JSON.stringify(spec));
    const out = JSON.parse(
      execFileSync(py, [join(projectRoot, 'scripts', 'keras', 'quality_peer.py'), dir], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
      }),
    ) as { seconds: number };
    const read = (name: string) => {
      const b = readFileSync(join(dir, name));
      return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
    };
    return { valRaw: read('val_scores.f32'), holdoutRaw: read('hold_scores.f32'), seconds: out.seconds };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const spread = (xs: readonly (number | null)[], digits = 3): string => {
  const v = xs.filter((x): x is number => x !== null && Number.isFinite(x));
  if (v.length === 0) return '-';
  const f = (x: number) => x.toFixed(digits);
  return v.length === 1 ? f(v[0]!) : `${f(median(v))} [${f(Math.min(...v))}–${f(Math.max(...v))}]`;
};

/**
 * `--no-peer` skips the Keras twin (PDM_EXTRA_FEATURES comparisons: run twice with the same `--seeds=1,2,3`).
 * `--peer-only` trains only the Keras twin: a fast way to ask how the model responds to a data change
 * (PDM_TRAIN_MAX_WINDOWS raised, say) while our own training is the slower of the two.
 */
export async function benchQuality(quick: boolean): Promise<Record<string, unknown>> {
  const peerOnly = process.argv.includes('--peer-only');
  const saveTo = process.argv.find((a) => a.startsWith('--save-scores='))?.slice('--save-scores='.length);
  const seedsArg = process.argv.find((a) => a.startsWith('--seeds='))?.slice('--seeds='.length);
  const seeds = seedsArg ? seedsArg.split(',').map(Number) : quick ? [1, 2] : [1, 2, 3];
  const days = quick ? 40 : 60;
  const env = quick ? { PDM_TRAIN_EPOCHS: '3', ...process.env } : process.env;
  const config = loadConfig(env);
  const logger = createLogger('warn');
  const py = process.argv.includes('--no-peer') ? undefined : kerasPython();
  const runs: {
    scenario: string;
    seed: number;
    ours?: RunFigures;
    keras?: RunFigures;
    windows: Record<string, unknown>;
  }[] = [];
  // Seed-major, so that a run cut short still covers every fleet.
  for (const seed of seeds) {
    for (const scenario of scenarios(quick)) {
      const snapshot = simulate(scenario, seed, days);
      const prepared = prepareTraining(snapshot, config, logger);
      const ourRaw = peerOnly ? undefined : await trainOurs(prepared, config);
      const peerRaw = py ? kerasPeer(py, prepared, config) : undefined;
      const figures = (r: RawScores | undefined) =>
        r && evaluate(prepared, snapshot, config, r.valRaw, r.holdoutRaw, r.seconds);
      const ours = figures(ourRaw);
      const keras = figures(peerRaw);
      if (saveTo)
        saveScores(saveTo, `${scenario.name}-${seed}`, prepared, snapshot, config, {
          ours: ourRaw,
          keras: peerRaw,
        });
      const count = (ws: readonly { label: number }[]) => ({
        windows: ws.length,
        positives: ws.filter((w) => w.label === 1).length,
      });
      const windows = {
        train: count(prepared.train),
        validation: count(prepared.split.validation),
        holdout: count(prepared.split.holdout),
        failures: snapshot.failures.length,
      };
      runs.push({
        scenario: scenario.name,
        seed,
        ...(ours ? { ours } : {}),
        ...(keras ? { keras } : {}),
        windows,
      });
      console.log(
        `quality: ${scenario.name}, seed ${seed}: PR-AUC ours ${ours?.prAuc?.toFixed(3) ?? '-'} keras ${keras?.prAuc?.toFixed(3) ?? '-'} (training ${ours?.seconds.toFixed(0) ?? '-'} s / ${keras?.seconds.toFixed(0) ?? '-'} s)`,
      );
      console.log(`QUALITY-RUN ${JSON.stringify(runs[runs.length - 1])}`);
    }
  }
  const models: ['ours' | 'keras', string][] = [];
  if (runs.every((r) => r.ours)) models.push(['ours', 'pdm-worker']);
  if (runs.every((r) => r.keras)) models.push(['keras', 'Keras']);
  const rows: string[][] = [];
  for (const [key, label] of models) {
    const figures = runs.map((r) => r[key]!);
    for (const p of POLICIES) {
      const at = figures.map((f) => f.policies[p]!);
      rows.push([
        label,
        p + (p === DEFAULT_THRESHOLD_POLICY ? ' (default)' : '') + (at.some((a) => a.warning) ? ' *' : ''),
        spread(at.map((a) => a.precision)),
        spread(at.map((a) => a.recall)),
        spread(at.map((a) => a.f1)),
        spread(figures.map((f) => f.prAuc)),
        spread(figures.map((f) => f.brierServed)),
        spread(
          at.map((a) => a.eventRecall),
          2,
        ),
        spread(
          at.map((a) => a.leadHours),
          1,
        ),
      ]);
    }
  }
  const trainedOn = `${config.training.epochs} epochs, ${config.training.maxWindows === undefined ? 'every training window (PDM_TRAIN_MAX_BYTES bound)' : `at most ${config.training.maxWindows} training windows`}, calibration ${config.training.calibration}, extra features ${formatExtraFeatures(config.training.extraFeatures)}`;
  console.log(
    table(
      `Model quality on the holdout, ${runs.length} runs (${scenarios(quick).length} fleets × ${seeds.length} seeds, ${days} days each; ${trainedOn}); median [min–max]; * = target not met on validation in some run`,
      ['model', 'policy', 'precision', 'recall', 'F1', 'PR-AUC', 'Brier', 'failures caught', 'lead h'],
      rows,
    ),
  );
  for (const [key, label] of models) {
    console.log(
      `${label}: Brier of the raw network output on the same holdouts ${spread(runs.map((r) => r[key]!.brierRaw))}, served (calibrated) ${spread(runs.map((r) => r[key]!.brierServed))}`,
    );
  }
  for (const [key, label] of models) {
    const line = CALIBRATIONS.map((m) => {
      const at = runs.map((r) => r[key]!.byCalibration[m]);
      return `${m}: Brier ${spread(at.map((a) => a.brier))}, F1 ${spread(at.map((a) => a.f1))}`;
    });
    console.log(
      `${label}, ${DEFAULT_THRESHOLD_POLICY} on the same raw scores by calibration: ${line.join('; ')}`,
    );
  }
  if (!py)
    console.log(
      process.argv.includes('--no-peer')
        ? 'Keras peer skipped (--no-peer)'
        : 'Keras peer skipped: no venv (bash scripts/keras/setup-venv.sh creates it)',
    );
  return {
    policies: POLICIES,
    days,
    seeds,
    config: {
      epochs: config.training.epochs,
      maxWindows: config.training.maxWindows,
      calibration: config.training.calibration,
    },
    runs,
  };
}
