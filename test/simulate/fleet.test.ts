import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  createFleet,
  FAILURE_MODES,
  hasSignalPhrase,
  mulberry32,
  SENSOR_BASELINE,
  SENSORS,
} from '../../src/simulate/fleet';
import type { Episode, FleetOptions, FleetTick, Sensor } from '../../src/simulate/fleet';

const HOUR = 3_600_000;

interface Run {
  ticks: FleetTick[];
  episodes: Map<string, Episode>;
}

/** Runs `n` ticks and collects every episode that actually ended in a failure (ground truth). */
function run(opts: FleetOptions, n: number): Run {
  const fleet = createFleet(opts);
  const ticks: FleetTick[] = [];
  const seen = new Map<string, Episode>();
  for (let i = 0; i < n; i++) {
    for (const e of fleet.episodes()) seen.set(`${e.machineId}@${e.failAt}`, e);
    ticks.push(fleet.tick());
  }
  const failed = new Set(ticks.flatMap((t) => t.failures.map((f) => `${f.machineId}@${Date.parse(f.ts)}`)));
  return { ticks, episodes: new Map([...seen].filter(([k]) => failed.has(k))) };
}

test('mulberry32 is deterministic and roughly uniform', () => {
  const a = mulberry32(42);
  const b = mulberry32(42);
  const xs = Array.from({ length: 10_000 }, () => a());
  assert.deepEqual(
    xs.slice(0, 5),
    Array.from({ length: 5 }, () => b()),
  );
  assert.ok(xs.every((x) => x >= 0 && x < 1));
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  assert.ok(Math.abs(mean - 0.5) < 0.02, `mean ${mean}`);
});

test('the same seed gives the same stream; another seed a different one', () => {
  const opts = { machines: 5, seed: 11, start: '2026-03-01T00:00:00Z' };
  assert.deepEqual(run(opts, 400).ticks, run(opts, 400).ticks);
  const other = run({ ...opts, seed: 12 }, 400).ticks;
  assert.notDeepEqual(run(opts, 400).ticks, other);
  assert.notDeepEqual(run(opts, 50).ticks[0]?.readings, other[0]?.readings);
});

test('a machine does not depend on how many others there are', () => {
  const small = run({ machines: 2, seed: 5 }, 200).ticks.map((t) =>
    t.readings.filter((r) => r.machineId === 'm-001'),
  );
  const large = run({ machines: 9, seed: 5 }, 200).ticks.map((t) =>
    t.readings.filter((r) => r.machineId === 'm-001'),
  );
  assert.deepEqual(small, large);
});

test('messages have the docs/topics-and-messages.md shapes: finite values, ISO ts strictly increasing per machine and topic', () => {
  const { ticks } = run({ machines: 12, seed: 3, start: Date.UTC(2026, 0, 1) }, 24 * 60);
  const ids = new Set(ticks[0]!.readings.map((r) => r.machineId));
  assert.deepEqual(
    [...ids],
    Array.from({ length: 12 }, (_, i) => `m-${String(i).padStart(3, '0')}`),
  );
  const last = new Map<string, number>();
  const check = (topic: string, machineId: string, ts: string) => {
    assert.match(ts, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const t = Date.parse(ts);
    const key = `${topic}/${machineId}`;
    assert.ok(t > (last.get(key) ?? -Infinity), `${key} ts not increasing at ${ts}`);
    last.set(key, t);
  };
  let failures = 0;
  for (const [i, tick] of ticks.entries()) {
    assert.equal(tick.readings.length, 12);
    for (const r of tick.readings) {
      assert.equal(Date.parse(r.ts), Date.UTC(2026, 0, 1) + i * HOUR);
      assert.deepEqual(Object.keys(r.values).sort(), [...SENSORS].sort());
      for (const v of Object.values(r.values)) assert.ok(Number.isFinite(v) && v >= 0, `value ${v}`);
      check('readings', r.machineId, r.ts);
    }
    for (const l of tick.logs) {
      assert.ok(l.text.length > 0);
      check('logs', l.machineId, l.ts);
    }
    for (const f of tick.failures) {
      failures++;
      assert.match(f.component ?? '', /^comp[1-4]$/);
      check('failures', f.machineId, f.ts);
      // The repair is logged right after the failure, within the same step.
      assert.ok(
        tick.logs.some(
          (l) => l.machineId === f.machineId && l.text.includes(`replaced ${f.component}`) && l.ts > f.ts,
        ),
      );
    }
  }
  // 12 machines × 60 days with a 12-day MTBF: dozens of failures, not none and not hundreds.
  assert.ok(failures > 25 && failures < 120, `failures ${failures}`);
});

test('the mean readings sit at the documented baselines', () => {
  const { ticks } = run({ machines: 10, seed: 9, mtbfMs: 10_000 * 24 * HOUR }, 500);
  for (const s of SENSORS) {
    const vs = ticks.flatMap((t) => t.readings.map((r) => r.values[s]));
    const mean = vs.reduce((a, b) => a + b, 0) / vs.length;
    assert.ok(Math.abs(mean - SENSOR_BASELINE[s].mean) < SENSOR_BASELINE[s].sd, `${s} mean ${mean}`);
  }
});

test('each failure is preceded by degradation in its sensors, for every failure mode', (t) => {
  for (const mode of FAILURE_MODES) {
    const { ticks, episodes } = run(
      { machines: 30, seed: 21, failureModes: [mode], signatureMix: { sensor: 1, log: 0, both: 0 } },
      24 * 90,
    );
    assert.ok(episodes.size >= 20, `${mode}: ${episodes.size} failures`);
    const series = new Map<string, Array<{ t: number; v: Record<Sensor, number> }>>();
    for (const tick of ticks)
      for (const r of tick.readings)
        (series.get(r.machineId) ?? series.set(r.machineId, []).get(r.machineId)!).push({
          t: Date.parse(r.ts),
          v: r.values,
        });
    // Healthy reference per machine and sensor: readings at least 4 days before and 1 day after any failure.
    const byMachine = new Map<string, Episode[]>();
    for (const e of episodes.values())
      (byMachine.get(e.machineId) ?? byMachine.set(e.machineId, []).get(e.machineId)!).push(e);
    const reference = new Map<string, { mu: number; sd: number }>();
    for (const [id, eps] of byMachine) {
      const ref = series
        .get(id)!
        .filter((r) => eps.every((e) => r.t < e.failAt - 4 * 24 * HOUR || r.t > e.failAt + 24 * HOUR));
      for (const s of SENSORS) {
        const mu = ref.reduce((a, r) => a + r.v[s], 0) / ref.length;
        const sd = Math.sqrt(ref.reduce((a, r) => a + (r.v[s] - mu) ** 2, 0) / ref.length);
        reference.set(`${id}/${s}`, { mu, sd });
      }
    }
    let affected = 0;
    let unaffected = 0;
    let nAffected = 0;
    let nUnaffected = 0;
    for (const e of episodes.values()) {
      assert.equal(e.mode, mode);
      assert.ok(e.failAt - e.degradeFrom >= 24 * HOUR && e.failAt - e.degradeFrom <= 48 * HOUR);
      // The last 12 readings before the failure.
      const last = series.get(e.machineId)!.filter((r) => r.t < e.failAt && r.t >= e.failAt - 12 * HOUR);
      for (const s of SENSORS) {
        const { mu, sd } = reference.get(`${e.machineId}/${s}`)!;
        // Mean |z|: about 0.8 for a healthy sensor.
        const z = last.reduce((a, r) => a + Math.abs(r.v[s] - mu) / sd, 0) / last.length;
        if (e.sensors.includes(s)) {
          affected += z;
          nAffected++;
        } else {
          unaffected += z;
          nUnaffected++;
        }
      }
    }
    const zAffected = affected / nAffected;
    const zUnaffected = unaffected / nUnaffected;
    t.diagnostic(
      `${mode}: mean |z| over the last 12 h, degrading sensors ${zAffected.toFixed(2)}, others ${zUnaffected.toFixed(2)}`,
    );
    assert.ok(
      zAffected > 2 * zUnaffected && zAffected > 1.8,
      `${mode}: affected |z| ${zAffected.toFixed(2)} vs unaffected ${zUnaffected.toFixed(2)}`,
    );
    assert.ok(zUnaffected < 1.1, `${mode}: unaffected sensors drift too (${zUnaffected.toFixed(2)})`);
  }
});

test('only the configured failure modes occur', () => {
  const { episodes } = run({ machines: 20, seed: 4, failureModes: ['spikes', 'regime'] }, 24 * 60);
  const modes = new Set([...episodes.values()].map((e) => e.mode));
  assert.deepEqual([...modes].sort(), ['regime', 'spikes']);
});

test('logs carry the signal: trouble phrases and error3 are far more frequent while degrading', (t) => {
  const { ticks, episodes } = run({ machines: 40, seed: 8 }, 24 * 90);
  const byMachine = new Map<string, Episode[]>();
  for (const e of episodes.values())
    (byMachine.get(e.machineId) ?? byMachine.set(e.machineId, []).get(e.machineId)!).push(e);
  const count = {
    healthy: { hours: 0, logs: 0, signal: 0, error3: 0 },
    degrading: { hours: 0, logs: 0, signal: 0, error3: 0 },
    logSig: { hours: 0, signal: 0 },
  };
  const degradingEpisode = (id: string, t: number) =>
    (byMachine.get(id) ?? []).find((e) => t >= e.degradeFrom && t < e.failAt);
  for (const tick of ticks) {
    for (const r of tick.readings) {
      const e = degradingEpisode(r.machineId, Date.parse(r.ts));
      (e ? count.degrading : count.healthy).hours++;
      if (e && e.signature !== 'sensor') count.logSig.hours++;
    }
    for (const l of tick.logs) {
      if (l.text.startsWith('breakdown')) continue;
      const e = degradingEpisode(l.machineId, Date.parse(l.ts));
      const c = e ? count.degrading : count.healthy;
      c.logs++;
      if (hasSignalPhrase(l.text)) c.signal++;
      if (l.text.includes('error3')) c.error3++;
      if (e && e.signature !== 'sensor' && hasSignalPhrase(l.text)) count.logSig.signal++;
    }
  }
  const share = (c: { logs: number; signal: number }) => c.signal / c.logs;
  const perHour = (c: { hours: number; signal: number }) => c.signal / c.hours;
  const h = count.healthy;
  const d = count.degrading;
  // Measured: the share of logs with a trouble phrase, and the rate of such logs per machine-hour.
  t.diagnostic(
    `trouble-phrase share of logs: degrading ${share(d).toFixed(3)}, healthy ${share(h).toFixed(3)}; ` +
      `per machine-hour: degrading ${perHour(d).toFixed(4)}, healthy ${perHour(h).toFixed(4)}; ` +
      `error3 per machine-hour: degrading ${(d.error3 / d.hours).toFixed(4)}, healthy ${(h.error3 / h.hours).toFixed(4)}`,
  );
  assert.ok(
    share(d) > 4 * share(h),
    `signal share degrading ${share(d).toFixed(3)} vs healthy ${share(h).toFixed(3)}`,
  );
  assert.ok(
    perHour(d) > 15 * perHour(h),
    `signal/hour degrading ${perHour(d).toFixed(4)} vs healthy ${perHour(h).toFixed(4)}`,
  );
  assert.ok(d.error3 / d.hours > 5 * (h.error3 / h.hours), 'error3 is more frequent while degrading');
  // Healthy machines do produce misleading phrases now and then (the noise), but rarely.
  assert.ok(h.signal > 0 && share(h) < 0.1, `healthy signal share ${share(h).toFixed(3)}`);
  // Log-signature episodes say so within a day: on average several trouble notes per 24 h.
  assert.ok(
    perHour(count.logSig) * 24 > 3,
    `log-signature trouble notes per day ${(perHour(count.logSig) * 24).toFixed(2)}`,
  );
});

test('signatures split the signal between the branches: log episodes are quiet in the sensors', () => {
  const { ticks, episodes } = run({ machines: 40, seed: 13, failureModes: ['drift'] }, 24 * 90);
  const dev = { sensor: [] as number[], log: [] as number[], both: [] as number[] };
  const readingsAt = new Map<string, Record<Sensor, number>>();
  for (const tick of ticks)
    for (const r of tick.readings) readingsAt.set(`${r.machineId}@${Date.parse(r.ts)}`, r.values);
  for (const e of episodes.values()) {
    const t = Math.floor(e.failAt / HOUR) * HOUR;
    const before = readingsAt.get(`${e.machineId}@${t}`);
    const s = e.sensors[0]!;
    if (!before) continue;
    dev[e.signature].push(Math.abs(before[s] - SENSOR_BASELINE[s].mean) / SENSOR_BASELINE[s].sd);
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  assert.ok(dev.sensor.length > 5 && dev.log.length > 5 && dev.both.length > 5, 'every signature occurs');
  assert.ok(mean(dev.sensor) > 4 && mean(dev.both) > 4, `sensor ${mean(dev.sensor)} both ${mean(dev.both)}`);
  assert.ok(mean(dev.log) < 2, `log-signature drift ${mean(dev.log)}`);
});

test('bad options are RangeErrors naming the option', () => {
  assert.throws(() => createFleet({ machines: 0 }), /machines/);
  assert.throws(() => createFleet({ stepMs: 1000 }), /step/);
  assert.throws(() => createFleet({ failureModes: [] }), /failureModes/);
  assert.throws(() => createFleet({ start: 'yesterday' }), /start/);
  assert.throws(() => createFleet({ degradationMs: { min: 48 * HOUR, max: 24 * HOUR } }), /degradation/);
});
