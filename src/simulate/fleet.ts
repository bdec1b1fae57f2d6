/**
 * A synthetic fleet: pure, seeded, no I/O. Each call to `tick()` advances event time by one step and returns
 * one reading per machine plus the maintenance logs and failures that fell into that step, in the message
 * shapes of docs/topics-and-messages.md.
 *
 * The mechanism a model has to learn:
 * - every machine runs healthy, then degrades for `degradationMs` (default 24–48 h) and fails; it is
 *   repaired at once and runs healthy again (at least `minHealthyMs`);
 * - the time between failures is exponential around `mtbfMs`, scaled by a per-machine hazard factor;
 * - a degradation episode has a *signature*: `sensor` episodes show in one or two sensors (drift, noise,
 *   spikes or regime change) and barely in the logs; `log` episodes show in the operators' notes and
 *   error3 codes and barely in the sensors; `both` show in both. So each input branch of the dual model
 *   sees only part of the failures, and the pair sees most of them;
 * - healthy machines log routine work, preventive part replacements, error codes and free text, and now
 *   and then a phrase that sounds like trouble but is not (the noise a text model has to see through).
 */

import {
  ALL_SIGNAL_PHRASES,
  DECOYS,
  NOTES,
  P_DECOY,
  P_ERROR,
  P_NOTE,
  P_PART,
  P_ROUTINE,
  PARTS,
  ROUTINE,
  SIGNAL_PHRASES,
  SIGNAL_TEMPLATES,
} from './log-text';
import { Rng, streamSeed } from './rng';
import { FAILURE_MODES, SENSORS } from './types';
import type {
  Episode,
  FailureEvent,
  FailureMode,
  Fleet,
  FleetOptions,
  FleetTick,
  MaintenanceLog,
  Reading,
  Sensor,
  Signature,
} from './types';

export { mulberry32 } from '../random';
export { hasSignalPhrase, SIGNAL_PHRASES } from './log-text';
export { FAILURE_MODES, SENSORS } from './types';
export type {
  Episode,
  FailureEvent,
  FailureMode,
  Fleet,
  FleetOptions,
  FleetTick,
  MaintenanceLog,
  Reading,
  Sensor,
  Signature,
} from './types';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** Baseline level and healthy noise (standard deviation) of each sensor. */
export const SENSOR_BASELINE: Readonly<Record<Sensor, { readonly mean: number; readonly sd: number }>> = {
  volt: { mean: 170, sd: 5 },
  rotate: { mean: 450, sd: 15 },
  pressure: { mean: 100, sd: 4 },
  vibration: { mean: 40, sd: 1.5 },
};

const COMPONENT_OF: Readonly<Record<Sensor, string>> = {
  volt: 'comp1',
  rotate: 'comp2',
  pressure: 'comp3',
  vibration: 'comp4',
};

interface Degradation extends Episode {
  /** Direction of the shift per affected sensor (+1 / -1). */
  readonly signs: readonly number[];
  /** Sensor effect scale: 1 for sensor/both episodes, small for log episodes. */
  readonly sensorGain: number;
  /** Log effect scale: 1 for log/both episodes, small for sensor episodes. */
  readonly logGain: number;
  /** For `regime`: the fraction of the degradation period at which the step happens. */
  readonly regimeAt: number;
}

interface Machine {
  readonly id: string;
  readonly rng: Rng;
  readonly offset: Record<Sensor, number>;
  readonly ar: Record<Sensor, number>;
  readonly phase: number;
  readonly hazard: number;
  episode: Degradation;
}

export interface ResolvedFleetOptions {
  readonly machines: number;
  readonly seed: number;
  readonly start: number;
  readonly stepMs: number;
  readonly failureModes: readonly FailureMode[];
  readonly degradationMs: { readonly min: number; readonly max: number };
  readonly mtbfMs: number;
  readonly minHealthyMs: number;
  readonly signatureMix: Readonly<Record<Signature, number>>;
}

/** Fills the defaults and checks the ranges; a bad option is a RangeError naming it. */
export function resolveFleetOptions(opts: FleetOptions = {}): ResolvedFleetOptions {
  const machines = opts.machines ?? 20;
  if (!Number.isInteger(machines) || machines < 1 || machines > 1_000_000)
    throw new RangeError(`machines must be an integer in 1…1000000, got ${machines}`);
  const seed = opts.seed ?? 1;
  if (!Number.isInteger(seed)) throw new RangeError(`seed must be an integer, got ${seed}`);
  const start = opts.start === undefined ? Date.UTC(2026, 0, 1) : new Date(opts.start).getTime();
  if (!Number.isFinite(start)) throw new RangeError(`start is not a valid time: ${String(opts.start)}`);
  const stepMs = opts.stepMs ?? HOUR;
  if (!Number.isFinite(stepMs) || stepMs < 60_000 || stepMs > 6 * HOUR)
    throw new RangeError(`step must be between 1m and 6h, got ${stepMs} ms`);
  const failureModes = opts.failureModes ?? FAILURE_MODES;
  if (failureModes.length === 0) throw new RangeError('failureModes must name at least one mode');
  for (const mode of failureModes) {
    if (!FAILURE_MODES.includes(mode))
      throw new RangeError(`unknown failure mode "${mode}" (use ${FAILURE_MODES.join(', ')})`);
  }
  const degradationMs = opts.degradationMs ?? { min: 24 * HOUR, max: 48 * HOUR };
  if (!(
    degradationMs.min >= stepMs &&
    degradationMs.max >= degradationMs.min &&
    degradationMs.max <= 30 * DAY
  )) {
    throw new RangeError(
      `degradation must satisfy step <= min <= max <= 30d, got ${degradationMs.min}…${degradationMs.max} ms`,
    );
  }
  const minHealthyMs = opts.minHealthyMs ?? Math.max(48 * HOUR, 2 * stepMs);
  if (!(minHealthyMs >= 2 * stepMs)) throw new RangeError('minHealthyMs must be at least two steps');
  const mtbfMs = opts.mtbfMs ?? 12 * DAY;
  if (!(Number.isFinite(mtbfMs) && mtbfMs > 0))
    throw new RangeError(`mtbf must be positive, got ${mtbfMs} ms`);
  const mix = { sensor: 0.35, log: 0.35, both: 0.3, ...opts.signatureMix };
  if (Object.values(mix).some((w) => !(w >= 0)) || mix.sensor + mix.log + mix.both <= 0) {
    throw new RangeError('signatureMix weights must be non-negative and not all zero');
  }
  return {
    machines,
    seed,
    start,
    stepMs,
    failureModes: [...failureModes],
    degradationMs,
    mtbfMs,
    minHealthyMs,
    signatureMix: mix,
  };
}

export function createFleet(options: FleetOptions = {}): Fleet {
  const o = resolveFleetOptions(options);
  const width = Math.max(3, String(o.machines - 1).length);
  let now = o.start;

  const sensorDuring = (ep: Degradation, sensor: Sensor): number => {
    const i = ep.sensors.indexOf(sensor);
    return i === -1 ? 0 : (ep.signs[i] ?? 1);
  };

  const drawEpisode = (
    m: { id: string; rng: Rng; hazard: number },
    after: number,
    firstRun: boolean,
  ): Degradation => {
    const { rng } = m;
    const duration = rng.uniform(o.degradationMs.min, o.degradationMs.max);
    const mean = o.mtbfMs / m.hazard;
    const healthy = firstRun
      ? rng.exponential(mean)
      : o.minHealthyMs + rng.exponential(Math.max(mean - o.minHealthyMs - duration, o.stepMs));
    // A failure falls strictly inside a step (never on a reading's timestamp) and leaves room for the repair log.
    const raw = after + healthy + duration;
    const stepIndex = Math.max(
      Math.ceil((raw - o.start) / o.stepMs),
      Math.floor((after - o.start) / o.stepMs) + 1,
    );
    const failAt =
      Math.round((o.start + stepIndex * o.stepMs + rng.uniform(0.25, 0.6) * o.stepMs) / 1000) * 1000;
    const primary = rng.pick(SENSORS);
    const sensors: Sensor[] = [primary];
    if (rng.chance(0.35)) sensors.push(rng.pick(SENSORS.filter((s) => s !== primary)));
    // Vibration only ever rises when something wears; the others can go either way.
    const signs = sensors.map((s) => (s === 'vibration' || rng.chance(0.5) ? 1 : -1));
    const mix = o.signatureMix;
    const r = rng.uniform(0, mix.sensor + mix.log + mix.both);
    const signature: Signature = r < mix.sensor ? 'sensor' : r < mix.sensor + mix.log ? 'log' : 'both';
    return {
      machineId: m.id,
      degradeFrom: failAt - duration,
      failAt,
      mode: rng.pick(o.failureModes),
      signature,
      sensors,
      component: COMPONENT_OF[primary],
      signs,
      sensorGain: signature === 'log' ? 0.15 : 1,
      logGain: signature === 'sensor' ? 0.1 : 1,
      regimeAt: rng.uniform(0, 0.3),
    };
  };

  const machines: Machine[] = Array.from({ length: o.machines }, (_, i) => {
    const rng = new Rng(streamSeed(o.seed, i));
    const id = `m-${String(i).padStart(width, '0')}`;
    const offset = {} as Record<Sensor, number>;
    const ar = {} as Record<Sensor, number>;
    for (const s of SENSORS) {
      offset[s] = rng.normal() * 0.3 * SENSOR_BASELINE[s].sd;
      ar[s] = 0;
    }
    // Log-uniform in [0.5, 2]: some machines are older and fail more often.
    const hazard = Math.exp(rng.uniform(Math.log(0.5), Math.log(2)));
    const phase = rng.uniform(0, 2 * Math.PI);
    const partial = { id, rng, hazard };
    return { ...partial, offset, ar, phase, episode: drawEpisode(partial, o.start, true) };
  });

  const iso = (ms: number) => new Date(ms).toISOString();

  const reading = (m: Machine, t: number): Reading => {
    const ep = m.episode;
    const degrading = t >= ep.degradeFrom;
    const progress = degrading ? Math.min(1, (t - ep.degradeFrom) / (ep.failAt - ep.degradeFrom)) : 0;
    const daily = Math.sin((2 * Math.PI * (t % DAY)) / DAY + m.phase);
    const values = {} as Record<Sensor, number>;
    for (const s of SENSORS) {
      const { mean, sd } = SENSOR_BASELINE[s];
      // A slow AR(1) wander (stationary sd ≈ 0.35 sd) so a level alone is not a give-away.
      m.ar[s] = 0.9 * m.ar[s] + m.rng.normal() * 0.15 * sd;
      let noise = sd;
      let shift = 0;
      const sign = degrading ? sensorDuring(ep, s) : 0;
      if (sign !== 0) {
        const g = ep.sensorGain;
        switch (ep.mode) {
          case 'drift':
            // A slow ramp to 6 sd at the failure.
            shift = sign * g * 6 * sd * progress;
            break;
          case 'noise':
            noise = sd * (1 + g * 4 * progress);
            break;
          case 'spikes':
            if (m.rng.chance(g * (0.08 + 0.45 * progress)))
              shift = (s === 'vibration' ? 1 : m.rng.chance(0.5) ? 1 : -1) * sd * m.rng.uniform(4, 8);
            break;
          case 'regime':
            if (progress >= ep.regimeAt) {
              shift = sign * g * 4 * sd;
              noise = sd * (1 + g * 0.5);
            }
            break;
        }
      }
      const v = mean + m.offset[s] + 0.4 * sd * daily + m.ar[s] + shift + m.rng.normal() * noise;
      values[s] = Math.round(Math.max(0, v) * 100) / 100;
    }
    return { machineId: m.id, ts: iso(t), values };
  };

  /** The logs of one machine in [from, to), oldest first, at whole seconds, strictly increasing. */
  const logsBetween = (m: Machine, from: number, to: number): Array<{ at: number; text: string }> => {
    const { rng } = m;
    const ep = m.episode;
    const out: Array<{ at: number; text: string }> = [];
    const hours = (to - from) / HOUR;
    const emit = (text: string) => out.push({ at: from + rng.uniform(0, 1) * (to - from), text });
    if (rng.chance(P_ROUTINE * hours)) emit(rng.pick(ROUTINE));
    if (rng.chance(P_PART * hours))
      emit(`replaced ${rng.pick(Object.values(COMPONENT_OF))} ${rng.pick(PARTS)}`);
    if (rng.chance(P_NOTE * hours)) emit(rng.pick(NOTES));
    const degrading = from >= ep.degradeFrom;
    const progress = degrading ? Math.min(1, (from - ep.degradeFrom) / (ep.failAt - ep.degradeFrom)) : 0;
    for (const [code, p] of P_ERROR) {
      // error3 is the code of a component going bad: far more frequent while degrading.
      const rate = code === 'error3' && degrading ? p + ep.logGain * (0.03 + 0.12 * progress) + 0.01 : p;
      if (rng.chance(rate * hours)) emit(rng.chance(0.5) ? `${code} logged` : `${code} cleared after reset`);
    }
    if (degrading && rng.chance(ep.logGain * (0.08 + 0.3 * progress) * hours)) {
      const sensor = rng.chance(0.85) ? (ep.sensors[0] ?? 'volt') : rng.pick(SENSORS);
      const phrase = rng.pick(SIGNAL_PHRASES[sensor]);
      const text = rng.pick(SIGNAL_TEMPLATES).replace('{p}', phrase);
      emit(rng.chance(0.3) ? `error3 ${text}` : text);
    }
    if (rng.chance(P_DECOY * hours)) emit(rng.pick(DECOYS).replace('{p}', rng.pick(ALL_SIGNAL_PHRASES)));
    out.sort((a, b) => a.at - b.at);
    let last = -Infinity;
    for (const log of out) {
      log.at = Math.max(Math.round(log.at / 1000) * 1000, last + 1000);
      last = log.at;
    }
    return out.filter((l) => l.at < to);
  };

  const tick = (): FleetTick => {
    const t = now;
    const end = t + o.stepMs;
    const readings: Reading[] = [];
    const logs: MaintenanceLog[] = [];
    const failures: FailureEvent[] = [];
    for (const m of machines) {
      readings.push(reading(m, t));
      const ep = m.episode;
      if (ep.failAt < end) {
        for (const l of logsBetween(m, t, ep.failAt))
          logs.push({ machineId: m.id, ts: iso(l.at), text: l.text });
        failures.push({ machineId: m.id, ts: iso(ep.failAt), component: ep.component });
        const repairedAt = Math.min(
          ep.failAt + Math.round((m.rng.uniform(0.05, 0.2) * o.stepMs) / 1000) * 1000,
          end - 1000,
        );
        const others = ep.sensors
          .slice(1)
          .map((s) => `; checked ${COMPONENT_OF[s]}`)
          .join('');
        logs.push({
          machineId: m.id,
          ts: iso(repairedAt),
          text: `breakdown ${ep.component} failed; replaced ${ep.component}${others}; machine back in service`,
        });
        m.episode = drawEpisode(m, ep.failAt, false);
      } else {
        for (const l of logsBetween(m, t, end)) logs.push({ machineId: m.id, ts: iso(l.at), text: l.text });
      }
    }
    now = end;
    return { readings, logs, failures };
  };

  return {
    machineIds: machines.map((m) => m.id),
    stepMs: o.stepMs,
    get nextTs() {
      return now;
    },
    tick,
    episodes: () =>
      machines.map(({ episode: e }) => ({
        machineId: e.machineId,
        degradeFrom: e.degradeFrom,
        failAt: e.failAt,
        mode: e.mode,
        signature: e.signature,
        sensors: [...e.sensors],
        component: e.component,
      })),
  };
}
